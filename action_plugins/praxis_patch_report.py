# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The patch reports of a run (WP-08, WP-09, WP-10; options documented in
library/praxis_patch_report.py).

Runs once on the controller (``run_once: true``): for every practice with a
Windows host in the play (hosts of the group ``windows`` in
``ansible_play_hosts_all``, so ``-l site_x`` limits it) it writes
``<output>/patches/<site>/report.md`` and ``report.json`` from the patch
ledger (``praxis_patch_report.write_site_reports``): every Windows device of
the practice's site file, the practice's policy (``praxis_patch_policy``
merged with the site file's ``patching:``), in the site's language.

``changed`` only when a file's content changed: a report whose only change
is the time of the run is not written again. Check mode writes nothing and
returns the paths that would be written.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_patch as pp  # noqa: E402
from ansible.module_utils import praxis_patch_report as pr  # noqa: E402
from ansible.module_utils import praxis_site  # noqa: E402
from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "ledger": {"type": "path"},
    "now": {"type": "str"},
    "output": {"type": "path"},
    "policy": {"type": "dict"},
}


class ActionModule(PraxisAction):
    OPERATION = "praxis_patch_report"
    SPEC = ARGUMENT_SPEC
    _requires_connection = False
    GLOBALS = dict(PraxisAction.GLOBALS, output="praxis_output_dir", policy="praxis_patch_policy")

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        values = super().fallbacks(task_vars)
        if values.get("output") is None:
            values["output"] = self.output_dir(task_vars)
        return values

    def practices(self, task_vars: Mapping[str, Any], provider: Mapping[str, Any] | None) -> dict[str, Any]:
        """The practices of the play's Windows hosts, each with every Windows
        host of its site file."""
        found: dict[str, dict[str, Any]] = {}
        for site_id, site in self.play_sites(task_vars, "windows").items():
            hosts = {entry["host"]: entry["device"]["role"] for entry in praxis_site.site_hosts(dict(site))
                     if "windows" in entry["groups"]}
            pilot = praxis_site.host_name(site_id, site["pilot"]) if site.get("pilot") else None
            try:
                pol = pp.policy(provider, site)
            except pp.PatchError as exc:
                raise pp.PatchError(f"site {site_id} ({site.get('file') or 'site file'}): {exc}") from None
            pr.site_language(site)
            found[site_id] = {"site": dict(site), "policy": pol, "hosts": hosts,
                              "pilot_host": pilot if pilot in hosts else None}
        return found

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        now = self.now(args)
        sites = self.practices(task_vars, args.get("policy"))
        paths = pr.write_site_reports(self.ledger_path, args["output"], sites, now, check_mode=self.check_mode)
        verb = "would write" if self.check_mode else "wrote"
        return {"changed": bool(paths), "sites": sorted(sites), "paths": paths,
                "msg": f"{verb} {len(paths)} patch report file(s) for {len(sites)} practice(s)"}
