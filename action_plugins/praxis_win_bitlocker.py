# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_win_bitlocker (WP-04, OPS-01, OPS-07; the
module's options are documented in library/praxis_win_bitlocker.py).

What it does
------------
1. Checks that the play's vault secret opens the host's escrow file before
   the host is touched: a key that cannot be escrowed must not be created.
2. Starting encryption is disruptive (a hardware test reboot, hours of disk
   load). Outside the practice's maintenance time (service calendar,
   ``check_disruptive``) the module first runs in check mode; when it would
   enable BitLocker, the task fails with the calendar's refusal (in check
   mode it reports the refusal instead), unless ``force_reason`` is given.
   Adding a recovery password, resuming a suspended volume and reading and
   escrowing the existing keys are allowed at any time.
3. Runs the Windows module and takes ``recovery_passwords`` out of its result
   the moment it arrives, before anything can display, register or log it,
   and merges the keys into ``<escrow_dir>/<site>/<host>.yml.vault``
   (module_utils/praxis_escrow.py: ansible-vault with the play's secret,
   atomic, read back before the rename, old keys never dropped).
4. Returns what was done, the volume (protector ids and types only), the
   escrowed protector ids with their dates and the escrow file's path; never
   a key. It fails when a recovery-password protector of the volume is not
   in the escrow file afterwards.

Action-only options: ``escrow_dir`` (default ``output/escrow`` beside
playbooks/), ``force_reason``, ``now`` (ISO time, for tests and replays),
``site`` (default ``praxis_site``).

How no key reaches a log
------------------------
The keys travel once, in the module's JSON output, from the host to this
worker process. Ansible does not print a module's raw output by itself, but
some of its parts do when asked to talk a lot, so for the duration of the
module call (only in this worker; every host-task runs in its own fork, and
everything is restored afterwards):

* ``display.verbosity`` and ``display.log_verbosity`` are lowered to at most
  3: the winrm connection prints the raw output ("WINRM RESULT ...") at
  -vvvvv, the psrp connection ("PSRP STDOUT") at -vvvvv;
* the play context (the connection's view of the task) is marked no_log:
  winrm, psrp and ssh then write "<censored due to no log>" instead of the
  output at any verbosity (ssh prints it at -vvv otherwise);
* the task is marked no_log for the call, so the module is started with
  ``_ansible_no_log`` and does not log its invocation on the host;
* the display's debug, verbose, warning and display outputs are filtered:
  anything shaped like a recovery password (48 digits in 8 groups of 6) and
  the PIN are replaced by ******** (ANSIBLE_DEBUG prints raw module output).

Afterwards the result itself is cleaned: ``recovery_passwords`` is removed,
the raw ``module_stdout``/``module_stderr`` of a result Ansible could not
parse are dropped, and every remaining string that contains a reported key,
the PIN or anything shaped like a recovery password is masked. The escrow
file is the only place a key is written, and only encrypted.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Iterator, Mapping

import ansible.module_utils as _ansible_module_utils
from ansible.utils.display import Display

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402
from ansible.module_utils.praxis_backup import AnsibleVaultCipher  # noqa: E402
from ansible.module_utils.praxis_calendar import check_disruptive, refusal_message  # noqa: E402
from ansible.module_utils.praxis_escrow import (  # noqa: E402
    EscrowError, escrow_keys, escrow_path, escrowed, redact,
)
from ansible.module_utils.praxis_workplace import normalize_bitlocker  # noqa: E402

display = Display()

MODULE = "praxis_win_bitlocker"
MODULE_OPTIONS = ("mount_point", "protector", "pin", "encryption_method", "used_space_only", "skip_hardware_test")
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "mount_point": {"type": "str"},
    "protector": {"type": "str", "default": "tpm", "choices": ["tpm", "tpm_pin"]},
    "pin": {"type": "str", "no_log": True},
    "encryption_method": {"type": "str", "default": "XtsAes256",
                          "choices": ["XtsAes256", "XtsAes128", "Aes256", "Aes128"]},
    "used_space_only": {"type": "bool", "default": False},
    "skip_hardware_test": {"type": "bool", "default": False},
    "escrow": {"type": "bool", "default": True},
    # action only
    "escrow_dir": {"type": "path"},
    "force_reason": {"type": "str"},
    "now": {"type": "str"},
    "site": {"type": "dict"},
}
PIN = re.compile(r"^\d{6,20}$")
VERBOSITY_CAP = 3
FILTERED_OUTPUTS = ("display", "_verbose_display", "_verbose_log", "debug", "warning")
RAW_OUTPUT_KEYS = ("module_stdout", "module_stderr", "stdout", "stderr", "stdout_lines", "stderr_lines")


def _masking(function, secrets: list[str]):
    def masked(*args, **kwargs):
        return function(*(redact(a, secrets) if isinstance(a, str) else a for a in args),
                        **{k: redact(v, secrets) if isinstance(v, str) else v for k, v in kwargs.items()})
    return masked


@contextlib.contextmanager
def sealed_output(action: Any, secrets: list[str]) -> Iterator[None]:
    """While a module that returns recovery keys runs: nothing it outputs can
    be displayed or logged (see the module docstring for each measure)."""
    contexts = {id(pc): pc for pc in (getattr(action, "_play_context", None),
                                      getattr(getattr(action, "_connection", None), "_play_context", None))
                if pc is not None}
    saved_no_log = {key: pc.no_log for key, pc in contexts.items()}
    saved_task_no_log = action._task.no_log
    saved_verbosity = display.verbosity
    saved_log_verbosity = getattr(display, "log_verbosity", None)
    patched = []
    try:
        display.verbosity = min(saved_verbosity, VERBOSITY_CAP)
        if saved_log_verbosity is not None:
            display.log_verbosity = min(saved_log_verbosity, VERBOSITY_CAP)
        for pc in contexts.values():
            pc.no_log = True
        action._task.no_log = True
        for name in FILTERED_OUTPUTS:
            setattr(display, name, _masking(getattr(display, name), secrets))
            patched.append(name)
        yield
    finally:
        for name in patched:
            display.__dict__.pop(name, None)
        display.verbosity = saved_verbosity
        if saved_log_verbosity is not None:
            display.log_verbosity = saved_log_verbosity
        for key, pc in contexts.items():
            pc.no_log = saved_no_log[key]
        action._task.no_log = saved_task_no_log


def _guard_summary(guard: Mapping[str, Any]) -> dict[str, Any]:
    return {key: guard.get(key) for key in ("maintenance_time", "allowed", "reason", "holiday", "next_window",
                                            "forced", "force_reason", "now")}


def _recovery_ids(volume: Mapping[str, Any] | None) -> list[str]:
    return [p["KeyProtectorId"].upper() for p in (volume or {}).get("KeyProtector") or []
            if p.get("KeyProtectorType") == "RecoveryPassword"]


class ActionModule(PraxisAction):
    OPERATION = MODULE
    SPEC = ARGUMENT_SPEC
    REQUIRED_IF = [("protector", "tpm_pin", ("pin",))]

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        return dict(super().fallbacks(task_vars), escrow_dir=self.output_path(task_vars, "escrow"))

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = str(task_vars.get("inventory_hostname", "?"))
        self._secrets = [args["pin"]] if args.get("pin") else []
        return self._protect(args, task_vars, host, self._secrets)

    def scrub(self, message: str) -> str:
        """No PIN and nothing shaped like a recovery key in an error."""
        return redact(message, getattr(self, "_secrets", []))

    # -- steps ---------------------------------------------------------------------------------
    def _protect(self, args: dict[str, Any], task_vars: dict[str, Any], host: str,
                 secrets: list[str]) -> dict[str, Any]:
        site = args.get("site") or task_vars.get("praxis_site")
        if not isinstance(site, Mapping) or not site.get("id"):
            return {"failed": True, "changed": False,
                    "msg": f"{host} has no praxis_site (is the praxisops_sites inventory used?)"}
        site_id = str(site["id"])
        if args["protector"] == "tpm_pin" and not PIN.match(args.get("pin") or ""):
            return {"failed": True, "changed": False, "msg": f"{host}: pin must be 6 to 20 digits (value not shown)"}
        escrow_dir = args["escrow_dir"]
        guard = check_disruptive(site, args.get("now"), args.get("force_reason"))
        cipher = None
        known: dict[str, Any] = {}
        if args["escrow"]:
            cipher = AnsibleVaultCipher(self._vault_secrets())
            known = escrowed(escrow_dir, cipher, site_id, host)
        module_args = {key: args[key] for key in MODULE_OPTIONS if args.get(key) is not None}
        check_mode = bool(self._task.check_mode)
        where = f"{host} {args.get('mount_point') or 'system drive'}"

        if check_mode or not guard["allowed"]:
            probe, _none = self._call(dict(module_args, escrow=False), task_vars, secrets, check_mode=True)
            if probe.get("failed"):
                return self._module_failed(probe, host, secrets)
            actions = list(probe.get("actions") or [])
            volume = normalize_bitlocker(probe.get("volume"), "volume")
            if "enabled" in actions and not guard["allowed"]:
                message = refusal_message(guard, f"starting BitLocker encryption of {where}")
                base = {"changed": False, "refused": True, "actions": actions, "volume": volume,
                        "guard": _guard_summary(guard)}
                if check_mode:
                    return dict(base, msg=f"{message} (check mode)")
                return dict(base, failed=True, msg=message)
            if check_mode:
                escrow = [{"protector_id": i, "first_seen": known.get(i), "new": i not in known}
                          for i in _recovery_ids(volume)] if args["escrow"] else []
                new = [e for e in escrow if e["new"]]
                return {"changed": bool(probe.get("changed")) or bool(new), "actions": actions, "volume": volume,
                        "reboot_required": bool(probe.get("reboot_required")), "escrow": escrow,
                        "escrow_path": escrow_path(escrow_dir, site_id, host) if args["escrow"] else None,
                        "guard": _guard_summary(guard), "warnings": redact(probe.get("warnings") or [], secrets),
                        "msg": f"{where}: would do {', '.join(actions) or 'nothing'}"
                               + (f"; would escrow {len(new)} new recovery key(s)" if new else "")}

        outcome, passwords = self._call(dict(module_args, escrow=args["escrow"]), task_vars, secrets,
                                        check_mode=False)
        secrets = secrets + [p["RecoveryPassword"] for p in passwords
                             if isinstance(p, Mapping) and isinstance(p.get("RecoveryPassword"), str)]
        outcome = redact(outcome, secrets)
        actions = list(outcome.get("actions") or [])
        raw_volume = outcome.get("volume") if isinstance(outcome.get("volume"), Mapping) else {}
        escrow_result = None
        if args["escrow"] and passwords:
            try:
                escrow_result = escrow_keys(escrow_dir, cipher, site_id, host, passwords,
                                            mount_point=raw_volume.get("MountPoint") or args.get("mount_point"),
                                            now=args.get("now"))
            except EscrowError as exc:
                did = f" after it did {', '.join(actions)}" if actions else ""
                return {"failed": True, "changed": bool(outcome.get("changed")), "actions": actions,
                        "msg": redact(f"{where}: the recovery key could not be escrowed{did}: {exc}. The key stays "
                                      "on the host; fix the escrow and run again.", secrets)}
        del passwords
        if outcome.get("failed"):
            failed = self._module_failed(outcome, host, secrets)
            if escrow_result:
                failed.update(escrow=escrow_result["escrow"], escrow_path=escrow_result["path"])
            return failed

        volume = normalize_bitlocker(raw_volume or None, "volume")
        result: dict[str, Any] = {
            "changed": bool(outcome.get("changed")) or bool(escrow_result and escrow_result["changed"]),
            "actions": actions, "volume": volume, "reboot_required": bool(outcome.get("reboot_required")),
            "escrow": escrow_result["escrow"] if escrow_result else [],
            "escrow_path": escrow_result["path"] if escrow_result else (
                escrow_path(escrow_dir, site_id, host) if args["escrow"] else None),
            "guard": _guard_summary(guard),
        }
        if outcome.get("warnings"):
            result["warnings"] = outcome["warnings"]
        if args["escrow"]:
            stored = set(escrow_result["escrowed_ids"]) if escrow_result else set(known)
            missing = [i for i in _recovery_ids(volume) if i not in stored]
            if missing:
                result.update(failed=True, msg=f"{where}: recovery password protector(s) {', '.join(missing)} are "
                                               "not in the escrow: the module returned no key for them")
                return result
        status = f"{volume.get('VolumeStatus')}, protection {volume.get('ProtectionStatus')}" if volume else "?"
        new = [e for e in result["escrow"] if e["new"]]
        result["msg"] = (f"{where}: {status}; " + (f"did {', '.join(actions)}" if actions else "nothing to do")
                         + (f"; {len(result['escrow'])} recovery key(s) escrowed, {len(new)} new" if args["escrow"]
                            else ""))
        if guard["forced"] and "enabled" in actions:
            display.warning(f"{host}: BitLocker encryption started outside maintenance time "
                            f"({guard['reason']}); reason given: {guard['force_reason']}")
        return result

    def _call(self, module_args: dict[str, Any], task_vars: dict[str, Any], secrets: list[str], *,
              check_mode: bool) -> tuple[dict[str, Any], list[Any]]:
        """Run the Windows module sealed; returns the result without
        ``recovery_passwords`` and, separately, the keys."""
        saved = self._task.check_mode
        with sealed_output(self, secrets):
            self._task.check_mode = check_mode
            try:
                raw = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
            finally:
                self._task.check_mode = saved
        passwords = raw.pop("recovery_passwords", None)
        if not isinstance(passwords, list):
            passwords = [] if passwords is None else [passwords]
        raw.pop("invocation", None)
        dropped = [key for key in RAW_OUTPUT_KEYS if raw.pop(key, None) not in (None, "", [])]
        if dropped:
            raw.setdefault("warnings", []).append(
                f"{MODULE}: the module's raw output ({', '.join(dropped)}) is not shown because it may hold "
                "recovery keys; run the module by hand on the host to see it")
        return raw, passwords

    def _module_failed(self, outcome: Mapping[str, Any], host: str, secrets: list[str]) -> dict[str, Any]:
        message = redact(str(outcome.get("msg") or "the module failed without a message"), secrets)
        failed = {"failed": True, "changed": bool(outcome.get("changed")), "msg": f"{host}: {MODULE}: {message}",
                  "actions": list(outcome.get("actions") or [])}
        for key in ("exception", "warnings"):
            if outcome.get(key):
                failed[key] = redact(outcome[key], secrets)
        return failed

    def _vault_secrets(self) -> list:
        vault = getattr(self._loader, "_vault", None)
        return list(getattr(vault, "secrets", None) or [])
