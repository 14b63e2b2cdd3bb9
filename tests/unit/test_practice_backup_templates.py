"""The practice_backup role's templates rendered by Ansible itself (a local
play templating into a folder), for a Windows and a Linux source, and its
PowerShell run script through the project's PowerShell gate."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "practice_backup"
BIN = Path(sys.executable).parent

spec = importlib.util.spec_from_file_location("check_powershell", ROOT / "scripts" / "check_powershell.py")
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)


def render(tmp_path: Path, os_name: str, start: str) -> Path:
    paths = ["D:\\Praxis"] if os_name == "windows" else ["/srv/praxis"]
    variables = {
        "praxis_site": {"id": "schmidt", "file": "sites/schmidt.yml", "backups": {
            "start": start, "retention": {"daily": 10},
            "repositories": [{"name": "nas", "kind": "local", "url": "sftp:restic@10.20.0.5:/volume1/restic",
                              "password": "vault_schmidt_backup_nas"},
                             {"name": "offsite", "kind": "offsite", "url": "s3:https://s3.example.net/b",
                              "password": "vault_schmidt_backup_off", "environment": "vault_schmidt_backup_env"}]}},
        "praxis_device": {"name": "srv01", "os": os_name, "backup": {
            "host": "srv01", "paths": paths, "exclude": ["*.tmp"], "server": True, "os": os_name,
            "dump": {"command": "pg_dump -Fc praxis", "file": "praxis.dump", "header": "PGDMP"}}},
        "praxis_backup_policy": {"retention": {"weekly": 5}},
        "vault_schmidt_backup_env": {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"},
    }
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
    out = tmp_path / "out"
    out.mkdir()
    play = [{"hosts": "localhost", "gather_facts": False, "vars_files": [str(ROLE / "defaults/main.yml"),
                                                                          str(ROLE / "vars/main.yml"),
                                                                          str(tmp_path / "vars.yml")],
             "tasks": [{"ansible.builtin.template": {"src": str(ROLE / "templates" / f"{name}.j2"),
                                                     "dest": str(out / name), "mode": "0600"},
                        "vars": {"__practice_backup_repo": "{{ __practice_backup_repositories[1] }}",
                                 "__practice_backup_repo_env": "{{ vault_schmidt_backup_env }}"}}
                       for name in ("backup.json", "repository.env", "praxis-backup.cron", "praxis-backup.timer")]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")]
    result = subprocess.run(argv,
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_windows_configuration_names_windows_paths(tmp_path):
    out = render(tmp_path, "windows", "21:30")
    config = json.loads((out / "backup.json").read_text())
    assert config["restic"] == "C:\\ProgramData\\praxis-backup\\restic.exe"
    assert config["state_dir"] == "C:\\ProgramData\\praxis-backup"
    assert config["paths"] == ["D:\\Praxis"] and config["host"] == "schmidt-srv01"
    assert config["tags"] == ["praxis", "site:schmidt", "host:srv01"]
    assert config["repositories"] == ["nas", "offsite"]
    assert config["retention"] == {"daily": 10, "weekly": 5, "monthly": 12}
    assert config["dump"] == {"command": "pg_dump -Fc praxis", "file": "praxis.dump", "header": "PGDMP"}
    env = (out / "repository.env").read_text()
    assert "RESTIC_REPOSITORY=s3:https://s3.example.net/b\n" in env
    assert "RESTIC_PASSWORD_FILE=C:\\ProgramData\\praxis-backup\\offsite.password\n" in env
    assert "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\n" in env
    assert "vault_" not in (out / "backup.json").read_text()


@pytest.mark.parametrize(("start", "cron", "calendar"), [("21:30", "30 21 * * *", "*-*-* 21:30:00"),
                                                         ("07:05", "5 7 * * *", "*-*-* 07:05:00")])
def test_linux_schedule_and_paths(tmp_path, start, cron, calendar):
    out = render(tmp_path, "linux", start)
    config = json.loads((out / "backup.json").read_text())
    assert config["restic"] == "/usr/local/bin/restic" and config["state_dir"] == "/var/lib/praxis-backup"
    assert "RESTIC_PASSWORD_FILE=/etc/praxis-backup/offsite.password\n" in (out / "repository.env").read_text()
    assert f"\n{cron} root /usr/local/sbin/praxis-backup run " in (out / "praxis-backup.cron").read_text()
    timer = (out / "praxis-backup.timer").read_text()
    assert f"OnCalendar={calendar}\n" in timer and "Persistent=true\n" in timer


def test_powershell_run_script_passes_the_gate():
    source = (ROLE / "files" / "praxis-backup.ps1").read_bytes()
    assert gate.check(source) == []
    # and the gate would catch a broken one
    assert gate.check(source.replace(b"function Invoke-Backup {", b"function Invoke-Backup {{", 1))
