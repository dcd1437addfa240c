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
are compared with them; memory holds one batch of texts, the join runs in DuckDB.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.dedup.config import DedupConfig
from curation.dedup.normalize import normalize_exact
from curation.hashing import hash_bytes
from curation.sql import sql_string

PARAGRAPH_DUPLICATE, PARAGRAPH_EDIT = "paragraph_duplicate", "paragraph_edit"
_ROW = "_dedup_row"
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_PARAS_SCHEMA = pa.schema([(_ROW, pa.int64()), ("para", pa.int32()), ("hash", pa.uint64())])
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
    edits: dict[int, str] = field(default_factory=dict)  # row -> the text with its repeated paragraphs cut
    emptied: dict[int, str] = field(default_factory=dict)  # row -> doc id that kept its first paragraph
    records: list[dict] = field(default_factory=list)  # per edited or emptied row: what the ledger says
    stats: dict = field(default_factory=dict)


def hash_pass(batches: Iterator[pa.RecordBatch], removed_rows: set[int], config: DedupConfig,
              path: Path) -> dict:
    """Hash the paragraphs of every surviving, non-code document into ``path`` (parquet)."""
    from curation.scoring.profiles import ProfileConfig, is_code
    from curation.scoring.text_stats import TextStats

    profile = ProfileConfig()
    stats = {"docs_hashed": 0, "docs_code_skipped": 0, "paragraphs": 0, "paragraphs_hashed": 0}
    with pq.ParquetWriter(path, _PARAS_SCHEMA, compression="lz4") as writer:
        for batch in batches:
            rows, paras, hashes = [], [], []
            for row, text in zip(batch.column(_ROW).to_pylist(), batch.column("text").to_pylist()):
                if row in removed_rows or not text:
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


def match(con, category: str, paras_path: Path, docs_path: Path) -> list[tuple[int, int, str, bool]]:
    """Inside the dedup index's transaction: (row, paragraph number, owner doc id, owner in the index) of
    every paragraph to cut, then this partition's kept paragraphs are recorded (its earlier entries retired
    first, so a re-run gives the same result)."""
    con.execute("DELETE FROM paragraphs WHERE category = ?", [category])
    con.execute(f"CREATE OR REPLACE TEMP VIEW new_paras AS SELECT p.*, d.doc_id FROM "
                f"read_parquet({sql_string(paras_path)}) p JOIN read_parquet({sql_string(docs_path)}) d USING ({_ROW})")
    cut = con.execute(f"""
        WITH idx AS (SELECT hash, min(doc_id) AS owner FROM paragraphs
                     WHERE hash IN (SELECT hash FROM new_paras) GROUP BY hash),
             first_row AS (SELECT hash, min({_ROW}) AS first FROM new_paras GROUP BY hash),
             first_doc AS (SELECT DISTINCT f.hash, f.first, n.doc_id AS owner FROM first_row f
                           JOIN new_paras n ON n.hash = f.hash AND n.{_ROW} = f.first)
        SELECT n.{_ROW}, n.para, coalesce(idx.owner, fd.owner) AS owner, idx.owner IS NOT NULL AS in_index
        FROM new_paras n LEFT JOIN idx USING (hash) JOIN first_doc fd USING (hash)
        WHERE idx.owner IS NOT NULL OR n.{_ROW} <> fd.first
        ORDER BY n.{_ROW}, n.para
    """).fetchall()
    con.register("cut_paras", pa.table({"r": pa.array([c[0] for c in cut], pa.int64()),
                                        "p": pa.array([c[1] for c in cut], pa.int32())}))
    con.execute(f"""INSERT INTO paragraphs SELECT DISTINCT hash, doc_id, ? FROM new_paras n
                    WHERE NOT EXISTS (SELECT 1 FROM cut_paras c WHERE c.r = n.{_ROW} AND c.p = n.para)""",
                [category])
    con.unregister("cut_paras")
    return [(int(r), int(p), o, bool(i)) for r, p, o, i in cut]


def apply_cuts(batches: Iterator[pa.RecordBatch], cut: list[tuple[int, int, str, bool]],
               config: DedupConfig) -> ParagraphResult:
    """The edited texts and emptied documents for the paragraphs ``match`` chose to cut. A document whose
    remaining text is shorter than one judged paragraph (a heading, a sign-off) counts as emptied."""
    by_row: dict[int, dict[int, str]] = {}
    for row, para, owner, _ in cut:
        by_row.setdefault(row, {})[para] = owner
    result = ParagraphResult()
    chars_removed = 0
    for batch in batches:
        for row, doc_id, text in zip(batch.column(_ROW).to_pylist(), batch.column("id").to_pylist(),
                                     batch.column("text").to_pylist()):
            owners = by_row.get(row)
            if not owners:
                continue
            parts = split_paragraphs(text)
            sep = "\n" if len(_BLANK_LINE_RE.split(text)) == 1 else "\n\n"
            kept = [p for i, p in enumerate(parts) if i not in owners]
            removed = [parts[i] for i in sorted(owners)]
            chars_removed += sum(map(len, removed))
            record = {"row": row, "doc_id": doc_id, "paragraphs_removed": len(owners), "paragraphs": len(parts),
                      "chars_removed": sum(map(len, removed)),
                      "kept_by": sorted(set(owners.values()))[:5], "first_removed": removed[0][:120]}
            if len(normalize_exact("\n".join(kept), config)) < config.paragraph_min_chars:
                result.emptied[row] = owners[min(owners)]
                record["reason"] = PARAGRAPH_DUPLICATE
            else:
                result.edits[row] = sep.join(kept)
                record["reason"] = PARAGRAPH_EDIT
            result.records.append(record)
    result.stats = {"paragraphs_removed": len(cut), "paragraphs_removed_vs_index": sum(c[3] for c in cut),
                    "chars_removed": chars_removed, "docs_edited": len(result.edits),
                    "docs_emptied": len(result.emptied)}
    return result


def run(input_batches: Callable[[], Iterator[pa.RecordBatch]] | None, docs_path: Path, removed_rows: set[int],
        config: DedupConfig, index, category: str, workdir: Path) -> ParagraphResult:
    """The paragraph step of one partition: hash (no lock), match and record under the index lock, cut.
    With ``config.paragraph`` off nothing is cut (the stage retired this category's earlier entries)."""
    if not config.paragraph or input_batches is None:  # the category's earlier entries were retired with its docs
        return ParagraphResult(stats={"enabled": config.paragraph})
    paras_path = workdir / "paragraphs.parquet"
    hashed = hash_pass(input_batches(), removed_rows, config, paras_path)
    with index.update(config.index_version, config.duckdb_memory_limit) as con:
        cut = match(con, category, paras_path, docs_path)
        result = apply_cuts(input_batches(), cut, config)
        if result.emptied:  # an emptied document leaves the document index as well
            con.register("emptied", pa.table({"d": [r["doc_id"] for r in result.records
                                                    if r["reason"] == PARAGRAPH_DUPLICATE]}))
            for table in ("docs", "bands", "paragraphs"):
                con.execute(f"DELETE FROM {table} WHERE category = ? AND doc_id IN (SELECT d FROM emptied)",
                            [category])
            con.unregister("emptied")
    result.stats = {"enabled": True, "min_chars": config.paragraph_min_chars, **hashed, **result.stats}
    return result


def ledger_rows(result: ParagraphResult, category: str, stage: str, config: DedupConfig):
    """(drops of emptied documents, edit records of shortened ones): both go to the stage's drop files, the
    ledger ``corpusforge why`` reads; only the drops count as removed documents."""
    from curation.document import Drop

    drops, edits = [], []
    for r in result.records:
        rec = Drop(r["doc_id"], category, stage, r["reason"], duplicate_of=r["kept_by"][0],
                   similarity=1.0 if r["reason"] == PARAGRAPH_DUPLICATE else None,
                   detail=ledger_detail(r, config), param_version=config.param_version)
        (drops if r["reason"] == PARAGRAPH_DUPLICATE else edits).append(rec)
    return drops, edits


def ledger_detail(record: dict, config: DedupConfig) -> str:
    return json.dumps({"method": "paragraph_exact_hash", "paragraphs_removed": record["paragraphs_removed"],
                       "paragraphs": record["paragraphs"], "chars_removed": record["chars_removed"],
                       "kept_by": record["kept_by"], "first_removed": record["first_removed"],
                       "min_chars": config.paragraph_min_chars}, ensure_ascii=False)


def edited_table(table: pa.Table, edits: dict[int, str]) -> pa.Table:
    """``table`` (with the spill's row column) with the edited rows' text replaced."""
    if not edits:
        return table
    rows = table.column(_ROW).to_numpy()
    texts = table.column("text").to_pylist()
    hit = np.flatnonzero(np.isin(rows, np.fromiter(edits, dtype=np.int64)))
    for i in hit:
        texts[i] = edits[int(rows[i])]
    idx = table.schema.get_field_index("text")
    return table.set_column(idx, table.schema.field("text"), pa.array(texts, table.schema.field("text").type))
