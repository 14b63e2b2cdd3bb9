"""One emulated FortiGate (lab/fortigate.py) in process for tests: its own
asyncio loop in a daemon thread, a free 127.x address and port, the lab CA
naming that address, and a driver target for it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import socket
import threading
from pathlib import Path

from ansible.module_utils.praxis_driver import Target
from ansible.module_utils.praxis_driver_fortigate import FortiGateDriver
from lab import tls
from lab.fortigate import FortiGateFirewall


class Lab:
    """One emulated FortiGate with its own event loop in a daemon thread."""

    def __init__(self, run_dir: Path, **kwargs) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.address = f"127.{random.randint(40, 60)}.{os.getpid() % 250}.{random.randint(1, 250)}"
        with socket.socket() as sock:
            sock.bind((self.address, 0))
            port = sock.getsockname()[1]
        tls.ensure_certificate(run_dir, [self.address])
        self.ca = str(run_dir / "lab-cert.pem")
        username, token = FortiGateFirewall.random_credentials()
        self.device = FortiGateFirewall("fw01", "weber", self.address, port, username=username, password=token,
                                        run_dir=run_dir, reboot_seconds=0.3, **kwargs)
        self.run(self.device.start())

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def call(self, func, *args):
        async def wrapped():
            return func(*args)
        return self.run(wrapped())

    def target(self, **changes) -> Target:
        target = Target(site="weber", name="fw01", vendor="fortigate", role="firewall", address=self.address,
                        port=self.device.port, username=self.device.username, password=self.device.password,
                        ca_path=self.ca, timeout=5.0, retries=3, retry_delay=0.0)
        return dataclasses.replace(target, **changes)

    def driver(self, **changes) -> FortiGateDriver:
        return FortiGateDriver(self.target(**changes))

    def close(self) -> None:
        self.run(self.device.stop())

        async def settle():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.run(settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
