"""Why was document X removed, by any stage? The catalog's drop ledger joined with the texts of both documents.

``explain_removal`` looks the id up in the DuckDB catalog's ``drop_ledger`` (indexed from every stage's
drop files, ``lake/drops/<stage>/<category>``, each time a stage commits them) and finds the texts through
the catalog's ``documents`` view over the lake's stage outputs (the raw partition for the removed document,
the deduped partition for its survivor). A home whose ledger was never built (drop files written before the
ledger existed) is indexed once from the drop files, the source of truth.

CLI: ``python -m curation.lineage --home DIR DOC_ID``.
"""

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import duckdb

from curation.catalog import Catalog
from curation.lake import Lake

_TRUNCATE = 300
# Ledger reasons that record an edit of a kept document, not a removal (curation/dedup/paragraphs.py)
EDIT_REASONS = ("paragraph_edit",)


def truncate(text: str | None, limit: int = _TRUNCATE) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def find_texts(lake: Lake, doc_ids: Iterable[str]) -> dict[str, str]:
    """Texts of the given ids read straight from the lake's stage outputs (first found wins)."""
    ids = sorted(set(doc_ids))
    files = [str(f) for f in lake.document_files()]
    if not ids or not files:
        return {}
    with duckdb.connect() as con:
        rows = con.execute("SELECT id, any_value(text) FROM read_parquet(?, union_by_name = true) "
                           "WHERE id IN (SELECT unnest(?)) GROUP BY id", [files, ids]).fetchall()
    return dict(rows)


def reindex(lake: Lake) -> int:
    """Rebuild the whole drop ledger and the documents view from the lake; returns the ledger's row count."""
    catalog = Catalog(lake.catalog_path)
    for stage in lake.drop_stages():
        for category in lake.drop_categories(stage):
            catalog.index_drops(stage, category, lake.drop_files(stage, category))
    catalog.refresh_documents_view(lake.document_files())
    return catalog.query("SELECT count(*) FROM drop_ledger")[0][0]


def _catalog(lake: Lake) -> Catalog:
    catalog = Catalog(lake.catalog_path)
    if not catalog.query("SELECT count(*) FROM drop_ledger")[0][0] and lake.all_drop_files():
        reindex(lake)  # a home from before the ledger: index it once
    return catalog


def _texts(lake: Lake, catalog: Catalog, ids: list[str]) -> dict[str, str]:
    try:
        return catalog.texts(ids)
    except duckdb.IOException:  # a partition was rewritten with other file names since the view was built
        catalog.refresh_documents_view(lake.document_files())
        return catalog.texts(ids)


def explain_removal(lake: Lake, doc_id: str) -> dict | None:
    """The drop record of ``doc_id`` plus both texts side by side (truncated); None if no stage removed or
    edited it. A removal comes before an edit record (``EDIT_REASONS``), the others in ``also_dropped_by``."""
    catalog = _catalog(lake)
    found = catalog.drops_of(doc_id)
    if not found:
        return None
    # a removal answers before an edit (a document cut by dedup's paragraph step may be dropped later)
    found.sort(key=lambda r: r["reason"] in EDIT_REASONS)
    record = found[0]
    texts = _texts(lake, catalog, [doc_id] + ([record["duplicate_of"]] if record["duplicate_of"] else []))
    record["detail"] = _parse_detail(record["detail"])
    record["text"] = truncate(texts.get(doc_id))
    record["duplicate_text"] = truncate(texts.get(record["duplicate_of"]))
    if len(found) > 1:
        record["also_dropped_by"] = [(r["stage"], r["reason"]) for r in found[1:]]
    return record


SELECTION_STAGE = "selected"  # curation/selection/stage.py: its kept documents carry their decision
_DECISION_COLUMNS = ("category", "topic", "topic_confidence", "quality_weight", "diversity_weight",
                     "selection_cluster", "sample_weight", "domain")


def explain_selection(lake: Lake, doc_id: str) -> dict | None:
    """The selection stage's decision for a document it kept (weights, cluster, topic), read from its output;
    None when no selected partition holds the id (a document it did not select has a ``not_selected`` drop)."""
    files = [str(f) for c in lake.stage_categories(SELECTION_STAGE) for f in lake.files(SELECTION_STAGE, c)]
    if not files:
        return None
    with duckdb.connect() as con:
        cur = con.execute(f"SELECT {', '.join(_DECISION_COLUMNS)}, text FROM read_parquet(?, union_by_name = true) "
                          "WHERE id = ? LIMIT 1", [files, doc_id])
        row = cur.fetchone()
    if row is None:
        return None
    record = dict(zip([*_DECISION_COLUMNS, "text"], row))
    record["text"] = truncate(record["text"])
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
    records = _catalog(lake).drops_where("category = ? AND stage = ? AND duplicate_of IS NOT NULL", [category, stage], n)
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
    parser.add_argument("--reindex", action="store_true", help="rebuild the catalog's drop ledger from the drop files")
    parser.add_argument("doc_id")
    args = parser.parse_args(argv)
    lake = Lake(args.home.resolve()) if args.home else Lake.from_env()
    if args.reindex:
        print(f"drop ledger rebuilt: {reindex(lake)} drop records")
    record = explain_removal(lake, args.doc_id)
    if record is None:
        chosen = explain_selection(lake, args.doc_id)
        if chosen is not None:
            print(f"{args.doc_id} ({chosen['category']}) was selected by stage {SELECTION_STAGE!r}: cluster "
                  f"{chosen['selection_cluster']}, topic {chosen['topic']} (confidence {chosen['topic_confidence']:.3f}), "
                  f"quality weight {chosen['quality_weight']:.4f}, diversity weight {chosen['diversity_weight']:.4f}, "
                  f"sample weight {chosen['sample_weight']:.4f}" + (f", domain {chosen['domain']}" if chosen["domain"]
                                                                    else ""))
            print(f"  text: {chosen['text']}")
            return 0
        print(f"{args.doc_id}: not removed by any stage under {lake.home}")
        return 1
    if record["reason"] in EDIT_REASONS:  # kept, but with part of its text cut (dedup's paragraph step)
        detail = record["detail"] if isinstance(record["detail"], dict) else {}
        print(f"{record['doc_id']} ({record['category']}) was kept by stage {record['stage']!r} with "
              f"{detail.get('paragraphs_removed', '?')} of {detail.get('paragraphs', '?')} paragraphs cut as repeats "
              f"({record['reason']})")
    else:
        print(f"{record['doc_id']} ({record['category']}) was removed by stage {record['stage']!r}: {record['reason']}")
    if record["duplicate_of"]:
        sim = "" if record["similarity"] is None else f" (similarity {record['similarity']:.3f})"
        what = "repeated paragraphs kept by" if record["reason"] in EDIT_REASONS else "duplicate of"
        print(f"  {what} {record['duplicate_of']}{sim}")
    if record["param_version"]:
        print(f"  parameters: {record['param_version']}")
    if record["detail"]:
        detail = record["detail"]
        print(f"  detail: {detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)}")
    print(f"  {'text as it came in' if record['reason'] in EDIT_REASONS else 'removed text'}: {record['text']}")
    if record["duplicate_of"]:
        print(f"  kept text:    {record['duplicate_text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
