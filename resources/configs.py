from pathlib import Path

import dagster as dg

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class PipelineConfigs(dg.ConfigurableResource):
    """Where the stage configs (YAML) are read from: the repository's ``configs/`` by default.

    Asset code versions are computed from the repository's configs, so editing a threshold
    there marks the downstream assets stale in the UI.
    """

    directory: str = ""

    def path(self, name: str) -> Path:
        path = (Path(self.directory) if self.directory else REPO_CONFIGS) / name
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist (PipelineConfigs.directory={self.directory!r})")
        return path
