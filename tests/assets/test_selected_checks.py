"""The selection checks fail on the bad data they exist for, pass on good data, and WARN when they cannot judge."""

from collections import Counter
from dataclasses import replace

import dagster as dg
import pyarrow as pa

from assets.selected_checks import budget_check, cluster_check, selected_shares, topic_check
from curation.lake import Lake, PartitionWriter
from curation.selection import SELECTION_FIELDS, load_taxonomy

BOUNDS = {"min_docs": 30, "max_cluster_share": 0.5, "budget_tolerance": 0.02}
TAXONOMY = replace(load_taxonomy("configs/topics.yaml"), bounds={"others": (0.0, 0.3),
                                                                 "mathematics_physics": (0.1, 1.0)})


def test_topic_shares_outside_their_bounds_fail_with_the_numbers():
    bad = topic_check(100, Counter({"others": 600, "mathematics_physics": 400}), TAXONOMY, BOUNDS)
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.ERROR
    assert "others holds 0.600" in bad.metadata["failed"].value and "[0.000, 0.300]" in bad.metadata["failed"].value
    missing = topic_check(100, Counter({"computer_science_engineering": 1000}), TAXONOMY, BOUNDS)
    assert not missing.passed and "mathematics_physics holds 0.000" in missing.metadata["failed"].value
    good = topic_check(100, Counter({"others": 200, "mathematics_physics": 300, "law_policy": 500}), TAXONOMY, BOUNDS)
    assert good.passed


def test_topic_check_warns_on_few_documents_or_no_bounds():
    few = topic_check(5, Counter({"others": 10}), TAXONOMY, BOUNDS)
    assert not few.passed and few.severity == dg.AssetCheckSeverity.WARN and "5 selected documents" in few.description
    unbounded = topic_check(100, Counter({"others": 10}), replace(TAXONOMY, bounds={}), BOUNDS)
    assert unbounded.severity == dg.AssetCheckSeverity.WARN and "no topic bounds" in unbounded.description


def clusters_stats(available_shares):
    return {"clusters": [{"cluster": c, "available_share": s} for c, s in available_shares.items()]}


def test_an_over_represented_cluster_fails_unless_selection_shrank_it():
    bad = cluster_check(100, Counter({0: 900, 1: 100}), clusters_stats({0: 0.5, 1: 0.5}), BOUNDS)
    assert not bad.passed and "cluster 0 holds 0.900" in bad.metadata["failed"].value
    assert "held 0.500 of the available" in bad.metadata["failed"].value
    shrunk = cluster_check(100, Counter({0: 700, 1: 300}), clusters_stats({0: 0.9, 1: 0.1}), BOUNDS)
    assert shrunk.passed
    good = cluster_check(100, Counter({0: 400, 1: 350, 2: 250}), clusters_stats({0: 0.5, 1: 0.3, 2: 0.2}), BOUNDS)
    assert good.passed


def test_cluster_check_warns_with_one_cluster_or_few_documents():
    one = cluster_check(100, Counter({0: 1000}), clusters_stats({0: 1.0}), BOUNDS)
    assert one.severity == dg.AssetCheckSeverity.WARN and "one cluster" in one.description
    assert cluster_check(3, Counter({0: 5, 1: 1}), clusters_stats({}), BOUNDS).severity == dg.AssetCheckSeverity.WARN


def budget_stats(budget, selected, available, docs_in=100):
    return {"docs_in": docs_in, "budget": {"unit": "tokens", "budget": budget, "selected": selected,
                                           "available": available, "shortfall": max(0, budget - selected),
                                           "from": "value"}}


def test_a_budget_not_met_fails_and_says_by_how_much():
    short = budget_check(budget_stats(10_000, 6_000, 6_000), BOUNDS)
    assert not short.passed
    text = short.metadata["failed"].value
    assert "short by 4000 (40.0%)" in text and "the category has only that much" in text
    assert budget_check(budget_stats(10_000, 9_900, 20_000), BOUNDS).passed  # within 2 %
    assert budget_check(budget_stats(10_000, 6_000, 6_000, docs_in=4), BOUNDS).severity == dg.AssetCheckSeverity.WARN


def test_shares_are_read_from_the_written_partition(tmp_path):
    lake = Lake(tmp_path)
    schema = pa.schema([pa.field("id", pa.string()), *SELECTION_FIELDS])
    rows = [{"id": f"d{i}", "topic": "others" if i < 3 else "law_policy", "selection_cluster": i % 2,
             "selection_tokens": 10} for i in range(10)]
    with PartitionWriter(lake.stage_dir("selected", "c"), schema) as out:
        out.write(pa.Table.from_pylist(rows, schema=schema))
    docs, topics, clusters = selected_shares(lake, "c")
    assert docs == 10 and topics == Counter({"others": 30, "law_policy": 70}) and clusters == Counter({0: 50, 1: 50})
