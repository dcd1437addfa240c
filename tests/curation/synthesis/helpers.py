"""A scripted backend's answers for the synthesis prompts, and a runner for one step on a temp lake.

``ScriptedBackend`` (tests/curation/rewrite/helpers.py) is the test double: it implements the
backend interface and returns what ``answer`` decides, so validation, fallback and resume are
tested exactly; real SmolLM2 runs are in test_smollm2_slow.py.
"""

import re
from dataclasses import replace

import pyarrow as pa

from curation.lake import Lake, PartitionWriter, stage_writers
from curation.rewrite.cache import GenerationCache
from curation.synthesis import PARTITION_FUNCTIONS, SCHEMAS, STAGES, load_synthesis_config
from curation.synthesis.config import DEFAULT_PROMPTS_DIR
from curation.synthesis.segments import rule_segments

SHIPPED = load_synthesis_config(DEFAULT_PROMPTS_DIR.parent / "synthesis.yaml")
# no caps, one attempt, every abstract required (seed 001): every document of a test goes through every step
CONFIG = replace(SHIPPED, batch_size=2, max_attempts=1, summaries=replace(SHIPPED.summaries, min_coverage=1.0),
                 selection=replace(SHIPPED.selection, max_docs_per_category=None, max_chars=None),
                 discipline_qa=replace(SHIPPED.discipline_qa, selection=replace(
                     SHIPPED.discipline_qa.selection, max_docs_per_category=None)))


def passage(prompt: str, label: str) -> str:
    return prompt.split(f"{label}\n", 1)[1].rsplit("\n\n", 1)[0] if f"{label}\n" in prompt else prompt


def answer(prompt: str, seed: int) -> str:
    """A plausible, valid output for whichever synthesis step ``prompt`` belongs to."""
    if "begin a new segment" in prompt:  # where the rule splitter would cut (a plausible, valid answer)
        units = [line.split("] ", 1)[1] + " " for line in re.findall(r"^\[\d+\] .*$", prompt, re.MULTILINE)]
        starts = rule_segments(units, CONFIG.chunks.target_segment_chars, CONFIG.chunks.max_segment_chars)
        return ", ".join(str(i + 1) for i in starts[1:]) or "none"
    if "concise abstract" in prompt:
        body = passage(prompt, "Passage:")
        words = re.sub(r"\d", "", body).split()  # the opening third of the words, reversed: no extract
        return " ".join(reversed(words[: max(4, len(words) // 3)])).strip(".,;:") + "."
    if "What question or task" in prompt:
        notes = re.findall(r"^\d+\. (.+)$", prompt, re.MULTILINE)
        steps = [" ".join(reversed(re.sub(r"\d", "", n).split())) + "." for n in notes]
        steps += ["Each part builds on the previous one, so the reader follows them in order.",
                  "Putting the parts together explains what the whole text sets out to show."]
        question = "What are the main ideas of this part of the Python reference, and how do they fit together?"
        return f"Question: {question}\n\nReasoning:\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    if "[Problem]" in prompt:
        return GOOD_QA
    raise AssertionError(f"unexpected prompt: {prompt[:80]}")


GOOD_QA = r"""[Problem]
A gas sample occupies $V_1 = 2.0\,\mathrm{L}$ at $T_1 = 300\,\mathrm{K}$. At constant pressure it is heated to
$T_2 = 450\,\mathrm{K}$. What volume does it occupy?

[Solution]
1. At constant pressure Charles's law holds: $\frac{V_1}{T_1} = \frac{V_2}{T_2}$, so the volume grows in
proportion to the absolute temperature.
2. Solving for the unknown gives $V_2 = V_1 \cdot \frac{T_2}{T_1}$, which keeps the units of volume.
3. Substituting the values, $V_2 = 2.0 \cdot \frac{450}{300} = 3.0\,\mathrm{L}$, so the gas occupies 3.0 litres."""


def write_scored(lake: Lake, docs: pa.Table, category: str = "docs") -> None:
    with PartitionWriter(lake.stage_dir("scored", category), docs.schema) as out:
        out.write(docs)


def run_step(lake: Lake, step: str, backend, config=CONFIG, category: str = "docs") -> dict:
    fn = PARTITION_FUNCTIONS[step]
    with stage_writers(lake, STAGES[step], category, SCHEMAS[step]) as (out, drops), \
            GenerationCache.for_lake(lake) as cache:
        return fn(lake, category, backend, config, cache, out, drops)


def rows(lake: Lake, step: str, category: str = "docs") -> list[dict]:
    table = lake.read(STAGES[step], category)
    return table.to_pylist() if table is not None else []


def drops(lake: Lake, step: str, category: str = "docs") -> list[dict]:
    import pyarrow.parquet as pq

    return [r for f in lake.drop_files(STAGES[step], category) for r in pq.read_table(f).to_pylist()]
