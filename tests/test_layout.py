import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_curation_never_imports_dagster():
    offenders = []
    for path in (ROOT / "curation").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in {"dagster", "assets",
                                                                                               "dagster_project"}]
    assert offenders == []


def test_definitions_load_with_expected_keys():
    import dagster as dg

    from dagster_project.definitions import defs

    with dg.instance_for_test():  # resolving Definitions consults the current instance
        d = defs
        keys = {k.to_user_string() for k in d.resolve_all_asset_keys()}
        assert d.resolve_sensor_def("new_shard_sensor") and d.resolve_schedule_def("category_backfill_schedule")
        assert d.resolve_job_def("category_pipeline").partitions_def.name == "category"
        graph = d.resolve_asset_graph()
    raw_checks = {k.name for k in graph.get_check_keys_for_assets({dg.AssetKey(["corpus", "raw"])})}
    assert "corpus/raw" in keys
    assert {"gx_documents_valid", "skipped_ratio_bounded", "schema_matches_contract"} <= raw_checks
