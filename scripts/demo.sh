#!/usr/bin/env bash
# make demo: the main job on the embedded demo practices, then on a small lab
# of emulated devices (started here and stopped again, whatever happens).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SITES=${PRAXIS_DEMO_SITES:-3}

echo "== Demo practices (inventories/demo)"
"$BIN/ansible-playbook" playbooks/site_summary.yml

echo "== Lab: ${SITES} emulated practices"
if "$BIN/python" -m lab status >/dev/null 2>&1; then
  echo "A lab is already running; stop it with: $BIN/python -m lab down" >&2
  exit 1
fi
trap '"$BIN/python" -m lab down >/dev/null 2>&1 || true' EXIT
"$BIN/python" -m lab up --sites "$SITES"
"$BIN/ansible-playbook" -i inventories/lab/praxisops.yml --vault-password-file inventories/lab/.vault_pass \
  playbooks/site_summary.yml
"$BIN/python" -m lab status
