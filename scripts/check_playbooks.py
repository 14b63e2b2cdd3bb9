#!/usr/bin/env python3
"""Gate: `ansible-playbook --syntax-check` of every playbook in playbooks/.

playbooks/awx_configure.yml runs on the operator's machine against AWX's API
with the awx.awx collection, which is not in the pinned ansible package:
scripts/awx_collection.py provides it (once, under .venv/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import awx_collection  # noqa: E402


def main() -> int:
    playbooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "playbooks").glob("*.yml"))
    if not playbooks:
        print("no playbooks found in playbooks/")
        return 1
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", *playbooks]
    paths = [str(awx_collection.ensure())] + [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if p]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=":".join(paths))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        print(f"syntax check failed (exit {result.returncode})")
        return 1
    print(f"syntax check: {len(playbooks)} playbook(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
