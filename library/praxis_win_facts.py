#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

# Documentation of the PowerShell module praxis_win_facts.ps1 beside this file; the module
# itself is PowerShell and runs on the Windows host.

DOCUMENTATION = r"""
module: praxis_win_facts
short_description: Prerequisites and inventory of a Windows workplace or server (WP-01, WP-11)
description:
  - Reads, in one round trip, what the onboarding check (WP-01) and the inventory report (WP-11)
    need - edition and release, operating system, hardware, the system disk, the TPM, the BitLocker
    state of the system drive, the Microsoft Defender status and the installed software.
  - Returns the properties of the documented Windows objects under their own names
    (C(Win32_OperatingSystem), C(Get-PhysicalDisk), C(Get-Tpm), C(Get-BitLockerVolume),
    C(Get-MpComputerStatus), ...), so that the decisions on the controller
    (C(prereq_verdict) and C(inventory_record) in C(module_utils/praxis_workplace.py)) can be
    tested with fixtures shaped like Microsoft's documentation.
  - Enums are returned as their names (C(FullyEncrypted), C(SSD), C(Healthy)), times as ISO 8601
    strings with offset, sizes in bytes unless the name says otherwise (C(TotalVisibleMemorySize)
    and C(FreePhysicalMemory) are KiB, C(MaxClockSpeed) is MHz).
  - Never parses localized command output. The physical disk values are read as raw CIM values and
    named after the C(MSFT_PhysicalDisk) documentation, so German and English Windows give the
    same result.
  - A section whose cmdlet is missing or fails (a Home edition without BitLocker, a server without
    Defender, C(Get-Tpm) without elevation) is V(null) and adds a warning; the module itself does
    not fail.
  - Never returns a BitLocker recovery password.
version_added: "1.0.0"
options:
  software:
    description:
      - Whether to list the installed software (machine-wide uninstall keys, 64- and 32-bit views,
        without entries marked C(SystemComponent)).
      - When V(false), RV(facts.software) is V(null).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Read only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
  platform:
    support: full
    platforms: windows
    description: Windows 10 and 11 (Pro, Enterprise, Education) and Windows Server, with Windows PowerShell 5.1.
notes:
  - Connect with an administrator account; C(Get-Tpm) and C(Get-BitLockerVolume) need elevation,
    and RV(facts.is_admin) tells whether the account has it.
  - Decisions (is the workplace fit, what goes in the inventory report) are made on the controller,
    not by this module.
seealso:
  - module: praxis_win_health
  - module: praxis_win_cleanup
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Read the prerequisites and inventory of the workplace
  praxis_win_facts:
  register: workplace

- name: Read the prerequisites without the software list
  praxis_win_facts:
    software: false
  register: workplace
"""

RETURN = r"""
facts:
  description: Prerequisites and inventory of the host.
  returned: always
  type: dict
  contains:
    computer_name:
      description: C($env:COMPUTERNAME).
      type: str
      sample: PRAXIS-WS01
    is_admin:
      description: Whether the connecting account holds the Administrators role (C(WindowsPrincipal.IsInRole)).
      type: bool
      sample: true
    edition_id:
      description:
        - C(EditionID) of C(HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion).
        - C(Core) and C(CoreSingleLanguage) are Home editions.
      type: str
      sample: Professional
    display_version:
      description: C(DisplayVersion) of the same key (C(ReleaseId) on builds before 20H2, which have no
        C(DisplayVersion)).
      type: str
      sample: 23H2
    ubr:
      description: C(UBR), the update build revision.
      type: int
      sample: 4317
    os:
      description: C(Win32_OperatingSystem) properties; V(null) with a warning when the class could not
        be read.
      type: dict
      contains:
        Caption:
          description: Product name (display text, for people; decisions use C(edition_id) and C(OperatingSystemSKU)).
          type: str
          sample: Microsoft Windows 11 Pro
        Version:
          description: Version number.
          type: str
          sample: 10.0.22631
        BuildNumber:
          description: Build number.
          type: str
          sample: '22631'
        OperatingSystemSKU:
          description: SKU number (48 Professional, 4 Enterprise, 7 Server Standard, ...).
          type: int
          sample: 48
        ProductType:
          description: 1 workstation, 2 domain controller, 3 server.
          type: int
          sample: 1
        OSLanguage:
          description: Language identifier (1031 German).
          type: int
          sample: 1031
        LastBootUpTime:
          description: Time of the last start, ISO 8601 with offset.
          type: str
          sample: '2026-11-23T07:12:40.5000000+01:00'
        TotalVisibleMemorySize:
          description: Memory usable by the system, in KiB.
          type: int
          sample: 16647172
        FreePhysicalMemory:
          description: Free physical memory, in KiB.
          type: int
          sample: 9251128
    computer_system:
      description: C(Win32_ComputerSystem) properties; V(null) with a warning when the class could not
        be read.
      type: dict
      contains:
        Manufacturer:
          description: Manufacturer.
          type: str
          sample: Dell Inc.
        Model:
          description: Model.
          type: str
          sample: OptiPlex 7010
        TotalPhysicalMemory:
          description: Physical memory in bytes.
          type: int
          sample: 17046704128
        Domain:
          description: Domain or workgroup.
          type: str
          sample: WORKGROUP
        PartOfDomain:
          description: Whether the computer is joined to a domain.
          type: bool
          sample: false
    bios:
      description: C(Win32_BIOS) properties; V(null) with a warning when the class could not be read.
      type: dict
      contains:
        SerialNumber:
          description: Serial number (service tag).
          type: str
          sample: 7XK2LM3
        SMBIOSBIOSVersion:
          description: Firmware version.
          type: str
          sample: 1.18.0
        Manufacturer:
          description: Firmware manufacturer.
          type: str
          sample: Dell Inc.
    processors:
      description: C(Win32_Processor) properties, one entry per processor socket; V(null) with a warning
        when the class could not be read.
      type: list
      elements: dict
      contains:
        Name:
          description: Processor name.
          type: str
          sample: 13th Gen Intel(R) Core(TM) i5-13500
        NumberOfCores:
          description: Cores.
          type: int
          sample: 14
        NumberOfLogicalProcessors:
          description: Logical processors.
          type: int
          sample: 20
        MaxClockSpeed:
          description: Maximum clock speed in MHz.
          type: int
          sample: 2500
    system_disk:
      description:
        - 'C(Get-PhysicalDisk) properties of the disk that holds the system drive: C(Get-Partition -DriveLetter)
          of C($env:SystemDrive), matched by its disk number to C(DeviceId).'
        - Values are the raw C(MSFT_PhysicalDisk) values, named as that class documents them.
        - V(null) with a warning when the Storage cmdlets are missing, or the system drive is on Storage
          Spaces or a RAID volume without a single physical disk.
      type: dict
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
        BusType:
          description: Bus, as C(MSFT_PhysicalDisk) names it (C(NVMe), C(SATA), C(SAS), C(RAID), C(USB),
            ...).
          type: str
          sample: NVMe
        Size:
          description: Size in bytes.
          type: int
          sample: 1000204886016
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
        SpindleSpeed:
          description: Rotations per minute; 0 for a solid-state disk, 4294967295 when unknown.
          type: int
          sample: 0
    tpm:
      description: C(Get-Tpm) properties; V(null) with a warning when the cmdlet is missing or fails (for
        example without elevation).
      type: dict
      contains:
        TpmPresent:
          description: A TPM is present.
          type: bool
          sample: true
        TpmReady:
          description: The TPM is ready for use.
          type: bool
          sample: true
        TpmEnabled:
          description: The TPM is enabled.
          type: bool
          sample: true
        TpmActivated:
          description: The TPM is activated.
          type: bool
          sample: true
        TpmOwned:
          description: The TPM is owned.
          type: bool
          sample: true
        ManufacturerIdTxt:
          description: Manufacturer id as text.
          type: str
          sample: INTC
        ManufacturerVersion:
          description: TPM firmware version.
          type: str
          sample: 600.18.0.0
    bitlocker:
      description:
        - C(Get-BitLockerVolume -MountPoint $env:SystemDrive) properties; V(null) with a warning when
          the cmdlet is missing (Home edition) or fails.
        - Key protectors are listed by id and type; a recovery password is never returned.
      type: dict
      contains:
        MountPoint:
          description: Drive.
          type: str
          sample: 'C:'
        VolumeType:
          description: C(OperatingSystem) or C(Data).
          type: str
          sample: OperatingSystem
        VolumeStatus:
          description: C(FullyDecrypted), C(FullyEncrypted), C(EncryptionInProgress), C(DecryptionInProgress),
            ...
          type: str
          sample: FullyEncrypted
        ProtectionStatus:
          description: C(On), C(Off) or C(Unknown).
          type: str
          sample: 'On'
        LockStatus:
          description: C(Locked) or C(Unlocked).
          type: str
          sample: Unlocked
        EncryptionMethod:
          description: C(XtsAes256), C(XtsAes128), C(Aes256), C(Aes128), C(None), ...
          type: str
          sample: XtsAes256
        EncryptionPercentage:
          description: Percentage of the volume that is encrypted.
          type: float
          sample: 100
        KeyProtector:
          description: The key protectors, id and type (C(Tpm), C(TpmPin), C(RecoveryPassword), ...).
          type: list
          elements: dict
          sample:
            - KeyProtectorId: '{8A5A1F3E-0000-4C4B-9D6B-1C2D3E4F5A6B}'
              KeyProtectorType: RecoveryPassword
    defender:
      description: C(Get-MpComputerStatus) properties; V(null) with a warning when the cmdlet is missing
        or fails.
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
          description: Tamper protection is on (reported only; it is managed in the Defender portal).
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
    software:
      description:
        - Installed software from the machine-wide uninstall keys (64- and 32-bit views), without entries
          marked C(SystemComponent), sorted by name and version, each product once.
        - V(null) when O(software=false), or with a warning when the keys could not be read.
      type: list
      elements: dict
      contains:
        DisplayName:
          description: Name.
          type: str
          sample: Mozilla Firefox (x64 de)
        DisplayVersion:
          description: Version; V(null) when not registered.
          type: str
          sample: 132.0.2
        Publisher:
          description: Publisher; V(null) when not registered.
          type: str
          sample: Mozilla
        InstallDate:
          description: Install date as registered, usually C(YYYYMMDD); V(null) when not registered.
          type: str
          sample: '20261102'
"""
