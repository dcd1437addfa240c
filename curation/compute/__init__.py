"""Where per-document work runs: in this process (``local``) or on Ray (``ray``), with identical output.

Stages hand the engine a picklable, row-preserving batch function (a ``BatchMapper``) and the shard files
to run it over; the engine yields the mapped tables in file and row order. Nothing here imports Dagster
(resources/compute.py wraps it).
"""

from curation.compute.config import COMPUTE_ENV, ComputeConfig, load_compute_config
from curation.compute.engine import BatchMapper, Engine, LocalEngine, ParquetFiles, RayEngine, open_engine

__all__ = ["COMPUTE_ENV", "BatchMapper", "ComputeConfig", "Engine", "LocalEngine", "ParquetFiles", "RayEngine",
           "load_compute_config", "open_engine"]
