"""SQL text built safely: values go in as bound parameters wherever DuckDB takes them; where it does
not (view definitions, ``SET``), as string literals quoted here, so a path holding ``'`` is data, not SQL."""


def sql_string(value: object) -> str:
    """``value`` as a SQL string literal (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"
