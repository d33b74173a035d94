from __future__ import annotations

# Stripe-shaped API errors.
from typing import Any

DOCS = "https://docs.stripe.com/error-codes"


class StripeError(Exception):
    """An error rendered as Stripe's ``{"error": {...}}`` JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "param": self.param,
            "message": self.message,
        }
        if self.code:
            err["doc_url"] = f"{DOCS}#{self.code.replace('_', '-')}"
        if self.decline_code:
            err["decline_code"] = self.decline_code
        if request_id:
            err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        err.update(self.extra)
        return {"error": err}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


def unknown_param(param: str) -> StripeError:
    return StripeError(
        400, f"Received unknown parameter: {param}", param=param, code="parameter_unknown"
    )


def no_such(kind: str, obj_id: str, param: str | None = "id") -> StripeError:
    """404 for the resource in the URL (param ``id``); 400 for ids passed as parameters."""
    status = 404 if param in (None, "id") else 400
    return StripeError(status, f"No such {kind}: '{obj_id}'", param=param, code="resource_missing")


def card_error(
    message: str, code: str, decline_code: str | None = None, param: str | None = None
) -> StripeError:
    return StripeError(
        402, message, type="card_error", code=code, decline_code=decline_code, param=param
    )
