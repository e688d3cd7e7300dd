"""Physical constants and tuning of the plant model; every one may be overridden per model."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Physics:
    """Constants the config does not carry; defaults follow DOMAIN.md and common practice."""

    rho: float = 1000.0  # kg/m³; with cp this gives DOMAIN.md's G[t/h] = Q[kW] / (1.163 ΔT)
    cp: float = 4.1868  # kJ/(kg·K)
    capacity_kj_m2k: dict[str, float] = field(
        default_factory=lambda: {"light": 110.0, "medium": 165.0, "heavy": 260.0}
    )
    internal_gains_w_m2: float = 4.0  # daily mean; the profile peaks in the evening
    solar_aperture: float = 0.03  # effective window area per m² floor, × room exposure
    # heat source and primary network
    source_lag_s: float = 900.0
    pipe_velocity_m_s: float = 1.0
    pipe_loss_fraction: float = 0.015  # of design heat, per pipe (supply, return), at design
    source_supply_mpa: float = 1.0
    source_return_mpa: float = 0.3
    head_loss_pa_m: float = 40.0  # per pipe at design flow, rising with flow squared
    # substation
    hx_loss_fraction: float = 0.005
    hx_flow_exponent: float = 0.7
    valve_rangeability: float = 30.0
    valve_oversize: float = 2.0
    control_loop_gain: float = 0.5  # Kp × plant gain at the start point
    control_integral_s: float = 90.0
    sensor_lag_s: float = 30.0  # supply sensor and exchanger water together
    control_substep_s: float = 10.0
    p2_static_mpa: float = 0.25
    pump_head_mpa: float = 0.15
    leak_pressure_mpa_per_m3h: float = 0.01
    makeup_fraction: float = 0.004  # of circulation flow
    makeup_noise: float = 0.15  # relative
    # sensors
    temperature_noise_k: float = 0.05
    indoor_noise_k: float = 0.1
    indoor_resolution_k: float = 0.01
    outdoor_bias_std_k: float = 0.3
    flow_noise: float = 0.005  # relative
    pressure_noise_mpa: float = 0.002
    spike_jump: float = 50.0  # added to a spiked reading when the fault gives no value
    # weather
    weather_noise_k: float = 0.4
    weather_noise_tau_s: float = 3600.0
