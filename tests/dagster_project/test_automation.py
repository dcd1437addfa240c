import datetime as dt

import dagster as dg

from assets.partitions import category_partitions
from dagster_project.schedules import category_backfill_schedule
from dagster_project.sensors import new_shard_sensor
from resources.lake import LakeResource
from tests.conftest import EN_DOCS, ZH_DOCS, write_jsonl


def tick(instance, home, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"lake": LakeResource(home=str(home))})
    return new_shard_sensor(ctx)


def apply_partition_requests(instance, result):
    for req in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))


def test_sensor_adds_partition_requests_run_then_goes_quiet(home):
    instance = dg.DagsterInstance.ephemeral()
    write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS])

    first = tick(instance, home)
    assert [r.partition_key for r in first.run_requests] == ["en_docs"]
    assert list(first.dynamic_partitions_requests[0].partition_keys) == ["en_docs"]
    apply_partition_requests(instance, first)

    second = tick(instance, home, cursor=first.cursor)
    assert second.run_requests == [] and second.skip_reason.skip_message == "no new or changed shards"

    write_jsonl(home / "landing/en_docs/b.jsonl", [{"text": t} for t in EN_DOCS[:1]])
    write_jsonl(home / "landing/zh_news/a.jsonl", [{"text": t} for t in ZH_DOCS])
    third = tick(instance, home, cursor=second.cursor)
    assert sorted(r.partition_key for r in third.run_requests) == ["en_docs", "zh_news"]
    assert list(third.dynamic_partitions_requests[0].partition_keys) == ["zh_news"]
    assert len({r.run_key for r in third.run_requests} | {first.run_requests[0].run_key}) == 3


def test_sensor_refuses_bad_category_folder(home):
    instance = dg.DagsterInstance.ephemeral()
    write_jsonl(home / "landing/no spaces allowed/a.jsonl", [{"text": "x"}])
    result = tick(instance, home)
    assert result.run_requests == []
    assert "invalid category name 'no spaces allowed'" in result.skip_reason.skip_message


def test_backfill_schedule_requests_one_run_per_category(home):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, ["code", "en_docs", "zh_news"])
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 21, 2))
        requests = category_backfill_schedule(ctx)
    assert [r.partition_key for r in requests] == ["code", "en_docs", "zh_news"]
    assert all(r.run_key.startswith("backfill:2026-11-21:") for r in requests)
