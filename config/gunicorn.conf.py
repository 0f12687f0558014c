"""gunicorn settings for the production shape (Dockerfile, docker-compose.yml) and the coding benchmark.

Threads, not only processes: each open coding page holds one thread for its live-update stream, so a
worker serves short API writes beside many mostly idle streams. Override any value on the command
line (``gunicorn -c config/gunicorn.conf.py --workers 8 …``) or with ``WEB_CONCURRENCY``.
"""

import os
import sys
from typing import Any

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")


def post_fork(server: Any, worker: Any) -> None:
    # Python hands the interpreter lock between threads every 5 ms by default, so a short write can
    # wait up to 5 ms behind another thread's work. 0.5 ms keeps writes prompt (adding a coding with
    # 20 coders, p95 24 -> 20 ms in bench/coding.py) at a small cost in throughput.
    sys.setswitchinterval(0.0005)
