# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

# Ansible.ModuleUtils.PraxisWindows: what the praxis_win_* modules share.
# A module loads it with the line
#     #Requires -Module Ansible.ModuleUtils.PraxisWindows
# and Ansible sends it along from the module_utils folder (ansible.cfg).
# It runs in a module scope of its own and does not see the variables of the
# module that loads it: a function that warns takes the AnsibleModule as
# -Module. Values follow docs/workplaces.md, "Values on the wire": enums as
# their names, times as ISO 8601 with offset.

# MSFT_PhysicalDisk value maps, as the class documents them:
# https://learn.microsoft.com/en-us/windows-hardware/drivers/storage/msft-physicaldisk
# https://learn.microsoft.com/en-us/windows-hardware/drivers/storage/msft-storagefaultdomain
# The Storage module's type data turns these properties into display
# strings, which may follow the language of the system; the raw CIM values
# are read instead and named here, so German and English Windows agree.
$mediaTypeNames = @{
    0 = 'Unspecified'
    3 = 'HDD'
    4 = 'SSD'
    5 = 'SCM'
}
$busTypeNames = @{
    0 = 'Unknown'
    1 = 'SCSI'
    2 = 'ATAPI'
    3 = 'ATA'
    4 = '1394'
    5 = 'SSA'
    6 = 'Fibre Channel'
    7 = 'USB'
    8 = 'RAID'
    9 = 'iSCSI'
    10 = 'SAS'
    11 = 'SATA'
    12 = 'SD'
    13 = 'MMC'
    14 = 'MAX'
    15 = 'File Backed Virtual'
    16 = 'Storage Spaces'
    17 = 'NVMe'
}
$healthStatusNames = @{
    0 = 'Healthy'
    1 = 'Warning'
    2 = 'Unhealthy'
    5 = 'Unknown'
}
$operationalStatusNames = @{
    0 = 'Unknown'
    1 = 'Other'
    2 = 'OK'
    3 = 'Degraded'
    4 = 'Stressed'
    5 = 'Predictive Failure'
    6 = 'Error'
    7 = 'Non-Recoverable Error'
    8 = 'Starting'
    9 = 'Stopping'
    10 = 'Stopped'
    11 = 'In Service'
    12 = 'No Contact'
    13 = 'Lost Communication'
    14 = 'Aborted'
    15 = 'Dormant'
    16 = 'Supporting Entity in Error'
    17 = 'Completed'
    18 = 'Power Mode'
    19 = 'Relocating'
}
# The single-valued properties above by name; OperationalStatus is an array.
$physicalDiskNames = @{
    MediaType = $mediaTypeNames
    BusType = $busTypeNames
    HealthStatus = $healthStatusNames
}

Function Read-Section([object]$Module, [string]$Section, [string[]]$Cmdlet, [scriptblock]$Read) {
    # One section of a module that only gathers (facts.os, health.defender,
    # ...): what $Read writes, or null and a warning when a cmdlet in $Cmdlet
    # is missing or reading fails; the module itself does not fail.
    # $Read writes one object: a list as `, $list`, so it stays one list.
    foreach ($name in $Cmdlet) {
        if (-not (Get-Command -Name $name -ErrorAction SilentlyContinue)) {
            $Module.Warn("$name is not available on this host: $Section is null")
            return $null
        }
    }
    try {
        $value = & $Read
    }
    catch {
        $Module.Warn("$Section could not be read ($($_.Exception.Message)): $Section is null")
        return $null
    }
    # The unary comma returns a list itself, not its items.
    return , $value
}

Function Select-Property($InputObject, [string[]]$Name) {
    # The named properties of an object as a table, under their own names
    # (docs/workplaces.md: a section is the documented object's properties).
    $table = @{}
    foreach ($propertyName in $Name) {
        $table[$propertyName] = $InputObject.$propertyName
    }
    return $table
}

Function ConvertTo-IsoTime($Value) {
    # DateTime -> ISO 8601 with offset ([datetime]::ToString('o')); the JSON
    # serializer of Windows PowerShell would write /Date(...)/ otherwise.
    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [datetime]) {
        return $Value.ToString('o')
    }
    return [string]$Value
}

Function ConvertTo-EnumName($Value) {
    # A .NET enum (Get-BitLockerVolume, Get-Tpm) -> its name.
    if ($null -eq $Value) {
        return $null
    }
    return $Value.ToString()
}

Function ConvertTo-MappedName($Value, $Map) {
    # A documented CIM value -> its name; a value the map does not know stays
    # a number (the controller knows the reserved ranges).
    if ($null -eq $Value) {
        return $null
    }
    if ($Value -is [string]) {
        return $Value
    }
    $number = [int]$Value
    if ($Map.ContainsKey($number)) {
        return $Map[$number]
    }
    return $number
}

Function ConvertTo-MappedList($Value, $Map) {
    # An array property (OperationalStatus is UInt16[]) -> a list of names.
    $names = [System.Collections.Generic.List[object]]::new()
    if ($null -ne $Value) {
        foreach ($item in @($Value)) {
            $names.Add((ConvertTo-MappedName -Value $item -Map $Map))
        }
    }
    # The unary comma returns the list itself, not its items.
    return , $names
}

Function Get-CimValue($InputObject, $Name) {
    # The raw value of a CIM property, bypassing display type data.
    # https://learn.microsoft.com/en-us/dotnet/api/microsoft.management.infrastructure.ciminstance.ciminstanceproperties
    $property = $InputObject.PSBase.CimInstanceProperties[$Name]
    if ($null -eq $property) {
        return $null
    }
    # The unary comma keeps an array value (OperationalStatus) in one piece.
    return , $property.Value
}

Function Select-CimValue($InputObject, [string[]]$Name) {
    # The named properties of a CIM instance as a table of raw values.
    $table = @{}
    foreach ($propertyName in $Name) {
        $table[$propertyName] = Get-CimValue -InputObject $InputObject -Name $propertyName
    }
    return $table
}

Function Select-PhysicalDiskValue($Disk, [string[]]$Name) {
    # The named properties of an MSFT_PhysicalDisk (Get-PhysicalDisk) as a
    # table: raw CIM values, with MediaType, BusType, HealthStatus and
    # OperationalStatus as their documented names (maps above).
    # https://learn.microsoft.com/en-us/powershell/module/storage/get-physicaldisk
    $table = @{}
    foreach ($propertyName in $Name) {
        $value = Get-CimValue -InputObject $Disk -Name $propertyName
        if ($propertyName -eq 'OperationalStatus') {
            $table[$propertyName] = ConvertTo-MappedList -Value $value -Map $operationalStatusNames
        }
        elseif ($physicalDiskNames.ContainsKey($propertyName)) {
            $table[$propertyName] = ConvertTo-MappedName -Value $value -Map $physicalDiskNames[$propertyName]
        }
        else {
            $table[$propertyName] = $value
        }
    }
    return $table
}

Function ConvertTo-DefenderStatus($Status) {
    # The subset of Get-MpComputerStatus that facts.defender (praxis_win_facts)
    # and health.defender (praxis_win_health) report.
    # https://learn.microsoft.com/en-us/powershell/module/defender/get-mpcomputerstatus
    # AMRunningMode is a string (Normal, Passive, EDR Block Mode, SxS Passive Mode).
    $table = Select-Property -InputObject $Status -Name 'AMServiceEnabled', 'AntivirusEnabled', 'RealTimeProtectionEnabled', 'IsTamperProtected', 'AntivirusSignatureVersion', 'AntivirusSignatureAge', 'AMProductVersion', 'AMRunningMode'
    $table.AntivirusSignatureLastUpdated = ConvertTo-IsoTime -Value $Status.AntivirusSignatureLastUpdated
    return $table
}

Function ConvertTo-BitLockerVolume($Volume) {
    # A BitLockerVolume as facts.bitlocker (praxis_win_facts) and volume
    # (praxis_win_bitlocker) return it: protector ids and types only, never a
    # recovery password.
    # https://learn.microsoft.com/en-us/powershell/module/bitlocker/get-bitlockervolume
    $protectors = [System.Collections.Generic.List[object]]::new()
    foreach ($keyProtector in @($Volume.KeyProtector)) {
        if ($null -eq $keyProtector) {
            continue
        }
        $protectors.Add(@{
                KeyProtectorId = [string]$keyProtector.KeyProtectorId
                KeyProtectorType = ConvertTo-EnumName -Value $keyProtector.KeyProtectorType
            })
    }
    return @{
        MountPoint = [string]$Volume.MountPoint
        VolumeType = ConvertTo-EnumName -Value $Volume.VolumeType
        VolumeStatus = ConvertTo-EnumName -Value $Volume.VolumeStatus
        ProtectionStatus = ConvertTo-EnumName -Value $Volume.ProtectionStatus
        LockStatus = ConvertTo-EnumName -Value $Volume.LockStatus
        EncryptionMethod = ConvertTo-EnumName -Value $Volume.EncryptionMethod
        EncryptionPercentage = $Volume.EncryptionPercentage
        KeyProtector = $protectors
    }
}

Function Measure-EventRecord($Path, $PathType, $Query, $Limit) {
    # Counts the records an XPath query selects (up to $Limit when it is above
    # 0) without formatting their messages. $PathType is LogName for a log,
    # FilePath for an .evtx file.
    # https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogquery
    # https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogreader
    $eventQuery = [System.Diagnostics.Eventing.Reader.EventLogQuery]::new($Path, $PathType, $Query)
    $reader = [System.Diagnostics.Eventing.Reader.EventLogReader]::new($eventQuery)
    $count = [int64]0
    try {
        while ($Limit -le 0 -or $count -lt $Limit) {
            $record = $reader.ReadEvent()
            if ($null -eq $record) {
                break
            }
            $record.Dispose()
            $count++
        }
    }
    finally {
        $reader.Dispose()
    }
    return $count
}

Export-ModuleMember -Function @(
    'Read-Section',
    'Select-Property',
    'ConvertTo-IsoTime',
    'ConvertTo-EnumName',
    'Get-CimValue',
    'Select-CimValue',
    'Select-PhysicalDiskValue',
    'ConvertTo-DefenderStatus',
    'ConvertTo-BitLockerVolume',
    'Measure-EventRecord'
)
