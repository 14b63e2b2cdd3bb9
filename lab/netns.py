"""Real Linux lab hosts in network namespaces, for roles to converge on.

A lab host is a Debian bookworm system that runs nothing but its own
processes, in namespaces of its own, on the test machine:

* network: the namespace ``praxis-<name>`` with ``lo`` and ``eth0``. ``eth0``
  is one end of a veth pair, the other end (``pxl<hash>``) stays in the root
  namespace. Each pair gets a point-to-point /30 from the lab subnet
  (``10.231.0.0/16``, env ``PRAXIS_LAB_SUBNET``): ``.1`` on the machine's
  side, ``.2`` on the host's. The controller talks to each host directly over
  its veth: nothing is forwarded or NATed, and the hosts have no default route
  (nothing outside the machine is reachable from them). Each host's nftables
  ruleset lives in its own namespace and never affects the machine.
* file system: an overlay mount whose lower layer is the cached root
  file system (``debootstrap --variant=minbase bookworm``, built once, see
  `ensure_rootfs`) and whose upper layer is ``<lab dir>/hosts/<name>/upper``.
  The overlay, ``/proc``, a read-only ``/sys``, a small ``/dev`` and a tmpfs
  ``/run`` are mounted inside the host's private mount namespace only:
  nothing is mounted in the machine's mount namespace, and the mounts vanish
  with the host's last process. ``/proc/sys`` is read-only except
  ``/proc/sys/net`` (which belongs to the host's network namespace), so a role
  that sets a sysctl cannot change the machine.
* processes: a PID and UTS namespace; PID 1 is a small shell loop that starts
  sshd (on the host's address, port 22, key authentication only, root login
  with the lab key) and reaps orphans. Other services are started on demand:
  ``service rsyslog start``, or Ansible's ``service`` module (the hosts look
  like sysvinit hosts to Ansible; the root file system has an init script for
  nftables too).

Everything a host owns is recorded in ``<lab dir>/hosts/<name>/state.json``
(written before anything else is created), so `destroy_hosts` finds and
removes leftovers of a crashed run as well. The lab dir is
``/var/lib/praxisops-lab`` (env ``PRAXIS_LAB_DIR``); the root file system
cache is ``/var/cache/praxisops/rootfs-bookworm`` (env
``PRAXIS_ROOTFS_CACHE``). Both live outside the repository.

Command line::

    python -m lab.netns up --hosts 2 --name demo-      # demo-1, demo-2
    python -m lab.netns up --name m1- --host nas --host fw --json
    python -m lab.netns status [--name demo-] [--json]
    python -m lab.netns run demo-1 -- nft list ruleset
    python -m lab.netns down --name demo-              # or: down --all
    python -m lab.netns rootfs [--rebuild]

Needs root (network namespaces, veth links, mounts, chroot) and the Debian
packages debootstrap, iproute2, util-linux, mount and openssh-client on the
machine (sshd, nftables and the rest run from the hosts' root file system;
the first build fetches it from the Debian mirror, env
``PRAXIS_DEBIAN_MIRROR``). Hosts reach only the machine, over their veth, and
not each other.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_ROOTFS_CACHE = "/var/cache/praxisops/rootfs-bookworm"
DEFAULT_LAB_DIR = "/var/lib/praxisops-lab"
DEFAULT_SUBNET = "10.231.0.0/16"

# Everything a lab host or a role converging on it needs: the hosts cannot
# reach a package mirror, so roles may only "install" what is already here.
ROOTFS_PACKAGES = (
    "openssh-server",
    "python3",
    "python3-apt",          # Ansible's apt module
    "iproute2",
    "procps",
    "nftables",
    "rsyslog",
    "logrotate",
    "samba",
    "smbclient",            # check a share from inside the host
    "acl",
    "rsync",
    "iputils-ping",
    "less",
)
# Bump when the recipe (packages or `_customize_rootfs`) changes: a cache
# made by an older recipe is rebuilt.
ROOTFS_RECIPE = 3
STAMP_FILE = ".praxisops-rootfs.json"

NETNS_PREFIX = "praxis-"
VETH_PREFIX = "pxl"
SSH_PORT = 22
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ROOT_MESSAGE = (
    "lab Linux hosts need root: network namespaces, veth links, overlay and "
    "proc mounts and chroot all require it; run as root (sudo) or skip these tests"
)
REQUIRED_TOOLS = ("debootstrap", "ip", "unshare", "nsenter", "mount", "chroot",
                  "ssh", "ssh-keygen")
APT_PACKAGES = ("debootstrap", "iproute2", "util-linux", "mount", "openssh-client")


class LabError(RuntimeError):
    """A lab host could not be created, reached or removed."""


class LabUnavailable(LabError):
    """This machine or user cannot run lab hosts (not root, tool missing)."""


# --------------------------------------------------------------------------
# configuration


def lab_dir() -> Path:
    return Path(os.environ.get("PRAXIS_LAB_DIR") or DEFAULT_LAB_DIR)


def rootfs_cache_dir() -> Path:
    return Path(os.environ.get("PRAXIS_ROOTFS_CACHE") or DEFAULT_ROOTFS_CACHE)


def lab_subnet() -> ipaddress.IPv4Network:
    value = os.environ.get("PRAXIS_LAB_SUBNET") or DEFAULT_SUBNET
    try:
        net = ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise LabError(f"PRAXIS_LAB_SUBNET={value!r} is not an IPv4 network: {exc}") from None
    if net.prefixlen > 28:
        raise LabError(f"lab subnet {net} is too small (at least a /28)")
    return net


def mirror() -> str:
    return os.environ.get("PRAXIS_DEBIAN_MIRROR") or DEFAULT_MIRROR


def skip_reason() -> str | None:
    """Why lab hosts cannot run here, or None when they can (for pytest)."""
    if os.geteuid() != 0:
        return ROOT_MESSAGE
    missing = [tool for tool in REQUIRED_TOOLS if not shutil.which(tool)]
    if missing:
        return (f"lab Linux hosts need {', '.join(missing)} on the machine "
                f"(Debian packages: {' '.join(APT_PACKAGES)})")
    if not Path("/proc/self/ns/net").exists():
        return "lab Linux hosts need a kernel with network namespaces"
    return None


def requires_root() -> None:
    """Raise LabUnavailable with a clear message unless lab hosts can run."""
    reason = skip_reason()
    if reason:
        raise LabUnavailable(reason)


# --------------------------------------------------------------------------
# small helpers


def _run(argv: Sequence[str], *, check: bool = True, timeout: float = 60,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise LabUnavailable(f"{argv[0]} not found (Debian packages: {' '.join(APT_PACKAGES)})") from None
    if check and proc.returncode != 0:
        raise LabError(f"{shlex.join(argv)} failed ({proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()}")
    return proc


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _unescape_mountinfo(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts_under(path: Path) -> list[str]:
    """Mount points of this mount namespace at or below path."""
    base = str(path.resolve()) if path.exists() else str(path)
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = _unescape_mountinfo(line.split()[4])
            if point == base or point.startswith(base.rstrip("/") + "/"):
                found.append(point)
    return found


def _safe_rmtree(path: Path) -> None:
    """rm -rf that first unmounts whatever is mounted below path and refuses
    to cross into a file system that is still mounted there."""
    if not path.exists() and not path.is_symlink():
        return
    for point in sorted(_mounts_under(path), key=len, reverse=True):
        if _run(["umount", point], check=False).returncode != 0:
            _run(["umount", "-l", point], check=False)
    left = _mounts_under(path)
    if left:
        raise LabError(f"cannot remove {path}: still mounted: {', '.join(left)}")
    _run(["rm", "-rf", "--one-file-system", "--", str(path)], timeout=600)


def _proc_start_time(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _alive(pid: int | None, start: int | None) -> bool:
    return bool(pid) and _proc_start_time(pid) is not None and (
        start is None or _proc_start_time(pid) == start)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            kids.append(int(entry.name))
    return kids


def _pids_rooted_under(path: Path) -> list[int]:
    base = str(path)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            root = os.readlink(entry / "root")
        except OSError:
            continue
        if root == base or root.startswith(base + "/"):
            pids.append(int(entry.name))
    return pids


def _kill(pids: Iterable[int]) -> None:
    for pid in set(pids):
        if pid in (0, 1, os.getpid()):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _netns_exists(netns: str) -> bool:
    return Path("/run/netns", netns).exists()


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# root file system


def _stamp_wanted() -> dict[str, Any]:
    return {"suite": SUITE, "recipe": ROOTFS_RECIPE, "packages": sorted(ROOTFS_PACKAGES)}


def rootfs_info(cache: Path | None = None) -> dict[str, Any] | None:
    """The stamp of a complete cached root file system, or None."""
    cache = Path(cache or rootfs_cache_dir())
    try:
        return json.loads((cache / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None


def _rootfs_current(cache: Path) -> bool:
    info = rootfs_info(cache)
    return bool(info) and all(info.get(k) == v for k, v in _stamp_wanted().items())


NFTABLES_INIT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          nftables
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: nftables ruleset (praxisops lab host)
### END INIT INFO
# Lab hosts run without systemd; this stands in for nftables.service.
CONF=/etc/nftables.conf
case "$1" in
  start|restart|reload|force-reload) exec /usr/sbin/nft -f "$CONF" ;;
  stop) exec /usr/sbin/nft flush ruleset ;;
  status)
    if /usr/sbin/nft list tables | grep -q .; then echo "nftables ruleset is loaded"
    else echo "nftables ruleset is empty"; exit 3; fi ;;
  *) echo "Usage: $0 {start|stop|restart|reload|force-reload|status}" >&2; exit 3 ;;
esac
"""


RSYSLOG_INIT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          rsyslog
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: rsyslog (praxisops lab host)
### END INIT INFO
# Lab hosts run without systemd; this stands in for rsyslog.service.
PIDFILE=/run/rsyslogd.pid
DAEMON=/usr/sbin/rsyslogd
running() { start-stop-daemon --status --pidfile $PIDFILE --exec $DAEMON; }
case "$1" in
  start) running || start-stop-daemon --start --quiet --pidfile $PIDFILE --exec $DAEMON ;;
  stop) start-stop-daemon --stop --quiet --retry 5 --pidfile $PIDFILE --exec $DAEMON; rm -f $PIDFILE ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  reload) start-stop-daemon --stop --signal HUP --quiet --pidfile $PIDFILE --exec $DAEMON ;;
  status)
    if running; then echo "rsyslogd is running"; else echo "rsyslogd is not running"; exit 3; fi ;;
  *) echo "Usage: $0 {start|stop|restart|reload|force-reload|status}" >&2; exit 3 ;;
esac
"""

ROTATE_HUP = """elif [ -s /run/rsyslogd.pid ]; then
    kill -HUP "$(cat /run/rsyslogd.pid)"   # lab host without systemd
fi
"""


def _customize_rootfs(root: Path) -> None:
    """Make a fresh debootstrap tree fit to be the shared lower layer."""
    # Host keys are made per host; a shared key would make all hosts one.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # The kernel log belongs to the machine, not to a lab host.
    conf = root / "etc/rsyslog.conf"
    if conf.exists():
        conf.write_text(re.sub(r'(?m)^(\s*module\(load="imklog".*)$', r"# \1  # lab host: no kernel log",
                               conf.read_text()))
    # No DNS and no machine identity in the shared layer.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text("# praxisops lab host: no name server\n")
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/machine-id").write_text("")
    # No systemd: init scripts for the services whose packages ship none.
    for service, script in (("nftables", NFTABLES_INIT), ("rsyslog", RSYSLOG_INIT)):
        init = root / "etc/init.d" / service
        if not init.exists():
            init.write_text(script)
            init.chmod(0o755)
    rotate = root / "usr/lib/rsyslog/rsyslog-rotate"
    if rotate.exists() and "rsyslogd.pid" not in rotate.read_text():
        rotate.write_text(rotate.read_text().replace("fi\n", ROTATE_HUP, 1))
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def ensure_rootfs(cache: Path | str | None = None, *, rebuild: bool = False,
                  log: Any = None) -> Path:
    """Return the cached root file system, building it first if needed.

    Built with debootstrap into a temporary directory next to the cache and
    renamed into place when complete, under a lock, so concurrent callers wait
    for one build. The stamp file records the build time (``build_seconds``).
    """
    cache = Path(cache or rootfs_cache_dir())
    if not rebuild and _rootfs_current(cache):
        return cache
    requires_root()
    parent = cache.parent
    parent.mkdir(parents=True, exist_ok=True)
    with _flock(parent / f".{cache.name}.lock"):
        if not rebuild and _rootfs_current(cache):
            return cache
        for stale in parent.glob(f".{cache.name}.tmp-*"):
            _safe_rmtree(stale)
        if cache.exists():
            users = [s["name"] for s in _all_states() if s.get("rootfs") == str(cache)]
            if users:
                raise LabError(f"the root file system {cache} is outdated but in use by lab "
                               f"hosts {', '.join(users)}; destroy them first "
                               "(python -m lab.netns down --all)")
        tmp = parent / f".{cache.name}.tmp-{os.getpid()}"
        build_log = parent / f".{cache.name}.build.log"
        started = time.monotonic()
        argv = ["debootstrap", "--variant=minbase", "--components=main",
                f"--include={','.join(ROOTFS_PACKAGES)}", SUITE, str(tmp), mirror()]
        if log:
            print(f"building the lab root file system in {cache} (debootstrap, a few minutes) ...",
                  file=log, flush=True)
        try:
            with open(build_log, "w") as out:
                proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise LabError(f"debootstrap failed ({proc.returncode}); last lines of "
                               f"{build_log}:\n{_tail(build_log)}")
            _customize_rootfs(tmp)
            stamp = _stamp_wanted() | {
                "mirror": mirror(),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.monotonic() - started, 1),
            }
            (tmp / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n")
            if cache.exists():
                old = parent / f".{cache.name}.tmp-old-{os.getpid()}"
                os.rename(cache, old)
                _safe_rmtree(old)
            os.rename(tmp, cache)
        except BaseException:
            _safe_rmtree(tmp)
            raise
        if log:
            print(f"root file system built in {stamp['build_seconds']} s", file=log, flush=True)
    return cache


# --------------------------------------------------------------------------
# hosts


@dataclasses.dataclass
class Host:
    """One lab host. ``name`` is unique on the machine (prefix + label)."""

    name: str
    hostname: str
    prefix: str
    address: str            # the host's side of the veth (ansible_host)
    gateway: str            # the machine's side of the veth
    prefixlen: int
    netns: str
    veth: str
    ssh_key: Path           # private key, authorized for root on the host
    host_dir: Path
    run_dir: Path
    init_pid: int | None = None
    init_start: int | None = None
    start_seconds: float | None = None

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Host:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in state.items() if k in fields}
        for key in ("ssh_key", "host_dir", "run_dir"):
            values[key] = Path(values[key])
        return cls(**values)

    @property
    def port(self) -> int:
        return SSH_PORT

    @property
    def user(self) -> str:
        return "root"

    def alive(self) -> bool:
        return _alive(self.init_pid, self.init_start) and _netns_exists(self.netns)

    def path(self, inside: str) -> Path:
        """A path inside the host, seen from the machine (for checks)."""
        if not self.alive():
            raise LabError(f"lab host {self.name} is not running")
        return Path(f"/proc/{self.init_pid}/root") / inside.lstrip("/")

    def exec_argv(self, cmd: str | Sequence[str]) -> list[str]:
        """argv that runs cmd inside the host (all its namespaces, chrooted)."""
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        return ["nsenter", f"--target={self.init_pid}", "--mount", "--uts", "--ipc", "--net",
                "--pid", "--root", "--wd", "/usr/bin/env", "-i", f"PATH={HOST_PATH}",
                "HOME=/root", "LANG=C.UTF-8", "USER=root", "LOGNAME=root", *cmd]

    def run(self, cmd: str | Sequence[str], *, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run cmd (a shell string or an argv) inside the host, as root."""
        if not self.alive():
            raise LabError(f"lab host {self.name} is not running")
        proc = subprocess.run(self.exec_argv(cmd), capture_output=True, text=True,
                              timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise LabError(f"{cmd!r} on lab host {self.name} failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()}")
        return proc

    def ssh_argv(self, cmd: str | None = None) -> list[str]:
        """ssh command line that logs in to the host as root with the lab key."""
        argv = ["ssh", "-i", str(self.ssh_key), "-p", str(self.port), "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", f"root@{self.address}"]
        return argv + ([cmd] if cmd is not None else [])

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("ssh_key", "host_dir", "run_dir"):
            data[key] = str(data[key])
        data["user"] = self.user
        data["port"] = self.port
        data["alive"] = self.alive()
        return data


def _hosts_dir() -> Path:
    return lab_dir() / "hosts"


def _lab_lock() -> contextlib.AbstractContextManager[None]:
    return _flock(lab_dir() / ".lock")


def _read_state(host_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((host_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None


def _write_state(state: dict[str, Any]) -> None:
    path = Path(state["host_dir"]) / "state.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, path)


def _all_states() -> list[dict[str, Any]]:
    states = []
    if _hosts_dir().is_dir():
        for entry in sorted(_hosts_dir().iterdir()):
            state = _read_state(entry)
            if state is None:
                state = {"name": entry.name, "host_dir": str(entry), "broken": True}
            states.append(state)
    return states


def list_hosts(prefix: str | None = None) -> list[Host]:
    """Lab hosts recorded on this machine (optionally of one prefix)."""
    hosts = []
    for state in _all_states():
        if state.get("broken") or (prefix is not None and state.get("prefix") != prefix):
            continue
        hosts.append(Host.from_state(state))
    return hosts


def _veth_name(name: str) -> str:
    return VETH_PREFIX + hashlib.sha256(name.encode()).hexdigest()[:12]


def _slot_network(subnet: ipaddress.IPv4Network, slot: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((int(subnet.network_address) + 4 * slot, 30))


def _check_subnet_free(subnet: ipaddress.IPv4Network) -> None:
    """Refuse a lab subnet that overlaps a route of the machine's own."""
    out = _run(["ip", "-4", "-o", "route", "show", "table", "all"]).stdout
    for line in out.splitlines():
        words = line.split()
        if not words or words[0] in ("default", "broadcast", "local", "unreachable"):
            continue
        dest = words[0]
        dev = words[words.index("dev") + 1] if "dev" in words else ""
        if dev.startswith(VETH_PREFIX) or dest in ("local", "broadcast"):
            continue
        try:
            net = ipaddress.IPv4Network(dest, strict=False)
        except ValueError:
            continue
        if net.overlaps(subnet) and net.prefixlen > 0:
            raise LabError(f"the lab subnet {subnet} overlaps the machine's route {line.strip()!r}; "
                           "choose another one with PRAXIS_LAB_SUBNET")


def _allocate_slot(subnet: ipaddress.IPv4Network, used: set[int]) -> int:
    for slot in range(subnet.num_addresses // 4):
        if slot not in used:
            return slot
    raise LabError(f"the lab subnet {subnet} has no free /30 left")


def _copy_dir_attrs(lower: Path, upper: Path, rel: str) -> None:
    """Create upper/rel (and parents) with the owner and mode of lower/rel."""
    parts = Path(rel).parts
    for i in range(1, len(parts) + 1):
        sub = Path(*parts[:i])
        target = upper / sub
        if target.exists():
            continue
        target.mkdir()
        src = lower / sub
        if src.is_dir():
            st = src.stat()
            os.chown(target, st.st_uid, st.st_gid)
            os.chmod(target, st.st_mode & 0o7777)


def _write_into(lower: Path, upper: Path, rel: str, text: str, mode: int = 0o644) -> None:
    _copy_dir_attrs(lower, upper, str(Path(rel).parent))
    path = upper / rel
    path.write_text(text)
    os.chmod(path, mode)


SSHD_CONFIG = """# praxisops lab host
ListenAddress {address}:22
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""

# Runs as PID 1 of the host's PID namespace, in its mount namespace, before
# the chroot: mounts the host's file systems, then becomes the host's init.
SETUP_SCRIPT = r"""
set -eu
M=$1; LOWER=$2; UPPER=$3; WORK=$4; NAME=$5
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount --bind "$M/proc/sys" "$M/proc/sys"
mount --bind "$M/proc/sys/net" "$M/proc/sys/net"
mount -o remount,bind,ro,nosuid,nodev,noexec "$M/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$M/sys"
mount -t tmpfs -o mode=755,nosuid,size=16m tmpfs "$M/dev"
cd "$M/dev"
mknod -m 666 null c 1 3; mknod -m 666 zero c 1 5; mknod -m 666 full c 1 7
mknod -m 666 random c 1 8; mknod -m 666 urandom c 1 9; mknod -m 666 tty c 5 0
ln -s /proc/self/fd fd; ln -s fd/0 stdin; ln -s fd/1 stdout; ln -s fd/2 stderr
mkdir pts shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$M/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev,size=64m tmpfs "$M/run"
mkdir -p "$M/run/lock" "$M/run/sshd"
chmod 1777 "$M/run/lock"
cd /
hostname "$NAME"
exec chroot "$M" /bin/sh -c "$INIT_SCRIPT"
"""

INIT_SCRIPT = r"""
trap 'kill -TERM -1 2>/dev/null; exit 0' TERM INT
/usr/sbin/sshd
echo "lab host $(hostname) up"
while :; do sleep 86400 & wait $! || true; done
"""


def _prepare_upper(rootfs: Path, state: dict[str, Any], pubkey: str) -> subprocess.Popen[bytes]:
    """Write the host's own files into its upper layer; returns the running
    host key generation (RSA takes most of a second)."""
    upper = Path(state["host_dir"]) / "upper"
    hostname, address = state["hostname"], state["address"]
    _write_into(rootfs, upper, "etc/hostname", f"{hostname}\n")
    _write_into(rootfs, upper, "etc/hosts",
                f"127.0.0.1\tlocalhost\n{address}\t{hostname}\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n")
    _write_into(rootfs, upper, "etc/machine-id", os.urandom(16).hex() + "\n", 0o444)
    _write_into(rootfs, upper, "etc/ssh/sshd_config.d/00-praxis-lab.conf",
                SSHD_CONFIG.format(address=address))
    _write_into(rootfs, upper, "root/.ssh/authorized_keys", pubkey, 0o600)
    os.chmod(upper / "root/.ssh", 0o700)
    return subprocess.Popen(["ssh-keygen", "-q", "-A", "-f", str(upper)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def ensure_ssh_key(run_dir: Path) -> Path:
    """The lab SSH key pair of a run directory (made once)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir / "id_ed25519"
    if not (key.exists() and key.with_suffix(".pub").exists()):
        for path in (key, key.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "praxisops-lab", "-f", str(key)])
    os.chmod(key, 0o600)
    return key


def _setup_network(state: dict[str, Any]) -> None:
    netns, veth = state["netns"], state["veth"]
    plen = state["prefixlen"]
    _run(["ip", "netns", "add", netns])
    _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    _run(["ip", "addr", "add", f"{state['gateway']}/{plen}", "dev", veth])
    _run(["ip", "link", "set", veth, "up"])
    _run(["ip", "-n", netns, "link", "set", "lo", "up"])
    _run(["ip", "-n", netns, "addr", "add", f"{state['address']}/{plen}", "dev", "eth0"])
    _run(["ip", "-n", netns, "link", "set", "eth0", "up"])


def _start_processes(rootfs: Path, state: dict[str, Any]) -> None:
    host_dir = Path(state["host_dir"])
    env = {"PATH": HOST_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb",
           "INIT_SCRIPT": INIT_SCRIPT}
    argv = ["nsenter", f"--net=/run/netns/{state['netns']}",
            "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child=SIGKILL",
            "--propagation", "private",
            "/bin/sh", "-c", SETUP_SCRIPT, "lab-setup", str(host_dir / "merged"), str(rootfs),
            str(host_dir / "upper"), str(host_dir / "work"), state["hostname"]]
    with open(host_dir / "console.log", "ab") as console:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=console,
                                env=env, start_new_session=True, cwd="/")
    # The process is left running on purpose; forget it without a warning.
    proc.returncode = 0
    state["unshare_pid"] = proc.pid
    state["unshare_start"] = _proc_start_time(proc.pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        if kids:
            state["init_pid"] = kids[0]
            state["init_start"] = _proc_start_time(kids[0])
            return
        if _proc_start_time(proc.pid) is None:
            break
        time.sleep(0.01)
    raise LabError(f"lab host {state['name']} did not start:\n{_tail(host_dir / 'console.log')}")


def _wait_ssh(state: dict[str, Any], deadline: float) -> None:
    host_dir = Path(state["host_dir"])
    last = ""
    while time.monotonic() < deadline:
        if not _alive(state.get("init_pid"), state.get("init_start")):
            raise LabError(f"lab host {state['name']} stopped while starting:\n"
                           f"{_tail(host_dir / 'console.log')}")
        try:
            with socket.create_connection((state["address"], SSH_PORT), timeout=1) as sock:
                sock.settimeout(2)
                banner = sock.recv(64)
            if banner.startswith(b"SSH-2.0"):
                return
            last = f"unexpected banner {banner!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise LabError(f"sshd of lab host {state['name']} ({state['address']}) did not answer: {last}\n"
                   f"{_tail(host_dir / 'console.log')}")


def _host_names(n: int, prefix: str, names: Sequence[str] | None) -> list[tuple[str, str]]:
    """(name, hostname) pairs: prefix1..prefixN, or prefix+label for labels."""
    if names:
        pairs = [(f"{prefix}{label}", label) for label in names]
    else:
        pairs = [(f"{prefix}{i}", f"{prefix}{i}") for i in range(1, n + 1)]
    for name, hostname in pairs:
        if not NAME_RE.match(name) or not NAME_RE.match(hostname) or len(hostname) > 63 \
                or len(name) > 64:
            raise ValueError(f"invalid lab host name {name!r}: lower-case letters, digits and '-', "
                             "starting with a letter or digit")
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("lab host names must be unique")
    return pairs


def create_hosts(n: int = 0, prefix: str = "lab-", *, names: Sequence[str] | None = None,
                 run_dir: Path | str | None = None, rootfs: Path | str | None = None,
                 owner_pid: int | None = None, timeout: float = 60,
                 log: Any = None) -> list[Host]:
    """Start lab hosts and return them once each one's sshd answers.

    The hosts are ``<prefix>1`` .. ``<prefix><n>`` (hostname = name), or
    ``<prefix><label>`` for each of ``names`` (hostname = label). A host of
    that name that is already running is returned as it is (so calling again
    with a larger n adds hosts); a dead one is removed and started anew.
    ``run_dir`` holds the lab SSH key (default ``<lab dir>/runs/<prefix>``).
    With ``owner_pid`` the hosts count as leftovers once that process is gone
    (see `reap_stale_hosts`).
    """
    requires_root()
    if not NAME_RE.match(prefix.rstrip("-") or "x"):
        raise ValueError(f"invalid lab host prefix {prefix!r}")
    pairs = _host_names(n, prefix, names)
    rootfs_path = ensure_rootfs(rootfs, log=log)
    run_dir = Path(run_dir) if run_dir else lab_dir() / "runs" / (prefix or "default")
    subnet = lab_subnet()
    hosts: list[Host] = []
    starting: list[dict[str, Any]] = []
    try:
        with _lab_lock():
            key = ensure_ssh_key(run_dir)
            pubkey = key.with_suffix(".pub").read_text()
            _check_subnet_free(subnet)
            states = {s["name"]: s for s in _all_states()}
            used = {s["slot"] for s in states.values()
                    if "slot" in s and s.get("subnet") == str(subnet)}
            for name, hostname in pairs:
                old = states.get(name)
                if old and not old.get("broken"):
                    host = Host.from_state(old)
                    if host.alive() and old.get("prefix") != prefix:
                        raise LabError(f"lab host {name} already runs for the prefix "
                                       f"{old.get('prefix')!r}")
                    if host.alive():
                        hosts.append(host)
                        continue
                if old:
                    _destroy_state(old)
                    used.discard(old.get("slot"))
                slot = _allocate_slot(subnet, used)
                used.add(slot)
                net = _slot_network(subnet, slot)
                host_dir = _hosts_dir() / name
                state = {
                    "name": name, "hostname": hostname, "prefix": prefix,
                    "subnet": str(subnet), "slot": slot, "prefixlen": 30,
                    "gateway": str(net.network_address + 1), "address": str(net.network_address + 2),
                    "netns": NETNS_PREFIX + name, "veth": _veth_name(name),
                    "ssh_key": str(key), "host_dir": str(host_dir), "run_dir": str(run_dir),
                    "rootfs": str(rootfs_path), "owner_pid": owner_pid,
                    "owner_start": _proc_start_time(owner_pid) if owner_pid else None,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
                # The record comes first: whatever is made after it is found again.
                host_dir.mkdir(parents=True)
                for sub in ("upper", "work", "merged"):
                    (host_dir / sub).mkdir()
                _write_state(state)
                state["_t0"] = time.monotonic()
                starting.append(state)
            keygens = [_prepare_upper(rootfs_path, state, pubkey) for state in starting]
            for state in starting:
                _setup_network(state)
            for state, keygen in zip(starting, keygens, strict=True):
                if keygen.wait(60) != 0:
                    raise LabError(f"ssh-keygen for lab host {state['name']} failed: "
                                   f"{keygen.stderr.read().decode(errors='replace')}")
                keygen.stderr.close()
                _start_processes(rootfs_path, state)
                _write_state({k: v for k, v in state.items() if not k.startswith("_")})
        deadline = time.monotonic() + timeout
        for state in starting:
            _wait_ssh(state, deadline)
            state["start_seconds"] = round(time.monotonic() - state.pop("_t0"), 2)
            _write_state(state)
            hosts.append(Host.from_state(state))
    except BaseException:
        with _lab_lock():
            for state in starting:
                _destroy_state(state)
        raise
    order = {name: i for i, (name, _) in enumerate(pairs)}
    hosts.sort(key=lambda h: order[h.name])
    write_inventory(list_hosts(prefix), run_dir / "inventory.yml")
    return hosts


def _destroy_state(state: dict[str, Any]) -> None:
    """Remove one host: processes, network namespace, veth, mounts, files."""
    host_dir = Path(state.get("host_dir") or _hosts_dir() / state["name"])
    netns = state.get("netns") or NETNS_PREFIX + state["name"]
    veth = state.get("veth") or _veth_name(state["name"])
    for _ in range(50):
        pids: list[int] = []
        for key in ("init", "unshare"):
            pid = state.get(f"{key}_pid")
            if pid and _alive(pid, state.get(f"{key}_start")):
                pids.append(pid)
        if _netns_exists(netns):
            out = _run(["ip", "netns", "pids", netns], check=False).stdout
            pids += [int(p) for p in out.split() if p.isdigit()]
        pids += _pids_rooted_under(host_dir)
        if not pids:
            break
        _kill(pids)
        time.sleep(0.05)
        with contextlib.suppress(ChildProcessError, OSError):
            if state.get("unshare_pid"):    # our own child when made by this process
                os.waitpid(state["unshare_pid"], os.WNOHANG)
    else:
        raise LabError(f"processes of lab host {state['name']} do not go away")
    if _netns_exists(netns):
        _run(["ip", "netns", "del", netns], check=False)
    for _ in range(40):     # the pair goes away with the namespace
        if not _link_exists(veth):
            break
        time.sleep(0.05)
    else:
        _run(["ip", "link", "del", veth], check=False)
    _safe_rmtree(host_dir)


def destroy_hosts(prefix: str | None = None, *, all_hosts: bool = False) -> list[str]:
    """Remove every lab host of a prefix (or all of them); idempotent.

    Also removes a network namespace ``praxis-<prefix>...`` that has no record
    (left by a crash), and the default run directory of the prefix.
    """
    if prefix is None and not all_hosts:
        raise ValueError("destroy_hosts needs a prefix or all_hosts=True")
    requires_root()
    removed = []
    with _lab_lock():
        states = _all_states()
        for state in states:
            if all_hosts or state.get("prefix") == prefix or (
                    state.get("broken") and state["name"].startswith(prefix or "")):
                _destroy_state(state)
                removed.append(state["name"])
        known = {s.get("netns") for s in _all_states()}
        netns_dir = Path("/run/netns")
        if netns_dir.is_dir():
            for entry in netns_dir.iterdir():
                if (entry.name.startswith(NETNS_PREFIX + (prefix or ""))
                        and entry.name not in known):
                    name = entry.name[len(NETNS_PREFIX):]
                    _destroy_state({"name": name, "netns": entry.name})
                    removed.append(name)
        if all_hosts:
            for link in Path("/sys/class/net").iterdir():
                if link.name.startswith(VETH_PREFIX):
                    _run(["ip", "link", "del", link.name], check=False)
            runs = lab_dir() / "runs"
            if runs.is_dir():
                _safe_rmtree(runs)
        elif prefix is not None:
            run_dir = lab_dir() / "runs" / (prefix or "default")
            if run_dir.is_dir() and not any(s.get("prefix") == prefix for s in _all_states()):
                _safe_rmtree(run_dir)
    return removed


def reap_stale_hosts() -> list[str]:
    """Remove hosts whose owner process (``owner_pid``) is gone: leftovers of
    a test session that crashed or was killed."""
    requires_root()
    stale = set()
    for state in _all_states():
        owner = state.get("owner_pid")
        if owner and not _alive(owner, state.get("owner_start")):
            stale.add(state.get("prefix"))
    removed = []
    for prefix in sorted(p for p in stale if p is not None):
        removed += destroy_hosts(prefix)
    return removed


SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes"


def inventory_vars(host: Host) -> dict[str, Any]:
    """The Ansible connection variables of a lab host."""
    return {
        "ansible_host": host.address,
        "ansible_port": host.port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(host.ssh_key),
        "ansible_ssh_common_args": SSH_COMMON_ARGS,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def write_inventory(hosts: Sequence[Host], path: Path | str, group: str = "lab") -> Path:
    """Write a YAML Ansible inventory of hosts, all in one group; a host's
    inventory name is its hostname. (YAML, not INI: the project's ansible.cfg
    enables the yaml inventory plugin only.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["---", "# praxisops lab hosts, written by python -m lab.netns", "all:", "  children:",
             f"    {json.dumps(group)}:", "      hosts:"]
    for host in hosts:
        lines.append(f"        {json.dumps(host.hostname)}:")
        lines += [f"          {key}: {json.dumps(value)}" for key, value in inventory_vars(host).items()]
    if not hosts:
        lines[-1] = "      hosts: {}"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------
# command line


def _print_hosts(hosts: Sequence[Host]) -> None:
    if not hosts:
        print("no lab hosts")
        return
    print(f"{'name':<24} {'hostname':<16} {'address':<15} {'state':<8} ssh key")
    for host in hosts:
        print(f"{host.name:<24} {host.hostname:<16} {host.address:<15} "
              f"{'up' if host.alive() else 'down':<8} {host.ssh_key}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.netns",
                                     description="Real Linux lab hosts in network namespaces.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start lab hosts (and build the root file system once)")
    up.add_argument("--hosts", type=int, default=0, help="number of hosts <name>1..<name>N")
    up.add_argument("--name", required=True, help="name prefix, e.g. 'demo-'")
    up.add_argument("--host", action="append", dest="labels", metavar="LABEL",
                    help="a host <name><LABEL> with hostname LABEL (repeatable)")
    up.add_argument("--run-dir", help="where the lab SSH key and inventory go")
    up.add_argument("--inventory", help="write an Ansible inventory of the hosts here")
    up.add_argument("--timeout", type=float, default=60)
    up.add_argument("--json", action="store_true", help="print the hosts as JSON")
    down = sub.add_parser("down", help="remove lab hosts")
    group = down.add_mutually_exclusive_group(required=True)
    group.add_argument("--name", help="name prefix given to up")
    group.add_argument("--all", action="store_true", help="every lab host on this machine")
    status = sub.add_parser("status", help="list lab hosts")
    status.add_argument("--name", help="only this prefix")
    status.add_argument("--json", action="store_true")
    run = sub.add_parser("run", help="run a command inside a lab host")
    run.add_argument("host", help="host name (prefix + label)")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    rootfs = sub.add_parser("rootfs", help="build the cached root file system")
    rootfs.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            if not args.hosts and not args.labels:
                parser.error("up needs --hosts N or --host LABEL")
            started = time.monotonic()
            hosts = create_hosts(args.hosts, args.name, names=args.labels, run_dir=args.run_dir,
                                 timeout=args.timeout, log=sys.stderr)
            inventory = Path(hosts[0].run_dir) / "inventory.yml"
            if args.inventory:
                inventory = write_inventory(hosts, args.inventory)
            if args.json:
                print(json.dumps({"hosts": [h.as_dict() for h in hosts],
                                  "inventory": str(inventory)}, indent=2))
            else:
                _print_hosts(hosts)
                print(f"inventory: {inventory}  ({time.monotonic() - started:.1f} s)")
        elif args.command == "down":
            removed = destroy_hosts(args.name, all_hosts=args.all)
            print(f"removed {len(removed)} lab host(s)" + (f": {', '.join(removed)}" if removed else ""))
        elif args.command == "status":
            hosts = list_hosts(args.name)
            if args.json:
                print(json.dumps({"hosts": [h.as_dict() for h in hosts],
                                  "rootfs": rootfs_info()}, indent=2))
            else:
                _print_hosts(hosts)
                info = rootfs_info()
                print(f"root file system: {rootfs_cache_dir()} "
                      + (f"(built {info.get('built_at')} in {info.get('build_seconds')} s)"
                         if info else "(not built yet)"))
        elif args.command == "run":
            requires_root()
            matches = [h for h in list_hosts() if h.name == args.host]
            if not matches:
                raise LabError(f"no lab host {args.host!r}")
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            return subprocess.call(matches[0].exec_argv(cmd or ["/bin/bash", "-l"]))
        elif args.command == "rootfs":
            path = ensure_rootfs(rebuild=args.rebuild, log=sys.stderr)
            info = rootfs_info(path) or {}
            print(f"{path}: built {info.get('built_at')} in {info.get('build_seconds')} s")
    except (LabError, ValueError) as exc:
        print(f"lab.netns: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
