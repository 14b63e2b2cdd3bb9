"""The monthly report job through ansible-playbook (OPS-04): the demo
practices' inventory, the example month of Dr. Huber's practice
(``data_file``), the real lab SMTP server with STARTTLS and AUTH. Check mode
writes and sends nothing; the run writes bericht.pdf/.html 0600 in 0700
folders and mails the PDF to the contacts with ``reports: true``; a second
run changes and sends nothing."""

from __future__ import annotations

import json
import shutil
import stat

import pytest
import yaml

from lab.smtp import LabMailServer
from tests.integration.ansible_run import ROOT, ansible

PASSWORD = "lab-smtp-secret-9"
FIXTURE = ROOT / "tests" / "fixtures" / "monthly" / "report_huber_2026-11.json"


@pytest.fixture
def setup(tmp_path):
    server = LabMailServer("127.0.0.1", 0, maildir=None, username="praxisops", password=PASSWORD,
                           starttls=True, require_starttls=True, run_dir=tmp_path / "lab")
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "demo", inventory)
    site_file = inventory / "sites" / "huber.yml"
    site = yaml.safe_load(site_file.read_text())
    site["contacts"][0]["reports"] = True
    site_file.write_text(yaml.safe_dump(site, allow_unicode=True))
    output = tmp_path / "output"
    with server:
        settings = {
            "praxis_output_dir": str(output), "praxis_now": "2026-12-01T06:00:00+01:00",
            "praxis_provider": {"name": "Muster IT-Service GmbH"},
            "praxis_smtp": {"host": "127.0.0.1", "port": server.port, "starttls": True, "username": "praxisops",
                            "password": PASSWORD, "from": "bericht@provider.example.net",
                            "ca_file": str(tmp_path / "lab" / "lab-cert.pem"), "retries": 0},
        }
        (inventory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
        (inventory / "group_vars" / "all" / "report.yml").write_text(yaml.safe_dump(settings))
        yield server, inventory / "praxisops.yml", output


def run(inventory, *extra):
    result = ansible("ansible-playbook", "-i", str(inventory), "playbooks/report.yml", "-l", "site_huber",
                     "-e", "praxis_report_mail=true", "-e", f"{{\"praxis_report_data_file\": \"{FIXTURE}\"}}",
                     *extra, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"})
    assert PASSWORD not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    plays = json.loads(text[text.index("{"):text.rindex("}") + 1])["plays"]
    return next(iter(plays[-1]["tasks"][-1]["hosts"].values()))


def test_report_job_writes_mails_once(setup):
    server, inventory, output = setup
    folder = output / "reports" / "huber" / "2026-11"

    dry = run(inventory, "--check")
    assert dry["changed"] and dry["sites"] == ["huber"]
    assert dry["paths"] == [str(folder / "bericht.pdf"), str(folder / "bericht.html")]
    assert dry["would_send"] == [{"site": "huber", "to": "praxis@huber.example.org"}]
    assert not (output / "reports").exists() and server.messages() == []

    first = run(inventory)
    assert first["changed"] and [s["to"] for s in first["sent"]] == ["praxis@huber.example.org"]
    pdf = (folder / "bericht.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and "Monatsbericht November 2026" in (folder / "bericht.html").read_text()
    for path in (folder / "bericht.pdf", folder / "bericht.html"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for path in (folder, folder.parent, output / "reports"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    received = server.wait_for(1)
    assert [m.rcpt_tos for m in received] == [["praxis@huber.example.org"]]
    message = received[0].message
    assert message["Subject"] == "Monatsbericht November 2026: Hausarztpraxis Dr. Huber"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "bericht-huber-2026-11.pdf" and attachment.get_content() == pdf

    second = run(inventory)
    assert not second["changed"] and second["paths"] == [] and second["sent"] == []
    assert (folder / "bericht.pdf").read_bytes() == pdf
    assert len(server.messages()) == 1
