"""Refuse config keys nobody reads: a typo in a YAML file must fail loudly, not fall back to a default."""

from collections.abc import Iterable, Mapping


def refuse_unknown_keys(mapping: Mapping, known: Iterable[str], where: str, what: str = "keys",
                        error: type[Exception] = ValueError) -> None:
    """Raise ``error("<where>: unknown <what> [...]; known: [...]")`` if ``mapping`` has a key not in ``known``
    (no ``<where>: `` prefix when ``where`` is empty)."""
    known = set(known)
    unknown = set(mapping) - known
    if unknown:
        prefix = f"{where}: " if where else ""
        raise error(f"{prefix}unknown {what} {sorted(unknown)}; known: {sorted(known)}")
