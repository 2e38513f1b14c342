<#
.SYNOPSIS
  Installs ringfence.sys on a test-signing VM: packages the INF, makes a catalog, signs
  both with a self-made test certificate, adds the package to the Driver Store and starts
  the service.

.DESCRIPTION
  Run as Administrator on a Windows 10 1903+ x64 VM with test signing on
  (`bcdedit /set testsigning on`, then reboot) and the WDK's inf2cat and signtool on PATH
  (a WDK developer prompt). Not run in CI: there is no Windows there.

.EXAMPLE
  .\scripts\install-test-signed.ps1 -Sys .\target\ringfence.sys
#>
param(
    [Parameter(Mandatory = $true)] [string] $Sys,
    [string] $Inx = (Join-Path $PSScriptRoot '..\inf\ringfence.inx'),
    [string] $Package = (Join-Path $env:TEMP 'ringfence-package'),
    [string] $CertName = 'ringfence test signing'
)
$ErrorActionPreference = 'Stop'

if (-not ((bcdedit /enum '{current}') -match 'testsigning\s+Yes')) {
    throw 'Test signing is off: run "bcdedit /set testsigning on" and reboot first.'
}

# The package: ringfence.sys and ringfence.inf with the architecture stamped in.
New-Item -ItemType Directory -Force -Path $Package | Out-Null
Copy-Item $Sys (Join-Path $Package 'ringfence.sys') -Force
(Get-Content $Inx) -replace '\$ARCH\$', 'amd64' | Set-Content (Join-Path $Package 'ringfence.inf') -Encoding ASCII

# A code-signing certificate, trusted as root and publisher on this machine only.
$cert = Get-ChildItem Cert:\LocalMachine\My | Where-Object Subject -eq "CN=$CertName" | Select-Object -First 1
if (-not $cert) {
    $cert = New-SelfSignedCertificate -Type CodeSigningCert -Subject "CN=$CertName" `
        -CertStoreLocation Cert:\LocalMachine\My -KeyUsage DigitalSignature -NotAfter (Get-Date).AddYears(1)
    foreach ($store in 'Root', 'TrustedPublisher') {
        $target = New-Object System.Security.Cryptography.X509Certificates.X509Store($store, 'LocalMachine')
        $target.Open('ReadWrite'); $target.Add($cert); $target.Close()
    }
}

& inf2cat /driver:$Package /os:10_X64 /uselocaltime
if ($LASTEXITCODE -ne 0) { throw "inf2cat failed ($LASTEXITCODE)" }
foreach ($file in 'ringfence.sys', 'ringfence.cat') {
    & signtool sign /fd sha256 /sm /s My /sha1 $cert.Thumbprint (Join-Path $Package $file)
    if ($LASTEXITCODE -ne 0) { throw "signtool failed on $file ($LASTEXITCODE)" }
}

# A primitive driver: pnputil installs the DefaultInstall sections; demand start.
& pnputil /add-driver (Join-Path $Package 'ringfence.inf') /install
if ($LASTEXITCODE -ne 0) { throw "pnputil failed ($LASTEXITCODE)" }
& sc.exe start ringfence
& sc.exe query ringfence
