# Chorus. `make demo` and `make test` work on a fresh machine with Python 3.11+ and nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv demo run worker migrate test e2e lint typecheck check-deploy ci bench clean

help:
	@echo "make demo    set up everything and run the app with a demo study (SQLite, embedded worker)"
	@echo "make test    set up everything and run the test suite"
	@echo "make e2e     browser tests in Debian's Chromium (installs it with apt when missing)"
	@echo "make lint    ruff and mypy"
	@echo "make bench   benchmarks (see bench/README.md)"

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	mkdir -p var
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py demo

run: demo

migrate: $(STAMP)
	mkdir -p var
	$(BIN)/python manage.py migrate

# One test process per core, at most eight (pytest-xdist); TEST_PROCESSES=0 runs the suite in one process.
TEST_PROCESSES ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 8 ] && n=8; echo $$n)

test: $(STAMP)
	mkdir -p var
	$(BIN)/python -m pytest -m "not e2e" -n $(TEST_PROCESSES) --dist loadgroup $(PYTEST_ARGS)

e2e: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)
	mkdir -p var
	$(BIN)/python -m pytest -m e2e -p no:randomly -n $(TEST_PROCESSES) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .

check-deploy: $(STAMP)
	DJANGO_SECRET_KEY=$$(head -c 48 /dev/urandom | base64) DJANGO_ALLOWED_HOSTS=chorus.example.org \
	CHORUS_FIELD_KEYS=$$($(BIN)/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
	DATABASE_URL=$${DATABASE_URL:-sqlite:///var/deploy-check.sqlite3} \
	$(BIN)/python manage.py check --deploy --fail-level WARNING --settings=config.settings.production

bench: $(STAMP)
	$(BIN)/python bench/agreement.py
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "Set DATABASE_URL to a PostgreSQL database of its own for the transcript and coding benchmarks (bench/README.md)"; exit 1;; esac
	$(BIN)/python bench/transcripts.py --participants 65
	$(BIN)/python bench/coding.py --think-ms 1500 --browser

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
