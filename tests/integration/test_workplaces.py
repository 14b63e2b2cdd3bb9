"""Windows workplaces in the inventory and the workplace playbooks, without a
Windows PC: the WinRM connection settings the praxisops_sites plugin gives the
group ``windows`` (and that an environment's group_vars can override), the
Linux and macOS computers of a site in ``not_managed`` only (WP-13), which
play of the workplace jobs reaches which computer, the not-managed report
written without contacting anyone, and the onboarding job's controller side
(WP-01 verdicts, end_host, the per-practice reports) with the PCs' facts from
fixtures. The roles against a real PC: molecule/windows
(tests/integration/test_molecule.py)."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from .ansible_run import ROOT, ansible, inventory_json

DEMO = ROOT / "inventories" / "demo"

# A practice with two Windows workplaces, a Windows server, a Linux and a macOS
# computer; addresses from the documentation ranges (RFC 5737), which answer nothing.
SITE = {
    "id": "weber",
    "name": "Praxis Weber",
    "state": "HE",
    "contacts": [{"name": "Praxis Weber", "email": "praxis@weber.example.org"}],
    "pilot": "ws01",
    "devices": {
        "workplaces": [
            {"name": "ws01", "address": "192.0.2.21", "credentials": "vault_weber_windows"},
            {"name": "ws02", "address": "192.0.2.22", "os": "windows", "credentials": "vault_weber_windows"},
            {"name": "lx01", "address": "192.0.2.30", "os": "linux", "vendor": "Tuxedo", "model": "InfinityBook",
             "credentials": "vault_weber_linux", "notes": "reception kiosk"},
            {"name": "mac01", "address": "192.0.2.31", "os": "macos", "vendor": "Apple", "model": "iMac",
             "credentials": "vault_weber_mac"},
        ],
        "servers": [
            {"name": "srv01", "address": "192.0.2.10", "credentials": "vault_weber_windows"},
        ],
    },
}
WINDOWS = {"weber-ws01", "weber-ws02", "weber-srv01"}
NOT_MANAGED = {"weber-lx01", "weber-mac01"}
WINRM = {
    "ansible_connection": "winrm",
    "ansible_port": 5986,
    "ansible_winrm_scheme": "https",
    "ansible_winrm_transport": "ntlm",
    "ansible_winrm_message_encryption": "always",
    "ansible_winrm_server_cert_validation": "validate",
}


@pytest.fixture
def environment(tmp_path):
    """An environment folder with the plugin configuration and the one site."""
    env = tmp_path / "env"
    (env / "sites").mkdir(parents=True)
    (env / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n", encoding="utf-8")
    (env / "sites" / "weber.yml").write_text("---\n" + yaml.safe_dump(SITE, sort_keys=False), encoding="utf-8")
    return env


def groups_of(data: dict) -> dict[str, set[str]]:
    return {name: set(value.get("hosts", [])) for name, value in data.items() if name != "_meta"}


def test_windows_hosts_get_winrm_over_https_with_validated_certificates(environment):
    data = inventory_json(str(environment / "praxisops.yml"))
    groups = groups_of(data)
    hostvars = data["_meta"]["hostvars"]
    assert groups["windows"] == WINDOWS
    assert groups["workplaces"] == {"weber-ws01", "weber-ws02", "weber-lx01", "weber-mac01"}
    assert groups["servers"] == {"weber-srv01"}
    for host in sorted(WINDOWS):
        settings = {key: hostvars[host].get(key) for key in WINRM}
        assert settings == WINRM, host
        assert hostvars[host]["ansible_host"] == hostvars[host]["praxis_device"]["address"]
        assert hostvars[host]["praxis_device"]["os"] == "windows"


def test_linux_and_macos_computers_are_not_managed(environment):
    data = inventory_json(str(environment / "praxisops.yml"))
    groups = groups_of(data)
    hostvars = data["_meta"]["hostvars"]
    assert groups["not_managed"] == NOT_MANAGED
    assert not NOT_MANAGED & groups["windows"]
    assert not NOT_MANAGED & groups.get("network_devices", set())
    for host in sorted(NOT_MANAGED):
        assert hostvars[host].get("ansible_connection") != "winrm", host
        assert not any(key.startswith("ansible_winrm_") for key in hostvars[host]), host
    assert hostvars["weber-lx01"]["praxis_device"]["os"] == "linux"
    assert hostvars["weber-mac01"]["praxis_device"]["os"] == "macos"


def test_group_vars_of_the_environment_override_the_winrm_defaults(environment):
    # a practice in a domain: Kerberos, and the provider's CA for the listeners' certificates
    (environment / "group_vars" / "windows").mkdir(parents=True)
    (environment / "group_vars" / "windows" / "winrm.yml").write_text(
        "---\nansible_winrm_transport: kerberos\nansible_winrm_ca_trust_path: /etc/praxisops/winrm-ca.pem\n",
        encoding="utf-8")
    hostvars = inventory_json(str(environment / "praxisops.yml"))["_meta"]["hostvars"]
    ws01 = hostvars["weber-ws01"]
    assert ws01["ansible_winrm_transport"] == "kerberos"
    assert ws01["ansible_winrm_ca_trust_path"] == "/etc/praxisops/winrm-ca.pem"
    # what the override does not name stays as the plugin set it
    assert ws01["ansible_winrm_scheme"] == "https" and ws01["ansible_port"] == 5986
    assert ws01["ansible_winrm_message_encryption"] == "always"
    assert ws01["ansible_winrm_server_cert_validation"] == "validate"
    assert "ansible_winrm_transport" not in hostvars["weber-mac01"]


def play_hosts(playbook: str, inventory: str) -> list[tuple[str, set[str]]]:
    """(play name, hosts) of every play, from ansible-playbook --list-hosts."""
    result = ansible("ansible-playbook", "-i", inventory, "--list-hosts", playbook)
    assert result.returncode == 0, result.stdout + result.stderr
    plays, current = [], None
    for line in result.stdout.splitlines():
        text = line.strip()
        if text.startswith("play #"):
            current = (text.split("): ", 1)[1].rsplit("\t", 1)[0].strip(), set())
            plays.append(current)
        elif current and text and not text.startswith("pattern:") and ":" not in text:
            current[1].add(text)
    return plays


def test_workplace_jobs_reach_windows_and_never_the_other_computers(environment):
    inventory = str(environment / "praxisops.yml")
    onboard = dict(play_hosts("playbooks/onboard_workplaces.yml", inventory))
    # every job first checks the practice it is limited to: on the controller, and only when one is given
    assert onboard.pop("Check the practice the job is limited to") == set()
    # the practice-data backup reaches only the backup sources of a site file: this practice has none,
    # so its Linux and macOS computers stay untouched (WP-12, WP-13)
    assert onboard == {"Onboard the Windows workplaces and servers": WINDOWS,
                       "Report the computers that are not managed": NOT_MANAGED,
                       "Deploy the practice-data backup": set()}
    nightly = dict(play_hosts("playbooks/nightly.yml", inventory))
    assert nightly["Check the Windows workplaces and servers"] == WINDOWS
    monthly = dict(play_hosts("playbooks/monthly.yml", inventory))
    assert monthly["Care for and inventory the Windows workplaces and servers"] == WINDOWS
    assert monthly["Report the computers that are not managed"] == NOT_MANAGED
    # after the practice check, the network plays come first and reach no computer
    assert list(nightly)[:2] == ["Check the practice the job is limited to", "Check the network devices"]
    assert not nightly["Check the network devices"]


def test_not_managed_computers_are_reported_without_contact(environment, tmp_path):
    output = tmp_path / "output"
    result = ansible("ansible-playbook", "-i", str(environment / "praxisops.yml"), "playbooks/onboard_workplaces.yml",
                     "--limit", "not_managed", "-e", f"praxis_output_dir={output}")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "unreachable=0" in log and "UNREACHABLE" not in log
    assert "weber-mac01 (macos, Apple iMac, 192.0.2.31): not managed (WP-13)" in log
    report_dir = output / "workplaces" / "weber"
    report = json.loads((report_dir / "not-managed.json").read_text(encoding="utf-8"))
    assert report["site"] == "weber" and set(report["computers"]) == NOT_MANAGED
    assert report["computers"]["weber-lx01"]["os"] == "linux"
    markdown = (report_dir / "not-managed.md").read_text(encoding="utf-8")
    assert "| weber-lx01 | Linux | Tuxedo | InfinityBook | 192.0.2.30 | reception kiosk |" in markdown
    assert "| weber-mac01 | macOS | Apple | iMac | 192.0.2.31 |  |" in markdown
    # no vault variable name in a report
    assert "vault_" not in markdown and "vault_" not in json.dumps(report)
    assert oct((report_dir / "not-managed.md").stat().st_mode & 0o777) == "0o600"
    assert oct(report_dir.stat().st_mode & 0o777) == "0o700"
    # a second run changes nothing
    again = ansible("ansible-playbook", "-i", str(environment / "praxisops.yml"), "playbooks/onboard_workplaces.yml",
                    "--limit", "not_managed", "-e", f"praxis_output_dir={output}")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout + again.stderr


def test_demo_practices_keep_their_macos_computer_out_of_windows():
    data = inventory_json(str(DEMO / "praxisops.yml"))
    groups = groups_of(data)
    assert "schmidt-mac-ceo" in groups["not_managed"] and "schmidt-mac-ceo" not in groups["windows"]
    assert groups["windows"] >= {"huber-ws01", "schmidt-srv01", "wagner-therapie1"}



# -- The onboarding job on the controller, with the PCs' facts from fixtures -----------------------
# A stand-in for the praxis_win_facts action answers with the facts of the fixture
# files (tests/fixtures/windows, shaped as the module returns them) per host, and the
# Windows hosts run locally; the agent, Defender and BitLocker are switched off and no
# CA is listed, so the job exercises what is decided and written on the controller:
# the WP-01 verdicts, end_host for a PC that is not fit, the per-practice reports.
FACTS_STANDIN = '''
import json
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        with open(task_vars["praxis_test_facts_file"], encoding="utf-8") as handle:
            facts = json.load(handle)[task_vars["inventory_hostname"]]
        if not self._task.args.get("software", True):
            facts.pop("software", None)
        result.update(changed=False, facts=facts)
        return result
'''
FIXTURES = ROOT / "tests" / "fixtures" / "windows"
FACTS = {"weber-ws01": "facts_pro_fit", "weber-ws02": "facts_home", "weber-srv01": "facts_weak"}


@pytest.fixture
def onboarding(environment, tmp_path):
    actions = tmp_path / "actions"
    actions.mkdir()
    (actions / "praxis_win_facts.py").write_text(FACTS_STANDIN, encoding="utf-8")
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps({host: json.loads((FIXTURES / f"{name}.json").read_text())["facts"]
                                      for host, name in FACTS.items()}), encoding="utf-8")
    (environment / "group_vars" / "windows").mkdir(parents=True)
    (environment / "group_vars" / "windows" / "test.yml").write_text(yaml.safe_dump({
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "workplace_agent_enabled": False, "workplace_endpoint_protection_enabled": False,
        "workplace_bitlocker_enabled": False, "workplace_certificates_ca_files": [],
    }), encoding="utf-8")
    output = tmp_path / "output"

    def run(*args: str):
        return ansible("ansible-playbook", "-i", str(environment / "praxisops.yml"), "playbooks/onboard_workplaces.yml",
                       "-e", f"praxis_output_dir={output}", "-e", f"praxis_test_facts_file={facts_file}", *args,
                       env={"ANSIBLE_ACTION_PLUGINS": f"{actions}:{ROOT / 'action_plugins'}"})

    return run, output / "workplaces" / "weber"


def test_onboarding_reports_unfit_pcs_and_leaves_them_out(onboarding):
    run, reports = onboarding
    result = run()
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert ("weber-ws02 is not fit to be a managed workplace (WP-01): "
            "Windows Home edition (Core) is not supported") in log
    prereq = json.loads((reports / "prerequisites.json").read_text(encoding="utf-8"))
    computers = prereq["computers"]
    assert set(computers) == {"weber-ws01", "weber-ws02", "weber-srv01"} and prereq["not_reached"] == []
    assert computers["weber-ws01"]["fit"] and computers["weber-ws01"]["reasons"] == []
    assert not computers["weber-ws02"]["fit"]
    assert not computers["weber-srv01"]["fit"] and len(computers["weber-srv01"]["reasons"]) == 3
    assert computers["weber-srv01"]["checks"]["ram"] == {
        "ok": False, "value": 4, "required": 8,
        "message": "4 GB RAM (3.9 GiB usable per Win32_ComputerSystem.TotalPhysicalMemory), at least 8 GB needed"}
    markdown = (reports / "prerequisites.md").read_text(encoding="utf-8")
    assert "| weber-ws01 | fit |  |" in markdown
    assert "| weber-ws02 | **not fit** | Windows Home edition (Core) is not supported |" in markdown
    # the PCs that are not fit left the play: only the fit one is in the inventory
    inventory = json.loads((reports / "inventory.json").read_text(encoding="utf-8"))
    assert set(inventory["computers"]) == {"weber-ws01"}
    assert inventory["computers"]["weber-ws01"]["serial"] == "MJ0LAB01"
    assert set(inventory["not_managed"]) == NOT_MANAGED
    inventory_md = (reports / "inventory.md").read_text(encoding="utf-8")
    assert ("| weber-ws01 | LENOVO 11T3S0AB00 | MJ0LAB01 | Microsoft Windows 11 Pro 23H2 (build 22631.4460) |"
            in inventory_md)
    assert "| weber-mac01 | macOS | Apple iMac | 192.0.2.31 |" in inventory_md
    assert "vault_" not in inventory_md + markdown + json.dumps(inventory)
    recap = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("weber-")}
    assert "failed=0" in recap["weber-ws02"] and "unreachable=0" in recap["weber-ws02"]

    # a second run changes nothing
    again = run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert all("changed=0" in line for line in again.stdout.splitlines() if line.startswith("weber-")), again.stdout


def test_onboarding_one_pc_keeps_the_practices_other_verdicts(onboarding):
    run, reports = onboarding
    assert run().returncode == 0
    result = run("--limit", "weber-ws01")
    assert result.returncode == 0, result.stdout + result.stderr
    computers = json.loads((reports / "prerequisites.json").read_text(encoding="utf-8"))["computers"]
    assert set(computers) == {"weber-ws01", "weber-ws02", "weber-srv01"}
    assert "from_earlier_run" not in computers["weber-ws01"]
    assert computers["weber-ws02"]["from_earlier_run"] and not computers["weber-ws02"]["fit"]
    assert "| weber-ws02 | **not fit** (earlier run) |" in (reports / "prerequisites.md").read_text(encoding="utf-8")


def test_onboarding_in_check_mode_writes_nothing(onboarding):
    run, reports = onboarding
    result = run("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not reports.exists()
