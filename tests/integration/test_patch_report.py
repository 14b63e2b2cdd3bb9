"""The action praxis_patch_report through ansible-playbook (WP-08, WP-09,
WP-10): the demo practices' inventory and a patch ledger recorded for two of
them; one run writes each practice's report, a second run changes nothing,
check mode writes nothing and ``-l`` limits the practices."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import yaml

from ansible.module_utils import praxis_patch as pp
from tests.integration.ansible_run import ROOT, ansible

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 12, 22, 0, tzinfo=dt.timezone.utc)
LCU = "3f2d1a70-6c43-4b61-9d3e-2f1c8a7b9e01"
TITLE = "2026-11 Kumulatives Update für Windows 11 Version 24H2 für x64-basierte Systeme (KB5046633)"


@pytest.fixture
def setup(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "demo", inventory)
    ledger = pp.PatchLedger(str(tmp_path / "ledger.sqlite"))
    search = {"updates": {LCU: {"title": TITLE, "kb": ["5046633"], "id": LCU, "categories": ["Security Updates"]}}}
    for site, host, pilot in (("huber", "huber-ws02", "huber-ws01"),
                              ("wagner", "wagner-therapie2", "wagner-therapie1")):
        ledger.record_check(site=site, host=host, role="workplace", pilot_host=pilot,
                            updates=pp.normalize_updates(search, now=NOW), packages=None, now=NOW,
                            pol=pp.policy(None, None))
    ledger.close()
    output = tmp_path / "output"
    (inventory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    (inventory / "group_vars" / "all" / "patch.yml").write_text(yaml.safe_dump({
        "praxis_ledger_path": str(tmp_path / "ledger.sqlite"), "praxis_output_dir": str(output),
        "praxis_now": NOW.isoformat(), "praxis_patch_policy": {"pilot_delay_days": 5}}))
    playbook = tmp_path / "report.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Patch reports", "hosts": "windows", "gather_facts": False,
                                         "tasks": [{"name": "Write the patch reports",
                                                    "praxis_patch_report": None, "run_once": True}]}]))
    return inventory / "praxisops.yml", playbook, output


def run(inventory, playbook, *extra):
    result = ansible("ansible-playbook", "-i", str(inventory), str(playbook), *extra,
                     env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    task = json.loads(text[text.index("{"):text.rindex("}") + 1])["plays"][0]["tasks"][0]
    return next(iter(task["hosts"].values()))


def test_reports_once_per_practice_second_run_unchanged_check_mode_and_limit(setup):
    inventory, playbook, output = setup
    dry = run(inventory, playbook, "--check")
    assert dry["changed"] and len(dry["paths"]) == 6 and not output.exists()
    limited = run(inventory, playbook, "-l", "site_wagner")
    assert limited["sites"] == ["wagner"] and len(limited["paths"]) == 2
    first = run(inventory, playbook)
    assert first["changed"] and first["sites"] == ["huber", "schmidt", "wagner"]
    assert len(first["paths"]) == 4, "wagner's report is written already"
    huber = json.loads((output / "patches" / "huber" / "report.json").read_text())
    assert huber["generated_at"] == "2026-11-12T22:00:00+00:00" and huber["language"] == "de"
    assert [d["host"] for d in huber["devices"]] == ["huber-ws01", "huber-ws02", "huber-ws03"]
    assert huber["sla"]["policy"]["pilot_delay_days"] == 5
    markdown = (output / "patches" / "huber" / "report.md").read_text()
    assert "# Updates: Hausarztpraxis Dr. Huber" in markdown and "| KB5046633 |" in markdown
    schmidt = json.loads((output / "patches" / "schmidt" / "report.json").read_text())
    assert {d["host"]: d["role"] for d in schmidt["devices"]} == {
        "schmidt-empfang": "workplace", "schmidt-labor": "workplace", "schmidt-srv01": "server"}
    second = run(inventory, playbook)
    assert not second["changed"] and second["paths"] == []
