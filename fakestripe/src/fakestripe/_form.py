from __future__ import annotations

# Decoder for Stripe's form encoding (``items[0][price]=x``, ``expand[]=y``).
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

# Keys whose children are free-form maps and must never be turned into lists.
_MAP_KEYS = frozenset({"metadata", "payload"})


def split_key(key: str) -> list[str]:
    """``a[b][0][]`` -> ``["a", "b", "0", ""]``. Malformed keys are kept literal."""
    start = key.find("[")
    if start <= 0 or not key.endswith("]"):
        return [key]
    parts = [key[:start]]
    rest = key[start:]
    while rest:
        if not rest.startswith("["):
            return [key]
        end = rest.find("]")
        if end < 0:
            return [key]
        parts.append(rest[1:end])
        rest = rest[end + 1 :]
    return parts


def _insert(root: dict[str, Any], path: list[str], value: str) -> None:
    node: dict[str, Any] = root
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if seg == "":
            # Rails-style append: "items[][price]=a&items[][quantity]=1".
            n = len(node)
            if last:
                seg = str(n)
            else:
                prev = node.get(str(n - 1))
                nxt = path[i + 1]
                if isinstance(prev, dict) and nxt != "" and nxt not in prev:
                    seg = str(n - 1)
                else:
                    seg = str(n)
        if last:
            node[seg] = value
            return
        child = node.get(seg)
        if not isinstance(child, dict):
            child = {}
            node[seg] = child
        node = child


def _finalize(value: Any, key: str | None) -> Any:
    if not isinstance(value, dict):
        return value
    out = {k: _finalize(v, k) for k, v in value.items()}
    if key not in _MAP_KEYS and out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, split_key(key), value)
    result = _finalize(root, None)
    assert isinstance(result, dict)
    return result


def decode(query: str) -> dict[str, Any]:
    """Decode an urlencoded body or query string into nested dicts and lists."""
    if not query:
        return {}
    return decode_pairs(parse_qsl(query, keep_blank_values=True))
