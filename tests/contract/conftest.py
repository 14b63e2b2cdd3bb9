"""The contract suite's fixtures: the lab loop, the firmware file server and
the netns hosts of the integration tests, shared here (docs/drivers.md)."""

from __future__ import annotations

from tests.integration.conftest import netns_hosts  # noqa: F401  # pylint: disable=unused-import
from tests.integration.lab.conftest import fw_server, lab_loop  # noqa: F401  # pylint: disable=unused-import
