"""Run a Great Expectations 1.x suite on a pandas frame and turn it into an asset check result.

``dagster-ge`` only supports GX 0.x, so GX 1.x is called directly with an ephemeral context.
The import costs ~3 s and ~270 MB, so it happens lazily, once per process.
"""

import functools
from typing import Any

import dagster as dg

from assets.checks.results import cannot_judge, verdict


@functools.cache
def _context():
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)  # progress bars flood the run logs
    return ctx


def expectations():
    """The ``gx.expectations`` module, imported on first use."""
    import great_expectations as gx

    return gx.expectations


def run_suite(check_name: str, asset_key: dg.AssetKey, frame, suite: list[Any]) -> dg.AssetCheckResult:
    """Validate ``frame`` against ``suite``; the check fails (ERROR) if any expectation fails, and
    warns that it cannot judge when the frame has no rows (every expectation passes on nothing)."""
    import great_expectations as gx

    if len(frame) == 0:
        return cannot_judge(asset_key, check_name, "no rows to validate", {"rows_validated": 0,
                                                                          "expectations": len(suite)})

    ctx = _context()
    name = f"{'_'.join(asset_key.path)}__{check_name}"
    source = ctx.data_sources.add_or_update_pandas(name)
    asset = source.add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(gx.ExpectationSuite(name=name, expectations=suite))
    rows, failed = [], []
    for r in result.results:
        cfg = r.expectation_config
        column = cfg.kwargs.get("column", "")
        sample = r.result.get("partial_unexpected_list") or []
        if not r.success:
            example = f" (e.g. {', '.join(map(str, sample[:2]))[:80]})" if sample else ""
            failed.append(f"{cfg.type}({column}): {r.result.get('unexpected_count', '?')} of {len(frame)} rows{example}")
        rows.append(
            f"| {cfg.type} | {column} | {'pass' if r.success else 'FAIL'} | {r.result.get('unexpected_count', '')} "
            f"| {', '.join(map(str, sample[:3]))[:120]} |"
        )
    table = "| expectation | column | result | unexpected | sample |\n|---|---|---|---|---|\n" + "\n".join(rows)
    return verdict(asset_key, check_name, failed, {
        "rows_validated": len(frame),
        "expectations": len(suite),
        "failed_expectations": len(failed),
        "gx_results": dg.MetadataValue.md(table),
    })
