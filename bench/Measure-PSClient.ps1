<#
.SYNOPSIS
    The PowerShell client of the bench: Test-EchoRoundTrip against each server, the same figures as the compiled
    client where it has a mode for them (round trip, stream, concurrent clients). Prints one JSON object: samples, and
    failures (a server that fails one figure is still measured on the others).
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
$samples = [Collections.Generic.List[object]]::new()
$failures = [Collections.Generic.List[object]]::new()

# Runs one Test-EchoRoundTrip against one server; returns the result, or records why it failed and returns nothing.
function Invoke-Figure($Target, [string] $What, [hashtable] $Parameters) {
    $result = Test-EchoRoundTrip 127.0.0.1 -Port $Target.Port @Parameters -ErrorAction SilentlyContinue -ErrorVariable failure
    if ($result -and $result.Success) { return $result }
    $why = if ($result) { "$($result.Status) $($result.Message)" } else { "$failure" }
    $failures.Add([ordered]@{ Server = $Target.Name; What = "Test-EchoRoundTrip $What against $($Target.Name): $why" })
}

function Add-Sample($Target, [string] $Figure, $Value) {
    $samples.Add([ordered]@{ Server = $Target.Name; Figure = $Figure; Value = $Value })
}

foreach ($target in $targets) { $null = Invoke-Figure $target 'warm-up' @{ Count = $Warmup; Size = $MessageSize } }
foreach ($target in $targets) {
    if ($r = Invoke-Figure $target 'round trip' @{ Count = $Count; Size = $MessageSize }) {
        Add-Sample $target 'rtt_p50_us' ($r.RttP50Ms * 1000)
        Add-Sample $target 'rtt_p99_us' ($r.RttP99Ms * 1000)
    }
}
foreach ($target in $targets) {
    if ($r = Invoke-Figure $target 'stream' @{ TotalBytes = $StreamBytes; Size = $ChunkSize }) {
        Add-Sample $target 'stream_mib_s' $r.ThroughputMiBps
    }
}
foreach ($target in $targets) {
    if ($r = Invoke-Figure $target 'concurrency' @{ Concurrency = 3; HoldMs = $HoldMs }) {
        $waits = @($r.Clients | ForEach-Object WaitMs | Sort-Object)
        Add-Sample $target 'wait2_ms' $waits[1]
        Add-Sample $target 'wait3_ms' $waits[2]
    }
}
ConvertTo-Json -InputObject ([ordered]@{ samples = $samples; failures = $failures }) -Compress -Depth 4
