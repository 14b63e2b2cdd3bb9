"""The vendor-neutral network operations (module_utils/praxis_netops.py) with
the driver seam replaced by a scripted fake: one case per branch."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_backup import AnsibleVaultCipher, LocalStore, read_manifest
from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_driver import (
    AuthFailed, Driver, ProtocolError, ServerError, Target, Timeout, Unreachable, retry,
)
from ansible.module_utils.praxis_netops import (
    OperationError, build_target, config_backup, device_facts, device_settings, firmware_update,
    signature_update,
)

SITE = {"id": "huber", "state": "BY", "timezone": "Europe/Berlin"}
TUESDAY_10 = "2026-11-24T10:00:00+01:00"       # business hours
TUESDAY_23 = "2026-11-24T23:00:00+01:00"       # maintenance time
SECRET = "s3cr3t-api-secret"


class FakeDriver(Driver):
    vendor = "opnsense"
    config_suffix = ".xml"
    secret_patterns = [re.compile(r"<password>([^<]+)</password>")]
    settings_supported = {"firewall": ("rules", "syslog")}

    def __init__(self, target, script):
        super().__init__(target)
        self.script = script
        self.calls = []

    def _step(self, name, default=None):
        self.calls.append(name)
        value = self.script.get(name, default)
        if isinstance(value, Exception):
            raise value
        return value() if callable(value) else value

    def facts(self):
        return self._step("facts", {"firmware_version": "25.1.4", "cpu_percent": 10, "signature_date": None})

    def export_config(self):
        return self._step("export", b"<opnsense><system><password>$2y$11$abc</password></system></opnsense>")

    @classmethod
    def validate_config(cls, content):
        if not content.startswith(b"<opnsense>") or not content.rstrip().endswith(b"</opnsense>"):
            raise ValueError("not an OPNsense config.xml")

    def firmware_status(self):
        return self._step("firmware_status", {"installed": "25.1.4", "available": "25.1.5", "reboot_required": True})

    def start_firmware_update(self):
        self._step("start")

    def wait_until_back(self, budget, **kwargs):
        return self._step("wait", {"firmware_version": "25.1.5"})

    def update_signatures(self):
        return self._step("signatures", {"changed": True, "signature_date": "2026-11-24"})

    def apply_settings(self, settings, check_mode):
        self.calls.append(("apply", check_mode))
        return self._step("apply", {"changed": True, "before": {"rules": []}, "after": {"rules": settings["rules"]}})


def target(**kw):
    base = dict(site="huber", name="fw01", vendor="opnsense", role="firewall", address="127.0.0.1", port=8443,
                username="key", password=SECRET, retry_delay=0)
    base.update(kw)
    return Target(**base)


def opener_for(script, drivers=None):
    def opener(t):
        driver = FakeDriver(t, script)
        if drivers is not None:
            drivers.append(driver)
        return driver
    return opener


# -- build_target ------------------------------------------------------------------------------

def test_build_target_from_inventory_device():
    device = {"name": "fw01", "role": "firewall", "vendor": "opnsense", "address": "10.0.0.1", "port": 8443,
              "credentials": "vault_huber_fw01", "validate_certs": False}
    t = build_target(device, "huber", {"username": "k", "password": SECRET}, connection={"timeout": 5})
    assert (t.host, t.port, t.timeout, t.validate_certs) == ("huber-fw01", 8443, 5.0, False)
    assert SECRET not in repr(t)


@pytest.mark.parametrize("device,creds,needle", [
    ({"name": "fw01", "role": "firewall", "vendor": "cisco", "address": "x"}, {}, "device.vendor 'cisco'"),
    ({"name": "ws01", "role": "workplace", "vendor": "opnsense", "address": "x"}, {}, "not a network device"),
    ({"name": "fw01", "role": "firewall", "vendor": "opnsense"}, {}, "device.address is missing"),
    ({"name": "fw01", "role": "firewall", "vendor": "opnsense", "address": "x", "credentials": "vault_a"},
     {"username": "k"}, "vault_a of huber-fw01 needs username and password"),
    ({"name": "fw01", "role": "firewall", "vendor": "opnsense", "address": "x", "credentials": "vault_a"},
     "plain", "must be a mapping"),
])
def test_build_target_rejects_bad_input(device, creds, needle):
    with pytest.raises(OperationError, match=re.escape(needle)):
        build_target(device, "huber", creds)


# -- retry -------------------------------------------------------------------------------------

def test_retry_repeats_transient_errors_then_names_attempts():
    t = target(retries=3)
    calls, pauses = [], []

    def flaky():
        calls.append(1)
        raise ServerError(t, "GET /api/x answered HTTP 500")
    with pytest.raises(ServerError, match="after 3 attempts"):
        retry(t, "GET /api/x", flaky, sleep=pauses.append)
    assert len(calls) == 3 and pauses == [0, 0]


def test_retry_does_not_repeat_auth_errors():
    t = target(retries=5)
    calls = []

    def refused():
        calls.append(1)
        raise AuthFailed(t, "credentials refused")
    with pytest.raises(AuthFailed):
        retry(t, "login", refused, sleep=lambda s: None)
    assert calls == [1]


def test_retry_returns_after_a_transient_error():
    t = target(retries=3)
    answers = iter([Unreachable(t, "reset"), "ok"])

    def once():
        value = next(answers)
        if isinstance(value, Exception):
            raise value
        return value
    assert retry(t, "x", once, sleep=lambda s: None) == "ok"


# -- facts and health ------------------------------------------------------------------------------

def test_device_facts_healthy_writes_facts_file_and_ledger(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    result = device_facts(target(), now=TUESDAY_23, facts_dir=str(tmp_path / "facts"), ledger=ledger,
                          opener=opener_for({"facts": {"firmware_version": "25.1.4", "signature_date": "2026-11-24"}}))
    assert not result.get("failed") and result["health"] == "ok"
    assert (tmp_path / "facts" / "huber" / "huber-fw01.json").is_file()
    rows = list(praxis_ledger.events(ledger, host="huber-fw01"))
    assert [(r["kind"], r["status"]) for r in rows] == [("health", "ok")]


def test_device_facts_old_signatures_and_failing_disk():
    facts = {"signature_date": "2026-11-01", "disks": [{"id": "sata1", "status": "failing", "smart": "failing"}]}
    result = device_facts(target(), now=TUESDAY_23, opener=opener_for({"facts": facts}))
    checks = [f["check"] for f in result["findings"]]
    assert checks == ["net.disk", "net.signature_age"]
    assert {f["site"] for f in result["findings"]} == {"huber"} and {f["host"] for f in result["findings"]} == {
        "huber-fw01"}
    assert "net.signature_age" in result["checks"] and "net.reachability" in result["checks"]
    assert result["health"] == "critical" and result["failed"]      # fail_on critical (default)
    relaxed = device_facts(target(), now=TUESDAY_23, fail_on="none", opener=opener_for({"facts": facts}))
    assert not relaxed.get("failed")


def test_device_facts_unreachable_is_a_high_finding_for_a_firewall(tmp_path):
    t = target()
    ledger = str(tmp_path / "l.sqlite")
    result = device_facts(t, ledger=ledger, opener=opener_for({"facts": Unreachable(t, "connection refused")}))
    assert result["failed"] and result["error_kind"] == "unreachable"
    assert result["findings"][0]["priority"] == "high"
    assert "huber-fw01" in result["msg"]
    assert next(praxis_ledger.events(ledger))["status"] == "critical"


def test_device_facts_bad_threshold_named():
    with pytest.raises(PraxisError, match="unknown threshold 'cpu'"):
        device_facts(target(), limits={"cpu": 5}, opener=opener_for({}))


def test_device_facts_bad_now_is_a_praxis_error():
    with pytest.raises(PraxisError, match="now.*not an ISO-8601 timestamp"):
        device_facts(target(), now="gestern", opener=opener_for({}))


def test_auth_failure_message_has_no_secret():
    t = target()
    result = device_facts(t, opener=opener_for({"facts": AuthFailed(t, f"refused login with {SECRET}")}))
    assert result["failed"] and SECRET not in result["msg"] and "huber-fw01" in result["msg"]


# -- backups ---------------------------------------------------------------------------------------

@pytest.fixture
def cipher():
    return AnsibleVaultCipher.from_password("unit-test-vault")


def test_backup_stores_rotates_and_skips_unchanged(tmp_path, cipher):
    store = LocalStore(str(tmp_path))
    for month in range(1, 5):
        content = f"<opnsense><system><n>{month}</n></system></opnsense>".encode()
        when = dt.datetime(2026, month, 2, 1, tzinfo=dt.timezone.utc)
        result = config_backup(target(), store, cipher, keep=3, now=when, opener=opener_for({"export": content}))
        assert result["changed"], result
    assert len(read_manifest(store, "huber/fw01")) == 3
    again = config_backup(target(), store, cipher, keep=3, opener=opener_for({"export": content}))
    assert not again["changed"] and "unchanged" in again["msg"]


@pytest.mark.parametrize("bad", [b"<opnsense><system>", b"", b"garbage"])
def test_backup_invalid_export_fails_and_keeps_copies(tmp_path, cipher, bad):
    store = LocalStore(str(tmp_path))
    good = b"<opnsense><system/></opnsense>"
    config_backup(target(), store, cipher, opener=opener_for({"export": good}))
    before = sorted(p.name for p in (tmp_path / "huber" / "fw01").iterdir())
    result = config_backup(target(), store, cipher, opener=opener_for({"export": bad}))
    assert result["failed"] and "stored copies were not touched" in result["msg"]
    assert sorted(p.name for p in (tmp_path / "huber" / "fw01").iterdir()) == before


def test_backup_check_mode_writes_nothing(tmp_path, cipher):
    store = LocalStore(str(tmp_path))
    result = config_backup(target(), store, cipher, check_mode=True, opener=opener_for({}))
    assert result["changed"] and not (tmp_path / "huber").exists()


def test_backup_unsupported_vendor_is_skipped(tmp_path, cipher):
    t = target()
    result = config_backup(t, LocalStore(str(tmp_path)), cipher,
                           opener=lambda tt: Driver(tt))
    assert result["skipped"] and not result.get("failed")


def test_backup_diff_masks_password_hashes(tmp_path, cipher):
    store = LocalStore(str(tmp_path))
    first = b"<opnsense><system><password>$2y$11$oldhash</password></system></opnsense>"
    second = b"<opnsense><system><password>$2y$11$newhash</password><x/></system></opnsense>"
    config_backup(target(), store, cipher, opener=opener_for({"export": first}))
    result = config_backup(target(), store, cipher, opener=opener_for({"export": second}))
    assert result["diff"] and "oldhash" not in result["diff"] and "newhash" not in result["diff"]


# -- signatures --------------------------------------------------------------------------------------

def test_signature_update_records_date(tmp_path):
    ledger = str(tmp_path / "l.sqlite")
    result = signature_update(target(), ledger=ledger, opener=opener_for({}))
    assert result["changed"] and result["signature_date"] == "2026-11-24"
    assert next(praxis_ledger.events(ledger, kind="signatures"))["data"]["signature_date"] == "2026-11-24"


def test_signature_update_check_mode_downloads_nothing():
    drivers = []
    result = signature_update(target(), check_mode=True, opener=opener_for({}, drivers))
    assert result["changed"] and "signatures" not in drivers[0].calls


def test_signature_update_skips_vendors_without_signatures():
    result = signature_update(target(vendor="lancom", role="switch"), opener=lambda t: Driver(t))
    assert result["skipped"] and not result["changed"]


# -- settings ------------------------------------------------------------------------------------------

def test_settings_reports_unsupported_keys_and_check_mode():
    drivers = []
    result = device_settings(target(), {"rules": [{"description": "x"}], "wlans": [{"ssid": "a"}]},
                             check_mode=True, opener=opener_for({}, drivers))
    assert result["unsupported"] == ["wlans"] and result["changed"]
    assert ("apply", True) in drivers[0].calls


def test_settings_without_supported_keys_is_skipped():
    result = device_settings(target(), {"wlans": [{"ssid": "a"}]}, opener=opener_for({}))
    assert result["skipped"] and result["unsupported"] == ["wlans"]


# -- firmware ---------------------------------------------------------------------------------------------

def test_firmware_refused_in_business_hours_names_next_window(tmp_path):
    drivers = []
    ledger = str(tmp_path / "l.sqlite")
    result = firmware_update(target(), SITE, now=TUESDAY_10, ledger=ledger, opener=opener_for({}, drivers))
    assert result["failed"] and result["refused"]
    assert "next maintenance window" in result["msg"] and "2026-11-24" in result["msg"]
    assert "start" not in drivers[0].calls
    assert next(praxis_ledger.events(ledger, kind="firmware"))["status"] == "refused"


def test_firmware_refusal_in_check_mode_does_not_fail():
    result = firmware_update(target(), SITE, now=TUESDAY_10, check_mode=True, opener=opener_for({}))
    assert result["refused"] and not result.get("failed")


def test_firmware_backup_first_then_update_and_verify():
    drivers, order = [], []

    def backup(driver):
        order.append("after" if "wait" in driver.calls else "before" if "start" not in driver.calls else "during")
        return {"changed": True, "path": f"huber/fw01/{order[-1]}.vault"}
    result = firmware_update(target(), SITE, now=TUESDAY_23, backup=backup, opener=opener_for({}, drivers))
    assert result["changed"] and result["previous"] == "25.1.4" and result["installed"] == "25.1.5"
    # before the update, and again as the new firmware wrote the configuration (so the next
    # monthly backup finds it unchanged)
    assert order == ["before", "after"] and drivers[0].calls[-2:] == ["start", "wait"]
    assert result["backup_after"]["path"] == "huber/fw01/after.vault"


def test_firmware_failed_backup_stops_the_update():
    drivers = []
    result = firmware_update(target(), SITE, now=TUESDAY_23, backup=lambda d: {"failed": True, "msg": "corrupt"},
                             opener=opener_for({}, drivers))
    assert result["failed"] and "not started" in result["msg"] and "start" not in drivers[0].calls


def test_firmware_device_not_back_fails_with_budget():
    t = target()
    result = firmware_update(t, SITE, now=TUESDAY_23, budget=30,
                             opener=opener_for({"wait": Timeout(t, "did not come back within 30 s")}))
    assert result["failed"] and "within 30 s" in result["msg"] and result["error_kind"] == "timeout"


def test_firmware_wrong_version_after_reboot_fails():
    result = firmware_update(target(), SITE, now=TUESDAY_23,
                             opener=opener_for({"wait": {"firmware_version": "25.1.4"}}))
    assert result["failed"] and "expected 25.1.5" in result["msg"]


def test_firmware_current_is_unchanged_even_in_business_hours():
    status = {"installed": "25.1.5", "available": None}
    result = firmware_update(target(), SITE, now=TUESDAY_23, opener=opener_for({"firmware_status": status}))
    assert not result["changed"] and "current" in result["msg"]


def test_firmware_forced_outside_window_is_recorded(tmp_path):
    ledger = str(tmp_path / "l.sqlite")
    result = firmware_update(target(), SITE, now=TUESDAY_10, force_reason="ticket 4711: CVE fix", ledger=ledger,
                             opener=opener_for({}))
    assert result["changed"] and "ticket 4711" in result["msg"]
    assert next(praxis_ledger.events(ledger, kind="firmware"))["data"]["forced"] is True


def test_firmware_protocol_error_is_reported():
    t = target()
    result = firmware_update(t, SITE, now=TUESDAY_23,
                             opener=opener_for({"start": ProtocolError(t, "update refused: Error: no space")}))
    assert result["failed"] and "no space" in result["msg"]


# -- check mode records nothing; pending firmware updates ----------------------------------------------------

def _rows(ledger):
    return list(praxis_ledger.events(ledger))


def test_check_mode_records_nothing_for_any_operation(tmp_path, cipher):
    ledger = str(tmp_path / "l.sqlite")
    t = target()
    down = opener_for({"facts": Unreachable(t, "no route"), "firmware_status": Unreachable(t, "no route"),
                       "export": Unreachable(t, "no route"), "apply": Unreachable(t, "no route")})
    store = LocalStore(str(tmp_path / "b"))
    calls = [
        lambda o: device_facts(t, ledger=ledger, facts_dir=str(tmp_path / "facts"), check_mode=True, opener=o),
        lambda o: config_backup(t, store, cipher, ledger=ledger, check_mode=True, opener=o),
        lambda o: signature_update(t, ledger=ledger, check_mode=True, opener=o),
        lambda o: device_settings(t, {"rules": []}, ledger=ledger, check_mode=True, opener=o),
        lambda o: firmware_update(t, SITE, now=TUESDAY_23, ledger=ledger, check_mode=True, opener=o),
        lambda o: firmware_update(t, SITE, now=TUESDAY_10, ledger=ledger, check_mode=True, opener=o),
    ]
    for call in calls:
        call(opener_for({"firmware_status": {"installed": "25.1.5", "available": None}}))
        call(opener_for({}))
        call(down)
    assert _rows(ledger) == [] and not (tmp_path / "facts").exists()


def _pending(tmp_path, budget_error=None):
    ledger = str(tmp_path / "l.sqlite")
    t = target()
    result = firmware_update(t, SITE, now=TUESDAY_23, budget=30, ledger=ledger, run="run-1",
                             opener=opener_for({"wait": budget_error or Timeout(t, "did not come back within 30 s")}))
    return ledger, t, result


def test_reboot_over_budget_is_recorded_as_pending(tmp_path):
    ledger, _t, result = _pending(tmp_path)
    assert result["failed"] and result["pending"] and "recorded as pending" in result["msg"]
    (row,) = _rows(ledger)
    assert (row["status"], row["run"], row["data"]["from"], row["data"]["to"]) == ("pending", "run-1", "25.1.4",
                                                                                   "25.1.5")


def test_pending_update_is_recorded_when_facts_see_the_new_version(tmp_path):
    ledger, t, _result = _pending(tmp_path)
    later = "2026-11-25T23:00:00+01:00"
    # still down the next night: the update stays pending
    down = device_facts(t, ledger=ledger, now=later, opener=opener_for({"facts": Unreachable(t, "no route")}))
    assert down["failed"] and "firmware_update" not in down
    seen = device_facts(t, ledger=ledger, now=later, run="run-2",
                        opener=opener_for({"facts": {"firmware_version": "25.1.5"}}))
    assert seen["firmware_update"]["status"] == "updated" and "completed after its reboot budget" in seen["msg"]
    updated = [r for r in _rows(ledger) if r["kind"] == "firmware" and r["status"] == "changed"]
    assert len(updated) == 1 and updated[0]["run"] == "run-2"
    assert updated[0]["data"]["noticed_at"] == "2026-11-25T23:00:00+01:00"
    assert updated[0]["data"]["started_at"] == "2026-11-24T22:00:00+00:00"
    # settled once: the next check records no second update
    again = device_facts(t, ledger=ledger, now=later, opener=opener_for({"facts": {"firmware_version": "25.1.5"}}))
    assert "firmware_update" not in again
    assert len([r for r in _rows(ledger) if r["kind"] == "firmware" and r["status"] == "changed"]) == 1


def test_pending_update_is_settled_by_the_next_firmware_run(tmp_path):
    ledger, t, _result = _pending(tmp_path)
    current = {"installed": "25.1.5", "available": None}
    result = firmware_update(t, SITE, now=TUESDAY_23, ledger=ledger, opener=opener_for({"firmware_status": current}))
    assert result["firmware_update"]["status"] == "updated" and "completed after its reboot budget" in result["msg"]
    assert [r["status"] for r in _rows(ledger)] == ["pending", "changed", "ok"]


def test_pending_update_that_did_not_take_is_recorded_as_failed(tmp_path):
    ledger, t, _result = _pending(tmp_path)
    seen = device_facts(t, ledger=ledger, opener=opener_for({"facts": {"firmware_version": "25.1.4"}}))
    assert seen["firmware_update"]["status"] == "failed" and "did not take" in seen["msg"]
    device_facts(t, ledger=ledger, opener=opener_for({"facts": {"firmware_version": "25.1.4"}}))
    assert [r["status"] for r in _rows(ledger) if r["kind"] == "firmware"] == ["pending", "failed"]
