"""The log_collector role (NET-05) on a real Debian host in a network
namespace: firewall logs sent over syslog land in <root>/<site>/<day>/, the
site chosen by the sender's address from the praxisops inventory, and the
daily cleanup deletes days past the retention and nothing else.

The machine reaches the host over its veth; the host sees the machine's end of
the veth (``host.gateway``) as the sender, so the test practice's firewall is
given that address in its site file."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import time
import uuid

import pytest

from lab import netns

from .ansible_run import ansible

pytestmark = pytest.mark.root

PLAYBOOK = "playbooks/log_collector.yml"
STORE = "/srv/log-collector"
SITE = "lctest"
CRON_FILE = "/etc/cron.d/log-collector-cleanup"
WAIT_SECONDS = 30   # upper bound for rsyslog to write a message; not an assertion

SITE_FILE = """\
---
id: {site}
name: Testpraxis Log-Sammler
state: BE
contacts:
  - {{name: Praxisteam, email: praxis@{site}.example.org, role: practice}}
devices:
  firewalls:
    - {{name: fw01, address: {address}, vendor: opnsense, model: DEC740, credentials: vault_{site}_fw01}}
"""


def recap(output: str) -> dict[str, dict[str, int]]:
    result = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line.strip())
        if match:
            result[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return result


def write_inventory(host: netns.Host, folder) -> str:
    """The praxisops inventory of one practice whose firewall sends from the
    machine's veth address, plus the provider's group log_collectors."""
    (folder / "sites").mkdir()
    (folder / "sites" / f"{SITE}.yml").write_text(SITE_FILE.format(site=SITE, address=host.gateway))
    (folder / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n")
    netns.write_inventory([host], folder / "provider.yml", group="log_collectors")
    return str(folder)


@pytest.fixture(scope="module")
def collector(netns_hosts) -> netns.Host:
    return netns_hosts(2, group="logcollector")[0]


@pytest.fixture(scope="module")
def fresh(netns_hosts) -> netns.Host:
    """A host the role never converges: only check mode runs on it."""
    return netns_hosts(2, group="logcollector")[1]


@pytest.fixture(scope="module")
def inventory(collector, tmp_path_factory) -> str:
    return write_inventory(collector, tmp_path_factory.mktemp("log-collector-inventory"))


def run_playbook(inventory: str, *extra: str) -> subprocess.CompletedProcess:
    return ansible("ansible-playbook", "-i", inventory, PLAYBOOK, *extra)


@pytest.fixture(scope="module")
def converged(collector, inventory) -> subprocess.CompletedProcess:
    result = run_playbook(inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def wait_for(predicate, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            assert value, f"{what} did not happen within {WAIT_SECONDS} s"
            return value
        time.sleep(0.1)


def host_day(host: netns.Host, days_ago: int = 0) -> str:
    return host.run(f"date -d '-{days_ago} days' +%Y/%m/%d").stdout.strip()


def read(host: netns.Host, path: str) -> str:
    result = host.run(f"cat {shlex.quote(path)}", check=False)
    return result.stdout if result.returncode == 0 else ""


def listening(host: netns.Host) -> bool:
    sockets = host.run("ss -Hlntu", check=False).stdout
    return bool(re.search(r"^udp .*:514\s", sockets, re.M)) and bool(re.search(r"^tcp .*:514\s", sockets, re.M))


def send_udp(address: str, line: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(line.encode(), (address, 514))


def send_tcp(address: str, *lines: str) -> None:
    with socket.create_connection((address, 514), timeout=10) as sock:
        sock.sendall("".join(f"{line}\n" for line in lines).encode())


def stat(host: netns.Host, path: str) -> str:
    return host.run(f"stat -c '%a %U %G' {shlex.quote(path)}").stdout.strip()


def test_converges_and_a_second_run_changes_nothing(collector, inventory, converged):
    first = recap(converged.stdout)
    assert first[collector.hostname]["changed"] > 0 and first[collector.hostname]["failed"] == 0
    second = run_playbook(inventory)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout)[collector.hostname]["changed"] == 0, second.stdout
    config = collector.run("cat /etc/rsyslog.d/60-log-collector.conf").stdout
    assert f'if $fromhost-ip == ["{collector.gateway}"] then {{\n    set $.site = "{SITE}";' in config
    assert "is running" in collector.run("service rsyslog status").stdout


def test_check_mode_on_the_converged_host_reports_no_change(collector, inventory, converged):
    result = run_playbook(inventory, "--check", "--diff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout)[collector.hostname]["changed"] == 0, result.stdout


def test_check_mode_on_a_new_host_changes_nothing_there(fresh, tmp_path):
    result = run_playbook(write_inventory(fresh, tmp_path), "--check", "--diff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout)[fresh.hostname]["changed"] > 0
    assert "+LOG_COLLECTOR_RETENTION_DAYS=90" in result.stdout
    for path in (STORE, "/etc/rsyslog.d/60-log-collector.conf", CRON_FILE, "/usr/local/sbin/log-collector-cleanup"):
        assert fresh.run(["test", "-e", path], check=False).returncode == 1, path
    assert fresh.run(["getent", "group", "firewall-logs"], check=False).returncode == 2


def test_udp_and_tcp_messages_of_a_firewall_land_in_its_site_and_day(collector, converged):
    wait_for(lambda: listening(collector), "rsyslog listening on UDP and TCP 514")
    marker = uuid.uuid4().hex
    before = host_day(collector)
    send_udp(collector.address, f"<134>Nov 23 10:00:00 fw01 filterlog[4711]: udp-{marker}")
    send_tcp(collector.address, f"<134>Nov 23 10:00:01 fw01 filterlog[4711]: tcp-{marker}",
             f"<86>Nov 23 10:00:02 fw01 squid[12]: proxy-{marker}")
    days = {before, host_day(collector)}   # both, should midnight pass meanwhile

    def content(program: str, text: str) -> str:
        for day in days:
            found = read(collector, f"{STORE}/{SITE}/{day}/{program}.log")
            if text in found:
                return found
        return ""

    filterlog = wait_for(lambda: content("filterlog", f"tcp-{marker}") and content("filterlog", f"udp-{marker}"),
                         "both filterlog messages in the site's day file")
    lines = [line for line in filterlog.splitlines() if marker in line]
    assert len(lines) == 2
    for line in lines:
        # reception time, sender address, host name and tag as sent
        assert re.match(rf"^\d{{4}}-\d\d-\d\dT\S+ {re.escape(collector.gateway)} fw01 filterlog\[4711\]: "
                        rf"(udp|tcp)-{marker}$", line), line
    assert f"squid[12]: proxy-{marker}" in wait_for(lambda: content("squid", f"proxy-{marker}"), "the squid message")
    day = next(d for d in days if f"udp-{marker}" in read(collector, f"{STORE}/{SITE}/{d}/filterlog.log"))
    year, month, _ = day.split("/")
    assert stat(collector, STORE) == "750 root firewall-logs"
    for directory in (SITE, f"{SITE}/{year}", f"{SITE}/{year}/{month}", f"{SITE}/{day}"):
        assert stat(collector, f"{STORE}/{directory}") == "750 root firewall-logs", directory
    assert stat(collector, f"{STORE}/{SITE}/{day}/filterlog.log") == "640 root firewall-logs"
    assert marker not in read(collector, "/var/log/syslog")   # received logs stay out of the host's own log


def test_unknown_senders_and_odd_program_names(collector, converged):
    wait_for(lambda: listening(collector), "rsyslog listening on UDP and TCP 514")
    marker = uuid.uuid4().hex
    # sent from the host itself: its own address is in no site's list
    collector.run(["logger", "--udp", "-n", collector.address, "-P", "514", "-t", "stranger", f"unknown-{marker}"])
    # a mapped sender whose program name would climb out of the day directory
    send_tcp(collector.address, f"<134>Nov 23 10:00:00 fw01 ../../../../etc/cron.d/evil: odd-{marker}")

    def written() -> list[str] | None:
        paths = collector.run(["grep", "-rl", marker, "/srv", "/etc", "/var", "/root", "/tmp"], check=False)
        return sorted(paths.stdout.split()) if len(paths.stdout.split()) == 2 else None

    found = wait_for(written, "both messages in the store")
    days = "|".join(re.escape(host_day(collector, n)) for n in (0, 1))
    assert any(re.fullmatch(rf"{STORE}/_unknown/({days})/stranger\.log", path) for path in found), found
    # '..' is no program name to file by: the facility (local0) is used instead
    assert any(re.fullmatch(rf"{STORE}/{SITE}/({days})/local0\.log", path) for path in found), found


def cron_command(host: netns.Host) -> str:
    lines = [line for line in read(host, CRON_FILE).splitlines() if line and not line.startswith("#")]
    jobs = [re.match(r"^(\d+) (\d+) \* \* \* root (.+)$", line) for line in lines]
    jobs = [job for job in jobs if job]
    assert len(jobs) == 1, lines
    assert jobs[0].group(1, 2) == ("17", "3")
    return jobs[0].group(3)


def test_cleanup_deletes_days_past_the_retention_and_nothing_else(collector, converged):
    ages = (100, 91, 90, 89, 30)
    days = {age: host_day(collector, age) for age in ages}
    script = ["set -e"]
    for age, day in days.items():
        script += [f"mkdir -p {STORE}/{SITE}/{day}", f"echo old > {STORE}/{SITE}/{day}/filterlog.log",
                   f"touch -d '{age} days ago' {STORE}/{SITE}/{day}/filterlog.log {STORE}/{SITE}/{day}"]
    recent = host_day(collector, 10)
    script += [
        # the age comes from the day in the path: an old modification time does not matter
        f"mkdir -p {STORE}/{SITE}/{recent}", f"echo recent > {STORE}/{SITE}/{recent}/filterlog.log",
        f"touch -d '200 days ago' {STORE}/{SITE}/{recent}/filterlog.log {STORE}/{SITE}/{recent}",
        # a practice with nothing left after the cleanup
        f"mkdir -p {STORE}/oldpraxis/{days[100]}", f"echo old > {STORE}/oldpraxis/{days[100]}/filterlog.log",
        # outside the store, also through a symbolic link and a look-alike name
        f"mkdir -p /srv/outside/{days[100]} {STORE}.bak/{SITE}/{days[100]}",
        f"echo keep > /srv/outside/{days[100]}/filterlog.log",
        f"echo keep > {STORE}.bak/{SITE}/{days[100]}/filterlog.log",
        f"touch -d '300 days ago' /srv/outside/{days[100]} {STORE}.bak/{SITE}/{days[100]}",
        f"ln -sfn /srv/outside {STORE}/linked",
        f"mkdir -p /srv/outside/lnk/{days[100][:4]}",
        f"ln -sfn /srv/outside/{days[100][:7]} /srv/outside/lnk/{days[100][:4]}/{days[100][5:7]}",
        f"ln -sfn /srv/outside/lnk {STORE}/viasymlink",
    ]
    collector.run("\n".join(script))

    command = cron_command(collector)
    result = collector.run(command, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr == ""   # --quiet: cron mails nothing

    def exists(path: str) -> bool:
        return collector.run(["test", "-e", path], check=False).returncode == 0

    assert not exists(f"{STORE}/{SITE}/{days[100]}")
    assert not exists(f"{STORE}/{SITE}/{days[91]}")
    for age in (90, 89, 30):
        assert read(collector, f"{STORE}/{SITE}/{days[age]}/filterlog.log") == "old\n", age
    assert read(collector, f"{STORE}/{SITE}/{recent}/filterlog.log") == "recent\n"
    assert not exists(f"{STORE}/oldpraxis")          # emptied month, year and site removed
    assert read(collector, f"/srv/outside/{days[100]}/filterlog.log") == "keep\n"
    assert read(collector, f"{STORE}.bak/{SITE}/{days[100]}/filterlog.log") == "keep\n"
    assert collector.run(["readlink", f"{STORE}/linked"]).stdout.strip() == "/srv/outside"
    assert collector.run(["readlink", f"{STORE}/viasymlink"]).stdout.strip() == "/srv/outside/lnk"
    assert stat(collector, STORE) == "750 root firewall-logs"

    def logged() -> str:
        text = read(collector, "/var/log/syslog")
        return text if "log-collector-cleanup: removed empty directory oldpraxis" in text else ""

    syslog = wait_for(logged, "the deletions in syslog")
    assert re.search(rf"log-collector-cleanup: deleted {SITE}/{days[100]} \(1 file\(s\), older than 90 days\)",
                     syslog)
    assert f"log-collector-cleanup: deleted {SITE}/{days[91]} " in syslog
    assert f"log-collector-cleanup: deleted oldpraxis/{days[100]} " in syslog
    assert f"deleted {SITE}/{days[90]}" not in syslog

    again = collector.run(f"{command.replace(' --quiet', '')} --dry-run")
    assert "0 day directories to delete" in again.stdout


@pytest.mark.parametrize(("settings", "message"), [
    ("LOG_COLLECTOR_ROOT=/\nLOG_COLLECTOR_RETENTION_DAYS=90", "must be a path of plain names"),
    ("LOG_COLLECTOR_ROOT=/var/log\nLOG_COLLECTOR_RETENTION_DAYS=90", "is a system directory"),
    ("LOG_COLLECTOR_ROOT=/srv/store-link\nLOG_COLLECTOR_RETENTION_DAYS=90", "is not a directory"),
    ("LOG_COLLECTOR_ROOT=relative/path\nLOG_COLLECTOR_RETENTION_DAYS=90", "is not an absolute path"),
    ("LOG_COLLECTOR_ROOT=/srv/log-collector/../..\nLOG_COLLECTOR_RETENTION_DAYS=90", "plain names"),
    (f"LOG_COLLECTOR_ROOT={STORE}\nLOG_COLLECTOR_RETENTION_DAYS=0", "must be at least 1"),
    (f"LOG_COLLECTOR_ROOT={STORE}\nLOG_COLLECTOR_RETENTION_DAYS=-3", "is not a whole number of days"),
])
def test_cleanup_refuses_a_dangerous_setting(collector, converged, settings, message):
    collector.run(f"ln -sfn {STORE} /srv/store-link")
    collector.run("cat > /root/cleanup-settings", input=settings + "\n")
    before = collector.run(f"find {STORE} | sort").stdout
    result = collector.run("log-collector-cleanup --config /root/cleanup-settings", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert collector.run(f"find {STORE} | sort").stdout == before


@pytest.mark.parametrize(("extra", "message"), [
    ({"log_collector_retention_days": 0}, "log_collector_retention_days must be at least 1"),
    ({"log_collector_retention_days": -7}, "log_collector_retention_days must be at least 1"),
    ({"log_collector_sources": [{"site": SITE}]}, "missing required arguments: address found in log_collector_sources"),
    ({"log_collector_sources": [{"site": "huber", "address": "10.0.0.1"}, {"site": "wagner", "address": "10.0.0.1"}]},
     "address 10.0.0.1 is listed for the sites huber, wagner"),
    ({"log_collector_sources": [{"site": "../etc", "address": "10.0.0.1"}]}, "bad site ids: ../etc"),
    ({"log_collector_sources": [{"site": SITE, "address": "fw01.example.org"}]}, "bad addresses: fw01.example.org"),
    ({"log_collector_root": "/var/log"}, "log_collector_root must be an absolute path of plain names"),
])
def test_bad_input_fails_before_any_change_naming_the_variable(collector, inventory, converged, extra, message):
    result = run_playbook(inventory, "-e", json.dumps(extra))
    assert result.returncode != 0
    output = re.sub(r"\s+", " ", result.stdout + result.stderr)
    assert message in output, output
    counters = recap(result.stdout)[collector.hostname]
    assert counters["failed"] == 1 and counters["changed"] == 0
