"""How every check reports: a verdict whose failure text carries the numbers, or a WARN that it could not judge.

- ``verdict``: passed or failed; a failure sets the one-line ``failed`` metadata text (and the
  description) so the UI, the demo log and ``corpusforge`` say which numbers failed.
- ``cannot_judge``: too little data to decide. Severity WARN and passed=False with the reason,
  never a silent pass (a pass on zero rows would hide an empty stage).
"""

from collections.abc import Mapping

import dagster as dg

from assets.metadata import readable


def verdict(asset_key: dg.AssetKey, check_name: str, problems: list[str] | str | None,
            metadata: Mapping[str, object] | None = None,
            severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """Passed when ``problems`` is empty; else failed with ``failed: <problems joined by '; '>``."""
    if isinstance(problems, str):
        problems = [problems]
    problems = [p for p in problems or [] if p]
    text = "; ".join(problems[:10]) + (f"; … {len(problems) - 10} more" if len(problems) > 10 else "")
    extra = {"failed": text} if problems else {}
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=check_name, passed=not problems, severity=severity,
        description=f"failed: {text}" if problems else None,
        metadata=readable({**(metadata or {}), **extra}),
    )


def cannot_judge(asset_key: dg.AssetKey, check_name: str, reason: str,
                 metadata: Mapping[str, object] | None = None) -> dg.AssetCheckResult:
    """WARN, not passed: the check saw too little to decide, and says why."""
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=check_name, passed=False, severity=dg.AssetCheckSeverity.WARN,
        description=f"cannot judge: {reason}",
        metadata=readable({**(metadata or {}), "cannot_judge": reason}),
    )
