# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Driver for Debian hosts that serve as a practice's firewall (nftables) or
NAS (Samba), reached over SSH with paramiko and key authentication.

Sources of the facts used here (no code taken over):

* proc(5): ``/proc/uptime``, the ``cpu`` line of ``/proc/stat`` (user, nice,
  system, idle, iowait, irq, softirq, steal in USER_HZ ticks; guest time is
  already part of user), ``/proc/meminfo`` (MemTotal, MemAvailable).
* Linux thermal sysfs ABI (Documentation/ABI/testing/sysfs-class-thermal):
  ``/sys/class/thermal/thermal_zone*/temp`` in millidegrees Celsius.
* df(1) with ``-P`` (POSIX output: 1024-blocks, Used, Available, Capacity,
  Mounted on); smartctl(8): ``--scan``, ``-j`` (JSON output), ``-i -H -A``.
* nft(8): ``nft -c -f`` (check only), ``nft -f``, ``list ruleset``,
  ``include``; rule comments, ``meta l4proto``, ``th dport``, ``iifname``;
  the nftables wiki "Scripting" / "Atomic rule replacement" for the
  ``table`` + ``delete table`` pair that makes a file replace its table.
* rsyslog documentation, "omfwd: syslog Forwarding Output Module" (target,
  port, protocol) and "Queue parameters"; rsyslogd(8) ``-N1`` (config check)
  and ``-f`` (config file).
* smbpasswd(8) (``-a`` add, ``-x`` delete, ``-s`` read the password twice
  from standard input), pdbedit(8) (``-L``: name:uid:full name), testparm(1)
  (``-s``), smb.conf(5); useradd(8)/usermod(8)/userdel(8), passwd(5) (GECOS:
  full name, room, work phone, home phone, other).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shlex
from typing import Any, ClassVar

try:
    from ansible.module_utils.praxis_driver import (
        AuthFailed, Driver, DriverError, ProtocolError, Target, ConnectionDropped, connection_error, retry,
    )
    from ansible.module_utils.praxis_identity import IdentityPolicy
except ImportError:  # outside Ansible: module_utils itself is on sys.path
    from praxis_driver import (  # type: ignore[no-redef]
        AuthFailed, Driver, DriverError, ProtocolError, Target, ConnectionDropped, connection_error, retry,
    )
    from praxis_identity import IdentityPolicy  # type: ignore[no-redef]

try:
    import paramiko
except ImportError:  # reported when a session is opened
    paramiko = None

NFT_FILE = "/etc/nftables.d/praxisops.nft"
NFT_CONF = "/etc/nftables.conf"
NFT_INCLUDE = f'include "{NFT_FILE}"'
NFT_TABLE = "praxisops"
SYSLOG_FILE = "/etc/rsyslog.d/60-praxisops-forward.conf"
NOLOGIN = "/usr/sbin/nologin"
FIRST_REGULAR_UID = 1000          # Debian: UID_MIN of /etc/login.defs; lower ids belong to the system
TAIL_CHARS = 400

ACTIONS = {"pass": "accept", "block": "drop", "reject": "reject"}
PROTOCOLS = {"any": None, "tcp": "tcp", "udp": "udp", "tcp/udp": "{ tcp, udp }", "icmp": "{ icmp, ipv6-icmp }"}
PORT_PROTOCOLS = ("tcp", "udp", "tcp/udp")
DIRECTIONS = ("in", "out")
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
HOST_RE = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")
USER_FIELDS = ("description", "email")

# One command for all facts; each part prints after an "@@<section>" line.
# CPU load: two /proc/stat samples 0.2 s apart (busy share of that interval)
# rather than loadavg/ncpu, which counts processes waiting for disk as load
# and lags by minutes.
FACTS_SCRIPT = r"""
s() { printf '\n@@%s\n' "$1"; }
s hostname; cat /proc/sys/kernel/hostname
s kernel; uname -r
s debian; cat /etc/debian_version 2>/dev/null
s os; cat /etc/os-release 2>/dev/null
s serial; cat /sys/class/dmi/id/product_serial 2>/dev/null
s uptime; cat /proc/uptime
s stat1; head -n 1 /proc/stat
sleep 0.2
s stat2; head -n 1 /proc/stat
s meminfo; cat /proc/meminfo
s thermal; cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null
s df
{ echo /; if [ "$SHARES" = 1 ] && command -v testparm >/dev/null 2>&1; then
    testparm -s 2>/dev/null | sed -n 's/^[[:space:]]*path = //p'; fi; } |
while IFS= read -r p; do [ -d "$p" ] && df -P "$p" 2>/dev/null | tail -n +2; done
if command -v smartctl >/dev/null 2>&1; then
  s smartctl
  for d in $(smartctl --scan 2>/dev/null | awk '{print $1}'); do s "disk $d"; smartctl -j -i -H -A "$d"; done
fi
true
"""

# Samba parameters whose value could be a secret. smb.conf keeps passwords in
# secrets.tdb/passdb, not in the file, so this is a safety net; yes/no and
# numbers (e.g. "unix password sync = Yes") stay readable.
SMB_SECRET = re.compile(
    r"(?im)^[ \t]*[^=\n\[#;]*(?:password|secret)[^=\n]*=[ \t]*"
    r"(?P<secret>(?!(?:yes|no|true|false|auto|\d+)[ \t]*$)\S[^\n]*?)[ \t]*$")


# -- parsers (pure, unit-tested) ----------------------------------------------------------------

def split_sections(text: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = sections.setdefault(line[2:].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip("\n") for name, lines in sections.items()}


def cpu_percent(first: str, second: str) -> float | None:
    """Busy share between two ``cpu`` lines of /proc/stat (proc(5))."""
    def ticks(line: str) -> list[int] | None:
        parts = line.split()
        if len(parts) < 5 or parts[0] != "cpu":
            return None
        try:
            return [int(x) for x in parts[1:9]]
        except ValueError:
            return None
    a, b = ticks(first), ticks(second)
    if a is None or b is None:
        return None
    total = sum(b) - sum(a)
    idle = (b[3] + (b[4] if len(b) > 4 else 0)) - (a[3] + (a[4] if len(a) > 4 else 0))
    if total <= 0:
        return 0.0
    return round(max(0.0, min(100.0, (total - idle) * 100.0 / total)), 1)


def memory_percent(meminfo: str) -> float | None:
    values = {}
    for line in meminfo.splitlines():
        key, _sep, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0])
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    if not total or available is None:
        return None
    return round((total - available) * 100.0 / total, 1)


def max_temperature(thermal: str) -> float | None:
    temps = []
    for line in thermal.split():
        try:
            value = int(line)
        except ValueError:
            continue
        if value > 0:
            temps.append(value / 1000.0)
    return round(max(temps), 1) if temps else None


def parse_df(text: str) -> list[dict[str, Any]]:
    """Data lines of ``df -P`` (header removed), one volume per mount point."""
    volumes: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[2].isdigit() or not parts[3].isdigit():
            continue
        used, avail, mount = int(parts[2]), int(parts[3]), parts[5]
        if mount in volumes:
            continue
        # df's Capacity is used / (used + available): the root reserve is not counted as free.
        share = round(used * 100.0 / (used + avail), 1) if used + avail else None
        volumes[mount] = {"id": mount, "status": "normal", "used_percent": share}
    return list(volumes.values())


def parse_smart(device: str, text: str) -> dict[str, Any]:
    """One disk from ``smartctl -j -i -H -A`` (smartctl(8) JSON output)."""
    disk: dict[str, Any] = {"id": device.rsplit("/", 1)[-1], "model": None, "status": "warning",
                            "smart": "warning", "temperature_c": None}
    try:
        data = json.loads(text)
    except ValueError:
        return disk                     # no answer from the disk: a technician has a look
    disk["model"] = data.get("model_name") or data.get("model_family")
    temp = (data.get("temperature") or {}).get("current")
    disk["temperature_c"] = temp if isinstance(temp, (int, float)) else None
    passed = (data.get("smart_status") or {}).get("passed")
    table = (data.get("ata_smart_attributes") or {}).get("table") or []
    raw = {a.get("id"): (a.get("raw") or {}).get("value", 0) for a in table if isinstance(a, dict)}
    failed_now = any(a.get("when_failed") == "now" for a in table if isinstance(a, dict))
    failed_past = any(a.get("when_failed") == "past" for a in table if isinstance(a, dict))
    nvme = data.get("nvme_smart_health_information_log") or {}
    # 5 reallocated, 197 pending, 198 offline uncorrectable sectors: early signs of a failing disk.
    bad_sectors = any((raw.get(i) or 0) > 0 for i in (5, 197, 198)) or (nvme.get("media_errors") or 0) > 0
    if passed is False or failed_now:
        smart = "failing"
    elif passed is None:
        smart = "warning"
    elif failed_past or bad_sectors or nvme.get("critical_warning"):
        smart = "warning"
    else:
        smart = "normal"
    disk["smart"] = smart
    disk["status"] = smart
    return disk


def parse_facts(text: str, model: str | None) -> dict[str, Any]:
    sec = split_sections(text)
    kernel = sec.get("kernel", "").strip()
    debian = sec.get("debian", "").strip()
    if debian:
        os_name = f"Debian {debian}"
    else:
        match = re.search(r'(?m)^PRETTY_NAME="?([^"\n]*)"?', sec.get("os", ""))
        os_name = match.group(1) if match else "Linux"
    try:
        uptime: int | None = int(float(sec.get("uptime", "").split()[0]))
    except (IndexError, ValueError):
        uptime = None
    serial = sec.get("serial", "").strip()
    if serial.lower() in ("", "none", "0", "not specified", "default string", "to be filled by o.e.m.",
                          "system serial number"):
        serial = ""
    disks = None
    if "smartctl" in sec:
        disks = [parse_smart(name[5:], body) for name, body in sec.items() if name.startswith("disk ")]
    return {
        "hostname": sec.get("hostname", "").strip() or None,
        "model": model or None,
        "serial": serial or None,
        "firmware_version": f"{os_name} / {kernel}" if kernel else os_name,
        "uptime_seconds": uptime,
        "cpu_percent": cpu_percent(sec.get("stat1", ""), sec.get("stat2", "")),
        "memory_percent": memory_percent(sec.get("meminfo", "")),
        "temperature_c": max_temperature(sec.get("thermal", "")),
        "disks": disks,
        "volumes": parse_df(sec.get("df", "")),
        "signature_date": None,
    }


def _without_comments(text: str) -> str:
    """nft text with comments and quoted strings blanked, for the brace count."""
    out, quoted, comment = [], False, False
    for char in text:
        if comment:
            if char == "\n":
                comment = False
                out.append(char)
            continue
        if char == '"':
            quoted = not quoted
            continue
        if quoted:
            continue
        if char == "#":
            comment = True
            continue
        out.append(char)
    return "".join(out)


def validate_nft(text: str) -> None:
    plain = _without_comments(text)
    if not re.search(r"(?m)^\s*table\s+(?:ip|ip6|inet|arp|bridge|netdev)\s+\S+\s*\{", plain):
        raise ValueError("no 'table <family> <name> {' block: not an nftables ruleset")
    depth = 0
    for number, line in enumerate(plain.splitlines(), 1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth < 0:
                raise ValueError(f"unbalanced braces in the nftables ruleset: '}}' without '{{' on line {number}")
    if depth:
        raise ValueError(f"unbalanced braces in the nftables ruleset: {depth} block(s) not closed (cut off?)")


def validate_smb(text: str) -> None:
    section = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if re.fullmatch(r"\[[^\]]+\]", line):
            section = line
            continue
        if "=" not in line:
            raise ValueError(f"line {number} of the Samba configuration is neither a [section] nor "
                             f"'parameter = value'")
        if section is None:
            raise ValueError(f"line {number} of the Samba configuration comes before any [section]")


# -- rendering ----------------------------------------------------------------------------------

def _ports(value: Any, index: int) -> str | None:
    if value in (None, "", "any"):
        return None
    items = [p.strip() for p in str(value).split(",") if p.strip()]
    for item in items:
        bounds = item.split("-", 1)
        if not all(b.isdigit() and 1 <= int(b) <= 65535 for b in bounds) or (
                len(bounds) == 2 and int(bounds[0]) > int(bounds[1])):
            raise ValueError(f"rules[{index}]: destination_port {value!r} is not a port, port list or range")
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _nets(value: Any, index: int, field: str) -> tuple[int, str] | None:
    if value in (None, "", "any"):
        return None
    nets = []
    for item in str(value).split(","):
        try:
            nets.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"rules[{index}]: {field} {item.strip()!r} is not an address or network") from None
    versions = {n.version for n in nets}
    if len(versions) != 1:
        raise ValueError(f"rules[{index}]: {field} mixes IPv4 and IPv6")
    texts = [str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n) for n in nets]
    return nets[0].version, texts[0] if len(texts) == 1 else "{ " + ", ".join(texts) + " }"


def _comment(text: Any) -> str:
    clean = re.sub(r'[\\"\x00-\x1f]', "", str(text or "")).strip()
    return clean[:128]        # nftables keeps at most 128 bytes of user data per rule


def render_rules(rules: Any) -> str:
    """The rules as the file NFT_FILE: table inet praxisops with input,
    forward and output chains (policy accept; the table only restricts).
    An "in" rule matches traffic entering ``interface`` (input and forward
    chains), an "out" rule traffic leaving it (forward and output), as on a
    pf-style firewall; like there, established connections pass."""
    if not isinstance(rules, list):
        raise ValueError("rules must be a list")
    chains: dict[str, list[str]] = {"input": [], "forward": [], "output": []}
    ordered = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise ValueError(f"rules[{index}] is not a mapping")
        try:
            sequence = int(rule.get("sequence") or 0)
        except (TypeError, ValueError):
            raise ValueError(f"rules[{index}]: sequence must be a number") from None
        ordered.append((sequence, index, rule))
    for _sequence, index, rule in sorted(ordered, key=lambda item: item[:2]):
        action = rule.get("action") or "pass"
        if action not in ACTIONS:
            raise ValueError(f"rules[{index}]: action must be one of {', '.join(ACTIONS)}, not {action!r}")
        direction = rule.get("direction") or "in"
        if direction not in DIRECTIONS:
            raise ValueError(f"rules[{index}]: direction must be in or out, not {direction!r}")
        protocol = str(rule.get("protocol") or "any").lower()
        if protocol not in PROTOCOLS:
            raise ValueError(f"rules[{index}]: protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        interface = rule.get("interface")
        if interface in ("", "any"):
            interface = None
        if interface is not None and not IFNAME_RE.match(str(interface)):
            raise ValueError(f"rules[{index}]: interface {interface!r} is not an interface name")
        port = _ports(rule.get("destination_port"), index)
        if port is not None and protocol not in PORT_PROTOCOLS:
            raise ValueError(f"rules[{index}]: destination_port needs protocol tcp, udp or tcp/udp")
        source = _nets(rule.get("source_net"), index, "source_net")
        destination = _nets(rule.get("destination_net"), index, "destination_net")
        if source and destination and source[0] != destination[0]:
            raise ValueError(f"rules[{index}]: source_net and destination_net are of different IP versions")
        parts = []
        if interface is not None:
            parts.append(f'{"iifname" if direction == "in" else "oifname"} "{interface}"')
        if PROTOCOLS[protocol]:
            parts.append(f"meta l4proto {PROTOCOLS[protocol]}")
        for net, keyword in ((source, "saddr"), (destination, "daddr")):
            if net:
                parts.append(f"{'ip' if net[0] == 4 else 'ip6'} {keyword} {net[1]}")
        if port is not None:
            parts.append(f"th dport {port}")
        parts.append(ACTIONS[action])
        comment = _comment(rule.get("description"))
        if comment:
            parts.append(f'comment "{comment}"')
        line = " ".join(parts)
        for chain in (("input", "forward") if direction == "in" else ("forward", "output")):
            chains[chain].append(line)
    lines = [
        "#!/usr/sbin/nft -f",
        "# Managed by praxisops (firewall rules); local changes are overwritten.",
        "# 'table' then 'delete table' makes loading this file replace the table as a whole.",
        f"table inet {NFT_TABLE}",
        f"delete table inet {NFT_TABLE}",
        f"table inet {NFT_TABLE} {{",
    ]
    for chain, body in chains.items():
        lines += [f"\tchain {chain} {{",
                  f"\t\ttype filter hook {chain} priority filter; policy accept;",
                  "\t\tct state established,related accept",
                  *[f"\t\t{line}" for line in body],
                  "\t}"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_syslog(targets: Any) -> str | None:
    """rsyslog forwarding (omfwd) to each target; None for no targets (no file)."""
    if not isinstance(targets, list):
        raise ValueError("syslog must be a list")
    if not targets:
        return None
    lines = ["# Managed by praxisops (syslog forwarding); local changes are overwritten."]
    for index, target in enumerate(targets):
        if not isinstance(target, dict) or not HOST_RE.match(str(target.get("host") or "")):
            raise ValueError(f"syslog[{index}]: host must be a host name or address")
        transport = str(target.get("transport") or "udp").lower()
        if transport not in ("udp", "tcp"):
            raise ValueError(f"syslog[{index}]: transport must be udp or tcp, not {transport!r}")
        try:
            port = 514 if target.get("port") in (None, "") else int(target["port"])
        except (TypeError, ValueError):
            port = 0
        if not 1 <= port <= 65535:
            raise ValueError(f"syslog[{index}]: port must be 1-65535")
        description = re.sub(r"[\x00-\x1f]", " ", str(target.get("description") or "")).strip()
        if description:
            lines.append(f"# {description}")
        action = f'*.* action(type="omfwd" target="{target["host"]}" port="{port}" protocol="{transport}"'
        if transport == "tcp":
            # A queue of its own and endless retries: a dead log server never stalls local logging.
            action += ' queue.type="LinkedList" queue.size="10000" action.resumeRetryCount="-1"'
        lines.append(action + ")")
    return "\n".join(lines) + "\n"


def gecos(description: str, email: str) -> str:
    """passwd(5) GECOS: the description as full name, the e-mail address in "other"."""
    return f"{description},,,,{email}" if email else description


def parse_gecos(value: str) -> tuple[str, str]:
    parts = value.split(",")
    return parts[0], (parts[4] if len(parts) > 4 else "")


def install_script(path: str, mode: str, check: str = "", after: str = "") -> str:
    """sh script: standard input to a temporary file next to ``path``, checked
    with ``check`` ("$tmp" is the file), given ``mode`` and renamed into place;
    ``after`` runs once it is there. The temporary name (leading dot, random
    suffix) matches no include pattern such as *.conf or *.nft."""
    directory, name = os.path.split(path)
    q = shlex.quote
    return "\n".join([
        "set -e",
        f"mkdir -p -m 0755 {q(directory)}",
        f"tmp=$(mktemp {q(directory + '/.' + name)}.XXXXXX)",
        "trap 'rm -f \"$tmp\"' EXIT",
        'cat > "$tmp"',
        check,
        f'chmod {mode} "$tmp"',
        f'mv -f "$tmp" {q(path)}',
        after,
    ]) + "\n"


# -- the driver ---------------------------------------------------------------------------------

class LinuxDriver(Driver):
    """Debian firewall (nftables) or NAS (Samba) over SSH (paramiko).

    Key authentication only: ``target.private_key_file`` (``target.password``
    unlocks it when it is encrypted), user ``target.username`` (default root),
    port ``target.port`` (default 22). Host keys are checked before the key
    authentication: against ``options["host_key"]`` ("ssh-ed25519 AAAA...")
    and ``options["known_hosts_file"]`` if given, else the user's known_hosts,
    and a key in none of them against the identity store (``target.identity``,
    docs/device-identity.md); ``options["host_key_checking"] = False`` accepts
    any host key (as Ansible's host_key_checking) and says so in every run.
    Every command runs under ``/bin/sh`` with LC_ALL=C, so the output parsed
    here is the same on German and English hosts.

    Firmware is not offered: Debian packages are kept current by the patch
    service (unattended-upgrades / apt), not as firmware.
    """

    vendor = "linux"
    title = "Linux (Debian)"
    roles = ("firewall", "nas")
    protocol = "ssh"
    default_port = 22
    not_offered: ClassVar[dict[str, str]] = {
        "firmware": "Debian packages are kept current by the patch service (unattended-upgrades / apt), "
                    "not as firmware",
        "signatures": "a Debian firewall or NAS has no security signatures of its own",
    }
    options: ClassVar[dict[str, str]] = {
        "host_key": "the device's SSH host key (\"ssh-ed25519 AAAA...\"), pinned instead of the identity store",
    }
    key_login = True
    config_suffix = ".conf"
    secret_patterns: ClassVar[list[re.Pattern[str]]] = [SMB_SECRET]
    settings_supported = {"firewall": ("rules", "syslog"), "nas": ("users", "syslog")}

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._ssh: Any = None
        self._secrets: list[str] = []

    # -- session ----------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        text = self.target.scrub(text)
        for secret in self._secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "********")
        return text

    def _load_key(self) -> Any:
        path = self.target.private_key_file
        if not path:
            raise AuthFailed(self.target, "no SSH private key file is set (key authentication only)")
        try:
            return paramiko.PKey.from_path(path, self.target.password or None)
        except paramiko.PasswordRequiredException:
            raise AuthFailed(self.target, f"SSH private key {path} is encrypted and no passphrase is set") from None
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise AuthFailed(self.target, f"SSH private key {path} cannot be used: "
                                          f"{self._scrub(str(exc)) or exc.__class__.__name__}") from None

    def _client(self) -> Any:
        client = paramiko.SSHClient()
        options = self.target.options or {}
        known_hosts = options.get("known_hosts_file")
        try:
            # Loaded as "system" keys: paramiko never writes them back.
            client.load_system_host_keys(known_hosts or None)
        except OSError:
            if known_hosts:
                raise ProtocolError(self.target, f"known hosts file {known_hosts} is not readable") from None
        host_key = options.get("host_key")
        if host_key:
            try:
                key_type, blob = str(host_key).split()[:2]
                key = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
            except (ValueError, paramiko.SSHException) as exc:
                raise ProtocolError(self.target, f"options.host_key is not an SSH public key: {exc}") from None
            port = self.target.port or 22
            entry = self.target.address if port == 22 else f"[{self.target.address}]:{port}"
            client.get_host_keys().add(entry, key_type, key)
        if options.get("host_key_checking", True):
            # a key in neither known_hosts nor options.host_key: the identity store decides,
            # after the key exchange and before the key authentication
            client.set_missing_host_key_policy(IdentityPolicy(self.target))
        else:
            # praxis_ssh_host_key_checking: false, set by the technician; every run says so
            if self.target.identity is not None:
                self.target.identity.warnings.append(
                    f"{self.target.host}: SSH host key checking is off (praxis_ssh_host_key_checking: false): "
                    "any host answering at this address gets the login")
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - explicit opt-out
        return client

    def _connect(self) -> Any:
        if paramiko is None:
            raise DriverError(self.target, "the Python package paramiko is needed for Linux hosts")
        pkey = self._load_key()
        client = self._client()
        user = self.target.username or "root"
        try:
            client.connect(self.target.address, port=self.target.port or 22, username=user, pkey=pkey,
                           timeout=self.target.timeout, banner_timeout=self.target.timeout,
                           auth_timeout=self.target.timeout, allow_agent=False, look_for_keys=False)
        except paramiko.AuthenticationException as exc:
            client.close()
            mapped = connection_error(self.target, exc, "SSH login", "SSH")
            if isinstance(mapped, AuthFailed):
                raise AuthFailed(self.target, f"SSH key authentication as {user} refused (key "
                                              f"{self.target.private_key_file}); check the key of "
                                              f"{self.target.host}") from None
            raise mapped from None
        except (paramiko.SSHException, OSError, EOFError, DriverError) as exc:
            client.close()
            raise connection_error(self.target, exc, "SSH login", "SSH") from None
        return client

    def _session(self) -> Any:
        transport = self._ssh.get_transport() if self._ssh is not None else None
        if transport is None or not transport.is_active():
            self.close()
            self._ssh = retry(self.target, "SSH login", self._connect)
        return self._ssh

    def close(self) -> None:
        if self._ssh is not None:
            try:
                self._ssh.close()
            except Exception:  # noqa: BLE001 - closing a dead session must not raise
                pass
            self._ssh = None

    def _exec(self, command: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        """Run ``command`` on the host; (exit status, stdout, stderr). Standard
        input, where given, is sent and closed (passwords travel this way)."""
        client = self._session()
        try:
            channel = client.get_transport().open_session(timeout=self.target.timeout)
            channel.settimeout(self.target.timeout)
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            # Standard output first, then standard error: paramiko buffers both as they come;
            # only an error output larger than the SSH window (2 MB) could stall this.
            out = bytearray()
            while chunk := channel.recv(65536):
                out += chunk
            err = bytearray()
            while chunk := channel.recv_stderr(65536):
                err += chunk
            status = channel.recv_exit_status()
            channel.close()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise connection_error(self.target, exc, "a command", "SSH") from None
        return status, bytes(out), bytes(err)

    def run(self, script: str, *, what: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,)) -> str:
        """Run a sh script with LC_ALL=C; raise ProtocolError naming it and the
        end of its error output unless its exit status is in ``ok``."""
        command = f"env LC_ALL=C LANG=C /bin/sh -c {shlex.quote(script)}"
        status, out, err = self._exec(command, stdin)
        if status == -1:
            self.close()
            raise ConnectionDropped(self.target, f"{what}: the SSH session ended without an exit status "
                                                 "(the host closed it); not a login problem")
        if status not in ok:
            detail = (err or out).decode("utf-8", "replace").strip()
            detail = self._scrub(detail)[-TAIL_CHARS:] or "no output"
            # A one-line command is shown as it is; a script is named by ``what`` (its error
            # output says which of its commands failed).
            lines = script.strip().splitlines()
            shown = f", `{lines[0][:100]}`" if len(lines) == 1 else ""
            raise ProtocolError(self.target, f"{what} failed (exit {status}{shown}): {detail}")
        return out.decode("utf-8", "replace")

    # -- facts ------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        """One SSH command (FACTS_SCRIPT), parsed here."""
        shares = "1" if self.target.role == "nas" else "0"
        output = self.run(f"SHARES={shares}\n{FACTS_SCRIPT}", what="reading facts")
        facts = parse_facts(output, self.target.model)
        if facts["uptime_seconds"] is None or facts["hostname"] is None:
            raise ProtocolError(self.target, "reading facts: /proc/uptime or the host name missing in the answer")
        return facts

    # -- configuration ----------------------------------------------------------------------
    def export_config(self) -> bytes:
        if self.target.role == "firewall":
            return self.run("nft list ruleset", what="exporting the nftables ruleset").encode()
        if self.target.role == "nas":
            # testparm prints its notes on standard error; standard output is the configuration.
            return self.run("testparm -s", what="exporting the Samba configuration").encode()
        raise self.unsupported("config_export")

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        """An nftables ruleset (``table`` blocks, balanced braces) or a Samba
        configuration (``[global]`` section, parameter lines)."""
        super().validate_config(content)
        text = content.decode("utf-8", "replace")
        if re.search(r"(?m)^\s*\[global\]\s*$", text):
            validate_smb(text)
        elif re.search(r"(?m)^\s*table\s", text):
            validate_nft(text)
        else:
            raise ValueError("neither an nftables ruleset (no 'table' block) nor a Samba configuration "
                             "(no [global] section)")

    # -- firmware ---------------------------------------------------------------------------
    def firmware_status(self) -> dict[str, Any]:
        raise self.unsupported("firmware")

    def start_firmware_update(self) -> None:
        raise self.unsupported("firmware")

    # -- settings ---------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        supported = self.settings_supported.get(self.target.role, ())
        wanted = {key: value for key, value in settings.items() if value is not None}
        unknown = sorted(key for key in wanted if key not in supported)
        if unknown:
            raise self.unsupported(f"settings {', '.join(unknown)}")
        # Everything is checked and rendered before anything is read or written.
        nft_text = render_rules(wanted["rules"]) if "rules" in wanted else None
        syslog_text = render_syslog(wanted["syslog"]) if "syslog" in wanted else None
        users = self._wanted_users(wanted["users"]) if "users" in wanted else None
        current = self._read_state(wanted)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        changed = False
        if "rules" in wanted:
            changed |= self._rules(nft_text or "", current, check_mode, before, after)
        if "syslog" in wanted:
            changed |= self._syslog(syslog_text, current, check_mode, before, after)
        if users is not None:
            changed |= self._users(users, current, check_mode, before, after)
        return {"changed": changed, "before": before, "after": after}

    def _read_state(self, wanted: dict[str, Any]) -> dict[str, Any]:
        """One command reads what the wanted keys compare against; files as base64."""
        parts = ["r() { if [ -f \"$2\" ]; then printf '@@%s b64:' \"$1\"; base64 -w0 < \"$2\"; "
                 "else printf '@@%s none' \"$1\"; fi; printf '\\n'; }"]
        if "rules" in wanted:
            parts += [f"r nft {NFT_FILE}", f"r conf {NFT_CONF}",
                      f"if nft list table inet {NFT_TABLE} >/dev/null 2>&1; then echo '@@loaded yes'; "
                      "else echo '@@loaded no'; fi"]
        if "syslog" in wanted:
            parts.append(f"r syslog {SYSLOG_FILE}")
        if "users" in wanted:
            parts += ["command -v pdbedit >/dev/null 2>&1 || { echo 'Samba (pdbedit) is not installed' >&2; exit 3; }",
                      "printf '@@passwd b64:'; getent passwd | base64 -w0; printf '\\n'",
                      "printf '@@samba b64:'; pdbedit -L 2>/dev/null | base64 -w0; printf '\\n'"]
        output = self.run("\n".join(parts), what="reading the current settings")
        state: dict[str, Any] = {}
        for line in output.splitlines():
            if not line.startswith("@@"):
                continue
            name, _sep, value = line[2:].partition(" ")
            if value.startswith("b64:"):
                try:
                    state[name] = base64.b64decode(value[4:]).decode("utf-8", "replace")
                except ValueError:
                    raise ProtocolError(self.target, f"reading the current settings: {name} garbled") from None
            else:
                state[name] = None if value == "none" else value
        return state

    def _rules(self, text: str, current: dict[str, Any], check_mode: bool,
               before: dict[str, Any], after: dict[str, Any]) -> bool:
        on_host = current.get("nft")
        loaded = current.get("loaded") == "yes"
        conf = current.get("conf")
        included = conf is not None and NFT_INCLUDE in [line.strip() for line in conf.splitlines()]
        before["rules"] = on_host if loaded else None
        after["rules"] = text
        if on_host == text and loaded and included:
            return False
        if check_mode:
            return True
        self.run(install_script(NFT_FILE, "0644", check='nft -c -f "$tmp"', after=f"nft -f {NFT_FILE}"),
                 what="installing the nftables rules", stdin=text.encode())
        if not included:
            # /etc/nftables.conf (loaded at boot) includes the file; a missing conf is created.
            lines = (conf.rstrip("\n") + "\n" if conf else "#!/usr/sbin/nft -f\n") + NFT_INCLUDE + "\n"
            self.run(install_script(NFT_CONF, "0755"), what="adding the include to /etc/nftables.conf",
                     stdin=lines.encode())
        return True

    def _syslog(self, text: str | None, current: dict[str, Any], check_mode: bool,
                before: dict[str, Any], after: dict[str, Any]) -> bool:
        on_host = current.get("syslog")
        before["syslog"] = on_host
        after["syslog"] = text
        if on_host == text:
            return False
        if check_mode:
            return True
        # rsyslog re-reads its configuration only on a restart (HUP just reopens files).
        restart = "service rsyslog restart" + "\n"
        if text is None:
            self.run(f"rm -f {SYSLOG_FILE}\n{restart}", what="removing the syslog forwarding")
        else:
            self.run(install_script(SYSLOG_FILE, "0644", check='rsyslogd -N1 -f "$tmp" >/dev/null', after=restart),
                     what="installing the syslog forwarding", stdin=text.encode())
        return True

    # users ----------------------------------------------------------------------------------
    def _wanted_users(self, users: Any) -> list[dict[str, Any]]:
        if not isinstance(users, list):
            raise ValueError("users must be a list")
        wanted, seen = [], set()
        for index, user in enumerate(users):
            if not isinstance(user, dict) or not USER_RE.match(str(user.get("name") or "")):
                raise ValueError(f"users[{index}]: name must be a Linux user name (lower case, digits, _ . -)")
            name = user["name"]
            if name in seen:
                raise ValueError(f"user {name} is listed twice")
            seen.add(name)
            state = user.get("state") or "present"
            if state not in ("present", "absent"):
                raise ValueError(f"user {name}: state must be present or absent, not {state!r}")
            for field in USER_FIELDS:
                value = user.get(field)
                if value is not None and (not isinstance(value, str) or re.search(r"[,:\n\r]", value)):
                    raise ValueError(f"user {name}: {field} must be text without ',', ':' or line breaks")
            password = user.get("password")
            if password is not None and (not isinstance(password, str) or "\n" in password):
                raise ValueError(f"user {name}: password must be text on one line")
            wanted.append({"name": name, "state": state, "password": password or None,
                           **{field: user.get(field) for field in USER_FIELDS}})
        return wanted

    @staticmethod
    def _accounts(current: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        accounts = {}
        for line in (current.get("passwd") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 7 and fields[2].isdigit():
                description, email = parse_gecos(fields[4])
                accounts[fields[0]] = {"uid": int(fields[2]), "description": description, "email": email}
        samba = {line.split(":", 1)[0] for line in (current.get("samba") or "").splitlines() if ":" in line}
        return accounts, samba

    @staticmethod
    def _user_view(name: str, account: dict[str, Any] | None, in_samba: bool) -> dict[str, Any]:
        if account is None or not in_samba:
            return {"name": name, "state": "absent"}
        return {"name": name, "state": "present", "description": account["description"], "email": account["email"]}

    def _users(self, wanted: list[dict[str, Any]], current: dict[str, Any], check_mode: bool,
               before: dict[str, Any], after: dict[str, Any]) -> bool:
        accounts, samba = self._accounts(current)
        plan: list[tuple[str, str, bytes | None]] = []      # (what, script, stdin)
        before["users"], after["users"] = [], []
        q = shlex.quote
        for user in wanted:
            name = user["name"]
            account = accounts.get(name)
            if account is not None and account["uid"] < FIRST_REGULAR_UID:
                raise DriverError(self.target, f"user {name} is a system account (uid {account['uid']}); "
                                               "it is not managed as a NAS user")
            before["users"].append(self._user_view(name, account, name in samba))
            if user["state"] == "absent":
                if name in samba:
                    plan.append((f"removing Samba user {name}", f"smbpasswd -x {q(name)}", None))
                if account is not None:
                    plan.append((f"removing user {name}", f"userdel {q(name)}", None))
                after["users"].append(self._user_view(name, None, False))
                continue
            fields = {f: user[f] if user[f] is not None else (account or {}).get(f, "") for f in USER_FIELDS}
            if account is None:
                plan.append((f"creating user {name}", f"useradd --no-create-home --shell {NOLOGIN} "
                             f"--comment {q(gecos(fields['description'], fields['email']))} {q(name)}", None))
            elif any(fields[f] != account[f] for f in USER_FIELDS):
                plan.append((f"updating user {name}", f"usermod --comment "
                             f"{q(gecos(fields['description'], fields['email']))} {q(name)}", None))
            if name not in samba:
                # Set on creation only (as ansible.builtin.user update_password=on_create): the
                # password hash cannot be compared without setting it every run.
                if not user["password"]:
                    raise ValueError(f"user {name} has no Samba account and no password is given to create it")
                secret = f"{user['password']}\n{user['password']}\n".encode()
                plan.append((f"adding Samba user {name}", f"smbpasswd -a -s {q(name)} >/dev/null", secret))
            after["users"].append({"name": name, "state": "present", **fields})
        if plan and not check_mode:
            self._secrets = [u["password"] for u in wanted if u["password"]]
            try:
                for what, script, stdin in plan:
                    self.run(script, what=what, stdin=stdin)
            finally:
                self._secrets = []
        return bool(plan)


DRIVER = LinuxDriver
