"""SITE-02: playbooks/network_plan.yml against the demo inventory writes one
plan per practice (Markdown, DOT, SVG, PNG), reads the facts files, changes
nothing on a second run and nothing at all in check mode."""

from __future__ import annotations

import json
import re
import shutil
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from .ansible_run import ROOT, ansible

SITES = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
         for path in sorted((ROOT / "inventories" / "demo" / "sites").glob("*.yml"))}
FILES = ("network-plan.md", "network-plan.dot", "network-plan.svg", "network-plan.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
FW_FACTS = {"hostname": "fw01", "model": "DEC740", "firmware_version": "24.7.9", "vendor": "opnsense",
            "reachable": True, "checked_at": "2026-11-24T01:10:00+00:00"}

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")


def run_plan(tmp_path: Path, *args: str):
    extra = {"network_plan_output_dir": str(tmp_path / "plans"), "network_plan_facts_dir": str(tmp_path / "facts")}
    result = ansible("ansible-playbook", "playbooks/network_plan.yml", "-e", json.dumps(extra), *args,
                     env={"PRAXIS_SUMMARY_DIR": str(tmp_path / "runs")})
    assert result.returncode == 0, result.stdout + result.stderr
    recap = {host: (int(changed), int(unreachable), int(failed))
             for host, changed, unreachable, failed in RECAP.findall(result.stdout)}
    assert recap, result.stdout
    assert all(u == 0 and f == 0 for _c, u, f in recap.values()), result.stdout
    return result, {host: c for host, (c, _u, _f) in recap.items()}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def devices(site: dict) -> list[dict]:
    return [d for group in (site.get("devices") or {}).values() for d in group]


def test_plans_for_every_demo_site_then_no_change(tmp_path):
    (tmp_path / "facts" / "huber").mkdir(parents=True)
    (tmp_path / "facts" / "huber" / "huber-fw01.json").write_text(json.dumps(FW_FACTS), encoding="utf-8")
    plans = tmp_path / "plans"

    first, changed = run_plan(tmp_path)
    assert changed["huber-fw01"] > 0, first.stdout
    assert sorted(p.name for p in plans.iterdir()) == sorted(SITES)
    for site_id, site in SITES.items():
        folder = plans / site_id
        assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in FILES:
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
        assert (folder / "network-plan.png").read_bytes().startswith(PNG_MAGIC)
        svg = ET.parse(folder / "network-plan.svg")  # noqa: S314 - written by Graphviz in this test
        assert svg.getroot().tag == "{http://www.w3.org/2000/svg}svg"
        markdown = (folder / "network-plan.md").read_text(encoding="utf-8")
        dot = (folder / "network-plan.dot").read_text(encoding="utf-8")
        title = next(line for line in markdown.splitlines() if line.startswith("# "))
        assert title.startswith("# Network plan: ") and title.endswith(f"({site_id})")
        for device in devices(site):
            assert f"| {device['name']} | " in markdown
            assert f"| {device['address']} | " in markdown
            assert f'"{site_id}-{device["name"]}"' in dot
        wlans = (site.get("networks") or {}).get("wlans") or []
        for wlan in wlans:
            assert f"| {wlan['ssid']} | " in markdown
        for secret in [w["psk"] for w in wlans] + [d["credentials"] for d in devices(site)]:
            assert secret not in markdown + dot
            assert secret not in first.stdout
    huber = (plans / "huber" / "network-plan.md").read_text(encoding="utf-8")
    assert "| fw01 | firewall | OPNsense | DEC740 | 192.168.10.1 | Internet (WAN) | 24.7.9 | " in huber
    assert "Generated at: 2026-11-24T01:10:00+00:00" in huber
    assert "| ap01 | access point | LANCOM | LW-600 | 192.168.10.3 | sw01 | unknown | - |" in huber
    # drawn once per site, by its first host
    drawing = [h for line in re.findall(r"included: \S+/plan\.yml for (.+)$", first.stdout, re.MULTILINE)
               for h in line.split(", ")]
    assert sorted(drawing) == sorted(f"{site_id}-fw01" for site_id in SITES)

    before = snapshot(plans)
    second, changed = run_plan(tmp_path)
    assert set(changed.values()) == {0}, second.stdout
    assert snapshot(plans) == before

    check, changed = run_plan(tmp_path, "--check", "--diff")
    assert set(changed.values()) == {0}, check.stdout
    assert snapshot(plans) == before

    # a new health check found the same device: only the times moved, so nothing is
    # written and the document keeps the times of its last change in content
    seen_again = dict(FW_FACTS, checked_at="2026-11-24T23:40:00+00:00")
    (tmp_path / "facts" / "huber" / "huber-fw01.json").write_text(json.dumps(seen_again), encoding="utf-8")
    recheck, changed = run_plan(tmp_path)
    assert set(changed.values()) == {0}, recheck.stdout
    assert snapshot(plans) == before
    assert "Generated at: 2026-11-24T01:10:00+00:00" in (plans / "huber" / "network-plan.md").read_text()

    # new facts: the document and the diagram of that site change, and only those
    facts = dict(FW_FACTS, firmware_version="25.1", checked_at="2026-11-25T01:10:00+00:00")
    (tmp_path / "facts" / "huber" / "huber-fw01.json").write_text(json.dumps(facts), encoding="utf-8")
    third, changed = run_plan(tmp_path)
    assert changed["huber-fw01"] > 0 and changed["schmidt-fw01"] == 0, third.stdout
    after = snapshot(plans)
    assert {k for k in after if after[k] != before[k]} == {f"huber/{name}" for name in FILES}
    assert "firmware 25.1" in (plans / "huber" / "network-plan.dot").read_text(encoding="utf-8")
    assert "Generated at: 2026-11-25T01:10:00+00:00" in (plans / "huber" / "network-plan.md").read_text()
    assert "DEPRECATION" not in third.stdout + third.stderr


def test_check_mode_writes_nothing(tmp_path):
    result, changed = run_plan(tmp_path, "--check", "--diff", "-l", "site_schmidt")
    assert not (tmp_path / "plans").exists()
    assert changed["schmidt-fw01"] > 0
    assert "+# Network plan: Kinderarztpraxis Schmidt &amp; Partner (schmidt)" in result.stdout
    assert "vault_schmidt_wlan" not in result.stdout


def test_a_limit_without_the_first_host_still_draws_the_site(tmp_path):
    result, _changed = run_plan(tmp_path, "-l", "workplaces:&site_wagner")
    assert "/plan.yml for wagner-therapie1\n" in result.stdout  # a Windows host, its work on the controller
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["wagner"]
    assert (tmp_path / "plans" / "wagner" / "network-plan.png").read_bytes().startswith(PNG_MAGIC)
