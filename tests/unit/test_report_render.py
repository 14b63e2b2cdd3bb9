"""The monthly report's rendering (OPS-04): the example month of a practice
(tests/fixtures/monthly/) to HTML, charts and PDF; the PDF read back with
poppler's pdftotext/pdftoppm/pdffonts: German and English figures and
headings, every page renders, table headers repeat on the following pages,
no data is "keine Daten" and never green, no English in the German report,
fonts embedded, the same data gives the same bytes."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible.module_utils import praxis_report_render as rr
from ansible.module_utils import praxis_report_texts_de as de
from ansible.module_utils import praxis_report_texts_en as en

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "monthly" / "report_huber_2026-11.json"
POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfinfo", "pdffonts"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils not installed (make deps as root)")
# words of the English report and of the data's raw values that must not reach a German report
ENGLISH = ["the", "and", "of", "page", "report", "status", "device", "devices", "updates were", "none", "true",
           "false", "null", "no_data", "warning", "critical", "fine", "attention", "yes", "no data", "backup",
           "antivirus", "firewall updates", "installed", "pending", "failed", "reachability", "workplace",
           "access_point", "fullyencrypted", "xtsaes256", "changed", "awx", "monthly.yml", "signature_age",
           "volume_used_percent", "used", "answer", "working days", "week", "month", "incident", "none",
           "reboot_pending", "update_failed", "device_offline", "endpoint_protection", "covered"]


def fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def english(data: dict) -> dict:
    data = copy.deepcopy(data)
    data["site"]["language"] = "en"
    return data


def pdf_text(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def page_count(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def german_pdf():
    return rr.render_pdf(rr.render_html(fixture()))


def keys(value, prefix=""):
    if isinstance(value, dict):
        found = set()
        for key, item in value.items():
            found |= {f"{prefix}{key}"} | keys(item, f"{prefix}{key}.")
        return found
    return set()


def test_every_language_has_every_text():
    assert keys(de.TEXTS) == keys(en.TEXTS)
    for name in ("status", "area"):
        assert set(de.TEXTS[name]) == set(rr.STATUSES if name == "status" else rr.AREAS)
    for area in rr.AREAS:
        assert set(de.TEXTS["verdict"][area]) == set(rr.STATUSES)


@needs_poppler
def test_german_pdf_has_the_figures_and_headings(german_pdf, tmp_path):
    text = flat(pdf_text(german_pdf, tmp_path))
    for expected in ("Monatsbericht November 2026", "Hausarztpraxis Dr. Huber", "Muster IT-Service GmbH",
                     "Zeitraum: 1. November 2026 bis 30. November 2026", "Erstellt am 1. Dez. 2026, 06:00 Uhr",
                     "Auf einen Blick", "Virenschutz", "Updates", "Störungen", "Erreichbarkeit der Geräte",
                     "Sicherungen", "Firmware der Netzwerkgeräte", "Verschlüsselung", "Bestand",
                     "Durchgeführte Arbeiten", "Nachweise zur IT-Sicherheitsrichtlinie der KBV",
                     "95 % der Geräte innerhalb von 7 Tagen 93,8 %", "nicht eingehalten", "100,0 %", "96,7 %",
                     "KB5070881", "0x800f0922", "huber-ws03", "Speicherplatz", "Virensignaturen",
                     "Seite 1 von", "keine Sicherung der Praxisdaten über diesen Service",
                     "vollständig verschlüsselt", "XTS-AES 256 Bit", "Monatliche Wartung",
                     "Installation von Updates", "automatisch", "m.keller",
                     "huber-ws02 muss neu gestartet werden", "Anlage 1 Nr. 3", "16 GB", "Offene Störungen am "
                     "Monatsende: 1", "30. Nov. 2026, 23:45 Uhr", "5. Dez. 2026, 02:00 Uhr"):
        assert expected in text, expected
    pages = page_count(german_pdf, tmp_path)
    assert f"Seite {pages} von {pages}" in text
    # the header on every page names the practice and the provider
    for page in range(1, pages + 1):
        assert "Hausarztpraxis Dr. Huber" in pdf_text(german_pdf, tmp_path, page)
        assert "Muster IT-Service GmbH" in pdf_text(german_pdf, tmp_path, page)


@needs_poppler
def test_english_pdf(tmp_path):
    pdf = rr.render_pdf(rr.render_html(english(fixture())))
    text = flat(pdf_text(pdf, tmp_path))
    for expected in ("Monthly report November 2026", "At a glance", "Period: 1 November 2026 to 30 November 2026",
                     "95 % of devices within 7 days 93.8 %", "missed", "Page 1 of", "no data",
                     "No practice-data backup through this service", "Disk space used"):
        assert expected in text, expected
    assert "Monatsbericht" not in text and "Seite" not in text


@needs_poppler
def test_no_english_in_the_german_pdf(german_pdf, tmp_path):
    text = flat(pdf_text(german_pdf, tmp_path)).lower()
    found = [word for word in ENGLISH if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)]
    assert found == []


@needs_poppler
def test_every_page_renders(german_pdf, tmp_path):
    (tmp_path / "r.pdf").write_bytes(german_pdf)
    pages = page_count(german_pdf, tmp_path)
    assert pages >= 3
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages
    for image in images:
        data = image.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 3000      # not a blank page


@needs_poppler
def test_fonts_embedded(german_pdf, tmp_path):
    (tmp_path / "r.pdf").write_bytes(german_pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "r.pdf")], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all("DejaVu-Sans" in line for line in fonts)
    assert all(line.split()[-5] == "yes" for line in fonts), fonts       # the "emb" column


def big(devices: int = 300) -> dict:
    data = fixture()
    data["antivirus"]["devices"] = [
        {"host": f"pc-{n:03d}", "status": "ok", "protection": True, "signature_age_working_days": n % 3,
         "detections": 0, "last_check": "2026-11-30T23:45:00+01:00"} for n in range(devices)]
    return data


@needs_poppler
def test_long_tables_repeat_their_header(tmp_path):
    pdf = rr.render_pdf(rr.render_html(big()))
    pages = [pdf_text(pdf, tmp_path, page) for page in range(1, page_count(pdf, tmp_path) + 1)]
    with_rows = [text for text in pages if re.search(r"\bpc-\d{3}\b", text)]
    assert len(with_rows) >= 4
    for text in with_rows:
        assert "Signaturalter" in text and "Letzte Prüfung" in text
    # every row once, none split across pages
    rows = re.findall(r"\bpc-(\d{3})\b", "\n".join(with_rows))
    assert sorted(set(rows)) == [f"{n:03d}" for n in range(300)]


def test_no_data_is_keine_daten_and_never_green():
    data = fixture()
    data["availability"]["devices"][0]["percent"] = None
    page = rr.view(data)
    encryption = next(a for a in page["areas"] if a["name"] == "Verschlüsselung")
    assert encryption["status"] == "no_data" and encryption["word"] == "keine Daten"
    assert page["availability"]["rows"][0]["percent"] == "keine Daten"
    assert page["encryption"]["rows"][-1]["volume"] == "keine Daten"
    html = rr.render_html(data, {name: "<svg></svg>" for name in ("sla", "signatures", "incidents",
                                                                  "availability")})
    row = re.search(r'<tr class="(\w+)"><td>Verschlüsselung</td>', html)
    assert row.group(1) == "no_data"
    assert re.search(r'\.no_data \.light[^{]*\{ background: #bdbdbd', html)
    assert "#2e7d32" not in re.search(r"\.no_data \.light[^}]*\}", html).group(0)


def test_bad_input_names_the_field():
    data = fixture()
    data["antivirus"]["devices"][1]["status"] = "green"
    with pytest.raises(rr.ReportError, match=r"antivirus\.devices\[1\]\.status: status 'green'"):
        rr.view(data)
    data = fixture()
    data["site"]["language"] = "fr"
    with pytest.raises(rr.ReportError, match="no text catalog .*praxis_report_texts_fr"):
        rr.view(data)
    data = fixture()
    data["incidents"]["items"][0]["opened_at"] = "2026-11-03 23:45"
    with pytest.raises(rr.ReportError, match=r"incidents\.items\[0\]\.opened_at: .* no UTC offset"):
        rr.view(data)


def test_charts_are_deterministic_vector_svg():
    first = rr.charts(fixture())
    assert set(first) == {"sla", "signatures", "incidents", "availability"}
    for svg in first.values():
        assert svg.startswith("<svg") and "<path" in svg
        assert "<dc:date>" not in svg and "<image" not in svg
        assert "<text" not in svg        # text drawn as paths: no font needed to view it
    assert rr.charts(fixture()) == first
    other = fixture()
    other["incidents"]["per_week"][0]["opened"] = 5
    assert rr.charts(other)["incidents"] != first["incidents"]


def test_same_report_same_pdf(german_pdf):
    assert rr.render_pdf(rr.render_html(fixture())) == german_pdf
    assert b"/CreationDate" not in german_pdf and b"/ModDate" not in german_pdf


def test_time_of_making_alone_is_the_same_report():
    data = fixture()
    svgs = {name: "<svg></svg>" for name in ("sla", "signatures", "incidents", "availability")}
    first = rr.render_html(data, svgs)
    data["generated_at"] = "2026-12-02T06:00:00+01:00"
    assert rr.render_html(data, svgs) != first and rr.same_report(first, rr.render_html(data, svgs))
    data["antivirus"]["devices"][0]["detections"] = 7
    assert not rr.same_report(first, rr.render_html(data, svgs))


def test_page_header_text_is_escaped_for_css():
    data = fixture()
    data["site"]["name"] = 'Praxis "Am Markt" \\ Süd'
    html = rr.render_html(data, {name: "<svg></svg>" for name in ("sla", "signatures", "incidents",
                                                                  "availability")})
    assert '@top-left { content: "Praxis \\22 Am Markt\\22  \\5C  Süd";' in html
