"""The simulated PLCs' OPC UA servers: one asyncua server per endpoint of the site's devices.

Devices that share a host and port share a server (and must share its security). The
address space is `simulators.opcua_space`; this module runs the servers, admits users,
routes client writes to the plant and plays communication faults.

Faults (`PlcBackend.device_status`) take effect on each `refresh()`:

- offline: once every device on an endpoint is offline the endpoint stops listening and
  drops its sessions; it listens again on the first refresh after one recovers. A device
  offline on an endpoint it shares with a healthy one serves BadNoCommunication.
- exception_code: the device's variables read with a Bad status (`exception_status`)
  and writes to them are refused with it.
- delay_s: every Read and Write call from a client waits the longest delay of the
  endpoint's devices before it is answered; Browse and subscription publishing are not
  slowed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from asyncua import Server, ua
from asyncua.common.callback import CallbackService, CallbackType, ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AddressSpace, AttributeService
from asyncua.server.internal_server import InternalServer
from asyncua.server.user_managers import UserManager

from heatnet.config import OpcUaDevice
from simulators.certs import generate_certificate
from simulators.opcua_space import (
    PointVariable,
    build_address_space,
    plc_time,
    served_value,
    written_number,
)
from simulators.plc import DeviceStatus, PlcBackend, WriteRefused

log = logging.getLogger(__name__)

DEFAULT_PORT = 4840

# Modbus-style exception codes (the fault model's vocabulary) -> OPC UA status codes.
EXCEPTION_STATUS: dict[int, int] = {
    6: ua.StatusCodes.BadResourceUnavailable,  # server device busy
    10: ua.StatusCodes.BadCommunicationError,  # gateway path unavailable
    11: ua.StatusCodes.BadCommunicationError,  # gateway target failed to respond
}

SECURITY_POLICIES: dict[tuple[str, str], ua.SecurityPolicyType] = {
    ("None", "None"): ua.SecurityPolicyType.NoSecurity,
    ("Basic256Sha256", "Sign"): ua.SecurityPolicyType.Basic256Sha256_Sign,
    ("Basic256Sha256", "SignAndEncrypt"): ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


class OpcUaServerError(Exception):
    """A simulated OPC UA server cannot be set up or started; the message names the endpoint."""


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """What one server offers, for the startup printout."""

    url: str
    device_keys: tuple[str, ...]
    security_policy: str
    security_mode: str
    username: str | None
    certificate: Path | None

    def __str__(self) -> str:
        devices = ", ".join(self.device_keys)
        user = f"user {self.username}" if self.username else "anonymous"
        if self.security_policy == "None":
            return f"{self.url} ({devices}; no security, {user})"
        security = f"{self.security_policy}/{self.security_mode}"
        return f"{self.url} ({devices}; {security}, {user}, certificate {self.certificate})"


def exception_status(exception_code: int) -> int:
    """The status code a variable reads with while a device exception is in force."""
    return EXCEPTION_STATUS.get(exception_code, ua.StatusCodes.BadDeviceFailure)


def _fault_status(status: DeviceStatus) -> int | None:
    if status.offline:
        return ua.StatusCodes.BadNoCommunication
    if status.exception_code is not None:
        return exception_status(status.exception_code)
    return None


class _DeviceUser(UserManager):
    """Admits anyone on an open endpoint, else only the device's configured user."""

    def __init__(self, username: str | None, password: str | None) -> None:
        self._username = username
        self._password = password

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if self._username is None:
            return User(role=UserRole.User)
        if (
            username == self._username
            and password is not None
            and self._password is not None
            and hmac.compare_digest(password.encode(), self._password.encode())
        ):
            return User(role=UserRole.User, name=username)
        return None


class _PointWrites(AttributeService):
    """Routes client writes of point values to the plant; everything else as asyncua does."""

    def __init__(self, aspace: AddressSpace, endpoint: _Endpoint) -> None:
        super().__init__(aspace)
        self._endpoint = endpoint

    async def write(
        self,
        params: ua.WriteParameters,
        user: User = User(role=UserRole.Admin),  # noqa: B008  (asyncua's signature)
    ) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            variable = self._endpoint.variables.get(item.NodeId)
            if variable is None or item.AttributeId != ua.AttributeIds.Value:
                results += await super().write(ua.WriteParameters(NodesToWrite=[item]), user)
            else:
                results.append(await self._endpoint.write_point(variable, item.Value))
        return results


class _Endpoint:
    """One asyncua server and the devices it answers for."""

    def __init__(
        self,
        backend: PlcBackend,
        device: OpcUaDevice,
        device_keys: tuple[str, ...],
        variables: list[PointVariable],
    ) -> None:
        self.backend = backend
        self.device = device
        self.url = device.endpoint
        self.device_keys = device_keys
        self.variables = {v.node_id: v for v in variables}
        self.site = variables[0].spec.path.split("/", 1)[0]
        self.certificate: Path | None = None
        self.server: Server | None = None
        self.listening = False
        self.delay_s = 0.0

    @property
    def secured(self) -> bool:
        return self.device.security_policy != "None"

    def info(self) -> EndpointInfo:
        return EndpointInfo(
            url=self.url,
            device_keys=self.device_keys,
            security_policy=self.device.security_policy,
            security_mode=self.device.security_mode,
            username=self.device.username,
            certificate=self.certificate,
        )

    async def start(self, cert_dir: Path | None) -> None:
        """Build the address space and listen; the server is kept only once it listens."""
        server = Server(user_manager=_DeviceUser(self.device.username, self._password()))
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name(f"heatnet simulated PLC {', '.join(self.device_keys)}")
        app_uri = f"urn:heatnet:simulator:{self.site}:{self.device_keys[0]}"
        await server.set_application_uri(app_uri)
        await server.register_namespace(f"urn:heatnet:{self.site}")  # the first: index 2
        policy = SECURITY_POLICIES[(self.device.security_policy, self.device.security_mode)]
        server.set_security_policy([policy])
        if self.secured:
            assert cert_dir is not None
            await self._load_certificate(server, cert_dir, app_uri)
        token = ua.UserNameIdentityToken if self.device.username else ua.AnonymousIdentityToken
        server.set_identity_tokens([token])
        await build_address_space(server, list(self.variables.values()))
        server.iserver.attribute_service = _PointWrites(server.iserver.aspace, self)
        server.subscribe_server_callback(CallbackType.PreRead, self._slow_reply)
        server.subscribe_server_callback(CallbackType.PreWrite, self._slow_reply)
        try:
            await server.start()
        except OSError as err:
            host, port = server.endpoint.hostname, server.endpoint.port
            raise OpcUaServerError(
                f"OPC UA endpoint {self.url}: cannot listen on {host}:{port}: {err.strerror}"
            ) from err
        self.server = server
        self.listening = True

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
            self.listening = False

    def _password(self) -> str | None:
        env = self.device.password_env
        if env is None:
            return None
        password = os.environ.get(env)
        if password is None:
            raise OpcUaServerError(
                f"OPC UA endpoint {self.url}: the password of user {self.device.username!r} "
                f"comes from environment variable {env}, which is not set"
            )
        return password

    async def _load_certificate(self, server: Server, cert_dir: Path, app_uri: str) -> None:
        """Reuse the endpoint's certificate from cert_dir, generating it the first time."""
        stem = self.device_keys[0].replace("/", "-")
        path_cert, path_key = cert_dir / f"{stem}.cert.pem", cert_dir / f"{stem}.key.pem"
        if not (path_cert.exists() and path_key.exists()):
            hostnames = [server.endpoint.hostname or "localhost", "localhost", socket.gethostname()]
            generate_certificate(path_cert, path_key, stem, app_uri, hostnames)
        await server.load_certificate(path_cert)
        await server.load_private_key(path_key)
        self.certificate = path_cert

    async def refresh(self, values: np.ndarray, source: datetime, now: datetime) -> None:
        """Follow the devices' faults and serve the current values."""
        assert self.server is not None and self.server.bserver is not None
        statuses = {key: self.backend.device_status(key) for key in self.device_keys}
        self.delay_s = max(s.delay_s for s in statuses.values())
        offline = all(s.offline for s in statuses.values())
        if offline and self.listening:
            log.info("OPC UA endpoint %s goes offline", self.url)
            await self.server.bserver.stop()
            self.listening = False
        elif not offline and not self.listening:
            log.info("OPC UA endpoint %s is back online", self.url)
            try:
                await self.server.bserver.start()
            except OSError as err:
                raise OpcUaServerError(
                    f"OPC UA endpoint {self.url}: cannot listen again: {err.strerror}"
                ) from err
            self.listening = True
        if not self.listening:
            return
        faults = {key: _fault_status(status) for key, status in statuses.items()}
        for variable in self.variables.values():
            fault = faults[variable.spec.device_key]
            if fault is None:
                served = served_value(variable, self._value(variable, values), source, now)
            else:
                served = ua.DataValue(StatusCode=ua.StatusCode(fault), ServerTimestamp=now)
            await self.server.write_attribute_value(variable.node_id, served)

    def _value(self, variable: PointVariable, values: np.ndarray) -> float | str:
        if variable.variant == ua.VariantType.String:
            return self.backend.text(variable.spec.path)
        return float(values[variable.index])

    async def write_point(self, variable: PointVariable, written: ua.DataValue) -> ua.StatusCode:
        """Apply a client's write to the plant; the variable shows the new value at once."""
        assert self.server is not None
        spec = variable.spec
        fault = _fault_status(self.backend.device_status(spec.device_key))
        if fault is not None:
            return ua.StatusCode(fault)
        if not spec.point.writable:
            return ua.StatusCode(ua.StatusCodes.BadNotWritable)
        value = written_number(variable, written)
        if value is None:
            return ua.StatusCode(ua.StatusCodes.BadTypeMismatch)
        try:
            self.backend.write(spec.path, value)
        except WriteRefused as err:
            log.info("OPC UA endpoint %s: write refused: %s", self.url, err)
            return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
        source = plc_time(self.backend.now_ms())
        served = served_value(variable, value, source, datetime.now(UTC))
        await self.server.write_attribute_value(variable.node_id, served)
        return ua.StatusCode()

    async def _slow_reply(self, event: ServerItemCallback, _: CallbackService) -> None:
        if event.is_external and self.delay_s > 0:
            await asyncio.sleep(self.delay_s)


def _endpoints(backend: PlcBackend) -> list[_Endpoint]:
    """Group the site's OPC UA points by the host and port their device listens on."""
    groups: dict[tuple[str, int], list[PointVariable]] = {}
    for index, spec in enumerate(backend.points):
        device = spec.device
        if not isinstance(device, OpcUaDevice):
            continue
        try:
            variable = PointVariable.of(index, spec)
        except ValueError as err:
            raise OpcUaServerError(f"OPC UA endpoint {device.endpoint}: {err}") from err
        url = urlparse(device.endpoint)
        groups.setdefault((url.hostname or "", url.port or DEFAULT_PORT), []).append(variable)
    endpoints = []
    for variables in groups.values():
        devices: dict[str, OpcUaDevice] = {}
        for variable in variables:
            assert isinstance(variable.spec.device, OpcUaDevice)
            devices.setdefault(variable.spec.device_key, variable.spec.device)
        first, *others = devices.values()
        for other in others:
            security = (other.security_policy, other.security_mode, other.username)
            if security != (first.security_policy, first.security_mode, first.username):
                raise OpcUaServerError(
                    f"OPC UA endpoint {first.endpoint}: devices on one port must share security "
                    f"and user, and {other.endpoint} does not"
                )
        endpoints.append(_Endpoint(backend, first, tuple(devices), variables))
    return endpoints


class OpcUaPlcServers:
    """The OPC UA servers of every simulated PLC of a site, serving one PlcBackend.

    Call `refresh()` after each model step: it serves the new values and plays faults.
    """

    def __init__(self, backend: PlcBackend, *, cert_dir: Path | None = None) -> None:
        self._backend = backend
        self._cert_dir = cert_dir
        self._endpoints = _endpoints(backend)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def endpoints(self) -> list[EndpointInfo]:
        return [endpoint.info() for endpoint in self._endpoints]

    async def start(self) -> None:
        """Start every server and serve the current values; all or none are left running.

        Secured endpoints keep their certificates in cert_dir (generated when missing);
        without one they get fresh certificates in a folder removed by stop().
        """
        cert_dir = self._cert_dir
        if cert_dir is None and any(e.secured for e in self._endpoints):
            self._scratch = tempfile.TemporaryDirectory(prefix="heatnet-opcua-")
            cert_dir = Path(self._scratch.name)
        try:
            for endpoint in self._endpoints:
                await endpoint.start(cert_dir)
            await self.refresh()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await asyncio.gather(*(endpoint.stop() for endpoint in self._endpoints))
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    async def refresh(self) -> None:
        """Serve backend.values() stamped with the simulated PLC clock, and follow faults."""
        values = self._backend.values()
        source, now = plc_time(self._backend.now_ms()), datetime.now(UTC)
        for endpoint in self._endpoints:
            await endpoint.refresh(values, source, now)
