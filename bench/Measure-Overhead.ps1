<#
.SYNOPSIS
    The measurer's own overhead: Measure-EchoServer against the compiled C client (bench/echo_client.c) on the
    same server, in alternation, and its capacity probe holding many connections to an event-loop server.
.DESCRIPTION
    The compiled client is the neutral cross-check: it measures the same server with a plain C loop (memcmp to
    verify), so the ratio of the two is what the measurer itself adds. Every round runs: echo_client rtt,
    Measure-EchoServer -Figure RoundTrip, echo_client stream, Measure-EchoServer -Figure Stream; medians of rounds.
    Build first (build.ps1). The bench (build/Bench.ps1) gives the servers and pins this pwsh and its children to one
    CPU with taskset; run alone it builds the C peers and starts the C server (and, with python3, the asyncio peer
    of tests/pester/peers/echo_peer.py) itself:
        taskset -c 1 dotnet pwsh bench/Measure-Overhead.ps1
    Prints one JSON object: the rounds, the medians, the ratios and the capacity probe's counts.
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../module/EchoPS.psd1'),
    [string] $ClientExe,
    [int] $Port,
    [int] $CapacityPort,
    [int] $Rounds = 5, [int] $Count = 20000, [double] $StreamSec = 1, [int] $Capacity = 10000,
    # How long to wait, at most, for this process to go idle after the warm-up (0: not at all, a smoke run).
    [double] $IdleTimeoutSec = 20
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../build/DevTools.psm1')
Import-Module $ModulePath
$own = [Collections.Generic.List[Diagnostics.Process]]::new()
$bin = $null

# A peer that prints "listening <port>" once bound; its standard input stays open (echo_peer.py exits when it closes).
function Start-Peer([string] $File, [string[]] $Arguments) {
    $info = [System.Diagnostics.ProcessStartInfo]::new($File)
    foreach ($a in $Arguments) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardInput = $true
    $p = [System.Diagnostics.Process]::Start($info)
    $own.Add($p)
    $line = $p.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(10000) -or $line.Result -notmatch '^listening (\d+)$') { throw "$File did not start" }
    [int]$Matches[1]
}

try {
    if (-not $ClientExe) {
        $bin = Join-Path ([IO.Path]::GetTempPath()) "echops-overhead-$PID"
        $null = New-Item -ItemType Directory -Force $bin
        foreach ($name in 'echo_server', 'echo_client') {
            & gcc -O2 -pthread -o (Join-Path $bin $name) (Join-Path $PSScriptRoot "$name.c")
            if ($LASTEXITCODE -ne 0) { throw "gcc could not build bench/$name.c" }
        }
        $ClientExe = Join-Path $bin 'echo_client'
    }
    if (-not $Port) { $Port = Start-Peer (Join-Path (Split-Path $ClientExe) 'echo_server') @('0', '65536') }
    if (-not $CapacityPort -and (Test-Tool python3)) {
        $CapacityPort = Start-Peer python3 @((Join-Path $PSScriptRoot '../tests/pester/peers/echo_peer.py'), 'asyncio', '0')
    }
    $target = "C=127.0.0.1:$Port"
    $streamBytes = [long](800MB * $StreamSec) # about as long as the measurer's timed stream at loopback speed
    # Warm-up of both clients' paths (and the server's first accept), then wait until this process is idle.
    $null = & $ClientExe rtt $Port 2000 32
    $null = Measure-EchoServer $target -Quick -Figure RoundTrip, Stream
    $null = Wait-ProcessIdle -ProcessId $PID -TimeoutSec $IdleTimeoutSec
    $rows = foreach ($round in 1..$Rounds) {
        $c = & $ClientExe rtt $Port $Count 32 | ConvertFrom-Json
        $m = Measure-EchoServer $target -Figure RoundTrip -Count $Count -Size 32 -Rounds 1
        $cs = & $ClientExe stream $Port $streamBytes 65536 | ConvertFrom-Json
        $ms = Measure-EchoServer $target -Figure Stream -StreamSec $StreamSec -Rounds 1
        [pscustomobject]@{ Round = $round; ClientP50Us = $c.p50_us; MeasurerP50Us = $m.RttP50Ms * 1000; ClientMiBps = $cs.mib_per_s; MeasurerMiBps = $ms.StreamMiBps }
    }
    $result = [ordered]@{
        Rounds = @($rows)
        ClientP50Us = Get-Median $rows.ClientP50Us; MeasurerP50Us = Get-Median $rows.MeasurerP50Us
        ClientMiBps = Get-Median $rows.ClientMiBps; MeasurerMiBps = Get-Median $rows.MeasurerMiBps
    }
    $result.RttP50Ratio = [math]::Round($result.MeasurerP50Us / $result.ClientP50Us, 3)
    $result.StreamRatio = [math]::Round($result.MeasurerMiBps / $result.ClientMiBps, 3)
    if ($CapacityPort) {
        $cap = Measure-EchoServer "asyncio=127.0.0.1:$CapacityPort" -Figure Capacity -CapacityConnections $Capacity -CapacityWaitSec 30 -Rounds 1 -WarningVariable warnings
        $result.CapacityRequested = $Capacity; $result.CapacityOpened = $cap.CapacityRequested
        $result.CapacityConnected = $cap.CapacityConnected; $result.CapacityEchoed = $cap.CapacityEchoed
        $result.CapacityLastEchoMs = $cap.CapacityLastEchoMs; $result.CapacityErrors = $cap.ErrorCount
        $result.CapacityNotes = @($warnings | ForEach-Object { "$_" })
    }
    [pscustomobject]$result | ConvertTo-Json -Depth 4 -Compress
}
finally {
    foreach ($p in $own) {
        $p.StandardInput.Close()
        if (-not $p.WaitForExit(2000)) { $p.Kill() }
    }
    if ($bin) { Remove-Item $bin -Recurse -Force }
}
