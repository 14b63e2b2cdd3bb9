"""The lab mail server with the standard library's smtplib as the client."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

import pytest

from lab.smtp import LabMailServer, read_maildir


def make_message(subject: str, body: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "nas01@praxis-mueller.example"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def client_tls_context(run_dir) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(run_dir / "lab-cert.pem"))


def test_plain_delivery_and_readback(tmp_path):
    maildir = tmp_path / "mail"
    with LabMailServer(maildir=maildir) as server:
        assert server.port > 0
        to = ["it@praxisops.example", "praxis@praxis-mueller.example"]
        with smtplib.SMTP(*server.address, timeout=10) as client:
            client.send_message(make_message("Backup OK: nas01", "Sicherung erfolgreich.\nÄnderungen: 3\n", to))
        (message,) = server.wait_for(1, timeout=5)
    assert message.mail_from == "nas01@praxis-mueller.example"
    assert message.rcpt_tos == to
    assert message.subject == "Backup OK: nas01"
    assert "Änderungen: 3" in message.text()
    assert message.auth_login is None and message.tls is False
    # The same message is on disk as an .eml file in new/.
    assert message.path is not None and message.path.parent == maildir / "new"
    assert message.path.read_bytes() == message.raw
    (stored,) = read_maildir(maildir)
    assert stored["Subject"] == "Backup OK: nas01"
    assert not list((maildir / "tmp").iterdir())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_without_tls_on_loopback(tmp_path):
    server = LabMailServer(maildir=tmp_path / "mail", username="alerts", password="S3cret-Mail",
                           auth_require_tls=False).start()
    try:
        with smtplib.SMTP(*server.address, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("auth")
            client.login("alerts", "S3cret-Mail")
            client.sendmail("alerts@praxisops.example", ["it@praxisops.example"],
                            make_message("Disk failing", "sata2", ["it@praxisops.example"]).as_bytes())
        (message,) = server.wait_for(1, timeout=5)
        assert message.auth_login == "alerts"
        assert message.subject == "Disk failing"

        # Wrong password: refused (535); and without AUTH, MAIL is refused (530).
        with smtplib.SMTP(*server.address, timeout=10) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as err:
                client.login("alerts", "wrong")
            assert err.value.smtp_code == 535
        with smtplib.SMTP(*server.address, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as err:
                client.sendmail("x@praxisops.example", ["it@praxisops.example"], b"Subject: x\r\n\r\nx\r\n")
            assert err.value.smtp_code == 530
        assert len(server.messages()) == 1
    finally:
        server.stop()


def test_starttls_with_auth(tmp_path, lab_run_dir):
    server = LabMailServer(maildir=tmp_path / "mail", username="alerts", password="S3cret-Mail", starttls=True,
                           run_dir=lab_run_dir)
    with server:
        with smtplib.SMTP(*server.address, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")          # AUTH is offered only after STARTTLS
            client.starttls(context=client_tls_context(lab_run_dir))   # verifies the lab cert for 127.0.0.1
            client.ehlo()
            assert client.has_extn("auth")
            client.login("alerts", "S3cret-Mail")
            client.send_message(make_message("Update verfügbar", "DSM 7.2.2-72806 Update 4",
                                             ["it@praxisops.example"]))
        (message,) = server.wait_for(1, timeout=5)
        assert message.tls is True and message.auth_login == "alerts"
        assert message.subject == "Update verfügbar"
        assert message.text().strip() == "DSM 7.2.2-72806 Update 4"
        with smtplib.SMTP(*server.address, timeout=10) as client:
            client.starttls(context=client_tls_context(lab_run_dir))
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alerts", "nope")


def test_require_starttls(tmp_path, lab_run_dir):
    with LabMailServer(maildir=None, starttls=True, require_starttls=True, run_dir=lab_run_dir) as server:
        with smtplib.SMTP(*server.address, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("a@praxisops.example", ["b@praxisops.example"], b"Subject: x\r\n\r\nx\r\n")
        with smtplib.SMTP(*server.address, timeout=10) as client:
            client.starttls(context=client_tls_context(lab_run_dir))
            client.sendmail("a@praxisops.example", ["b@praxisops.example"], b"Subject: tls\r\n\r\nx\r\n")
        assert server.wait_for(1, timeout=5)[0].path is None      # maildir=None: memory only


def test_wait_for_times_out(tmp_path):
    with LabMailServer(maildir=tmp_path / "mail") as server:
        with pytest.raises(TimeoutError):
            server.wait_for(1, timeout=0.2)


def test_configuration_is_checked(tmp_path):
    with pytest.raises(ValueError):
        LabMailServer(host="0.0.0.0", maildir=None)
    with pytest.raises(ValueError):
        LabMailServer(maildir=None, username="a")
    with pytest.raises(ValueError):
        LabMailServer(maildir=None, username="a", password="b")       # AUTH without TLS must be asked for


def test_inside_a_running_loop(tmp_path, lab_loop):
    """The lab process runs the server in its own event loop next to the devices."""
    server = LabMailServer(host="127.0.0.1", maildir=tmp_path / "mail")
    lab_loop.run(server.start_async())
    try:
        with smtplib.SMTP(*server.address, timeout=10) as client:
            client.send_message(make_message("Async", "body", ["it@praxisops.example"]))
            client.send_message(make_message("Async 2", "body", ["it@praxisops.example"]))
        messages = lab_loop.run(server.wait_for_async(2, timeout=5))
        assert [m.subject for m in messages] == ["Async", "Async 2"]
        # A client still connected does not keep stop_async from finishing.
        idle = smtplib.SMTP(*server.address, timeout=10)
        idle.ehlo()
        lab_loop.run(asyncio.wait_for(server.stop_async(), 10))
        with pytest.raises(OSError):
            smtplib.SMTP(*server.address, timeout=2)
        idle.close()
    finally:
        lab_loop.run(server.stop_async())
