"""Self-signed TLS material for the lab's HTTPS devices.

Real OPNsense and Synology boxes ship with a self-signed certificate until the
practice installs its own; the lab does the same. One EC key and certificate
per lab run directory is shared by every HTTPS device of the process. It
names localhost, 127.0.0.1 and every device address given (IP SANs), so a
client that validates the certificate with it as CA (the lab site files say
``validate_certs: true`` and ``ca_path``) also checks the address. It is made
again when an address is missing or it expires within 30 days.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _covers(cert_path: Path, wanted: set, now: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return wanted <= set(names.get_values_for_type(x509.IPAddress)) and \
        cert.not_valid_after_utc > now + dt.timedelta(days=30)


def ensure_certificate(run_dir: Path, addresses: Iterable[str] = ()) -> tuple[Path, Path]:
    """Return (cert, key) paths in run_dir, creating them when missing, expiring
    or not naming every one of ``addresses``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = run_dir / "lab-cert.pem", run_dir / "lab-key.pem"
    wanted = {ipaddress.ip_address(a) for a in [*addresses, "127.0.0.1"]}
    now = dt.datetime.now(dt.timezone.utc)
    if key_path.exists() and cert_path.exists() and _covers(cert_path, wanted, now):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "praxisops-lab"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "praxisops lab")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost")] + [x509.IPAddress(ip) for ip in sorted(wanted)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_atomic(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()), 0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def server_context(run_dir: Path) -> ssl.SSLContext:
    cert, key = ensure_certificate(run_dir)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
