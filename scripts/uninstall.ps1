<#
.SYNOPSIS
  Stops ringfence and removes its package from the Driver Store (the platform undoes the
  DefaultInstall sections; primitive drivers have no DefaultUninstall).
#>
$ErrorActionPreference = 'Stop'
& sc.exe stop ringfence | Out-Null
$published = (& pnputil /enum-drivers) -join "`n" -split "`n`n" |
    Where-Object { $_ -match 'Original Name:\s+ringfence\.inf' } |
    ForEach-Object { if ($_ -match 'Published Name:\s+(oem\d+\.inf)') { $Matches[1] } }
foreach ($inf in $published) {
    & pnputil /delete-driver $inf /uninstall
}
