"""Outdoor temperature and solar irradiance: climatology, daily cycle, spells and clouds.

Random parts are Ornstein-Uhlenbeck processes stepped with exact exponentials, so any
step length gives the same statistics; daily cloudiness is drawn per calendar day from
its own seeded generator, so it does not depend on the step length either.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from heatnet.config import Climate, Weather

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MID_MONTH_DOY = np.cumsum((0, *_MONTH_DAYS[:-1])) + 15.0
_SOLAR_CONSTANT = 1098.0  # W/m², Haurwitz clear-sky model


def daily_shape(hour: float) -> float:
    """-1 at 06:00, +1 at 15:00, cosine in between: the outdoor daily cycle with mean 0."""
    if 6.0 <= hour < 15.0:
        return -math.cos(math.pi * (hour - 6.0) / 9.0)
    return math.cos(math.pi * ((hour - 15.0) % 24.0) / 15.0)


def clear_sky(latitude_deg: float, day_of_year: float, hour: float) -> float:
    """Clear-sky global irradiance on a horizontal plane (W/m²), local solar time."""
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (284.0 + day_of_year) / 365.0)
    lat = math.radians(latitude_deg)
    hour_angle = math.radians(15.0 * (hour - 12.0))
    sin_elev = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(
        hour_angle
    )
    if sin_elev <= 0.01:
        return 0.0
    return _SOLAR_CONSTANT * sin_elev * math.exp(-0.057 / sin_elev)


class OrnsteinUhlenbeck:
    """Mean-zero OU process with stationary std and time constant, exact for any step."""

    def __init__(self, std: float, tau_s: float, rng: np.random.Generator) -> None:
        self.std = std
        self.tau_s = tau_s
        self.rng = rng
        self.value = std * rng.standard_normal()

    def advance(self, dt: float) -> float:
        decay = math.exp(-dt / self.tau_s)
        self.value = (
            self.value * decay
            + self.std * math.sqrt(1.0 - decay * decay) * self.rng.standard_normal()
        )
        return self.value


class WeatherModel:
    """The site's true outdoor temperature (°C) and global irradiance (W/m²)."""

    def __init__(
        self,
        climate: Climate,
        overrides: Weather,
        tz: ZoneInfo,
        seed: int,
        *,
        noise_std: float,
        noise_tau_s: float,
    ) -> None:
        self.climate = climate
        self.overrides = overrides
        self.tz = tz
        self.seed = seed
        rng = np.random.default_rng([seed, 0x5EA7])
        self.spell = OrnsteinUhlenbeck(climate.spell_std, climate.spell_days * 86400.0, rng)
        self.noise = OrnsteinUhlenbeck(noise_std, noise_tau_s, rng)
        self._monthly = np.array([climate.monthly_mean[m] for m in range(1, 13)])
        self._clouds: dict[int, float] = {}
        self.outdoor = 0.0
        self.solar = 0.0
        self.hour = 0.0
        self.weekday = 0

    def climatology(self, day_of_year: float) -> float:
        """Mean outdoor temperature of the day, interpolated between mid-month means."""
        return float(np.interp(day_of_year, _MID_MONTH_DOY, self._monthly, period=365.0))

    def cloudiness(self, ordinal_day: int) -> float:
        """Cloud cover 0..1 of one calendar day, the same whatever the step length."""
        if ordinal_day not in self._clouds:
            rng = np.random.default_rng([self.seed, 0xC10D, ordinal_day])
            self._clouds[ordinal_day] = float(rng.beta(0.8, 0.8))
        return self._clouds[ordinal_day]

    def advance(self, t_utc_s: float, dt: float) -> None:
        """Move the weather to epoch second t_utc_s, dt seconds after the last call."""
        local = datetime.fromtimestamp(t_utc_s, self.tz)
        hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        doy = local.timetuple().tm_yday - 1 + hour / 24.0
        self.hour, self.weekday = hour, local.weekday()
        spell = self.spell.advance(dt) if dt > 0 else self.spell.value
        noise = self.noise.advance(dt) if dt > 0 else self.noise.value
        if self.overrides.fixed_outdoor is not None:
            self.outdoor = self.overrides.fixed_outdoor
        else:
            self.outdoor = (
                self.climatology(doy)
                + self.overrides.shift
                + self.climate.daily_amplitude * daily_shape(hour)
                + spell
                + noise
            )
        if self.overrides.solar:
            cover = self.cloudiness(local.toordinal())
            self.solar = clear_sky(self.climate.latitude, doy, hour) * (1.0 - 0.75 * cover**3.4)
        else:
            self.solar = 0.0
