# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of the network device action plugins.

The network operations run in the Ansible worker that already exists for
the host-task, against the device's API or SSH: no module process is
spawned and nothing is copied, which the fleet benchmark (bench/fleet)
measured as the difference that matters at 900 devices a night.

``DeviceAction`` turns task variables into a driver ``Target``: the device
from ``praxis_device``, the site from ``praxis_site``, the credentials from
the vault variable the device names. Subclasses implement ``operate``.

Options a task leaves out or sets to null take the project-wide variable
(``praxis_device_timeout``, ``praxis_ledger_path``, ``praxis_output_dir``,
...), then the operation's default. Roles therefore pass their variables
straight through and keep null defaults: a ``default()`` chain in a role
default is compiled again by every forked worker, twice per device (the
role's argument check and the task), which bench/fleet measured.

The run id recorded with every ledger row is AWX's ``awx_job_id``, else
``praxis_run_id``, else the id the praxisops callbacks generated when the
playbook started (the same in every forked worker). A run in check mode
records nothing: the ledger option is dropped before the operation runs.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible.module_utils.praxis_identity import IdentityStore
from ansible.module_utils.praxis_identity import who as identity_who
from ansible.module_utils.praxis_ledger import run_id
from ansible.module_utils.praxis_netops import DEVICE_ARGUMENT_SPEC, OperationError, build_target

VAULT_REF = re.compile(r"^vault_[a-z0-9_]+$")


class DeviceAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    ledger_path: str | None = None
    _supports_async = False
    OPERATION = "device operation"
    SPEC: dict[str, dict[str, Any]] = {}
    DEFAULT_TIMEOUT = 20.0
    # option -> project-wide variable it falls back to
    GLOBALS = {"timeout": "praxis_device_timeout", "retries": "praxis_device_retries",
               "retry_delay": "praxis_device_retry_delay", "ledger": "praxis_ledger_path", "now": "praxis_now",
               "identity": "praxis_device_identity"}

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.arguments(task_vars)
        host = task_vars.get("inventory_hostname", "?")
        self.identity = None
        try:
            self.identity = self.identity_store(args, task_vars)
            target = self.target(args, task_vars)
            site = args.get("site") or task_vars.get("praxis_site") or {}
            result.update(self.operate(target, site, args, task_vars))
        except OperationError as exc:
            result.update(failed=True, changed=False, msg=f"{host}: {self.OPERATION}: {exc}")
        self.add_warnings(result, task_vars)
        if result.get("skipped"):
            # a skip reported by the operation is a result, not Ansible's "skipped" (no when: was false)
            result["skip_reason"] = result.get("msg")
        return result

    def identity_store(self, args: dict[str, Any], task_vars: dict[str, Any], accept: bool = False,
                       reason: str = "") -> IdentityStore:
        """The run's identity check (docs/device-identity.md): mode from
        ``praxis_device_identity``, records in the ledger."""
        try:
            # a dry run records nothing but still reads the recorded identities
            return IdentityStore(args.get("ledger") or self.ledger_path, args.get("identity") or "strict",
                                 accept=accept, reason=reason, accepted_by=identity_who(task_vars),
                                 check_mode=self.check_mode)
        except ValueError as exc:
            raise OperationError(str(exc)) from None

    def add_warnings(self, result: dict[str, Any], task_vars: dict[str, Any]) -> None:
        """Warnings the technician must see, shown by Ansible and listed by the
        run summary (``praxis_warnings``): identities recorded on first use, TLS
        validation off without a pin, host key checking off."""
        warnings = list(self.identity.warnings) if self.identity is not None else []
        if warnings:
            result["praxis_warnings"] = list(dict.fromkeys(result.get("praxis_warnings", []) + warnings))
            result["warnings"] = list(result.get("warnings", [])) + warnings

    def arguments(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The task's options, null ones left out, completed from the project-wide
        variables and the defaults (``fallbacks``), then checked against the spec."""
        args = {key: value for key, value in self._task.args.items() if value is not None}
        for key, value in self.fallbacks(task_vars).items():
            if args.get(key) is None and value is not None:
                args[key] = value
        spec = dict(DEVICE_ARGUMENT_SPEC, **self.SPEC)
        spec["timeout"] = dict(spec["timeout"], default=self.DEFAULT_TIMEOUT)
        validation = ArgumentSpecValidator(spec).validate(args)
        if validation.error_messages:
            raise AnsibleActionFail(f"{self._task.action}: {'; '.join(validation.error_messages)}")
        params = validation.validated_parameters
        self.ledger_path = params.get("ledger")   # read by the identity check, also in a dry run
        if self.check_mode:
            params["ledger"] = None   # a dry run records nothing
        return params

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """Values for options the task leaves out. Subclasses add their own."""
        values = {key: self.variable(task_vars, name) for key, name in self.GLOBALS.items()}
        if values["ledger"] is None:
            values["ledger"] = os.path.join(self.output_dir(task_vars), "ledger.sqlite")
        values["run"] = run_id(self.variable(task_vars, "awx_job_id"), self.variable(task_vars, "praxis_run_id"))
        return values

    def variable(self, task_vars: dict[str, Any], name: str) -> Any:
        """A task variable, templated (None when undefined)."""
        value = task_vars.get(name)
        return None if value is None else self._templar.template(value)

    def output_dir(self, task_vars: dict[str, Any]) -> str:
        """``praxis_output_dir``, else ``output/`` beside playbooks/."""
        return str(self.variable(task_vars, "praxis_output_dir") or default_path(task_vars))

    def backup_store(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """``praxis_backup_store``, else encrypted copies under ``<output>/backups``."""
        return (self.variable(task_vars, "praxis_backup_store")
                or {"type": "local", "path": os.path.join(self.output_dir(task_vars), "backups")})

    @property
    def check_mode(self) -> bool:
        return bool(self._task.check_mode)

    def target(self, args: dict[str, Any], task_vars: dict[str, Any]):
        host = task_vars.get("inventory_hostname", "?")
        device = args.get("device") or task_vars.get("praxis_device")
        site = args.get("site") or task_vars.get("praxis_site")
        if not device or not site:
            raise OperationError(f"{host} is not a praxisops device: praxis_device / praxis_site missing "
                                 "(is the praxisops_sites inventory used?)")
        credentials = args.get("credentials")
        if credentials is None:
            name = device.get("credentials")
            if name not in task_vars:
                raise OperationError(f"vault variable {name} of {host} is not defined: put it in the "
                                     "inventory's vault and run with --vault-password-file or --vault-id")
            credentials = self._templar.template(task_vars[name])
        connection = {key: args.get(key) for key in ("timeout", "retries", "retry_delay", "options")}
        connection["identity"] = self.identity
        if device.get("vendor") == "linux":
            connection["username"] = task_vars.get("ansible_user")
            connection["private_key_file"] = (task_vars.get("ansible_ssh_private_key_file")
                                              or task_vars.get("ansible_private_key_file"))
            connection["port"] = task_vars.get("ansible_port")
            options = dict(connection.get("options") or {})
            options.setdefault("host_key_checking", bool(task_vars.get("praxis_ssh_host_key_checking", True)))
            if task_vars.get("praxis_known_hosts_file"):
                options.setdefault("known_hosts_file", task_vars["praxis_known_hosts_file"])
            connection["options"] = options
            if task_vars.get("ansible_host"):
                device = dict(device, address=task_vars["ansible_host"])
        return build_target(device, str(site.get("id")), credentials, connection=connection)

    def operate(self, target, site: dict[str, Any], args: dict[str, Any],
                task_vars: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def resolve_vault_refs(self, items: list[dict[str, Any]], field: str, task_vars: dict[str, Any],
                           what: str) -> list[dict[str, Any]]:
        """Copies of ``items`` whose ``field`` names a vault variable
        (``vault_...``) replaced by that variable's value."""
        resolved = []
        for item in items:
            ref = item.get(field)
            if isinstance(ref, str) and VAULT_REF.match(ref):
                if ref not in task_vars:
                    raise OperationError(f"{what} {item.get('ssid') or item.get('name')}: vault variable {ref} is "
                                         "not defined (is the vault loaded?)")
                value = self._templar.template(task_vars[ref])
                if not isinstance(value, str) or not value:
                    raise OperationError(f"{what} {item.get('ssid') or item.get('name')}: vault variable {ref} "
                                         "must be a non-empty string")
                item = dict(item, **{field: value})
            resolved.append(item)
        return resolved

    def vault_secrets(self) -> list:
        vault = getattr(self._loader, "_vault", None)
        return list(getattr(vault, "secrets", None) or [])


def default_path(task_vars: dict[str, Any], *parts: str) -> str:
    """A path under the project's output folder (beside playbooks/)."""
    base = task_vars.get("playbook_dir") or os.getcwd()
    return os.path.normpath(os.path.join(base, "..", "output", *parts))
