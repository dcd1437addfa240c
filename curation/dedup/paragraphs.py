"""Paragraph-level exact deduplication across documents (seed 001: 多粒度去重, dedup at more than one
granularity; CCNet, Wenzek et al. 2020, §3.1, removes repeated paragraphs across a crawl the same way).

Document-level MinHash keeps two pages that share a navigation block, a licence header or a cookie banner
but differ elsewhere; those repeated paragraphs are what this step removes. A paragraph is a block between
blank lines (a text without blank lines: each line). It is normalised as for exact document dedup (NFKC,
lower case, whitespace collapsed), and paragraphs shorter than ``paragraph_min_chars`` normalised
characters (headings, "Returns:", a sign-off) are never touched. The first document holding a paragraph
keeps it: a document already in the global index (any category, kept earlier), else this partition's
first row in input order; every later document loses its copy. Source code is left alone (a repeated
``if __name__ == "__main__":`` block is code, not boilerplate; curation/scoring/profiles.is_code).

A document left with no paragraph is dropped (reason ``paragraph_duplicate``, duplicate of the document
that kept its first paragraph); a document that loses some paragraphs is kept with them cut out and an
edit record (reason ``paragraph_edit``, detail JSON: how many paragraphs and characters, which documents
kept them) goes to the same ledger ``corpusforge why`` reads. Hashes (8-byte blake2b, curation/hashing.py)
of every kept document's paragraphs live in the dedup index's ``paragraphs`` table, so later partitions
are compared with them; memory holds one batch of texts, the join runs in DuckDB, and the cuts, the edited
texts and the ledger rows stream through parquet files in row order (curation/dedup/spill.py).
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.dedup.config import DedupConfig
from curation.dedup.normalize import normalize_exact
from curation.dedup.spill import BATCH_ROWS, DropSpill, RowCursor
from curation.document import Drop, drops_to_table
from curation.hashing import hash_bytes
from curation.sql import sql_string

PARAGRAPH_DUPLICATE, PARAGRAPH_EDIT = "paragraph_duplicate", "paragraph_edit"
_ROW = "_dedup_row"
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_PARAS_SCHEMA = pa.schema([(_ROW, pa.int64()), ("para", pa.int32()), ("hash", pa.uint64())])
_EDITS_SCHEMA = pa.schema([(_ROW, pa.int64()), ("text", pa.string())])
_SALT = "paragraph"


def split_paragraphs(text: str) -> list[str]:
    """Blocks between blank lines, or the lines of a text that has no blank line (separators kept out)."""
    parts = _BLANK_LINE_RE.split(text)
    if len(parts) == 1:
        parts = text.split("\n")
    return parts


def paragraph_hash(paragraph: str, config: DedupConfig) -> int | None:
    """Stable 64-bit hash of the normalised paragraph, or None when it is too short to judge."""
    norm = normalize_exact(paragraph, config)
    if len(norm) < config.paragraph_min_chars:
        return None
    return int.from_bytes(hash_bytes(norm, _SALT), "big")


@dataclass
class ParagraphResult:
    stats: dict = field(default_factory=dict)
    edits_path: Path | None = None  # parquet (row, text) of the edited documents, sorted by row


def hash_pass(batches: Iterator[pa.RecordBatch], removed: np.ndarray, config: DedupConfig, path: Path) -> dict:
    """Hash the paragraphs of every surviving (not ``removed[row]``), non-code document into ``path`` (parquet)."""
    from curation.scoring.profiles import ProfileConfig, is_code
    from curation.scoring.text_stats import TextStats

    profile = ProfileConfig()
    stats = {"docs_hashed": 0, "docs_code_skipped": 0, "paragraphs": 0, "paragraphs_hashed": 0}
    with pq.ParquetWriter(path, _PARAS_SCHEMA, compression="lz4") as writer:
        for batch in batches:
            rows, paras, hashes = [], [], []
            for row, text in zip(batch.column(_ROW).to_pylist(), batch.column("text").to_pylist()):
                if removed[row] or not text:
                    continue
                if config.paragraph_skip_code and is_code(TextStats(text), profile):
                    stats["docs_code_skipped"] += 1
                    continue
                stats["docs_hashed"] += 1
                for i, p in enumerate(split_paragraphs(text)):
                    stats["paragraphs"] += 1
                    h = paragraph_hash(p, config)
                    if h is not None:
                        rows.append(row)
                        paras.append(i)
                        hashes.append(h)
            stats["paragraphs_hashed"] += len(rows)
            writer.write_table(pa.table({_ROW: pa.array(rows, pa.int64()), "para": pa.array(paras, pa.int32()),
                                         "hash": pa.array(hashes, pa.uint64())}, schema=_PARAS_SCHEMA))
    return stats


def match(con, category: str, paras_path: Path, docs_path: Path) -> None:
    """Inside the dedup index's transaction: the temp table ``para_cut`` (row, paragraph number, owner doc id,
    owner in the index) of every paragraph to cut, then this partition's kept paragraphs are recorded (its
    earlier entries retired first, so a re-run gives the same result)."""
    con.execute("DELETE FROM paragraphs WHERE category = ?", [category])
    con.execute(f"CREATE OR REPLACE TEMP VIEW new_paras AS SELECT p.*, d.doc_id FROM "
                f"read_parquet({sql_string(paras_path)}) p JOIN read_parquet({sql_string(docs_path)}) d USING ({_ROW})")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE para_cut AS
        WITH idx AS (SELECT hash, min(doc_id) AS owner FROM paragraphs
                     WHERE hash IN (SELECT hash FROM new_paras) GROUP BY hash),
             first_row AS (SELECT hash, min({_ROW}) AS first FROM new_paras GROUP BY hash),
             first_doc AS (SELECT DISTINCT f.hash, f.first, n.doc_id AS owner FROM first_row f
                           JOIN new_paras n ON n.hash = f.hash AND n.{_ROW} = f.first)
        SELECT n.{_ROW} AS r, n.para AS p, coalesce(idx.owner, fd.owner) AS owner, idx.owner IS NOT NULL AS in_index
        FROM new_paras n LEFT JOIN idx USING (hash) JOIN first_doc fd USING (hash)
        WHERE idx.owner IS NOT NULL OR n.{_ROW} <> fd.first
    """)
    con.execute(f"""INSERT INTO paragraphs SELECT DISTINCT hash, doc_id, ? FROM new_paras n
                    WHERE NOT EXISTS (SELECT 1 FROM para_cut c WHERE c.r = n.{_ROW} AND c.p = n.para)""",
                [category])


def apply_cuts(batches: Iterator[pa.RecordBatch], cuts: RowCursor, config: DedupConfig, category: str, stage: str,
               removed: np.ndarray, removals: DropSpill, edits: DropSpill, edited: pq.ParquetWriter) -> dict:
    """Cut the paragraphs ``match`` chose (``cuts``: rows ``r``, paragraphs ``p``, owners, sorted by row and
    paragraph, read in step with ``batches``): edited texts go to ``edited`` (row, text), the ledger rows to
    ``removals`` (emptied documents, which are also marked in ``removed``) and ``edits``. A document whose
    remaining text is shorter than one judged paragraph (a heading, a sign-off) counts as emptied."""
    stats = {"chars_removed": 0, "docs_edited": 0, "docs_emptied": 0}
    for batch in batches:
        rows = batch.column(_ROW).to_numpy()
        cut = cuts.upto(int(rows[-1])) if len(rows) else None
        if cut is None:
            continue
        by_row: dict[int, dict[int, str]] = {}
        for row, para, owner in zip(*(cut.column(c).to_pylist() for c in ("r", "p", "owner"))):
            by_row.setdefault(row, {})[para] = owner
        dropped, changed, edited_rows, edited_texts = [], [], [], []
        for row, doc_id, text in zip(rows.tolist(), batch.column("id").to_pylist(), batch.column("text").to_pylist()):
            owners = by_row.get(row)
            if not owners:
                continue
            parts = split_paragraphs(text)
            sep = "\n" if len(_BLANK_LINE_RE.split(text)) == 1 else "\n\n"
            kept = [p for i, p in enumerate(parts) if i not in owners]
            removed_parts = [parts[i] for i in sorted(owners)]
            stats["chars_removed"] += sum(map(len, removed_parts))
            record = {"paragraphs_removed": len(owners), "paragraphs": len(parts),
                      "chars_removed": sum(map(len, removed_parts)),
                      "kept_by": sorted(set(owners.values()))[:5], "first_removed": removed_parts[0][:120]}
            if len(normalize_exact("\n".join(kept), config)) < config.paragraph_min_chars:
                removed[row] = True
                dropped.append(Drop(doc_id, category, stage, PARAGRAPH_DUPLICATE, duplicate_of=record["kept_by"][0],
                                    similarity=1.0, detail=ledger_detail(record, config),
                                    param_version=config.param_version))
            else:
                edited_rows.append(row)
                edited_texts.append(sep.join(kept))
                changed.append(Drop(doc_id, category, stage, PARAGRAPH_EDIT, duplicate_of=record["kept_by"][0],
                                    detail=ledger_detail(record, config), param_version=config.param_version))
        stats["docs_emptied"] += len(dropped)
        stats["docs_edited"] += len(changed)
        removals.write(drops_to_table(dropped))
        edits.write(drops_to_table(changed))
        if edited_rows:
            edited.write_table(pa.table({_ROW: pa.array(edited_rows, pa.int64()),
                                         "text": pa.array(edited_texts, pa.string())}, schema=_EDITS_SCHEMA))
    return stats


def run(input_batches: Callable[[], Iterator[pa.RecordBatch]] | None, docs_path: Path, removed: np.ndarray,
        config: DedupConfig, index, category: str, workdir: Path, stage: str, removals: DropSpill,
        edits: DropSpill) -> ParagraphResult:
    """The paragraph step of one partition: hash (no lock), match and record under the index lock, cut.
    Emptied documents are marked in ``removed`` and go to ``removals``, shortened ones to ``edits`` (ledger
    rows) and to the result's ``edits_path`` (their texts). With ``config.paragraph`` off nothing is cut (the
    stage retired this category's earlier entries)."""
    if not config.paragraph or input_batches is None:  # the category's earlier entries were retired with its docs
        return ParagraphResult(stats={"enabled": config.paragraph})
    paras_path, edits_path = workdir / "paragraphs.parquet", workdir / "edited_texts.parquet"
    hashed = hash_pass(input_batches(), removed, config, paras_path)
    with index.update(config.index_version, config.duckdb_memory_limit) as con:
        match(con, category, paras_path, docs_path)
        n_cut, n_vs_index = con.execute("SELECT count(*), count(*) FILTER (WHERE in_index) FROM para_cut").fetchall()[0]
        cuts = RowCursor(con.sql("SELECT r, p, owner FROM para_cut ORDER BY r, p").to_arrow_reader(BATCH_ROWS), "r")
        emptied_before = int(removed.sum())
        with pq.ParquetWriter(edits_path, _EDITS_SCHEMA, compression="lz4") as edited:
            cut_stats = apply_cuts(input_batches(), cuts, config, category, stage, removed, removals, edits, edited)
        if cuts.rest():
            raise RuntimeError("paragraph cuts left over after the last input row: the input was not in row order")
        if int(removed.sum()) > emptied_before:  # an emptied document leaves the document index as well
            _forget_emptied(con, category, removals)
    stats = {"paragraphs_removed": int(n_cut), "paragraphs_removed_vs_index": int(n_vs_index), **cut_stats}
    result = ParagraphResult(edits_path=edits_path)
    result.stats = {"enabled": True, "min_chars": config.paragraph_min_chars, **hashed, **stats}
    return result


def _forget_emptied(con: "duckdb.DuckDBPyConnection", category: str, removals: DropSpill) -> None:
    """Delete the documents this step emptied (the removals' paragraph_duplicate rows) from the index tables."""
    for batch in removals.batches(["doc_id", "reason"]):  # closes the spill: nothing is written after this step
        emptied = batch.filter(pc.equal(batch.column("reason"), PARAGRAPH_DUPLICATE)).column("doc_id")
        if len(emptied) == 0:
            continue
        con.register("emptied", pa.table({"d": emptied}))
        for table in ("docs", "bands", "paragraphs"):
            con.execute(f"DELETE FROM {table} WHERE category = ? AND doc_id IN (SELECT d FROM emptied)", [category])
        con.unregister("emptied")


def ledger_detail(record: dict, config: DedupConfig) -> str:
    return json.dumps({"method": "paragraph_exact_hash", "paragraphs_removed": record["paragraphs_removed"],
                       "paragraphs": record["paragraphs"], "chars_removed": record["chars_removed"],
                       "kept_by": record["kept_by"], "first_removed": record["first_removed"],
                       "min_chars": config.paragraph_min_chars}, ensure_ascii=False)


def edited_table(table: pa.Table, edited: pa.Table) -> pa.Table:
    """``table`` (with the spill's row column) with the text of the rows in ``edited`` (row, text) replaced."""
    if edited.num_rows == 0:
        return table
    rows = table.column(_ROW).to_numpy()
    edits = dict(zip(edited.column(_ROW).to_pylist(), edited.column("text").to_pylist()))
    texts = table.column("text").to_pylist()
    hit = np.flatnonzero(np.isin(rows, np.fromiter(edits, dtype=np.int64)))
    for i in hit:
        texts[i] = edits[int(rows[i])]
    idx = table.schema.get_field_index("text")
    return table.set_column(idx, table.schema.field("text"), pa.array(texts, table.schema.field("text").type))
