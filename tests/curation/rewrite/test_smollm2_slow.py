"""Real SmolLM2-135M-Instruct rewriting a real paragraph with WRAP medium (~1-2 min on CPU)."""

import json
from dataclasses import replace

import pytest

from curation.lm.generation import TransformersBackend
from curation.lm.models import materialize_model
from curation.rewrite import RewriteConfig
from tests.curation.rewrite.test_stage import PARAGRAPHS, run, table, written


@pytest.mark.slow
def test_smollm2_rewrites_a_paragraph_in_wrap_medium(tmp_path, model_cache):
    model_dir = materialize_model("packaged:smollm2-135m-instruct", model_cache)
    backend = TransformersBackend(model_dir, device="cpu", model_id="smollm2-135m-instruct")
    config = replace(RewriteConfig(styles=("wrap_medium",)), max_new_tokens=160, keep_originals=False)
    stats, out, drops = run(tmp_path, table(PARAGRAPHS[:2], ["high", "high"]), backend, config)
    print(json.dumps(stats, indent=1))
    for row in written(out):
        print(f"--- {row['id']}\n{row['text']}")
    for row in written(drops):
        print(f"--- dropped {row['doc_id']}: {row['reason']} ({row['detail']})")
    # every selected paragraph ends as a validated rewrite or a drop with a reason
    assert stats["synthetic_docs"] + sum(stats["drops_by_reason"].values()) == 2
    assert stats["synthetic_docs"] >= 1, stats["validation_failures_by_reason"]
    assert stats["new_tokens_per_s"] > 0
