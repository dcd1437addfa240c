import functools

from resources.configs import REPO


@functools.cache
def check_thresholds() -> dict:
    """configs/checks.yaml: every check's bound, with the paper or seed it comes from."""
    return REPO.load("checks.yaml")
