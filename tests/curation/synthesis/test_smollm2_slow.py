"""Real SmolLM2-135M-Instruct through the four synthesis steps on real paragraphs (minutes on CPU)."""

import json

import pytest

from curation.lake import Lake
from curation.lm.generation import TransformersBackend
from curation.lm.models import materialize_model
from curation.synthesis import CHUNKS, COT, DISCIPLINE_QA, SUMMARIES
from curation.synthesis.segments import coverage_problem
from tests.curation.rewrite.helpers import PARAGRAPHS, table
from tests.curation.synthesis.helpers import SHIPPED, drops, rows, run_step, write_scored


@pytest.mark.slow
def test_smollm2_runs_the_chain_and_every_item_is_kept_or_dropped_with_a_reason(home, model_cache):
    backend = TransformersBackend(materialize_model("packaged:smollm2-135m-instruct", model_cache), device="cpu",
                                  model_id="smollm2-135m-instruct")
    lake = Lake(home)
    source = PARAGRAPHS[0] + " " + PARAGRAPHS[1]
    write_scored(lake, table([source], ["high"]))
    stats = {step: run_step(lake, step, backend, SHIPPED) for step in (CHUNKS, SUMMARIES, COT, DISCIPLINE_QA)}
    print(json.dumps(stats, indent=1, default=str))
    for step in (SUMMARIES, COT, DISCIPLINE_QA):
        for row in rows(lake, step):
            print(f"--- {step} {row['id']}\n{row['text'][:600]}")
        for d in drops(lake, step):
            print(f"--- dropped {d['doc_id']}: {d['reason']} ({d['detail']})")
    segments = sorted(rows(lake, CHUNKS), key=lambda r: r["segment_index"])
    assert coverage_problem(source, [s["text"] for s in segments]) is None  # whichever splitter won
    for step in (SUMMARIES, COT, DISCIPLINE_QA):
        assert stats[step]["kept"] + stats[step]["dropped"] == stats[step]["items"]
    assert stats[SUMMARIES]["new_tokens"] > 0
