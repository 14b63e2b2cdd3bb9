"""A whole lab (``python -m lab up``) for a test module: one at a time on a
machine, because the lab's addresses and control port are fixed. Modules
that start one wait for each other through a lock file instead of skipping."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from lab import __main__ as lab_cli
from lab import core

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path(os.environ.get("TMPDIR", "/tmp")) / "praxisops-lab.lock"


class Lab:
    def __init__(self, run_dir: Path, inventory_dir: Path) -> None:
        self.run_dir = run_dir
        self.inventory_dir = inventory_dir
        self.env = dict(os.environ, PRAXIS_LAB_DIR=str(run_dir))

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    @property
    def state(self) -> dict:
        return json.loads((self.run_dir / "state.json").read_text())

    @property
    def vault_password_file(self) -> str:
        return str(self.inventory_dir / ".vault_pass")

    def vault_files(self) -> dict[str, dict]:
        """group_vars/<group>/vault.yml, decrypted, by group."""
        password = (self.inventory_dir / ".vault_pass").read_text().strip()
        vault = VaultLib([("default", VaultSecret(password.encode()))])
        return {path.parent.name: yaml.safe_load(vault.decrypt(path.read_bytes()))
                for path in sorted((self.inventory_dir / "group_vars").glob("*/vault.yml"))}

    def vault_file(self, path: Path) -> dict:
        """One ansible-vault file of the inventory, decrypted."""
        password = (self.inventory_dir / ".vault_pass").read_text().strip()
        vault = VaultLib([("default", VaultSecret(password.encode()))])
        return yaml.safe_load(vault.decrypt(Path(path).read_bytes()))

    def vault(self) -> dict:
        merged: dict = {}
        for entries in self.vault_files().values():
            merged.update(entries)
        return merged

    def credentials(self, device: str) -> dict:
        return self.vault()["vault_" + device.replace("-", "_")]

    def record(self, device: str) -> dict:
        return next(d for d in self.state["devices"] if d["name"] == device)

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        """A call to the lab's control API (lab/control.py)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.state["control_url"] + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the lab's own loopback URL
            return json.loads(response.read() or b"null")

    def device(self, name: str) -> dict:
        return self.control("GET", f"/devices/{name}")


@contextlib.contextmanager
def exclusive_lab(timeout: float = 900) -> Iterator[None]:
    """Hold the machine's lab lock; wait for another test module's lab to end."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another lab held {LOCK} for {timeout:g} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def control_port_in_use() -> bool:
    return lab_cli.port_open(core.CONTROL_ADDRESS, core.CONTROL_PORT)


@contextlib.contextmanager
def running_lab(base: Path, sites: int, reboot_seconds: float = 1, firewall: str = "opnsense") -> Iterator[Lab]:
    """``python -m lab up --sites N --firewall F`` under ``base`` (run dir and inventory),
    holding the machine's lab lock; stopped again whatever happens. Skips the
    test module when a lab started outside the tests holds the addresses."""
    import pytest

    with exclusive_lab():
        if control_port_in_use():
            pytest.skip(f"a lab outside the tests is running ({core.CONTROL_ADDRESS}:{core.CONTROL_PORT} in use; "
                        "python -m lab down)")
        lab = Lab(base / "run", base / "inventory")
        try:
            up = lab.cli("up", "--sites", str(sites), "--reboot-seconds", str(reboot_seconds),
                         "--firewall", firewall, "--inventory-dir", str(lab.inventory_dir))
            assert up.returncode == 0, up.stdout + up.stderr
            lab.up_output = up.stdout
            yield lab
        finally:
            lab.cli("down")
