#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Installs the test-signed ringfence driver package on a test-signing VM and starts it.

.DESCRIPTION
    For the package that 'cargo make' writes (ringfence.sys, ringfence.inf, ringfence.cat and
    WDRLocalTestCert.cer in target\<profile>\ringfence_package), on Windows 10 version 2004
    (build 19041) or later, x64 - the first build that exports ExAllocatePool2, which the driver
    imports:

      1. checks that this boot has test signing on (bcdedit /set testsigning on, Secure Boot
         off, reboot);
      2. trusts the test certificate on this machine: adds it to LocalMachine\Root and
         LocalMachine\TrustedPublisher (from -CertificatePath, the package's .cer, or the
         certificate that signed ringfence.cat);
      3. pnputil /add-driver ringfence.inf /install: adds the primitive-driver package to the
         Driver Store and runs its DefaultInstall sections, which create the 'ringfence'
         kernel service (demand start);
      4. sc start ringfence, then checks that the service runs, that \\.\Ringfence opens and,
         when the companion is found, that 'ringfence stats --json' answers.

    Never run it on a machine you care about: a test certificate in Root trusts everything it
    signs. Uninstall-Ringfence.ps1 undoes every step.

.PARAMETER PackagePath
    The driver package folder. Default: the newest ringfence_package under target\ (release
    before debug, with or without a target triple).

.PARAMETER CertificatePath
    A .cer file to trust instead of the package's own.

.PARAMETER SkipCertificate
    Trust no certificate (the package is signed with one this machine already trusts).

.PARAMETER SkipTestSigningCheck
    Do not require test signing (a package with a production or attestation signature).

.PARAMETER NoStart
    Install only; start later with 'sc start ringfence'.

.PARAMETER Companion
    ringfence.exe, used to check the running driver. Default: on PATH, else
    target\release\ringfence.exe.

.PARAMETER StartAtBoot
    Make the service start with the system (SERVICE_SYSTEM_START), so that persisted content
    filters from early boot. The default stays demand start until the crash-loop guard has run
    on your machines: read docs/windows.md, "Recovering from a content crash loop", first.

.PARAMETER TrustedKey
    Public key files (KEY.pub, from 'ringfence content keygen') whose signatures the sensor
    trusts: written to Parameters\TrustedKeys. With a key provisioned, the sensor takes signed
    content only (unless Parameters\RequireSignedContent is 0).

.PARAMETER Ring
    The rollout ring this machine is in (0 = canary); default: none set (general).

.EXAMPLE
    .\scripts\Install-Ringfence.ps1
    Installs target\release\ringfence_package (or debug) and starts the driver.

.EXAMPLE
    .\scripts\Install-Ringfence.ps1 -PackagePath C:\drop\ringfence_package -WhatIf
    Shows what would be trusted, installed and started, and changes nothing.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [string] $PackagePath,
    [string] $CertificatePath,
    [switch] $SkipCertificate,
    [switch] $SkipTestSigningCheck,
    [switch] $NoStart,
    [string] $Companion,
    [switch] $StartAtBoot,
    [string[]] $TrustedKey = @(),
    [Nullable[uint32]] $Ring
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Ringfence.psm1') -Force
Assert-RingfenceElevated

function Find-Package {
    $root = Join-Path $PSScriptRoot '..\target'
    $candidates = @(
        'release\ringfence_package', 'debug\ringfence_package',
        'x86_64-pc-windows-msvc\release\ringfence_package', 'x86_64-pc-windows-msvc\debug\ringfence_package'
    ) | ForEach-Object { Join-Path $root $_ } |
        Where-Object { Test-Path -LiteralPath (Join-Path $_ 'ringfence.inf') -PathType Leaf }
    $newest = @($candidates | Sort-Object { (Get-Item -LiteralPath (Join-Path $_ 'ringfence.inf')).LastWriteTime } -Descending)
    if ($newest.Count -eq 0) {
        throw ("No driver package under $root. Build it in a WDK developer prompt with 'cargo make' " +
            '(see docs/windows.md), or pass -PackagePath.')
    }
    $newest[0]
}

# Why 'sc start' failed, in terms of what to do next.
function Get-StartAdvice([int] $code) {
    switch ($code) {
        5 {
            'Access denied (STATUS_ACCESS_DENIED from DriverEntry): PsSetCreateProcessNotifyRoutineEx2 refuses ' +
            'an image linked without /INTEGRITYCHECK or not signed. Check the build (cargo make signs; ' +
            "'signtool verify /v /pa ringfence.sys') and the System event log."
        }
        577 {
            "Windows cannot verify the driver's signature (ERROR_INVALID_IMAGE_HASH, 0xC0000428): test " +
            "signing is off in this boot or the file is not signed. Run 'bcdedit /set testsigning on' with " +
            'Secure Boot off, reboot, and check that the desktop shows the "Test Mode" watermark.'
        }
        1275 {
            'The driver was blocked from loading (ERROR_DRIVER_BLOCKED): a 32-bit or wrong-architecture ' +
            'image, or a policy (memory integrity, a vulnerable-driver block list) refused it.'
        }
        127 {
            'The kernel lacks a routine the driver imports (ERROR_PROC_NOT_FOUND): ringfence.sys needs ' +
            "Windows 10 version 2004 (build $MinimumBuild) or later, the first to export ExAllocatePool2. " +
            "Check 'winver'; the System event log names the missing routine."
        }
        2 { 'The service binary was not found: the package was not installed completely; reinstall.' }
        1058 { "The service is disabled: 'sc config ringfence start= demand', then start it again." }
        default {
            "See the System event log (source 'Service Control Manager') and 'sc qc ringfence'."
        }
    }
}

# 1. Where we are. The driver imports ExAllocatePool2, which ntoskrnl exports from Windows 10
# version 2004 (build 19041) on: an older kernel refuses to load it (error 127). Every other
# import is older (PsSetCreateProcessNotifyRoutineEx2 1703, PsSetLoadImageNotifyRoutineEx 1709,
# the Ex push-lock routines 1809), and primitive-driver INFs need 1903.
$MinimumBuild = 19041
$build = [Environment]::OSVersion.Version.Build
if ($build -lt $MinimumBuild) {
    throw ("This is Windows build $build; ringfence.sys needs Windows 10 version 2004 (build $MinimumBuild) " +
        'or later, the first that exports ExAllocatePool2 (the kernel would refuse to load it: error 127).')
}
if (-not [Environment]::Is64BitOperatingSystem) {
    throw 'ringfence.sys is built for x64 only; this Windows is 32-bit.'
}
if (-not $SkipTestSigningCheck) {
    # The options this boot started with: bcdedit's setting only counts after a reboot.
    $startOptions = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name SystemStartOptions).SystemStartOptions
    if ($startOptions -notmatch '\bTESTSIGNING\b') {
        $secureBoot = $null
        try { $secureBoot = Confirm-SecureBootUEFI } catch { $secureBoot = $null }
        $hint = if ($secureBoot) { ' Secure Boot is ON: turn it off in the VM firmware settings first (bcdedit refuses otherwise).' } else { '' }
        throw ("Test signing is not on in this boot, so Windows will not load a test-signed driver. Run " +
            "'bcdedit /set testsigning on' and reboot.$hint Or pass -SkipTestSigningCheck for a production-signed package.")
    }
}

# 2. The package.
if (-not $PackagePath) { $PackagePath = Find-Package }
$PackagePath = (Resolve-Path -LiteralPath $PackagePath).ProviderPath
$inf = Join-Path $PackagePath 'ringfence.inf'
$sys = Join-Path $PackagePath 'ringfence.sys'
$cat = Join-Path $PackagePath 'ringfence.cat'
foreach ($file in $inf, $sys, $cat) {
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) {
        throw "The package $PackagePath has no $(Split-Path -Leaf $file): rebuild it with 'cargo make' (inf2cat and signtool make the .cat)."
    }
}
Write-Host "Package: $PackagePath"

# 3. The test certificate, trusted as a root and as a publisher (PnP checks the catalog's signer).
if (-not $SkipCertificate) {
    if ($CertificatePath) {
        $certificate = New-Object Security.Cryptography.X509Certificates.X509Certificate2((Resolve-Path -LiteralPath $CertificatePath).ProviderPath)
    } else {
        $cerFile = Get-ChildItem -LiteralPath $PackagePath -Filter '*.cer' | Select-Object -First 1
        if ($cerFile) {
            $certificate = New-Object Security.Cryptography.X509Certificates.X509Certificate2($cerFile.FullName)
        } else {
            $certificate = (Get-AuthenticodeSignature -LiteralPath $cat).SignerCertificate
            if (-not $certificate) {
                throw "ringfence.cat is not signed and the package has no .cer: rebuild with 'cargo make', which signs it."
            }
        }
    }
    Write-Host "Certificate: $($certificate.Subject) ($($certificate.Thumbprint))"
    foreach ($storeName in 'Root', 'TrustedPublisher') {
        $store = New-Object Security.Cryptography.X509Certificates.X509Store($storeName, 'LocalMachine')
        $store.Open('ReadWrite')
        try {
            $present = @($store.Certificates | Where-Object { $_.Thumbprint -eq $certificate.Thumbprint }).Count -gt 0
            if ($present) {
                Write-Verbose "Already in LocalMachine\$storeName."
            } elseif ($PSCmdlet.ShouldProcess("LocalMachine\$storeName", "Add certificate $($certificate.Subject)")) {
                $store.Add($certificate)
                Write-Host "Added to LocalMachine\$storeName."
            }
        } finally {
            $store.Close()
        }
    }
}

foreach ($file in $sys, $cat) {
    $signature = Get-AuthenticodeSignature -LiteralPath $file
    if ($signature.Status -ne 'Valid') {
        Write-Warning "$(Split-Path -Leaf $file): signature status $($signature.Status) ($($signature.StatusMessage))."
    }
}

# 4. The Driver Store and the service.
$existing = Get-RingfenceService
if ($existing) {
    Write-Warning "A 'ringfence' service already exists ($($existing.State), $($existing.PathName)); run Uninstall-Ringfence.ps1 first for a clean install."
}
$rebootNeeded = $false
if ($PSCmdlet.ShouldProcess($inf, 'pnputil /add-driver /install')) {
    # 259: no device matched; a primitive driver has none, and its DefaultInstall still ran.
    $added = Invoke-RingfenceNative -FilePath 'pnputil.exe' -ArgumentList @('/add-driver', $inf, '/install') `
        -SuccessCode 0, 259, 3010 `
        -Remedy ('See %SystemRoot%\INF\setupapi.dev.log (search for ringfence.inf). A signature error means ' +
            'the certificate is not trusted: run without -SkipCertificate.')
    $added.Output | ForEach-Object { Write-Verbose $_ }
    $rebootNeeded = $added.ExitCode -eq 3010
    if (-not (Get-RingfenceService)) {
        throw ("pnputil added the package but no 'ringfence' service exists: the INF's " +
            'DefaultInstall.NTamd64.Services section did not run. See %SystemRoot%\INF\setupapi.dev.log.')
    }
    Write-Host 'Driver package added to the Driver Store; service ringfence created (demand start).'
}

# Content trust and start type (the service key exists now).
$parameters = 'HKLM:\SYSTEM\CurrentControlSet\Services\ringfence\Parameters'
if ($TrustedKey.Count -gt 0 -and $PSCmdlet.ShouldProcess($parameters, 'set TrustedKeys')) {
    $blob = New-Object System.Collections.Generic.List[byte]
    foreach ($file in $TrustedKey) {
        $hex = (Get-Content -LiteralPath $file -Raw).Trim()
        if ($hex -notmatch '^[0-9a-fA-F]{64}$') {
            throw "$file does not hold a public key (64 hex digits): pass the .pub file 'ringfence content keygen' wrote."
        }
        for ($i = 0; $i -lt 64; $i += 2) { $blob.Add([Convert]::ToByte($hex.Substring($i, 2), 16)) }
    }
    New-Item -Path $parameters -Force | Out-Null
    Set-ItemProperty -LiteralPath $parameters -Name TrustedKeys -Type Binary -Value $blob.ToArray()
    Write-Host "Trusted keys: $($TrustedKey.Count) (signed content only from now on)."
}
if ($null -ne $Ring -and $PSCmdlet.ShouldProcess($parameters, "set Ring = $Ring")) {
    New-Item -Path $parameters -Force | Out-Null
    Set-ItemProperty -LiteralPath $parameters -Name Ring -Type DWord -Value ([int]$Ring)
    Write-Host "Rollout ring: $Ring."
}
if ($StartAtBoot -and $PSCmdlet.ShouldProcess('ringfence', 'sc config start= system')) {
    Invoke-RingfenceNative -FilePath 'sc.exe' -ArgumentList @('config', 'ringfence', 'start=', 'system') `
        -Remedy "Check 'sc.exe qc ringfence'." | Out-Null
    Write-Warning ('ringfence now starts with the system. If a content update ever makes the machine crash ' +
        'at boot, the crash-loop guard falls back after CrashLoopThreshold starts; see docs/windows.md, ' +
        '"Recovering from a content crash loop". Back to demand start: sc.exe config ringfence start= demand')
}

if ($NoStart -or $WhatIfPreference) {
    Write-Host "Not started. Start it with: sc.exe start ringfence"
    return
}
if ($rebootNeeded) {
    Write-Warning 'pnputil asks for a reboot (3010). Reboot, then: sc.exe start ringfence'
    return
}

# 5. Start and check.
if ($PSCmdlet.ShouldProcess('ringfence', 'sc start')) {
    $start = Invoke-RingfenceNative -FilePath 'sc.exe' -ArgumentList @('start', 'ringfence') `
        -SuccessCode 0, 1056, 2, 5, 127, 577, 1058, 1275 `
        -Remedy "See the System event log (source 'Service Control Manager') and 'sc.exe qc ringfence'."
    if ($start.ExitCode -ne 0 -and $start.ExitCode -ne 1056) {
        throw ("'sc.exe start ringfence' failed with exit code $($start.ExitCode). " + (Get-StartAdvice $start.ExitCode))
    }
}

$deadline = (Get-Date).AddSeconds(10)
do {
    $service = Get-RingfenceService
    if ($service -and $service.State -eq 'Running') { break }
    Start-Sleep -Milliseconds 250
} while ((Get-Date) -lt $deadline)
if (-not $service -or $service.State -ne 'Running') {
    throw "The ringfence service is not running (state: $(if ($service) { $service.State } else { 'missing' })). See 'sc.exe query ringfence' and the System event log."
}
Write-Host "Service ringfence: Running ($($service.PathName))"

$companionPath = Resolve-RingfenceCompanion -Path $Companion
if ($companionPath) {
    $stats = Get-RingfenceStats -Companion $companionPath
    Write-Host ("Device {0}: driver {1}, protocol {2}, schema {3}, queue {4} bytes" -f $stats.device,
        $stats.driver_version, $stats.protocol_version, $stats.schema_version, $stats.queue.capacity_bytes)
} else {
    $openError = Test-RingfenceDevice
    switch ($openError) {
        0 { Write-Host '\\.\Ringfence opens.' }
        5 { throw '\\.\Ringfence refused the open (access denied): another ringfence client holds it, or this session is not elevated.' }
        default { throw "\\.\Ringfence does not open (Windows error $openError): the driver did not create its device; see the System event log." }
    }
    Write-Warning "ringfence.exe not found: build it with 'cargo build --release -p ringfence-companion' to watch events."
}

Write-Host ''
Write-Host 'Next: ringfence watch            (Ctrl-C to stop)'
Write-Host '      .\scripts\Uninstall-Ringfence.ps1   to remove it again'
