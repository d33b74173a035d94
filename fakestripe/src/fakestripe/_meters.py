from __future__ import annotations

# Billing meters, meter events and event summaries.
import hashlib
import re
import uuid
from bisect import bisect_left, insort

from ._engine import State
from ._errors import invalid, missing_param
from ._params import Params, check_params, choice_param, dict_param, int_param, str_param
from ._store import Obj, new_id

METER_CREATE = {
    "customer_mapping",
    "default_aggregation",
    "display_name",
    "event_name",
    "event_time_window",
    "value_settings",
}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
FORMULAS = ("sum", "count", "last")


def create_meter(st: State, p: Params) -> Obj:
    check_params(p, METER_CREATE)
    display_name = str_param(p, "display_name", required=True)
    event_name = str_param(p, "event_name", required=True)
    assert event_name is not None
    if len(event_name) > 100:
        raise invalid("event_name must be at most 100 characters.", "event_name")
    agg = dict_param(p, "default_aggregation")
    if agg is None:
        raise missing_param("default_aggregation")
    formula = choice_param(agg, "formula", FORMULAS, "default_aggregation[formula]")
    if formula is None:
        raise missing_param("default_aggregation[formula]")
    mapping = dict_param(p, "customer_mapping")
    cus_key = "stripe_customer_id"
    if mapping is not None:
        cus_key = (
            str_param(mapping, "event_payload_key", True, "customer_mapping[event_payload_key]")
            or cus_key
        )
        if choice_param(mapping, "type", ("by_id",), "customer_mapping[type]") is None:
            raise missing_param("customer_mapping[type]")
    value_settings = dict_param(p, "value_settings") or {}
    value_key = str_param(
        value_settings, "event_payload_key", param="value_settings[event_payload_key]"
    )
    for oid in st.colls["billing.meter"].candidates("event_name", event_name):
        if st.objects[oid]["status"] == "active":
            raise invalid(
                f"An active meter with event_name `{event_name}` already exists.",
                "event_name",
                "resource_already_exists",
            )
    now = st.now()
    meter: Obj = {
        "id": new_id("mtr_test", 32),
        "object": "billing.meter",
        "created": now,
        "customer_mapping": {"event_payload_key": cus_key, "type": "by_id"},
        "default_aggregation": {"formula": formula},
        "display_name": display_name,
        "event_name": event_name,
        "event_time_window": choice_param(p, "event_time_window", ("day", "hour")),
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": now,
        "value_settings": {"event_payload_key": value_key or "value"},
    }
    return st.add(meter)


def update_meter(st: State, meter: Obj, p: Params) -> Obj:
    check_params(p, {"display_name"})
    if "display_name" in p:
        meter["display_name"] = str_param(p, "display_name", required=True)
        meter["updated"] = st.now()
    return meter


def set_meter_status(st: State, meter: Obj, active: bool) -> Obj:
    want = "active" if active else "inactive"
    if meter["status"] == want:
        raise invalid(f"This meter is already {want}.", None, "billing_meter_invalid_status")
    meter["status"] = want
    meter["status_transitions"]["deactivated_at"] = None if active else st.now()
    meter["updated"] = st.now()
    st.save(meter)
    return meter


def create_meter_event(st: State, p: Params) -> Obj:
    check_params(p, {"event_name", "identifier", "payload", "timestamp"})
    event_name = str_param(p, "event_name", required=True)
    assert event_name is not None
    payload = dict_param(p, "payload")
    if payload is None:
        raise missing_param("payload")
    identifier = str_param(p, "identifier") or str(uuid.uuid4())
    if len(identifier) > 100:
        raise invalid("identifier must be at most 100 characters.", "identifier")
    now = st.now()
    existing = st.meter_events.get(identifier)
    if existing is not None and existing["created"] + 86400 > now:
        return existing  # uniqueness enforced for 24h: duplicates are not counted again
    ts = int_param(p, "timestamp")
    if ts is None:
        ts = now
    if ts < now - 35 * 86400 or ts > now + 300:
        raise invalid(
            "Timestamp must be within the past 35 calendar days or up to 5 minutes in the future.",
            "timestamp",
            "timestamp_too_far_in_past" if ts < now else "timestamp_in_future",
        )
    meters = [
        st.objects[oid]
        for oid in st.colls["billing.meter"].candidates("event_name", event_name)
        if st.objects[oid]["status"] == "active"
    ]
    cus_key = meters[0]["customer_mapping"]["event_payload_key"] if meters else None
    value_key = meters[0]["value_settings"]["event_payload_key"] if meters else "value"
    if cus_key is not None and not payload.get(cus_key):
        raise invalid(
            f"Missing `{cus_key}` in the payload.", f"payload[{cus_key}]", "parameter_missing"
        )
    raw_value = payload.get(value_key)
    formula = meters[0]["default_aggregation"]["formula"] if meters else "sum"
    if raw_value is None or raw_value == "":
        if formula != "count":
            raise invalid(
                f"Missing `{value_key}` in the payload.",
                f"payload[{value_key}]",
                "parameter_missing",
            )
        value = 1.0
    elif not isinstance(raw_value, str) or not _NUMBER.match(raw_value):
        raise invalid(
            f"The value `{raw_value}` is not a valid number.",
            f"payload[{value_key}]",
            "parameter_invalid",
        )
    else:
        value = float(raw_value)
    event: Obj = {
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": {k: v for k, v in payload.items() if isinstance(v, str)},
        "timestamp": ts,
    }
    st.meter_events[identifier] = event
    customer = payload.get(cus_key or "stripe_customer_id")
    if isinstance(customer, str):
        st.seq += 1
        insort(st.usage.setdefault((event_name, customer), []), (ts, st.seq, value))
    return event


def aggregate(st: State, meter: Obj, customer: str, start: int, end: int) -> float:
    """Aggregate a customer's usage with timestamps in ``[start, end)``."""
    rows = st.usage.get((meter["event_name"], customer), [])
    lo = bisect_left(rows, (start, -1, 0.0))
    hi = bisect_left(rows, (end, -1, 0.0))
    window = rows[lo:hi]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return float(len(window))
    if formula == "last":
        return window[-1][2] if window else 0.0
    return float(sum(r[2] for r in window))


def event_summaries(st: State, meter: Obj, p: Params) -> tuple[list[Obj], bool]:
    check_params(
        p,
        {
            "customer",
            "end_time",
            "start_time",
            "value_grouping_window",
            "limit",
            "starting_after",
            "ending_before",
        },
    )
    customer = str_param(p, "customer", required=True)
    assert customer is not None
    start = int_param(p, "start_time", required=True)
    end = int_param(p, "end_time", required=True)
    assert start is not None and end is not None
    window = choice_param(p, "value_grouping_window", ("day", "hour"))
    step = {"day": 86400, "hour": 3600, None: 60}[window]
    for name, value in (("start_time", start), ("end_time", end)):
        if value % step:
            unit = {86400: "day", 3600: "hour", 60: "minute"}[step]
            raise invalid(f"`{name}` must be aligned to {unit} boundaries.", name)
    if end <= start:
        raise invalid("`end_time` must be after `start_time`.", "end_time")
    bounds = (
        [(start, end)]
        if window is None
        else [(t, min(t + step, end)) for t in range(start, end, step)]
    )
    summaries = []
    for lo, hi in bounds:
        digest = hashlib.sha256(f"{meter['id']}|{customer}|{lo}|{hi}".encode()).hexdigest()
        summaries.append(
            {
                "id": f"mtrusg_test_{digest[:32]}",
                "object": "billing.meter_event_summary",
                "aggregated_value": aggregate(st, meter, customer, lo, hi),
                "end_time": hi,
                "livemode": False,
                "meter": meter["id"],
                "start_time": lo,
            }
        )
    limit = int_param(p, "limit", minimum=1) or 10
    after, before = str_param(p, "starting_after"), str_param(p, "ending_before")
    ids = [s["id"] for s in summaries]
    if after is not None:
        if after not in ids:
            raise invalid(f"Invalid starting_after id: {after}", "starting_after")
        summaries = summaries[ids.index(after) + 1 :]
        return summaries[:limit], len(summaries) > limit
    if before is not None:
        if before not in ids:
            raise invalid(f"Invalid ending_before id: {before}", "ending_before")
        summaries = summaries[: ids.index(before)]
        return summaries[-limit:], len(summaries) > limit
    return summaries[:limit], len(summaries) > limit
