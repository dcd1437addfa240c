"""The one source of stage configuration: runs read their YAML through ``PipelineConfigs``, checks read
``checks.yaml`` through it, and each asset's code version is the hash of the files it reads.

Editing ``configs/dedup.yaml`` therefore changes ``corpus/deduped``'s code version and the UI marks it
(and everything downstream) stale; editing a prompt template does the same for ``corpus/rewritten``.
"""

import hashlib
from pathlib import Path

import dagster as dg
import yaml

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class PipelineConfigs(dg.ConfigurableResource):
    """Where the stage configs (YAML, prompt templates) are read from: the repository's ``configs/``
    by default, or ``directory`` (a copy with your own thresholds)."""

    directory: str = ""

    @property
    def root(self) -> Path:
        return Path(self.directory) if self.directory else REPO_CONFIGS

    def path(self, name: str) -> Path:
        path = self.root / name
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist (PipelineConfigs.directory={self.directory!r})")
        return path

    def load(self, name: str) -> dict:
        """The YAML mapping in ``name`` (an empty file is an empty mapping)."""
        return yaml.safe_load(self.path(name).read_text(encoding="utf-8")) or {}

    def version(self, *names: str) -> str:
        """A short content hash of the named files (glob patterns allowed, e.g. ``prompts/wrap_*.yaml``),
        in a fixed order: the code version of an asset that reads exactly these files."""
        h = hashlib.sha256()
        for name in names:
            matches = sorted(self.root.glob(name)) if any(c in name for c in "*?[") else [self.path(name)]
            if not matches:
                raise FileNotFoundError(f"no config file matches {self.root / name}")
            for path in matches:
                h.update(str(path.relative_to(self.root)).encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()[:12]


REPO = PipelineConfigs()


def config_version(*names: str) -> str:
    """Code version from the repository's config files (what an asset decorator can know at import)."""
    return REPO.version(*names)
