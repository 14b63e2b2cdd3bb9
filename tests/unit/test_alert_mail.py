"""Alert e-mails (OPS-03): recipients and priorities, rendering in German and
English (umlauts, Babel dates in Europe/Berlin, grouping, on-call copy), and
the transport against the real lab SMTP server (lab/smtp.py with STARTTLS and
AUTH): messages read back, server down -> queued -> delivered next call, no
duplicate."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket

import pytest

from ansible.module_utils import praxis_incidents as pi
from ansible.module_utils import praxis_mail as pm
from lab.smtp import LabMailServer

T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)   # Montag, 2. März 2026, 02:30 in Berlin
SITE = {
    "id": "huber", "name": "Hausarztpraxis Dr. Müller-Lüdenscheidt", "timezone": "Europe/Berlin",
    "contacts": [
        {"name": "Dr. Anna Huber", "email": "praxis@huber.example.org"},
        {"name": "Praxismanagerin", "email": "verwaltung@huber.example.org", "priorities": ["high"]},
        {"name": "Steuerbüro", "email": "steuer@huber.example.org", "alerts": False},
        {"name": "Dr. Ben Huber", "email": "ben@huber.example.org", "language": "en", "priorities": ["medium"]},
    ],
}
ONCALL = "noc@provider.example.net"
PASSWORD = "Geheim-Passwort-42!"


def make_finding(check="net.reachability", subject="", severity="critical", priority="high", message="no answer",
                 value=None, threshold=None, host="huber-fw01"):
    return {"site": "huber", "host": host, "check": check, "subject": subject, "severity": severity,
            "priority": priority, "message": message, "value": value, "threshold": threshold,
            "first_seen": T0.isoformat(), "last_seen": T0.isoformat()}


def seed(ledger, findings, now=T0, host="huber-fw01", checks=()):
    return pi.observe(ledger, run="r", site="huber", host=host, checks=checks, findings=findings, now=now)


def event(kind="opened", priority="high"):
    return {"kind": kind, "priority": priority}


def test_recipients_follow_priorities_and_oncall_gets_every_high():
    high = pm.recipients(SITE, event(priority="high"), oncall=ONCALL)
    assert [(r["address"], r["language"], r["audience"]) for r in high] == [
        ("praxis@huber.example.org", "de", "practice"), ("verwaltung@huber.example.org", "de", "practice"),
        (ONCALL, "en", "provider")]
    medium = pm.recipients(SITE, event(priority="medium"), oncall=ONCALL)
    assert [(r["address"], r["language"]) for r in medium] == [
        ("praxis@huber.example.org", "de"), ("ben@huber.example.org", "en")]
    reminder = pm.recipients(SITE, event("reminder", "low"), oncall=ONCALL)
    assert [r["address"] for r in reminder] == [ONCALL]
    english = pm.recipients(dict(SITE, language="en"), event(priority="low"))
    assert [(r["address"], r["language"]) for r in english] == [("praxis@huber.example.org", "en")]


def _events(tmp_path):
    ledger = str(tmp_path / "l.sqlite")
    seed(ledger, [make_finding()])
    seed(ledger, [make_finding(check="net.volume_used_percent", subject="volume1", severity="warning",
                               priority="low", value=91.0, threshold=85.0, host="huber-nas01")], host="huber-nas01")
    return ledger, [dict(p, kind=p["kind"]) for p in pi.expand(ledger, site="huber", now=T0, recipients=lambda e: [
        {"address": "praxis@huber.example.org", "language": "de", "audience": "practice"}])]


def test_german_message_grouped_with_priority_umlauts_and_berlin_time(tmp_path):
    _ledger, rows = _events(tmp_path)
    message = pm.render(SITE, {"address": "praxis@huber.example.org", "language": "de", "audience": "practice"},
                        rows, sender="alarm@provider.example.net", now=T0)
    raw = message.as_bytes()
    assert b"M=C3=BCller" in raw or b"=?utf-8?" in raw.lower(), "umlauts in the subject are MIME-encoded"
    assert raw.isascii() or b"\r\n" in raw
    parsed = __import__("lab.smtp", fromlist=["parse_message"]).parse_message(raw)
    assert parsed["Subject"] == "[Priorität Hoch] Hausarztpraxis Dr. Müller-Lüdenscheidt: 2 Meldungen zu Ihrer IT"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["Message-ID"].endswith("@provider.example.net>")
    assert parsed["Date"].endswith("+0100")
    body = parsed.get_body(("plain",)).get_content()
    assert "Montag, 2. März 2026, 02:30 Uhr" in body
    assert "Was: huber-fw01 ist nicht erreichbar" in body and "Huber-fw01" not in body
    assert "Der Speicherplatz auf huber-nas01 wird knapp (volume1: 91 % belegt)" in body
    assert body.index("Neue Störung – Priorität Hoch") < body.index("Neue Störung – Priorität Niedrig")
    assert "innerhalb von 1 Stunde" in body and "innerhalb von 24 Stunden" in body
    assert "Technisch" not in body, "the practice copy has no technical line"


def test_english_provider_copy_has_technical_details(tmp_path):
    _ledger, rows = _events(tmp_path)
    message = pm.render(SITE, {"address": ONCALL, "language": "en", "audience": "provider"}, rows[:1],
                        sender="alarm@provider.example.net", now=T0)
    assert message["Subject"] == "[Priority High] Hausarztpraxis Dr. Müller-Lüdenscheidt: huber-fw01 does not answer"
    body = message.get_content()
    assert "Monday, 2 March 2026, 02:30" in body
    assert "Technical: #1 net.reachability: no answer" in body


def test_summer_time_and_unknown_language(tmp_path):
    assert pm.when("2026-07-01T00:15:00+00:00", SITE, pm.texts("de")) == "Mittwoch, 1. Juli 2026, 02:15 Uhr"
    with pytest.raises(pm.MailError, match="no text catalog"):
        pm.texts("fr")
    with pytest.raises(pm.MailError, match="two-letter"):
        pm.texts("../x")


@pytest.mark.parametrize("settings, message", [
    ({"from": "a@b.de"}, "praxis_smtp.host is required"),
    ({"host": "h", "from": "nobody"}, "praxis_smtp.from"),
    ({"host": "h", "from": "a@b.de", "username": "u"}, "username and password together"),
    ({"host": "h", "from": "a@b.de", "prot": 25}, "unknown key"),
    ({"host": "h", "from": "a@b.de", "port": "x"}, "praxis_smtp.port"),
    ({"host": "h", "from": "a@b.de", "username": "u", "password": "Pässwort"}, "praxis_smtp.password contains"),
    ({"host": "h", "from": "a@b.de", "port": "-25"}, "praxis_smtp.port"),
    ({"host": "h", "from": "a@b.de", "starttls": "yes please"}, "praxis_smtp.starttls must be true or false"),
    ({"host": "h", "from": "a@b.de", "validate_certs": 1}, "praxis_smtp.validate_certs must be true or false"),
])
def test_smtp_settings_are_checked(settings, message):
    with pytest.raises(pm.MailError, match=message):
        pm.smtp_settings(settings)


def test_smtp_settings_as_text_from_an_awx_credential():
    """An AWX credential type injects every value as text; empty fields are not set."""
    settings = pm.smtp_settings({"host": "smtp.example.net", "port": "465", "ssl": "true", "username": "",
                                 "password": "", "from": "a@b.de", "timeout": "12.5", "validate_certs": "False"})
    assert (settings["port"], settings["ssl"], settings["starttls"]) == (465, True, False)
    assert (settings["timeout"], settings["validate_certs"], settings["username"]) == (12.5, False, None)


# -- transport against the real lab mail server ---------------------------------------------------

@pytest.fixture
def mail_server(tmp_path):
    server = LabMailServer("127.0.0.1", 0, maildir=tmp_path / "mail", username="praxisops", password=PASSWORD,
                           starttls=True, require_starttls=True, run_dir=tmp_path / "lab")
    with server:
        yield server


def smtp_for(server, tmp_path, **extra):
    return dict({"host": "127.0.0.1", "port": server.port, "starttls": True, "username": "praxisops",
                 "password": PASSWORD, "from": "alarm@provider.example.net", "timeout": 10,
                 "ca_file": str(tmp_path / "lab" / "lab-cert.pem"), "retries": 1, "retry_delay": 0}, **extra)


def test_delivery_over_starttls_and_auth_one_mail_per_recipient(mail_server, tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding()])
    seed(ledger, [make_finding(check="net.disk", subject="sata2", priority="medium", host="huber-nas01")],
         host="huber-nas01")
    result = pm.deliver(ledger, SITE, smtp_for(mail_server, tmp_path), now=T0, oncall=ONCALL)
    assert sorted(s["to"] for s in result["sent"]) == sorted(
        ["praxis@huber.example.org", "verwaltung@huber.example.org", "ben@huber.example.org", ONCALL])
    assert result["queued"] == []
    received = mail_server.wait_for(4)
    by_rcpt = {m.rcpt_tos[0]: m for m in received}
    assert all(m.tls and m.auth_login == "praxisops" for m in received)
    practice = by_rcpt["praxis@huber.example.org"]
    assert practice.subject.startswith("[Priorität Hoch] Hausarztpraxis Dr. Müller-Lüdenscheidt: 2 Meldungen")
    text = practice.text()
    assert "huber-fw01 ist nicht erreichbar" in text and "Eine Festplatte von huber-nas01 meldet einen Fehler (sata2)" \
        in text
    assert "Montag, 2. März 2026, 02:30 Uhr" in text
    manager = by_rcpt["verwaltung@huber.example.org"].text()
    assert "nicht erreichbar" in manager and "sata2" not in manager, "only the priorities this contact wants"
    assert "Technical: #1 net.reachability" in by_rcpt[ONCALL].text() and "sata2" not in by_rcpt[ONCALL].text()
    # the next call sends nothing again
    again = pm.deliver(ledger, SITE, smtp_for(mail_server, tmp_path), now=T0 + dt.timedelta(hours=1), oncall=ONCALL)
    assert again["sent"] == [] and len(mail_server.messages()) == 4


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_keeps_rows_queued_and_delivers_next_run_once(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding(priority="medium")])
    port = _free_port()
    server = LabMailServer("127.0.0.1", port, maildir=None, username="praxisops", password=PASSWORD,
                           starttls=True, run_dir=tmp_path / "lab")
    settings = smtp_for(server, tmp_path, port=port)
    pauses = []
    down = pm.deliver(ledger, SITE, settings, now=T0, sleep=pauses.append)
    # the bounded retries once; a server that cannot be reached is not tried again for the other recipient
    assert down["sent"] == [] and len(pauses) == 1
    assert sorted(q["to"] for q in down["queued"]) == ["ben@huber.example.org", "praxis@huber.example.org"]
    assert all("ConnectionRefused" in q["last_error"] for q in down["queued"])
    assert sorted((p["attempts"], p["sent_at"]) for p in pi.pending(ledger, site="huber")) == [(0, None), (1, None)]
    with server:
        up = pm.deliver(ledger, SITE, settings, now=T0 + dt.timedelta(days=1))
        assert sorted(s["to"] for s in up["sent"]) == ["ben@huber.example.org", "praxis@huber.example.org"]
        assert pm.deliver(ledger, SITE, settings, now=T0 + dt.timedelta(days=1))["sent"] == []
        assert len(server.wait_for(2)) == 2
        assert len(server.messages()) == 2
    assert pi.pending(ledger, site="huber") == []


def test_refused_auth_is_queued_without_the_password(mail_server, tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding(priority="low", severity="warning")])
    wrong = smtp_for(mail_server, tmp_path, password="falsch-" + PASSWORD)
    result = pm.deliver(ledger, SITE, wrong, now=T0, sleep=lambda s: None)
    assert result["sent"] == [] and result["queued"]
    error = result["queued"][0]["last_error"]
    assert "SMTPAuthenticationError" in error and PASSWORD not in error
    assert mail_server.messages() == []


def test_check_mode_sends_and_writes_nothing(mail_server, tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding()])
    result = pm.deliver(ledger, SITE, smtp_for(mail_server, tmp_path), now=T0, oncall=ONCALL, check_mode=True)
    assert len(result["would_send"]) == 3 and result["sent"] == []
    assert pi.pending(ledger, site="huber") == []
    assert mail_server.messages() == []
    assert len(pm.deliver(ledger, SITE, smtp_for(mail_server, tmp_path), now=T0, oncall=ONCALL)["sent"]) == 3


def test_permanent_rejection_is_not_retried(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding(priority="low", severity="warning")])
    calls = []

    def reject(settings, message, to):
        calls.append(to)
        raise smtplib.SMTPRecipientsRefused({to[0]: (550, b"no such user")})

    result = pm.deliver(ledger, SITE, {"host": "h", "from": "a@b.de", "retries": 3}, now=T0, sender=reject,
                        sleep=lambda s: None)
    assert len(calls) == 4 and result["queued"], "a refused recipient is retried only within the bound"


def test_a_server_down_is_tried_once_per_run_not_per_recipient_and_practice(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding()])
    other = dict(SITE, id="schmidt", name="Praxis Schmidt",
                 contacts=[{"name": "Team", "email": "team@schmidt.example.org"}])
    pi.observe(ledger, run="r", site="schmidt", host="schmidt-fw01", checks=(),
               findings=[dict(make_finding(host="schmidt-fw01"), site="schmidt")], now=T0)
    calls, pauses = [], []

    def refused(settings, message, to):
        calls.append(to[0])
        raise ConnectionRefusedError(111, "Connection refused")

    settings = {"host": "127.0.0.1", "from": "a@b.de", "retries": 2, "retry_delay": 5}
    transport = {}
    first = pm.deliver(ledger, SITE, settings, now=T0, oncall=ONCALL, sender=refused, sleep=pauses.append,
                       transport=transport)
    second = pm.deliver(ledger, other, settings, now=T0, oncall=ONCALL, sender=refused, sleep=pauses.append,
                        transport=transport)
    assert len(calls) == 3 and pauses == [5, 5], "one recipient with its retries, then no more attempts"
    assert "ConnectionRefused" in transport["down"]
    queued = first["queued"] + second["queued"]
    assert len(queued) == 3 + 2 and all("ConnectionRefused" in q["last_error"] for q in queued)
    assert all(q["last_error"].startswith("not tried") for q in queued[1:])
    pending = pi.pending(ledger)
    assert len(pending) == 5 and all(p["claimed_by"] is None and p["sent_at"] is None for p in pending)


def test_a_refused_recipient_does_not_stop_the_others(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    seed(ledger, [make_finding()])
    sent = []

    def picky(settings, message, to):
        if to[0] == "praxis@huber.example.org":
            raise smtplib.SMTPRecipientsRefused({to[0]: (450, b"mailbox busy")})
        sent.append(to[0])

    transport = {}
    result = pm.deliver(ledger, SITE, {"host": "h", "from": "a@b.de", "retries": 0}, now=T0, oncall=ONCALL,
                        sender=picky, sleep=lambda s: None, transport=transport)
    assert sorted(sent) == [ONCALL, "verwaltung@huber.example.org"] and "down" not in transport
    assert [q["to"] for q in result["queued"]] == ["praxis@huber.example.org"]
