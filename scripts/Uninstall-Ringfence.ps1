#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Stops ringfence and removes it: service, Driver Store package and, on request, the test
    certificate.

.DESCRIPTION
    1. Stops running ringfence.exe companions (they hold \\.\Ringfence open, which would keep
       the driver from unloading), then 'sc stop ringfence'.
    2. Finds every Driver Store package whose original INF is ringfence.inf (the published
       oemN.inf names, from 'pnputil /enum-drivers') and removes each with
       'pnputil /delete-driver oemN.inf /uninstall': for a primitive driver the platform undoes
       the DefaultInstall sections, the service included.
    3. Deletes the 'ringfence' service if one is left (e.g. one made by hand with sc create).
    4. With -RemoveCertificate, removes the certificate that signed the installed package from
       LocalMachine\Root and LocalMachine\TrustedPublisher.

    Safe to run again: each step skips what is already gone.

.PARAMETER RemoveCertificate
    Also remove the signing certificate of the installed package (or -CertificateThumbprint)
    from LocalMachine\Root and LocalMachine\TrustedPublisher.

.PARAMETER CertificateThumbprint
    The certificate to remove with -RemoveCertificate when the package is already gone.

.EXAMPLE
    .\scripts\Uninstall-Ringfence.ps1
    Stops and removes the driver; leaves the certificate trusted.

.EXAMPLE
    .\scripts\Uninstall-Ringfence.ps1 -RemoveCertificate -Confirm
    Removes everything Install-Ringfence.ps1 added, asking before each change.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [switch] $RemoveCertificate,
    [string] $CertificateThumbprint
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Ringfence.psm1') -Force
Assert-RingfenceElevated

$rebootNeeded = $false
$service = Get-RingfenceService

# The signer, read while the installed files still exist.
$thumbprints = New-Object System.Collections.Generic.List[string]
if ($CertificateThumbprint) { $thumbprints.Add($CertificateThumbprint.ToUpperInvariant()) }
if ($RemoveCertificate -and $service -and $service.PathName) {
    # PathName may carry the \??\ or \SystemRoot\ prefix of a kernel service.
    $image = $service.PathName -replace '^\\\?\?\\', '' -replace '^\\SystemRoot\\', "$env:SystemRoot\"
    foreach ($file in $image, (Join-Path (Split-Path -Parent $image) 'ringfence.cat')) {
        if (Test-Path -LiteralPath $file -PathType Leaf) {
            $signer = (Get-AuthenticodeSignature -LiteralPath $file).SignerCertificate
            if ($signer -and -not $thumbprints.Contains($signer.Thumbprint)) { $thumbprints.Add($signer.Thumbprint) }
        }
    }
}

# 1. Stop.
$companions = @(Get-Process -Name 'ringfence' -ErrorAction SilentlyContinue)
foreach ($process in $companions) {
    if ($PSCmdlet.ShouldProcess("ringfence.exe (pid $($process.Id))", 'Stop-Process')) {
        Stop-Process -Id $process.Id -Force
        $process.WaitForExit(5000) | Out-Null
    }
}
if ($service -and $service.State -ne 'Stopped') {
    if ($PSCmdlet.ShouldProcess('ringfence', 'sc stop')) {
        # 1062: not started.
        $stop = Invoke-RingfenceNative -FilePath 'sc.exe' -ArgumentList @('stop', 'ringfence') -SuccessCode 0, 1062 `
            -Remedy ('Exit code 1052 means the driver cannot be stopped; 1061 that it is busy. Close every program ' +
                'that has \\.\Ringfence open, or reboot and run this script again.')
        $deadline = (Get-Date).AddSeconds(15)
        while ((Get-Date) -lt $deadline) {
            $service = Get-RingfenceService
            if (-not $service -or $service.State -eq 'Stopped') { break }
            Start-Sleep -Milliseconds 250
        }
        if ($service -and $service.State -ne 'Stopped') {
            throw ("ringfence did not stop within 15 s (state $($service.State)): a handle to \\.\Ringfence " +
                'is still open. Close it, or reboot (the driver is demand-start and will not load again), then run this script again.')
        }
        Write-Host 'Service ringfence stopped.'
    }
}

# 2. The Driver Store packages.
$published = Find-RingfencePublishedInf
if ($published.Count -eq 0) {
    Write-Host 'No ringfence.inf package in the Driver Store.'
}
foreach ($oemInf in $published) {
    if ($PSCmdlet.ShouldProcess($oemInf, 'pnputil /delete-driver /uninstall')) {
        $deleted = Invoke-RingfenceNative -FilePath 'pnputil.exe' -ArgumentList @('/delete-driver', $oemInf, '/uninstall') `
            -SuccessCode 0, 3010 -Remedy 'See %SystemRoot%\INF\setupapi.dev.log; if the driver is still loaded, reboot and run this script again.'
        if ($deleted.ExitCode -eq 3010) { $rebootNeeded = $true }
        Write-Host "Removed $oemInf (ringfence.inf) from the Driver Store."
    }
}

# 3. A service left behind.
if (Get-RingfenceService) {
    if ($PSCmdlet.ShouldProcess('ringfence', 'sc delete')) {
        # 1060: does not exist; 1072: already marked for deletion.
        $delete = Invoke-RingfenceNative -FilePath 'sc.exe' -ArgumentList @('delete', 'ringfence') -SuccessCode 0, 1060, 1072 `
            -Remedy 'Stop every program using the service, then run this script again.'
        if ($delete.ExitCode -eq 1072) { $rebootNeeded = $true }
        Write-Host 'Service ringfence deleted.'
    }
}

# 4. The certificate.
if ($RemoveCertificate) {
    if ($thumbprints.Count -eq 0) {
        Write-Warning 'No certificate to remove: the package is gone and no -CertificateThumbprint was given.'
    }
    foreach ($storeName in 'Root', 'TrustedPublisher') {
        $store = New-Object Security.Cryptography.X509Certificates.X509Store($storeName, 'LocalMachine')
        $store.Open('ReadWrite')
        try {
            foreach ($certificate in @($store.Certificates | Where-Object { $thumbprints.Contains($_.Thumbprint) })) {
                if ($PSCmdlet.ShouldProcess("LocalMachine\$storeName", "Remove certificate $($certificate.Subject) ($($certificate.Thumbprint))")) {
                    $store.Remove($certificate)
                    Write-Host "Removed $($certificate.Subject) from LocalMachine\$storeName."
                }
            }
        } finally {
            $store.Close()
        }
    }
}

# The persisted content (trial and last-known-good) the driver kept for its next start.
$contentDirectory = Join-Path $env:SystemRoot 'System32\drivers\ringfence'
if ((Test-Path -LiteralPath $contentDirectory) -and $PSCmdlet.ShouldProcess($contentDirectory, 'Remove-Item -Recurse')) {
    Remove-Item -LiteralPath $contentDirectory -Recurse -Force
    Write-Host "Removed the persisted content in $contentDirectory."
}

if ($rebootNeeded) {
    Write-Warning 'Windows finishes the removal at the next reboot.'
} else {
    Write-Host 'ringfence is uninstalled.'
}
