<#
.SYNOPSIS
    Heap allocations of the EchoPS server in steady state, per echo, per connection and per MiB streamed.
.DESCRIPTION
    Runs the server as a job in this process and drives it with the compiled client. GC.GetTotalAllocatedBytes counts
    every thread of the process, so each figure is a difference between a short and a long run of the same kind:
    what this shell allocates around a client run (starting it, reading its one output line) cancels out.
    Prints one JSON object.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $ClientExe,
    [int] $Echoes = 20000,
    [int] $Connections = 1000,
    [int] $StreamMiB = 128,
    [int] $Repeats = 3
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath
Import-Module (Join-Path $PSScriptRoot '../build/DevTools.psm1')

function Measure-ClientRun([object[]] $Arguments) {
    $before = [GC]::GetTotalAllocatedBytes($true)
    $null = & $ClientExe @Arguments
    $after = [GC]::GetTotalAllocatedBytes($true)
    if ($LASTEXITCODE -ne 0) { throw "echo_client $($Arguments -join ' ') failed with exit code $LASTEXITCODE." }
    $after - $before
}


$job = Start-BlockingEchoServer -Port 0 -AsJob
try {
    $port = $job.Port
    # Warm-up: JIT and tiering of every path the measured runs take.
    $null = Measure-ClientRun @('rtt', $port, 5000, 32, 0)
    $null = Measure-ClientRun @('conns', $port, 200)
    $null = Measure-ClientRun @('stream', $port, 16MB, 65536)

    $perEcho = @(); $perConnection = @(); $perMiB = @()
    foreach ($i in 1..$Repeats) {
        $short = Measure-ClientRun @('rtt', $port, 1000, 32, 0)
        $long = Measure-ClientRun @('rtt', $port, (1000 + $Echoes), 32, 0)
        $perEcho += ($long - $short) / $Echoes
        $short = Measure-ClientRun @('conns', $port, 100)
        $long = Measure-ClientRun @('conns', $port, (100 + $Connections))
        $perConnection += ($long - $short) / $Connections
        $short = Measure-ClientRun @('stream', $port, 8MB, 65536)
        $long = Measure-ClientRun @('stream', $port, (8MB + $StreamMiB * 1MB), 65536)
        $perMiB += ($long - $short) / $StreamMiB
    }
    [ordered]@{
        echoes = $Echoes; connections = $Connections; stream_mib = $StreamMiB; repeats = $Repeats
        bytes_per_echo = Get-Median $perEcho; bytes_per_echo_all = $perEcho
        bytes_per_connection = Get-Median $perConnection; bytes_per_connection_all = $perConnection
        bytes_per_mib_streamed = Get-Median $perMiB; bytes_per_mib_streamed_all = $perMiB
    } | ConvertTo-Json -Compress
}
finally {
    $job | Remove-Job -Force
}
