#!powershell

# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#Requires -Module Ansible.ModuleUtils.PraxisWindows

# praxis_win_facts (WP-01, WP-11): prerequisites and inventory of a Windows
# workplace or server, read only. Every section is the documented object's
# properties under their own names (docs/workplaces.md); enums as their names,
# times as ISO 8601 strings, sizes in bytes. A section whose cmdlet is missing
# or fails is null and gets a warning; the module itself does not fail
# (Read-Section of module_utils/Ansible.ModuleUtils.PraxisWindows.psm1).

$spec = @{
    options = @{
        software = @{ type = 'bool'; default = $true }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$facts = @{
    computer_name = $env:COMPUTERNAME
}

# Administrator rights of the connecting account.
# https://learn.microsoft.com/en-us/dotnet/api/system.security.principal.windowsprincipal.isinrole
$identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$principal = [System.Security.Principal.WindowsPrincipal]::new($identity)
$facts.is_admin = $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)

# Edition and release from the registry, read as values (Get-Item returns a
# RegistryKey; GetValue gives $null for a missing value).
# https://learn.microsoft.com/en-us/dotnet/api/microsoft.win32.registrykey.getvalue
# EditionID: Professional, Core (Home), Enterprise, Education, ServerStandard, ...
# DisplayVersion exists from Windows 10 20H2 on; older builds only have ReleaseId.
$facts.edition_id = $null
$facts.display_version = $null
$facts.ubr = $null
try {
    $currentVersion = Get-Item -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $facts.edition_id = $currentVersion.GetValue('EditionID')
    $facts.display_version = $currentVersion.GetValue('DisplayVersion')
    if ($null -eq $facts.display_version) {
        $facts.display_version = $currentVersion.GetValue('ReleaseId')
    }
    $facts.ubr = $currentVersion.GetValue('UBR')
}
catch {
    $module.Warn("HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion could not be read ($($_.Exception.Message)): edition_id, display_version and ubr are null")
}

# Operating system.
# https://learn.microsoft.com/en-us/powershell/module/cimcmdlets/get-ciminstance
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem
# TotalVisibleMemorySize and FreePhysicalMemory are KiB, as the class documents.
$facts.os = Read-Section -Module $module -Section 'facts.os' -Read {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $table = Select-Property -InputObject $os -Name 'Caption', 'Version', 'BuildNumber', 'OperatingSystemSKU', 'ProductType', 'OSLanguage', 'TotalVisibleMemorySize', 'FreePhysicalMemory'
    $table.LastBootUpTime = ConvertTo-IsoTime -Value $os.LastBootUpTime
    $table
}

# Computer system.
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-computersystem
$facts.computer_system = Read-Section -Module $module -Section 'facts.computer_system' -Read {
    $computer = Get-CimInstance -ClassName Win32_ComputerSystem
    Select-Property -InputObject $computer -Name 'Manufacturer', 'Model', 'TotalPhysicalMemory', 'Domain', 'PartOfDomain'
}

# BIOS.
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-bios
$facts.bios = Read-Section -Module $module -Section 'facts.bios' -Read {
    $bios = Get-CimInstance -ClassName Win32_BIOS
    Select-Property -InputObject $bios -Name 'SerialNumber', 'SMBIOSBIOSVersion', 'Manufacturer'
}

# Processors, one entry per socket; MaxClockSpeed in MHz.
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-processor
$facts.processors = Read-Section -Module $module -Section 'facts.processors' -Read {
    $processors = [System.Collections.Generic.List[object]]::new()
    foreach ($cpu in @(Get-CimInstance -ClassName Win32_Processor)) {
        $processors.Add((Select-Property -InputObject $cpu -Name 'Name', 'NumberOfCores', 'NumberOfLogicalProcessors', 'MaxClockSpeed'))
    }
    , $processors
}

# The physical disk that holds the system drive: partition -> disk number ->
# physical disk with the same DeviceId; MediaType, BusType, HealthStatus and
# OperationalStatus by their documented names (Select-PhysicalDiskValue).
# https://learn.microsoft.com/en-us/powershell/module/storage/get-partition
# https://learn.microsoft.com/en-us/powershell/module/storage/get-physicaldisk
# https://learn.microsoft.com/en-us/windows-hardware/drivers/storage/msft-physicaldisk
$facts.system_disk = Read-Section -Module $module -Section 'facts.system_disk' -Cmdlet 'Get-Partition', 'Get-PhysicalDisk' -Read {
    $driveLetter = $env:SystemDrive.Substring(0, 1)
    $partition = Get-Partition -DriveLetter $driveLetter
    $diskNumber = [string]$partition.DiskNumber
    $disk = @(Get-PhysicalDisk | Where-Object { [string](Get-CimValue -InputObject $_ -Name 'DeviceId') -eq $diskNumber })
    if ($disk.Count -eq 0) {
        # Storage Spaces or a hardware RAID volume: no single physical disk.
        $module.Warn("No physical disk has DeviceId $diskNumber (disk of $env:SystemDrive): facts.system_disk is null")
    }
    else {
        Select-PhysicalDiskValue -Disk $disk[0] -Name 'DeviceId', 'FriendlyName', 'MediaType', 'BusType', 'Size', 'HealthStatus', 'OperationalStatus', 'SpindleSpeed'
    }
}

# TPM (needs administrator rights).
# https://learn.microsoft.com/en-us/powershell/module/trustedplatformmodule/get-tpm
$facts.tpm = Read-Section -Module $module -Section 'facts.tpm' -Cmdlet 'Get-Tpm' -Read {
    $tpm = Get-Tpm
    Select-Property -InputObject $tpm -Name 'TpmPresent', 'TpmReady', 'TpmEnabled', 'TpmActivated', 'TpmOwned', 'ManufacturerIdTxt', 'ManufacturerVersion'
}

# BitLocker state of the system drive; protector ids and types only, never a
# recovery password (ConvertTo-BitLockerVolume, as praxis_win_bitlocker).
# https://learn.microsoft.com/en-us/powershell/module/bitlocker/get-bitlockervolume
$facts.bitlocker = Read-Section -Module $module -Section 'facts.bitlocker' -Cmdlet 'Get-BitLockerVolume' -Read {
    ConvertTo-BitLockerVolume -Volume (Get-BitLockerVolume -MountPoint $env:SystemDrive)
}

# Microsoft Defender status (ConvertTo-DefenderStatus, as praxis_win_health).
# https://learn.microsoft.com/en-us/powershell/module/defender/get-mpcomputerstatus
$facts.defender = Read-Section -Module $module -Section 'facts.defender' -Cmdlet 'Get-MpComputerStatus' -Read {
    ConvertTo-DefenderStatus -Status (Get-MpComputerStatus)
}

# Installed software from the machine-wide uninstall keys, 64- and 32-bit
# views; entries marked SystemComponent=1 are not shown in Apps & Features
# and are left out.
# https://learn.microsoft.com/en-us/windows/win32/msi/uninstall-registry-key
$facts.software = $null
if ($module.Params.software) {
    $facts.software = Read-Section -Module $module -Section 'facts.software' -Read {
        $uninstallRoots = @(
            'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
            'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall'
        )
        $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
        $entries = [System.Collections.Generic.List[object]]::new()
        foreach ($root in $uninstallRoots) {
            if (-not (Test-Path -LiteralPath $root)) {
                continue
            }
            foreach ($key in @(Get-ChildItem -LiteralPath $root)) {
                $name = $key.GetValue('DisplayName')
                if ([string]::IsNullOrWhiteSpace([string]$name)) {
                    continue
                }
                $systemComponent = $key.GetValue('SystemComponent')
                if ($null -ne $systemComponent -and [int]$systemComponent -eq 1) {
                    continue
                }
                $entry = @{
                    DisplayName = ([string]$name).Trim()
                    DisplayVersion = $null
                    Publisher = $null
                    InstallDate = $null
                }
                foreach ($valueName in @('DisplayVersion', 'Publisher', 'InstallDate')) {
                    $value = $key.GetValue($valueName)
                    if ($null -ne $value) {
                        $entry[$valueName] = ([string]$value).Trim()
                    }
                }
                # The same product registered in both views counts once.
                $identityKey = '{0}|{1}|{2}' -f $entry.DisplayName, $entry.DisplayVersion, $entry.Publisher
                if ($seen.Add($identityKey)) {
                    $entries.Add($entry)
                }
            }
        }
        $sorted = @($entries | Sort-Object -Property @{ Expression = { $_.DisplayName } }, @{ Expression = { [string]$_.DisplayVersion } })
        $software = [System.Collections.Generic.List[object]]::new()
        foreach ($entry in $sorted) {
            $software.Add($entry)
        }
        , $software
    }
}

$module.Result.facts = $facts
$module.ExitJson()
