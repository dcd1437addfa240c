"""corpus/selected materialized through Dagster on real sentences with the real multilingual embedder, and
`corpusforge why` answering for a selected and a not-selected document."""

import dagster as dg
import pyarrow as pa
import pytest
import yaml

from assets.partitions import category_partitions
from assets.selected import selected_corpus
from curation.document import DOC_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.lineage import explain_removal, explain_selection
from curation.lineage import main as why
from curation.rewrite import output_schema
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource
from tests.conftest import EN_DOCS, ZH_DOCS

# real sentences: Python docs (EN_DOCS and below), People's Daily 1998 (ZH_DOCS), CHAMP-style problems
MORE_EN = [
    "The os module provides a portable way of using operating system dependent functionality such as files.",
    "Regular expressions in the re module let you match patterns in strings and split text on separators.",
    "The socket module gives access to the BSD socket interface for network servers and clients.",
    "Let n be a positive integer. Prove that n squared plus n is always an even number.",
    "Find all real numbers x such that x squared minus five x plus six equals zero.",
]


def write_rewritten(home, category, texts, langs):
    lake = Lake(home)
    schema = output_schema(pa.schema(list(DOC_SCHEMA) + [pa.field("lang", pa.string()),
                                                         pa.field("ensemble_bucket", pa.int8()),
                                                         pa.field("quality_bucket", pa.string()),
                                                         pa.field("ppl", pa.float64())]))
    rows = [{"id": f"{category}-{i}", "text": t, "category": category, "source_shard": "s", "source_line": i,
             "lang": lang, "ensemble_bucket": (7 * i) % 20, "quality_bucket": ["low", "mid", "high"][i % 3],
             "ppl": 100.0 + i} for i, (t, lang) in enumerate(zip(texts, langs))]
    with PartitionWriter(lake.stage_dir("rewritten", category), schema) as out:
        out.write(pa.Table.from_pylist(rows, schema=schema))
    return lake


def configs_with(root, **budget):
    import shutil

    shutil.copytree(REPO_CONFIGS, root)
    data = yaml.safe_load((root / "selection.yaml").read_text())
    data["budget"].update(budget)
    (root / "selection.yaml").write_text(yaml.safe_dump(data))
    return root


def materialize(home, category, configs_dir):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, [category])
        result = dg.materialize([selected_corpus], instance=instance, partition_key=category, raise_on_error=False,
                                resources={"lake": LakeResource(home=str(home)), "embedder": EmbedderResource(),
                                           "configs": PipelineConfigs(directory=str(configs_dir))})
    mats = result.asset_materializations_for_node("corpus__selected")
    return result, {k: v.value for k, v in mats[0].metadata.items()} if mats else {}, \
        {c.check_name: c for c in result.get_asset_check_evaluations()}


@pytest.mark.timeout(300)
def test_selected_materializes_keeps_the_rewritten_columns_and_answers_why(home, tmp_path, capsys):
    texts = EN_DOCS + MORE_EN + ZH_DOCS
    langs = ["en"] * (len(EN_DOCS) + len(MORE_EN)) + ["zh"] * len(ZH_DOCS)
    lake = write_rewritten(home, "notes", texts, langs)
    result, meta, checks = materialize(home, "notes", configs_with(tmp_path / "cfg", unit="docs", fraction=0.5))
    assert result.success
    table = lake.read("selected", "notes")
    assert table.num_rows == meta["dagster/row_count"] == 5  # half of 10 documents, by the budget
    for column in ("ppl", "lang", "style", "parent_id", "mixture_slice", "topic", "sample_weight",
                   "selection_cluster", "selection_tokens"):
        assert column in table.column_names
    topics = dict(zip(table.column("id").to_pylist(), table.column("topic").to_pylist()))
    assert all(t for t in topics.values())
    assert "| topic |" in meta["topic_shares"] and "| cluster |" in meta["clusters"]
    assert "quality weight" in meta["quality_weight_distribution"]
    # ten documents are too few to judge shares: WARN, never a silent pass
    assert all(c.severity == dg.AssetCheckSeverity.WARN and not c.passed for c in checks.values())
    chosen = table.column("id").to_pylist()[0]
    decision = explain_selection(lake, chosen)
    assert decision["selection_cluster"] is not None and decision["sample_weight"] > 0
    dropped = next(i for i in (f"notes-{k}" for k in range(len(texts))) if i not in topics)
    record = explain_removal(lake, dropped)
    assert record["stage"] == "selected" and record["reason"] == "not_selected" and "cluster" in record["detail"]
    capsys.readouterr()
    assert why(["--home", str(home), chosen]) == 0
    assert "was selected by stage 'selected'" in capsys.readouterr().out
    assert why(["--home", str(home), dropped]) == 0
    assert "not_selected" in capsys.readouterr().out
    # a second run embeds nothing: every vector comes from the cache
    _, again, _ = materialize(home, "notes", tmp_path / "cfg")
    assert again["embedding_cache"].endswith(" 0 embedded")
