# praxisops practice-data backup (WP-12), installed by the role practice_backup.
#   praxis-backup.ps1 run    dump (if configured), then restic backup into every repository;
#                            last-<repository>.json per repository; exit 1 when anything failed
#   praxis-backup.ps1 init   create the repositories that do not exist yet (JSON on stdout)
# Configuration beside this script: backup.json (no secret), per repository <name>.env
# (RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, extra variables), <name>.password and, for sftp,
# <name>.ssh_key / <name>.known_hosts; the folder is readable by SYSTEM and Administrators only.
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('run', 'init')]
    [string]$Command
)
$ErrorActionPreference = 'Stop'
$configDir = Split-Path -Parent $MyInvocation.MyCommand.Path
$config = Get-Content -LiteralPath (Join-Path $configDir 'backup.json') -Raw | ConvertFrom-Json

function Get-Now {
    return [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')
}

function Read-RepositoryEnv([string]$Name) {
    $result = @{}
    foreach ($line in Get-Content -LiteralPath (Join-Path $configDir "$Name.env")) {
        if ($line -match '^\s*#' -or $line -notmatch '=') { continue }
        $key, $value = $line -split '=', 2
        $result[$key] = $value
    }
    return $result
}

function Get-SftpCommand([string]$Name, [string]$Url) {
    $key = Join-Path $configDir "$Name.ssh_key"
    $known = Join-Path $configDir "$Name.known_hosts"
    if (-not $Url.StartsWith('sftp:') -or -not ((Test-Path -LiteralPath $key) -or (Test-Path -LiteralPath $known))) {
        return $null
    }
    $m = [regex]::Match($Url, '^sftp://(?:(?<user>[^@/]+)@)?(?<host>\[[^\]]+\]|[^/:]+)(?::(?<port>\d+))?/')
    if (-not $m.Success) {
        $m = [regex]::Match($Url, '^sftp:(?:(?<user>[^@/]+)@)?(?<host>\[[^\]]+\]|[^/:]+):')
    }
    if (-not $m.Success) { throw "repository ${Name}: cannot read user and host from the sftp url" }
    if (Test-Path -LiteralPath $known) {
        $parts = @('ssh', '-o', "UserKnownHostsFile=$known", '-o', 'StrictHostKeyChecking=yes')
    }
    else {
        $learned = Join-Path $config.state_dir "known_hosts-$Name"
        $parts = @('ssh', '-o', "UserKnownHostsFile=$learned", '-o', 'StrictHostKeyChecking=accept-new')
    }
    $parts += @('-o', 'BatchMode=yes')
    if (Test-Path -LiteralPath $key) { $parts += @('-i', $key, '-o', 'IdentitiesOnly=yes') }
    if ($m.Groups['port'].Success) { $parts += @('-p', $m.Groups['port'].Value) }
    $hostName = $m.Groups['host'].Value.Trim('[', ']')
    if ($m.Groups['user'].Success) { $hostName = $m.Groups['user'].Value + '@' + $hostName }
    $parts += @($hostName, '-s', 'sftp')
    return ($parts -join ' ')
}

function Invoke-Restic([string]$Name, [string[]]$Arguments, [hashtable]$Environment) {
    $argv = @()
    $sftp = Get-SftpCommand -Name $Name -Url $Environment['RESTIC_REPOSITORY']
    if ($sftp) { $argv += @('-o', "sftp.command=$sftp") }
    $argv += $Arguments
    $saved = @{}
    foreach ($entry in $Environment.GetEnumerator()) {
        $saved[$entry.Key] = [Environment]::GetEnvironmentVariable($entry.Key, 'Process')
        [Environment]::SetEnvironmentVariable($entry.Key, $entry.Value, 'Process')
    }
    [Environment]::SetEnvironmentVariable('RESTIC_CACHE_DIR', (Join-Path $config.state_dir 'cache'), 'Process')
    $errFile = [IO.Path]::GetTempFileName()
    try {
        $output = & $config.restic @argv 2> $errFile
        $code = $LASTEXITCODE
        $errors = @(Get-Content -LiteralPath $errFile | Where-Object { $_.Trim() })
    }
    finally {
        Remove-Item -LiteralPath $errFile -Force -ErrorAction SilentlyContinue
        foreach ($entry in $saved.GetEnumerator()) {
            [Environment]::SetEnvironmentVariable($entry.Key, $entry.Value, 'Process')
        }
    }
    return [pscustomobject]@{ Code = $code; Output = @($output); Errors = $errors }
}

function Get-LastError($Result) {
    if ($Result.Errors.Count -gt 0) { $text = [string]$Result.Errors[-1] }
    else { $text = "restic exited with $($Result.Code)" }
    if ($text.Length -gt 500) { $text = $text.Substring(0, 500) }
    return $text
}

function Write-Status($Status) {
    $path = Join-Path $config.state_dir ("last-" + $Status.repository + ".json")
    $Status | ConvertTo-Json | Set-Content -LiteralPath "$path.tmp" -Encoding UTF8
    Move-Item -LiteralPath "$path.tmp" -Destination $path -Force
}

function Invoke-Dump {
    if (-not $config.dump) { return $null }
    $folder = Join-Path $config.state_dir 'dump'
    $null = New-Item -ItemType Directory -Path $folder -Force
    $target = Join-Path $folder $config.dump.file
    $partial = "$target.partial"
    $process = Start-Process -FilePath 'powershell.exe' -NoNewWindow -Wait -PassThru `
        -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', $config.dump.command) `
        -RedirectStandardOutput $partial
    if ($process.ExitCode -ne 0) {
        Remove-Item -LiteralPath $partial -Force -ErrorAction SilentlyContinue
        return "dump: the command exited with $($process.ExitCode)"
    }
    if ($config.dump.header) {
        $expected = [Text.Encoding]::ASCII.GetBytes($config.dump.header)
        $stream = [IO.File]::OpenRead($partial)
        try {
            $buffer = New-Object byte[] $expected.Length
            $read = $stream.Read($buffer, 0, $expected.Length)
        }
        finally { $stream.Dispose() }
        if ($read -ne $expected.Length -or [Convert]::ToBase64String($buffer) -ne [Convert]::ToBase64String($expected)) {
            Remove-Item -LiteralPath $partial -Force
            return "dump: the output does not start with '$($config.dump.header)'"
        }
    }
    Move-Item -LiteralPath $partial -Destination $target -Force
    return $null
}

function Invoke-Backup {
    $failed = $false
    $started = Get-Now
    $dumpError = Invoke-Dump
    $paths = @($config.paths)
    if ($config.dump) { $paths += (Join-Path $config.state_dir 'dump') }
    $arguments = @('backup', '--json', '--host', $config.host)
    foreach ($tag in $config.tags) { $arguments += @('--tag', $tag) }
    foreach ($pattern in $config.exclude) { $arguments += @('--exclude', $pattern) }
    $arguments += '--'
    $arguments += $paths
    foreach ($name in $config.repositories) {
        $status = [ordered]@{
            repository = $name; started = $started; finished = $null; ok = $false; snapshot_id = $null
            error = $dumpError
        }
        if (-not $dumpError) {
            try {
                $result = Invoke-Restic -Name $name -Arguments $arguments -Environment (Read-RepositoryEnv $name)
                $summary = $null
                foreach ($line in $result.Output) {
                    try { $message = [string]$line | ConvertFrom-Json } catch { continue }
                    if ($message.message_type -eq 'summary') { $summary = $message }
                }
                if ($result.Code -eq 0 -and $summary -and $summary.snapshot_id) {
                    $status.ok = $true
                    $status.snapshot_id = [string]$summary.snapshot_id
                    if ($status.snapshot_id.Length -lt 64) {
                        # older restic reports the short id in its summary: the full one for the status
                        $listed = Invoke-Restic -Name $name -Arguments @('snapshots', '--json', '--no-lock', $status.snapshot_id) `
                            -Environment (Read-RepositoryEnv $name)
                        try {
                            $full = @(($listed.Output -join "`n") | ConvertFrom-Json) | Where-Object { $_.id.StartsWith($status.snapshot_id) }
                            if ($full) { $status.snapshot_id = [string]@($full)[0].id }
                        }
                        catch { $null = $_ }
                    }
                }
                else { $status.error = Get-LastError $result }
            }
            catch { $status.error = [string]$_.Exception.Message }
        }
        $status.finished = Get-Now
        if (-not $status.ok) { $failed = $true }
        Write-Status $status
        [Console]::Out.WriteLine(($status | ConvertTo-Json -Compress))
    }
    if ($failed) { return 1 }
    return 0
}

function Initialize-Repositories {
    $created = @()
    $failed = [ordered]@{}
    foreach ($name in $config.repositories) {
        $environment = Read-RepositoryEnv $name
        $probe = Invoke-Restic -Name $name -Arguments @('cat', 'config') -Environment $environment
        if ($probe.Code -eq 0) { continue }
        if (-not (($probe.Errors -join "`n") -match 'Is there a repository at the following location\?|repository does not exist')) {
            $failed[$name] = Get-LastError $probe
            continue
        }
        $made = Invoke-Restic -Name $name -Arguments @('init') -Environment $environment
        if ($made.Code -eq 0) { $created += $name } else { $failed[$name] = Get-LastError $made }
    }
    [Console]::Out.WriteLine((@{ initialised = @($created); failed = $failed } | ConvertTo-Json -Compress))
    if ($failed.Count -gt 0) { return 1 }
    return 0
}

$null = New-Item -ItemType Directory -Path $config.state_dir -Force
if ($Command -eq 'run') { $code = Invoke-Backup } else { $code = Initialize-Repositories }
exit $code
