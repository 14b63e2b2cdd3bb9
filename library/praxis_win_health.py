#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

# Documentation of the PowerShell module praxis_win_health.ps1 beside this file; the module
# itself is PowerShell and runs on the Windows host.

DOCUMENTATION = r"""
module: praxis_win_health
short_description: Daily health of a Windows workplace or server in one round trip (WP-06)
description:
  - Gathers, in one round trip, what the daily health check needs - the automatic (and named)
    services, the local volumes, the Microsoft Defender status, critical and error events of the
    System and Application logs, the physical disks with their reliability counters and, on
    servers, failed logons and load.
  - Returns the properties of the documented Windows objects under their own names
    (C(Win32_Service), C(Win32_LogicalDisk), C(Get-MpComputerStatus), C(Get-WinEvent),
    C(Get-PhysicalDisk), C(Get-StorageReliabilityCounter)); enums as their names, times as ISO 8601
    strings with offset, sizes in bytes. It never parses localized text; decisions use numbers and
    fixed names (C(Level), not C(LevelDisplayName)).
  - A section whose cmdlet is missing or fails is V(null) and adds a warning; the module itself does
    not fail.
  - The evaluation happens on the controller. The action plugin of the same name
    (C(action_plugins/praxis_win_health.py)) runs this module once, evaluates RV(health) with
    C(health_findings) of C(module_utils/praxis_workplace.py) as findings of one shape
    (docs/findings.md), with the host's layered thresholds, the site's priorities and calendar,
    records a ledger row, writes C(<facts_dir>/<site>/<host>.json), hands the findings to the incident
    engine (RV(incidents), what is new, worse or resolved), and passes the previous run's
    C(collected_at) as O(since) of the next. The options O(thresholds), O(facts_dir), O(ledger),
    O(run) and O(now) belong to the action plugin and are not sent to the host.
version_added: "1.0.0"
options:
  since:
    description:
      - Start of the window for events and failed logons, ISO 8601 (a time without offset is UTC).
      - Default 24 hours before the run; the action plugin passes the previous run's C(collected_at).
    type: str
  services:
    description: Names of services that should run in addition to all services with start mode C(Auto).
    type: list
    elements: str
    default: []
  ignore_services:
    description: Names of services that are never reported (for example an automatic service that stops by design).
    type: list
    elements: str
    default: []
  server:
    description:
      - Whether to gather what only servers report, RV(health.failed_logons) and RV(health.load).
      - Left out or null, whether the host is in the group C(servers).
    type: bool
  max_events:
    description:
      - Most events returned per log (System, Application), newest first.
      - RV(health.events_truncated) counts what the limit left out.
    type: int
    default: 50
  thresholds:
    description:
      - Action plugin. The most specific layer of the health thresholds, for ad-hoc runs and tests;
        thresholds per practice or computer belong in the site file, per environment or group in
        C(praxis_thresholds) (docs/findings.md lists the keys - volume fill, signature age, disk wear
        and temperature, failed logons, load).
    type: dict
    default: {}
  facts_dir:
    description:
      - Action plugin. Folder of the facts files; C(<facts_dir>/<site>/<host>.json) holds the result and
        findings of this run, and its C(collected_at) is the next run's O(since).
      - Left out or null, C(<praxis_output_dir>/facts).
    type: path
  ledger:
    description:
      - Action plugin. The ledger the check is recorded in, the path of an SQLite file or a C(postgresql://) URL.
      - Left out or null, C(praxis_ledger_url), else C(praxis_ledger_path).
    type: str
  run:
    description:
      - Action plugin. An identifier of the run (for example the AWX job id), stored with the ledger record.
      - Empty takes the id the praxisops callbacks generated when the playbook started, the same for every host.
    type: str
    default: ""
  now:
    description:
      - Action plugin. The instant to evaluate as, ISO 8601 with offset (dry runs and tests), for
        example for the signature age in working days. Default the current time.
    type: str
  ignore_events:
    description:
      - Action plugin. Events never reported, as C(Provider:Id) patterns (for example
        C(Microsoft-Windows-DistributedCOM:10016)).
    type: list
    elements: str
    default: []
  fail_on:
    description:
      - Action plugin. Fail the host when its health is this bad or worse; C(none) never fails.
    type: str
    choices: [none, warning, critical]
    default: critical
  site:
    description: Action plugin. The practice (calendar for working days, thresholds), default
      C(praxis_site) of the host.
    type: dict
attributes:
  check_mode:
    support: full
    description: Read only on the host; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing on the host.
  platform:
    support: full
    platforms: windows
    description: Windows 10 and 11 (Pro, Enterprise, Education) and Windows Server, with Windows PowerShell 5.1.
notes:
  - Connect with an administrator account; the Security log (failed logons) and the storage
    reliability counters need elevation.
  - Load figures come from the formatted performance counters, read twice one second apart; the
    temperature only when the firmware exposes ACPI thermal zones (often not on servers and virtual
    machines).
seealso:
  - module: praxis_win_facts
  - module: praxis_win_cleanup
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Check the health of the workplace
  praxis_win_health:
    ignore_services: [sppsvc, gupdate, edgeupdate]
    facts_dir: "{{ playbook_dir }}/../output/facts"
    ledger: "{{ playbook_dir }}/../output/ledger.sqlite"
  register: health

- name: Check the health of the practice server, with failed logons and load
  praxis_win_health:
    server: true
    services: [MSSQL$PRAXIS, W3SVC]
    max_events: 100
    thresholds: {volume_used_percent: 85}
    facts_dir: "{{ playbook_dir }}/../output/facts"
    ledger: "{{ playbook_dir }}/../output/ledger.sqlite"
    run: "{{ awx_job_id | default('') }}"
"""

RETURN = r"""
health:
  description: The health of the host, gathered in one round trip.
  returned: always
  type: dict
  contains:
    collected_at:
      description: Time on the host when the gathering started, ISO 8601 with offset.
      type: str
      sample: '2026-11-23T21:04:11.1234567+01:00'
    services:
      description:
        - C(Win32_Service) properties of every service with start mode C(Auto) and of every service named
          in O(services), without those in O(ignore_services).
        - A service named in O(services) that is not installed is listed with C(State) and the other properties
          V(null).
        - V(null) with a warning when the class could not be read.
      type: list
      elements: dict
      contains:
        Name:
          description: Service name.
          type: str
          sample: WinDefend
        DisplayName:
          description: Display name (for people).
          type: str
          sample: Microsoft Defender Antivirus Service
        State:
          description: C(Running), C(Stopped), C(Start Pending), ... (fixed values of the class, not localized).
          type: str
          sample: Running
        StartMode:
          description: C(Auto), C(Manual), C(Disabled), ...
          type: str
          sample: Auto
        DelayedAutoStart:
          description: Whether the service starts delayed after the other automatic services.
          type: bool
          sample: false
        ExitCode:
          description: Win32 exit code of the last stop; 0 after a clean stop, 1077 when it never started.
          type: int
          sample: 0
    volumes:
      description: C(Win32_LogicalDisk) properties of the local fixed volumes (C(DriveType) 3); V(null)
        with a warning when the class could not be read.
      type: list
      elements: dict
      contains:
        DeviceID:
          description: Drive.
          type: str
          sample: 'C:'
        VolumeName:
          description: Label.
          type: str
          sample: System
        FileSystem:
          description: File system.
          type: str
          sample: NTFS
        Size:
          description: Size in bytes.
          type: int
          sample: 511101161472
        FreeSpace:
          description: Free space in bytes.
          type: int
          sample: 312876552192
    defender:
      description: C(Get-MpComputerStatus) properties, as C(facts.defender) of M(praxis_win_facts); V(null)
        with a warning when the cmdlet is missing or fails.
      type: dict
      contains:
        AMServiceEnabled:
          description: The antimalware service runs.
          type: bool
          sample: true
        AntivirusEnabled:
          description: Antivirus protection is on.
          type: bool
          sample: true
        RealTimeProtectionEnabled:
          description: Real-time protection is on.
          type: bool
          sample: true
        IsTamperProtected:
          description: Tamper protection is on.
          type: bool
          sample: true
        AntivirusSignatureVersion:
          description: Signature version.
          type: str
          sample: 1.421.1024.0
        AntivirusSignatureLastUpdated:
          description: Time of the last signature update, ISO 8601 with offset.
          type: str
          sample: '2026-11-23T06:02:11.0000000+01:00'
        AntivirusSignatureAge:
          description: Days since the last signature update, as Defender counts them.
          type: int
          sample: 0
        AMProductVersion:
          description: Defender platform version.
          type: str
          sample: 4.18.24090.11
        AMRunningMode:
          description: C(Normal), C(Passive), C(EDR Block Mode) or C(SxS Passive Mode).
          type: str
          sample: Normal
    events:
      description:
        - Critical (C(Level) 1) and error (C(Level) 2) events of the System and Application logs since
          O(since), newest first, at most O(max_events) per log (C(Get-WinEvent -FilterHashtable)).
        - V(null) with a warning when a log could not be read.
      type: list
      elements: dict
      contains:
        LogName:
          description: C(System) or C(Application).
          type: str
          sample: System
        ProviderName:
          description: Event source.
          type: str
          sample: disk
        Id:
          description: Event id.
          type: int
          sample: 7
        Level:
          description: 1 critical, 2 error; decisions use this number.
          type: int
          sample: 2
        LevelDisplayName:
          description: Level as the system names it, in its language (for people); V(null) without provider
            metadata.
          type: str
          sample: Fehler
        TimeCreated:
          description: Time of the event, ISO 8601 with offset.
          type: str
          sample: '2026-11-23T14:12:03.2210000+01:00'
        Message:
          description: The first 300 characters of the message; V(null) when the provider's message file
            is missing.
          type: str
          sample: The device, \Device\Harddisk1\DR1, has a bad block.
    events_truncated:
      description: Number of events of the window that O(max_events) left out, over both logs.
      type: int
      sample: 0
    physical_disks:
      description:
        - C(Get-PhysicalDisk) properties of every physical disk, with its C(Get-StorageReliabilityCounter)
          values.
        - Values are the raw C(MSFT_PhysicalDisk) values, named as that class documents them.
        - V(null) with a warning when the Storage cmdlets are missing or fail.
      type: list
      elements: dict
      contains:
        DeviceId:
          description: Disk number, as a string.
          type: str
          sample: '0'
        FriendlyName:
          description: Model name of the disk.
          type: str
          sample: Samsung SSD 980 1TB
        MediaType:
          description: C(HDD), C(SSD), C(SCM) or C(Unspecified); an undocumented value stays a number.
          type: str
          sample: SSD
        HealthStatus:
          description: C(Healthy), C(Warning), C(Unhealthy) or C(Unknown).
          type: str
          sample: Healthy
        OperationalStatus:
          description: Operational states, one name per value (C(OK), C(Degraded), C(Predictive Failure),
            ...); a value in the reserved range stays a number.
          type: list
          elements: str
          sample:
            - OK
        Size:
          description: Size in bytes.
          type: int
          sample: 1000204886016
        reliability:
          description:
            - C(MSFT_StorageReliabilityCounter) values; a value the disk does not report is V(null).
            - V(null) when the disk reports no counters (often USB and virtual disks).
          type: dict
          contains:
            Temperature:
              description: Current temperature in degrees Celsius.
              type: int
              sample: 38
            TemperatureMax:
              description: Highest temperature the disk allows, in degrees Celsius.
              type: int
              sample: 82
            Wear:
              description: Percentage of the rated life used (solid-state disks).
              type: int
              sample: 3
            ReadErrorsUncorrected:
              description: Read errors the disk could not correct.
              type: int
              sample: 0
            WriteErrorsUncorrected:
              description: Write errors the disk could not correct.
              type: int
              sample: 0
            PowerOnHours:
              description: Hours the disk has been powered on.
              type: int
              sample: 5210
    failed_logons:
      description:
        - Failed logons (Security event 4625) since O(since), read with the same filter as C(Get-WinEvent
          -FilterHashtable @{LogName='Security'; Id=4625}).
        - V(null) with a warning when the Security log could not be read.
      returned: when O(server=true)
      type: dict
      contains:
        count:
          description: Number of failed logons.
          type: int
          sample: 212
        by_account:
          description: The ten most frequent pairs of C(TargetUserName) and C(IpAddress), most frequent
            first, each with its C(count).
          type: list
          elements: dict
          sample:
            - TargetUserName: administrator
              IpAddress: 192.0.2.45
              count: 180
    load:
      description:
        - Load of the server from the formatted performance counters (C(Win32_PerfFormattedData_PerfOS_Processor),
          C(Win32_PerfFormattedData_PerfDisk_PhysicalDisk) and C(Win32_PerfFormattedData_Tcpip_NetworkInterface)),
          memory from C(Win32_OperatingSystem), temperature from C(MSAcpi_ThermalZoneTemperature).
        - V(null) with a warning when the counters could not be read.
      returned: when O(server=true)
      type: dict
      contains:
        cpu_percent:
          description: Processor time of all processors, percent.
          type: float
          sample: 12.0
        memory_percent:
          description: Physical memory in use, percent.
          type: float
          sample: 61.4
        disk_busy_percent:
          description: Time the physical disks were busy (100 minus idle time), percent.
          type: float
          sample: 4.0
        network_bytes_per_sec:
          description: Bytes per second sent and received over all network interfaces.
          type: int
          sample: 183422
        temperature_celsius:
          description: Hottest ACPI thermal zone in degrees Celsius; V(null) when the firmware exposes
            none.
          type: float
          sample: 47.9
status:
  description: Action plugin. ok, warning or critical, the worst severity of RV(findings).
  returned: success
  type: str
path:
  description: Action plugin. The facts file, C(<facts_dir>/<site>/<host>.json) (not written in check mode).
  returned: success
  type: str
since:
  description: Action plugin. The start of the window for events and failed logons that was used.
  returned: success
  type: str
findings:
  description:
    - What is wrong, as findings of one shape for every check (docs/findings.md), worst first; empty when
      nothing is.
  returned: always
  type: list
  elements: dict
  contains:
    site: {description: "The practice id.", type: str, sample: huber}
    host: {description: "The inventory host (C(<site>-<device>)).", type: str, sample: huber-nas01}
    check:
      description: "The check, a dotted id C(<area>.<what>) (docs/findings.md lists them)."
      type: str
      sample: win.disk_space
    subject:
      description: What inside the host (disk, volume, service, event); empty for the host itself.
      type: str
    severity: {description: "C(warning) or C(critical).", type: str, sample: warning}
    priority: {description: "C(high), C(medium) or C(low) (OPS-06 rules and the site file's priorities).", type: str}
    message: {description: "One line for the technician.", type: str}
    value: {description: "The measured value (null when not a number).", type: raw}
    threshold: {description: "The limit it crossed (null when not a number).", type: raw}
    first_seen: {description: "Filled in by the incident engine; null from the check.", type: str}
    last_seen: {description: "Filled in by the incident engine; null from the check.", type: str}
checks:
  description:
    - The check ids that ran for the host in this task; a check that did not run is neither confirmed nor
      resolved by the incident engine.
  returned: always
  type: list
  elements: str
  sample: ["win.health_data", "win.service", "win.disk_space"]
incidents:
  description:
    - The incident engine's answer to the findings (what is new, worse or resolved since the last run).
    - Empty lists without a ledger; in check mode the engine records nothing.
  returned: when the task ran its checks
  type: dict
  contains:
    opened: {description: "Findings that are new.", type: list, elements: dict}
    updated: {description: "Findings seen again.", type: list, elements: dict}
    escalated: {description: "Findings that became worse (severity or priority).", type: list, elements: dict}
    resolved: {description: "Findings of checks that ran and found the problem gone.", type: list, elements: dict}
"""
