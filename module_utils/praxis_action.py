# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The one base of the praxisops action plugins, network and Windows.

``PraxisAction`` holds what every action shares:

* options a task leaves out or sets to null take the project-wide variable
  (``praxis_ledger_path``, ``praxis_now``, ``praxis_output_dir``, ...; see
  ``GLOBALS``), then the action's default. Roles therefore pass their
  variables straight through and keep null defaults: a ``default()`` chain in
  a role default is compiled again by every forked worker, twice per device
  (the role's argument check and the task), which bench/fleet measured;
* the ledger: ``praxis_ledger_url`` (a PostgreSQL database every job writes
  to, docs/ledger.md), else ``praxis_ledger_path``, else the file below;
* the output folder (``praxis_output_dir``, else ``output/`` beside
  playbooks/) and the paths under it, resolved here only: the ledger
  ``<output>/ledger.sqlite``, the facts files ``<output>/facts/<site>/<host>.json``
  (``praxis_backup.facts_path``), the escrow ``<output>/escrow``, the backups
  ``<output>/backups``;
* the run id recorded with every ledger row: AWX's ``awx_job_id``, else
  ``praxis_run_id``, else the id the praxisops callbacks generated when the
  playbook started (``praxis_ledger.run_id``);
* the time of the run (``now``, ``praxis_now``), parsed by
  ``praxis_calendar.parse_timestamp``;
* a run in check mode records nothing: the ledger option is dropped before
  the operation runs (``ledger_path`` keeps it for reading);
* the host's thresholds in layers and its priorities (``praxis_findings``);
* how long a ledger record or query waits for another process's lock:
  ``praxis_ledger_timeout`` (seconds, default 60; a lock held longer is a
  ``LedgerError`` that says so);
* every ``PraxisError`` (a bad site, calendar, option, threshold, a locked
  ledger, ...) becomes a failed result naming the host, the operation and
  what to fix, never Ansible's "Unexpected failure";
* a result with ``checks`` and ``findings`` is handed to the incident engine
  (``praxis_findings.report``); its answer is the result's ``incidents``.

``DeviceAction`` adds the network devices: it turns task variables into a
driver ``Target`` (the device from ``praxis_device``, the site from
``praxis_site``, the credentials from the vault variable the device names)
and runs the operation in the Ansible worker that already exists for the
host-task, against the device's API or SSH: no module process is spawned
and nothing is copied, which the fleet benchmark (bench/fleet) measured as
the difference that matters at 900 devices a night. Subclasses implement
``operate``.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible.module_utils.praxis_backup import facts_path
from ansible.module_utils.praxis_calendar import parse_timestamp
from ansible.module_utils.praxis_driver import vendor_record
from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_findings import Judge, report, site_layers, thresholds
from ansible.module_utils.praxis_identity import IdentityStore
from ansible.module_utils.praxis_identity import who as identity_who
from ansible.module_utils.praxis_ledger import TIMEOUT_VARIABLE as LEDGER_TIMEOUT
from ansible.module_utils.praxis_ledger import URL_VARIABLE as LEDGER_URL
from ansible.module_utils.praxis_ledger import is_url, location, parse_url, run_id
from ansible.module_utils.praxis_ledger import waiting as ledger_waiting
from ansible.module_utils.praxis_netops import DEVICE_ARGUMENT_SPEC, OperationError, build_target

VAULT_REF = re.compile(r"^vault_[a-z0-9_]+$")


# Variables the project no longer reads, with what replaces them. Checked by every
# action from its task variables (a dictionary look-up, no task per host): a value
# someone still sets would otherwise be ignored without a word.
RETIRED_VARIABLES = {
    name: (f"{name} is no longer read: thresholds are set in group_vars (praxis_thresholds) or in the site "
           "file (thresholds: at site level or on a device), see docs/findings.md; rename "
           "volume_critical_percent to volume_used_percent_critical on the way")
    for name in ("device_health_thresholds", "workplace_health_thresholds")
}


def retired(task_vars: dict[str, Any]) -> None:
    """Raise PraxisError naming a retired variable that is still set."""
    found = [message for name, message in RETIRED_VARIABLES.items() if name in task_vars]
    if found:
        raise PraxisError("; ".join(found))


class PraxisAction(ActionBase):
    """The base of every praxisops action plugin (see the module docstring)."""
    TRANSFERS_FILES = False
    _supports_check_mode = True
    ledger_path: str | None = None
    _supports_async = False
    OPERATION = "operation"
    SPEC: dict[str, dict[str, Any]] = {}
    REQUIRED_IF: list[tuple[str, Any, tuple[str, ...]]] = []
    # option -> project-wide variable it falls back to
    GLOBALS = {"ledger": "praxis_ledger_path", "now": "praxis_now"}

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        host = str(task_vars.get("inventory_hostname", "?"))
        self.ledger_path = None
        try:
            retired(task_vars)
            args = self.arguments(task_vars)
            if "now" in args:
                self.now(args)   # a bad praxis_now stops the host before anything is read, sent or written
            with ledger_waiting(self.variable(task_vars, LEDGER_TIMEOUT)):
                result.update(self.execute(args, task_vars))
                if "checks" in result:
                    result["incidents"] = self.observe(result, args, task_vars)
        except PraxisError as exc:
            result.update(failed=True, changed=False, msg=self.scrub(f"{host}: {self.OPERATION}: {exc}"))
        return result

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def scrub(self, message: str) -> str:
        """Hide secrets in an error message (actions that hold some override this)."""
        return message

    # -- options ----------------------------------------------------------------------------------
    def argument_spec(self) -> dict[str, dict[str, Any]]:
        return dict(self.SPEC)

    def arguments(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The task's options, null ones left out, completed from the project-wide
        variables and the defaults (``fallbacks``), then checked against the spec."""
        spec = self.argument_spec()
        args = {key: value for key, value in self._task.args.items() if value is not None}
        for key, value in self.fallbacks(task_vars).items():
            if key in spec and args.get(key) is None and value is not None:
                args[key] = value
        validation = ArgumentSpecValidator(spec, required_if=self.REQUIRED_IF or None).validate(args)
        if validation.error_messages:
            raise AnsibleActionFail(f"{self._task.action}: {'; '.join(validation.error_messages)}")
        params = validation.validated_parameters
        if "ledger" in params:
            params["ledger"] = location(params["ledger"])
            if is_url(params["ledger"]):
                parse_url(params["ledger"])   # a malformed URL stops the host before anything runs
        self.ledger_path = params.get("ledger")
        if self.check_mode and "ledger" in params:
            params["ledger"] = None   # a dry run records nothing
        return params

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """Values for options the task leaves out. Subclasses add their own."""
        values = {key: self.variable(task_vars, name) for key, name in self.GLOBALS.items()}
        url = self.variable(task_vars, LEDGER_URL)
        if url not in (None, ""):
            values["ledger"] = str(url)     # the one database every job writes to, before any file
        if values.get("ledger") is None:
            values["ledger"] = ledger_path(lambda name: self.variable(task_vars, name), task_vars.get("playbook_dir"))
        values["run"] = run_id(self.variable(task_vars, "awx_job_id"), self.variable(task_vars, "praxis_run_id"))
        return values

    def variable(self, task_vars: dict[str, Any], name: str) -> Any:
        """A task variable, templated (None when undefined)."""
        value = task_vars.get(name)
        return None if value is None else self._templar.template(value)

    @property
    def check_mode(self) -> bool:
        return bool(self._task.check_mode)

    # -- other modules and actions ------------------------------------------------------------------
    def run_plugin(self, name: str, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Run the module ``name`` with ``args`` for this host-task: through its
        action plugin when it has one (``ansible.windows.win_updates`` and
        ``win_reboot`` are action plugins that poll and reconnect), built as
        ansible-core's own actions build a sub-action (a copy of the task with
        ``args`` as its arguments, this task's connection, play context, loader
        and templar), else as a module (``_execute_module``). A dropped
        connection surfaces as the plugin's ``AnsibleConnectionFailure`` or a
        result with ``unreachable``; the caller decides what that means."""
        loader = self._shared_loader_obj.action_loader
        collections = getattr(self._task, "collections", None)
        short = name.rsplit(".", 1)[-1]
        if short != "normal" and loader.has_plugin(name, collection_list=collections):
            task = self._task.copy()
            task.args = dict(args)
            action = loader.get(name, task=task, connection=self._connection, play_context=self._play_context,
                                loader=self._loader, templar=self._templar,
                                shared_loader_obj=self._shared_loader_obj, collection_list=collections)
            return dict(action.run(task_vars=task_vars) or {})
        return dict(self._execute_module(module_name=name, module_args=dict(args), task_vars=task_vars) or {})

    # -- paths ------------------------------------------------------------------------------------
    def output_dir(self, task_vars: dict[str, Any]) -> str:
        """``praxis_output_dir``, else ``output/`` beside playbooks/."""
        return output_dir(lambda name: self.variable(task_vars, name), task_vars.get("playbook_dir"))

    def output_path(self, task_vars: dict[str, Any], *parts: str) -> str:
        """A path under the output folder."""
        return os.path.join(self.output_dir(task_vars), *parts)

    def facts_file(self, facts_dir: str, site_id: str, host: str) -> str:
        """``<facts_dir>/<site>/<host>.json`` (one layout for every host)."""
        return facts_path(facts_dir, site_id, host)

    def backup_store(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """``praxis_backup_store``, else encrypted copies under ``<output>/backups``."""
        return (self.variable(task_vars, "praxis_backup_store")
                or {"type": "local", "path": self.output_path(task_vars, "backups")})

    # -- site, time, thresholds, findings ---------------------------------------------------------------
    def site(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = task_vars.get("inventory_hostname", "?")
        site = args.get("site") or task_vars.get("praxis_site")
        if not isinstance(site, Mapping) or not site.get("id"):
            raise OperationError(f"{host} has no praxis_site (is the praxisops_sites inventory used?)")
        return dict(site)

    def play_sites(self, task_vars: Mapping[str, Any], group: str | None = None) -> dict[str, dict[str, Any]]:
        """The practices of the play's hosts (those in ``group`` only, when given), in
        the order of the play: site id -> the site (``praxis_site``, templated), once
        per practice. For the run-once actions that write one report per practice."""
        hostvars = task_vars.get("hostvars") or {}
        members = set((task_vars.get("groups") or {}).get(group) or []) if group else None
        found: dict[str, dict[str, Any]] = {}
        for host in task_vars.get("ansible_play_hosts_all") or []:
            if members is not None and host not in members:
                continue
            site = (hostvars.get(host) or {}).get("praxis_site")
            if site is None:
                continue
            site = self._templar.template(site)
            if not isinstance(site, Mapping) or not site.get("id") or not isinstance(site.get("devices"), Mapping):
                raise OperationError(f"{host}: praxis_site has no id or devices (is the praxisops_sites inventory "
                                     "used?)")
            found.setdefault(str(site["id"]), dict(site))
        return found

    def now(self, args: dict[str, Any]):
        """The run's time: the option ``now`` (``praxis_now``), else the current time."""
        import datetime as dt

        if args.get("now") in (None, ""):
            return dt.datetime.now(dt.timezone.utc)
        return parse_timestamp(args["now"], "now (praxis_now or the task's now)")

    def host_thresholds(self, args: dict[str, Any], task_vars: dict[str, Any], site: Mapping[str, Any],
                        device: Mapping[str, Any] | None) -> dict[str, Any]:
        """Project defaults < ``praxis_thresholds`` < site file < device entry < task option."""
        return thresholds(*site_layers(site, device, self.variable(task_vars, "praxis_thresholds"),
                                       args.get("thresholds")))

    def judge(self, site: Mapping[str, Any], host: str, role: str | None) -> Judge:
        return Judge(site, host, role)

    def observe(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Hand the result's findings to the incident engine (also in check
        mode, which the engine answers without recording)."""
        site = args.get("site") or task_vars.get("praxis_site") or {}
        return report(self.ledger_path, run=args.get("run") or "", site=str(site.get("id") or "?"),
                      host=str(task_vars.get("inventory_hostname", "?")), checks=result.get("checks") or [],
                      findings=list(result.get("findings") or []), now=self.now(args), check_mode=self.check_mode)


class DeviceAction(PraxisAction):
    """A network device operation (see the module docstring)."""
    _requires_connection = False
    OPERATION = "device operation"
    DEFAULT_TIMEOUT = 20.0

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        self.identity = None
        try:
            self.identity = self.identity_store(args, task_vars)
            target = self.target(args, task_vars)
            site = args.get("site") or task_vars.get("praxis_site") or {}
            result.update(self.operate(target, site, args, task_vars))
        finally:
            self.add_warnings(result, task_vars)
        if result.get("skipped"):
            # a skip reported by the operation is a result, not Ansible's "skipped" (no when: was false)
            result["skip_reason"] = result.get("msg")
        return result

    def findings_context(self, target, site: Mapping[str, Any], args: dict[str, Any],
                         task_vars: dict[str, Any]) -> dict[str, Any]:
        """``limits`` and ``judge`` of the device: its layered thresholds and
        the site's priorities."""
        device = args.get("device") or task_vars.get("praxis_device") or {}
        return {"limits": self.host_thresholds(args, task_vars, site, device),
                "judge": self.judge(site, target.host, target.role)}

    def identity_store(self, args: dict[str, Any], task_vars: dict[str, Any], accept: bool = False,
                       reason: str = "") -> IdentityStore:
        """The run's identity check (docs/device-identity.md): mode from
        ``praxis_device_identity``, records in the ledger. The recorded
        identities are read in check mode too (``ledger_path``); the store
        writes nothing then."""
        try:
            return IdentityStore(self.ledger_path or args.get("ledger"), args.get("identity") or "strict",
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

    GLOBALS = dict(PraxisAction.GLOBALS, timeout="praxis_device_timeout", retries="praxis_device_retries",
                   retry_delay="praxis_device_retry_delay", identity="praxis_device_identity")

    def argument_spec(self) -> dict[str, dict[str, Any]]:
        spec = dict(DEVICE_ARGUMENT_SPEC, **self.SPEC)
        spec["timeout"] = dict(spec["timeout"], default=self.DEFAULT_TIMEOUT)
        return spec

    @staticmethod
    def _key_login(device: Mapping[str, Any]) -> bool:
        """A device whose driver logs in as Ansible does (SSH user, key, port of the inventory)."""
        try:
            return vendor_record(str(device.get("vendor"))).key_login
        except ValueError as exc:
            raise OperationError(f"device.vendor of {device.get('name')}: {exc}") from None

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
        if self._key_login(device):
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


def output_dir(variable: Callable[[str], Any], playbook_dir: str | None) -> str:
    """The output folder: ``praxis_output_dir``, else ``output/`` beside playbooks/.
    ``variable(name)`` returns a templated variable or None (the actions' task
    variables, the audit callback's play variables)."""
    return str(variable("praxis_output_dir") or default_path({"playbook_dir": playbook_dir}))


def ledger_path(variable: Callable[[str], Any], playbook_dir: str | None) -> str:
    """The ledger: ``praxis_ledger_url`` (PostgreSQL), else ``praxis_ledger_path``, else
    ``ledger.sqlite`` in the output folder."""
    return str(location(variable(LEDGER_URL)) or location(variable("praxis_ledger_path"))
               or os.path.join(output_dir(variable, playbook_dir), "ledger.sqlite"))


def play_variables(play: Any, manager: Any) -> Callable[[str], Any]:
    """For a callback at the start of a play: ``variable(name)``, the play's variable
    with the group variables of its first host (where ``praxis_output_dir`` and
    ``praxis_ledger_path`` are usually set), templated as the actions see it, or None.
    A host pattern only the play can resolve gives the play's variables alone."""
    from ansible.template import Templar

    inventory = getattr(manager, "_inventory", None)
    try:
        hosts = inventory.get_hosts(play.hosts) if inventory is not None else []
    except Exception:  # noqa: BLE001 - a pattern only the play can resolve: the play's variables alone
        hosts = []
    variables = manager.get_vars(play=play, host=hosts[0] if hosts else None, include_hostvars=False)
    templar = Templar(loader=getattr(manager, "_loader", None), variables=variables)

    def variable(name: str) -> Any:
        value = variables.get(name)
        return None if value is None else templar.template(value)

    return variable
