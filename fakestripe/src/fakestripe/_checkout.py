from __future__ import annotations

# Checkout Sessions: create, expire, and complete from the hosted page.
from ._cards import TestCard
from ._catalog import product_name
from ._customers import create_customer
from ._discounts import Grant, grant_for_code, parse_discounts, share_out
from ._engine import State
from ._errors import StripeError, invalid, missing_param
from ._invoice_lines import is_metered, item_amount
from ._invoices import attempt_payment
from ._params import (
    Params,
    bool_param,
    check_params,
    choice_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    new_metadata,
    str_param,
    unknown_param,
)
from ._payment_methods import ADDRESS_KEYS, attach_pm, make_card_pm
from ._store import Obj, new_id, rand_str, stripe_object
from ._subscription_create import create_subscription
from ._timeutil import DAY

CS_CREATE = {
    "adaptive_pricing",
    "after_expiration",
    "allow_promotion_codes",
    "automatic_tax",
    "billing_address_collection",
    "branding_settings",
    "cancel_url",
    "client_reference_id",
    "consent_collection",
    "currency",
    "custom_fields",
    "custom_text",
    "customer",
    "customer_creation",
    "customer_email",
    "customer_update",
    "discounts",
    "expires_at",
    "invoice_creation",
    "line_items",
    "locale",
    "metadata",
    "mode",
    "name_collection",
    "origin_context",
    "payment_method_collection",
    "payment_method_configuration",
    "payment_method_options",
    "payment_method_types",
    "phone_number_collection",
    "redirect_on_completion",
    "return_url",
    "saved_payment_method_options",
    "submit_type",
    "subscription_data",
    "success_url",
    "tax_id_collection",
    "ui_mode",
    "wallet_options",
}
CS_UNSUPPORTED = {
    "customer_account",
    "excluded_payment_method_types",
    "integration_identifier",
    "managed_payments",
    "optional_items",
    "payment_intent_data",
    "payment_method_data",
    "permissions",
    "setup_intent_data",
    "shipping_address_collection",
    "shipping_options",
}
SUB_DATA_KEYS = {
    "trial_period_days",
    "trial_end",
    "metadata",
    "description",
    "trial_settings",
    "proration_behavior",
    "default_tax_rates",
    "billing_mode",
}


def create_checkout_session(st: State, p: Params) -> Obj:
    check_params(p, CS_CREATE, CS_UNSUPPORTED)
    mode = str_param(p, "mode", required=True)
    if mode != "subscription":
        raise StripeError(
            400,
            f"fakestripe only implements Checkout in `subscription` mode, not `{mode}`.",
            param="mode",
            code="parameter_unknown",
        )
    ui_mode = str_param(p, "ui_mode") or "hosted_page"
    if ui_mode not in ("hosted", "hosted_page"):
        raise StripeError(
            400,
            "fakestripe only implements hosted Checkout pages.",
            param="ui_mode",
            code="parameter_unknown",
        )
    customer = str_param(p, "customer")
    email = str_param(p, "customer_email")
    if customer is not None and email is not None:
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            "customer_email",
        )
    cus = st.get("customer", customer, "customer") if customer else None
    if bool_param(p, "allow_promotion_codes") and "discounts" in p:
        raise invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            "discounts",
        )
    grants = parse_discounts(st, p, cus["id"] if cus else None)
    items = _checkout_items(st, p)
    sub_data, trial_days, trial_end = _subscription_data(st, p)
    expires_at = _check_session_settings(st, p)
    subtotal = sum(item_amount(it["price"], it["quantity"]) for it in items)
    amount = 0 if trial_days or trial_end else subtotal
    cs_id = f"cs_test_{rand_str(58)}"
    currency = items[0]["price"]["currency"]
    session = checkout_session_object(st, cs_id, p, cus, amount, currency, expires_at)
    line_items = [checkout_line_item_object(st, it) for it in items]
    st.add(session)
    st.meta_of(cs_id).update(
        line_items=line_items,
        sub_data=sub_data,
        trial_days=trial_days,
        trial_end=trial_end,
        subtotal=subtotal,
        grants=[],
    )
    if grants:
        set_session_discounts(st, session, grants)
    st.schedule(expires_at, "checkout_expire", cs_id)
    return session


def set_session_discounts(st: State, session: Obj, grants: list[Grant]) -> None:
    """Apply the discounts to the session's amounts (the subscription gets them on
    completion); a trial's first invoice stays free."""
    meta = st.meta_of(session["id"])
    meta["grants"] = grants
    session["discounts"] = [
        {"coupon": None if promo else coupon["id"], "promotion_code": promo and promo["id"]}
        for coupon, promo in grants
    ]
    items = line_items_of(st, session)
    lines = [{"amount": li["amount_subtotal"], "discountable": True} for li in items]
    trialing = bool(meta["trial_days"] or meta["trial_end"])
    given = [] if trialing else [(None, coupon) for coupon, _ in grants]
    totals = share_out(lines, given, session["currency"])
    for li, line in zip(items, lines, strict=True):
        li["amount_discount"] = sum(d["amount"] for d in line["discount_amounts"])
        li["amount_total"] = li["amount_subtotal"] - li["amount_discount"]
    off = sum(t["amount"] for t in totals)
    session["total_details"]["amount_discount"] = off
    session["amount_total"] = session["amount_subtotal"] - off
    st.save(session)


def apply_promotion_code(st: State, session: Obj, code: str) -> None:
    """A code typed on the hosted page (``allow_promotion_codes``)."""
    if not session["allow_promotion_codes"]:
        raise invalid("This Checkout Session does not accept promotion codes.", "promotion_code")
    set_session_discounts(st, session, [grant_for_code(st, code, session["customer"])])


LINE_ITEM_KEYS = ("price", "quantity", "adjustable_quantity", "tax_rates", "dynamic_tax_rates")


def _checkout_items(st: State, p: Params) -> list[Obj]:
    """``line_items``: active recurring prices with their quantities."""
    raw_items = list_param(p, "line_items")
    if not raw_items:
        raise invalid(
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
            "line_items",
        )
    items: list[Obj] = []
    for n, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise invalid("Invalid object", f"line_items[{n}]")
        for k in raw:
            if k not in LINE_ITEM_KEYS:
                raise unknown_param(f"line_items[{n}][{k}]")
        price_id = str_param(raw, "price", param=f"line_items[{n}][price]")
        if price_id is None:
            raise missing_param(f"line_items[{n}][price]")
        price = st.get("price", price_id, f"line_items[{n}][price]")
        if not price["active"]:
            raise invalid(f"The price `{price_id}` is not active.", f"line_items[{n}][price]")
        if price["recurring"] is None:
            raise invalid(
                "fakestripe only implements recurring prices in subscription mode Checkout.",
                f"line_items[{n}][price]",
            )
        qty = int_param(raw, "quantity", param=f"line_items[{n}][quantity]", minimum=0)
        if is_metered(price):
            if qty is not None:
                raise invalid(
                    "Quantity should not be specified where usage_type is `metered`. Remove "
                    f"quantity from `line_items[{n}]`.",
                    f"line_items[{n}][quantity]",
                )
        elif qty is None:
            raise missing_param(f"line_items[{n}][quantity]")
        items.append({"price": price, "quantity": qty})
    return items


def _subscription_data(st: State, p: Params) -> tuple[Obj, int | None, int | None]:
    """``subscription_data``, with its trial (days or end) checked."""
    sub_data = dict_param(p, "subscription_data") or {}
    for k in sub_data:
        if k not in SUB_DATA_KEYS:
            raise unknown_param(f"subscription_data[{k}]")
    trial_days = int_param(
        sub_data, "trial_period_days", param="subscription_data[trial_period_days]", minimum=1
    )
    trial_end = int_param(sub_data, "trial_end", param="subscription_data[trial_end]")
    if trial_end is not None and trial_end < st.now() + 2 * DAY:
        raise invalid(
            "`subscription_data[trial_end]` must be at least 48 hours in the future.",
            "subscription_data[trial_end]",
        )
    return sub_data, trial_days, trial_end


def _check_session_settings(st: State, p: Params) -> int:
    """Checks ``expires_at`` (returned), the URLs, ``client_reference_id`` and
    ``payment_method_collection``."""
    now = st.now()
    expires_at = int_param(p, "expires_at") or now + DAY
    if not now + 1800 <= expires_at <= now + DAY:
        raise invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
            "expires_at",
        )
    for key in ("success_url", "cancel_url"):
        url = str_param(p, key)
        if url is not None and not url.startswith(("http://", "https://")):
            raise invalid("Not a valid URL", key, "url_invalid")
    client_ref = str_param(p, "client_reference_id")
    if client_ref is not None and len(client_ref) > 200:
        raise invalid("client_reference_id must be at most 200 characters.", "client_reference_id")
    choice_param(p, "payment_method_collection", ("always", "if_required"))
    return expires_at


#: Checkout Session fields the fake never sets (no payments mode, shipping, consent...).
CHECKOUT_SESSION_NULLS = (
    "after_expiration client_secret collected_information consent consent_collection "
    "currency_conversion invoice invoice_creation origin_context payment_intent payment_link "
    "payment_method_configuration_details recovered_from saved_payment_method_options "
    "setup_intent shipping_address_collection shipping_cost subscription wallet_options"
)


def checkout_session_object(
    st: State,
    cs_id: str,
    p: Params,
    cus: Obj | None,
    amount: int,
    currency: str,
    expires_at: int,
) -> Obj:
    """An open Checkout Session in subscription mode for the (checked) create params ``p``."""
    email = str_param(p, "customer_email")
    has_email = bool((cus and cus["email"]) or email)
    fields: Obj = {
        "adaptive_pricing": {"enabled": False},
        "allow_promotion_codes": bool_param(p, "allow_promotion_codes"),
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": str_param(p, "billing_address_collection"),
        "cancel_url": str_param(p, "cancel_url"),
        "client_reference_id": str_param(p, "client_reference_id"),
        "created": st.now(),
        "currency": currency,
        "custom_text": dict.fromkeys(
            ("after_submit", "shipping_address", "submit", "terms_of_service_acceptance")
        ),
        "customer": cus["id"] if cus else None,
        "customer_creation": None if cus else "always",
        "customer_details": _customer_details(cus["email"] if cus else email)
        if has_email
        else None,
        "customer_email": email,
        "expires_at": expires_at,
        "livemode": False,
        "locale": str_param(p, "locale"),
        "metadata": new_metadata(metadata_param(p)),
        "mode": "subscription",
        "payment_method_collection": (
            choice_param(p, "payment_method_collection", ("always", "if_required")) or "always"
        ),
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "status": "open",
        "submit_type": str_param(p, "submit_type"),
        "success_url": str_param(p, "success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": f"{st.base_url}/c/pay/{cs_id}",
    }
    empty_lists = "custom_fields discounts shipping_options"
    return stripe_object(cs_id, "checkout.session", fields, CHECKOUT_SESSION_NULLS, empty_lists)


def _customer_details(email: str | None) -> Obj:
    return {
        "address": None,
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": (),
    }


def checkout_line_item_object(st: State, item: Obj) -> Obj:
    """A line item of a Checkout Session (``price`` and ``quantity`` of ``item``)."""
    amount = item_amount(item["price"], item["quantity"])
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": item["price"]["currency"],
        "description": product_name(st, item["price"]),
        "metadata": {},
        "price": item["price"],
        "quantity": item["quantity"],
    }


def line_items_of(st: State, session: Obj) -> list[Obj]:
    items: list[Obj] = st.meta_of(session["id"])["line_items"]
    return items


def expire_session(st: State, session: Obj) -> Obj:
    if session["status"] != "open":
        raise invalid(
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{session["status"]}".',
            None,
            None,
        )
    session["status"] = "expired"
    session["url"] = None
    st.save(session)
    st.emit("checkout.session.expired", session)
    return session


def on_checkout_expire(st: State, cs_id: str, when: int) -> None:
    session = st.colls["checkout.session"].get(cs_id)
    if session is not None and session["status"] == "open" and session["expires_at"] == when:
        expire_session(st, session)


def needs_card(st: State, session: Obj) -> bool:
    meta = st.meta_of(session["id"])
    trialing = bool(meta["trial_days"] or meta["trial_end"])
    return not (
        session["payment_method_collection"] == "if_required"
        and (trialing or meta["subtotal"] == 0)
    )


def checkout_preflight(st: State, session: Obj, card: TestCard | None) -> str:
    """Decide what submitting ``card`` will do: ``ok``, ``3ds`` or raise a card error."""
    if session["status"] != "open":
        raise invalid("This Checkout Session is no longer active.")
    if card is None:
        if needs_card(st, session):
            raise invalid("Your card number is incomplete.", "number", "incomplete_number")
        return "ok"
    if card.attach_error is not None:
        raise card.attach_error.error()
    meta = st.meta_of(session["id"])
    trialing = bool(meta["trial_days"] or meta["trial_end"])
    charging = not trialing and meta["subtotal"] > 0
    if charging and card.charge_error is not None:
        raise card.charge_error.error()
    if card.auth != "none":
        return "3ds"
    return "ok"


def complete_checkout(
    st: State,
    session: Obj,
    card: TestCard | None,
    email: str | None,
    name: str | None,
    exp: tuple[int, int] | None,
    postal_code: str | None = None,
) -> Obj:
    """Create customer, payment method and subscription for a submitted Checkout page."""
    st.request = {"id": None, "idempotency_key": None}
    cus = st.objects.get(session["customer"] or "")
    if cus is None:
        email = email or session["customer_email"]
        if not email:
            raise invalid("Your email address is incomplete.", "email", "email_invalid")
        params: Params = {"email": email}
        if name:
            params["name"] = name
        cus = create_customer(st, params)
    pm: Obj | None = None
    if card is not None:
        billing = {
            "name": name,
            "email": cus["email"],
            "address": {"postal_code": postal_code, "country": "US" if postal_code else None},
        }
        exp_m, exp_y = exp if exp else (None, None)
        pm = make_card_pm(st, card, exp_m, exp_y, billing, cvc_checked=True)
        if card.auth != "none":
            # The customer just completed 3D Secure on the page: set up for off-session use.
            st.meta_of(pm["id"])["authenticated"] = True
        attach_pm(st, pm, cus)
    on_session = card is not None and card.auth != "none"
    sub_params = _subscription_params(st, session, cus, pm, on_session)
    sub = create_subscription(st, sub_params, from_checkout=True)
    inv = st.objects[sub["latest_invoice"]]
    if on_session and inv["status"] == "open":
        attempt_payment(st, inv, pm, on_session=True)
    trialing = sub["status"] == "trialing"
    paid = inv["status"] == "paid"
    session["status"] = "complete"
    session["payment_status"] = (
        "no_payment_required" if trialing or inv["total"] == 0 else ("paid" if paid else "unpaid")
    )
    session["customer"] = cus["id"]
    session["subscription"] = sub["id"]
    session["invoice"] = inv["id"]
    session["url"] = None
    session["customer_details"] = _customer_details(cus["email"])
    session["customer_details"]["name"] = name or cus["name"]
    session["customer_details"]["address"] = {
        **dict.fromkeys(ADDRESS_KEYS),
        "country": "US" if postal_code else None,
        "postal_code": postal_code,
    }
    session["collected_information"] = dict.fromkeys(
        ("business_name", "individual_name", "shipping_details")
    )
    st.save(session)
    st.emit("checkout.session.completed", session)
    return session


def _subscription_params(
    st: State, session: Obj, cus: Obj, pm: Obj | None, on_session: bool
) -> Params:
    """The ``POST /v1/subscriptions`` params of a completed Checkout Session."""
    meta = st.meta_of(session["id"])
    sub_data = meta["sub_data"]
    sub_params: Params = {
        "customer": cus["id"],
        "items": [
            {
                "price": li["price"]["id"],
                **({"quantity": str(li["quantity"])} if li["quantity"] is not None else {}),
            }
            for li in line_items_of(st, session)
        ],
    }
    if pm is not None:
        sub_params["default_payment_method"] = pm["id"]
    if meta["grants"]:
        sub_params["discounts"] = [
            {"promotion_code": promo["id"]} if promo else {"coupon": coupon["id"]}
            for coupon, promo in meta["grants"]
        ]
    for key in ("metadata", "description", "trial_settings", "billing_mode"):
        if key in sub_data:
            sub_params[key] = sub_data[key]
    if meta["trial_days"]:
        sub_params["trial_period_days"] = str(meta["trial_days"])
    if meta["trial_end"]:
        sub_params["trial_end"] = str(meta["trial_end"])
    if on_session:
        sub_params["payment_behavior"] = "default_incomplete"
    return sub_params


def success_redirect(session: Obj) -> str | None:
    url = session["success_url"]
    if url is None:
        return None
    return str(url).replace("{CHECKOUT_SESSION_ID}", session["id"])


# -------------------------------------------------------------------------------- portal


def register(st: State) -> None:
    st.due_handlers["checkout_expire"] = on_checkout_expire
    st.includables[("checkout.session", "line_items")] = lambda s, o: {
        "object": "list",
        "data": line_items_of(s, o),
        "has_more": False,
        "url": f"/v1/checkout/sessions/{o['id']}/line_items",
    }
    st.includables[("checkout.session", "total_details.breakdown")] = lambda s, o: {
        "discounts": [],
        "taxes": [],
    }
    st.includables[("item", "discounts")] = lambda s, o: []
