from __future__ import annotations

# In-memory object storage: O(1) lookup by id, ordered indexes for list filters.
import secrets
import string
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from ._errors import invalid

_ALNUM = string.ascii_letters + string.digits

Obj = dict[str, Any]
IndexFn = Callable[[Obj], Iterable[Hashable]]


def rand_str(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_id(prefix: str, n: int = 24) -> str:
    return f"{prefix}_{rand_str(n)}"


class Collection:
    """All objects of one type, in creation order, with optional secondary indexes.

    Every id list (``all`` and the index buckets) is kept sorted by creation sequence and
    searched with ``bisect`` keyed on ``seq_of``. Plain lists of strings and tuples of index
    values keep the number of containers the cyclic GC must scan per object small, so
    request latency stays flat as the store grows.
    """

    def __init__(self, name: str, indexes: dict[str, IndexFn] | None = None) -> None:
        self.name = name
        self.by_id: dict[str, Obj] = {}
        self.seq_of: dict[str, int] = {}
        self.all: list[str] = []
        self.index_fns: dict[str, IndexFn] = indexes or {}
        self.indexes: dict[str, dict[Hashable, list[str]]] = {k: {} for k in self.index_fns}
        self._values: dict[str, dict[str, tuple[Hashable, ...]]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, oid: str) -> Obj | None:
        return self.by_id.get(oid)

    def _insert(self, ids: list[str], oid: str, seq: int) -> None:
        if not ids or self.seq_of[ids[-1]] < seq:
            ids.append(oid)
        else:
            insort(ids, oid, key=self.seq_of.__getitem__)

    def _delete(self, ids: list[str], seq: int) -> None:
        i = bisect_left(ids, seq, key=self.seq_of.__getitem__)
        if i < len(ids) and self.seq_of[ids[i]] == seq:
            del ids[i]

    def add(self, obj: Obj, seq: int) -> None:
        oid = obj["id"]
        self.by_id[oid] = obj
        self.seq_of[oid] = seq
        self._insert(self.all, oid, seq)
        self._values[oid] = {}
        self.reindex(obj)

    def reindex(self, obj: Obj) -> None:
        """Refresh secondary indexes after ``obj`` was mutated."""
        oid = obj["id"]
        seq = self.seq_of[oid]
        current = self._values[oid]
        for field, fn in self.index_fns.items():
            new = tuple(dict.fromkeys(v for v in fn(obj) if v is not None))
            old = current.get(field, ())
            if new == old:
                continue
            idx = self.indexes[field]
            for v in old:
                if v not in new:
                    self._drop(idx, v, seq)
            for v in new:
                if v not in old:
                    self._insert(idx.setdefault(v, []), oid, seq)
            current[field] = new

    def _drop(self, idx: dict[Hashable, list[str]], value: Hashable, seq: int) -> None:
        bucket = idx.get(value)
        if bucket is not None:
            self._delete(bucket, seq)
            if not bucket:
                del idx[value]

    def remove(self, oid: str) -> None:
        obj = self.by_id.pop(oid, None)
        if obj is None:
            return
        seq = self.seq_of[oid]
        self._delete(self.all, seq)
        for field, values in self._values.pop(oid).items():
            for v in values:
                self._drop(self.indexes[field], v, seq)
        del self.seq_of[oid]

    def candidates(self, field: str, value: Hashable) -> list[str]:
        """Ids whose ``field`` index contains ``value``, oldest first (do not mutate)."""
        return self.indexes[field].get(value) or []

    def page(
        self,
        cand: list[str] | None,
        pred: Callable[[Obj], bool] | None,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        kind: str,
    ) -> tuple[list[Obj], bool]:
        """Return one page newest-first, plus ``has_more``."""
        ids = cand if cand is not None else self.all
        key = self.seq_of.__getitem__
        out: list[Obj] = []
        if ending_before:
            seq = self.seq_of.get(ending_before)
            if seq is None:
                raise invalid(
                    f"No such {kind}: '{ending_before}'", "ending_before", "resource_missing"
                )
            i = bisect_right(ids, seq, key=key)
            while i < len(ids):
                obj = self.by_id[ids[i]]
                i += 1
                if pred is None or pred(obj):
                    if len(out) == limit:
                        out.reverse()
                        return out, True
                    out.append(obj)
            out.reverse()
            return out, False
        if starting_after:
            seq = self.seq_of.get(starting_after)
            if seq is None:
                raise invalid(
                    f"No such {kind}: '{starting_after}'", "starting_after", "resource_missing"
                )
            i = bisect_left(ids, seq, key=key) - 1
        else:
            i = len(ids) - 1
        while i >= 0:
            obj = self.by_id[ids[i]]
            i -= 1
            if pred is None or pred(obj):
                if len(out) == limit:
                    return out, True
                out.append(obj)
        return out, False


def stripe_object(
    obj_id: str,
    kind: str,
    fields: dict[str, Any],
    nulls: str = "",
    empty_lists: str = "",
    private: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe object as the API sends it: ``id`` and ``object`` first, then its fields in
    alphabetical order. ``nulls`` and ``empty_lists`` name (space-separated) the fields that are
    ``null`` or ``[]``; private bookkeeping keys (``_...``) come last."""
    values = dict.fromkeys(nulls.split()) | dict.fromkeys(empty_lists.split(), ()) | fields
    return {"id": obj_id, "object": kind, **dict(sorted(values.items())), **(private or {})}
