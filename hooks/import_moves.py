"""What each release of the template moved: the table `rewrite_imports.py` applies on update.

One entry per release, `old dotted path -> new dotted path`, either

- a module: `"apps.billing.decorators": "apps.billing.access"` moves every name imported from
  it (and its submodules), or
- a name in a module: `"apps.billing.decorators.deny": "apps.billing.access.deny"` moves only
  that name; the last part may change too (`old.mod.Foo -> new.mod.Bar` imports `Bar as Foo`).

The longest matching old path wins, so a name entry overrides its module's entry. A release in
this table needs a `_migrations` entry with the same `version:` in copier.yml (a template test
checks both ways).
"""

from __future__ import annotations


def _same_names(old: str, new: str, *names: str) -> dict[str, str]:
    """Names that moved from module `old` to module `new` unchanged."""
    return {f"{old}.{name}": f"{new}.{name}" for name in names}


BILLING = "apps.billing"

MOVES: dict[str, dict[str, str]] = {
    "0.2.0": {
        # Shared billing helpers (one copy for both modes), moved before 0.1.0 was tagged.
        "apps.billing.decorators.wants_json": "apps.billing.access.wants_json",
        "apps.billing.decorators.deny": "apps.billing.access.deny",
        # One layering in both modes: webhook intake in webhooks, one handler per event type in
        # webhook_handlers, the endpoint in webhook_views, writes in services.
        **_same_names(
            f"{BILLING}.services",
            f"{BILLING}.webhooks",
            "DONE_STATUSES",
            "EventProcessingError",
            "MAX_TIMESTAMP",
            "SUBSCRIPTION_TIMESTAMPS",
            "WebhookNotConfiguredError",
            "WebhookRejectedError",
            "handle_webhook",
            "process_event",
            "replay_deferred",
            "retry_events",
            "verify_and_parse",
            "check_event_shape",
            "process_webhook",
            "settings_webhook_endpoint",
            "verify_signature",
        ),
        **_same_names(
            f"{BILLING}.services",
            f"{BILLING}.webhook_handlers",
            "DeferEventError",
            "Outcome",
            "to_datetime",
        ),
        **_same_names(
            f"{BILLING}.views", f"{BILLING}.webhook_views", "webhook", "StripeWebhookView"
        ),
        **_same_names(f"{BILLING}.webhooks", f"{BILLING}.models", "EVENT_RANK"),
        # Code both modes share: the customer portal and the deployment checks.
        **_same_names(f"{BILLING}.services", f"{BILLING}.portal", "get_customer_portal_url"),
        **_same_names(f"{BILLING}.checks", f"{BILLING}.deploy_checks", "check_stripe_deploy"),
        **_same_names(
            f"{BILLING}.webhooks",
            f"{BILLING}.webhook_handlers",
            "REPEATABLE_TYPES",
            "PERIOD_INVOICE_REASONS",
            "subscription_fields",
            "handle_checkout_completed",
            "handle_payment_failed",
            "handle_payment_succeeded",
            "handle_subscription_event",
            "handle_subscription_changed",
            "handle_subscription_deleted",
        ),
        **_same_names(
            f"{BILLING}.webhooks",
            f"{BILLING}.services",
            "link_customer",
            "sync_subscription_metadata",
        ),
    },
    "0.3.0": {
        # One handler for every paid invoice: invoice.paid (also sent for invoices paid outside
        # Stripe) and invoice.payment_succeeded.
        f"{BILLING}.webhook_handlers.handle_payment_succeeded": (
            f"{BILLING}.webhook_handlers.handle_invoice_paid"
        ),
        # Billing emails: one shared outbox (`BillingEmail`) for both modes.
        f"{BILLING}.notifications.queue_payment_failed_notice": (
            f"{BILLING}.notifications.queue_payment_failed_email"
        ),
        f"{BILLING}.notifications.send_notice": f"{BILLING}.emails.send_email",
        f"{BILLING}.notifications.send_pending_notices": f"{BILLING}.emails.send_pending_emails",
    },
}
