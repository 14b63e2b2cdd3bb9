"""The patch fixtures (tests/fixtures/windows/updates_*.json, chocolatey_facts.json)
have exactly the shape the modules document: every key, type and count is
checked against the RETURN documentation of the installed collections
(ansible.windows win_updates, chocolatey.chocolatey win_chocolatey_facts), so a
fixture that drifts from what the modules return fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import ansible_collections
import pytest
import yaml

from .windows_helpers import FIXTURES

COLLECTIONS = Path(next(iter(ansible_collections.__path__)))
UPDATE_FIXTURES = ["updates_search_de", "updates_search_en", "updates_install_ok", "updates_install_failed",
                   "updates_search_none"]
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
TYPES = {"str": str, "bool": bool, "int": int, "list": list, "dict": dict, "float": float}


def module_return(collection: str, module: str) -> dict[str, Any]:
    """The RETURN documentation of an installed collection module, as data."""
    namespace, name = collection.split(".")
    path = COLLECTIONS / namespace / name / "plugins" / "modules" / f"{module}.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "RETURN" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{path} has no RETURN")


def documented_type(doc: dict[str, Any]):
    """The Python type of a documented value. ``complex`` is a mapping or a
    list of mappings. Where the documentation contradicts its own sample
    (win_updates: failure_hresult_code is ``type: bool`` with the sample
    2147942402) the sample wins: the module returns the HRESULT number."""
    kind = doc.get("type")
    if kind == "complex":
        return (dict, list)
    wanted = TYPES[kind]
    sample = doc.get("sample")
    if wanted is bool and isinstance(sample, int) and not isinstance(sample, bool):
        return int
    return wanted


def check_value(value: Any, doc: dict[str, Any], where: str) -> None:
    wanted = documented_type(doc)
    assert isinstance(value, wanted), f"{where}: {value!r} is not {doc.get('type')} as documented"
    if wanted in (int, float):
        assert not isinstance(value, bool), f"{where}: {value!r} is a boolean, documented {doc.get('type')}"
    if doc.get("type") == "list" and "elements" in doc:
        for index, item in enumerate(value):
            assert isinstance(item, TYPES[doc["elements"]]), f"{where}[{index}]: {item!r} is not {doc['elements']}"


def returned_always(doc: dict[str, Any]) -> bool:
    return str(doc.get("returned", "")).startswith(("always", "success"))


def fixture_data(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


WIN_UPDATES = module_return("ansible.windows", "win_updates")
UPDATE_FIELDS = WIN_UPDATES["updates"]["contains"]
FILTERED_FIELDS = dict(UPDATE_FIELDS, **WIN_UPDATES["filtered_updates"]["contains"])
FILTER_REASONS = set(re.findall(r"C\((\w+)\)", " ".join(
    WIN_UPDATES["filtered_updates"]["contains"]["filtered_reasons"]["description"])))


def check_update(entry: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    unknown = set(entry) - set(fields)
    assert not unknown, f"{where}: keys not documented by win_updates: {sorted(unknown)}"
    for key, doc in fields.items():
        if key in entry:
            check_value(entry[key], doc, f"{where}.{key}")
        elif returned_always(doc) and key != "filtered_reasons":
            raise AssertionError(f"{where}: {key} is returned always, missing")
    assert GUID.match(entry["id"]), f"{where}.id: {entry['id']!r} is not a Windows Update GUID"
    for kb in entry["kb"]:
        assert kb.isdigit(), f"{where}.kb: {kb!r}: win_updates returns the number without 'KB'"
    for kb in re.findall(r"KB(\d+)", entry["title"]):
        assert kb in entry["kb"], f"{where}: the title names KB{kb}, kb lists {entry['kb']}"
    failed = "failure_hresult_code" in entry
    assert failed == ("failure_msg" in entry), f"{where}: failure_hresult_code and failure_msg come together"
    if failed:
        assert not entry["installed"], f"{where}: a failed update is not installed"


@pytest.mark.parametrize("name", UPDATE_FIXTURES)
def test_update_fixture_has_the_documented_shape(name):
    data = fixture_data(name)
    assert data["_source"]["win_updates"].startswith("https://docs.ansible.com/"), "cite the documentation"
    assert data["_source"]["about"]
    for key, doc in WIN_UPDATES.items():
        if key in data:
            if doc.get("type") != "dict":
                check_value(data[key], doc, key)
        else:
            assert not returned_always(doc), f"{name}: {key} is returned always, missing"
    assert isinstance(data["updates"], dict) and isinstance(data["filtered_updates"], dict)
    for update_id, entry in data["updates"].items():
        check_update(entry, UPDATE_FIELDS, f"{name}: updates[{update_id}]")
        assert "filtered_reasons" not in entry, f"{name}: updates[{update_id}] is not filtered"
        assert entry["id"] == update_id, f"{name}: updates are keyed by their id"
    for update_id, entry in data["filtered_updates"].items():
        check_update(entry, FILTERED_FIELDS, f"{name}: filtered_updates[{update_id}]")
        assert entry["id"] == update_id
        assert entry["filtered_reasons"] and set(entry["filtered_reasons"]) <= FILTER_REASONS, entry
        assert not entry["installed"] and not entry["downloaded"]
    assert not set(data["updates"]) & set(data["filtered_updates"])


@pytest.mark.parametrize("name", UPDATE_FIXTURES)
def test_update_counts_match_the_updates(name):
    data = fixture_data(name)
    updates = list(data["updates"].values())
    failed = [u for u in updates if "failure_hresult_code" in u]
    assert data["found_update_count"] == len(updates)
    assert data["failed_update_count"] == len(failed)
    assert data["installed_update_count"] == sum(1 for u in updates if u["installed"] and u not in failed)
    # win_updates fails the task when an update fails, and says so
    assert bool(data.get("failed")) == bool(failed)


@pytest.mark.parametrize("name", UPDATE_FIXTURES)
def test_hresult_codes_are_numbers_the_action_plugin_words(name):
    from ansible_collections.ansible.windows.plugins.action.win_updates import _get_hresult_error

    for entry in fixture_data(name)["updates"].values():
        if "failure_hresult_code" not in entry:
            continue
        code = entry["failure_hresult_code"]
        assert isinstance(code, int) and not isinstance(code, bool), code
        assert 0 <= code <= 0xFFFFFFFF, f"{code}: an HRESULT is a 32-bit number"
        assert entry["failure_msg"] == _get_hresult_error(code)
        assert entry["failure_msg"].endswith(f"0x{code:08X})")


def test_searches_download_nothing_and_install_nothing():
    for name in ("updates_search_de", "updates_search_en", "updates_search_none"):
        data = fixture_data(name)
        assert data["changed"] is False and data["reboot_required"] is False
        for entry in data["updates"].values():
            assert entry["downloaded"] is False and entry["installed"] is False, (name, entry["title"])


def test_search_fixtures_cover_every_kind_of_update():
    for name in ("updates_search_de", "updates_search_en"):
        updates = list(fixture_data(name)["updates"].values())
        classifications = {u["categories"][0] for u in updates}
        assert classifications == {"Security Updates", "Update Rollups", "Definition Updates", "Updates", "Drivers"}
        assert any(not u["kb"] for u in updates), "a driver has no KB"
        assert any(re.match(r"\d{4}-\d{2} ", u["title"]) for u in updates), "a monthly update"
    titles = [u["title"] for u in fixture_data("updates_search_de")["updates"].values()]
    assert "2026-11 Kumulatives Update für Windows 11 Version 23H2 für x64-basierte Systeme (KB5046633)" in titles
    assert "Windows-Tool zum Entfernen bösartiger Software x64 - v5.131 (KB890830)" in titles
    assert fixture_data("updates_search_none")["updates"] == {}


@pytest.mark.parametrize("name", ["updates_install_ok", "updates_install_failed"])
def test_installs_are_the_in_scope_updates_of_the_german_search(name):
    search = fixture_data("updates_search_de")["updates"]
    data = fixture_data(name)
    scope = {"Security Updates", "Critical Updates", "Update Rollups"}
    in_scope = {i for i, u in search.items() if scope & set(u["categories"])}
    assert set(data["updates"]) == in_scope
    assert set(data["filtered_updates"]) == set(search) - in_scope
    for update_id, entry in {**data["updates"], **data["filtered_updates"]}.items():
        assert (entry["title"], entry["kb"], entry["categories"]) == (
            search[update_id]["title"], search[update_id]["kb"], search[update_id]["categories"])
    assert data["reboot_required"] is True and data["rebooted"] is False and data["changed"] is True


CHOCOLATEY = module_return("chocolatey.chocolatey", "win_chocolatey_facts")
CHOCOLATEY_FACTS = CHOCOLATEY["ansible_facts"]["contains"]["ansible_chocolatey"]["contains"]


def test_chocolatey_fixture_has_the_documented_shape():
    data = fixture_data("chocolatey_facts")
    assert "win_chocolatey_facts" in data["_source"]
    facts = data["ansible_facts"]["ansible_chocolatey"]
    unknown = set(facts) - set(CHOCOLATEY_FACTS)
    assert not unknown, f"keys not documented by win_chocolatey_facts: {sorted(unknown)}"
    assert set(facts["filter"]) == {"packages", "outdated"}
    for subset in ("packages", "outdated"):
        fields = CHOCOLATEY_FACTS[subset]["contains"]
        assert isinstance(facts[subset], list)
        for index, entry in enumerate(facts[subset]):
            assert set(entry) == set(fields), f"{subset}[{index}]: {sorted(entry)} vs documented {sorted(fields)}"
            for key, doc in fields.items():
                check_value(entry[key], doc, f"{subset}[{index}].{key}")
    # every gathered subset the filter did not exclude is there, the others are not
    for subset in set(CHOCOLATEY_FACTS) - {"filter"}:
        assert (subset in facts) == (subset in facts["filter"]), subset


def test_chocolatey_outdated_packages_are_installed_ones():
    facts = fixture_data("chocolatey_facts")["ansible_facts"]["ansible_chocolatey"]
    installed = {p["package"]: p["version"] for p in facts["packages"]}
    for entry in facts["outdated"]:
        assert installed.get(entry["package"]) == entry["current_version"], entry
        assert entry["available_version"] != entry["current_version"], entry
    outdated = {p["package"] for p in facts["outdated"]}
    assert {"7zip", "googlechrome"} <= outdated and "vlc" not in outdated
    policy = {"googlechrome", "firefox", "microsoft-edge", "adobereader", "7zip", "notepadplusplus", "vlc",
              "libreoffice-fresh", "temurin21jre"}
    names = {name.lower() for name in installed}
    assert names - policy, "a package outside the policy (chocolatey itself)"
    assert policy - {"microsoft-edge"} <= names
