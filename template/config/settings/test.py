"""Test settings: fast hashing, in-memory email, fixed Stripe test credentials."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process, whatever the developer's .env says; the tests that need a real broker
# and worker set them up themselves.
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests never read the developer's .env for Stripe: they use these values (and the offline
# Stripe where a test needs a server). DATABASE_URL still selects PostgreSQL when it is set.
DATABASES = {"default": env.db_url_config(env("DATABASE_URL", default="") or "sqlite:///:memory:")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, emptying tables after a transactional test in milliseconds, not seconds.
    DATABASES["default"]["ENGINE"] = "tests.postgresql_backend"
STRIPE_PUBLIC_KEY = "pk_test_offlinetestsuite000000000000"
STRIPE_SECRET_KEY = "sk_test_offlinetestsuite000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_offlinetestsecret0000000000"
STRIPE_API_BASE = ""
# dj-stripe's names for the same keys (advanced mode), so no test ever reads them from .env.
STRIPE_TEST_PUBLIC_KEY = STRIPE_LIVE_PUBLIC_KEY = STRIPE_PUBLIC_KEY
STRIPE_TEST_SECRET_KEY = STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY
DJSTRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
STRIPE_LIVE_MODE = False
# The database cache whatever REDIS_URL says: its rows roll back with each test, so no test sees
# another's rate-limit counters (tests/test_login_throttling.py runs against Redis on its own).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }
}
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
