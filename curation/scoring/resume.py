"""Scoring resumes by shard file: pass 1's output for each input file (its kept rows with their scores, its
drops, and what it added to the tally) is committed as one part (``curation/parts.py``) as soon as the file is
done. A re-run, or a run resumed after a kill, scores only the files no part settles, then builds pass 2 (the
category's perplexity terciles, the loss buckets) from every part in file order, so its output is the output of
one uninterrupted run and no document is written twice.

Files are keyed by content (sha256): a re-dedup that rewrites identical files keeps their parts, and a new shard
is the only file scored (incremental scoring). The parts' folder is named by everything else pass 1 depends on:
the scoring config, the rule sets the detected profile selects, the expected languages, the models (path, size,
mtime) and the input schema; a change starts a new folder and the old ones are removed after the next assembly.
"""

import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import DROP_SCHEMA
from curation.hashing import file_sha256, short_digest
from curation.parts import PartStore, schema_digest


def file_key(path: Path) -> str:
    return file_sha256(path)[:32]


def models_identity(files, has_models: bool) -> str | None:
    """The trained models pass 1 ran, as a string for the version; None when they cannot be named (handles built
    by hand): then no part may outlive the run."""
    if not has_models:
        return "none"
    if files is None:
        return None
    names = []
    for label in ("kenlm", "dclm", "edu"):
        path = getattr(files, label)
        if path is not None:
            stat = Path(path).stat()
            names.append(f"{label}={Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    embedder = files.embedder
    # the vector cache's folder changes no vector: leave it out of the name
    names.append(f"embedder={getattr(embedder, 'model', None) or getattr(embedder, '__qualname__', embedder)!s}")
    return ";".join(names)


def parts_version(config_version: str, rules_key: str, expected, models: str, input_schema: pa.Schema) -> str:
    """What pass 1 depends on: the config, the rule sets the detected profile chose and the languages expected
    (not the profile's sample figures, which move with every new shard), the models and the input schema."""
    identity = json.dumps({"config": config_version, "rules": rules_key, "expected": list(expected),
                           "models": models}, sort_keys=True)
    return f"{short_digest(identity, 6)}-{schema_digest(input_schema)}"


class FilePart:
    """One input file's pass-1 output, streamed to its part's files (memory: one batch), then committed."""

    def __init__(self, store: PartStore, key: str):
        self.store, self.key = store, key
        self.name = store.reserve()
        self.rows = 0
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._tmp: dict[str, str] = {}

    def _writer(self, kind: str, schema: pa.Schema) -> pq.ParquetWriter:
        if kind not in self._writers:
            path = self.store.path(self.name, kind)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            self._tmp[kind] = tmp
            self._writers[kind] = pq.ParquetWriter(tmp, schema, compression="zstd")
        return self._writers[kind]

    def write_rows(self, table: pa.Table) -> None:
        self._writer("rows", table.schema).write_table(table)
        self.rows += table.num_rows

    def write_drops(self, table: pa.Table) -> None:
        self._writer("drops", DROP_SCHEMA).write_table(table)

    def commit(self, counts: dict) -> None:
        """The files in place, then the marker: a kill before it leaves the file unsettled, to be scored again."""
        self._writer("drops", DROP_SCHEMA)  # a file without drops still has a (0-row) drops file
        for kind, writer in self._writers.items():
            writer.close()
            os.chmod(self._tmp[kind], 0o644)
            os.replace(self._tmp[kind], self.store.path(self.name, kind))
        self.store.commit(self.name, {self.key: {"rows": self.rows}}, counts)
