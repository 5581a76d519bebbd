"""`field__any=[...]`: membership in a list, sent to PostgreSQL as one array parameter.

`__in` with thousands of values (the bulk import plans 2,000 rows at a time) makes thousands of
placeholders, and converting such a query costs more client time than running it. `= ANY(%s)` is one
parameter. Other databases get the usual IN list.
"""
from django.db.models import Field, ForeignKey, Lookup


@Field.register_lookup
class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


# Related fields keep their own lookup table; ids of the related rows are plain values here.
ForeignKey.register_lookup(AnyOf)
