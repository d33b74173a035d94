"""PostgreSQL for the test suite: Django's backend with a cheaper flush (config/settings/test.py).

After each transactional test (`django_db(transaction=True)`) Django empties every table with
one TRUNCATE of all of them. PostgreSQL gives each truncated table new files, which took about
3 s for the ~90 tables of an advanced project, empty or not: most of what those tests cost. A
DELETE per table in one transaction empties them in milliseconds; Django's foreign keys are
checked at the commit, when every table is empty. Sequences are left as they are, as Django's
own flush after a transactional test leaves them (`reset_sequences=False`).
"""

from __future__ import annotations

from django.core.management.color import Style
from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self,
        style: Style,
        tables: list[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        delete = f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')}"
        return [f"{delete} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
