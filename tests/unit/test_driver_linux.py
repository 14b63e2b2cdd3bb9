"""Linux (nftables / Samba) driver with the SSH seam (LinuxDriver._exec)
answered by an in-test host: parsers, exit-code handling, configuration
checks, settings branches and the paramiko error mapping."""

from __future__ import annotations

import base64
import json
import shlex
import socket

import paramiko
import pytest

from ansible.module_utils.praxis_backup import mask_secrets
from ansible.module_utils.praxis_driver import (
    AuthFailed, ConnectionRefused, DriverError, ProtocolError, Target, Timeout, Unreachable, Unsupported,
)
from ansible.module_utils.praxis_driver_linux import (
    DRIVER, NFT_CONF, NFT_FILE, NFT_INCLUDE, SYSLOG_FILE, LinuxDriver, cpu_percent, parse_df, parse_facts,
    parse_smart, render_rules, render_syslog,
)

USER_PASSWORD = "Smb-Secret-4711"

FACTS_OUTPUT = """
@@hostname
praxis-fw
@@kernel
6.1.0-28-amd64
@@debian
12.8
@@os
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
@@serial
To be filled by O.E.M.
@@uptime
12345.67 40000.00
@@stat1
cpu  1000 0 500 8000 500 0 0 0 0 0
@@stat2
cpu  1100 0 550 8300 550 0 0 0 0 0
@@meminfo
MemTotal:        4000000 kB
MemFree:          500000 kB
MemAvailable:    3000000 kB
@@thermal
41000
52500
@@df
/dev/sda2          30000000  9000000  19500000      32% /
/dev/sda2          30000000  9000000  19500000      32% /
/dev/md0          900000000 450000000 450000000     50% /srv/samba
"""

SMART_GOOD = {"model_name": "WDC WD40EFPX", "smart_status": {"passed": True}, "temperature": {"current": 33},
              "ata_smart_attributes": {"table": [{"id": 5, "when_failed": "", "raw": {"value": 0}}]}}
SMART_WORN = {"model_name": "WDC WD40EFPX", "smart_status": {"passed": True}, "temperature": {"current": 35},
              "ata_smart_attributes": {"table": [{"id": 5, "when_failed": "", "raw": {"value": 24}}]}}
SMART_FAILED = {"model_name": "ST4000VN006", "smart_status": {"passed": False}, "temperature": {"current": 40},
                "ata_smart_attributes": {"table": [{"id": 5, "when_failed": "now", "raw": {"value": 3000}}]}}

NFT_RULESET = """table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 22 accept comment "ssh {admin}"
\t}
}
"""
SMB_CONF = """# Global parameters
[global]
\tserver role = standalone server
\tunix password sync = Yes
\tldap admin password = hunter22

[daten]
\tpath = /srv/samba/daten
"""


class FakeHost:
    """What the driver sees of a Debian host through ``_exec``."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {NFT_CONF: "#!/usr/sbin/nft -f\nflush ruleset\n"}
        self.loaded = False
        self.passwd = ["root:x:0:0:root:/root:/bin/bash", "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin"]
        self.samba: set[str] = set()
        self.commands: list[tuple[str, bytes | None]] = []
        self.restarts = 0
        self.fail: dict[str, tuple[int, str]] = {}       # substring of the script -> (exit, stderr)
        self.facts_output = FACTS_OUTPUT

    def exec(self, command: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        argv = shlex.split(command)
        assert argv[:5] == ["env", "LC_ALL=C", "LANG=C", "/bin/sh", "-c"], command
        script = argv[5]
        self.commands.append((script, stdin))
        for needle, (status, err) in self.fail.items():
            if needle in script:
                return status, b"", err.encode()
        return 0, self.answer(script, stdin).encode(), b""

    def _b64(self, name: str, path: str) -> str:
        if path not in self.files:
            return f"@@{name} none\n"
        return f"@@{name} b64:{base64.b64encode(self.files[path].encode()).decode()}\n"

    def answer(self, script: str, stdin: bytes | None) -> str:
        if "@@%s" in script and "stat1" in script:
            return self.facts_output
        if script.startswith("r() {"):
            out = ""
            if f"r nft {NFT_FILE}" in script:
                out += self._b64("nft", NFT_FILE) + self._b64("conf", NFT_CONF)
                out += f"@@loaded {'yes' if self.loaded else 'no'}\n"
            if f"r syslog {SYSLOG_FILE}" in script:
                out += self._b64("syslog", SYSLOG_FILE)
            if "getent passwd" in script:
                passwd = "\n".join(self.passwd) + "\n"
                samba = "".join(f"{name}:1000:\n" for name in sorted(self.samba))
                out += f"@@passwd b64:{base64.b64encode(passwd.encode()).decode()}\n"
                out += f"@@samba b64:{base64.b64encode(samba.encode()).decode()}\n"
            return out
        if f'mv -f "$tmp" {NFT_FILE}' in script:
            assert 'nft -c -f "$tmp"' in script and f"nft -f {NFT_FILE}" in script
            self.files[NFT_FILE] = stdin.decode()
            self.loaded = True
            return ""
        for path in (NFT_CONF, SYSLOG_FILE):
            if f'mv -f "$tmp" {path}' in script:
                self.files[path] = stdin.decode()
                self.restarts += "service rsyslog restart" in script
                return ""
        if script.startswith(f"rm -f {SYSLOG_FILE}"):
            self.files.pop(SYSLOG_FILE, None)
            self.restarts += 1
            return ""
        argv = shlex.split(script.replace(">/dev/null", ""))
        if argv[0] == "useradd":
            comment = argv[argv.index("--comment") + 1]
            self.passwd.append(f"{argv[-1]}:x:1001:1001:{comment}:/home/{argv[-1]}:/usr/sbin/nologin")
            return ""
        if argv[0] == "usermod":
            comment, name = argv[2], argv[3]
            self.passwd = [line if line.split(":")[0] != name else ":".join(
                line.split(":")[:4] + [comment] + line.split(":")[5:]) for line in self.passwd]
            return ""
        if argv[0] == "userdel":
            self.passwd = [line for line in self.passwd if line.split(":")[0] != argv[1]]
            return ""
        if argv[:3] == ["smbpasswd", "-a", "-s"]:
            assert stdin is not None
            self.samba.add(argv[3])
            return "Added user.\n"
        if argv[:2] == ["smbpasswd", "-x"]:
            self.samba.discard(argv[2])
            return ""
        if script == "nft list ruleset":
            return NFT_RULESET
        if script == "testparm -s":
            return SMB_CONF
        raise AssertionError(f"unexpected script {script!r}")

    def writes(self) -> list[str]:
        return [s for s, _ in self.commands if not s.startswith("r() {")]


@pytest.fixture
def host(monkeypatch) -> FakeHost:
    fake = FakeHost()
    monkeypatch.setattr(LinuxDriver, "_exec", lambda self, command, stdin=None: fake.exec(command, stdin))
    return fake


def target(role: str = "firewall", **kwargs) -> Target:
    values = dict(site="praxis1", name="fw" if role == "firewall" else "nas", vendor="linux", role=role,
                  address="192.0.2.20", model="APU4", username="root", private_key_file="/nonexistent/key",
                  retries=2, retry_delay=0.0, timeout=3)
    values.update(kwargs)
    return Target(**values)


RULES = [
    {"description": "Web nur aus dem Praxisnetz", "action": "pass", "interface": "eth1", "direction": "in",
     "protocol": "tcp", "source_net": "192.168.10.0/24", "destination_net": "any", "destination_port": "80,443",
     "sequence": 20},
    {"description": "Telnet sperren", "action": "reject", "interface": "any", "direction": "in",
     "protocol": "tcp", "source_net": "any", "destination_net": "any", "destination_port": 23, "sequence": 10},
    {"description": "kein DNS nach draussen", "action": "block", "interface": "eth0", "direction": "out",
     "protocol": "tcp/udp", "destination_net": "2001:db8::53", "destination_port": "53", "sequence": 30},
]


def chain(text: str, name: str) -> str:
    """The body of one chain of a rendered rules file (chains end with a tab and '}')."""
    return text.split(f"\tchain {name} {{\n", 1)[1].split("\n\t}\n", 1)[0]


# -- parsers ---------------------------------------------------------------------------------

def test_driver_registration():
    assert DRIVER is LinuxDriver and LinuxDriver.vendor == "linux" and LinuxDriver.config_suffix == ".conf"
    assert LinuxDriver.settings_supported == {"firewall": ("rules", "syslog"), "nas": ("users", "syslog")}


def test_parse_facts():
    facts = parse_facts(FACTS_OUTPUT, "APU4")
    assert facts["hostname"] == "praxis-fw" and facts["model"] == "APU4"
    assert facts["serial"] is None                      # DMI placeholder text
    assert facts["firmware_version"] == "Debian 12.8 / 6.1.0-28-amd64"
    assert facts["uptime_seconds"] == 12345
    assert facts["cpu_percent"] == 30.0                 # 150 busy of 500 ticks (idle + iowait 350)
    assert facts["memory_percent"] == 25.0
    assert facts["temperature_c"] == 52.5
    assert facts["disks"] is None                       # no smartctl section
    assert facts["volumes"] == [{"id": "/", "status": "normal", "used_percent": 31.6},
                                {"id": "/srv/samba", "status": "normal", "used_percent": 50.0}]
    assert facts["signature_date"] is None


def test_parse_facts_without_debian_version_or_thermal_zone():
    text = FACTS_OUTPUT.replace("@@debian\n12.8\n", "@@debian\n").replace("41000\n52500\n", "")
    facts = parse_facts(text, "")
    assert facts["firmware_version"] == "Debian GNU/Linux 12 (bookworm) / 6.1.0-28-amd64"
    assert facts["temperature_c"] is None and facts["model"] is None


def test_cpu_and_df_edge_cases():
    assert cpu_percent("cpu 1 0 1 10 0", "cpu 1 0 1 10 0") == 0.0
    assert cpu_percent("garbage", "cpu 1 0 1 10 0") is None
    assert parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\n") == []
    assert parse_df("tank 10 0 0 0% /mnt/my share")[0]["id"] == "/mnt/my share"


def test_smart_disks():
    assert parse_smart("/dev/sda", json.dumps(SMART_GOOD)) == {
        "id": "sda", "model": "WDC WD40EFPX", "status": "normal", "smart": "normal", "temperature_c": 33}
    assert parse_smart("/dev/sdb", json.dumps(SMART_WORN))["smart"] == "warning"
    failed = parse_smart("/dev/sdc", json.dumps(SMART_FAILED))
    assert failed["smart"] == "failing" and failed["status"] == "failing"
    assert parse_smart("/dev/sdd", "not json")["status"] == "warning"
    text = FACTS_OUTPUT + "@@smartctl\n@@disk /dev/sda\n" + json.dumps(SMART_GOOD) + \
        "\n@@disk /dev/sdc\n" + json.dumps(SMART_FAILED, indent=1) + "\n"
    disks = parse_facts(text, "x")["disks"]
    assert [(d["id"], d["status"]) for d in disks] == [("sda", "normal"), ("sdc", "failing")]


def test_facts_use_one_command(host):
    facts = LinuxDriver(target()).facts()
    assert facts["hostname"] == "praxis-fw"
    assert len(host.commands) == 1
    assert host.commands[0][0].startswith("SHARES=0\n")
    LinuxDriver(target("nas")).facts()
    assert host.commands[1][0].startswith("SHARES=1\n")


def test_facts_without_uptime_are_a_protocol_error(host):
    host.facts_output = "@@hostname\nx\n"
    with pytest.raises(ProtocolError, match="reading facts"):
        LinuxDriver(target()).facts()


# -- commands --------------------------------------------------------------------------------

def test_failed_command_names_it_and_scrubs_secrets(host):
    driver = LinuxDriver(target(password="key-passphrase-1"))
    host.fail["nft list ruleset"] = (1, "Error: something\nwith key-passphrase-1 in it\n")
    with pytest.raises(ProtocolError) as err:
        driver.export_config()
    message = str(err.value)
    assert "exporting the nftables ruleset failed (exit 1, `nft list ruleset`)" in message
    assert "key-passphrase-1" not in message and "********" in message
    assert "praxis1-fw" in message


def test_session_ending_without_status_is_unreachable(monkeypatch):
    monkeypatch.setattr(LinuxDriver, "_exec", lambda self, command, stdin=None: (-1, b"", b""))
    with pytest.raises(Unreachable):
        LinuxDriver(target()).facts()


# -- configuration export --------------------------------------------------------------------

def test_export_by_role(host):
    assert LinuxDriver(target()).export_config() == NFT_RULESET.encode()
    assert LinuxDriver(target("nas")).export_config() == SMB_CONF.encode()
    with pytest.raises(Unsupported):
        LinuxDriver(target("switch")).export_config()


def test_validate_good_configs():
    LinuxDriver.validate_config(NFT_RULESET.encode())
    LinuxDriver.validate_config(SMB_CONF.encode())
    LinuxDriver.validate_config(render_rules(RULES).encode())


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (NFT_RULESET[: len(NFT_RULESET) // 2].encode(), "not closed"),
    (b"table inet filter {\n}\n}\n", "without"),
    (b"table inet {\n}\n", "not an nftables ruleset"),
    (b"[global]\nserver role = standalone\nthis line is broken\n", "neither a \\[section\\]"),
    (b"workgroup = X\n[global]\n", "before any \\[section\\]"),
    (b"\x00\x01garbage", "neither an nftables ruleset"),
])
def test_validate_bad_configs(content, message):
    with pytest.raises(ValueError, match=message):
        LinuxDriver.validate_config(content)


def test_secret_patterns_mask_password_values_only():
    masked = mask_secrets(SMB_CONF, LinuxDriver.secret_patterns)
    assert "hunter22" not in masked and "ldap admin password = ********" in masked
    assert "unix password sync = Yes" in masked and "server role = standalone server" in masked


def test_firmware_is_left_to_the_patch_service():
    with pytest.raises(Unsupported, match="patch service"):
        LinuxDriver(target()).firmware_status()
    with pytest.raises(Unsupported, match="patch service"):
        LinuxDriver(target()).start_firmware_update()


# -- rules -----------------------------------------------------------------------------------

def test_render_rules():
    text = render_rules(RULES)
    input_chain, forward_chain, output_chain = (chain(text, name) for name in ("input", "forward", "output"))
    telnet = 'meta l4proto tcp th dport 23 reject comment "Telnet sperren"'
    web = ('iifname "eth1" meta l4proto tcp ip saddr 192.168.10.0/24 th dport { 80, 443 } accept '
           'comment "Web nur aus dem Praxisnetz"')
    dns = 'oifname "eth0" meta l4proto { tcp, udp } ip6 daddr 2001:db8::53 th dport 53 drop'
    assert input_chain.index(telnet) < input_chain.index(web)        # sequence 10 before 20
    assert dns not in input_chain and dns in forward_chain and dns in output_chain
    assert web in forward_chain and web not in output_chain
    assert text.startswith("#!/usr/sbin/nft -f\n")
    assert "table inet praxisops\ndelete table inet praxisops\ntable inet praxisops {" in text
    assert render_rules(list(reversed(RULES))) == text
    assert render_rules([]).count("ct state established,related accept") == 3


@pytest.mark.parametrize("rule, message", [
    ({"action": "allow"}, "action"),
    ({"direction": "both"}, "direction"),
    ({"protocol": "gre"}, "protocol"),
    ({"protocol": "icmp", "destination_port": 80}, "needs protocol"),
    ({"protocol": "tcp", "destination_port": "70000"}, "not a port"),
    ({"protocol": "tcp", "destination_port": "90-80"}, "not a port"),
    ({"source_net": "10.0.0.0/33"}, "not an address"),
    ({"source_net": "10.0.0.1, 2001:db8::1"}, "mixes"),
    ({"source_net": "10.0.0.1", "destination_net": "2001:db8::1"}, "different IP versions"),
    ({"interface": 'eth0" accept'}, "interface"),
    ({"sequence": "first"}, "sequence"),
])
def test_render_rules_refuses_bad_input(rule, message):
    with pytest.raises(ValueError, match=message):
        render_rules([rule])


def test_comment_cannot_break_out():
    text = render_rules([{"description": 'x" drop; table ip evil {\n', "action": "pass"}])
    assert 'comment "x drop; table ip evil {"' in text
    LinuxDriver.validate_config(text.encode())


def test_rules_converge(host):
    driver = LinuxDriver(target())
    checked = driver.apply_settings({"rules": RULES}, check_mode=True)
    assert checked["changed"] is True and checked["before"]["rules"] is None
    assert host.writes() == []

    result = driver.apply_settings({"rules": RULES}, check_mode=False)
    assert result["changed"] is True and result["after"]["rules"] == render_rules(RULES)
    assert host.files[NFT_FILE] == render_rules(RULES) and host.loaded
    assert host.files[NFT_CONF].endswith(NFT_INCLUDE + "\n")
    assert host.files[NFT_CONF].startswith("#!/usr/sbin/nft -f\nflush ruleset\n")
    assert len(host.writes()) == 2

    again = driver.apply_settings({"rules": RULES}, check_mode=False)
    assert again["changed"] is False and again["before"] == again["after"]
    assert len(host.writes()) == 2


def test_rules_reloaded_when_the_table_is_gone(host):
    driver = LinuxDriver(target())
    driver.apply_settings({"rules": RULES}, check_mode=False)
    host.loaded = False                                  # e.g. someone ran "nft flush ruleset"
    assert driver.apply_settings({"rules": RULES}, check_mode=False)["changed"] is True
    assert host.loaded and len(host.writes()) == 3       # the include was already there


def test_rules_rejected_by_nft_leave_the_host_alone(host):
    host.fail['nft -c -f "$tmp"'] = (1, "/etc/nftables.d/.praxisops.nft.x:7:1-4: Error: syntax error")
    with pytest.raises(ProtocolError, match="installing the nftables rules failed .*syntax error"):
        LinuxDriver(target()).apply_settings({"rules": RULES}, check_mode=False)
    assert NFT_FILE not in host.files and NFT_INCLUDE not in host.files[NFT_CONF]


def test_bad_rules_are_refused_before_anything_runs(host):
    with pytest.raises(ValueError):
        LinuxDriver(target()).apply_settings({"rules": [{"action": "allow"}]}, check_mode=False)
    assert host.commands == []


def test_nas_does_not_take_rules(host):
    with pytest.raises(Unsupported, match="settings rules"):
        LinuxDriver(target("nas")).apply_settings({"rules": RULES}, check_mode=True)
    with pytest.raises(Unsupported, match="settings users"):
        LinuxDriver(target()).apply_settings({"users": []}, check_mode=True)


# -- syslog ----------------------------------------------------------------------------------

SYSLOG = [{"host": "10.1.0.5", "port": 514, "transport": "udp", "description": "Log-Server"},
          {"host": "logs.provider.example", "port": 6514, "transport": "tcp"}]


def test_render_syslog():
    text = render_syslog(SYSLOG)
    assert '*.* action(type="omfwd" target="10.1.0.5" port="514" protocol="udp")' in text
    assert ('*.* action(type="omfwd" target="logs.provider.example" port="6514" protocol="tcp" '
            'queue.type="LinkedList"') in text
    assert "# Log-Server" in text
    assert render_syslog([]) is None
    for bad in ([{"host": "a b"}], [{"host": "x", "transport": "relp"}], [{"host": "x", "port": 0}]):
        with pytest.raises(ValueError):
            render_syslog(bad)


def test_syslog_converges_and_restarts_only_on_change(host):
    driver = LinuxDriver(target())
    assert driver.apply_settings({"syslog": SYSLOG}, check_mode=True)["changed"] is True
    assert host.writes() == [] and host.restarts == 0
    result = driver.apply_settings({"syslog": SYSLOG}, check_mode=False)
    assert result["changed"] is True and host.files[SYSLOG_FILE] == render_syslog(SYSLOG)
    assert host.restarts == 1
    assert 'rsyslogd -N1 -f "$tmp"' in host.writes()[0]
    assert driver.apply_settings({"syslog": SYSLOG}, check_mode=False)["changed"] is False
    assert host.restarts == 1
    removed = driver.apply_settings({"syslog": []}, check_mode=False)
    assert removed["changed"] is True and removed["after"]["syslog"] is None
    assert SYSLOG_FILE not in host.files and host.restarts == 2
    assert driver.apply_settings({"syslog": []}, check_mode=False)["changed"] is False


def test_install_script_is_atomic_with_explicit_mode(host):
    LinuxDriver(target()).apply_settings({"syslog": SYSLOG}, check_mode=False)
    script = host.writes()[0]
    assert "tmp=$(mktemp /etc/rsyslog.d/.60-praxisops-forward.conf.XXXXXX)" in script
    assert 'chmod 0644 "$tmp"' in script and f'mv -f "$tmp" {SYSLOG_FILE}' in script
    assert script.index("rsyslogd -N1") < script.index("mv -f") < script.index("service rsyslog restart")


# -- users -----------------------------------------------------------------------------------

def nas_user(**kwargs):
    user = {"name": "empfang", "description": "Empfang", "email": "empfang@praxis.example",
            "password": USER_PASSWORD}
    user.update(kwargs)
    return user


def test_user_created_password_on_stdin_only(host):
    driver = LinuxDriver(target("nas"))
    result = driver.apply_settings({"users": [nas_user()]}, check_mode=False)
    assert result["changed"] is True
    assert result["before"] == {"users": [{"name": "empfang", "state": "absent"}]}
    assert result["after"] == {"users": [{"name": "empfang", "state": "present", "description": "Empfang",
                                          "email": "empfang@praxis.example"}]}
    assert USER_PASSWORD not in json.dumps(result)
    assert all(USER_PASSWORD not in script for script, _ in host.commands)
    (stdin,) = [s for _, s in host.commands if s is not None]
    assert stdin == f"{USER_PASSWORD}\n{USER_PASSWORD}\n".encode()
    useradd = next(s for s in host.writes() if s.startswith("useradd"))
    assert "--shell /usr/sbin/nologin" in useradd and "--comment Empfang,,,,empfang@praxis.example" in useradd
    assert "empfang" in host.samba

    again = driver.apply_settings({"users": [nas_user(password="Other-Secret-9")]}, check_mode=False)
    assert again["changed"] is False and again["before"] == again["after"]
    assert len(host.writes()) == 2                     # useradd + smbpasswd, nothing more


def test_user_comment_updated_without_touching_the_password(host):
    host.passwd.append("empfang:x:1001:1001:Alt,,,,alt@praxis.example:/home/empfang:/usr/sbin/nologin")
    host.samba.add("empfang")
    result = LinuxDriver(target("nas")).apply_settings({"users": [nas_user(email=None)]}, check_mode=False)
    assert result["changed"] is True
    assert host.writes() == ["usermod --comment Empfang,,,,alt@praxis.example empfang"]
    assert result["after"]["users"][0]["email"] == "alt@praxis.example"


def test_user_removed(host):
    host.passwd.append("alt:x:1002:1002:Alt:/home/alt:/usr/sbin/nologin")
    host.samba.add("alt")
    result = LinuxDriver(target("nas")).apply_settings({"users": [{"name": "alt", "state": "absent"}]},
                                                       check_mode=False)
    assert result["changed"] is True
    assert host.writes() == ["smbpasswd -x alt", "userdel alt"]
    assert result["after"]["users"] == [{"name": "alt", "state": "absent"}]
    assert LinuxDriver(target("nas")).apply_settings(
        {"users": [{"name": "alt", "state": "absent"}]}, check_mode=False)["changed"] is False


def test_user_check_mode_writes_nothing(host):
    host.passwd.append("alt:x:1002:1002:Alt:/home/alt:/usr/sbin/nologin")
    result = LinuxDriver(target("nas")).apply_settings(
        {"users": [nas_user(), {"name": "alt", "state": "absent"}]}, check_mode=True)
    assert result["changed"] is True and host.writes() == []


def test_system_accounts_are_not_managed(host):
    with pytest.raises(DriverError, match="system account"):
        LinuxDriver(target("nas")).apply_settings({"users": [{"name": "backup", "state": "absent"}]},
                                                  check_mode=False)
    assert host.writes() == []


@pytest.mark.parametrize("user, message", [
    ({"name": "empfang"}, "no password is given"),
    ({"name": "Empfang Praxis", "password": "x1234"}, "Linux user name"),
    ({"name": "a", "description": "a,b", "password": "x1234"}, "without ','"),
    ({"name": "a", "state": "gone"}, "present or absent"),
    ({"name": "a", "password": "two\nlines"}, "one line"),
])
def test_bad_users_change_nothing(host, user, message):
    with pytest.raises(ValueError, match=message):
        LinuxDriver(target("nas")).apply_settings({"users": [user]}, check_mode=False)
    assert host.writes() == []


def test_failed_smbpasswd_does_not_reveal_the_password(host):
    host.fail["smbpasswd -a"] = (1, f"Failed to add entry for user empfang ({USER_PASSWORD}).")
    with pytest.raises(ProtocolError) as err:
        LinuxDriver(target("nas")).apply_settings({"users": [nas_user()]}, check_mode=False)
    assert USER_PASSWORD not in str(err.value) and "adding Samba user empfang failed" in str(err.value)


# -- SSH session -----------------------------------------------------------------------------

@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "id_rsa"
    paramiko.RSAKey.generate(1024).write_private_key_file(str(path))
    return str(path)


def failing_connect(monkeypatch, exc):
    calls = []

    def connect(self, *args, **kwargs):
        calls.append(kwargs)
        raise exc
    monkeypatch.setattr(paramiko.SSHClient, "connect", connect)
    return calls


def test_refused_key_is_auth_failed_without_retry(monkeypatch, key_file):
    calls = failing_connect(monkeypatch, paramiko.AuthenticationException("Authentication failed."))
    with pytest.raises(AuthFailed) as err:
        LinuxDriver(target(private_key_file=key_file)).facts()
    assert len(calls) == 1 and err.value.kind == "auth" and "as root" in str(err.value)
    kwargs = calls[0]
    assert kwargs["allow_agent"] is False and kwargs["look_for_keys"] is False and kwargs["pkey"] is not None
    assert kwargs["port"] == 22 and kwargs["username"] == "root"


def test_connection_refused_is_unreachable_after_retries(monkeypatch, key_file):
    calls = failing_connect(monkeypatch, paramiko.ssh_exception.NoValidConnectionsError(
        {("192.0.2.20", 22): ConnectionRefusedError(111, "Connection refused")}))
    with pytest.raises(ConnectionRefused, match="after 2 attempts") as err:
        LinuxDriver(target(private_key_file=key_file)).facts()
    assert len(calls) == 2 and isinstance(err.value, Unreachable) and "connection refused on port" in str(err.value)


def test_connect_timeout_is_timeout(monkeypatch, key_file):
    failing_connect(monkeypatch, socket.timeout("timed out"))
    with pytest.raises(Timeout, match="no answer within 3 s during SSH login"):
        LinuxDriver(target(private_key_file=key_file, retries=1)).facts()


def test_missing_or_broken_key_is_auth_failed(tmp_path):
    with pytest.raises(AuthFailed, match="cannot be used"):
        LinuxDriver(target(private_key_file=str(tmp_path / "missing"))).facts()
    broken = tmp_path / "broken"
    broken.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(AuthFailed):
        LinuxDriver(target(private_key_file=str(broken))).facts()
    with pytest.raises(AuthFailed, match="no SSH private key"):
        LinuxDriver(target(private_key_file=None)).facts()


def test_pinned_host_key_and_policy(key_file):
    public = paramiko.RSAKey(filename=key_file)
    driver = LinuxDriver(target(private_key_file=key_file, port=2222,
                                options={"host_key": f"ssh-rsa {public.get_base64()} comment"}))
    client = driver._client()
    assert client.get_host_keys().lookup("[192.0.2.20]:2222")["ssh-rsa"] == public
    # a key in neither known_hosts nor options.host_key goes to the identity store
    assert type(client._policy).__name__ == "IdentityPolicy"
    loose = LinuxDriver(target(private_key_file=key_file, options={"host_key_checking": False}))._client()
    assert isinstance(loose._policy, paramiko.AutoAddPolicy)
    with pytest.raises(ProtocolError, match="not an SSH public key"):
        LinuxDriver(target(options={"host_key": "ssh-rsa"}))._client()

