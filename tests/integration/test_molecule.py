"""Every molecule scenario (molecule/<name>/molecule.yml) runs its whole test
sequence (``scenario.test_sequence``): create, prepare, converge, idempotence
(a second converge changes nothing), check, verify, destroy, as far as the
scenario has them.

A scenario whose create playbook is molecule/shared/lab_create.yml starts the
lab (``python -m lab up``): one lab at a time on a machine, so it runs under
the lab lock the other lab tests take (``exclusive_lab``). Scenarios on real
Linux hosts (molecule/shared/create.yml, network namespaces) are skipped where
those hosts cannot run, e.g. without root. A scenario on a real computer the
tests cannot create (molecule/windows: a Windows PC reached over WinRM) runs
only when the environment names it (``REQUIRED_ENV``) and is skipped, naming
the variables, otherwise."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab import netns

from .labrun import control_port_in_use, exclusive_lab

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCENARIOS = sorted(path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml")
                   if path.parent.name != "shared")
TIMEOUT = 900
# Scenarios on a computer given by the environment: what it is and the variables
# it needs (molecule/<name>/molecule.yml lists the optional ones), and a longer
# timeout (three converges over WinRM, a download, a signature update).
REQUIRED_ENV = {
    "windows": ("a real Windows PC with a WinRM HTTPS listener",
                ("PRAXIS_WINDOWS_HOST", "PRAXIS_WINDOWS_USER", "PRAXIS_WINDOWS_PASSWORD")),
}
SCENARIO_TIMEOUT = {"windows": 2700}
TAIL = 6000     # characters of molecule's output shown when a scenario fails

pytestmark = pytest.mark.integration


def create_playbook(scenario: str) -> str:
    config = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text(encoding="utf-8"))
    return Path((config.get("ansible") or {}).get("playbooks", {}).get("create") or "").name


def missing_environment(scenario: str) -> list[str]:
    _what, names = REQUIRED_ENV.get(scenario, ("", ()))
    return [name for name in names if not os.environ.get(name)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    missing = missing_environment(scenario)
    if missing:
        what, names = REQUIRED_ENV[scenario]
        pytest.skip(f"molecule/{scenario} needs {what}: set {', '.join(names)} (missing: {', '.join(missing)}; "
                    f"the optional variables are listed in molecule/{scenario}/molecule.yml, e.g. "
                    "PRAXIS_WINDOWS_CA or PRAXIS_WINDOWS_CERT_VALIDATION; see docs/windows-setup.md)")
    create = create_playbook(scenario)
    uses_lab = create == "lab_create.yml"
    if create == "create.yml" and netns.skip_reason():
        pytest.skip(netns.skip_reason())
    environment = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                       NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    with exclusive_lab() if uses_lab else contextlib.nullcontext():
        if uses_lab and control_port_in_use():
            pytest.skip("a lab outside the tests is running (python -m lab down)")
        started = time.monotonic()
        result = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=ROOT, env=environment,
                                capture_output=True, text=True, timeout=SCENARIO_TIMEOUT.get(scenario, TIMEOUT),
                                check=False)
        seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    print(f"molecule test -s {scenario}: {seconds:.1f} s")
    assert result.returncode == 0, f"molecule test -s {scenario} failed after {seconds:.0f} s:\n{output[-TAIL:]}"
