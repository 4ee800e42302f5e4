"""PostgreSQL connections bind parameters on the server and prepare frequent statements
(DATABASE_SERVER_SIDE_BINDING, DATABASE_PREPARE_THRESHOLD; docs/operations.md)."""

from __future__ import annotations

import pytest
from django.db import connection

from billing_project.settings import database_from_url

URL = "postgres://u:p@db.example:5432/bxb?sslmode=require"


def test_on_by_default_with_a_threshold_of_five(monkeypatch):
    monkeypatch.delenv("DATABASE_SERVER_SIDE_BINDING", raising=False)
    monkeypatch.delenv("DATABASE_PREPARE_THRESHOLD", raising=False)
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_MS", "0")
    options = database_from_url(URL)["OPTIONS"]
    assert options == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5}


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("12", 12), ("none", None), ("off", None)])
def test_threshold_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", value)
    assert database_from_url(URL)["OPTIONS"]["prepare_threshold"] == expected


def test_off_restores_djangos_client_side_binding(monkeypatch):
    monkeypatch.setenv("DATABASE_SERVER_SIDE_BINDING", "0")
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_MS", "0")
    assert database_from_url(URL)["OPTIONS"] == {"sslmode": "require"}
    assert "OPTIONS" not in database_from_url("sqlite:///x.sqlite3")


def test_statement_timeout_is_a_startup_option_unless_zero(monkeypatch):
    monkeypatch.delenv("DATABASE_STATEMENT_TIMEOUT_MS", raising=False)
    assert database_from_url(URL)["OPTIONS"]["options"] == "-c statement_timeout=300000"
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_MS", "1500")
    assert database_from_url(URL + "&options=-c%20search_path%3Dbxb")["OPTIONS"]["options"] == (
        "-c search_path=bxb -c statement_timeout=1500"
    )
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_MS", "0")
    assert "options" not in database_from_url(URL)["OPTIONS"]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg server-side binding")
def test_the_connection_prepares_a_statement_after_the_threshold():
    options = connection.settings_dict["OPTIONS"]
    if not options.get("server_side_binding"):
        pytest.skip("DATABASE_SERVER_SIDE_BINDING is off in this run")
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = connection.connection
    assert raw.cursor_factory is ServerBindingCursor
    assert raw.prepare_threshold == options["prepare_threshold"]

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE %s", ["_pg3_%"])
            return cursor.fetchone()[0]

    query = "SELECT %s::int + 1 AS answer_of_the_binding_test"
    before = prepared()
    with connection.cursor() as cursor:
        for n in range((raw.prepare_threshold or 0) + 2):
            cursor.execute(query, [n])
            assert cursor.fetchone() == (n + 1,)
    # The repeated statement is prepared once (and a plain `%` literal still works).
    assert prepared() >= before + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'a%%b' LIKE %s", ["a%"])
        assert cursor.fetchone() == (True,)
