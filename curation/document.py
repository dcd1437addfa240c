"""The one document schema every stage reads and writes, and the record of a drop.

Modelled on DataTrove's single ``Document`` type: text plus an id plus free metadata. Stages
add typed columns (scores, ``parent_id`` …) to the Arrow table; they never rename these.
"""

import re
from dataclasses import dataclass, field

import pyarrow as pa

from curation.hashing import short_digest

# Letters, digits, '_', '.', '-', not starting with '.': a dot-folder is hidden from `ls`, from
# the UI's partition list and from every glob that skips hidden files, so it would act (enter
# the dedup index, remove copies elsewhere) without showing up. One rule, refused everywhere.
CATEGORY_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
CATEGORY_RULE = "[A-Za-z0-9_.-]+, not starting with '.'"

# id, text, category, provenance; ``meta`` is the JSON of every other input field.
DOC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("source_shard", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("meta", pa.string()),
    ]
)

# Every stage records what it removed and why, in this one shape (see lake.drops_path).
DROP_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("detail", pa.string()),
        pa.field("param_version", pa.string()),
    ]
)


class InvalidCategoryError(ValueError):
    """A category (partition) name outside ``[A-Za-z0-9_.-]+`` or starting with a dot."""


def category_problem(name: object) -> str | None:
    """Why ``name`` is not a category (None when it is one): the reason users are shown."""
    if not isinstance(name, str) or not name:
        return "a category name must be a non-empty string"
    if name.startswith("."):
        return "a dot-folder is hidden, so it is not a category (rename it without the leading '.')"
    if not CATEGORY_PATTERN.match(name):
        return f"a category must match {CATEGORY_RULE} (letters, digits, '_', '.', '-'), e.g. 'zh_cc' or 'code-high'"
    return None


def validate_category(name: str) -> str:
    """Return ``name`` if it is a legal category name, else raise with the rule spelled out."""
    problem = category_problem(name)
    if problem is not None:
        raise InvalidCategoryError(f"invalid category name {name!r}: {problem}")
    return name


def derive_doc_id(category: str, shard: str, line: int) -> str:
    """A stable id for a record that came without one: same shard + line, same id."""
    return f"{category}-{short_digest(f'{category}/{shard}:{line}', 10)}"


@dataclass(frozen=True)
class Drop:
    """One removed document: which, by which stage, why, and (for duplicates) of what."""

    doc_id: str
    category: str
    stage: str
    reason: str
    duplicate_of: str | None = None
    similarity: float | None = None
    detail: str | None = None
    param_version: str | None = None


def drops_to_table(drops: list[Drop]) -> pa.Table:
    cols = {name: [getattr(d, name) for d in drops] for name in DROP_SCHEMA.names}
    return pa.Table.from_pydict(cols, schema=DROP_SCHEMA)


@dataclass
class SkipCounter:
    """Counts input that could not be read, by reason, keeping a bounded sample of where.

    ``counts`` holds documents lost per reason (a bad line is one document; a corrupt parquet
    row group is its rows). Where documents cannot be counted (a damaged stretch of a
    compressed stream, a file whose footer is unreadable) the loss is in ``lost_bytes`` (bytes of
    the input file); ``unbounded`` lists files whose loss cannot be measured at all (a stream cut
    short: what followed the cut is not in the file).
    """

    max_examples: int = 50
    counts: dict[str, int] = field(default_factory=dict)
    lost_bytes: dict[str, int] = field(default_factory=dict)
    unbounded: list[dict] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)

    def add(self, reason: str, file: str, line: int | None, detail: str = "", docs: int = 1, lost_bytes: int = 0,
            unbounded: bool = False) -> None:
        if docs:
            self.counts[reason] = self.counts.get(reason, 0) + docs
        if lost_bytes:
            self.lost_bytes[reason] = self.lost_bytes.get(reason, 0) + lost_bytes
        event = {"reason": reason, "file": file, "line": line, "detail": detail, "docs": docs, "bytes": lost_bytes}
        if unbounded:
            self.unbounded.append(event)
        if len(self.examples) < self.max_examples or docs != 1 or lost_bytes or unbounded:
            self.examples.append(event)  # file-level losses are always kept: there are few and they matter most

    @property
    def total(self) -> int:
        """Documents lost."""
        return sum(self.counts.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.lost_bytes.values())
