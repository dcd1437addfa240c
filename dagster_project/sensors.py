"""``new_shard_sensor``: turns new or changed shards in landing/ into partitions and runs."""

import hashlib
import json

import dagster as dg

from curation.readers import list_shards
from dagster_project.jobs import category_pipeline_job
from assets.partitions import category_partitions
from resources.lake import LakeResource


def landing_snapshot(lake: LakeResource) -> tuple[dict[str, dict[str, str]], list[str]]:
    """{category: {shard: "size:mtime_ns"}} for every valid category folder, plus refusals.

    Size + mtime is a cheap change signal for a tick; the asset itself compares content
    hashes, so a touched-but-identical shard costs one hash, not a re-ingest.
    """
    root = lake.lake.landing
    snapshot: dict[str, dict[str, str]] = {}
    refused = [f"invalid category name {name!r}: {reason}" for name, reason in lake.lake.refused_landing_folders()]
    for name in lake.lake.landing_categories():  # only names that pass document.validate_category
        shards = {}
        for path in list_shards(root / name):
            st = path.stat()
            shards[str(path.relative_to(root / name))] = f"{st.st_size}:{st.st_mtime_ns}"
        if shards:
            snapshot[name] = shards
    return snapshot, refused


@dg.sensor(
    job=category_pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,  # switch on in the UI (Automation); make demo runs directly
    description="Watches landing/: adds a category partition per new folder and runs each category whose shards "
    "are new or changed (run key from the shard fingerprints, so the same change never runs twice).",
)
def new_shard_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    previous: dict[str, dict[str, str]] = json.loads(context.cursor) if context.cursor else {}
    snapshot, refused = landing_snapshot(lake)
    for message in refused:
        context.log.error(message)

    known = set(context.instance.get_dynamic_partitions(category_partitions.name))
    new_categories = sorted(set(snapshot) - known)
    run_requests = []
    for category, shards in sorted(snapshot.items()):
        before = previous.get(category, {})
        if shards == before and category in known:
            continue
        changed = sorted(f"{s}={fp}" for s, fp in shards.items() if before.get(s) != fp)
        removed = sorted(set(before) - set(shards))
        fingerprint = hashlib.blake2b(json.dumps([changed, removed]).encode(), digest_size=8).hexdigest()
        run_requests.append(
            dg.RunRequest(
                run_key=f"{category}:{fingerprint}",
                partition_key=category,
                tags={"corpusforge/trigger": "new_shard", "corpusforge/changed_shards": str(len(changed))},
            )
        )
    skip = None
    if not run_requests:
        skip = "no new or changed shards" + (f"; refused: {'; '.join(refused)}" if refused else "")
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[category_partitions.build_add_request(new_categories)] if new_categories else [],
        cursor=json.dumps(snapshot, sort_keys=True),
        skip_reason=skip,
    )
