#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Puts ringfence.sys under Driver Verifier: the standard checks plus randomized low
    resources simulation and IRP logging. Takes effect at the next boot.

.DESCRIPTION
    Runs 'verifier /flags <flags> /driver ringfence.sys' with
      0x000209BB  the standard flags (what 'verifier /standard' sets): special pool 0x1,
                  force IRQL checking 0x2, pool tracking 0x8, I/O verification 0x10,
                  deadlock detection 0x20, DMA checking 0x80, security checks 0x100,
                  miscellaneous checks 0x800, DDI compliance checking 0x20000;
      0x00000004  randomized low resources simulation: pool allocations fail at random, so
                  DriverEntry must unwind and LOAD_CONTENT must answer
                  STATUS_INSUFFICIENT_RESOURCES, never crash;
      0x00000400  IRP logging.
    0x20DBF in all. This replaces the list of verified drivers: any other driver verified
    before is no longer verified (the script says which).

    Only on a test VM with a snapshot: a violation is a bugcheck (0xC4 and friends). Read
    docs/windows.md, "Driver Verifier", for what to run while it is on and how to read a
    crash. Disable-RingfenceVerifier.ps1 turns it off.

.PARAMETER NoLowResources
    Leave out randomized low resources simulation (0x4).

.PARAMETER NoIrpLogging
    Leave out IRP logging (0x400).

.PARAMETER OneBoot
    'verifier /bootmode oneboot': the settings apply to the next boot only, so a crash loop
    ends by itself. ringfence is demand-start and not loaded at boot anyway.

.PARAMETER Restart
    Restart the computer at once (asks first unless -Confirm:$false).

.EXAMPLE
    .\scripts\Enable-RingfenceVerifier.ps1 -Restart
    Standard flags, low resources simulation and IRP logging for ringfence.sys, then reboot.

.EXAMPLE
    .\scripts\Enable-RingfenceVerifier.ps1 -NoLowResources -OneBoot
    Standard flags and IRP logging, for the next boot only.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [switch] $NoLowResources,
    [switch] $NoIrpLogging,
    [switch] $OneBoot,
    [switch] $Restart
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Ringfence.psm1') -Force
Assert-RingfenceElevated

$StandardFlags = 0x209BB
$LowResourcesSimulation = 0x4
$IrpLogging = 0x400
# verifier.exe exits 2 after a change that needs a reboot.
$VerifierSuccess = 0, 2

$flags = $StandardFlags
if (-not $NoLowResources) { $flags = $flags -bor $LowResourcesSimulation }
if (-not $NoIrpLogging) { $flags = $flags -bor $IrpLogging }
$flagsText = '0x{0:X}' -f $flags

# What Driver Verifier verifies now (the values verifier.exe keeps; absent when it is off).
$memoryManagement = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management'
$current = Get-ItemProperty -LiteralPath $memoryManagement -ErrorAction SilentlyContinue
$currentDrivers = @()
if ($current -and ($current.PSObject.Properties.Name -contains 'VerifyDrivers') -and $current.VerifyDrivers) {
    $currentDrivers = @($current.VerifyDrivers -split '\s+' | Where-Object { $_ })
}
$others = @($currentDrivers | Where-Object { $_ -ine 'ringfence.sys' })
if ($others.Count -gt 0) {
    Write-Warning "Driver Verifier now verifies $($others -join ', '); after this only ringfence.sys is verified."
}

if ($PSCmdlet.ShouldProcess('ringfence.sys', "verifier /flags $flagsText /driver ringfence.sys")) {
    Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList @('/flags', $flagsText, '/driver', 'ringfence.sys') `
        -SuccessCode $VerifierSuccess -Remedy 'verifier.exe ships with Windows (System32); run from an elevated prompt.' | Out-Null
    if ($OneBoot) {
        Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList @('/bootmode', 'oneboot') `
            -SuccessCode $VerifierSuccess -Remedy "This Windows' verifier.exe may not know /bootmode; leave out -OneBoot." | Out-Null
    }
    $settings = Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList @('/querysettings') -SuccessCode $VerifierSuccess
    $settings.Output | ForEach-Object { Write-Host $_ }

    $after = Get-ItemProperty -LiteralPath $memoryManagement -ErrorAction SilentlyContinue
    if ($after -and ($after.PSObject.Properties.Name -contains 'VerifyDrivers') -and ($after.VerifyDrivers -notmatch '(?i)\bringfence\.sys\b')) {
        throw "verifier.exe reported success but ringfence.sys is not in VerifyDrivers ('$($after.VerifyDrivers)'). Run 'verifier /querysettings' and set it by hand."
    }
}

Write-Host ''
Write-Host "Driver Verifier flags $flagsText for ringfence.sys take effect at the next boot."
Write-Host 'After the reboot: sc.exe start ringfence, then run the workload (docs/windows.md, "Driver Verifier").'
if ($Restart) {
    if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, 'Restart-Computer')) {
        Restart-Computer -Force
    }
} else {
    Write-Host 'Restart now with: Restart-Computer   (or run this script again with -Restart)'
}
