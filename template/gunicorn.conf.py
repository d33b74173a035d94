"""gunicorn's settings, read from this directory by `gunicorn config.wsgi`.

Every value can be set from the environment. Threads suit a Django app that mostly waits on
its database and on Stripe: a thread waiting on I/O lets the others use the core.
"""

from __future__ import annotations

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Stripe waits up to 10 s for a webhook answer; a page that takes longer is stuck, not busy.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
