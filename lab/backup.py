"""A practice server with data to back up, and the provider's offsite SFTP
store, for the practice-data backups (WP-12, docs/backups.md).

* `prepare_server` puts practice files under ``/srv/praxis`` of a lab host
  (lab/netns.py) and a database dump file (PostgreSQL custom format starts
  with ``PGDMP``, as ``pg_dump -Fc`` writes it: PostgreSQL documentation,
  "pg_dump", section "Notes"/``-Fc``) that the site file's ``dump.command``
  prints, plus ``/srv/nas`` for the local repository (the NAS stand-in).
* `start_offsite` starts a private OpenSSH sshd on the machine's end of the
  host's veth (the only address the host reaches), serving SFTP
  (``Subsystem sftp internal-sftp``, sshd_config(5)) into a folder, with a
  host key and one client key of its own: restic's ``sftp:`` backend runs
  ``ssh ... -s sftp`` (restic manual, "Preparing a new repository", SFTP).
  The sshd runs detached; `stop_offsite` ends it by its recorded pid.
* `backups_section` is the site file's ``backups:`` for that server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping

FILES = {
    "patienten/akte-0001.txt": "Befund: unauffällig\n",
    "patienten/akte-0002.txt": "Überweisung an Radiologie\n" * 40,
    "abrechnung/q3.csv": "ziffer;betrag\n03000;12.34\n",
    "leer.txt": "",
}
DUMP_FILE = "/srv/praxis-db/praxis.pgdump"
DUMP_HEADER = "PGDMP"
DUMP_TEXT = DUMP_HEADER + "\x01\x0e\x04\x08\x01\x01" + "praxis-dump-" + "x" * 256


class OffsiteError(RuntimeError):
    pass


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def prepare_server(host: Any, files: Mapping[str, str] = FILES, dump: str = DUMP_TEXT) -> None:
    """Practice files, a temporary file (excluded), the dump file and the NAS folder on the host."""
    for name, text in files.items():
        host.run(f"mkdir -p /srv/praxis/$(dirname {name})")
        host.run(["sh", "-c", 'cat > "$1"', "sh", f"/srv/praxis/{name}"], input=text)
    host.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", DUMP_FILE], input=dump)
    host.run("echo temporary > /srv/praxis/scratch.tmp && mkdir -p /srv/nas")


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True,
                   stdout=subprocess.DEVNULL)


def start_offsite(folder: Path | str, address: str, *, timeout: float = 20) -> dict[str, Any]:
    """Start the offsite SFTP sshd on ``address``; its files live in ``folder``.
    Returns its state (JSON-able): pid, port, repository folder, url, known_hosts
    line, client key path and the restic ``-o sftp.command`` for the controller."""
    sshd = "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        raise OffsiteError(f"{sshd} is missing (Debian package openssh-server)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for name, comment in (("host_key", "praxisops-offsite"), ("client_key", "praxis-backup")):
        if not (folder / name).exists():
            _keygen(folder / name, comment)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    repository = folder / "repository"
    repository.mkdir(exist_ok=True)
    os.makedirs("/run/sshd", exist_ok=True)       # sshd's privilege separation folder
    port = free_port(address)
    (folder / "sshd_config").write_text(
        f"ListenAddress {address}:{port}\nHostKey {folder}/host_key\n"
        f"AuthorizedKeysFile {folder}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile none\n"
        "Subsystem sftp internal-sftp\n")
    with open(folder / "sshd.log", "w") as log:
        process = subprocess.Popen([sshd, "-D", "-e", "-f", str(folder / "sshd_config")], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            break
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise OffsiteError(f"the offsite sshd on {address}:{port} did not start: "
                                   f"{(folder / 'sshd.log').read_text()[-500:] or exc}") from None
            time.sleep(0.1)
    host_key = (folder / "host_key.pub").read_text().split()
    known_hosts = f"[{address}]:{port} {host_key[0]} {host_key[1]}"
    (folder / "known_hosts").write_text(known_hosts + "\n")
    command = (f"ssh -i {folder}/client_key -o IdentitiesOnly=yes -o UserKnownHostsFile={folder}/known_hosts "
               f"-o StrictHostKeyChecking=yes -o BatchMode=yes -p {port} root@{address} -s sftp")
    return {"pid": process.pid, "folder": str(folder), "address": address, "port": port,
            "repository": str(repository), "url": f"sftp://root@{address}:{port}/{repository}",
            "known_hosts": known_hosts, "key_file": str(folder / "client_key"),
            "sftp_command": command}


def client_key(state: Mapping[str, Any]) -> str:
    return Path(state["key_file"]).read_text()


def stop_offsite(state: Mapping[str, Any] | None, timeout: float = 10) -> None:
    """End the offsite sshd of ``state`` (only that process, by its pid and command line)."""
    pid = (state or {}).get("pid")
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if not any(str(state["folder"]).encode() in part for part in cmdline):
        return                  # the pid belongs to another process by now
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not Path(f"/proc/{pid}").exists() or "Z" in _proc_state(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def backups_section(site: str, offsite: Mapping[str, Any], *, server: str = "srv01", start: str = "21:30",
                    nas_controller_url: str | None = None) -> dict[str, Any]:
    """The site file's ``backups:`` for the lab server: the local repository on the
    server (the NAS stand-in, read by the controller at ``nas_controller_url``) and
    the offsite SFTP repository; the files and the dump of `prepare_server`."""
    nas: dict[str, Any] = {"name": "nas", "kind": "local", "url": "/srv/nas/restic",
                           "password": f"vault_{site}_backup_nas"}
    if nas_controller_url:
        nas["controller_url"] = nas_controller_url
    return {
        "start": start,
        "repositories": [
            nas,
            {"name": "offsite", "kind": "offsite", "url": offsite["url"], "password": f"vault_{site}_backup_offsite",
             "sftp_identity": f"vault_{site}_backup_offsite_key", "sftp_known_hosts": [offsite["known_hosts"]]},
        ],
        "sources": [{"host": server, "paths": ["/srv/praxis"], "exclude": ["*.tmp"],
                     "dump": {"command": f"cat {DUMP_FILE}", "file": "praxis.dump", "header": DUMP_HEADER}}],
    }


def vault_values(site: str, passwords: Mapping[str, str], offsite: Mapping[str, Any]) -> dict[str, str]:
    """The vault variables `backups_section` names."""
    return {f"vault_{site}_backup_nas": passwords["nas"], f"vault_{site}_backup_offsite": passwords["offsite"],
            f"vault_{site}_backup_offsite_key": client_key(offsite)}
