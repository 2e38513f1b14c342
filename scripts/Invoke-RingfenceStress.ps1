#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Starts processes and loads DLLs at a chosen rate while 'ringfence watch' records, then
    checks the recording against the driver's counters.

.DESCRIPTION
    1. 'ringfence stats --json' (before).
    2. 'ringfence watch --format json' in a hidden console, stdout to events.jsonl and stderr
       to watch.stderr.txt in -OutputDirectory.
    3. For -DurationSeconds: starts -ProcessesPerSecond processes, in turn
       cmd.exe /c rem <marker>, rundll32.exe "<copy of a system DLL>",DllCanUnloadNow,
       a copy of cmd.exe under a non-ASCII name in a folder with a space, and
       powershell.exe -Command exit; and maps -DllLoadsPerSecond copies of a system DLL into
       this process (LoadLibraryEx as an image resource, then FreeLibrary: each load maps the
       image again and fires the image-load callback).
    4. Waits for the workload to end, lets the watch drain, stops it with Ctrl-C (sent from a
       helper process attached to its console), then 'ringfence stats --json' (after). The
       device admits one client at a time, so STATS is read only while the watch is stopped.
    5. Checks the recording:
       - every line is a JSON object with event.sequence and event.action;
       - sequence numbers only go up (no driver restart);
       - every sequence number missing between two recorded ones lies in the
         first_sequence..last_sequence range of a recorded lost_events record, no recorded
         record lies in such a range, and each lost_events record's count equals its range's
         length and the sum of its per-kind counts;
       - the records recorded equal the records STATS says were read meanwhile
         (records_delivered after - before);
       - the records recorded with a sequence number up to the last one taken before the watch
         started equal the records that were waiting in the queue then (every queued or
         dropped event takes a sequence number, so that number is the sum of queued and
         dropped over all kinds);
       - per kind, the records recorded that were queued after the first STATS do not exceed
         the driver's queued count meanwhile, and the drops announced do not exceed its
         dropped count meanwhile;
       - STATS balances (seen = filtered + queued + dropped) before and after;
       - with no content loaded and nothing dropped, every process the workload started was
         recorded (a shortfall in DLL loads is reported as a warning).
    The checks live in RingfenceRecording.psm1 (Test-RingfenceRecording), which can check a
    saved recording again. Writes stats_before.json, stats_after.json and result.json beside
    the recording and exits with an error when a check fails.

.PARAMETER DurationSeconds
    How long the workload runs (default 60).

.PARAMETER ProcessesPerSecond
    Processes started per second (default 10; 0: none).

.PARAMETER DllLoadsPerSecond
    DLL images mapped into this process per second (default 50; 0: none).

.PARAMETER MaxRunning
    Workload processes allowed at once; a start due while this many run is skipped and counted.

.PARAMETER SettleSeconds
    How long the watch may drain after the workload ends (default 3).

.PARAMETER Content
    Compiled content for 'ringfence watch --content' (e.g. from examples/content). With content,
    events can be filtered, so workload events are not required to appear.

.PARAMETER DllSource
    The system DLL to copy for rundll32 and for the in-process loads; it must export
    DllCanUnloadNow. Default: %SystemRoot%\System32\msxml3.dll.

.PARAMETER Companion
    ringfence.exe. Default: on PATH, else target\release\ringfence.exe.

.PARAMETER OutputDirectory
    Where the recording and result.json go. Default: %TEMP%\ringfence-stress-<time>.

.EXAMPLE
    .\scripts\Invoke-RingfenceStress.ps1 -DurationSeconds 120 -ProcessesPerSecond 20 -DllLoadsPerSecond 200
    Two minutes of load; prints the checks and where the recording is.

.EXAMPLE
    .\scripts\Invoke-RingfenceStress.ps1 -DurationSeconds 30 -Content .\content.bin
    With content loaded (ringfence content compile examples\content\noise-reduction.toml -o content.bin).
#>
[CmdletBinding()]
param(
    [ValidateRange(1, 86400)] [int] $DurationSeconds = 60,
    [ValidateRange(0, 1000)] [double] $ProcessesPerSecond = 10,
    [ValidateRange(0, 10000)] [double] $DllLoadsPerSecond = 50,
    [ValidateRange(1, 1024)] [int] $MaxRunning = 64,
    [ValidateRange(0, 600)] [int] $SettleSeconds = 3,
    [string] $Content,
    [string] $DllSource = (Join-Path $env:SystemRoot 'System32\msxml3.dll'),
    [string] $Companion,
    [string] $OutputDirectory
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Ringfence.psm1') -Force
Import-Module (Join-Path $PSScriptRoot 'RingfenceRecording.psm1') -Force
Assert-RingfenceElevated

$KindNames = 'process_start', 'process_exit', 'image_load', 'lost_events', 'content_changed'

# ---------------------------------------------------------------- helpers

function Start-Workload([string] $FilePath, [string] $Arguments) {
    $info = New-Object Diagnostics.ProcessStartInfo($FilePath, $Arguments)
    $info.UseShellExecute = $false
    $info.CreateNoWindow = $true
    [Diagnostics.Process]::Start($info)
}

# Sends Ctrl-C to every process on the console of $ProcessId, from a helper process: doing it
# from this one would detach this session from its own console.
function Send-CtrlC([int] $ProcessId) {
    $helper = @"
Add-Type -Namespace RingfenceStress -Name Console -MemberDefinition @'
[DllImport("kernel32.dll", SetLastError = true)] public static extern bool FreeConsole();
[DllImport("kernel32.dll", SetLastError = true)] public static extern bool AttachConsole(uint processId);
[DllImport("kernel32.dll", SetLastError = true)] public static extern bool SetConsoleCtrlHandler(IntPtr handler, bool add);
[DllImport("kernel32.dll", SetLastError = true)] public static extern bool GenerateConsoleCtrlEvent(uint ctrlEvent, uint processGroupId);
'@
[RingfenceStress.Console]::FreeConsole() | Out-Null
if (-not [RingfenceStress.Console]::AttachConsole($ProcessId)) { exit 10 }
# This helper ignores the Ctrl-C it sends to everyone on that console.
[RingfenceStress.Console]::SetConsoleCtrlHandler([IntPtr]::Zero, `$true) | Out-Null
if (-not [RingfenceStress.Console]::GenerateConsoleCtrlEvent(0, 0)) { exit 11 }
Start-Sleep -Milliseconds 500
exit 0
"@
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($helper))
    $shell = (Get-Process -Id $PID).Path
    $process = Start-Process -FilePath $shell -ArgumentList "-NoProfile -NonInteractive -EncodedCommand $encoded" `
        -WindowStyle Hidden -Wait -PassThru
    $process.ExitCode
}

# ---------------------------------------------------------------- set-up

$companionPath = Resolve-RingfenceCompanion -Path $Companion
if (-not $companionPath) {
    throw "ringfence.exe not found: build it with 'cargo build --release -p ringfence-companion', or pass -Companion."
}
$service = Get-RingfenceService
if (-not $service -or $service.State -ne 'Running') {
    throw 'The ringfence driver is not running: install it (Install-Ringfence.ps1) or start it (sc.exe start ringfence).'
}
if (@(Get-Process -Name 'ringfence' -ErrorAction SilentlyContinue).Count -gt 0) {
    throw 'Another ringfence.exe is running and holds \\.\Ringfence (one client at a time): stop it first.'
}
if ($Content) { $Content = (Resolve-Path -LiteralPath $Content).ProviderPath }

$runId = Get-Date -Format 'yyyyMMdd-HHmmss'
$marker = "ringfence-stress-$runId"
if (-not $OutputDirectory) { $OutputDirectory = Join-Path $env:TEMP $marker }
New-Item -ItemType Directory -Force -Path $OutputDirectory | Out-Null
$OutputDirectory = (Resolve-Path -LiteralPath $OutputDirectory).ProviderPath
$eventsPath = Join-Path $OutputDirectory 'events.jsonl'
$stderrPath = Join-Path $OutputDirectory 'watch.stderr.txt'
$resultPath = Join-Path $OutputDirectory 'result.json'

# Copies of system binaries under names that carry the marker, in a folder with a space;
# one name is not ASCII (written as a code point so this file's encoding does not matter).
$work = Join-Path $OutputDirectory "bin $marker"
New-Item -ItemType Directory -Force -Path $work | Out-Null
$copiedExe = Join-Path $work ("cmd-" + [char]0x03A9 + ".exe")
Copy-Item -LiteralPath (Join-Path $env:SystemRoot 'System32\cmd.exe') -Destination $copiedExe
$dlls = @()
$haveDll = Test-Path -LiteralPath $DllSource -PathType Leaf
if ($haveDll) {
    foreach ($i in 0..7) {
        $name = if ($i -eq 0) { "dll-" + [char]0x00E9 + "$i.dll" } else { "dll-$i.dll" }
        $dll = Join-Path $work $name
        Copy-Item -LiteralPath $DllSource -Destination $dll
        $dlls += $dll
    }
} else {
    Write-Warning "$DllSource does not exist: no rundll32 starts and no DLL loads (pass -DllSource)."
}

if (-not ('RingfenceStress.Loader' -as [type])) {
    Add-Type -Namespace RingfenceStress -Name Loader -MemberDefinition @'
[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
public static extern IntPtr LoadLibraryExW(string fileName, IntPtr file, uint flags);
[DllImport("kernel32.dll", SetLastError = true)]
public static extern bool FreeLibrary(IntPtr module);
'@
}
# Maps the image (SEC_IMAGE) without running its code.
$LOAD_LIBRARY_AS_IMAGE_RESOURCE = [uint32]0x20

$shellPath = (Get-Process -Id $PID).Path
$workloads = @(
    @{ Name = 'cmd'; File = (Join-Path $env:SystemRoot 'System32\cmd.exe'); Arguments = "/c rem $marker" }
    @{ Name = 'copied-exe'; File = $copiedExe; Arguments = "/c rem $marker" }
    @{ Name = 'cmd'; File = (Join-Path $env:SystemRoot 'System32\cmd.exe'); Arguments = "/c rem $marker" }
    @{ Name = 'powershell'; File = $shellPath; Arguments = "-NoProfile -NonInteractive -Command exit 0 # $marker" }
)
if ($haveDll) {
    # x64 has one calling convention, so a function without arguments is safe to name here.
    $workloads += , @{ Name = 'rundll32'; File = (Join-Path $env:SystemRoot 'System32\rundll32.exe'); Arguments = ('"{0}",DllCanUnloadNow' -f $dlls[1]) }
}

# ---------------------------------------------------------------- record and load

Write-Host "Recording to $eventsPath"
$before = Get-RingfenceStats -Companion $companionPath

$contentArgument = if ($Content) { " --content `"$Content`"" } else { '' }
$recorderCommand = '/c ""{0}" watch --format json --host-name {1}{2} > "{3}" 2> "{4}""' -f $companionPath, $marker, $contentArgument, $eventsPath, $stderrPath
$recorder = Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\cmd.exe') -ArgumentList $recorderCommand -WindowStyle Hidden -PassThru
# Keeps the process handle, without which ExitCode stays empty after the exit.
$null = $recorder.Handle

$started = @{}
$skipped = 0
$dllLoads = 0
$dllFailures = 0
$running = New-Object System.Collections.Generic.List[Diagnostics.Process]
$exitedInTime = $false
$watchExit = $null
try {
    # Ready: the watch has rendered the first records (its own start is among them).
    $deadline = (Get-Date).AddSeconds(20)
    while (-not (Test-Path -LiteralPath $eventsPath) -or (Get-Item -LiteralPath $eventsPath).Length -eq 0) {
        if ($recorder.HasExited) {
            $why = if (Test-Path -LiteralPath $stderrPath) { Get-Content -LiteralPath $stderrPath -Raw } else { '' }
            throw "ringfence watch exited at once with code $($recorder.ExitCode): $why"
        }
        if ((Get-Date) -gt $deadline) {
            throw "ringfence watch wrote nothing in 20 s (content that drops every event would do that); see $stderrPath."
        }
        Start-Sleep -Milliseconds 100
    }

    Write-Host ("Workload: {0} s, {1} processes/s, {2} DLL loads/s" -f $DurationSeconds, $ProcessesPerSecond, $DllLoadsPerSecond)
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $processInterval = if ($ProcessesPerSecond -gt 0) { 1.0 / $ProcessesPerSecond } else { [double]::PositiveInfinity }
    $dllInterval = if ($DllLoadsPerSecond -gt 0 -and $haveDll) { 1.0 / $DllLoadsPerSecond } else { [double]::PositiveInfinity }
    $nextProcess = if ($ProcessesPerSecond -gt 0) { 0.0 } else { [double]::PositiveInfinity }
    $nextDll = if ($DllLoadsPerSecond -gt 0 -and $haveDll) { 0.0 } else { [double]::PositiveInfinity }
    $turn = 0
    while ($clock.Elapsed.TotalSeconds -lt $DurationSeconds) {
        $now = $clock.Elapsed.TotalSeconds
        if ($now -ge $nextProcess) {
            for ($i = $running.Count - 1; $i -ge 0; $i--) {
                if ($running[$i].HasExited) { $running[$i].Dispose(); $running.RemoveAt($i) }
            }
            if ($running.Count -ge $MaxRunning) {
                $skipped++
            } else {
                $workload = $workloads[$turn % $workloads.Count]
                $turn++
                $running.Add((Start-Workload $workload.File $workload.Arguments))
                $started[$workload.Name] = 1 + $(if ($started.ContainsKey($workload.Name)) { $started[$workload.Name] } else { 0 })
            }
            # Behind by more than a second: drop the backlog rather than burst.
            $nextProcess = [Math]::Max($nextProcess + $processInterval, $now - 1.0)
        }
        if ($now -ge $nextDll) {
            $module = [RingfenceStress.Loader]::LoadLibraryExW($dlls[$dllLoads % $dlls.Count], [IntPtr]::Zero, $LOAD_LIBRARY_AS_IMAGE_RESOURCE)
            if ($module -eq [IntPtr]::Zero) { $dllFailures++ } else { [RingfenceStress.Loader]::FreeLibrary($module) | Out-Null }
            $dllLoads++
            $nextDll = [Math]::Max($nextDll + $dllInterval, $now - 1.0)
        }
        if ($recorder.HasExited) { throw "ringfence watch stopped during the run (exit code $($recorder.ExitCode)); see $stderrPath." }
        $wait = [Math]::Min($nextProcess, $nextDll) - $clock.Elapsed.TotalSeconds
        if ($wait -gt 0.002) { Start-Sleep -Milliseconds ([int][Math]::Min(100, $wait * 1000)) }
    }
    $elapsed = $clock.Elapsed.TotalSeconds

    # The workload ends, then the watch drains.
    foreach ($process in $running) {
        if (-not $process.WaitForExit(30000)) {
            Write-Warning "Workload process $($process.Id) still runs after 30 s; stopping it."
            Stop-Process -Id $process.Id -Force -ErrorAction SilentlyContinue
        }
    }
    Start-Sleep -Seconds $SettleSeconds
} finally {
    $watchPids = @(Get-CimInstance -ClassName Win32_Process -Filter "ParentProcessId=$($recorder.Id)" -ErrorAction SilentlyContinue |
        ForEach-Object { $_.ProcessId })
    if (-not $recorder.HasExited) {
        $sent = Send-CtrlC $recorder.Id
        if ($sent -ne 0) { Write-Warning "Could not send Ctrl-C to the watch (helper exit code $sent)." }
        $exitedInTime = $recorder.WaitForExit(20000)
        if (-not $exitedInTime) {
            Write-Warning 'ringfence watch did not stop on Ctrl-C within 20 s; stopping it: its last records may be missing.'
            foreach ($watchPid in $watchPids) { Stop-Process -Id $watchPid -Force -ErrorAction SilentlyContinue }
            Stop-Process -Id $recorder.Id -Force -ErrorAction SilentlyContinue
            $recorder.WaitForExit(5000) | Out-Null
        }
    }
    if ($recorder.HasExited) { $watchExit = $recorder.ExitCode }
    foreach ($process in $running) { $process.Dispose() }
}
$after = Get-RingfenceStats -Companion $companionPath
# The watch prints its summary only when it ends its own way, after rendering all it read.
$summaryLine = @(Get-Content -LiteralPath $stderrPath -ErrorAction SilentlyContinue | Where-Object { $_ -match ' events in ' }) | Select-Object -Last 1
$cleanStop = $exitedInTime -and [bool]$summaryLine
Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue

# ---------------------------------------------------------------- check

$before | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath (Join-Path $OutputDirectory 'stats_before.json') -Encoding UTF8
$after | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath (Join-Path $OutputDirectory 'stats_after.json') -Encoding UTF8
$processesStarted = [int](($started.Values | Measure-Object -Sum).Sum)
$check = Test-RingfenceRecording -EventsPath $eventsPath -Before $before -After $after -CleanStop $cleanStop `
    -Marker $marker -WorkloadProcessId $PID -ProcessesStarted $processesStarted `
    -ImagesMapped ($dllLoads - $dllFailures) -ContentLoaded:([bool]$Content)

$failures = New-Object System.Collections.Generic.List[string]
$warnings = New-Object System.Collections.Generic.List[string]
# cmd.exe passes on the watch's exit code, or reports the Ctrl-C itself (STATUS_CONTROL_C_EXIT).
if ($exitedInTime -and @(0, -1073741510, 3221225786) -notcontains $watchExit) {
    $failures.Add("ringfence watch exited with code $watchExit; see $stderrPath.")
}
if ($exitedInTime -and -not $cleanStop) { $warnings.Add("ringfence watch printed no summary; see $stderrPath.") }
if ($dllFailures -gt 0) { $warnings.Add("$dllFailures of $dllLoads DLL loads failed in LoadLibraryEx.") }
$failures.AddRange([string[]]$check.Failures)
$warnings.AddRange([string[]]$check.Warnings)

# ---------------------------------------------------------------- report

$result = [ordered]@{
    passed = $failures.Count -eq 0
    failures = $failures.ToArray()
    warnings = $warnings.ToArray()
    duration_seconds = [Math]::Round($elapsed, 1)
    processes_started = $started
    processes_skipped = $skipped
    dll_loads = $dllLoads
    dll_load_failures = $dllFailures
    workload_starts_recorded = $check.WorkloadStartsRecorded
    workload_loads_recorded = $check.WorkloadLoadsRecorded
    records = $check.Records
    records_by_kind = $check.RecordsByKind
    lost_events_records = $check.LostEventsRecords
    lost_announced = $check.LostAnnounced
    missing_unannounced = $check.MissingUnannounced
    records_delivered_by_stats = $check.RecordsDeliveredByStats
    dropped_by_stats = $check.DroppedByStats
    watch_stopped_cleanly = $cleanStop
    watch_summary = $summaryLine
}
$result | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $resultPath -Encoding UTF8

Write-Host ''
foreach ($failure in $failures) { Write-Host "FAIL  $failure" -ForegroundColor Red }
foreach ($warning in $warnings) { Write-Warning $warning }
Write-Host ("Workload  {0:N1} s: {1} processes ({2} skipped), {3} DLL loads" -f $elapsed, $processesStarted, $skipped, $dllLoads)
Write-Host ("Recorded  {0} records: {1}" -f $check.Records, (($KindNames | ForEach-Object { "$_ $($check.RecordsByKind[$_])" }) -join ', '))
Write-Host ("Lost      {0} announced in {1} lost_events records; {2} missing unannounced; STATS dropped {3}" -f `
    $check.LostAnnounced, $check.LostEventsRecords, $check.MissingUnannounced, $check.DroppedByStats)
if ($summaryLine) { Write-Host "Watch     $summaryLine" }
Write-Host "Files     $OutputDirectory (events.jsonl, watch.stderr.txt, stats_before.json, stats_after.json, result.json)"
if ($failures.Count -gt 0) {
    throw "$($failures.Count) check(s) failed; see $resultPath."
}
Write-Host 'PASS' -ForegroundColor Green
