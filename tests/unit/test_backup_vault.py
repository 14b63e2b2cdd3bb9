"""Backup vault (NET-02): encrypted, atomic, verified before rotation, keep N."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible.module_utils.praxis_backup import (
    AnsibleVaultCipher, BackupError, LocalStore, read_manifest, store_backup, verify_store,
)

PASSWORD = "lab-vault-password-for-tests"
SECRET_PATTERNS = [re.compile(r"<password>(?P<secret>[^<]*)</password>")]


def config(n: int, password: str = "$2y$10$abcdefghijklmnopqrstuv") -> bytes:
    return (f"<?xml version=\"1.0\"?>\n<opnsense>\n  <revision>{n}</revision>\n"
            f"  <system><user><name>root</name><password>{password}</password></user></system>\n"
            "</opnsense>\n").encode()


def validate_xml(data: bytes) -> None:
    import xml.etree.ElementTree as ET  # noqa: S405 - own test data
    try:
        ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None


@pytest.fixture
def cipher():
    return AnsibleVaultCipher.from_password(PASSWORD)


@pytest.fixture
def store(tmp_path):
    return LocalStore(str(tmp_path / "backups"))


def at(minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 24, 22, minute, tzinfo=dt.timezone.utc)


def run(store, cipher, content, minute=0, **kwargs):
    kwargs.setdefault("validate", validate_xml)
    return store_backup(store, cipher, "huber", "fw01", content, suffix=".xml", now=at(minute),
                        secret_patterns=SECRET_PATTERNS, **kwargs)


def test_first_copy_is_encrypted_and_opens_with_ansible_vault(store, cipher, tmp_path):
    result = run(store, cipher, config(1))
    assert result["changed"] is True
    path = Path(store.root) / result["path"]
    raw = path.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert b"opnsense" not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    view = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file",
                           str(pw), str(path)], capture_output=True, check=False)
    assert view.returncode == 0, view.stderr
    assert view.stdout == config(1)


def test_unchanged_content_writes_nothing_but_reports(store, cipher):
    first = run(store, cipher, config(1), minute=0)
    second = run(store, cipher, config(1), minute=5)
    assert second["changed"] is False
    assert "unchanged since" in second["msg"]
    assert second["path"] == first["path"]
    assert len([n for n in store.listdir("huber/fw01") if n.endswith(".vault")]) == 1


def test_keeps_exactly_three_after_four_runs(store, cipher):
    names = [run(store, cipher, config(n), minute=n)["path"].split("/")[-1] for n in range(4)]
    files = sorted(n for n in store.listdir("huber/fw01") if n.endswith(".vault"))
    assert files == sorted(names[1:])
    assert [c["name"] for c in read_manifest(store, "huber/fw01")] == names[1:]
    assert verify_store(store, cipher, "huber", "fw01") == []


def test_invalid_export_changes_nothing(store, cipher):
    for n in range(3):
        run(store, cipher, config(n), minute=n)
    before = sorted(store.listdir("huber/fw01"))
    manifest = store.read("huber/fw01/manifest.json")
    truncated = config(9)[:40]
    with pytest.raises(BackupError, match="huber/fw01: the configuration export is not valid: not XML"):
        run(store, cipher, truncated, minute=9)
    assert sorted(store.listdir("huber/fw01")) == before
    assert store.read("huber/fw01/manifest.json") == manifest


def test_empty_export_is_refused(store, cipher):
    with pytest.raises(BackupError, match="the configuration export is empty"):
        run(store, cipher, b"  \n")


class CorruptingStore(LocalStore):
    """Flips a byte of every encrypted copy it writes (a failing disk or target)."""

    def write_atomic(self, path, data):
        if path.endswith(".vault"):
            data = data[:-10] + (b"0" if data[-10:-9] != b"0" else b"1") + data[-9:]
        super().write_atomic(path, data)


def test_copy_that_does_not_verify_keeps_old_copies(tmp_path, cipher):
    good = LocalStore(str(tmp_path / "b"))
    for n in range(3):
        run(good, cipher, config(n), minute=n)
    before = sorted(good.listdir("huber/fw01"))
    bad = CorruptingStore(str(tmp_path / "b"))
    with pytest.raises(BackupError, match="could not be read back and decrypted|does not match its checksum"):
        run(bad, cipher, config(7), minute=7)
    assert sorted(good.listdir("huber/fw01")) == before
    assert len(read_manifest(good, "huber/fw01")) == 3
    assert verify_store(good, cipher, "huber", "fw01") == []


def test_check_mode_writes_nothing(store, cipher):
    run(store, cipher, config(1), minute=1)
    before = sorted(store.listdir("huber/fw01"))
    result = run(store, cipher, config(2), minute=2, check_mode=True)
    assert result["changed"] is True and "would store" in result["msg"]
    assert sorted(store.listdir("huber/fw01")) == before


def test_diff_masks_secrets_and_manifest_holds_none(store, cipher):
    run(store, cipher, config(1, password="$2y$10$FIRSTSECRETHASHxxxxxxx"), minute=1)
    result = run(store, cipher, config(2, password="$2y$10$SECONDSECRETHASHxxxxxx"), minute=2)
    assert "<revision>2</revision>" in result["diff"]
    assert "SECRETHASH" not in result["diff"]
    assert "********" in result["diff"]
    manifest = store.read("huber/fw01/manifest.json").decode()
    assert "SECRETHASH" not in manifest and "opnsense" not in manifest
    assert json.loads(manifest)["copies"][0]["sha256"]


def test_wrong_password_is_reported_by_verify(store, cipher):
    run(store, cipher, config(1))
    other = AnsibleVaultCipher.from_password("another password")
    (problem,) = verify_store(store, other, "huber", "fw01")
    assert "cannot be decrypted" in problem


@pytest.mark.parametrize(("site", "device"), [("../etc", "fw01"), ("huber", "a/b"), ("", "fw01")])
def test_unsafe_names_are_refused(store, cipher, site, device):
    with pytest.raises(BackupError, match="is not usable as a folder name"):
        store_backup(store, cipher, site, device, config(1))


def test_keep_must_be_positive(store, cipher):
    with pytest.raises(BackupError, match="keep must be at least 1"):
        run(store, cipher, config(1), keep=0)
