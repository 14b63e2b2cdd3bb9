#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_device_facts
short_description: Facts and health of a practice's network device (NET-06)
description:
  - Reads model, firmware version, uptime, CPU, memory, temperature, disks and SMART state of a
    NAS, volumes and the security signature date from a firewall, switch, access point or NAS,
    through the vendor's driver (OPNsense API, LANCOM LCOS / LCOS SX over SSH, Synology DSM API,
    Linux over SSH).
  - Decides health on the controller from the thresholds (OPS-06 priorities) and returns the
    findings; an unreachable device fails the host with a finding (high for a firewall).
  - Sets the fact C(praxis_device_facts), writes it to O(facts_dir) for the network plan, and
    records the check in the ledger; in check mode it writes and records nothing.
  - A firmware update an earlier run recorded as pending (its reboot did not come back within the
    budget) is recorded as updated, with the time it was noticed, once the device runs the target
    version (as failed when it runs another one), and RV(firmware_update) says so.
  - Runs as an action plugin on the controller; the same code also runs as this module, which the
    fleet benchmark uses to compare both ways.
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
options:
  thresholds:
    description:
      - Overrides of the health thresholds, per site or device group.
      - Keys C(cpu_percent), C(memory_percent), C(temperature_c), C(volume_used_percent),
        C(signature_max_age_days).
    type: dict
    default: {}
  facts_dir:
    description: Folder for one C(<host>.json) with the facts per device. Not written when not given.
    type: path
  fail_on:
    description: Fail the host when its health is this bad or worse (C(none) never fails on findings).
    type: str
    default: critical
    choices: [none, warning, critical]
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Check the health of the device
  praxis_device_facts:
    thresholds: {temperature_c: 65}
    facts_dir: "{{ playbook_dir }}/../output/facts"
    ledger: "{{ playbook_dir }}/../output/ledger.sqlite"
  register: health
"""

RETURN = r"""
facts:
  description: Normalized facts; a value the device does not report is null.
  returned: success
  type: dict
  contains:
    hostname: {description: "Host name the device reports.", type: str}
    model: {description: "Model.", type: str}
    firmware_version: {description: "Installed firmware or OS version.", type: str}
    uptime_seconds: {description: "Seconds since the last start.", type: int}
    cpu_percent: {description: "CPU load in percent.", type: float}
    memory_percent: {description: "Memory in use in percent.", type: float}
    temperature_c: {description: "Highest temperature reported in degrees Celsius.", type: float}
    disks: {description: "Disks with id, model, status, smart, temperature_c (NAS).", type: list}
    volumes: {description: "Volumes with id, status, used_percent.", type: list}
    signature_date: {description: "Date of the security signatures (firewalls).", type: str}
    checked_at: {description: "When the facts were read (ISO-8601, UTC).", type: str}
findings:
  description: "Problems found: check, status (warning, critical), priority (high, medium, low), message, value."
  returned: always
  type: list
  elements: dict
health:
  description: ok, warning or critical.
  returned: always
  type: str
seconds:
  description: Time the device took to answer.
  returned: success
  type: float
firmware_update:
  description:
    - A pending firmware update settled by this check, with C(status) (updated or failed), C(from), C(to),
      C(started_at), C(noticed_at) and C(msg).
  returned: when an earlier run left a firmware update pending
  type: dict
error_kind:
  description:
    - On failure, what went wrong (docs/device-identity.md) - auth, refused, dropped, timeout, unreachable,
      host_key_mismatch, tls_mismatch, identity_unknown, tls_untrusted, protocol, device or unsupported.
  returned: failure
  type: str
msg:
  description: One line naming the device and what was found or what failed.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.praxis_identity import IdentityStore
from ansible.module_utils.praxis_netops import (
    DEVICE_ARGUMENT_SPEC, FACTS_ARGUMENT_SPEC, OperationError, build_target, device_facts,
)
# The drivers are imported by name so that they travel with the module (praxis_driver.open_driver loads them).
from ansible.module_utils import (  # noqa: F401  # pylint: disable=unused-import
    praxis_driver_lancom, praxis_driver_linux, praxis_driver_opnsense, praxis_driver_synology, praxis_ledger,
)

ARGUMENT_SPEC = dict(
    DEVICE_ARGUMENT_SPEC,
    **FACTS_ARGUMENT_SPEC,
    device={"type": "dict", "required": True},
    site={"type": "dict", "required": True},
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        connection = {k: p[k] for k in ("timeout", "retries", "retry_delay", "options")}
        # the device's identity is checked against the ledger's store (docs/device-identity.md)
        connection["identity"] = IdentityStore(p["ledger"], p["identity"], check_mode=module.check_mode)
        target = build_target(p["device"], str(p["site"].get("id")), p["credentials"], connection=connection)
    except (OperationError, ValueError) as exc:
        module.fail_json(msg=f"device facts: {exc}")
    result = device_facts(target, limits=p["thresholds"], now=p["now"], facts_dir=p["facts_dir"],
                          ledger=p["ledger"], run=p["run"], fail_on=p["fail_on"], check_mode=module.check_mode)
    if "facts" in result:
        result["ansible_facts"] = {"praxis_device_facts": result["facts"]}
    if connection["identity"].warnings:
        result["praxis_warnings"] = list(connection["identity"].warnings)
        result["warnings"] = list(connection["identity"].warnings)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
