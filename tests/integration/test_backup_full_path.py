"""The practice-data backup (WP-12) end to end, through the site file inventory:
a lab netns host as the practice server with files and a database dump
(lab/backup.py), a local repository on it (the NAS stand-in) and an offsite SFTP
repository on a private sshd on the machine's end of its veth. Deploy and back
up now (playbooks/backup.yml), verify (playbooks/backup_verify.yml: ledger rows,
no finding), restore test (playbooks/restore_test.yml: evidence in the ledger),
then a corrupted pack in the offsite repository (backup.check, not pruned) and,
three working days later without a backup, the nightly job (playbooks/nightly.yml):
backup.stale with priority high for the server, an incident and a queued alert;
a second practice without backups is left alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import shutil
from pathlib import Path

import pytest
import yaml

from ansible.module_utils import praxis_databackup as db
from ansible.module_utils import praxis_incidents, praxis_site
from lab import backup, netns

from .ansible_run import ansible, playbook_json, recap, task_outcome

pytestmark = pytest.mark.root

SITE = "bkfull"
OTHER = "bkohne"          # a practice without backups: in its site file


@pytest.fixture(scope="module")
def lab_practice(netns_hosts, tmp_path_factory):
    if not shutil.which("restic"):
        pytest.skip("restic is not installed on this machine (make installs it as root: apt-get install restic)")
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("/usr/sbin/sshd is missing (Debian package openssh-server)")
    server = netns_hosts(1, group="bkfull")[0]
    backup.prepare_server(server)
    base = tmp_path_factory.mktemp("backup-full-path")
    offsite = backup.start_offsite(base / "offsite", server.gateway)
    passwords = {"nas": "nas-" + secrets.token_hex(12), "offsite": "off-" + secrets.token_hex(12)}
    (base / "sites").mkdir()
    site = {"id": SITE, "name": "Praxis Vollpfad", "state": "BE",
            "contacts": [{"name": "Praxisteam", "email": f"praxis@{SITE}.example.org"}],
            "devices": {"servers": [{"name": "srv01", "address": server.address, "os": "linux",
                                     "credentials": f"vault_{SITE}_srv01"}]},
            "backups": backup.backups_section(SITE, offsite,
                                              nas_controller_url=str(server.path("/srv/nas/restic")))}
    other = {"id": OTHER, "name": "Praxis ohne Sicherung", "state": "BE",
             "contacts": [{"name": "Praxisteam", "email": f"praxis@{OTHER}.example.org"}],
             "devices": {"servers": [{"name": "srv01", "address": "192.0.2.10", "os": "linux",
                                      "credentials": f"vault_{OTHER}_srv01"}]}}
    for document in (site, other):
        (base / "sites" / f"{document['id']}.yml").write_text(yaml.safe_dump(document, allow_unicode=True))
    (base / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n")
    (base / "group_vars").mkdir()
    settings = dict(backup.vault_values(SITE, passwords, offsite),
                    praxis_ledger_path=str(base / "ledger.sqlite"), praxis_output_dir=str(base / "output"),
                    praxis_restic_options={"sftp.command": offsite["sftp_command"]},
                    praxis_restic_cache_dir=str(base / "cache"))
    (base / "group_vars" / "all.yml").write_text(yaml.safe_dump(settings))
    connection = {k: v for k, v in netns.inventory_vars(server).items() if k != "ansible_host"}
    (base / "group_vars" / "databackup_linux.yml").write_text(yaml.safe_dump(connection))
    yield {"server": server, "offsite": offsite, "passwords": passwords, "base": base,
           "inventory": str(base / "praxisops.yml"), "ledger": str(base / "ledger.sqlite")}
    backup.stop_offsite(offsite)


def run(practice, name, *extra):
    return playbook_json(practice["inventory"], name, *extra, secrets=tuple(practice["passwords"].values()))


def by_check(findings):
    return {(f["host"], f["check"], f["subject"]): f for f in findings}


def test_backup_verify_restore_then_a_corrupt_pack_and_a_stale_server(lab_practice):
    practice = lab_practice
    server, ledger = practice["server"], practice["ledger"]

    # 1. deploy and back up now, into both repositories
    deployed = ansible("ansible-playbook", "-i", practice["inventory"], "playbooks/backup.yml",
                       "-e", "practice_backup_run_now=true", timeout=600)
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-2000:]
    assert recap(deployed.stdout)[f"{SITE}-srv01"]["failed"] == 0
    assert f"{OTHER}-srv01" not in recap(deployed.stdout)

    # 2. the verification through the site file inventory: a row per repository, no finding
    verified = task_outcome(run(practice, "backup_verify.yml"))
    assert verified["sites"] == [SITE]
    rows = {row["repository"]: row for row in verified["repositories"]}
    assert set(rows) == {"nas", "offsite"}
    for row in rows.values():
        assert row["ok"] and row["check_ok"] and row["pruned"], row
        assert row["snapshots"]["srv01"]["count"] == 1 and row["snapshots"]["srv01"]["age_working_days"] == 0
    assert verified["findings"] == []
    recorded = db.checks(ledger)
    assert sorted((r["site"], r["repository"], r["ok"]) for r in recorded) == [(SITE, "nas", True),
                                                                                  (SITE, "offsite", True)]

    # 3. the restore test: files and the dump from the offsite repository, the evidence in the ledger
    tested = task_outcome(run(practice, "restore_test.yml", "-e", "praxis_restore_test_seed=2026"))
    assert tested["chosen"] == [SITE], tested
    test = tested["tests"][0]
    assert test["ok"] and test["repository"] == "offsite" and test["host"] == f"{SITE}-srv01", test
    evidence = db.restore_tests(ledger)
    assert len(evidence) == 1 and evidence[0]["ok"] and evidence[0]["seed"] == "2026"
    assert evidence[0]["dump"]["header_ok"] is True and evidence[0]["dump"]["file"] == "praxis.dump"
    restored = {f["path"]: f for f in evidence[0]["files"]}
    assert restored and all(f["ok"] for f in restored.values())
    for path, entry in restored.items():           # the sha256 is that of the file on the server
        if path.startswith("/srv/praxis/"):
            assert entry["sha256"] == hashlib.sha256(server.path(path).read_bytes()).hexdigest(), path
    assert any(path.startswith("/srv/praxis/") for path in restored)
    assert "scratch.tmp" not in " ".join(restored)

    # 4. a fault: a pack of the offsite repository is cut short -> backup.check, nothing pruned there
    packs = sorted(Path(practice["offsite"]["repository"]).glob("data/*/*"), key=lambda p: p.stat().st_size)
    broken = packs[-1]
    broken.chmod(0o600)
    with open(broken, "r+b") as handle:
        handle.truncate(broken.stat().st_size // 2)
    faulty = task_outcome(run(practice, "backup_verify.yml"))
    rows = {row["repository"]: row for row in faulty["repositories"]}
    assert rows["offsite"]["check_ok"] is False and rows["offsite"]["pruned"] is False
    assert rows["offsite"]["error_kind"] == "check_failed"
    assert rows["nas"]["check_ok"] and rows["nas"]["pruned"]
    check = by_check(faulty["findings"])[(f"{SITE}-backup", "backup.check", "offsite")]
    assert check["severity"] == "critical"
    assert [r["pruned"] for r in db.checks(ledger) if r["repository"] == "offsite"] == [True, False]

    # 5. the server's backups stop: three working days later the nightly job finds it stale
    last = dt.datetime.fromisoformat(rows["nas"]["snapshots"]["srv01"]["time"])
    later = last + dt.timedelta(days=1)
    site, errors = praxis_site.load_site(practice["base"] / "sites" / f"{SITE}.yml")
    assert not errors, errors
    while db.age_working_days(site, last, later) < 3:
        later += dt.timedelta(hours=12)
    nightly = run(practice, "nightly.yml", "-e", f"praxis_now={later.isoformat()}")
    stale_run = task_outcome(nightly, "Verify every repository, prune after a good check")
    assert stale_run["sites"] == [SITE], "the practice without backups is left alone"
    stale = by_check(stale_run["findings"])[(f"{SITE}-srv01", "backup.stale", "nas")]
    assert stale["severity"] == "critical" and stale["priority"] == "high" and stale["value"] >= 3
    opened = {(i["host"], i["check"]) for i in stale_run["incidents"]["opened"]}
    assert (f"{SITE}-srv01", "backup.stale") in opened
    alerts = task_outcome(nightly, "Send the alert e-mails of this run")
    assert any(item["site"] == SITE for item in alerts["queued"]), alerts
    assert {r["site"] for r in db.checks(ledger)} == {SITE}
    assert any(i["check"] == "backup.stale" and i["host"] == f"{SITE}-srv01"
               for i in praxis_incidents.incidents(ledger, site=SITE))
    durations = {step: [(r["repository"], r["duration_s"]) for r in outcome["repositories"]]
                 for step, outcome in (("verify", verified), ("corrupt", faulty), ("nightly", stale_run))}
    print(f"verification durations per repository (s): {durations}; nightly task: {stale_run['_duration']}")
