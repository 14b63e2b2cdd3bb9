"""The audit trail (OPS-05): hash chain, tamper detection, masking of secrets,
concurrent writers, the buffered run, export and the praxis-audit CLI."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils import praxis_audit as pa
from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_action import ledger_path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "praxis-audit"


def rec(kind="change", at="2026-03-02T01:00:00+00:00", run="r1", site="huber", host="huber-fw01", **data):
    return {"kind": kind, "at": at, "run": run, "site": site, "host": host, "data": data}


def seeded(tmp_path, n=5):
    ledger = str(tmp_path / "ledger.sqlite")
    pa.append(ledger, [rec(task=f"task {i}", status="changed") for i in range(1, n + 1)])
    return ledger


def attacker(ledger):
    """A raw connection without the append-only triggers (someone with the file)."""
    conn = sqlite3.connect(ledger)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def row(conn, record_id):
    return conn.execute("SELECT id, at, run, kind, site, host, data, prev_hash, hash FROM audit_log WHERE id = ?",
                        (record_id,)).fetchone()


# -- the chain ---------------------------------------------------------------------------------------

def test_chain_links_every_record_to_the_one_before(tmp_path):
    ledger = seeded(tmp_path, 3)
    ids = pa.append(ledger, [rec(task="more")])
    assert ids == [4]
    rows = pa.records(ledger)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev_hash"] == pa.GENESIS
    for before, record in zip(rows, rows[1:], strict=False):
        assert record["prev_hash"] == before["hash"]
    assert rows[3]["hash"] == pa.record_hash(rows[2]["hash"], rows[3])
    result = pa.verify(ledger)
    assert result == {"intact": True, "count": 4, "head": {"id": 4, "hash": rows[3]["hash"]}}


def test_hash_is_over_canonical_json_independent_of_key_order():
    one = {"id": 1, "at": "a", "run": "r", "kind": "change", "site": "s", "host": "h", "data": {"b": 1, "a": "ä"}}
    two = dict(one, data={"a": "ä", "b": 1})
    assert pa.record_hash(pa.GENESIS, one) == pa.record_hash(pa.GENESIS, two)
    assert pa.record_hash(pa.GENESIS, one) != pa.record_hash(pa.GENESIS, dict(one, host="x"))
    assert pa.record_hash(pa.GENESIS, one) != pa.record_hash("1" * 64, one)


def test_the_database_refuses_update_and_delete(tmp_path):
    ledger = seeded(tmp_path, 2)
    conn = sqlite3.connect(ledger)
    with pytest.raises(sqlite3.DatabaseError, match="append-only: UPDATE refused"):
        conn.execute("UPDATE audit_log SET data = '{}' WHERE id = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only: DELETE refused"):
        conn.execute("DELETE FROM audit_log WHERE id = 2")
    conn.close()
    assert pa.verify(ledger)["intact"]


def test_bad_records_are_refused_whole(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    with pytest.raises(pa.AuditError, match="kind 'edit' unknown"):
        pa.append(ledger, [rec(), rec(kind="edit")])
    with pytest.raises(pa.AuditError, match="not plain JSON"):
        pa.append(ledger, [rec(), rec(value=object())])
    assert not os.path.exists(ledger) or pa.records(ledger) == []


# -- tampering -------------------------------------------------------------------------------------

def test_deleted_record_is_found(tmp_path):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = 3")
    result = pa.verify(ledger)
    assert not result["intact"] and result["broken"]["id"] == 4
    assert "deleted or inserted" in result["broken"]["reason"]


def test_deleted_first_record_is_found(tmp_path):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = 1")
    assert pa.verify(ledger)["broken"]["id"] == 2


def test_altered_record_is_found(tmp_path):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        conn.execute("UPDATE audit_log SET data = ? WHERE id = 2", (pa.canonical({"task": "harmless",
                                                                                    "status": "changed"}),))
    result = pa.verify(ledger)
    assert result["broken"] == {"id": 2, "reason": "its content does not match its hash: the record was altered"}


@pytest.mark.parametrize("column, value", [("at", "2026-03-01T00:00:00+00:00"), ("run", "other"),
                                           ("host", "huber-nas01"), ("site", "other"), ("kind", "run_end")])
def test_every_column_is_covered_by_the_hash(tmp_path, column, value):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        conn.execute(f"UPDATE audit_log SET {column} = ? WHERE id = 3", (value,))  # noqa: S608
    assert pa.verify(ledger)["broken"]["id"] == 3


def test_altered_and_rehashed_record_breaks_the_next_link(tmp_path):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        record_id, at, run, kind, site, host, _data, prev, _hash = row(conn, 2)
        forged = {"id": record_id, "at": at, "run": run, "kind": kind, "site": site, "host": host,
                  "data": {"task": "harmless"}}
        conn.execute("UPDATE audit_log SET data = ?, hash = ? WHERE id = 2",
                     (pa.canonical(forged["data"]), pa.record_hash(prev, forged)))
    result = pa.verify(ledger)
    assert result["broken"]["id"] == 3 and "record 2 was rewritten" in result["broken"]["reason"]


def test_inserted_record_is_found(tmp_path):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        # room for a record after 2: the later ones moved up by one, a well-formed record put in between
        for record_id in (5, 4, 3):
            conn.execute("UPDATE audit_log SET id = id + 1 WHERE id = ?", (record_id,))
        prev = row(conn, 2)[8]
        forged = rec(task="never happened")
        forged.update(id=3)
        conn.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (3, forged["at"], forged["run"], forged["kind"], forged["site"], forged["host"],
                      pa.canonical(forged["data"]), prev, pa.record_hash(prev, forged)))
    result = pa.verify(ledger)
    assert result["broken"]["id"] == 4 and "deleted or inserted" in result["broken"]["reason"]


def test_appended_forgery_without_the_chain_is_found(tmp_path):
    ledger = seeded(tmp_path)
    conn = sqlite3.connect(ledger)       # INSERT is allowed: the chain must catch it
    with conn:
        conn.execute("INSERT INTO audit_log VALUES (6, '2026-03-03T00:00:00+00:00', 'r9', 'change', 'huber', "
                     "'huber-fw01', '{}', ?, ?)", ("f" * 64, "e" * 64))
    conn.close()
    assert pa.verify(ledger)["broken"]["id"] == 6


def test_reordered_records_are_found(tmp_path):
    ledger = seeded(tmp_path)
    with attacker(ledger) as conn:
        second, third = row(conn, 2), row(conn, 3)
        conn.execute("UPDATE audit_log SET id = -2 WHERE id = 2")
        conn.execute("UPDATE audit_log SET id = 2 WHERE id = 3")
        conn.execute("UPDATE audit_log SET id = 3 WHERE id = -2")
    assert second[6] != third[6]
    assert pa.verify(ledger)["broken"]["id"] == 2


def test_cut_tail_is_found_with_an_anchor(tmp_path):
    ledger = seeded(tmp_path)
    head = pa.verify(ledger)["head"]
    assert pa.verify(ledger, anchor=(head["id"], head["hash"]))["intact"]
    with attacker(ledger) as conn:
        conn.execute("DELETE FROM audit_log WHERE id = 5")
    assert pa.verify(ledger)["intact"], "without an anchor the shorter chain is consistent"
    result = pa.verify(ledger, anchor=(head["id"], head["hash"]))
    assert result["broken"]["id"] == 5 and "cut off the end" in result["broken"]["reason"]
    assert pa.verify(ledger, anchor=(4, "0" * 64))["broken"]["id"] == 4
    assert pa.parse_anchor(f" 5:{head['hash']} ") == (5, head["hash"])
    with pytest.raises(pa.AuditError, match="expected ID:HASH"):
        pa.parse_anchor("5:xyz")


# -- masking --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["db_password", "PASSWORD", "client_secret", "api_token", "ssh_key", "keyfile",
                                  "admin_pass", "credentials", "wlan_psk", "vault_huber_fw01", "Vault_x"])
def test_every_secret_name_is_masked(name):
    masker = pa.Masker()
    masked = masker.variables({name: "geheim-123", "praxis_run_id": "ticket-4711"})
    assert masked == {name: pa.MASK, "praxis_run_id": "ticket-4711"}
    assert masker.text("Task with geheim-123 in its name") == f"Task with {pa.MASK} in its name"


def test_nested_secrets_lists_and_whole_values_are_masked():
    masker = pa.Masker()
    masked = masker.variables({
        "site": {"id": "huber", "fw": {"admin_password": "pw1-long", "port": 443},
                 "wlans": [{"ssid": "Praxis", "psk": "wlan-psk-1"}, {"ssid": "Gast"}]},
        "credentials": {"user": "admin", "pin": 1234},          # a secret name masks the whole value
        "tokens": ["tok-aaaa", "tok-bbbb"],
        "praxis_force_reason": "ticket 4711",
        "count": 3, "ratio": 0.5, "flag": True, "none": None})
    assert masked == {
        "site": {"id": "huber", "fw": {"admin_password": pa.MASK, "port": 443},
                 "wlans": [{"ssid": "Praxis", "psk": pa.MASK}, {"ssid": "Gast"}]},
        "credentials": pa.MASK, "tokens": pa.MASK, "praxis_force_reason": "ticket 4711",
        "count": 3, "ratio": 0.5, "flag": True, "none": None}
    text = masker.text("pw1-long admin 1234 wlan-psk-1 tok-bbbb")
    assert text == f"{pa.MASK} {pa.MASK} {pa.MASK} {pa.MASK} {pa.MASK}"
    assert "pw1-long" not in json.dumps(masked)


@pytest.mark.parametrize("url, expected", [
    ("https://backup:S3cret@nas.example.org/share", "https://backup:********@nas.example.org/share"),
    ("smtp://:only-pw@mail:587", "smtp://:********@mail:587"),
    ("postgresql://u:p@ss:w0rd@db/x?y=1", "postgresql://u:********@db/x?y=1"),
    ("see sftp://a:b@h and ftp://c:d@i", "see sftp://a:********@h and ftp://c:********@i"),
    ("https://user@host/path", "https://user@host/path"),
    ("https://host:8443/p?u=a:b@c", "https://host:8443/p?u=a:b@c"),
])
def test_url_passwords_are_masked(url, expected):
    assert pa.Masker().variables({"target": url, "nested": [{"u": url}]}) == {"target": expected,
                                                                              "nested": [{"u": expected}]}
    assert pa.mask_urls(url) == expected


def test_vault_encrypted_values_are_masked_whatever_their_name():
    from ansible._internal._datatag._tags import VaultedValue
    from ansible.parsing.vault import EncryptedString

    cipher = "$ANSIBLE_VAULT;1.1;AES256\n6162636465"
    from_vault_file = VaultedValue(ciphertext=cipher).tag("klartext-aus-vault")
    masker = pa.Masker()
    masked = masker.variables({"note": EncryptedString(ciphertext=cipher), "from_file": from_vault_file,
                               "raw": cipher, "deep": {"list": [from_vault_file]}})
    assert masked == {"note": pa.MASK, "from_file": pa.MASK, "raw": pa.MASK, "deep": {"list": [pa.MASK]}}
    assert masker.text("value klartext-aus-vault") == f"value {pa.MASK}"


# -- who, from where, diff summary ---------------------------------------------------------------

def test_who_awx_then_sudo_then_local_user():
    awx = pa.who({"awx_user_name": "anna", "awx_job_id": 4711}, {"SUDO_USER": "root-bob"})
    assert (awx["by"], awx["via"], awx["awx_job_id"]) == ("anna", "awx", "4711")
    sudo = pa.who({}, {"SUDO_USER": "bob"})
    assert (sudo["by"], sudo["via"], sudo["sudo_user"]) == ("bob", "sudo", "bob")
    local = pa.who({}, {})
    assert local["via"] == "local" and local["by"] == local["local_user"] and local["by"]


def test_where_takes_the_ssh_client_address():
    assert pa.where({"SSH_CONNECTION": "203.0.113.7 50022 10.0.0.5 22"})["ssh_client"] == "203.0.113.7"
    assert pa.where({"SSH_CLIENT": "2001:db8::7 50022 22"})["ssh_client"] == "2001:db8::7"
    assert pa.where({})["ssh_client"] == "" and pa.where({})["controller"]


def test_diff_summary_counts_never_content():
    assert pa.diff_summary({"before": "a\nb\nc\n", "after": "a\nB\nc\nd\n", "after_header": "/etc/x"}) == \
        {"files": 1, "added": 2, "removed": 1}
    assert pa.diff_summary([{"before": {"k": 1}, "after": {"k": 2}}, {"before": "", "after": "new\n"},
                            {"before": "same", "after": "same"}]) == {"files": 2, "added": 2, "removed": 1}
    prepared = "--- before\n+++ after\n@@ -1 +1,2 @@\n--old comment\n+new\n+more\n"
    assert pa.diff_summary({"prepared": prepared}) == {"files": 1, "added": 2, "removed": 1}
    assert pa.diff_summary({}) is None and pa.diff_summary(None) is None
    loop = {"results": [{"diff": {"before": "", "after": "x\n"}}, {"diff": {"before": "y\n", "after": ""}}]}
    assert pa.result_diff(loop) == {"files": 2, "added": 1, "removed": 1}


# -- the buffered run ----------------------------------------------------------------------------------

def test_run_start_at_once_changes_per_flush(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    run = pa.AuditRun(ledger, "4711")
    run.start(extra_vars={"awx_user_name": "anna", "awx_job_id": 4711, "vault_x": "very-secret"},
              playbooks=["playbooks/nightly.yml"], limit="site_huber", tags=["all"], skip_tags=["slow"],
              check=True, diff=False, environ={"SSH_CONNECTION": "198.51.100.4 1 2 3"})
    assert [r["kind"] for r in pa.records(ledger)] == ["run_start"]
    start = pa.records(ledger)[0]["data"]
    assert start["by"] == "anna" and start["from"]["ssh_client"] == "198.51.100.4" and start["check"] is True
    assert start["limit"] == "site_huber" and start["tags"] == [] and start["skip_tags"] == ["slow"]
    assert start["extra_vars"]["vault_x"] == pa.MASK
    run.change(host="huber-fw01", site="huber", task="Use very-secret", action="copy", status="changed",
               result={"changed": True, "diff": {"before": "a\n", "after": "b\n"}}, no_log=False)
    run.change(host="huber-fw01", site="huber", task="Set the password", action="praxis_device_settings",
               status="changed", result={"changed": True, "diff": {"before": "x", "after": "y"}}, no_log=True)
    run.change(host="huber-nas01", site="huber", task="Ping", action="ping", status="unreachable",
               result={"unreachable": True}, no_log=False)
    assert len(pa.records(ledger)) == 1, "changes are buffered until the play ends"
    run.flush()
    changes = [r["data"] for r in pa.records(ledger, kinds=["change"])]
    assert changes == [
        {"task": f"Use {pa.MASK}", "action": "copy", "status": "changed", "changed": True,
         "diff": {"files": 1, "added": 1, "removed": 1}},
        {"task": pa.NO_LOG, "action": "praxis_device_settings", "status": "changed", "changed": True},
        {"task": "Ping", "action": "ping", "status": "unreachable", "changed": False}]
    run.end(playbooks=["playbooks/nightly.yml"], hosts={
        "huber-fw01": {"site": "huber", "ok": 2, "changed": 2, "failed": 0, "unreachable": 0},
        "huber-nas01": {"site": "huber", "ok": 0, "changed": 0, "failed": 0, "unreachable": 1}})
    end = pa.records(ledger, kinds=["run_end"])[0]["data"]
    assert end["status"] == "failed" and end["counts"] == {"ok": 0, "changed": 1, "failed": 0, "unreachable": 1}
    assert end["sites"] == ["huber"]
    assert {r["run"] for r in pa.records(ledger)} == {"4711"}
    assert "very-secret" not in Path(ledger).read_bytes().decode("utf-8", "replace")
    assert pa.verify(ledger)["intact"]


def test_a_locked_ledger_keeps_the_buffer_for_the_next_flush(tmp_path):
    ledger = seeded(tmp_path, 1)
    run = pa.AuditRun(ledger, "r2", timeout=0.2)
    run.change(host="h", site="s", task="t", action="a", status="changed", result={"changed": True}, no_log=False)
    holder = sqlite3.connect(ledger)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(praxis_ledger.LedgerError, match="locked by another process"):
        run.flush()
    assert len(run.buffer) == 1
    holder.rollback()
    holder.close()
    run.flush()
    assert run.buffer == [] and len(pa.records(ledger)) == 2 and pa.verify(ledger)["intact"]
    with pytest.raises(praxis_ledger.LedgerError, match="praxis_ledger_timeout"):
        pa.AuditRun(ledger, "r3", timeout="soon")


# -- concurrency -------------------------------------------------------------------------------------

def _writer(ledger: str, writer: int, batches: int) -> None:
    for batch in range(batches):
        pa.append(ledger, [rec(run=f"w{writer}", task=f"{writer}-{batch}-{i}") for i in range(3)])


def test_concurrent_writers_lose_nothing_and_keep_one_chain(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    praxis_ledger.connect(ledger).close()      # created with its schema, as a run's first record does
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(ledger, w, 10)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    rows = pa.records(ledger)
    assert [r["id"] for r in rows] == list(range(1, 121))
    assert sorted(r["data"]["task"] for r in rows) == sorted(f"{w}-{b}-{i}" for w in range(4) for b in range(10)
                                                             for i in range(3))
    for w in range(4):      # a batch is written whole, in order
        tasks = [r["data"]["task"] for r in rows if r["run"] == f"w{w}"]
        assert tasks == [f"{w}-{b}-{i}" for b in range(10) for i in range(3)]
    assert pa.verify(ledger) == {"intact": True, "count": 120, "head": {"id": 120, "hash": rows[-1]["hash"]}}


# -- export --------------------------------------------------------------------------------------------------

def seeded_month(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    start = {"by": "anna", "via": "awx", "from": {"controller": "awx1", "ssh_client": ""},
             "playbooks": ["playbooks/nightly.yml"], "limit": "", "tags": [], "skip_tags": [], "check": False,
             "extra_vars": {"vault_x": pa.MASK}}
    pa.append(ledger, [
        # 1 March 00:30 German time is still 28 February in UTC: it belongs to March
        rec("run_start", "2026-02-28T23:30:00+00:00", "100", "", "", **start),
        rec("change", "2026-02-28T23:40:00+00:00", "100", "huber", "huber-fw01", task="Rules", action="a",
            status="changed", diff={"files": 1, "added": 3, "removed": 1}),
        rec("change", "2026-02-28T23:41:00+00:00", "100", "other", "other-fw01", task="Rules", action="a",
            status="changed"),
        rec("run_end", "2026-02-28T23:50:00+00:00", "100", "", "", status="ok", sites=["huber", "other"],
            hosts={"huber-fw01": {"site": "huber", "changed": 1}, "other-fw01": {"site": "other", "changed": 1}}),
        # February in German time: not in March
        rec("run_start", "2026-02-28T22:00:00+00:00", "99", "", "", **start),
        rec("change", "2026-02-28T22:10:00+00:00", "99", "huber", "huber-fw01", task="Old", action="a",
            status="changed"),
        # a run of March that touched huber without a change
        rec("run_start", "2026-03-10T01:00:00+00:00", "101", "", "", **dict(start, by="bob", via="sudo")),
        rec("run_end", "2026-03-10T01:05:00+00:00", "101", "", "", status="ok", sites=["huber"],
            hosts={"huber-nas01": {"site": "huber", "ok": 3}}),
    ])
    return ledger


def test_export_has_the_practices_runs_and_changes_of_the_month_only(tmp_path):
    ledger = seeded_month(tmp_path)
    report = pa.export(ledger, "huber", "2026-03")
    assert [r["run"] for r in report["runs"]] == ["100", "101"]
    assert report["runs"][0]["hosts"] == {"huber-fw01": {"site": "huber", "changed": 1}}, "no other practice"
    assert report["runs"][0]["by"] == "anna" and report["runs"][1]["by"] == "bob"
    assert [(c["host"], c["task"]) for c in report["changes"]] == [("huber-fw01", "Rules")]
    assert report["chain"]["intact"] and report["chain"]["count"] == 8
    assert [r["run"] for r in pa.export(ledger, "huber", "2026-02")["runs"]] == ["99"]
    with pytest.raises(pa.AuditError, match="month '2026-3'"):
        pa.export(ledger, "huber", "2026-3")
    rows = list(csv.DictReader(io.StringIO(pa.export_csv(report))))
    assert [(r["record"], r["run"], r["by"], r["host"], r["status"], r["added"]) for r in rows] == [
        ("run", "100", "anna", "huber-fw01", "ok", ""), ("run", "101", "bob", "huber-nas01", "ok", ""),
        ("change", "100", "", "huber-fw01", "changed", "3")]


def test_month_bounds_are_german_months():
    assert pa.month_bounds("2026-03") == ("2026-02-28T23:00:00+00:00", "2026-03-31T22:00:00+00:00")
    assert pa.month_bounds("2026-12") == ("2026-11-30T23:00:00+00:00", "2026-12-31T23:00:00+00:00")
    for bad in ("2026-13", "2026-00", "26-01", "", "2026-01-01"):
        with pytest.raises(pa.AuditError, match="expected YYYY-MM"):
            pa.month_bounds(bad)


# -- ledger and schema --------------------------------------------------------------------------------

def test_a_ledger_of_version_4_gets_the_audit_log_with_its_triggers(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    conn = sqlite3.connect(ledger)
    for step in (1, 2, 3, 4):
        for statement in praxis_ledger.MIGRATIONS[step].split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    pa.append(ledger, [rec()])
    conn = sqlite3.connect(ledger)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == praxis_ledger.SCHEMA_VERSION
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers == {"audit_log_no_update", "audit_log_no_delete"}
    conn.close()
    plain = [part for part in praxis_ledger.MIGRATIONS[5] if isinstance(part, str)]
    assert not any("PRAGMA" in part.upper() or "TRIGGER" in part.upper() for part in plain)
    assert not any("RAISE(ABORT" in s for s in praxis_ledger.statements(5, praxis_ledger.POSTGRESQL))


def test_ledger_path_is_resolved_like_the_actions():
    def variables(**values):
        return lambda name: values.get(name)

    assert ledger_path(variables(praxis_ledger_path="/x/l.sqlite", praxis_output_dir="/o"), "/p/playbooks") == \
        "/x/l.sqlite"
    assert ledger_path(variables(praxis_output_dir="/o"), "/p/playbooks") == "/o/ledger.sqlite"
    assert ledger_path(variables(), "/p/playbooks") == "/p/output/ledger.sqlite"


# -- the CLI ---------------------------------------------------------------------------------------

def cli(ledger, *args):
    return subprocess.run([sys.executable, str(SCRIPT), "--ledger", str(ledger), *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_cli_verify_show_export_and_errors(tmp_path):
    ledger = seeded_month(tmp_path)
    ok = cli(ledger, "verify")
    head = pa.verify(ledger)["head"]
    assert ok.returncode == 0 and f"intact: 8 records, head 8:{head['hash']}" in ok.stdout
    assert cli(ledger, "verify", "--anchor", f"8:{head['hash']}").returncode == 0
    shown = cli(ledger, "show", "--run", "101")
    assert shown.returncode == 0 and "bob (sudo) from awx1" in shown.stdout and "run_end" in shown.stdout
    assert "Rules" not in shown.stdout
    assert json.loads(cli(ledger, "--json", "show", "--site", "other").stdout)[0]["host"] == "other-fw01"
    exported = cli(ledger, "export", "--site", "huber", "--month", "2026-03", "--format", "csv")
    assert exported.returncode == 0 and exported.stdout.startswith("record,at,run,by")
    assert len(exported.stdout.strip().splitlines()) == 4
    assert json.loads(cli(ledger, "export", "--site", "huber", "--month", "2026-03").stdout)["site"] == "huber"
    bad = cli(ledger, "export", "--site", "huber", "--month", "März")
    assert bad.returncode == 2 and bad.stderr.strip() == "praxis-audit: month 'März': expected YYYY-MM"
    missing = cli(tmp_path / "none.sqlite", "verify")
    assert missing.returncode == 2 and "no ledger at" in missing.stderr and len(missing.stderr.splitlines()) == 1
    assert cli(ledger, "verify", "--anchor", "nope").returncode == 2
    with attacker(ledger) as conn:
        conn.execute("UPDATE audit_log SET data = '{}' WHERE id = 2")
    broken = cli(ledger, "verify")
    assert broken.returncode == 1 and "broken at record 2" in broken.stdout
