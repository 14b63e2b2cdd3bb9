"""LANCOM drivers without a device: parsers, configuration checks, secret
masking, settings plans with the SSH session replaced by a stand-in, error
mapping."""

from __future__ import annotations

import json
import socket

import paramiko
import pytest
from ansible.module_utils import praxis_driver_lancom as lancom
from ansible.module_utils.praxis_backup import mask_secrets
from ansible.module_utils.praxis_driver import (
    FACT_KEYS,
    SECRET_MASK,
    AuthFailed,
    ConnectionDropped,
    ConnectionRefused,
    DriverError,
    HostKeyMismatch,
    ProtocolError,
    ServerError,
    Target,
    Timeout,
    Unreachable,
    Unsupported,
)
from ansible.module_utils.praxis_driver_lancom import (
    DRIVER,
    LCOSDriver,
    LCOSSXDriver,
    compress_vlans,
    expand_vlans,
    parse_dotted,
    parse_running_config,
    parse_script,
    parse_sysinfo,
    parse_uptime,
    split_script_line,
    version_key,
)

PASSWORD = "Unit-Secret-Passw0rd"
PSK = "Sehr geheim 42"

SYSINFO = """DEVICE: LANCOM LN-1700
HW-RELEASE: A
VERSION: 10.72.0087RU2 / 14.11.2023
SERIAL-NUMBER: 4005123456789012
MAC-ADDRESS: 00a057123456
NAME: ap-empfang
LOCATION:
UPTIME: 2 days 03:04:05
TIME: 01.02.2025 10:11:12
"""

SHOW_VERSION = """
Switch: 1

System Description............................. LANCOM GS-4530XP, 5.20.0095, Linux 4.14.138
Machine Type................................... LANCOM GS-4530XP
Machine Model.................................. GS-4530XP
Serial Number.................................. 4007000000000042
Maintenance Level.............................. A
Burned In MAC Address.......................... 00:A0:57:12:34:56
Software Version............................... 5.20.0095
"""

SHOW_SYSINFO = """
System Description............................. LANCOM GS-4530XP, 5.20.0095, Linux 4.14.138
System Name.................................... sw-praxis
System Location................................
System Up Time................................. 1 days 2 hrs 3 mins 4 secs
"""

RUNNING = """!Current Configuration:
!
!System Description "LANCOM GS-4530XP, 5.20.0095, Linux 4.14.138"
!System Software Version "5.20.0095"
!System Up Time          "0 days 0 hrs 5 mins 1 secs"
!
vlan database
vlan 20,30
vlan name 20 "Praxis"
vlan name 30 "Labor"
exit

configure
hostname "sw-praxis"
username "admin" password 5f4dcc3b5aa765d61d8327deb882cf99 level 15 encrypted
snmp-server community "geheim-ro" ro
radius server key auth 10.0.0.9 encrypted 9a8b7c6d
logging host 192.168.10.5 ipv4 514 info
logging syslog
line console
exit

line ssh
exit
!
interface 1/0/5
description 'Dr. O'Brien Empfang'
vlan pvid 30
vlan participation include 30
vlan tagging 1
exit

interface 1/0/7
vlan pvid 20
vlan participation include 20
vlan participation exclude 1
no poe
exit

exit
"""


def lcos_table(path: str, columns: list[str], rows: list[list[str]], *, fixed: bool = True) -> list[str]:
    lines = ["", f"cd {path}"]
    if not fixed:
        lines.append("del *")
    if rows:
        lines.append("tab " + " ".join(columns))
        lines += [("set " if fixed else "add ") + " ".join(r) for r in rows]
    return lines


def lcos_script(body: list[str]) -> str:
    return "\n".join(["# Script (LANCOM LN-1700, 10.72.0087RU2 / 14.11.2023)", "# 2025/02/01 10:11:12",
                      "lang English", "flash No", "", *body, "", "# done...", "flash Yes", ""])


IFCS = ["WLAN-1", "WLAN-1-2", "WLAN-2", "WLAN-2-2"]


def wlan_body(active: dict[str, tuple[str, str, str, str]]) -> list[str]:
    """active: ifc -> (ssid, wpa version, key, pmf)."""
    net, enc = [], []
    for ifc in IFCS:
        ssid, wpa, key, pmf = active.get(ifc, ("LANCOM", "WPA2/3", "", "Optional"))
        net.append([ifc, f'"{ssid}"', "Yes" if ifc in active else "No", "No", "0", "Yes"])
        enc.append([ifc, "Yes", "802.11i-WPA-PSK", wpa, f'"{key}"', pmf])
    return (lcos_table("/Setup/Interfaces/WLAN/Network", ["Ifc", "Network-Name", "Operating", "Closed-Network",
                                                          "Max.-Stations", "Inter-Station-Traffic"], net)
            + lcos_table("/Setup/Interfaces/WLAN/Encryption", ["Ifc", "Encryption", "Method", "WPA-Version", "Key",
                                                               "Prot.-Mgmt-Frames"], enc))


def vlan_body(vlans: dict[str, int], operating: str = "No") -> list[str]:
    rows = [["LAN-1", "Yes", "1", "Untagged", "No"]]
    for ifc in IFCS:
        rows.append([ifc, "No" if ifc in vlans else "Yes", str(vlans.get(ifc, 1)), "Untagged", "No"])
    return ["", f"set /Setup/VLAN/Operating {operating}"] + lcos_table(
        "/Setup/VLAN/Port-Table", ["Port", "Allow-All-VLANs", "Port-VLAN-Id", "Tagging-Mode", "Ingress-Filter"], rows)


def wlan_script(active: dict[str, tuple[str, str, str, str]]) -> str:
    return lcos_script(wlan_body(active))


def vlan_script(vlans: dict[str, int], operating: str = "No") -> str:
    return lcos_script(vlan_body(vlans, operating))


def syslog_script(rows: list[list[str]]) -> str:
    return lcos_script(["set /Setup/SYSLOG/Operating Yes"] + lcos_table(
        "/Setup/SYSLOG/Server", ["Idx.", "IP-Address", "Port", "Source", "Level", "Loopback-Address", "Protocol"],
        rows, fixed=False))


def make_target(role: str = "access_point", **kwargs) -> Target:
    values = dict(site="huber", name="ap01" if role != "switch" else "sw01", vendor="lancom", role=role,
                  address="192.0.2.10", port=22, username="admin", password=PASSWORD, timeout=2, retries=2,
                  retry_delay=0)
    values.update(kwargs)
    return Target(**values)


class FakeShell:
    """Stands in for the interactive LCOS console: canned answers by command."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.sent: list[str] = []
        self.closed = False

    def run(self, command: str, idle=None, eof_ok=False) -> str:
        self.sent.append(command)
        for prefix, answer in self.answers.items():
            if command.startswith(prefix):
                return answer
        return ""

    def wait_closed(self, budget: float) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    @property
    def writes(self) -> list[str]:
        return [c for c in self.sent if not c.startswith(("readscript", "sysinfo"))]


def lcos_with(shell: FakeShell, **target) -> LCOSDriver:
    driver = LCOSDriver(make_target(**target))
    driver._open = lambda: shell
    return driver


class FakeConn:
    """Stands in for a netmiko connection to an LCOS SX switch."""

    def __init__(self, running: str = RUNNING) -> None:
        self.running = running
        self.config_sets: list[list[str]] = []
        self.saves = 0
        self.commands: list[str] = []

    def send_command(self, command: str, **kwargs) -> str:
        self.commands.append(command)
        return {"show running-config": self.running, "show version": SHOW_VERSION,
                "show sysinfo": SHOW_SYSINFO}.get(command, "")

    def send_config_set(self, lines, **kwargs) -> str:
        self.config_sets.append(list(lines))
        return ""

    def save_config(self) -> str:
        self.saves += 1
        return "Config file 'startup-config' created successfully .\n\nConfiguration Saved!"

    def disconnect(self) -> None:
        pass


def sx_with(conn: FakeConn) -> LCOSSXDriver:
    driver = LCOSSXDriver(make_target(role="switch"))
    driver._open = lambda: conn
    return driver


# -- factory, parsers --------------------------------------------------------------------------

def test_driver_factory_picks_lcos_sx_for_switches_only():
    assert type(DRIVER(make_target(role="switch"))) is LCOSSXDriver
    assert type(DRIVER(make_target(role="access_point"))) is LCOSDriver
    assert type(DRIVER(make_target(role="router"))) is LCOSDriver
    assert LCOSDriver.vendor == LCOSSXDriver.vendor == "lancom"
    assert (LCOSDriver.config_suffix, LCOSSXDriver.config_suffix) == (".lcs", ".cfg")


def test_sysinfo_to_facts():
    info = parse_sysinfo(SYSINFO)
    assert info["DEVICE"] == "LANCOM LN-1700" and info["LOCATION"] == ""
    facts = LCOSDriver(make_target()).facts_from_sysinfo(SYSINFO)
    assert set(facts) == set(FACT_KEYS)
    assert facts["hostname"] == "ap-empfang" and facts["model"] == "LANCOM LN-1700"
    assert facts["serial"] == "4005123456789012" and facts["firmware_version"] == "10.72.0087RU2"
    assert facts["uptime_seconds"] == 2 * 86400 + 3 * 3600 + 4 * 60 + 5
    assert facts["cpu_percent"] is None and facts["disks"] is None and facts["signature_date"] is None
    with pytest.raises(ProtocolError, match="lacks DEVICE or VERSION"):
        LCOSDriver(make_target()).facts_from_sysinfo("Error: Unknown command 'sysinfo'\n")


def test_show_version_and_sysinfo_to_facts():
    assert parse_dotted(SHOW_VERSION)["Machine Model"] == "GS-4530XP"
    assert parse_dotted(SHOW_SYSINFO)["System Location"] == ""
    facts = LCOSSXDriver(make_target(role="switch")).facts_from(SHOW_VERSION, SHOW_SYSINFO)
    assert set(facts) == set(FACT_KEYS)
    assert facts["hostname"] == "sw-praxis" and facts["model"] == "LANCOM GS-4530XP"
    assert facts["serial"] == "4007000000000042" and facts["firmware_version"] == "5.20.0095"
    assert facts["uptime_seconds"] == 86400 + 2 * 3600 + 3 * 60 + 4
    with pytest.raises(ProtocolError):
        LCOSSXDriver(make_target(role="switch")).facts_from("% Invalid input detected at '^' marker.", "")


@pytest.mark.parametrize("text, seconds", [
    ("0 days 00:00:07", 7), ("12 days 01:00:00", 12 * 86400 + 3600), ("3 hrs 0 mins 2 secs", 3 * 3600 + 2),
    ("1 day 1 hour 1 minute 1 second", 90061), ("", None), ("unknown", None)])
def test_uptime(text, seconds):
    assert parse_uptime(text) == seconds


def test_version_order_matches_lcos_release_tags():
    ordered = ["10.70.0050", "10.72.0087RC1", "10.72.0087PR", "10.72.0087", "10.72.0087 Rel", "10.72.0087RU1",
               "10.72.0087RU2", "10.72.0087SU1", "10.80.0100"]
    keys = [version_key(v) for v in ordered]
    assert keys[3] == keys[4]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) - 1
    assert version_key("garbage") < version_key("1.0.0001")


def test_firmware_status_offers_only_newer_versions():
    shell = FakeShell({"sysinfo": SYSINFO})
    driver = lcos_with(shell, options={"firmware": {"version": "10.80.0100", "url": "http://fw/x.upx"}})
    assert driver.firmware_status() == {"installed": "10.72.0087RU2", "available": "10.80.0100",
                                        "reboot_required": True}
    for entry in ({"version": "10.72.0087RU2"}, {"version": "10.72.0087RU1"}, {"version": "10.72.0087"}, {}):
        driver.target.options["firmware"] = entry
        assert driver.firmware_status()["available"] is None
    driver.target.options.pop("firmware")
    assert driver.firmware_status()["available"] is None
    with pytest.raises(DriverError, match="no newer firmware"):
        driver.start_firmware_update()


def test_loadfirmware_refusal_is_a_protocol_error():
    shell = FakeShell({"sysinfo": SYSINFO, "LoadFirmware": "Loading firmware from http://fw/x.upx ...\n"
                                                          "Error: Writing the firmware to flash memory failed\n"})
    driver = lcos_with(shell, options={"firmware": {"version": "10.80.0100", "url": "http://fw/x.upx"}})
    with pytest.raises(ProtocolError, match="Writing the firmware to flash memory failed"):
        driver.start_firmware_update()
    assert shell.sent == ["sysinfo", "LoadFirmware http://fw/x.upx"] and shell.closed


class DialogConn(FakeConn):
    """An LCOS SX session that answers the firmware dialogs (with unsaved changes)."""

    def __init__(self, transfer: str, copy_answer: str = "Are you sure you want to start? (y/n) ") -> None:
        super().__init__()
        self.transfer = transfer
        self.copy_answer = copy_answer
        self.calls: list[tuple[str, dict]] = []
        self.remote_conn = None

    def send_command(self, command: str, **kwargs) -> str:
        self.calls.append((command, kwargs))
        if command.startswith("copy "):
            return "Destination Filename........... backup\n" + self.copy_answer
        if command == "reload":
            return "Are you sure you would like to reset the system? (y/n) "
        if command == "y" and self.calls[-2][0].startswith("copy "):
            return self.transfer
        if command == "y":
            return "System configuration has changed. Would you like to save them now? (y/n) "
        if command == "n":
            return "Configuration Not Saved!\nSystem will now restart!"
        if command == "boot system backup":
            return "Activating image backup .."
        return super().send_command(command, **kwargs)


def test_sx_firmware_dialogs():
    options = {"firmware": {"version": "5.30.0012", "url": "http://fw/gs.stk"}}
    conn = DialogConn("File transfer in progress.\nFile transfer operation completed successfully.\n")
    driver = LCOSSXDriver(make_target(role="switch", options=options))
    driver._open = lambda: conn
    driver.start_firmware_update()
    assert [c for c, _ in conn.calls] == ["show version", "show sysinfo", "copy http://fw/gs.stk backup", "y",
                                          "boot system backup", "reload", "y", "n"]
    assert conn.calls[3][1]["auto_find_prompt"] is False       # a prompt probe would answer the dialog
    assert conn.saves == 0                                       # unsaved changes are not saved on the way

    conn = DialogConn("File transfer in progress.\nFile transfer failed! Invalid image file.\n")
    driver = LCOSSXDriver(make_target(role="switch", options=options))
    driver._open = lambda: conn
    with pytest.raises(ProtocolError, match="File transfer failed! Invalid image file."):
        driver.start_firmware_update()
    assert "reload" not in [c for c, _ in conn.calls]

    conn = DialogConn("", copy_answer="        ^\n% Invalid input detected at '^' marker.\n")
    driver = LCOSSXDriver(make_target(role="switch", options=options))
    driver._open = lambda: conn
    with pytest.raises(ProtocolError, match="copy refused: % Invalid input"):
        driver.start_firmware_update()
    assert [c for c, _ in conn.calls][-1].startswith("copy ")


class ScriptedChannel:
    """A paramiko channel stand-in that hands out prepared chunks."""

    def __init__(self, chunks: list) -> None:
        self.chunks = chunks
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        chunk = self.chunks.pop(0)
        if isinstance(chunk, Exception):
            raise chunk
        return chunk


def shell_on(chunks: list) -> lancom.LCOSShell:
    shell = lancom.LCOSShell.__new__(lancom.LCOSShell)
    shell.target = make_target()
    shell.chan = ScriptedChannel(chunks)
    return shell


def test_lcos_shell_reads_to_the_prompt():
    prompt = b"\r\nadmin@ap-empfang:/Setup\r\n> "
    shell = shell_on([b"sysinfo\r\nDEVICE: LANCOM LN-1700\r\nNAME: ap-", b"empf\xc3",
                      b"\xa4ng\r\n" + prompt[:9], socket.timeout(), prompt[9:]])
    assert shell.run("sysinfo") == "DEVICE: LANCOM LN-1700\nNAME: ap-empf\u00e4ng\n"
    assert shell.chan.sent == b"sysinfo\r"
    with pytest.raises(EOFError):
        shell_on([b"readscript\r\n# Script (LANCOM"]).run("readscript")
    assert shell_on([b"LoadFirmware x\r\nrestarts now\r\n"]).run("LoadFirmware x", eof_ok=True) == "restarts now\n"
    with pytest.raises(TimeoutError):
        shell_on([socket.timeout()] * 3).run("sysinfo", idle=-1)


def test_script_tokens_and_tables():
    assert split_script_line('set WLAN-1 "a \\"b\\"" "" x') == ["set", "WLAN-1", 'a "b"', "", "x"]
    with pytest.raises(ValueError):
        split_script_line('set WLAN-1 "open')
    parsed = parse_script(wlan_script({"WLAN-1": ("PRAXIS", "WPA3", PSK, "Mandatory")}) + vlan_script({}, "Yes"))
    network = parsed["tables"]["/Setup/Interfaces/WLAN/Network"]
    assert network["columns"][:3] == ["Ifc", "Network-Name", "Operating"]
    assert network["rows"][0] == {"Ifc": "WLAN-1", "Network-Name": "PRAXIS", "Operating": "Yes",
                                  "Closed-Network": "No", "Max.-Stations": "0", "Inter-Station-Traffic": "Yes"}
    assert parsed["tables"]["/Setup/Interfaces/WLAN/Encryption"]["rows"][0]["Key"] == PSK
    assert parsed["values"]["/Setup/VLAN/Operating"] == "Yes"
    empty = parse_script(syslog_script([]))
    assert empty["tables"]["/Setup/SYSLOG/Server"]["rows"] == []


def test_running_config_parser():
    cfg = parse_running_config(RUNNING)
    assert cfg["hostname"] == "sw-praxis"
    assert cfg["vlans"] == {1: "default", 20: "Praxis", 30: "Labor"}
    assert cfg["syslog_hosts"] == [{"host": "192.168.10.5", "port": 514, "severity": "info"}]
    assert cfg["syslog_enabled"] is True
    assert cfg["interfaces"]["1/0/5"] == {"pvid": 30, "include": [30], "exclude": [], "tagged": [1], "poe": None}
    assert cfg["interfaces"]["1/0/7"] == {"pvid": 20, "include": [20], "exclude": [1], "tagged": [], "poe": False}
    assert expand_vlans("10,20-22") == [10, 20, 21, 22]
    assert compress_vlans([22, 10, 21, 20, 30]) == "10,20-22,30"


# -- configuration checks ----------------------------------------------------------------------

def garble(text: str, start: float = 0.3, step: int = 5) -> str:
    chars = list(text)
    for i in range(int(len(chars) * start), len(chars), step):
        if chars[i] not in "\r\n":
            chars[i] = "%"
    return "".join(chars)


LCOS_GOOD = lcos_script(["set /Setup/Name \"ap-empfang\""]
                        + wlan_body({"WLAN-1": ("PRAXIS", "WPA3", PSK, "Mandatory")}) + vlan_body({"WLAN-1": 20}))


def test_validate_lcos_script():
    LCOSDriver.validate_config(LCOS_GOOD.encode())
    with pytest.raises(ValueError, match="empty"):
        LCOSDriver.validate_config(b"  \n")
    with pytest.raises(ValueError, match="incomplete"):
        LCOSDriver.validate_config(LCOS_GOOD[: len(LCOS_GOOD) // 2].encode())
    with pytest.raises(ValueError, match="garbled"):
        LCOSDriver.validate_config(garble(LCOS_GOOD).encode())
    with pytest.raises(ValueError, match="garbled"):
        LCOSDriver.validate_config(LCOS_GOOD.replace("tab Ifc", "tab I\x7ffc").encode())
    with pytest.raises(ValueError, match="header"):
        LCOSDriver.validate_config(RUNNING.encode())
    with pytest.raises(ValueError, match="UTF-8"):
        LCOSDriver.validate_config(LCOS_GOOD.encode() + b"\xff\xfe")


def test_validate_sx_running_config():
    LCOSSXDriver.validate_config(RUNNING.encode())
    LCOSSXDriver.validate_config(RUNNING.replace("\n", "\r\n").encode())
    with pytest.raises(ValueError, match="empty"):
        LCOSSXDriver.validate_config(b"")
    with pytest.raises(ValueError, match="incomplete"):
        LCOSSXDriver.validate_config(RUNNING[: len(RUNNING) // 2].encode())
    # cut exactly after an interface block: still inside "configure"
    cut = RUNNING[: RUNNING.index("interface 1/0/7")]
    assert cut.rstrip().endswith("exit")
    with pytest.raises(ValueError, match="incomplete"):
        LCOSSXDriver.validate_config(cut.encode())
    with pytest.raises(ValueError, match="garbled"):
        LCOSSXDriver.validate_config(garble(RUNNING).encode())
    with pytest.raises(ValueError, match="header"):
        LCOSSXDriver.validate_config(LCOS_GOOD.encode())


def test_secret_masking_in_exports():
    masked = mask_secrets(LCOS_GOOD, LCOSDriver.secret_patterns)
    assert PSK not in masked and f'WPA3 "{SECRET_MASK}"' in masked
    assert masked.count("\n") == LCOS_GOOD.count("\n")
    named = 'set /Setup/Interfaces/WLAN/Encryption/WLAN-1 {Key} "k3y-v4lue"\n' \
            'set /Setup/RADIUS/Shared-Secret "rad-secret"\nset /Setup/SNMP/Read-Only-Community "snmp-ro"\n'
    masked = mask_secrets(named, LCOSDriver.secret_patterns)
    assert "k3y-v4lue" not in masked and "rad-secret" not in masked and "snmp-ro" not in masked
    masked = mask_secrets(RUNNING, LCOSSXDriver.secret_patterns)
    for secret in ("5f4dcc3b5aa765d61d8327deb882cf99", "geheim-ro", "9a8b7c6d"):
        assert secret not in masked
    assert 'vlan name 30 "Labor"' in masked and "logging host 192.168.10.5" in masked


# -- LCOS settings -----------------------------------------------------------------------------

WLANS = [{"ssid": "PRAXIS", "vlan": 20, "encryption": "wpa3", "psk": PSK}]


def ap_shell(active=None, vlans=None, operating="No", syslog_rows=None) -> FakeShell:
    return FakeShell({"readscript /Setup/Interfaces/WLAN": wlan_script(active or {}),
                      "readscript /Setup/VLAN": vlan_script(vlans or {}, operating),
                      "readscript /Setup/SYSLOG": syslog_script(syslog_rows or [])})


def test_lcos_settings_create_on_both_radios():
    shell = ap_shell(active={"WLAN-1-2": ("ALT", "WPA2/3", "old-key-123", "Optional")})
    result = lcos_with(shell).apply_settings({"wlans": WLANS}, check_mode=False)
    assert result["changed"] is True
    assert result["before"]["wlans"] == [{"ssid": "ALT", "vlan": 1, "encryption": "wpa2-wpa3", "psk": SECRET_MASK,
                                          "interfaces": ["WLAN-1-2"]}]
    assert result["after"]["wlans"] == [{"ssid": "PRAXIS", "vlan": 20, "encryption": "wpa3", "psk": SECRET_MASK,
                                         "psk_changed": True, "interfaces": ["WLAN-1", "WLAN-2"]}]
    assert result["after"]["vlan_module"] is True
    writes = shell.writes
    assert 'set /Setup/Interfaces/WLAN/Network/WLAN-1 {Network-Name} "PRAXIS" {Operating} Yes' in writes
    assert f'set /Setup/Interfaces/WLAN/Encryption/WLAN-2 {{WPA-Version}} WPA3 {{Key}} "{PSK}" ' \
           f'{{Prot.-Mgmt-Frames}} Mandatory' in writes
    assert "set /Setup/VLAN/Port-Table/WLAN-1 {Allow-All-VLANs} No {Port-VLAN-Id} 20" in writes
    assert "set /Setup/Interfaces/WLAN/Network/WLAN-1-2 {Operating} No" in writes      # not listed: off
    assert "set /Setup/VLAN/Operating Yes" in writes
    assert PSK not in json.dumps(result)


def test_lcos_settings_no_change_reads_only():
    shell = ap_shell(active={"WLAN-1": ("PRAXIS", "WPA3", PSK, "Mandatory"),
                             "WLAN-2": ("PRAXIS", "WPA3", PSK, "Mandatory")},
                     vlans={"WLAN-1": 20, "WLAN-2": 20}, operating="Yes")
    result = lcos_with(shell).apply_settings({"wlans": WLANS}, check_mode=False)
    assert result["changed"] is False and result["commands"] == []
    assert shell.writes == []
    assert result["after"]["wlans"][0]["psk_changed"] is False
    assert shell.sent == ["readscript /Setup/Interfaces/WLAN", "readscript /Setup/VLAN"]


def test_lcos_settings_update_psk_only_and_keep_interfaces():
    shell = ap_shell(active={"WLAN-1-2": ("PRAXIS", "WPA3", "Alter Schluessel", "Mandatory"),
                             "WLAN-2": ("PRAXIS", "WPA3", PSK, "Mandatory")},
                     vlans={"WLAN-1-2": 20, "WLAN-2": 20}, operating="Yes")
    result = lcos_with(shell).apply_settings({"wlans": WLANS}, check_mode=False)
    assert result["changed"] is True
    assert result["after"]["wlans"][0]["interfaces"] == ["WLAN-1-2", "WLAN-2"]
    assert result["after"]["wlans"][0]["psk_changed"] is True
    assert shell.writes == [f'set /Setup/Interfaces/WLAN/Encryption/WLAN-1-2 {{Key}} "{PSK}"']
    assert result["commands"] == [f"set /Setup/Interfaces/WLAN/Encryption/WLAN-1-2 {{Key}} {SECRET_MASK}"]
    assert "Alter Schluessel" not in json.dumps(result) and PSK not in json.dumps(result)


def test_lcos_settings_check_mode_writes_nothing():
    shell = ap_shell(syslog_rows=[["1", '"10.0.0.1"', "514", "0xff", "0x3f", '""', "UDP"]])
    settings = {"wlans": WLANS, "syslog": [{"host": "192.168.10.5", "port": 514, "transport": "udp",
                                            "description": "SIEM"}]}
    result = lcos_with(shell).apply_settings(settings, check_mode=True)
    assert result["changed"] is True and shell.writes == []
    assert "del /Setup/SYSLOG/Server/1" in result["commands"]
    assert 'set /Setup/SYSLOG/Server/2 {IP-Address} "192.168.10.5" {Port} 514 {Protocol} UDP' in result["commands"]
    assert result["before"]["syslog"] == [{"host": "10.0.0.1", "port": 514, "transport": "udp"}]
    assert result["after"]["syslog"] == [{"host": "192.168.10.5", "port": 514, "transport": "udp"}]


def test_lcos_syslog_update_in_place():
    shell = ap_shell(syslog_rows=[["3", '"192.168.10.5"', "514", "0xff", "0x3f", '""', "UDP"]])
    settings = {"syslog": [{"host": "192.168.10.5", "port": 1514, "transport": "tcp"}]}
    result = lcos_with(shell).apply_settings(settings, check_mode=False)
    assert shell.writes == ["set /Setup/SYSLOG/Server/3 {Port} 1514 {Protocol} TCP"]
    assert result["changed"] is True


def test_lcos_settings_refusal_hides_the_psk():
    shell = ap_shell()
    shell.answers["set /Setup/Interfaces/WLAN/Encryption"] = f"Error: Invalid value '{PSK}' for Key\n"
    with pytest.raises(ProtocolError) as err:
        lcos_with(shell).apply_settings({"wlans": WLANS}, check_mode=False)
    assert PSK not in str(err.value) and SECRET_MASK in str(err.value)
    assert "huber-ap01" in str(err.value)


@pytest.mark.parametrize("settings, error, match", [
    ({"vlans": [{"id": 10, "name": "x"}]}, Unsupported, "not offered by lancom access_points"),
    ({"wlans": [{"ssid": "X", "vlan": 1, "psk": "short"}]}, DriverError, "8 to 63"),
    ({"wlans": [{"ssid": "X", "vlan": 1, "encryption": "wep", "psk": "long enough"}]}, DriverError, "encryption"),
    ({"syslog": [{"host": "bad host", "port": 514}]}, DriverError, "not an address"),
])
def test_lcos_settings_rejected_before_any_command(settings, error, match):
    shell = ap_shell()
    with pytest.raises(error, match=match) as err:
        lcos_with(shell).apply_settings(settings, check_mode=False)
    assert shell.sent == [] and "short" not in str(err.value)


# -- LCOS SX settings --------------------------------------------------------------------------

SX_SETTINGS = {
    "vlans": [{"id": 20, "name": "Praxis"}, {"id": 30, "name": "Labor"}],
    "ports": [{"port": "1/0/5", "vlans": [1, 30], "pvid": 30}, {"port": "1/0/7", "vlans": [20], "pvid": 20,
                                                                  "poe": False}],
    "syslog": [{"host": "192.168.10.5", "port": 514, "transport": "udp", "description": "SIEM"}],
}


def test_sx_settings_no_change():
    conn = FakeConn()
    result = sx_with(conn).apply_settings(SX_SETTINGS, check_mode=False)
    assert result["changed"] is False
    assert conn.config_sets == [] and conn.saves == 0
    assert conn.commands == ["show running-config"]
    assert result["before"]["ports"] == result["after"]["ports"] == [
        {"port": "1/0/5", "vlans": [1, 30], "pvid": 30, "poe": True},
        {"port": "1/0/7", "vlans": [20], "pvid": 20, "poe": False}]


def test_sx_settings_create_update_delete_and_save():
    conn = FakeConn()
    settings = {
        "vlans": [{"id": 20, "name": "Verwaltung"}, {"id": 40, "name": "Telefon"}],
        "ports": [{"port": "1/0/5", "vlans": [40], "pvid": 40, "poe": True},
                  {"port": "1/0/9", "vlans": [1, 20, 40], "pvid": 1, "poe": False}],
        "syslog": [{"host": "192.168.10.6", "port": 1514, "transport": "udp"}],
    }
    result = sx_with(conn).apply_settings(settings, check_mode=False)
    assert result["changed"] is True and conn.saves == 1
    assert conn.config_sets == [[
        "vlan database", "vlan 40", "vlan name 20 Verwaltung", "vlan name 40 Telefon", "exit",
        "logging host 192.168.10.6 ipv4 1514 info", "no logging host 192.168.10.5",
        "interface 1/0/5", "vlan participation include 40", "vlan participation exclude 1",
        "vlan participation auto 30", "vlan pvid 40", "no vlan tagging 1", "exit",
        "interface 1/0/9", "vlan participation include 20,40", "vlan tagging 20,40", "no poe", "exit",
        "vlan database", "no vlan 30", "exit"]]
    assert result["before"]["vlans"] == [{"id": 20, "name": "Praxis"}, {"id": 30, "name": "Labor"}]
    assert result["after"]["vlans"] == [{"id": 20, "name": "Verwaltung"}, {"id": 40, "name": "Telefon"}]
    assert result["after"]["ports"][1] == {"port": "1/0/9", "vlans": [1, 20, 40], "pvid": 1, "poe": False}


def test_sx_settings_check_mode_writes_nothing():
    conn = FakeConn()
    result = sx_with(conn).apply_settings({"vlans": [{"id": 50, "name": "Neu"}]}, check_mode=True)
    assert result["changed"] is True
    assert conn.config_sets == [] and conn.saves == 0
    assert "no vlan 20,30" in result["commands"]


def test_sx_settings_rejected_before_any_command():
    conn = FakeConn()
    with pytest.raises(Unsupported, match="UDP only"):
        sx_with(conn).apply_settings({"syslog": [{"host": "192.168.10.5", "transport": "tcp"}]}, check_mode=False)
    with pytest.raises(Unsupported, match="wlans"):
        sx_with(conn).apply_settings({"wlans": WLANS}, check_mode=False)
    with pytest.raises(DriverError, match="uses VLAN 40"):
        sx_with(conn).apply_settings({"vlans": [{"id": 20, "name": "Praxis"}],
                                      "ports": [{"port": "1/0/3", "vlans": [20, 40]}]}, check_mode=False)
    assert conn.commands == []


# -- error mapping -------------------------------------------------------------------------------

def test_lcos_auth_failure_names_the_device_not_the_password(monkeypatch):
    calls = []

    def refuse(self, *args, **kwargs):
        calls.append(kwargs.get("password"))
        raise paramiko.AuthenticationException("Authentication failed.")

    monkeypatch.setattr(paramiko.SSHClient, "connect", refuse)
    driver = LCOSDriver(make_target(retries=3))
    with pytest.raises(AuthFailed) as err:
        driver.facts()
    assert "huber-ap01" in str(err.value) and "'admin'" in str(err.value)
    assert PASSWORD not in str(err.value) and PASSWORD not in repr(err.value.target)
    assert calls == [PASSWORD]                     # not retried


def test_sx_auth_failure_names_the_device_not_the_password(monkeypatch):
    import netmiko
    from netmiko.exceptions import NetmikoAuthenticationException

    def refuse(**params):
        raise NetmikoAuthenticationException(f"Authentication to device failed. {params['host']}")

    monkeypatch.setattr(netmiko, "ConnectHandler", refuse)
    with pytest.raises(AuthFailed) as err:
        LCOSSXDriver(make_target(role="switch")).export_config()
    assert "huber-sw01" in str(err.value) and PASSWORD not in str(err.value)


def test_transient_errors_are_retried_with_a_fresh_session():
    opened = []

    def open_session():
        opened.append(1)
        if len(opened) == 1:
            raise paramiko.SSHException("Error reading SSH protocol banner")
        return FakeShell({"sysinfo": SYSINFO})

    driver = LCOSDriver(make_target(retries=3))
    driver._open = open_session
    assert driver.facts()["hostname"] == "ap-empfang"
    assert len(opened) == 2

    class Dropping(FakeShell):
        def run(self, command, idle=None, eof_ok=False):
            raise EOFError("the device closed the session")

    shells = []
    driver = LCOSDriver(make_target(retries=3))
    driver._open = lambda: shells.append(Dropping({})) or shells[-1]
    with pytest.raises(Unreachable, match="gave up on facts after 3 attempts"):
        driver.facts()
    assert len(shells) == 3 and all(s.closed for s in shells)


LCOS_BUSY = "Error: Resource temporarily unavailable, please try again later\n"
SX_BUSY = "% Error: The system is busy, the command was not executed. Try again later.\n"


@pytest.mark.parametrize("line, kind", [
    (LCOS_BUSY, ServerError),
    (SX_BUSY, ServerError),
    ("Error: Path '/Setup/Nix' not found\n", ProtocolError),
    ("        ^\n% Invalid input detected at '^' marker.\n", ProtocolError),
    ("% Error: VLAN 4000 does not exist.\n", ProtocolError),
])
def test_error_lines_temporary_or_refused(line, kind):
    target = make_target()
    errors = lancom._error_lines(line)
    assert len(errors) == 1
    err = lancom.refusal(target, "'sysinfo'", errors[0])
    assert type(err) is kind and err.transient is (kind is ServerError)
    assert "huber-ap01" in str(err) and errors[0] in str(err)
    assert type(lancom.refusal(make_target(), "x", f"Error: {PASSWORD} busy")) is ServerError
    assert PASSWORD not in str(lancom.refusal(make_target(), "x", f"Error: {PASSWORD} busy"))


def test_temporary_error_is_retried_then_fails_naming_the_device():
    # LCOS: busy on the first sysinfo, then the answer
    answers = iter([LCOS_BUSY, SYSINFO])

    class Busy(FakeShell):
        def run(self, command, idle=None, eof_ok=False):
            self.sent.append(command)
            return next(answers)

    shell = Busy({})
    assert lcos_with(shell, retries=3).facts()["hostname"] == "ap-empfang"
    assert shell.sent == ["sysinfo", "sysinfo"]
    # always busy: bounded by retries, then a ServerError naming the device
    shell = FakeShell({"sysinfo": LCOS_BUSY, "readscript": LCOS_BUSY})
    with pytest.raises(ServerError, match="gave up on facts after 3 attempts") as err:
        lcos_with(shell, retries=3).facts()
    assert shell.sent == ["sysinfo"] * 3 and "huber-ap01" in str(err.value)
    with pytest.raises(ServerError, match="gave up on configuration export after 2 attempts"):
        lcos_with(FakeShell({"readscript": LCOS_BUSY})).export_config()

    # LCOS SX: every show command
    class BusyConn(FakeConn):
        def send_command(self, command, **kwargs):
            self.commands.append(command)
            return SX_BUSY

    conn = BusyConn()
    with pytest.raises(ServerError, match="gave up on facts after 2 attempts") as err:
        sx_with(conn).facts()
    assert conn.commands == ["show version"] * 2 and "huber-sw01" in str(err.value)
    conn = BusyConn()
    with pytest.raises(ServerError, match="gave up on settings after 2 attempts"):
        sx_with(conn).apply_settings(SX_SETTINGS, check_mode=False)
    assert conn.config_sets == []


def test_temporary_error_while_writing_settings():
    # LCOS: a set command answered busy is retried with a fresh read; the PSK stays hidden
    shell = ap_shell()
    shell.answers["set /Setup/Interfaces/WLAN/Encryption"] = f"Error: {PSK} temporarily unavailable\n"
    with pytest.raises(ServerError, match="gave up on settings after 2 attempts") as err:
        lcos_with(shell).apply_settings({"wlans": WLANS}, check_mode=False)
    assert PSK not in str(err.value) and SECRET_MASK in str(err.value)

    # LCOS SX: send_config_set stops at the "% Error" line (netmiko error_pattern) ...
    from netmiko.exceptions import ConfigInvalidException

    class BusyConfig(FakeConn):
        def send_config_set(self, lines, **kwargs):
            self.config_sets.append(list(lines))
            import re
            match = re.search(kwargs["error_pattern"], SX_BUSY, flags=re.M)
            assert match, kwargs["error_pattern"]
            raise ConfigInvalidException(f"Invalid input detected at command: {lines[0]}, "
                                         f"matched error: {match.group(0)}")

    conn = BusyConfig()
    with pytest.raises(ServerError, match="Try again later") as err:
        sx_with(conn).apply_settings({"vlans": [{"id": 50, "name": "Neu"}]}, check_mode=False)
    assert len(conn.config_sets) == 2 and "huber-sw01" in str(err.value)

    # ... and a busy "write memory" is a temporary error too
    class BusySave(FakeConn):
        def save_config(self):
            self.saves += 1
            return SX_BUSY

    conn = BusySave()
    with pytest.raises(ServerError, match="write memory failed with a temporary error"):
        sx_with(conn).apply_settings({"vlans": [{"id": 50, "name": "Neu"}]}, check_mode=False)
    assert conn.saves == 2


class StubKey:
    def get_base64(self) -> str:
        return "AAAA"

    def get_name(self) -> str:
        return "ssh-ed25519"


def _during(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize("exc, kind", [
    (ConnectionRefusedError(111, "Connection refused"), ConnectionRefused),
    (paramiko.ssh_exception.NoValidConnectionsError({("192.0.2.10", 22): ConnectionRefusedError(111, "refused")}),
     ConnectionRefused),
    (paramiko.ssh_exception.NoValidConnectionsError({("192.0.2.10", 22): OSError(113, "No route to host")}),
     Unreachable),
    (EOFError(), ConnectionDropped),
    (ConnectionResetError(104, "Connection reset by peer"), ConnectionDropped),
    (paramiko.SSHException("SSH session not active"), ConnectionDropped),
    (socket.timeout("timed out"), Timeout),
    (paramiko.BadHostKeyException("h", StubKey(), StubKey()), HostKeyMismatch),
    (paramiko.AuthenticationException("Authentication failed."), AuthFailed),
    (paramiko.AuthenticationException("Authentication failed: transport shut down or saw EOF"), ConnectionDropped),
    (_during(paramiko.AuthenticationException("Authentication failed."), EOFError()), ConnectionDropped),
    (paramiko.SSHException("Error reading SSH protocol banner"), Unreachable),
])
def test_ssh_error_mapping(exc, kind):
    mapped = lancom.map_ssh_error(make_target(), exc, "facts")
    assert type(mapped) is kind
    assert PASSWORD not in str(mapped)


def test_netmiko_error_mapping():
    from netmiko.exceptions import (
        ConfigInvalidException, NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout,
    )

    target = make_target(role="switch")
    refused = NetmikoTimeoutException("TCP connection to device failed.\n\nCommon causes")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert type(lancom.map_ssh_error(target, refused, "facts")) is ConnectionRefused
    slow = NetmikoTimeoutException("TCP connection to device failed.")
    slow.__context__ = TimeoutError("timed out")
    assert type(lancom.map_ssh_error(target, slow, "facts")) is Timeout
    assert type(lancom.map_ssh_error(target, ReadTimeout("Pattern not detected"), "facts")) is Timeout
    assert type(lancom.map_ssh_error(target, ConfigInvalidException("Invalid input"), "x")) is ProtocolError
    # netmiko reports a session the device closed during the login as "Authentication to device failed."
    dropped = NetmikoAuthenticationException("Authentication to device failed.\n\nCommon causes ...\n"
                                             "Authentication failed: transport shut down or saw EOF")
    mapped = lancom.map_ssh_error(target, dropped, "facts")
    assert type(mapped) is ConnectionDropped and "not a login problem" in str(mapped)
    assert "Authentication" not in str(mapped) and "transport shut down or saw EOF" in str(mapped)
    refused_login = NetmikoAuthenticationException("Authentication to device failed.\n\nAuthentication failed.")
    assert type(lancom.map_ssh_error(target, refused_login, "facts")) is AuthFailed
    assert lancom.map_ssh_error(target, KeyError("x"), "facts") is None
