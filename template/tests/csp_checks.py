"""What the Content-Security-Policy refuses in a page: inline scripts and styles without the
request's nonce, style="..." attributes, on...= handlers and javascript: URLs."""

from __future__ import annotations

from html.parser import HTMLParser

#: <script type="..."> values browsers never run (data blocks such as json_script's).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template"}


class _InlineCode(HTMLParser):
    def __init__(self, nonce: str | None) -> None:
        super().__init__()
        self.nonce = nonce
        self.found: list[str] = []
        self._open: str | None = None  # an inline <script>/<style> being read, without nonce

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in attrs)}>"[:120]
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style attribute: {where}")
            elif name.startswith("on"):
                self.found.append(f"event handler attribute: {where}")
            elif name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL: {where}")
        has_nonce = self.nonce is not None and values.get("nonce") == self.nonce
        if tag == "script" and not values.get("src") and not has_nonce:
            if (values.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
                self._open = f"inline script: {where}"
        elif tag == "style" and not has_nonce:
            self._open = f"inline style: {where}"

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.found.append(self._open)
            self._open = None

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._open = None


def refused_inline_code(html: str, *, nonce: str | None = None) -> list[str]:
    """Everything in `html` that a policy without 'unsafe-inline' refuses to run or apply."""
    parser = _InlineCode(nonce)
    parser.feed(html)
    parser.close()
    return parser.found
