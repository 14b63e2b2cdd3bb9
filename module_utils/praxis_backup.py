# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Backup vault (NET-02, WP-04): encrypted, verified, rotated copies.

Layout of a store (local folder or SFTP): ``<site>/<device>/`` holds the
encrypted copies ``<YYYYmmddTHHMMSSZ>-<sha256[:12]><suffix>.vault`` and
``manifest.json`` (names, sizes, checksums of the plain text; no content, no
secret). Every file is written to a temporary name and renamed into place.

``store_backup`` never deletes anything before the new copy has been read
back, decrypted, checked against its checksum and parsed by the caller's
validator; rotation then keeps the newest ``keep`` copies. A copy whose plain
text equals the newest one is not written again (the check is still
reported).

Encryption is done by a caller-supplied ``Cipher`` (the controller uses
ansible-vault with the provider's vault secret, so a technician opens a copy
with ``ansible-vault view``); this module never sees the password.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import posixpath
import re
import stat
import tempfile
from typing import Any, Callable, Protocol

from ansible.module_utils.praxis_errors import PraxisError

MANIFEST = "manifest.json"
NAME_RE = re.compile(r"^(?P<ts>\d{8}T\d{6}Z)-(?P<sha>[0-9a-f]{12})(?P<suffix>\.[a-z0-9.]+)?\.vault$")
SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
DIFF_LINES = 400


def private_makedirs(directory: str) -> None:
    """Create ``directory`` and each missing parent with mode 0700, whatever the
    umask (``os.makedirs`` gives its ``mode`` to the last folder only); folders
    that exist are left as they are."""
    directory = os.path.abspath(directory)
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)


def write_file_atomic(path: str, data: bytes | str, *, mode: int = 0o600, durable: bool = True,
                      verify: Callable[[str], None] | None = None) -> None:
    """The project's one atomic writer: a temporary file in the same folder
    (folders created 0700), ``mode`` (0600 by default), fsync when
    ``durable``, ``verify`` on the temporary file's path, then a rename, so a
    reader sees the old or the new file, never half of one; whatever fails
    or ``verify`` raises leaves the old file as it was."""
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    private_makedirs(directory)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if verify is not None:
            verify(tmp)
        os.replace(tmp, full)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_json_atomic(path: str, data: Any, mode: int = 0o600, durable: bool = False) -> None:
    """JSON through ``write_file_atomic``. ``durable``: fsync before the
    rename (for state a later run decides from, not for files rewritten nightly)."""
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, default=str)
    write_file_atomic(path, text, mode=mode, durable=durable)


def facts_path(facts_dir: str, site: str, host: str) -> str:
    """The one facts-file layout of network devices and Windows hosts:
    ``<facts_dir>/<site>/<host>.json``; site and host must be safe file names."""
    for label, value in (("site", site), ("host", host)):
        if not SAFE_PART.match(str(value)):
            raise BackupError(f"{label} name {value!r} is not usable as a file name")
    return os.path.join(facts_dir, str(site), f"{host}.json")


class BackupError(PraxisError):
    """A backup could not be stored or verified; nothing old was touched."""


class Cipher(Protocol):
    def encrypt(self, plaintext: bytes) -> bytes: ...
    def decrypt(self, ciphertext: bytes) -> bytes: ...


# -- stores ---------------------------------------------------------------------------
class Store:
    """A folder tree that supports atomic replace. Paths are relative, '/'-separated."""

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def write_atomic(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def listdir(self, path: str) -> list[str]:
        raise NotImplementedError

    def delete(self, path: str) -> None:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def describe(self) -> str:
        raise NotImplementedError


class LocalStore(Store):
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def _full(self, path: str) -> str:
        full = os.path.abspath(os.path.join(self.root, *path.split("/")))
        if not (full == self.root or full.startswith(self.root + os.sep)):
            raise BackupError(f"path {path!r} leaves the backup folder")
        return full

    def read(self, path: str) -> bytes:
        with open(self._full(path), "rb") as handle:
            return handle.read()

    def write_atomic(self, path: str, data: bytes, verify: Callable[[str], None] | None = None) -> None:
        """Write through a synced temporary file (0600, folders 0700) and a
        rename (``write_file_atomic``)."""
        write_file_atomic(self._full(path), data, verify=verify)

    def listdir(self, path: str) -> list[str]:
        full = self._full(path)
        return sorted(os.listdir(full)) if os.path.isdir(full) else []

    def delete(self, path: str) -> None:
        os.unlink(self._full(path))

    def exists(self, path: str) -> bool:
        return os.path.exists(self._full(path))

    def describe(self) -> str:
        return f"local folder {self.root}"


class SFTPStore(Store):
    """SFTP target (a real sshd). ``client`` is a connected paramiko
    SFTPClient; ``ssh``, when given, is its SSH client, closed with it."""

    def __init__(self, client: Any, root: str, label: str = "sftp", ssh: Any = None) -> None:
        self.client = client
        self.ssh = ssh
        self.root = root.rstrip("/") or "/"
        self.label = label

    def _full(self, path: str) -> str:
        full = posixpath.normpath(posixpath.join(self.root, path))
        if not (full == self.root or full.startswith(self.root.rstrip("/") + "/")):
            raise BackupError(f"path {path!r} leaves the backup folder")
        return full

    def _makedirs(self, directory: str) -> None:
        parts = directory.strip("/").split("/")
        current = ""
        for part in parts:
            current += "/" + part
            try:
                if not stat.S_ISDIR(self.client.stat(current).st_mode):
                    raise BackupError(f"{self.label}:{current} exists and is not a folder")
            except FileNotFoundError:
                self.client.mkdir(current, mode=0o700)

    def read(self, path: str) -> bytes:
        with self.client.open(self._full(path), "rb") as handle:
            return handle.read()

    def write_atomic(self, path: str, data: bytes) -> None:
        full = self._full(path)
        self._makedirs(posixpath.dirname(full))
        tmp = posixpath.join(posixpath.dirname(full), f".tmp-{os.getpid()}-{hashlib.sha256(data).hexdigest()[:8]}")
        with self.client.open(tmp, "wb") as handle:
            handle.chmod(0o600)             # before the data: the server's umask may leave it readable
            handle.write(data)
            handle.flush()
        self.client.chmod(tmp, 0o600)
        try:
            self.client.posix_rename(tmp, full)
        except OSError:
            self.client.remove(tmp)
            raise

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(self.client.listdir(self._full(path)))
        except FileNotFoundError:
            return []

    def delete(self, path: str) -> None:
        self.client.remove(self._full(path))

    def exists(self, path: str) -> bool:
        try:
            self.client.stat(self._full(path))
            return True
        except FileNotFoundError:
            return False

    def close(self) -> None:
        self.client.close()
        if self.ssh is not None:
            self.ssh.close()

    def describe(self) -> str:
        return f"{self.label}:{self.root}"


# -- manifest -------------------------------------------------------------------------
def _folder(site: str, device: str) -> str:
    for label, value in (("site", site), ("device", device)):
        if not isinstance(value, str) or not SAFE_PART.match(value):
            raise BackupError(f"{label} name {value!r} is not usable as a folder name")
    return f"{site}/{device}"


def read_manifest(store: Store, folder: str) -> list[dict[str, Any]]:
    path = f"{folder}/{MANIFEST}"
    if not store.exists(path):
        return []
    try:
        data = json.loads(store.read(path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{store.describe()}/{path} is not a valid manifest: {exc}") from None
    copies = data.get("copies") if isinstance(data, dict) else None
    if not isinstance(copies, list):
        raise BackupError(f"{store.describe()}/{path} has no list of copies")
    return copies


def write_manifest(store: Store, folder: str, copies: list[dict[str, Any]]) -> None:
    body = {"format": 1, "copies": copies}
    store.write_atomic(f"{folder}/{MANIFEST}", (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())


# -- masking for diffs ----------------------------------------------------------------
def mask_secrets(text: str, patterns: list[re.Pattern[str]]) -> str:
    """Replace the secret of every match with ********: the group named
    ``secret`` where the pattern has one, else its first group."""
    def masked(match: re.Match[str]) -> str:
        group = "secret" if "secret" in match.re.groupindex else 1
        secret = match.group(group)
        if not secret:
            return match.group(0)
        start, end = match.span(group)
        offset = match.start(0)
        whole = match.group(0)
        return whole[:start - offset] + "********" + whole[end - offset:]

    for pattern in patterns:
        text = pattern.sub(masked, text)
    return text


def masked_diff(old: bytes, new: bytes, patterns: list[re.Pattern[str]], old_name: str, new_name: str) -> str:
    before = mask_secrets(old.decode("utf-8", "replace"), patterns).splitlines()
    after = mask_secrets(new.decode("utf-8", "replace"), patterns).splitlines()
    lines = list(difflib.unified_diff(before, after, old_name, new_name, lineterm="", n=2))
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... {len(lines) - DIFF_LINES} more diff lines"]
    return "\n".join(lines)


# -- the operation --------------------------------------------------------------------
def store_backup(store: Store, cipher: Cipher, site: str, device: str, content: bytes, *,
                 keep: int = 3, suffix: str = "", validate: Callable[[bytes], None] | None = None,
                 secret_patterns: list[re.Pattern[str]] | None = None, check_mode: bool = False,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Store one configuration export. Returns a result dict with changed,
    path, sha256, kept, removed, diff (masked) and msg. Raises BackupError
    when the export is unusable or the new copy does not verify; in both
    cases the existing copies are untouched."""
    if keep < 1:
        raise BackupError(f"keep must be at least 1, got {keep}")
    folder = _folder(site, device)
    if not content or not content.strip():
        raise BackupError(f"{site}/{device}: the configuration export is empty")
    if validate is not None:
        try:
            validate(content)
        except BackupError:
            raise
        except ValueError as exc:
            raise BackupError(f"{site}/{device}: the configuration export is not valid: {exc}") from None
    sha = hashlib.sha256(content).hexdigest()
    copies = read_manifest(store, folder)
    latest = copies[-1] if copies else None
    result: dict[str, Any] = {"changed": False, "sha256": sha, "size": len(content), "store": store.describe(),
                              "folder": folder, "removed": [], "diff": ""}
    if latest and latest.get("sha256") == sha:
        result.update(path=f"{folder}/{latest['name']}", kept=[c["name"] for c in copies],
                      msg=f"{site}/{device}: configuration unchanged since {latest['created']}; no new copy")
        return result

    stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    name = f"{stamp.strftime('%Y%m%dT%H%M%SZ')}-{sha[:12]}{suffix}.vault"
    path = f"{folder}/{name}"
    if latest:
        try:
            previous = cipher.decrypt(store.read(f"{folder}/{latest['name']}"))
            result["diff"] = masked_diff(previous, content, secret_patterns or [], latest["name"], name)
        except (OSError, ValueError) as exc:
            result["diff"] = f"(previous copy {latest['name']} could not be read for a diff: {type(exc).__name__})"
    new_copies = [*copies, {"name": name, "sha256": sha, "size": len(content), "created": stamp.isoformat()}]
    removed = [c["name"] for c in new_copies[:-keep]] if len(new_copies) > keep else []
    result.update(changed=True, path=path, kept=[c["name"] for c in new_copies[-keep:]], removed=removed)
    if check_mode:
        result["msg"] = f"{site}/{device}: would store a new copy {name} and remove {len(removed)} old one(s)"
        return result

    store.write_atomic(path, cipher.encrypt(content))
    # verify the new copy as it is stored, before anything old goes
    try:
        stored = cipher.decrypt(store.read(path))
    except (OSError, ValueError) as exc:
        _discard(store, path)
        raise BackupError(f"{site}/{device}: the new copy {name} could not be read back and decrypted: "
                          f"{type(exc).__name__}") from None
    if hashlib.sha256(stored).hexdigest() != sha:
        _discard(store, path)
        raise BackupError(f"{site}/{device}: the new copy {name} does not match its checksum; old copies kept")
    if validate is not None:
        validate(stored)
    write_manifest(store, folder, new_copies[-keep:])
    for old in removed:
        if store.exists(f"{folder}/{old}"):
            store.delete(f"{folder}/{old}")
    result["msg"] = f"{site}/{device}: stored {name}" + (f", removed {len(removed)} old copy(ies)" if removed else "")
    return result


def _discard(store: Store, path: str) -> None:
    try:
        store.delete(path)
    except OSError:
        pass  # the manifest does not name it, so a left-over is harmless


def verify_store(store: Store, cipher: Cipher, site: str, device: str) -> list[str]:
    """Problems with the copies of one device (missing, checksum, decrypt); [] when all is well."""
    folder = _folder(site, device)
    problems = []
    for copy in read_manifest(store, folder):
        path = f"{folder}/{copy['name']}"
        try:
            plain = cipher.decrypt(store.read(path))
        except FileNotFoundError:
            problems.append(f"{path}: missing")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: cannot be decrypted ({type(exc).__name__})")
            continue
        if hashlib.sha256(plain).hexdigest() != copy["sha256"]:
            problems.append(f"{path}: checksum differs from the manifest")
    return problems


class AnsibleVaultCipher:
    """ansible-vault (AES256, format 1.1) with the given vault secrets; the
    controller passes the secrets of the running play. Decryption errors
    become ValueError."""

    def __init__(self, secrets: list[tuple[str, Any]], vault_id: str | None = None) -> None:
        from ansible.parsing.vault import VaultLib  # controller only

        if not secrets:
            raise BackupError("no vault secret is loaded: run with --vault-password-file or --vault-id")
        self._vault = VaultLib(secrets)
        self._secret = secrets[0][1]
        self._vault_id = vault_id or secrets[0][0]

    @classmethod
    def from_password(cls, password: str, vault_id: str = "default") -> "AnsibleVaultCipher":
        from ansible.parsing.vault import VaultSecret

        return cls([(vault_id, VaultSecret(password.encode("utf-8")))], vault_id)

    def encrypt(self, plaintext: bytes) -> bytes:
        vault_id = None if self._vault_id == "default" else self._vault_id
        return bytes(self._vault.encrypt(plaintext, self._secret, vault_id=vault_id))

    def decrypt(self, ciphertext: bytes) -> bytes:
        from ansible.errors import AnsibleError

        try:
            return bytes(self._vault.decrypt(ciphertext))
        except AnsibleError as exc:
            raise ValueError(f"vault: {exc.message if hasattr(exc, 'message') else exc}") from None
