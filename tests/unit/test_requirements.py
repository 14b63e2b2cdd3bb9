"""requirements.yml (what AWX installs) agrees with the collections bundled in
the pinned ansible package, and the Python pins agree with what is installed."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import ansible_collections
import yaml

ROOT = Path(__file__).resolve().parents[2]


def bundled_version(name: str) -> str | None:
    namespace, collection = name.split(".")
    for base in ansible_collections.__path__:
        manifest = Path(base) / namespace / collection / "MANIFEST.json"
        if manifest.exists():
            return json.loads(manifest.read_text())["collection_info"]["version"]
    return None


def test_requirements_yml_matches_bundled_collections():
    required = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    assert required, "requirements.yml lists no collections"
    mismatches = {c["name"]: (c["version"], bundled_version(c["name"])) for c in required
                  if c["version"] != bundled_version(c["name"])}
    assert not mismatches, f"requirements.yml vs bundled (pinned, bundled): {mismatches}"


def test_collections_used_in_content_are_required():
    required = {c["name"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    # the AWX configuration (playbooks/awx_configure.yml) runs outside the execution environment
    required |= {c["name"] for c in yaml.safe_load((ROOT / "collections" / "requirements-awx.yml").read_text())
                 ["collections"]}
    used = set()
    for folder in ("roles", "playbooks"):
        for path in (ROOT / folder).rglob("*.yml"):
            pattern = r"^\s*-?\s*((?!ansible\.builtin)[a-z_]+\.[a-z_]+)\.[a-z_]+:"
            used |= set(re.findall(pattern, path.read_text(), re.M))
    assert used <= required, f"used but not in requirements.yml: {sorted(used - required)}"


def test_python_pins_are_installed():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            name = name.split("[")[0]          # psycopg[binary]: the distribution's name without its extras
            assert metadata.version(name) == version, f"{name}: pinned {version}, installed {metadata.version(name)}"
