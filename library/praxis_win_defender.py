#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

# Documentation of the PowerShell module praxis_win_defender.ps1; no code.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_win_defender
short_description: Microsoft Defender Antivirus settings, ASR rules, allow/block lists and signature update (WP-05)
description:
  - Reads the Defender preferences with C(Get-MpPreference), writes only what differs with C(Set-MpPreference),
    C(Add-MpPreference) and C(Remove-MpPreference), and reads them back.
  - Real-time protection, cloud protection (MAPS), sample submission, protection against potentially unwanted
    applications (PUA) and network protection are always set to the option values.
  - "Lists are managed only when their option is given: attack surface reduction rules (O(asr_rules)), the
    allow list of exclusions (O(exclusion_paths), O(exclusion_processes), O(exclusion_extensions)) and the
    per-practice allow/block list by threat id (O(threat_actions)). With O(exclusive=true) entries that are not
    listed are removed; an empty list or dict then removes all entries of that kind."
  - ASR rules and threat actions are written as one complete list, because C(Set-MpPreference) replaces the
    whole list; exclusions are added and removed one by one.
  - After writing, a setting that Defender kept at its old value (tamper protection, a Group Policy or Intune
    setting wins over C(Set-MpPreference)) is named in a warning; C(changed) reflects what really changed.
  - Updates the signatures with C(Update-MpSignature); this counts as a change only when
    C(AntivirusSignatureVersion) moved. A failed update is a warning; the signature age check of
    M(praxis_win_health) decides whether it matters.
  - Reports the C(Get-MpComputerStatus) subset of M(praxis_win_facts), including C(IsTamperProtected), which is
    reported and never set (tamper protection is managed in the Defender portal).
  - Needs an account with administrator rights (Defender hides the exclusions from others).
version_added: "1.0.0"
options:
  realtime:
    description: Real-time protection (C(DisableRealtimeMonitoring) is the opposite).
    type: bool
    default: true
  cloud_protection:
    description:
      - Cloud-delivered protection, C(MAPSReporting) C(2) (advanced), C(1) (basic) or C(0) (off).
      - Quote C("off") in YAML.
    type: str
    choices: [advanced, basic, "off"]
    default: advanced
  submit_samples:
    description:
      - Automatic sample submission, C(SubmitSamplesConsent) C(1) (send safe samples), C(2) (never send) or
        C(3) (send all samples).
    type: str
    choices: [safe, never, all]
    default: safe
  pua:
    description: Blocking of potentially unwanted applications, C(PUAProtection) C(1), C(2) (audit mode) or C(0).
    type: str
    choices: [enabled, audit, disabled]
    default: enabled
  network_protection:
    description: Network protection against malicious web sites, C(EnableNetworkProtection) C(1), C(2) or C(0).
    type: str
    choices: [enabled, audit, disabled]
    default: enabled
  asr_rules:
    description:
      - Attack surface reduction rules, rule GUID to mode; C(block), C(audit), C(warn) or C(disabled) are written
        as C(AttackSurfaceReductionRules_Actions) C(1), C(2), C(6) or C(0).
      - A key that is not a GUID, or a mode not in that list, fails the task naming the key.
      - Not given means the rules are left as they are.
    type: dict
  exclusion_paths:
    description: Files and folders not scanned (C(ExclusionPath)). Not given means left as they are.
    type: list
    elements: str
  exclusion_processes:
    description: Processes whose file access is not scanned (C(ExclusionProcess)). Not given means left as they are.
    type: list
    elements: str
  exclusion_extensions:
    description: File name extensions not scanned (C(ExclusionExtension)). Not given means left as they are.
    type: list
    elements: str
  threat_actions:
    description:
      - The allow/block list by threat id, threat id to C(allow), C(block), C(quarantine) or C(remove), written as
        C(ThreatIDDefaultAction_Actions) C(6), C(10), C(2) or C(3).
      - A key that is not a positive number, or an action not in that list, fails the task naming the key.
      - Not given means the list is left as it is.
    type: dict
  exclusive:
    description: Remove the ASR rules, exclusions and threat actions of a given option that it does not list.
    type: bool
    default: true
  update_signatures:
    description: Run C(Update-MpSignature) (not in check mode).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description:
      - Reads and compares; writes nothing and does not update signatures. RV(preferences) is the predicted state.
  diff_mode:
    support: full
    description: Before and after of the managed preferences, under the C(Get-MpPreference) property names.
  platform:
    support: full
    platforms: windows
    description: Windows 10/11 with Microsoft Defender Antivirus active, Windows PowerShell 5.1, over WinRM.
seealso:
  - name: Set-MpPreference
    link: https://learn.microsoft.com/en-us/powershell/module/defender/set-mppreference
    description: The preferences, their values and numbers.
  - name: Get-MpPreference
    link: https://learn.microsoft.com/en-us/powershell/module/defender/get-mppreference
    description: The object whose properties RV(preferences) returns.
  - name: Update-MpSignature
    link: https://learn.microsoft.com/en-us/powershell/module/defender/update-mpsignature
    description: The signature update.
  - name: Attack surface reduction rules reference
    link: https://learn.microsoft.com/en-us/defender-endpoint/attack-surface-reduction-rules-reference
    description: The rule GUIDs and the modes 0, 1, 2 and 6.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Configure Microsoft Defender for the practice
  praxis_win_defender:
    cloud_protection: advanced
    submit_samples: safe
    pua: enabled
    network_protection: enabled
    asr_rules:
      # Block credential stealing from the Windows local security authority subsystem
      9e6c4e1f-7d60-472f-ba1a-a39ef669e4b2: block
      # Block all Office applications from creating child processes
      d4f940ab-401b-4efc-aadc-ad5f3c50688a: audit
    exclusion_paths:
      - 'C:\Praxis\Datenbank'
    threat_actions:
      # ThreatID as Get-MpThreat reports it, for a false positive of the practice software
      "2147519003": allow
  register: defender

- name: Check without changing anything or updating signatures
  praxis_win_defender:
    update_signatures: false
  check_mode: true
  diff: true
"""

RETURN = r"""
preferences:
  description:
    - The managed preferences after the change (in check mode, as they would be), under the C(Get-MpPreference)
      property names and with its numbers. Lists are sorted; ASR rule GUIDs are lower case.
  returned: success
  type: dict
  contains:
    DisableRealtimeMonitoring:
      description: C(false) while real-time protection is on.
      type: bool
    MAPSReporting:
      description: 0, 1 or 2.
      type: int
    SubmitSamplesConsent:
      description: 0 to 3.
      type: int
    PUAProtection:
      description: 0, 1 or 2.
      type: int
    EnableNetworkProtection:
      description: 0, 1 or 2.
      type: int
    AttackSurfaceReductionRules_Ids:
      description: Rule GUIDs.
      type: list
      elements: str
    AttackSurfaceReductionRules_Actions:
      description: The mode of the rule at the same position.
      type: list
      elements: int
    ThreatIDDefaultAction_Ids:
      description: Threat ids.
      type: list
      elements: int
    ThreatIDDefaultAction_Actions:
      description: The action for the threat id at the same position.
      type: list
      elements: int
    ExclusionPath:
      description: Excluded paths.
      type: list
      elements: str
    ExclusionProcess:
      description: Excluded processes.
      type: list
      elements: str
    ExclusionExtension:
      description: Excluded extensions.
      type: list
      elements: str
status:
  description: The C(Get-MpComputerStatus) subset of M(praxis_win_facts), read after the signature update.
  returned: success
  type: dict
  contains:
    AMServiceEnabled:
      description: Whether the antimalware service runs.
      type: bool
    AntivirusEnabled:
      description: Whether the antivirus is enabled.
      type: bool
    RealTimeProtectionEnabled:
      description: Whether real-time protection is on.
      type: bool
    IsTamperProtected:
      description: Whether tamper protection is on (reported, never set).
      type: bool
    AntivirusSignatureVersion:
      description: Version of the signatures.
      type: str
    AntivirusSignatureLastUpdated:
      description: When the signatures were updated, ISO 8601 with offset.
      type: str
    AntivirusSignatureAge:
      description: Age of the signatures in days.
      type: int
    AMProductVersion:
      description: Version of the antimalware platform.
      type: str
    AMRunningMode:
      description: C(Normal), C(Passive Mode), C(EDR Block Mode), ...
      type: str
diff:
  description: Before and after of the managed preferences, the shape of RV(preferences).
  returned: diff mode
  type: dict
  contains:
    before:
      description: As read before any change.
      type: dict
    after:
      description: As read after the change (in check mode, as it would be).
      type: dict
"""
