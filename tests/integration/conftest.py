"""Integration fixtures: real Linux lab hosts in network namespaces
(``lab/netns.py``), created once per test session and shared by every test
that asks for the same group."""

from __future__ import annotations

import os

import pytest

from lab import netns


@pytest.fixture(scope="session")
def netns_hosts():
    """Factory: ``netns_hosts(count=2, group="main") -> list[netns.Host]``.

    Hosts of a group are started on first use and kept for the session; a
    later call with a larger count adds hosts to the group, one with a smaller
    count gets the first ones. Tests that change a host in a way others would
    notice take a group of their own. Skips (with the reason) where lab hosts
    cannot run, e.g. without root. Hosts left by a crashed session are removed
    first; the session's hosts are removed at its end.
    """
    reason = netns.skip_reason()
    if reason:
        pytest.skip(reason)
    netns.reap_stale_hosts()
    owner = os.getpid()
    prefixes: dict[str, str] = {}

    def factory(count: int = 2, group: str = "main") -> list[netns.Host]:
        prefix = prefixes.setdefault(group, f"pt{owner}-{group}-")
        return netns.create_hosts(count, prefix, owner_pid=owner)

    yield factory
    for prefix in prefixes.values():
        netns.destroy_hosts(prefix)
