import dagster as dg

from assets.raw import raw_corpus
from dagster_project.jobs import category_pipeline_job, mixture_job
from dagster_project.schedules import category_backfill_schedule, mixture_schedule
from dagster_project.sensors import new_shard_sensor
from resources.lake import LakeResource

ASSETS = [raw_corpus]


defs = dg.Definitions(
    assets=ASSETS,
    jobs=[category_pipeline_job, mixture_job],
    sensors=[new_shard_sensor],
    schedules=[category_backfill_schedule, mixture_schedule],
    resources={"lake": LakeResource()},
)
