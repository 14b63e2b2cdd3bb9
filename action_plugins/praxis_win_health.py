# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_win_health (WP-06; the module's options are
documented in library/praxis_win_health.py).

The Windows module gathers everything in one round trip; this action decides
and remembers:

1. reads the host's previous result ``<facts_dir>/<site>/<host>.health.json``
   and passes its ``collected_at`` as the module's ``since`` (unless ``since``
   is given), so every event and failed logon is looked at exactly once;
2. runs the module once (options ``since``, ``services``,
   ``ignore_services``, ``server``, ``max_events``; ``server`` defaults to
   whether the host is in the group ``servers``);
3. decides with ``praxis_workplace.health_findings`` (``thresholds`` per
   site, the site's calendar for the signature age in working days);
4. marks each finding ``new`` (not in the previous run) and ``escalated``
   (worse than in the previous run) with ``praxis_workplace.new_problems``;
5. writes the new result atomically to the same file and records a ledger
   row (kind ``health``, status ok/warning/critical);
6. returns ``status``, ``findings``, ``new_findings``, ``health`` (normalized:
   enum names, ISO times), ``path`` and ``ansible_facts.praxis_win_health``,
   and fails the host when the status is ``fail_on`` or worse (default
   ``critical``, as praxis_device_facts; ``none`` never fails).

Action-only options: ``thresholds`` (dict, overrides of
``praxis_workplace.DEFAULT_LIMITS``), ``ignore_events`` (list of
``Provider:Id`` patterns), ``facts_dir`` (without it nothing is remembered and
every finding is new), ``ledger`` (SQLite path), ``run`` (run id for the
ledger), ``now`` (ISO time), ``fail_on``, ``site`` (default ``praxis_site``).

In check mode the module still reads (it changes nothing), but nothing is
written on the controller: no result file, no ledger row.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any, Mapping

import ansible.module_utils as _ansible_module_utils
from ansible.plugins.action import ActionBase

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_ledger  # noqa: E402
from ansible.module_utils.praxis_backup import SAFE_PART  # noqa: E402
from ansible.module_utils.praxis_calendar import CalendarError, SiteCalendar  # noqa: E402
from ansible.module_utils.praxis_netops import write_json_atomic  # noqa: E402
from ansible.module_utils.praxis_workplace import (  # noqa: E402
    WorkplaceError, health_findings, new_problems, normalize_health, overall, parse_time, win_limits,
)

MODULE = "praxis_win_health"
FAIL_ON = ("none", "warning", "critical")
RANK = {"ok": 0, "warning": 1, "critical": 2}
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "since": {"type": "str"},
    "services": {"type": "list", "elements": "str", "default": []},
    "ignore_services": {"type": "list", "elements": "str", "default": []},
    "server": {"type": "bool"},
    "max_events": {"type": "int", "default": 50},
    # action only
    "thresholds": {"type": "dict", "default": {}},
    "ignore_events": {"type": "list", "elements": "str", "default": []},
    "facts_dir": {"type": "path"},
    "ledger": {"type": "path"},
    "run": {"type": "str", "default": ""},
    "now": {"type": "str"},
    "fail_on": {"type": "str", "default": "critical", "choices": list(FAIL_ON)},
    "site": {"type": "dict"},
}


def read_previous(path: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The previous result, or None and a warning when it is unreadable."""
    if not path or not os.path.exists(path):
        return None, None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        return None, f"previous health result {path} is unreadable ({exc}); every finding counts as new"
    if not isinstance(data, dict):
        return None, f"previous health result {path} is not an object; every finding counts as new"
    return data, None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = str(task_vars.get("inventory_hostname", "?"))
        try:
            result.update(self._check(args, task_vars, host))
        except (WorkplaceError, CalendarError, praxis_ledger.LedgerError, OSError) as exc:
            result.update(failed=True, changed=False, msg=f"{host}: {MODULE}: {exc}")
        return result

    def _check(self, args: dict[str, Any], task_vars: dict[str, Any], host: str) -> dict[str, Any]:
        site = args.get("site") or task_vars.get("praxis_site")
        if not isinstance(site, Mapping) or not site.get("id"):
            return {"failed": True, "changed": False,
                    "msg": f"{host} has no praxis_site (is the praxisops_sites inventory used?)"}
        site_id = str(site["id"])
        for label, value in (("site", site_id), ("host", host)):
            if not SAFE_PART.match(value):
                return {"failed": True, "changed": False, "msg": f"{label} name {value!r} is not usable as a file name"}
        zone = SiteCalendar(site).tz
        limits = win_limits(args["thresholds"])
        moment = parse_time(args["now"], "now") if args.get("now") else dt.datetime.now(dt.timezone.utc)
        check_mode = bool(self._task.check_mode)
        path = os.path.join(args["facts_dir"], site_id, f"{host}.health.json") if args.get("facts_dir") else None
        previous, problem = read_previous(path)
        warnings = [problem] if problem else []

        since = args.get("since") or ((previous or {}).get("collected_at"))
        server = args["server"] if args.get("server") is not None else "servers" in (task_vars.get("group_names") or [])
        module_args = {"services": args["services"], "ignore_services": args["ignore_services"], "server": server,
                       "max_events": args["max_events"]}
        if since:
            module_args["since"] = since
        outcome = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        warnings += list(outcome.get("warnings") or [])
        if outcome.get("failed"):
            message = f"{host}: {MODULE}: {outcome.get('msg') or 'the module failed without a message'}"
            if args.get("ledger") and not check_mode:
                praxis_ledger.record(args["ledger"], site=site_id, host=host, kind="health", status="failed",
                                     summary=message, data={}, run=praxis_ledger.run_id(args["run"]), at=moment)
            failed = {"failed": True, "changed": False, "msg": message}
            if warnings:
                failed["warnings"] = warnings
            return failed

        health = normalize_health(outcome.get("health"), zone)
        findings = health_findings(health, site, limits, moment, server=server, services=args["services"],
                                   ignore_services=args["ignore_services"], ignore_events=args["ignore_events"])
        fresh = new_problems(findings, (previous or {}).get("findings"))
        fresh_keys = {(f["check"], f["subject"]): f["escalated"] for f in fresh}
        for finding in findings:
            key = (finding["check"], finding["subject"])
            finding["new"] = key in fresh_keys and not fresh_keys[key]
            finding["escalated"] = bool(fresh_keys.get(key))
        status = overall(findings)
        new_findings = [f for f in findings if f["new"] or f["escalated"]]
        summary = "healthy" if not findings else "; ".join(f["message"] for f in findings)
        record = {"site": site_id, "host": host, "checked_at": moment.isoformat(timespec="seconds"),
                  "collected_at": health.get("collected_at"), "status": status, "findings": findings,
                  "health": health}
        if not check_mode:
            if path:
                write_json_atomic(path, record, durable=True)
            if args.get("ledger"):
                praxis_ledger.record(args["ledger"], site=site_id, host=host, kind="health", status=status,
                                     summary=summary[:2000],
                                     data={"findings": findings, "collected_at": health.get("collected_at"),
                                           "new": [[f["check"], f["subject"]] for f in new_findings]},
                                     run=praxis_ledger.run_id(args["run"]), at=moment)
        result: dict[str, Any] = {
            "changed": False, "status": status, "findings": findings, "new_findings": new_findings,
            "health": health, "path": path, "since": since,
            "ansible_facts": {"praxis_win_health": {"status": status, "collected_at": health.get("collected_at"),
                                                    "checked_at": record["checked_at"], "findings": findings,
                                                    "health": health}},
            "msg": f"{host}: {status}: {summary}" + (f" ({len(new_findings)} new)" if new_findings else ""),
        }
        if warnings:
            result["warnings"] = warnings
        if args["fail_on"] != "none" and RANK[status] >= RANK[args["fail_on"]]:
            result["failed"] = True
        return result
