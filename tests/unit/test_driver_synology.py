"""Synology DSM driver with the HTTP seam (HTTPClient._once) answered by a
small in-test DSM: parsers, error codes, session handling, firmware calls and
user settings."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from ansible.module_utils.praxis_driver import (
    AuthFailed, DriverError, HTTPClient, ProtocolError, ServerError, Target, Timeout, Unsupported,
)
from ansible.module_utils.praxis_driver_synology import (
    DRIVER, SynologyDriver, disk_state, parse_facts, smart_state, volume_state,
)

PASSWORD = "Sup3r-Secret-DSM"
USER_PASSWORD = "Empf4ng-Passw0rd"

INFO = {"model": "DS923+", "serial": "2260ABCDEFGHJ", "temperature": 42, "uptime": 86410,
        "version": "72806", "version_string": "DSM 7.2.2-72806 Update 3"}
NETWORK = {"hostname": "praxis-nas", "workgroup": "WORKGROUP"}
UTILIZATION = {"cpu": {"user_load": 7, "system_load": 3, "other_load": 1},
               "memory": {"real_usage": 27, "memory_size": 4194304}}
STORAGE = {
    "disks": [
        {"id": "sata1", "model": "HAT3300-4T ", "status": "normal", "smart_status": "normal", "temp": 35,
         "overview_status": "normal"},
        {"id": "sata2", "model": "HAT3300-4T", "status": "normal", "smart_status": "failing", "temp": 37,
         "overview_status": "failing"},
        {"id": "sata3", "model": "HAT3300-4T", "status": "crashed", "smart_status": "failing", "temp": 36},
        {"id": "sata4", "model": "HAT3300-4T", "status": "normal", "smart_status": "normal", "temp": 34,
         "exceed_bad_sector_thr": True},
    ],
    "volumes": [{"id": "volume_1", "status": "degraded", "size": {"total": "1000", "used": "455"}}],
}


class FakeDSM:
    """Answers DSM Web API POSTs the way DSM 7 does (HTTP 200 + envelope)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.raw: list[tuple[str, str, bytes | None]] = []
        self.errors: dict[tuple[str, str], list[int]] = {}     # (api, method) -> codes answered in turn
        self.http_status: list[int] = []
        self.users = {"admin": {"name": "admin", "description": "System default user", "email": "",
                                "expired": "normal"},
                      "guest": {"name": "guest", "description": "Guest", "email": "", "expired": "now"}}
        self.upgrade_status = ["none"]
        self.progress = [{"finished": True, "progress": 100, "status": "finish"}]
        self.update = {"available": True, "version": "7.2.2-72806 Update 4", "reboot": "now"}
        self.sid_counter = 0

    def once(self, client, method, path, body, headers):
        self.raw.append((method, path, body))
        if self.http_status:
            return self.http_status.pop(0), b"<html>500</html>"
        form = dict(parse_qsl(body.decode())) if body else {}
        self.calls.append(form)
        key = (form.get("api"), form.get("method"))
        codes = self.errors.get(key)
        if codes:
            return 200, json.dumps({"success": False, "error": {"code": codes.pop(0)}}).encode()
        data = self.answer(key, {k: self.decode(k, v, form) for k, v in form.items()})
        body_out = {"success": True} if data is None else {"success": True, "data": data}
        return 200, json.dumps(body_out).encode()

    @staticmethod
    def decode(key, value, form):
        if form.get("api") == "SYNO.API.Auth" or key in ("api", "method", "version", "_sid"):
            return value
        return json.loads(value)

    def answer(self, key, p):
        if key == ("SYNO.API.Auth", "login"):
            self.sid_counter += 1
            return {"sid": f"sid{self.sid_counter}", "is_portal_port": False}
        if key == ("SYNO.API.Auth", "logout"):
            return None
        if key == ("SYNO.DSM.Info", "getinfo"):
            return INFO
        if key == ("SYNO.Core.System", "info"):
            assert p["type"] == "network"
            return NETWORK
        if key == ("SYNO.Core.System.Utilization", "get"):
            return UTILIZATION
        if key == ("SYNO.Storage.CGI.Storage", "load_info"):
            return STORAGE
        if key == ("SYNO.Core.Upgrade.Server", "check"):
            return {"update": self.update}
        if key == ("SYNO.Core.Upgrade.Server.Download", "start"):
            return {}
        if key == ("SYNO.Core.Upgrade.Server.Download", "progress"):
            return self.progress.pop(0) if len(self.progress) > 1 else self.progress[0]
        if key == ("SYNO.Core.Upgrade", "start"):
            return None
        if key == ("SYNO.Core.Upgrade", "status"):
            status = self.upgrade_status.pop(0) if len(self.upgrade_status) > 1 else self.upgrade_status[0]
            if isinstance(status, Exception):
                raise status
            return {"allow_upgrade": True, "status": status}
        if key == ("SYNO.Core.User", "list"):
            return {"offset": 0, "total": len(self.users), "users": list(self.users.values())}
        if key == ("SYNO.Core.User", "create"):
            self.users[p["name"]] = {"name": p["name"], "description": p.get("description", ""),
                                     "email": p.get("email", ""), "expired": "normal"}
            return {"name": p["name"], "uid": 1030}
        if key == ("SYNO.Core.User", "set"):
            user = self.users[p["name"]]
            user.update({k: v for k, v in p.items() if k in ("description", "email")})
            return {"name": p["name"], "uid": 1030, "password_last_change": 20000}
        if key == ("SYNO.Core.User", "delete"):
            del self.users[p["name"]]
            return {"name": p["name"], "uid": 1030}
        raise AssertionError(f"unexpected call {key}")

    def methods(self, api: str | None = None) -> list[tuple[str, str]]:
        return [(c["api"], c["method"]) for c in self.calls if api is None or c["api"] == api]


@pytest.fixture
def dsm(monkeypatch) -> FakeDSM:
    fake = FakeDSM()
    monkeypatch.setattr(HTTPClient, "_once", lambda self, *args: fake.once(self, *args))
    return fake


def target(**kwargs) -> Target:
    values = dict(site="praxis1", name="nas", vendor="synology", role="nas", address="192.0.2.10",
                  username="admin", password=PASSWORD, retries=3, retry_delay=0.0)
    values.update(kwargs)
    return Target(**values)


def driver(**kwargs) -> SynologyDriver:
    return SynologyDriver(target(**kwargs), sleep=lambda s: None)


def test_driver_registration():
    assert DRIVER is SynologyDriver and SynologyDriver.vendor == "synology"
    assert SynologyDriver.settings_supported == {"nas": ("users",)}


def test_facts_normalized_with_four_calls_after_login(dsm):
    facts = driver().facts()
    assert dsm.methods() == [("SYNO.API.Auth", "login"), ("SYNO.DSM.Info", "getinfo"),
                             ("SYNO.Core.System", "info"), ("SYNO.Core.System.Utilization", "get"),
                             ("SYNO.Storage.CGI.Storage", "load_info")]
    assert facts["hostname"] == "praxis-nas" and facts["model"] == "DS923+"
    assert facts["serial"] == "2260ABCDEFGHJ"
    assert facts["firmware_version"] == "DSM 7.2.2-72806 Update 3"
    assert facts["uptime_seconds"] == 86410
    assert facts["cpu_percent"] == 11 and facts["memory_percent"] == 27 and facts["temperature_c"] == 42
    assert facts["signature_date"] is None
    assert [(d["id"], d["status"], d["smart"]) for d in facts["disks"]] == [
        ("sata1", "normal", "normal"), ("sata2", "failing", "failing"),
        ("sata3", "crashed", "failing"), ("sata4", "warning", "normal")]
    assert facts["disks"][0]["model"] == "HAT3300-4T" and facts["disks"][1]["temperature_c"] == 37
    assert facts["volumes"] == [{"id": "volume_1", "status": "degraded", "used_percent": 45.5}]


def test_session_and_password_travel_in_the_post_body_only(dsm):
    d = driver()
    d.facts()
    d.close()
    assert all(method == "POST" and path == "/webapi/entry.cgi" for method, path, _body in dsm.raw)
    login_body = dsm.raw[0][2].decode()
    assert "passwd=Sup3r-Secret-DSM" in login_body and "format=sid" in login_body
    assert all(PASSWORD not in body.decode() for _m, _p, body in dsm.raw[1:])
    assert all(c.get("_sid") == "sid1" for c in dsm.calls[1:])
    assert dsm.methods()[-1] == ("SYNO.API.Auth", "logout")


def test_one_login_per_driver_and_logout_on_close(dsm):
    with driver() as d:
        d.facts()
        d.firmware_status()
    assert dsm.methods().count(("SYNO.API.Auth", "login")) == 1
    assert dsm.methods().count(("SYNO.API.Auth", "logout")) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 407, 410])
def test_login_codes_are_auth_failures_without_the_password(dsm, code):
    dsm.errors[("SYNO.API.Auth", "login")] = [code]
    with pytest.raises(AuthFailed) as err:
        driver().facts()
    message = str(err.value)
    assert err.value.kind == "auth"
    assert "praxis1-nas" in message and f"code {code}" in message and "'admin'" in message
    assert PASSWORD not in message
    assert dsm.methods() == [("SYNO.API.Auth", "login")]          # not retried


def test_expired_session_logs_in_again_once(dsm):
    dsm.errors[("SYNO.Storage.CGI.Storage", "load_info")] = [119]
    facts = driver().facts()
    assert facts["volumes"]
    assert dsm.methods().count(("SYNO.API.Auth", "login")) == 2
    assert dsm.calls[-1]["_sid"] == "sid2"


def test_session_error_twice_is_a_protocol_error(dsm):
    dsm.errors[("SYNO.DSM.Info", "getinfo")] = [106, 119]
    with pytest.raises(ProtocolError, match="SYNO.DSM.Info getinfo failed with DSM error 119"):
        driver().facts()
    assert dsm.methods().count(("SYNO.API.Auth", "login")) == 2


def test_other_codes_name_api_method_and_code(dsm):
    dsm.errors[("SYNO.Core.System.Utilization", "get")] = [105]
    with pytest.raises(ProtocolError) as err:
        driver().facts()
    assert "SYNO.Core.System.Utilization get failed with DSM error 105 (session has no permission)" in str(err.value)
    assert err.value.kind == "protocol"


def test_not_an_envelope_is_a_protocol_error(monkeypatch):
    monkeypatch.setattr(HTTPClient, "_once", lambda self, *a: (200, b'{"hello": 1}'))
    with pytest.raises(ProtocolError, match="not a DSM Web API envelope"):
        driver().facts()


def test_http_500_is_retried_then_reported(dsm):
    dsm.http_status = [500, 500, 500]
    with pytest.raises(ServerError, match="gave up .* after 3 attempts"):
        driver().facts()
    assert len(dsm.raw) == 3 and dsm.calls == []


def test_http_500_once_then_success(dsm):
    dsm.http_status = [502]
    assert driver().facts()["model"] == "DS923+"


def test_export_is_unsupported_and_says_why():
    with pytest.raises(Unsupported, match="configuration export is not offered by synology nas"):
        driver().export_config()
    assert ".dss" in SynologyDriver.__doc__ and "not part of the public" in SynologyDriver.__doc__


def test_status_vocabulary():
    assert smart_state("normal") == "normal" and smart_state("failing") == "failing"
    assert smart_state("abnormal") == "failing" and smart_state("something-new") == "warning"
    assert disk_state({"status": "normal", "below_remain_life_thr": True}) == "warning"
    assert disk_state({"status": "system_partition_failed", "smart_status": "normal"}) == "warning"
    assert disk_state({"status": "normal", "overview_status": "crashed"}) == "crashed"
    assert volume_state({"status": "normal"}) == "normal"
    assert volume_state({"status": "crashed"}) == "crashed"
    assert volume_state({"status": "repairing"}) == "degraded"
    facts = parse_facts({}, {}, {"cpu": {"user_load": 1}}, {"volumes": [{"id": "v", "size": {"total": "0"}}]})
    assert facts["cpu_percent"] is None and facts["hostname"] is None
    assert facts["volumes"] == [{"id": "v", "status": "degraded", "used_percent": None}]


def test_firmware_status(dsm):
    assert driver().firmware_status() == {"installed": "DSM 7.2.2-72806 Update 3",
                                          "available": "DSM 7.2.2-72806 Update 4", "reboot_required": True}
    dsm.update = {"available": False}
    assert driver().firmware_status()["available"] is None


def test_start_firmware_update_downloads_then_installs(dsm):
    dsm.progress = [{"finished": False, "progress": 40, "status": "downloading"},
                    {"finished": True, "progress": 100, "status": "finish"}]
    sleeps = []
    SynologyDriver(target(), sleep=sleeps.append).start_firmware_update()
    assert dsm.methods()[1:] == [("SYNO.Core.Upgrade.Server", "check"),
                                 ("SYNO.Core.Upgrade.Server.Download", "start"),
                                 ("SYNO.Core.Upgrade.Server.Download", "progress"),
                                 ("SYNO.Core.Upgrade.Server.Download", "progress"),
                                 ("SYNO.Core.Upgrade", "start")]
    assert sleeps == [SynologyDriver.download_poll]


def test_start_firmware_update_without_offer_or_stuck_download(dsm):
    dsm.update = {"available": False}
    with pytest.raises(DriverError, match="no DSM update is offered"):
        driver().start_firmware_update()
    dsm.update = {"available": True, "version": "7.2.2-72806 Update 4"}
    dsm.progress = [{"finished": False, "progress": 10, "status": "downloading"}]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    d = SynologyDriver(target(), sleep=sleep, clock=lambda: now[0])
    with pytest.raises(Timeout, match="not finished within 10 s"):
        d.start_firmware_update(download_budget=10)
    assert ("SYNO.Core.Upgrade", "start") not in dsm.methods()


def test_wait_until_back_waits_for_the_upgrade_to_end(dsm):
    from ansible.module_utils.praxis_driver import Unreachable
    dsm.upgrade_status = ["upgrading", Unreachable(None, "refused"), "none"]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    facts = driver().wait_until_back(60, poll=5, clock=lambda: now[0], sleep=sleep)
    assert facts["firmware_version"] == "DSM 7.2.2-72806 Update 3"
    assert now[0] == 10
    assert dsm.methods("SYNO.Core.Upgrade").count(("SYNO.Core.Upgrade", "status")) == 3


def test_wait_until_back_gives_up_after_the_budget(dsm):
    dsm.upgrade_status = ["upgrading"]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    with pytest.raises(Timeout, match="did not come back within 30 s"):
        driver().wait_until_back(30, poll=5, clock=lambda: now[0], sleep=sleep)


# -- users -----------------------------------------------------------------------------------

def user_calls(fake: FakeDSM) -> list[dict[str, str]]:
    return [c for c in fake.calls if c["api"] == "SYNO.Core.User" and c["method"] != "list"]


def test_user_created_with_password_once_and_never_echoed(dsm):
    wanted = [{"name": "empfang", "description": "Empfang", "email": "empfang@praxis.example",
               "password": USER_PASSWORD}]
    result = driver().apply_settings({"users": wanted}, check_mode=False)
    assert result["changed"] is True
    assert result["before"] == {"users": [{"name": "empfang", "state": "absent"}]}
    assert result["after"] == {"users": [{"name": "empfang", "state": "present", "description": "Empfang",
                                          "email": "empfang@praxis.example"}]}
    assert USER_PASSWORD not in json.dumps(result)
    (create,) = user_calls(dsm)
    assert create["method"] == "create"
    assert json.loads(create["name"]) == "empfang" and json.loads(create["password"]) == USER_PASSWORD

    again = driver().apply_settings({"users": wanted}, check_mode=False)
    assert again["changed"] is False and again["before"] == again["after"]
    assert len(user_calls(dsm)) == 1                # the password is not set again


def test_user_updated_without_password(dsm):
    dsm.users["empfang"] = {"name": "empfang", "description": "Alt", "email": "e@praxis.example"}
    result = driver().apply_settings({"users": [{"name": "Empfang", "description": "Empfang",
                                                 "password": USER_PASSWORD}]}, check_mode=False)
    assert result["changed"] is True
    (call,) = user_calls(dsm)
    assert call["method"] == "set" and json.loads(call["name"]) == "empfang"
    assert json.loads(call["description"]) == "Empfang"
    assert "password" not in call and "email" not in call
    assert result["after"]["users"][0]["email"] == "e@praxis.example"


def test_user_deleted_and_absent_user_left_alone(dsm):
    dsm.users["alt"] = {"name": "alt", "description": "", "email": ""}
    result = driver().apply_settings({"users": [{"name": "alt", "state": "absent"},
                                                {"name": "nie", "state": "absent"}]}, check_mode=False)
    assert result["changed"] is True
    assert [(c["method"], json.loads(c["name"])) for c in user_calls(dsm)] == [("delete", "alt")]
    assert result["after"]["users"] == [{"name": "alt", "state": "absent"}, {"name": "nie", "state": "absent"}]


def test_check_mode_reads_only(dsm):
    dsm.users["alt"] = {"name": "alt", "description": "x", "email": ""}
    result = driver().apply_settings({"users": [
        {"name": "neu", "password": USER_PASSWORD}, {"name": "alt", "state": "absent"}]}, check_mode=True)
    assert result["changed"] is True
    assert user_calls(dsm) == []
    assert "alt" in dsm.users and "neu" not in dsm.users


@pytest.mark.parametrize("users, message", [
    ([{"name": "neu"}], "no password is given"),
    ([{"name": "admin", "state": "absent"}], "not removed"),
    ([{"name": "a", "password": "x1234"}, {"name": "A", "password": "x1234"}], "listed twice"),
    ([{"name": "a", "state": "gone"}], "present or absent"),
    ([{"description": "no name"}], "needs a name"),
])
def test_bad_user_settings_change_nothing(dsm, users, message):
    with pytest.raises(ValueError, match=message):
        driver().apply_settings({"users": users}, check_mode=False)
    assert user_calls(dsm) == []


def test_user_error_code_names_the_call_not_the_password(dsm):
    dsm.errors[("SYNO.Core.User", "create")] = [3121]
    with pytest.raises(ProtocolError) as err:
        driver().apply_settings({"users": [{"name": "neu", "password": USER_PASSWORD}]}, check_mode=False)
    assert "SYNO.Core.User create failed with DSM error 3121" in str(err.value)
    assert USER_PASSWORD not in str(err.value) and PASSWORD not in str(err.value)


def test_other_settings_are_unsupported(dsm):
    with pytest.raises(Unsupported, match="settings rules"):
        driver().apply_settings({"rules": []}, check_mode=True)
    with pytest.raises(Unsupported):
        driver(role="firewall").apply_settings({"users": []}, check_mode=True)
