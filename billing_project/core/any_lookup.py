"""`field__any=values`: the rows whose field is one of `values`, as `field__in=values`, for long lists.

On PostgreSQL it is `field = ANY(%s::<type>[])` with the values as **one** array parameter. `__in`
makes one placeholder per value: Django prepares each value through the field and psycopg parses
the SQL text placeholder by placeholder, and a statement longer than psycopg's cache limit is
parsed again on every execution. Measured (bench/billing_run.py, 2026-12-07): 3-4 ms of Python per
500-id query, ten such queries per billing batch (the batch's customers, subscriptions, billed
periods, credits, taxes, counters). The values are passed as they are (UUIDs, strings of UUIDs,
ints: one type, or they are all sent as text and cast); an empty list matches nothing. On another
database it is `__in`. Registered on every field and foreign key (`CoreConfig.ready`); for a
foreign key the values are ids, not rows.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import models
from django.db.models.lookups import In, Lookup

# Values whose text needs no quoting in an array literal, and the text that needs none.
_LITERAL = (uuid.UUID, int)
_UNQUOTED = re.compile(r"[0-9A-Za-z_.,-]*")


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        values = list(self.rhs)
        if len({type(value) for value in values}) > 1:  # one array of one type
            values = [str(value) for value in values]
        return values

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        db_type = self.lhs.output_field.cast_db_type(connection)
        values = self.rhs
        if values and (type(values[0]) in _LITERAL or type(values[0]) is str):  # one type (get_prep_lookup)
            # as the array's text ('{…}') when no element needs quoting: psycopg's list dumper is
            # Python per element
            text = ",".join(map(str, values))
            if _UNQUOTED.fullmatch(text) and "" not in values:
                values = "{" + text + "}"
        return f"{lhs} = ANY(%s::{db_type}[])", (*lhs_params, values)


def register() -> None:
    models.Field.register_lookup(AnyOf)
    models.ForeignObject.register_lookup(AnyOf)  # a foreign key's lookups are its own: ids, not rows
