"""Resumable per-batch outputs: what a long stage finished survives a killed run.

Each batch (a synthesis step's batch of work items, a scoring shard file) a stage finishes is written at
once under ``$CORPUSFORGE_HOME/state/<stage>/parts/<category>/<version>/`` as ``part-NNNNNN.rows.parquet``
(its rows; a synthesis part adds an ``_item`` column naming the work item each came from),
``.drops.parquet`` and last, as the commit marker, ``.json`` (every item the batch settled, with its
outcome, and the batch's counters). A re-run skips every item a marker names, so it never redoes a
finished item, and a kill loses at most the batch in flight (a synthesis batch's finished generations are
in the generation cache anyway, ``curation/rewrite/cache.py``). The partition's output is assembled from
the parts at the end of a run and swapped in atomically by the caller's writers.

``version`` is the stage's config (+ template, models) hash and the output schema's: a changed prompt,
bound or model starts a new folder (old folders are removed after the next successful assembly). Parts are
written only under the partition lock the stage's writers hold (``curation/lake.stage_writers``).
"""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.document import validate_category
from curation.hashing import short_digest
from curation.lake import Lake, write_parquet_atomic

ITEM_COLUMN = "_item"


def parts_root(lake: Lake, stage: str, category: str) -> Path:
    return lake.state_dir(stage, "parts", validate_category(category))


def schema_digest(schema: pa.Schema) -> str:
    return short_digest(str(schema), 4)


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Part:
    name: str
    items: dict[str, dict]  # item key -> outcome record
    counters: dict


class PartStore:
    def __init__(self, root: Path, version: str):
        self.root = Path(root)
        self.version = version
        self.dir = self.root / version
        self.dir.mkdir(parents=True, exist_ok=True)
        self._next = max((int(m.stem.removeprefix("part-")) for m in self.dir.glob("part-*.json")), default=-1) + 1

    def parts(self) -> list[Part]:
        """Committed parts, in the order they were written."""
        out = []
        for marker in sorted(self.dir.glob("part-*.json")):
            data = json.loads(marker.read_text(encoding="utf-8"))
            out.append(Part(marker.stem, data["items"], data["counters"]))
        return out

    def done(self) -> set[str]:
        return {key for part in self.parts() for key in part.items}

    def write(self, rows: pa.Table, drops: pa.Table, items: dict[str, dict], counters: dict) -> str:
        """Commit one batch: its rows and drops, then the marker naming the items it settled."""
        name = self.reserve()
        write_parquet_atomic(self.path(name, "rows"), rows)
        write_parquet_atomic(self.path(name, "drops"), drops)
        self.commit(name, items, counters)
        return name

    def reserve(self) -> str:
        """The name of the next part. After the highest committed one, not their count (``forget`` leaves
        gaps); a part cut short by a kill had no marker yet, so its files are overwritten."""
        name = f"part-{self._next:06d}"
        self._next += 1
        return name

    def path(self, name: str, kind: str) -> Path:
        """Where part ``name`` keeps its ``rows`` or ``drops``."""
        return self.dir / f"{name}.{kind}.parquet"

    def commit(self, name: str, items: dict[str, dict], counters: dict) -> None:
        """The marker, written last: from now on part ``name`` settles ``items``."""
        _write_json_atomic(self.dir / f"{name}.json", {"items": items, "counters": counters})

    def by_item(self) -> dict[str, Part]:
        """The committed part that settled each item."""
        return {key: part for part in self.parts() for key in part.items}

    def forget(self, keep: set[str]) -> int:
        """Remove the committed parts that settled none of the items in ``keep`` (inputs that are gone)."""
        gone = [part for part in self.parts() if not keep.intersection(part.items)]
        for part in gone:
            for suffix in (".json", ".rows.parquet", ".drops.parquet"):  # the marker first: never a half part
                (self.dir / f"{part.name}{suffix}").unlink(missing_ok=True)
        return len(gone)

    def _read(self, name: str, kind: str, keep: set[str] | None) -> pa.Table:
        table = pq.read_table(self.path(name, kind))
        if keep is not None and ITEM_COLUMN in table.column_names:
            table = table.filter(pc.is_in(table.column(ITEM_COLUMN), pa.array(sorted(keep), pa.string())))
        return table

    def tables(self, keep: set[str]) -> Iterator[tuple[pa.Table, pa.Table]]:
        """(rows, drops) of every committed part, restricted to the items in ``keep`` (the current input)."""
        for part in self.parts():
            if not keep.intersection(part.items):
                continue
            filtered = None if keep.issuperset(part.items) else keep
            yield self._read(part.name, "rows", filtered), self._read(part.name, "drops", filtered)

    def prune(self) -> list[str]:
        """Remove the parts of other versions (after this version's output was assembled)."""
        removed = []
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name != self.version:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
        return removed
