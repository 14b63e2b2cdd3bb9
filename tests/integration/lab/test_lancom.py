"""The LANCOM emulators driven by the real clients: netmiko's
``lancom_lcossx5`` driver against the LCOS SX 5 switch, paramiko (interactive
shell with prompt detection, as our driver does, and exec) against the LCOS
access point. Firmware comes from a local HTTP server started here."""

from __future__ import annotations

import base64
import re
import socket
import time
from pathlib import Path

import paramiko
import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException

from tests.integration.lab.conftest import set_faults

from lab.lancom import LCOSAccessPoint, LCOSSXSwitch, firmware_image, ssh_host_key

PASSWORD = "Lab-Passw0rd-1"
PROMPT_RE = re.compile(r"\r\n[^\r\n]*@[^\r\n]*:/[^\r\n]*\r\n> $")


# -- helpers -----------------------------------------------------------------------------



def start_ap(lab_loop, run_dir: Path, **kwargs) -> LCOSAccessPoint:
    return lab_loop.start_device(LCOSAccessPoint, password=PASSWORD, reboot_seconds=1, run_dir=run_dir, **kwargs)


def start_switch(lab_loop, run_dir: Path, **kwargs) -> LCOSSXSwitch:
    return lab_loop.start_device(LCOSSXSwitch, password=PASSWORD, reboot_seconds=1, run_dir=run_dir, **kwargs)


def ssh_client(device, password: str = PASSWORD) -> paramiko.SSHClient:
    """paramiko client that knows the lab's shared host key (and rejects others)."""
    client = paramiko.SSHClient()
    key_type, blob = ssh_host_key(device.run_dir).export_public_key().decode().split()[:2]
    client.get_host_keys().add(f"[{device.address}]:{device.port}", key_type,
                               paramiko.Ed25519Key(data=base64.b64decode(blob)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(device.address, device.port, device.username, password, look_for_keys=False,
                   allow_agent=False, timeout=5, banner_timeout=5, auth_timeout=5)
    return client


def ssh_exec(device, command: str) -> str:
    client = ssh_client(device)
    try:
        _, stdout, _ = client.exec_command(command, timeout=20)
        return stdout.read().decode().replace("\r\n", "\n")
    finally:
        client.close()


class LCOSShell:
    """Interactive LCOS console: send a line, read until the prompt
    ``user@name:/path`` + ``> `` comes back."""

    def __init__(self, device) -> None:
        self.client = ssh_client(device)
        self.chan = self.client.invoke_shell(term="vt100", width=250, height=1000)
        self.banner = self._read()

    def _read(self, timeout: float = 20) -> str:
        buf, deadline = "", time.monotonic() + timeout
        while not PROMPT_RE.search(buf):
            if self.chan.recv_ready():
                buf += self.chan.recv(65536).decode()
            elif self.chan.exit_status_ready() or self.chan.closed:
                raise EOFError(f"session closed; got {buf!r}")
            elif time.monotonic() > deadline:
                raise TimeoutError(f"no prompt; got {buf[-300:]!r}")
            else:
                time.sleep(0.005)
        return buf

    def cmd(self, line: str) -> str:
        self.chan.send(line + "\r")
        lines = self._read().split("\r\n")
        assert lines[0] == line, lines[0]          # the echo
        return "\n".join(lines[1:-3])              # minus blank line, user@name:/path, "> "

    def close(self) -> None:
        self.client.close()


def wait_refused(device, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((device.address, device.port), timeout=0.5):
                pass
        except ConnectionRefusedError:
            return
        time.sleep(0.05)
    raise AssertionError("device never went down")


def wait_back(device, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ssh_client(device).close()
            return
        except (paramiko.ssh_exception.NoValidConnectionsError, ConnectionRefusedError):
            time.sleep(0.1)
    raise AssertionError("device did not come back")




def netmiko_params(device, password: str = PASSWORD) -> dict:
    return {"device_type": "lancom_lcossx5", "host": device.address, "port": device.port,
            "username": device.username, "password": password, "conn_timeout": 5}


# -- LCOS SX 5 switch with netmiko ---------------------------------------------------------

def test_sx5_netmiko_session_vlan_poe_save(lab_loop, lab_run_dir):
    switch = start_switch(lab_loop, lab_run_dir, name="sw-praxis")
    conn = ConnectHandler(**netmiko_params(switch))
    try:
        assert conn.base_prompt == "(sw-praxis) "
        version = conn.send_command("show version")
        assert re.search(r"^Software Version\.+ 5\.20\.0095$", version, re.M)
        assert re.search(r"^Machine Model\.+ GS-4530XP$", version, re.M)

        output = conn.send_config_set([
            "vlan database", "vlan 30", "vlan name 30 Labor", "exit",
            "interface 1/0/5", "vlan participation include 30", "vlan pvid 30",
            "poe priority high", "poe power limit user-defined 15400", "exit",
            "interface 1/0/7", "no poe", "exit",
            "logging host 192.168.10.5 514", "logging syslog",
        ])
        assert "Invalid input" not in output
        assert "(sw-praxis) (Config)#" in output
        running = lab_loop.call(lambda: switch.state["running"])
        assert running != lab_loop.call(lambda: switch.state["startup"])

        saved = conn.save_config()
        assert "Configuration Saved!" in saved
        assert lab_loop.call(lambda: switch.state["running"] == switch.state["startup"])

        config = conn.send_command("show running-config")
        assert config.startswith("!Current Configuration:")
        assert 'vlan name 30 "Labor"' in config
        block = config.split("interface 1/0/5\n", 1)[1].split("\nexit", 1)[0]
        assert block.splitlines() == ["vlan pvid 30", "vlan participation include 30",
                                      "poe priority high", "poe power limit user-defined 15400"]
        assert "interface 1/0/7\nno poe\nexit" in config
        assert "logging host 192.168.10.5 ipv4 514 info" in config

        vlans = conn.send_command("show vlan")
        assert re.search(r"^30\s+Labor\s+Static$", vlans, re.M)

        error = conn.send_command("show runing-config")
        assert "% Invalid input detected at '^' marker." in error
        width = conn.send_command("terminal width 511")          # no such command on LCOS SX 5
        assert width.splitlines()[0].index("^") == len("(sw-praxis) #terminal ")   # caret under "width"
        conn.config_mode()
        assert "% Invalid input detected" in conn.send_command("show version", expect_string=r"#")
        conn.exit_config_mode()
    finally:
        conn.disconnect()
    assert switch.requests > 10


def test_sx5_firmware_copy_reload_and_unsaved_changes(lab_loop, lab_run_dir, fw_server):
    switch = start_switch(lab_loop, lab_run_dir)
    url = fw_server("gs4530xp-5.30.0012.stk", firmware_image("LANCOM GS-4530XP", "5.30.0012", "10.02.2025"))
    conn = ConnectHandler(**netmiko_params(switch))
    yes_no = r"\(y/n\) $"
    try:
        out = conn.send_command(f"copy {url} backup", expect_string=yes_no)
        assert "Destination Filename........................... backup" in out
        out = conn.send_command("y", expect_string=r"#", read_timeout=20)
        assert "File transfer operation completed successfully." in out
        assert "Activating image backup" in conn.send_command("boot system backup")
        conn.send_config_set(["hostname unsaved-name"])       # not saved: gone after the restart
        assert "reset the system?" in conn.send_command("reload", expect_string=yes_no)
        assert "save them now?" in conn.send_command("y", expect_string=yes_no)
        assert "Configuration Not Saved!" in conn.send_command("n", expect_string=r"restart!")
        wait_refused(switch)
    finally:
        try:
            conn.disconnect()
        except (OSError, EOFError):
            pass
    wait_back(switch)
    version = ssh_exec(switch, "show version")
    assert re.search(r"^Software Version\.+ 5\.30\.0012$", version, re.M)
    assert lab_loop.call(lambda: switch.state["running"]["hostname"]) == switch.name


def test_sx5_refused_auth_raises_netmiko_auth_error(lab_loop, lab_run_dir):
    switch = start_switch(lab_loop, lab_run_dir)
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**netmiko_params(switch, password="wrong"))
    set_faults(lab_loop, switch, refuse_auth=True)
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**netmiko_params(switch))


def test_sx5_backup_faults(lab_loop, lab_run_dir):
    switch = start_switch(lab_loop, lab_run_dir)
    clean = ssh_exec(switch, "show running-config")
    assert clean.rstrip().endswith("exit")
    set_faults(lab_loop, switch, truncate_backup=True)
    cut = ssh_exec(switch, "show running-config")
    assert len(cut) < len(clean) * 0.6 and not cut.rstrip().endswith("line ssh\r\nexit\r\n!")
    set_faults(lab_loop, switch, truncate_backup=False, corrupt_backup=True)
    garbled = ssh_exec(switch, "show running-config")
    assert garbled != clean and garbled.startswith("!Current Configuration:")


# -- LCOS access point with paramiko -----------------------------------------------------------

def test_lcos_shell_readscript_set_and_restore(lab_loop, lab_run_dir):
    ap = start_ap(lab_loop, lab_run_dir, name="ap-praxis")
    shell = LCOSShell(ap)
    try:
        assert "| LANCOM LN-1700" in shell.banner and "Connection No.:" in shell.banner
        assert shell.banner.endswith("admin@ap-praxis:/\r\n> ")

        script = shell.cmd("readscript")
        lines = script.splitlines()
        assert lines[0] == "# Script (LANCOM LN-1700, 10.72.0087RU2 / 14.11.2023)"
        assert lines[2:4] == ["lang English", "flash No"]
        assert 'set /Setup/Name "ap-praxis"' in lines
        assert lines[-2:] == ["# done...", "flash Yes"]

        assert shell.cmd("cd /setup/interfaces/wlan/network") == ""
        assert shell.cmd('set WLAN-1 {Network-Name} PRAXIS-INTERN {Operating} Yes') == ""
        assert shell.cmd('set /Setup/Interfaces/WLAN/Encryption/WLAN-1 * * WPA3 "Sehr geheim 42"') == ""
        assert shell.cmd("set /Setup/VLAN/Port-Table/WLAN-1 No 20 Untagged") == ""
        assert shell.cmd("add /Setup/SYSLOG/Server 1 192.168.10.5 514") == ""
        assert shell.cmd("set /Setup/Name ap-empfang") == ""
        assert "Invalid value 'WPA9'" in shell.cmd("set /Setup/Interfaces/WLAN/Encryption/WLAN-1 * * WPA9")
        assert "Unknown command" in shell.cmd("sho version")
        table = shell.cmd("ls")
        assert re.search(r"^WLAN-1\s+PRAXIS-INTERN\s+Yes\s", table, re.M)

        script = shell.cmd("readscript")
        assert 'set /Setup/Name "ap-empfang"' in script
        assert re.search(r'^set WLAN-1\s+"PRAXIS-INTERN"\s+Yes\s', script, re.M)
        assert re.search(r'^set WLAN-1\s+Yes\s+802\.11i-WPA-PSK\s+WPA3\s+"Sehr geheim 42"', script, re.M)
        assert re.search(r"^set WLAN-1\s+No\s+20\s+Untagged", script, re.M)
        assert re.search(r'^add 1\s+"192\.168\.10\.5"\s+514', script, re.M)
        assert lab_loop.call(ap.wlans) == [{"ifc": "WLAN-1", "ssid": "PRAXIS-INTERN", "vlan": 20,
                                            "encryption": "WPA3", "psk": "Sehr geheim 42"}]

        # A readscript played back restores the configuration.
        saved_setup = lab_loop.call(lambda: repr(ap.state["setup"]))
        shell.cmd("set /Setup/Interfaces/WLAN/Network/WLAN-1 {Network-Name} CHANGED")
        shell.cmd("del /Setup/SYSLOG/Server/1")
        for line in script.splitlines():
            if line.strip():
                assert "Error" not in shell.cmd(line), line
        assert lab_loop.call(lambda: repr(ap.state["setup"])) == saved_setup
    finally:
        shell.close()


def test_lcos_exec_sysinfo_and_latency(lab_loop, lab_run_dir):
    ap = start_ap(lab_loop, lab_run_dir)
    info = ssh_exec(ap, "sysinfo")
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    assert fields["DEVICE"] == "LANCOM LN-1700"
    assert fields["VERSION"] == "10.72.0087RU2 / 14.11.2023"
    assert re.fullmatch(r"\d{16}", fields["SERIAL-NUMBER"])
    assert fields["NAME"] == ap.name and "UPTIME" in fields

    set_faults(lab_loop, ap, latency=0.6)
    t0 = time.monotonic()
    ssh_exec(ap, "sysinfo")
    assert time.monotonic() - t0 >= 0.6
    set_faults(lab_loop, ap, latency=0.0)


def test_lcos_loadfirmware_reboots_into_new_version(lab_loop, lab_run_dir, fw_server):
    ap = start_ap(lab_loop, lab_run_dir)
    url = fw_server("LN-1700-10.80.0100.upx", firmware_image("LANCOM LN-1700", "10.80.0100", "20.05.2025"))
    shell = LCOSShell(ap)
    try:
        shell.cmd("flash No")
        shell.cmd("set /Setup/Name not-flashed")     # RAM only: lost on the restart
        out = shell.cmd(f"LoadFirmware {url}")
        assert "firmware 10.80.0100 / 20.05.2025" in out and "restarts now" in out
    finally:
        shell.close()
    wait_refused(ap)
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError):
        ssh_client(ap)
    wait_back(ap)
    info = ssh_exec(ap, "sysinfo")
    assert "VERSION: 10.80.0100 / 20.05.2025" in info
    assert f"NAME: {ap.name}" in info


def test_lcos_loadfirmware_refuses_same_older_and_foreign(lab_loop, lab_run_dir, fw_server):
    ap = start_ap(lab_loop, lab_run_dir)
    older = fw_server("LN-1700-10.70.0050.upx", firmware_image("LANCOM LN-1700", "10.70.0050", "01.06.2023"))
    same = fw_server("LN-1700-same.upx", firmware_image("LANCOM LN-1700", "10.72.0087RU2", "14.11.2023"))
    foreign = fw_server("LN-830-10.90.upx", firmware_image("LANCOM LN-830E", "10.90.0001", "01.01.2026"))
    shell = LCOSShell(ap)
    try:
        out = shell.cmd(f"LoadFirmware {older}")
        assert "Error: Firmware 10.70.0050 is not newer than the active firmware 10.72.0087RU2" in out
        assert "not newer" in shell.cmd(f"LoadFirmware {same}")
        assert "not for this device" in shell.cmd(f"LoadFirmware {foreign}")
        assert "Download failed" in shell.cmd(f"LoadFirmware {older}.missing")
        assert "10.72.0087RU2" in shell.cmd("sysinfo")   # still up, same session
    finally:
        shell.close()
    assert lab_loop.call(lambda: ap.up and not ap.rebooting)


# -- fault modes seen by the client ----------------------------------------------------------

def test_lcos_refused_auth(lab_loop, lab_run_dir):
    ap = start_ap(lab_loop, lab_run_dir)
    with pytest.raises(paramiko.AuthenticationException):
        ssh_client(ap, password="wrong")
    set_faults(lab_loop, ap, refuse_auth=True)
    with pytest.raises(paramiko.AuthenticationException):
        ssh_client(ap)
    set_faults(lab_loop, ap, refuse_auth=False)
    ssh_client(ap).close()


def test_lcos_drop_after_auth(lab_loop, lab_run_dir):
    ap = start_ap(lab_loop, lab_run_dir)
    set_faults(lab_loop, ap, drop_rate=1.0)
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        shell = LCOSShell(ap)
        shell.cmd("sysinfo")
    set_faults(lab_loop, ap, drop_rate=0.0)
    assert "DEVICE:" in ssh_exec(ap, "sysinfo")


def test_lcos_error_rate_answers_a_temporary_error_line(lab_loop, lab_run_dir):
    ap = start_ap(lab_loop, lab_run_dir, name="ap-fehler")
    set_faults(lab_loop, ap, error_rate=1.0)
    assert ssh_exec(ap, "sysinfo").strip() == "Error: Resource temporarily unavailable, please try again later"
    shell = LCOSShell(ap)
    try:
        for line in ("sysinfo", "readscript", "set /Setup/Name geaendert"):
            answer = shell.cmd(line)
            assert answer == "Error: Resource temporarily unavailable, please try again later", line
        assert lab_loop.call(lambda: ap.device_name) == "ap-fehler"      # nothing was changed
        set_faults(lab_loop, ap, error_rate=0.0)
        assert "DEVICE:" in shell.cmd("sysinfo")
        set_faults(lab_loop, ap, error_rate=1.0)
        shell.chan.send("exit\r")                  # leaving the console is never refused
        deadline = time.monotonic() + 5
        while not shell.chan.exit_status_ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert shell.chan.exit_status_ready()
    finally:
        shell.close()


def test_sx5_error_rate_answers_a_temporary_error_line(lab_loop, lab_run_dir):
    switch = start_switch(lab_loop, lab_run_dir, name="sw-fehler")
    set_faults(lab_loop, switch, error_rate=1.0)
    busy = "% Error: The system is busy, the command was not executed. Try again later."
    conn = ConnectHandler(**netmiko_params(switch))     # enable, terminal length 0 still work
    try:
        assert conn.base_prompt == "(sw-fehler) "
        assert conn.send_command("show version").strip() == busy
        output = conn.send_config_set(["hostname geaendert"])
        assert busy in output
        assert lab_loop.call(lambda: switch.state["running"]["hostname"]) == "sw-fehler"
        set_faults(lab_loop, switch, error_rate=0.0)
        assert "Software Version" in conn.send_command("show version")
    finally:
        conn.disconnect()


def test_lcos_truncated_and_corrupt_readscript(lab_loop, lab_run_dir):
    ap = start_ap(lab_loop, lab_run_dir)
    clean = ssh_exec(ap, "readscript")
    assert clean.rstrip().endswith("flash Yes")
    set_faults(lab_loop, ap, truncate_backup=True)
    cut = ssh_exec(ap, "readscript")
    assert "# done..." not in cut and len(cut) < len(clean) * 0.6
    set_faults(lab_loop, ap, truncate_backup=False, corrupt_backup=True)
    garbled = ssh_exec(ap, "readscript")
    body = lambda text: text.splitlines()[2:]  # noqa: E731 - the second line is a timestamp
    assert body(garbled) != body(clean) and len(body(garbled)) == len(body(clean))
    assert garbled.startswith("# Script (")


def test_lcos_firmware_fail(lab_loop, lab_run_dir, fw_server):
    ap = start_ap(lab_loop, lab_run_dir)
    url = fw_server("LN-1700-10.80.0200.upx", firmware_image("LANCOM LN-1700", "10.80.0200", "01.07.2025"))
    set_faults(lab_loop, ap, firmware_fail=True)
    out = ssh_exec(ap, f"LoadFirmware {url}")
    assert "Error: Writing the firmware to flash memory failed" in out
    time.sleep(0.8)
    assert lab_loop.call(lambda: ap.up and not ap.rebooting)
    assert "VERSION: 10.72.0087RU2" in ssh_exec(ap, "sysinfo")


def test_lcos_reboot_never_returns(lab_loop, lab_run_dir, fw_server):
    ap = start_ap(lab_loop, lab_run_dir)
    url = fw_server("LN-1700-10.80.0300.upx", firmware_image("LANCOM LN-1700", "10.80.0300", "01.08.2025"))
    set_faults(lab_loop, ap, reboot_never_returns=True)
    assert "restarts now" in ssh_exec(ap, f"LoadFirmware {url}")
    wait_refused(ap)
    time.sleep(ap.reboot_seconds + 1)
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError):
        ssh_client(ap)
    assert lab_loop.call(lambda: ap.up) is False
