<#
.SYNOPSIS
    The EchoPS benchmark: EchoPS against a C blocking echo server and socat on loopback, pinned and unpinned.
.DESCRIPTION
    Builds the C peer server and client (bench/*.c) with gcc, installs gcc, taskset, socat, gnuplot, strace and perf
    with apt-get when they are missing (build/DevTools.psm1's Install-DebianTool; ECHOPS_NO_INSTALL=1 turns that off),
    then measures every server with the same clients, in alternation (C, socat, EchoPS, C,
    socat, EchoPS ...) so machine drift cancels: round trip p50/p99 (32-byte messages, TCP_NODELAY), streamed
    throughput (64 KiB writes, read back concurrently and verified), sequential connections per second, the queue
    wait of concurrent clients and each server's peak memory. Each figure runs twice: server and client pinned to
    one CPU (judges our code path) and unpinned (shows the scheduler). Then: a -BufferSize sweep, queue wait against
    number of clients, strace -c and perf stat of each server, EchoPS allocations per echo, Import-Module time and
    stop latency. Prints the table and writes bench.json, bench.csv and charts (PNG) to -OutDir; raw data goes to
    its raw/ folder. An optional tool that is missing (socat, gnuplot, strace, perf) skips the parts that need it,
    saying what was skipped and why; gcc and taskset are required.
    The build (build.ps1 -Task Bench) must have assembled module/ first.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench -Quick
#>
[CmdletBinding()]
param(
    # A smoke run: every part runs, with small counts and one round (well under a minute).
    [switch] $Quick,

    # Where results go. Default: results/ for a full run, results/raw/quick/ for -Quick (never overwrites a full run).
    [string] $OutDir,

    # The CPU that pinned servers and clients share.
    [ValidateRange(0, 1023)]
    [int] $Cpu = 1,

    # Rounds of the alternation; the median of the rounds is reported.
    [ValidateRange(1, 50)]
    [int] $Rounds = 0
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module (Join-Path $PSScriptRoot 'DevTools.psm1') -Force

$RepoRoot = Split-Path $PSScriptRoot -Parent
$BenchDir = Join-Path $RepoRoot 'bench'
$ModulePath = Join-Path $RepoRoot 'module/EchoPS.psd1'
$Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
if (-not $OutDir) { $OutDir = Join-Path $RepoRoot ($Quick ? 'results/raw/quick' : 'results') }
$OutDir = [IO.Path]::GetFullPath($OutDir)
$RawDir = Join-Path $OutDir 'raw'
$BinDir = Join-Path $RawDir 'bin'
$ServerExe = Join-Path $BinDir 'echo_server'
$ClientExe = Join-Path $BinDir 'echo_client'

# Sizes of each figure: the issue's for a full run, small ones for a smoke run.
$Plans = @{
    Full = @{ Rounds = 5; RttCount = 20000; RttWarmup = 2000; StreamBytes = 256MB; Conns = 2000; Hold = 20; QueueMax = 8
        Sweep = @(4KB, 16KB, 64KB, 256KB, 1MB); SweepRounds = 3; TraceEchoes = 10000; TraceConns = 1000
        ImportRuns = 7; StopRepeats = 5; AllocEchoes = 20000; AllocConns = 1000; AllocMiB = 128; AllocRepeats = 3 }
    Quick = @{ Rounds = 1; RttCount = 2000; RttWarmup = 500; StreamBytes = 16MB; Conns = 200; Hold = 20; QueueMax = 3
        Sweep = @(4KB, 64KB); SweepRounds = 1; TraceEchoes = 1000; TraceConns = 100; ImportRuns = 1; StopRepeats = 1
        AllocEchoes = 5000; AllocConns = 200; AllocMiB = 16; AllocRepeats = 1 }
}
$Plan = $Plans[$Quick ? 'Quick' : 'Full']
if ($Rounds -gt 0) { $Plan.Rounds = $Rounds }

# The targets EchoPS is judged by, as data: what is measured (from the pinned echo_client rows, $EchoPS and $PS, and
# the other figures), the goal as text and the test of it ($null: measured, no goal). A target whose figure the run
# lacks (-When is false) is left out.
$Targets = @(
    @{ Target = 'RTT p50 vs C (pinned)'; Goal = '<= 1.05x'; Measured = { $EchoPS.rtt_p50_us_x_c }; Met = { $args[0] -le 1.05 } }
    @{ Target = 'RTT p99 vs C (pinned)'; Goal = '<= 1.10x'; Measured = { $EchoPS.rtt_p99_us_x_c }; Met = { $args[0] -le 1.10 } }
    @{ Target = 'Stream MiB/s vs C (pinned)'; Goal = '>= 1.80x'; Measured = { $EchoPS.stream_mib_s_x_c }; Met = { $args[0] -ge 1.8 } }
    @{ Target = 'Conns/s vs C, events on (pinned)'; Goal = '>= 1.00x'; Measured = { $EchoPS.conns_per_s_x_c }; Met = { $args[0] -ge 1.0 } }
    @{ Target = 'Heap bytes per echo (steady state)'; Goal = '< 1 (zero; residue is the shell)'; When = { $Allocations }
        Measured = { $Allocations.bytes_per_echo }; Met = { $args[0] -lt 1 } }
    @{ Target = 'Heap bytes per connection'; Goal = 'bounded, measured'; When = { $Allocations }; Measured = { $Allocations.bytes_per_connection } }
    @{ Target = 'Test-EchoRoundTrip p50 vs echo_client (EchoPS, pinned)'; Goal = '<= 1.10x'; When = { $PS -and $EchoPS }
        Measured = { [math]::Round($PS.rtt_p50_us / $EchoPS.rtt_p50_us, 3) }; Met = { $args[0] -le 1.10 } }
    @{ Target = 'Test-EchoRoundTrip p50 vs echo_client'; Goal = '<= 1.10x'; When = { -not ($PS -and $EchoPS) }; Measured = { 'not measured' } }
    @{ Target = 'Stop latency, worst state and route'; Goal = '< 100 ms'; When = { $Stop }
        Measured = { [math]::Round(($Stop.PSObject.Properties.Value | ForEach-Object { $_.foreground_ms + $_.job_ms } | Measure-Object -Maximum).Maximum, 1) }
        Met = { $args[0] -lt 100 } }
    @{ Target = 'Import-Module EchoPS, own cost (ms)'; Goal = '< 50 ms'; When = { $Import }; Measured = { $Import.OwnMs }; Met = { $args[0] -lt 50 } }
    @{ Target = 'Import-Module EchoPS, cold first import (ms)'; Goal = '< 50 ms'; When = { $Import }; Measured = { $Import.ColdMs }; Met = { $args[0] -lt 50 } }
    @{ Target = 'pwsh start to exit, with minus without import (ms)'; Goal = '< 50 ms'; When = { $Import }; Measured = { $Import.WallDeltaMs }; Met = { $args[0] -lt 50 } }
)
$MessageSize = 32
$ChunkSize = 64KB
$Servers = 'C', 'socat', 'EchoPS'
$Placements = 'pinned', 'unpinned'
$Started = [Collections.Generic.List[Diagnostics.Process]]::new()
$Skipped = [Collections.Generic.List[string]]::new()
$Failures = [Collections.Generic.List[object]]::new()

#region Tools and processes

function Write-Step([string] $Text) { Write-Host "[$([DateTime]::Now.ToString('HH:mm:ss'))] $Text" }

# Tools the bench needs (command -> Debian package); without a required one it cannot run at all.
$RequiredTools = [ordered]@{ gcc = 'gcc'; taskset = 'util-linux' }
# Optional tools, and what is skipped without each.
$OptionalTools = [ordered]@{
    socat = @{ Package = 'socat'; Parts = 'the socat server' }
    gnuplot = @{ Package = 'gnuplot-nox'; Parts = 'the charts' }
    strace = @{ Package = 'strace'; Parts = 'syscalls per echo and per connection' }
    perf = @{ Package = 'linux-perf'; Parts = 'perf stat per echo' }
}

# Installs what is missing; a missing optional tool is recorded in $Skipped with what it skips and why.
function Install-BenchTool {
    $tools = [ordered]@{}
    foreach ($name in $RequiredTools.Keys) { $tools[$name] = $RequiredTools[$name] }
    foreach ($name in $OptionalTools.Keys) { $tools[$name] = $OptionalTools[$name].Package }
    $missing = @($tools.Keys | Where-Object { -not (Test-Tool $_) })
    if ($missing.Count -and $env:ECHOPS_NO_INSTALL -ne '1') { Write-Step "Installing $(($missing | ForEach-Object { $tools[$_] }) -join ', ') with apt-get (log: $RawDir/apt.log)..." }
    foreach ($tool in Install-DebianTool -Tools $tools -LogPath (Join-Path $RawDir 'apt.log')) {
        if ($tool.Installed) { Write-Step "Installed $($tool.Package) for $($tool.Command)." }
        if ($tool.Available) { continue }
        if ($RequiredTools.Contains($tool.Command)) { throw "The bench needs $($tool.Command): $($tool.Reason)." }
        Add-Skip $OptionalTools[$tool.Command].Parts $tool.Reason
    }
}

# A part of the bench that did not run, and why: in the results file and in the closing warnings.
function Add-Skip([string] $Part, [string] $Reason) {
    Write-Step "Skipping ${Part}: $Reason."
    $Skipped.Add("${Part}: $Reason")
}

function Build-CPeer {
    $null = New-Item -ItemType Directory -Force $BinDir
    foreach ($name in 'echo_server', 'echo_client') {
        & gcc -O2 -Wall -Wextra -Werror -pthread -o (Join-Path $BinDir $name) (Join-Path $BenchDir "$name.c")
        if ($LASTEXITCODE -ne 0) { throw "gcc could not build bench/$name.c." }
    }
}

# True once something listens on 127.0.0.1:$Port (read from /proc, so probing opens no connection).
function Test-Listening([int] $Port) {
    $local = '0100007F:{0:X4}' -f $Port
    [bool](Get-Content /proc/net/tcp | Where-Object { $_ -match "^\s*\d+: $local 00000000:0000 0A " })
}

function Get-Placement([bool] $Pinned) { if ($Pinned) { @('taskset', '-c', "$Cpu") } else { @() } }

function ConvertTo-ArgumentString([object[]] $Arguments) {
    ($Arguments | ForEach-Object { '"{0}"' -f ("$_" -replace '"', '\"') }) -join ' '
}

function Start-EchoPeer {
    param([Parameter(Mandatory)] [string] $Name, [bool] $Pinned, [int] $BufferSize = 0, [string] $Events = 'Formatted')
    $port = Get-FreePort
    $command = switch ($Name) {
        'C' { @($ServerExe, $port) + @(if ($BufferSize) { $BufferSize }) }
        'socat' { @('socat', "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=128", 'PIPE') }
        'EchoPS' {
            @($Pwsh, '-NoProfile', '-NonInteractive', '-File', (Join-Path $BenchDir 'Start-EchoPSServer.ps1'),
                '-ModulePath', $ModulePath, '-Port', $port, '-BufferSize', $BufferSize, '-Events', $Events)
        }
    }
    $command = @(Get-Placement $Pinned) + $command
    $log = Join-Path $RawDir ("server-{0}-{1}-{2}.log" -f $Name, ($Pinned ? 'pinned' : 'unpinned'), $port)
    $process = Start-Process -FilePath $command[0] -ArgumentList (ConvertTo-ArgumentString $command[1..($command.Count - 1)]) `
        -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $Started.Add($process)
    # A pwsh starting on a busy 2-core machine can take well over 30 s; the bound only stops a hang.
    $listening = Wait-Until { (Test-Listening $port) -or $process.HasExited } -TimeoutMs 180000
    if ($process.HasExited) { throw "$Name server exited before listening: $(Get-Content -Raw "$log.err")" }
    if (-not $listening) { throw "$Name server did not listen on port $port within 180 s." }
    [pscustomobject]@{ Name = $Name; Port = $port; Process = $process; Placement = ($Pinned ? 'pinned' : 'unpinned'); Log = $log; PeakMiB = $null }
}

# Peak resident memory (VmHWM) in MiB; read before the process is stopped.
function Get-PeakMiB([int] $ProcessId) {
    $line = Get-Content "/proc/$ProcessId/status" -ErrorAction SilentlyContinue | Where-Object { $_ -like 'VmHWM:*' }
    if ($line) { [math]::Round([double]($line -replace '\D', '') / 1024, 1) }
}

# Waits until a process has been idle (under 5 % of a CPU) for half a second, at most 20 s: a pwsh that just started or
# just ran a warm-up keeps compiling in the background, and on the pinned CPU that would be measured as ours.
function Wait-Idle([int] $ProcessId) {
    if ($Quick) { return } # a smoke run checks that every part works, not the figures
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    $quiet = 0
    $last = $null
    while ($quiet -lt 2 -and [DateTime]::UtcNow -lt $deadline) {
        $fields = (Get-Content "/proc/$ProcessId/stat" -Raw -ErrorAction SilentlyContinue) -replace '^.*\) ', '' -split ' '
        if (-not $fields) { return }
        $ticks = [long]$fields[11] + [long]$fields[12] # utime + stime, in 10 ms ticks
        if ($null -ne $last -and $ticks - $last -le 1) { $quiet++ } else { $quiet = 0 }
        $last = $ticks
        Start-Sleep -Milliseconds 250
    }
}

function Stop-EchoPeer($Peer) {
    if (-not $Peer) { return }
    if (-not $Peer.Process.HasExited) {
        $Peer.PeakMiB = Get-PeakMiB $Peer.Process.Id
        $Peer.Process.Kill($true)
    }
    $null = $Peer.Process.WaitForExit(5000)
}

function Invoke-EchoClient {
    param([Parameter(Mandatory)] [string] $Mode, [Parameter(Mandatory)] [int] $Port, [object[]] $Arguments, [bool] $Pinned)
    # Bounded: a stalled server (or client) ends the run after 120 s instead of hanging the bench.
    $command = @('timeout', '120') + @(Get-Placement $Pinned) + @($ClientExe, $Mode, $Port) + $Arguments
    $errors = Join-Path $RawDir 'client.err'
    $line = & $command[0] $command[1..($command.Count - 1)] 2> $errors
    if ($LASTEXITCODE -ne 0) { throw "echo_client $Mode against port $Port failed ($LASTEXITCODE): $(Get-Content -Raw $errors)" }
    $line | ConvertFrom-Json
}

# Runs a pwsh script of bench/ in a fresh shell and returns its JSON output.
function Invoke-BenchScript([string] $Script, [hashtable] $Parameters, [bool] $Pinned) {
    $arguments = @('-NoProfile', '-NonInteractive', '-File', (Join-Path $BenchDir $Script))
    foreach ($key in $Parameters.Keys) { $arguments += "-$key"; $arguments += $Parameters[$key] -join ',' }
    $command = @('timeout', '300') + @(Get-Placement $Pinned) + @($Pwsh) + $arguments
    $output = & $command[0] $command[1..($command.Count - 1)] 2> (Join-Path $RawDir "$Script.err")
    if ($LASTEXITCODE -ne 0) { throw "$Script failed ($LASTEXITCODE): $output $(Get-Content -Raw (Join-Path $RawDir "$Script.err"))" }
    ($output | Select-Object -Last 1) | ConvertFrom-Json
}

#endregion

#region Measurements

# What the compiled client measures each round: its mode, its arguments and the figures taken from its output.
$ClientFigures = @(
    @{ Mode = 'rtt'; Arguments = { param($peer, $round) @($Plan.RttCount, $MessageSize, $Plan.RttWarmup, (Join-Path $RawDir "rtt-$($peer.Name)-$($peer.Placement)-$round.txt")) }
        Values = { param($r) @{ rtt_p50_us = $r.p50_us; rtt_p99_us = $r.p99_us } } }
    @{ Mode = 'stream'; Arguments = { @($Plan.StreamBytes, $ChunkSize) }; Values = { param($r) @{ stream_mib_s = $r.mib_per_s } } }
    @{ Mode = 'conns'; Arguments = { @($Plan.Conns) }; Values = { param($r) @{ conns_per_s = $r.per_second } } }
    @{ Mode = 'concurrent'; Arguments = { @(3, $Plan.Hold) }; Values = { param($r) @{ wait2_ms = $r.wait_ms[1]; wait3_ms = $r.wait_ms[2] } } }
)

# A failed or hung run is recorded and the bench goes on; failures of EchoPS or the C baseline fail the bench at the end.
function Add-Failure([string] $Who, [string] $Text) {
    Write-Warning $Text
    $Failures.Add([pscustomobject]@{ Who = $Who; What = $Text })
}

# Runs one measurement; a failure is recorded (Add-Failure) and yields nothing, so the other servers still get measured.
function Invoke-Tolerant([string] $Who, [string] $What, [scriptblock] $Action) {
    try { & $Action }
    catch { Add-Failure $Who "${What}: $_" }
}

# The main figures: every server, every client, in alternation, per placement.
function Measure-Placement([string] $Placement, [hashtable] $Run) {
    $Samples = $Run.Samples
    $pinned = $Placement -eq 'pinned'
    $peers = @()
    try {
        foreach ($name in $Servers) { $peers += Start-EchoPeer -Name $name -Pinned $pinned }
        foreach ($peer in $peers) {
            # Warm-up: JIT and tiering of EchoPS's echo path, and each server's first accept.
            Invoke-Tolerant $peer.Name "$Placement warm-up of $($peer.Name)" {
                $null = Invoke-EchoClient rtt $peer.Port @($Plan.RttWarmup, $MessageSize, 0) $pinned
                $null = Invoke-EchoClient conns $peer.Port @(200) $pinned
                $null = Invoke-EchoClient stream $peer.Port @(8MB, $ChunkSize) $pinned
            }
        }
        foreach ($peer in $peers) { Wait-Idle $peer.Process.Id }
        foreach ($round in 1..$Plan.Rounds) {
            Write-Progress -Activity "Bench ($Placement)" -Status "round $round of $($Plan.Rounds)" -PercentComplete (100 * ($round - 1) / $Plan.Rounds)
            foreach ($figure in $ClientFigures) {
                foreach ($peer in $peers) {
                    Invoke-Tolerant $peer.Name "$Placement $($figure.Mode) round $round against $($peer.Name)" {
                        $r = Invoke-EchoClient $figure.Mode $peer.Port (& $figure.Arguments $peer $round) $pinned
                        $values = & $figure.Values $r
                        foreach ($name in $values.Keys) {
                            $Samples.Add([pscustomobject]@{ Placement = $Placement; Server = $peer.Name; Client = 'echo_client'; Round = $round; Figure = $name; Value = $values[$name] })
                        }
                    }
                    if ($figure.Mode -eq 'conns' -and $peer.Name -eq 'EchoPS') {
                        # After a burst of connections the foreground server may still be formatting and writing its
                        # events: that tail would otherwise be charged to the next server measured.
                        Wait-Idle $peer.Process.Id
                    }
                }
            }
            # The PowerShell client, a fresh pwsh per round, against the same servers in the same order.
            $psRun = Invoke-Tolerant 'Test-EchoRoundTrip' "$Placement Test-EchoRoundTrip round $round" {
                Invoke-BenchScript 'Measure-PSClient.ps1' @{ ModulePath = $ModulePath
                    Server = @($peers | ForEach-Object { "$($_.Name)=$($_.Port)" }); Count = $Plan.RttCount; Warmup = $Plan.RttWarmup
                    MessageSize = $MessageSize; StreamBytes = $Plan.StreamBytes; ChunkSize = $ChunkSize; HoldMs = $Plan.Hold } $pinned
            }
            if ($psRun) {
                foreach ($s in $psRun.samples) {
                    $Samples.Add([pscustomobject]@{ Placement = $Placement; Server = $s.Server; Client = 'Test-EchoRoundTrip'; Round = $round; Figure = $s.Figure; Value = $s.Value })
                }
                # A server's failure is that server's, even when the PowerShell client saw it.
                foreach ($f in $psRun.failures) { Add-Failure $f.Server "$Placement round ${round}: $($f.What)" }
            }
        }
        Write-Progress -Activity "Bench ($Placement)" -Completed
        if ($pinned) { $Run.QueueCurve = Measure-QueueCurve $peers; $Run.PerfStat = Measure-PerfStat $peers }
        else { $Run.Syscalls = Measure-Syscalls $peers }
    }
    finally {
        foreach ($peer in $peers) { Stop-EchoPeer $peer }
    }
    foreach ($peer in $peers) {
        $Samples.Add([pscustomobject]@{ Placement = $Placement; Server = $peer.Name; Client = 'echo_client'; Round = 0; Figure = 'peak_mib'; Value = $peer.PeakMiB })
    }
}

# Queue wait of the n-th of n concurrent clients, each holding the server for $Plan.Hold ms: a straight line for a
# blocking server, flat for socat (it forks a process per client).
function Measure-QueueCurve($Peers) {
    foreach ($clients in 1..$Plan.QueueMax) {
        foreach ($peer in $Peers) {
            Invoke-Tolerant $peer.Name "queue wait of $clients clients against $($peer.Name)" {
                $r = Invoke-EchoClient concurrent $peer.Port @($clients, $Plan.Hold) $true
                [pscustomobject]@{ Server = $peer.Name; Clients = $clients; HoldMs = $Plan.Hold; LastWaitMs = $r.wait_ms[-1]; WaitsMs = $r.wait_ms }
            }
        }
    }
}

# Throughput against buffer size: EchoPS -BufferSize and the C server's buffer, pinned, alternating.
function Measure-BufferSweep {
    foreach ($round in 1..$Plan.SweepRounds) {
        foreach ($size in $Plan.Sweep) {
            foreach ($name in 'C', 'EchoPS') {
                $peer = $null
                try {
                    $peer = Start-EchoPeer -Name $name -Pinned $true -BufferSize $size
                    Invoke-Tolerant $name "stream with a $size-byte buffer against $name" {
                        $null = Invoke-EchoClient stream $peer.Port @(8MB, $ChunkSize) $true
                        Wait-Idle $peer.Process.Id
                        $r = Invoke-EchoClient stream $peer.Port @($Plan.StreamBytes, $ChunkSize) $true
                        [pscustomobject]@{ Server = $name; BufferSize = $size; Round = $round; MiBps = $r.mib_per_s }
                    }
                }
                finally { Stop-EchoPeer $peer }
            }
        }
    }
}

# Where EchoPS's per-connection time goes (pinned): the same server with its events formatted and written (as users
# run it), discarded in the pipeline, or kept in a job (the engine alone). One variant runs at a time, alternating
# with the C server, so no other pwsh shares the pinned CPU.
function Measure-ConnectionCost {
    $variants = if ($Quick) { @('Job') } else { @('Formatted', 'Discarded', 'Job') }
    $baseline = $null
    try {
        $baseline = Start-EchoPeer -Name 'C' -Pinned $true
        foreach ($events in $variants) {
            $peer = $null
            try {
                $peer = Start-EchoPeer -Name 'EchoPS' -Pinned $true -Events $events
                Invoke-Tolerant 'EchoPS' "connection cost with events $events" {
                    $null = Invoke-EchoClient conns $peer.Port @($Plan.Conns) $true
                    Wait-Idle $peer.Process.Id
                    foreach ($round in 1..$Plan.Rounds) {
                        foreach ($target in $baseline, $peer) {
                            $r = Invoke-EchoClient conns $target.Port @($Plan.Conns) $true
                            if ($target -eq $peer) { Wait-Idle $peer.Process.Id }
                            [pscustomobject]@{ Server = $target.Name; Events = ($target.Name -eq 'C' ? "(beside $events)" : $events); Round = $round; ConnsPerSecond = $r.per_second }
                        }
                    }
                }
            }
            finally { Stop-EchoPeer $peer }
        }
    }
    finally { Stop-EchoPeer $baseline }
}

function Wait-Traced([int] $ProcessId) {
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ((Get-Content "/proc/$ProcessId/status" | Where-Object { $_ -like 'TracerPid:*' }) -match ':\s+0$') {
        if ([DateTime]::UtcNow -gt $deadline) { throw "strace did not attach to $ProcessId." }
        Start-Sleep -Milliseconds 20
    }
    Start-Sleep -Milliseconds 300 # the other threads of the process attach right after the first
}

function Stop-Tracer([Diagnostics.Process] $Tracer) {
    & kill -INT $Tracer.Id
    if (-not $Tracer.WaitForExit(15000)) { $Tracer.Kill(); throw "strace/perf $($Tracer.Id) did not end on SIGINT." }
}

# strace -c -f of each server over a fixed round-trip run and a fixed connection run: syscalls per echo and per connection.
function Measure-Syscalls($Peers) {
    if (-not (Test-Tool strace)) { return } # skipped, and said so, by Install-BenchTool
    foreach ($peer in $Peers) {
        foreach ($run in @(@{ Kind = 'rtt'; Arguments = @($Plan.TraceEchoes, $MessageSize, 0); Units = $Plan.TraceEchoes },
                @{ Kind = 'conns'; Arguments = @($Plan.TraceConns); Units = $Plan.TraceConns })) {
            # A tracer that cannot attach (no ptrace in a container) is the tool's failure, not the server's.
            Invoke-Tolerant 'strace' "strace of $($peer.Name) over a $($run.Kind) run" {
                Wait-Idle $peer.Process.Id
                $file = Join-Path $RawDir "strace-$($peer.Name)-$($run.Kind).txt"
                $tracer = Start-Process strace -ArgumentList "-c -f -o `"$file`" -p $($peer.Process.Id)" -PassThru -RedirectStandardError "$file.err"
                $Started.Add($tracer)
                try {
                    Wait-Traced $peer.Process.Id
                    $null = Invoke-EchoClient $run.Kind $peer.Port $run.Arguments $false
                }
                finally { Stop-Tracer $tracer }
                foreach ($row in Read-StraceSummary $file) {
                    [pscustomobject]@{ Server = $peer.Name; Run = $run.Kind; Units = $run.Units; Syscall = $row.Syscall; Calls = $row.Calls
                        Errors = $row.Errors; PerUnit = [math]::Round($row.Calls / $run.Units, 3) }
                }
            }
        }
    }
}

function Read-StraceSummary([string] $File) {
    foreach ($line in Get-Content $File) {
        $fields = -split $line
        # % time, seconds, usecs/call, calls, [errors], syscall; skip headers, rules and the total.
        if ($fields.Count -lt 5 -or $fields[0] -notmatch '^\d' -or $fields[-1] -eq 'total') { continue }
        [pscustomobject]@{ Syscall = $fields[-1]; Calls = [long]$fields[3]; Errors = ($fields.Count -ge 6 ? [long]$fields[4] : 0) }
    }
}

# perf stat of each pinned server over a fixed round-trip run: CPU time and context switches per echo.
function Measure-PerfStat($Peers) {
    if (-not (Test-Tool perf)) { return } # skipped, and said so, by Install-BenchTool
    foreach ($peer in $Peers) {
        Invoke-Tolerant 'perf' "perf stat of $($peer.Name)" { Measure-PerfStatOf $peer }
    }
}

function Measure-PerfStatOf($Peer) {
    Wait-Idle $Peer.Process.Id
    $file = Join-Path $RawDir "perf-$($Peer.Name).csv"
    $events = 'task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions'
    $perf = Start-Process perf -ArgumentList "stat -x ; -e $events -o `"$file`" -p $($Peer.Process.Id)" -PassThru -RedirectStandardError "$file.err"
    $Started.Add($perf)
    try {
        Start-Sleep -Milliseconds 100
        $null = Invoke-EchoClient rtt $Peer.Port @($Plan.RttCount, $MessageSize, 0) $true
    }
    finally { Stop-Tracer $perf }
    $counters = [ordered]@{}
    foreach ($line in Get-Content $file | Where-Object { $_ -and $_ -notmatch '^#' }) {
        $fields = $line -split ';'
        $counters[$fields[2]] = if ($fields[0] -match '^[\d.]+$') { [double]$fields[0] } else { $fields[0] }
    }
    # The whole process is counted over the run plus 100 ms: idle threads add little after Wait-Idle.
    $taskClock = $counters['task-clock']
    [pscustomobject]@{
        Server = $Peer.Name; Echoes = $Plan.RttCount; Counters = $counters
        CpuUsPerEcho = if ($taskClock -is [double]) { [math]::Round($taskClock * 1000 / $Plan.RttCount, 2) }
        SwitchesPerEcho = if ($counters['context-switches'] -is [double]) { [math]::Round($counters['context-switches'] / $Plan.RttCount, 3) }
        HardwareCounters = if ($counters['cycles'] -is [double]) { 'supported' } else { "not supported ($($counters['cycles']))" }
    }
}

# Import-Module time. Cold: a stopwatch around the import in a fresh pwsh. The first import of any module in a session
# also pays for PowerShell's module machinery, so "own" times EchoPS imported right after an empty module. Wall: the
# start-to-exit time of pwsh with the import minus pwsh without it.
function Measure-ImportTime {
    $empty = Join-Path $RawDir 'emptymod/emptymod.psd1'
    $null = New-Item -ItemType Directory -Force (Split-Path $empty)
    "@{ ModuleVersion = '1.0' }" | Set-Content $empty
    $cold = @(); $own = @(); $bare = @(); $withImport = @()
    foreach ($i in 1..$Plan.ImportRuns) {
        $cold += [double](& $Pwsh -NoProfile -NonInteractive -Command "`$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModulePath'; `$w.Elapsed.TotalMilliseconds")
        $own += [double](& $Pwsh -NoProfile -NonInteractive -Command "Import-Module '$empty'; `$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModulePath'; `$w.Elapsed.TotalMilliseconds")
        $bare += (Measure-Command { & $Pwsh -NoProfile -NonInteractive -Command 'exit 0' }).TotalMilliseconds
        $withImport += (Measure-Command { & $Pwsh -NoProfile -NonInteractive -Command "Import-Module '$ModulePath'; exit 0" }).TotalMilliseconds
    }
    [pscustomobject]@{
        ColdMs = [math]::Round((Get-Median $cold), 1); OwnMs = [math]::Round((Get-Median $own), 1)
        PwshBareMs = [math]::Round((Get-Median $bare), 1); PwshWithImportMs = [math]::Round((Get-Median $withImport), 1)
        WallDeltaMs = [math]::Round((Get-Median $withImport) - (Get-Median $bare), 1)
        ColdAllMs = $cold; OwnAllMs = $own
    }
}

#endregion

#region Report

function Get-Figure($Samples, [string] $Placement, [string] $Server, [string] $Client, [string] $Figure) {
    $values = @($Samples | Where-Object { $_.Placement -eq $Placement -and $_.Server -eq $Server -and $_.Client -eq $Client -and $_.Figure -eq $Figure -and $null -ne $_.Value } | ForEach-Object Value)
    if ($values.Count) { Get-Median $values }
}

function Format-Cell($Value, $Ratio, [string] $Format = '0.0') {
    if ($null -eq $Value) { return 'n/a' }
    $text = ([double]$Value).ToString($Format, [Globalization.CultureInfo]::InvariantCulture)
    if ($null -ne $Ratio) { $text += ' ({0:0.00}x)' -f [double]$Ratio }
    $text
}

function New-SummaryRows($Samples) {
    $figures = 'rtt_p50_us', 'rtt_p99_us', 'stream_mib_s', 'conns_per_s', 'wait2_ms', 'wait3_ms', 'peak_mib'
    foreach ($placement in $Placements) {
        $clients = @($Samples | Where-Object Placement -eq $placement | ForEach-Object Client | Select-Object -Unique)
        foreach ($client in $clients) {
            foreach ($server in $Servers) {
                $row = [ordered]@{ Placement = $placement; Server = $server; Client = $client }
                foreach ($figure in $figures) {
                    $value = Get-Figure $Samples $placement $server $client $figure
                    # Ratios are against the C server measured with the same client and placement in the same run.
                    $baseline = Get-Figure $Samples $placement 'C' $client $figure
                    $row[$figure] = $value
                    $row["${figure}_x_c"] = if ($null -ne $value -and $baseline) { [math]::Round($value / $baseline, 3) }
                }
                if (@($row.Keys | Where-Object { $_ -notlike '*_x_c' -and $_ -notin 'Placement', 'Server', 'Client' } | Where-Object { $null -ne $row[$_] }).Count) {
                    [pscustomobject]$row
                }
            }
        }
    }
}

function Show-Table($Rows) {
    foreach ($placement in $Placements) {
        $title = if ($placement -eq 'pinned') { "Pinned: server and client on CPU $Cpu (judge by these)" } else { 'Unpinned: the scheduler places them' }
        Write-Host ''
        Write-Host $title
        $Rows | Where-Object Placement -eq $placement | ForEach-Object {
            [pscustomobject][ordered]@{
                Server = $_.Server; Client = $_.Client
                'RTT p50 us' = Format-Cell $_.rtt_p50_us $_.rtt_p50_us_x_c
                'RTT p99 us' = Format-Cell $_.rtt_p99_us $_.rtt_p99_us_x_c
                'Stream MiB/s' = Format-Cell $_.stream_mib_s $_.stream_mib_s_x_c '0'
                'Conns/s' = Format-Cell $_.conns_per_s $_.conns_per_s_x_c '0'
                'Wait #2 ms' = Format-Cell $_.wait2_ms $null '0.0'
                'Wait #3 ms' = Format-Cell $_.wait3_ms $null '0.0'
                'Peak MiB' = Format-Cell $_.peak_mib $null '0.0'
            }
        } | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    }
}

# Each target of $Targets, measured in this run.
function Get-TargetResults($Rows, $Allocations, $Import, $Stop) {
    $EchoPS = $Rows | Where-Object { $_.Placement -eq 'pinned' -and $_.Client -eq 'echo_client' -and $_.Server -eq 'EchoPS' }
    $PS = $Rows | Where-Object { $_.Placement -eq 'pinned' -and $_.Client -eq 'Test-EchoRoundTrip' -and $_.Server -eq 'EchoPS' }
    foreach ($target in $Targets) {
        if ($target['When'] -and -not (& $target['When'])) { continue }
        $measured = & $target.Measured
        [pscustomobject]@{ Target = $target.Target; Goal = $target.Goal; Measured = $measured; Met = if ($target['Met']) { & $target['Met'] $measured } }
    }
}

function Write-Chart($Rows, $Sweep, $Queue) {
    if (-not (Test-Tool gnuplot)) { return } # skipped, and said so, by Install-BenchTool
    $invariant = [Globalization.CultureInfo]::InvariantCulture
    # Latency histogram of the pinned runs, every round together: percent of messages per 0.5 us bin.
    $histogramData = foreach ($name in $Servers) {
        $values = foreach ($file in Get-ChildItem $RawDir -Filter "rtt-$name-pinned-*.txt") { Get-Content $file | ForEach-Object { [double]$_ } }
        $values = @($values)
        $bins = @{}
        foreach ($v in $values) { $bin = [math]::Floor($v * 2) / 2; $bins[$bin] = 1 + ($bins[$bin] ?? 0) }
        "# $name"
        foreach ($bin in $bins.Keys | Sort-Object) { [string]::Format($invariant, '{0} {1}', $bin, 100.0 * $bins[$bin] / $values.Count) }
        ''; ''
    }
    $histogramData | Set-Content (Join-Path $RawDir 'histogram.dat')
    $pinnedRows = @($Rows | Where-Object { $_.Placement -eq 'pinned' -and $_.Client -eq 'echo_client' -and $null -ne $_.rtt_p99_us })
    $xMax = [math]::Ceiling(2 * ($pinnedRows.rtt_p99_us | Measure-Object -Maximum).Maximum)

    $queueData = foreach ($name in $Servers) {
        "# $name"
        $Queue | Where-Object Server -eq $name | ForEach-Object { [string]::Format($invariant, '{0} {1}', $_.Clients, $_.LastWaitMs) }
        ''; ''
    }
    $queueData | Set-Content (Join-Path $RawDir 'queue.dat')

    $sweepData = foreach ($name in 'C', 'EchoPS') {
        "# $name"
        $Sweep | Where-Object Server -eq $name | Group-Object BufferSize | Sort-Object { [int]$_.Name } | ForEach-Object {
            [string]::Format($invariant, '{0} {1}', [int]$_.Name / 1024, (Get-Median @($_.Group.MiBps)))
        }
        ''; ''
    }
    $sweepData | Set-Content (Join-Path $RawDir 'sweep.dat')

    $raw = $RawDir -replace "'", "''"
    $out = $OutDir -replace "'", "''"
    $script = @"
set terminal pngcairo size 900,540 font 'sans,10'
set grid
set key top right
set output '$out/rtt-histogram.png'
set title 'Round trip, 32-byte messages, pinned to one CPU ($($Plan.RttCount) messages x $($Plan.Rounds) rounds per server)'
set xlabel 'round trip (us)'
set ylabel 'messages (%) per 0.5 us (log scale)'
set logscale y
set yrange [0.001:100]
set xrange [0:$xMax]
plot '$raw/histogram.dat' index 0 with steps lw 2 lc rgb '#9400d3' title 'C blocking server', '' index 1 with steps lw 2 lc rgb '#009e73' title 'socat (fork)', '' index 2 with steps lw 2 lc rgb '#1f77b4' title 'EchoPS'
set output '$out/queue-wait.png'
set title 'Queue wait of the last of N concurrent clients, each holding the server $($Plan.Hold) ms (pinned)'
set xlabel 'concurrent clients'
set ylabel 'wait until first echo (ms)'
unset logscale y
set autoscale y
set autoscale x
set xtics 1
set key top left
plot '$raw/queue.dat' index 0 with linespoints lw 2 lc rgb '#9400d3' title 'C blocking server', '' index 1 with linespoints lw 2 lc rgb '#009e73' title 'socat (fork: no queue)', '' index 2 with linespoints lw 2 lc rgb '#1f77b4' title 'EchoPS', (x-1)*$($Plan.Hold) with lines dt 2 lc rgb '#888888' title '(N-1) x hold'
set output '$out/throughput-buffer.png'
set title 'Streamed throughput against server buffer size (64 KiB client writes, pinned)'
set xlabel 'server buffer (KiB)'
set ylabel 'MiB/s'
set logscale x 2
set xtics auto
set yrange [0:*]
set key bottom right
plot '$raw/sweep.dat' index 0 with linespoints lw 2 lc rgb '#9400d3' title 'C blocking server (classic: 4 KiB)', '' index 1 with linespoints lw 2 lc rgb '#1f77b4' title 'EchoPS -BufferSize (default: 64 KiB)'
"@
    $script | Set-Content (Join-Path $RawDir 'charts.gp')
    & gnuplot (Join-Path $RawDir 'charts.gp') 2> (Join-Path $RawDir 'gnuplot.err')
    if ($LASTEXITCODE -ne 0) { throw "gnuplot failed: $(Get-Content -Raw (Join-Path $RawDir 'gnuplot.err'))" }
}

#endregion

#region Entry point

# Every measurement, in order; returns what was measured. Every process started is ended, whatever happens.
function Invoke-Measurement {
    $run = @{ QueueCurve = @(); PerfStat = @(); Syscalls = @(); Samples = [Collections.Generic.List[object]]::new() }
    try {
        Install-BenchTool
        Build-CPeer
        if (-not (Test-Tool socat)) { $script:Servers = $Servers | Where-Object { $_ -ne 'socat' } }
        foreach ($placement in $Placements) {
            Write-Step "Measuring $($Servers -join ', ') $placement, $($Plan.Rounds) round(s) in alternation..."
            Measure-Placement $placement $run
        }
        Write-Step 'Connection cost breakdown...'
        $run.ConnectionCost = @(Measure-ConnectionCost)
        Write-Step 'Throughput against buffer size...'
        $run.Sweep = @(Measure-BufferSweep)
        Write-Step 'EchoPS allocations, stop latency and Import-Module time...'
        $run.Allocations = Invoke-BenchScript 'Measure-Allocations.ps1' @{ ModulePath = $ModulePath; ClientExe = $ClientExe
            Echoes = $Plan.AllocEchoes; Connections = $Plan.AllocConns; StreamMiB = $Plan.AllocMiB; Repeats = $Plan.AllocRepeats } $true
        $run.Stop = Invoke-BenchScript 'Measure-StopLatency.ps1' @{ ModulePath = $ModulePath; ClientExe = $ClientExe; Repeats = $Plan.StopRepeats } $false
        $run.Import = Measure-ImportTime
    }
    finally {
        foreach ($process in $Started) {
            if (-not $process.HasExited) { $process.Kill($true); $null = $process.WaitForExit(5000) }
        }
    }
    $run
}

function Get-MachineInfo {
    [ordered]@{
        date_utc = [DateTime]::UtcNow.ToString('yyyy-MM-dd HH:mm:ss')
        kernel = (& uname -r); cpus = [Environment]::ProcessorCount
        cpu_model = ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^.*:\s*', '')
        memory_gib = [math]::Round(((Get-Content /proc/meminfo -First 1) -replace '\D', '') / 1MB, 1)
        os = ((Get-Content /etc/os-release | Where-Object { $_ -like 'PRETTY_NAME=*' }) -replace '^PRETTY_NAME=|"', '')
        pwsh = $PSVersionTable.PSVersion.ToString(); dotnet = [Environment]::Version.ToString()
        gcc = (& gcc -dumpfullversion); socat = if (Test-Tool socat) { (& socat -V 2>$null | Select-String 'socat version') -replace '^.*version\s+(\S+).*$', '$1' }
    }
}

# bench.json (everything) and bench.csv (the summary rows) in -OutDir.
function Save-BenchResult($Run, $Rows, $TargetResults, [double] $Seconds) {
    $report = [ordered]@{
        machine = Get-MachineInfo; quick = [bool]$Quick; pinned_cpu = $Cpu; plan = $Plan; seconds = [math]::Round($Seconds)
        summary = $Rows; targets = $TargetResults; samples = $Run.Samples; buffer_sweep = $Run.Sweep; queue_curve = $Run.QueueCurve
        connection_cost = $Run.ConnectionCost; syscalls = $Run.Syscalls; perf_stat = $Run.PerfStat; allocations = $Run.Allocations
        stop_latency_ms = $Run.Stop; import_module = $Run.Import
        skipped = $Skipped; failures = $Failures; started_pids = @($Started | ForEach-Object Id)
    }
    $report | ConvertTo-Json -Depth 8 | Set-Content (Join-Path $OutDir 'bench.json')
    $Rows | Export-Csv (Join-Path $OutDir 'bench.csv') -NoTypeInformation -UseQuotes AsNeeded
}

# The console report: tables, targets, syscalls, perf, connection cost, sweep, allocations, import, skips, failures.
function Show-BenchReport($Run, $Rows, $TargetResults) {
    Show-Table $Rows
    Write-Host 'Targets (EchoPS against the C server, same run):'
    $TargetResults | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
    Write-Host 'Syscalls per echo (rtt run) and per connection (conns run), strace -c -f of the server, unpinned:'
    # Without strace the run has no syscalls ($null, which Where-Object's simple form refuses).
    $Run.Syscalls | Where-Object { $_ -and $_.PerUnit -ge 0.01 } | Sort-Object Run, Server, { -$_.Calls } |
        Format-Table Run, Server, Syscall, Calls, Errors, PerUnit -AutoSize | Out-String -Width 200 | Write-Host
    Write-Host 'perf stat per echo (pinned):'
    $Run.PerfStat | Format-Table Server, CpuUsPerEcho, SwitchesPerEcho, HardwareCounters -AutoSize | Out-String -Width 200 | Write-Host
    Write-Host 'Connections per second by where EchoPS events go (pinned, median of rounds):'
    $Run.ConnectionCost | Group-Object Server, Events | ForEach-Object {
        [pscustomobject]@{ Server = $_.Group[0].Server; Events = $_.Group[0].Events; ConnsPerSecond = [math]::Round((Get-Median @($_.Group.ConnsPerSecond)))
            UsPerConnection = [math]::Round(1e6 / (Get-Median @($_.Group.ConnsPerSecond)), 1) }
    } | Format-Table -AutoSize | Out-String | Write-Host
    Write-Host 'Throughput against buffer size (MiB/s, pinned):'
    $Run.Sweep | Group-Object Server, BufferSize | ForEach-Object {
        [pscustomobject]@{ Server = $_.Group[0].Server; BufferKiB = $_.Group[0].BufferSize / 1KB; MiBps = [math]::Round((Get-Median @($_.Group.MiBps))) }
    } | Format-Table -AutoSize | Out-String | Write-Host
    $allocations = $Run.Allocations; $import = $Run.Import
    Write-Host ("EchoPS heap bytes: {0:0.###} per echo, {1:0} per connection, {2:0.#} per MiB streamed." -f $allocations.bytes_per_echo, $allocations.bytes_per_connection, $allocations.bytes_per_mib_streamed)
    Write-Host ("Import-Module EchoPS: {0} ms cold, {1} ms after another module; pwsh alone {2} ms, with the import {3} ms." -f $import.ColdMs, $import.OwnMs, $import.PwshBareMs, $import.PwshWithImportMs)
    foreach ($note in $Skipped) { Write-Warning "Skipped $note" }
    foreach ($failure in $Failures) { Write-Warning "Failed: $($failure.What)" }
}

$null = New-Item -ItemType Directory -Force $OutDir, $RawDir
if (-not (Test-Path (Join-Path $RepoRoot 'module/EchoPS.dll'))) { throw 'module/EchoPS.dll is missing: run ./build.ps1 -Task Bench, which builds it first.' }
$benchWatch = [Diagnostics.Stopwatch]::StartNew()
$run = Invoke-Measurement
$rows = @(New-SummaryRows $run.Samples)
$targetResults = @(Get-TargetResults $rows $run.Allocations $run.Import $run.Stop)
Write-Chart $rows $run.Sweep $run.QueueCurve
Save-BenchResult $run $rows $targetResults $benchWatch.Elapsed.TotalSeconds
Show-BenchReport $run $rows $targetResults
Write-Host "Results: $(Join-Path $OutDir 'bench.json'), bench.csv and charts, in $([math]::Round($benchWatch.Elapsed.TotalSeconds)) s."
if (@($Failures | Where-Object Who -in 'C', 'EchoPS', 'Test-EchoRoundTrip').Count) { throw "$($Failures.Count) bench run(s) of EchoPS or the C baseline failed: see the warnings above." }

#endregion
