<#
.SYNOPSIS
    Helpers shared by the ringfence scripts: the elevation check, running an external
    command with its exit code checked, the service's state, the published INF and
    the companion's location.

.DESCRIPTION
    Imported by Install-Ringfence.ps1, Uninstall-Ringfence.ps1,
    Enable-RingfenceVerifier.ps1, Disable-RingfenceVerifier.ps1 and
    Invoke-RingfenceStress.ps1 (Import-Module "$PSScriptRoot\Ringfence.psm1").
    Windows PowerShell 5.1 and PowerShell 7 alike. Never run on Linux or in CI.
#>

Set-StrictMode -Version Latest
# Module functions do not see the calling script's preference; stop on any error here too.
$ErrorActionPreference = 'Stop'

# The names the driver and its package use (crates/wire/src/ioctl/mod.rs, inf/ringfence.inx).
$script:ServiceName = 'ringfence'
$script:ImageName = 'ringfence.sys'
$script:InfName = 'ringfence.inf'
$script:Win32DevicePath = '\\.\Ringfence'

function Assert-RingfenceElevated {
    <#
    .SYNOPSIS
        Stops with a clear message unless the session runs elevated (and 64-bit on 64-bit Windows).
    #>
    [CmdletBinding()]
    param()
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw ('This script changes drivers and boot settings and must run elevated: open ' +
            'PowerShell with "Run as administrator" and run it again.')
    }
    # A 32-bit PowerShell sees SysWOW64, where pnputil.exe and verifier.exe do not exist.
    if ([Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess) {
        throw 'This is the 32-bit PowerShell: run the 64-bit one (%SystemRoot%\System32\WindowsPowerShell\v1.0\powershell.exe).'
    }
}

function Invoke-RingfenceNative {
    <#
    .SYNOPSIS
        Runs an external command and returns its exit code, stdout lines (Output) and
        stderr lines (ErrorOutput); throws an error naming the command, its exit code, its
        last output and what to do when the exit code is not one of -SuccessCode.
    .PARAMETER FilePath
        The program, e.g. 'pnputil.exe'.
    .PARAMETER ArgumentList
        Its arguments, one element each (PowerShell quotes them).
    .PARAMETER SuccessCode
        Exit codes that mean success (default 0).
    .PARAMETER Remedy
        What the user should do when the command fails; appended to the error.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int[]] $SuccessCode = @(0),
        [string] $Remedy = ''
    )
    # Windows PowerShell turns a native command's stderr lines into error records, which
    # 'Stop' would make terminating: collect them as text instead and judge the exit code.
    $commandLine = (@($FilePath) + $ArgumentList) -join ' '
    if (-not (Get-Command -Name $FilePath -ErrorAction SilentlyContinue)) {
        throw "'$FilePath' was not found (needed for: $commandLine). $Remedy"
    }
    $ErrorActionPreference = 'Continue'
    Write-Verbose "Running: $commandLine"
    $merged = @(& $FilePath @ArgumentList 2>&1)
    $exitCode = $LASTEXITCODE
    $output = @($merged | Where-Object { $_ -isnot [Management.Automation.ErrorRecord] } | ForEach-Object { "$_" })
    $errorOutput = @($merged | Where-Object { $_ -is [Management.Automation.ErrorRecord] } | ForEach-Object { "$_" })
    if ($SuccessCode -notcontains $exitCode) {
        $tail = (@($output) + @($errorOutput) | Select-Object -Last 8) -join [Environment]::NewLine
        # Not through -f: the command line may contain braces.
        $hex = '0x{0:X8}' -f $exitCode
        $message = "'$commandLine' failed with exit code $exitCode ($hex)."
        if ($tail) { $message += [Environment]::NewLine + $tail }
        if ($Remedy) { $message += [Environment]::NewLine + $Remedy }
        throw $message
    }
    [pscustomobject]@{ ExitCode = $exitCode; Output = $output; ErrorOutput = $errorOutput }
}

function Get-RingfenceService {
    <#
    .SYNOPSIS
        The ringfence kernel service as Win32_SystemDriver (State 'Running', 'Stopped', …),
        or $null when no such service exists.
    #>
    [CmdletBinding()]
    param()
    # WMI's state names are not localised, unlike the text sc.exe prints.
    Get-CimInstance -ClassName Win32_SystemDriver -Filter "Name='$script:ServiceName'" -ErrorAction SilentlyContinue
}

function Find-RingfencePublishedInf {
    <#
    .SYNOPSIS
        The published names (oemN.inf) of every Driver Store package whose original INF
        is ringfence.inf.
    .DESCRIPTION
        Parses 'pnputil /enum-drivers'. Its labels ("Published Name", "Original Name") are
        localised, their values are not: a block matches when one value is ringfence.inf,
        and its published name is the value shaped like oemN.inf.
    #>
    [CmdletBinding()]
    param()
    $result = Invoke-RingfenceNative -FilePath 'pnputil.exe' -ArgumentList @('/enum-drivers') `
        -Remedy 'pnputil ships with Windows 10 1607 and later; run this on such a system.'
    $published = New-Object System.Collections.Generic.List[string]
    $values = New-Object System.Collections.Generic.List[string]
    # A trailing empty line closes the last block.
    foreach ($line in @($result.Output) + @('')) {
        if ($line.Trim() -eq '') {
            $oem = @($values | Where-Object { $_ -match '^oem\d+\.inf$' })
            $isOurs = @($values | Where-Object { $_ -ieq $script:InfName }).Count -gt 0
            if ($isOurs -and $oem.Count -eq 1) { $published.Add($oem[0]) }
            $values.Clear()
            continue
        }
        $colon = $line.IndexOf(':')
        if ($colon -ge 0) { $values.Add($line.Substring($colon + 1).Trim()) }
    }
    , $published.ToArray()
}

function Resolve-RingfenceCompanion {
    <#
    .SYNOPSIS
        The full path of ringfence.exe: -Path when given, else the one on PATH, else the
        repository's target\release\ringfence.exe; $null when none exists.
    #>
    [CmdletBinding()]
    param([string] $Path)
    if ($Path) {
        if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
            throw "The companion '$Path' does not exist: build it with 'cargo build --release -p ringfence-companion' and pass target\release\ringfence.exe."
        }
        return (Resolve-Path -LiteralPath $Path).ProviderPath
    }
    $onPath = Get-Command -Name 'ringfence.exe' -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($onPath) { return $onPath.Source }
    $built = Join-Path $PSScriptRoot '..\target\release\ringfence.exe'
    if (Test-Path -LiteralPath $built -PathType Leaf) { return (Resolve-Path -LiteralPath $built).ProviderPath }
    $null
}

function Get-RingfenceStats {
    <#
    .SYNOPSIS
        Runs 'ringfence stats --json' and returns the parsed object (see companion/src/stats_view.rs).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Companion)
    $result = Invoke-RingfenceNative -FilePath $Companion -ArgumentList @('stats', '--json') -Remedy (
        'Exit code 3: the device is missing (sc start ringfence), access was denied (run elevated) or ' +
        'another ringfence process holds it (stop it). Exit code 4: the companion and the driver come ' +
        'from different builds (rebuild both).')
    # One JSON object on one line.
    $json = @($result.Output | Where-Object { $_.StartsWith('{') }) | Select-Object -First 1
    if (-not $json) { throw "'$Companion stats --json' printed no JSON object." }
    ConvertFrom-Json -InputObject $json
}

function Test-RingfenceDevice {
    <#
    .SYNOPSIS
        Opens \\.\Ringfence for reading and closes it again: 0 when it opened, else the
        Win32 error (2: no such device, 5: access denied or another client holds it).
    #>
    [CmdletBinding()]
    param()
    if (-not ('Ringfence.DeviceProbe' -as [type])) {
        Add-Type -Namespace Ringfence -Name DeviceProbe -MemberDefinition @'
[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
public static extern Microsoft.Win32.SafeHandles.SafeFileHandle CreateFileW(
    string fileName, uint desiredAccess, uint shareMode, IntPtr securityAttributes,
    uint creationDisposition, uint flagsAndAttributes, IntPtr templateFile);
'@
    }
    $genericRead = [uint32]2147483648   # GENERIC_READ (0x80000000)
    $openExisting = [uint32]3
    $handle = [Ringfence.DeviceProbe]::CreateFileW($script:Win32DevicePath, $genericRead, [uint32]0,
        [IntPtr]::Zero, $openExisting, [uint32]0, [IntPtr]::Zero)
    $lastError = [Runtime.InteropServices.Marshal]::GetLastWin32Error()
    try {
        if ($handle.IsInvalid) { return $lastError }
        0
    } finally {
        $handle.Dispose()
    }
}

Export-ModuleMember -Function @(
    'Assert-RingfenceElevated', 'Invoke-RingfenceNative', 'Get-RingfenceService',
    'Find-RingfencePublishedInf', 'Resolve-RingfenceCompanion', 'Get-RingfenceStats', 'Test-RingfenceDevice')
