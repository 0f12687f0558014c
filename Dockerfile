# The production image: gunicorn serves the web app, the same image runs the Celery worker.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY pyproject.toml ./
# postgresql-client: pg_dump and pg_restore for `manage.py backup` / `restore` (docs/operations.md).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir . && useradd --create-home chorus
COPY . .
RUN DJANGO_SECRET_KEY=build DJANGO_ALLOWED_HOSTS=x CHORUS_FIELD_KEYS=x python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media && chown -R chorus /app/var
USER chorus
EXPOSE 8000
# Threads, not just processes: each open coding page holds one thread for its live-update stream
# (config/gunicorn.conf.py).
CMD ["gunicorn", "-c", "config/gunicorn.conf.py"]
