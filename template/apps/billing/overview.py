"""What the billing and pricing pages show, the same in both billing modes.

The billing page answers "what am I paying, when, and with what": the plan and its price, the
status in words, the next invoice (Stripe's invoice preview), the default payment method, the
invoice history and an active discount. The pricing page's cards know the visitor's plan. Both
read the mode's models through `selectors` and Stripe through its API; every value leaves here
as text a person reads (formatted money and dates), never as a Python value.

Stripe is asked only for what the database does not hold (invoices, payment method, preview),
and a Stripe outage never breaks the page: `BillingOverview.stripe_unavailable` says so instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.text import slugify

from .errors import StripeNotConfiguredError
from .money import describe_price, format_day, format_money
from .plans import ENFORCED_LIMITS
from .selectors import (
    cancels_at,
    get_plans,
    get_unended_subscription,
    plan_of,
    renews_at,
    stripe_customer_id_of,
    stripe_subscription_id_of,
)
from .stripe_api import request_options

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

__all__ = [
    "BillingOverview",
    "InvoiceRow",
    "PlanCard",
    "billing_overview",
    "describe_discount",
    "limit_lines",
    "metric_label",
    "plan_cards",
    "status_words",
]

logger = logging.getLogger(__name__)

#: How many past invoices the billing page lists (the portal has them all).
INVOICE_HISTORY_SIZE = 12

STATUS_WORDS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Past due — update your payment method",
    "unpaid": "Unpaid — update your payment method",
    "incomplete": "Incomplete — the first payment is not complete",
    "incomplete_expired": "Expired — the first payment never completed",
    "paused": "Paused",
    "canceled": "Canceled",
}
INVOICE_STATUS_WORDS = {
    "draft": "Draft",
    "open": "Due",
    "paid": "Paid",
    "uncollectible": "Uncollectible",
    "void": "Void",
}
CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "jcb": "JCB",
    "link": "Link",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}
#: Limits that cap a number of things at any time (seats), not a use per billing period.
STANDING_LIMITS = frozenset({"team_members"})
ACRONYMS = frozenset({"api", "gb", "sso", "url", "sla"})


def metric_label(metric: str) -> str:
    """'api_calls' → 'API calls': a limit's or meter's key as people read it."""
    words = str(metric).replace("_", " ").replace("-", " ").split()
    if not words:
        return ""
    out = [w.upper() if w.lower() in ACRONYMS else w.lower() for w in words]
    out[0] = out[0] if out[0].isupper() else out[0].capitalize()
    return " ".join(out)


def _singular(label: str) -> str:
    """'API calls' → 'API call' (for "per API call")."""
    head, _, last = label.rpartition(" ")
    if last.endswith("s") and not last.isupper():
        last = last[:-1]
    return f"{head} {last}".strip()


def status_words(subscription: Any) -> str:
    """The subscription's status in words: 'Active', 'Trial ends on …', 'Cancels on …'."""
    if not subscription:
        return ""
    status = str(subscription.status)
    ends = cancels_at(subscription) if status in ("active", "trialing") else None
    if ends:
        return f"Cancels on {format_day(ends)}"
    trial_end = getattr(subscription, "trial_end", None)
    if status == "trialing" and trial_end:
        return f"Trial ends on {format_day(trial_end)}"
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


# --- the billing page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceRow:
    number: str
    date: str
    amount: str
    status: str
    status_key: str
    hosted_url: str
    pdf_url: str


@dataclass(frozen=True)
class BillingOverview:
    """Everything the billing page shows, as text."""

    subscription: Any = None
    plan_name: str = ""
    price: str = ""
    #: '+ $0.001 per API call' for a plan that also bills metered use.
    unit_price: str = ""
    #: '3 seats' on a per-seat plan (billed per team member).
    seats: str = ""
    status: str = ""
    status_key: str = ""
    payment_due: bool = False
    #: 'December 3, 2026' while the subscription renews; empty when it is set to cancel.
    next_invoice_date: str = ""
    next_invoice_amount: str = ""
    #: When access ends for a subscription set to cancel.
    ends_on: str = ""
    card: str = ""
    card_expires: str = ""
    discount: str = ""
    invoices: list[InvoiceRow] = field(default_factory=list)
    #: Stripe could not be asked (down, or not configured): some details are missing.
    stripe_unavailable: bool = False


def _timestamp_day(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return format_day(datetime.fromtimestamp(value, tz=UTC))


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None or isinstance(obj, str):
        return {}
    if isinstance(obj, dict) and not hasattr(obj, "to_dict"):
        return obj
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def invoice_rows(invoices: list[dict[str, Any]]) -> list[InvoiceRow]:
    """The invoice history as the billing page lists it (drafts are not the customer's yet)."""
    rows = []
    for invoice in invoices:
        status = str(invoice.get("status") or "")
        if status == "draft":
            continue
        paid = status == "paid"
        amount = invoice.get("amount_paid") if paid else invoice.get("amount_due")
        rows.append(
            InvoiceRow(
                number=str(invoice.get("number") or invoice.get("id") or ""),
                date=_timestamp_day(invoice.get("created")),
                amount=format_money(amount, str(invoice.get("currency") or "")),
                status=INVOICE_STATUS_WORDS.get(status, status.capitalize()),
                status_key=status,
                hosted_url=str(invoice.get("hosted_invoice_url") or ""),
                pdf_url=str(invoice.get("invoice_pdf") or ""),
            )
        )
    return rows


def describe_card(payment_method: Any) -> tuple[str, str]:
    """('Visa ending in 4242', '12/2030') for a card payment method; ('', '') otherwise."""
    card = _as_dict(payment_method).get("card") or {}
    if not card.get("last4"):
        return "", ""
    brand = str(card.get("brand") or "")
    name = CARD_BRANDS.get(brand, brand.replace("_", " ").title() or "Card")
    expires = ""
    if card.get("exp_month") and card.get("exp_year"):
        expires = f"{int(card['exp_month']):02d}/{card['exp_year']}"
    return f"{name} ending in {card['last4']}", expires


def describe_discount(discount: Any) -> str:
    """'20% off (SAVE20) until March 3, 2027' for a Stripe discount; '' for none.

    The coupon sits at `discount.coupon` in older API versions and at `discount.source.coupon`
    in newer ones; both are read.
    """
    data = _as_dict(discount)
    if not data:
        return ""
    coupon = _as_dict(data.get("coupon") or (data.get("source") or {}).get("coupon"))
    if not coupon:
        return ""
    if coupon.get("percent_off"):
        percent = coupon["percent_off"]
        amount = f"{int(percent) if float(percent).is_integer() else percent}% off"
    elif coupon.get("amount_off"):
        amount = f"{format_money(coupon['amount_off'], str(coupon.get('currency') or ''))} off"
    else:
        return ""
    text = amount
    code = _as_dict(data.get("promotion_code")).get("code")
    name = code or coupon.get("name")
    if name:
        text += f" ({name})"
    end = _timestamp_day(data.get("end"))
    if end:
        text += f" until {end}"
    elif coupon.get("duration") == "forever":
        text += ", for as long as you subscribe"
    elif coupon.get("duration") == "once":
        text += " on your next invoice"
    return text


def _unit_price(plan: Any) -> str:
    """'+ $0.001 per API call' for a plan with a metered price (advanced mode)."""
    metered = getattr(plan, "metered_price", None)
    if metered is None:
        return ""
    amount = getattr(metered, "unit_amount_decimal", None)
    if amount is None:
        amount = getattr(metered, "unit_amount", None)
    money = format_money(amount, str(getattr(metered, "currency", "") or ""))
    metric = getattr(plan, "metered_metric", "") or "unit"
    return f"+ {money} per {_singular(metric_label(metric))}" if money else ""


def _stripe_details(subscription: Any, customer_id: str) -> dict[str, Any]:
    """The subscription's details only Stripe holds; raises stripe.StripeError."""
    options = request_options()
    sub_id = stripe_subscription_id_of(subscription)
    remote = stripe.Subscription.retrieve(
        sub_id,
        # The coupon is at `discounts.source.coupon` in this API version (an id unless expanded).
        expand=["default_payment_method", "discounts.promotion_code", "discounts.source.coupon"],
        **options,
    ).to_dict()
    payment_method = remote.get("default_payment_method")
    if not isinstance(payment_method, dict) and customer_id:
        customer = stripe.Customer.retrieve(
            customer_id, expand=["invoice_settings.default_payment_method"], **options
        ).to_dict()
        payment_method = (customer.get("invoice_settings") or {}).get("default_payment_method")
    discounts = [d for d in remote.get("discounts") or [] if isinstance(d, dict)]
    if not discounts and isinstance(remote.get("discount"), dict):
        discounts = [remote["discount"]]
    invoices = stripe.Invoice.list(customer=customer_id, limit=INVOICE_HISTORY_SIZE, **options)
    return {
        "payment_method": payment_method,
        "discounts": discounts,
        "invoices": [invoice.to_dict() for invoice in invoices.data],
    }


def _next_invoice_amount(subscription: Any) -> str:
    """The amount of the subscription's next invoice, from Stripe's invoice preview (which
    counts prorations, discounts, metered use and tax); raises stripe.StripeError."""
    preview = stripe.Invoice.create_preview(
        subscription=stripe_subscription_id_of(subscription), **request_options()
    ).to_dict()
    return format_money(preview.get("amount_due"), str(preview.get("currency") or ""))


def _quantity(subscription: Any) -> int:
    """How many of the plan's price the subscription pays for (seats on a per-seat plan)."""
    quantity = getattr(subscription, "quantity", None)  # basic mode keeps it on the row
    if quantity is None:
        items = ((getattr(subscription, "stripe_data", None) or {}).get("items") or {}).get(
            "data"
        ) or [{}]
        quantity = items[0].get("quantity")
    return int(quantity or 1)


def _seats(plan: Any, subscription: Any) -> str:
    if not getattr(plan, "per_seat", False):
        return ""
    seats = _quantity(subscription)
    return f"{seats} seat{'' if seats == 1 else 's'}"


def _price_text(plan: Any) -> str:
    """'$29.00/month', or '$12.00/month per seat' for a plan billed per team member."""
    price = describe_price(getattr(plan, "stripe_price", None) if plan is not None else None)
    return f"{price} per seat" if price and getattr(plan, "per_seat", False) else price


def billing_overview(user: AbstractBaseUser | AnonymousUser) -> BillingOverview:
    """What the billing page shows for `user`: their subscription that has not ended, if any."""
    subscription = get_unended_subscription(user)
    if subscription is None:
        return BillingOverview()
    plan = plan_of(subscription)
    status = str(subscription.status)
    renews = renews_at(subscription)
    ends = cancels_at(subscription)
    facts: dict[str, Any] = {
        "subscription": subscription,
        "plan_name": getattr(plan, "name", "") or getattr(subscription, "plan_name", ""),
        "price": _price_text(plan),
        "unit_price": _unit_price(plan),
        "seats": _seats(plan, subscription),
        "status": status_words(subscription),
        "status_key": "canceling" if ends else status,
        "payment_due": status in ("past_due", "unpaid"),
        "next_invoice_date": format_day(renews),
        "ends_on": format_day(ends),
    }
    customer_id = stripe_customer_id_of(user) or ""
    try:
        details = _stripe_details(subscription, customer_id)
        if renews is not None:
            facts["next_invoice_amount"] = _next_invoice_amount(subscription)
    except (stripe.StripeError, StripeNotConfiguredError) as exc:
        # The page still shows what the database knows; the template says the rest is missing.
        logger.warning("Billing page without Stripe's details for %s: %s", customer_id, exc)
        return BillingOverview(**facts, stripe_unavailable=True)
    card, expires = describe_card(details["payment_method"])
    discounts = [describe_discount(d) for d in details["discounts"]]
    return BillingOverview(
        **facts,
        card=card,
        card_expires=expires,
        discount="; ".join(d for d in discounts if d),
        invoices=invoice_rows(details["invoices"]),
    )


# --- the pricing page ---------------------------------------------------------------------------


def limit_lines(limits: dict[str, Any]) -> list[str]:
    """The plan's limits that this billing mode enforces, in words: '10,000 API calls a month',
    'Unlimited API calls', 'Up to 10 team members'. A limit no code enforces is not sold."""
    lines = []
    for metric, value in (limits or {}).items():
        if ENFORCED_LIMITS is not None and metric not in ENFORCED_LIMITS:
            continue
        label = metric_label(metric)
        if not label.split()[0].isupper():  # "team members", but "API calls"
            label = label[0].lower() + label[1:]
        if value is None:
            lines.append(f"Unlimited {label}")
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            continue  # not a number: nothing a customer could read
        elif metric in STANDING_LIMITS:
            lines.append(f"Up to {intcomma(value)} {label}")
        else:
            lines.append(f"{intcomma(value)} {label} a month")
    return lines


@dataclass(frozen=True)
class PlanCard:
    """One plan on the pricing page, as the visitor should see it."""

    name: str
    slug: str
    price: str
    unit_price: str
    features: list[str]
    limits: list[str]
    price_id: str
    #: The visitor's own plan.
    is_current: bool
    #: The ribbon: "Your plan" for the visitor's, else "Most popular" for visitors with no plan.
    ribbon: str
    #: signup (anonymous), subscribe, change (a subscriber's other plans), current, unavailable.
    action: str


def _field(plan: Any, name: str, default: Any = None) -> Any:
    """A plan's field, whether the plan is a model, a basic-mode Plan or a plain dict."""
    if isinstance(plan, dict):
        return plan.get(name, default)
    return getattr(plan, name, default)


def _card_price(plan: Any) -> str:
    price = describe_price(_field(plan, "stripe_price") or plan, settings.BILLING_CURRENCY)
    return f"{price} per seat" if price and _field(plan, "per_seat") else price


def plan_cards(
    user: AbstractBaseUser | AnonymousUser, plans: Iterable[Any] | None = None
) -> list[PlanCard]:
    """The pricing page's plans (the configured ones unless `plans` is given) for this visitor.

    A subscriber (any subscription that has not ended, past_due included: checkout would send
    them to their billing page) sees their plan marked and "Change plan" on the others; only a
    visitor without a plan is pointed at the popular one. `plans` may also be plain dicts
    (`{"name": "Pro", "price": 29, "price_id": "price_..."}`, price in major units).
    """
    subscription = get_unended_subscription(user) if user.is_authenticated else None
    current = plan_of(subscription) if subscription is not None else None
    current_slug = getattr(current, "slug", None)
    cards = []
    for plan in get_plans() if plans is None else plans:
        name = str(_field(plan, "name", "") or "")
        slug = str(_field(plan, "slug", "") or slugify(name))
        price_id = str(_field(plan, "price_id", "") or "")
        is_current = current_slug is not None and slug == current_slug
        if not user.is_authenticated:
            action = "signup"
        elif is_current:
            action = "current"
        elif subscription is not None:
            action = "change"
        elif price_id:
            action = "subscribe"
        else:
            action = "unavailable"
        ribbon = ""
        if is_current:
            ribbon = "Your plan"
        elif _field(plan, "is_popular") and subscription is None:
            ribbon = "Most popular"
        features = _field(plan, "features") or {}
        cards.append(
            PlanCard(
                name=name,
                slug=slug,
                price=_card_price(plan),
                unit_price=_unit_price(plan),
                features=[metric_label(key) for key, on in features.items() if on is True],
                limits=limit_lines(_field(plan, "limits") or {}),
                price_id=price_id,
                is_current=is_current,
                ribbon=ribbon,
                action=action,
            )
        )
    return cards
