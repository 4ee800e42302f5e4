"""`billing_project.core.timestamps`: `timestamptz` values read by psycopg's C loader are the values,
and the time zone objects, Django's own loader gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

VALUES = [
    "2024-02-29 23:59:59.123456+00",
    "2024-02-29 23:59:59.123456+05:30",
    "2023-03-26 01:30:00-07",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    None,
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loader")
def test_the_c_loader_gives_what_djangos_gives():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from billing_project.core.timestamps import CTimestamptzLoader, _psycopg

    if _psycopg is None:
        pytest.skip("psycopg without its C module")
    with connection.cursor() as cursor:
        loader = connection.connection.adapters.get_loader(connection.connection.adapters.types["timestamptz"].oid, 0)
        assert issubclass(loader, CTimestamptzLoader) and loader.timezone is dt.UTC
        sql = "SELECT " + ", ".join("%s::timestamptz" for _ in VALUES)
        cursor.execute(sql, VALUES)
        fast = cursor.fetchone()

        class Django(BaseTzLoader):
            timezone = dt.UTC

        cursor.cursor.adapters.register_loader("timestamptz", Django)
        cursor.execute(sql, VALUES)
        slow = cursor.fetchone()
    assert fast == slow
    assert [v.tzinfo if v else None for v in fast] == [v.tzinfo if v else None for v in slow]
    assert fast[0] == dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC) and fast[0].tzinfo is dt.UTC
    assert fast[1] == dt.datetime(2024, 2, 29, 18, 29, 59, 123456, tzinfo=dt.UTC)
