"""Point paths as InfluxDB series, Grafana-friendly, and samples as line protocol.

`site/ss01/t2_supply` is measurement `substation` with tags site, substation, role;
`site/ss01/b1/r101/t_indoor` is measurement `room` with tags site, substation, building,
room, role. Fields: `value` (float) or `text` (string), `quality` and `reason` (int codes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from heatnet.roles import ROLES
from heatnet.samples import SampleBatch
from historian.base import HistorianError

ROOM_TAGS = ("site", "substation", "building", "room", "role")
UNKNOWN_KIND = "asset"


def escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def escape_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


class SeriesNames:
    """Maps paths to (measurement, tags) and back; `kinds` maps asset id to its kind."""

    def __init__(self, kinds: Mapping[str, str] | None = None) -> None:
        self.kinds = dict(kinds or {})
        self._keys: dict[str, str] = {}

    def series(self, path: str) -> tuple[str, dict[str, str]]:
        """Measurement and tags of a point path."""
        parts = path.split("/")
        if len(parts) == 5:
            return "room", dict(zip(ROOM_TAGS, parts, strict=True))
        if len(parts) != 3 or not all(parts):
            raise HistorianError(
                f"point path {path!r} is neither site/asset/role nor "
                "site/substation/building/room/t_indoor"
            )
        site, asset, role = parts
        kind = self.kinds.get(asset) or self._kind_of_role(role)
        return kind, {"site": site, kind: asset, "role": role}

    @staticmethod
    def _kind_of_role(role: str) -> str:
        known = ROLES.get(role)
        return known.assets[0].value if known else UNKNOWN_KIND

    def path(self, measurement: str, tags: Mapping[str, str]) -> str | None:
        """The point path of a series, or None for a series heatnet did not write."""
        try:
            if measurement == "room":
                return "/".join(tags[k] for k in ROOM_TAGS)
            return f"{tags['site']}/{tags[measurement]}/{tags['role']}"
        except KeyError:
            return None

    def series_key(self, path: str) -> str:
        """`measurement,tag=value,...` with tags sorted, as line protocol wants."""
        key = self._keys.get(path)
        if key is None:
            measurement, tags = self.series(path)
            key = ",".join(
                [escape_tag(measurement)]
                + [f"{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items())]
            )
            self._keys[path] = key
        return key

    def lines(self, batch: SampleBatch) -> list[str]:
        """Line protocol at ms precision; a sample with no finite value keeps quality and reason."""
        lines = []
        values = batch.values.tolist()
        quality = batch.quality.tolist()
        reason = batch.reason.tolist()
        for i, (path, ts) in enumerate(zip(batch.paths, batch.ts_ms.tolist(), strict=True)):
            status = f"quality={quality[i]}i,reason={reason[i]}i"
            if i in batch.texts:
                fields = f'text="{escape_text(batch.texts[i])}",{status}'
            elif not math.isfinite(values[i]):
                fields = status
            else:
                fields = f"value={values[i]!r},{status}"
            lines.append(f"{self.series_key(path)} {fields} {ts}")
        return lines

    def where(self, path: str) -> tuple[str, str]:
        """The quoted measurement and an InfluxQL condition selecting one point's series."""
        measurement, tags = self.series(path)
        condition = " AND ".join(f'"{k}" = {quote(v)}' for k, v in sorted(tags.items()))
        return f'"{measurement}"', condition


def quote(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
