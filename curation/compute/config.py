"""The compute setting (``configs/compute.yaml``), overridable per run by ``CORPUSFORGE_COMPUTE``."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys

COMPUTE_ENV = "CORPUSFORGE_COMPUTE"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ComputeConfig:
    engine: str = "local"
    address: str | None = None  # an existing Ray cluster; None: a local Ray started for the run
    num_cpus: int | None = None  # local Ray only (None: every core)
    # Ray's floor is 75 MiB; 512 MiB holds a few dozen 2,048-document blocks of web text.
    object_store_memory_mb: int = 512
    batch_size: int = 2048
    band_partitions: int = 1
    # Ray actors that generate, each with its own copy of the model (None: one per CPU, or per GPU with vLLM)
    generation_workers: int | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"compute engine must be one of {list(ENGINES)}, got {self.engine!r}")
        for name in ("batch_size", "band_partitions", "object_store_memory_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"compute {name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_cpus", "generation_workers"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"compute {name} must be >= 1 or null, got {getattr(self, name)}")
        if self.object_store_memory_mb < 75 and self.engine == "ray" and self.address is None:
            raise ValueError(f"a local Ray needs object_store_memory_mb >= 75 (Ray's floor), got "
                             f"{self.object_store_memory_mb}")


def load_compute_config(path: Path | None, environ: Mapping[str, str] | None = None,
                        **overrides) -> ComputeConfig:
    """ComputeConfig from the YAML file (None: defaults), then ``overrides`` (non-None values), then the
    engine named by ``$CORPUSFORGE_COMPUTE`` if it is set."""
    values = {}
    if path is not None:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        refuse_unknown_keys(values, (f.name for f in fields(ComputeConfig)), str(path), "compute settings")
    values.update({k: v for k, v in overrides.items() if v is not None})
    env = (os.environ if environ is None else environ).get(COMPUTE_ENV, "").strip().lower()
    if env:
        if env not in ENGINES:
            raise ValueError(f"{COMPUTE_ENV}={env!r}: the engine must be one of {list(ENGINES)}")
        values["engine"] = env
    return ComputeConfig(**values)
