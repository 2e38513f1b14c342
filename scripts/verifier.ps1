<#
.SYNOPSIS
  Driver Verifier for ringfence.sys: enable (standard settings, optionally low resources
  simulation and IRP logging), show what is active, or reset.

.DESCRIPTION
  Run as Administrator; enabling and resetting take effect at the next boot. Not run in
  CI. Low resources simulation fails pool allocations at random: DriverEntry must unwind
  and LOAD_CONTENT must answer STATUS_INSUFFICIENT_RESOURCES, never bugcheck.

.EXAMPLE
  .\scripts\verifier.ps1 -Enable -LowResources
  .\scripts\verifier.ps1 -Query
  .\scripts\verifier.ps1 -Reset
#>
param(
    [switch] $Enable,
    [switch] $LowResources,
    [switch] $IrpLogging,
    [switch] $Query,
    [switch] $Reset
)
$ErrorActionPreference = 'Stop'

if ($Enable) {
    # Standard settings, plus the options asked for (flag values from `verifier /?`).
    $flags = 0x209BB            # /standard
    if ($LowResources) { $flags = $flags -bor 0x4 }
    if ($IrpLogging) { $flags = $flags -bor 0x400 }
    & verifier /flags ('0x{0:X}' -f $flags) /driver ringfence.sys
    Write-Host 'Reboot, then: sc.exe start ringfence'
} elseif ($Query) {
    & verifier /querysettings
    & verifier /query
} elseif ($Reset) {
    & verifier /reset
    Write-Host 'Reboot to turn Driver Verifier off.'
} else {
    Get-Help $MyInvocation.MyCommand.Path
}
