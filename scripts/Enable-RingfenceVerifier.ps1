#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Puts ringfence.sys under Driver Verifier: the standard checks plus systematic low
    resources simulation and IRP logging. Takes effect at the next boot.

.DESCRIPTION
    The standard checks: special pool, force IRQL checking, pool tracking, I/O verification,
    deadlock detection, DMA checking, security checks, miscellaneous checks, DDI compliance
    checking. Added to them:

      systematic low resources simulation (the default, -LowResources Systematic): Verifier
          fails each call of the driver's (pool allocations, object and device creation, ...)
          the first time it sees that call stack, and lets it through afterwards. So every
          'sc start ringfence' fails at the next call site not failed before, until a start
          succeeds: DriverEntry's unwinding is tested site by site, in about as many starts as
          it has allocations and kernel calls, and reproducibly. This is what tests startup.
      randomized low resources simulation (-LowResources Randomized): fails about 6 % of
          allocations, at random, and only from 8 minutes after boot (the defaults). A start
          in the first 8 minutes tests nothing; after them, each start fails one of its few
          allocations now and then, so covering each one takes dozens of starts. Use it for
          the long stress run, not for DriverEntry.
      IRP logging (unless -NoIrpLogging).

    Windows 10: 'verifier /flags <bits> /driver ringfence.sys' with 0x209BB (standard),
    0x40000 (systematic) or 0x4 (randomized), 0x400 (IRP logging).
    Windows 11 (build 22000 and later): 'verifier /rc <classes> /driver ringfence.sys' with
    rule classes 1 2 4 5 6 8 9 12 18 (standard), 19 and 36 (systematic low resources
    simulation and the DIF mode it requires) or 3 (randomized), 11 (IRP logging).

    This replaces the list of verified drivers: any other driver verified before is no longer
    verified (the script says which).

    Only on a test VM with a snapshot: a violation is a bugcheck (0xC4 and friends). Read
    docs/verifier.md for what to run while it is on and how to read a
    crash. Disable-RingfenceVerifier.ps1 turns it off.

.PARAMETER LowResources
    Systematic (default), Randomized or None.

.PARAMETER NoLowResources
    The same as -LowResources None.

.PARAMETER NoIrpLogging
    Leave out IRP logging.

.PARAMETER OneBoot
    'verifier /bootmode oneboot': the settings apply to the next boot only, so a crash loop
    ends by itself. ringfence is demand-start and not loaded at boot anyway.

.PARAMETER Restart
    Restart the computer at once (asks first unless -Confirm:$false).

.EXAMPLE
    .\scripts\Enable-RingfenceVerifier.ps1 -Restart
    Standard checks, systematic low resources simulation and IRP logging for ringfence.sys,
    then reboot. Then: 'sc.exe start ringfence' until it starts (docs/verifier.md).

.EXAMPLE
    .\scripts\Enable-RingfenceVerifier.ps1 -LowResources Randomized -OneBoot
    Standard checks, randomized low resources simulation and IRP logging, for the next boot only.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [ValidateSet('Systematic', 'Randomized', 'None')]
    [string] $LowResources = 'Systematic',
    [switch] $NoLowResources,
    [switch] $NoIrpLogging,
    [switch] $OneBoot,
    [switch] $Restart
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Ringfence.psm1') -Force
Assert-RingfenceElevated

if ($NoLowResources) { $LowResources = 'None' }
# verifier.exe exits 2 after a change that needs a reboot.
$VerifierSuccess = 0, 2
# Windows 11 selects checks by rule class; Windows 10 by flag bits.
$windows11 = [Environment]::OSVersion.Version.Build -ge 22000

if ($windows11) {
    $classes = @(1, 2, 4, 5, 6, 8, 9, 12, 18)
    switch ($LowResources) {
        'Systematic' { $classes += 19, 36 }
        'Randomized' { $classes += 3 }
    }
    if (-not $NoIrpLogging) { $classes += 11 }
    $selection = @('/rc') + @($classes | ForEach-Object { "$_" })
} else {
    $flags = 0x209BB
    switch ($LowResources) {
        'Systematic' { $flags = $flags -bor 0x40000 }
        'Randomized' { $flags = $flags -bor 0x4 }
    }
    if (-not $NoIrpLogging) { $flags = $flags -bor 0x400 }
    $selection = @('/flags', ('0x{0:X}' -f $flags))
}
$arguments = $selection + @('/driver', 'ringfence.sys')
$commandText = 'verifier ' + ($arguments -join ' ')

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

if ($PSCmdlet.ShouldProcess('ringfence.sys', $commandText)) {
    Invoke-RingfenceNative -FilePath 'verifier.exe' -ArgumentList $arguments `
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
Write-Host "'$commandText' takes effect at the next boot (low resources simulation: $LowResources)."
switch ($LowResources) {
    'Systematic' {
        Write-Host 'After the reboot, repeat sc.exe start ringfence until it starts: each failed start is DriverEntry'
        Write-Host 'unwinding from the next call Verifier failed (docs/verifier.md).'
    }
    'Randomized' {
        Write-Host 'Faults begin 8 minutes after boot, about 6 % of allocations: run the stress workload after that.'
    }
    'None' {
        Write-Host 'After the reboot: sc.exe start ringfence, then run the workload (docs/verifier.md).'
    }
}
if ($Restart) {
    if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, 'Restart-Computer')) {
        Restart-Computer -Force
    }
} else {
    Write-Host 'Restart now with: Restart-Computer   (or run this script again with -Restart)'
}
