"""The jobs as AWX runs them (OPS-02, OPS-05, OPS-07): ``playbooks/nightly.yml``
and ``playbooks/monthly.yml`` launched by ``ansible-runner`` (the version the
execution environment pins) against a lab of two practices, with a private
data directory laid out the way AWX lays it out for a job:

* ``env/extravars``: ``awx_job_id``, ``awx_user_name``,
  ``awx_job_template_name`` and the output folder and ledger outside the
  project (what a job template's extra variables and credentials give);
* ``env/envvars``: the job's environment (``JOB_ID``, ``ANSIBLE_ROLES_PATH``
  with ``requirements_roles`` first, as AWX sets it);
* the vault password as AWX's *Vault* credential hands it over: the nightly
  job answers the ``--ask-vault-pass`` prompt from ``env/passwords``, the
  monthly job reads a ``--vault-id`` password file of the job;
* ``inventory/``: the lab's ``praxisops.yml`` with its sites and group_vars
  (the ``praxisops_sites`` plugin builds it at run time);
* the project: a copy of the repository's files, made read-only, so that
  every write into the project fails (as root, where file modes do not stop
  a write, the job runs in a mount namespace with the copy bind-mounted
  read-only); it is compared (paths, modes, SHA-256) before and after;
* no terminal: ansible-runner runs with stdin closed; a prompt it cannot
  answer ends the job by its idle timeout and fails the test.

Afterwards: the jobs succeeded, the ledger rows carry the AWX job id as run,
the audit trail names the AWX user, the run summaries are in the job's output
folder, and nothing the jobs left (runner artifacts: stdout, job events, fact
cache; output folder: reports, summaries, facts, backups; every ledger row)
holds a secret of the lab in any simple encoding (``tests/leakscan.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.labrun import Lab, running_lab
from tests.leakscan import lab_secrets, scan, scan_text

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SITES = 2
AWX_USER = "technik.mueller"
# Wednesday night, maintenance time for every lab practice
NIGHT = "2026-11-25T23:30:00+01:00"
JOBS = {
    # the devices' SSH host keys recorded first, as the onboarding appointment does
    "device_identity": {"id": 4710, "playbook": "playbooks/device_identity.yml",
                        "template": "praxisops onboard_network", "vault": "file", "now": NIGHT},
    "nightly": {"id": 4711, "playbook": "playbooks/nightly.yml", "template": "praxisops nightly",
                "vault": "prompt", "now": NIGHT},
    "monthly": {"id": 4712, "playbook": "playbooks/monthly.yml", "template": "praxisops monthly",
                "vault": "file", "now": NIGHT},
}
# what the repository's copy must not hold (AWX checks out the git tree only)
NOT_PROJECT = re.compile(r"^(\.git|\.venv|output|inventories/lab|\.pytest_cache|\.ruff_cache|\.hypothesis)(/|$)"
                         r"|(^|/)__pycache__(/|$)")
PROMPT = re.compile(r"(password|passphrase|passwort)[^\n]*:\s*$|\(yes/no|\[y/n\]", re.I | re.M)


def project_files() -> list[str]:
    """The repository's files as a checkout has them (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return sorted(p for p in listed if p and not NOT_PROJECT.search(p) and (ROOT / p).exists())


def copy_project(target: Path) -> Path:
    for rel in project_files():
        source, dest = ROOT / rel, target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, dest)
    subprocess.run(["chmod", "-R", "a-w", str(target)], check=True)
    return target


def listing(top: Path) -> dict[str, str]:
    """Every path under ``top`` with its type, mode and content hash."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(top))
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = f"link {os.readlink(path)}"
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = f"dir {stat.S_IMODE(info.st_mode):o}"
            else:
                entries[rel] = f"file {stat.S_IMODE(info.st_mode):o} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return entries


class AwxJob:
    """One job: its private data directory, the runner's result and artifacts."""

    def __init__(self, name: str, spec: dict, base: Path, lab: Lab, project: Path, out: Path) -> None:
        self.name = name
        self.id = spec["id"]
        self.data_dir = base / f"job_{self.id}"
        self.artifacts = self.data_dir / "artifacts" / str(self.id)
        env = self.data_dir / "env"
        env.mkdir(parents=True)
        (self.data_dir / "requirements_roles").mkdir()
        password = (lab.inventory_dir / ".vault_pass").read_text().strip()
        extravars = {
            "awx_job_id": self.id, "awx_user_name": AWX_USER, "awx_job_template_name": spec["template"],
            "awx_job_launch_type": "scheduled", "awx_project_revision": "0" * 40,
            "praxis_output_dir": str(out), "praxis_ledger_path": str(out / "ledger.sqlite"),
            "praxis_now": spec["now"], "praxis_device_retry_delay": 0.1,
            # what the credential "praxisops backup store" injects
            "praxis_backup_store": {"type": "local", "path": str(out / "backups")},
            "firmware_update_poll": 0.5, "firmware_update_budget": 60,
        }
        (env / "extravars").write_text(yaml.safe_dump(extravars))
        (env / "envvars").write_text(yaml.safe_dump({
            "JOB_ID": str(self.id), "AWX_HOST": "https://awx.provider.example",
            "ANSIBLE_ROLES_PATH": f"{self.data_dir / 'requirements_roles'}:roles",
            "ANSIBLE_FORCE_COLOR": "False", "ANSIBLE_NOCOLOR": "1",
        }))
        (env / "settings").write_text(yaml.safe_dump({"idle_timeout": 300, "job_timeout": 1200,
                                                      "pexpect_timeout": 5}))
        if spec["vault"] == "prompt":
            # AWX's Vault credential without a vault id: --ask-vault-pass, answered from env/passwords
            (env / "passwords").write_text(yaml.safe_dump({r"Vault password:\s*?$": password}))
            (env / "cmdline").write_text("--ask-vault-pass")
        else:
            secret = self.data_dir / "vault-password"
            secret.write_text(password + "\n")
            secret.chmod(0o600)
            (env / "cmdline").write_text(f"--vault-id default@{secret}")
        # the inventory: the lab's plugin configuration with its sites and group_vars
        shutil.copytree(lab.inventory_dir, self.data_dir / "inventory", ignore=shutil.ignore_patterns(".vault_pass"))
        self.project = project
        self.command = [str(BIN / "ansible-runner"), "run", str(self.data_dir), "-p", spec["playbook"],
                        "--ident", str(self.id), "--project-dir", str(project), "--omit-env-files"]

    def run(self) -> None:
        command = self.command
        if os.geteuid() == 0 and shutil.which("unshare"):
            # root writes through file modes: a private mount namespace with the project read-only
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
                       "sh", str(self.project), *command]
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PRAXIS_"))}
        environment["PATH"] = f"{BIN}:{environment.get('PATH', '')}"
        self.result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                     env=environment, timeout=1500, check=False)
        self.status = (self.artifacts / "status").read_text().strip() if (self.artifacts / "status").exists() else "?"
        self.rc = (self.artifacts / "rc").read_text().strip() if (self.artifacts / "rc").exists() else "?"
        self.stdout = (self.artifacts / "stdout").read_text() if (self.artifacts / "stdout").exists() else ""

    def events(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.artifacts / "job_events").glob("*.json"))]

    def tail(self) -> str:
        return (f"status {self.status}, rc {self.rc}\n--- stdout (end)\n{self.stdout[-4000:]}\n"
                f"--- runner\n{self.result.stdout[-1500:]}{self.result.stderr[-1500:]}")


@pytest.fixture(scope="module")
def awx(tmp_path_factory):
    base = tmp_path_factory.mktemp("awxrunner")
    project = copy_project(base / "project")
    before = listing(project)
    out = base / "out"
    out.mkdir()
    try:
        with running_lab(base, SITES) as lab:
            jobs = {}
            for name, spec in JOBS.items():
                jobs[name] = AwxJob(name, spec, base, lab, project, out)
                jobs[name].run()
            yield {"lab": lab, "jobs": jobs, "project": project, "before": before, "out": out,
                   "secrets": lab_secrets(lab)}
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project)], check=False)   # so pytest can remove it


def ledger(out: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(out / "ledger.sqlite") as conn:
        return conn.execute(sql, params).fetchall()


@pytest.mark.parametrize("name", list(JOBS))
def test_job_succeeds_without_a_prompt(awx, name):
    job = awx["jobs"][name]
    assert job.status == "successful" and job.rc == "0", job.tail()
    stats = [e for e in job.events() if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, job.tail()
    assert not stats[0]["event_data"].get("failures") and not stats[0]["event_data"].get("dark"), stats[0]
    # the only prompt is the vault password AWX's credential answers; nothing else asked
    prompts = PROMPT.findall(job.stdout)
    expected = 1 if JOBS[name]["vault"] == "prompt" else 0
    assert len(prompts) <= expected, (prompts, job.tail())


def test_the_project_folder_is_unchanged(awx):
    after = listing(awx["project"])
    added = sorted(set(after) - set(awx["before"]))
    removed = sorted(set(awx["before"]) - set(after))
    changed = sorted(p for p in set(after) & set(awx["before"]) if after[p] != awx["before"][p])
    assert (added, removed, changed) == ([], [], []), {"added": added, "removed": removed, "changed": changed}
    for job in awx["jobs"].values():
        # nothing tried to write into it either (a read-only project makes such a write fail loudly)
        for line in job.stdout.splitlines():
            assert not (str(awx["project"]) in line and re.search(r"Permission denied|Read-only|could not write",
                                                                 line)), line


def test_ledger_rows_carry_the_awx_job_id(awx):
    out = awx["out"]
    runs = {run for (run,) in ledger(out, "SELECT DISTINCT run FROM events")}
    assert {"4711", "4712"} <= runs <= {"4710", "4711", "4712"}, runs
    devices = {d["name"] for d in awx["lab"].state["devices"]}
    health = {h for (h,) in ledger(out, "SELECT DISTINCT host FROM events WHERE run = ? AND kind = 'health'",
                                   "4711")}
    assert health == devices, (health, devices)
    backups = {h for (h,) in ledger(out, "SELECT DISTINCT host FROM events WHERE run = ? AND kind = 'backup'",
                                    "4712")}
    assert backups and backups <= devices, backups
    # the run summaries: in the job's output folder, with the job id
    for name, spec in JOBS.items():
        summaries = sorted((out / "runs").glob(f"*-{name}.json")) if (out / "runs").exists() else []
        assert len(summaries) == 1, (name, sorted(p.name for p in out.rglob("*.json")))
        assert json.loads(summaries[0].read_text())["run"] == str(spec["id"])


def test_audit_trail_names_the_awx_user(awx):
    rows = ledger(awx["out"], "SELECT run, kind, data FROM audit_log WHERE kind IN ('run_start', 'run_end') "
                              "ORDER BY id")
    starts = {run: json.loads(data) for run, kind, data in rows if kind == "run_start"}
    ends = {run: json.loads(data) for run, kind, data in rows if kind == "run_end"}
    assert set(starts) == set(ends) == {str(spec["id"]) for spec in JOBS.values()}, rows
    for spec in JOBS.values():
        record = starts[str(spec["id"])]
        assert (record["by"], record["via"], record["awx_user"]) == (AWX_USER, "awx", AWX_USER), record
        assert record["playbooks"] == [spec["playbook"]], record
        assert ends[str(spec["id"])]["status"] != "failed", ends[str(spec["id"])]
    verify = subprocess.run([sys.executable, str(ROOT / "scripts" / "praxis-audit"), "--ledger",
                             str(awx["out"] / "ledger.sqlite"), "verify"], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_no_secret_in_anything_the_jobs_left(awx):
    """OPS-07: runner artifacts (stdout, job events, fact cache), the output folder
    (summaries, reports, facts, network plans, backups) and every ledger row."""
    secrets = awx["secrets"]
    # per practice 4 device passwords, the firewall's API key and the WLAN passphrase; SMTP and vault
    assert len(secrets) == SITES * 6 + 2, sorted(secrets)     # the scan looks for the lab's real secrets
    places = [job.artifacts for job in awx["jobs"].values()] + [awx["out"]]
    for job in awx["jobs"].values():
        assert (job.artifacts / "stdout").stat().st_size > 0 and list((job.artifacts / "job_events").glob("*.json"))
    assert list((awx["out"] / "runs").glob("*.md")), "no run summary to scan"
    findings = scan(places, secrets)
    for job in awx["jobs"].values():
        findings += scan_text(f"ansible-runner output of job {job.id}", job.result.stdout + job.result.stderr, secrets)
    assert not findings, "secrets found:\n" + "\n".join(map(str, findings))
