# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""BitLocker recovery-key escrow (WP-04, OPS-07).

One file per practice and host, ``<escrow_dir>/<site>/<host>.yml.vault``,
encrypted with ansible-vault and the play's vault secret, so a technician
opens it with ``ansible-vault view``. Its plain text is YAML
(docs/workplaces.md)::

    site: lab001
    host: lab001-ws01
    keys:
      - protector_id: "{8A5A...}"
        recovery_password: "123456-..."
        mount_point: "C:"
        first_seen: "2026-11-23T21:04:11+00:00"
        last_seen: "2026-11-23T21:04:11+00:00"

Keys are merged by ``protector_id``: a key the host no longer reports stays in
the file (a disk restored from an image may still need it); ``last_seen``
records when the host last reported it. The same protector reported with a
different password is refused and nothing is written.

A write goes through ``praxis_backup.LocalStore.write_atomic``: a temporary
file beside the target, flushed and fsynced, read back, decrypted and
compared with what was meant to be written, and only then renamed over the
old file; if anything fails before the rename the old file is untouched.
Files are 0600 in 0700 folders.

No function here returns, raises or logs a recovery password: errors name
the protector and the field, never the value. ``redact`` removes known
passwords (and anything shaped like one) from data that leaves the
controller's memory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any, Callable, Mapping

import yaml

from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_backup import SAFE_PART, Cipher, LocalStore
from ansible.module_utils.praxis_calendar import CalendarError, parse_timestamp

SUFFIX = ".yml.vault"
# A BitLocker recovery password: 48 digits in 8 groups of 6.
RECOVERY_PASSWORD = re.compile(r"^\d{6}(?:-\d{6}){7}$")
RECOVERY_PASSWORD_ANYWHERE = re.compile(r"(?<!\d)\d{6}(?:-\d{6}){7}(?!\d)")
PROTECTOR_ID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
HIDDEN = "********"
HEADER = ("# BitLocker recovery keys, escrowed by praxisops (WP-04). Keys are never removed from this file;\n"
          "# last_seen is when the host last reported the key. Hand a key to the practice only as agreed.\n")


class EscrowError(PraxisError, ValueError):
    """The escrow could not be read or written; nothing old was changed."""


def escrow_path(escrow_dir: str, site: str, host: str) -> str:
    """``<escrow_dir>/<site>/<host>.yml.vault``; site and host must be plain names."""
    for label, value in (("site", site), ("host", host)):
        if not isinstance(value, str) or not SAFE_PART.match(value):
            raise EscrowError(f"{label} name {value!r} is not usable as a file name")
    if not escrow_dir:
        raise EscrowError("escrow_dir is empty")
    return os.path.join(os.path.abspath(str(escrow_dir)), site, f"{host}{SUFFIX}")


def _now(value: Any) -> str:
    if value in (None, ""):
        return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        moment = parse_timestamp(value, "now")
    except CalendarError as exc:
        raise EscrowError(str(exc)) from None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _validate_document(document: Any, path: str, site: str, host: str) -> dict[str, Any]:
    if not isinstance(document, Mapping) or not isinstance(document.get("keys") or [], list):
        raise EscrowError(f"{path} does not hold an escrow document (site, host, keys)")
    if document.get("site") != site or document.get("host") != host:
        raise EscrowError(f"{path} belongs to {document.get('site')}/{document.get('host')}, not {site}/{host}")
    keys = []
    for index, key in enumerate(document.get("keys") or []):
        if not isinstance(key, Mapping) or not isinstance(key.get("protector_id"), str) \
                or not isinstance(key.get("recovery_password"), str):
            raise EscrowError(f"{path}: keys[{index}] has no protector_id and recovery_password")
        keys.append(dict(key))
    return {"site": site, "host": host, "keys": keys}


def read_escrow(path: str, cipher: Cipher, site: str, host: str) -> dict[str, Any]:
    """The escrow document of one host; an empty one when there is no file yet."""
    if not os.path.exists(path):
        return {"site": site, "host": host, "keys": []}
    try:
        with open(path, "rb") as handle:
            plain = cipher.decrypt(handle.read())
    except OSError as exc:
        raise EscrowError(f"{path} cannot be read: {exc.strerror or exc}") from None
    except ValueError:
        raise EscrowError(f"{path} cannot be decrypted with the vault secret of this run; "
                          "run with the provider's vault password") from None
    try:
        document = yaml.safe_load(plain.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise EscrowError(f"{path} decrypts, but is not YAML") from None
    return _validate_document(document, path, site, host)


def _check_reported(recovery_passwords: Any) -> list[tuple[str, str]]:
    """(protector id, password) pairs from the module's ``recovery_passwords``."""
    if recovery_passwords is None:
        return []
    if not isinstance(recovery_passwords, list):
        raise EscrowError(f"recovery_passwords must be a list, got {type(recovery_passwords).__name__}")
    pairs = []
    for index, item in enumerate(recovery_passwords):
        where = f"recovery_passwords[{index}]"
        if not isinstance(item, Mapping):
            raise EscrowError(f"{where} must be a mapping with KeyProtectorId and RecoveryPassword")
        protector = item.get("KeyProtectorId")
        password = item.get("RecoveryPassword")
        if not isinstance(protector, str) or not PROTECTOR_ID.match(protector.strip()):
            shown = protector if isinstance(protector, str) and not RECOVERY_PASSWORD_ANYWHERE.search(protector) \
                else type(protector).__name__
            raise EscrowError(f"{where}.KeyProtectorId {shown!r} is not a protector id ({{GUID}})")
        if not isinstance(password, str) or not RECOVERY_PASSWORD.match(password.strip()):
            raise EscrowError(f"{where}.RecoveryPassword of protector {protector.strip()} is not a BitLocker "
                              "recovery password (48 digits in 8 groups of 6); value not shown")
        pairs.append((protector.strip().upper(), password.strip()))
    return pairs


def merge_keys(document: Mapping[str, Any], recovery_passwords: Any, *, mount_point: str | None,
               now: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The document with the reported keys merged in, and the report
    ``[{protector_id, first_seen, new}]`` for the reported keys."""
    moment = _now(now)
    merged = {"site": document["site"], "host": document["host"], "keys": [dict(k) for k in document["keys"]]}
    by_id = {str(k["protector_id"]).upper(): k for k in merged["keys"]}
    report = []
    for protector, password in _check_reported(recovery_passwords):
        known = by_id.get(protector)
        if known is None:
            known = {"protector_id": protector, "recovery_password": password, "mount_point": mount_point,
                     "first_seen": moment, "last_seen": moment}
            merged["keys"].append(known)
            by_id[protector] = known
            report.append({"protector_id": protector, "first_seen": moment, "new": True})
            continue
        if known["recovery_password"] != password:
            raise EscrowError(f"protector {protector} is reported with a different recovery password than the "
                              "escrowed one; nothing was written (check the host and the escrow file)")
        known["last_seen"] = moment
        if mount_point and not known.get("mount_point"):
            known["mount_point"] = mount_point
        report.append({"protector_id": protector, "first_seen": known.get("first_seen"), "new": False})
    return merged, report


def _dump(document: Mapping[str, Any]) -> bytes:
    body = yaml.safe_dump(dict(document), default_flow_style=False, sort_keys=False, allow_unicode=True)
    return (HEADER + body).encode("utf-8")


def write_escrow(path: str, cipher: Cipher, document: Mapping[str, Any],
                 _after_write: Callable[[str], None] | None = None) -> None:
    """Encrypt and write atomically; the new file is read back, decrypted and
    compared before it replaces the old one. ``_after_write`` (tests) runs on
    the temporary file before it is verified."""
    plain = _dump(document)

    def verify(tmp: str) -> None:
        if _after_write is not None:
            _after_write(tmp)
        with open(tmp, "rb") as handle:
            stored = handle.read()
        try:
            back = yaml.safe_load(cipher.decrypt(stored).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError):
            raise EscrowError(f"the new escrow file for {path} could not be read back and decrypted; "
                              "the old file is unchanged") from None
        if back != yaml.safe_load(plain.decode("utf-8")):
            raise EscrowError(f"the new escrow file for {path} does not read back as written; "
                              "the old file is unchanged")

    try:
        LocalStore(os.path.dirname(path)).write_atomic(os.path.basename(path), cipher.encrypt(plain), verify=verify)
    except OSError as exc:
        raise EscrowError(f"escrow file {path} could not be written: {exc.strerror or exc}; "
                          "the old file is unchanged") from None


def escrow_keys(escrow_dir: str, cipher: Cipher, site: str, host: str, recovery_passwords: Any, *,
                mount_point: str | None = None, now: Any = None, check_mode: bool = False,
                _after_write: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Merge the reported keys into the host's escrow file.

    Returns ``{path, escrow, changed, written, escrowed_ids}``: ``escrow`` is
    ``[{protector_id, first_seen, new}]`` for the reported keys, ``changed``
    is true when a key was new, ``written`` whether the file was (re)written
    (``last_seen`` is refreshed on every run that reports keys), and
    ``escrowed_ids`` every protector id the file holds afterwards. In check
    mode nothing is written."""
    path = escrow_path(escrow_dir, site, host)
    document = read_escrow(path, cipher, site, host)
    merged, report = merge_keys(document, recovery_passwords, mount_point=mount_point, now=now)
    changed = any(item["new"] for item in report)
    written = bool(report) and not check_mode
    if written:
        write_escrow(path, cipher, merged, _after_write=_after_write)
    return {"path": path, "escrow": report, "changed": changed, "written": written,
            "escrowed_ids": sorted(str(k["protector_id"]).upper() for k in merged["keys"])}


def escrowed(escrow_dir: str, cipher: Cipher, site: str, host: str) -> dict[str, str | None]:
    """``{protector id: first_seen}`` of the keys already in the host's escrow
    file; reading it proves that this run's vault secret opens it."""
    path = escrow_path(escrow_dir, site, host)
    return {str(k["protector_id"]).upper(): k.get("first_seen") for k in read_escrow(path, cipher, site, host)["keys"]}


def redact(value: Any, secrets: list[str] | tuple[str, ...] = ()) -> Any:
    """A copy of ``value`` (dicts, lists, strings) in which every given secret
    and everything shaped like a recovery password is replaced by ********."""
    known = [s for s in secrets if isinstance(s, str) and s]
    if isinstance(value, str):
        for secret in known:
            value = value.replace(secret, HIDDEN)
        return RECOVERY_PASSWORD_ANYWHERE.sub(HIDDEN, value)
    if isinstance(value, Mapping):
        return {key: redact(item, known) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, known) for item in value]
    return value
