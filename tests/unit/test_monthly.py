"""praxis_monthly.month_report against a seeded practice and month (tests/monthly_seed.py)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from ansible.module_utils import praxis_databackup
from ansible.module_utils import praxis_incidents
from ansible.module_utils import praxis_monthly as pm
from tests.monthly_seed import seed


def report(seeded, **overrides):
    args = {"output_dir": seeded["output_dir"], "site": seeded["site"], "month": seeded["month"],
            "now": seeded["now"], "provider": seeded["provider"], "policy": None, "hosts": seeded["hosts"]}
    args.update(overrides)
    return pm.month_report(seeded["ledger"], **args)


def by_host(items):
    return {item["host"]: item for item in items}


def check_figures(data, seeded):
    exp = seeded["expected"]
    json.dumps(data)    # JSON-serialisable
    for host, want in exp["availability"].items():
        got = by_host(data["availability"]["devices"])[host]
        assert {k: got[k] for k in want} == want, host
    for host, want in exp["antivirus"].items():
        got = by_host(data["antivirus"]["devices"])[host]
        assert {k: got[k] for k in want} == want, host
    for host, want in exp["encryption"].items():
        got = by_host(data["encryption"]["devices"])[host]
        assert {k: got[k] for k in want} == want, host
    for host, want in exp["updates"].items():
        got = by_host(data["updates"]["devices"])[host]
        assert sorted(u["key"] for u in got["installed"]) == want["installed"], host
        assert sorted(u["key"] for u in got["failed"]) == want["failed"], host
        assert sorted(u["key"] for u in got["pending"]) == want["pending"], host
        assert got["status"] == want["status"], host
    if exp["sla"]:
        summary = {t["days"]: t for t in data["updates"]["sla"]["summary"]}
        for days, (done, total, percent) in exp["sla"].items():
            assert (summary[days]["installed"], summary[days]["device_updates"], summary[days]["percent"]) == \
                (done, total, percent), days
        assert data["updates"]["sla_history"][-1]["targets"][0]["percent"] == exp["sla"][7][2]
        assert len(data["updates"]["sla_history"]) == 12
    actions = {(a["kind"], a["host"]) for a in data["summary"]["actions"]}
    assert actions == exp["actions"]


def test_known_figures(tmp_path):
    seeded = seed(tmp_path)
    data = report(seeded)
    check_figures(data, seeded)
    exp = seeded["expected"]
    # incidents: reaction times per priority, per ISO week of the month
    items = sorted(data["incidents"]["items"], key=lambda i: i["opened_at"])
    want = sorted(exp["incidents"]["items"], key=lambda i: i["opened"])
    assert [(i["host"], i["check"], i["reaction_hours"], i["reaction_met"]) for i in items] == \
        [(i["host"], i["check"], i["hours"], i["met"]) for i in want]
    assert {w["week"]: w["opened"] for w in data["incidents"]["per_week"]} == exp["incidents"]["per_week"]
    assert data["summary"]["open_incidents"] == exp["incidents"]["open"] == 1
    assert data["incidents"]["status"] == "warning"
    assert all(i["message_raw"] for i in items)
    # backups with their copies, firmware
    for host, want in exp["backups"].items():
        got = by_host(data["backups"]["config"])[host]
        assert got["status"] == want["status"], host
        assert got["copies"] == want["copies"], host
    assert data["backups"]["data"] == []
    for host, want in exp["firmware"].items():
        got = by_host(data["firmware"]["devices"])[host]
        assert {k: got[k] for k in want} == want, host
        assert got["next_window"] is not None
    # inventory, work done
    assert sorted(c["host"] for c in data["inventory"]["computers"]) == exp["inventory"]["computers"]
    assert data["inventory"]["not_managed"] == exp["inventory"]["not_managed"]
    assert data["inventory"]["software_count"] == exp["inventory"]["software_count"]
    assert data["inventory"]["missing"] == exp["inventory"]["missing"]
    assert [{k: w[k] for k in ("at", "by", "playbook", "task", "action")} for w in data["work_done"]] == \
        exp["work_done"]
    # summary areas and KBV
    areas = {a["area"]: a for a in data["summary"]["areas"]}
    assert list(areas) == list(pm.AREAS)
    assert areas["antivirus"]["status"] == "critical" and areas["encryption"]["status"] == "critical"
    assert areas["checks"]["counts"]["no_data"] == 1
    kbv = {k["requirement_key"]: k for k in data["kbv"]}
    assert set(kbv) == {e["key"] for e in pm.KBV_REQUIREMENTS}
    assert kbv["virus_protection"]["covered"] and kbv["backups"]["covered"]
    assert all(k["number"] is None and not k["number_verified"] for k in data["kbv"])
    assert data["period"] == {"start": "2026-11-01T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00"}


def test_no_data_never_green(tmp_path):
    seeded = seed(tmp_path)
    data = report(seeded)
    ws04 = f"{seeded['site']['id']}-ws04"
    for area in ("antivirus", "encryption", "updates", "availability"):
        device = by_host(data[area]["devices"])[ws04]
        assert device["status"] == "no_data", area
        assert data[area]["status"] != "ok", area
    assert pm.worst(["ok", "no_data", "ok"]) == "no_data"
    assert pm.worst([]) == "no_data"


def test_empty_month(tmp_path):
    """A month before anything was recorded: every device no_data, no incidents, nothing done."""
    seeded = seed(tmp_path)
    data = report(seeded, month="2026-05")
    for area in ("antivirus", "availability"):
        assert data[area]["status"] == "no_data", area
    assert all(d["status"] == "no_data" for d in data["availability"]["devices"])
    assert all(d["status"] == "no_data" for d in data["antivirus"]["devices"])
    assert data["incidents"]["items"] == [] and data["summary"]["open_incidents"] == 0
    assert data["work_done"] == []
    assert all(d["installed"] == [] for d in data["updates"]["devices"])


def test_no_ledger_is_no_data_and_creates_nothing(tmp_path):
    seeded = seed(tmp_path)
    missing = tmp_path / "none.sqlite"
    data = pm.month_report(str(missing), output_dir=seeded["output_dir"], site=seeded["site"], month="2026-11",
                           now=seeded["now"], provider=seeded["provider"], hosts=seeded["hosts"])
    assert not missing.exists()
    assert data["incidents"]["status"] == "no_data" and data["updates"]["status"] == "no_data"
    assert data["updates"]["sla"] is None


def test_without_network_devices(tmp_path):
    seeded = seed(tmp_path, network=False)
    data = report(seeded)
    check_figures(data, seeded)
    assert data["backups"]["config"] == [] and data["backups"]["status"] == "no_data"
    assert data["firmware"]["devices"] == []
    kbv = {k["requirement_key"]: k for k in data["kbv"]}
    assert not kbv["firewall"]["covered"] and kbv["firewall"]["evidence"] == []


def test_without_windows(tmp_path):
    seeded = seed(tmp_path, windows=False)
    data = report(seeded)
    check_figures(data, seeded)
    assert data["antivirus"]["devices"] == [] and data["antivirus"]["status"] == "no_data"
    assert data["updates"]["sla"] is None
    assert data["inventory"]["not_managed"][0]["os"] == "macos"
    assert not {k["requirement_key"]: k for k in data["kbv"]}["virus_protection"]["covered"]


def test_300_devices(tmp_path):
    seeded = seed(tmp_path, devices=300, network=False)
    data = report(seeded)
    assert len(data["antivirus"]["devices"]) == 300
    check_figures(data, seeded)


def test_bad_input_names_the_field(tmp_path):
    seeded = seed(tmp_path, network=False, windows=False)
    with pytest.raises(pm.MonthlyError, match="month 'November'"):
        report(seeded, month="November")
    with pytest.raises(pm.MonthlyError, match="hosts.x: role 'router'"):
        report(seeded, hosts={"x": "router"})
    with pytest.raises(pm.MonthlyError, match="provider.name"):
        report(seeded, provider={})
    bad = tmp_path / "output" / "workplaces" / "huber" / "inventory.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(pm.MonthlyError, match="inventory.json: not readable as JSON"):
        report(seeded)


def test_both_ledger_backends(tmp_path, ledger_target):
    seeded = seed(tmp_path, ledger=ledger_target)
    data = report(seeded)
    check_figures(data, seeded)
    assert data["summary"]["open_incidents"] == 1


def test_a_past_month_made_again_later_says_the_same(tmp_path):
    """What happened after the month (the open incident resolved in December, a month later) does
    not change November's report: reaction times, states and the next window are judged at the
    month's end."""
    seeded = seed(tmp_path)
    first = report(seeded)
    sw = f"{seeded['site']['id']}-sw01"
    later = seeded["now"] + dt.timedelta(days=3)
    for day in range(3):
        praxis_incidents.observe(seeded["ledger"], run="r", site=seeded["site"]["id"], host=sw,
                                    checks=["backup.config"], findings=[], now=later + dt.timedelta(days=day))
    again = report(seeded, now=seeded["now"] + dt.timedelta(days=30))
    for key in ("incidents", "firmware", "backups", "updates", "summary", "kbv"):
        assert again[key] == first[key], key
    assert {i["host"]: i["state"] for i in again["incidents"]["items"]}[sw] == "open"
    # the device state read from the facts files is as the last check left it: the report says when
    assert first["state_read_at"] is None or first["state_read_at"] >= first["period"]["end"]


def test_the_state_read_after_the_month_is_named(tmp_path):
    seeded = seed(tmp_path)
    data = report(seeded)
    facts = sorted((tmp_path / "output" / "facts").rglob("*.json")) or sorted(tmp_path.rglob("facts/**/*.json"))
    assert facts, "the seed writes facts files"
    record = json.loads(facts[0].read_text())
    record["checked_at"] = "2026-12-03T02:00:00+00:00"
    facts[0].write_text(json.dumps(record))
    data = report(seeded)
    assert data["state_read_at"] == "2026-12-03T03:00:00+01:00"


def add_data_backups(seeded):
    """The practice's data backups (WP-12): ws01 is the practice server; the NAS repository was
    verified every night of November and its last snapshot is from Monday 30 November 21:30; the
    offsite repository could not be read on the last two nights (wrong password), and its restore
    test on 16 November found one of 20 files different."""
    site, ledger = seeded["site"], seeded["ledger"]
    site["backups"] = {"repositories": [
        {"name": "nas", "kind": "local", "url": "/volume1/restic", "password": "vault_a"},
        {"name": "offsite", "kind": "offsite", "url": "sftp:backup@dc.example:/r", "password": "vault_b"}],
        "sources": [{"host": "ws01", "server": True, "paths": ["C:\\Praxis"]}]}
    zone = ZoneInfo("Europe/Berlin")
    for day in range(1, 31):
        checked = dt.datetime(2026, 11, day, 23, 45, tzinfo=zone)
        snapshot = dt.datetime(2026, 11, day, 21, 30, tzinfo=zone)
        for repo in ("nas", "offsite"):
            broken = repo == "offsite" and day >= 29
            praxis_databackup.record_check(ledger, {
                "site": site["id"], "repository": repo, "checked_at": praxis_databackup.iso(checked),
                "ok": not broken, "error_kind": "wrong_password" if broken else None,
                "snapshots": {} if broken else {"ws01": {"id": f"{day:08x}", "time": snapshot.isoformat(),
                                                         "size_bytes": 1000 + day, "files": 50}},
                "check_subset": f"{day}/30", "check_ok": None if broken else True, "pruned": not broken,
                "duration_s": 1.5, "run": "r"})
    # a verification after the month does not count for November
    praxis_databackup.record_check(ledger, {
        "site": site["id"], "repository": "nas", "checked_at": "2026-12-01T22:45:00+00:00", "ok": False,
        "error_kind": "unreachable", "snapshots": {}, "check_subset": "1/31", "check_ok": None,
        "duration_s": 0.5, "run": "r"})
    praxis_databackup.record_restore_test(ledger, {
        "quarter": "2026-Q4", "seed": "4711", "chosen_sites": [site["id"]], "site": site["id"],
        "repository": "offsite", "snapshot_id": "ab" * 32, "snapshot_time": "2026-11-15T20:30:00+00:00",
        "host": "ws01", "files": [{"path": f"/f{i}", "sha256": "0" * 64, "ok": i != 7} for i in range(20)],
        "dump": {"file": "praxis.dump", "bytes": 100, "header_ok": True}, "ok": False, "error": "1 file differs",
        "started_at": "2026-11-16T09:00:00+00:00", "finished_at": "2026-11-16T09:01:00+00:00", "duration_s": 60.0,
        "by": "tech", "run": "r"})


def test_practice_data_backups_and_restore_tests(tmp_path):
    seeded = seed(tmp_path)
    add_data_backups(seeded)
    data = report(seeded)
    repos = {r["repository"]: r for r in data["backups"]["data"]}
    nas, offsite = repos["nas"], repos["offsite"]
    assert (nas["nights"], nas["failed_nights"], nas["pruned_nights"]) == (30, 0, 30)
    assert nas["hosts"] == [{"host": "huber-ws01", "server": True, "snapshot_at": "2026-11-30T21:30:00+01:00",
                             "age_working_days": 0, "size_bytes": 1030, "files": 50}]
    assert nas["status"] == "ok" and nas["restore_test"] is None and nas["last_ok"] is True
    assert (offsite["nights"], offsite["failed_nights"], offsite["last_error_kind"]) == (30, 2, "wrong_password")
    assert offsite["status"] == "critical"
    assert offsite["restore_test"] == {"at": "2026-11-16T09:00:00+00:00", "quarter": "2026-Q4", "ok": False,
                                       "host": "ws01", "snapshot_at": "2026-11-15T20:30:00+00:00", "files": 20,
                                       "files_ok": 19, "dump_header_ok": True, "duration_s": 60.0, "by": "tech"}
    assert data["backups"]["status"] == "critical"
    actions = {(a["kind"], a["host"]) for a in data["summary"]["actions"]}
    assert {("data_backup_critical", "offsite"), ("restore_test_failed", "offsite")} <= actions
    assert not any(host == "nas" for _kind, host in actions)
    kbv = {k["requirement_key"]: k for k in data["kbv"]}
    backups = next(e["values"] for e in kbv["backups"]["evidence"] if e["key"] == "backups")
    assert (backups["repositories"], backups["repositories_ok"], backups["restore_tests_ok"]) == (2, 1, 0)
    counts = {a["area"]: a["counts"] for a in data["summary"]["areas"]}["backups"]
    assert sum(counts.values()) == len(data["backups"]["config"]) + 2


def test_a_practice_without_data_backups_has_none(tmp_path):
    seeded = seed(tmp_path)
    data = report(seeded)
    assert data["backups"]["data"] == []


# -- capabilities the vendor's API does not offer (praxis_netops: status skipped, data.not_offered) ---------

FIRMWARE_REASON = "not automatable through this vendor's API: the SFOS XML API neither reports nor installs firmware"
SIGNATURES_REASON = "not automatable through this vendor's API: SFOS downloads its patterns by itself"
EXPORT_REASON = "configuration export: the SFOS XML API offers no configuration download; set backup_dropbox"


def _not_offered_rows(seeded, host, day=30):
    from tests.monthly_seed import _insert_events

    at = f"{seeded['month']}-{day:02d}T22:00:00+00:00"
    rows = [(at, "r2", seeded["site"]["id"], host, kind, "skipped", f"{host}: {capability} is not offered",
             json.dumps({"not_offered": {"capability": capability, "reason": reason}}))
            for kind, capability, reason in (("firmware", "firmware", FIRMWARE_REASON),
                                             ("signatures", "signatures", SIGNATURES_REASON),
                                             ("backup", "config_export", EXPORT_REASON))]
    _insert_events(seeded["ledger"], rows)


def test_not_offered_capabilities_are_no_data_with_the_reason_never_green(tmp_path):
    seeded = seed(tmp_path)
    fw = seeded["site"]["id"] + "-fw01"
    before = report(seeded)
    assert by_host(before["firmware"]["devices"])[fw]["status"] == "ok"
    assert "not_offered" not in by_host(before["firmware"]["devices"])[fw]
    _not_offered_rows(seeded, fw)
    data = report(seeded)
    firmware = by_host(data["firmware"]["devices"])[fw]
    assert firmware["status"] == "no_data"
    assert firmware["not_offered"] == {"capability": "firmware", "reason": FIRMWARE_REASON}
    backup = by_host(data["backups"]["config"])[fw]
    assert backup["status"] == "no_data"
    assert backup["not_offered"] == {"capability": "config_export", "reason": EXPORT_REASON}
    evidence = data["evidence"]["firewall"] if "evidence" in data else None
    firewall = evidence or next(v for k in data["kbv"] for e in k["evidence"] if e["key"] == "firewall"
                                for v in [e["values"]])
    assert firewall["signatures_not_offered"] == [{"host": fw, "capability": "signatures",
                                                   "reason": SIGNATURES_REASON}]
    # a skip is not a signature run: the counts are those before it
    old = before["evidence"]["firewall"] if "evidence" in before else next(
        e["values"] for k in before["kbv"] for e in k["evidence"] if e["key"] == "firewall")
    assert (firewall["signature_updates"], firewall["signature_updates_ok"]) == \
        (old["signature_updates"], old["signature_updates_ok"])
    # the other items keep their figures
    assert {d["host"]: d["status"] for d in data["firmware"]["devices"] if d["host"] != fw} == \
        {d["host"]: d["status"] for d in before["firmware"]["devices"] if d["host"] != fw}


def test_a_skip_without_not_offered_stays_plain_no_data(tmp_path):
    seeded = seed(tmp_path)
    nas = by_host(report(seeded)["backups"]["config"])[seeded["site"]["id"] + "-nas01"]
    assert nas["status"] == "no_data" and "not_offered" not in nas


@pytest.mark.parametrize("language, text, plain", [
    ("de", "nicht über die Schnittstelle des Herstellers automatisierbar", "keine Daten"),
    ("en", "not automatable through this vendor's API", "no data"),
])
def test_the_report_prints_not_automatable_with_the_reason_in_the_row(tmp_path, language, text, plain):
    import html as html_lib
    import re

    from ansible.module_utils import praxis_report_render as render

    seeded = seed(tmp_path)
    fw = seeded["site"]["id"] + "-fw01"
    _not_offered_rows(seeded, fw)
    data = report(seeded, site=dict(seeded["site"], language=language))
    page = html_lib.unescape(render.render_html(data))
    rows = {section: [r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", re.search(
        rf'<section id="{section}">(.*?)</section>', page, re.S).group(1), re.S) if fw in r]
        for section in ("backups", "firmware")}
    for section, reason in (("backups", "the SFOS XML API offers no configuration download"),
                            ("firmware", "the SFOS XML API neither reports nor installs firmware")):
        (row,) = rows[section]
        assert text in row and reason in row, (section, row)
        assert plain not in row, (section, row)
        assert row.count(text) == 1, row       # the driver's own "not automatable ..." is not said twice
    # the NAS (skipped, nothing declared) keeps "no data"
    nas_row = [r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S) if seeded["site"]["id"] + "-nas01" in r
               and "status-no_data" in r]
    assert nas_row and plain in nas_row[0]


@pytest.mark.parametrize("language", ["de", "en"])
def test_an_area_without_data_only_because_the_vendor_offers_nothing_says_so(tmp_path, language):
    """A Sophos practice's firmware area: every device without data names a capability not offered,
    so the verdict (section and summary) says the vendor offers no interface, not "no data"; one
    device without data and without a reason keeps the plain verdict."""
    from ansible.module_utils import praxis_report_render as render

    seeded = seed(tmp_path)
    data = report(seeded)
    data["site"]["language"] = language
    catalog = render.texts(language)
    reason = {"capability": "firmware", "reason": FIRMWARE_REASON}
    data["firmware"] = {"status": "no_data",
                        "devices": [dict(d, status="no_data", not_offered=reason) for d in data["firmware"]["devices"]]}
    for area in data["summary"]["areas"]:
        if area["area"] == "firmware":
            area["status"] = "no_data"
    view = render.view(data)
    assert view["firmware"]["text"] == catalog["verdict_not_offered"]
    assert next(a for a in view["areas"] if a["name"] == catalog["area"]["firmware"])["verdict"] == \
        catalog["verdict_not_offered"]
    data["firmware"]["devices"][0].pop("not_offered")
    view = render.view(data)
    assert view["firmware"]["text"] == catalog["verdict"]["firmware"]["no_data"]


def test_the_providers_kbv_numbers_are_cited(tmp_path):
    seeded = seed(tmp_path)
    data = report(seeded, kbv={"security_updates": {"anlage": 1, "number": "7"},
                               "network_segmentation": {"anlage": 2, "number": 3}})
    kbv = {k["requirement_key"]: k for k in data["kbv"]}
    assert (kbv["security_updates"]["anlage"], kbv["security_updates"]["number"]) == (1, "7")
    assert kbv["security_updates"]["number_verified"] and kbv["security_updates"]["id"] == "anlage1-7"
    assert kbv["network_segmentation"]["number"] == "3"
    assert kbv["backups"]["number"] is None and not kbv["backups"]["number_verified"]


@pytest.mark.parametrize(("kbv", "message"), [
    ({"antivirus": {"anlage": 1, "number": "7"}}, "praxis_report_kbv.antivirus: not a requirement"),
    ({"backups": {"anlage": 6, "number": "7"}}, r"praxis_report_kbv.backups.anlage must be 1 to 5, got 6"),
    ({"backups": {"anlage": 1, "number": "sieben"}}, "praxis_report_kbv.backups.number must be"),
    ({"backups": {"anlage": 1}}, "praxis_report_kbv.backups.number must be"),
    ({"backups": "1.7"}, "praxis_report_kbv.backups: a mapping with anlage and number is required"),
    (["backups"], "praxis_report_kbv must be a mapping"),
])
def test_bad_kbv_numbers_are_refused_naming_them(tmp_path, kbv, message):
    seeded = seed(tmp_path)
    with pytest.raises(pm.MonthlyError, match=message):
        report(seeded, kbv=kbv)
