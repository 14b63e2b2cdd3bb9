"""The monthly report end to end (OPS-04): a seeded month in the ledger and
the facts files (tests/monthly_seed.py, figures counted there by hand) →
praxis_monthly.month_report → the German and English PDF, whose text
(pdftotext) carries the figures; every kind of action, KBV requirement,
evidence and check the data part emits has its words in both texts files."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from babel.numbers import format_decimal

from ansible.module_utils import praxis_monthly
from ansible.module_utils import praxis_report_render as render
from tests import monthly_seed

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is missing")


def month(tmp_path, language="de"):
    seeded = monthly_seed.seed(tmp_path)
    site = dict(seeded["site"], language=language)
    data = praxis_monthly.month_report(seeded["ledger"], output_dir=seeded["output_dir"], site=site,
                                       month=seeded["month"], now=seeded["now"], provider=seeded["provider"],
                                       policy=None, hosts=seeded["hosts"])
    return seeded, data


def pdf_text(data, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(render.render_pdf(render.render_html(data, render.charts(data))))
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_every_word_the_data_part_emits_has_a_text_in_both_languages(tmp_path):
    _seeded, data = month(tmp_path)
    kinds = {a["kind"] for a in data["summary"]["actions"]}
    requirements = {k["requirement_key"] for k in data["kbv"]}
    evidence = {e["key"] for k in data["kbv"] for e in k["evidence"]}
    checks = {i["check"] for i in data["incidents"]["items"]}
    assert kinds and requirements and evidence and checks
    for language in ("de", "en"):
        catalog = render.texts(language)
        assert kinds <= set(catalog["action"]), (language, kinds - set(catalog["action"]))
        missing = requirements - set(catalog["kbv_requirement"])
        assert not missing, (language, missing)
        assert evidence <= set(catalog["kbv_evidence"]), (language, evidence - set(catalog["kbv_evidence"]))
        for check in checks:
            assert render._check_name(check, catalog) != catalog["check"]["unknown"], (language, check)


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_seeded_figures_are_in_the_pdf(tmp_path, language):
    seeded, data = month(tmp_path, language)
    text = " ".join(pdf_text(data, tmp_path).split())
    expected = seeded["expected"]
    locale = "de_DE" if language == "de" else "en_GB"
    for host, figures in expected["availability"].items():
        assert host in text
        if figures["percent"] is not None:
            shown = format_decimal(figures["percent"], format="#,##0.#", locale=locale)
            assert shown in text, (host, shown)
    no_data = "keine Daten" if language == "de" else "no data"
    assert no_data in text
    if language == "de":
        for english in (" the ", " and ", " Updates installed", "no data", "Antivirus"):
            assert english not in f" {text} ", english
    for _kind, host in expected["actions"]:
        assert host in text


@pytest.mark.parametrize("language", ["de", "en"])
def test_every_check_has_its_own_words_in_the_report_and_the_alert_mail(language):
    from ansible.module_utils import praxis_findings, praxis_mail

    catalog = render.texts(language)
    mail = praxis_mail.texts(language)
    for check in praxis_findings.CHECKS:
        assert render._check_name(check, catalog) != catalog["check"]["unknown"], check
        assert check in mail["checks"], check


@pytest.mark.parametrize("language", ["de", "en"])
def test_practice_data_backups_and_the_restore_test_are_in_the_pdf(tmp_path, language):
    from tests.unit.test_monthly import add_data_backups
    seeded = monthly_seed.seed(tmp_path)
    add_data_backups(seeded)
    site = dict(seeded["site"], language=language)
    data = praxis_monthly.month_report(seeded["ledger"], output_dir=seeded["output_dir"], site=site,
                                       month=seeded["month"], now=seeded["now"], provider=seeded["provider"],
                                       policy=None, hosts=seeded["hosts"])
    text = " ".join(pdf_text(data, tmp_path).split())
    catalog = render.texts(language)
    for kind in ("data_backup_critical", "restore_test_failed"):
        assert catalog["action"][kind].format(host="offsite") in text, kind
    if language == "de":
        assert "Wiederherstellungstest offsite am 16. Nov. 2026" in text
        assert "19 von 20 Dateien stimmen mit der Sicherung überein, Datenbanksicherung lesbar; nicht bestanden" in text
        assert "Für nas wurde noch kein Wiederherstellungstest durchgeführt" in text
        assert "21:30 Uhr (0)" in text and "30 (2)" in text and "30 (0)" in text
    else:
        assert "19 of 20 files match the backup, database dump readable; failed" in text
        assert "No restore test has been run for nas yet" in text
