"""Windows workplace decisions (module_utils/praxis_workplace.py), their
filters and the praxis_win_health action, with the recorded Windows side in
tests/fixtures/windows."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from ansible.errors import AnsibleFilterError

from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_findings import thresholds
from ansible.module_utils.praxis_workplace import (
    WorkplaceError, enum_name, health_findings, inventory_record, normalize_bitlocker,
    parse_time, prereq_verdict, win_limits,
)
from tests.unit.windows_helpers import fixture, load_plugin, make_action

BAVARIA = {"id": "lab001", "state": "BY"}
NRW = {"id": "lab002", "state": "NW"}
NOW = "2026-11-24T22:00:00+01:00"
CET = dt.timezone(dt.timedelta(hours=1))


def facts(name: str) -> dict:
    return fixture(name)["facts"]


def health(name: str) -> dict:
    return fixture(name)["health"]


def summary(findings: list[dict]) -> set[tuple]:
    return {(f["check"], f["subject"], f["severity"], f["priority"]) for f in findings}


# -- normalisers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "value", "name"), [
    ("MediaType", 4, "SSD"), ("MediaType", "4", "SSD"), ("MediaType", 3, "HDD"), ("MediaType", "ssd", "SSD"),
    ("MediaType", 0, "Unspecified"), ("MediaType", 5, "SCM"),
    ("HealthStatus", 0, "Healthy"), ("HealthStatus", 1, "Warning"), ("HealthStatus", 2, "Unhealthy"),
    ("HealthStatus", 5, "Unknown"), ("HealthStatus", "healthy", "Healthy"),
    ("OperationalStatus", 2, "OK"), ("OperationalStatus", 5, "Predictive Failure"),
    ("OperationalStatus", 13, "Lost Communication"), ("OperationalStatus", "Lost communication", "Lost Communication"),
    ("OperationalStatus", "Failed media", "Failed Media"), ("OperationalStatus", 0xD00E, "Microsoft Reserved 0xd00e"),
    ("BusType", 17, "NVMe"), ("BusType", 11, "SATA"),
    ("VolumeStatus", 0, "FullyDecrypted"), ("VolumeStatus", 1, "FullyEncrypted"),
    ("VolumeStatus", 2, "EncryptionInProgress"), ("VolumeStatus", 4, "EncryptionSuspended"),
    ("VolumeStatus", "FullyEncryptedWipeInProgress", "FullyEncryptedWipeInProgress"),
    ("ProtectionStatus", 0, "Off"), ("ProtectionStatus", 1, "On"), ("ProtectionStatus", "on", "On"),
    ("EncryptionMethod", 7, "XtsAes256"), ("EncryptionMethod", 6, "XtsAes128"), ("EncryptionMethod", 0, "None"),
    ("EncryptionMethod", 4294967295, "Unknown"), ("EncryptionMethod", "xtsaes256", "XtsAes256"),
    ("KeyProtectorType", 1, "Tpm"), ("KeyProtectorType", 3, "RecoveryPassword"), ("KeyProtectorType", 4, "TpmPin"),
    ("KeyProtectorType", "RecoveryPassword", "RecoveryPassword"),
    ("KeyProtectorType", "SomeFutureProtector", "SomeFutureProtector"),
    ("MediaType", None, None),
])
def test_enum_names(kind, value, name):
    assert enum_name(kind, value, "x") == name


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("MediaType", 7, "facts.system_disk.MediaType: 7 is not a documented MediaType value (0 Unspecified, 3 HDD"),
    ("VolumeStatus", 9, "facts.system_disk.MediaType: 9 is not a documented VolumeStatus value"),
    ("KeyProtectorType", True, "facts.system_disk.MediaType: expected a KeyProtectorType name or number, got True"),
    ("HealthStatus", {"x": 1}, "expected a HealthStatus name or number, got {'x': 1}"),
])
def test_enum_errors_name_the_field_and_value(kind, value, message):
    with pytest.raises(WorkplaceError) as info:
        enum_name(kind, value, "facts.system_disk.MediaType")
    assert message in str(info.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-23T21:04:11.1234567+01:00", dt.datetime(2026, 11, 23, 20, 4, 11, 123456, tzinfo=dt.timezone.utc)),
    ("2026-11-23T20:04:11Z", dt.datetime(2026, 11, 23, 20, 4, 11, tzinfo=dt.timezone.utc)),
    ("/Date(1767378600000)/", dt.datetime(2026, 1, 2, 18, 30, tzinfo=dt.timezone.utc)),
    ("\\/Date(1767378600000)\\/", dt.datetime(2026, 1, 2, 18, 30, tzinfo=dt.timezone.utc)),
    ("/Date(1767378600000+0100)/", dt.datetime(2026, 1, 2, 18, 30, tzinfo=dt.timezone.utc)),
    ("20261124071502.500000+060", dt.datetime(2026, 11, 24, 6, 15, 2, 500000, tzinfo=dt.timezone.utc)),
    ("2026-11-24T07:15:02", dt.datetime(2026, 11, 24, 6, 15, 2, tzinfo=dt.timezone.utc)),   # site zone CET
    (None, None),
])
def test_parse_time_accepts_iso_date_ms_and_cim(text, expected):
    assert parse_time(text, "t", CET) == expected


def test_parse_time_keeps_the_date_offset():
    assert parse_time("/Date(1767378600000+0100)/", "t").utcoffset() == dt.timedelta(hours=1)


@pytest.mark.parametrize(("value", "tz", "message"), [
    ("2026-11-24T07:15:02", None, "health.collected_at: '2026-11-24T07:15:02' has no UTC offset"),
    ("gestern", CET, "health.collected_at: 'gestern' is not a time"),
    (1700000000, CET, "health.collected_at: expected a time"),
])
def test_parse_time_errors_name_the_field(value, tz, message):
    with pytest.raises(WorkplaceError) as info:
        parse_time(value, "health.collected_at", tz)
    assert message in str(info.value)


def test_bitlocker_volume_drops_everything_but_protector_ids_and_types():
    volume = normalize_bitlocker({"MountPoint": "C:", "VolumeStatus": 1, "ProtectionStatus": 1, "EncryptionMethod": 7,
                                  "KeyProtector": {"KeyProtectorId": "{AB}", "KeyProtectorType": 3,
                                                   "RecoveryPassword": "123456-" * 7 + "123456"}}, "volume")
    assert volume["VolumeStatus"] == "FullyEncrypted" and volume["EncryptionMethod"] == "XtsAes256"
    assert volume["KeyProtector"] == [{"KeyProtectorId": "{AB}", "KeyProtectorType": "RecoveryPassword"}]


# -- WP-01 ---------------------------------------------------------------------------------------
def failed_checks(verdict: dict) -> set[str]:
    return {name for name, check in verdict["checks"].items() if not check["ok"]}


@pytest.mark.parametrize(("name", "fit", "failing"), [
    ("facts_pro_fit", True, set()),
    ("facts_home", False, {"edition"}),
    ("facts_weak", False, {"cpu_cores", "ram", "system_disk_type"}),
])
def test_prereq_verdict_of_the_fixtures(name, fit, failing):
    verdict = prereq_verdict(facts(name))
    assert verdict["fit"] is fit
    assert failed_checks(verdict) == failing
    assert len(verdict["reasons"]) == len(failing)
    assert set(verdict["checks"]) == {"edition", "windows_build", "cpu_cores", "cpu_clock", "ram", "system_disk_type",
                                      "system_disk_size", "admin"}


def test_prereq_weak_pc_reasons_say_what_is_missing():
    verdict = prereq_verdict(facts("facts_weak"))
    assert verdict["checks"]["cpu_cores"]["value"] == 2
    assert verdict["checks"]["ram"]["value"] == 4
    assert verdict["checks"]["system_disk_type"]["value"] == "HDD"
    assert verdict["checks"]["system_disk_size"] == {"ok": True, "value": 500, "required": 240,
                                                     "message": "system disk 500 GB"}
    assert "at least 4 needed" in " ".join(verdict["reasons"])


def test_prereq_pc_at_the_clock_limit_is_fit():
    assert prereq_verdict(facts("facts_pro_fit"))["checks"]["cpu_clock"] == {
        "ok": True, "value": 1800, "required": 1800, "message": "CPU clock 1.80 GHz"}


@pytest.mark.parametrize(("edition", "fit"), [("Core", False), ("CoreSingleLanguage", False), ("CoreN", False),
                                              ("Professional", True), ("Enterprise", True), ("Education", True)])
def test_prereq_home_editions(edition, fit):
    data = facts("facts_pro_fit")
    data["edition_id"] = edition
    assert prereq_verdict(data)["checks"]["edition"]["ok"] is fit


@pytest.mark.parametrize(("memory", "ok"), [
    (8 * 1024 ** 3 - 150 * 1024 ** 2, True),    # 8 GiB installed, graphics takes 150 MiB
    (int(7.4 * 1024 ** 3), False),
])
def test_prereq_ram_is_the_installed_memory(memory, ok):
    data = facts("facts_pro_fit")
    data["computer_system"]["TotalPhysicalMemory"] = memory
    assert prereq_verdict(data)["checks"]["ram"]["ok"] is ok


@pytest.mark.parametrize(("media", "bus", "ok"), [(0, 17, True), (0, 11, False), ("Unspecified", "SATA", False),
                                                  (5, 17, True), (3, 11, False)])
def test_prereq_system_disk_media(media, bus, ok):
    data = facts("facts_pro_fit")
    data["system_disk"].update(MediaType=media, BusType=bus)
    assert prereq_verdict(data)["checks"]["system_disk_type"]["ok"] is ok


def test_prereq_windows_81_is_too_old():
    data = facts("facts_pro_fit")
    data["os"]["BuildNumber"] = "9600"
    verdict = prereq_verdict(data)
    assert failed_checks(verdict) == {"windows_build"}


def test_prereq_missing_facts_are_reasons_not_passes():
    verdict = prereq_verdict({})
    assert verdict["fit"] is False
    assert failed_checks(verdict) == set(verdict["checks"])
    data = facts("facts_pro_fit")
    del data["computer_system"]["TotalPhysicalMemory"]
    del data["os"]["TotalVisibleMemorySize"]
    data["is_admin"] = None
    verdict = prereq_verdict(data)
    assert failed_checks(verdict) == {"ram", "admin"}
    assert "RAM not reported" in verdict["checks"]["ram"]["message"]


def test_prereq_memory_falls_back_to_the_operating_system():
    data = facts("facts_pro_fit")
    del data["computer_system"]["TotalPhysicalMemory"]
    check = prereq_verdict(data)["checks"]["ram"]
    assert check["ok"] is True and "TotalVisibleMemorySize" in check["message"]


def test_prereq_limits_override_and_errors():
    data = facts("facts_pro_fit")
    assert prereq_verdict(data, {"min_ram_gb": 32})["checks"]["ram"]["ok"] is False
    assert prereq_verdict(facts("facts_weak"), {"ssd_required": False})["checks"]["system_disk_type"]["ok"] is True
    with pytest.raises(WorkplaceError, match="unknown prerequisite limit 'min_ram'"):
        prereq_verdict(data, {"min_ram": 4})
    with pytest.raises(WorkplaceError, match="prerequisite limit min_cores must be a non-negative number, got 'vier'"):
        prereq_verdict(data, {"min_cores": "vier"})


@pytest.mark.parametrize(("path", "value", "message"), [
    (("os", "BuildNumber"), "zweiundzwanzig", "facts.os.BuildNumber: expected a number, got 'zweiundzwanzig'"),
    (("system_disk", "MediaType"), 9, "facts.system_disk.MediaType: 9 is not a documented MediaType value"),
    (("computer_system", "TotalPhysicalMemory"), -5, "facts.computer_system.TotalPhysicalMemory: expected a number "
                                                     "of at least 0"),
])
def test_prereq_bad_values_name_the_field(path, value, message):
    data = facts("facts_pro_fit")
    data[path[0]][path[1]] = value
    with pytest.raises(WorkplaceError) as info:
        prereq_verdict(data)
    assert message in str(info.value)


# -- WP-11 ---------------------------------------------------------------------------------------
def test_inventory_row_of_a_fit_pc():
    row = inventory_record(facts("facts_pro_fit"))
    assert {k: row[k] for k in ("name", "manufacturer", "model", "serial", "edition", "version", "build", "language",
                                "cpu", "cpu_cores", "ram_gb", "disk_type", "disk_bus", "disk_gb", "tpm",
                                "bitlocker", "bitlocker_protection", "bitlocker_method", "defender_realtime",
                                "software_count")} == {
        "name": "LAB001-WS01", "manufacturer": "LENOVO", "model": "11T3S0AB00", "serial": "MJ0LAB01",
        "edition": "Professional", "version": "23H2", "build": "22631.4460", "language": 1031,
        "cpu": "12th Gen Intel(R) Core(TM) i5-12400T", "cpu_cores": 6, "ram_gb": 15.8, "disk_type": "SSD",
        "disk_bus": "NVMe", "disk_gb": 512, "tpm": "ready", "bitlocker": "FullyEncrypted",
        "bitlocker_protection": "On", "bitlocker_method": "XtsAes256", "defender_realtime": True, "software_count": 5}
    assert row["defender_signatures"] == "2026-11-23T06:45:10+00:00"
    assert [s["name"] for s in row["software"]][:2] == ["7-Zip 23.01 (x64)", "Adobe Acrobat (64-bit)"]
    assert row["software"][1]["installed"] == "2024-10-15"


def test_inventory_row_of_a_home_and_a_weak_pc():
    home = inventory_record(facts("facts_home"))
    assert home["home_edition"] is True and home["bitlocker"] is None and home["bitlocker_protection"] is None
    assert home["software_count"] == 1                         # the duplicate uninstall entry counts once
    assert home["cpu"] == "AMD Ryzen 5 7530U with Radeon Graphics"
    weak = inventory_record(facts("facts_weak"))
    assert (weak["tpm"], weak["disk_type"], weak["disk_gb"], weak["ram_gb"]) == ("absent", "HDD", 500, 3.9)
    assert weak["bitlocker"] == "FullyDecrypted" and weak["software"] == []


def test_inventory_of_nothing_is_empty_not_an_error():
    row = inventory_record({})
    assert row["name"] is None and row["software_count"] == 0 and row["tpm"] is None


# -- WP-06 ---------------------------------------------------------------------------------------
def test_healthy_workplace_has_no_findings():
    assert health_findings(health("health_ok"), BAVARIA, None, NOW) == []


def test_stopped_services():
    findings = health_findings(health("health_stopped_service"), BAVARIA, None, NOW, services=["PraxisDB"])
    services = {f["subject"]: (f["severity"], f["priority"]) for f in findings if f["check"] == "win.service"}
    # Spooler crashed (auto, exit 1067); WpnService is delayed but crashed (1067); PraxisDB is named
    # in services; OneSyncSvc (delayed, never started: 1077), MapsBroker/edgeupdate/sppsvc (ended
    # cleanly), BITS (manual) and AudioSrv (Start Pending) are fine.
    assert services == {"Spooler": ("warning", "low"), "WpnService": ("warning", "low"),
                        "PraxisDB": ("critical", "medium")}
    spooler = next(f for f in findings if f["subject"] == "Spooler")
    assert spooler["message"] == "automatic service Spooler (Druckwarteschlange) is Stopped, exit code 1067"


def test_named_service_is_reported_only_when_named_and_missing_one_too():
    findings = health_findings(health("health_stopped_service"), BAVARIA, None, NOW)
    assert "PraxisDB" not in {f["subject"] for f in findings}
    findings = health_findings(health("health_ok"), BAVARIA, None, NOW, services=["TMServer"])
    assert summary(findings) == {("win.service", "TMServer", "critical", "medium")}
    assert findings[0]["message"] == "service TMServer should run but is not installed"


def test_named_service_listed_without_state_is_not_installed():
    data = health("health_ok")
    data["services"].append({"Name": "TMServer", "DisplayName": None, "State": None, "StartMode": None,
                             "DelayedAutoStart": None, "ExitCode": None})
    (finding,) = health_findings(data, BAVARIA, None, NOW, services=["TMServer"])
    assert finding["message"] == "service TMServer should run but is not installed"


@pytest.mark.parametrize("section", ["services", "volumes", "events", "physical_disks"])
def test_a_section_not_collected_is_one_finding(section):
    data = health("health_ok")
    data[section] = None
    findings = health_findings(data, BAVARIA, None, NOW, services=["TMServer"])
    expected = {("win.health_data", section, "warning", "low")}
    if section != "services":      # without the service list nothing can be said about TMServer
        expected.add(("win.service", "TMServer", "critical", "medium"))
    assert summary(findings) == expected
    del data[section]
    assert ("win.health_data", section, "warning", "low") in summary(health_findings(data, BAVARIA, None, NOW))


def test_ignored_services_by_name_and_pattern():
    findings = health_findings(health("health_stopped_service"), BAVARIA, None, NOW,
                               ignore_services=["spooler", "Wpn*"])
    assert not [f for f in findings if f["check"] == "win.service"]


def test_events_are_decided_by_level_never_by_the_display_name():
    findings = health_findings(health("health_stopped_service"), BAVARIA, None, NOW)
    events = {f["subject"]: f for f in findings if f["check"].startswith("win.event")}
    assert summary(events.values()) == {
        ("win.event_critical", "System/Microsoft-Windows-Kernel-Power/41", "warning", "medium"),
        ("win.event", "System/Service Control Manager/7034", "warning", "low"),
        ("win.event", "System/Microsoft-Windows-DistributedCOM/10016", "warning", "low"),
    }   # the Level 3 event ("Warnung") is not one
    scm = events["System/Service Control Manager/7034"]
    assert scm["value"] == 2 and "last 2026-11-24 16:02" in scm["message"]
    assert "last 2026-11-24 06:12" in events["System/Microsoft-Windows-Kernel-Power/41"]["message"]   # /Date(ms)/

    data = health("health_ok")
    data["events"] = [
        {"LogName": "System", "ProviderName": "Disk", "Id": 7, "Level": 4, "LevelDisplayName": "Fehler"},
        {"LogName": "System", "ProviderName": "Disk", "Id": 11, "Level": "2", "LevelDisplayName": "Information"},
        {"LogName": "Application", "ProviderName": "Application Error", "Id": 1000, "Level": 2,
         "LevelDisplayName": "Error"},
    ]
    assert summary(health_findings(data, BAVARIA, None, NOW)) == {
        ("win.event", "System/Disk/11", "warning", "low"),
        ("win.event", "Application/Application Error/1000", "warning", "low")}


def test_ignored_events_and_truncation_note():
    data = health("health_stopped_service")
    data["events_truncated"] = 17
    findings = health_findings(data, BAVARIA, None, NOW,
                               ignore_events=["Microsoft-Windows-DistributedCOM:10016", "*Kernel-Power"])
    subjects = {f["subject"] for f in findings if f["check"].startswith("win.event")}
    assert subjects == {"System/Service Control Manager/7034"}
    assert "(17 more events not collected)" in next(f["message"] for f in findings if f["check"] == "win.event")


def test_full_disk():
    findings = health_findings(health("health_full_disk"), BAVARIA, None, NOW)
    assert summary(findings) == {("win.disk_space", "C:", "critical", "medium"),
                                 ("win.disk_space", "D:", "warning", "low")}
    assert findings[0]["value"] == 97.2 and findings[0]["message"].startswith("volume C: is 97 % full")
    server = health_findings(health("health_full_disk"), BAVARIA, None, NOW, server=True)
    assert ("win.disk_space", "C:", "critical", "high") in summary(server)
    lenient = health_findings(health("health_full_disk"), BAVARIA, {"volume_used_percent": 90}, NOW)
    assert summary(lenient) == {("win.disk_space", "C:", "critical", "medium")}


def test_failing_disks():
    findings = health_findings(health("health_failing_disk"), BAVARIA, None, NOW)
    assert summary(findings) == {
        ("win.smart", "0", "critical", "medium"),       # HealthStatus 1 + OperationalStatus 5 (Predictive Failure)
        ("win.disk_errors", "0", "critical", "medium"),       # 12 uncorrected read errors
        ("win.disk_wear", "1", "warning", "low"),             # Wear 85 >= 80
        ("win.disk_temperature", "1", "critical", "medium"),  # 72 °C at or over its TemperatureMax 70
    }
    health_0 = next(f for f in findings if f["check"] == "win.smart")
    assert health_0["message"] == ("disk 0 (ST1000DM010-2EP102) is failing: HealthStatus Warning, "
                                   "OperationalStatus Predictive Failure")


def test_disk_warning_states_and_limits():
    data = health("health_failing_disk")
    data["physical_disks"] = [dict(data["physical_disks"][1], HealthStatus="Warning", OperationalStatus=["OK"],
                                   reliability={"Temperature": 65, "TemperatureMax": 0, "Wear": 10})]
    assert summary(health_findings(data, BAVARIA, None, NOW)) == {("win.smart", "1", "warning", "medium"),
                                                                  ("win.disk_temperature", "1", "warning", "low")}
    assert summary(health_findings(data, BAVARIA, {"disk_temperature_c": 70}, NOW)) == {
        ("win.smart", "1", "warning", "medium")}


def test_server_failed_logons_and_load():
    findings = health_findings(health("health_server_failed_logons"), BAVARIA, None, NOW,
                               services=["MSSQL$PRAXIS"])
    assert summary(findings) == {("win.failed_logons", "security", "critical", "medium"),
                                 ("win.cpu", "", "warning", "low")}
    logons = findings[0]
    assert logons["value"] == 347 and "administrator from 185.220.101.7 (301)" in logons["message"]
    relaxed = health_findings(health("health_server_failed_logons"), BAVARIA,
                              {"failed_logons_critical": 500, "cpu_percent": 97}, NOW)
    assert summary(relaxed) == {("win.failed_logons", "security", "warning", "medium")}


def test_server_priorities_for_services():
    data = health("health_server_failed_logons")
    data["services"][0]["State"] = "Stopped"          # MSSQL$PRAXIS, the practice database
    data["services"][1]["State"] = "Stopped"          # LanmanServer, automatic
    findings = health_findings(data, BAVARIA, None, NOW, services=["MSSQL$PRAXIS"])
    assert {("win.service", "MSSQL$PRAXIS", "critical", "high"),
            ("win.service", "LanmanServer", "warning", "medium")} <= summary(findings)


def test_server_temperature_and_network():
    data = health("health_server_failed_logons")
    data["failed_logons"]["count"] = 3
    data["load"].update(cpu_percent=10, temperature_celsius=82, network_bytes_per_sec=120_000_000)
    assert summary(health_findings(data, BAVARIA, None, NOW)) == {
        ("win.temperature", "", "critical", "medium"), ("win.network", "", "warning", "low")}


def test_defender_off_or_missing():
    data = health("health_ok")
    data["defender"]["RealTimeProtectionEnabled"] = False
    assert summary(health_findings(data, BAVARIA, None, NOW)) == {
        ("win.av_protection", "defender", "critical", "medium")}
    data["defender"] = None
    assert summary(health_findings(data, BAVARIA, None, NOW)) == {("win.av_protection", "defender", "warning", "low")}
    data = health("health_ok")
    data["defender"]["AntivirusSignatureLastUpdated"] = None
    assert summary(health_findings(data, BAVARIA, None, NOW)) == {
        ("win.av_signature_age", "defender", "warning", "medium")}


# -- signature age: working days of the site's calendar vs calendar days ---------------------------
# The signatures of health_old_signatures date from Friday 2026-01-02 19:30 CET. Then come
# Saturday, Sunday, Monday 5th, Tuesday 6th (Epiphany: a public holiday in Bavaria, not in NRW),
# Wednesday 7th, Thursday 8th.
@pytest.mark.parametrize(("site", "now", "rule", "alarm", "age"), [
    (BAVARIA, "2026-01-07T22:00:00+01:00", "working_days", False, 1),   # Mon
    (BAVARIA, "2026-01-08T22:00:00+01:00", "working_days", False, 2),   # Mon, Wed
    (NRW, "2026-01-08T22:00:00+01:00", "working_days", True, 3),        # Mon, Tue, Wed
    (BAVARIA, "2026-01-09T22:00:00+01:00", "working_days", True, 3),    # Mon, Wed, Thu
    (BAVARIA, "2026-01-07T19:00:00+01:00", "calendar_days", False, None),   # 4.98 days
    (BAVARIA, "2026-01-07T22:00:00+01:00", "calendar_days", True, 5.1),
    (BAVARIA, "2026-01-08T22:00:00+01:00", "calendar_days", True, 6.1),
])
def test_signature_age_rules(site, now, rule, alarm, age):
    findings = health_findings(health("health_old_signatures"), site, {"signature_rule": rule}, now)
    ages = [f for f in findings if f["check"] == "win.av_signature_age"]
    assert bool(ages) is alarm
    if alarm:
        assert ages[0]["value"] == age
        assert (ages[0]["severity"], ages[0]["priority"]) == ("warning", "medium")


def test_signature_age_message_and_limits():
    data = health("health_old_signatures")
    (finding,) = health_findings(data, NRW, None, "2026-01-08T22:00:00+01:00")
    assert finding["message"] == ("antivirus signatures from 2026-01-02 19:30 are 3 working days old (limit 2; "
                                  "weekends and public holidays of NW not counted)")
    assert health_findings(data, NRW, {"signature_max_working_days": 3}, "2026-01-08T22:00:00+01:00") == []
    assert health_findings(data, BAVARIA, {"signature_rule": "calendar_days", "signature_max_days": 7},
                           "2026-01-08T22:00:00+01:00") == []
    assert win_limits()["signature_max_days"] == 5 and win_limits()["signature_max_working_days"] == 2


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "message"), [
    (lambda h: h["volumes"][0].update(FreeSpace="viel"), "health.volumes[0].FreeSpace: expected a number, got 'viel'"),
    (lambda h: h["volumes"][0].update(FreeSpace=10 ** 13), "health.volumes[0].FreeSpace: 10000000000000 is larger"),
    (lambda h: h["events"].append({"LogName": "System", "Id": 1}), "health.events[0].Level is missing"),
    (lambda h: h["services"].append({"State": "Stopped"}), "health.services[8].Name is missing"),
    (lambda h: h["services"][0].update(DelayedAutoStart="vielleicht"),
     "health.services[0].DelayedAutoStart: expected true or false, got 'vielleicht'"),
    (lambda h: h["physical_disks"][0].update(HealthStatus=3),
     "health.physical_disks[0].HealthStatus: 3 is not a documented HealthStatus value"),
    (lambda h: h["defender"].update(AntivirusSignatureLastUpdated="letzte Woche"),
     "health.defender.AntivirusSignatureLastUpdated: 'letzte Woche' is not a time"),
    (lambda h: h.update(volumes="C:"), "health.volumes: expected a list, got str 'C:'"),
])
def test_bad_health_names_the_field(change, message):
    data = health("health_ok")
    change(data)
    with pytest.raises(WorkplaceError) as info:
        health_findings(data, BAVARIA, None, NOW)
    assert message in str(info.value)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("not health", BAVARIA, None, NOW), {}, "health: expected a mapping"),
    ((None, {"id": "x", "state": "DE"}, None, NOW), {}, "site x: state 'DE'"),
    ((None, BAVARIA, {"signature_rule": "weekly"}, NOW), {}, "signature_rule must be one of working_days, "
                                                              "calendar_days, got 'weekly'"),
    ((None, BAVARIA, {"volume_full": 90}, NOW), {}, "thresholds: unknown threshold 'volume_full'"),
    ((None, BAVARIA, {"volume_used_percent": 99}, NOW), {}, "volume_used_percent_critical (95) is below"),
    ((None, BAVARIA, {"volume_critical_percent": 99}, NOW), {}, "volume_critical_percent is now called "
                                                               "volume_used_percent_critical"),
    ((None, BAVARIA, {"cpu_percent": True}, NOW), {}, "threshold cpu_percent must be a non-negative number"),
    ((None, BAVARIA, None, "morgen"), {}, "now 'morgen' is not an ISO-8601 timestamp"),
    ((None, BAVARIA, None, NOW), {"services": "Spooler"}, "services must be a list of names, got 'Spooler'"),
])
def test_bad_arguments_name_the_field(args, kwargs, message):
    data = args[0] if args[0] is not None else health("health_ok")
    with pytest.raises(PraxisError) as info:
        health_findings(data, *args[1:], **kwargs)
    assert message in str(info.value)


def test_limits_defaults_and_overrides():
    limits = win_limits({"signature_rule": "calendar_days", "volume_used_percent": 80})
    assert limits["signature_rule"] == "calendar_days" and limits["volume_used_percent"] == 80
    assert limits["volume_used_percent_critical"] == 95 and win_limits(None) == thresholds()


# -- filters -------------------------------------------------------------------------------------
FILTERS = load_plugin("filter_plugins", "praxis_workplace").FilterModule().filters()


def test_filters_are_the_functions():
    assert set(FILTERS) == {"praxis_win_prereq", "praxis_win_health_findings", "praxis_win_inventory"}
    assert FILTERS["praxis_win_prereq"](facts("facts_home"))["fit"] is False
    assert FILTERS["praxis_win_inventory"](facts("facts_weak"))["disk_type"] == "HDD"
    findings = FILTERS["praxis_win_health_findings"](health("health_old_signatures"), NRW,
                                                      {"signature_rule": "calendar_days"}, "2026-01-08T22:00:00+01:00")
    assert summary(findings) == {("win.av_signature_age", "defender", "warning", "medium")}
    assert {f["host"] for f in findings} == {"?"}
    named = FILTERS["praxis_win_health_findings"](health("health_old_signatures"), NRW,
                                                   {"signature_rule": "calendar_days"}, "2026-01-08T22:00:00+01:00",
                                                   host="nrw-ws01")
    assert {(f["site"], f["host"]) for f in named} == {(NRW["id"], "nrw-ws01")}


@pytest.mark.parametrize(("name", "args", "message"), [
    ("praxis_win_prereq", ({"os": {"BuildNumber": "x"}},),
     "praxis_win_prereq: facts.os.BuildNumber: expected a number"),
    ("praxis_win_health_findings", ({}, {"id": "a", "state": "XX"}), "praxis_win_health_findings: site a: state 'XX'"),
    ("praxis_win_inventory", ([],), "praxis_win_inventory: facts: expected a mapping"),
])
def test_filter_errors_name_the_filter(name, args, message):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args)
    assert message in str(info.value)


# -- praxis_win_health action --------------------------------------------------------------------
HEALTH_ACTION = load_plugin("action_plugins", "praxis_win_health")


def run_health(tmp_path, module_result, *, check_mode=False, **args):
    base = {"facts_dir": str(tmp_path / "facts"), "ledger": str(tmp_path / "ledger.sqlite"), "now": NOW,
            "run": "42"}
    action, recorder = make_action(HEALTH_ACTION, dict(base, **args), module_result, check_mode=check_mode)
    task_vars = {"inventory_hostname": "lab001-ws01", "praxis_site": BAVARIA, "group_names": ["workplaces"]}
    return action.run(task_vars=task_vars), recorder


def test_health_action_first_run_remembers_and_records(tmp_path):
    result, recorder = run_health(tmp_path, fixture("health_full_disk"), fail_on="none")
    (call,) = recorder.calls
    assert call["module"] == "praxis_win_health" and "since" not in call["args"]
    assert call["args"] == {"services": [], "ignore_services": [], "server": False, "max_events": 50}
    assert result["status"] == "critical" and not result.get("failed")
    assert [(f["check"], f["severity"]) for f in result["findings"]] == [("win.disk_space", "critical"),
                                                                          ("win.disk_space", "warning")]
    assert {(f["site"], f["host"]) for f in result["findings"]} == {("lab001", "lab001-ws01")}
    assert "win.disk_space" in result["checks"] and "win.failed_logons" not in result["checks"]
    # the two disk-space findings open one incident per volume (the incident engine is wired in)
    opened = result["incidents"]["opened"]
    assert {(i["host"], i["check"]) for i in opened} == {("lab001-ws01", "win.disk_space")}
    assert len(opened) == 2 and not any(result["incidents"][k] for k in ("updated", "escalated", "resolved"))
    saved = json.loads((tmp_path / "facts" / "lab001" / "lab001-ws01.json").read_text())
    assert saved["collected_at"] == "2026-11-24T22:00:05.123456+01:00" and saved["status"] == "critical"
    assert result["ansible_facts"]["praxis_win_health"]["status"] == "critical"
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        rows = conn.execute("SELECT site, host, kind, status, run FROM events").fetchall()
    assert rows == [("lab001", "lab001-ws01", "health", "critical", "42")]


def test_health_action_second_run_passes_since(tmp_path):
    run_health(tmp_path, fixture("health_full_disk"), fail_on="none")
    changed = fixture("health_full_disk")
    changed["health"]["defender"]["AntivirusEnabled"] = False
    result, recorder = run_health(tmp_path, changed, fail_on="none")
    assert recorder.calls[0]["args"]["since"] == "2026-11-24T22:00:05.123456+01:00"
    assert [f["check"] for f in result["findings"]] == ["win.av_protection", "win.disk_space", "win.disk_space"]


@pytest.mark.parametrize(("fail_on", "failed"), [("critical", True), ("warning", True), ("none", False)])
def test_health_action_fail_on(tmp_path, fail_on, failed):
    result, _ = run_health(tmp_path, fixture("health_full_disk"), fail_on=fail_on)
    assert bool(result.get("failed")) is failed


def test_health_action_default_fails_on_critical_only(tmp_path):
    result, _ = run_health(tmp_path, fixture("health_stopped_service"))    # warnings only
    assert result["status"] == "warning" and not result.get("failed")


def test_health_action_check_mode_writes_nothing(tmp_path):
    result, recorder = run_health(tmp_path, fixture("health_full_disk"), check_mode=True, fail_on="none")
    assert recorder.calls[0]["check_mode"] is True and result["status"] == "critical"
    assert not (tmp_path / "facts").exists() and not (tmp_path / "ledger.sqlite").exists()


def test_health_action_server_and_module_failure(tmp_path):
    action, recorder = make_action(HEALTH_ACTION, {"now": NOW, "fail_on": "none", "services": ["MSSQL$PRAXIS"]},
                                   fixture("health_server_failed_logons"))
    result = action.run(task_vars={"inventory_hostname": "lab001-srv01", "praxis_site": BAVARIA,
                                   "group_names": ["servers", "windows"], "praxis_output_dir": str(tmp_path / "o")})
    assert recorder.calls[0]["args"]["server"] is True
    assert result["path"] == str(tmp_path / "o" / "facts" / "lab001" / "lab001-srv01.json")
    assert (tmp_path / "o" / "ledger.sqlite").is_file()
    assert {f["check"] for f in result["findings"]} == {"win.failed_logons", "win.cpu"}
    failed, _ = run_health(tmp_path, {"failed": True, "msg": "Get-CimInstance: Zugriff verweigert"})
    assert failed["failed"] is True and "Zugriff verweigert" in failed["msg"]
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        assert conn.execute("SELECT status FROM events").fetchall() == [("failed",)]


def test_health_action_bad_thresholds_and_corrupt_previous_file(tmp_path):
    result, recorder = run_health(tmp_path, fixture("health_ok"), thresholds={"volume": 1})
    assert result["failed"] is True and "unknown threshold 'volume'" in result["msg"]
    assert result["msg"].startswith("lab001-ws01: praxis_win_health: ")
    assert recorder.calls == []
    broken = tmp_path / "facts" / "lab001" / "lab001-ws01.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    result, _ = run_health(tmp_path, fixture("health_ok"))
    assert result["status"] == "ok" and "unreadable" in result["warnings"][0]
    assert json.loads(broken.read_text())["status"] == "ok"


def test_health_action_on_a_locked_ledger_fails_and_keeps_the_previous_file(tmp_path):
    run_health(tmp_path, fixture("health_ok"))
    saved = (tmp_path / "facts" / "lab001" / "lab001-ws01.json").read_text()
    holder = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        action, _ = make_action(HEALTH_ACTION, {"facts_dir": str(tmp_path / "facts"), "now": NOW, "run": "43",
                                                "ledger": str(tmp_path / "ledger.sqlite")}, fixture("health_full_disk"))
        result = action.run(task_vars={"inventory_hostname": "lab001-ws01", "praxis_site": BAVARIA,
                                       "group_names": ["workplaces"], "praxis_ledger_timeout": 0.2})
    finally:
        holder.rollback()
        holder.close()
    assert result["failed"] is True and result["msg"].startswith("lab001-ws01: praxis_win_health: ledger ")
    assert "is locked by another process (waited 0.2 s)" in result["msg"] and "praxis_ledger_timeout" in result["msg"]
    # the events of this run are read again by the next one: the previous file (its collected_at) stays
    assert (tmp_path / "facts" / "lab001" / "lab001-ws01.json").read_text() == saved
