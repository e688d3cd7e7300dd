"""One alarm evaluation of a site over a period: every source's findings, from the historian."""

from __future__ import annotations

from analytics import report
from analytics.alarms import Finding, analysis_findings, limit_findings, stale_findings
from analytics.fetch import Moment, SiteData, as_ms
from heatnet.points import site_points

SOURCES = ("limit", "stale", "comms", "leak", "outage", "compliance", "curve")


def evaluate(
    data: SiteData, start: Moment, end: Moment, *, stale_after_s: float = 3600.0
) -> list[Finding]:
    """Limits and staleness of every point with an alarm limit, then the analyses."""
    lo, hi = as_ms(start), as_ms(end)
    now = min(hi, data.newest_ms() + 1)
    limits = {}
    for limit in data.site.alarms:
        limits.setdefault(limit.role, []).append(limit)
    found: list[Finding] = []
    for spec in site_points(data.site):
        if spec.key not in limits:
            continue
        batch = data.historian.read_raw(spec.path, lo, hi)
        for limit in limits[spec.key]:
            found += limit_findings(spec.path, batch, limit)
        found += stale_findings(spec.path, batch, now, stale_after_s=stale_after_s)
    site_id = data.site.site.id
    return found + analysis_findings(
        site_id,
        leaks=report.leaks(data, lo, hi),
        outages=report.outages(data, lo, hi),
        compliance=report.compliance(data, lo, hi),
        curves=report.curve_tracking(data, lo, hi),
        period_end_ms=now,
    )
