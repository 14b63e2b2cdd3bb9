#!/usr/bin/env python3
"""Gate: `ansible-playbook --syntax-check` of every playbook in playbooks/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    playbooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "playbooks").glob("*.yml"))
    if not playbooks:
        print("no playbooks found in playbooks/")
        return 1
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", *playbooks]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
        print(f"syntax check failed (exit {result.returncode})")
        return 1
    print(f"syntax check: {len(playbooks)} playbook(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
