"""The maintenance_window role ends hosts outside maintenance time (OPS-01, NET-04)."""

from __future__ import annotations

import json
import re

from .ansible_run import ansible


def recap(output: str) -> dict[str, dict[str, int]]:
    result = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        result[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
    return result


def run(now: str, *extra: str):
    return ansible("ansible-playbook", "playbooks/calendar_check.yml", "-l", "huber-fw01,wagner-fw01,schmidt-sw01",
                   "-e", json.dumps({"praxis_now": now}), *extra)


def test_business_hours_end_every_host_with_the_next_window():
    result = run("2026-11-24T10:00:00+01:00")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "disruptive work refused for site huber at 2026-11-24T10:00:00+01:00: business hours" in result.stdout
    assert "next maintenance window 2026-11-24T22:00:00+01:00 to 2026-11-25T05:00:00+01:00" in result.stdout
    assert set(recap(result.stdout)) == {"huber-fw01", "wagner-fw01", "schmidt-sw01"}


def test_evening_differs_per_site_window():
    # 20:00 Tuesday: Bavaria's default is maintenance time; Berlin's window starts at 22:00
    result = run("2026-11-24T20:00:00+01:00")
    assert result.returncode == 0
    assert "refused for site wagner" in result.stdout
    assert "refused for site huber" not in result.stdout
    assert "allowed: maintenance time until 2026-11-25T08:00:00+01:00" in result.stdout


def test_force_reason_overrides_and_is_logged():
    result = run("2026-11-24T10:00:00+01:00", "-e",
                 '{"praxis_force_reason": "CVE-2026-0001 hotfix, agreed with owner"}')
    assert result.returncode == 0
    assert "refused" not in result.stdout
    assert "forced outside maintenance time" in result.stdout + result.stderr
    assert "CVE-2026-0001 hotfix, agreed with owner" in result.stdout + result.stderr


def test_bad_now_fails_with_clear_message():
    result = run("next tuesday")
    assert result.returncode != 0
    assert "praxis_maintenance_guard: timestamp 'next tuesday' is not an ISO-8601 timestamp" in result.stdout
