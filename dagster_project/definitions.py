import dagster as dg

from assets.ablation import data_ablation
from assets.deduped import deduped_corpus
from assets.evaluation import eval_table
from assets.mixture import mixed_corpus, mixture_weights
from assets.quality_models import dclm_classifier, edu_regressor, kenlm_model
from assets.raw import raw_corpus
from assets.rewritten import rewritten_corpus
from assets.scored import scored_corpus
from assets.selected import selected_corpus
from assets.synthesis import SYNTHESIS_ASSETS
from assets.training import trained_checkpoint
from dagster_project.automation import automated
from dagster_project.jobs import ALL_JOBS
from dagster_project.schedules import category_backfill_schedule, mixture_schedule
from dagster_project.sensors import new_shard_sensor
from resources.compute import ComputeResource
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import EmbedderResource, LLMResource

ASSETS = automated([
    raw_corpus,
    deduped_corpus,
    kenlm_model,
    dclm_classifier,
    edu_regressor,
    scored_corpus,
    rewritten_corpus,
    selected_corpus,
    *SYNTHESIS_ASSETS,
    mixture_weights,
    mixed_corpus,
    trained_checkpoint,
    eval_table,
    data_ablation,
])


defs = dg.Definitions(
    assets=ASSETS,
    jobs=ALL_JOBS,
    sensors=[new_shard_sensor],
    schedules=[category_backfill_schedule, mixture_schedule],
    resources={"lake": LakeResource(), "embedder": EmbedderResource(), "llm": LLMResource(),
               "configs": PipelineConfigs(), "compute": ComputeResource()},
)
