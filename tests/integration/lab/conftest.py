"""Fixtures that run lab emulators in a background asyncio loop so tests can
drive them with real, blocking clients (requests/urllib, paramiko, netmiko)."""

from __future__ import annotations

import asyncio
import http.server
import itertools
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

_counter = itertools.count(1)


class LabLoop:
    """An asyncio loop in a daemon thread; run coroutines on it from tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.devices: list[Any] = []

    def run(self, coro, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Any], timeout: float = 10) -> Any:
        async def _wrap():
            return fn()
        return self.run(_wrap(), timeout)

    def start_device(self, cls, **kwargs) -> Any:
        """Create and start a device on a fresh 127.29.x.y address."""
        n = next(_counter)
        kwargs.setdefault("address", f"127.29.{n // 250}.{n % 250 + 1}")
        kwargs.setdefault("site_id", "test")
        kwargs.setdefault("name", f"dev{n}")

        async def _make():
            device = cls(**kwargs)
            await device.start()
            return device
        device = self.run(_make())
        self.devices.append(device)
        return device

    def close(self) -> None:
        for device in self.devices:
            try:
                self.run(device.stop(), timeout=5)
            except Exception:  # noqa: BLE001 - teardown must not mask the test result
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def lab_loop():
    lab = LabLoop()
    yield lab
    lab.close()


@pytest.fixture(scope="session")
def lab_run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("labrun")


@pytest.fixture(scope="module")
def fw_server(tmp_path_factory):
    """A plain HTTP server on 127.0.0.1 serving firmware files from a directory:
    ``fw_server(name, data) -> url``."""
    root = tmp_path_factory.mktemp("firmware")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def publish(name: str, data: bytes) -> str:
        (root / name).write_bytes(data)
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield publish
    server.shutdown()


def set_faults(lab_loop: LabLoop, device: Any, **faults: Any) -> None:
    """Switch faults of a running emulator from the test thread."""
    lab_loop.call(lambda: device.faults.update(faults))


def wait_for(predicate: Callable[[], Any], timeout: float = 8.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not reached in time")
