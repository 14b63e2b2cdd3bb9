"""Data backup verification and restore test through ansible-playbook (WP-12), against
real restic repositories: one in a local folder, one over SFTP from a private sshd on a
loopback port. The backups are made by restic directly (the deploy half is not part of
this); the actions verify, prune after a good check, find a host without a backup for
three working days and a shrunk backup, refuse a wrong password, restore a sample with
its dump, and report a full scratch disk (a tiny tmpfs in a private mount namespace)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest
import yaml

from ansible.module_utils import praxis_databackup as db
from ansible.module_utils import praxis_ledger
from ansible.module_utils import praxis_site
from tests.integration.ansible_run import BIN, ROOT, playbook_json, task_outcome

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("restic") is None or not os.path.exists("/usr/sbin/sshd"),
                                 reason="restic and openssh-server are needed (make apt)")]
NOW = "2026-11-12T02:00:00+01:00"        # Thursday night
PASSWORD = {"nas": "nas-Pa$$wort-1", "offsite": "offsite-Pa$$wort-2"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    base = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "client_key")], check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    port = free_port()
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\nPidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
    host_key = (base / "host_key.pub").read_text().split()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    process = subprocess.Popen(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && "
                                f"exec /usr/sbin/sshd -D -e -f {base / 'sshd_config'}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    user = os.environ.get("USER") or "root"
    command = (f"ssh -p {port} -i {base / 'client_key'} -o UserKnownHostsFile={base / 'known_hosts'} "
               f"-o StrictHostKeyChecking=yes -o BatchMode=yes {user}@127.0.0.1 -s sftp")
    yield {"command": command, "user": user}
    process.terminate()
    process.wait(timeout=10)


def restic(url, password, *args, cwd=None, options=None, cache=None):
    env = dict(os.environ, RESTIC_REPOSITORY=url, RESTIC_PASSWORD=password)
    if cache:
        env["RESTIC_CACHE_DIR"] = str(cache)
    argv = ["restic", *args] + [x for key, value in (options or {}).items() for x in ("-o", f"{key}={value}")]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd=cwd)


def backup(url, password, data, device, when, options=None, cache=None):
    restic(url, password, "backup", "--host", f"schmidt-{device}", "--tag", "praxis", "--tag", "site:schmidt",
           "--tag", f"host:{device}", "--time", when, ".", cwd=data, options=options, cache=cache)


@pytest.fixture(scope="module")
def practice(tmp_path_factory, sshd):
    base = tmp_path_factory.mktemp("databackup")
    cache = base / "cache"
    options = {"sftp.command": sshd["command"]}
    urls = {"nas": str(base / "nas"), "offsite": f"sftp:{sshd['user']}@127.0.0.1:{base / 'offsite'}"}
    for name, url in urls.items():
        restic(url, PASSWORD[name], "init", options=options, cache=cache)
    server, empfang = base / "srv01", base / "empfang"
    (server / "var/lib/praxis-backup/dump").mkdir(parents=True)
    (server / "srv/praxis").mkdir(parents=True)
    empfang.mkdir()
    (empfang / "brief.txt").write_text("Arztbrief\n")
    for day in range(2, 12):        # srv01: one backup every night until Wednesday 11 November
        for index in range(6):
            (server / "srv/praxis" / f"akte{index}.txt").write_text(f"Akte {index} Tag {day}\n" * 4000)
        (server / "var/lib/praxis-backup/dump/praxis.dump").write_bytes(b"PGDMP" + os.urandom(20_000))
        if day == 11:               # the last night lost most of the files: the backup shrank
            for index in range(1, 6):
                (server / "srv/praxis" / f"akte{index}.txt").unlink()
        for name, url in urls.items():
            backup(url, PASSWORD[name], server, "srv01", f"2026-11-{day:02d} 20:30:00", options, cache)
    # empfang's last backup: Friday 6 November; Mon, Tue, Wed passed without one
    backup(urls["nas"], PASSWORD["nas"], empfang, "empfang", "2026-11-06 20:30:00", options, cache)
    site, errors = praxis_site.load_site(ROOT / "inventories/demo/sites/schmidt.yml")
    assert not errors, errors
    site["backups"] = {
        "retention": {"daily": 3, "weekly": 1, "monthly": 1},
        "repositories": [
            {"name": "nas", "kind": "local", "url": "sftp:restic@10.20.0.5:/volume1/restic/schmidt",
             "controller_url": urls["nas"], "password": "vault_schmidt_backup_nas"},
            {"name": "offsite", "kind": "offsite", "url": urls["offsite"], "password": "vault_schmidt_backup_offsite"},
        ],
        "sources": [
            {"host": "srv01", "paths": ["/srv/praxis"],
             "dump": {"command": "pg_dump -Fc praxis", "file": "praxis.dump", "header": "PGDMP"}},
            {"host": "empfang", "paths": ["C:\\Users"]},
        ],
    }
    inventory = base / "inventory.yml"
    common = {"praxis_ledger_path": str(base / "ledger.sqlite"), "praxis_output_dir": str(base / "output"),
              "praxis_now": NOW, "praxis_restic_options": options, "praxis_restic_cache_dir": str(cache),
              "vault_schmidt_backup_nas": PASSWORD["nas"], "vault_schmidt_backup_offsite": PASSWORD["offsite"]}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"schmidt-srv01": {"praxis_site": site}},
                                                 "vars": common}}))
    return {"base": base, "inventory": inventory, "ledger": str(base / "ledger.sqlite"), "urls": urls,
            "options": options, "cache": cache}


def playbook(practice, name, *extra, prefix=()):
    plays = playbook_json(practice["inventory"], name, *extra, secrets=tuple(PASSWORD.values()), prefix=prefix)
    return task_outcome(plays)


def by_check(result):
    return {(f["host"], f["check"], f["subject"]): f for f in result["findings"]}


def test_verify_check_mode_then_prune_then_again_and_a_wrong_password(practice):
    dry = playbook(practice, "backup_verify.yml", "--check")
    assert not dry["changed"] and [r["pruned"] for r in dry["repositories"]] == [False, False]
    assert all(r["check_ok"] for r in dry["repositories"]) and "check mode" in dry["msg"]
    assert not os.path.exists(practice["ledger"]) or not db.checks(practice["ledger"])
    snaps = restic(practice["urls"]["nas"], PASSWORD["nas"], "snapshots", "--json", cache=practice["cache"])
    assert len(json.loads(snaps.stdout)) == 11, "check mode pruned nothing"

    first = playbook(practice, "backup_verify.yml")
    assert first["changed"] and first["sites"] == ["schmidt"]
    rows = {r["repository"]: r for r in first["repositories"]}
    assert set(rows) == {"nas", "offsite"}
    for row in rows.values():
        assert row["ok"] and row["check_ok"] and row["pruned"] and row["check_subset"] == "12/30"
    assert rows["nas"]["snapshots"]["empfang"]["age_working_days"] == 3
    assert rows["nas"]["snapshots"]["srv01"]["age_working_days"] == 0
    found = by_check(first)
    stale = found[("schmidt-empfang", "backup.stale", "nas")]
    assert stale["severity"] == "critical" and stale["priority"] == "medium" and stale["value"] == 3
    assert ("schmidt-srv01", "backup.stale", "nas") not in found
    for repo in ("nas", "offsite"):
        shrunk = found[("schmidt-srv01", "backup.shrunk", repo)]
        assert shrunk["severity"] == "warning" and shrunk["value"] > 30
    assert ("schmidt-empfang", "backup.stale", "offsite") in found, "no snapshot of empfang offsite at all"
    opened = {(i["host"], i["check"], i["subject"]) for i in first["incidents"]["opened"]}
    assert ("schmidt-empfang", "backup.stale", "nas") in opened
    kept = json.loads(restic(practice["urls"]["nas"], PASSWORD["nas"], "snapshots", "--json",
                             cache=practice["cache"]).stdout)
    assert len(kept) < 11 and rows["nas"]["prune_summary"]["removed"]
    recorded = db.checks(practice["ledger"])
    assert [(r["repository"], r["ok"], r["pruned"], r["check_subset"]) for r in recorded] == [
        ("nas", True, True, "12/30"), ("offsite", True, True, "12/30")]
    with praxis_ledger.reading(practice["ledger"]) as conn:
        measured = conn.execute("SELECT COUNT(*), MIN(measured_at) FROM databackup_sizes").fetchone()
    assert measured[0] >= 10

    second = playbook(practice, "backup_verify.yml")
    assert all(r["ok"] for r in second["repositories"])
    with praxis_ledger.reading(practice["ledger"]) as conn:
        assert conn.execute("SELECT COUNT(*), MIN(measured_at) FROM databackup_sizes").fetchone()[0] == measured[0]
    assert len(db.checks(practice["ledger"])) == 4

    wrong = playbook(practice, "backup_verify.yml", "-e", "vault_schmidt_backup_offsite=falsch")
    offsite = next(r for r in wrong["repositories"] if r["repository"] == "offsite")
    assert not offsite["ok"] and offsite["error_kind"] == "wrong_password" and not offsite["pruned"]
    failed = by_check(wrong)[("schmidt-backup", "backup.failed", "offsite")]
    assert failed["severity"] == "critical" and "practice schmidt, repository offsite" in failed["message"]


def test_restore_test_with_evidence_and_a_full_scratch_disk(practice):
    first = playbook(practice, "restore_test.yml", "-e", "praxis_restore_test_seed=4711")
    assert first["chosen"] == ["schmidt"] and first["seed"] == "4711"
    test = first["tests"][0]
    assert test["ok"], test
    assert test["repository"] == "offsite" and test["host"] == "schmidt-srv01"
    assert test["dump"]["header_ok"] is True and test["dump"]["file"] == "praxis.dump"
    assert all(f["ok"] and len(f["sha256"]) == 64 for f in test["files"]) and len(test["files"]) >= 2
    assert test["scratch_removed"] and not any((practice["base"] / "output" / "restore-scratch").iterdir())
    evidence = db.restore_tests(practice["ledger"], quarter="2026-Q4")
    assert len(evidence) == 1 and evidence[0]["seed"] == "4711" and evidence[0]["chosen_sites"] == ["schmidt"]
    assert evidence[0]["by"] and evidence[0]["ok"] and evidence[0]["dump"]["header_ok"]

    scratch = practice["base"] / "tiny"
    scratch.mkdir()
    full = playbook(practice, "restore_test.yml", "-e", "praxis_restore_test_seed=4711", "-e",
                    f"praxis_restore_scratch={scratch}",
                    prefix=("unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {scratch} && exec \"$@\"",
                            "sh"))
    test = full["tests"][0]
    assert not test["ok"] and test["error_kind"] == "disk_full" and "no space left" in test["error"]
    assert test["scratch_removed"] and not any(scratch.iterdir())
    assert by_check(full)[("schmidt-srv01", "restore.failed", "offsite")]["severity"] == "critical"
    evidence = db.restore_tests(practice["ledger"], quarter="2026-Q4")
    assert [e["ok"] for e in evidence] == [True, False] and evidence[1]["error"].count("no space left") == 1

    cli = [str(BIN / "python"), str(ROOT / "scripts" / "praxis-backup"), "--ledger", practice["ledger"]]
    listed = subprocess.run([*cli, "restore-test", "--quarter", "2026-Q4"], capture_output=True, text=True,
                            check=True).stdout
    assert "schmidt" in listed and "FAILED" in listed and "4711" in listed
    proof = subprocess.run([*cli, "evidence", "--site", "schmidt"], capture_output=True, text=True, check=True).stdout
    assert "# Restore test evidence: schmidt" in proof and "header ok" in proof and "no space left" in proof
    bad = subprocess.run([*cli, "restore-test", "--quarter", "2026-4"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--quarter must look like 2026-Q4" in bad.stderr
