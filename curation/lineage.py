"""Why was document X removed, by any stage? Drop records joined with the texts of both documents.

``explain_removal`` looks the id up in every stage's drop records (``lake/drops/<stage>/<category>``) and
finds the texts in the lake's stage outputs (any stage that still holds them, e.g. the raw partition for
the removed document and the deduped partition for its survivor).

CLI: ``python -m curation.lineage --home DIR DOC_ID``.
"""

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import duckdb

from curation.lake import Lake

_TRUNCATE = 300


def truncate(text: str | None, limit: int = _TRUNCATE) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parquet_files(root: Path, exclude_drops: bool) -> list[str]:
    if not root.is_dir():
        return []
    files = []
    for f in sorted(root.glob("*/*/*.parquet")):
        parts = f.relative_to(root).parts
        if any(p.startswith(".") for p in parts) or (exclude_drops and parts[0] == "drops"):
            continue  # staging directories of writers still running, or drop records
        files.append(str(f))
    return files


def find_texts(lake: Lake, doc_ids: Iterable[str]) -> dict[str, str]:
    """Texts of the given ids from any stage output in the lake (first found wins)."""
    ids = sorted(set(doc_ids))
    files = _parquet_files(lake.home / "lake", exclude_drops=True)
    if not ids or not files:
        return {}
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT id, any_value(text) FROM read_parquet(?, union_by_name = true) "
                           "WHERE id IN (SELECT unnest(?)) GROUP BY id", [files, ids]).fetchall()
    finally:
        con.close()
    return dict(rows)


def _drops_where(lake: Lake, where: str, params: list, limit: int | None = None) -> list[dict]:
    files = _parquet_files(lake.home / "lake" / "drops", exclude_drops=False)
    if not files:
        return []
    con = duckdb.connect()
    try:
        sql = (f"SELECT doc_id, category, stage, reason, duplicate_of, similarity, detail, param_version "
               f"FROM read_parquet(?, union_by_name = true) WHERE {where} ORDER BY reason, doc_id")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cur = con.execute(sql, [files, *params])
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        con.close()


def explain_removal(lake: Lake, doc_id: str) -> dict | None:
    """The drop record of ``doc_id`` plus both texts side by side (truncated); None if it was never removed."""
    found = _drops_where(lake, "doc_id = ?", [doc_id])
    if not found:
        return None
    record = found[0]
    texts = find_texts(lake, [doc_id] + ([record["duplicate_of"]] if record["duplicate_of"] else []))
    record["detail"] = _parse_detail(record["detail"])
    record["text"] = truncate(texts.get(doc_id))
    record["duplicate_text"] = truncate(texts.get(record["duplicate_of"]))
    if len(found) > 1:
        record["also_dropped_by"] = [(r["stage"], r["reason"]) for r in found[1:]]
    return record


def _parse_detail(detail: str | None):
    """Dedup writes its detail as JSON, other stages as a sentence (e.g. a rule's value vs threshold)."""
    if not detail:
        return None
    try:
        return json.loads(detail)
    except json.JSONDecodeError:
        return detail


def sample_removed_pairs(lake: Lake, category: str, n: int = 5, stage: str = "deduped") -> list[dict]:
    """``n`` removed duplicates of a category beside what they duplicate (for the asset's metadata)."""
    records = _drops_where(lake, "category = ? AND stage = ? AND duplicate_of IS NOT NULL", [category, stage], n)
    texts = find_texts(lake, [r["doc_id"] for r in records] + [r["duplicate_of"] for r in records])
    return [{"doc_id": r["doc_id"], "duplicate_of": r["duplicate_of"], "reason": r["reason"],
             "similarity": None if r["similarity"] is None else round(r["similarity"], 3),
             "text": truncate(texts.get(r["doc_id"])), "duplicate_text": truncate(texts.get(r["duplicate_of"]))}
            for r in records]


def _cell(text: str | None, limit: int = 120) -> str:
    return (truncate(text, limit) or "").replace("|", "\\|")


def pairs_markdown(pairs: list[dict]) -> str:
    """A markdown table of removed pairs, side by side."""
    if not pairs:
        return "_no duplicates removed_"
    lines = ["| removed | duplicate of | reason | similarity | removed text | kept text |",
             "|---|---|---|---|---|---|"]
    for p in pairs:
        sim = "" if p["similarity"] is None else f"{p['similarity']:.3f}"
        lines.append(f"| `{p['doc_id']}` | `{p['duplicate_of']}` | {p['reason']} | {sim} | {_cell(p['text'])} "
                     f"| {_cell(p['duplicate_text'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Explain why a document was removed.")
    parser.add_argument("--home", type=Path, default=None, help="CORPUSFORGE_HOME (default: $CORPUSFORGE_HOME)")
    parser.add_argument("doc_id")
    args = parser.parse_args(argv)
    lake = Lake(args.home.resolve()) if args.home else Lake.from_env()
    record = explain_removal(lake, args.doc_id)
    if record is None:
        print(f"{args.doc_id}: not removed by any stage under {lake.home}")
        return 1
    print(f"{record['doc_id']} ({record['category']}) was removed by stage {record['stage']!r}: {record['reason']}")
    if record["duplicate_of"]:
        sim = "" if record["similarity"] is None else f" (similarity {record['similarity']:.3f})"
        print(f"  duplicate of {record['duplicate_of']}{sim}")
    if record["param_version"]:
        print(f"  parameters: {record['param_version']}")
    if record["detail"]:
        detail = record["detail"]
        print(f"  detail: {detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)}")
    print(f"  removed text: {record['text']}")
    if record["duplicate_of"]:
        print(f"  kept text:    {record['duplicate_text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
