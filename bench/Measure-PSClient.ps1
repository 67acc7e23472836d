<#
.SYNOPSIS
    The PowerShell client of the bench: Test-EchoRoundTrip against each server, the same figures as the compiled
    client where it has a mode for them (round trip, stream, concurrent clients). Prints one JSON array of samples.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # name=port pairs (or one comma-separated string of them), measured in this order.
    [Parameter(Mandatory)] [string[]] $Server,
    [int] $Count = 20000,
    [int] $Warmup = 2000,
    [int] $MessageSize = 32,
    [long] $StreamBytes = 256MB,
    [int] $ChunkSize = 65536,
    [int] $HoldMs = 20
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

$targets = foreach ($pair in $Server -split ',') { $name, $port = $pair -split '='; [pscustomobject]@{ Name = $name; Port = [int]$port } }
function Get-Checked($Result, [string] $What) {
    if (-not $Result.Success) { throw "Test-EchoRoundTrip $What failed: $($Result.Status) $($Result.Message)" }
    $Result
}
$samples = [Collections.Generic.List[object]]::new()
function Add-Sample([string] $ServerName, [string] $Figure, $Value) {
    $samples.Add([ordered]@{ Server = $ServerName; Figure = $Figure; Value = $Value })
}

foreach ($target in $targets) {
    $null = Get-Checked (Test-EchoRoundTrip 127.0.0.1 -Port $target.Port -Count $Warmup -Size $MessageSize) 'warm-up'
}
foreach ($target in $targets) {
    $r = Get-Checked (Test-EchoRoundTrip 127.0.0.1 -Port $target.Port -Count $Count -Size $MessageSize) 'round trip'
    Add-Sample $target.Name 'rtt_p50_us' ($r.RttP50Ms * 1000)
    Add-Sample $target.Name 'rtt_p99_us' ($r.RttP99Ms * 1000)
}
foreach ($target in $targets) {
    $r = Get-Checked (Test-EchoRoundTrip 127.0.0.1 -Port $target.Port -TotalBytes $StreamBytes -Size $ChunkSize) 'stream'
    Add-Sample $target.Name 'stream_mib_s' $r.ThroughputMiBps
}
foreach ($target in $targets) {
    $r = Get-Checked (Test-EchoRoundTrip 127.0.0.1 -Port $target.Port -Concurrency 3 -HoldMs $HoldMs) 'concurrency'
    $waits = @($r.Clients | ForEach-Object WaitMs | Sort-Object)
    Add-Sample $target.Name 'wait2_ms' $waits[1]
    Add-Sample $target.Name 'wait3_ms' $waits[2]
}
ConvertTo-Json -InputObject $samples -Compress
