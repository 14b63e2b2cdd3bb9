"""The AWX execution environment (execution-environment.yml, ansible-builder
version 3): `ansible-builder create` writes a build context whose Containerfile
installs the repository's own pinned Python requirements, collections and
system packages, on a base image pinned by tag."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILDER = Path(sys.executable).parent / "ansible-builder"


def build_context(tmp_path: Path, definition: Path) -> Path:
    context = tmp_path / "context"
    result = subprocess.run([str(BUILDER), "create", "-f", str(definition), "-c", str(context),
                             "--output-filename", "Containerfile"],
                            cwd=definition.parent, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return context


def image_problems(definition: dict) -> list[str]:
    """Why the base image is not pinned by tag (empty: it is)."""
    name = (((definition.get("images") or {}).get("base_image") or {}).get("name")) or ""
    match = re.fullmatch(r"(?P<repo>[a-z0-9./_-]+)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@sha256:[0-9a-f]{64})?", name)
    if not match:
        return [f"images.base_image.name {name!r} is not an image reference"]
    if not match["tag"] or match["tag"] == "latest":
        return [f"images.base_image.name {name!r} is not pinned by a tag (latest or none)"]
    return []


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    return build_context(tmp_path_factory.mktemp("ee"), ROOT / "execution-environment.yml")


def test_schema_version_3_and_pinned_base_image():
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    assert image_problems(definition) == []
    deps = definition["dependencies"]
    assert (deps["python"], deps["galaxy"], deps["system"]) == ("requirements.txt", "requirements.yml", "bindep.txt")
    assert re.fullmatch(r"ansible-core==[\d.]+", deps["ansible_core"]["package_pip"])
    assert re.fullmatch(r"ansible-runner==[\d.]+", deps["ansible_runner"]["package_pip"])


@pytest.mark.parametrize("name", ["", "quay.io/fedora/fedora", "quay.io/fedora/fedora:latest"])
def test_unpinned_base_image_is_found(name):
    assert image_problems({"images": {"base_image": {"name": name}}})


def test_containerfile_installs_the_repository_files(context):
    containerfile = (context / "Containerfile").read_text()
    base = yaml.safe_load((ROOT / "execution-environment.yml").read_text())["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{base}"' in containerfile
    # the files it installs are the repository's, byte for byte
    for name in ("requirements.txt", "requirements.yml", "bindep.txt"):
        assert (context / "_build" / name).read_text() == (ROOT / name).read_text(), name
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "COPY _build/requirements.txt requirements.txt" in containerfile
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert "/output/scripts/install-from-bindep" in containerfile
    core = re.search(r"^ansible-core==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)[1]
    assert f"ansible-core=={core}" in containerfile, "ansible-core differs from requirements.txt"


def test_context_differs_when_a_requirement_differs(tmp_path):
    """The comparison above can fail: a definition pointing at another
    requirements file gives a context that does not match the repository's."""
    (tmp_path / "requirements.txt").write_text("ansible-core==2.21.5\n")
    for name in ("requirements.yml", "bindep.txt"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "execution-environment.yml").write_text((ROOT / "execution-environment.yml").read_text())
    context = build_context(tmp_path, tmp_path / "execution-environment.yml")
    assert (context / "_build" / "requirements.txt").read_text() != (ROOT / "requirements.txt").read_text()


def test_bindep_names_every_system_package_for_dpkg_and_rpm():
    lines = [line.split("#")[0].strip() for line in (ROOT / "bindep.txt").read_text().splitlines()]
    entries = [re.fullmatch(r"(\S+)\s+\[([^\]]+)\]", line) for line in lines if line]
    assert all(entries), "every bindep line has a platform tag"
    platforms = {m[1]: set(m[2].split()) for m in entries}
    for dpkg, rpm in [("graphviz", "graphviz"), ("sshpass", "sshpass"), ("openssh-client", "openssh-clients"),
                      ("restic", "restic"), ("fonts-dejavu-core", "dejavu-sans-fonts"), ("libpq5", "libpq")]:
        assert "platform:dpkg" in platforms.get(dpkg, set()), dpkg
        assert "platform:rpm" in platforms.get(rpm, set()), rpm
