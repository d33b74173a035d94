from __future__ import annotations

# Coupons, promotion codes and the discounts they give: applied to subscriptions (and
# through them to invoices) and to Checkout Sessions. An invoice's discount is shared out over
# its discountable lines (``discount_amounts``) and summed in ``total_discount_amounts``.
# A subscription's invoice lines are all discountable, prorations included (as Stripe does):
# a percent_off coupon takes its share of every line, a credit for unused time too (the
# customer only paid the discounted price for it); an amount_off coupon comes off each invoice
# once, never more than its discountable lines add up to.
from decimal import ROUND_HALF_UP, Decimal

from ._engine import State
from ._errors import StripeError, invalid
from ._params import (
    Params,
    apply_metadata,
    bool_param,
    check_params,
    choice_param,
    decimal_param,
    dict_param,
    int_param,
    list_param,
    metadata_param,
    new_metadata,
    str_param,
)
from ._store import Obj, new_id, rand_str, stripe_object
from ._timeutil import add_interval

COUPON_CREATE = {
    "id",
    "name",
    "percent_off",
    "amount_off",
    "currency",
    "duration",
    "duration_in_months",
    "max_redemptions",
    "redeem_by",
    "metadata",
}
COUPON_UNSUPPORTED = {"applies_to", "currency_options"}
PROMO_CREATE = {
    "promotion",
    "code",
    "active",
    "customer",
    "expires_at",
    "max_redemptions",
    "metadata",
    "restrictions",
}
DURATIONS = ("once", "repeating", "forever")
#: What Stripe's hosted pages say of a promotion code they cannot apply.
INVALID_CODE = "This code is invalid."

#: A discount to apply: its coupon and the promotion code it came from (if any).
Grant = tuple[Obj, Obj | None]


# ------------------------------------------------------------------------------ coupons


def create_coupon(st: State, p: Params) -> Obj:
    check_params(p, COUPON_CREATE, COUPON_UNSUPPORTED)
    coupon_id = str_param(p, "id") or rand_str(8)
    if st.colls["coupon"].get(coupon_id) is not None:
        raise invalid("Coupon already exists.", "id", "resource_already_exists")
    percent = decimal_param(p, "percent_off")
    amount = int_param(p, "amount_off", minimum=1)
    currency = (str_param(p, "currency") or "").lower() or None
    _check_value(percent, amount, currency)
    duration = choice_param(p, "duration", DURATIONS) or "once"
    months = int_param(p, "duration_in_months", minimum=1)
    if duration == "repeating" and months is None:
        raise invalid(
            "You must specify duration_in_months when duration is repeating.",
            "duration_in_months",
        )
    if duration != "repeating" and months is not None:
        raise invalid(
            "You may only specify duration_in_months when duration is repeating.",
            "duration_in_months",
        )
    fields: Obj = {
        "amount_off": amount,
        "created": st.now(),
        "currency": currency if amount is not None else None,
        "duration": duration,
        "duration_in_months": months,
        "livemode": False,
        "max_redemptions": int_param(p, "max_redemptions", minimum=1),
        "metadata": new_metadata(metadata_param(p)),
        "name": str_param(p, "name"),
        "percent_off": float(percent) if percent is not None else None,
        "redeem_by": int_param(p, "redeem_by"),
        "times_redeemed": 0,
        "valid": True,
    }
    return st.add(stripe_object(coupon_id, "coupon", fields, "applies_to"))


def _check_value(percent: str | None, amount: int | None, currency: str | None) -> None:
    if (percent is None) == (amount is None):
        raise invalid("You must pass exactly one of percent_off or amount_off.", "percent_off")
    if percent is not None and not 0 < Decimal(percent) <= 100:
        raise invalid("percent_off must be greater than 0 and at most 100.", "percent_off")
    if amount is not None and currency is None:
        raise invalid("You must pass currency when passing amount_off.", "currency")


def update_coupon(st: State, coupon: Obj, p: Params) -> Obj:
    check_params(p, {"name", "metadata"}, {"currency_options"})
    if "name" in p:
        coupon["name"] = str_param(p, "name")
    apply_metadata(coupon["metadata"], metadata_param(p))
    return coupon


def delete_coupon(st: State, coupon: Obj) -> Obj:
    """Deleting a coupon keeps the discounts it already gave, as on Stripe."""
    stub = {"id": coupon["id"], "object": "coupon", "deleted": True}
    st.remove(coupon, stub)
    return stub


def _redeemable(st: State, coupon: Obj) -> bool:
    """Whether the coupon may still be redeemed (``valid`` follows)."""
    if coupon["redeem_by"] is not None and st.now() > coupon["redeem_by"]:
        coupon["valid"] = False
    limit = coupon["max_redemptions"]
    if limit is not None and coupon["times_redeemed"] >= limit:
        coupon["valid"] = False
    return bool(coupon["valid"])


# ---------------------------------------------------------------------- promotion codes


def create_promotion_code(st: State, p: Params) -> Obj:
    check_params(p, PROMO_CREATE, {"customer_account"})
    promotion = dict_param(p, "promotion") or {}
    coupon_id = str_param(promotion, "coupon", param="promotion[coupon]")
    if coupon_id is None:
        raise invalid(
            "Missing required param: promotion[coupon].", "promotion[coupon]", "parameter_missing"
        )
    coupon = st.get("coupon", coupon_id, "promotion[coupon]")
    code = str_param(p, "code") or rand_str(8, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    if find_active_code(st, code) is not None:
        raise invalid(
            f"An active promotion code with `code: {code}` already exists.",
            "code",
            "resource_already_exists",
        )
    customer = str_param(p, "customer")
    if customer is not None:
        st.get("customer", customer, "customer")
    fields: Obj = {
        "active": bool_param(p, "active") is not False,
        "code": code,
        "created": st.now(),
        "customer": customer,
        "expires_at": int_param(p, "expires_at"),
        "livemode": False,
        "max_redemptions": int_param(p, "max_redemptions", minimum=1),
        "metadata": new_metadata(metadata_param(p)),
        "promotion": {"coupon": coupon["id"], "type": "coupon"},
        "restrictions": _restrictions(p),
        "times_redeemed": 0,
    }
    return st.add(stripe_object(new_id("promo"), "promotion_code", fields, "customer_account"))


def _restrictions(p: Params) -> Obj:
    raw = dict_param(p, "restrictions") or {}
    first_time = bool_param(raw, "first_time_transaction", "restrictions[first_time_transaction]")
    minimum = int_param(raw, "minimum_amount", param="restrictions[minimum_amount]", minimum=1)
    currency = str_param(raw, "minimum_amount_currency")
    if minimum is not None and currency is None:
        raise invalid(
            "You must pass minimum_amount_currency when passing minimum_amount.",
            "restrictions[minimum_amount_currency]",
        )
    return {
        "first_time_transaction": bool(first_time),
        "minimum_amount": minimum,
        "minimum_amount_currency": currency.lower() if currency else None,
    }


def update_promotion_code(st: State, promo: Obj, p: Params) -> Obj:
    check_params(p, {"active", "metadata"}, {"restrictions"})
    active = bool_param(p, "active")
    if active is not None:
        if active and find_active_code(st, promo["code"]) not in (None, promo):
            raise invalid(
                f"An active promotion code with `code: {promo['code']}` already exists.", "active"
            )
        promo["active"] = active
        st.save(promo)
    apply_metadata(promo["metadata"], metadata_param(p))
    return promo


def find_active_code(st: State, code: str) -> Obj | None:
    """The active promotion code a customer types (codes are case-insensitive)."""
    wanted = code.strip().lower()
    for promo in st.colls["promotion_code"].by_id.values():
        if promo["active"] and promo["code"].lower() == wanted:
            return promo
    return None


def _promotion_usable(st: State, promo: Obj, customer: str | None) -> bool:
    if not promo["active"]:
        return False
    if promo["expires_at"] is not None and st.now() >= promo["expires_at"]:
        return False
    limit = promo["max_redemptions"]
    if limit is not None and promo["times_redeemed"] >= limit:
        return False
    if promo["customer"] is not None and promo["customer"] != customer:
        return False
    coupon = st.colls["coupon"].get(promo["promotion"]["coupon"])
    return coupon is not None and _redeemable(st, coupon)


def grant_for_code(st: State, code: str, customer: str | None) -> Grant:
    """What a code typed on a hosted page gives; ``INVALID_CODE`` when nothing."""
    promo = find_active_code(st, code) if code.strip() else None
    if promo is None or not _promotion_usable(st, promo, customer):
        raise invalid(INVALID_CODE, "promotion_code")
    return st.objects[promo["promotion"]["coupon"]], promo


# ----------------------------------------------------------------------------- discounts


def parse_discounts(st: State, p: Params, customer: str | None) -> list[Grant]:
    """``discounts[n][coupon|promotion_code]``: checked, nothing redeemed yet."""
    grants: list[Grant] = []
    for n, raw in enumerate(list_param(p, "discounts") or []):
        base = f"discounts[{n}]"
        if not isinstance(raw, dict) or len([k for k in raw if raw[k]]) != 1:
            raise invalid(
                "Each discount must have exactly one of coupon, promotion_code or discount.", base
            )
        if raw.get("coupon"):
            coupon = st.get("coupon", raw["coupon"], f"{base}[coupon]")
            if not _redeemable(st, coupon):
                raise invalid(
                    f"Coupon expired: {coupon['id']}", f"{base}[coupon]", "coupon_expired"
                )
            grants.append((coupon, None))
        elif raw.get("promotion_code"):
            promo = st.get("promotion_code", raw["promotion_code"], f"{base}[promotion_code]")
            if not _promotion_usable(st, promo, customer):
                raise invalid(
                    f"This promotion code cannot be redeemed: {promo['id']}",
                    f"{base}[promotion_code]",
                )
            grants.append((st.objects[promo["promotion"]["coupon"]], promo))
        else:
            raise StripeError(
                400,
                "fakestripe does not implement `discounts[][discount]`.",
                param=f"{base}[discount]",
                code="parameter_unknown",
            )
    if len({coupon["id"] for coupon, _ in grants}) != len(grants):
        raise invalid("You cannot apply the same coupon more than once.", "discounts")
    return grants


def redeem(
    st: State, grants: list[Grant], customer: str, subscription: str | None, now: int
) -> list[str]:
    """Create the discount objects of ``grants``, starting ``now`` (the subscription's start or
    update, so a repeating discount ends with a billing period); their ids."""
    ids: list[str] = []
    for coupon, promo in grants:
        coupon["times_redeemed"] += 1
        if promo is not None:
            promo["times_redeemed"] += 1
        months = coupon["duration_in_months"]
        end = add_interval(now, "month", months) if coupon["duration"] == "repeating" else None
        fields: Obj = {
            "checkout_session": None,
            "customer": customer,
            "end": end,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": promo["id"] if promo is not None else None,
            "source": {"coupon": coupon["id"], "type": "coupon"},
            "start": now,
            "subscription": subscription,
            "subscription_item": None,
        }
        private = {"_coupon": coupon}
        discount = stripe_object(new_id("di"), "discount", fields, "customer_account", "", private)
        ids.append(st.add(discount)["id"])
        st.emit("customer.discount.created", discount)
    return ids


def end_discounts(st: State, ids: list[str]) -> None:
    """Discounts taken off a subscription (replaced, or spent): ``customer.discount.deleted``."""
    for did in ids:
        discount = st.colls["discount"].get(did)
        if discount is not None:
            st.emit("customer.discount.deleted", discount)


def active_discounts(st: State, sub: Obj, now: int) -> list[Obj]:
    """The subscription's discounts that apply to an invoice made at ``now``."""
    found = [st.colls["discount"].get(did) for did in sub["discounts"]]
    return [
        d
        for d in found
        if d is not None and not d.get("_spent") and (d["end"] is None or now < d["end"])
    ]


def used_up(st: State, sub: Obj, inv: Obj) -> None:
    """Billing ``inv``: a ``once`` discount that took something off it is spent. It stays on
    the subscription for the period it paid for and goes with the next invoice."""
    spent = [d for d in sub["discounts"] if (st.colls["discount"].get(d) or {}).get("_spent")]
    sub["discounts"] = [did for did in sub["discounts"] if did not in spent]
    end_discounts(st, spent)
    used = {entry["discount"] for entry in inv["total_discount_amounts"] if entry["amount"] != 0}
    for did in used:
        discount = st.colls["discount"].get(did)
        if discount is not None and discount["_coupon"]["duration"] == "once":
            discount["_spent"] = True


def share_out(
    lines: list[Obj], discounts: list[tuple[str | None, Obj]], currency: str
) -> list[Obj]:
    """Take each ``(discount id, coupon)`` off the discountable lines in turn: sets each
    line's ``discount_amounts``; returns the invoice's ``total_discount_amounts``. A credit
    line (negative amount) gets a negative share of a percent_off coupon."""
    left = [line["amount"] if line["discountable"] else 0 for line in lines]
    for line in lines:
        line["discount_amounts"] = []
    totals: list[Obj] = []
    for discount_id, coupon in discounts:
        cuts = _cuts(left, coupon, currency)
        for n, cut in enumerate(cuts):
            left[n] -= cut
            if cut != 0:
                lines[n]["discount_amounts"].append({"amount": cut, "discount": discount_id})
        totals.append({"amount": sum(cuts), "discount": discount_id})
    return totals


def _cuts(left: list[int], coupon: Obj, currency: str) -> list[int]:
    """What ``coupon`` takes off each line (``left``: what each line still costs)."""
    if coupon["percent_off"] is not None:
        rate = Decimal(str(coupon["percent_off"])) / 100
        return [int((rate * amount).quantize(Decimal(1), ROUND_HALF_UP)) for amount in left]
    base = sum(left)
    if coupon["currency"] != currency or base <= 0:
        return [0] * len(left)
    # Once per invoice, at most what the lines come to (credits included), shared over the
    # lines that cost something.
    off = min(coupon["amount_off"], base)
    owed = [max(amount, 0) for amount in left]
    gross = sum(owed)
    cuts = [off * amount // gross for amount in owed]
    for n in sorted(range(len(owed)), key=lambda i: -owed[i]):
        if sum(cuts) == off:
            break
        if cuts[n] < owed[n]:
            cuts[n] += 1
    return cuts
