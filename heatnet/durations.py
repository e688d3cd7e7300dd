"""Durations written the way operators write them: 90, "90s", "15m", "8h", "2d"."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)?\s*$")


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration such as 90, "90s", "15m", "8h" or "2d"; ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration such as 90s, 15m, 8h or 2d, got {text!r}")
    if isinstance(text, int | float):
        try:
            return float(text)
        except OverflowError:  # an int beyond float range: no duration anyone means
            raise ValueError(
                "expected a duration such as 90s, 15m, 8h or 2d, got a huge number"
            ) from None
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(f"expected a duration such as 90s, 15m, 8h or 2d, got {text!r}")
    number, unit = match.groups()
    return float(number) * _UNITS[unit or "s"]


Seconds = Annotated[float, BeforeValidator(parse_duration)]
