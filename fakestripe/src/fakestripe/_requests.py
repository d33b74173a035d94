"""Answers one HTTP request: hosted pages, or the REST API (auth, idempotency, routing,
``expand[]``, errors in Stripe's shape)."""

from __future__ import annotations

import base64
import json
import re
import sys
import traceback
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

# The route modules register their routes in ``_routing.ROUTES`` when imported.
from . import (  # noqa: F401
    _routes_billing,
    _routes_catalog,
    _routes_customers,
    _routes_discounts,
    _routes_schedules,
    _routes_webhooks,
)
from ._engine import API_VERSION, RequestContext, State
from ._errors import StripeError
from ._form import decode
from ._html import Page, layout, not_found
from ._http import IdempotencyStore, Response
from ._pages import PAGE_ROUTES
from ._params import expand_param
from ._routing import Controls, Ctx, match
from ._store import rand_str

API_KEY = re.compile(r"^sk_test_[A-Za-z0-9]{24,}$")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_STORED_STATUSES = frozenset({200, 402, 500})


class Requests:
    """Turns requests into responses for one fake; ``responses`` records API answers if set."""

    def __init__(
        self,
        state: State,
        controls: Controls,
        responses: list[tuple[str, str, int, bytes]] | None,
    ) -> None:
        self.state = state
        self.controls = controls
        self.responses = responses
        self.idempotency = IdempotencyStore()

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith(("/v1/", "/_fake/")):
            return self._handle_api(method, path, parts.query, headers, body)
        return self._handle_page(method, path, body)

    def _handle_page(self, method: str, path: str, body: bytes) -> Response:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        page: Page | None = None
        for m, rx, fn in PAGE_ROUTES:
            if m != method:
                continue
            found = rx.match(path)
            if found:
                with self.state.lock:
                    self.state.process_due(self.state.now())
                    try:
                        page = fn(self.state, form, *found.groups())
                    except Exception:
                        traceback.print_exc(file=sys.stderr)
                        page = layout("Error", "<p>Internal error</p>", 500)
                break
        if page is None:
            page = not_found(f"No page at {path}")
        headers = {"Content-Type": page.content_type, "Cache-Control": "no-store"}
        headers.update(page.headers)
        return Response(page.status, headers, page.body)

    def _auth(self, headers: Mapping[str, str]) -> str:
        raw = headers.get("Authorization") or ""
        key = ""
        if raw.startswith("Bearer "):
            key = raw[7:].strip()
        elif raw.startswith("Basic "):
            try:
                key = base64.b64decode(raw[6:]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        if not key:
            raise StripeError(401, _NO_KEY)
        if not API_KEY.match(key):
            masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:]
            raise StripeError(401, f"Invalid API Key provided: {masked}", code="api_key_invalid")
        return key

    def _handle_api(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        req_id = f"req_{rand_str(14)}"
        base_headers = {
            "Content-Type": "application/json",
            "Request-Id": req_id,
            "Stripe-Version": API_VERSION,
            "Access-Control-Allow-Origin": "*",
            "Cache-Control": "no-cache, no-store",
        }
        idem_key = headers.get("Idempotency-Key") if method == "POST" else None
        if idem_key:
            base_headers["Idempotency-Key"] = idem_key
        try:
            api_key = self._auth(headers)
        except StripeError as err:
            return error_response(err, base_headers, req_id)
        fingerprint = method.encode() + b" " + path.encode() + b"\n" + body
        slot: tuple[str, str] | None = None
        if idem_key:
            slot = (api_key, idem_key)
            found = self.idempotency.begin(slot, fingerprint)
            if isinstance(found, Response):
                return found
            if found == "mismatch":
                error = StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{idem_key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
                return error_response(error, base_headers, req_id)
            if found == "running":
                error = StripeError(
                    409,
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still "
                    f"going through): {idem_key}. Please try again later.",
                    type="idempotency_error",
                    code="idempotency_key_in_use",
                )
                return error_response(error, base_headers, req_id)
        resp = self._execute(method, path, query, headers, body, req_id, idem_key, base_headers)
        if self.responses is not None:
            self.responses.append((method, path, resp.status, resp.body))
        if slot is not None:
            stored = resp if resp.status in _STORED_STATUSES else None
            self.idempotency.finish(slot, fingerprint, stored, req_id)
        return resp

    def _execute(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        req_id: str,
        idem_key: str | None,
        base_headers: dict[str, str],
    ) -> Response:
        try:
            if method == "POST":
                if "json" in (headers.get("Content-Type") or ""):
                    raise StripeError(
                        400,
                        "Invalid request: the v1 API expects application/x-www-form-urlencoded "
                        "bodies.",
                    )
                params = decode(body.decode("utf-8", "replace"))
                if query:
                    params = {**decode(query), **params}
            else:
                params = decode(query)
            found_route = match(method, path)
            if found_route is None:
                raise StripeError(
                    404,
                    f"Unrecognized request URL ({method}: {path}). Please see "
                    "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                )
            route, groups = found_route
            expand = expand_param(params)
            params.pop("expand", None)
            ctx = Ctx(self.state, self.controls, params, expand)
            if route.locked:
                with self.state.lock:
                    self.state.process_due(self.state.now())
                    with RequestContext(self.state, req_id, idem_key):
                        obj = route.handler(ctx, *groups)
                        out = self.state.render(obj, expand)
                        payload = json.dumps(out, indent=2).encode()
            else:
                payload = json.dumps(route.handler(ctx, *groups), indent=2).encode()
            return Response(200, base_headers, payload)
        except StripeError as err:
            return error_response(err, base_headers, req_id)
        except Exception as exc:  # surfaced to the developer, like a Stripe 500
            traceback.print_exc(file=sys.stderr)
            internal = StripeError(500, f"fakestripe internal error: {exc!r}", type="api_error")
            return error_response(internal, base_headers, req_id)


def error_response(err: StripeError, base_headers: dict[str, str], req_id: str) -> Response:
    headers = dict(base_headers)
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Stripe"'
    return Response(err.status, headers, json.dumps(err.body(req_id), indent=2).encode())
