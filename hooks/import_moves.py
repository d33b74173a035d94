"""What each Keel release moved: the table `rewrite_imports.py` applies to a project on update.

One entry per release, `old dotted path -> new dotted path`, either

- a module: `"apps.billing.decorators": "apps.billing.access"` moves every name imported from
  it (and its submodules), or
- a name in a module: `"apps.billing.decorators.deny": "apps.billing.access.deny"` moves only
  that name; the last part may change too (`old.mod.Foo -> new.mod.Bar` imports `Bar as Foo`).

The longest matching old path wins, so a name entry overrides its module's entry. A release in
this table needs a `_migrations` entry with the same `version:` in copier.yml (a template test
checks both ways).
"""

from __future__ import annotations

MOVES: dict[str, dict[str, str]] = {
    "0.2.0": {
        # Shared billing helpers (one copy for both modes), moved before 0.1.0 was tagged.
        "apps.billing.decorators.wants_json": "apps.billing.access.wants_json",
        "apps.billing.decorators.deny": "apps.billing.access.deny",
    },
}
