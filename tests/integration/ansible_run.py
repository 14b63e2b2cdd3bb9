"""Run the real ansible CLIs of the venv with the project's configuration."""

from __future__ import annotations

import json
import os
import re
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


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an ansible-playbook output: host -> {ok, changed, failed, ...}."""
    result = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line.strip())
        if match:
            result[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return result


def playbook_json(inventory: str, name: str, *extra: str, secrets: tuple[str, ...] = (),
                  prefix: tuple[str, ...] = ()) -> list[dict]:
    """Run playbooks/<name> with the JSON callback; the plays of its output. Fails
    when the run failed or when one of ``secrets`` appears in its output."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}:{os.environ.get('PATH', '')}", PRAXIS_SUMMARY_DIR=SUMMARY_DIR,
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    argv = [*prefix, str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / name), *extra]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    text = result.stdout
    assert "{" in text, result.stderr[-3000:]
    plays = json.loads(text[text.index("{"):text.rindex("}") + 1])["plays"]
    assert result.returncode == 0, text[-4000:]
    for secret in secrets:
        assert secret not in text and secret not in result.stderr
    return plays


def task_outcome(plays: list[dict], task: str | None = None) -> dict:
    """The (first host's) result of the task named ``task`` (in a role: ``<role> : <task>``), else
    of the last play's first task."""
    if task is None:
        found = plays[-1]["tasks"][0]
    else:
        found = next(t for play in plays for t in play["tasks"]
                     if t["task"]["name"] == task or t["task"]["name"].endswith(f" : {task}"))
    outcome = next(iter(found["hosts"].values()))
    outcome["_duration"] = found["task"].get("duration") or {}
    return outcome
