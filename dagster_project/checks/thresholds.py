import functools
from pathlib import Path

import yaml

CHECKS_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "checks.yaml"


@functools.cache
def check_thresholds() -> dict:
    return yaml.safe_load(CHECKS_CONFIG.read_text())
