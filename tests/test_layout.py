import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import statement under ``package``."""
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def _offenders(package: str, forbidden: set[str]) -> list[str]:
    return [f"{f}: {m}" for f, m in _imports(package) if m.split(".")[0] in forbidden]


def test_curation_never_imports_dagster():
    assert _offenders("curation", {"dagster", "assets", "dagster_project", "resources"}) == []


def test_assets_never_import_the_definitions_package():
    # dagster_project/ assembles Definitions from assets/; the arrow points one way only
    assert _offenders("assets", {"dagster_project"}) == []
    assert _offenders("resources", {"dagster_project", "assets"}) == []


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


def _subscripted_extension_types(package: str, modules: set[str]) -> list[str]:
    """Evaluated annotations like ``Iterator[duckdb.DuckDBPyConnection]``: typing caches the alias for
    the life of the interpreter, so the nanobind type outlives module teardown and DuckDB prints
    dozens of ``nanobind: leaked ...`` lines at exit. Such annotations must be strings."""
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Subscript):
                for inner in ast.walk(node.slice):
                    if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) \
                            and inner.value.id in modules:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def _annotated_extension_types(package: str, modules: set[str]) -> list[str]:
    """Evaluated parameter and return annotations naming ``duckdb.X``: a library that resolves type
    hints (``typing.get_type_hints``) caches them the same way; a test that materialized the synthesis
    assets printed the report until the dedup helpers' ``con: duckdb.DuckDBPyConnection`` became strings."""
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            annotations = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                                   *filter(None, [args.vararg, args.kwarg])]] + [node.returns]
            for annotation in filter(None, annotations):
                if any(isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
                       and inner.value.id in modules for inner in ast.walk(annotation)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(annotation)}")
    return found


def test_no_generic_alias_holds_a_duckdb_type():
    packages = ("curation", "assets", "resources", "dagster_project")
    offenders = [o for p in packages for o in _subscripted_extension_types(p, {"duckdb"})]
    offenders += [o for p in packages for o in _annotated_extension_types(p, {"duckdb"})]
    assert offenders == []
