"""Settings of the Celery worker processes that `test_worker_advanced.py` starts.

The test settings run tasks in-process; these give a worker a real broker instead, and the
queue, database and offline Stripe of the test that started it, through the environment
variables named BILLING_TEST_WORKER_* (and CELERY_VISIBILITY_TIMEOUT, DATABASE_URL as usual).
"""

from __future__ import annotations

import stripe

from config.settings.test import *  # noqa: F403
from config.settings.test import env

CELERY_BROKER_URL = env("BILLING_TEST_WORKER_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = env("BILLING_TEST_WORKER_QUEUE")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # Look for messages of dead workers every second, not every 100 s (kombu's default sweep is
    # 10 s x 1 in 10), so the test does not wait on that period.
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
# No remote control (`celery inspect`): it would leave keys of its own in Redis.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
# The test's offline Stripe. (config/settings only follow STRIPE_API_BASE with DEBUG on.)
stripe.api_base = stripe.meter_events_api_base = env("BILLING_TEST_WORKER_STRIPE_API_BASE")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"stripe": {"level": "WARNING"}},
}
