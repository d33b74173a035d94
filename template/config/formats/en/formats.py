"""English date formats of every page, email and the admin: "December 3, 2026".

Django's own English formats abbreviate months ("Dec. 3, 2026") and its `date` filter, the
admin and the billing pages would otherwise each write a date their own way.
"""

from __future__ import annotations

DATE_FORMAT = "F j, Y"
DATETIME_FORMAT = "F j, Y, H:i"
SHORT_DATE_FORMAT = "F j, Y"
SHORT_DATETIME_FORMAT = "F j, Y, H:i"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
