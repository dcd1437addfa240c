"""configs/compute.yaml, the CORPUSFORGE_COMPUTE override, the resource and the local engine."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.compute import BatchMapper, LocalEngine, ParquetFiles, load_compute_config
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS


def test_repository_default_is_local_and_env_overrides_it():
    assert load_compute_config(REPO_CONFIGS / "compute.yaml", environ={}).engine == "local"
    cfg = load_compute_config(REPO_CONFIGS / "compute.yaml", environ={"CORPUSFORGE_COMPUTE": "Ray"})
    assert cfg.engine == "ray" and cfg.address is None and cfg.object_store_memory_mb >= 75


def test_bad_settings_are_refused_with_the_rule(tmp_path):
    path = tmp_path / "compute.yaml"
    path.write_text("engine: spark\n")
    with pytest.raises(ValueError, match=r"one of \['local', 'ray'\], got 'spark'"):
        load_compute_config(path, environ={})
    path.write_text("engine: local\nbatchsize: 10\n")
    with pytest.raises(ValueError, match=r"unknown compute settings \['batchsize'\]"):
        load_compute_config(path, environ={})
    with pytest.raises(ValueError, match="CORPUSFORGE_COMPUTE='dask'"):
        load_compute_config(None, environ={"CORPUSFORGE_COMPUTE": "dask"})
    path.write_text("engine: ray\nobject_store_memory_mb: 10\n")
    with pytest.raises(ValueError, match="Ray's floor"):
        load_compute_config(path, environ={})


def test_resource_fields_win_over_the_file_and_the_env_wins_over_both(tmp_path, monkeypatch):
    path = tmp_path / "compute.yaml"
    path.write_text("engine: local\nband_partitions: 2\n")
    monkeypatch.delenv("CORPUSFORGE_COMPUTE", raising=False)
    assert ComputeResource(config_file=str(path)).settings().band_partitions == 2
    assert ComputeResource(config_file=str(path), band_partitions=8).settings().band_partitions == 8
    with ComputeResource(config_file=str(path)).open() as engine:
        assert engine.name == "local"
    monkeypatch.setenv("CORPUSFORGE_COMPUTE", "ray")
    assert ComputeResource(config_file=str(path), engine="local").settings().engine == "ray"


class _Upper(BatchMapper):
    def __call__(self, table):
        return pa.table({"id": table.column("id"), "up": [t.upper() for t in table.column("text").to_pylist()]})


class _Drops(BatchMapper):
    def __call__(self, table):
        return table.slice(1)


def test_local_engine_keeps_file_and_row_order_and_refuses_a_filtering_mapper(tmp_path):
    for i in range(3):
        pq.write_table(pa.table({"id": [f"{i}-{j}" for j in range(5)], "text": ["ab"] * 5}), tmp_path / f"{i}.parquet")
    source = ParquetFiles.of(sorted(tmp_path.glob("*.parquet")))
    out = list(LocalEngine().map_files(source, _Upper(), batch_size=2))
    assert [i for i, _ in out] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert pa.concat_tables(t for _, t in out).column("id").to_pylist() == [f"{i}-{j}" for i in range(3)
                                                                           for j in range(5)]
    with pytest.raises(RuntimeError, match="2 rows in, 1 out"):
        list(LocalEngine().map_files(source, _Drops(), batch_size=2))
