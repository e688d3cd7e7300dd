"""The site model: one YAML file describes a heat company's plant, devices and curves.

Pydantic checks each field's type and range; `check_site` then does the checks that
span fields (unknown profiles, register overlaps, duplicate ids). Loading is in
`heatnet.loader`, which turns every problem into a one-line error naming the file,
the path inside it and what was expected.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from heatnet.durations import Seconds
from heatnet.roles import CURVE_TABLE_OUTDOOR

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
DataType = Literal[
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "bool",
    "string",
]
ByteOrder = Literal["ABCD", "DCBA", "BADC", "CDAB"]
RegisterType = Literal["holding", "input", "coil", "discrete"]

# Registers each data type occupies; strings take `length`, bits take none of their own.
REGISTER_COUNT: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
    "bool": 1,
}


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SiteInfo(Strict):
    id: Ident
    name: str = ""
    timezone: str = "Asia/Shanghai"
    locale: Literal["zh-CN", "en"] = "zh-CN"


class Season(Strict):
    """The heating season as month-day strings; it may span the new year."""

    start: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")] = "11-15"
    end: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")] = "03-15"


class Indoor(Strict):
    """What the company promises indoors: a floor per room type, 18 °C by default."""

    floor: float = 18.0
    room_type_floors: dict[str, float] = Field(default_factory=lambda: {"kitchen": 15.0})
    outage_notice_hours: Annotated[float, Field(gt=0)] = 8.0

    def floor_for(self, room_type: str) -> float:
        return self.room_type_floors.get(room_type, self.floor)


class Climate(Strict):
    """Outdoor statistics the weather model draws from; Tai'an by default."""

    name: str = "Tai'an"
    design_outdoor: float = -6.7
    extreme_min: float = -20.7
    monthly_mean: dict[int, float] = Field(
        default_factory=lambda: {
            1: -2.6,
            2: 1.0,
            3: 7.0,
            4: 14.2,
            5: 20.0,
            6: 24.6,
            7: 26.4,
            8: 25.2,
            9: 20.8,
            10: 15.0,
            11: 7.2,
            12: 0.2,
        }
    )
    daily_amplitude: Annotated[float, Field(ge=0)] = 4.5
    spell_std: Annotated[float, Field(ge=0)] = 3.5
    spell_days: Annotated[float, Field(gt=0)] = 3.0
    latitude: Annotated[float, Field(ge=-90, le=90)] = 36.2


class SqliteHistorian(Strict):
    backend: Literal["sqlite"] = "sqlite"
    path: str = "heatnet.sqlite"
    retention_days: Annotated[float, Field(gt=0)] | None = None


class InfluxHistorian(Strict):
    backend: Literal["influxdb"]
    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = "v1"
    database: str = "heatnet"
    org: str | None = None
    bucket: str | None = None
    token_env: str | None = None
    username: str | None = None
    password_env: str | None = None


Historian = Annotated[SqliteHistorian | InfluxHistorian, Field(discriminator="backend")]


class Weather(Strict):
    """Simulation weather overrides: a fixed outdoor temperature, or a shift of the climate."""

    fixed_outdoor: float | None = None
    shift: float = 0.0
    solar: bool = True


class Simulation(Strict):
    start: datetime | None = None
    step_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    speed: Annotated[float, Field(gt=0)] = 60.0
    seed: int = 1
    weather: Weather = Weather()


# ---- device profiles -----------------------------------------------------------------


class ProfilePoint(Strict):
    """A point of a profile: a role from the role table, or a free name."""

    role: str | None = None
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,48}$")] | None = None
    unit: str | None = None
    writable: bool = False
    # the point's engineering range: writes outside are refused, readings marked out_of_range
    min: float | None = None
    max: float | None = None
    value: float | str | None = None  # what a simulated PLC serves for a named point
    group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = "default"
    # on-change storage: a new value is kept when it moves more than deadband (engineering
    # units) from the last kept one, or when heartbeat has passed since it
    deadband: Annotated[float, Field(ge=0)] | None = None
    heartbeat: Seconds | None = None

    @model_validator(mode="after")
    def _role_or_name(self) -> ProfilePoint:
        if (self.role is None) == (self.name is None):
            raise ValueError("give exactly one of 'role' or 'name'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    @property
    def key(self) -> str:
        return self.role or self.name or ""


class ModbusPoint(ProfilePoint):
    register_type: RegisterType = "holding"
    address: Annotated[int, Field(ge=0, le=65535)]
    data_type: DataType = "uint16"
    byte_order: ByteOrder = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    bit: Annotated[int, Field(ge=0, le=15)] | None = None
    length: Annotated[int, Field(ge=1, le=123)] | None = None

    @property
    def register_count(self) -> int:
        """Registers (or bits, for coils and discrete inputs) this point occupies."""
        if self.register_type in ("coil", "discrete"):
            return 1
        if self.data_type == "string":
            return self.length or 0
        return REGISTER_COUNT[self.data_type]


class ModbusIndoor(Strict):
    """Room sensors laid out one after another from `address`, in the config's room order."""

    group: str = "default"
    register_type: RegisterType = "input"
    address: Annotated[int, Field(ge=0, le=65535)]
    data_type: DataType = "int16"
    byte_order: ByteOrder = "ABCD"
    scale: float = 0.01
    offset: float = 0.0
    max_rooms: Annotated[int, Field(ge=1, le=1000)] = 64


Interval = Annotated[Seconds, Field(gt=0)]  # a poll interval: 0 would poll without pause
PollGroups = Annotated[dict[str, Interval], Field(min_length=1)]


def _default_groups() -> dict[str, float]:
    return {"default": 5.0}


class ModbusProfile(Strict):
    protocol: Literal["modbus"]
    description: str = ""
    poll_groups: PollGroups = Field(default_factory=_default_groups)
    points: list[ModbusPoint]
    indoor: ModbusIndoor | None = None


OpcUaType = Literal[
    "Boolean", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double", "String"
]


class OpcUaPoint(ProfilePoint):
    node_id: str | None = None  # template; default ns=2;s={site}/{asset}/{key}
    variant_type: OpcUaType = "Double"


class OpcUaIndoor(Strict):
    group: str = "default"
    node_id: str = "ns=2;s={site}/{asset}/{building}/{room}/t_indoor"
    variant_type: OpcUaType = "Double"


class OpcUaProfile(Strict):
    protocol: Literal["opcua"]
    description: str = ""
    poll_groups: PollGroups = Field(default_factory=_default_groups)
    points: list[OpcUaPoint]
    indoor: OpcUaIndoor | None = None


Profile = Annotated[ModbusProfile | OpcUaProfile, Field(discriminator="protocol")]


# ---- devices -------------------------------------------------------------------------


class SerialLine(Strict):
    port: str
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class DeviceBase(Strict):
    id: Ident
    profile: str
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 2.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    backoff_max: Seconds = 60.0
    timestamps: Literal["collector", "source"] = "collector"
    poll_intervals: dict[str, Interval] = Field(default_factory=dict)  # overrides per group
    write_enabled: bool = False


class ModbusDevice(DeviceBase):
    protocol: Literal["modbus"]
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    framer: Literal["socket", "rtu"] = "socket"
    serial: SerialLine | None = None
    unit_id: Annotated[int, Field(ge=0, le=247)] = 1
    max_registers: Annotated[int, Field(ge=1, le=125)] = 125
    max_bits: Annotated[int, Field(ge=1, le=2000)] = 2000

    @model_validator(mode="after")
    def _one_transport(self) -> ModbusDevice:
        if (self.host is None) == (self.serial is None):
            raise ValueError("give either 'host' (TCP, or RTU over TCP) or 'serial', not both")
        if self.serial is not None and self.framer != "rtu":
            raise ValueError("a serial line speaks RTU: set framer: rtu")
        return self


class OpcUaDevice(DeviceBase):
    protocol: Literal["opcua"]
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^\s/:]+(:\d{1,5})?(/\S*)?$")]
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    username: str | None = None
    password_env: str | None = None
    mode: Literal["poll", "subscribe"] = "poll"
    subscription_chunk: Annotated[int, Field(ge=1, le=10_000)] = 500

    @model_validator(mode="after")
    def _security(self) -> OpcUaDevice:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError("security_policy and security_mode must both be None or neither")
        if self.username is not None and self.password_env is None:
            raise ValueError(
                "a username needs password_env: the password comes from the environment"
            )
        return self


Device = Annotated[ModbusDevice | OpcUaDevice, Field(discriminator="protocol")]


# ---- heating curves ------------------------------------------------------------------


class SlopeShiftCurve(Strict):
    """Supply = base + shift + slope · (base − outdoor), clamped to [min, max]."""

    type: Literal["slope_shift"]
    slope: Annotated[float, Field(ge=0.1, le=4.0)]
    shift: Annotated[float, Field(ge=-20, le=20)] = 0.0
    min_supply: float = 25.0
    max_supply: float = 95.0
    base_indoor: float = 20.0

    @model_validator(mode="after")
    def _limits(self) -> SlopeShiftCurve:
        if self.min_supply >= self.max_supply:
            raise ValueError("min_supply must be below max_supply")
        return self


class TableCurve(Strict):
    """Supply set point interpolated between (outdoor, supply) points."""

    type: Literal["table"]
    points: Annotated[list[tuple[float, float]], Field(min_length=2)]
    min_supply: float = 25.0
    max_supply: float = 95.0

    @model_validator(mode="after")
    def _sorted(self) -> TableCurve:
        outdoor = [p[0] for p in self.points]
        if any(b <= a for a, b in itertools.pairwise(outdoor)):
            raise ValueError("table points must have strictly increasing outdoor temperatures")
        if self.min_supply >= self.max_supply:
            raise ValueError("min_supply must be below max_supply")
        return self

    @classmethod
    def standard_outdoor(cls) -> tuple[float, ...]:
        return CURVE_TABLE_OUTDOOR


Curve = Annotated[SlopeShiftCurve | TableCurve, Field(discriminator="type")]


# ---- plant ---------------------------------------------------------------------------


class Room(Strict):
    id: Ident
    type: str = "living"
    exposure: Annotated[float, Field(gt=0.2, le=3.0)] = 1.0


class Building(Strict):
    id: Ident
    name: str = ""
    floor_area_m2: Annotated[float, Field(gt=0, le=1e6)]
    heat_load_w_m2: Annotated[float, Field(gt=0, le=300)] = 40.0
    construction: Literal["light", "medium", "heavy"] = "medium"
    emitter: Literal["radiator", "floor"] = "radiator"
    design_supply: Annotated[float, Field(gt=20, lt=150)] = 85.0
    design_return: Annotated[float, Field(gt=15, lt=150)] = 60.0
    exponent: Annotated[float, Field(ge=1.0, le=1.6)] | None = None
    radiator_sizing: Annotated[float, Field(gt=0.1, le=3.0)] = 1.0
    flow_share: Annotated[float, Field(gt=0.1, le=3.0)] = 1.0
    rooms: Annotated[list[Room], Field(min_length=1)]

    @model_validator(mode="after")
    def _temps(self) -> Building:
        if self.design_return >= self.design_supply:
            raise ValueError("design_return must be below design_supply")
        return self

    @property
    def emitter_exponent(self) -> float:
        """Emitter exponent m: radiators about 1.3, floor heating about 1.1."""
        if self.exponent is not None:
            return self.exponent
        return 1.3 if self.emitter == "radiator" else 1.1

    @property
    def design_heat_kw(self) -> float:
        return self.floor_area_m2 * self.heat_load_w_m2 / 1000.0


class SubstationDesign(Strict):
    primary_supply: float = 130.0
    primary_return: float = 70.0
    distance_m: Annotated[float, Field(ge=0, le=50_000)] = 2000.0
    pump_speed_hz: Annotated[float, Field(gt=0, le=60)] = 50.0


class Substation(Strict):
    id: Ident
    name: str = ""
    curve: str
    design: SubstationDesign = SubstationDesign()
    devices: Annotated[list[Device], Field(min_length=1)]
    buildings: Annotated[list[Building], Field(min_length=1)]

    @property
    def design_heat_kw(self) -> float:
        return sum(b.design_heat_kw for b in self.buildings)


class HeatSource(Strict):
    id: Ident = "src"
    name: str = ""
    supply_curve: str
    design_supply: float = 130.0
    design_return: float = 70.0
    devices: list[Device] = Field(default_factory=list)


class SteamCustomer(Strict):
    id: Ident
    name: str = ""
    design_mass_flow_t_h: Annotated[float, Field(gt=0, le=500)] = 8.0
    pressure_mpa: Annotated[float, Field(gt=0.1, le=10)] = 1.0
    temperature_c: Annotated[float, Field(gt=100, le=600)] = 250.0
    devices: list[Device] = Field(default_factory=list)


class AlarmLimit(Strict):
    role: str
    low: float | None = None
    high: float | None = None
    hysteresis: Annotated[float, Field(ge=0)] = 0.5
    delay: Seconds = 60.0
    priority: Literal["low", "medium", "high", "urgent"] = "medium"


FaultKind = Literal[
    "device_offline",
    "slow_replies",
    "exception_replies",
    "frozen_sensor",
    "spike",
    "leak",
    "stuck_valve",
    "undersized_radiators",
    "source_trip",
]


class Fault(Strict):
    """A fault the simulator injects, from `start` (after the simulation start) for `duration`."""

    kind: FaultKind
    target: str
    start: Seconds = 0.0
    duration: Seconds | None = None
    delay_s: Annotated[float, Field(ge=0)] = 5.0
    exception_code: Annotated[int, Field(ge=1, le=11)] = 4
    value: float | None = None
    flow_m3h: Annotated[float, Field(ge=0)] = 2.0
    position: Annotated[float, Field(ge=0, le=100)] | None = None
    factor: Annotated[float, Field(gt=0, le=1)] = 0.6


class Collector(Strict):
    """Store-and-forward and monitoring settings of `heatnet collect`."""

    buffer_path: str = "heatnet-buffer.sqlite"
    buffer_max_mb: Annotated[float, Field(gt=0)] = 1024.0
    buffer_max_age: Seconds = 7 * 86400.0
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 20_000  # samples per buffer row
    flush_interval: Seconds = 1.0
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    stale_after: Annotated[float, Field(gt=1)] = 3.0  # poll intervals without a good value


class DashboardSettings(Strict):
    """Who may use the board: named users in a file beside the site file, signed sessions.

    Passwords live in the users file as salted hashes (heatnet.users); the session
    cookie's signing key comes from the environment variable named by session_secret_env.
    """

    users_file: str | None = None  # relative to the site file
    session_secret_env: str | None = None
    require_login: bool | None = None  # default: on when a users file is configured

    @model_validator(mode="after")
    def _login(self) -> DashboardSettings:
        if self.login_required and self.users_file is None:
            raise ValueError("require_login needs users_file: the users who may log in")
        if self.login_required and self.session_secret_env is None:
            raise ValueError(
                "a login needs session_secret_env: the session key comes from the environment"
            )
        return self

    @property
    def login_required(self) -> bool:
        if self.require_login is None:
            return self.users_file is not None
        return self.require_login


class SiteConfig(Strict):
    """A whole site file, after includes are merged."""

    site: SiteInfo
    season: Season = Season()
    indoor: Indoor = Indoor()
    climate: Climate = Climate()
    historian: Historian = SqliteHistorian()
    collector: Collector = Collector()
    dashboard: DashboardSettings = DashboardSettings()
    simulation: Simulation = Simulation()
    include: list[str] = Field(default_factory=list)
    profiles: dict[str, Profile] = Field(default_factory=dict)
    curves: dict[str, Curve] = Field(default_factory=dict)
    heat_source: HeatSource
    substations: Annotated[list[Substation], Field(min_length=1)]
    steam_customers: list[SteamCustomer] = Field(default_factory=list)
    alarms: list[AlarmLimit] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)

    _source: Path | None = PrivateAttr(default=None)

    def bind_source(self, path: Path) -> None:
        """Remember the file this site came from, for paths written relative to it."""
        self._source = path

    @property
    def source(self) -> Path | None:
        return self._source

    def resolve(self, relative: str) -> Path:
        """A path from the file, taken relative to the file's folder."""
        base = self._source.parent if self._source else Path.cwd()
        return (base / relative).resolve()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def assets(self) -> list[tuple[str, Substation | HeatSource | SteamCustomer]]:
        """Every asset that has devices, with its kind: source, substations, steam customers."""
        return [
            ("source", self.heat_source),
            *(("substation", s) for s in self.substations),
            *(("steam", c) for c in self.steam_customers),
        ]
