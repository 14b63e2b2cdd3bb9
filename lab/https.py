"""The HTTPS listener every HTTP-API device of the lab uses (OPNsense, DSM):
an aiohttp low-level server on the device's address with the run directory's
shared TLS context. Closing it stops accepting and drops open keep-alive
connections, so a rebooting device really refuses connections."""

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
