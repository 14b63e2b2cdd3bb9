# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""restic on the controller: one repository of one practice (WP-12; docs/backups.md).

``Repository`` runs the ``restic`` binary (Debian's package, 0.14 or newer) with
``--json`` where the command has it. The repository password never appears in
argv, a message, a result or the ledger: restic reads it from
``RESTIC_PASSWORD_FILE``, a file of mode 0600 in a private temporary folder
(0700) that exists only while the command runs. Extra environment (S3 keys of
an ``s3:`` repository) comes from the vault mapping the site file names.
Every command has a time limit.

A failed command becomes a ``ResticError`` whose ``kind`` says why, decided
from the exit code and restic's own words on stderr, and whose message names
the practice and the repository:

``wrong_password``  "wrong password or no key found"
``missing``         no repository at that location (no config file)
``unreachable``     the sftp/rest/s3 server cannot be reached
``locked``          another process holds a lock ("repository is already locked")
``check_failed``    ``restic check`` found errors
``disk_full``       the restore target ran out of space (ENOSPC)
``timeout``         the command did not finish within its time limit
``not_found``       the snapshot or path is not in the repository
``no_restic``       no restic binary on the controller
``failed``          anything else (restic's last line is quoted)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from typing import Any, Iterator, Mapping

from ansible.module_utils.praxis_errors import PraxisError

KINDS = ("wrong_password", "missing", "unreachable", "locked", "check_failed", "disk_full", "timeout",
         "not_found", "no_restic", "failed")
DEFAULT_TIMEOUT = 600.0       # seconds for one restic command (check and prune of a big repository take long)
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# variables the wrapper sets itself; the vault mapping may not override them
RESERVED_ENV = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY",
                "RESTIC_REPOSITORY_FILE")

# (kind, patterns in restic's stderr, lower case), first match wins
_SIGNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("disk_full", ("no space left on device", "enospc", "disk quota exceeded")),
    ("wrong_password", ("wrong password or no key found",)),
    ("locked", ("repository is already locked", "unable to create lock")),
    ("missing", ("unable to open config file", "is there a repository at the following location",
                 "repository does not exist", "config: no such file or directory")),
    ("unreachable", ("connection refused", "unable to start the sftp session", "subprocess ssh",
                     "no route to host", "network is unreachable", "i/o timeout", "no such host",
                     "connection reset", "host key verification failed", "permission denied (publickey",
                     "dial tcp", "could not resolve hostname", "connection timed out")),
    ("check_failed", ("repository contains errors", "check failed", "pack file cannot be listed",
                      "errors were found")),
    ("not_found", ("no matching id found", "no snapshot found", "cannot dump file", "path \"",
                   "not found in snapshot", "no matching snapshot")),
)
_MESSAGES = {
    "wrong_password": "the password does not open the repository (restic: wrong password or no key found); "
                      "check the vault variable the site file names under backups.repositories[].password",
    "missing": "there is no restic repository at this location (no config file); check the url "
               "(or controller_url) in the site file, or initialise the repository by running the backup once",
    "unreachable": "the repository's server cannot be reached from the controller",
    "locked": "the repository is locked by another restic process",
    "check_failed": "restic check found errors in the repository: nothing is pruned; repair it "
                    "(restic repair / rebuild-index) or start a new repository",
    "disk_full": "no space left on the restore target",
    "timeout": "restic did not finish in time",
    "not_found": "not found in the repository",
    "no_restic": "restic is not installed on the controller (apt-get install restic)",
    "failed": "restic failed",
}


class ResticError(PraxisError, RuntimeError):
    """A restic command that failed; ``kind`` is one of ``KINDS``."""

    def __init__(self, kind: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail


def classify(returncode: int | None, stderr: str) -> str:
    """The kind of a failed restic command, from its exit code and stderr."""
    if returncode is None:
        return "timeout"
    text = (stderr or "").lower()
    for kind, signs in _SIGNS:
        if any(sign in text for sign in signs):
            return kind
    return "failed"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _json_lines(text: str) -> list[Any]:
    items = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith(("{", "[")):
            with contextlib.suppress(ValueError):
                items.append(json.loads(line))
    return items


def parse_time(text: str) -> dt.datetime:
    """restic's RFC 3339 time (nanoseconds, ``Z`` or an offset) as an aware datetime."""
    value = str(text).strip().replace("Z", "+00:00")
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2})$", value)
    if not match:
        raise ValueError(f"not a restic time: {text!r}")
    fraction = (match.group(2) or ".0")[:7]
    return dt.datetime.fromisoformat(match.group(1) + fraction + match.group(3))


class Repository:
    """One restic repository of one practice, as the controller reaches it.

    ``url``: the restic repository string (path, ``sftp:``, ``rest:``, ``s3:``);
    ``password``: the repository password (from the vault); ``environment``: extra
    variables (the vault mapping); ``options``: ``-o key=value`` options (such as
    ``sftp.command``); ``practice``/``name``: for the messages."""

    def __init__(self, url: str, password: str, *, practice: str, name: str,
                 environment: Mapping[str, Any] | None = None, options: Mapping[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, binary: str = "restic", cache_dir: str | None = None) -> None:
        where = f"practice {practice}, repository {name}"
        if not isinstance(url, str) or not url.strip():
            raise ResticError("failed", f"{where}: the repository url is empty")
        if not isinstance(password, str) or not password:
            raise ResticError("wrong_password", f"{where}: the repository password is empty (vault variable)")
        env = {}
        for key, value in (environment or {}).items():
            if not isinstance(key, str) or not ENV_NAME.match(key):
                raise ResticError("failed", f"{where}: environment variable name {key!r} is not valid "
                                            "(upper case letters, digits and _)")
            if key in RESERVED_ENV:
                raise ResticError("failed", f"{where}: environment may not set {key} (the password and "
                                            "repository are given by praxisops)")
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise ResticError("failed", f"{where}: environment variable {key} must be a string")
            env[key] = str(value)
        self.url = url.strip()
        self.practice = practice
        self.name = name
        self.where = where
        self._password = password
        self._secrets = [password, *[v for v in env.values() if len(v) >= 4]]
        self.environment = env
        self.options = dict(options or {})
        self.timeout = float(timeout)
        self.binary = binary
        self.cache_dir = cache_dir

    # -- running restic ---------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """``text`` without the password or any environment value of the repository."""
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "********")
        return text

    @contextlib.contextmanager
    def _env(self) -> Iterator[dict[str, str]]:
        folder = tempfile.mkdtemp(prefix="praxis-restic-")
        try:
            os.chmod(folder, 0o700)
            path = os.path.join(folder, "password")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self._password)
            env = {key: value for key, value in os.environ.items()
                   if key not in RESERVED_ENV and not key.startswith(("AWS_", "B2_", "AZURE_", "GOOGLE_", "OS_"))}
            env.update(self.environment)
            env.update({"RESTIC_REPOSITORY": self.url, "RESTIC_PASSWORD_FILE": path, "LC_ALL": "C"})
            if self.cache_dir:
                env["RESTIC_CACHE_DIR"] = self.cache_dir
            yield env
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _argv(self, args: list[str], json_output: bool) -> list[str]:
        argv = [self.binary, *args]
        for key, value in self.options.items():
            argv += ["-o", f"{key}={value}"]
        if json_output:
            argv.append("--json")
        return argv

    def error(self, kind: str, stderr: str, what: str) -> ResticError:
        last = self.scrub(_last_line(stderr))
        message = _MESSAGES[kind]
        if kind == "unreachable":
            message += f" ({last})" if last else ""
        elif kind in ("failed", "not_found", "disk_full", "locked") and last:
            message += f": {last}"
        elif kind == "timeout":
            message += f" (limit {self.timeout:g} s)"
        return ResticError(kind, f"{self.where} ({self.scrub(self.url)}): {what}: {message}", self.scrub(stderr))

    def run(self, args: list[str], *, what: str, json_output: bool = True, timeout: float | None = None,
            stdout: Any = None, cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run ``restic <args>``; a non-zero exit is a ResticError (``what`` names the step).
        ``stdout``: a file object that receives the output (``restic dump``), else it is returned."""
        limit = float(timeout or self.timeout)
        with self._env() as env:
            try:
                result = subprocess.run(self._argv(args, json_output), env=env, cwd=cwd, timeout=limit,  # noqa: S603
                                        stdout=stdout if stdout is not None else subprocess.PIPE,
                                        stderr=subprocess.PIPE, check=False)
            except FileNotFoundError:
                raise ResticError("no_restic", f"{self.where}: {what}: {_MESSAGES['no_restic']} "
                                               f"(binary {self.binary!r})") from None
            except subprocess.TimeoutExpired:
                raise self.error("timeout", "", what) from None
        stderr = result.stderr.decode("utf-8", "replace") if isinstance(result.stderr, bytes) else result.stderr
        out = result.stdout.decode("utf-8", "replace") if isinstance(result.stdout, bytes) else (result.stdout or "")
        done = subprocess.CompletedProcess(result.args, result.returncode, out, stderr)
        if result.returncode != 0:
            raise self.error(classify(result.returncode, stderr), stderr, what)
        return done

    # -- commands -------------------------------------------------------------------------------
    def snapshots(self) -> list[dict[str, Any]]:
        """Every snapshot (``snapshots --json``), oldest first, with ``time`` parsed (``at``)."""
        out = self.run(["snapshots"], what="list the snapshots").stdout
        try:
            items = json.loads(out or "[]") or []
        except ValueError:
            raise ResticError("failed", f"{self.where}: restic snapshots gave no JSON") from None
        for item in items:
            item["at"] = parse_time(item["time"])
        return sorted(items, key=lambda item: item["at"])

    def size(self, snapshot_id: str) -> dict[str, int]:
        """The restore size of one snapshot: ``{"size_bytes", "files"}`` (``stats --mode restore-size``;
        restic 0.14 keeps no summary in the snapshot)."""
        out = self.run(["stats", "--mode", "restore-size", snapshot_id], what=f"measure snapshot {snapshot_id[:8]}",
                       json_output=True).stdout
        items = _json_lines(out)
        data = items[-1] if items else {}
        return {"size_bytes": int(data.get("total_size") or 0), "files": int(data.get("total_file_count") or 0)}

    def check(self, subset: str | None = None) -> dict[str, Any]:
        """``restic check`` (``--read-data-subset=<subset>`` when given). Errors: ResticError
        ``check_failed`` (or the kind that kept the check from running)."""
        args = ["check"] + ([f"--read-data-subset={subset}"] if subset else [])
        try:
            result = self.run(args, what=f"check (subset {subset or 'none'})", json_output=False)
        except ResticError as exc:
            if exc.kind == "failed" and "check" not in str(exc).lower():
                raise self.error("check_failed", exc.detail, f"check (subset {subset or 'none'})") from None
            raise
        return {"ok": True, "subset": subset, "output": self.scrub(_last_line(result.stdout))}

    def forget_prune(self, retention: Mapping[str, int]) -> dict[str, Any]:
        """``forget --prune`` with ``--keep-daily/weekly/monthly`` and ``--group-by host,tags``."""
        args = ["forget", "--prune", "--group-by", "host,tags"]
        for key in ("daily", "weekly", "monthly"):
            if retention.get(key) is not None:
                args += [f"--keep-{key}", str(int(retention[key]))]
        out = self.run(args, what="forget and prune").stdout
        groups = []
        for item in _json_lines(out):
            for group in item if isinstance(item, list) else [item]:
                if isinstance(group, dict) and "keep" in group:
                    groups.append(group)
        kept = sum(len(group.get("keep") or []) for group in groups)
        removed = sorted(s.get("id", "")[:8] for group in groups for s in (group.get("remove") or []))
        return {"kept": kept, "removed": removed, "groups": len(groups)}

    def locks(self) -> list[dict[str, Any]]:
        """The locks in the repository: ``{"id", "at", "exclusive", "hostname", "pid"}``."""
        ids = [line.strip() for line in self.run(["list", "locks", "--no-lock"], what="list the locks",
                                                 json_output=False).stdout.splitlines() if line.strip()]
        found = []
        for lock_id in ids:
            try:
                data = json.loads(self.run(["cat", "lock", lock_id, "--no-lock"], what="read a lock",
                                           json_output=False).stdout)
            except (ResticError, ValueError):
                continue   # removed meanwhile
            found.append({"id": lock_id[:8], "at": parse_time(data["time"]), "exclusive": bool(data.get("exclusive")),
                          "hostname": str(data.get("hostname") or ""), "pid": data.get("pid")})
        return found

    def unlock(self) -> None:
        """``restic unlock``: removes only the locks restic itself judges stale."""
        self.run(["unlock"], what="remove stale locks", json_output=False)

    def ls(self, snapshot_id: str) -> list[dict[str, Any]]:
        """The nodes of a snapshot (``ls --json``): ``{"path", "type", "size", ...}``."""
        out = self.run(["ls", snapshot_id], what=f"list snapshot {snapshot_id[:8]}").stdout
        return [item for item in _json_lines(out) if isinstance(item, dict) and item.get("struct_type") == "node"]

    def dump_sha256(self, snapshot_id: str, path: str) -> tuple[str, int]:
        """sha256 and size of one file of a snapshot, hashed while ``restic dump`` streams it
        (nothing is written to disk)."""
        what = f"read {path} from snapshot {snapshot_id[:8]}"
        digest, size = hashlib.sha256(), 0
        with self._env() as env, tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(self._argv(["dump", snapshot_id, path], False), env=env,  # noqa: S603
                                           stdout=subprocess.PIPE, stderr=errors)
            except FileNotFoundError:
                raise ResticError("no_restic", f"{self.where}: {what}: {_MESSAGES['no_restic']}") from None
            timer = threading.Timer(self.timeout, process.kill)
            timer.start()
            try:
                for block in iter(lambda: process.stdout.read(1 << 20), b""):
                    digest.update(block)
                    size += len(block)
                returncode = process.wait()
            finally:
                timer.cancel()
                process.stdout.close()
            errors.seek(0)
            stderr = errors.read().decode("utf-8", "replace")
        if returncode != 0:
            raise self.error("timeout" if returncode == -9 and not stderr else classify(returncode, stderr),
                             stderr, what)
        return digest.hexdigest(), size

    def restore(self, snapshot_id: str, target: str, includes: list[str]) -> None:
        """``restore <snapshot> --target <target> --include <path>...``."""
        args = ["restore", snapshot_id, "--target", target]
        for path in includes:
            args += ["--include", path]
        self.run(args, what=f"restore {len(includes)} file(s) of snapshot {snapshot_id[:8]} to {target}",
                 json_output=False)


def file_sha256(handle: Any) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size
