"""Settings shared by every environment. Values come from the environment (or `.env`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    # Real environment variables win over .env values.
    env.read_env(BASE_DIR / ".env")

# The billing mode's own settings: BILLING_PLANS (basic) or dj-stripe's (advanced). They are
# read after .env, and the names below (BILLING_APPS, ...) come from there.
from .billing import *  # noqa: E402, F403
from .billing import (  # noqa: E402
    BILLING_APPS,
    BILLING_BEAT_SCHEDULE,
    BILLING_TEMPLATE_BUILTINS,
)

PROJECT = tomllib.loads((BASE_DIR / "config" / "project.toml").read_text(encoding="utf-8"))
PROJECT_NAME: str = PROJECT["name"]
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "csp",
    *BILLING_APPS,
    "apps.accounts",
    "apps.core",
    "apps.teams",
    "apps.billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves Stripe's webhook deliveries without the browser middleware below (the reason is
    # in apps/billing/middleware.py).
    "apps.billing.middleware.StripeWebhookMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.project",
                "apps.teams.context_processors.teams",
            ],
            "builtins": BILLING_TEMPLATE_BUILTINS,
        },
    },
]

# Content-Security-Policy (django-csp): pages load scripts, styles, images and fonts from this
# site only, so injected markup cannot run code. No inline <script> or style="..." in
# templates: static files, or <script nonce="{{ request.csp_nonce }}"> where a script must be
# inline. `form-action` also holds where billing forms redirect (browsers check redirects
# too): Stripe Checkout and the customer portal (add your own domain if Stripe serves them on
# one), and in development the offline Stripe (config/settings/local.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://checkout.stripe.com", "https://billing.stripe.com"],
    }
}

# SQLite by default; set DATABASE_URL (e.g. postgres://user@127.0.0.1:5432/db) for PostgreSQL.
DATABASE_URL = env("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has one writer. A transaction that reads and then writes (checkout locks the user,
    # then links a customer) fails with "database is locked" if it started as a reader while a
    # webhook wrote; IMMEDIATE takes the write lock at BEGIN, so writers queue (up to `timeout`
    # seconds) instead. WAL lets pages read while a webhook writes.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"
SITE_ID = 1

# django-allauth: email is the login, no usernames.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_UNIQUE_EMAIL = True
# allauth limits logins, sign-ups and password resets per client address. Behind a reverse
# proxy REMOTE_ADDR is the proxy's, so every client would share one counter (30 failed logins
# from anyone: 429 for everyone). Say how many proxies in front of the app append to
# X-Forwarded-For (production assumes one), or which header your proxy puts the client's
# address in (e.g. CF-Connecting-IP); never more than you run, or clients choose their address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER: str | None = env("ALLAUTH_TRUSTED_CLIENT_IP_HEADER", default=None)

# Teams (apps.teams): how long an invitation link works, and what Stripe does when a per-seat
# subscription's quantity follows the member count: "create_prorations" (the difference on the
# next invoice), "always_invoice" (invoiced at once) or "none".
TEAMS_INVITATION_DAYS = env.int("TEAMS_INVITATION_DAYS", default=7)
TEAMS_SEAT_PRORATION_BEHAVIOR = env("TEAMS_SEAT_PRORATION_BEHAVIOR", default="create_prorations")

# The rate-limit counters (allauth keeps them in the default cache) must be shared by every
# gunicorn worker and server: a per-process memory cache would give each its own, and a client
# would get workers x the limit. The database by default (`migrate` creates the table), Redis
# when REDIS_URL is set.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
            # Django culls a third of the entries beyond MAX_ENTRIES (300 by default), and the
            # counters of a client under a limit would go with them.
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }

LANGUAGE_CODE = "en-us"
# One date format everywhere ("December 3, 2026"): config/formats/en/formats.py.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Seconds an SMTP connection may block. Without it (Django's default is None) a hanging mail
# server holds the request's thread forever, and a few stuck sends take every gunicorn thread.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default=PROJECT["from_email"])
BILLING_FROM_EMAIL = env("BILLING_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # stripe-python logs every request at INFO; dj-stripe makes several per webhook.
        "stripe": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------------------
# Stripe
# ---------------------------------------------------------------------------
STRIPE_PUBLIC_KEY = env("STRIPE_PUBLIC_KEY", default="")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Every Stripe call is pinned to this API version; webhook endpoints should use the same one.
STRIPE_API_VERSION = "2026-05-27.dahlia"
# Only for the offline Stripe used in development and tests; empty means api.stripe.com.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Seconds a webhook signature's timestamp may be old (Stripe's own default is 300).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)

BILLING_CURRENCY = env("BILLING_CURRENCY", default=PROJECT["currency"])
BILLING_TRIAL_PERIOD_DAYS = env.int(
    "BILLING_TRIAL_PERIOD_DAYS", default=PROJECT["trial_period_days"]
)
# past_due is Stripe's retry window after a failed renewal: by default the customer keeps
# access while Stripe retries (the payment-failed email says so). False ends access at the
# first failure. unpaid, canceled and incomplete_expired never give access.
BILLING_PAST_DUE_ACCESS = env.bool("BILLING_PAST_DUE_ACCESS", default=True)
# Checkout offers a promotion code box (codes are created in Stripe's dashboard); an applied
# code shows on the billing page as the subscription's discount.
BILLING_ALLOW_PROMOTION_CODES = env.bool("BILLING_ALLOW_PROMOTION_CODES", default=False)
# One reminder email when Stripe announces a trial's end (customer.subscription.trial_will_end).
BILLING_TRIAL_REMINDER_EMAILS = env.bool("BILLING_TRIAL_REMINDER_EMAILS", default=True)

# ---------------------------------------------------------------------------
# Celery: webhook processing, emails, usage reporting and reconciliation run as tasks
# ---------------------------------------------------------------------------
# Redis (redis://127.0.0.1:6379/1) or RabbitMQ (amqp://guest:guest@127.0.0.1:5672//). Without
# a broker, tasks run in-process through the same code (a fresh project, `make run`, tests):
# nothing else has to be started, and periodic tasks wait for a beat.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
if CELERY_BROKER_URL.split("://", 1)[0] in ("redis", "rediss"):
    CELERY_BROKER_TRANSPORT = "config.celery_redis:Transport"  # see that module for why
CELERY_TASK_EAGER_PROPAGATES = False  # a failed in-process task is recorded, not a 500
# A task is acknowledged once it has finished, and given back to the broker if its worker dies:
# a worker killed mid-task loses nothing, the task runs again (every task is idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis hands an unacknowledged task to another worker after this many seconds: longer than
# the longest task, shorter than you are willing to wait after a worker's machine died.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True  # tasks record their outcome in the database
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work, declared here (not in an admin): `make beat` runs it. Each mode adds its own
# (BILLING_BEAT_SCHEDULE in config/settings/billing.py).
CELERY_BEAT_SCHEDULE = {
    "send-pending-billing-emails": {
        "task": "apps.billing.emails.send_pending_billing_emails",
        "schedule": 300.0,
    },
    "close-pending-accounts": {
        "task": "apps.accounts.tasks.close_pending_account_closures",
        "schedule": 3600.0,
    },
    **BILLING_BEAT_SCHEDULE,
}
