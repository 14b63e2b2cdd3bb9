"""The lab runner end to end: ``python -m lab up --sites 3`` in a temporary
run directory, the inventory it writes, a real request per vendor with the
credentials from the written vault, faults through the CLI, status, down."""

from __future__ import annotations

import asyncio
import base64
import email.message
import json
import smtplib
import ssl
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import asyncssh
import jsonschema
import pytest
import yaml

from lab import __main__ as lab_cli
from lab import core
from tests.integration.labrun import Lab, running_lab

ROOT = Path(__file__).resolve().parents[3]
SITES = 3
# lab001 and lab002 have a NAS, lab003 (every third practice) does not
EXPECTED = [f"lab{n:03d}-{d}" for n in (1, 2, 3) for d in ("fw01", "sw01", "ap01", "nas01")
            if not (n == 3 and d == "nas01")]


def port_open(address: str, port: int, timeout: float = 1.0) -> bool:
    return lab_cli.port_open(address, port, timeout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("labrunner"), SITES) as lab:
        yield lab


# -- protocol probes: one real request per vendor ----------------------------------------

def https_get(lab: Lab, device: str, path: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    record = lab.record(device)
    context = ssl.create_default_context(cafile=lab.state["ca_path"])
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(f"https://{record['address']}:{record['port']}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def opnsense_status(lab: Lab, device: str) -> tuple[int, bytes]:
    creds = lab.credentials(device)
    return https_get(lab, device, "/api/core/firmware/status", (creds["username"], creds["password"]))


def dsm(lab: Lab, device: str, **params: str) -> dict:
    status, body = https_get(lab, device, "/webapi/entry.cgi?" + urllib.parse.urlencode(params))
    assert status == 200, body          # DSM answers 200 and reports errors in the envelope
    return json.loads(body)


def synology_login(lab: Lab, device: str) -> dict:
    creds = lab.credentials(device)
    return dsm(lab, device, api="SYNO.API.Auth", version="6", method="login", account=creds["username"],
               passwd=creds["password"], format="sid")


def ssh_command(lab: Lab, device: str, command: str) -> str:
    record = lab.record(device)
    creds = lab.credentials(device)

    async def run() -> str:
        async with asyncssh.connect(record["address"], record["port"], username=creds["username"],
                                    password=creds["password"], known_hosts=None,
                                    connect_timeout=10) as conn:
            result = await conn.run(command, timeout=10)
            return str(result.stdout)
    return asyncio.run(run())


# -- tests -------------------------------------------------------------------------------

def test_up_reports_start_time_and_memory(lab):
    assert "started in" in lab.up_output and "RSS" in lab.up_output
    state = lab.state
    assert state["status"] == "ready"
    assert sorted(d["name"] for d in state["devices"]) == sorted(EXPECTED)


def test_every_device_accepts_connections(lab):
    for record in lab.state["devices"]:
        assert port_open(record["address"], record["port"]), record["name"]
    assert port_open(lab.state["mail"]["address"], lab.state["mail"]["port"])


def test_inventory_files(lab, repo_root):
    schema = json.loads((repo_root / "schema" / "site.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted((lab.inventory_dir / "sites").glob("*.yml"))
    assert [f.stem for f in files] == ["lab001", "lab002", "lab003"]
    vault = lab.vault()
    for path in files:
        site = yaml.safe_load(path.read_text())
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(site)]
        assert not errors, f"{path.name}: {errors}"
        for devices in site["devices"].values():
            for device in devices:
                assert device["credentials"] in vault, device
                assert set(vault[device["credentials"]]) == {"username", "password"}
                if device["vendor"] in ("opnsense", "synology"):
                    assert device["validate_certs"] is True
                    assert Path(device["ca_path"]) == lab.run_dir / "lab-cert.pem"
    sites = {f.stem: yaml.safe_load(f.read_text()) for f in files}
    assert "nas" not in sites["lab003"]["devices"]
    assert "maintenance_windows" in sites["lab001"] and "maintenance_windows" not in sites["lab002"]
    assert len({s["state"] for s in sites.values()}) == 3
    assert yaml.safe_load((lab.inventory_dir / "praxisops.yml").read_text()) == {
        "plugin": "praxisops_sites", "sites_dir": "sites"}
    vault_paths = sorted((lab.inventory_dir / "group_vars").glob("*/vault.yml"))
    for secret in [lab.inventory_dir / ".vault_pass", *vault_paths]:
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    for path in vault_paths:
        assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256"), path
    assert set(vault) == ({"vault_" + name.replace("-", "_") for name in EXPECTED}
                          | {f"vault_lab{n:03d}_wlan_praxis" for n in range(1, SITES + 1)})
    # the WLAN of each practice names its passphrase in that vault
    assert sites["lab001"]["networks"]["wlans"][0]["psk"] == "vault_lab001_wlan_praxis"
    assert len(vault["vault_lab001_wlan_praxis"]) >= 16
    # one vault per practice (group site_<id> of the inventory plugin), holding only its devices
    for group, entries in lab.vault_files().items():
        assert group.startswith("site_lab"), group
        assert all(key.startswith(f"vault_{group[5:]}_") for key in entries), (group, list(entries))
    # the lab's firmware repository is the catalog of the firmware_update role
    settings = yaml.safe_load((lab.inventory_dir / "group_vars" / "all" / "praxisops.yml").read_text())
    catalog = settings["firmware_update_catalog"]
    assert {entry["model"] for entry in catalog} == {"LANCOM LN-1700", "LANCOM GS-4530XP"}
    with urllib.request.urlopen(catalog[0]["url"], timeout=10) as response:  # noqa: S310 - the lab's loopback
        assert response.read().startswith(b"LANCOM-FW \"LANCOM LN-1700\"")


def test_a_real_request_per_vendor(lab):
    status, body = opnsense_status(lab, "lab001-fw01")
    assert status == 200, body
    assert json.loads(body)
    login = synology_login(lab, "lab002-nas01")
    assert login["success"] is True, login
    info = dsm(lab, "lab002-nas01", api="SYNO.Core.System", version="1", method="info", _sid=login["data"]["sid"])
    assert info["success"] is True and info["data"]["firmware_ver"].startswith("DSM"), info
    assert "5.20" in ssh_command(lab, "lab001-sw01", "show version")         # LCOS SX 5
    assert "VERSION:" in ssh_command(lab, "lab003-ap01", "sysinfo")          # LCOS


def test_fault_from_the_cli_is_seen_by_a_client(lab):
    result = lab.cli("fault", "lab002-fw01", "refuse_auth=true")
    assert result.returncode == 0, result.stderr
    assert "refuse_auth=true" in result.stdout
    assert opnsense_status(lab, "lab002-fw01")[0] == 401
    assert opnsense_status(lab, "lab001-fw01")[0] == 200      # other devices unaffected
    result = lab.cli("fault", "lab002-fw01", "--clear")
    assert result.returncode == 0, result.stderr
    assert opnsense_status(lab, "lab002-fw01")[0] == 200
    # the same switch on an SSH device: the login is refused
    assert lab.cli("fault", "lab002-sw01", "refuse_auth=true").returncode == 0
    with pytest.raises(asyncssh.PermissionDenied):
        ssh_command(lab, "lab002-sw01", "show version")
    assert lab.cli("fault", "lab002-sw01", "--clear").returncode == 0
    assert ssh_command(lab, "lab002-sw01", "show version")


def test_bad_fault_key_is_named(lab):
    result = lab.cli("fault", "lab001-fw01", "refuse_auth=true", "explode=1")
    assert result.returncode != 0
    assert "explode" in result.stderr and "refuse_auth" in result.stderr   # the message lists the known ones
    # nothing was applied: the good key in the same call is refused as well
    assert opnsense_status(lab, "lab001-fw01")[0] == 200
    result = lab.cli("fault", "lab001-fw01", "latency=-3")
    assert result.returncode != 0 and "latency" in result.stderr
    result = lab.cli("fault", "lab999-fw01", "latency=1")
    assert result.returncode != 0 and "lab999-fw01" in result.stderr


def test_status_lists_the_devices(lab):
    result = lab.cli("fault", "lab001-sw01", "latency=0.01")
    assert result.returncode == 0, result.stderr
    result = lab.cli("status")
    assert result.returncode == 0, result.stderr
    for name in EXPECTED:
        assert name in result.stdout
    assert f"{len(EXPECTED)} devices: {len(EXPECTED)} up, 0 down" in result.stdout
    assert "latency=0.01" in result.stdout
    data = json.loads(lab.cli("status", "--json").stdout)
    assert data["totals"]["requests"] > 0
    assert lab.cli("fault", "lab001-sw01", "--clear").returncode == 0


def test_state_change_from_the_cli(lab):
    result = lab.cli("state", "lab001-fw01", "firmware_latest=99.1")
    assert result.returncode == 0, result.stderr
    detail = json.loads(lab.cli("state", "lab001-fw01").stdout)
    assert detail["firmware_latest"] == "99.1"
    result = lab.cli("state", "lab001-fw01", "no_such_key=1")
    assert result.returncode != 0 and "no_such_key" in result.stderr
    # a failing disk through the method the NAS class offers
    result = lab.cli("call", "lab001-nas01", "set_disk_health", "disk_id=sata2", "health=failing")
    assert result.returncode == 0, result.stderr
    disks = json.loads(lab.cli("state", "lab001-nas01").stdout)["disks"]
    assert [d["health"] for d in disks if d["id"] == "sata2"] == ["failing"]
    result = lab.cli("call", "lab001-nas01", "explode")
    assert result.returncode != 0 and "set_disk_health" in result.stderr      # names what is offered


def test_reboot_from_the_cli(lab):
    record = lab.record("lab003-sw01")
    result = lab.cli("reboot", "lab003-sw01")
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 5
    while port_open(record["address"], record["port"], 0.2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not port_open(record["address"], record["port"], 0.2), "did not go down"
    deadline = time.monotonic() + 10
    while not port_open(record["address"], record["port"], 0.2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_open(record["address"], record["port"]), "did not come back"


def test_mail_received_is_listed(lab):
    message = email.message.EmailMessage()
    message["From"] = "praxisops@example.org"
    message["To"] = "praxis.lab001@example.org"
    message["Subject"] = "lab runner test mail"
    message.set_content("hello")
    # the inventory's praxis_smtp (STARTTLS, AUTH with the password from the vault) reaches it
    settings = yaml.safe_load((lab.inventory_dir / "group_vars" / "all" / "praxisops.yml").read_text())["praxis_smtp"]
    password = lab.vault_file(lab.inventory_dir / "group_vars" / "all" / "smtp_vault.yml")["vault_lab_smtp_password"]
    assert (settings["host"], settings["port"]) == (lab.state["mail"]["address"], lab.state["mail"]["port"])
    with smtplib.SMTP(settings["host"], settings["port"], timeout=10) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=settings["ca_file"]))
        smtp.login(settings["username"], password)
        smtp.send_message(message)
    result = lab.cli("mail")
    assert result.returncode == 0, result.stderr
    assert "lab runner test mail" in result.stdout and "praxis.lab001@example.org" in result.stdout

    # --text: the decoded subject and body; --to: one recipient's messages only
    message.replace_header("Subject", "Prüfung Grüße")
    message.set_content("Störung behoben\n")
    with smtplib.SMTP(settings["host"], settings["port"], timeout=10) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=settings["ca_file"]))
        smtp.login(settings["username"], password)
        smtp.send_message(message, to_addrs=["technik@example.org"])
    text = lab.cli("mail", "--text", "--to", "technik@example.org")
    assert text.returncode == 0, text.stderr
    assert "Subject: Prüfung Grüße" in text.stdout and "Störung behoben" in text.stdout
    assert "lab runner test mail" not in text.stdout and "=?utf-8?" not in text.stdout

    # --stop: connections refused until --start; the messages stay; --clear forgets them
    assert "stopped" in lab.cli("mail", "--stop").stdout
    assert not port_open(settings["host"], settings["port"], 0.5)
    assert lab.control("GET", "/status")["mail"]["running"] is False
    assert "listening" in lab.cli("mail", "--start").stdout
    assert port_open(settings["host"], settings["port"])
    assert len(lab.control("GET", "/mail")) == 2
    assert lab.cli("mail", "--clear").returncode == 0
    assert lab.control("GET", "/mail") == []


def test_second_up_is_refused(lab):
    result = lab.cli("up", "--sites", "1", "--inventory-dir", str(lab.inventory_dir))
    assert result.returncode == 1
    assert "already running" in result.stderr


def test_up_from_another_run_dir_finds_the_ports_taken(lab, tmp_path):
    other = Lab(tmp_path / "run", tmp_path / "inventory")
    result = other.cli("up", "--sites", "1", "--inventory-dir", str(other.inventory_dir))
    assert result.returncode == 1
    assert f"{core.CONTROL_ADDRESS}:{core.CONTROL_PORT}" in result.stderr and "in use" in result.stderr
    assert not (tmp_path / "inventory").exists()


def test_down_stops_everything(lab):
    endpoints = [(d["address"], d["port"]) for d in lab.state["devices"]]
    endpoints += [(lab.state["mail"]["address"], lab.state["mail"]["port"]),
                  (core.CONTROL_ADDRESS, core.CONTROL_PORT)]
    pid = lab.state["pid"]
    result = lab.cli("down")
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    assert not [e for e in endpoints if port_open(*e, timeout=0.5)]
    assert not Path(f"/proc/{pid}").exists() or "lab.server" not in Path(f"/proc/{pid}/cmdline").read_text()
    assert not (lab.run_dir / "state.json").exists()
    assert (lab.inventory_dir / "sites" / "lab001.yml").exists()     # the inventory stays
    again = lab.cli("down")
    assert again.returncode == 0
    assert "nothing is running" in again.stdout
