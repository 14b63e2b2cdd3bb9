# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Who answers: the recorded identity of every device (docs/device-identity.md).

Each device proves who it is before it gets a password: an SSH device by its
host key, an HTTPS device with the factory's self-signed certificate by that
certificate. The first appointment records both (trust on first use, the
fingerprint shown to the technician, who compares it with the device); every
later connection compares what the device presents with the record, and a
different key or certificate stops the connection before anything is sent.

Fingerprints are written as ``ssh-keygen -l`` prints them: ``SHA256:`` and the
unpadded base64 of the SHA-256 of the key blob (SSH) or of the DER certificate
(TLS). A pin given in the site file (``tls_fingerprint``) may also be in the
hex form ``openssl x509 -fingerprint -sha256`` and browsers show.

The records live in the ledger's table ``device_identity``
(``praxis_ledger.identity``/``record_identity``).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import re
from typing import Any

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_driver import (
    HostKeyMismatch, IdentityUnknown, Target, TLSMismatch,
)

try:
    import paramiko
except ImportError:  # pragma: no cover - the controller installs it (requirements.txt)
    paramiko = None

MODES = ("strict", "record")
KINDS = ("ssh", "tls")
IDENTITY_PLAYBOOK = "playbooks/device_identity.yml"
_HEX = re.compile(r"^(?:sha256[:=]?\s*)?((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$", re.I)
_B64 = re.compile(r"^(?:sha256[:/]+)?([A-Za-z0-9+/]{43})=?$", re.I)


def fingerprint(blob: bytes) -> str:
    """``SHA256:<base64>`` of a key blob or DER certificate, as ssh-keygen -l prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def hex_form(value: str) -> str:
    """The same fingerprint as colon-separated hex (openssl, browsers)."""
    raw = base64.b64decode(value.split(":", 1)[1] + "=")
    return ":".join(f"{b:02X}" for b in raw)


def normalize_pin(value: Any, field: str = "tls_fingerprint") -> str:
    """A pin as ``SHA256:<base64>``; ValueError naming ``field`` and the value."""
    text = str(value or "").strip()
    hex_match = _HEX.match(text)
    if hex_match:
        raw = bytes.fromhex(hex_match.group(1).replace(":", ""))
        return "SHA256:" + base64.b64encode(raw).decode().rstrip("=")
    b64_match = _B64.match(text)
    if b64_match:
        return "SHA256:" + b64_match.group(1)
    raise ValueError(f"{field} {text!r} is not a SHA-256 fingerprint: give 'SHA256:<base64>' as ssh-keygen -l "
                     "prints it or the 32 hex bytes openssl x509 -fingerprint -sha256 prints")


def who(task_vars: dict[str, Any] | None = None) -> str:
    """Who accepts: the AWX user when AWX runs the job, else the controller's user."""
    task_vars = task_vars or {}
    for name in ("awx_user_name", "tower_user_name"):
        if task_vars.get(name):
            return f"{task_vars[name]} (AWX)"
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry (container)
        return f"uid {os.getuid()}"


def store_host(target: Target) -> str:
    return target.host


def _describe(kind: str) -> str:
    return "SSH host key" if kind == "ssh" else "TLS certificate"


class IdentityStore:
    """The identity check of one run: ``check()`` is called by the drivers
    with what a device presents, before any credential is sent.

    ``mode``: ``strict`` fails on a device without a record (naming how to
    record it); ``record`` records it (trust on first use). A record that
    differs fails in both modes unless ``accept`` (with ``reason``) is set,
    which replaces the record and logs who and why. In check mode nothing is
    written. ``events`` lists what happened, ``warnings`` what the technician
    must see (fingerprints recorded on first use, unpinned TLS)."""

    def __init__(self, ledger: str | None, mode: str = "strict", *, accept: bool = False, reason: str = "",
                 accepted_by: str = "", check_mode: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"praxis_device_identity must be one of {', '.join(MODES)}, got {mode!r}")
        if accept and not str(reason or "").strip():
            raise ValueError("accepting a changed device identity needs a reason: "
                             "-e praxis_force_reason='ticket ...'")
        self.ledger = ledger
        self.mode = mode
        self.accept = accept
        self.reason = str(reason or "").strip()
        self.accepted_by = accepted_by or who()
        self.check_mode = check_mode
        self.events: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self._seen: dict[tuple[str, str], str] = {}

    def _event(self, target: Target, kind: str, algorithm: str, fp: str, status: str) -> None:
        self.events.append({"host": store_host(target), "kind": kind, "algorithm": algorithm,
                            "fingerprint": fp, "status": status})

    def check(self, target: Target, kind: str, algorithm: str, fp: str) -> str:
        """Raise IdentityUnknown / HostKeyMismatch / TLSMismatch, or return
        ``known``, ``recorded``, ``would record``, ``accepted``."""
        host = store_host(target)
        if self._seen.get((host, kind)) == fp:     # same session, already checked
            return "known"
        what = _describe(kind)
        record = praxis_ledger.identity(self.ledger, host, kind) if self.ledger else None
        if record is not None and record["fingerprint"] == fp:
            self._seen[(host, kind)] = fp
            self._event(target, kind, algorithm, fp, "known")
            return "known"
        accept_cmd = (f"ansible-playbook {IDENTITY_PLAYBOOK} -l {host} -e praxis_identity_accept=true "
                      f"-e \"praxis_force_reason='ticket ...'\"")
        if record is not None:
            if not self.accept:
                error = HostKeyMismatch if kind == "ssh" else TLSMismatch
                raise error(target, f"the {what} changed: the device presents {algorithm} {fp}, recorded is "
                                    f"{record['algorithm']} {record['fingerprint']} (since {record['first_seen']}, "
                                    f"{record['accepted_by']}). Nothing was sent. This means the device was "
                                    "replaced or reset to factory settings, or someone is intercepting the "
                                    "connection: check on site before going on. After a planned replacement, "
                                    f"compare {fp} with the device and accept it: {accept_cmd}")
            status = "would accept" if self.check_mode else "accepted"
            if not self.check_mode:
                praxis_ledger.record_identity(self.ledger, host=host, kind=kind, algorithm=algorithm,
                                              fingerprint=fp, accepted_by=self.accepted_by,
                                              accepted_reason=self.reason)
            self.warnings.append(f"{host}: new {what} {algorithm} {fp} {status} in place of "
                                 f"{record['fingerprint']} by {self.accepted_by}: {self.reason}")
        else:
            if self.mode != "record" or not self.ledger:
                raise IdentityUnknown(target, f"no {what} is recorded for {host} (it presents {algorithm} {fp}); "
                                              "nothing was sent. Record it once, comparing the fingerprint with the "
                                              f"device: ansible-playbook {IDENTITY_PLAYBOOK} -l {host} (or the "
                                              "onboarding playbooks/onboard_network.yml)")
            status = "would record" if self.check_mode else "recorded"
            if not self.check_mode:
                praxis_ledger.record_identity(self.ledger, host=host, kind=kind, algorithm=algorithm,
                                              fingerprint=fp, accepted_by=self.accepted_by,
                                              accepted_reason=self.reason or "trust on first use")
            self.warnings.append(f"{host}: {what} {status} on first use: {algorithm} {fp}"
                                 + (f" ({hex_form(fp)})" if kind == "tls" else "")
                                 + "; compare it with the one the device shows")
        self._seen[(host, kind)] = fp
        self._event(target, kind, algorithm, fp, status)
        return status


def check_tls_fingerprint(target: Target, fp: str) -> None:
    """The presented certificate against the site file's ``tls_fingerprint``."""
    if fp != target.tls_fingerprint:
        raise TLSMismatch(target, f"the TLS certificate is not the one pinned in the site file "
                                  f"(tls_fingerprint {target.tls_fingerprint}): the device presents {fp}. "
                                  "Nothing was sent. The device was replaced or reset, or someone is "
                                  "intercepting the connection: check on site; after a planned replacement "
                                  "put the new fingerprint in the site file")


def check_tls(target: Target, der: bytes | None) -> None:
    """Compare the presented certificate with the site file's pin, else the
    recorded one (``target.identity``); raise before anything is sent."""
    if not der:
        raise TLSMismatch(target, "the device presented no TLS certificate; nothing was sent")
    fp = fingerprint(der)
    if target.tls_fingerprint:
        check_tls_fingerprint(target, fp)
        return
    if target.identity is None:
        raise IdentityUnknown(target, f"TLS validation is off and the certificate ({fp}) is pinned nowhere; "
                                      "nothing was sent. Pin it: tls_fingerprint in the site file or "
                                      f"ansible-playbook {IDENTITY_PLAYBOOK} -l {target.host}")
    target.identity.check(target, "tls", "x509", fp)


def ssh_key_check(target: Target, key: Any) -> None:
    """Check a paramiko server key against the store (or fail: no store)."""
    fp = fingerprint(key.asbytes())
    if target.identity is None:
        raise IdentityUnknown(target, f"the SSH host key {key.get_name()} {fp} is in no known_hosts file and no "
                                      f"identity store is used; nothing was sent. Record it: "
                                      f"ansible-playbook {IDENTITY_PLAYBOOK} -l {target.host}")
    target.identity.check(target, "ssh", key.get_name(), fp)


if paramiko is not None:
    class IdentityPolicy(paramiko.MissingHostKeyPolicy):
        """paramiko calls this after the key exchange and before any
        authentication, for a key found in no loaded known_hosts: check it
        against the identity store. The exceptions are no SSHException, so
        netmiko passes them through unchanged."""

        def __init__(self, target: Target) -> None:
            self.target = target

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            ssh_key_check(self.target, key)
else:  # pragma: no cover
    IdentityPolicy = None  # type: ignore[assignment,misc]


def ssh_client(target: Target, known_hosts: str | None = None) -> Any:
    """A paramiko SSHClient that checks the server's key before it authenticates:
    against ``known_hosts`` when given (a known key that differs is a
    mismatch), else against the identity store."""
    client = paramiko.SSHClient()
    if known_hosts:
        client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(IdentityPolicy(target))
    return client


def probe(target: Target, kind: str) -> tuple[str, str]:
    """(algorithm, fingerprint) the device presents, without logging in."""
    import socket
    import ssl

    port = target.port or (22 if kind == "ssh" else 443)
    if kind == "tls":
        context = ssl._create_unverified_context()  # noqa: S323 - only to read the certificate; nothing is sent
        with socket.create_connection((target.address, port), timeout=target.timeout) as sock:
            with context.wrap_socket(sock, server_hostname=target.address) as tls:
                return "x509", fingerprint(tls.getpeercert(binary_form=True) or b"")
    sock = socket.create_connection((target.address, port), timeout=target.timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = target.timeout
        transport.start_client(timeout=target.timeout)
        key = transport.get_remote_server_key()
        return key.get_name(), fingerprint(key.asbytes())
    finally:
        transport.close()
