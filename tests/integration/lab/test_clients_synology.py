"""Conformance: the N4S4/synology-api client (PyPI ``synology-api``), which
nobody here wrote, against the DSM emulator over real HTTPS, in its default
DSM 7 mode: the login handshake (UIConfig, ik_message, SynoToken, X-SYNO-HASH),
the API list and the system, storage and File Station calls."""

from __future__ import annotations

import pytest
import requests
from synology_api import base_api, core_sys_info, filestation
from synology_api.auth import Authentication
from synology_api.exceptions import CoreError, LoginError

from lab.synology import SynologyNAS

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

PASSWORD = "Lab-Passw0rd!"


@pytest.fixture
def nas(lab_loop, lab_run_dir) -> SynologyNAS:
    return lab_loop.start_device(SynologyNAS, run_dir=lab_run_dir, password=PASSWORD)


@pytest.fixture(autouse=True)
def fresh_client_session():
    """synology-api shares one login between its API classes (BaseApi.shared_session)."""
    base_api.BaseApi.shared_session = None
    yield
    base_api.BaseApi.shared_session = None


def client_args(nas: SynologyNAS, password: str = PASSWORD) -> dict:
    # secure=True: the lab NAS answers HTTPS only (port 5001), as DSM does with HTTP switched off.
    return {"ip_address": nas.address, "port": str(nas.port), "username": "admin", "password": password,
            "secure": True, "cert_verify": False, "debug": False}


def test_dsm7_login_handshake_and_system_info(nas):
    info = core_sys_info.SysInfo(**client_args(nas))
    session = info.session
    assert session._version == 7
    assert session.sid and session.syno_token
    # The DSM 7.2 handshake finished: the client signs every request with X-SYNO-HASH.
    assert session._noise_handshake_hash
    assert session._get_request_hash() is not None
    # API list through query.cgi, DSM 7 paths on entry.cgi.
    assert info.gen_list["SYNO.API.Auth"] == {"maxVersion": 7, "minVersion": 1, "path": "entry.cgi"}
    assert info.gen_list["SYNO.API.Auth.UIConfig"]["path"] == "entry.cgi"

    system = info.get_system_info()
    assert system["success"] is True
    assert system["data"]["model"] == nas.model
    assert system["data"]["firmware_ver"] == nas.state["firmware_version"]
    assert system["data"]["serial"] == nas.state["serial"]

    dsm = info.dsm_info()["data"]
    assert dsm["version_string"] == nas.state["firmware_version"]

    utilization = info.get_all_system_utilization()
    assert set(utilization) >= {"cpu", "memory", "disk", "network"}

    storage = info.storage()["data"]
    assert [d["id"] for d in storage["disks"]] == [d["id"] for d in nas.state["disks"]]
    assert storage["volumes"][0]["vol_path"] == "/volume1"

    upgrade = info.sys_upgrade_check()["data"]
    assert upgrade["update"]["available"] is True

    # An API the lab NAS does not list: the client looks it up in the API list and refuses by itself.
    with pytest.raises(KeyError):
        info.fileserv_smb()
    info.logout()
    assert session.sid is None


def test_file_station_info_and_shares(nas):
    fs = filestation.FileStation(**client_args(nas), interactive_output=False)
    assert set(fs.file_station_list) == {"SYNO.FileStation.Info", "SYNO.FileStation.List"}
    info = fs.get_info()["data"]
    assert info["hostname"] == nas.state["hostname"]
    assert info["is_manager"] is True

    shares = fs.get_list_share()["data"]
    assert shares["total"] == len(nas.state["shares"])
    by_name = {s["name"]: s for s in shares["shares"]}
    assert by_name["praxis"]["path"] == "/praxis"
    assert by_name["praxis"]["additional"]["real_path"] == "/volume1/praxis"
    assert by_name["praxis"]["additional"]["owner"]["user"] == "root"
    page = fs.get_list_share(offset=1, limit=1)["data"]
    assert page["total"] == len(nas.state["shares"]) and len(page["shares"]) == 1
    fs.logout()


def test_wrong_password_is_login_error_400(nas):
    with pytest.raises(LoginError) as err:
        core_sys_info.SysInfo(**client_args(nas, password="wrong"))
    assert err.value.error_code == 400


def test_path_form_with_cookie_and_json_values(nas):
    """request_webapi_data(): /webapi/entry.cgi/<API>, session by the "id" cookie, JSON-encoded values."""
    info = core_sys_info.SysInfo(**client_args(nas))
    answer = info.session.request_webapi_data("SYNO.Core.User", "entry.cgi",
                                              {"method": "get", "version": 1, "name": "admin"})
    assert answer["data"]["users"][0]["name"] == "admin"
    # The cookie alone, without the SynoToken, is refused (119), which the client raises as CoreError.
    bad = info.session
    good_token = bad._syno_token
    bad._syno_token = "forged"
    try:
        with pytest.raises(CoreError) as err:
            bad.request_webapi_data("SYNO.Core.User", "entry.cgi", {"method": "get", "version": 1, "name": "admin"})
        assert err.value.error_code == 119
    finally:
        bad._syno_token = good_token


def test_forged_request_hash_is_refused(nas):
    info = core_sys_info.SysInfo(**client_args(nas))
    session = info.session
    url = f"{session.base_url}entry.cgi"
    params = {"api": "SYNO.DSM.Info", "version": 2, "method": "getinfo", "_sid": session.sid}
    # verify=False: the lab certificate does not name the device address (test_synology.py checks it).
    good = requests.get(url, params=params, headers=session._get_request_headers(), verify=False,  # noqa: S501
                        timeout=10)
    assert good.json()["success"] is True
    forged = dict(session._get_request_headers())
    forged["X-SYNO-HASH"] = forged["X-SYNO-HASH"][:8] + "AAAAAAAAAAAAAAAAAAAAAA.MA"
    bad = requests.get(url, params=params, headers=forged, verify=False, timeout=10)  # noqa: S501
    assert bad.json() == {"error": {"code": 119}, "success": False}


def test_ik_message_from_a_stranger_key_is_refused(nas):
    """An initiator that used another server key cannot finish the handshake: 101."""
    auth = Authentication(nas.address, str(nas.port), "admin", PASSWORD, secure=True, debug=False)
    message = auth.get_ik_message()
    tampered = message[:-4] + ("AAAA" if not message.endswith("AAAA") else "BBBB")
    answer = requests.post(f"{auth.base_url}auth.cgi", verify=False, timeout=10, data={  # noqa: S501
        "api": "SYNO.API.Auth", "version": 7, "method": "login", "account": "admin", "passwd": PASSWORD,
        "format": "sid", "enable_syno_token": "yes", "ik_message": tampered}).json()
    assert answer == {"error": {"code": 101}, "success": False}
