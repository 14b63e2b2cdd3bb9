"""The practice_backup role (WP-12) on a real Debian host in a network
namespace standing in for a practice's Linux server: files under /srv/praxis
and a dump command are backed up with the controller's restic into a local
repository on the host (standing in for the NAS) and an offsite SFTP
repository served by a private sshd on the machine's end of the host's veth
(the only address the host can reach). The controller's restic then reads the
offsite repository with the password and restores the files."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess

import pytest
import yaml

from lab import backup, netns

from .ansible_run import ansible, recap

pytestmark = pytest.mark.root

PLAYBOOK = "playbooks/backup.yml"
SITE = "bktest"
FILES = backup.FILES
DUMP = backup.DUMP_TEXT


@pytest.fixture(scope="module")
def server(netns_hosts) -> netns.Host:
    if not shutil.which("restic"):
        pytest.skip("restic is not installed on this machine (make installs it as root: apt-get install restic)")
    host = netns_hosts(1, group="databackup")[0]
    backup.prepare_server(host)
    return host


@pytest.fixture(scope="module")
def offsite(server, tmp_path_factory):
    """A private sshd (the machine's own) on the host's gateway address, serving
    SFTP into a folder of the test, with a key only the backup client uses."""
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("/usr/sbin/sshd is missing (Debian package openssh-server)")
    state = backup.start_offsite(tmp_path_factory.mktemp("offsite"), server.gateway)
    yield dict(state, key=backup.client_key(state))
    backup.stop_offsite(state)


@pytest.fixture(scope="module")
def passwords():
    return {"nas": "nas-" + secrets.token_hex(12), "offsite": "off-" + secrets.token_hex(12)}


@pytest.fixture(scope="module")
def inventory(server, offsite, passwords, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("backup-inventory")
    (folder / "sites").mkdir()
    site = {
        "id": SITE, "name": "Testpraxis Datensicherung", "state": "BE",
        "contacts": [{"name": "Praxisteam", "email": f"praxis@{SITE}.example.org"}],
        "devices": {"servers": [{"name": "srv01", "address": server.address, "os": "linux",
                                 "credentials": f"vault_{SITE}_srv01"}]},
        "backups": backup.backups_section(SITE, offsite),
    }
    (folder / "sites" / f"{SITE}.yml").write_text(yaml.safe_dump(site, allow_unicode=True))
    (folder / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n")
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "all.yml").write_text(yaml.safe_dump(backup.vault_values(SITE, passwords, offsite)))
    connection = {k: v for k, v in netns.inventory_vars(server).items() if k != "ansible_host"}
    (folder / "group_vars" / "databackup_linux.yml").write_text(yaml.safe_dump(connection))
    return str(folder / "praxisops.yml")


def run_playbook(inventory: str, *extra: str) -> subprocess.CompletedProcess:
    return ansible("ansible-playbook", "-i", inventory, PLAYBOOK, *extra, timeout=600)


@pytest.fixture(scope="module")
def converged(server, inventory):
    result = run_playbook(inventory, "-e", "practice_backup_run_now=true")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def controller_restic(repository: str, password: str, *args: str, sftp: dict | None = None, tmp=None):
    password_file = tmp / "password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    argv = ["restic", "-r", repository, "--no-cache"]
    if sftp:
        (tmp / "key").write_text(sftp["key"])
        (tmp / "key").chmod(0o600)
        (tmp / "known_hosts").write_text(sftp["known_hosts"] + "\n")
        argv += ["-o", f"sftp.command=ssh -i {tmp}/key -o IdentitiesOnly=yes -o UserKnownHostsFile={tmp}/known_hosts "
                       f"-o StrictHostKeyChecking=yes -o BatchMode=yes -p {sftp['port']} root@{sftp['host']} -s sftp"]
    env = dict(os.environ, RESTIC_PASSWORD_FILE=str(password_file))
    result = subprocess.run(argv + list(args), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_backup_runs_now_into_both_repositories(server, offsite, passwords, converged, tmp_path):
    hostname = f"{SITE}-srv01"
    assert recap(converged.stdout)[hostname]["failed"] == 0
    statuses = {}
    for name in ("nas", "offsite"):
        status = json.loads(server.run(f"cat /var/lib/praxis-backup/last-{name}.json").stdout)
        assert status["ok"] is True and status["error"] is None, status
        assert re.fullmatch(r"[0-9a-f]{64}", status["snapshot_id"]), status
        assert set(status) == {"repository", "started", "finished", "ok", "snapshot_id", "error"}
        statuses[name] = status
        assert status["snapshot_id"] in converged.stdout   # the run-now report shows it
    offsite_tmp = tmp_path / "offsite"
    offsite_tmp.mkdir()
    sftp = dict(offsite, host=server.gateway)
    snapshots = json.loads(controller_restic(offsite["url"], passwords["offsite"], "snapshots", "--json",
                                             sftp=sftp, tmp=offsite_tmp))
    assert [s["id"] for s in snapshots] == [statuses["offsite"]["snapshot_id"]]
    assert snapshots[0]["hostname"] == hostname
    assert set(snapshots[0]["tags"]) == {"praxis", f"site:{SITE}", "host:srv01"}
    target = tmp_path / "restore"
    controller_restic(offsite["url"], passwords["offsite"], "restore", "latest", "--target", str(target),
                      sftp=sftp, tmp=offsite_tmp)
    for name, text in FILES.items():
        assert (target / "srv/praxis" / name).read_text() == text, name
    assert not (target / "srv/praxis/scratch.tmp").exists()          # excluded
    assert (target / "var/lib/praxis-backup/dump/praxis.dump").read_text() == DUMP
    # the local repository (the NAS stand-in) on the host, read through the host's root
    local_tmp = tmp_path / "local"
    local_tmp.mkdir()
    local = json.loads(controller_restic(str(server.path("/srv/nas/restic")), passwords["nas"], "snapshots",
                                         "--json", tmp=local_tmp))
    assert [s["id"] for s in local] == [statuses["nas"]["snapshot_id"]]


def test_schedule_at_the_start_time(server, converged):
    manager = server.run("test -d /run/systemd/system && echo systemd || echo other").stdout.strip()
    if manager == "systemd":
        timer = server.run("cat /etc/systemd/system/praxis-backup.timer").stdout
        assert "OnCalendar=*-*-* 21:30:00" in timer and "Persistent=true" in timer
    else:
        cron = server.run("cat /etc/cron.d/praxis-backup").stdout
        assert re.search(r"^30 21 \* \* \* root /usr/local/sbin/praxis-backup run ", cron, re.M), cron


def test_secrets_only_in_the_0600_files(server, passwords, offsite, converged):
    for name in ("nas", "offsite"):
        assert server.run(f"cat /etc/praxis-backup/{name}.password").stdout == passwords[name]
        assert server.run(f"stat -c '%a %U' /etc/praxis-backup/{name}.password").stdout.strip() == "600 root"
        assert server.run(f"stat -c '%a' /etc/praxis-backup/{name}.env").stdout.strip() == "600"
    assert server.run("stat -c '%a' /etc/praxis-backup/offsite.ssh_key").stdout.strip() == "600"
    for password in passwords.values():
        assert password not in converged.stdout + converged.stderr
        found = server.run(["grep", "-rlF", password, "/etc", "/var", "/usr/local", "/root", "/srv", "/tmp"],
                           check=False).stdout.split()
        assert found == [f"/etc/praxis-backup/{name}.password" for name in passwords if passwords[name] == password]
    key_line = offsite["key"].splitlines()[1]
    assert key_line not in converged.stdout


def test_second_run_and_check_mode_change_nothing(server, inventory, passwords, converged):
    second = run_playbook(inventory)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout)[f"{SITE}-srv01"]["changed"] == 0, second.stdout
    check = run_playbook(inventory, "--check", "--diff", "-e", "practice_backup_run_now=true")
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check.stdout)[f"{SITE}-srv01"]["changed"] == 0, check.stdout
    for password in passwords.values():
        assert password not in second.stdout + check.stdout


def test_a_failing_dump_fails_the_run_and_names_it(server, inventory, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(os.path.dirname(inventory), broken)
    site_file = broken / "sites" / f"{SITE}.yml"
    site = yaml.safe_load(site_file.read_text())
    site["backups"]["sources"][0]["dump"]["command"] = "printf 'SQLite format 3'"
    site_file.write_text(yaml.safe_dump(site, allow_unicode=True))
    result = run_playbook(str(broken / "praxisops.yml"), "-e", "practice_backup_run_now=true")
    assert result.returncode != 0
    assert "dump: the output does not start with 'PGDMP'" in result.stdout
    status = json.loads(server.run("cat /var/lib/praxis-backup/last-offsite.json").stdout)
    assert status["ok"] is False and status["snapshot_id"] is None
    # deploy the good configuration again for any later test
    assert run_playbook(inventory).returncode == 0
