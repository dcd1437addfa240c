import dagster as dg

from curation.mixture.curriculum import load_curriculum
from resources.configs import REPO_CONFIGS

# A new folder in landing/ is a new category partition (added by new_shard_sensor).
category_partitions = dg.DynamicPartitionsDefinition(name="category")

# Curriculum stages (configs/curriculum.yaml) partition the mixture weights, the mixture, the
# checkpoint and the eval table; read from the repository's configs at import (Dagster needs the
# keys before any run).
stage_partitions = dg.StaticPartitionsDefinition(load_curriculum(REPO_CONFIGS / "curriculum.yaml").names)
