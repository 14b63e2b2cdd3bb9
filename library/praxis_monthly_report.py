#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_monthly_report
short_description: Write (and mail) the monthly report of every practice in the play
description:
  - Runs once per job on the controller (C(run_once=true)). For every practice of the play's
    hosts (C(ansible_play_hosts_all), so C(-l site_x) limits it) it gathers the month's data from
    the ledger and the output folder, renders the report and writes
    C(<output>/reports/<site>/<YYYY-MM>/bericht.pdf) and C(bericht.html) (English C(report.pdf),
    C(report.html)) atomically, mode 0600 in folders 0700.
  - The report has a traffic-light summary, then antivirus, updates with the SLA of the last
    12 months, incidents, device availability, backups, firmware, encryption, inventory, the
    work done and the evidence for the KBV guideline; each section with a one-sentence verdict
    and a table. A device without data is shown as C(keine Daten), never as fine.
  - German unless the site file says C(language=en).
  - A report whose only change is the time it was made is not written again, so a second run
    changes nothing; the same report gives the same PDF bytes.
  - With O(mail=true) the PDF is sent to the site's contacts with C(reports=true), through the
    alert e-mails' SMTP settings (C(praxis_smtp)); a report already mailed to an address is not
    mailed again (C(mailed.json) beside it).
  - All data and HTML are prepared before the first file is written, so a bad practice stops
    the run with nothing half-written.
  - See docs/report.md.
version_added: "1.0.0"
options:
  month:
    description: The month to report, C(YYYY-MM). Default C(praxis_report_month), else the month
      before O(now) in the practice's time zone.
    type: str
  now:
    description: The time of the run (ISO-8601), default C(praxis_now), else the clock.
    type: str
  ledger:
    description: The ledger, the path of an SQLite file or a C(postgresql://) URL. Default
      C(praxis_ledger_url), else C(praxis_ledger_path), else C(ledger.sqlite) in C(praxis_output_dir).
    type: str
  output:
    description: The output folder, default C(praxis_output_dir), else C(output/) beside playbooks/.
    type: path
  policy:
    description: The provider's patch policy (for the SLA), default C(praxis_patch_policy).
    type: dict
  provider:
    description: The provider, C({name}), printed in the page header and the mail. Default
      C(praxis_provider), else a neutral wording of the report's language.
    type: dict
  kbv:
    description:
      - The Anlage and number of each KBV requirement of the report as the current Richtlinie has them,
        entered once from the KBV document, a mapping of requirement key to C(anlage) and C(number) (see
        docs/report.md). Default C(praxis_report_kbv). Without an entry the report names the requirement by its
        Anlage and topic only.
      - Requirement keys are those of C(praxis_monthly.KBV_REQUIREMENTS); an unknown key, an Anlage outside 1-5
        or a number that is not one is refused naming it.
    type: dict
  mail:
    description: Send the PDF to the site's contacts with C(reports=true).
    type: bool
    default: false
  smtp:
    description: Mail transport, default C(praxis_smtp); the keys of the C(smtp) option of M(praxis_alerts).
      Required with O(mail=true).
    type: dict
  data_file:
    description:
      - For tests only. A JSON file with the month's data of one practice (or a list of them) in
        the shape of C(praxis_monthly.month_report); it is rendered instead of gathering the data.
        Not for production jobs.
    type: path
attributes:
  check_mode:
    support: full
    description: Renders the HTML to decide, writes and sends nothing; RV(paths) and
      RV(would_send) list what a real run would write and send.
  diff_mode:
    support: none
    description: No diff.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Write the monthly reports of the practices in this run and mail them
  praxis_monthly_report:
    mail: true
  run_once: true
"""

RETURN = r"""
sites:
  description: Site ids of the practices reported.
  returned: success
  type: list
  elements: str
reports:
  description: Per practice C(site), C(month), C(pdf), C(html) (paths) and C(changed).
  returned: success
  type: list
  elements: dict
paths:
  description: Files written (in check mode, the files a real run would write).
  returned: success
  type: list
  elements: str
sent:
  description: Mails sent, C(site), C(to), C(message_id).
  returned: with mail
  type: list
  elements: dict
would_send:
  description: In check mode, the mails a real run would send (C(site), C(to)).
  returned: with mail in check mode
  type: list
  elements: dict
msg:
  description: Summary sentence.
  returned: always
  type: str
"""
