"""Competition math from champ-dataset (CHAMP, Mao et al. 2024): problem, step-by-step solution, answer."""

import json
from collections.abc import Iterator

from curation.document import SkipCounter
from curation.sample_corpus.provenance import SampleDoc, package_dir, require_file, wheel_provenance

DATASET_FILE = "dataset_files/v0.json"


def champ_problems(skips: SkipCounter) -> Iterator[SampleDoc]:
    """One document per problem, the human-written solution steps joined under it.

    Only the ``_text`` fields (markup-free) are used; the model transcripts stored beside each
    problem (``conversations``, ``fws_annotations``) are LLM output, not human text, and stay out.
    """
    path = require_file(package_dir("champ_dataset", "champ-dataset") / DATASET_FILE)
    prov = wheel_provenance("champ-dataset")
    # The file is 72 MB of JSON, mostly those transcripts; it is read once, problems are kept.
    problems = json.loads(path.read_bytes())["problems"]
    return _documents(problems, prov, skips)


def _documents(problems: dict, prov, skips: SkipCounter) -> Iterator[SampleDoc]:
    rel = f"champ_dataset/{DATASET_FILE}"
    for key in sorted(problems):
        problem = problems[key]
        steps = [step["_text"].strip() for step in problem.get("solution", {}).get("steps", [])]
        statement = (problem.get("_text") or "").strip()
        if not statement or not steps:
            skips.add("missing_problem_or_solution", rel, None, key)
            continue
        text = f"Problem ({problem['category']}):\n{statement}\n\nSolution:\n" + "\n".join(steps)
        if answer := (problem.get("_answer") or "").strip():
            text += f"\n\nAnswer: {answer}"
        yield prov.doc(f"math:champ/{key}", text, rel)
