"""The Synology DSM emulator driven by a real HTTPS client (requests)."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest
import requests
import urllib3  # noqa: F401 - named in the warning filter

from lab.synology import SynologyNAS

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

PASSWORD = "Lab-Passw0rd!"


class DSM:
    """Minimal DSM Web API client, as drivers talk to a DiskStation."""

    def __init__(self, device: SynologyNAS) -> None:
        self.device = device
        self.base = f"https://{device.address}:{device.port}/webapi/"
        self.http = requests.Session()
        self.sid: str | None = None

    def raw(self, cgi: str = "entry.cgi", post: bool = False, **params) -> requests.Response:
        # verify=False per request: a Session-level False loses against REQUESTS_CA_BUNDLE.
        # The lab certificate does not name the device address (see test_certificate_*).
        if post:
            return self.http.post(self.base + cgi, data=params, timeout=10, verify=False)
        return self.http.get(self.base + cgi, params=params, timeout=10, verify=False)

    def call(self, api: str, method: str, version: int = 1, cgi: str = "entry.cgi", post: bool = False,
             sid: bool = True, **params) -> dict:
        params = {"api": api, "version": version, "method": method, **params}
        if sid and self.sid:
            params["_sid"] = self.sid
        resp = self.raw(cgi, post=post, **params)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        return resp.json()

    def login(self, account: str = "admin", passwd: str = PASSWORD, **extra) -> dict:
        answer = self.call("SYNO.API.Auth", "login", version=7, cgi="auth.cgi", sid=False, account=account,
                           passwd=passwd, session="praxisops", format="sid", **extra)
        if answer["success"]:
            self.sid = answer["data"]["sid"]
        return answer


def wait_down_and_up(client: DSM, timeout: float = 5) -> None:
    """Poll until the NAS refuses connections (rebooting) and then answers again."""
    deadline = time.monotonic() + timeout
    went_down = False
    while time.monotonic() < deadline:
        try:
            client.raw(api="SYNO.API.Info", version=1, method="query")
            if went_down:
                return
        except requests.ConnectionError:
            went_down = True
        time.sleep(0.05)
    raise AssertionError("the NAS did not go down and come back" if went_down else "the NAS did not go down")


def error_code(answer: dict) -> int:
    assert answer["success"] is False, answer
    return answer["error"]["code"]


@pytest.fixture(scope="module")
def nas(lab_loop, lab_run_dir) -> SynologyNAS:
    return lab_loop.start_device(SynologyNAS, run_dir=lab_run_dir, password=PASSWORD, reboot_seconds=0.3)


@pytest.fixture
def dsm(nas) -> DSM:
    client = DSM(nas)
    assert client.login()["success"]
    return client


def test_api_info_lists_supported_apis(nas):
    client = DSM(nas)
    answer = client.call("SYNO.API.Info", "query", cgi="query.cgi", query="ALL")
    assert answer["success"] is True
    apis = answer["data"]
    for name in ("SYNO.API.Info", "SYNO.API.Auth", "SYNO.Core.System", "SYNO.Core.System.Utilization",
                 "SYNO.Storage.CGI.Storage", "SYNO.Storage.CGI.Smart", "SYNO.Core.Upgrade.Server", "SYNO.Core.User"):
        entry = apis[name]
        assert entry["path"] == "entry.cgi"
        assert 1 <= entry["minVersion"] <= entry["maxVersion"]
    assert apis["SYNO.API.Auth"]["maxVersion"] == 7
    assert apis["SYNO.Core.User"]["requestFormat"] == "JSON"
    # A name ending in "." selects by prefix; no query means all.
    core = client.call("SYNO.API.Info", "query", query="SYNO.Storage.")["data"]
    assert set(core) == {"SYNO.Storage.CGI.Storage", "SYNO.Storage.CGI.Smart"}
    assert set(client.call("SYNO.API.Info", "query")["data"]) == set(apis)


def test_login_good_sid_and_cookie(nas):
    client = DSM(nas)
    answer = client.login(enable_syno_token="yes", enable_device_token="yes")
    assert answer["success"] is True
    assert answer["data"]["is_portal_port"] is False
    assert answer["data"]["sid"] and answer["data"]["synotoken"] and answer["data"]["device_id"]
    assert "id" not in client.http.cookies            # format=sid sets no cookie

    cookie_client = DSM(nas)
    answer = cookie_client.call("SYNO.API.Auth", "login", version=6, sid=False, account="admin",
                                passwd=PASSWORD, session="x", format="cookie")
    assert answer["success"] is True
    assert cookie_client.http.cookies.get("id") == answer["data"]["sid"]
    # The cookie alone authenticates, as with the DSM web UI.
    info = cookie_client.call("SYNO.Core.System", "info", sid=False)
    assert info["success"] is True



def test_dsm7_path_form_get_and_post(nas):
    """/webapi/entry.cgi/<API>: the API name in the path, "api" left out, GET query or POST form."""
    client = DSM(nas)
    login = client.http.post(client.base + "entry.cgi/SYNO.API.Auth", timeout=10, verify=False, data={
        "version": 7, "method": "login", "account": "admin", "passwd": PASSWORD, "format": "sid"}).json()
    assert login["success"] is True
    sid = login["data"]["sid"]
    got = client.http.get(client.base + "entry.cgi/SYNO.Core.System", timeout=10, verify=False,
                          params={"version": 1, "method": "info", "_sid": sid}).json()
    assert got["success"] is True and got["data"]["model"] == nas.model
    posted = client.http.post(client.base + "entry.cgi/SYNO.DSM.Info", timeout=10, verify=False,
                              data={"version": 2, "method": "getinfo", "_sid": sid}).json()
    assert posted["data"]["version_string"] == nas.state["firmware_version"]
    # An API name in the path that DSM does not have: 102; a path that is no API at all: nginx 404.
    assert error_code(client.http.get(client.base + "entry.cgi/SYNO.No.Such", timeout=10, verify=False,
                                      params={"version": 1, "method": "get"}).json()) == 102
    assert client.http.get(client.base + "entry.cgi/../../etc", timeout=10, verify=False).status_code == 404


def test_ui_config_hands_out_the_handshake_key(nas):
    client = DSM(nas)
    resp = client.raw("entry.cgi/SYNO.API.Auth.UIConfig", post=True, version=1, method="get")
    assert resp.json() == {"data": [], "success": True}
    key = resp.cookies.get("_SSID")
    assert key and "=" not in key and len(key) == 43          # 32 bytes, base64url without padding


def test_synotoken_guards_the_cookie_session(nas):
    client = DSM(nas)
    answer = client.call("SYNO.API.Auth", "login", version=6, sid=False, account="admin", passwd=PASSWORD,
                         session="x", format="cookie", enable_syno_token="yes")
    token = answer["data"]["synotoken"]
    # Cookie without the token: refused; with it (parameter or header): served; a wrong one: refused.
    assert error_code(client.call("SYNO.Core.System", "info", sid=False)) == 119
    assert client.call("SYNO.Core.System", "info", sid=False, SynoToken=token)["success"] is True
    client.http.headers["X-SYNO-TOKEN"] = token
    assert client.call("SYNO.Core.System", "info", sid=False)["success"] is True
    client.http.headers["X-SYNO-TOKEN"] = "forged"
    assert error_code(client.call("SYNO.Core.System", "info", sid=False)) == 119
    # Naming the session by _sid needs no token.
    del client.http.headers["X-SYNO-TOKEN"]
    assert client.call("SYNO.Core.System", "info", sid=False, _sid=answer["data"]["sid"])["success"] is True

def test_login_failures(nas, lab_loop):
    client = DSM(nas)
    assert error_code(client.login(passwd="wrong")) == 400
    assert error_code(client.login(account="nobody")) == 400
    assert error_code(client.login(account="guest", passwd="")) == 400
    assert error_code(client.call("SYNO.API.Auth", "login", version=7, sid=False, passwd=PASSWORD)) == 101
    lab_loop.call(lambda: nas.faults.update({"refuse_auth": True}))
    try:
        assert error_code(client.login()) == 400
    finally:
        lab_loop.call(nas.faults.reset)
    assert client.login()["success"] is True


def test_session_required(nas, dsm):
    anonymous = DSM(nas)
    assert error_code(anonymous.call("SYNO.Core.System", "info")) == 119
    assert error_code(anonymous.call("SYNO.Core.System", "info", _sid="not-a-session")) == 119
    assert dsm.call("SYNO.Core.System", "info")["success"] is True


def test_request_errors(dsm):
    assert error_code(dsm.call("SYNO.No.Such.API", "get")) == 102
    assert error_code(dsm.call("SYNO.Core.System", "nosuchmethod")) == 103
    assert error_code(dsm.call("SYNO.Core.System", "info", version=9)) == 104
    assert error_code(dsm.call("SYNO.Core.System", "reboot", version=2)) == 103   # reboot exists only in v1
    missing_method = dsm.raw(api="SYNO.Core.System", version=1, _sid=dsm.sid).json()
    assert error_code(missing_method) == 101
    assert error_code(dsm.raw(method="info", version=1).json()) == 101


def test_logout_invalidates_sid(nas):
    client = DSM(nas)
    client.login()
    assert client.call("SYNO.Core.System", "info")["success"] is True
    assert client.call("SYNO.API.Auth", "logout", version=7, session="praxisops") == {"success": True}
    assert error_code(client.call("SYNO.Core.System", "info")) == 119


def test_system_info(nas, dsm):
    data = dsm.call("SYNO.Core.System", "info", version=3)["data"]
    assert data["model"] == "DS923+"
    assert data["firmware_ver"] == "DSM 7.2.2-72806 Update 3"
    assert data["serial"] and data["ram_size"] == 4096
    assert data["cpu_vendor"] == "AMD" and data["cpu_series"] == "R1600"
    hours, minutes, seconds = (int(x) for x in data["up_time"].split(":"))
    assert hours * 3600 + minutes * 60 + seconds <= nas.uptime() + 1
    assert 20 < data["sys_temp"] < 70
    network = dsm.call("SYNO.Core.System", "info", type="network")["data"]
    assert network["nif"][0]["addr"] == nas.address
    info = dsm.call("SYNO.DSM.Info", "getinfo", version=2)["data"]
    assert info["version_string"] == data["firmware_ver"] and info["version"] == "72806"


def test_utilization(dsm):
    data = dsm.call("SYNO.Core.System.Utilization", "get")["data"]
    cpu, memory = data["cpu"], data["memory"]
    assert 0 <= cpu["user_load"] + cpu["system_load"] + cpu["other_load"] <= 100
    assert 0 < memory["real_usage"] < 100
    assert memory["total_real"] <= memory["memory_size"]
    assert data["network"][0]["device"] == "total"
    assert [d["device"] for d in data["disk"]["disk"]] == ["sata1", "sata2", "sata3", "sata4"]
    assert data["space"]["volume"][0]["display_name"] == "volume1"


def test_storage_load_info(dsm):
    data = dsm.call("SYNO.Storage.CGI.Storage", "load_info")["data"]
    assert len(data["disks"]) == 4
    for disk in data["disks"]:
        assert disk["status"] == "normal" and disk["smart_status"] == "normal"
        assert disk["id"].startswith("sata") and disk["device"] == f"/dev/{disk['id']}"
        assert disk["model"] and int(disk["size_total"]) > 0 and 20 < disk["temp"] < 60
    volume = data["volumes"][0]
    assert volume["id"] == "volume_1" and volume["vol_path"] == "/volume1" and volume["status"] == "normal"
    assert 0 < int(volume["size"]["used"]) < int(volume["size"]["total"])
    pool = data["storagePools"][0]
    assert pool["disks"] == [d["id"] for d in data["disks"]]
    assert pool["pool_child"][0]["id"] == "volume_1"


def test_smart_health_reflects_failing_disk(nas, dsm, lab_loop):
    healthy = dsm.call("SYNO.Storage.CGI.Smart", "get_health_info", device=json.dumps("/dev/sata2"))["data"]
    assert healthy["healthInfo"]["overview"]["smart"] == "normal"
    lab_loop.call(lambda: nas.set_disk_health("sata2", "failing"))
    try:
        overview = dsm.call("SYNO.Storage.CGI.Smart", "get_health_info", device="/dev/sata2")["data"]
        assert overview["healthInfo"]["overview"]["smart"] == "failing"
        assert overview["healthInfo"]["overview"]["overview_status"] == "failing"
        attrs = {a["name"]: a for a in overview["healthInfo"]["smartInfo"]}
        assert int(attrs["Reallocated_Sector_Ct"]["raw"]) > 0
        disks = {d["id"]: d for d in dsm.call("SYNO.Storage.CGI.Storage", "load_info")["data"]["disks"]}
        assert disks["sata2"]["smart_status"] == "failing"
        assert disks["sata1"]["smart_status"] == "normal"
        # The control API's state merge takes the same switch: {"disks": {"<index>": {"health": ...}}}.
        lab_loop.call(lambda: nas.apply_state({"disks": {"1": {"health": "crashed"}}}))
        with pytest.raises(ValueError):
            lab_loop.call(lambda: nas.apply_state({"disks": {"1": {"health": "sad"}}}))
        data = dsm.call("SYNO.Storage.CGI.Storage", "load_info")["data"]
        assert data["volumes"][0]["status"] == "degraded"
        assert {d["id"]: d["status"] for d in data["disks"]}["sata2"] == "crashed"
    finally:
        lab_loop.call(lambda: nas.set_disk_health("sata2", "normal"))
    assert error_code(dsm.call("SYNO.Storage.CGI.Smart", "get_health_info", device="/dev/sata9")) == 101


def test_upgrade_check(nas, dsm, lab_loop):
    update = dsm.call("SYNO.Core.Upgrade.Server", "check", version=3)["data"]["update"]
    assert update["available"] is True
    assert update["version"] == "7.2.2-72806 Update 4"
    assert update["version_details"]["nano"] == 4
    lab_loop.call(lambda: nas.set_update_available(None))
    try:
        assert dsm.call("SYNO.Core.Upgrade.Server", "check")["data"] == {"update": {"available": False}}
    finally:
        lab_loop.call(lambda: nas.set_update_available("DSM 7.2.2-72806 Update 4"))


def test_user_crud(nas, dsm):
    created = dsm.call("SYNO.Core.User", "create", post=True, name="empfang", password="Empf4ng-Secret",
                       description="Empfang Praxis", email="empfang@praxis.example", expired="never")
    assert created["success"] is True and created["data"]["name"] == "empfang"
    assert error_code(dsm.call("SYNO.Core.User", "create", post=True, name="empfang", password="x")) == 3107

    resp = dsm.raw(api="SYNO.Core.User", version=1, method="list", _sid=dsm.sid,
                   additional=json.dumps(["description", "email", "expired"]))
    assert "Empf4ng-Secret" not in resp.text and "password\"" not in resp.text
    users = {u["name"]: u for u in resp.json()["data"]["users"]}
    assert users["empfang"] == {"name": "empfang", "description": "Empfang Praxis",
                                "email": "empfang@praxis.example", "expired": "normal"}
    assert users["guest"]["expired"] == "now"

    got = dsm.raw(api="SYNO.Core.User", version=1, method="get", _sid=dsm.sid, name=json.dumps("empfang"))
    assert "Empf4ng-Secret" not in got.text
    assert got.json()["data"]["users"][0]["uid"] == created["data"]["uid"]

    changed = dsm.call("SYNO.Core.User", "set", post=True, name="empfang", email="rezeption@praxis.example",
                       password="N3w-Secret")
    assert changed["success"] is True
    assert set(changed["data"]) == {"name", "password_last_change", "uid"}
    assert dsm.call("SYNO.Core.User", "get", name="empfang")["data"]["users"][0]["email"] == \
        "rezeption@praxis.example"

    # The new (non-admin) user can log in with the new password but has no admin rights.
    user = DSM(nas)
    assert error_code(user.login(account="empfang", passwd="Empf4ng-Secret")) == 400
    assert user.login(account="empfang", passwd="N3w-Secret")["success"] is True
    assert error_code(user.call("SYNO.Core.System", "info")) == 105

    assert dsm.call("SYNO.Core.User", "delete", post=True, name="empfang")["success"] is True
    assert error_code(dsm.call("SYNO.Core.User", "get", name="empfang")) == 3106
    assert error_code(user.call("SYNO.DSM.Info", "getinfo")) == 119
    assert error_code(dsm.call("SYNO.Core.User", "delete", name="guest")) == 3115
    assert error_code(dsm.call("SYNO.Core.User", "delete", name="admin")) == 3115


def test_latency_and_error_rate(nas, lab_loop):
    client = DSM(nas)
    before = nas.requests
    lab_loop.call(lambda: nas.faults.update({"latency": 0.4}))
    try:
        start = time.monotonic()
        assert client.call("SYNO.API.Info", "query")["success"] is True
        assert time.monotonic() - start >= 0.4
    finally:
        lab_loop.call(nas.faults.reset)
    lab_loop.call(lambda: nas.faults.update({"error_rate": 1.0}))
    try:
        resp = client.raw(api="SYNO.API.Info", version=1, method="query")
        assert resp.status_code == 500 and "nginx" in resp.text
    finally:
        lab_loop.call(nas.faults.reset)
    assert client.call("SYNO.API.Info", "query")["success"] is True
    assert nas.requests - before == 3


def test_drop_rate_closes_the_connection_without_an_answer(nas, lab_loop):
    client = DSM(nas)
    before = nas.requests
    lab_loop.call(lambda: nas.faults.update({"drop_rate": 1.0}))
    try:
        for post in (False, True):
            with pytest.raises(requests.ConnectionError):
                client.raw(api="SYNO.API.Info", version=1, method="query", post=post)
        assert nas.requests == before           # nothing was answered
    finally:
        lab_loop.call(nas.faults.reset)
    assert client.call("SYNO.API.Info", "query")["success"] is True
    assert nas.requests - before == 1


def test_certificate_is_the_lab_certificate(nas, lab_run_dir):
    ctx = ssl.create_default_context(cafile=str(lab_run_dir / "lab-cert.pem"))
    ctx.check_hostname = False       # the lab certificate names 127.0.0.1 and localhost only
    with socket.create_connection((nas.address, nas.port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_reboot_and_firmware_upgrade(lab_loop, lab_run_dir):
    nas = lab_loop.start_device(SynologyNAS, run_dir=lab_run_dir, password=PASSWORD, reboot_seconds=0.3)
    client = DSM(nas)
    client.login()

    # A failing install leaves the firmware as it was.
    assert client.call("SYNO.Core.Upgrade.Server.Download", "start", version=2)["success"] is True
    progress = client.call("SYNO.Core.Upgrade.Server.Download", "progress")["data"]
    assert progress["finished"] is True and progress["progress"] == 100
    lab_loop.call(lambda: nas.faults.update({"firmware_fail": True}))
    assert error_code(client.call("SYNO.Core.Upgrade", "start", version=2)) == 100
    lab_loop.call(nas.faults.reset)
    assert client.call("SYNO.Core.System", "info")["data"]["firmware_ver"] == "DSM 7.2.2-72806 Update 3"

    # The install reboots the NAS: refused while down, new firmware after, old sessions gone.
    assert client.call("SYNO.Core.Upgrade", "start", version=2)["success"] is True
    assert client.call("SYNO.Core.Upgrade", "status", version=2)["data"]["status"] == "upgrading"
    wait_down_and_up(client)
    assert error_code(client.call("SYNO.Core.System", "info")) == 119
    client.login()
    assert client.call("SYNO.Core.System", "info")["data"]["firmware_ver"] == "DSM 7.2.2-72806 Update 4"
    assert client.call("SYNO.Core.Upgrade.Server", "check")["data"]["update"]["available"] is False

    # SYNO.Core.System reboot: answered, then down and up again.
    assert client.call("SYNO.Core.System", "reboot", version=1)["success"] is True
    wait_down_and_up(client)
    assert error_code(client.call("SYNO.Core.System", "info")) == 119
    assert client.login()["success"] is True
    assert client.call("SYNO.Core.System", "info")["data"]["firmware_ver"] == "DSM 7.2.2-72806 Update 4"
