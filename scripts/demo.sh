#!/usr/bin/env bash
# make demo: the main jobs on the embedded demo practices, then on a small lab
# of emulated devices (started here and stopped again, whatever happens).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SITES=${PRAXIS_DEMO_SITES:-3}
OUT=output/demo
PLAY=("$BIN/ansible-playbook")
LAB=(-i inventories/lab/praxisops.yml --vault-password-file inventories/lab/.vault_pass
     -e "praxis_output_dir=$PWD/$OUT/lab" -e "praxis_ledger_path=$PWD/$OUT/lab/ledger.sqlite"
     -e "{\"praxis_backup_store\": {\"type\": \"local\", \"path\": \"$PWD/$OUT/lab/backups\"}}"
     -e "network_plan_output_dir=$PWD/$OUT/lab/network-plans")
export PRAXIS_SUMMARY_DIR="$PWD/$OUT/runs"
rm -rf "$OUT"

echo "== Demo practices (inventories/demo)"
"${PLAY[@]}" playbooks/site_summary.yml
"${PLAY[@]}" playbooks/network_plan.yml -e "network_plan_output_dir=$PWD/$OUT/demo/network-plans"

echo "== Patch policy preview (WP-08, WP-09, WP-10): a month of nights for the demo practices, in memory"
"$BIN/python" scripts/praxis-patch simulate --inventory inventories/demo --month 2026-11 | sed 's/^/    /'

echo "== Lab: ${SITES} emulated practices"
if "$BIN/python" -m lab status >/dev/null 2>&1; then
  echo "A lab is already running; stop it with: $BIN/python -m lab down" >&2
  exit 1
fi
trap '"$BIN/python" -m lab down >/dev/null 2>&1 || true' EXIT
"$BIN/python" -m lab up --sites "$SITES" --reboot-seconds 1 --firewall mixed
"${PLAY[@]}" "${LAB[@]}" playbooks/site_summary.yml

echo "== Onboarding (NET-01), at a Wednesday night"
"${PLAY[@]}" "${LAB[@]}" playbooks/onboard_network.yml -e praxis_now=2026-11-25T23:30:00+01:00

echo "== Nightly job (NET-06 health, NET-03 signatures)"
"${PLAY[@]}" "${LAB[@]}" playbooks/nightly.yml -e praxis_now=2026-11-25T23:45:00+01:00

echo "== Alert e-mails (OPS-03, OPS-06): lab001's firewall refuses the login, the nightly job reports it"
"$BIN/python" -m lab fault lab001-fw01 refuse_auth=true >/dev/null
"$BIN/python" -m lab mail --clear >/dev/null
"${PLAY[@]}" "${LAB[@]}" playbooks/nightly.yml -l site_lab001 -e praxis_now=2026-11-25T23:50:00+01:00 >/dev/null || true
"$BIN/python" -m lab mail --text --to praxis.lab001@example.org | sed 's/^/    /'
echo "== The fault cleared: after two passes without it, one all-clear"
"$BIN/python" -m lab fault lab001-fw01 --clear >/dev/null
"$BIN/python" -m lab mail --clear >/dev/null
for minute in 53 56; do
  "${PLAY[@]}" "${LAB[@]}" playbooks/nightly.yml -l site_lab001 -e praxis_now="2026-11-25T23:$minute:00+01:00" >/dev/null
done
"$BIN/python" -m lab mail --text --to praxis.lab001@example.org | sed 's/^/    /'

echo "== Monthly report for November 2026 (OPS-04): one PDF and HTML per practice, from the ledger and the facts"
"${PLAY[@]}" "${LAB[@]}" playbooks/report.yml -e praxis_now=2026-12-01T06:00:00+01:00 >/dev/null
for pdf in "$OUT"/lab/reports/*/2026-11/*.pdf; do
  echo "  $pdf, page 1:"
  pdftotext -l 1 -layout "$pdf" - | grep -E '^ +(Bereich|Virenschutz|Updates|Überwachung|Sicherungen|Firmware) ' \
    | cut -c1-100 | sed 's/^ */    /'
done

echo "== Practice-data backups (WP-12): lab001 gets a Linux server with practice files and a database dump"
"$BIN/python" -m lab backup-server lab001 | sed 's/^/    /'
echo "  deploy and back up now: a local repository on the server (the NAS) and the offsite SFTP store"
"${PLAY[@]}" "${LAB[@]}" playbooks/backup.yml -l site_lab001 -e practice_backup_run_now=true \
  | grep -E '"(repository|ok|snapshot_id)": ' | sed 's/^ */    /' || true
echo "  the nightly verification (snapshots, age in working days, restic check, prune after a good check)"
"${PLAY[@]}" "${LAB[@]}" playbooks/nightly.yml -l site_lab001 | grep -oE 'verified [0-9]+ repositor[^"]*' || true
"$BIN/python" scripts/praxis-backup --ledger "$OUT/lab/ledger.sqlite" status --site lab001 | sed 's/^/    /'
echo "  the quarterly restore test of the offsite repository, and its evidence for the practice's file"
"${PLAY[@]}" "${LAB[@]}" playbooks/restore_test.yml -e praxis_restore_test_seed=2026 >/dev/null
"$BIN/python" scripts/praxis-backup --ledger "$OUT/lab/ledger.sqlite" evidence --site lab001 | sed 's/^/    /'

echo "== Four monthly jobs (NET-02 backups, NET-04/NET-07 firmware); the log host changes every month"
for month in 1 2 3 4; do
  night=$(printf '2027-%02d-06T23:30:00+01:00' "$month")
  "${PLAY[@]}" "${LAB[@]}" playbooks/onboard_network.yml -e praxis_now="$night" \
    -e "{\"network_onboard_syslog_hosts\": [{\"host\": \"192.0.2.1$month\", \"port\": 514}]}" >/dev/null
  "${PLAY[@]}" "${LAB[@]}" playbooks/monthly.yml -e praxis_now="$night"
done

echo "== Firmware at Tuesday 10:00 is refused by the module itself (a newer OPNsense release is offered)"
"$BIN/python" -m lab state lab001-fw01 firmware_latest=25.7 >/dev/null
"${PLAY[@]}" "${LAB[@]}" playbooks/firmware.yml -l lab001-fw01 -e praxis_now=2026-11-24T10:00:00+01:00 \
  | grep -oE "firmware update of [^\"]*refused[^\"]*" | head -n 1 || true

echo "== What the demo wrote under $OUT"
for folder in "$OUT"/lab/backups/*/*/; do
  printf '  %-28s %s encrypted copies\n' "${folder#"$OUT"/lab/backups/}" "$(find "$folder" -name '*.vault' | wc -l)"
done
first=$(find "$OUT/lab/backups" -name '*.vault' | sort | tail -n 1)
echo "  ansible-vault view $first | head -n 3:"
"$BIN/ansible-vault" view --vault-password-file inventories/lab/.vault_pass "$first" | head -n 3 | sed 's/^/    /'
find "$OUT" -name 'network-plan.*' | sort | sed 's/^/  /'
find "$OUT" -path '*/reports/*' -name '*.pdf' | sort | sed 's/^/  /'
ls "$OUT"/runs/*.md | sed 's/^/  /'
"$BIN/python" -m lab status
