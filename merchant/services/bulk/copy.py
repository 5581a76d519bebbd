"""Bulk inserts through PostgreSQL's COPY.

Django 5.2's bulk_create sends each column as an array, and psycopg escapes array text in Python, one
regex call per quote: for JSON columns and long text that dominates a 100,000-row import. COPY streams
rows to the server with psycopg's C encoders instead (about 5x faster here; bench/import.py). Other
databases use bulk_create.
"""
import json

from django.db import connection, models

BATCH = 1000


def _fields(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _converter(field):
    """How a value goes into COPY: as it is for the types psycopg dumps itself (text, numbers, Decimal,
    dates, ids), as JSON text for JSON fields, else through the field's own preparation."""
    if isinstance(field, models.JSONField):
        return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
    if isinstance(field, (models.CharField, models.TextField, models.IntegerField, models.BigIntegerField,
                          models.BooleanField, models.DecimalField, models.DateField, models.ForeignKey)):
        return None  # DateTimeField is a DateField: aware datetimes pass as they are
    return lambda value: field.get_db_prep_save(value, connection)


def insert_many(model, objs: list, *, with_ids: bool = False) -> list:
    """Insert new objects; with_ids sets each object's pk (reserved from the table's sequence first).
    auto_now / auto_now_add fields must already be set by the caller. Returns objs."""
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs, batch_size=BATCH)
    table = model._meta.db_table
    fields = _fields(model)
    columns = [f.column for f in fields]
    plan = [(field.attname, _converter(field)) for field in fields]
    with connection.cursor() as cursor:
        if with_ids:
            pk = model._meta.pk.column
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [table, pk, len(objs)])
            for obj, (value,) in zip(objs, cursor.fetchall()):
                obj.pk = value
            columns.insert(0, pk)
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
            for obj in objs:
                values = obj.__dict__
                row = [values[name] if convert is None else convert(values[name]) for name, convert in plan]
                if with_ids:
                    row.insert(0, obj.pk)
                copy.write_row(row)
    for obj in objs:
        obj._state.adding = False
    return objs



def insert_rows(model, attnames: list[str], rows, *, with_ids: bool = False) -> list[int] | None:
    """Insert plain tuples of the given fields (by attname), the model's other fields at their defaults;
    with_ids returns the new rows' ids in order. No model instance is built on PostgreSQL: for a
    100,000-row import, Model.__init__ of its rows, products and audit entries cost about as much as the COPY
    itself. Elsewhere the objects are built and bulk-created."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return [] if with_ids else None
    meta = model._meta
    given = set(attnames)
    others = [f for f in _fields(model) if f.attname not in given]
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**dict(zip(attnames, row))) for row in rows], batch_size=BATCH)
        return [obj.pk for obj in objs] if with_ids else None
    fields = [next(f for f in meta.concrete_fields if f.attname == name) for name in attnames]
    converters = [_converter(f) for f in fields]
    # Defaults are the same for every row: converted once.
    defaults = [value if convert is None else convert(value)
                for value, convert in ((f.get_default(), _converter(f)) for f in others)]
    columns = [f.column for f in fields] + [f.column for f in others]
    quote = connection.ops.quote_name
    ids = None
    with connection.cursor() as cursor:
        if with_ids:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, meta.pk.column, len(rows)])
            ids = [value for (value,) in cursor.fetchall()]
            columns.insert(0, meta.pk.column)
        plain = all(convert is None for convert in converters)
        quoted = ", ".join(quote(c) for c in columns)
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({quoted}) FROM STDIN") as copy:
            write = copy.write_row
            for index, row in enumerate(rows):
                values = list(row) if plain else [v if c is None else c(v) for v, c in zip(row, converters)]
                if defaults:
                    values.extend(defaults)
                if ids is not None:
                    values.insert(0, ids[index])
                write(values)
    return ids


def update_many(model, objs, fields: list[str]) -> int:
    """Write these fields of existing objects, by primary key, in one statement per BATCH rows.

    bulk_update builds a CASE WHEN per row and field, which Django resolves and compiles in Python: for 500
    products and three fields that was three quarters of an Open API stock request (bench/api.py). On
    PostgreSQL the rows go as one array per column to UPDATE ... FROM unnest(...); elsewhere bulk_update."""
    objs = list(objs)
    if not objs:
        return 0
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(objs, fields, batch_size=BATCH)
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *columns])
    names = ", ".join(quote(f.column) for f in [pk, *columns])
    sql = (f"UPDATE {quote(meta.db_table)} AS t SET {assignments} FROM unnest({arrays}) AS v({names}) "
           f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}")
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BATCH):
            chunk = objs[start:start + BATCH]
            params = [[obj.pk for obj in chunk]]
            for field in columns:
                params.append([field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in chunk])
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated
