"""configs/synthesis.yaml: loads, refuses unknown keys at every level, and versions each step by what decides it."""

import shutil
from dataclasses import replace

import pytest
import yaml

from curation.synthesis import CHUNKS, COT, DISCIPLINE_QA, SUMMARIES, load_synthesis_config
from curation.synthesis.config import DEFAULT_PROMPTS_DIR, SynthesisConfig

SHIPPED = DEFAULT_PROMPTS_DIR.parent / "synthesis.yaml"


def write(tmp_path, change) -> object:
    data = yaml.safe_load(SHIPPED.read_text())
    change(data)
    path = tmp_path / "synthesis.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    if not (tmp_path / "prompts").exists():
        shutil.copytree(DEFAULT_PROMPTS_DIR, tmp_path / "prompts")
    return path


def test_the_shipped_config_loads_with_its_demo_budget():
    config = load_synthesis_config(SHIPPED)
    assert config.selection.max_docs_per_category == 2 and config.discipline_qa.selection.max_docs_per_category == 2
    assert config.cot.document_template.count("{answer}") == 1
    assert set(config.templates()) == {"cot_segment", "cot_summary", "cot_synthesis", "discipline_qa"}


@pytest.mark.parametrize("change, where", [
    (lambda d: d.update(batchsize=4), "unknown keys ['batchsize']"),
    (lambda d: d["selection"].update(max_doc=3), "selection: unknown keys ['max_doc']"),
    (lambda d: d["summaries"]["sampling"].update(temprature=0.1), "summaries.sampling: unknown keys ['temprature']"),
    (lambda d: d["discipline_qa"]["selection"].update(bucket="high"), "discipline_qa.selection: unknown keys"),
])
def test_unknown_keys_are_refused_with_where_they_are(tmp_path, change, where):
    with pytest.raises(ValueError, match=None) as err:
        load_synthesis_config(write(tmp_path, change))
    assert where in str(err.value)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="document_template must contain {answer}"):
        SynthesisConfig(cot=replace(SynthesisConfig().cot, document_template="{instruction}\n{reasoning}"))
    with pytest.raises(ValueError, match="chunks.method"):
        SynthesisConfig(chunks=replace(SynthesisConfig().chunks, method="magic"))


def test_each_step_version_follows_its_own_knobs_and_template(tmp_path):
    base = load_synthesis_config(write(tmp_path, lambda d: None))
    bound = load_synthesis_config(write(tmp_path, lambda d: d["summaries"].update(max_length_ratio=0.5)))
    assert bound.step_version(SUMMARIES) != base.step_version(SUMMARIES)
    assert bound.step_version(CHUNKS) == base.step_version(CHUNKS)
    before = {step: bound.step_version(step) for step in (COT, DISCIPLINE_QA)}  # templates are read when asked
    prompt = tmp_path / "prompts" / "cot_synthesis.yaml"
    prompt.write_text(prompt.read_text().replace("step by step", "one step at a time"))
    assert bound.step_version(COT) != before[COT]
    assert bound.step_version(DISCIPLINE_QA) == before[DISCIPLINE_QA]
