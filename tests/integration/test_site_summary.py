"""The demo job prints every demo practice with its next maintenance window."""

from __future__ import annotations

import json

from .ansible_run import ansible


def test_site_summary_lists_the_three_demo_practices():
    result = ansible("ansible-playbook", "playbooks/site_summary.yml", "-e",
                     json.dumps({"praxis_now": "2026-11-25T14:00:00+01:00"}))
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Hausarztpraxis Dr. Huber (huber, BY, Europe/Berlin)" in out
    assert "next maintenance window: 2026-11-25T18:01:00+01:00 to 2026-11-26T08:00:00+01:00" in out
    # Wednesday closure: hard floor until 17:00, then maintenance time
    assert "working hours Mon-Fri 08:00-17:00 (never maintenance time)" in out
    assert "next maintenance window: 2026-11-25T17:01:00+01:00 to 2026-11-26T08:00:00+01:00" in out
    # custom window
    assert "next maintenance window: 2026-11-25T22:00:00+01:00 to 2026-11-26T05:00:00+01:00" in out
    assert "schmidt-mac-ceo 10.20.0.40 Apple iMac [not managed: macos]" in out
    assert "huber-ws01 192.168.10.21 Dell OptiPlex 7010 [pilot]" in out


def test_site_summary_without_praxis_now_uses_the_current_time():
    result = ansible("ansible-playbook", "playbooks/site_summary.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("next maintenance window: ") == 3
