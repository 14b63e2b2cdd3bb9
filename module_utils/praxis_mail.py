# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Alert e-mails (OPS-03): recipients, rendering and SMTP transport.

* ``recipients()``: who gets an event. The site's contacts with ``alerts``
  not false and the event's priority among their ``priorities`` (default:
  all); the provider's on-call address (``praxis_alert_oncall``) gets every
  high-priority event and every reminder.
* ``render()``: one message per practice and recipient for all its pending
  events, grouped; the highest priority in the subject; what is wrong in
  plain words, since when (Babel, the practice's time zone), which device,
  what the provider does next. Texts come from ``praxis_texts_<language>.py``
  (a translation is a file). UTF-8, MIME-encoded headers, ``Message-ID``,
  ``Date``, ``Auto-Submitted: auto-generated``.
* ``send()``: smtplib with STARTTLS (or implicit TLS) and AUTH.
* ``deliver()``: expand the site's outbox into deliveries, claim them, send
  (bounded retries within the run), mark them sent or leave them queued with
  the attempt counted and the error kept. Never logs the password.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import smtplib
import socket
import ssl
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ansible.module_utils import praxis_incidents

LANGUAGE = re.compile(r"^[a-z]{2}$")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PRIORITY_ORDER = ("high", "medium", "low")
SMTP_DEFAULTS: dict[str, Any] = {"port": 587, "starttls": True, "ssl": False, "username": None, "password": None,
                                 "timeout": 30, "validate_certs": True, "ca_file": None, "retries": 2,
                                 "retry_delay": 5}
SMTP_KEYS = set(SMTP_DEFAULTS) | {"host", "from"}


class MailError(ValueError):
    pass


def texts(language: str) -> dict[str, Any]:
    """The text catalog of a language (module praxis_texts_<language>)."""
    if not isinstance(language, str) or not LANGUAGE.match(language):
        raise MailError(f"language {language!r}: expected a two-letter code such as de or en")
    try:
        module = importlib.import_module(f"ansible.module_utils.praxis_texts_{language}")
    except ImportError:
        raise MailError(f"language {language!r}: no text catalog module_utils/praxis_texts_{language}.py") from None
    return module.TEXTS


def _from_text(key: str, value: Any) -> Any:
    """A number or boolean setting given as text, converted; other values unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if key in ("port", "timeout", "retries", "retry_delay") and re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text) if "." in text else int(text)
    if key in ("starttls", "ssl", "validate_certs") and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def smtp_settings(value: Any) -> dict[str, Any]:
    """``praxis_smtp`` with defaults, checked; errors name the key."""
    if not isinstance(value, Mapping):
        raise MailError("praxis_smtp must be a dict with at least host and from")
    unknown = sorted(set(value) - SMTP_KEYS)
    if unknown:
        raise MailError(f"praxis_smtp: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(SMTP_KEYS))}")
    # AWX credentials inject every value as text ("587", "true"): numbers and booleans
    # written as text are read as what they say; anything else is refused below
    settings = dict(SMTP_DEFAULTS, **{k: _from_text(k, v) for k, v in value.items() if v is not None and v != ""})
    if not settings.get("host"):
        raise MailError("praxis_smtp.host is required")
    if not ADDRESS.match(str(settings.get("from") or "")):
        raise MailError(f"praxis_smtp.from: {settings.get('from')!r} is not an e-mail address")
    for key in ("port", "timeout", "retries", "retry_delay"):
        if isinstance(settings[key], bool) or not isinstance(settings[key], (int, float)) or settings[key] < 0:
            raise MailError(f"praxis_smtp.{key} must be a non-negative number, got {settings[key]!r}")
    if bool(settings["username"]) != bool(settings["password"]):
        raise MailError("praxis_smtp: give username and password together (the password from the vault)")
    for key in ("username", "password"):
        if settings[key] and not str(settings[key]).isascii():
            raise MailError(f"praxis_smtp.{key} contains characters outside ASCII, which SMTP AUTH "
                            "(smtplib) cannot send; use an ASCII password")
    if settings["ssl"] and settings["starttls"] and "starttls" in value:
        raise MailError("praxis_smtp: ssl (implicit TLS) and starttls exclude each other")
    for key in ("starttls", "ssl", "validate_certs"):
        if not isinstance(settings[key], bool):
            raise MailError(f"praxis_smtp.{key} must be true or false, got {settings[key]!r}")
    if settings["ssl"]:
        settings["starttls"] = False
    if settings["ca_file"] and not os.path.isfile(settings["ca_file"]):
        raise MailError(f"praxis_smtp.ca_file {settings['ca_file']!r} does not exist")
    return settings


def recipients(site: Mapping[str, Any], event: Mapping[str, Any], *, oncall: str | None = None,
               oncall_language: str = "en") -> list[dict[str, str]]:
    """Addresses for one outbox event, with language and audience."""
    priority = event["priority"]
    site_language = site.get("language") or "de"
    found: dict[str, dict[str, str]] = {}
    contacts = [] if event["kind"] == "reminder" and oncall else list(site.get("contacts") or [])
    for contact in contacts:
        if contact.get("alerts", True) is False:
            continue
        if priority not in (contact.get("priorities") or PRIORITY_ORDER):
            continue
        address = str(contact["email"]).strip()
        found.setdefault(address.lower(), {"address": address, "language": contact.get("language") or site_language,
                                           "audience": "practice"})
    if oncall and (priority == "high" or event["kind"] == "reminder"):
        found[oncall.strip().lower()] = {"address": oncall.strip(), "language": oncall_language,
                                         "audience": "provider"}
    return list(found.values())


def _zone(site: Mapping[str, Any]) -> ZoneInfo:
    name = site.get("timezone") or "Europe/Berlin"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MailError(f"site {site.get('id')}: unknown time zone {name!r}") from None


def when(moment: Any, site: Mapping[str, Any], catalog: Mapping[str, Any]) -> str:
    """A date and time in the practice's zone and the catalog's language (Babel)."""
    from babel.dates import format_datetime as babel_format  # runtime dependency, requirements.txt

    return babel_format(praxis_incidents.parse_time(moment), catalog["datetime_format"], tzinfo=_zone(site),
                        locale=catalog["locale"])


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() or abs(value) >= 10 else f"{value:.1f}"
    return "" if value is None else value


def what(data: Mapping[str, Any], catalog: Mapping[str, Any]) -> str:
    """The problem in plain words."""
    check = str(data["check"])
    table = catalog["checks"]
    template = table.get(check) or table.get(check.split(".", 1)[-1])
    fields = {"device": data["host"], "subject": data.get("subject") or "", "value": _number(data.get("value")),
              "threshold": _number(data.get("threshold")), "check": check}
    text = (template or catalog["check_unknown"]).format(**fields)
    return text.replace(" ()", "").replace("( ", "(")


def render(site: Mapping[str, Any], recipient: Mapping[str, str], events: list[Mapping[str, Any]], *,
           sender: str, now: Any, message_id: str | None = None) -> EmailMessage:
    """One message for one recipient with all its events of one practice."""
    if not events:
        raise MailError("nothing to render")
    catalog = texts(recipient["language"])
    ordered = sorted(events, key=lambda e: (PRIORITY_ORDER.index(e["priority"]), e["kind"] == "resolved",
                                            e["data"]["host"], e["data"]["check"]))
    top = ordered[0]["priority"]
    practice = site.get("name") or site.get("id")
    summary = (catalog["summary_one"].format(what=what(ordered[0]["data"], catalog)) if len(ordered) == 1
               else catalog["summary_many"].format(count=len(ordered)))
    if len(ordered) == 1 and ordered[0]["kind"] != "opened":
        kind = _kind(ordered[0])
        summary = f"{catalog['kind'][kind]}: {summary}"
    lines = [catalog["greeting"], "", catalog["intro"], ""]
    for event in ordered:
        data = event["data"]
        kind = _kind(event)
        lines.append(f"{catalog['kind'][kind]} – {catalog['label_priority']} {catalog['priority'][event['priority']]}")
        lines.append(f"  {catalog['label_what']}: {what(data, catalog)}")
        lines.append(f"  {catalog['label_device']}: {data['host']}")
        lines.append(f"  {catalog['label_since']}: {when(data.get('first_seen') or data['opened_at'], site, catalog)}")
        if kind == "resolved" and data.get("resolved_at"):
            lines.append(f"  {catalog['label_resolved']}: {when(data['resolved_at'], site, catalog)}")
        step = catalog["next"]["resolved" if kind == "resolved" else
                               "reminder" if kind == "reminder" and recipient["audience"] == "provider"
                               else event["priority"]]
        lines.append(f"  {catalog['label_next']}: {step}")
        if recipient["audience"] == "provider":
            lines.append(f"  {catalog['label_technical']}: #{data['id']} {data['check']}"
                         f"{' ' + data['subject'] if data.get('subject') else ''}: {data.get('message') or ''}")
        lines.append("")
    lines += [catalog["closing"], "", "-- ", catalog["footer"]]
    message = EmailMessage(policy=SMTP_POLICY)
    message["Subject"] = catalog["subject"].format(priority=catalog["priority"][top], practice=practice,
                                                   summary=summary)
    message["From"] = sender
    message["To"] = recipient["address"]
    moment = praxis_incidents.parse_time(now)
    message["Date"] = format_datetime(moment.astimezone(_zone(site)))
    message["Message-ID"] = message_id or make_msgid(domain=sender.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = recipient["language"]
    if top == "high":
        message["Importance"] = "high"
        message["X-Priority"] = "1"
    message.set_content("\n".join(lines), charset="utf-8")
    return message


def _kind(event: Mapping[str, Any]) -> str:
    if event["kind"] == "opened" and event["data"].get("reopened"):
        return "reopened"
    return event["kind"]


def send(settings: Mapping[str, Any], message: EmailMessage, to: list[str]) -> None:
    """Deliver one message; raises smtplib/OSError on failure."""
    context = None
    if settings["starttls"] or settings["ssl"]:
        context = ssl.create_default_context(cafile=settings.get("ca_file") or None)
        if not settings["validate_certs"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    if settings["ssl"]:
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings["host"], int(settings["port"]),
                                                timeout=float(settings["timeout"]), context=context)
    else:
        client = smtplib.SMTP(settings["host"], int(settings["port"]), timeout=float(settings["timeout"]))
    try:
        client.ehlo()
        if settings["starttls"]:
            client.starttls(context=context)
            client.ehlo()
        if settings.get("username"):
            client.login(str(settings["username"]), str(settings["password"]))
        client.send_message(message, from_addr=settings["from"], to_addrs=to)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _error(exc: BaseException, settings: Mapping[str, Any]) -> str:
    text = f"{type(exc).__name__}: {exc}"
    password = settings.get("password")
    if password:
        text = text.replace(str(password), "********")
    return text


def _server_down(exc: BaseException) -> bool:
    """An error of the server or the way to it, not of one message or recipient:
    no connection, TLS, greeting or login (then no other message gets through)."""
    if isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, smtplib.SMTPHeloError,
                        smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError)):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def deliver(ledger: str, site: Mapping[str, Any], smtp: Mapping[str, Any] | None, *, now: Any,
            oncall: str | None = None, oncall_language: str = "en", check_mode: bool = False,
            sender: Callable[[Mapping[str, Any], EmailMessage, list[str]], None] = send,
            sleep: Callable[[float], None] = time.sleep,
            transport: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Send the pending notifications of one practice: one message per
    recipient. Returns ``sent`` and ``queued`` (with ``last_error``); in
    check mode ``would_send`` and nothing is written or sent.

    ``transport`` is shared by the calls of one run: once the mail server
    cannot be reached or refuses the login (after the retries), ``down`` is
    set and the remaining messages of the run are not tried; they stay queued
    unclaimed, so one server outage costs one set of retries, not one per
    recipient and practice."""
    transport = transport if transport is not None else {}
    site_id = str(site["id"])
    settings = smtp_settings(smtp) if smtp is not None else None
    pending = praxis_incidents.expand(
        ledger, site=site_id, now=now, check_mode=check_mode,
        recipients=lambda event: recipients(site, event, oncall=oncall, oncall_language=oncall_language))
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in pending:
        groups.setdefault((row["recipient"], row["language"], row["audience"]), []).append(row)
    result: dict[str, list[dict[str, Any]]] = {"sent": [], "queued": [], "would_send": []}
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    for (address, language, audience), rows in groups.items():
        recipient = {"address": address, "language": language, "audience": audience}
        if check_mode or settings is None:
            message = render(site, recipient, rows, sender=(settings or {}).get("from") or "alerts@invalid.example",
                             now=now)
            entry = {"site": site_id, "to": address, "subject": str(message["Subject"]), "events": len(rows)}
            if check_mode:
                result["would_send"].append(entry)
            else:
                result["queued"].append(dict(entry, last_error="no praxis_smtp configured"))
            continue
        if transport.get("down"):
            message = render(site, recipient, rows, sender=settings["from"], now=now)
            result["queued"].append({"site": site_id, "to": address, "subject": str(message["Subject"]),
                                     "events": len(rows),
                                     "last_error": f"not tried, the mail server failed before: {transport['down']}"})
            continue
        ids = praxis_incidents.claim(ledger, [r["id"] for r in rows], worker=worker, now=now)
        mine = [r for r in rows if r["id"] in ids]
        if not mine:
            continue
        message = render(site, recipient, mine, sender=settings["from"], now=now)
        entry = {"site": site_id, "to": address, "subject": str(message["Subject"]), "events": len(mine)}
        error = None
        server_down = False
        for attempt in range(int(settings["retries"]) + 1):
            try:
                sender(settings, message, [address])
                error = None
                break
            except (smtplib.SMTPException, OSError) as exc:
                error = _error(exc, settings)
                permanent = isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600 \
                    and not isinstance(exc, smtplib.SMTPAuthenticationError)
                server_down = _server_down(exc)
                if permanent or attempt == int(settings["retries"]):
                    break
                sleep(float(settings["retry_delay"]))
        if error is None:
            praxis_incidents.mark_sent(ledger, ids, worker=worker, message_id=str(message["Message-ID"]), now=now)
            result["sent"].append(dict(entry, message_id=str(message["Message-ID"])))
        else:
            praxis_incidents.mark_failed(ledger, ids, worker=worker, error=error)
            result["queued"].append(dict(entry, last_error=error))
            if server_down:
                transport["down"] = error
    return result


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
