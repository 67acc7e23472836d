<#
.SYNOPSIS
    The measurer's own overhead: Measure-EchoServer against the compiled C client (bench/echo_client.c) on the
    same server (bench/echo_server.c), in alternation, and its capacity probe holding 10,000 connections to an
    event-loop server (tests/pester/peers/echo_peer.py asyncio).
.DESCRIPTION
    Build first (build.ps1). Run pinned to measure code paths rather than the scheduler, e.g.
        taskset -c 1 dotnet pwsh bench/Measure-Overhead.ps1
    Prints the medians and the ratios: round-trip p50 (target <= 1.10x the C client) and stream (target >= 0.9x).
#>
[CmdletBinding()]
param([int] $Rounds = 5, [int] $Count = 20000, [double] $StreamSec = 1, [int] $Capacity = 10000)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$repo = Resolve-Path (Join-Path $PSScriptRoot '..')
Import-Module (Join-Path $repo 'build/DevTools.psm1') -Force
Import-Module (Join-Path $repo 'module/EchoPS.psd1') -Force
$bin = Join-Path ([IO.Path]::GetTempPath()) "echops-overhead-$PID"
$null = New-Item -ItemType Directory -Force $bin
foreach ($name in 'echo_server', 'echo_client') {
    & gcc -O2 -pthread -o (Join-Path $bin $name) (Join-Path $repo "bench/$name.c")
    if ($LASTEXITCODE -ne 0) { throw "gcc could not build bench/$name.c" }
}

function Start-Peer([string] $File, [string[]] $Arguments) {
    $info = [System.Diagnostics.ProcessStartInfo]::new($File)
    foreach ($a in $Arguments) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardInput = $true
    $p = [System.Diagnostics.Process]::Start($info)
    $line = $p.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(10000) -or $line.Result -notmatch '^listening (\d+)$') { throw "$File did not start" }
    [pscustomobject]@{ Process = $p; Port = [int]$Matches[1] }
}

$server = Start-Peer (Join-Path $bin 'echo_server') @('0', '65536')
$peer = Start-Peer python3 @((Join-Path $repo 'tests/pester/peers/echo_peer.py'), 'asyncio', '0')
try {
    $client = Join-Path $bin 'echo_client'
    $rows = foreach ($round in 1..$Rounds) {
        $c = & $client rtt $server.Port $Count 32 | ConvertFrom-Json
        $m = Measure-EchoServer "127.0.0.1:$($server.Port)" -Figure RoundTrip -Count $Count -Size 32 -Rounds 1
        $cs = & $client stream $server.Port ([long](800MB * $StreamSec)) 65536 | ConvertFrom-Json
        $ms = Measure-EchoServer "127.0.0.1:$($server.Port)" -Figure Stream -StreamSec $StreamSec -Rounds 1
        [pscustomobject]@{ Round = $round; CP50Us = $c.p50_us; MP50Us = $m.RttP50Ms * 1000; CMiBps = $cs.mib_per_s; MMiBps = $ms.StreamMiBps }
    }
    $rows | Format-Table | Out-String | Write-Host
    $cP50 = Get-Median $rows.CP50Us; $mP50 = Get-Median $rows.MP50Us
    $cS = Get-Median $rows.CMiBps; $mS = Get-Median $rows.MMiBps
    Write-Host ("Round-trip p50: Measure-EchoServer {0:0.0} us, C client {1:0.0} us: {2:0.000}x (target <= 1.10x)" -f $mP50, $cP50, ($mP50 / $cP50))
    Write-Host ("Stream: Measure-EchoServer {0:0.0} MiB/s, C client {1:0.0} MiB/s: {2:0.000}x (target >= 0.9x)" -f $mS, $cS, ($mS / $cS))
    $cap = Measure-EchoServer "asyncio=127.0.0.1:$($peer.Port)" -Figure Capacity -CapacityConnections $Capacity -CapacityWaitSec 30 -Rounds 1 -WarningAction Continue
    Write-Host ("Capacity probe: {0} asked, {1} opened, {2} connected, {3} echoed, last echo after {4:0} ms, errors {5}" -f $Capacity, $cap.CapacityRequested, $cap.CapacityConnected, $cap.CapacityEchoed, $cap.CapacityLastEchoMs, $cap.ErrorCount)
}
finally {
    $server.Process.Kill(); $peer.Process.StandardInput.Close()
    $null = $peer.Process.WaitForExit(5000)
    if (-not $peer.Process.HasExited) { $peer.Process.Kill() }
    Remove-Item $bin -Recurse -Force
}
