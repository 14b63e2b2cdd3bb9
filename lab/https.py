"""The HTTPS listener every HTTP-API device of the lab uses (OPNsense, DSM,
Sophos, FortiGate): an aiohttp low-level server on the device's address with
the run directory's shared TLS context. Closing it stops accepting and drops
open keep-alive connections, so a rebooting device really refuses connections.

``drop()`` is the lab fault ``drop_rate`` on HTTPS, the same for every device:
the request has been read, then the TCP connection is torn down without a
byte of answer, as when a device's web server dies or its state table loses
the session mid-request (the client sees "connection reset" / "remote end
closed the connection without response")."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from lab import tls

_CONTEXTS: dict[Path, ssl.SSLContext] = {}


def shared_context(run_dir: Path) -> ssl.SSLContext:
    """One server SSLContext per run directory, shared by every device of the process."""
    key = Path(run_dir).resolve()
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        ctx = _CONTEXTS[key] = tls.server_context(key)
    return ctx


def drop(request: web.BaseRequest) -> web.StreamResponse:
    """Tear the request's connection down without an answer; the handler
    returns what this returns (a response that is never sent).

    ``abort()`` closes the socket at once, without a TLS close_notify. The
    server then fails to write the returned response to the closed transport,
    which aiohttp treats as a client that went away (no error logged)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


def maybe_drop(request: web.BaseRequest, faults: Any) -> web.StreamResponse | None:
    """``drop(request)`` for the share ``faults.drop_rate`` of requests, else None.
    Call it after the request body has been read and the latency applied."""
    return drop(request) if faults.roll_drop() else None


def dropped(request: web.BaseRequest) -> bool:
    """Whether the request's connection is gone (dropped), so nothing is answered."""
    transport = request.transport
    return transport is None or transport.is_closing()


class Listener:
    """What ``Device.stop()`` closes: the runner, which drops open connections too."""

    __slots__ = ("runner",)

    def __init__(self, runner: web.ServerRunner) -> None:
        self.runner = runner

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]], address: str, port: int,
                run_dir: Path, shutdown_timeout: float = 0.25) -> list[Any]:
    server = web.Server(handler, access_log=None)
    runner = web.ServerRunner(server, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, address, port, ssl_context=shared_context(run_dir), backlog=64, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return [Listener(runner)]
