"""In-memory object storage: O(1) lookup by id, ordered indexes for list filters."""

from __future__ import annotations

import secrets
import string
from bisect import bisect_left, bisect_right
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


class SortedIds:
    """Object ids kept sorted by creation sequence number."""

    __slots__ = ("seqs", "ids")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, seq: int, oid: str) -> None:
        if not self.seqs or seq > self.seqs[-1]:
            self.seqs.append(seq)
            self.ids.append(oid)
            return
        i = bisect_left(self.seqs, seq)
        self.seqs.insert(i, seq)
        self.ids.insert(i, oid)

    def remove(self, seq: int) -> None:
        i = bisect_left(self.seqs, seq)
        if i < len(self.seqs) and self.seqs[i] == seq:
            del self.seqs[i]
            del self.ids[i]


class Collection:
    """All objects of one type, newest last, with optional secondary indexes."""

    def __init__(self, name: str, indexes: dict[str, IndexFn] | None = None) -> None:
        self.name = name
        self.by_id: dict[str, Obj] = {}
        self.seq_of: dict[str, int] = {}
        self.all = SortedIds()
        self.index_fns: dict[str, IndexFn] = indexes or {}
        self.indexes: dict[str, dict[Hashable, SortedIds]] = {k: {} for k in self.index_fns}
        self._values: dict[str, dict[str, frozenset[Hashable]]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, oid: str) -> Obj | None:
        return self.by_id.get(oid)

    def add(self, obj: Obj, seq: int) -> None:
        oid = obj["id"]
        self.by_id[oid] = obj
        self.seq_of[oid] = seq
        self.all.add(seq, oid)
        self._values[oid] = {}
        self.reindex(obj)

    def reindex(self, obj: Obj) -> None:
        """Refresh secondary indexes after ``obj`` was mutated."""
        oid = obj["id"]
        seq = self.seq_of[oid]
        current = self._values[oid]
        for field, fn in self.index_fns.items():
            new = frozenset(v for v in fn(obj) if v is not None)
            old = current.get(field, frozenset())
            if new == old:
                continue
            idx = self.indexes[field]
            for v in old - new:
                bucket = idx.get(v)
                if bucket is not None:
                    bucket.remove(seq)
                    if not bucket:
                        del idx[v]
            for v in new - old:
                idx.setdefault(v, SortedIds()).add(seq, oid)
            current[field] = new

    def remove(self, oid: str) -> None:
        obj = self.by_id.pop(oid, None)
        if obj is None:
            return
        seq = self.seq_of.pop(oid)
        self.all.remove(seq)
        for field, values in self._values.pop(oid).items():
            idx = self.indexes[field]
            for v in values:
                bucket = idx.get(v)
                if bucket is not None:
                    bucket.remove(seq)
                    if not bucket:
                        del idx[v]

    def candidates(self, field: str, value: Hashable) -> SortedIds:
        return self.indexes[field].get(value) or SortedIds()

    def page(
        self,
        cand: SortedIds | None,
        pred: Callable[[Obj], bool] | None,
        limit: int,
        starting_after: str | None,
        ending_before: str | None,
        kind: str,
    ) -> tuple[list[Obj], bool]:
        """Return one page newest-first, plus ``has_more``."""
        src = cand if cand is not None else self.all
        seqs, ids = src.seqs, src.ids
        out: list[Obj] = []
        if ending_before:
            seq = self.seq_of.get(ending_before)
            if seq is None:
                raise invalid(
                    f"No such {kind}: '{ending_before}'", "ending_before", "resource_missing"
                )
            i = bisect_right(seqs, seq)
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
            i = bisect_left(seqs, seq) - 1
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
