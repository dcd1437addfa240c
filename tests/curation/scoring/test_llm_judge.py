"""The LLM-as-a-judge label path with a scripted stand-in for the model: prompt file, answer parsing,
cache, the decision between judge and proxy, and the edu regressor trained on the judge's grades."""

import pytest

from assets.quality_models import edu_labels
from curation.rewrite.cache import GenerationCache
from curation.scoring import rubric_label, train_edu_regressor
from curation.scoring.edu_regressor import EduRegressor
from curation.scoring.llm_judge import judge, judge_decision, load_judge_prompt, parse_score
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource
from tests.curation.scoring.test_integrity import DPKG_LOG, ROFF
from tests.curation.scoring.test_models import hashing_embedder
from tests.curation.scoring.texts import EN_REFERENCE, ZH_NEWS

PROMPT = REPO_CONFIGS / "prompts" / "judges" / "edu_rubric.yaml"


class ScriptedBackend:
    """Answers like a judge would: a reference-manual page earns 4, a log or roff source 0, and one
    document in ``mumble`` gets an answer with no score. Counts what it was asked."""

    name, model_id, fingerprint, context_length = "scripted", "scripted-judge", "f" * 16, 8192

    def __init__(self, mumble: tuple[str, ...] = ()):
        self.prompts: list[str] = []
        self.mumble = mumble
        self.fingerprint = "m" * 16 if mumble else "f" * 16  # another model: its own cache entries

    def count_tokens(self, text):
        return len(text.split())

    def generate_requests(self, requests):
        out = []
        for r in requests:
            self.prompts.append(r.prompt)
            extract = r.prompt.split("Extract:\n", 1)[1]
            if any(m in extract for m in self.mumble):
                out.append("This text seems fine to me overall.")
            elif "status installed" in extract or ".TH " in extract:
                out.append("It is a machine log or markup source with nothing to learn.\nScore: 0")
            else:
                out.append("It explains a language construct clearly, like a tutorial.\n**Score:** 4")
        return out


def test_answers_are_parsed_to_their_last_score():
    assert parse_score("Reasons: clear.\nScore: 4") == 4
    assert parse_score("Score: 2 at first... on reflection\nScore: 3/5") == 3
    assert parse_score("**Score:** 5") == 5 and parse_score("分数：1") == 1
    assert parse_score("I would give it a four") is None and parse_score("Score: 7") is None


def test_the_prompt_file_renders_a_truncated_extract_and_refuses_unknown_keys(tmp_path):
    prompt = load_judge_prompt(PROMPT)
    rendered = prompt.render("x" * 10_000)
    assert "x" * prompt.max_document_chars in rendered and "x" * (prompt.max_document_chars + 1) not in rendered and "Score: <a whole number from 0 to 5>" in rendered
    bad = tmp_path / "judge.yaml"
    bad.write_text(PROMPT.read_text() + "temperatur: 0.7\n")
    with pytest.raises(ValueError, match="unknown keys \\['temperatur'\\]"):
        load_judge_prompt(bad)


def test_judge_labels_and_caches(tmp_path):
    docs = EN_REFERENCE[:6] + [DPKG_LOG, ROFF, ZH_NEWS]
    backend = ScriptedBackend(mumble=(ZH_NEWS[:20],))
    with GenerationCache(tmp_path / "cache.sqlite") as cache:
        first = judge(docs, backend, load_judge_prompt(PROMPT), cache)
        again = judge(docs, backend, load_judge_prompt(PROMPT), cache)
    assert first.labels == [4] * 6 + [0, 0, None]
    assert first.stats["parsed"] == 8 and first.stats["label_histogram"] == [2, 0, 0, 0, 6, 0]
    assert first.generated == 9 and again.generated == 0 and again.labels == first.labels
    assert len(backend.prompts) == 9  # the second call was answered from the cache


def test_the_regressor_learns_the_judges_grades(tmp_path):
    docs = EN_REFERENCE[:30] + [DPKG_LOG.replace("libc-bin", f"pkg{i}") for i in range(15)]
    result = judge(docs, ScriptedBackend(), load_judge_prompt(PROMPT))
    path, metrics = train_edu_regressor(docs, result.labels, hashing_embedder, tmp_path)
    scores = EduRegressor(path, hashing_embedder).scores([EN_REFERENCE[40], DPKG_LOG])
    assert metrics["label_histogram"] == [15, 0, 0, 0, 30, 0] and scores[0] > scores[1] + 2


def test_judge_or_proxy():
    assert judge_decision("auto", "transformers", None, 1e9)[0] is False
    use, why = judge_decision("auto", "vllm", 1.35e8, 1e9)
    assert not use and "0.14B parameters < min_params 1B" in why
    assert judge_decision("auto", "vllm", 7e9, 1e9)[0] and judge_decision("llm", "transformers", None, 1e9)[0]
    assert judge_decision("proxy", "vllm", 7e9, 1e9)[0] is False
    with pytest.raises(ValueError, match="labels must be one of"):
        judge_decision("gpt", "vllm", None, 1e9)


class ScriptedLLM(LLMResource):
    """The ``llm`` resource with the scripted judge behind it (no model is loaded)."""

    mumble_all: bool = False

    def make_backend(self):
        return ScriptedBackend(mumble=("",) if self.mumble_all else ())


def test_the_edu_asset_labels_with_the_judge_or_says_proxy(home):
    docs = EN_REFERENCE[:5] + [DPKG_LOG]
    cfg = {"labels": "llm", "judge": {"prompt": "prompts/judges/edu_rubric.yaml", "min_parsed_share": 0.8}}
    lake, configs = LakeResource(home=str(home)), PipelineConfigs()
    labels, by, stats = edu_labels(docs, cfg, ScriptedLLM(model="scripted"), lake, configs)
    assert labels == [4] * 5 + [0] and by.startswith("LLM judge: scripted-judge via scripted")
    assert stats["parsed_share"] == 1.0
    labels, by, stats = edu_labels(docs, cfg, ScriptedLLM(model="scripted", mumble_all=True), lake, configs)
    assert by.startswith("PROXY") and "0.00 of its answers" in by and all(isinstance(x, int) for x in labels)
    labels, by, _ = edu_labels(docs, {**cfg, "labels": "auto"}, ScriptedLLM(backend="transformers"), lake, configs)
    assert by.startswith("PROXY") and "backend is transformers" in by
    assert labels == [rubric_label(t) for t in docs]
