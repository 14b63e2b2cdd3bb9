"""The audit trail of a real ansible-playbook run (OPS-05): the callback
praxis_audit records who ran what with which limit and tags, the extra
variables with their secrets masked (names, URLs, a vault-encrypted value),
per host what changed (with a diff summary), a no_log task and an
unreachable host; scripts/praxis-audit verifies the chain and finds a
tampered record."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
import yaml

from .ansible_run import ROOT, ansible

SECRETS = ("Sup3rGeheim!", "UrlGeheim9", "TokGeheim7", "VaultGeheim5", "NoLogGeheim3")
PLAYBOOK = """
- name: Audit trail
  hosts: all
  gather_facts: false
  vars:
    hidden: NoLogGeheim3      # not a secret by its name: only no_log keeps it out
  tasks:
    - name: Write the practice's settings file
      ansible.builtin.copy:
        dest: "{{ audit_dir }}/{{ inventory_hostname }}.conf"
        content: "first\\nsecond {{ audit_round }}\\n"
        mode: "0600"
      tags: [audit]
    - name: Set the secret {{ hidden }}
      ansible.builtin.command: "true"
      changed_when: true
      no_log: true
      tags: [audit]
    - name: Not selected by the tags
      ansible.builtin.command: "true"
      changed_when: true
      tags: [other]
"""


@pytest.fixture
def project(tmp_path):
    ledger = tmp_path / "output" / "ledger.sqlite"
    inventory = {"all": {
        "vars": {"praxis_ledger_path": str(ledger), "audit_dir": str(tmp_path / "files")},
        "children": {
            "site_huber": {"hosts": {
                "huber-local": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                # nothing listens on port 9: unreachable
                "huber-gone": {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"},
            }},
            "site_other": {"hosts": {
                "other-local": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            }},
        }}}
    (tmp_path / "files").mkdir()
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    (tmp_path / "audit.yml").write_text(PLAYBOOK, encoding="utf-8")
    password = tmp_path / "vault-pass"
    password.write_text("test-vault-password\n", encoding="utf-8")
    encrypted = ansible("ansible-vault", "encrypt_string", "--vault-password-file", str(password),
                        "VaultGeheim5", "--name", "praxis_note")
    assert encrypted.returncode == 0, encrypted.stderr
    (tmp_path / "vars.yml").write_text(encrypted.stdout, encoding="utf-8")

    def run(round_: int, *args: str):
        return ansible("ansible-playbook", "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "audit.yml"),
                       "--diff", "--limit", "site_huber", "--tags", "audit",
                       "--vault-password-file", str(password), "-e", f"@{tmp_path / 'vars.yml'}",
                       "-e", json.dumps({"db_password": SECRETS[0], "backup_url": f"sftp://praxis:{SECRETS[1]}@nas/x",
                                         "nested": {"list": [{"api_token": SECRETS[2]}]},
                                         "audit_round": round_, "praxis_force_reason": "ticket 4711"}),
                       *args, env={"SUDO_USER": "mmueller", "SSH_CONNECTION": "203.0.113.9 50000 10.0.0.2 22"})

    return run, ledger


def cli(ledger, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "praxis-audit"), "--ledger", str(ledger), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_real_run_is_recorded_masked_and_verifiable(project):
    run, ledger = project
    result = run(1)
    log = result.stdout + result.stderr
    assert result.returncode != 0, "huber-gone is unreachable: " + log
    assert "praxis_audit" not in log, log           # no warning of the callback

    shown = cli(ledger, "--json", "show")
    assert shown.returncode == 0, shown.stderr
    records = json.loads(shown.stdout)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end" and len({r["run"] for r in records}) == 1

    start = records[0]["data"]
    assert (start["by"], start["via"], start["from"]["ssh_client"]) == ("mmueller", "sudo", "203.0.113.9")
    assert start["limit"] == "site_huber" and start["tags"] == ["audit"] and start["check"] is False
    assert start["playbooks"][0].endswith("audit.yml")
    extra = start["extra_vars"]
    assert extra["db_password"] == "********" and extra["praxis_note"] == "********"
    assert extra["backup_url"] == "sftp://praxis:********@nas/x"
    assert extra["nested"] == {"list": [{"api_token": "********"}]}
    assert extra["praxis_force_reason"] == "ticket 4711" and extra["audit_round"] == 1

    changes = [(r["site"], r["host"], r["data"]) for r in records if r["kind"] == "change"]
    assert ("huber", "huber-local", {"task": "Write the practice's settings file", "action": "ansible.builtin.copy",
                                     "status": "changed", "changed": True,
                                     "diff": {"files": 1, "added": 2, "removed": 0}}) in changes
    assert ("huber", "huber-local", {"task": "(no_log)", "action": "ansible.builtin.command", "status": "changed",
                                     "changed": True}) in changes
    gone = [data for site, host, data in changes if host == "huber-gone"]
    assert [d["status"] for d in gone] == ["unreachable"]
    assert not [host for _, host, _ in changes if host == "other-local"], "--limit site_huber"
    assert not [d for _, _, d in changes if d["task"] == "Not selected by the tags"]

    end = records[-1]["data"]
    assert end["status"] == "failed" and end["sites"] == ["huber"]
    assert end["hosts"]["huber-local"]["changed"] == 2 and end["hosts"]["huber-gone"]["unreachable"] == 1

    stored = b"".join(p.read_bytes() for p in ledger.parent.iterdir() if p.name.startswith("ledger.sqlite"))
    for secret in SECRETS:
        assert secret.encode() not in stored, secret
    assert b"second 1" not in stored, "never the diff content"

    verified = cli(ledger, "verify")
    assert verified.returncode == 0 and f"intact: {len(records)} records" in verified.stdout, verified.stdout

    second = run(2)
    assert second.returncode != 0
    again = json.loads(cli(ledger, "--json", "show").stdout)
    assert len({r["run"] for r in again}) == 2 and again[:len(records)] == records
    copy = [r["data"] for r in again[len(records):] if r["kind"] == "change" and r["host"] == "huber-local"]
    assert copy[0]["diff"] == {"files": 1, "added": 1, "removed": 1}
    assert cli(ledger, "verify").returncode == 0


def test_a_tampered_ledger_fails_verify(project):
    run, ledger = project
    run(1)
    conn = sqlite3.connect(ledger)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE kind = 'change'")
    conn.execute("DROP TRIGGER audit_log_no_update")
    with conn:
        conn.execute("UPDATE audit_log SET data = replace(data, 'mmueller', 'someone') WHERE kind = 'run_start'")
    conn.close()
    broken = cli(ledger, "verify")
    assert broken.returncode == 1 and "broken at record 1" in broken.stdout, broken.stdout + broken.stderr
