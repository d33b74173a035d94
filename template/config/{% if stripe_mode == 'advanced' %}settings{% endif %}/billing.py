"""Billing settings of advanced mode (dj-stripe).

Imported by base.py after `.env` is read; environment variables win over the defaults here.
"""

from __future__ import annotations

import environ
from celery.schedules import crontab

env = environ.Env()

#: Apps the billing mode adds to INSTALLED_APPS.
BILLING_APPS: list[str] = ["djstripe"]
#: Template tag libraries every template may use without `{% load %}`: get_usage.
BILLING_TEMPLATE_BUILTINS: list[str] = ["apps.billing.templatetags.usage_tags"]

# One key pair serves test and live mode unless the STRIPE_TEST_* / STRIPE_LIVE_* variables give
# each mode its own; STRIPE_SECRET_KEY (base.py) is the key in use.
_public_key = env("STRIPE_PUBLIC_KEY", default="")
_secret_key = env("STRIPE_SECRET_KEY", default="")
STRIPE_LIVE_PUBLIC_KEY = env("STRIPE_LIVE_PUBLIC_KEY", default=_public_key)
STRIPE_LIVE_SECRET_KEY = env("STRIPE_LIVE_SECRET_KEY", default=_secret_key)
STRIPE_TEST_PUBLIC_KEY = env("STRIPE_TEST_PUBLIC_KEY", default=_public_key)
STRIPE_TEST_SECRET_KEY = env("STRIPE_TEST_SECRET_KEY", default=_secret_key)
# Live mode follows the key (sk_live_... or rk_live_... means live) unless STRIPE_LIVE_MODE is
# set. Webhook events of the other mode are recorded as ignored and change nothing.
STRIPE_LIVE_MODE = env.bool(
    "STRIPE_LIVE_MODE", default=_secret_key.startswith(("sk_live_", "rk_live_"))
)
# Signing secret of the endpoint https://<your domain>/djstripe/webhook/.
DJSTRIPE_WEBHOOK_SECRET = env(
    "DJSTRIPE_WEBHOOK_SECRET", default=env("STRIPE_WEBHOOK_SECRET", default="")
)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True  # no effect since dj-stripe 2.10 (always native JSON)
# Usage meters warn from this share of a limit on (get_usage's .is_near_limit).
BILLING_USAGE_WARNING_PERCENT = env.int("BILLING_USAGE_WARNING_PERCENT", default=80)

#: Periodic tasks of this billing mode, added to CELERY_BEAT_SCHEDULE (config/settings/base.py).
#: Each is safe to run late, twice, or beside another run of itself (apps/billing/tasks.py).
BILLING_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Usage of metered plans to Stripe Billing Meters (the outbox of record_usage).
    "report-usage": {"task": "apps.billing.tasks.report_usage", "schedule": 60.0},
    # Stripe events whose queued processing was lost (failed ones retry on their own).
    "retry-webhook-events": {"task": "apps.billing.tasks.retry_webhook_events", "schedule": 60.0},
    # Subscriptions a missed webhook left wrong, corrected from Stripe, at a quiet hour (UTC).
    "reconcile-subscriptions": {
        "task": "apps.billing.tasks.reconcile_subscriptions",
        "schedule": crontab(hour=3, minute=17),
    },
}
