"""A share judged by its Wilson interval: fail only when the data show it is out of band, pass only
when they show it is inside, WARN in between or when there are too few items to say anything."""

import math

import dagster as dg

from assets.checks.results import cannot_judge, verdict


def wilson_interval(failures: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial share (95% for z=1.96): honest at n = 4 where p +/- 2se is not."""
    if n == 0:
        return 0.0, 1.0
    p = failures / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_band_check(asset_key: dg.AssetKey, check_name: str, failed: int, n: int, band: dict, what: str,
                    metadata: dict | None = None) -> dg.AssetCheckResult:
    """``failed`` of ``n`` ``what`` against ``band`` = {min, max, z, min_items}: ERROR when the interval lies
    wholly outside the band, pass when it lies wholly inside, WARN otherwise (the rate may be fine or not:
    too few items to tell) and below ``min_items`` (a rate over two items is noise)."""
    low_b, high_b, z = band["min"], band["max"], band.get("z", 1.96)
    min_items = max(1, band.get("min_items", 1))
    rate = failed / n if n else 0.0
    low, high = wilson_interval(failed, n, z)
    text = (f"{failed}/{n} {what} dropped = {rate:.3f} (95% interval [{low:.3f}, {high:.3f}]) vs band "
            f"[{low_b}, {high_b}]")
    meta = {"drop_rate": rate, "interval_95": f"[{low:.3f}, {high:.3f}]", "band": f"[{low_b}, {high_b}]",
            "attempted": n, "dropped": failed, **(metadata or {})}
    if n < min_items:
        return cannot_judge(asset_key, check_name, f"{n} {what} < min_items {min_items}: no rate to judge", meta)
    if low > high_b or high < low_b:
        return verdict(asset_key, check_name, f"{text}: out of band", meta)
    if low_b <= low and high <= high_b:
        return verdict(asset_key, check_name, None, {**meta, "verdict": f"{text}: in band"})
    return cannot_judge(asset_key, check_name, f"{text}: the interval straddles the band, {n} {what} are too "
                        "few to tell", meta)
