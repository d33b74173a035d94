"""Development settings: DEBUG on, console email, SQLite unless DATABASE_URL is set."""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import *  # noqa: F403
from .base import CONTENT_SECURITY_POLICY, STRIPE_API_BASE, env

DEBUG = env.bool("DEBUG", default=True)
# `copier copy` writes a random SECRET_KEY into .env; this fallback only keeps a fresh clone
# (which has no .env) runnable on a developer machine.
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The offline Stripe (`make run`) serves its Checkout and portal pages at STRIPE_API_BASE: the
# billing forms redirect there.
if STRIPE_API_BASE:
    _offline_stripe = "{0.scheme}://{0.netloc}".format(urlsplit(STRIPE_API_BASE))
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(_offline_stripe)
