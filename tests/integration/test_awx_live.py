"""playbooks/awx_configure.yml against a real AWX (opt-in): configure twice (the
second run changes nothing), then read the job templates, credentials and
schedules back from AWX's API.

Needs PRAXIS_AWX_HOST and either PRAXIS_AWX_TOKEN or PRAXIS_AWX_USERNAME and
PRAXIS_AWX_PASSWORD (PRAXIS_AWX_VERIFY_SSL=false for a test AWX with its own
certificate); skipped, naming them, otherwise. Objects are created with the name
prefix praxisops-test in the organization praxisops-test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import awx_collection  # noqa: E402

HOST = os.environ.get("PRAXIS_AWX_HOST", "")
TOKEN = os.environ.get("PRAXIS_AWX_TOKEN", "")
USER = os.environ.get("PRAXIS_AWX_USERNAME", "")
PASSWORD = os.environ.get("PRAXIS_AWX_PASSWORD", "")
VERIFY = os.environ.get("PRAXIS_AWX_VERIFY_SSL", "true").lower() != "false"

pytestmark = pytest.mark.skipif(
    not HOST or not (TOKEN or (USER and PASSWORD)),
    reason="a real AWX is needed: set PRAXIS_AWX_HOST and PRAXIS_AWX_TOKEN "
           "(or PRAXIS_AWX_USERNAME and PRAXIS_AWX_PASSWORD); PRAXIS_AWX_VERIFY_SSL=false for a test certificate")


@pytest.fixture(scope="module")
def configuration(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("awx")
    config = yaml.safe_load((ROOT / "inventories" / "awx" / "awx.yml").read_text())
    config.update(praxis_awx_organization="praxisops-test", praxis_awx_prefix="praxisops-test",
                  praxis_awx_inventory="praxisops-test demo", praxis_awx_environment="demo")
    config["praxis_awx_project"].update(name="praxisops-test",
                                        scm_url=os.environ.get("PRAXIS_AWX_SCM_URL",
                                                               config["praxis_awx_project"]["scm_url"]))
    # a template is only accepted for a playbook the project holds
    config["praxis_awx_templates"] = [t for t in config["praxis_awx_templates"] if (ROOT / t["playbook"]).exists()]
    ids = {t["id"] for t in config["praxis_awx_templates"]}
    config["praxis_awx_schedules"] = [dict(s, enabled=False) for s in config["praxis_awx_schedules"]
                                      if s["template"] in ids]
    (folder / "awx.yml").write_text(yaml.safe_dump(config))
    secrets = {"praxis_awx_secrets": {"vault_password": "test-vault-password", "smtp_password": "test-smtp",
                                      "ledger_url": "postgresql://praxis:test@db.example/praxis",
                                      "backup_ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n"
                                                        "-----END OPENSSH PRIVATE KEY-----\n"}}
    (folder / "secrets.yml").write_text(yaml.safe_dump(secrets))
    folder.joinpath("secrets.yml").chmod(0o600)
    return {"folder": folder, "config": config}


def run_configuration(configuration: dict) -> str:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), CONTROLLER_HOST=HOST,
               CONTROLLER_VERIFY_SSL=str(VERIFY).lower(),
               ANSIBLE_COLLECTIONS_PATH=str(awx_collection.ensure()))
    if TOKEN:
        env["CONTROLLER_OAUTH_TOKEN"] = TOKEN
    else:
        env.update(CONTROLLER_USERNAME=USER, CONTROLLER_PASSWORD=PASSWORD)
    folder = configuration["folder"]
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/awx_configure.yml",
                             "-e", f"praxis_awx_config={folder / 'awx.yml'}", "-e", f"@{folder / 'secrets.yml'}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "test-vault-password" not in result.stdout + result.stderr
    return result.stdout


def api(path: str, **params) -> list[dict]:
    session = requests.Session()
    session.verify = VERIFY
    if TOKEN:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
    else:
        session.auth = (USER, PASSWORD)
    answer = session.get(f"{HOST.rstrip('/')}/api/v2/{path}/", params=params, timeout=60)
    answer.raise_for_status()
    return answer.json()["results"]


def test_configure_twice_and_read_back(configuration):
    run_configuration(configuration)
    second = run_configuration(configuration)
    assert re.search(r"localhost\s*:.*\bchanged=0\b", second), second[-3000:]
    config = configuration["config"]
    for template in config["praxis_awx_templates"]:
        found = api("job_templates", name=f"praxisops-test {template['id']}")
        assert len(found) == 1, template["id"]
        job = found[0]
        assert job["playbook"] == template["playbook"]
        assert job["ask_limit_on_launch"] is True and job["survey_enabled"] is True
        assert job["forks"] == template.get("forks", 10)
        assert job["job_slice_count"] == template.get("slices", 1)
        credentials = {c["name"] for c in job["summary_fields"]["credentials"]}
        assert "praxisops-test vault" in credentials
        survey = api_survey(job["id"])
        variables = {q["variable"] for q in survey["spec"]}
        assert "praxis_practice" in variables
        assert ("praxis_force_reason" in variables) == bool(template.get("disruptive"))
    for schedule in config["praxis_awx_schedules"]:
        found = api("schedules", name=f"praxisops-test {schedule['name']}")
        assert len(found) == 1 and found[0]["rrule"].startswith("DTSTART;TZID=Europe/Berlin:")


def api_survey(template_id: int) -> dict:
    session = requests.Session()
    session.verify = VERIFY
    if TOKEN:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
    else:
        session.auth = (USER, PASSWORD)
    answer = session.get(f"{HOST.rstrip('/')}/api/v2/job_templates/{template_id}/survey_spec/", timeout=60)
    answer.raise_for_status()
    return answer.json()
