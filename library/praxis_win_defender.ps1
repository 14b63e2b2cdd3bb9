#!powershell

# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# praxis_win_defender (WP-05, docs/workplaces.md): Microsoft Defender Antivirus settings, attack
# surface reduction rules, the allow list (exclusions) and the allow/block list by threat id, and a
# signature update. Reads and writes the MSFT_MpPreference object through the Defender cmdlets and
# returns its properties under their own names, with numbers for the enum values, as
# Get-MpPreference gives them.
#
# https://learn.microsoft.com/en-us/powershell/module/defender/get-mppreference
# https://learn.microsoft.com/en-us/powershell/module/defender/set-mppreference

$spec = @{
    options = @{
        realtime = @{ type = 'bool'; default = $true }
        cloud_protection = @{ type = 'str'; choices = @('advanced', 'basic', 'off'); default = 'advanced' }
        submit_samples = @{ type = 'str'; choices = @('safe', 'never', 'all'); default = 'safe' }
        pua = @{ type = 'str'; choices = @('enabled', 'audit', 'disabled'); default = 'enabled' }
        network_protection = @{ type = 'str'; choices = @('enabled', 'audit', 'disabled'); default = 'enabled' }
        asr_rules = @{ type = 'dict' }
        exclusion_paths = @{ type = 'list'; elements = 'str' }
        exclusion_processes = @{ type = 'list'; elements = 'str' }
        exclusion_extensions = @{ type = 'list'; elements = 'str' }
        threat_actions = @{ type = 'dict' }
        exclusive = @{ type = 'bool'; default = $true }
        update_signatures = @{ type = 'bool'; default = $true }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$exclusive = $module.Params.exclusive

# Option words to the numbers Set-MpPreference takes and Get-MpPreference returns.
# MAPSReporting: 0 Disabled, 1 Basic, 2 Advanced. SubmitSamplesConsent: 0 AlwaysPrompt,
# 1 SendSafeSamples, 2 NeverSend, 3 SendAllSamples. PUAProtection and EnableNetworkProtection:
# 0 Disabled, 1 Enabled, 2 AuditMode (set-mppreference page above).
$cloudValues = @{ advanced = 2; basic = 1; off = 0 }
$sampleValues = @{ safe = 1; never = 2; all = 3 }
$modeValues = @{ enabled = 1; audit = 2; disabled = 0 }
# ASR rule modes: 0 Not configured or Disabled, 1 Block, 2 Audit, 6 Warn.
# https://learn.microsoft.com/en-us/defender-endpoint/attack-surface-reduction-rules-reference
$asrValues = @{ block = 1; audit = 2; warn = 6; disabled = 0 }
# ThreatIDDefaultAction_Actions: 2 Quarantine, 3 Remove, 6 Allow, 10 Block (set-mppreference page).
$threatValues = @{ allow = 6; block = 10; quarantine = 2; remove = 3 }

$exclusionOptions = [ordered]@{
    ExclusionPath = 'exclusion_paths'
    ExclusionProcess = 'exclusion_processes'
    ExclusionExtension = 'exclusion_extensions'
}

$module.Result.changed = $false
$module.Result.preferences = $null
$module.Result.status = $null

function Format-PraxisTime {
    # ISO 8601 with offset (docs/workplaces.md, "Values on the wire"); CIM times arrive as local time.
    param([object]$Value)
    if ($Value -isnot [datetime]) {
        return $null
    }
    if ($Value.Kind -eq [System.DateTimeKind]::Unspecified) {
        $Value = [datetime]::SpecifyKind($Value, [System.DateTimeKind]::Local)
    }
    return $Value.ToString('o')
}

function Get-SortedText {
    # Strings without duplicates (case-insensitive, as Defender compares paths), in a stable order.
    param([object]$Values)
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    $list = [System.Collections.Generic.List[string]]::new()
    foreach ($value in @($Values)) {
        if ($null -ne $value -and [string]$value -ne '' -and $seen.Add([string]$value)) {
            $list.Add([string]$value)
        }
    }
    $list.Sort([System.StringComparer]::OrdinalIgnoreCase)
    return , $list.ToArray()
}

function ConvertTo-PraxisRuleMap {
    # Two parallel arrays of Get-MpPreference (Ids, Actions) as one map id -> number.
    param([object]$Ids, [object]$Actions, [switch]$NumericIds)
    $map = [ordered]@{}
    $idList = @($Ids | Where-Object { $null -ne $_ })
    $actionList = @($Actions | Where-Object { $null -ne $_ })
    for ($i = 0; $i -lt [Math]::Min($idList.Count, $actionList.Count); $i++) {
        if ($NumericIds) {
            $map[[string][int64]$idList[$i]] = [int]$actionList[$i]
        }
        else {
            $map[([string]$idList[$i]).ToLowerInvariant()] = [int]$actionList[$i]
        }
    }
    return $map
}

function Get-PraxisRuleKey {
    # The keys of a rule map in a stable order: GUIDs as text, threat ids as numbers.
    param([System.Collections.IDictionary]$Map, [switch]$NumericIds)
    if ($NumericIds) {
        return , [string[]]@($Map.Keys | Sort-Object -Property { [int64]$_ })
    }
    return , [string[]]@($Map.Keys | Sort-Object)
}

function ConvertTo-PraxisPreference {
    # The managed preferences as a flat dict under the Get-MpPreference property names.
    param([bool]$DisableRealtimeMonitoring, [int]$MAPSReporting, [int]$SubmitSamplesConsent,
        [int]$PUAProtection, [int]$EnableNetworkProtection, [System.Collections.IDictionary]$Asr,
        [System.Collections.IDictionary]$Threat, [System.Collections.IDictionary]$Exclusion)
    $asrIds = Get-PraxisRuleKey -Map $Asr
    $threatIds = Get-PraxisRuleKey -Map $Threat -NumericIds
    return @{
        DisableRealtimeMonitoring = $DisableRealtimeMonitoring
        MAPSReporting = $MAPSReporting
        SubmitSamplesConsent = $SubmitSamplesConsent
        PUAProtection = $PUAProtection
        EnableNetworkProtection = $EnableNetworkProtection
        AttackSurfaceReductionRules_Ids = $asrIds
        AttackSurfaceReductionRules_Actions = [int[]]@($asrIds | ForEach-Object { $Asr[$_] })
        ThreatIDDefaultAction_Ids = [int64[]]@($threatIds | ForEach-Object { [int64]$_ })
        ThreatIDDefaultAction_Actions = [int[]]@($threatIds | ForEach-Object { $Threat[$_] })
        ExclusionPath = $Exclusion.ExclusionPath
        ExclusionProcess = $Exclusion.ExclusionProcess
        ExclusionExtension = $Exclusion.ExclusionExtension
    }
}

function Read-PraxisPreference {
    # https://learn.microsoft.com/en-us/powershell/module/defender/get-mppreference
    try {
        $pref = Get-MpPreference -ErrorAction Stop
    }
    catch {
        $module.FailJson("Cannot read the Microsoft Defender preferences (is Defender the active antivirus?): " +
            $_.Exception.Message, $_)
    }
    $exclusion = @{}
    foreach ($name in $exclusionOptions.Keys) {
        $values = Get-SortedText -Values $pref.$name
        foreach ($value in $values) {
            # Without administrator rights Defender shows a placeholder instead of the list.
            if ($value.StartsWith('N/A')) {
                $module.FailJson("Get-MpPreference does not show $name to this account; the connecting " +
                    'account needs administrator rights')
            }
        }
        $exclusion[$name] = $values
    }
    return @{
        DisableRealtimeMonitoring = [bool]$pref.DisableRealtimeMonitoring
        MAPSReporting = [int]$pref.MAPSReporting
        SubmitSamplesConsent = [int]$pref.SubmitSamplesConsent
        PUAProtection = [int]$pref.PUAProtection
        EnableNetworkProtection = [int]$pref.EnableNetworkProtection
        Asr = ConvertTo-PraxisRuleMap -Ids $pref.AttackSurfaceReductionRules_Ids `
            -Actions $pref.AttackSurfaceReductionRules_Actions
        Threat = ConvertTo-PraxisRuleMap -Ids $pref.ThreatIDDefaultAction_Ids `
            -Actions $pref.ThreatIDDefaultAction_Actions -NumericIds
        Exclusion = $exclusion
    }
}

function Get-PraxisStatus {
    # The subset of Get-MpComputerStatus that praxis_win_facts reports; IsTamperProtected is only
    # reported: tamper protection is managed in the Defender portal.
    # https://learn.microsoft.com/en-us/powershell/module/defender/get-mpcomputerstatus
    try {
        $status = Get-MpComputerStatus -ErrorAction Stop
    }
    catch {
        $module.FailJson("Cannot read the Microsoft Defender status: $($_.Exception.Message)", $_)
    }
    return @{
        AMServiceEnabled = $status.AMServiceEnabled
        AntivirusEnabled = $status.AntivirusEnabled
        RealTimeProtectionEnabled = $status.RealTimeProtectionEnabled
        IsTamperProtected = $status.IsTamperProtected
        AntivirusSignatureVersion = [string]$status.AntivirusSignatureVersion
        AntivirusSignatureLastUpdated = Format-PraxisTime -Value $status.AntivirusSignatureLastUpdated
        AntivirusSignatureAge = $status.AntivirusSignatureAge
        AMProductVersion = [string]$status.AMProductVersion
        AMRunningMode = [string]$status.AMRunningMode
    }
}

function Test-PraxisSame {
    # Equal for the purpose of the diff: lists compare element by element, case-insensitively.
    param([object]$Left, [object]$Right)
    return ((@($Left) -join "`n") -eq (@($Right) -join "`n"))
}

function Get-PraxisRuleWanted {
    # Validate a dict option (rule -> word) and return it as map key -> number.
    param([string]$Option, [System.Collections.IDictionary]$Value, [hashtable]$Words, [switch]$NumericIds)
    $map = [ordered]@{}
    $allowed = ($Words.Keys | Sort-Object) -join ', '
    foreach ($entry in $Value.GetEnumerator()) {
        $key = [string]$entry.Key
        if ($NumericIds) {
            $threatId = [int64]0
            if (-not [int64]::TryParse($key, [ref]$threatId) -or $threatId -le 0) {
                $module.FailJson("$($Option): '$key' is not a threat id (a positive number, as Defender reports " +
                    'it in ThreatID)')
            }
            $key = [string]$threatId
        }
        else {
            if ($key -notmatch '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$') {
                $module.FailJson("$($Option): '$key' is not an ASR rule GUID (xxxxxxxx-xxxx-xxxx-xxxx-" +
                    'xxxxxxxxxxxx); see https://learn.microsoft.com/en-us/defender-endpoint/' +
                    'attack-surface-reduction-rules-reference')
            }
            $key = $key.ToLowerInvariant()
        }
        $word = ([string]$entry.Value).ToLowerInvariant()
        if (-not $Words.ContainsKey($word)) {
            $module.FailJson("$($Option): '$([string]$entry.Value)' for '$([string]$entry.Key)' must be " +
                "one of $allowed")
        }
        if ($map.Contains($key)) {
            $module.FailJson("$($Option): '$([string]$entry.Key)' is listed twice")
        }
        $map[$key] = $Words[$word]
    }
    return $map
}

function Merge-PraxisRule {
    # The rule map after the change: exactly the wanted rules when exclusive, else current + wanted.
    param([System.Collections.IDictionary]$Current, [System.Collections.IDictionary]$Wanted)
    if ($null -eq $Wanted) {
        return $Current
    }
    $merged = [ordered]@{}
    if (-not $exclusive) {
        foreach ($key in $Current.Keys) {
            $merged[$key] = $Current[$key]
        }
    }
    foreach ($key in $Wanted.Keys) {
        $merged[$key] = $Wanted[$key]
    }
    return $merged
}

function Test-PraxisRuleSame {
    param([System.Collections.IDictionary]$Left, [System.Collections.IDictionary]$Right)
    if ($Left.Count -ne $Right.Count) {
        return $false
    }
    foreach ($key in $Left.Keys) {
        if (-not $Right.Contains($key) -or $Right[$key] -ne $Left[$key]) {
            return $false
        }
    }
    return $true
}

function ConvertTo-PraxisFlat {
    param([hashtable]$State)
    return ConvertTo-PraxisPreference -DisableRealtimeMonitoring $State.DisableRealtimeMonitoring `
        -MAPSReporting $State.MAPSReporting -SubmitSamplesConsent $State.SubmitSamplesConsent `
        -PUAProtection $State.PUAProtection -EnableNetworkProtection $State.EnableNetworkProtection `
        -Asr $State.Asr -Threat $State.Threat -Exclusion $State.Exclusion
}

if (-not (Get-Command -Name 'Get-MpPreference' -ErrorAction SilentlyContinue)) {
    $module.FailJson('The Microsoft Defender cmdlets are not available on this host (Defender is not installed)')
}

# Validate the dict options before anything is read or changed.
$wantedAsr = $null
if ($null -ne $module.Params.asr_rules) {
    $wantedAsr = Get-PraxisRuleWanted -Option 'asr_rules' -Value $module.Params.asr_rules -Words $asrValues
}
$wantedThreat = $null
if ($null -ne $module.Params.threat_actions) {
    $wantedThreat = Get-PraxisRuleWanted -Option 'threat_actions' -Value $module.Params.threat_actions `
        -Words $threatValues -NumericIds
}

$before = Read-PraxisPreference

# The wanted state: scalars always, lists and rule maps only when their option is given.
$wanted = @{
    DisableRealtimeMonitoring = -not $module.Params.realtime
    MAPSReporting = $cloudValues[$module.Params.cloud_protection]
    SubmitSamplesConsent = $sampleValues[$module.Params.submit_samples]
    PUAProtection = $modeValues[$module.Params.pua]
    EnableNetworkProtection = $modeValues[$module.Params.network_protection]
    Asr = Merge-PraxisRule -Current $before.Asr -Wanted $wantedAsr
    Threat = Merge-PraxisRule -Current $before.Threat -Wanted $wantedThreat
    Exclusion = @{}
}

$exclusionAdd = @{}
$exclusionRemove = @{}
$ignoreCase = [System.StringComparer]::OrdinalIgnoreCase
foreach ($name in $exclusionOptions.Keys) {
    $current = $before.Exclusion[$name]
    $option = $module.Params[$exclusionOptions[$name]]
    $add = [System.Collections.Generic.List[string]]::new()
    $remove = [System.Collections.Generic.List[string]]::new()
    if ($null -ne $option) {
        $listed = Get-SortedText -Values $option
        $currentSet = [System.Collections.Generic.HashSet[string]]::new([string[]]$current, $ignoreCase)
        $listedSet = [System.Collections.Generic.HashSet[string]]::new([string[]]$listed, $ignoreCase)
        foreach ($value in $listed) {
            if (-not $currentSet.Contains($value)) {
                $add.Add($value)
            }
        }
        if ($exclusive) {
            foreach ($value in $current) {
                if (-not $listedSet.Contains($value)) {
                    $remove.Add($value)
                }
            }
        }
    }
    $exclusionAdd[$name] = $add
    $exclusionRemove[$name] = $remove
    $removeSet = [System.Collections.Generic.HashSet[string]]::new([string[]]$remove.ToArray(), $ignoreCase)
    $kept = @($current | Where-Object { -not $removeSet.Contains($_) }) + @($add)
    $wanted.Exclusion[$name] = Get-SortedText -Values $kept
}

# Write only what differs; check mode writes nothing.
$setArgs = @{}
foreach ($name in @('DisableRealtimeMonitoring', 'MAPSReporting', 'SubmitSamplesConsent', 'PUAProtection',
        'EnableNetworkProtection')) {
    if ($wanted[$name] -ne $before[$name]) {
        $setArgs[$name] = $wanted[$name]
    }
}
$removeArgs = @{}
$ruleSets = @(
    @{ Key = 'Asr'; Ids = 'AttackSurfaceReductionRules_Ids'; Actions = 'AttackSurfaceReductionRules_Actions' },
    @{ Key = 'Threat'; Ids = 'ThreatIDDefaultAction_Ids'; Actions = 'ThreatIDDefaultAction_Actions' }
)
foreach ($ruleSet in $ruleSets) {
    $old = $before[$ruleSet.Key]
    $new = $wanted[$ruleSet.Key]
    if (Test-PraxisRuleSame -Left $old -Right $new) {
        continue
    }
    $flat = ConvertTo-PraxisFlat -State $wanted
    if ($new.Count -gt 0) {
        # Set-MpPreference replaces the whole list of rules (Add-MpPreference would append), so the
        # complete wanted list goes in one call.
        # https://learn.microsoft.com/en-us/defender-endpoint/enable-attack-surface-reduction
        $setArgs[$ruleSet.Ids] = $flat[$ruleSet.Ids]
        $setArgs[$ruleSet.Actions] = $flat[$ruleSet.Actions]
    }
    else {
        $oldFlat = ConvertTo-PraxisFlat -State $before
        $removeArgs[$ruleSet.Ids] = $oldFlat[$ruleSet.Ids]
    }
}

$exclusionChanged = $false
foreach ($name in $exclusionOptions.Keys) {
    if ($exclusionAdd[$name].Count -gt 0 -or $exclusionRemove[$name].Count -gt 0) {
        $exclusionChanged = $true
    }
}

if (-not $module.CheckMode) {
    try {
        if ($setArgs.Count -gt 0) {
            Set-MpPreference @setArgs -ErrorAction Stop
        }
        foreach ($name in $exclusionOptions.Keys) {
            if ($exclusionAdd[$name].Count -gt 0) {
                # https://learn.microsoft.com/en-us/powershell/module/defender/add-mppreference
                $addArgs = @{ $name = $exclusionAdd[$name].ToArray() }
                Add-MpPreference @addArgs -ErrorAction Stop
            }
            if ($exclusionRemove[$name].Count -gt 0) {
                # https://learn.microsoft.com/en-us/powershell/module/defender/remove-mppreference
                $removeOne = @{ $name = $exclusionRemove[$name].ToArray() }
                Remove-MpPreference @removeOne -ErrorAction Stop
            }
        }
        if ($removeArgs.Count -gt 0) {
            Remove-MpPreference @removeArgs -ErrorAction Stop
        }
    }
    catch {
        $module.FailJson("Cannot change the Microsoft Defender preferences: $($_.Exception.Message)", $_)
    }
}

$beforeFlat = ConvertTo-PraxisFlat -State $before
$wantedFlat = ConvertTo-PraxisFlat -State $wanted
if ($module.CheckMode) {
    $afterFlat = $wantedFlat
}
elseif ($setArgs.Count -gt 0 -or $removeArgs.Count -gt 0 -or $exclusionChanged) {
    $afterFlat = ConvertTo-PraxisFlat -State (Read-PraxisPreference)
    foreach ($name in $wantedFlat.Keys) {
        if (-not (Test-PraxisSame -Left $wantedFlat[$name] -Right $afterFlat[$name])) {
            # Tamper protection, or a Group Policy or Intune setting, wins over Set-MpPreference.
            $module.Warn("Defender kept $name at '$(@($afterFlat[$name]) -join ', ')' instead of " +
                "'$(@($wantedFlat[$name]) -join ', ')' (tamper protection or a policy manages it)")
        }
    }
}
else {
    $afterFlat = $beforeFlat
}

$preferencesChanged = $false
foreach ($name in $beforeFlat.Keys) {
    if (-not (Test-PraxisSame -Left $beforeFlat[$name] -Right $afterFlat[$name])) {
        $preferencesChanged = $true
    }
}

# Signatures: changed only when the version moved. Check mode cannot know, so it reports nothing.
# https://learn.microsoft.com/en-us/powershell/module/defender/update-mpsignature
$signaturesChanged = $false
$status = Get-PraxisStatus
if ($module.Params.update_signatures -and -not $module.CheckMode) {
    $versionBefore = $status.AntivirusSignatureVersion
    try {
        Update-MpSignature -ErrorAction Stop
    }
    catch {
        # The signature age check of praxis_win_health decides whether this matters.
        $module.Warn("Update-MpSignature failed: $($_.Exception.Message)")
    }
    $status = Get-PraxisStatus
    $signaturesChanged = $status.AntivirusSignatureVersion -ne $versionBefore
}

$module.Result.preferences = $afterFlat
$module.Result.status = $status
$module.Result.changed = $preferencesChanged -or $signaturesChanged
$module.Diff.before = $beforeFlat
$module.Diff.after = $afterFlat

$module.ExitJson()
