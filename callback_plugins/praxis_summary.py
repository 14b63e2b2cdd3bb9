# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: praxis_summary
type: aggregate
short_description: Run summary per practice (what failed where, and why)
description:
  - Collects the outcome of every host of a run, grouped by practice (the C(site_<id>) groups of the
    praxisops inventory), and at the end prints the hosts that failed or could not be reached with the
    message of the task that failed, then writes the summary as JSON and Markdown.
  - A device that fails does not stop the others; this summary is where the technician sees it.
  - Messages are taken from the task result; tasks with C(no_log) show only that they failed.
  - The summary names the run id the ledger records carry, C(awx_job_id), else C(praxis_run_id)
    (extra variables), else the id generated when the playbook started.
  - A section "Warnings" lists, per practice, what a task reported in C(praxis_warnings) even where the
    host did not fail, e.g. a device identity recorded on first use (with its fingerprint), TLS
    validation off without a pin, SSH host key checking switched off (see docs/device-identity.md).
  - A section "Not offered" lists, per practice, the operations a device's driver does not offer (skipped, never
    failed or ok), with the reason its driver declares, e.g. a configuration export of a Synology NAS
    (see docs/drivers.md).
  - When the run sent alert e-mails (action C(praxis_alerts), role C(alerts)), the summary has C(alerts) with the
    number sent and every message that stayed queued (practice, recipient, error); the next run sends those
    (see docs/alerts.md).
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled = praxis_summary))
options:
  output_dir:
    description:
      - Folder for C(<UTC time>-<playbook>.json) and C(.md).
      - Default C(runs) in the job's output folder, C(praxis_output_dir) (taken from the first play's variables
        with the group variables of its first host, as the actions resolve it), else C(output/runs) beside
        playbooks/. Under AWX the project folder is discarded after the job, so set C(praxis_output_dir).
    type: path
    env:
      - name: PRAXIS_SUMMARY_DIR
    ini:
      - section: praxis_summary
        key: output_dir
"""

import datetime as dt
import json
import os

import ansible.module_utils as _ansible_module_utils
from ansible.plugins.callback import CallbackBase

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import output_dir, play_variables  # noqa: E402
from ansible.module_utils.praxis_backup import write_file_atomic  # noqa: E402
from ansible.module_utils.praxis_ledger import run_id, start_run  # noqa: E402

RANK = {"ok": 0, "changed": 1, "skipped": 0, "failed": 3, "unreachable": 4}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "praxis_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.playbook = ""
        self.playbook_dir = os.getcwd()
        self.started = dt.datetime.now(dt.timezone.utc)
        self.hosts: dict[str, dict] = {}
        self.run = ""
        self.alerts: dict | None = None
        self.default_dir: str | None = None     # <praxis_output_dir>/runs, from the first play

    # -- collection ------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook) -> None:
        path = getattr(playbook, "_file_name", "") or ""
        self.playbook = os.path.splitext(os.path.basename(path))[0] or "playbook"
        self.playbook_dir = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
        start_run()
        self.run = run_id()

    def v2_playbook_on_play_start(self, play) -> None:
        manager = play.get_variable_manager() if hasattr(play, "get_variable_manager") else None
        extra = dict(getattr(manager, "extra_vars", None) or {})
        self.run = run_id(extra.get("awx_job_id"), extra.get("praxis_run_id"))
        if self.default_dir is None and manager is not None:
            self.default_dir = self._output_dir(play, manager)

    def _output_dir(self, play, manager) -> str:
        """``runs`` in the output folder the actions write to (praxis_output_dir of the
        first play, with the group variables of its first host), else beside playbooks/."""
        fallback = os.path.join(os.path.dirname(self.playbook_dir), "output", "runs")
        try:
            return os.path.join(output_dir(play_variables(play, manager), self.playbook_dir), "runs")
        except Exception as exc:  # noqa: BLE001 - the summary must not stop a run
            self._display.warning(f"praxis_summary: praxis_output_dir could not be resolved ({exc}); "
                                  f"the summary goes to {fallback}")
            return fallback

    def _entry(self, result) -> dict:
        host = result._host
        name = host.get_name()
        entry = self.hosts.get(name)
        if entry is None:
            sites = sorted(g.get_name()[5:] for g in host.get_groups() if g.get_name().startswith("site_"))
            entry = {"host": name, "site": sites[0] if sites else "-", "status": "ok", "changed": 0,
                     "task": None, "msg": None, "warnings": [], "not_offered": []}
            self.hosts[name] = entry
        return entry

    def _mark(self, result, status: str) -> None:
        entry = self._entry(result)
        for warning in result._result.get("praxis_warnings") or []:
            if warning not in entry["warnings"]:
                entry["warnings"].append(str(warning)[:500])
        if status == "changed":
            entry["changed"] += 1
        if RANK[status] > RANK[entry["status"]]:
            entry["status"] = status
        if status in ("failed", "unreachable") and entry["task"] is None:
            entry["task"] = result._task.get_name()
            data = result._result
            if data.get("_ansible_no_log") or result._task.no_log:
                entry["msg"] = "(output hidden by no_log)"
            else:
                entry["msg"] = str(data.get("msg") or data.get("reason") or data.get("stderr") or "")[:500]

    def _alerts(self, result) -> None:
        """What the alert e-mails of the run did (praxis_alerts runs once, for every practice)."""
        action = str(getattr(result._task, "action", "") or "")
        if action.rsplit(".", 1)[-1] != "praxis_alerts" or result._result.get("failed"):
            return
        data = result._result
        alerts = self.alerts or {"sent": 0, "queued": []}
        alerts["sent"] += len(data.get("sent") or [])
        for item in data.get("queued") or []:
            alerts["queued"].append({k: str(item.get(k) or "")[:500] for k in ("site", "to", "last_error")})
        self.alerts = alerts

    def v2_runner_on_ok(self, result) -> None:
        self._mark(result, "changed" if result._result.get("changed") else "ok")
        self._alerts(result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        if not ignore_errors:
            self._mark(result, "failed")

    def v2_runner_on_unreachable(self, result) -> None:
        self._mark(result, "unreachable")

    def v2_runner_on_skipped(self, result) -> None:
        entry = self._entry(result)
        offered = result._result.get("not_offered")
        if isinstance(offered, dict) and not (result._result.get("_ansible_no_log") or result._task.no_log):
            item = {"task": result._task.get_name(), "capability": str(offered.get("capability") or ""),
                    "reason": str(offered.get("reason") or "")[:500]}
            if item not in entry["not_offered"]:
                entry["not_offered"].append(item)

    # -- report ------------------------------------------------------------------------------------
    def summary(self) -> dict:
        sites: dict[str, dict] = {}
        for entry in sorted(self.hosts.values(), key=lambda e: (e["site"], e["host"])):
            site = sites.setdefault(entry["site"], {"hosts": 0, "failed": [], "warnings": [], "not_offered": []})
            site["hosts"] += 1
            site["not_offered"] += [dict(item, host=entry["host"]) for item in entry.get("not_offered", [])]
            site["warnings"] += [{"host": entry["host"], "warning": w} for w in entry["warnings"]]
            if entry["status"] in ("failed", "unreachable"):
                site["failed"].append({k: entry[k] for k in ("host", "status", "task", "msg")})
        counts = {s: sum(1 for e in self.hosts.values() if e["status"] == s)
                  for s in ("ok", "changed", "failed", "unreachable")}
        data = {"playbook": self.playbook, "run": self.run, "started": self.started.isoformat(timespec="seconds"),
                "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "hosts": len(self.hosts), "counts": counts, "sites": sites}
        if self.alerts is not None:
            data["alerts"] = self.alerts
        return data

    @staticmethod
    def markdown(data: dict) -> str:
        lines = [f"# Run summary: {data['playbook']}", "",
                 f"Run {data.get('run') or '-'}. Started {data['started']}, finished {data['finished']}. "
                 f"{data['hosts']} hosts: "
                 + ", ".join(f"{n} {s}" for s, n in data["counts"].items()), ""]
        failed = [(site, f) for site, info in data["sites"].items() for f in info["failed"]]
        if not failed:
            lines.append("No host failed.")
        else:
            lines += ["| Practice | Host | Status | Task | Message |", "|---|---|---|---|---|"]
            for site, f in failed:
                cells = [site, f["host"], f["status"], f["task"] or "", f["msg"] or ""]
                lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        warnings = [(site, w) for site, info in data["sites"].items() for w in info.get("warnings", [])]
        if warnings:
            lines += ["", "## Warnings", "", "| Practice | Host | Warning |", "|---|---|---|"]
            for site, w in warnings:
                cells = [site, w["host"], w["warning"]]
                lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        offered = [(site, n) for site, info in data["sites"].items() for n in info.get("not_offered", [])]
        if offered:
            lines += ["", "## Not offered", "", "Skipped because the device's driver does not offer it "
                      "(docs/drivers.md).", "", "| Practice | Host | Task | Reason |", "|---|---|---|---|"]
            for site, n in offered:
                cells = [site, n["host"], n["task"], n["reason"]]
                lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        alerts = data.get("alerts")
        if alerts is not None:
            lines += ["", "## Alert e-mails", "",
                      f"{alerts['sent']} sent, {len(alerts['queued'])} queued (sent by the next run)."]
            if alerts["queued"]:
                lines += ["", "| Practice | Recipient | Error |", "|---|---|---|"]
                for q in alerts["queued"]:
                    cells = [q["site"], q["to"], q["last_error"]]
                    lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        return "\n".join(lines) + "\n"

    def _write(self, path: str, text: str) -> None:
        write_file_atomic(path, text, durable=False)   # folders 0700, file 0600 whatever the umask

    def v2_playbook_on_stats(self, stats) -> None:
        if not self.hosts:
            return
        data = self.summary()
        failed = [(site, f) for site, info in data["sites"].items() for f in info["failed"]]
        self._display.banner("PRAXISOPS SUMMARY")
        self._display.display(f"run {data['run'] or '-'}: {len(data['sites'])} practice(s), {data['hosts']} host(s): "
                              + ", ".join(f"{n} {s}" for s, n in data["counts"].items()))
        for site, f in failed:
            self._display.display(f"  {site}: {f['host']} {f['status']} in '{f['task']}': {f['msg']}",
                                  color="red" if f["status"] == "failed" else "yellow")
        for site, info in data["sites"].items():
            for w in info["warnings"]:
                self._display.display(f"  {site}: {w['host']} warning: {w['warning']}", color="yellow")
        alerts = data.get("alerts")
        if alerts is not None:
            self._display.display(f"alert e-mails: {alerts['sent']} sent, {len(alerts['queued'])} queued",
                                  color="yellow" if alerts["queued"] else None)
            for q in alerts["queued"]:
                self._display.display(f"  {q['site']}: to {q['to']} queued: {q['last_error']}", color="yellow")
        out = (self.get_option("output_dir") or self.default_dir
               or os.path.join(os.path.dirname(self.playbook_dir), "output", "runs"))
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        base = os.path.join(out, f"{stamp}-{self.playbook}")
        try:
            self._write(base + ".json", json.dumps(data, indent=1, sort_keys=True))
            self._write(base + ".md", self.markdown(data))
            self._display.display(f"Summary written to {base}.md")
        except OSError as exc:
            self._display.warning(f"praxis_summary: could not write {base}: {exc}")
