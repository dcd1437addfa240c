"""The rules give the figures recorded in data/rules_golden.json.gz on ~200 real documents: a change made for
speed (TextStats, the rule sets' code) must not change one value or decision (golden.py regenerates it when
a rule's meaning changes on purpose)."""

import gzip
import json

from tests.curation.scoring.golden import GOLDEN, compute


def test_rule_figures_are_unchanged():
    expected = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    got = json.loads(json.dumps(compute(), sort_keys=True, ensure_ascii=False))
    assert got.keys() == expected.keys()
    changed = [name for name in expected if got[name] != expected[name]]
    assert not changed, f"{len(changed)} of {len(expected)} documents changed, e.g. {changed[:3]}: " \
        f"{json.dumps(got[changed[0]], ensure_ascii=False)[:600]}"
