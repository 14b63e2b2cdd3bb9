"""Run the real ansible CLIs of the venv with the project's configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# run summaries of the test runs go here, not into the project's output/
SUMMARY_DIR = tempfile.mkdtemp(prefix="praxisops-test-runs-")


def ansible(tool: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.update({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                        "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{BIN}:{environment.get('PATH', '')}",
                        "PRAXIS_SUMMARY_DIR": SUMMARY_DIR})
    environment.update(env or {})
    return subprocess.run([str(BIN / tool), *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _plain(value):
    """ansible-inventory marks plugin-provided strings as unsafe ({"__ansible_unsafe": ...})."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def inventory_json(source: str) -> dict:
    result = ansible("ansible-inventory", "-i", source, "--list")
    assert result.returncode == 0, result.stdout + result.stderr
    return _plain(json.loads(result.stdout))
