"""`(a, b) IN ((x, y), ...)` written so that SQLite searches its index.

SQLite plans a row-value IN list as a scan of the whole index (seen with EXPLAIN QUERY PLAN:
"SCAN messages USING COVERING INDEX"), so every send batch read every message to find retries.
The same condition as `a = x AND b IN (...)` per distinct `x`, joined by OR, is a search per term
on both databases ("MULTI-INDEX OR" on SQLite, a bitmap OR on PostgreSQL).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import QueryableAttribute


def pair_in(
    first: QueryableAttribute[Any],
    second: QueryableAttribute[Any],
    pairs: Iterable[tuple[Any, Any]],
) -> ColumnElement[bool]:
    grouped: dict[Any, set[Any]] = defaultdict(set)
    for a, b in pairs:
        grouped[a].add(b)
    if not grouped:
        return false()
    return or_(*(and_(first == a, second.in_(sorted(bs))) for a, bs in grouped.items()))
