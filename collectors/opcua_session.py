"""Opening an OPC UA session to a device (security, server trust, login) and its errors.

asyncua's exceptions are translated where it is called, into one tree whose `reason` is
what the device's samples are marked with:

    OpcUaError                    names the device; .reason: the samples' QualityReason
     ├── OpcUaUnreachable          no connection, or it dropped             comms_lost
     ├── OpcUaTimeout              no answer within the device's timeout_s  timeout
     ├── OpcUaServiceFault         the server refused a call                from its status
     ├── OpcUaSetupError           certificate files or password missing    comms_lost
     └── OpcUaRefused              the server refused the session           comms_lost
          ├── OpcUaUntrustedServer  its certificate is not the trusted one
          └── OpcUaLoginRefused     user name or password refused
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from collectors.opcua_quality import status_quality
from heatnet.config import OpcUaDevice
from heatnet.points import QualityReason

_LOGIN_REFUSED = {
    ua.StatusCodes.BadUserAccessDenied,
    ua.StatusCodes.BadIdentityTokenRejected,
    ua.StatusCodes.BadIdentityTokenInvalid,
}
_SECURITY_MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
SESSION_TIMEOUT_MS = 60_000  # how long a server keeps the session of a collector gone silent
_LIMITS = (
    ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead),
    ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall),
)


class OpcUaError(Exception):
    """A device's OPC UA trouble; the message names the device, `reason` marks its samples."""

    reason = QualityReason.COMMS_LOST

    def __init__(self, device_key: str, message: str) -> None:
        super().__init__(f'OPC UA device "{device_key}": {message}')


class OpcUaUnreachable(OpcUaError):
    """No connection to the server, or it dropped."""


class OpcUaTimeout(OpcUaError):
    reason = QualityReason.TIMEOUT


class OpcUaServiceFault(OpcUaError):
    """The server answered a service call with a Bad status."""

    def __init__(self, device_key: str, message: str, reason: QualityReason) -> None:
        super().__init__(device_key, message)
        self.reason = reason


class OpcUaSetupError(OpcUaError):
    """The device's security settings cannot be used: a file or a password is missing."""


class OpcUaRefused(OpcUaError):
    """The server refused the secure channel or the session."""


class OpcUaUntrustedServer(OpcUaRefused):
    """The server's certificate is not the one the operator trusts."""


class OpcUaLoginRefused(OpcUaRefused):
    """The server refused the user name or password."""


def translate(err: Exception, device_key: str, doing: str, timeout_s: float) -> OpcUaError:
    """The OpcUaError for an exception raised by asyncua while `doing` something."""
    if isinstance(err, OpcUaError):
        return err
    if isinstance(err, TimeoutError):
        return OpcUaTimeout(device_key, f"{doing}: no answer within {timeout_s:g} s")
    if isinstance(err, ua.UaStatusCodeError):
        status = ua.StatusCode(err.code)
        if err.code in _LOGIN_REFUSED:
            return OpcUaLoginRefused(device_key, f"{doing}: login refused ({status.name})")
        reason = status_quality(err.code)[1]
        message = f"{doing}: {status.name}"
        if reason == QualityReason.TIMEOUT:
            return OpcUaTimeout(device_key, message)
        if reason == QualityReason.COMMS_LOST:
            return OpcUaUnreachable(device_key, message)
        return OpcUaServiceFault(device_key, message, reason)
    if isinstance(err, OSError):  # ConnectionError and refused or reset sockets
        return OpcUaUnreachable(device_key, f"{doing}: {err or type(err).__name__}")
    if isinstance(err, ua.UaError):
        return OpcUaRefused(device_key, f"{doing}: {err}")
    raise err


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()[:16]


def _certificate_der(path: Path, device_key: str, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise OpcUaSetupError(device_key, f"cannot read {what} {path}: {err.strerror}") from err
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            certificate = x509.load_der_x509_certificate(data)
        except ValueError as err:
            raise OpcUaSetupError(device_key, f"{what} {path} is not a certificate") from err
    return certificate.public_bytes(Encoding.DER)


def _application_uri(der: bytes, device_key: str, path: Path) -> str:
    """The client's application URI: the one its certificate names, as servers check."""
    certificate = x509.load_der_x509_certificate(der)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        names = None
    uris = names.value.get_values_for_type(x509.UniformResourceIdentifier) if names else []
    if not uris:
        raise OpcUaSetupError(device_key, f"certificate {path} names no application URI")
    return uris[0]


async def _trust_server(client: Client, device: OpcUaDevice, device_key: str, base: Path) -> Path:
    """The trusted server certificate's path, once the server shows that very certificate."""
    mode = _SECURITY_MODES[device.security_mode]
    endpoints = await client.connect_and_get_server_endpoints()
    offered = next(
        (
            e
            for e in endpoints
            if e.SecurityMode == mode and e.SecurityPolicyUri == SecurityPolicyBasic256Sha256.URI
        ),
        None,
    )
    if offered is None:
        raise OpcUaRefused(
            device_key,
            f"the server offers no {device.security_policy}/{device.security_mode} endpoint",
        )
    served = x509.load_der_x509_certificate(offered.ServerCertificate, None)
    served_der = served.public_bytes(Encoding.DER)
    if device.server_certificate is None:
        raise OpcUaUntrustedServer(
            device_key,
            f"server certificate {_fingerprint(served_der)} (SHA-256) is not trusted; "
            "set server_certificate to its file to trust it",
        )
    trusted_path = base / device.server_certificate
    trusted = _certificate_der(trusted_path, device_key, "server_certificate")
    if served_der != trusted:
        raise OpcUaUntrustedServer(
            device_key,
            f"server certificate {_fingerprint(served_der)} (SHA-256) does not match the trusted "
            f"{trusted_path} ({_fingerprint(trusted)}); refusing to connect",
        )
    return trusted_path


async def _secure(client: Client, device: OpcUaDevice, device_key: str, base: Path) -> None:
    if device.certificate is None or device.private_key is None:
        raise OpcUaSetupError(
            device_key,
            f"security_policy {device.security_policy} needs certificate and private_key",
        )
    certificate, private_key = base / device.certificate, base / device.private_key
    der = _certificate_der(certificate, device_key, "certificate")
    if not private_key.is_file():
        raise OpcUaSetupError(device_key, f"cannot read private_key {private_key}")
    client.application_uri = _application_uri(der, device_key, certificate)
    trusted = await _trust_server(client, device, device_key, base)
    try:
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            str(certificate),
            str(private_key),
            server_certificate=str(trusted),
            mode=_SECURITY_MODES[device.security_mode],
        )
    except ValueError as err:
        raise OpcUaSetupError(device_key, f"cannot load private_key {private_key}: {err}") from err


def _password(device: OpcUaDevice, device_key: str) -> str:
    assert device.password_env is not None  # the config requires it with a username
    password = os.environ.get(device.password_env)
    if password is None:
        raise OpcUaSetupError(
            device_key,
            f"the password of user {device.username!r} comes from environment variable "
            f"{device.password_env}, which is not set",
        )
    return password


async def open_session(device: OpcUaDevice, device_key: str, base: Path) -> Client:
    """A connected client for the device; raises OpcUaError (never asyncua's exceptions)."""
    client = Client(
        device.endpoint,
        timeout=device.timeout_s,
        watchdog_intervall=max(1.0, device.timeout_s),
    )
    client.name = client.description = f"heatnet collector {device_key}"
    client.session_timeout = SESSION_TIMEOUT_MS
    try:
        if device.username is not None:
            client.set_user(device.username)
            client.set_password(_password(device, device_key))
        if device.security_policy != "None":
            await _secure(client, device, device_key, base)
        await client.connect()
    except Exception as err:
        raise translate(
            err, device_key, f"connecting to {device.endpoint}", device.timeout_s
        ) from err
    return client


async def operation_limits(client: Client) -> tuple[int | None, int | None]:
    """The server's MaxNodesPerRead and MaxMonitoredItemsPerCall; None where it sets none."""
    data = await client.uaclient.read_attributes(list(_LIMITS), ua.AttributeIds.Value)
    limits = [
        dv.Value.Value
        if dv.StatusCode.is_good() and dv.Value is not None and isinstance(dv.Value.Value, int)
        else 0
        for dv in data
    ]
    return limits[0] or None, limits[1] or None
