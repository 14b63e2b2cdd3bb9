#!/usr/bin/env python3
"""Gate: `ansible-test sanity` on the project's modules and plugins.

ansible-test checks collections only, so this script assembles a temporary
collection `<tmp>/ansible_collections/praxisops/service/` from the project's
folders, runs `ansible-test sanity` on it with the Python of this virtualenv
and prints every finding with the project's own path and line:

  library/           -> plugins/modules/
  module_utils/      -> plugins/module_utils/   (Ansible.ModuleUtils.X.psm1 -> X.psm1)
  action_plugins/    -> plugins/action/
  filter_plugins/    -> plugins/filter/         (with the .yml documentation per filter)
  inventory_plugins/ -> plugins/inventory/
  callback_plugins/  -> plugins/callback/
  doc_fragments/     -> plugins/doc_fragments/

Copies are rewritten line for line (so line numbers stay the project's):
`ansible.module_utils.praxis_x` becomes the collection's module_utils path,
a document fragment `praxis_x` becomes `praxisops.service.praxis_x`, and a
PowerShell `#Requires -Module Ansible.ModuleUtils.X` becomes
`#AnsibleRequires -PowerShell ansible_collections.praxisops.service.plugins.module_utils.X`.

ansible-test runs each test in its own virtualenv with its own pinned
requirements, created once from PyPI and cached in ~/.ansible/test/venv/
(the project's .venv stays untouched).

Tests that do not run, each with its reason (SKIPPED_TESTS), and the
real false positives, one reason per line, in scripts/ansible_sanity_ignore.txt.
Without `pwsh` on PATH the PowerShell tests are skipped and the reason printed.

Usage: ansible_sanity.py [--keep] [--test NAME ...] [-v]
Exit 0 when every test passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE, NAME = "praxisops", "service"
COLLECTION = f"ansible_collections.{NAMESPACE}.{NAME}"
IGNORE_FILE = ROOT / "scripts" / "ansible_sanity_ignore.txt"
BIN = Path(sys.executable).parent

# project folder -> (collection folder, file suffixes copied)
FOLDERS = {
    "library": ("plugins/modules", (".py", ".ps1")),
    "module_utils": ("plugins/module_utils", (".py", ".psm1")),
    "action_plugins": ("plugins/action", (".py",)),
    "filter_plugins": ("plugins/filter", (".py", ".yml")),
    "inventory_plugins": ("plugins/inventory", (".py",)),
    "callback_plugins": ("plugins/callback", (".py",)),
    "doc_fragments": ("plugins/doc_fragments", (".py",)),
}

# Tests of `ansible-test sanity --list-tests` that are not run, with the reason.
SKIPPED_TESTS = {
    "changelog": "the project keeps no changelogs/ fragments (it is not released as a collection)",
    "shellcheck": "the assembled collection holds no shell scripts (scripts/*.sh are not part of it)",
}
# Tests that need PowerShell 7 (`pwsh`); skipped, with this reason, when it is not installed.
PWSH_TESTS = {
    "pslint": "PSScriptAnalyzer runs in pwsh",
}
PWSH_VALIDATE_MODULES = ("validate-modules reads a PowerShell module's argument spec by running it in pwsh "
                         "(ansible-test validate_modules/module_args.py, get_ps_argument_spec); "
                         "its documentation is checked by ansible-doc and scripts/check_docs.py")

PS_REQUIRES = re.compile(r"^#Requires -Module Ansible\.ModuleUtils\.(\w+)[ \t]*$", re.MULTILINE)
# `ansible.module_utils.praxis_x` and `from ansible.module_utils import (praxis_x, ...)`
MODULE_UTILS_IMPORT = re.compile(r"\bansible\.module_utils(?:\.(praxis_\w+)"
                                 r"| import (?=\(?(?:[ \t]*#.*)?\s*(praxis_\w+)))")
FRAGMENTS_BLOCK = re.compile(r"^extends_documentation_fragment:\n(?:[ \t]+-[ \t]+.*\n)+", re.MULTILINE)
FRAGMENT_ITEM = re.compile(r"^([ \t]+-[ \t]+)(praxis_\w+)[ \t]*$", re.MULTILINE)
# Short names of the project's modules and plugins in documentation: M(x), P(x#type), seealso's `module: x`.
SHORT_REFERENCE = re.compile(r"(\bM\(|\bP\(|- module: )(praxis_\w+)")
# A collection's `author:` names a GitHub account, "Name (@account)", so that Galaxy's bots can reach
# the maintainer; the project names its contributors without one, which the collection marks "(!UNKNOWN)".
AUTHOR = re.compile(r"^(author: praxisops contributors)$", re.MULTILINE)


# ansible-test bootstraps pip into each test's virtualenv with a get-pip script that it downloads
# from ansible's CI file server (ci-files.testing.ansible.com) into ~/.ansible/test/cache/. Where
# that server is unreachable, this stand-in is cached in its place: it installs the pip bundled with
# Python (ensurepip) and then, from the package index, the pinned `pip==<version>` ansible-test asks for.
GET_PIP_URL = "https://ci-files.testing.ansible.com/ansible-test/get-pip-{version}.py"
GET_PIP_STANDIN = '''"""praxisops: stand-in for ansible-test's get-pip script (scripts/ansible_sanity.py)."""
import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments]))
'''


def ensure_pip_bootstrap(python: str) -> None:
    """Cache the pip bootstrap script ansible-test needs (downloaded, else the stand-in)."""
    from ansible_test._internal.python_requirements import get_venv_packages

    version = get_venv_packages(types.SimpleNamespace(version=python))["pip"]
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    if cache.exists():
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    url = GET_PIP_URL.format(version=version)
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - a fixed https URL
            data = answer.read()
        source = url
    except OSError as exc:
        data = GET_PIP_STANDIN.encode()
        source = f"the ensurepip stand-in ({url}: {exc})"
    partial = cache.with_suffix(".download")
    partial.write_bytes(data)
    partial.replace(cache)
    print(f"ansible-test sanity: pip bootstrap script cached in {cache} from {source}")


def collection_name(folder: str, filename: str) -> str:
    """The file's name inside the collection."""
    if folder == "module_utils" and filename.startswith("Ansible.ModuleUtils."):
        return filename[len("Ansible.ModuleUtils."):]
    return filename


def module_side(sources: dict[str, str]) -> set[str]:
    """The module_utils a module imports, directly or through others: they travel to the managed node.

    The others run on the controller only (base class of the action plugins, site files, escrow,
    Windows decisions); a collection keeps such code in plugins/plugin_utils, where the import
    test allows the controller's packages (ansible.plugins, PyYAML)."""
    found: set[str] = set()
    todo = [text for name, text in sources.items() if name.startswith("library/") and name.endswith(".py")]
    while todo:
        for match in MODULE_UTILS_IMPORT.finditer(todo.pop()):
            names = {match.group(1)} if match.group(1) else set(
                re.findall(r"praxis_\w+", re.match(r"[^)]*", todo_text(match)).group(0)))
            for name in names - found:
                found.add(name)
                todo.append(sources.get(f"module_utils/{name}.py", ""))
    return found


def todo_text(match: re.Match) -> str:
    """The text after `from ansible.module_utils import`: up to its closing parenthesis or line end."""
    rest = match.string[match.end():]
    return rest if rest.startswith("(") else rest.split("\n", 1)[0]


def mixed_imports(sources: dict[str, str], module_side_utils: set[str]) -> list[str]:
    """Imports of several praxis utils in one statement where some travel to the managed node and
    others are controller-only: the collection keeps them in two places, so they need two lines."""
    problems = []
    for name, text in sources.items():
        if not name.endswith(".py"):
            continue
        for match in MODULE_UTILS_IMPORT.finditer(text):
            if match.group(1):
                continue
            names = set(re.findall(r"praxis_\w+", re.match(r"[^)]*", todo_text(match)).group(0)))
            kinds = {util in module_side_utils for util in names}
            if len(kinds) > 1:
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{name}:{line}: import {', '.join(sorted(names))} on separate lines (some are "
                                f"module utils, some controller-only: {', '.join(sorted(names - module_side_utils))})")
    return problems


def rewrite(text: str, suffix: str, module_side_utils: set[str] | frozenset = frozenset()) -> str:
    """The project's source as the collection needs it, line for line."""
    if suffix in (".ps1", ".psm1"):
        return PS_REQUIRES.sub(rf"#AnsibleRequires -PowerShell {COLLECTION}.plugins.module_utils.\1", text)
    if suffix == ".yml":
        return SHORT_REFERENCE.sub(rf"\1{NAMESPACE}.{NAME}.\2", text)
    text = AUTHOR.sub(r"\1 (!UNKNOWN)", text)

    def qualified(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        # a name's prefix in a formatted import (f"...praxis_driver_{vendor}") goes where its names go
        near = {util for util in module_side_utils if name.endswith("_") and util.startswith(name)}
        kind = "module_utils" if name in module_side_utils or near else "plugin_utils"
        if match.group(1):
            return f"{COLLECTION}.plugins.{kind}.{match.group(1)}"
        return f"{COLLECTION}.plugins.{kind} import "

    text = MODULE_UTILS_IMPORT.sub(qualified, text)
    text = FRAGMENTS_BLOCK.sub(lambda m: FRAGMENT_ITEM.sub(rf"\1{NAMESPACE}.{NAME}.\2", m.group(0)), text)
    return SHORT_REFERENCE.sub(rf"\1{NAMESPACE}.{NAME}.\2", text)


def assemble(base: Path) -> tuple[Path, dict[str, str]]:
    """Build the collection under base; returns its root and collection path -> project path."""
    root = base / "ansible_collections" / NAMESPACE / NAME
    mapping: dict[str, str] = {}
    sources = {}
    for folder, (_target, suffixes) in FOLDERS.items():
        for source in sorted((ROOT / folder).iterdir()):
            if source.is_file() and source.suffix in suffixes and source.name != "__init__.py":
                sources[f"{folder}/{source.name}"] = source.read_text(encoding="utf-8")
    module_side_utils = module_side(sources)
    mixed = mixed_imports(sources, module_side_utils)
    if mixed:
        raise SystemExit("ansible-test sanity: " + "; ".join(mixed))
    for project, text in sources.items():
        folder, filename = project.split("/")
        target = FOLDERS[folder][0]
        if folder == "module_utils" and filename.endswith(".py") and filename[:-3] not in module_side_utils:
            target = "plugins/plugin_utils"
        relative = f"{target}/{collection_name(folder, filename)}"
        destination = root / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(rewrite(text, Path(filename).suffix, module_side_utils), encoding="utf-8")
        mapping[relative] = project
    (root / "galaxy.yml").write_text(
        f"namespace: {NAMESPACE}\nname: {NAME}\nversion: 1.0.0\nreadme: README.md\n"
        "authors: [praxisops contributors]\nlicense: [GPL-3.0-or-later]\n", encoding="utf-8")
    (root / "README.md").write_text("praxisops, assembled for ansible-test sanity\n", encoding="utf-8")
    (root / "meta").mkdir()
    (root / "meta" / "runtime.yml").write_text("---\nrequires_ansible: '>=2.21.0'\n", encoding="utf-8")
    return root, mapping


def ignore_lines(mapping: dict[str, str], pwsh: bool) -> list[str]:
    """The project's ignore file in collection paths, plus the pwsh skips when pwsh is missing."""
    back = {project: relative for relative, project in mapping.items()}
    lines = []
    for number, line in enumerate(IGNORE_FILE.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if "#" not in line or not line.split("#", 1)[1].strip():
            raise SystemExit(f"{IGNORE_FILE.relative_to(ROOT)}:{number}: an ignore needs its reason after '#'")
        path, test = entry.split(None, 1)
        if path not in back:
            raise SystemExit(f"{IGNORE_FILE.relative_to(ROOT)}:{number}: {path} is not part of the collection")
        lines.append(f"{back[path]} {test}")
    if not pwsh:
        lines += [f"{relative} validate-modules!skip" for relative in mapping if relative.endswith(".ps1")]
    return lines


def project_path(text: str, root: Path, mapping: dict[str, str]) -> str:
    """ansible-test's output with collection paths replaced by the project's."""
    text = text.replace(f"{root}/", "")
    for relative in sorted(mapping, key=len, reverse=True):
        text = text.replace(relative, mapping[relative])
    return text


def run(command: list[str], cwd: Path, verbose: bool) -> subprocess.CompletedProcess:
    if verbose:
        print("$", " ".join(command), flush=True)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the assembled collection and print its path")
    parser.add_argument("--test", action="append", default=[], help="run only this test (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args()

    started = time.monotonic()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    pwsh = shutil.which("pwsh") is not None
    skipped = dict(SKIPPED_TESTS)
    if not pwsh:
        skipped.update({test: f"pwsh is not installed: {reason}" for test, reason in PWSH_TESTS.items()})
    ensure_pip_bootstrap(python)
    base = Path(tempfile.mkdtemp(prefix="praxisops-sanity-"))
    try:
        root, mapping = assemble(base)
        ignores = ignore_lines(mapping, pwsh)
        ignore_path = root / "tests" / "sanity" / f"ignore-{ansible_core_minor()}.txt"
        ignore_path.parent.mkdir(parents=True)
        ignore_path.write_text("".join(f"{line}\n" for line in ignores), encoding="utf-8")
        for command in (["git", "init", "-q"], ["git", "add", "-A"]):
            result = run(command, root, options.verbose)
            if result.returncode != 0:
                print(result.stdout + result.stderr)
                return 1
        command = [str(BIN / "ansible-test"), "sanity", "--python", python, "--color", "no"]
        if options.test:
            command += [arg for test in options.test for arg in ("--test", test)]
        else:
            command += [arg for test in sorted(skipped) for arg in ("--skip-test", test)]
        if options.verbose:
            command.append("-v")
        for test, reason in sorted(skipped.items()):
            if not options.test or test in options.test:
                print(f"ansible-test sanity: skipped {test}: {reason}")
        if not pwsh:
            print(f"ansible-test sanity: validate-modules skips the .ps1 modules: pwsh is not installed: "
                  f"{PWSH_VALIDATE_MODULES}")
        result = run(command, root, options.verbose)
        output = project_path(result.stdout + result.stderr, root, mapping)
        print(output.rstrip())
        seconds = time.monotonic() - started
        verdict = "passed" if result.returncode == 0 else f"failed (exit {result.returncode})"
        print(f"ansible-test sanity (Python {python}, {len(mapping)} files): {verdict} in {seconds:.0f} s")
        return 0 if result.returncode == 0 else 1
    finally:
        if options.keep:
            print(f"collection kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def ansible_core_minor() -> str:
    from ansible.release import __version__

    return ".".join(__version__.split(".")[:2])


if __name__ == "__main__":
    sys.exit(main())
