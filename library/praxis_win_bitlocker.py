#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

# Documentation of the PowerShell module praxis_win_bitlocker.ps1 and of the action plugin of the
# same name (action_plugins/praxis_win_bitlocker.py); no code.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_win_bitlocker
short_description: Turn BitLocker on for the system drive of a Windows workplace and escrow its recovery keys (WP-04)
description:
  - Reads the volume with C(Get-BitLockerVolume) and acts only when needed, in this order.
  - Adds a recovery password protector (C(Add-BitLockerKeyProtector -RecoveryPasswordProtector)) when the
    volume has none, before any encryption starts, so that a key exists and can be escrowed first.
  - Enables BitLocker with the TPM or TPM+PIN protector (C(Enable-BitLocker -TpmProtector) or
    C(-TpmAndPinProtector)) when the volume is C(FullyDecrypted). A volume that Windows encrypted without
    a TPM protector (device encryption "waiting for activation", the key kept in the clear) gets the TPM
    protector with C(Add-BitLockerKeyProtector); both are reported as RV(actions=enabled).
  - Resumes protection (C(Resume-BitLocker)) of a C(FullyEncrypted) volume whose C(ProtectionStatus) is
    C(Off). Protection that Windows suspended for a number of restarts (before a firmware or boot change,
    C(Win32_EncryptableVolume.GetSuspendCount)) is left to resume by itself, with a warning.
  - Never decrypts, never removes or replaces a protector, never changes the encryption method of an encrypted
    volume (it warns when the method or the TPM protector kind differs from the request).
  - State comes only from the C(BitLockerVolume) objects (C(VolumeStatus), C(ProtectionStatus),
    C(KeyProtector[].KeyProtectorType)), never from the localized text of the command-line tool.
  - "The action plugin of the same name (C(action_plugins/praxis_win_bitlocker.py)) runs the module, removes
    RV(recovery_passwords) from the result before anything can display or register it, writes the keys to an
    ansible-vault encrypted escrow file per practice and host (C(<escrow_dir>/<site>/<host>.yml.vault), merged
    by protector id, written atomically and read back before the rename; C(ansible-vault view) opens it) and
    returns RV(escrow) and RV(escrow_path), never a key. Before the host is touched it checks that the play's
    vault secret opens the existing escrow file, and it fails when a recovery password protector of the volume
    is not in the escrow file afterwards."
  - The action plugin refuses to start encryption outside the practice's maintenance time (OPS-01, the service
    calendar of O(site)) unless O(force_reason) is given; outside it, the module first runs in check mode and the
    task fails (in check mode, reports RV(refused)) when it would enable BitLocker. Adding a recovery password,
    resuming protection, and reading and escrowing existing keys are allowed at any time.
  - Needs Windows 10/11 Pro, Enterprise or Education (the BitLocker cmdlets; Home has none), a ready TPM and
    an account with administrator rights. TPM+PIN needs the Group Policy C(Require additional authentication
    at startup) to allow a startup PIN with TPM.
version_added: "1.0.0"
options:
  mount_point:
    description: The volume, as a drive letter (C(C:)). Default the system drive (C($env:SystemDrive)).
    type: str
  protector:
    description:
      - C(tpm) unlocks at start with the TPM alone; C(tpm_pin) asks for O(pin) at every start.
      - Only used when BitLocker is turned on; the protectors of an encrypted volume are not replaced.
    type: str
    choices: [tpm, tpm_pin]
    default: tpm
  pin:
    description: The startup PIN, 6 to 20 digits. Required with O(protector=tpm_pin). Never logged or returned.
    type: str
  encryption_method:
    description: The cipher for a volume that gets encrypted (C(Enable-BitLocker -EncryptionMethod)).
    type: str
    choices: [XtsAes256, XtsAes128, Aes256, Aes128]
    default: XtsAes256
  used_space_only:
    description: Encrypt only the used space (C(-UsedSpaceOnly)); faster on a new machine.
    type: bool
    default: false
  skip_hardware_test:
    description:
      - Start encrypting at once (C(-SkipHardwareTest)) instead of after a hardware test at the next restart.
      - Without it the result has RV(reboot_required=true) and encryption starts after that restart.
    type: bool
    default: false
  escrow:
    description:
      - Return the volume's recovery passwords as RV(recovery_passwords) for the action plugin to escrow.
      - With C(false) no key leaves the host.
    type: bool
    default: true
  escrow_dir:
    description:
      - Action plugin option, not passed to the host. Folder on the controller that holds the escrow files,
        one per practice and host under C(<escrow_dir>/<site>/<host>.yml.vault).
      - Default C(output/escrow) beside the C(playbooks/) folder.
    type: path
  force_reason:
    description:
      - Action plugin option, not passed to the host. Why encryption must start outside the practice's
        maintenance time; the audit log records it. Empty means no override.
    type: str
  now:
    description:
      - Action plugin option, not passed to the host. The instant to judge the maintenance time for,
        ISO 8601 with UTC offset. Default the current time.
    type: str
  site:
    description:
      - Action plugin option, not passed to the host. The practice (its calendar and id), normally
        C(praxis_site) from the praxisops inventory, which is the default.
    type: dict
attributes:
  check_mode:
    support: full
    description: Reads the volume and reports in RV(actions) what would be done; changes nothing.
  diff_mode:
    support: none
    description: RV(actions) and RV(volume) say what changed.
  platform:
    support: full
    platforms: windows
    description: Windows 10/11 Pro, Enterprise or Education, Windows PowerShell 5.1, over WinRM.
notes:
  - Recovery passwords never appear in the task result when the action plugin is used, which is the case
    whenever C(action_plugins) of the project is configured (C(ansible.cfg)).
  - Encryption continues in the background; RV(volume.EncryptionPercentage) reports the progress.
seealso:
  - name: Enable-BitLocker
    link: https://learn.microsoft.com/en-us/powershell/module/bitlocker/enable-bitlocker
    description: The cmdlet that turns BitLocker on, and the recommended order (recovery password first).
  - name: Get-BitLockerVolume
    link: https://learn.microsoft.com/en-us/powershell/module/bitlocker/get-bitlockervolume
    description: The object whose properties RV(volume) returns.
  - name: Add-BitLockerKeyProtector
    link: https://learn.microsoft.com/en-us/powershell/module/bitlocker/add-bitlockerkeyprotector
    description: Adds the recovery password protector, and the TPM protector to a volume encrypted without one.
  - name: Resume-BitLocker
    link: https://learn.microsoft.com/en-us/powershell/module/bitlocker/resume-bitlocker
    description: Restores suspended protection.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Turn BitLocker on with the TPM and escrow the recovery key
  praxis_win_bitlocker:
    used_space_only: true
    escrow_dir: /srv/praxisops/escrow
    now: "{{ praxis_now | default(omit) }}"
    force_reason: "{{ praxis_force_reason | default(omit) }}"
  register: bitlocker

- name: Turn BitLocker on with TPM and startup PIN
  praxis_win_bitlocker:
    protector: tpm_pin
    pin: "{{ vault_bitlocker_pin }}"
    escrow_dir: /srv/praxisops/escrow

- name: Show the encryption progress
  ansible.builtin.debug:
    msg: "{{ bitlocker.volume.VolumeStatus }} {{ bitlocker.volume.EncryptionPercentage }} %"
"""

RETURN = r"""
actions:
  description: What was done (in check mode, what would be done), in order.
  returned: always
  type: list
  elements: str
  sample: [added_recovery_password, enabled]
volume:
  description:
    - The volume after acting (in check mode, as it is), under the property names of C(Get-BitLockerVolume);
      enums as their names. The same shape as C(facts.bitlocker) of M(praxis_win_facts); never a
      C(RecoveryPassword).
  returned: success
  type: dict
  contains:
    MountPoint:
      description: Drive letter.
      type: str
      sample: "C:"
    VolumeType:
      description: C(OperatingSystem) or C(Data).
      type: str
    VolumeStatus:
      description: C(FullyDecrypted), C(EncryptionInProgress), C(FullyEncrypted), C(DecryptionInProgress), ...
      type: str
    ProtectionStatus:
      description: C(On), C(Off) or C(Unknown).
      type: str
    LockStatus:
      description: C(Locked) or C(Unlocked).
      type: str
    EncryptionMethod:
      description: C(XtsAes256), C(XtsAes128), C(Aes256), C(Aes128), C(None), ...
      type: str
    EncryptionPercentage:
      description: Percent of the volume encrypted; the progress while C(EncryptionInProgress).
      type: float
    KeyProtector:
      description:
        - The key protectors, as C({KeyProtectorId, KeyProtectorType}); types C(Tpm), C(TpmPin),
          C(RecoveryPassword), ...
      type: list
      elements: dict
  sample:
    MountPoint: "C:"
    VolumeType: OperatingSystem
    VolumeStatus: EncryptionInProgress
    ProtectionStatus: "Off"
    LockStatus: Unlocked
    EncryptionMethod: XtsAes256
    EncryptionPercentage: 12.4
    KeyProtector:
      - {KeyProtectorId: "{8A5A1F0E-2C3D-4E5F-8091-A2B3C4D5E6F7}", KeyProtectorType: RecoveryPassword}
      - {KeyProtectorId: "{0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0}", KeyProtectorType: Tpm}
reboot_required:
  description:
    - Whether a restart is needed before encryption starts (the hardware test of C(Enable-BitLocker)), or before
      suspended protection resumes by itself.
  returned: success
  type: bool
recovery_passwords:
  description:
    - Module result only, with O(escrow=true); the action plugin removes it before the result is shown or
      registered. The C(KeyProtectorId) and C(RecoveryPassword) of every recovery password protector.
  returned: module result, when O(escrow=true)
  type: list
  elements: dict
escrow:
  description: Action plugin result. The escrowed keys, without the key itself.
  returned: action plugin, when O(escrow=true)
  type: list
  elements: dict
  contains:
    protector_id:
      description: The C(KeyProtectorId).
      type: str
    first_seen:
      description: When the escrow first held this key, ISO 8601.
      type: str
    new:
      description: Whether this run added the key to the escrow.
      type: bool
escrow_path:
  description: Action plugin result. Path of the escrow file on the controller.
  returned: action plugin, when O(escrow=true)
  type: str
  sample: /srv/praxisops/escrow/lab001/lab001-ws01.yml.vault
guard:
  description:
    - Action plugin result. The service calendar's verdict for the instant (C(maintenance_time), C(allowed),
      C(reason), C(holiday), C(next_window), C(forced), C(force_reason), C(now)).
  returned: action plugin
  type: dict
refused:
  description: Action plugin result. True when starting encryption was refused outside maintenance time.
  returned: action plugin, when refused
  type: bool
msg:
  description: Action plugin result. One line naming the host, the volume state and what was done.
  returned: action plugin
  type: str
"""
