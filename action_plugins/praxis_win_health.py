# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_win_health (WP-06; the module's options are
documented in library/praxis_win_health.py).

The Windows module gathers everything in one round trip; this action decides
and remembers:

1. reads the host's previous result ``<facts_dir>/<site>/<host>.json`` (the
   one facts layout, ``praxis_backup.facts_path``) and passes its
   ``collected_at`` as the module's ``since`` (unless ``since`` is given), so
   every event and failed logon is looked at exactly once;
2. runs the module once (options ``since``, ``services``,
   ``ignore_services``, ``server``, ``max_events``; ``server`` defaults to
   whether the host is in the group ``servers``);
3. decides with ``praxis_workplace.health_findings`` (the host's layered
   thresholds and the site's priorities, docs/findings.md; the site's
   calendar for the signature age in working days);
4. records a ledger row (kind ``health``, status ok/warning/critical), then
   writes the new result atomically to the same file (a ledger that cannot
   be written leaves the previous file, so no event is skipped);
5. hands the findings to the incident engine (``praxis_findings.report``),
   which decides what is new, worse or resolved since the last run;
6. returns ``status``, ``findings``, ``checks``, ``incidents``, ``health``
   (normalized: enum names, ISO times), ``path`` and
   ``ansible_facts.praxis_win_health``, and fails the host when the status is
   ``fail_on`` or worse (default ``critical``, as praxis_device_facts;
   ``none`` never fails).

Action-only options (null or left out: the project-wide variable, see
``praxis_action.PraxisAction``): ``thresholds`` (dict, the last threshold
layer, for ad-hoc runs), ``ignore_events`` (list of ``Provider:Id``
patterns), ``facts_dir`` (default ``<praxis_output_dir>/facts``),
``ledger`` (default ``praxis_ledger_path``), ``run`` (default the run id),
``now`` (default ``praxis_now``), ``fail_on``, ``site`` (default ``praxis_site``).

In check mode the module still reads (it changes nothing), but nothing is
written on the controller: no result file, no ledger row, no incident.
"""

from __future__ import annotations

import json
import os
from typing import Any

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_ledger  # noqa: E402
from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402
from ansible.module_utils.praxis_backup import write_json_atomic  # noqa: E402
from ansible.module_utils.praxis_calendar import SiteCalendar  # noqa: E402
from ansible.module_utils.praxis_findings import SEVERITY_RANK, worst  # noqa: E402
from ansible.module_utils.praxis_workplace import health_findings, normalize_health, win_checks  # noqa: E402

MODULE = "praxis_win_health"
FAIL_ON = ("none", "warning", "critical")
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
    "ledger": {"type": "str"},
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
        return None, f"previous health result {path} is unreadable ({exc}); all events since the last day are read"
    if not isinstance(data, dict):
        return None, f"previous health result {path} is not an object; all events since the last day are read"
    return data, None


class ActionModule(PraxisAction):
    OPERATION = MODULE
    SPEC = ARGUMENT_SPEC

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        return dict(super().fallbacks(task_vars), facts_dir=self.output_path(task_vars, "facts"))

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = str(task_vars.get("inventory_hostname", "?"))
        site = self.site(args, task_vars)
        site_id = str(site["id"])
        zone = SiteCalendar(site).tz
        moment = self.now(args)
        device = task_vars.get("praxis_device") or {}
        limits = self.host_thresholds(args, task_vars, site, device)
        check_mode = self.check_mode
        path = self.facts_file(args["facts_dir"], site_id, host) if args.get("facts_dir") else None
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
            if args.get("ledger"):
                praxis_ledger.record(args["ledger"], site=site_id, host=host, kind="health", status="failed",
                                     summary=message, data={}, run=args["run"], at=moment)
            failed = {"failed": True, "changed": False, "msg": message}
            if warnings:
                failed["warnings"] = warnings
            return failed

        health = normalize_health(outcome.get("health"), zone)
        findings = health_findings(health, site, limits, moment, server=server, services=args["services"],
                                   ignore_services=args["ignore_services"], ignore_events=args["ignore_events"],
                                   host=host)
        status = worst(findings)
        summary = "healthy" if not findings else "; ".join(f["message"] for f in findings)
        record = {"site": site_id, "host": host, "checked_at": moment.isoformat(timespec="seconds"),
                  "collected_at": health.get("collected_at"), "status": status, "findings": findings,
                  "health": health}
        if args.get("ledger"):
            praxis_ledger.record(args["ledger"], site=site_id, host=host, kind="health", status=status,
                                 summary=summary[:2000],
                                 data={"findings": findings, "collected_at": health.get("collected_at")},
                                 run=args["run"], at=moment)
        if not check_mode and path:
            # after the ledger row: when the ledger cannot be written, the previous file stays and the
            # next run reads the same events again (its collected_at is the next run's since)
            write_json_atomic(path, record, durable=True)
        result: dict[str, Any] = {
            "changed": False, "status": status, "findings": findings, "checks": win_checks(server),
            "health": health, "path": path, "since": since,
            "ansible_facts": {"praxis_win_health": {"status": status, "collected_at": health.get("collected_at"),
                                                    "checked_at": record["checked_at"], "findings": findings,
                                                    "health": health}},
            "msg": f"{host}: {status}: {summary}",
        }
        if warnings:
            result["warnings"] = warnings
        if args["fail_on"] != "none" and SEVERITY_RANK[status] >= SEVERITY_RANK[args["fail_on"]]:
            result["failed"] = True
        return result
