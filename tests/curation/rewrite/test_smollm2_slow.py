"""Real SmolLM2-135M-Instruct rewriting real paragraphs in every prose style (~2-4 min on CPU)."""

import json
from dataclasses import replace

import pytest

from curation.lm.generation import TransformersBackend
from curation.lm.models import materialize_model
from curation.rewrite import load_rewrite_config
from curation.rewrite.config import DEFAULT_PROMPTS_DIR
from tests.curation.rewrite.helpers import PARAGRAPHS, run, table, written


@pytest.mark.slow
def test_smollm2_rewrites_paragraphs_in_the_shipped_styles(tmp_path, model_cache):
    model_dir = materialize_model("packaged:smollm2-135m-instruct", model_cache)
    backend = TransformersBackend(model_dir, device="cpu", model_id="smollm2-135m-instruct")
    config = replace(load_rewrite_config(DEFAULT_PROMPTS_DIR.parent / "rewrite.yaml"), keep_originals=False)
    stats, out, drops = run(tmp_path, table(PARAGRAPHS[:3], ["high", "mid", "low"]), backend, config)
    print(json.dumps(stats, indent=1))
    for row in written(out):
        print(f"--- {row['id']}\n{row['text']}")
    for row in written(drops):
        print(f"--- dropped {row['doc_id']}: {row['reason']} ({row['detail']})")
    # every job ends as a validated rewrite or a drop with a reason
    assert stats["synthetic_docs"] + sum(stats["drops_by_reason"].values()) == stats["jobs_attempted"]
    assert stats["synthetic_docs"] >= 1, stats["validation_failures_by_reason"]
    assert stats["new_tokens_per_s"] > 0
