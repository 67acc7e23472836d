<#
.SYNOPSIS
    The first burst (issue 22 item 2): a foreground EchoPS server started cold and hit at once with N sequential
    connections, beside the seed's C server printing its two log lines per connection; connections/s of each and the ratio.
.DESCRIPTION
    Each round, for each server: start it pinned to one CPU (taskset) with its output going to a file, as the lab runs
    it (EchoPS: `pwsh -c Start-BlockingEchoServer` in a fresh process, events formatted by the default view; C: its log
    lines); as soon as it listens, the compiled client (bench/echo_client.c, `conns`: connect, 1-byte echo, close), pinned
    to the same CPU, makes N connections; its connections/s is the figure. Then the EchoPS log is read back: every
    connection must be counted, in a Disconnected row or a Summary row's folded count. Rounds alternate C and EchoPS;
    medians are reported. Beside connections/s, each server's CPU time per connection over the burst (every thread of
    its process): a busy machine moves connections/s by several times between rounds, CPU per connection far less.
    Prints a line per round and the figure beside its target, then one JSON object.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $ServerExe,
    [string] $ClientExe,
    [int] $Connections = 2000,
    [int] $Rounds = 3,
    [int] $Cpu = 0,
    [double] $Target = 0.9
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$ModulePath = (Resolve-Path $ModulePath).Path
$work = Join-Path ([IO.Path]::GetTempPath()) "echops-coldburst-$PID"
$null = New-Item -ItemType Directory -Force $work

# The C peers: the bench's binaries when given, else compiled here from bench/*.c.
foreach ($name in 'echo_server', 'echo_client') {
    $var = if ($name -eq 'echo_server') { 'ServerExe' } else { 'ClientExe' }
    if (-not (Get-Variable $var -ValueOnly)) {
        $exe = Join-Path $work $name
        & gcc -O2 -o $exe (Join-Path $PSScriptRoot "$name.c")
        if ($LASTEXITCODE -ne 0) { throw "gcc could not build $name.c" }
        Set-Variable $var $exe
    }
}

function Get-FreePort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop(); $port
}

function Start-Pinned([string] $Exe, [string[]] $Arguments, [string] $Log) {
    $info = [Diagnostics.ProcessStartInfo]::new('taskset')
    foreach ($a in @('-c', "$Cpu", $Exe) + $Arguments) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($info)
    # The child's output goes to the log file as it comes (a file, as `> log` would).
    $writer = [IO.FileStream]::new($Log, 'Create', 'Write', 'ReadWrite', 1)
    $task = $process.StandardOutput.BaseStream.CopyToAsync($writer)
    [pscustomobject]@{ Process = $process; Copy = $task; Writer = $writer; Log = $Log }
}

function Stop-Pinned($Started) {
    if (-not $Started.Process.HasExited) { $Started.Process.Kill($true) }
    $null = $Started.Process.WaitForExit(10000)
    try { $null = $Started.Copy.Wait(5000) } catch { }
    $Started.Writer.Dispose()
}

function Read-Log([string] $Log) {
    $stream = [IO.FileStream]::new($Log, 'Open', 'Read', 'ReadWrite')
    try { [IO.StreamReader]::new($stream).ReadToEnd() } finally { $stream.Dispose() }
}

function Wait-Log([string] $Log, [string] $Pattern, [int] $TimeoutSec = 60) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ([DateTime]::UtcNow -lt $deadline) {
        if ((Test-Path $Log) -and ((Read-Log $Log) -match $Pattern)) { return $true }
        Start-Sleep -Milliseconds 5
    }
    $false
}

# Connections the EchoPS log accounts for: Disconnected rows plus the disconnected and rejected counts of Summary rows
# (a wrapped cell is read again as one text by dropping white space).
function Get-Counted([string] $Log) {
    $text = Read-Log $Log
    $rows = ([regex]::Matches($text, '(?m)^\d\d:\d\d:\d\d\.\d{3}\s+(Disconnected|Rejected)\s')).Count
    $squeezed = $text -replace '\s+', ''
    $folded = 0
    foreach ($m in [regex]::Matches($squeezed, '([\d,]+)(disconnected|rejected)')) { $folded += [long]($m.Groups[1].Value -replace ',', '') }
    $rows + $folded
}

# CPU time of a process so far, every thread (ns, /proc/PID/task/*/schedstat): the server's CPU per connection is a
# figure a busy machine disturbs far less than connections/s, so it is reported beside the ratio.
function Get-ProcessCpuNs([int] $ProcessId) {
    $sum = 0L
    foreach ($task in Get-ChildItem "/proc/$ProcessId/task" -ErrorAction SilentlyContinue) {
        try { $sum += [long]([IO.File]::ReadAllText("$($task.FullName)/schedstat").Split(' ')[0]) } catch { }
    }
    $sum
}

function Invoke-Client([int] $Port) {
    $out = & taskset -c $Cpu $ClientExe conns $Port $Connections
    if ($LASTEXITCODE -ne 0) { throw "echo_client conns failed ($LASTEXITCODE)" }
    ($out | Select-Object -Last 1 | ConvertFrom-Json).per_second
}

$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
$samples = [Collections.Generic.List[object]]::new()
try {
    foreach ($round in 1..$Rounds) {
        # C, its two log lines per connection going to a file.
        $port = Get-FreePort
        $c = Start-Pinned $ServerExe @("$port") (Join-Path $work "c-$round.log")
        try {
            if (-not (Wait-Log $c.Log 'listening')) { throw 'The C server did not start listening within 60 s.' }
            $cCpu0 = Get-ProcessCpuNs $c.Process.Id
            $cRate = Invoke-Client $port
            $cCpuNs = (Get-ProcessCpuNs $c.Process.Id) - $cCpu0
        }
        finally { Stop-Pinned $c }

        # EchoPS, cold: a fresh pwsh, Import-Module, the foreground server, its events formatted to a file.
        $port = Get-FreePort
        $script = "`$PSStyle.OutputRendering = 'PlainText'; Import-Module '$ModulePath'; Start-BlockingEchoServer -Port $port"
        $e = Start-Pinned $pwsh @('-NoProfile', '-NonInteractive', '-Command', $script) (Join-Path $work "echops-$round.log")
        try {
            if (-not (Wait-Log $e.Log 'Listening')) { throw "EchoPS did not start listening within 60 s: $(Read-Log $e.Log)" }
            $eCpu0 = Get-ProcessCpuNs $e.Process.Id
            $eRate = Invoke-Client $port
            $eCpuNs = (Get-ProcessCpuNs $e.Process.Id) - $eCpu0
            # Every connection in a row or a summary (bounded: the formatter may still be writing; a summary is due
            # within a second of the last folded event).
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (($counted = Get-Counted $e.Log) -lt $Connections -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        }
        finally { Stop-Pinned $e }
        $sample = [pscustomobject]@{ Round = $round; CPerSec = [math]::Round($cRate, 1); EchoPSPerSec = [math]::Round($eRate, 1); Ratio = [math]::Round($eRate / $cRate, 3); Counted = $counted
            CCpuUsPerConnection = [math]::Round($cCpuNs / 1000 / $Connections, 1); EchoPSCpuUsPerConnection = [math]::Round($eCpuNs / 1000 / $Connections, 1) }
        $samples.Add($sample)
        Write-Host ('round {0}: C {1:N0}/s, EchoPS cold {2:N0}/s, ratio {3:N3}, connections counted {4}/{5}; server CPU per connection during the burst: C {6} us, EchoPS {7} us' -f $round, $cRate, $eRate, $sample.Ratio, $counted, $Connections, $sample.CCpuUsPerConnection, $sample.EchoPSCpuUsPerConnection)
    }
}
finally {
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}
function Get-Median([double[]] $x) { $s = @($x | Sort-Object); if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 } }
$ratio = [math]::Round((Get-Median @($samples.Ratio)), 3)
$allCounted = @($samples | Where-Object Counted -lt $Connections).Count -eq 0
Write-Host ('Cold first burst, {0} connections, pinned to CPU {1}: EchoPS {2:N3}x the C server (median of {3}; target >= {4}); every connection counted: {5}' -f $Connections, $Cpu, $ratio, $Rounds, $Target, $allCounted)
[pscustomobject]@{
    Connections = $Connections; Rounds = $Rounds; Cpu = $Cpu
    CPerSec = Get-Median @($samples.CPerSec); EchoPSPerSec = Get-Median @($samples.EchoPSPerSec)
    CCpuUsPerConnection = Get-Median @($samples.CCpuUsPerConnection); EchoPSCpuUsPerConnection = Get-Median @($samples.EchoPSCpuUsPerConnection)
    LoadAverage = ((Get-Content /proc/loadavg -Raw) -split ' ')[0..2] -join ' '
    Ratio = $ratio; Target = $Target; Met = ($ratio -ge $Target -and $allCounted); AllCounted = $allCounted
    Samples = $samples
} | ConvertTo-Json -Compress -Depth 3
