<#
.SYNOPSIS
    The checks Invoke-RingfenceStress.ps1 runs on a 'ringfence watch --format json'
    recording and the 'ringfence stats --json' taken before and after it.

.DESCRIPTION
    Kept apart from the workload so that a saved recording can be checked again:

        Import-Module .\scripts\RingfenceRecording.psm1
        $before = Get-Content stats_before.json | ConvertFrom-Json
        $after = Get-Content stats_after.json | ConvertFrom-Json
        Test-RingfenceRecording -EventsPath events.jsonl -Before $before -After $after -CleanStop $true

    What is checked, and why each check holds, is in Invoke-RingfenceStress.ps1's help. The
    JSON names are those of companion/ECS.md (event.sequence, event.action,
    ringfence.lost.*) and companion/src/stats_view.rs (kinds.<kind>.seen/filtered/queued/
    dropped, records_delivered, balanced, content.active_version).
#>

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# EventKind names, in the schema's order (crates/wire/src/schema.rs).
$script:KindNames = 'process_start', 'process_exit', 'image_load', 'lost_events', 'content_changed'

function Get-KindCounter($Stats, [string] $Kind, [string] $Counter) {
    [decimal]$Stats.kinds.$Kind.$Counter
}

function Get-CounterSum($Stats, [string] $Counter) {
    $sum = [decimal]0
    foreach ($kind in $script:KindNames) { $sum += Get-KindCounter $Stats $kind $Counter }
    $sum
}

function Test-RingfenceRecording {
    <#
    .SYNOPSIS
        Checks a recording against STATS; returns Failures, Warnings and the figures.
    .PARAMETER EventsPath
        The JSON Lines file 'ringfence watch --format json' wrote.
    .PARAMETER Before
        'ringfence stats --json', parsed, taken before the watch opened the device.
    .PARAMETER After
        The same, taken after the watch closed it.
    .PARAMETER CleanStop
        The watch ended on Ctrl-C and printed its summary, so it rendered every record it read.
    .PARAMETER Marker
        Text in the command line of every process the workload started and in the path of
        every DLL it mapped; empty: no workload checks.
    .PARAMETER WorkloadProcessId
        The process that mapped the DLLs.
    .PARAMETER ProcessesStarted
        How many processes the workload started.
    .PARAMETER ImagesMapped
        How many DLL images the workload process mapped.
    .PARAMETER ContentLoaded
        The watch loaded content, which may filter the workload's events.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $EventsPath,
        [Parameter(Mandatory)] $Before,
        [Parameter(Mandatory)] $After,
        [bool] $CleanStop = $true,
        [string] $Marker = '',
        [int] $WorkloadProcessId = 0,
        [int] $ProcessesStarted = 0,
        [int] $ImagesMapped = 0,
        [switch] $ContentLoaded
    )
    $KindNames = $script:KindNames
    $failures = New-Object System.Collections.Generic.List[string]
    $warnings = New-Object System.Collections.Generic.List[string]
    function Add-Failure([string] $Text) { $failures.Add($Text) }
    function Add-Warning([string] $Text) { $warnings.Add($Text) }

    $sequences = New-Object System.Collections.Generic.List[decimal]
    $recorded = @{}
    $recordedAfterStart = @{}
    foreach ($kind in $KindNames) { $recorded[$kind] = [decimal]0; $recordedAfterStart[$kind] = [decimal]0 }
    $lost = New-Object System.Collections.Generic.List[object]
    $ownStarts = 0
    $ownLoads = 0
    $badLines = 0
    $lineNumber = 0
    # The last sequence number taken, and the records waiting, when the watch started.
    $takenBefore = (Get-CounterSum $Before 'queued') + (Get-CounterSum $Before 'dropped')
    $waitingBefore = (Get-CounterSum $Before 'queued') - [decimal]$Before.records_delivered

    $lines = @(Get-Content -LiteralPath $EventsPath -Encoding UTF8)
    foreach ($line in $lines) {
        $lineNumber++
        try {
            $record = ConvertFrom-Json -InputObject $line
            $sequence = [decimal]$record.event.sequence
            $action = [string]$record.event.action
        } catch {
            # A watch that had to be killed may leave a cut last line.
            if (-not $CleanStop -and $lineNumber -eq $lines.Count) { Add-Warning "Line $lineNumber is cut off (the watch was killed)."; break }
            $badLines++
            if ($badLines -le 5) { Add-Failure "Line $lineNumber of events.jsonl is not a ringfence JSON record: $($_.Exception.Message)" }
            continue
        }
        if ($KindNames -notcontains $action) { Add-Failure "Line ${lineNumber}: unknown event.action '$action'."; continue }
        if ($sequences.Count -gt 0 -and $sequence -le $sequences[$sequences.Count - 1]) {
            Add-Failure "Line ${lineNumber}: sequence $sequence after $($sequences[$sequences.Count - 1]): the sequence went back (driver restarted?) or repeated."
        }
        $sequences.Add($sequence)
        $recorded[$action] += 1
        if ($sequence -gt $takenBefore) { $recordedAfterStart[$action] += 1 }
        if ($action -eq 'lost_events') {
            $l = $record.ringfence.lost
            $entry = [pscustomobject]@{
                Sequence = $sequence; First = [decimal]$l.first_sequence; Last = [decimal]$l.last_sequence; Count = [decimal]$l.count
                PerKind = @{
                    process_start = [decimal]$l.process_start; process_exit = [decimal]$l.process_exit
                    image_load = [decimal]$l.image_load; content_changed = [decimal]$l.content_changed
                }
            }
            $lost.Add($entry)
            $perKindSum = ($entry.PerKind.Values | Measure-Object -Sum).Sum
            if ($entry.Count -ne ($entry.Last - $entry.First + 1) -or $entry.Count -ne $perKindSum) {
                Add-Failure "lost_events at sequence ${sequence}: count $($entry.Count), range $($entry.First)..$($entry.Last), per-kind sum $perKindSum do not agree."
            }
        }
        # The workload's own events, recognised by the marker.
        $properties = $record.PSObject.Properties.Name
        if ($Marker -and $action -eq 'process_start' -and $properties -contains 'process' -and
            $record.process.PSObject.Properties.Name -contains 'command_line' -and $record.process.command_line -like "*$Marker*") {
            $ownStarts++
        }
        if ($Marker -and $action -eq 'image_load' -and $properties -contains 'dll' -and $properties -contains 'process' -and
            $record.dll.path -like "*$Marker*" -and [int]$record.process.pid -eq $WorkloadProcessId) {
            $ownLoads++
        }
    }
    if ($badLines -gt 5) { Add-Failure "$badLines lines in all are not ringfence JSON records." }

    # Gaps: every missing number lies in a recorded lost range; no recorded number does.
    $ranges = @($lost | Sort-Object First)
    $merged = New-Object System.Collections.Generic.List[object]
    foreach ($range in $ranges) {
        if ($merged.Count -gt 0 -and $range.First -le $merged[$merged.Count - 1].Last + 1) {
            $merged[$merged.Count - 1].Last = [Math]::Max($merged[$merged.Count - 1].Last, $range.Last)
        } else {
            $merged.Add([pscustomobject]@{ First = $range.First; Last = $range.Last })
        }
    }
    $unannounced = [decimal]0
    for ($i = 1; $i -lt $sequences.Count; $i++) {
        $gapFirst = $sequences[$i - 1] + 1
        $gapLast = $sequences[$i] - 1
        if ($gapLast -lt $gapFirst) { continue }
        $covered = @($merged | Where-Object { $_.First -le $gapFirst -and $_.Last -ge $gapLast }).Count -gt 0
        if (-not $covered) {
            $unannounced += $gapLast - $gapFirst + 1
            Add-Failure "Sequence numbers $gapFirst..$gapLast are missing and no lost_events record announces them."
        }
    }
    foreach ($range in $ranges) {
        $at = $sequences.BinarySearch($range.First)
        if ($at -lt 0) { $at = -bnot $at }
        if ($at -lt $sequences.Count -and $sequences[$at] -le $range.Last) {
            Add-Failure "lost_events range $($range.First)..$($range.Last) contains the recorded sequence $($sequences[$at])."
        }
    }

    # Against STATS.
    $delivered = [decimal]$After.records_delivered - [decimal]$Before.records_delivered
    if ($CleanStop -and $sequences.Count -ne $delivered) {
        Add-Failure "Recorded $($sequences.Count) records; STATS says $delivered were read meanwhile."
    } elseif (-not $CleanStop -and $sequences.Count -gt $delivered) {
        Add-Failure "Recorded $($sequences.Count) records, more than the $delivered STATS says were read."
    }
    $recordedWaiting = @($sequences | Where-Object { $_ -le $takenBefore }).Count
    $caughtUp = $sequences.Count -gt 0 -and $sequences[$sequences.Count - 1] -gt $takenBefore
    if ($caughtUp -and $recordedWaiting -ne $waitingBefore) {
        Add-Failure "Recorded $recordedWaiting records numbered up to $takenBefore; $waitingBefore were waiting in the queue when the watch started."
    }
    foreach ($kind in $KindNames) {
        $queued = (Get-KindCounter $After $kind 'queued') - (Get-KindCounter $Before $kind 'queued')
        if ($recordedAfterStart[$kind] -gt $queued) {
            Add-Failure "${kind}: recorded $($recordedAfterStart[$kind]) records queued after the watch started; STATS queued only $queued."
        }
        if ($kind -ne 'lost_events') {
            $dropped = (Get-KindCounter $After $kind 'dropped') - (Get-KindCounter $Before $kind 'dropped')
            $announced = [decimal](($lost | Where-Object { $_.First -gt $takenBefore } | ForEach-Object { $_.PerKind[$kind] } | Measure-Object -Sum).Sum)
            if ($announced -gt $dropped) {
                Add-Failure "${kind}: lost_events announced $announced drops after the watch started; STATS dropped only $dropped."
            }
        }
    }
    foreach ($snapshot in @(@{ Name = 'before'; Stats = $Before }, @{ Name = 'after'; Stats = $After })) {
        if (-not $snapshot.Stats.balanced) { Add-Failure "STATS $($snapshot.Name): some kind has seen != filtered + queued + dropped." }
    }


    # The workload itself.
    $droppedDuring = (Get-CounterSum $After 'dropped') - (Get-CounterSum $Before 'dropped')
    $unfiltered = -not $ContentLoaded -and [decimal]$After.content.active_version -eq 0
    if ($Marker -and $ownStarts -lt $ProcessesStarted) {
        $text = "Recorded $ownStarts of the $ProcessesStarted processes the workload started."
        if ($unfiltered -and $droppedDuring -eq 0) { Add-Failure "$text Nothing was filtered or dropped." } else { Add-Warning "$text (content active or events dropped)" }
    }
    if ($Marker -and $ownLoads -lt $ImagesMapped) {
        Add-Warning "Recorded $ownLoads of the $ImagesMapped DLL images the workload process mapped."
    }

    [pscustomobject]@{
        Failures = $failures.ToArray()
        Warnings = $warnings.ToArray()
        Records = $sequences.Count
        RecordsByKind = $recorded
        LostEventsRecords = $lost.Count
        LostAnnounced = [decimal](($lost | ForEach-Object { $_.Count } | Measure-Object -Sum).Sum)
        MissingUnannounced = $unannounced
        RecordsDeliveredByStats = $delivered
        DroppedByStats = $droppedDuring
        WorkloadStartsRecorded = $ownStarts
        WorkloadLoadsRecorded = $ownLoads
    }
}

Export-ModuleMember -Function Test-RingfenceRecording
