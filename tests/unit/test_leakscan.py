"""The leak scan (tests/leakscan.py): finds a secret as it is and in simple
encodings, in files, folders and SQLite rows, names where; finds nothing in
clean output and refuses a scan of nothing."""

from __future__ import annotations

import base64
import json
import sqlite3
import urllib.parse

import pytest

from tests.leakscan import Finding, scan, scan_text, variants

SECRET = "s3cr3t/Pass+word=ä!"
SECRETS = {"vault_huber_fw01.password": SECRET, "vault password": "Zq9-VaultPassw0rd_x"}


def where(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.where.rsplit("/", 1)[-1], f.encoding) for f in findings}


@pytest.mark.parametrize("prefix", ["", "a", "ab"])
def test_base64_inside_a_basic_auth_header_at_every_alignment(prefix):
    header = "Authorization: Basic " + base64.b64encode(f"{prefix}admin:{SECRET}".encode()).decode()
    findings = scan_text("header", header, SECRETS)
    assert [f.secret for f in findings] == ["vault_huber_fw01.password"], findings
    assert findings[0].encoding.startswith("base64"), findings


SPACED = "a secret/with space+plus?"       # differs in every encoding (base64 has + and /)


@pytest.mark.parametrize(("text", "encoding"), [
    (f"url=https://u:{urllib.parse.quote(SPACED, safe='')}@nas/", "URL-encoded"),
    (f"form=a&p={urllib.parse.quote_plus(SPACED)}", "URL-encoded (form)"),
    (json.dumps({"msg": SECRET}), "JSON-escaped (ASCII)"),
    (json.dumps({"msg": 'say "spaced" äpfel'}, ensure_ascii=False), "JSON-escaped"),
    (f"raw {SECRET.encode().hex().upper()} end", "hex"),
    (base64.b64encode(b"xx" + SPACED.encode()).decode(), "base64 (offset 2)"),
    (base64.urlsafe_b64encode(b"xx" + SPACED.encode()).decode(), "base64url (offset 2)"),
    (f"plain {SECRET} text", "plain"),
])
def test_each_encoding_is_found(text, encoding):
    secrets = dict(SECRETS, spaced=SPACED, quoted='say "spaced" äpfel')
    findings = scan_text("text", text, secrets)
    assert encoding in {f.encoding for f in findings}, findings
    assert all(f.secret in ("vault_huber_fw01.password", "spaced", "quoted") for f in findings), findings


def test_clean_text_has_no_finding():
    text = "ok: [huber-fw01] password: ******** " + base64.b64encode(b"admin:other-password").decode()
    assert scan_text("clean", text, SECRETS) == []


def test_files_folders_and_sqlite_rows_are_named(tmp_path):
    (tmp_path / "artifacts" / "job_events").mkdir(parents=True)
    (tmp_path / "artifacts" / "job_events" / "1-abc.json").write_text(json.dumps({"stdout": "Zq9-VaultPassw0rd_x"}))
    (tmp_path / "artifacts" / "stdout").write_text("nothing here")
    ledger = tmp_path / "ledger.sqlite"
    with sqlite3.connect(ledger) as conn:
        conn.execute("CREATE TABLE events (summary TEXT, data TEXT)")
        conn.execute("INSERT INTO events VALUES ('ok', '{}')")
        conn.execute("INSERT INTO events VALUES ('bad', ?)", (json.dumps({"key": SECRET}),))
    conn.close()
    findings = scan([tmp_path / "artifacts", ledger], SECRETS)
    places = {f.where for f in findings}
    assert str(tmp_path / "artifacts" / "job_events" / "1-abc.json") in places
    assert f"{ledger}:events:2" in places                  # the row, not only the file
    assert not any(p.endswith("stdout") or p.endswith(":events:1") for p in places), places
    assert "Zq9-VaultPassw0rd_x" not in "\n".join(map(str, findings))      # a finding never shows the value
    assert "vault password" in "\n".join(map(str, findings))


def test_a_missing_place_or_a_trivial_secret_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        scan([tmp_path / "nothere"], SECRETS)
    with pytest.raises(ValueError, match="short"):
        scan_text("x", "y", {"short": "abc"})


def test_variants_are_distinct_and_contain_the_plain_value():
    forms = variants(SECRET)
    assert forms["plain"] == SECRET.encode()
    assert len(set(forms.values())) == len(forms)
