"""Spreadsheet formula injection (CSV injection) defence for every exported cell."""

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix text that a spreadsheet would treat as a formula with an apostrophe; other values pass through."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def restore_neutralised(value):
    """The text neutralise was given, for a cell of a file we wrote coming back (a corrected checked workbook, an
    export edited and imported): "'=x" reads as "=x". Other values pass through."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(DANGEROUS_PREFIXES):
        return value[1:]
    return value
