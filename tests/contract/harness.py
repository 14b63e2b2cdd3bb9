"""What a vendor's contract fixture (tests/contract/vendors/<vendor>.py)
returns, and the environment it gets (docs/drivers.md, "The contract suite").

A fixture module defines:

``VENDOR``
    the vendor name, as the registry knows it.
``ROLES``
    the roles to check (each gets its own emulator).
``FAULTS``
    the lab faults (``lab.core.Faults`` fields) its emulator honours; the
    others are skipped with ``NO_FAULTS_REASON``.
``NO_FAULTS_REASON``
    why a fault is not checked (e.g. a real host, not an emulator).
``FAULT_GAPS`` (optional)
    fault -> why its emulator does not honour it yet; reported as expected
    failures (xfail) until the emulator does.
``def rig(env: Env, role: str) -> Rig``
    start the emulator once (called once per role and test module) and
    describe how to reach it.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Callable

from ansible.module_utils.praxis_driver import Target

# the contract suite's addresses: 127.28.<n>.<m>, apart from the lab (127.3x) and the lab tests (127.29)
_addresses = (f"127.28.{n // 250}.{n % 250 + 1}" for n in itertools.count())
ADDRESSES = [next(_addresses) for _ in range(40)]


@dataclasses.dataclass
class Env:
    """What a fixture may use: the lab loop (emulators in-process), a run
    directory with the lab certificate for ADDRESSES, the firmware file
    server, pytest's request (for ``netns_hosts``)."""

    lab_loop: Any
    run_dir: Path
    fw_server: Callable[[str, bytes], str]
    request: Any
    _free: Any = dataclasses.field(default_factory=lambda: iter(ADDRESSES))

    def address(self) -> str:
        """A free 127.28.x.y address (the run directory's certificate names it)."""
        return next(self._free)


@dataclasses.dataclass
class Rig:
    """One running device of a vendor and role for the contract tests."""

    target: Callable[..., Target]        # target(**Target field overrides)
    password: str                        # the secret that must never show in a result or error
    settings: dict[str, Any]             # a settings fragment the driver applies
    set_faults: Callable[..., None] | None = None   # set_faults(**faults) on the emulator
    reset: Callable[[], None] = lambda: None         # faults off, device up again
    firmware_update: bool = False        # an update is offered, so the update cycle can run
    close: Callable[[], None] = lambda: None


ALL_FAULTS = ("latency", "error_rate", "drop_rate", "refuse_auth", "truncate_backup", "corrupt_backup",
              "reboot_never_returns", "firmware_fail")


def emulator_rig(env: Env, cls: type, make_target: Callable[[Any], Callable[..., Target]], password: str,
                 settings: dict[str, Any], firmware_update: bool, **device_kwargs: Any) -> Rig:
    """A Rig for a lab emulator started in-process on a free address;
    ``reset`` switches its faults off, restores its first state (so the
    firmware update is offered again) and brings it up when it is down."""
    import copy

    device = env.lab_loop.start_device(cls, address=env.address(), run_dir=env.run_dir, password=password,
                                       **device_kwargs)
    initial = env.lab_loop.call(lambda: copy.deepcopy(device.state))

    def set_faults(**faults: Any) -> None:
        def switch() -> None:
            device.faults.update(faults)
            device.on_faults()
        env.lab_loop.call(switch)

    def reset() -> None:
        async def heal() -> None:
            import asyncio

            task = device._reboot_task
            if task is not None and not task.done():
                task.cancel()
                with __import__("contextlib").suppress(BaseException):
                    await task
            device.faults.reset()
            device.state = copy.deepcopy(initial)
            if not device.up:
                await device.start()
            await asyncio.sleep(0)

        env.lab_loop.run(heal())

    return Rig(target=make_target(device), password=password, settings=settings, set_faults=set_faults,
               reset=reset, firmware_update=firmware_update)
