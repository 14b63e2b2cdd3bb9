#!/usr/bin/env python3
"""The awx.awx collection for the offline checks of playbooks/awx_configure.yml.

awx.awx is no longer in the pinned ansible package. The version that
collections/requirements-awx.yml names is taken from a published package that
bundles it, the wheel of ansible 12.3.0 on PyPI (`pip download --no-deps`), and
only `ansible_collections/awx/awx/` is extracted into .venv/awx-collection/, once.
Prints the folder to put on ANSIBLE_COLLECTIONS_PATH."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_WHEEL = "ansible==12.3.0"
PREFIX = "ansible_collections/awx/awx/"
CACHE = ROOT / ".venv" / "awx-collection"


def required_version() -> str:
    entries = yaml.safe_load((ROOT / "collections" / "requirements-awx.yml").read_text())["collections"]
    return next(str(entry["version"]) for entry in entries if entry["name"] == "awx.awx")


def installed_version(base: Path) -> str | None:
    manifest = base / PREFIX / "MANIFEST.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


def ensure() -> Path:
    """The collections folder holding awx.awx in the required version (downloaded if missing)."""
    version = required_version()
    base = CACHE / version
    if installed_version(base) == version:
        return base
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                                 "--only-binary", ":all:", "-d", scratch, ANSIBLE_WHEEL],
                                capture_output=True, text=True, check=False)
        wheels = sorted(Path(scratch).glob("ansible-*.whl"))
        if result.returncode != 0 or not wheels:
            raise SystemExit(f"could not download {ANSIBLE_WHEEL} (for awx.awx {version}): "
                             f"{result.stderr.strip() or 'no wheel'}")
        target = Path(scratch) / "tree"
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [name for name in wheel.namelist() if name.startswith(PREFIX)]
            if not members:
                raise SystemExit(f"{wheels[0].name} holds no {PREFIX}")
            wheel.extractall(target, members)
        found = installed_version(target)
        if found != version:
            raise SystemExit(f"{wheels[0].name} bundles awx.awx {found}, collections/requirements-awx.yml "
                             f"names {version}")
        shutil.rmtree(base, ignore_errors=True)
        try:
            target.rename(base)
        except OSError:  # extracted by a parallel run in the meantime
            if installed_version(base) != version:
                raise
    return base


if __name__ == "__main__":
    print(ensure())
