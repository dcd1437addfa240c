"""The one document schema every stage reads and writes, and the record of a drop.

Modelled on DataTrove's single ``Document`` type: text plus an id plus free metadata. Stages
add typed columns (scores, ``parent_id`` …) to the Arrow table; they never rename these.
"""

import hashlib
import re
from dataclasses import dataclass, field

import pyarrow as pa

CATEGORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")

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
    """A category (partition) name outside ``[A-Za-z0-9_.-]+``."""


def validate_category(name: str) -> str:
    """Return ``name`` if it is a legal category name, else raise with the rule spelled out."""
    if not isinstance(name, str) or not CATEGORY_PATTERN.match(name) or name in {".", ".."}:
        raise InvalidCategoryError(
            f"invalid category name {name!r}: a category must match [A-Za-z0-9_.-]+ "
            "(letters, digits, '_', '.', '-'), e.g. 'zh_cc' or 'code-high'"
        )
    return name


def derive_doc_id(category: str, shard: str, line: int) -> str:
    """A stable id for a record that came without one: same shard + line, same id."""
    digest = hashlib.blake2b(f"{category}/{shard}:{line}".encode(), digest_size=10).hexdigest()
    return f"{category}-{digest}"


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
    """Counts input that could not be read, by reason, keeping a bounded sample of where."""

    max_examples: int = 50
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)

    def add(self, reason: str, file: str, line: int | None, detail: str = "") -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if len(self.examples) < self.max_examples:
            self.examples.append({"reason": reason, "file": file, "line": line, "detail": detail})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

