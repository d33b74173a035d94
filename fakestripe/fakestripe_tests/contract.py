from __future__ import annotations

# Contract checks: every field the fake emits must be declared by stripe-python's typed classes.
#
# The declared fields come from the class annotations of stripe-python's resource classes and
# their nested ``StripeObject`` classes (``_inner_class_types``). This is what catches drift
# between the fake and today's API shapes.
import json
from functools import cache
from typing import Any

import stripe
from stripe._object_classes import OBJECT_CLASSES, get_object_class

# Non-optional fields that the fake deliberately leaves out of full objects.
# (object type, field) -> reason.
KNOWN_OMISSIONS: dict[tuple[str, str], str] = {
    ("subscription", "billing_schedules"): "preview feature, absent unless configured",
    ("checkout.session", "branding_settings"): "only present for custom branding",
}


# Keys every typed StripeObject carries (the type tag) or that stripe-python reads at
# runtime without annotating (search pagination uses ``url``).
IMPLICIT: dict[tuple[str | None, str], str] = {
    ("list", "object"): "Literal['list']",
    ("search_result", "object"): "Literal['search_result']",
    ("search_result", "url"): "str",
}


@cache
def declared(cls: type) -> dict[str, str]:
    """Field name -> annotation text, across the class MRO."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for name, ann in getattr(klass, "__annotations__", {}).items():
            if name.startswith("_") or name == "OBJECT_NAME":
                continue
            out[name] = ann if isinstance(ann, str) else repr(ann)
    return out


def inner_class(cls: type, name: str) -> type | None:
    inner = getattr(cls, "_inner_class_types", {}).get(name)
    return inner if isinstance(inner, type) else None


def is_untyped_map(annotation: str) -> bool:
    return "UntypedStripeObject" in annotation


def is_optional(annotation: str) -> bool:
    return "Optional" in annotation or "NoneType" in annotation


def object_class(type_name: str) -> type | None:
    if type_name not in OBJECT_CLASSES:
        return None
    return get_object_class("V1", type_name)


class Checker:
    def __init__(self, check_required: bool = True) -> None:
        self.problems: list[str] = []
        self.seen_types: set[str] = set()
        self.check_required = check_required

    def check_json(self, body: bytes | str, where: str) -> None:
        data = json.loads(body)
        if isinstance(data, dict) and "error" in data and len(data) == 1:
            self.check_error(data["error"], where)
            return
        self.check(data, None, where)
        self.check_loads(data, where)

    def check_error(self, err: dict[str, Any], where: str) -> None:
        fields = declared(stripe.ErrorObject)
        for key in err:
            if key not in fields:
                self.problems.append(f"{where}.error.{key}: not declared on ErrorObject")
        for key in ("type", "message"):
            if key not in err:
                self.problems.append(f"{where}.error: missing {key}")

    def check_loads(self, data: Any, where: str) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("object"), str):
            return
        obj = stripe.convert_to_stripe_object(data)
        expected = object_class(data["object"])
        if expected is not None and type(obj) is not expected:
            self.problems.append(f"{where}: loaded as {type(obj).__name__}")

    def check(self, value: Any, cls: type | None, path: str) -> None:
        if isinstance(value, list):
            for n, item in enumerate(value):
                self.check(item, cls, f"{path}[{n}]")
            return
        if not isinstance(value, dict):
            return
        type_name = value.get("object")
        if isinstance(type_name, str):
            found = object_class(type_name)
            if found is None:
                self.problems.append(f"{path}: unknown object type {type_name!r}")
                return
            cls = found
            self.seen_types.add(type_name)
        if cls is None:
            self.problems.append(f"{path}: nested object without a declared class")
            return
        fields = declared(cls)
        for key, item in value.items():
            ann = fields.get(key) or IMPLICIT.get((type_name, key))
            if ann is None:
                self.problems.append(f"{path}.{key}: not declared on {cls.__qualname__}")
                continue
            if type_name == "event" and key == "data":
                self._check_event_data(item, f"{path}.data")
                continue
            if is_untyped_map(ann):
                continue
            inner = inner_class(cls, key)
            if inner is not None:
                self.check(item, inner, f"{path}.{key}")
            elif isinstance(item, dict | list):
                self.check(item, None, f"{path}.{key}")
        if (
            self.check_required
            and isinstance(type_name, str)
            and type_name not in ("list", "search_result")
            and not value.get("deleted")
        ):
            for key, ann in fields.items():
                if key in value or is_optional(ann) or key == "deleted":
                    continue
                if (type_name, key) in KNOWN_OMISSIONS:
                    continue
                self.problems.append(f"{path}: required field {key!r} missing ({type_name})")

    def _check_event_data(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            self.problems.append(f"{path}: event data is not an object")
            return
        for key in data:
            if key not in ("object", "previous_attributes"):
                self.problems.append(f"{path}.{key}: not declared on Event.Data")
        payload = data.get("object")
        self.check(payload, None, f"{path}.object")
        self.check_loads(payload, f"{path}.object")
        previous = data.get("previous_attributes")
        if isinstance(previous, dict) and isinstance(payload, dict):
            cls = object_class(str(payload.get("object")))
            if cls is not None:
                for key in previous:
                    if key not in declared(cls):
                        self.problems.append(
                            f"{path}.previous_attributes.{key}: not declared on {cls.__name__}"
                        )
