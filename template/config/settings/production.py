"""Production settings: every secret comes from the environment, HTTPS everywhere."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False


def _required(name: str) -> str:
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable (production settings).")
    return value


SECRET_KEY = _required("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"https://{host}" for host in ALLOWED_HOSTS]
)
SITE_URL = env("SITE_URL", default=f"https://{ALLOWED_HOSTS[0]}")

# STRIPE_API_BASE sends every Stripe call, the secret key included, to another host: the
# offline Stripe of development. A production process never starts with it set.
if env("STRIPE_API_BASE", default=""):
    raise ImproperlyConfigured(
        "STRIPE_API_BASE is set, but it is for the offline Stripe in development only: "
        "production settings talk to api.stripe.com. Unset STRIPE_API_BASE."
    )

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A reused connection is checked (`SELECT 1`) before a request's first query, so one the
# database dropped is replaced; the webhook endpoints skip that round trip and reconnect only
# when a statement finds the connection dead (apps/billing/reconnect.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind that one proxy (load balancer, ingress), allauth's rate limits find the client's
# address in the last X-Forwarded-For entry, the one the proxy appended. Set 0 without a proxy,
# 2 behind a CDN and a load balancer (or ALLAUTH_TRUSTED_CLIENT_IP_HEADER: the CDN's header).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=1)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)

LOGGING["root"]["level"] = env("LOG_LEVEL", default="INFO")  # noqa: F405
