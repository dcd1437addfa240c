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


def ingest(home, category):
    from curation.ingest import ingest_category
    from curation.lake import Lake

    return ingest_category(Lake(home), category)


def test_sensor_adds_partition_requests_run_then_goes_quiet(home):
    with dg.instance_for_test() as instance:
        write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS])

        first = tick(instance, home)
        assert [r.partition_key for r in first.run_requests] == ["en_docs"]
        assert first.run_requests[0].tags["corpusforge/new_shards"] == "1"
        assert list(first.dynamic_partitions_requests[0].partition_keys) == ["en_docs"]
        apply_partition_requests(instance, first)

        # not ingested yet: the same change, the same run key (Dagster never runs it twice)
        again = tick(instance, home, cursor=first.cursor)
        assert [r.run_key for r in again.run_requests] == [first.run_requests[0].run_key]

        ingest(home, "en_docs")
        quiet = tick(instance, home, cursor=again.cursor)
        assert quiet.run_requests == [] and quiet.skip_reason.skip_message == "no new, changed or removed shards"

        write_jsonl(home / "landing/en_docs/b.jsonl", [{"text": t} for t in EN_DOCS[:1]])
        write_jsonl(home / "landing/zh_news/a.jsonl", [{"text": t} for t in ZH_DOCS])
        third = tick(instance, home, cursor=quiet.cursor)
        assert sorted(r.partition_key for r in third.run_requests) == ["en_docs", "zh_news"]
        assert list(third.dynamic_partitions_requests[0].partition_keys) == ["zh_news"]
        assert len({r.run_key for r in third.run_requests} | {first.run_requests[0].run_key}) == 3


def test_first_tick_after_ingest_requests_nothing(home):
    """The demo ingests without the sensor: its first tick (no cursor) must start from the manifest."""
    with dg.instance_for_test() as instance:
        write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS])
        write_jsonl(home / "landing/zh_news/a.jsonl", [{"text": t} for t in ZH_DOCS])
        instance.add_dynamic_partitions(category_partitions.name, ["en_docs", "zh_news"])
        ingest(home, "en_docs"), ingest(home, "zh_news")
        first = tick(instance, home)
        assert first.run_requests == [] and first.dynamic_partitions_requests == []


def test_sensor_tags_match_what_raw_then_reports(home):
    with dg.instance_for_test() as instance:
        write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS])
        write_jsonl(home / "landing/en_docs/b.jsonl", [{"text": t} for t in EN_DOCS[:2]])
        instance.add_dynamic_partitions(category_partitions.name, ["en_docs"])
        ingest(home, "en_docs")
        write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS[:1]])  # changed
        (home / "landing/en_docs/b.jsonl").unlink()  # removed
        write_jsonl(home / "landing/en_docs/c.jsonl", [{"text": EN_DOCS[2]}])  # new
        (request,) = tick(instance, home).run_requests
        result = ingest(home, "en_docs")
        assert {k: request.tags[f"corpusforge/{k}_shards"] for k in ("new", "changed", "removed")} == {
            "new": str(result.shards_new), "changed": str(result.shards_changed),
            "removed": str(result.shards_removed)} == {"new": "1", "changed": "1", "removed": "1"}


def test_touched_but_identical_shard_requests_nothing(home):
    with dg.instance_for_test() as instance:
        shard = write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS])
        instance.add_dynamic_partitions(category_partitions.name, ["en_docs"])
        ingest(home, "en_docs")
        first = tick(instance, home)
        shard.write_bytes(shard.read_bytes())  # new mtime, same content
        assert tick(instance, home, cursor=first.cursor).run_requests == []


def test_sensor_refuses_bad_category_folder(home):
    with dg.instance_for_test() as instance:
        write_jsonl(home / "landing/no spaces allowed/a.jsonl", [{"text": "x"}])
        result = tick(instance, home)
    assert result.run_requests == []
    assert "invalid category name 'no spaces allowed'" in result.skip_reason.skip_message


def test_backfill_schedule_requests_one_run_per_category(home):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(category_partitions.name, ["code", "en_docs", "zh_news"])
        # the context's own `with` restores Dagster's context-local state when the test ends
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 21, 2)) as ctx:
            requests = category_backfill_schedule(ctx)
    assert [r.partition_key for r in requests] == ["code", "en_docs", "zh_news"]
    assert all(r.run_key.startswith("backfill:2026-11-21:") for r in requests)
