# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_win_patch (WP-08, WP-09, WP-10; the options are
documented in library/praxis_win_patch.py, the decisions in
module_utils/praxis_patch.py, the whole in docs/patching.md).

The Windows side stays with maintained modules (``ansible.windows.win_updates``,
``win_reboot``, ``chocolatey.chocolatey.win_chocolatey_facts`` and
``win_chocolatey``), run from here for the host-task (``PraxisAction.run_plugin``);
everything that decides is ``praxis_patch``.

``mode: check`` (nightly, every host):

1. win_updates ``state: searched`` with every category (the policy decides the
   scope on the controller); win_chocolatey_facts ``filter: [packages,
   outdated]`` when the policy's ``third_party.enabled`` (a host without
   Chocolatey: a warning, no programs, not a failure);
2. ``PatchLedger.record_check``: the updates in scope, the ones no longer
   offered (installed), the day's check, the releases of the practice's ring;
3. findings: a failed search is ``patch.check`` (warning), then the ledger's
   ``patch.failed``, ``patch.overdue`` and ``patch.reboot_pending`` of the
   host; the incident engine decides what is new, worse or resolved; one
   ledger event (kind ``patches``, status ok/warning/critical/failed).

``mode: install`` (the install job, every night for every practice):

1. ``praxis_patch.install_window`` first: outside the host's maintenance time
   nothing is touched, the refusal is logged (``patch_log``) and the result is
   ``skipped`` naming the next window (each host acts only in its own window,
   so a refusal is not a failure); forced with ``force_reason``: a warning
   naming the reason;
2. ``PatchLedger.plan``: the pilot gets everything in scope, the others what
   is released and not held;
3. a reboot still pending from an earlier window: win_reboot first, when the
   window leaves time for it;
4. win_updates ``state: installed`` with the plan's ``accept_list`` (anchored patterns that select
   exactly the planned updates: win_updates matches regexes against titles and KB ids),
   ``reboot`` when the window leaves ``reboot_minutes`` (else the updates that
   need a reboot stay ``pending_reboot`` and ``reboot_deferred_to`` names the
   next window); win_chocolatey per planned program (``state: upgrade``) and
   per program held for removal (``state: downgrade`` to the previous version);
5. a dropped connection (WinRM drops during updates and reboots are known) is
   retried up to the policy's ``install_retries`` times (win_updates skips
   what is installed), then recorded as failed, never as success;
6. ``PatchLedger.record_install``, findings, one ledger event.

In Ansible's check mode the ledger is read (a transaction rolled back), the
search runs (read-only), nothing is installed, rebooted or recorded;
``would_install`` lists what a real run would install.
"""

from __future__ import annotations

import os
from typing import Any

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.errors import AnsibleConnectionFailure  # noqa: E402

from ansible.module_utils import praxis_ledger  # noqa: E402
from ansible.module_utils import praxis_patch  # noqa: E402
from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402
from ansible.module_utils.praxis_calendar import SiteCalendar, refusal_message  # noqa: E402
from ansible.module_utils.praxis_findings import SEVERITY_RANK, Judge, site_priorities, worst  # noqa: E402

MODULE = "praxis_win_patch"
FAIL_ON = ("none", "warning", "critical")
MODES = ("check", "install")
REBOOT_TIMEOUT = 1200
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "mode": {"type": "str", "default": "check", "choices": list(MODES)},
    "policy": {"type": "dict"},
    "force_reason": {"type": "str"},
    "updates_module": {"type": "str", "default": "ansible.windows.win_updates"},
    "packages_facts_module": {"type": "str", "default": "chocolatey.chocolatey.win_chocolatey_facts"},
    "packages_module": {"type": "str", "default": "chocolatey.chocolatey.win_chocolatey"},
    "reboot_module": {"type": "str", "default": "ansible.windows.win_reboot"},
    "ledger": {"type": "path"},
    "run": {"type": "str", "default": ""},
    "now": {"type": "str"},
    "site": {"type": "dict"},
    "fail_on": {"type": "str", "default": "critical", "choices": list(FAIL_ON)},
}
# option -> the variable a task that leaves it out (or sets it to null) takes it from
VARIABLES = {
    "policy": "praxis_patch_policy",
    "force_reason": "praxis_force_reason",
    "updates_module": "praxis_patch_updates_module",
    "packages_facts_module": "praxis_patch_packages_facts_module",
    "packages_module": "praxis_patch_packages_module",
    "reboot_module": "praxis_patch_reboot_module",
}
# what an install run decides: the daily search (patch.check) is the nightly check's
INSTALL_CHECKS = [check for check in praxis_patch.CHECKS if check != "patch.check"]


class Dropped(Exception):
    """The connection to the host dropped on every attempt; ``result`` holds
    what the attempts reported before they lost it (win_updates returns the
    updates it saw with ``unreachable``), or None."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


def merge_updates(seen: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """win_updates results of several attempts as one: an update installed by
    an earlier attempt stays installed (the next attempt skips it)."""
    if not isinstance(result.get("updates"), dict):
        return seen or {}
    merged = dict(seen or {})
    updates = dict(merged.get("updates") or {})
    for ident, entry in result["updates"].items():
        if not (isinstance(updates.get(ident), dict) and updates[ident].get("installed")):
            updates[ident] = entry
    merged.update({key: value for key, value in result.items() if key != "updates"})
    merged["updates"] = updates
    merged["reboot_required"] = bool((seen or {}).get("reboot_required")) or bool(result.get("reboot_required"))
    return merged


def failure_text(result: dict[str, Any]) -> str:
    return str(result.get("msg") or result.get("message") or "failed without a message").strip()[:500]


class ActionModule(PraxisAction):
    OPERATION = MODULE
    SPEC = ARGUMENT_SPEC
    GLOBALS = dict(PraxisAction.GLOBALS, **VARIABLES)

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = str(task_vars.get("inventory_hostname", "?"))
        site = self.site(args, task_vars)
        pol = praxis_patch.policy(args.get("policy"), site)
        context = {
            "host": host, "site": site, "site_id": str(site["id"]), "policy": pol, "now": self.now(args),
            "zone": SiteCalendar(site).tz,
            "role": "server" if "servers" in (task_vars.get("group_names") or []) else "workplace",
            "pilot_host": f"{site['id']}-{site['pilot']}" if site.get("pilot") else None,
            "device": task_vars.get("praxis_device") or {},
        }
        # a dry run reads the ledger in a transaction that is rolled back; without a ledger file yet, an empty one
        path = self.ledger_path if self.check_mode else args.get("ledger")
        if self.check_mode and path and not praxis_ledger.exists(path):
            path = None
        ledger = praxis_patch.PatchLedger(path, check_mode=self.check_mode)
        if args["mode"] == "install":
            result = self.install(ledger, context, args, task_vars)
        else:
            result = self.check(ledger, context, args, task_vars)
        result["pilot"] = host == context["pilot_host"]
        result["role"] = context["role"]
        return result

    # -- helpers ----------------------------------------------------------------------------------
    def findings(self, ledger: praxis_patch.PatchLedger, context: dict[str, Any]) -> list[dict[str, Any]]:
        return ledger.findings(site=context["site_id"], host=context["host"], role=context["role"],
                               now=context["now"], pol=context["policy"],
                               priorities=site_priorities(context["site"]), zone=context["zone"])

    def event(self, args: dict[str, Any], context: dict[str, Any], status: str, summary: str,
              data: dict[str, Any]) -> None:
        """One ledger event of kind patches (none in check mode: the option is dropped then)."""
        if args.get("ledger"):
            praxis_ledger.record(args["ledger"], site=context["site_id"], host=context["host"], kind="patches",
                                 status=status, summary=summary[:2000], data=data, run=args["run"],
                                 at=context["now"])

    def fail_on(self, result: dict[str, Any], args: dict[str, Any]) -> None:
        status = result.get("status") or "ok"
        if args["fail_on"] != "none" and status in SEVERITY_RANK \
                and SEVERITY_RANK[status] >= SEVERITY_RANK[args["fail_on"]]:
            result["failed"] = True

    def attempt(self, name: str, module_args: dict[str, Any], task_vars: dict[str, Any],
                retries: int) -> tuple[dict[str, Any], int]:
        """Run a module of the install, again after a dropped connection (at
        most ``retries`` more times). Returns the result and the retries used;
        raises ``Dropped`` when every attempt lost the connection."""
        lost = ""
        seen: dict[str, Any] = {}
        for number in range(retries + 1):
            try:
                result = self.run_plugin(name, module_args, task_vars)
            except AnsibleConnectionFailure as exc:
                lost = str(exc) or type(exc).__name__
                continue
            seen = merge_updates(seen, result)
            if result.get("unreachable"):
                lost = failure_text(result)
                continue
            if seen and number:
                # what earlier attempts installed before they lost the connection counts too
                result = dict(result, updates=seen["updates"], reboot_required=seen["reboot_required"])
            return result, number
        partial = dict(seen) if seen else None
        if partial:
            partial.pop("unreachable", None)
            partial.pop("failed", None)
        raise Dropped(f"connection to the host lost during {name} ({retries + 1} attempts, "
                      f"{retries} retries): {lost}"[:500], partial)

    # -- the nightly check --------------------------------------------------------------------------
    def check(self, ledger: praxis_patch.PatchLedger, context: dict[str, Any], args: dict[str, Any],
              task_vars: dict[str, Any]) -> dict[str, Any]:
        host, pol, now, zone = context["host"], context["policy"], context["now"], context["zone"]
        warnings: list[str] = []
        problem = None
        updates: list[dict[str, Any]] = []
        search: dict[str, Any] = {}
        try:
            search = self.run_plugin(args["updates_module"], {"state": "searched", "category_names": ["*"]},
                                     task_vars)
        except AnsibleConnectionFailure as exc:
            problem = f"the search for updates lost the connection: {exc}"
        else:
            if search.get("unreachable") or search.get("failed"):
                problem = f"the search for updates failed: {failure_text(search)}"
            else:
                try:
                    updates = praxis_patch.normalize_updates(search, now=now, zone=zone)
                except praxis_patch.PatchError as exc:
                    problem = f"the search result could not be read: {exc}"
        packages = None
        if problem is None and pol["third_party"]["enabled"]:
            packages, warning = self.packages(args, task_vars, pol, now, zone)
            if warning:
                warnings.append(warning)
        judge = Judge(context["site"], host, context["role"])
        found: list[dict[str, Any]] = []
        summary: dict[str, Any] = {"counts": {}, "released": [], "offered": []}
        if problem is None:
            summary = ledger.record_check(site=context["site_id"], host=host, role=context["role"],
                                          pilot_host=context["pilot_host"], updates=updates, packages=packages,
                                          now=now, pol=pol, reboot_required=bool(search.get("reboot_required")),
                                          zone=zone)
        else:
            found.append(judge("patch.check", "", "warning", f"{host}: {problem}"))
        found += self.findings(ledger, context)
        status = worst(found)
        counts = summary["counts"]
        text = (problem if problem else
                ", ".join(f"{count} {state}" for state, count in counts.items()) or "no update in scope")
        self.event(args, context, "failed" if problem else status, f"{host}: {text}",
                   {"counts": counts, "offered": summary["offered"], "released": summary["released"],
                    "findings": [f["check"] + ":" + f["subject"] for f in found]})
        result: dict[str, Any] = {
            "changed": False, "mode": "check", "status": status, "search_ok": problem is None,
            "counts": counts, "offered": summary["offered"], "released": summary["released"],
            "reboot_required": bool(search.get("reboot_required")),
            "packages": None if packages is None else packages["installed"],
            "findings": found, "checks": list(praxis_patch.CHECKS),
            "msg": f"{host}: {status}: {text}",
        }
        if warnings:
            result["warnings"] = warnings
        self.fail_on(result, args)
        return result

    def packages(self, args: dict[str, Any], task_vars: dict[str, Any], pol: dict[str, Any], now: Any,
                 zone: Any) -> tuple[dict[str, Any] | None, str | None]:
        """The programs of the host (installed and outdated), or None and a
        warning when Chocolatey does not answer (not installed on this host)."""
        try:
            facts = self.run_plugin(args["packages_facts_module"], {"filter": ["packages", "outdated"]}, task_vars)
        except AnsibleConnectionFailure as exc:
            return None, f"programs not checked: the connection dropped while reading Chocolatey ({exc})"
        if facts.get("failed") or facts.get("unreachable"):
            return None, (f"programs not checked: {args['packages_facts_module']}: {failure_text(facts)} "
                          "(is Chocolatey installed on this host?)")
        try:
            return praxis_patch.normalize_packages(facts, pol, now=now, zone=zone), None
        except praxis_patch.PatchError as exc:
            return None, f"programs not checked: {exc}"

    # -- the install job --------------------------------------------------------------------------
    def install(self, ledger: praxis_patch.PatchLedger, context: dict[str, Any], args: dict[str, Any],
                task_vars: dict[str, Any]) -> dict[str, Any]:
        host, pol, now, zone = context["host"], context["policy"], context["now"], context["zone"]
        window = praxis_patch.install_window(context["site"], context["device"], now, pol, args.get("force_reason"))
        shown = ("now", "maintenance_time", "allowed", "reason", "holiday", "next_window", "window_end", "reboot",
                 "reboot_deferred_to", "forced", "force_reason")
        window_info = {key: window.get(key) for key in shown}
        if not window["allowed"]:
            message = refusal_message(window, f"installing updates on {host}")
            ledger.record_refusal(site=context["site_id"], host=host, detail=message, now=now)
            self.event(args, context, "refused", message, {"window": window_info})
            return {"changed": False, "skipped": True, "refused": True, "mode": "install", "window": window_info,
                    "msg": message, "skip_reason": message}
        warnings: list[str] = []
        if window["forced"]:
            warnings.append(f"{host}: updates installed outside maintenance time ({window['reason']}); "
                            f"reason given: {window['force_reason']}")
        planned = ledger.plan(site=context["site_id"], host=host, role=context["role"],
                              pilot_host=context["pilot_host"], now=now, pol=pol, zone=zone)
        packages_wanted = list(planned["packages"])
        would_install = list(planned["updates"]) + [p["key"] for p in packages_wanted]
        base: dict[str, Any] = {
            "mode": "install", "window": window_info, "waiting": planned["waiting"], "held": planned["held"],
            "self_updating": planned["self_updating"], "remove_manual": planned["remove_manual"],
        }
        if self.check_mode:
            result = dict(base, changed=bool(would_install or planned["remove"]), would_install=would_install,
                          would_remove=[r["key"] for r in planned["remove"]],
                          would_reboot=bool(planned["reboot_pending"]) and bool(window["reboot"]),
                          installed=[], pending_reboot=[], failed_updates=[],
                          msg=f"{host}: would install {', '.join(would_install) or 'nothing'}")
            if warnings:
                result["warnings"] = result["praxis_warnings"] = warnings
            return result

        retries = pol["install_retries"]
        lost: str | None = None
        trouble: list[str] = []
        rebooted = False
        if planned["reboot_pending"] and window["reboot"]:
            try:
                reboot_args = {"reboot_timeout": REBOOT_TIMEOUT, "msg": "Neustart für Updates (praxisops)"}
                outcome, _used = self.attempt(args["reboot_module"], reboot_args, task_vars, retries)
            except Dropped as exc:
                outcome = {"failed": True, "msg": str(exc)}
            if outcome.get("failed"):
                trouble.append(f"the reboot to finish {', '.join(planned['reboot_pending'])} failed: "
                               f"{failure_text(outcome)}")
            else:
                rebooted = True
        update_result = None
        used_retries = 0
        lost_code = "connection"
        if planned["updates"] and not trouble:
            module_args = {"state": "installed", "category_names": ["*"], "accept_list": list(planned["accept_list"]),
                           "reboot": bool(window["reboot"]), "reboot_timeout": REBOOT_TIMEOUT}
            try:
                update_result, used_retries = self.attempt(args["updates_module"], module_args, task_vars, retries)
            except Dropped as exc:
                lost = str(exc)
                update_result = exc.result     # what was seen installed before the connection was lost
            else:
                if update_result.get("failed") and "updates" not in update_result:
                    # no per-update outcome: every planned update counts as failed (never as success)
                    lost = f"{args['updates_module']} failed: {failure_text(update_result)}"
                    lost_code = "win_updates"
                    update_result = None
        packages_done: list[dict[str, Any]] = []
        removed: list[str] = []
        if (packages_wanted or planned["remove"]) and not trouble:
            packages_done, removed = self.programs(args, task_vars, context, planned, retries, ledger)
        if trouble:
            # nothing was installed: the host did not come back from the reboot
            outcome = {"installed": [], "pending_reboot": [], "failed": []}
        else:
            outcome = ledger.record_install(site=context["site_id"], host=host, pilot_host=context["pilot_host"],
                                            planned=planned, result=update_result, packages=packages_done,
                                            now=now, connection_lost=lost, lost_code=lost_code, zone=zone)
        found = self.findings(ledger, context)
        status = worst(found)
        failed = bool(outcome["failed"] or trouble)
        changed = bool(outcome["installed"] or outcome["pending_reboot"] or removed or rebooted)
        parts = []
        for label, keys in (("installed", outcome["installed"]), ("pending reboot", outcome["pending_reboot"]),
                            ("failed", outcome["failed"]), ("removed", removed)):
            if keys:
                parts.append(f"{label}: {', '.join(keys)}")
        if planned["waiting"]:
            parts.append(f"{len(planned['waiting'])} waiting for the release")
        if planned["held"]:
            parts.append(f"held: {', '.join(h['key'] for h in planned['held'])}")
        if planned["remove_manual"]:
            parts.append(f"to be removed by hand (win_updates cannot uninstall): {', '.join(planned['remove_manual'])}")
        parts += trouble
        if lost:
            parts.append(lost)
        text = "; ".join(parts) or "nothing to install"
        result: dict[str, Any] = dict(
            base, changed=changed, installed=outcome["installed"], pending_reboot=outcome["pending_reboot"],
            failed_updates=outcome["failed"], removed=removed, rebooted=rebooted, retries=used_retries,
            status=status, findings=found, checks=list(INSTALL_CHECKS), msg=f"{host}: {text}")
        if outcome["pending_reboot"] and not window["reboot"]:
            result["reboot_deferred_to"] = window.get("reboot_deferred_to")
        if lost:
            result["connection_lost"] = lost
        self.event(args, context, "failed" if failed else ("changed" if changed else "ok"), f"{host}: {text}",
                   {"installed": outcome["installed"], "pending_reboot": outcome["pending_reboot"],
                    "failed": outcome["failed"], "removed": removed, "waiting": [w["key"] for w in planned["waiting"]],
                    "held": [h["key"] for h in planned["held"]], "forced": window["forced"],
                    "force_reason": window["force_reason"]})
        if failed:
            result["failed"] = True
        self.fail_on(result, args)
        if warnings:
            result["warnings"] = warnings
            result["praxis_warnings"] = warnings     # listed per practice by the run summary
        return result

    def programs(self, args: dict[str, Any], task_vars: dict[str, Any], context: dict[str, Any],
                 planned: dict[str, Any], retries: int,
                 ledger: praxis_patch.PatchLedger) -> tuple[list[dict[str, Any]], list[str]]:
        """Upgrade the planned programs and take the held ones back; returns
        the installs for ``record_install`` and the keys taken back."""
        source = context["policy"]["third_party"]["source"]
        previous: dict[str, str] = {}
        if planned["packages"]:
            # the versions before the upgrade: the version a held one is taken back to
            try:
                facts, _used = self.attempt(args["packages_facts_module"], {"filter": ["packages"]}, task_vars,
                                            retries)
                if not facts.get("failed"):
                    previous = praxis_patch.normalize_packages(facts, context["policy"], now=context["now"],
                                                               zone=context["zone"])["installed"]
            except (Dropped, praxis_patch.PatchError):
                previous = {}

        def chocolatey(item: dict[str, Any], state: str, done_text: str) -> tuple[bool, str]:
            """One win_chocolatey call for a program at the item's version: (ok, message)."""
            module_args = {"name": item["name"], "version": item["version"], "state": state}
            if source:
                module_args["source"] = source
            try:
                answer, _used = self.attempt(args["packages_module"], module_args, task_vars, retries)
            except Dropped as exc:
                return False, str(exc)
            return (False, failure_text(answer)) if answer.get("failed") else (True, done_text)

        done = []
        for item in planned["packages"]:
            ok, msg = chocolatey(item, "upgrade", "upgraded")
            done.append({"key": item["key"], "name": item["name"], "version": item["version"], "ok": ok, "msg": msg,
                         "previous": previous.get(item["name"])})
        removed = []
        for item in planned["remove"]:
            ok, msg = chocolatey(item, "downgrade", f"taken back to {item['version']}")
            ledger.record_removed(site=context["site_id"], host=context["host"], key=item["key"], ok=ok, msg=msg,
                                  now=context["now"])
            if ok:
                removed.append(item["key"])
        return done, removed
