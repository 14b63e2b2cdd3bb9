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
  - Decides health on the controller as findings of one shape (docs/findings.md) from the host's
    thresholds in layers (O(thresholds), the device entry and the site level of the site file,
    C(praxis_thresholds), the project defaults) with OPS-06 priorities; an unreachable device fails
    the host with a C(net.reachability) finding (high for a firewall).
  - Sets the fact C(praxis_device_facts), writes it to C(<facts_dir>/<site>/<host>.json) for the
    network plan, records the check in the ledger and hands the findings to the incident engine
    (RV(incidents)); in check mode it writes and records nothing.
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
      - The most specific layer of the health thresholds, for ad-hoc runs and tests; thresholds per
        practice or device belong in the site file, per environment or group in C(praxis_thresholds)
        (docs/findings.md).
      - Keys C(cpu_percent), C(memory_percent), C(temperature_c), C(temperature_critical_c),
        C(volume_used_percent), C(volume_used_percent_critical), C(signature_max_age_days); an unknown
        key or a value that is not a number fails the host, naming it.
    type: dict
    default: {}
  facts_dir:
    description:
      - Folder of the facts files, one C(<facts_dir>/<site>/<host>.json) per device (the layout of every
        host, network and Windows).
      - The action plugin defaults it to C(<praxis_output_dir>/facts); the module writes nothing when not given.
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
path:
  description: The facts file written, C(<facts_dir>/<site>/<host>.json); null in check mode or without O(facts_dir).
  returned: success
  type: str
health:
  description: ok, warning or critical (the worst severity of RV(findings)).
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
findings:
  description:
    - What is wrong, as findings of one shape for every check (docs/findings.md), worst first; empty when
      nothing is.
  returned: always
  type: list
  elements: dict
  contains:
    site: {description: "The practice id.", type: str, sample: huber}
    host: {description: "The inventory host (C(<site>-<device>)).", type: str, sample: huber-nas01}
    check:
      description: "The check, a dotted id C(<area>.<what>) (docs/findings.md lists them)."
      type: str
      sample: net.volume_used
    subject:
      description: What inside the host (disk, volume, service, event); empty for the host itself.
      type: str
    severity: {description: "C(warning) or C(critical).", type: str, sample: warning}
    priority: {description: "C(high), C(medium) or C(low) (OPS-06 rules and the site file's priorities).", type: str}
    message: {description: "One line for the technician.", type: str}
    value: {description: "The measured value (null when not a number).", type: raw}
    threshold: {description: "The limit it crossed (null when not a number).", type: raw}
    first_seen: {description: "Filled in by the incident engine; null from the check.", type: str}
    last_seen: {description: "Filled in by the incident engine; null from the check.", type: str}
checks:
  description:
    - The check ids that ran for the host in this task; a check that did not run is neither confirmed nor
      resolved by the incident engine.
  returned: always
  type: list
  elements: str
  sample: ["net.reachability", "net.cpu", "net.memory", "net.temperature"]
incidents:
  description:
    - The incident engine's answer to the findings (what is new, worse or resolved since the last run).
    - Empty lists without a ledger; in check mode the engine records nothing.
  returned: when the task ran its checks
  type: dict
  contains:
    opened: {description: "Findings that are new.", type: list, elements: dict}
    updated: {description: "Findings seen again.", type: list, elements: dict}
    escalated: {description: "Findings that became worse (severity or priority).", type: list, elements: dict}
    resolved: {description: "Findings of checks that ran and found the problem gone.", type: list, elements: dict}
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
    praxis_driver_fortigate, praxis_driver_lancom, praxis_driver_linux, praxis_driver_opnsense,
    praxis_driver_sophos, praxis_driver_synology, praxis_ledger,
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
