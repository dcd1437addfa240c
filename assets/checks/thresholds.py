from resources.configs import REPO, PipelineConfigs


def check_thresholds(configs: PipelineConfigs = REPO) -> dict:
    """``checks.yaml`` of the run's configs (the repository's by default): every check's bound, with
    the paper or seed it comes from. Read per run, so a user's config directory sets the bands."""
    return configs.load("checks.yaml")
