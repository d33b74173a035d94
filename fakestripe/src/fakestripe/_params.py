from __future__ import annotations

# Validation and coercion of decoded form parameters.
import re
from collections.abc import Iterable
from typing import Any

from ._errors import StripeError, invalid, missing_param, unknown_param

__all__ = [
    "Params",
    "apply_metadata",
    "bool_param",
    "check_params",
    "choice_param",
    "created_filter",
    "decimal_param",
    "dict_param",
    "expand_param",
    "int_param",
    "list_param",
    "metadata_param",
    "new_metadata",
    "str_param",
    "unknown_param",
]

Params = dict[str, Any]

_INT = re.compile(r"^-?\d+$")
_DEC = re.compile(r"^-?\d+(\.\d+)?$")


def check_params(p: Params, allowed: Iterable[str], unsupported: Iterable[str] = ()) -> None:
    allowed_set = set(allowed) | {"expand"}
    blocked = set(unsupported)
    for key in p:
        if key in blocked:
            raise StripeError(
                400,
                f"fakestripe does not implement the `{key}` parameter on this endpoint.",
                param=key,
                code="parameter_unknown",
            )
        if key not in allowed_set:
            raise unknown_param(key)


def str_param(p: Params, key: str, required: bool = False, param: str | None = None) -> str | None:
    value = p.get(key)
    name = param or key
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {_show(value)}", name)
    return value


def int_param(
    p: Params,
    key: str,
    required: bool = False,
    param: str | None = None,
    minimum: int | None = None,
) -> int | None:
    value = p.get(key)
    name = param or key
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str) or not _INT.match(value):
        raise invalid(f"Invalid integer: {_show(value)}", name)
    result = int(value)
    if minimum is not None and result < minimum:
        raise invalid(
            f"This value must be greater than or equal to {minimum}.", name, "parameter_invalid"
        )
    return result


def decimal_param(p: Params, key: str, param: str | None = None) -> str | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DEC.match(value):
        raise invalid(f"Invalid decimal: {_show(value)}", param or key)
    return value


def bool_param(p: Params, key: str, param: str | None = None) -> bool | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise invalid(f"Invalid boolean: {_show(value)}", param or key)


def dict_param(p: Params, key: str, param: str | None = None) -> Params | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {_show(value)}", param or key)
    return value


def list_param(p: Params, key: str, param: str | None = None) -> list[Any] | None:
    value = p.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        # e.g. "items[5][price]" only: Stripe treats keys as positions.
        return [value[k] for k in sorted(value)]
    if not isinstance(value, list):
        raise invalid(f"Invalid array: {_show(value)}", param or key)
    return value


def choice_param(
    p: Params, key: str, choices: Iterable[str], param: str | None = None
) -> str | None:
    value = str_param(p, key, param=param)
    opts = list(choices)
    if value is not None and value not in opts:
        listed = ", ".join(f"`{c}`" for c in opts)
        raise invalid(
            f"Invalid {param or key}: must be one of {listed}", param or key, "parameter_invalid"
        )
    return value


def expand_param(p: Params) -> list[str]:
    value = p.get("expand")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise invalid("Invalid array", "expand")


def metadata_param(p: Params, key: str = "metadata") -> dict[str, str | None] | None:
    """``None`` if absent; ``{}`` meaning "clear all" when sent as an empty string."""
    if key not in p:
        return None
    value = p[key]
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("Invalid object", key)
    if len(value) > 50:
        raise invalid("You can only specify up to 50 metadata keys.", key)
    out: dict[str, str | None] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise invalid(f"Invalid value for metadata key {k}.", f"{key}[{k}]")
        if len(k) > 40:
            raise invalid("Metadata keys can be at most 40 characters long.", f"{key}[{k}]")
        if len(v) > 500:
            raise invalid("Metadata values can be at most 500 characters long.", f"{key}[{k}]")
        out[k] = v or None
    return out


def apply_metadata(target: dict[str, str], update: dict[str, str | None] | None) -> None:
    if update is None:
        return
    if not update:
        target.clear()
        return
    for k, v in update.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = v


def new_metadata(update: dict[str, str | None] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    apply_metadata(out, update)
    return out


def created_filter(p: Params, key: str = "created") -> tuple[int | None, int | None] | None:
    """Parse ``created=ts`` or ``created[gte|gt|lte|lt]=ts`` into inclusive bounds."""
    value = p.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        ts = int_param(p, key)
        return ts, ts
    if not isinstance(value, dict):
        raise invalid("Invalid object", key)
    lo = hi = None
    for op, raw in value.items():
        if not isinstance(raw, str) or not _INT.match(raw):
            raise invalid(f"Invalid integer: {_show(raw)}", f"{key}[{op}]")
        n = int(raw)
        if op == "gte":
            lo = n
        elif op == "gt":
            lo = n + 1
        elif op == "lte":
            hi = n
        elif op == "lt":
            hi = n - 1
        else:
            raise unknown_param(f"{key}[{op}]")
    return lo, hi


def _show(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
