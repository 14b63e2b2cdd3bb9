#!powershell

# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#Requires -Module Ansible.ModuleUtils.PraxisWindows

# praxis_win_cleanup (WP-07): temporary files, browser caches, and the archive
# and limit of event logs. Only files older than min_age_hours are removed;
# a file in use is skipped and counted; links (junctions, symbolic links, any
# reparse point) are neither followed nor removed, so nothing outside the
# cleaned folders is touched. Folders are left in place. Check mode removes
# and writes nothing and reports what would be freed and archived.

$spec = @{
    options = @{
        temp = @{ type = 'bool'; default = $true }
        browser_caches = @{ type = 'bool'; default = $true }
        min_age_hours = @{ type = 'int'; default = 24 }
        event_logs = @{
            type = 'dict'
            options = @{
                archive_dir = @{ type = 'path'; required = $true }
                older_than_days = @{ type = 'int'; default = 90 }
                max_size_kb = @{ type = 'int' }
                logs = @{ type = 'list'; elements = 'str'; default = @('Application', 'System', 'Security') }
                clear = @{ type = 'bool'; default = $false }
            }
        }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$checkMode = $module.CheckMode

if ($module.Params.min_age_hours -lt 1) {
    $module.FailJson("min_age_hours must be 1 or more, got $($module.Params.min_age_hours)")
}
$eventLogOptions = $module.Params.event_logs
if ($null -ne $eventLogOptions) {
    if ($eventLogOptions['older_than_days'] -lt 1) {
        $module.FailJson("event_logs.older_than_days must be 1 or more, got $($eventLogOptions['older_than_days'])")
    }
    # The event log service takes sizes from 1 MiB on, in steps of 64 KiB.
    if ($null -ne $eventLogOptions['max_size_kb'] -and $eventLogOptions['max_size_kb'] -lt 1024) {
        $module.FailJson("event_logs.max_size_kb must be 1024 or more, got $($eventLogOptions['max_size_kb'])")
    }
}

$invariant = [System.Globalization.CultureInfo]::InvariantCulture
$cutoffUtc = [datetime]::UtcNow.AddHours(-1 * $module.Params.min_age_hours)
$reparsePoint = [System.IO.FileAttributes]::ReparsePoint

$state = @{
    removed = [int64]0
    skipped = [int64]0
    freed = [int64]0
}
$areas = @{
    system_temp = [int64]0
    user_temp = [int64]0
    edge = [int64]0
    chrome = [int64]0
    firefox = [int64]0
}

Function Test-ReparsePoint($Info) {
    # https://learn.microsoft.com/en-us/dotnet/api/system.io.fileattributes
    return (($Info.Attributes -band $reparsePoint) -eq $reparsePoint)
}

Function Get-ChildFolder($Path) {
    # The subfolders of a folder that are real folders, not links.
    # https://learn.microsoft.com/en-us/dotnet/api/system.io.directoryinfo.getdirectories
    $info = [System.IO.DirectoryInfo]::new($Path)
    if (-not $info.Exists -or (Test-ReparsePoint -Info $info)) {
        return
    }
    try {
        $children = $info.GetDirectories()
    }
    catch {
        return
    }
    foreach ($child in $children) {
        if (-not (Test-ReparsePoint -Info $child)) {
            $child.FullName
        }
    }
}

Function Clear-Folder($Path, $Area) {
    # Removes the files below $Path whose newest of creation and last write time
    # is before the cutoff. Creation time counts because an installer that
    # unpacks into a temp folder keeps the archive's old write times.
    # https://learn.microsoft.com/en-us/dotnet/api/system.io.directoryinfo.getfilesysteminfos
    # https://learn.microsoft.com/en-us/dotnet/api/system.io.fileinfo.delete
    $root = [System.IO.DirectoryInfo]::new($Path)
    if (-not $root.Exists -or (Test-ReparsePoint -Info $root)) {
        return
    }
    $pending = [System.Collections.Generic.Stack[System.IO.DirectoryInfo]]::new()
    $pending.Push($root)
    while ($pending.Count -gt 0) {
        $folder = $pending.Pop()
        try {
            $entries = $folder.GetFileSystemInfos()
        }
        catch {
            # A folder this account cannot list is left as it is.
            continue
        }
        foreach ($entry in $entries) {
            try {
                if (Test-ReparsePoint -Info $entry) {
                    continue
                }
                if ($entry -is [System.IO.DirectoryInfo]) {
                    $pending.Push($entry)
                    continue
                }
                $newest = $entry.LastWriteTimeUtc
                if ($entry.CreationTimeUtc -gt $newest) {
                    $newest = $entry.CreationTimeUtc
                }
                if ($newest -gt $cutoffUtc) {
                    continue
                }
                $size = [int64]$entry.Length
            }
            catch {
                # The file went away or cannot be read while looking at it.
                continue
            }
            if (-not $checkMode) {
                try {
                    $entry.Delete()
                }
                catch {
                    # In use (sharing violation), read-only or access denied.
                    $state.skipped += 1
                    continue
                }
            }
            $state.removed += 1
            $state.freed += $size
            $areas[$Area] += $size
        }
    }
}

# The folders to clean, each once.
$targets = [System.Collections.Generic.List[object]]::new()
$seenFolders = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
Function Add-Target($Path, $Area) {
    if ($seenFolders.Add($Path)) {
        $targets.Add(@{ path = $Path; area = $Area })
    }
}

if ($module.Params.temp -or $module.Params.browser_caches) {
    # Every profile on the host, including the service profiles.
    # https://learn.microsoft.com/en-us/previous-versions/windows/desktop/legacy/ee886409(v=vs.85)
    try {
        $profiles = @(Get-CimInstance -ClassName Win32_UserProfile | Where-Object { -not [string]::IsNullOrEmpty($_.LocalPath) })
    }
    catch {
        $module.FailJson("Win32_UserProfile could not be read: $($_.Exception.Message)", $_)
    }

    if ($module.Params.temp) {
        Add-Target -Path ([System.IO.Path]::Combine($env:SystemRoot, 'Temp')) -Area 'system_temp'
        foreach ($userProfile in $profiles) {
            Add-Target -Path ([System.IO.Path]::Combine($userProfile.LocalPath, 'AppData\Local\Temp')) -Area 'user_temp'
        }
    }

    if ($module.Params.browser_caches) {
        $chromiumBrowsers = @(
            @{ area = 'edge'; path = 'AppData\Local\Microsoft\Edge\User Data' },
            @{ area = 'chrome'; path = 'AppData\Local\Google\Chrome\User Data' }
        )
        foreach ($userProfile in $profiles) {
            # Edge and Chrome: every browser profile (Default, Profile 1, ...).
            foreach ($browser in $chromiumBrowsers) {
                $userData = [System.IO.Path]::Combine($userProfile.LocalPath, $browser.path)
                foreach ($browserProfile in @(Get-ChildFolder -Path $userData)) {
                    foreach ($cache in @('Cache', 'Code Cache', 'GPUCache')) {
                        Add-Target -Path ([System.IO.Path]::Combine($browserProfile, $cache)) -Area $browser.area
                    }
                }
            }
            # Firefox keeps its cache beside the profile, under AppData\Local.
            $firefoxProfiles = [System.IO.Path]::Combine($userProfile.LocalPath, 'AppData\Local\Mozilla\Firefox\Profiles')
            foreach ($browserProfile in @(Get-ChildFolder -Path $firefoxProfiles)) {
                Add-Target -Path ([System.IO.Path]::Combine($browserProfile, 'cache2')) -Area 'firefox'
            }
        }
    }
}

foreach ($target in $targets) {
    Clear-Folder -Path $target.path -Area $target.area
}

# Event logs: archive, then limit or clear.
# https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogsession
# https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogsession.exportlogandmessages
# https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogsession.clearlog
# https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventlogconfiguration
# https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.eventing.reader.eventloginformation.recordcount
# XPath with timediff: https://learn.microsoft.com/en-us/windows/win32/wes/consuming-events
# Measure-EventRecord (module_utils/Ansible.ModuleUtils.PraxisWindows.psm1)
# counts what a query selects, in a log or an .evtx file.
$logNameType = [System.Diagnostics.Eventing.Reader.PathType]::LogName
$filePathType = [System.Diagnostics.Eventing.Reader.PathType]::FilePath
$stampFormat = "yyyyMMdd'T'HHmmssfff'Z'"

Function Get-RecordCount($Path, $PathType) {
    $information = [System.Diagnostics.Eventing.Reader.EventLogSession]::GlobalSession.GetLogInformation($Path, $PathType)
    if ($null -eq $information.RecordCount) {
        return [int64]0
    }
    return [int64]$information.RecordCount
}

Function Get-LastArchiveCutoff($Folder, $SafeName) {
    # The newest cutoff an earlier run archived up to, from this module's own
    # file names (<log>-until-<UTC time>.evtx), so each run exports only the
    # entries that became old since.
    if (-not (Test-Path -LiteralPath $Folder -PathType Container)) {
        return $null
    }
    $pattern = '^' + [regex]::Escape($SafeName) + '-until-(\d{8}T\d{9}Z)\.evtx$'
    $latest = $null
    foreach ($file in @(Get-ChildItem -LiteralPath $Folder -File)) {
        $match = [regex]::Match($file.Name, $pattern)
        if (-not $match.Success) {
            continue
        }
        $parsed = [datetime]::MinValue
        $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal -bor [System.Globalization.DateTimeStyles]::AdjustToUniversal
        if ([datetime]::TryParseExact($match.Groups[1].Value, $stampFormat, $invariant, $styles, [ref]$parsed)) {
            if ($null -eq $latest -or $parsed -gt $latest) {
                $latest = $parsed
            }
        }
    }
    return $latest
}

$eventLogResults = [System.Collections.Generic.List[object]]::new()
$eventLogsChanged = $false
if ($null -ne $eventLogOptions) {
    $archiveDir = $eventLogOptions['archive_dir']
    $ageMilliseconds = [int64]$eventLogOptions['older_than_days'] * 86400000
    $ageFilter = "TimeCreated[timediff(@SystemTime) >= $ageMilliseconds]"
    $session = [System.Diagnostics.Eventing.Reader.EventLogSession]::GlobalSession
    $nowUtc = [datetime]::UtcNow
    $logCutoffUtc = $nowUtc.AddMilliseconds(-1 * $ageMilliseconds)
    $wantedBytes = $null
    if ($null -ne $eventLogOptions['max_size_kb']) {
        # Rounded up to the 64 KiB steps the event log service uses.
        $wantedBytes = [int64]([math]::Ceiling(([int64]$eventLogOptions['max_size_kb'] * 1024) / 65536.0)) * 65536
    }

    if (-not $checkMode -and -not (Test-Path -LiteralPath $archiveDir -PathType Container)) {
        try {
            $null = New-Item -ItemType Directory -Path $archiveDir -Force
        }
        catch {
            $module.FailJson("The archive folder '$archiveDir' could not be created: $($_.Exception.Message)", $_)
        }
    }

    foreach ($logName in $eventLogOptions['logs']) {
        $safeName = $logName -replace '[^A-Za-z0-9.-]', '_'
        $entry = @{
            LogName = $logName
            archived_to = $null
            archived_records = [int64]0
            cleared = $false
            maximum_size_kb = $null
        }
        try {
            $config = [System.Diagnostics.Eventing.Reader.EventLogConfiguration]::new($logName)
        }
        catch {
            $module.FailJson("The event log '$logName' could not be opened: $($_.Exception.Message)", $_)
        }

        try {
            $oldQuery = "*[System[$ageFilter]]"
            if ($eventLogOptions['clear']) {
                # Clear only when the log holds entries older than the limit, so
                # that the log keeps about older_than_days and a second run
                # changes nothing. ClearLog writes the whole log to the backup
                # file and clears it in one call; without a backup path it
                # would clear without a copy, which this module never does.
                if ((Measure-EventRecord -Path $logName -PathType $logNameType -Query $oldQuery -Limit 1) -gt 0) {
                    $stamp = $nowUtc.ToString($stampFormat, $invariant)
                    $backupPath = [System.IO.Path]::Combine($archiveDir, "$safeName-cleared-$stamp.evtx")
                    # Never cleared without a copy; the Security log least of all.
                    if ([string]::IsNullOrWhiteSpace($backupPath)) {
                        if ($logName -eq 'Security') {
                            throw 'refusing to clear the Security log without a backup path'
                        }
                        throw 'refusing to clear an event log without a backup path'
                    }
                    $entry.archived_to = $backupPath
                    $entry.cleared = $true
                    $eventLogsChanged = $true
                    if ($checkMode) {
                        $entry.archived_records = Get-RecordCount -Path $logName -PathType $logNameType
                    }
                    else {
                        $session.ClearLog($logName, $backupPath)
                        $entry.archived_records = Get-RecordCount -Path $backupPath -PathType $filePathType
                    }
                }
            }
            else {
                # Export the entries that became older than the limit since the
                # last archive; the log itself keeps them until it wraps.
                $query = $oldQuery
                $lastCutoff = Get-LastArchiveCutoff -Folder $archiveDir -SafeName $safeName
                if ($null -ne $lastCutoff) {
                    $after = $lastCutoff.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", $invariant)
                    $query = "*[System[TimeCreated[timediff(@SystemTime) >= $ageMilliseconds and @SystemTime > '$after']]]"
                }
                $pendingRecords = Measure-EventRecord -Path $logName -PathType $logNameType -Query $query -Limit 0
                if ($pendingRecords -gt 0) {
                    $stamp = $logCutoffUtc.ToString($stampFormat, $invariant)
                    $archivePath = [System.IO.Path]::Combine($archiveDir, "$safeName-until-$stamp.evtx")
                    $entry.archived_to = $archivePath
                    $eventLogsChanged = $true
                    if ($checkMode) {
                        $entry.archived_records = $pendingRecords
                    }
                    else {
                        $session.ExportLogAndMessages($logName, $logNameType, $query, $archivePath)
                        $entry.archived_records = Get-RecordCount -Path $archivePath -PathType $filePathType
                    }
                }
            }

            # Limit the size. A size below the current file size takes effect
            # when the log is next cleared, so setting it removes no entry.
            if ($null -ne $wantedBytes -and $config.MaximumSizeInBytes -ne $wantedBytes) {
                $eventLogsChanged = $true
                if (-not $checkMode) {
                    $config.MaximumSizeInBytes = $wantedBytes
                    $config.SaveChanges()
                }
                $entry.maximum_size_kb = [int64]($wantedBytes / 1024)
            }
            else {
                $entry.maximum_size_kb = [int64]($config.MaximumSizeInBytes / 1024)
            }
        }
        catch {
            $module.FailJson("The event log '$logName' could not be archived or limited: $($_.Exception.Message)", $_)
        }
        finally {
            $config.Dispose()
        }
        $eventLogResults.Add($entry)
    }
}

$module.Result.changed = ($state.removed -gt 0) -or $eventLogsChanged
$module.Result.freed_bytes = $state.freed
$module.Result.areas = $areas
$module.Result.files_removed = $state.removed
$module.Result.files_skipped = $state.skipped
$module.Result.event_logs = $eventLogResults
$module.ExitJson()
