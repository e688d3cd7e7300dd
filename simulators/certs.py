"""Self-signed OPC UA application certificates, for the simulated PLCs and for test clients.

An OPC UA application certificate names the application URI in its subjectAltName
(peers check it against the ApplicationDescription) and the host names it serves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_BITS = 2048  # Basic256Sha256 allows 2048 to 4096 bit RSA keys


def _alt_name(hostname: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(hostname)


def generate_certificate(
    path_cert: Path,
    path_key: Path,
    common_name: str,
    app_uri: str,
    hostnames: Sequence[str],
    *,
    days: int = 3650,
) -> None:
    """Write a self-signed certificate and its unencrypted RSA key, both PEM.

    The certificate serves as either end of a connection (server and client auth), so
    a test client can use the same function for its own certificate.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(app_uri)]
    alt_names += [_alt_name(h) for h in dict.fromkeys(hostnames)]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path_cert.parent.mkdir(parents=True, exist_ok=True)
    path_key.parent.mkdir(parents=True, exist_ok=True)
    path_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path_key.chmod(0o600)
    path_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
