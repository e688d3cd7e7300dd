"""Times on the command line: ISO 8601 (naive means the site's time zone) or relative to now."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from heatnet.durations import parse_duration

_RELATIVE = re.compile(
    r"^\s*now\s*$|^\s*(?:now\s*)?([+-])\s*(\d+(?:\.\d+)?\s*(?:ms|s|min|m|h|d))\s*$"
)


def parse_time(text: str, tz: tzinfo, now: datetime) -> datetime:
    """An aware datetime from "2026-12-15T08:00", "2026-12-15T08:00+08:00", "now", "-1h", "-2d".

    Raises ValueError naming what was expected.
    """
    match = _RELATIVE.match(text)
    if match:
        sign, duration = match.groups()
        if sign is None:
            return now
        try:
            offset = timedelta(seconds=parse_duration(duration.replace(" ", "")))
            return now - offset if sign == "-" else now + offset
        except OverflowError:  # beyond timedelta or datetime: years 1 to 9999
            raise ValueError(f"{text.strip()!r} is too far from now") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 time (2026-12-15T08:00, with or without an offset) or a "
            f"relative one (now, -30m, -1h, -2d), got {text!r}"
        ) from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return round(moment.timestamp() * 1000)
