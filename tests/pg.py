"""A real PostgreSQL server for the tests: Debian's binaries (package
``postgresql``, /usr/lib/postgresql/<version>/bin), a cluster made with
``initdb`` in a temporary folder, started with ``pg_ctl`` on a free port of
127.0.0.1 (and a Unix socket in that folder), password authentication
(scram-sha-256) as in production, one database per test, everything stopped
and removed at the end of the session.

As root, initdb and the server run as the ``postgres`` system user
(``runuser -u postgres --``; initdb refuses root), which owns the folder.
Without the binaries the tests skip with the reason, except in CI (``CI``
set), where a missing server is a failure.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

SUPERUSER = "postgres"
SUPER_PASSWORD = "cluster-admin-pw"
# the role the ledger connects as; its password holds every character a URL must encode
LEDGER_USER = "praxis"
LEDGER_PASSWORD = "Pr@xis:Ledger/2026%#?"
_counter = itertools.count(1)


def binaries() -> Path | None:
    """The folder of Debian's PostgreSQL binaries (the newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable() -> str | None:
    """Why no server can be started here, or None."""
    if binaries() is None:
        return "PostgreSQL binaries not found (Debian package postgresql; make apt installs it)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (requirements.txt)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """One running PostgreSQL server of the test session."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="praxis-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.socket_dir.mkdir()
        self.port = 0
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, SUPERUSER, SUPERUSER)
            shutil.chown(self.socket_dir, SUPERUSER, SUPERUSER)
        pwfile = self.root / "pw"
        pwfile.write_text(SUPER_PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, SUPERUSER, SUPERUSER)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=scram-sha-256", f"--pwfile={pwfile}",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}")
        return done

    def start(self) -> None:
        last = None
        for _attempt in range(3):      # another process may take the free port in between: try another
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 "
                       "-c shared_buffers=32MB")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "30",
                          "-o", options, "start")
                break
            except RuntimeError as exc:
                last = exc
        else:
            raise RuntimeError(f"PostgreSQL did not start: {last}; log: {self.log()[-1500:]}")
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {LEDGER_USER} LOGIN PASSWORD '{LEDGER_PASSWORD}' CREATEDB")

    def log(self) -> str:
        try:
            return (self.root / "log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=SUPER_PASSWORD,
                               dbname=dbname, autocommit=True)

    def url(self, dbname: str, user: str = LEDGER_USER, password: str | None = LEDGER_PASSWORD,
            host: str = "127.0.0.1", port: int | None = None) -> str:
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
        return f"postgresql://{auth}@{host}:{port or self.port}/{dbname}"

    def database(self, prefix: str = "ledger") -> str:
        """A new, empty database owned by the ledger role; its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {LEDGER_USER}")
        return self.url(name)


def session_cluster():
    """Start a cluster (the session fixture in tests/conftest.py), or skip/fail with the reason."""
    reason = unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
        pytest.skip(reason)
    cluster = Cluster()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
