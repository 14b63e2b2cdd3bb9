#!powershell

# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#Requires -Module Ansible.ModuleUtils.PraxisWindows

# praxis_win_health (WP-06): the daily health of a Windows workplace or server
# in one round trip. It gathers and returns objects under their documented
# property names (docs/workplaces.md); the action plugin of the same name
# decides on the controller what is a finding. Read only. A section whose
# cmdlet is missing or fails is null and gets a warning (Read-Section of
# module_utils/Ansible.ModuleUtils.PraxisWindows.psm1).

$spec = @{
    options = @{
        since = @{ type = 'str' }
        services = @{ type = 'list'; elements = 'str'; default = @() }
        ignore_services = @{ type = 'list'; elements = 'str'; default = @() }
        server = @{ type = 'bool'; default = $false }
        max_events = @{ type = 'int'; default = 50 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$maxEvents = $module.Params.max_events
if ($maxEvents -lt 0) {
    $module.FailJson("max_events must be 0 or more, got $maxEvents")
}

# The start of the window: the previous run's collected_at, default 24 h ago.
$invariant = [System.Globalization.CultureInfo]::InvariantCulture
if ([string]::IsNullOrWhiteSpace($module.Params.since)) {
    $since = [System.DateTimeOffset]::Now.AddHours(-24)
}
else {
    try {
        $since = [System.DateTimeOffset]::Parse($module.Params.since, $invariant, [System.Globalization.DateTimeStyles]::AssumeUniversal)
    }
    catch {
        $module.FailJson("since is not an ISO 8601 time: '$($module.Params.since)'", $_)
    }
}
# Event log XPath compares SystemTime as UTC text.
# https://learn.microsoft.com/en-us/windows/win32/wes/consuming-events
$sinceXPath = $since.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $invariant)

Function Test-NoEventFound($Record) {
    # Get-WinEvent -FilterHashtable reports an empty result as an error; its
    # FullyQualifiedErrorId (not the localized message) says so.
    # https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.diagnostics/get-winevent
    return ([string]$Record.FullyQualifiedErrorId).StartsWith('NoMatchingEventsFound', [System.StringComparison]::Ordinal)
}

Function New-ServiceEntry($Name, $Service) {
    # A Win32_Service as health.services lists it; without $Service (a named
    # service that is not installed) every property but Name is null, so the
    # controller can report it.
    $entry = @{ Name = $Name }
    foreach ($property in @('DisplayName', 'State', 'StartMode', 'DelayedAutoStart', 'ExitCode')) {
        $entry[$property] = $null
        if ($null -ne $Service) {
            $entry[$property] = $Service.$property
        }
    }
    return $entry
}

$health = @{
    collected_at = [System.DateTimeOffset]::Now.ToString('o')
}

# Services: every automatic service plus the named ones, without the ignored.
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-service
# StartMode is Boot, System, Auto, Manual or Disabled; State is Running,
# Stopped, ...; both are fixed English values of the class, not display text.
$wanted = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
foreach ($name in $module.Params.services) {
    $null = $wanted.Add([string]$name)
}
$ignored = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
foreach ($name in $module.Params.ignore_services) {
    $null = $ignored.Add([string]$name)
}
$health.services = Read-Section -Module $module -Section 'health.services' -Read {
    $services = [System.Collections.Generic.List[object]]::new()
    $found = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    foreach ($service in @(Get-CimInstance -ClassName Win32_Service)) {
        if ($ignored.Contains($service.Name)) {
            continue
        }
        if ($service.StartMode -ne 'Auto' -and -not $wanted.Contains($service.Name)) {
            continue
        }
        $null = $found.Add($service.Name)
        $services.Add((New-ServiceEntry -Name $service.Name -Service $service))
    }
    # A named service that is not installed is listed with State null.
    foreach ($name in $wanted) {
        if ($ignored.Contains($name) -or $found.Contains($name)) {
            continue
        }
        $services.Add((New-ServiceEntry -Name $name -Service $null))
    }
    , $services
}

# Local fixed volumes (DriveType 3); Size and FreeSpace in bytes.
# https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-logicaldisk
$health.volumes = Read-Section -Module $module -Section 'health.volumes' -Read {
    $volumes = [System.Collections.Generic.List[object]]::new()
    foreach ($volume in @(Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType = 3')) {
        $volumes.Add((Select-Property -InputObject $volume -Name 'DeviceID', 'VolumeName', 'FileSystem', 'Size', 'FreeSpace'))
    }
    , $volumes
}

# Microsoft Defender status, the same subset as praxis_win_facts
# (ConvertTo-DefenderStatus).
# https://learn.microsoft.com/en-us/powershell/module/defender/get-mpcomputerstatus
$health.defender = Read-Section -Module $module -Section 'health.defender' -Cmdlet 'Get-MpComputerStatus' -Read {
    ConvertTo-DefenderStatus -Status (Get-MpComputerStatus)
}

# Critical (Level 1) and error (Level 2) events of System and Application
# since the start of the window, newest first, at most max_events per log.
# LevelDisplayName is returned for people; decisions use Level.
# https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.diagnostics/get-winevent
# https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventrecord
$health.events_truncated = 0
$health.events = Read-Section -Module $module -Section 'health.events' -Read {
    $events = [System.Collections.Generic.List[object]]::new()
    $truncated = [int64]0
    $levelQuery = "*[System[(Level=1 or Level=2) and TimeCreated[@SystemTime >= '$sinceXPath']]]"
    foreach ($logName in @('System', 'Application')) {
        $records = @()
        if ($maxEvents -gt 0) {
            $filter = @{
                LogName = $logName
                Level = 1, 2
                StartTime = $since.LocalDateTime
            }
            try {
                $records = @(Get-WinEvent -FilterHashtable $filter -MaxEvents $maxEvents -ErrorAction Stop)
            }
            catch {
                if (-not (Test-NoEventFound -Record $_)) {
                    throw
                }
            }
        }
        foreach ($record in $records) {
            # Message and LevelDisplayName come from the provider's metadata;
            # when that is missing the event stays, without the text.
            $message = $null
            try {
                $message = $record.Message
            }
            catch {
                $message = $null
            }
            $levelName = $null
            try {
                $levelName = $record.LevelDisplayName
            }
            catch {
                $levelName = $null
            }
            if ($null -ne $message -and $message.Length -gt 300) {
                $message = $message.Substring(0, 300)
            }
            $level = $null
            if ($null -ne $record.Level) {
                $level = [int]$record.Level
            }
            $events.Add(@{
                    LogName = $record.LogName
                    ProviderName = $record.ProviderName
                    Id = $record.Id
                    Level = $level
                    LevelDisplayName = $levelName
                    TimeCreated = ConvertTo-IsoTime -Value $record.TimeCreated
                    Message = $message
                })
        }
        # Count what the limit left out only when the limit was reached.
        if ($records.Count -ge $maxEvents) {
            $total = Measure-EventRecord -Path $logName -PathType ([System.Diagnostics.Eventing.Reader.PathType]::LogName) -Query $levelQuery -Limit 0
            if ($total -gt $records.Count) {
                $truncated += $total - $records.Count
            }
        }
    }
    # Set only when both logs were read; 0 otherwise.
    $health.events_truncated = $truncated
    , $events
}

# Physical disks with their reliability counters (temperature in degrees
# Celsius, wear in percent, uncorrected errors, power-on hours); MediaType,
# HealthStatus and OperationalStatus by their documented names
# (Select-PhysicalDiskValue).
# https://learn.microsoft.com/en-us/powershell/module/storage/get-physicaldisk
# https://learn.microsoft.com/en-us/windows-hardware/drivers/storage/msft-physicaldisk
# https://learn.microsoft.com/en-us/powershell/module/storage/get-storagereliabilitycounter
# https://learn.microsoft.com/en-us/windows-hardware/drivers/storage/msft-storagereliabilitycounter
$health.physical_disks = Read-Section -Module $module -Section 'health.physical_disks' -Cmdlet 'Get-PhysicalDisk' -Read {
    $disks = [System.Collections.Generic.List[object]]::new()
    $haveCounters = [bool](Get-Command -Name 'Get-StorageReliabilityCounter' -ErrorAction SilentlyContinue)
    foreach ($disk in @(Get-PhysicalDisk)) {
        $reliability = $null
        if ($haveCounters) {
            try {
                $counter = Get-StorageReliabilityCounter -PhysicalDisk $disk
                if ($null -ne $counter) {
                    $reliability = Select-CimValue -InputObject $counter -Name 'Temperature', 'TemperatureMax', 'Wear', 'ReadErrorsUncorrected', 'WriteErrorsUncorrected', 'PowerOnHours'
                }
            }
            catch {
                # USB and virtual disks often report no counters: reliability stays null.
                $reliability = $null
            }
        }
        $entry = Select-PhysicalDiskValue -Disk $disk -Name 'DeviceId', 'FriendlyName', 'MediaType', 'HealthStatus', 'OperationalStatus', 'Size'
        $entry.reliability = $reliability
        $disks.Add($entry)
    }
    , $disks
}

if ($module.Params.server) {
    # Failed logons (event 4625) since the start of the window, by account and
    # source address. The same filter as Get-WinEvent -FilterHashtable
    # @{LogName='Security'; Id=4625; StartTime=...}, read with EventLogReader
    # and a property selector so that thousands of events during an attack are
    # counted without formatting a message for each.
    # https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/auditing/event-4625
    # https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogpropertyselector
    # https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogrecord.getpropertyvalues
    $health.failed_logons = Read-Section -Module $module -Section 'health.failed_logons' -Read {
        $query = "*[System[EventID=4625 and TimeCreated[@SystemTime >= '$sinceXPath']]]"
        $eventQuery = [System.Diagnostics.Eventing.Reader.EventLogQuery]::new('Security', [System.Diagnostics.Eventing.Reader.PathType]::LogName, $query)
        $selector = [System.Diagnostics.Eventing.Reader.EventLogPropertySelector]::new([string[]]@(
                "Event/EventData/Data[@Name='TargetUserName']",
                "Event/EventData/Data[@Name='IpAddress']"
            ))
        $reader = [System.Diagnostics.Eventing.Reader.EventLogReader]::new($eventQuery)
        $count = [int64]0
        $byAccount = @{}
        try {
            while ($true) {
                $record = $reader.ReadEvent()
                if ($null -eq $record) {
                    break
                }
                try {
                    $values = $record.GetPropertyValues($selector)
                    $user = [string]$values[0]
                    $address = [string]$values[1]
                }
                finally {
                    $record.Dispose()
                }
                $count++
                $key = "$user`n$address"
                if ($byAccount.ContainsKey($key)) {
                    $byAccount[$key]['count'] += 1
                }
                else {
                    $byAccount[$key] = @{ TargetUserName = $user; IpAddress = $address; count = [int64]1 }
                }
            }
        }
        finally {
            $reader.Dispose()
        }
        $top = @($byAccount.Values | Sort-Object -Property @{ Expression = { $_['count'] }; Descending = $true }, @{ Expression = { $_['TargetUserName'] } }, @{ Expression = { $_['IpAddress'] } } | Select-Object -First 10)
        $accounts = [System.Collections.Generic.List[object]]::new()
        foreach ($entry in $top) {
            $accounts.Add($entry)
        }
        @{
            count = $count
            by_account = $accounts
        }
    }

    # Load: processor, memory, disk and network from the formatted performance
    # counters. Formatted counters are computed between two samples, so the
    # classes are read twice, one second apart, and the second reading is used.
    # https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-perfformatteddata
    # https://learn.microsoft.com/en-us/previous-versions/aa394271(v=vs.85)
    # https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem
    $health.load = Read-Section -Module $module -Section 'health.load' -Read {
        $perfClasses = @(
            'Win32_PerfFormattedData_PerfOS_Processor',
            'Win32_PerfFormattedData_PerfDisk_PhysicalDisk',
            'Win32_PerfFormattedData_Tcpip_NetworkInterface'
        )
        foreach ($className in $perfClasses) {
            $null = @(Get-CimInstance -ClassName $className)
        }
        Start-Sleep -Seconds 1

        $load = @{
            cpu_percent = $null
            memory_percent = $null
            disk_busy_percent = $null
            network_bytes_per_sec = $null
            temperature_celsius = $null
        }
        $cpu = Get-CimInstance -ClassName Win32_PerfFormattedData_PerfOS_Processor -Filter "Name = '_Total'"
        if ($null -ne $cpu) {
            $load.cpu_percent = [double]$cpu.PercentProcessorTime
        }
        # TotalVisibleMemorySize and FreePhysicalMemory are KiB.
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        if ($os.TotalVisibleMemorySize -gt 0) {
            $used = [double]$os.TotalVisibleMemorySize - [double]$os.FreePhysicalMemory
            $load.memory_percent = [math]::Round($used * 100.0 / [double]$os.TotalVisibleMemorySize, 1)
        }
        # Busy time is 100 - % Idle Time (% Disk Time can exceed 100 with queued I/O).
        $physicalDisk = Get-CimInstance -ClassName Win32_PerfFormattedData_PerfDisk_PhysicalDisk -Filter "Name = '_Total'"
        if ($null -ne $physicalDisk) {
            $busy = 100.0 - [double]$physicalDisk.PercentIdleTime
            $load.disk_busy_percent = [math]::Max(0.0, [math]::Min(100.0, $busy))
        }
        $network = [int64]0
        foreach ($interface in @(Get-CimInstance -ClassName Win32_PerfFormattedData_Tcpip_NetworkInterface)) {
            $network += [int64]$interface.BytesTotalPersec
        }
        $load.network_bytes_per_sec = $network
        # ACPI thermal zones, when the firmware exposes them (often not on
        # servers and virtual machines): CurrentTemperature is in tenths of a
        # kelvin, as ACPI _TMP reports it.
        try {
            $zones = @(Get-CimInstance -Namespace 'root/wmi' -ClassName MSAcpi_ThermalZoneTemperature -ErrorAction Stop)
            $hottest = $null
            foreach ($zone in $zones) {
                $celsius = [math]::Round(([double]$zone.CurrentTemperature / 10.0) - 273.15, 1)
                if ($null -eq $hottest -or $celsius -gt $hottest) {
                    $hottest = $celsius
                }
            }
            $load.temperature_celsius = $hottest
        }
        catch {
            $load.temperature_celsius = $null
        }
        $load
    }
}

$module.Result.health = $health
$module.ExitJson()
