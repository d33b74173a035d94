"""A webhook body as JSON, within limits the rest of the pipeline can take (both modes).

A valid signature only says who sent the body, not that it is safe to handle: JSON nested a few
thousand levels deep makes `json.loads` raise RecursionError (a 500, not a refusal), and JSON
nested a few hundred levels parses but can overflow the stack later, when it is stored.
Stripe's events are a dozen levels deep at most.
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting accepted (the event envelope is level 1).
MAX_DEPTH = 100


class InvalidJSONBodyError(ValueError):
    """The body is not JSON the webhook accepts; the message says why."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_body(body: bytes | str) -> Any:
    """Decode `body` (UTF-8 JSON, without NaN or Infinity, at most MAX_DEPTH levels deep)."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise InvalidJSONBodyError("The body is nested too deeply.") from exc
    except ValueError as exc:  # UnicodeDecodeError included
        raise InvalidJSONBodyError("The body is not valid JSON.") from exc
    if _deeper_than(value, MAX_DEPTH):
        raise InvalidJSONBodyError("The body is nested too deeply.")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (iterative: no recursion to overflow)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        children = container.values() if isinstance(container, dict) else container
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
