#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_alerts
short_description: Send the alert e-mails of the practices' incidents
description:
  - Runs once per job on the controller (C(run_once=true)) after the checks. For every practice
    of the play's hosts (C(ansible_play_hosts_all), so C(-l site_x) limits it) it queues the
    reminders that are due (reaction time of the priority passed without acknowledgement) and
    sends the practice's queued notifications (opened, escalated, reminder, resolved) from the
    ledger, one message per recipient with all its events.
  - Recipients are the site's contacts for the priorities each wants, and O(oncall) for every
    high-priority event and every reminder. Practice mails are German unless the site or contact
    says C(language=en).
  - A notification is sent once (unique event key, claimed atomically per recipient). What
    could not be sent stays queued with its error and is sent by the next run.
  - See docs/alerts.md.
version_added: "1.0.0"
options:
  ledger:
    description:
      - The ledger, the path of an SQLite file or a C(postgresql://) URL. Default C(praxis_ledger_url), else
        C(praxis_ledger_path), else C(ledger.sqlite) in C(praxis_output_dir).
    type: str
  smtp:
    description:
      - Mail transport, default the variable C(praxis_smtp). Keys C(host), C(port) (587),
        C(starttls) (true), C(ssl) (implicit TLS, false), C(username), C(password) (from the vault),
        C(from), C(timeout) (30), C(validate_certs) (true), C(ca_file), C(retries) (2),
        C(retry_delay) (5 seconds).
      - Without it nothing is sent and everything stays queued (with a warning).
    type: dict
  oncall:
    description: The provider's on-call address, default C(praxis_alert_oncall).
    type: str
  oncall_language:
    description: Language of the on-call copy (a text catalog C(module_utils/praxis_texts_<code>.py)).
    type: str
    default: en
  sites:
    description: The sites to handle; default the C(praxis_site) of every host of the play.
    type: list
    elements: dict
  now:
    description: The current instant (ISO-8601), default C(praxis_now), else the clock.
    type: str
  run:
    description: Run id recorded with reminders; default C(awx_job_id), else C(praxis_run_id).
    type: str
attributes:
  check_mode:
    support: full
    description: Sends and records nothing; RV(would_send) lists the messages.
  diff_mode:
    support: none
    description: No diff.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Send the alert e-mails of this run
  praxis_alerts:
  run_once: true
"""

RETURN = r"""
sites:
  description: Site ids handled.
  returned: success
  type: list
  elements: str
reminders:
  description: Ids of the incidents whose reminder was queued.
  returned: success
  type: list
  elements: int
sent:
  description: Messages sent (site, to, subject, events, message_id).
  returned: success
  type: list
  elements: dict
queued:
  description: Messages left queued for the next run (site, to, subject, events, last_error).
  returned: success
  type: list
  elements: dict
would_send:
  description: In check mode, the messages a real run would send.
  returned: check mode
  type: list
  elements: dict
msg:
  description: Summary sentence.
  returned: always
  type: str
"""
