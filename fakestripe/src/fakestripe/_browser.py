"""Hosted pages driven like a browser: ``FakeStripe.page()`` and ``submit_checkout()``."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit


class PageResult:
    """Response of a hosted page: status, ``Location`` header (redirects) and HTML text."""

    __slots__ = ("status", "location", "text")

    def __init__(self, status: int, location: str | None, text: str) -> None:
        self.status = status
        self.location = location
        self.text = text

    def __repr__(self) -> str:
        return f"PageResult(status={self.status}, location={self.location!r})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


class HostedPages:
    """``FakeStripe``'s methods for its hosted pages (Checkout, portal, invoices)."""

    url: str

    def page(self, url: str, form: Mapping[str, str] | None = None) -> PageResult:
        """GET (or POST ``form`` to) a hosted page over HTTP without following redirects."""
        if url.startswith("/"):
            url = self.url + url
        data = urlencode(dict(form)).encode() if form is not None else None
        request = urllib.request.Request(
            url, data=data, method="POST" if form is not None else "GET"
        )
        try:
            with _NO_REDIRECT.open(request, timeout=30) as resp:
                return PageResult(
                    resp.status,
                    resp.headers.get("Location"),
                    resp.read().decode("utf-8", "replace"),
                )
        except urllib.error.HTTPError as err:
            body = err.read().decode("utf-8", "replace")
            return PageResult(err.code, err.headers.get("Location"), body)

    def submit_checkout(
        self,
        session: str,
        card: str | None = "4242 4242 4242 4242",
        *,
        email: str | None = None,
        name: str = "Jenny Rosen",
        expiry: str = "12 / 34",
        cvc: str = "123",
        postal_code: str = "94103",
        three_d_secure: str = "complete",
        promotion_code: str | None = None,
    ) -> PageResult:
        """Fill in and submit the hosted Checkout page for ``session`` (id or url).

        Completes a 3D Secure challenge with ``three_d_secure`` ("complete" or "fail") when
        the card asks for one. Returns the final page response: a 303 whose ``location`` is
        the success URL, or a 422 page showing the error. ``promotion_code`` is typed in the
        page's promotion code box (sessions with ``allow_promotion_codes``).
        """
        path = session if "/" in session else f"/c/pay/{session}"
        form = {"billing_name": name, "postal_code": postal_code}
        if email is not None:
            form["email"] = email
        if promotion_code is not None:
            form["promotion_code"] = promotion_code
        if card is not None:
            form.update(card_number=card, card_expiry=expiry, card_cvc=cvc)
        result = self.page(path, form)
        if result.status == 200 and "name=decision" in result.text:
            result = self.page(
                f"{urlsplit(self.page_url(path)).path}/3ds", {"decision": three_d_secure}
            )
        return result

    def page_url(self, path: str) -> str:
        return path if path.startswith("http") else self.url + path
