#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Takes ringfence.sys out of Driver Verifier. Takes effect at the next boot.

.DESCRIPTION
    When ringfence.sys is the only verified driver (what Enable-RingfenceVerifier.ps1 leaves),
    runs 'verifier /reset', which turns Driver Verifier off. When other drivers are verified
    too, keeps them: runs 'verifier /flags <their flags> /driver <the others>' instead, unless
    -All asks for a full reset.

    To recover a VM that crashes at every boot with Driver Verifier on: boot into Safe Mode
    (or the recovery command prompt) and run 'verifier /reset' there.

.PARAMETER All
    'verifier /reset' even when other drivers are verified: Driver Verifier is off for all.

.PARAMETER Restart
    Restart the computer at once (asks first unless -Confirm:$false).

.EXAMPLE
    .\scripts\Disable-RingfenceVerifier.ps1 -Restart
    Turns Driver Verifier off for ringfence.sys and reboots.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [switch] $All,
    [switch] $Restart
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Ringfence.psm1') -Force
Assert-RingfenceElevated

# verifier.exe exits 2 after a change that needs a reboot.
$VerifierSuccess = 0, 2

$memoryManagement = 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management'
$current = Get-ItemProperty -LiteralPath $memoryManagement -ErrorAction SilentlyContinue
$drivers = @()
$level = $null
if ($current) {
    $names = $current.PSObject.Properties.Name
    if ($names -contains 'VerifyDrivers' -and $current.VerifyDrivers) {
        $drivers = @($current.VerifyDrivers -split '\s+' | Where-Object { $_ })
    }
    if ($names -contains 'VerifyDriverLevel') { $level = [int]$current.VerifyDriverLevel }
}
$others = @($drivers | Where-Object { $_ -ine 'ringfence.sys' })

if ($drivers.Count -gt 0 -and ($drivers -inotcontains 'ringfence.sys')) {
    Write-Host "ringfence.sys is not verified (Driver Verifier verifies: $($drivers -join ', ')). Nothing to do."
    return
}

if ($others.Count -gt 0 -and -not $All -and $null -ne $level) {
    $flagsText = '0x{0:X}' -f $level
    if ($PSCmdlet.ShouldProcess(($others -join ', '), "verifier /flags $flagsText /driver (without ringfence.sys)")) {
        Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList (@('/flags', $flagsText, '/driver') + $others) `
            -SuccessCode $VerifierSuccess -Remedy "Run 'verifier /querysettings' and set the list by hand, or use -All." | Out-Null
        Write-Host "ringfence.sys removed; $($others -join ', ') stay verified with flags $flagsText."
    }
} else {
    if ($PSCmdlet.ShouldProcess('Driver Verifier', 'verifier /reset')) {
        Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList @('/reset') `
            -SuccessCode $VerifierSuccess -Remedy 'Run it from an elevated prompt; from Safe Mode if the VM does not boot.' | Out-Null
        Write-Host 'Driver Verifier settings reset.'
    }
}

$settings = Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList @('/querysettings') -SuccessCode $VerifierSuccess
$settings.Output | ForEach-Object { Write-Host $_ }

Write-Host ''
Write-Host 'The change takes effect at the next boot.'
if ($Restart) {
    if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, 'Restart-Computer')) {
        Restart-Computer -Force
    }
} else {
    Write-Host 'Restart now with: Restart-Computer   (or run this script again with -Restart)'
}
