"""The restic wrapper (module_utils/praxis_restic.py) against real repositories in a
temporary folder (Debian's restic): the password only in a 0600 file that is gone
afterwards, errors classified (wrong password, missing repository, a lock left by a
killed backup, a corrupted pack) with messages naming practice and repository and
never the password."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import time

import pytest

from ansible.module_utils import praxis_restic as pr

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed (make apt)")
PASSWORD = "Repo-Pa$$word 2026!"


def restic(repo_dir, *args, password=PASSWORD, env=None, **kwargs):
    pwfile = repo_dir.parent / "pw"
    pwfile.write_text(password)
    environment = dict(os.environ, RESTIC_REPOSITORY=str(repo_dir), RESTIC_PASSWORD_FILE=str(pwfile),
                       RESTIC_CACHE_DIR=str(repo_dir.parent / "cache"), **(env or {}))
    return subprocess.run(["restic", *args], env=environment, capture_output=True, text=True, check=True, **kwargs)


@pytest.fixture
def repo(tmp_path):
    repo_dir = tmp_path / "repo"
    restic(repo_dir, "init")
    data = tmp_path / "data"
    (data / "dump").mkdir(parents=True)
    for index in range(5):
        (data / f"file{index}.txt").write_text(f"Befund {index}\n" * (index + 1))
    (data / "dump" / "praxis.dump").write_bytes(b"PGDMP" + os.urandom(64))
    restic(repo_dir, "backup", "--host", "mueller-srv01", "--tag", "praxis", "--tag", "site:mueller",
           "--tag", "host:srv01", "--time", "2026-11-09 21:30:00", str(data))
    return repo_dir, data


def open_repo(repo_dir, password=PASSWORD, **kwargs):
    return pr.Repository(str(repo_dir), password, practice="mueller", name="nas",
                         cache_dir=str(repo_dir.parent / "cache"), **kwargs)


def test_snapshots_sizes_and_the_password_file_is_private_and_removed(repo, monkeypatch):
    repo_dir, _ = repo
    seen = {}
    real_run = subprocess.run

    def spy(argv, **kwargs):
        path = kwargs["env"]["RESTIC_PASSWORD_FILE"]
        seen.update(argv=argv, path=path, mode=os.stat(path).st_mode & 0o777,
                    folder=os.stat(os.path.dirname(path)).st_mode & 0o777)
        return real_run(argv, **kwargs)

    monkeypatch.setattr(pr.subprocess, "run", spy)
    snaps = open_repo(repo_dir).snapshots()
    assert [s["hostname"] for s in snaps] == ["mueller-srv01"]
    assert snaps[0]["at"] == dt.datetime(2026, 11, 9, 21, 30, tzinfo=dt.timezone.utc)
    assert seen["mode"] == 0o600 and seen["folder"] == 0o700
    assert not os.path.exists(seen["path"]) and PASSWORD not in " ".join(seen["argv"])
    assert "--json" in seen["argv"]
    size = open_repo(repo_dir).size(snaps[0]["id"])
    assert size["files"] >= 6 and size["size_bytes"] == sum(
        p.stat().st_size for p in (repo_dir.parent / "data").rglob("*") if p.is_file())


def test_wrong_password_is_classified_and_the_password_is_never_shown(repo):
    repo_dir, _ = repo
    with pytest.raises(pr.ResticError) as caught:
        open_repo(repo_dir, password="falsch-" + PASSWORD).snapshots()
    assert caught.value.kind == "wrong_password"
    text = str(caught.value) + caught.value.detail
    assert "practice mueller, repository nas" in text and "wrong password" in text and PASSWORD not in text


def test_missing_repository(tmp_path):
    with pytest.raises(pr.ResticError) as caught:
        open_repo(tmp_path / "nowhere").snapshots()
    assert caught.value.kind == "missing" and "no restic repository" in str(caught.value)


def test_unreachable_sftp_server(tmp_path):
    repo = pr.Repository("sftp:restic@127.0.0.1:/x", PASSWORD, practice="mueller", name="offsite",
                         options={"sftp.command": "ssh -p 1 -o BatchMode=yes restic@127.0.0.1 -s sftp"})
    with pytest.raises(pr.ResticError) as caught:
        repo.snapshots()
    assert caught.value.kind == "unreachable" and "cannot be reached" in str(caught.value)


@pytest.mark.parametrize("stderr,kind", [
    ("Fatal: wrong password or no key found", "wrong_password"),
    ("unable to create lock in backend: repository is already locked by PID 1 on x", "locked"),
    ("ignoring error for /x: write /t/x: no space left on device", "disk_full"),
    ("Fatal: unable to open config file: stat nope/config: no such file or directory", "missing"),
    ("subprocess ssh: ssh: connect to host 10.0.0.1 port 22: Connection refused", "unreachable"),
    ("Fatal: repository contains errors", "check_failed"),
    ("something else entirely", "failed"),
])
def test_classify(stderr, kind):
    assert pr.classify(1, stderr) == kind
    assert pr.classify(None, "") == "timeout"


def test_a_lock_left_by_a_killed_backup_is_found_and_unlock_removes_it(repo, tmp_path):
    repo_dir, _ = repo
    pwfile = tmp_path / "pw"
    env = dict(os.environ, RESTIC_REPOSITORY=str(repo_dir), RESTIC_PASSWORD_FILE=str(pwfile),
               RESTIC_CACHE_DIR=str(tmp_path / "cache"))
    feeder = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE)
    backup = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "slow"], env=env,
                              stdin=feeder.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list((repo_dir / "locks").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list((repo_dir / "locks").iterdir()), "the backup took no lock within 60 s"
        time.sleep(0.5)     # the lock file is written completely
        backup.send_signal(signal.SIGKILL)
        backup.wait()
    finally:
        feeder.kill()
        feeder.wait()
    repository = open_repo(repo_dir)
    with pytest.raises(pr.ResticError) as caught:
        repository.forget_prune({"daily": 7})
    assert caught.value.kind == "locked" and "locked by another restic process" in str(caught.value)
    locks = repository.locks()
    assert len(locks) == 1 and not locks[0]["exclusive"] and locks[0]["pid"] == backup.pid
    assert dt.datetime.now(dt.timezone.utc) - locks[0]["at"] < dt.timedelta(minutes=5)
    repository.unlock()
    assert repository.locks() == []
    assert repository.forget_prune({"daily": 7})["kept"] == 1


def test_a_corrupted_pack_fails_the_check(repo):
    repo_dir, _ = repo
    repository = open_repo(repo_dir)
    assert repository.check("1/1")["ok"]
    for pack in (repo_dir / "data").rglob("*"):
        if pack.is_file():
            os.chmod(pack, 0o600)
            with open(pack, "r+b") as handle:
                handle.seek(10)
                handle.write(b"\0" * 32)
    with pytest.raises(pr.ResticError) as caught:
        repository.check("1/1")
    assert caught.value.kind == "check_failed" and "nothing is pruned" in str(caught.value)


def test_dump_streams_the_sha256_and_restore_writes_the_file(repo, tmp_path):
    repo_dir, data = repo
    repository = open_repo(repo_dir)
    snap = repository.snapshots()[-1]["id"]
    node = next(n for n in repository.ls(snap) if n["path"].endswith("/dump/praxis.dump"))
    with open(data / "dump" / "praxis.dump", "rb") as handle:
        expected = pr.file_sha256(handle)
    assert repository.dump_sha256(snap, node["path"]) == expected
    target = tmp_path / "scratch"
    repository.restore(snap, str(target), [node["path"]])
    with open(target / node["path"].lstrip("/"), "rb") as handle:
        assert pr.file_sha256(handle) == expected
    with pytest.raises(pr.ResticError) as caught:
        repository.dump_sha256(snap, node["path"] + ".nothere")
    assert caught.value.kind in ("not_found", "failed")


def test_environment_names_are_checked_and_may_not_set_the_password(tmp_path):
    with pytest.raises(pr.ResticError, match="may not set RESTIC_PASSWORD"):
        pr.Repository("/x", PASSWORD, practice="p", name="n", environment={"RESTIC_PASSWORD": "x"})
    with pytest.raises(pr.ResticError, match="'aws key' is not valid"):
        pr.Repository("/x", PASSWORD, practice="p", name="n", environment={"aws key": "x"})


def test_verification_removes_only_locks_older_than_stale_lock_hours(repo, tmp_path):
    from ansible.module_utils import praxis_databackup as db
    from ansible.module_utils import praxis_site
    from tests.conftest import ROOT

    repo_dir, _ = repo
    site, _ = praxis_site.load_site(ROOT / "inventories/demo/sites/schmidt.yml")
    site["backups"] = {"repositories": [{"name": "nas"}], "sources": [{"host": "srv01"}]}
    env = dict(os.environ, RESTIC_REPOSITORY=str(repo_dir), RESTIC_PASSWORD_FILE=str(tmp_path / "pw"),
               RESTIC_CACHE_DIR=str(tmp_path / "cache"))
    (tmp_path / "pw").write_text(PASSWORD)
    backup = subprocess.Popen(["restic", "backup", "--stdin", "--stdin-filename", "slow"], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list((repo_dir / "locks").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    backup.send_signal(signal.SIGKILL)
    backup.wait()

    def verify(now, check_mode=False):
        verification = db.Verification(open_repo(repo_dir), site=site, name="nas", pol=db.policy(None), now=now,
                                       ledger=None, read_ledger=None, check_mode=check_mode,
                                       judge=lambda *a: {"check": a[2], "subject": a[3], "severity": a[4]})
        return verification.run(db.sources(site)), verification

    young, _ = verify(dt.datetime.now(dt.timezone.utc))
    assert young["error_kind"] == "locked" and not young["pruned"] and young["unlocked"] == []
    assert len(open_repo(repo_dir).locks()) == 1, "a lock younger than 6 h is left alone"
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=7)
    dry, _ = verify(later, check_mode=True)
    assert dry["error_kind"] == "locked" and len(open_repo(repo_dir).locks()) == 1, "check mode never unlocks"
    row, verification = verify(later)
    assert row["ok"] and row["pruned"] and [lock["pid"] for lock in row["unlocked"]] == [backup.pid]
    assert open_repo(repo_dir).locks() == []
