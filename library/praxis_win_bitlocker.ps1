#!powershell

# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#Requires -Module Ansible.ModuleUtils.PraxisWindows

# praxis_win_bitlocker (WP-04, docs/workplaces.md): turns BitLocker on for the system drive with a
# TPM or TPM+PIN protector, makes sure a recovery password protector exists, resumes suspended
# protection, and returns the volume as Get-BitLockerVolume reports it. The action plugin of the
# same name escrows the recovery passwords and strips them from the result.
#
# State comes only from BitLockerVolume objects (VolumeStatus, ProtectionStatus, KeyProtector),
# whose enum names are the same on German and English Windows; the text of the command-line
# BitLocker tool is localized and never read here.

$spec = @{
    options = @{
        mount_point = @{ type = 'str' }
        protector = @{ type = 'str'; choices = @('tpm', 'tpm_pin'); default = 'tpm' }
        pin = @{ type = 'str'; no_log = $true }
        encryption_method = @{
            type = 'str'
            choices = @('XtsAes256', 'XtsAes128', 'Aes256', 'Aes128')
            default = 'XtsAes256'
        }
        used_space_only = @{ type = 'bool'; default = $false }
        skip_hardware_test = @{ type = 'bool'; default = $false }
        escrow = @{ type = 'bool'; default = $true }
    }
    required_if = @(
        , @('protector', 'tpm_pin', @('pin'))
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$protector = $module.Params.protector
$pin = $module.Params.pin
$encryptionMethod = $module.Params.encryption_method
$usedSpaceOnly = $module.Params.used_space_only
$skipHardwareTest = $module.Params.skip_hardware_test
$escrow = $module.Params.escrow

$mountPoint = $module.Params.mount_point
if (-not $mountPoint) {
    $mountPoint = $env:SystemDrive
}
if ($mountPoint -match '^([A-Za-z]):?\\?$') {
    $mountPoint = $Matches[1].ToUpperInvariant() + ':'
}

$module.Result.changed = $false
$module.Result.actions = [System.Collections.Generic.List[string]]::new()
$module.Result.volume = $null
$module.Result.reboot_required = $false

function Get-PraxisVolume {
    # https://learn.microsoft.com/en-us/powershell/module/bitlocker/get-bitlockervolume
    try {
        return Get-BitLockerVolume -MountPoint $mountPoint -ErrorAction Stop
    }
    catch {
        $module.FailJson("Cannot read the BitLocker state of $($mountPoint): $($_.Exception.Message)", $_)
    }
}

function Test-PraxisProtector {
    # True when the volume has a key protector whose KeyProtectorType name matches the pattern
    # (RecoveryPassword; Tpm, TpmPin, TpmStartupKey, TpmPinStartupKey).
    param([object]$Volume, [string]$Pattern)
    foreach ($keyProtector in @($Volume.KeyProtector)) {
        if ($null -ne $keyProtector -and (ConvertTo-EnumName $keyProtector.KeyProtectorType) -match $Pattern) {
            return $true
        }
    }
    return $false
}

function Get-PraxisRecoveryPassword {
    # KeyProtector[].RecoveryPassword of every RecoveryPassword protector, for the escrow.
    param([object]$Volume)
    $found = [System.Collections.Generic.List[object]]::new()
    foreach ($keyProtector in @($Volume.KeyProtector)) {
        if ($null -eq $keyProtector -or (ConvertTo-EnumName $keyProtector.KeyProtectorType) -ne 'RecoveryPassword') {
            continue
        }
        if ([string]::IsNullOrEmpty($keyProtector.RecoveryPassword)) {
            $module.Warn("The recovery password of protector $($keyProtector.KeyProtectorId) on $($mountPoint) " +
                "cannot be read; the connecting account needs administrator rights")
            continue
        }
        $found.Add(@{
                KeyProtectorId = [string]$keyProtector.KeyProtectorId
                RecoveryPassword = [string]$keyProtector.RecoveryPassword
            })
    }
    return $found
}

function Get-PraxisSuspendCount {
    # Restarts left before Windows resumes protection by itself; $null when not suspended or unknown.
    # Windows (or a firmware update tool) suspends protection for N restarts before it changes
    # firmware or boot files; resuming early would make the next start ask for the recovery key.
    # https://learn.microsoft.com/en-us/windows/win32/secprov/getsuspendcount-win32-encryptablevolume
    if ($mountPoint -notmatch '^[A-Z]:$') {
        return $null
    }
    try {
        $encryptable = Get-CimInstance -Namespace 'root/cimv2/Security/MicrosoftVolumeEncryption' `
            -ClassName 'Win32_EncryptableVolume' -Filter "DriveLetter = '$mountPoint'" -ErrorAction Stop
        if ($null -eq $encryptable) {
            return $null
        }
        $answer = Invoke-CimMethod -InputObject $encryptable -MethodName 'GetSuspendCount' -ErrorAction Stop
        if ($answer.ReturnValue -ne 0) {
            return $null
        }
        return [int]$answer.SuspendCount
    }
    catch {
        return $null
    }
}

if (-not (Get-Command -Name 'Get-BitLockerVolume' -ErrorAction SilentlyContinue)) {
    $module.FailJson('The BitLocker cmdlets are not available on this host (Windows Home edition, or the ' +
        'BitLocker feature is not installed); praxis_win_facts reports the edition')
}

$securePin = $null
if ($protector -eq 'tpm_pin') {
    if ($pin -notmatch '^[0-9]{6,20}$') {
        $module.FailJson('pin must be 6 to 20 digits for protector=tpm_pin')
    }
    $securePin = ConvertTo-SecureString -String $pin -AsPlainText -Force
}
elseif ($pin) {
    $module.Warn('pin is ignored with protector=tpm')
}

$volume = Get-PraxisVolume
$volumeType = ConvertTo-EnumName $volume.VolumeType
if ($volumeType -ne 'OperatingSystem') {
    $module.FailJson("$($mountPoint) is a $volumeType volume; praxis_win_bitlocker protects the operating " +
        'system volume, whose TPM protector only an operating system volume can have')
}
if ((ConvertTo-EnumName $volume.LockStatus) -eq 'Locked') {
    $module.FailJson("$($mountPoint) is locked")
}

# 1. A recovery password protector first, so a key exists (and can be escrowed) before any
#    encryption starts: the order Microsoft describes on the Enable-BitLocker page.
#    https://learn.microsoft.com/en-us/powershell/module/bitlocker/add-bitlockerkeyprotector
if (-not (Test-PraxisProtector -Volume $volume -Pattern '^RecoveryPassword$')) {
    if (-not $module.CheckMode) {
        try {
            # The cmdlet repeats the new password in a warning: keep it out of every stream.
            $null = Add-BitLockerKeyProtector -MountPoint $mountPoint -RecoveryPasswordProtector `
                -WarningAction SilentlyContinue -ErrorAction Stop
        }
        catch {
            $module.FailJson("Cannot add a recovery password protector to $($mountPoint): $($_.Exception.Message)", $_)
        }
        $volume = Get-PraxisVolume
    }
    $module.Result.actions.Add('added_recovery_password')
}

# 2. The TPM (or TPM+PIN) protector, which is what turns BitLocker on.
$volumeStatus = ConvertTo-EnumName $volume.VolumeStatus
$hasTpmProtector = Test-PraxisProtector -Volume $volume -Pattern '^Tpm'
if (-not $hasTpmProtector -and $volumeStatus -eq 'FullyDecrypted') {
    # https://learn.microsoft.com/en-us/powershell/module/bitlocker/enable-bitlocker
    $enableArgs = @{
        MountPoint = $mountPoint
        EncryptionMethod = $encryptionMethod
        UsedSpaceOnly = [bool]$usedSpaceOnly
        SkipHardwareTest = [bool]$skipHardwareTest
        WarningAction = 'SilentlyContinue'
        ErrorAction = 'Stop'
    }
    if ($protector -eq 'tpm_pin') {
        $enableArgs.TpmAndPinProtector = $true
        $enableArgs.Pin = $securePin
    }
    else {
        $enableArgs.TpmProtector = $true
    }
    if (-not $module.CheckMode) {
        try {
            $null = Enable-BitLocker @enableArgs
        }
        catch {
            $module.FailJson("Cannot enable BitLocker on $($mountPoint): $($_.Exception.Message)", $_)
        }
    }
    $module.Result.actions.Add('enabled')
    if (-not $skipHardwareTest) {
        # Encryption starts after the hardware test at the next restart.
        $module.Result.reboot_required = $true
    }
}
elseif (-not $hasTpmProtector -and $volumeStatus -match '^(FullyEncrypted|Encryption)') {
    # Encrypted without a TPM protector: Windows device encryption "waiting for activation" keeps
    # the key in the clear. Adding the TPM protector (and resuming below) turns protection on.
    $addArgs = @{
        MountPoint = $mountPoint
        WarningAction = 'SilentlyContinue'
        ErrorAction = 'Stop'
    }
    if ($protector -eq 'tpm_pin') {
        $addArgs.TpmAndPinProtector = $true
        $addArgs.Pin = $securePin
    }
    else {
        $addArgs.TpmProtector = $true
    }
    if (-not $module.CheckMode) {
        try {
            # https://learn.microsoft.com/en-us/powershell/module/bitlocker/add-bitlockerkeyprotector
            $null = Add-BitLockerKeyProtector @addArgs
        }
        catch {
            $module.FailJson("Cannot add the $protector protector to $($mountPoint): $($_.Exception.Message)", $_)
        }
        $volume = Get-PraxisVolume
    }
    $module.Result.actions.Add('enabled')
}
elseif (-not $hasTpmProtector) {
    $module.Warn("$($mountPoint) is $volumeStatus; BitLocker is not enabled while the volume is being decrypted")
}
elseif ($volumeStatus -eq 'FullyDecrypted') {
    # A TPM protector on a decrypted volume: Enable-BitLocker ran with the hardware test, which
    # runs at the next restart; encryption starts after it.
    $module.Result.reboot_required = $true
    $module.Warn("$($mountPoint) has its TPM protector but is not encrypted yet: BitLocker waits for its " +
        'hardware test at the next restart')
}

if ($hasTpmProtector -and $volumeStatus -ne 'FullyDecrypted') {
    $wanted = $protector -eq 'tpm_pin'
    $present = Test-PraxisProtector -Volume $volume -Pattern '^TpmPin'
    if ($wanted -ne $present) {
        $module.Warn("The TPM protector of $($mountPoint) is not of the requested kind '$protector'; the " +
            'protectors of an encrypted volume are never replaced by this module')
    }
    $method = ConvertTo-EnumName $volume.EncryptionMethod
    if ($method -and $method -ne 'None' -and $method -ne $encryptionMethod) {
        $module.Warn("$($mountPoint) is encrypted with $method, not $($encryptionMethod); changing the method " +
            'needs a full decryption, which this module never starts')
    }
}
if ($volumeStatus -match '^Encryption(Paused|Suspended)$') {
    $module.Warn("Encryption of $($mountPoint) is paused at $($volume.EncryptionPercentage) %")
}

# 3. Resume protection that was suspended on an encrypted volume.
#    https://learn.microsoft.com/en-us/powershell/module/bitlocker/resume-bitlocker
if ((ConvertTo-EnumName $volume.VolumeStatus) -eq 'FullyEncrypted' -and (ConvertTo-EnumName $volume.ProtectionStatus) -eq 'Off') {
    $suspendCount = Get-PraxisSuspendCount
    if ($null -ne $suspendCount -and $suspendCount -gt 0) {
        $module.Result.reboot_required = $true
        $module.Warn("Protection of $($mountPoint) is suspended until $suspendCount more restart(s), as Windows " +
            'does before a firmware or boot change; it resumes by itself and is not resumed early')
    }
    else {
        if (-not $module.CheckMode) {
            try {
                $null = Resume-BitLocker -MountPoint $mountPoint -ErrorAction Stop
            }
            catch {
                $module.FailJson("Cannot resume BitLocker protection on $($mountPoint): $($_.Exception.Message)", $_)
            }
        }
        $module.Result.actions.Add('resumed')
    }
}

# 4. Report the volume as it is now (in check mode: as it was).
$volume = Get-PraxisVolume
# The shape of facts.bitlocker of praxis_win_facts; never a RecoveryPassword.
$module.Result.volume = ConvertTo-BitLockerVolume -Volume $volume
$module.Result.changed = $module.Result.actions.Count -gt 0
if ($escrow) {
    $module.Result.recovery_passwords = @(Get-PraxisRecoveryPassword -Volume $volume)
}

$module.ExitJson()
