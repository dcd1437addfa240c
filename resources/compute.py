"""Where the per-document work of a run goes: ``configs/compute.yaml``, or ``CORPUSFORGE_COMPUTE=ray``."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from curation.compute import ComputeConfig, Engine, load_compute_config, open_engine
from resources.configs import REPO_CONFIGS


class ComputeResource(dg.ConfigurableResource):
    """The compute engine: ``local`` (in-process, the default) or ``ray`` (Ray Data over the shard files,
    on the cluster at ``address`` or on a local Ray this resource starts for the step and stops after it).

    Settings come from ``config_file`` (default: the repository's ``configs/compute.yaml``); a field set here
    wins over the file, and ``$CORPUSFORGE_COMPUTE`` wins over both for the engine. Ray is not used directly
    through dagster-ray: its resources start Ray at step start whatever the engine setting, and its one
    non-Kubernetes resource (LocalRay) cannot point at an existing cluster (see README, "Past one machine").
    """

    config_file: str = ""
    engine: str = ""  # empty: the file's
    address: str = ""  # empty: the file's
    band_partitions: int = 0  # 0: the file's

    def settings(self) -> ComputeConfig:
        path = self.config_file or str(REPO_CONFIGS / "compute.yaml")
        return load_compute_config(path, engine=self.engine or None, address=self.address or None,
                                   band_partitions=self.band_partitions or None)

    @contextmanager
    def open(self) -> Iterator[Engine]:
        """The engine for one step (a local Ray lives as long as the ``with`` block)."""
        with open_engine(self.settings()) as engine:
            yield engine
