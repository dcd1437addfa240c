import dagster as dg

from assets.partitions import category_partitions, stage_partitions
from dagster_project.jobs import category_pipeline_job, mixture_job


@dg.schedule(
    job=category_pipeline_job,
    cron_schedule="0 2 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily backfill: one run of the category pipeline per category partition.",
)
def category_backfill_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    categories = context.instance.get_dynamic_partitions(category_partitions.name)
    if not categories:
        return dg.SkipReason("no category partitions yet: drop shards into landing/<category>/")
    return [dg.RunRequest(run_key=f"backfill:{day}:{c}", partition_key=c) for c in sorted(categories)]


@dg.schedule(
    job=mixture_job,
    cron_schedule="0 5 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily, after the category backfill: rebuild the mixture, train, evaluate.",
)
def mixture_schedule(context: dg.ScheduleEvaluationContext):
    # the first curriculum stage; later stages need the previous stage's eval, so they follow by hand/backfill
    first = stage_partitions.get_partition_keys()[0]
    return dg.RunRequest(run_key=f"mixture:{context.scheduled_execution_time:%Y-%m-%d}:{first}", partition_key=first)
