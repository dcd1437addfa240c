"""``new_shard_sensor``: turns new, changed or removed shards in landing/ into partitions and runs.

It compares landing with what ``corpus/raw`` has already ingested (the ingest manifest under
``$CORPUSFORGE_HOME/state/raw/<category>/``, content hashes per shard), so its first tick after
``make demo`` requests nothing, and its tags count shards exactly as raw then reports them
(``shards_new`` / ``shards_changed`` / ``shards_removed``).
"""

import hashlib
import json

import dagster as dg

from assets.partitions import category_partitions
from curation.hashing import file_sha256
from curation.ingest import load_manifest
from curation.readers import list_shards
from dagster_project.jobs import category_pipeline_job
from resources.lake import LakeResource


def landing_changes(lake: LakeResource, hash_cache: dict[str, list]) -> tuple[dict[str, dict], list[str], dict]:
    """Per valid category: {"new": [...], "changed": [...], "removed": [...], "hashes": {shard: hash}}
    for the shards that differ from the ingest manifest; plus refused folder names and the new cache.

    ``hash_cache`` maps "category/shard" to [size:mtime_ns, content hash] from the previous tick, so
    an untouched shard is not hashed again; a touched-but-identical one costs one hash and no run.
    """
    root = lake.lake.landing
    changes: dict[str, dict] = {}
    refused = [f"invalid category name {name!r}: {reason}" for name, reason in lake.lake.refused_landing_folders()]
    cache: dict[str, list] = {}
    for name in lake.lake.landing_categories():  # only names that pass document.validate_category
        ingested = {shard: row["content_hash"] for shard, row in load_manifest(lake.lake, name).items()}
        current: dict[str, str] = {}
        for path in list_shards(root / name):
            shard = str(path.relative_to(root / name))
            st = path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
            cached = hash_cache.get(f"{name}/{shard}")
            digest = cached[1] if cached and cached[0] == stamp else file_sha256(path)
            cache[f"{name}/{shard}"] = [stamp, digest]
            current[shard] = digest
        diff = {
            "new": sorted(s for s in current if s not in ingested),
            "changed": sorted(s for s in current if s in ingested and ingested[s] != current[s]),
            "removed": sorted(s for s in ingested if s not in current),
        }
        if any(diff.values()):
            changes[name] = {**diff, "hashes": {s: current[s] for s in diff["new"] + diff["changed"]}}
    return changes, refused, cache


@dg.sensor(
    job=category_pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,  # switch on in the UI (Automation); make demo runs directly
    description="Watches landing/ against what corpus/raw already ingested: adds a category partition per new "
    "folder and runs each category with new, changed or removed shards (run key from the change, so the same "
    "change never runs twice).",
)
def new_shard_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    hash_cache = json.loads(context.cursor) if context.cursor else {}
    changes, refused, cache = landing_changes(lake, hash_cache)
    for message in refused:
        context.log.error(message)

    known = set(context.instance.get_dynamic_partitions(category_partitions.name))
    new_categories = sorted(set(changes) - known)
    run_requests = []
    for category, diff in sorted(changes.items()):
        change = json.dumps([diff["hashes"], diff["removed"]], sort_keys=True)
        fingerprint = hashlib.blake2b(change.encode(), digest_size=8).hexdigest()
        run_requests.append(dg.RunRequest(
            run_key=f"{category}:{fingerprint}",
            partition_key=category,
            tags={"corpusforge/trigger": "new_shard",
                  **{f"corpusforge/{kind}_shards": str(len(diff[kind])) for kind in ("new", "changed", "removed")}},
        ))
    skip = None
    if not run_requests:
        skip = "no new, changed or removed shards" + (f"; refused: {'; '.join(refused)}" if refused else "")
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[category_partitions.build_add_request(new_categories)] if new_categories else [],
        cursor=json.dumps(cache, sort_keys=True),
        skip_reason=skip,
    )
