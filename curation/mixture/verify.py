"""Checks of a written mixture, computed from the files on disk, never from the builder's bookkeeping.

- ``file_alignment``: the samples table and the Megatron ``.idx`` files describe the same sequences
  (a doctored or stale samples file is caught before anything below trusts it).
- ``heldout_leaks``: training ids and parents (samples) against held-out ids and parents
  (``heldout.parquet`` of this stage and every earlier one).
- ``share_report``: token shares per slice and group recomputed from the ``.idx`` sequence lengths,
  against the shares the spec asks for (group ratios, slice weights, reweighting factors).
- ``eval_overlaps``: training documents decoded from the ``.bin`` files, matched against the eval
  n-gram index (benchmarks, evalsets, held-out texts).
Each returns plain data; the asset checks turn it into pass/fail with the numbers.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.decontam.index import EvalIndex, EvalItem, Match
from curation.mixture.curriculum import StageSpec
from curation.mixture.groups import slice_shares
from curation.mixture.megatron import IndexedDataset
from curation.mixture.stage import HELDOUT_NAME, SAMPLES_DIR, megatron_prefix, read_manifest


def _train_rows(mixture_dir: Path):
    table = pq.read_table(Path(mixture_dir) / SAMPLES_DIR)
    return table.filter(pc.equal(table["split"], "train"))


def file_alignment(mixture_dir: str | Path) -> list[str]:
    """Problems where samples rows and ``.idx`` sequences disagree (count, order or length)."""
    mixture_dir = Path(mixture_dir)
    rows = _train_rows(mixture_dir).to_pydict()
    problems = []
    by_file: dict[str, list[tuple[int, int]]] = {}
    for f, seq, n in zip(rows["file"], rows["seq_index"], rows["n_tokens"]):
        by_file.setdefault(f, []).append((seq, n))
    files = {p.name[: -len("_text_document.idx")] for p in (mixture_dir / "megatron").glob("*_text_document.idx")}
    for name in sorted(files - set(by_file)):
        problems.append(f"megatron/{name}: token file with no samples rows")
    for name, entries in sorted(by_file.items()):
        prefix = megatron_prefix(mixture_dir, name)
        try:
            lengths = IndexedDataset(prefix).sequence_lengths
        except (FileNotFoundError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        entries.sort()
        if [s for s, _ in entries] != list(range(len(lengths))):
            problems.append(f"{name}: samples list {len(entries)} sequences, the .idx holds {len(lengths)}")
            continue
        wrong = sum(int(n != lengths[s]) for s, n in entries)
        if wrong:
            problems.append(f"{name}: {wrong} samples rows disagree with the .idx sequence lengths")
    return problems


def heldout_ids(mixture_dirs: list[Path]) -> tuple[set[str], set[str]]:
    """(held-out ids, parents of held-out synthetic documents) over the given stage folders."""
    ids, parents = set(), set()
    for d in mixture_dirs:
        path = Path(d) / HELDOUT_NAME
        if path.is_file():
            table = pq.read_table(path, columns=["doc_id", "parent_id"]).to_pydict()
            ids |= set(table["doc_id"])
            parents |= {p for p in table["parent_id"] if p}
    return ids, parents


def heldout_leaks(mixture_dir: str | Path, earlier_dirs: list[Path] = ()) -> list[str]:
    """Training documents that are held out, rewrites of held-out documents, or sources of held-out
    rewrites: in this stage's held-out set or any earlier stage's."""
    rows = _train_rows(Path(mixture_dir)).select(["doc_id", "parent_id"]).to_pydict()
    held, held_parents = heldout_ids([Path(mixture_dir), *earlier_dirs])
    train_ids = set(rows["doc_id"])
    train_parents = {p for p in rows["parent_id"] if p}
    leaks = []
    for label, found in (("held-out ids trained", train_ids & held),
                         ("rewrites of held-out documents trained", train_parents & held),
                         ("sources of held-out rewrites trained", train_ids & held_parents)):
        if found:
            leaks.append(f"{len(found)} {label} (e.g. {', '.join(sorted(found)[:3])})")
    return leaks


@dataclass(frozen=True)
class ShareReport:
    slices: list[tuple]  # (slice, group, expected share, actual share, tokens)
    groups: list[tuple]  # (group, expected share, actual share)
    missing: list[str]  # spec slices / stage groups with a positive weight and no tokens written
    violations: list[str]
    total_tokens: int


def written_tokens(mixture_dir: str | Path) -> dict[tuple[str, str], int]:
    """Tokens per (slice, group), summed over the ``.idx`` sequence lengths the samples point at."""
    mixture_dir = Path(mixture_dir)
    rows = _train_rows(mixture_dir).select(["category", "group", "file", "seq_index"]).to_pydict()
    lengths = {}
    out: dict[tuple[str, str], int] = {}
    for s, g, f, seq in zip(rows["category"], rows["group"], rows["file"], rows["seq_index"]):
        if f not in lengths:
            lengths[f] = IndexedDataset(megatron_prefix(mixture_dir, f)).sequence_lengths
        out[(s, g)] = out.get((s, g), 0) + int(lengths[f][seq])
    return out


def share_report(mixture_dir: str | Path) -> ShareReport:
    """Shares recomputed from the token files, against what the manifest's spec and stage ask for."""
    manifest = read_manifest(mixture_dir)
    spec, stage_raw, factors = manifest["spec"], manifest["stage"], manifest.get("slice_factors") or {}
    stage = StageSpec(name=stage_raw["name"], ratios=stage_raw["ratios"], default_ratio=stage_raw["default_ratio"],
                      ordering=stage_raw["ordering"])
    tokens = written_tokens(mixture_dir)
    total = sum(tokens.values())
    # slices that had training data (the denominator the spec is normalised over)
    available = {s: c["group"] for s, c in manifest["stats"]["categories"].items() if c["available_tokens"] > 0}
    weights = {s: spec["weights"].get(s, spec["default_weight"]) * factors.get(s, 1.0) for s in available}
    expected, expected_groups = slice_shares(available, weights, stage.ratios, stage.default_ratio)
    actual: dict[str, float] = {}
    groups: dict[str, float] = {}
    for (s, g), n in tokens.items():
        actual[s] = actual.get(s, 0.0) + n / total if total else 0.0
        groups[g] = groups.get(g, 0.0) + n / total if total else 0.0
    tol = spec["tolerance"]
    violations = [f"{s}: written share {actual.get(s, 0.0):.4f} vs spec {e:.4f} (tolerance {tol})"
                  for s, e in sorted(expected.items()) if abs(actual.get(s, 0.0) - e) > tol]
    violations += [f"slice {s}: {n} tokens written but not in the spec's slices" for (s, _), n in sorted(tokens.items())
                   if s not in expected]
    violations += [f"group {g}: written share {groups.get(g, 0.0):.4f} vs ratio {e:.4f} (tolerance {tol})"
                   for g, e in sorted(expected_groups.items()) if abs(groups.get(g, 0.0) - e) > tol]
    written_slices = {s for s, _ in tokens}
    missing = sorted(s for s, w in spec["weights"].items() if w > 0 and s not in written_slices)
    missing += sorted(f"group:{g}" for g, r in stage.ratios.items() if r > 0 and g not in groups)
    slice_rows = [(s, available.get(s, "?"), expected.get(s, 0.0), actual.get(s, 0.0),
                   sum(n for (x, _), n in tokens.items() if x == s)) for s in sorted(set(expected) | written_slices)]
    group_rows = [(g, expected_groups.get(g, 0.0), groups.get(g, 0.0)) for g in sorted(set(expected_groups) | set(groups))]
    return ShareReport(slice_rows, group_rows, missing, violations, total)


def decoded_training_docs(mixture_dir: str | Path, tokenizer, eod: int):
    """(doc_id, text) of every distinct training document, decoded from the ``.bin`` files (its
    longest written copy)."""
    mixture_dir = Path(mixture_dir)
    rows = _train_rows(mixture_dir).select(["doc_id", "file", "seq_index", "n_tokens"]).to_pydict()
    best: dict[str, tuple[int, str, int]] = {}
    for d, f, seq, n in zip(rows["doc_id"], rows["file"], rows["seq_index"], rows["n_tokens"]):
        if d not in best or n > best[d][0]:
            best[d] = (n, f, seq)
    data = {}
    for doc_id, (_, f, seq) in sorted(best.items()):
        if f not in data:
            data[f] = IndexedDataset(megatron_prefix(mixture_dir, f))
        tokens = np.asarray(data[f][seq])
        yield doc_id, tokenizer.decode(tokens[tokens != eod].tolist())


def heldout_items(mixture_dir: str | Path) -> list[EvalItem]:
    table = pq.read_table(Path(mixture_dir) / HELDOUT_NAME, columns=["doc_id", "text"]).to_pydict()
    return [EvalItem("heldout", d, t) for d, t in zip(table["doc_id"], table["text"])]


def eval_overlaps(mixture_dir: str | Path, tokenizer, eod: int, index: EvalIndex, bound: float
                  ) -> tuple[int, list[tuple[str, Match]]]:
    """(documents checked, [(doc_id, match)] of those overlapping an eval item at or above ``bound``)."""
    checked, found = 0, []
    for doc_id, text in decoded_training_docs(mixture_dir, tokenizer, eod):
        checked += 1
        match = index.match(text)
        if match is not None and match.overlap >= bound:
            found.append((doc_id, match))
    return checked, found
