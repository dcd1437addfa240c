import functools

import yaml

from resources.configs import REPO_CONFIGS

CHECKS_CONFIG = REPO_CONFIGS / "checks.yaml"


@functools.cache
def check_thresholds() -> dict:
    return yaml.safe_load(CHECKS_CONFIG.read_text())
