<#
.SYNOPSIS
    What a connection costs EchoPS beside the C server, and what a flood of connections does to it (issue 12).
.DESCRIPTION
    Builds bench/echo_client.c with gcc and floods an EchoPS server with sequential connections (connect, 1-byte
    echo, close) at full speed, server and client pinned to one CPU (taskset): as many as fit in -FloodConnections
    or -FloodSeconds, against a foreground server whose events are formatted into a log (as users run it) and
    against a job that nobody receives. It samples the process's memory (VmRSS, VmHWM) and the CPU time of each of
    its threads, and reads the server's own count of clients at the end.
    Connections per second, round trips and syscalls per connection beside the C server are the bench's figures
    (build/Bench.ps1, through Measure-EchoServer and strace); this script measures only what a flood does.
    Prints one JSON object; raw files go to -OutDir.

    With -Serve this script is the server side of the flood instead: it runs one EchoPS server in this process
    and, when the file -StopFile appears, writes Get-BlockingEchoServer's counters to -ReportFile and stops it.
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../module/EchoPS.psd1'),
    [int] $Cpu = 1,
    [int] $FloodConnections = 1000000,
    [int] $FloodSeconds = 300,
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
$ClientExe = Join-Path $OutDir 'echo_client'
& gcc -O2 -pthread -o $ClientExe (Join-Path $PSScriptRoot 'echo_client.c')
if ($LASTEXITCODE -ne 0) { throw 'gcc failed.' }
$Started = [System.Collections.Generic.List[Diagnostics.Process]]::new()

function Invoke-Client([string] $Mode, [int] $Port, [object[]] $Arguments) {
    $line = & taskset -c $Cpu $ClientExe $Mode $Port @Arguments
    if ($LASTEXITCODE -ne 0) { throw "echo_client $Mode failed." }
    $line | ConvertFrom-Json
}

function Start-FloodServer([string] $Events, [string] $StopFile) {
    # One EchoPS server in its own pwsh, pinned: this script with -Serve, stopped through -StopFile.
    $port = Get-FreePort
    $log = Join-Path $OutDir "server-EchoPS-$Events-$port.log"
    $command = @('taskset', '-c', "$Cpu", $Pwsh, '-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-Serve', '-Mode', $Events,
        '-ModulePath', $ModulePath, '-Port', $port, '-StopFile', $StopFile, '-ReportFile', "$StopFile.json")
    $process = Start-Process -FilePath $command[0] -ArgumentList ($command[1..($command.Count - 1)] | ForEach-Object { "`"$_`"" }) `
        -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $Started.Add($process)
    $listening = Wait-Until -TimeoutMs 60000 -IntervalMs 50 -Condition {
        try { $c = [Net.Sockets.TcpClient]::new(); $c.Connect('127.0.0.1', $port); $c.Dispose(); $true } catch { $false }
    }
    if (-not $listening) { throw "EchoPS ($Events) did not listen on ${port}: $(Get-Content -Raw "$log.err")" }
    [pscustomobject]@{ Events = $Events; Port = $port; Process = $process; Log = $log }
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

function Get-MemoryMiB([int] $ProcessId, [string] $Field) {
    $line = Get-Content "/proc/$ProcessId/status" | Where-Object { $_ -like "${Field}:*" }
    [math]::Round([double]($line -replace '\D', '') / 1024, 1)
}

$result = [ordered]@{ cpu = $Cpu; flood_connections = $FloodConnections; flood_seconds_limit = $FloodSeconds }
try {
    # The flood: foreground (events formatted into a log) and an unreceived job, pinned like the rest.
    $result.flood = foreach ($events in 'Foreground', 'Job') {
        $stopFile = Join-Path $OutDir "stop-$events"
        $peer = Start-FloodServer -Events $events -StopFile $stopFile
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
