"""A real SMTP server for the lab and the tests (aiosmtpd).

The practices' devices and the controller send their reports and alerts by
mail; in the lab they go to this server. It listens on a loopback address only,
keeps every received message in memory and writes it as an ``.eml`` file into
a maildir-like folder (``tmp/`` then ``new/``), so tests can read mail back and
people can open it with any mail program.

Two ways to run it:

* ``server.start()`` / ``server.stop()``: aiosmtpd's threaded ``Controller``
  (own event loop in a daemon thread), for tests with blocking clients.
* ``await server.start_async()`` / ``await server.stop_async()``: inside an
  already running event loop, e.g. the lab process next to the devices.

Optional: AUTH PLAIN/LOGIN with one username and password (required for MAIL
when set) and STARTTLS with the lab's TLS material (``lab/tls.py``). AUTH
without TLS is refused unless ``auth_require_tls=False`` is given, which is
allowed because the server is loopback-only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import email.policy
import ipaddress
import itertools
import os
import secrets
import socket
import threading
import time
import warnings
import weakref
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from lab.tls import server_context

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = REPO_ROOT / ".lab"
DEFAULT_MAILDIR = DEFAULT_RUN_DIR / "mail"

# AUTH without TLS is only ever switched on explicitly (auth_require_tls=False on a
# loopback-only server); aiosmtpd would warn about it on every connection.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", module="aiosmtpd.smtp")


@dataclasses.dataclass
class ReceivedMessage:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    subject: str
    peer: str
    auth_login: str | None
    tls: bool
    received: dt.datetime
    path: Path | None

    @property
    def message(self) -> EmailMessage:
        return parse_message(self.raw)

    def text(self) -> str:
        """The plain text body (or the HTML body if there is no plain part)."""
        msg = self.message
        part = msg.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


def parse_message(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def read_maildir(maildir: Path) -> list[EmailMessage]:
    """All messages stored in a maildir-like folder (new/ and cur/), oldest first."""
    files = [p for sub in ("new", "cur") for p in (Path(maildir) / sub).glob("*.eml")]
    return [parse_message(p.read_bytes()) for p in sorted(files, key=lambda p: p.name)]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _MailStore:
    """Thread-safe store: the server loop adds, tests read and wait."""

    def __init__(self, maildir: Path | None) -> None:
        self.maildir = maildir
        self._messages: list[ReceivedMessage] = []
        self._cond = threading.Condition()
        self._counter = itertools.count(1)
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")
        if maildir is not None:
            for sub in ("tmp", "new", "cur"):
                (maildir / sub).mkdir(parents=True, exist_ok=True)

    def _write(self, raw: bytes) -> Path | None:
        if self.maildir is None:
            return None
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(self._counter)}.{self._host}.eml"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        final = self.maildir / "new" / name
        os.replace(tmp, final)
        return final

    def add(self, envelope: Envelope, session: Session) -> ReceivedMessage:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        subject = str(parse_message(raw).get("Subject", "") or "")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos), raw=raw, subject=subject,
            peer=peer, auth_login=login, tls=session.ssl is not None,
            received=dt.datetime.now(dt.timezone.utc), path=self._write(raw))
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()
        return message

    def messages(self) -> list[ReceivedMessage]:
        with self._cond:
            return list(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMessage]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"expected {count} message(s) within {timeout}s, got {len(self._messages)}")
            return list(self._messages)


class _Handler:
    """aiosmtpd handler: every accepted message goes to the store."""

    def __init__(self, store: _MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.store.add(envelope, session)
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    """aiosmtpd's threaded controller, able to bind port 0 (any free port)."""

    def __init__(self, *args: Any, factory: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._smtp_factory = factory

    def factory(self) -> SMTP:
        return self._smtp_factory()

    def _create_server(self):  # type: ignore[override]
        async def _bind() -> asyncio.AbstractServer:
            server = await self.loop.create_server(self._factory_invoker, host=self.hostname, port=self.port,
                                                   ssl=self.ssl_context)
            self.port = server.sockets[0].getsockname()[1]
            return server
        return _bind()


class LabMailServer:
    """SMTP server for the lab: loopback only, optional AUTH and STARTTLS."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, maildir: Path | str | None = DEFAULT_MAILDIR,
                 username: str | None = None, password: str | None = None, starttls: bool = False,
                 require_starttls: bool = False, auth_require_tls: bool | None = None,
                 run_dir: Path | None = None, hostname: str = "mail.lab.praxisops",
                 data_size_limit: int = 32 * 1024 * 1024) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the lab mail server listens on loopback addresses only, not {host!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if require_starttls and not starttls:
            raise ValueError("require_starttls needs starttls=True")
        if auth_require_tls is None:
            auth_require_tls = True
        if username is not None and auth_require_tls and not starttls:
            raise ValueError("AUTH over TLS needs starttls=True (or auth_require_tls=False on loopback)")
        self.host = host
        self.port = port
        self.hostname = hostname
        self.username = username
        self.password = password
        self.starttls = starttls
        self.require_starttls = require_starttls
        self.auth_require_tls = auth_require_tls
        self.run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN_DIR
        self.data_size_limit = data_size_limit
        self.store = _MailStore(Path(maildir) if maildir is not None else None)
        self._handler = _Handler(self.store)
        self._tls_context = server_context(self.run_dir) if starttls else None
        self._controller: _Controller | None = None
        self._server: asyncio.AbstractServer | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    # -- SMTP protocol objects ---------------------------------------------------------
    @property
    def maildir(self) -> Path | None:
        return self.store.maildir

    def _smtp(self) -> SMTP:
        smtp = SMTP(
            self._handler,
            hostname=self.hostname,
            ident="praxisops lab ESMTP",
            data_size_limit=self.data_size_limit,
            enable_SMTPUTF8=True,
            tls_context=self._tls_context,
            require_starttls=self.require_starttls,
            auth_required=self.username is not None,
            auth_require_tls=self.auth_require_tls,
            authenticator=self._authenticate if self.username is not None else None,
        )
        self._sessions.add(smtp)
        return smtp

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.username is None or self.password is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = secrets.compare_digest(login, self.username) and secrets.compare_digest(password, self.password)
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    # -- threaded (tests) ----------------------------------------------------------------
    def start(self) -> LabMailServer:
        if self._controller is not None or self._server is not None:
            raise RuntimeError("the mail server is already running")
        controller = _Controller(self._handler, hostname=self.host, port=self.port, factory=self._smtp)
        controller.start()
        self._controller = controller
        self.port = controller.port
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> LabMailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inside a running loop (lab process) ----------------------------------------------
    async def start_async(self) -> LabMailServer:
        if self._controller is not None or self._server is not None:
            raise RuntimeError("the mail server is already running")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._smtp, host=self.host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop_async(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for smtp in list(self._sessions):
            transport = getattr(smtp, "transport", None)
            if transport is not None:
                transport.close()
        try:
            await asyncio.wait_for(server.wait_closed(), 5)
        except asyncio.TimeoutError:
            pass

    async def __aenter__(self) -> LabMailServer:
        return await self.start_async()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    @property
    def running(self) -> bool:
        """Whether the listener accepts connections (started and not stopped)."""
        return self._controller is not None or self._server is not None

    # -- reading mail back ----------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def messages(self) -> list[ReceivedMessage]:
        return self.store.messages()

    def clear(self) -> None:
        self.store.clear()

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages arrived; TimeoutError otherwise."""
        return self.store.wait_for(count, timeout)

    async def wait_for_async(self, count: int = 1, timeout: float = 10) -> list[ReceivedMessage]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.store.messages()
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} message(s) within {timeout}s, got {len(messages)}")
            await asyncio.sleep(0.02)
