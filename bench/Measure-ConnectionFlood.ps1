<#
.SYNOPSIS
    What a connection costs EchoPS beside the C server, and what a flood of connections does to it (issue 12).
.DESCRIPTION
    Builds bench/echo_server.c and bench/echo_client.c with gcc, then, server and client pinned to one CPU (taskset):
      - sequential connections per second (1-byte echo each), rounds alternating between the C server and EchoPS as
        a job (the engine alone) and in the foreground with its events formatted into a log (as users run it);
        medians of rounds, and the ratio to C of the same rounds;
      - round-trip p50/p99 of 32-byte messages, C and EchoPS, medians of rounds;
      - syscalls per connection of each server process (strace -f -c over a fixed run, unpinned);
    then a flood: as many connections as fit (up to -FloodConnections or -FloodSeconds) against a foreground server
    and against a job that nobody receives, sampling the process's memory (VmRSS, VmHWM) and the CPU time of each
    of its threads, and reading the server's own count of clients at the end.
    -BaselineModulePath measures another build (for example main's) beside the same C server.
    Prints one JSON object; raw files go to -OutDir.

    With -Serve this script is the server side of the flood instead: it runs one EchoPS server in this process
    and, when the file -StopFile appears, writes Get-BlockingEchoServer's counters to -ReportFile and stops it.
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../module/EchoPS.psd1'),
    [string] $BaselineModulePath,
    [int] $Cpu = 1,
    [int] $Rounds = 5,
    [int] $Conns = 20000,
    [int] $RttCount = 20000,
    [int] $TraceConns = 2000,
    [int] $FloodConnections = 1000000,
    [int] $FloodSeconds = 150,
    [string] $OutDir = (Join-Path ([IO.Path]::GetTempPath()) "echops-flood-$PID"),

    # Server side of the flood (used by this script itself).
    [switch] $Serve,
    [ValidateSet('Foreground', 'Job')] [string] $Mode = 'Foreground',
    [int] $Port,
    [string] $StopFile,
    [string] $ReportFile
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$PSStyle.OutputRendering = 'PlainText'

if ($Serve) {
    Import-Module $ModulePath
    # A second runspace watches for the stop file: the foreground server holds this one's pipeline.
    $watcher = [powershell]::Create()
    $shared = [hashtable]::Synchronized(@{}) # jobs are per runspace: the job is handed over here
    $null = $watcher.AddScript({
            param($ModulePath, $Port, $StopFile, $ReportFile, $Shared)
            Import-Module $ModulePath
            while (-not (Test-Path $StopFile)) { Start-Sleep -Milliseconds 100 }
            $server = Get-BlockingEchoServer -Port $Port
            $job = $Shared.Job
            [GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
            [ordered]@{
                clients_served = $server.ClientsServed; clients_rejected = $server.ClientsRejected
                job_events_held = $(if ($job) { $job.Output.Count }); job_events_dropped = $(if ($job) { $job.DroppedEvents })
                managed_mib_after_gc = [math]::Round([GC]::GetTotalMemory($true) / 1MB, 1)
            } | ConvertTo-Json -Compress | Set-Content $ReportFile
            Stop-BlockingEchoServer -Port $Port
        }).AddArgument($ModulePath).AddArgument($Port).AddArgument($StopFile).AddArgument($ReportFile).AddArgument($shared)
    $handle = $watcher.BeginInvoke()
    if ($Mode -eq 'Job') {
        $job = Start-BlockingEchoServer -Port $Port -AsJob
        $shared.Job = $job
        $null = $handle.AsyncWaitHandle.WaitOne()
        $job | Wait-Job -Timeout 10 | Out-Null
    }
    else {
        Start-BlockingEchoServer -Port $Port
        $null = $handle.AsyncWaitHandle.WaitOne()
    }
    $watcher.Dispose()
    return
}

Import-Module (Join-Path $PSScriptRoot '../build/DevTools.psm1')
$null = New-Item -ItemType Directory -Force -Path $OutDir
$Pwsh = Join-Path $PSHOME 'pwsh'
$ServerExe = Join-Path $OutDir 'echo_server'
$ClientExe = Join-Path $OutDir 'echo_client'
& gcc -O2 -o $ServerExe (Join-Path $PSScriptRoot 'echo_server.c')
& gcc -O2 -pthread -o $ClientExe (Join-Path $PSScriptRoot 'echo_client.c')
if ($LASTEXITCODE -ne 0) { throw 'gcc failed.' }
$Started = [System.Collections.Generic.List[Diagnostics.Process]]::new()

function Invoke-Client([string] $Mode, [int] $Port, [object[]] $Arguments, [bool] $Pinned = $true) {
    $command = @(if ($Pinned) { 'taskset', '-c', "$Cpu" }) + @($ClientExe, $Mode, $Port) + $Arguments
    foreach ($attempt in 1..3) {
        # taskset fails now and then with "Invalid argument" on these shared VMs: try again before giving up.
        $line = & $command[0] $command[1..($command.Count - 1)]
        if ($LASTEXITCODE -eq 0) { break }
        Start-Sleep -Seconds 1
    }
    if ($LASTEXITCODE -ne 0) { throw "echo_client $Mode failed." }
    $line | ConvertFrom-Json
}

function Start-Peer([string] $Name, [string] $Module, [string] $Events, [bool] $Pinned = $true, [string] $StopFile) {
    $port = Get-FreePort
    $log = Join-Path $OutDir "server-$Name-$Events-$port.log"
    $command = switch ($Name) {
        'C' { @($ServerExe, $port) }
        default {
            if ($StopFile) {
                @($Pwsh, '-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-Serve', '-Mode', $Events, '-ModulePath', $Module,
                    '-Port', $port, '-StopFile', $StopFile, '-ReportFile', "$StopFile.json")
            }
            else {
                @($Pwsh, '-NoProfile', '-NonInteractive', '-File', (Join-Path $PSScriptRoot 'Start-EchoPSServer.ps1'),
                    '-ModulePath', $Module, '-Port', $port, '-Events', $Events)
            }
        }
    }
    if ($Pinned) { $command = @('taskset', '-c', "$Cpu") + $command }
    $process = Start-Process -FilePath $command[0] -ArgumentList ($command[1..($command.Count - 1)] | ForEach-Object { "`"$_`"" }) `
        -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $Started.Add($process)
    $listening = Wait-Until -TimeoutMs 60000 -IntervalMs 50 -Condition {
        try { $c = [Net.Sockets.TcpClient]::new(); $c.Connect('127.0.0.1', $port); $c.Dispose(); $true } catch { $false }
    }
    if (-not $listening) { throw "$Name ($Events) did not listen on ${port}: $(Get-Content -Raw "$log.err")" }
    [pscustomobject]@{ Name = $Name; Events = $Events; Port = $port; Process = $process; Log = $log }
}

function Stop-Peer($Peer) {
    if ($Peer -and -not $Peer.Process.HasExited) { $Peer.Process.Kill($true); $Peer.Process.WaitForExit(10000) | Out-Null }
}

function Get-ThreadCpu([int] $ProcessId) {
    # CPU seconds (user + system) of each thread, by thread name, busiest first.
    $ticks = 100.0
    foreach ($task in Get-ChildItem "/proc/$ProcessId/task" -ErrorAction SilentlyContinue) {
        $stat = Get-Content (Join-Path $task.FullName 'stat') -Raw -ErrorAction SilentlyContinue
        if (-not $stat) { continue }
        $fields = -split $stat.Substring($stat.LastIndexOf(')') + 2)
        [pscustomobject]@{ Thread = (Get-Content (Join-Path $task.FullName 'comm')).Trim(); Tid = [int]$task.Name
            CpuSeconds = [math]::Round(([double]$fields[11] + [double]$fields[12]) / $ticks, 2) }
    }
}

function Get-ProcessCpu([int] $ProcessId) {
    # CPU seconds (user + system) of a whole process so far; its child processes are not counted.
    $stat = Get-Content "/proc/$ProcessId/stat" -Raw
    $fields = -split $stat.Substring($stat.LastIndexOf(')') + 2)
    ([double]$fields[11] + [double]$fields[12]) / 100.0
}

function Get-MemoryMiB([int] $ProcessId, [string] $Field) {
    $line = Get-Content "/proc/$ProcessId/status" | Where-Object { $_ -like "${Field}:*" }
    [math]::Round([double]($line -replace '\D', '') / 1024, 1)
}

$modules = [ordered]@{ EchoPS = $ModulePath }
if ($BaselineModulePath) { $modules['baseline'] = $BaselineModulePath }
$result = [ordered]@{ cpu = $Cpu; rounds = $Rounds; conns_per_round = $Conns; rtt_count = $RttCount }
try {
    # Connections per second and round trips, pinned, alternating with C round by round.
    $connRows = [System.Collections.Generic.List[object]]::new()
    $rttRows = [System.Collections.Generic.List[object]]::new()
    foreach ($module in $modules.GetEnumerator()) {
        foreach ($events in 'Job', 'Formatted') {
            $c = $null; $peer = $null
            try {
                $c = Start-Peer -Name 'C'
                $peer = Start-Peer -Name $module.Key -Module $module.Value -Events $events
                $null = Invoke-Client conns $peer.Port @(5000)
                $null = Invoke-Client rtt $peer.Port @(5000, 32, 0)
                Start-Sleep -Seconds 2 # tiering settles
                foreach ($round in 1..$Rounds) {
                    # CPU time of each server process over the run, per connection: robust where other load on the
                    # machine makes the rates noisy.
                    $cCpu = Get-ProcessCpu $c.Process.Id
                    $cRate = (Invoke-Client conns $c.Port @($Conns)).per_second
                    $cCpu = (Get-ProcessCpu $c.Process.Id) - $cCpu
                    $peerCpu = Get-ProcessCpu $peer.Process.Id
                    $rate = (Invoke-Client conns $peer.Port @($Conns)).per_second
                    $peerCpu = (Get-ProcessCpu $peer.Process.Id) - $peerCpu
                    $connRows.Add([pscustomobject]@{ Server = $module.Key; Events = $events; Round = $round; C = $cRate; EchoPS = $rate; Ratio = $rate / $cRate
                            CUs = $cCpu * 1e6 / $Conns; Us = $peerCpu * 1e6 / $Conns })
                    if ($events -eq 'Job') {
                        $cRtt = Invoke-Client rtt $c.Port @($RttCount, 32, 1000)
                        $rtt = Invoke-Client rtt $peer.Port @($RttCount, 32, 1000)
                        $rttRows.Add([pscustomobject]@{ Server = $module.Key; Round = $round; C50 = $cRtt.p50_us; P50 = $rtt.p50_us; C99 = $cRtt.p99_us; P99 = $rtt.p99_us })
                    }
                }
            }
            finally { Stop-Peer $peer; Stop-Peer $c }
        }
    }
    $result.conns = foreach ($group in $connRows | Group-Object Server, Events) {
        [ordered]@{ server = $group.Group[0].Server; events = $group.Group[0].Events
            c_per_s = Get-Median $group.Group.C; echops_per_s = Get-Median $group.Group.EchoPS; ratio_median = [math]::Round((Get-Median $group.Group.Ratio), 3)
            c_cpu_us_per_conn = [math]::Round((Get-Median $group.Group.CUs), 1); echops_cpu_us_per_conn = [math]::Round((Get-Median $group.Group.Us), 1)
            ratios = @($group.Group | ForEach-Object { [math]::Round($_.Ratio, 3) }) }
    }
    $result.rtt = foreach ($group in $rttRows | Group-Object Server) {
        [ordered]@{ server = $group.Name; c_p50_us = Get-Median $group.Group.C50; p50_us = Get-Median $group.Group.P50
            c_p99_us = Get-Median $group.Group.C99; p99_us = Get-Median $group.Group.P99
            p50_x_c = [math]::Round((Get-Median ($group.Group | ForEach-Object { $_.P50 / $_.C50 })), 3)
            p99_x_c = [math]::Round((Get-Median ($group.Group | ForEach-Object { $_.P99 / $_.C99 })), 3) }
    }

    # Syscalls per connection: strace -f -c attached to each server process over a fixed run.
    if (Test-Tool strace) {
        $result.syscalls = foreach ($target in @(@{ Name = 'C'; Module = $null }) + @($modules.GetEnumerator() | ForEach-Object { @{ Name = $_.Key; Module = $_.Value } })) {
            $peer = $null; $tracer = $null
            try {
                $peer = Start-Peer -Name $target.Name -Module $target.Module -Events 'Job' -Pinned $false
                $null = Invoke-Client conns $peer.Port @(5000) $false
                Start-Sleep -Seconds 2
                $file = Join-Path $OutDir "strace-$($target.Name).txt"
                $tracer = Start-Process strace -ArgumentList "-f -c -o `"$file`" -p $($peer.Process.Id)" -PassThru -RedirectStandardError "$file.err"
                $null = Wait-Until { (Get-Content "/proc/$($peer.Process.Id)/status") -match 'TracerPid:\s+[1-9]' } -TimeoutMs 10000
                Start-Sleep -Milliseconds 500
                $null = Invoke-Client conns $peer.Port @($TraceConns) $false
                Start-Sleep -Milliseconds 300
                & kill -INT $tracer.Id
                $null = $tracer.WaitForExit(15000)
                $calls = [ordered]@{}
                foreach ($line in Get-Content $file) {
                    $fields = -split $line
                    if ($fields.Count -ge 5 -and $fields[0] -match '^\d' -and $fields[-1] -ne 'total') { $calls[$fields[-1]] = [math]::Round([long]$fields[3] / $TraceConns, 3) }
                }
                [ordered]@{ server = $target.Name; per_connection_total = [math]::Round(($calls.Values | Measure-Object -Sum).Sum, 2); per_connection = $calls }
            }
            finally { if ($tracer -and -not $tracer.HasExited) { $tracer.Kill() }; Stop-Peer $peer }
        }
    }

    # The flood: foreground (events formatted into a log) and an unreceived job, pinned like the rest.
    $result.flood = foreach ($events in 'Foreground', 'Job') {
        $stopFile = Join-Path $OutDir "stop-$events"
        $peer = Start-Peer -Name 'EchoPS' -Module $ModulePath -Events $events -StopFile $stopFile
        try {
            $serverPid = $peer.Process.Id
            $before = @{}
            foreach ($thread in Get-ThreadCpu $serverPid) { $before[$thread.Tid] = $thread.CpuSeconds }
            $rssBefore = Get-MemoryMiB $serverPid 'VmRSS'
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $done = 0; $samples = @()
            while ($done -lt $FloodConnections -and $clock.Elapsed.TotalSeconds -lt $FloodSeconds) {
                $chunk = [math]::Min(50000, $FloodConnections - $done)
                $null = Invoke-Client conns $peer.Port @($chunk)
                $done += $chunk
                $samples += [pscustomobject]@{ Connections = $done; Seconds = [math]::Round($clock.Elapsed.TotalSeconds, 1)
                    RssMiB = Get-MemoryMiB $serverPid 'VmRSS' }
            }
            $seconds = $clock.Elapsed.TotalSeconds
            Start-Sleep -Seconds 2 # the last summaries and rows drain
            # CPU each thread spent during the flood (the foreground's formatting runs on a "Pipeline Execution" thread).
            $threads = @(Get-ThreadCpu $serverPid | ForEach-Object {
                    $_.CpuSeconds = [math]::Round($_.CpuSeconds - ($before[$_.Tid] ?? 0), 2); $_ } |
                Sort-Object CpuSeconds -Descending | Select-Object -First 5)
            $hwm = Get-MemoryMiB $serverPid 'VmHWM'
            $rss = Get-MemoryMiB $serverPid 'VmRSS'
            New-Item -ItemType File $stopFile | Out-Null
            $null = Wait-Until { Test-Path "$stopFile.json" } -TimeoutMs 30000
            $null = $peer.Process.WaitForExit(30000)
            $report = Get-Content "$stopFile.json" -Raw -ErrorAction SilentlyContinue | ConvertFrom-Json
            $logLines = (Get-Content $peer.Log | Measure-Object).Count
            [ordered]@{ events = $events; connections = $done; seconds = [math]::Round($seconds, 1); per_second = [math]::Round($done / $seconds)
                server_counted = $report; log_lines = $logLines; summary_rows = @(Select-String -Path $peer.Log -Pattern ' Summary ').Count
                warning_lines = @(Select-String -Path $peer.Log, "$($peer.Log).err" -Pattern 'events were not shown').Count
                vm_rss_mib_before = $rssBefore; vm_hwm_mib = $hwm; vm_rss_mib_end = $rss; rss_samples = $samples; busiest_threads = $threads }
        }
        finally { Stop-Peer $peer }
    }
}
finally {
    foreach ($process in $Started) { if (-not $process.HasExited) { $process.Kill($true) } }
}
$result | ConvertTo-Json -Depth 6
