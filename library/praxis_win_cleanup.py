#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

# Documentation of the PowerShell module praxis_win_cleanup.ps1 beside this file; the module
# itself is PowerShell and runs on the Windows host.

DOCUMENTATION = r"""
module: praxis_win_cleanup
short_description: Temporary files, browser caches and event-log archive of a Windows workplace (WP-07)
description:
  - Removes old files from the Windows temp folder (C(%SystemRoot%\Temp)), from C(AppData\Local\Temp)
    of every profile C(Win32_UserProfile) lists, and from the Edge and Chrome caches
    (C(User Data\*\Cache), C(Code Cache), C(GPUCache)) and the Firefox caches (C(Profiles\*\cache2))
    of every profile.
  - Only files whose creation and last write time are both older than O(min_age_hours) are removed.
    A file that cannot be removed (in use, read-only, access denied) is skipped and counted, never
    an error. Junctions, symbolic links and other reparse points are neither followed nor removed,
    so nothing outside the cleaned folders is touched. Folders stay in place.
  - With O(event_logs), archives the entries of each log that are older than
    O(event_logs.older_than_days) to O(event_logs.archive_dir) (C(EventLogSession.ExportLogAndMessages)
    with an XPath age filter, messages included) and then limits the log's maximum size
    (C(EventLogConfiguration.MaximumSizeInBytes)). Each run exports only the entries that became old
    since the last archive, named C(<log>-until-<UTC time>.evtx).
  - With O(event_logs.clear), a log that holds entries older than O(event_logs.older_than_days) is
    instead written whole to C(<log>-cleared-<UTC time>.evtx) and cleared in one call
    (C(EventLogSession.ClearLog) with a backup path). No log, and never the Security log, is
    cleared without a backup path.
  - Check mode removes and writes nothing and reports what would be freed, archived, cleared and
    limited.
version_added: "1.0.0"
options:
  temp:
    description: Whether to clean C(%SystemRoot%\Temp) and C(AppData\Local\Temp) of every profile.
    type: bool
    default: true
  browser_caches:
    description: Whether to clean the Edge, Chrome and Firefox caches of every profile.
    type: bool
    default: true
  min_age_hours:
    description:
      - Files younger than this, by creation or last write time, are kept. At least 1.
      - Creation time counts because an installer that unpacks into a temp folder keeps the
        archive's old write times.
    type: int
    default: 24
  event_logs:
    description: Archive and limit (or clear) event logs. Nothing is done with the event logs when not given.
    type: dict
    suboptions:
      archive_dir:
        description:
          - Folder on the host for the archives, created when missing; use a local folder.
        type: path
        required: true
      older_than_days:
        description: Entries older than this many days are archived (and, with O(event_logs.clear), the log cleared).
        type: int
        default: 90
      max_size_kb:
        description:
          - Maximum size of each log in KiB, rounded up to 64 KiB; at least 1024.
          - A size below the current file size takes effect when the log is next cleared, so setting
            it removes no entry. Not changed when not given.
        type: int
      logs:
        description: The logs to archive and limit.
        type: list
        elements: str
        default: [Application, System, Security]
      clear:
        description:
          - Clear each log that holds old entries after writing it whole to the archive, instead of
            only exporting the old entries.
        type: bool
        default: false
attributes:
  check_mode:
    support: full
    description: Removes and writes nothing; the return values say what would be freed, archived, cleared and limited.
  diff_mode:
    support: none
    description: No diff; the return values list what was done.
  platform:
    support: full
    platforms: windows
    description: Windows 10 and 11 (Pro, Enterprise, Education) and Windows Server, with Windows PowerShell 5.1.
notes:
  - Connect with an administrator account; the Security log and other profiles' folders need it.
seealso:
  - module: praxis_win_facts
  - module: praxis_win_health
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Remove temporary files and browser caches older than a day
  praxis_win_cleanup:
    min_age_hours: 24

- name: Also archive event-log entries older than 90 days and limit the logs to 64 MiB
  praxis_win_cleanup:
    event_logs:
      archive_dir: D:\Archiv\Ereignisprotokolle
      older_than_days: 90
      max_size_kb: 65536
  register: cleanup

- name: Show what a cleanup would free, without removing anything
  praxis_win_cleanup:
    browser_caches: true
  check_mode: true
"""

RETURN = r"""
changed:
  description: Whether files were (or in check mode would be) removed, or an event log archived, cleared
    or limited.
  type: bool
  returned: always
  sample: true
freed_bytes:
  description: Bytes freed (in check mode, that would be freed) by the removed files.
  type: int
  returned: always
  sample: 734003200
areas:
  description: Bytes freed per area.
  type: dict
  returned: always
  contains:
    system_temp:
      description: C(%SystemRoot%\Temp).
      type: int
      sample: 52428800
    user_temp:
      description: C(AppData\Local\Temp) of all profiles.
      type: int
      sample: 419430400
    edge:
      description: Edge caches of all profiles.
      type: int
      sample: 157286400
    chrome:
      description: Chrome caches of all profiles.
      type: int
      sample: 94371840
    firefox:
      description: Firefox caches of all profiles.
      type: int
      sample: 10485760
files_removed:
  description: Files removed (in check mode, that would be removed).
  type: int
  returned: always
  sample: 4812
files_skipped:
  description: Old files that could not be removed (in use, read-only or access denied). Always 0 in check
    mode.
  type: int
  returned: always
  sample: 17
event_logs:
  description: One entry per log of O(event_logs.logs); empty when O(event_logs) is not given.
  type: list
  returned: always
  elements: dict
  contains:
    LogName:
      description: The log.
      type: str
      sample: Application
    archived_to:
      description: The archive file written (in check mode, that would be written); V(null) when there
        was nothing to archive.
      type: str
      sample: D:\Archiv\Ereignisprotokolle\Application-until-20260825T210411123Z.evtx
    archived_records:
      description: Entries in that archive (in check mode, that would be archived).
      type: int
      sample: 5234
    cleared:
      description: Whether the log was (or would be) cleared after writing the archive.
      type: bool
      sample: false
    maximum_size_kb:
      description: Maximum size of the log in KiB after the run (in check mode, as it would be).
      type: int
      sample: 65536
"""
