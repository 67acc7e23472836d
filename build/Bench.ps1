<#
.SYNOPSIS
    The EchoPS benchmark: EchoPS beside a C blocking echo server and socat on loopback, every figure measured by
    Measure-EchoServer.
.DESCRIPTION
    Installs what it lacks with apt-get (build/DevTools.psm1's Install-DebianTool; ECHOPS_NO_INSTALL=1 turns that
    off), builds the C peers (bench/*.c) with gcc, then orchestrates; it starts no server and computes no figure itself:
      - per placement of build/Bench.psd1 (pinned: the measuring pwsh on one CPU, and Measure-EchoServer pins the
        servers it starts beside itself; unpinned), one Measure-EchoServer call with the servers of Bench.psd1 as
        command targets (C, socat, EchoPS in the foreground as users run it, EchoPS as a job): it starts, observes
        (server CPU per operation, peak memory and tasks) and stops them, and, pinned, traces them (-Trace: strace
        -f -c and perf stat, passes of their own); its report goes to -OutDir (unpinned: -OutDir/unpinned);
      - a -BufferSize sweep: one Measure-EchoServer -Figure Stream over C and EchoPS servers of each buffer size;
      - the measurer's own overhead against the compiled C client (bench/Measure-Overhead.ps1), the only place that
        client still measures: it is the neutral cross-check of the measurer;
      - extras: EchoPS's heap allocations, stop latency and Import-Module time.
    Then judges the targets of Bench.psd1, prints the report and writes bench.json and bench.csv to -OutDir; raw
    data goes to its raw/ folder. A missing optional tool skips the parts that need it, saying what and why.
    The build (build.ps1 -Task Bench) must have assembled module/ first.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench -Quick
#>
[CmdletBinding()]
param(
    # A smoke run: every part runs, with small counts and one round.
    [switch] $Quick,

    # Where results go. Default: results/ for a full run, results/raw/quick/ for -Quick (never overwrites a full run).
    [string] $OutDir,

    # The CPU that pinned servers and the measurer share.
    [ValidateRange(0, 1023)]
    [int] $Cpu = 1,

    # Rounds of the alternation; the median of the rounds is reported. Default: the plan's.
    [ValidateRange(0, 50)]
    [int] $Rounds = 0
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module (Join-Path $PSScriptRoot 'DevTools.psm1') -Force

$Config = Import-PowerShellDataFile (Join-Path $PSScriptRoot 'Bench.psd1')
$RepoRoot = Split-Path $PSScriptRoot -Parent
$BenchDir = Join-Path $RepoRoot 'bench'
$ModulePath = Join-Path $RepoRoot 'module/EchoPS.psd1'
$Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
$Invariant = [Globalization.CultureInfo]::InvariantCulture

#region Run state and tools

# Everything one run measures and needs to clean up, passed to each step; each step returns what it measured.
function New-BenchRun {
    $out = [IO.Path]::GetFullPath($OutDir ? $OutDir : (Join-Path $RepoRoot ($Quick ? 'results/raw/quick' : 'results')))
    $plan = $Config.Plans[$Quick ? 'Quick' : 'Full'].Clone()
    if ($Rounds -gt 0) { $plan.Rounds = $Rounds }
    $raw = Join-Path $out 'raw'
    [pscustomobject]@{
        Plan = $plan; OutDir = $out; RawDir = $raw; BinDir = (Join-Path $raw 'bin'); Cpu = $Cpu; Quick = [bool]$Quick
        # How long to wait for a process to go idle before measuring it: a smoke run checks that every part works, not the figures.
        IdleTimeoutSec = $Quick ? 0 : 20
        # The server processes Measure-EchoServer started and stopped (from its results): none may be left running.
        Started = [Collections.Generic.List[int]]::new()
        Skipped = [Collections.Generic.List[string]]::new()
        Failures = [Collections.Generic.List[object]]::new()
    }
}

function Write-Step([string] $Text) { Write-Host "[$([DateTime]::Now.ToString('HH:mm:ss'))] $Text" }

# A part of the bench that did not run, and why: in the results file and in the closing warnings.
function Add-Skip($Run, [string] $Part, [string] $Reason) {
    Write-Step "Skipping ${Part}: $Reason."
    $Run.Skipped.Add("${Part}: $Reason")
}

# A failed or hung step is recorded and the bench goes on; failures of EchoPS or the C baseline fail it at the end.
function Add-Failure($Run, [string] $Who, [string] $Text) {
    Write-Warning $Text
    $Run.Failures.Add([pscustomobject]@{ Who = $Who; What = $Text })
}

# Runs one step; a failure is recorded and yields nothing, so the other steps still run.
function Invoke-Tolerant($Run, [string] $Who, [string] $What, [scriptblock] $Action) {
    try { & $Action }
    catch { Add-Failure $Run $Who "${What}: $_" }
}

# Installs what is missing; a missing optional tool is recorded as a skip with what it skips and why.
function Install-BenchTool($Run) {
    $tools = [ordered]@{}
    foreach ($name in $Config.RequiredTools.Keys) { $tools[$name] = $Config.RequiredTools[$name] }
    foreach ($name in $Config.OptionalTools.Keys) { $tools[$name] = $Config.OptionalTools[$name].Package }
    $missing = @($tools.Keys | Where-Object { -not (Test-Tool $_) })
    if ($missing.Count -and $env:ECHOPS_NO_INSTALL -ne '1') { Write-Step "Installing $(($missing | ForEach-Object { $tools[$_] }) -join ', ') with apt-get (log: $($Run.RawDir)/apt.log)..." }
    foreach ($tool in Install-DebianTool -Tools $tools -LogPath (Join-Path $Run.RawDir 'apt.log')) {
        if ($tool.Installed) { Write-Step "Installed $($tool.Package) for $($tool.Command)." }
        if ($tool.Available) { continue }
        if ($Config.RequiredTools.Contains($tool.Command)) { throw "The bench needs $($tool.Command): $($tool.Reason)." }
        Add-Skip $Run $Config.OptionalTools[$tool.Command].Parts $tool.Reason
    }
}

function Build-CPeer($Run) {
    $null = New-Item -ItemType Directory -Force $Run.BinDir
    foreach ($name in 'echo_server', 'echo_client') {
        & gcc -O2 -Wall -Wextra -Werror -pthread -o (Join-Path $Run.BinDir $name) (Join-Path $BenchDir "$name.c")
        if ($LASTEXITCODE -ne 0) { throw "gcc could not build bench/$name.c." }
    }
}

# The peer servers of Bench.psd1 (Kind Peer: a C file of tests/pester/peers), built beside the C peers.
function Build-PeerServer($Run) {
    foreach ($spec in @($Config.Servers | Where-Object { $_.Kind -eq 'Peer' })) {
        $source = Join-Path $RepoRoot $spec.Source
        & gcc -O2 -Wall -pthread -o (Join-Path $Run.BinDir ([IO.Path]::GetFileNameWithoutExtension($source))) $source
        if ($LASTEXITCODE -ne 0) { throw "gcc could not build $($spec.Source)." }
    }
}

function Get-Placement($Run, [bool] $Pinned) { if ($Pinned) { @('taskset', '-c', "$($Run.Cpu)") } else { @() } }

#endregion

#region Servers

# A server of Bench.psd1 as Measure-EchoServer's command target ("label=command {port}"): the measurer starts it on
# a free port, pinned beside itself when it is pinned, observes it and stops its whole tree. Buffer: the C server's
# buffer or EchoPS's -BufferSize (0: the spec's, else the server's default).
function Get-ServerTarget($Run, $Spec, [int] $Buffer = 0, [string] $Label = $Spec.Name) {
    if (-not $Buffer -and $Spec['Buffer']) { $Buffer = $Spec.Buffer }
    $command = switch ($Spec.Kind) {
        'C' { "'$(Join-Path $Run.BinDir 'echo_server')' {port}" + $(if ($Buffer) { " $Buffer" }) }
        'socat' { 'socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=128 PIPE' }
        'Peer' { "'$(Join-Path $Run.BinDir ([IO.Path]::GetFileNameWithoutExtension($Spec.Source)))' {port}" }
        'EchoPS' { "'$Pwsh' -NoProfile -NonInteractive -File '$(Join-Path $BenchDir 'Start-EchoPSServer.ps1')' -ModulePath '$ModulePath' -Port {port} -BufferSize $Buffer -Events $($Spec.Events)" }
    }
    "$Label=$command"
}

#endregion

#region Measuring

# Runs a pwsh script of bench/ in a fresh shell (pinned or not) and returns its last output line as JSON.
function Invoke-BenchScript($Run, [string] $Script, [hashtable] $Parameters, [bool] $Pinned, [int] $TimeoutSec = 600) {
    $arguments = @('-NoProfile', '-NonInteractive', '-File', (Join-Path $BenchDir $Script))
    foreach ($key in $Parameters.Keys) { $arguments += "-$key"; $arguments += $Parameters[$key] -join ',' }
    $command = @('timeout', "$TimeoutSec") + @(Get-Placement $Run $Pinned) + @($Pwsh) + $arguments
    $errors = Join-Path $Run.RawDir "$Script.err"
    $output = & $command[0] $command[1..($command.Count - 1)] 2> $errors
    if ($LASTEXITCODE -ne 0) { throw "$Script failed ($LASTEXITCODE): $output $(Get-Content -Raw $errors)" }
    if ($output) { ($output | Select-Object -Last 1) | ConvertFrom-Json }
}

# One Measure-EchoServer call over the targets (command targets: it starts, pins, observes and stops the servers),
# in a pwsh of its own (pinned or not), its report written to $Path. Returns measurement.json's Results.
function Invoke-Measurer($Run, [string[]] $Targets, [hashtable] $Parameters, [string] $Path, [bool] $Pinned) {
    $null = New-Item -ItemType Directory -Force $Path
    $specFile = Join-Path $Run.RawDir ("measure-{0}.json" -f (Split-Path $Path -Leaf))
    [ordered]@{ Target = $Targets; Parameters = $Parameters; IdleTimeoutSec = $Run.IdleTimeoutSec } | ConvertTo-Json -Depth 4 | Set-Content $specFile
    $json = Join-Path $Path 'measurement.json'
    Remove-Item $json -ErrorAction SilentlyContinue
    $null = Invoke-BenchScript $Run 'Invoke-Measurer.ps1' @{ ModulePath = $ModulePath; SpecFile = $specFile; Path = $Path } $Pinned 1800
    if (-not (Test-Path $json)) { throw "Measure-EchoServer wrote no $json (see $($Run.RawDir)/Invoke-Measurer.ps1.err)." }
    $measurement = Get-Content -Raw $json | ConvertFrom-Json
    foreach ($result in $measurement.Results) {
        if ($result.ServerProcessId) { $Run.Started.Add($result.ServerProcessId) }
        if ($result.ErrorCount -gt 0) {
            Add-Failure $Run $result.Name "Measure-EchoServer counted $($result.ErrorCount) error(s) for $($result.Name): $(($result.Errors | ForEach-Object { "$($_.Figure) $($_.Status) x$($_.Count): $($_.Message)" }) -join '; ')"
        }
    }
    @($measurement.Results)
}

# Measure-EchoServer's parameters for the main measurement of a placement.
function Get-MeasureParameters($Run, $Placement) {
    $plan = $Run.Plan
    @{
        Figure = $Placement.Figures; Baseline = 'C'; Rounds = $plan.Rounds; Count = $plan.Count; StreamSec = $plan.StreamSec
        ConnectionCount = $plan.ConnectionCount; SlotClients = $plan.SlotClients; HoldMs = $plan.HoldMs
        CapacityConnections = $plan.CapacityConnections; CapacityWaitSec = $plan.CapacityWaitSec
    } + $(if ($Placement.Figures -contains 'Load') { @{ Clients = $plan.LoadClients; LoadSec = $plan.LoadSec } } else { @{} })
}

# One placement: one Measure-EchoServer over every server of Bench.psd1, which it starts (pinned beside itself, or
# not) and stops; pinned, -Trace adds its strace -f -c and perf stat passes after the timed rounds.
function Measure-Placement($Run, $Placement) {
    $specs = @($Config.Servers | Where-Object { (-not $_['Tool'] -or (Test-Tool $_.Tool)) -and (-not $_['Placements'] -or $_.Placements -contains $Placement.Name) })
    $path = [IO.Path]::GetFullPath((Join-Path $Run.OutDir $Placement.Path))
    $parameters = Get-MeasureParameters $Run $Placement
    if ($Placement.Pinned -and (Test-Tool strace)) { $parameters.Trace = $true }
    Write-Step "Measure-EchoServer over $($specs.Name -join ', ') $($Placement.Name), $($Run.Plan.Rounds) round(s): $($Placement.Figures -join ', ')$(if ($parameters['Trace']) { ', traced' })..."
    $results = Invoke-Tolerant $Run 'C' "Measure-EchoServer $($Placement.Name)" {
        Invoke-Measurer $Run @($specs | ForEach-Object { Get-ServerTarget $Run $_ }) $parameters $path $Placement.Pinned
    }
    $peak = [ordered]@{}
    foreach ($r in @($results)) { if ($r) { $peak[$r.Name] = if ($null -ne $r.ServerPeakRssMiB) { [math]::Round($r.ServerPeakRssMiB, 1) } } }
    $syscalls = @(foreach ($r in @($results)) {
            foreach ($row in @($r.Syscalls)) {
                if ($row) { [pscustomobject]@{ Server = $r.Name; Run = if ($row.Pass -eq 'RoundTrip') { 'rtt' } else { 'conns' }; Syscall = $row.Syscall; Calls = $row.Calls; Errors = $row.Errors; PerUnit = [math]::Round($row.PerOperation, 3) } }
            }
        })
    $perf = @(foreach ($r in @($results)) {
            if ($r -and $null -ne $r.PerfCpuUsPerConnection) {
                [pscustomobject]@{ Server = $r.Name; PerfCpuUsPerConnection = [math]::Round($r.PerfCpuUsPerConnection, 2)
                    ObservedCpuUsPerConnection = [math]::Round($r.ObservedCpuUsPerConnectionUnderPerf, 2)
                    SwitchesPerConnection = [math]::Round($r.PerfSwitchesPerConnection, 3); Note = $r.TraceNote }
            }
        })
    [pscustomobject]@{ Placement = $Placement.Name; Results = @($results); PeakMiB = $peak; PerfStat = $perf; Syscalls = $syscalls }
}

# Stream throughput against buffer size: C servers and EchoPS -BufferSize (a job each), pinned, in one
# Measure-EchoServer -Figure Stream. Returns one row per server and size.
function Measure-BufferSweep($Run) {
    $sizes = @($Run.Plan.Sweep)
    $cSpec = $Config.Servers | Where-Object Name -eq 'C'
    $eSpec = @{ Name = 'EchoPS sweep'; Kind = 'EchoPS'; Events = 'Job' }
    $targets = @(foreach ($size in $sizes) { Get-ServerTarget $Run $cSpec $size ('C {0} KiB' -f ($size / 1KB)) }) +
        @(foreach ($size in $sizes) { Get-ServerTarget $Run $eSpec $size ('EchoPS {0} KiB' -f ($size / 1KB)) })
    $parameters = @{ Figure = @('Stream'); Baseline = 'C 64 KiB'; Rounds = $Run.Plan.SweepRounds; StreamSec = $Run.Plan.StreamSec }
    if ($sizes -notcontains 65536) { $parameters.Remove('Baseline') }
    $results = Invoke-Measurer $Run $targets $parameters (Join-Path $Run.OutDir 'sweep') $true
    foreach ($size in $sizes) {
        $label = '{0} KiB' -f ($size / 1KB)
        $c = $results | Where-Object Name -eq "C $label"; $e = $results | Where-Object Name -eq "EchoPS $label"
        [pscustomobject]@{ BufferKiB = $size / 1KB; CMiBps = $c.StreamMiBps; EchoPSMiBps = $e.StreamMiBps }
    }
}

# The measurer's own overhead (bench/Measure-Overhead.ps1, pinned): against the compiled C client on the same C
# server, and its capacity probe holding many connections to the asyncio peer (skipped without python3).
function Measure-MeasurerOverhead($Run) {
    $parameters = @{ ModulePath = $ModulePath; ClientExe = (Join-Path $Run.BinDir 'echo_client'); Rounds = $Run.Plan.OverheadRounds
        Count = $Run.Plan.Count; StreamSec = $Run.Plan.StreamSec; Capacity = $Run.Plan.OverheadCapacity; IdleTimeoutSec = $Run.IdleTimeoutSec }
    Invoke-BenchScript $Run 'Measure-Overhead.ps1' $parameters $true
}

# Syscalls per connection of each server (all its threads), and the ratios the targets judge.
function Get-SyscallSummary($Syscalls) {
    $perConnection = [ordered]@{}
    foreach ($group in @($Syscalls | Where-Object { $_ -and $_.Run -eq 'conns' }) | Group-Object Server) {
        $perConnection[$group.Name] = [math]::Round(($group.Group | Measure-Object PerUnit -Sum).Sum, 2)
    }
    $c = $perConnection['C']
    [pscustomobject]@{
        PerConnection = $perConnection
        ConnectionRatio = if ($c -and $perConnection['EchoPS job']) { [math]::Round($perConnection['EchoPS job'] / $c, 3) }
        ForegroundConnectionRatio = if ($c -and $perConnection['EchoPS']) { [math]::Round($perConnection['EchoPS'] / $c, 3) }
    }
}

# Import-Module time. Cold: a stopwatch around the import in a fresh pwsh. The first import of any module in a session
# also pays for PowerShell's module machinery, so "own" times EchoPS imported right after an empty module.
function Measure-ImportTime($Run) {
    $empty = Join-Path $Run.RawDir 'emptymod/emptymod.psd1'
    $null = New-Item -ItemType Directory -Force (Split-Path $empty)
    "@{ ModuleVersion = '1.0' }" | Set-Content $empty
    $cold = @(); $own = @()
    foreach ($i in 1..$Run.Plan.ImportRuns) {
        $cold += [double](& $Pwsh -NoProfile -NonInteractive -Command "`$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModulePath'; `$w.Elapsed.TotalMilliseconds")
        $own += [double](& $Pwsh -NoProfile -NonInteractive -Command "Import-Module '$empty'; `$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModulePath'; `$w.Elapsed.TotalMilliseconds")
    }
    [pscustomobject]@{ ColdMs = [math]::Round((Get-Median $cold), 1); OwnMs = [math]::Round((Get-Median $own), 1); ColdAllMs = $cold; OwnAllMs = $own }
}

# The cold first burst (issue 22): a foreground server started in a fresh pwsh and hit at once with N sequential
# connections, its events formatted to a file, beside the C server printing its log lines; bench/Measure-ColdBurst.ps1
# pins both servers and the client to the bench's CPU itself, alternates them and checks every connection is counted.
function Measure-ColdBurstStep($Run) {
    Invoke-BenchScript $Run 'Measure-ColdBurst.ps1' @{ ModulePath = $ModulePath; ServerExe = (Join-Path $Run.BinDir 'echo_server'); ClientExe = (Join-Path $Run.BinDir 'echo_client')
        Connections = $Run.Plan.ColdBurstConnections; Rounds = $Run.Plan.ColdBurstRounds; Cpu = $Run.Cpu } $false
}

# Stop latency (bench/Measure-StopLatency.ps1) with its worst state and route.
function Measure-StopLatency($Run) {
    $stop = Invoke-BenchScript $Run 'Measure-StopLatency.ps1' @{ ModulePath = $ModulePath; ClientExe = (Join-Path $Run.BinDir 'echo_client'); Repeats = $Run.Plan.StopRepeats } $false
    $worst = ($stop.PSObject.Properties.Value | ForEach-Object { $_.foreground_ms + $_.job_ms } | Measure-Object -Maximum).Maximum
    $stop | Add-Member -PassThru WorstMs ([math]::Round($worst, 1))
}

#endregion

#region Targets and report

# A value of the run object by path: 'Pinned.EchoPS.RttP50Ratio' is the pinned result named EchoPS, its RttP50Ratio.
function Get-RunValue($Data, [string] $Path) {
    $value = $Data
    foreach ($part in $Path -split '\.') {
        if ($null -eq $value) { return }
        $value = if ($value -is [System.Collections.IDictionary]) { $value[$part] }
        elseif ($value -is [array]) { $value | Where-Object { $_.PSObject.Properties['Name'] -and $_.Name -eq $part } | Select-Object -First 1 }
        elseif ($value.PSObject.Properties[$part]) { $value.$part }
    }
    $value
}

# Each target of Bench.psd1, judged on this run: Met is true, false, or null (no goal, or not measured).
function Get-TargetResult($Data) {
    foreach ($target in $Config.Targets) {
        $value = Get-RunValue $Data $target.Value
        $goal = if ($target['Goal'] -is [string]) { Get-RunValue $Data $target.Goal } else { $target['Goal'] }
        $met = if ($null -eq $value -or $target.Test -eq 'none') { $null } elseif ($target.Test -eq 'le') { $value -le $goal } else { $value -ge $goal }
        [pscustomobject]@{
            Target = $target.Target
            Goal = if ($target.Test -eq 'none') { 'measured' } else { '{0} {1}' -f ($target.Test -eq 'le' ? '<=' : '>='), $goal }
            # Three decimals, or four where three would round a miss onto its goal (0.9996 is not 1).
            Measured = if ($null -eq $value) { 'not measured' } elseif ($value -is [double]) {
                $shown = [math]::Round($value, 3)
                if ($null -ne $met -and $shown -eq $goal -and -not $met) { [math]::Round($value, 4) } else { $shown } } else { $value }
            Met = $met
        }
    }
}

# One row per server and placement, for the console table and bench.csv: Measure-EchoServer's figures, in µs/MiB/s.
function ConvertTo-SummaryRow($Placement) {
    foreach ($r in @($Placement.Results)) {
        [pscustomobject][ordered]@{
            Placement = $Placement.Placement; Server = $r.Name
            rtt_p50_us = if ($null -ne $r.RttP50Ms) { [math]::Round($r.RttP50Ms * 1000, 2) }
            rtt_p99_us = if ($null -ne $r.RttP99Ms) { [math]::Round($r.RttP99Ms * 1000, 2) }
            stream_mib_s = if ($null -ne $r.StreamMiBps) { [math]::Round($r.StreamMiBps, 1) }
            conns_per_s = if ($null -ne $r.ConnectionsPerSec) { [math]::Round($r.ConnectionsPerSec) }
            slots = $r.Slots; capacity_echoed = $r.CapacityEchoed; peak_mib = $Placement.PeakMiB[$r.Name]
            rtt_p50_x_c = $r.RttP50Ratio; rtt_p99_x_c = $r.RttP99Ratio; stream_x_c = $r.StreamRatio; conns_x_c = $r.ConnectionsRatio
            errors = $r.ErrorCount
        }
    }
}

function Format-Cell($Value, $Ratio, [string] $Format = '0.0') {
    if ($null -eq $Value) { return 'n/a' }
    $text = ([double]$Value).ToString($Format, $Invariant)
    if ($null -ne $Ratio) { $text += ' ({0:0.000}x)' -f [double]$Ratio }
    $text
}

function Show-Table($Rows, [string] $Title) {
    Write-Host ''
    Write-Host $Title
    $Rows | ForEach-Object {
        [pscustomobject][ordered]@{
            Server = $_.Server
            'RTT p50 us' = Format-Cell $_.rtt_p50_us $_.rtt_p50_x_c '0.00'
            'RTT p99 us' = Format-Cell $_.rtt_p99_us $_.rtt_p99_x_c '0.00'
            'Stream MiB/s' = Format-Cell $_.stream_mib_s $_.stream_x_c '0'
            'Conns/s' = Format-Cell $_.conns_per_s $_.conns_x_c '0'
            Slots = $_.slots; Capacity = $_.capacity_echoed; 'Peak MiB' = $_.peak_mib; Errors = $_.errors
        }
    } | Format-Table -AutoSize | Out-String -Width 220 | Write-Host
}

function Get-MachineInfo {
    [ordered]@{
        date_utc = [DateTime]::UtcNow.ToString('yyyy-MM-dd HH:mm:ss')
        load_average = ((Get-Content /proc/loadavg -Raw) -split ' ')[0..2] -join ' '
        kernel = (& uname -r); cpus = [Environment]::ProcessorCount
        cpu_model = ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^.*:\s*', '')
        memory_gib = [math]::Round(((Get-Content /proc/meminfo -First 1) -replace '\D', '') / 1MB, 1)
        os = ((Get-Content /etc/os-release | Where-Object { $_ -like 'PRETTY_NAME=*' }) -replace '^PRETTY_NAME=|"', '')
        pwsh = $PSVersionTable.PSVersion.ToString(); dotnet = [Environment]::Version.ToString()
        gcc = (& gcc -dumpfullversion); socat = if (Test-Tool socat) { (& socat -V 2>$null | Select-String 'socat version') -replace '^.*version\s+(\S+).*$', '$1' }
        commit = (& git -C $RepoRoot rev-parse --short HEAD 2>$null)
    }
}

# bench.json (everything) and bench.csv (the summary rows) in the output folder.
function Save-BenchResult($Run, $Data, $Rows, $TargetResults, $Machine, [double] $Seconds) {
    $report = [ordered]@{
        machine = $Machine; quick = $Run.Quick; pinned_cpu = $Run.Cpu; plan = $Run.Plan; seconds = [math]::Round($Seconds)
        summary = $Rows; targets = $TargetResults; measurer_overhead = $Data.Overhead; buffer_sweep = $Data.Sweep
        syscalls = $Data.Syscalls; syscalls_per_connection = $Data.SyscallSummary; perf_stat = $Data.PerfStat
        allocations = $Data.Allocations; stop_latency_ms = $Data.Stop; import_module = $Data.Import
        load = $Data.LoadRows
        skipped = $Run.Skipped; failures = $Run.Failures; started_pids = @($Run.Started)
    }
    $report.cold_burst = $Data.ColdBurst
    $report | ConvertTo-Json -Depth 8 | Set-Content (Join-Path $Run.OutDir 'bench.json')
    $Rows | Export-Csv (Join-Path $Run.OutDir 'bench.csv') -NoTypeInformation -UseQuotes AsNeeded
}

# A markdown table of objects: the given properties as columns, in order.
function ConvertTo-MarkdownTable($Rows, [string[]] $Columns) {
    '| ' + ($Columns -join ' | ') + ' |'
    '| ' + (($Columns | ForEach-Object { '---' }) -join ' | ') + ' |'
    foreach ($row in $Rows) {
        '| ' + (($Columns | ForEach-Object { $v = $row.$_; if ($v -is [double]) { $v.ToString('0.###', $Invariant) } elseif ($null -eq $v) { '' } else { "$v" } }) -join ' | ') + ' |'
    }
    ''
}

# bench.md: this run's tables, written by the bench so that results/README.md can cite them, never retype them.
function Save-BenchTables($Run, $Data, $Rows, $TargetResults, $Machine, [string] $LoadBefore, [double] $Seconds) {
    $md = [Collections.Generic.List[string]]::new()
    $md.Add("# Bench tables: $($Machine.date_utc) UTC, commit $($Machine.commit), $([math]::Round($Seconds)) s")
    $md.Add('')
    $md.Add("Machine: $($Machine.cpus) CPUs ($($Machine.cpu_model)), $($Machine.memory_gib) GiB, $($Machine.os), kernel $($Machine.kernel); pwsh $($Machine.pwsh), .NET $($Machine.dotnet), gcc $($Machine.gcc), socat $($Machine.socat). Load average (1, 5, 15 min): $LoadBefore before the run, $($Machine.load_average) after. Pinned CPU: $($Run.Cpu). Plan: $(if ($Run.Quick) { 'quick' } else { 'full' }), $($Run.Plan.Rounds) rounds.")
    $md.Add('')
    $md.Add('## Targets (pinned, medians of rounds, beside the C server in the same run)')
    $md.Add('')
    $judged = $TargetResults | Select-Object Target, Goal, Measured, @{ n = 'Met'; e = { if ($null -eq $_.Met) { '' } elseif ($_.Met) { 'yes' } else { '**no**' } } }
    $md.AddRange([string[]](ConvertTo-MarkdownTable $judged 'Target', 'Goal', 'Measured', 'Met'))
    foreach ($placement in 'pinned', 'unpinned') {
        $md.Add("## Measure-EchoServer, $placement (ratios to C)")
        $md.Add('')
        $md.AddRange([string[]](ConvertTo-MarkdownTable @($Rows | Where-Object Placement -eq $placement) 'Server', 'rtt_p50_us', 'rtt_p99_us', 'stream_mib_s', 'conns_per_s', 'slots', 'capacity_echoed', 'peak_mib', 'rtt_p50_x_c', 'rtt_p99_x_c', 'stream_x_c', 'conns_x_c', 'errors', 'within_noise'))
    }
    $md.AddRange([string[]](Get-LoadMarkdown $Run $Data))
    if ($Data.Overhead) {
        $md.Add('## The measurer against the compiled C client, same C server, pinned')
        $md.Add('')
        $md.AddRange([string[]](ConvertTo-MarkdownTable @($Data.Overhead.Rounds) 'Round', 'ClientP50Us', 'MeasurerP50Us', 'ClientMiBps', 'MeasurerMiBps'))
        $o = $Data.Overhead
        $md.Add(('Medians: round trip p50 {0:0.00} µs (measurer) vs {1:0.00} µs (C client), {2:0.000}x; stream {3:0.0} vs {4:0.0} MiB/s, {5:0.000}x.' -f $o.MeasurerP50Us, $o.ClientP50Us, $o.RttP50Ratio, $o.MeasurerMiBps, $o.ClientMiBps, $o.StreamRatio))
        if ($o.PSObject.Properties['CapacityEchoed']) {
            $md.Add(('Capacity probe against the asyncio peer: {0} asked, {1} opened, {2} connected, {3} echoed, the last after {4:0} ms, {5} errors.' -f $o.CapacityRequested, $o.CapacityOpened, $o.CapacityConnected, $o.CapacityEchoed, $o.CapacityLastEchoMs, $o.CapacityErrors))
        }
        $md.Add('')
    }
    if ($Data.SyscallSummary.PerConnection.Count) {
        $md.Add('## Syscalls (Measure-EchoServer -Trace: strace -f -c of each server tree, pinned, a pass of its own)')
        $md.Add('')
        $md.AddRange([string[]](ConvertTo-MarkdownTable @($Data.Syscalls | Where-Object { $_ -and $_.PerUnit -ge 0.01 } | Sort-Object Run, Server, { -$_.Calls }) 'Run', 'Server', 'Syscall', 'Calls', 'Errors', 'PerUnit'))
        $md.Add('Per connection, all syscalls: ' + (($Data.SyscallSummary.PerConnection.GetEnumerator() | ForEach-Object { "$($_.Key) $($_.Value)" }) -join ', ') + '.')
        $md.Add('')
    }
    if ($Data.PerfStat) {
        $md.Add('## perf stat of each server over connections (Measure-EchoServer -Trace, pinned), beside its own cgroup figure of the same pass')
        $md.Add('')
        $md.AddRange([string[]](ConvertTo-MarkdownTable $Data.PerfStat 'Server', 'PerfCpuUsPerConnection', 'ObservedCpuUsPerConnection', 'SwitchesPerConnection'))
    }
    $md.Add('## Stream against buffer size (MiB/s, pinned)')
    $md.Add('')
    $md.AddRange([string[]](ConvertTo-MarkdownTable $Data.Sweep 'BufferKiB', 'CMiBps', 'EchoPSMiBps'))
    $a = $Data.Allocations; $i = $Data.Import; $stop = $Data.Stop
    $md.Add('## Extras')
    $md.Add('')
    if ($a) { $md.Add(('- EchoPS heap bytes: {0:0.###} per echo ({1}), {2:0} per connection ({3}), {4:0.#} per MiB streamed.' -f $a.bytes_per_echo, ($a.bytes_per_echo_all -join ', '), $a.bytes_per_connection, ($a.bytes_per_connection_all -join ', '), $a.bytes_per_mib_streamed)) }
    if ($stop) { $md.Add(('- Stop latency, worst state and route: {0} ms; worst by state (foreground Ctrl+C route / job, ms): {1}.' -f $stop.WorstMs, (($stop.PSObject.Properties | Where-Object Name -ne 'WorstMs' | ForEach-Object { '{0} {1:0.0} / {2:0.0}' -f $_.Name, ($_.Value.foreground_ms | Measure-Object -Maximum).Maximum, ($_.Value.job_ms | Measure-Object -Maximum).Maximum }) -join ', '))) }
    if ($i) { $md.Add(('- Import-Module EchoPS: {0} ms as the first import of a session, {1} ms after another module (medians of {2}).' -f $i.ColdMs, $i.OwnMs, $Run.Plan.ImportRuns)) }
    if ($Data.ColdBurst) { $md.Add((Format-ColdBurst $Data.ColdBurst)) }
    foreach ($note in $Run.Skipped) { $md.Add("- Skipped $note") }
    foreach ($failure in $Run.Failures) { $md.Add("- Failed: $($failure.What)") }
    $md | Set-Content (Join-Path $Run.OutDir 'bench.md')
}

# The cold first burst in one line, for the console and bench.md.
function Format-ColdBurst($Burst) {
    '- Cold first burst, {0} connections, pinned: EchoPS {1:N0}/s vs C {2:N0}/s, {3:0.000}x (median of {4}; per round {5}); every connection counted: {6}.' -f `
        $Burst.Connections, $Burst.EchoPSPerSec, $Burst.CPerSec, $Burst.Ratio, $Burst.Rounds, (($Burst.Samples | ForEach-Object { '{0:0.000}' -f $_.Ratio }) -join ', '), $Burst.AllCounted
}

# The console report: tables, targets, overhead, syscalls, perf, sweep, allocations, import, skips, failures.
function Show-BenchReport($Run, $Data, $Rows, $TargetResults, $Machine) {
    Show-Table @($Rows | Where-Object Placement -eq 'pinned') "Pinned: servers and Measure-EchoServer on CPU $($Run.Cpu) (judge by these; ratios to C)"
    Show-Table @($Rows | Where-Object Placement -eq 'unpinned') 'Unpinned: the scheduler places them'
    Write-Host "Targets (EchoPS beside the C server, same run, medians of rounds; load average at the end $($Machine.load_average)):"
    $TargetResults | Format-Table -AutoSize | Out-String -Width 220 | Write-Host
    Show-LoadTable $Data
    $o = $Data.Overhead
    if ($o) {
        Write-Host ('Measurer against the compiled C client, same C server: round trip p50 {0:0.00} vs {1:0.00} us ({2:0.000}x), stream {3:0} vs {4:0} MiB/s ({5:0.000}x).' -f `
                $o.MeasurerP50Us, $o.ClientP50Us, $o.RttP50Ratio, $o.MeasurerMiBps, $o.ClientMiBps, $o.StreamRatio)
        if ($o.PSObject.Properties['CapacityEchoed']) {
            Write-Host ('Capacity probe against the asyncio peer: {0} asked, {1} connected, {2} echoed, the last after {3:0} ms.' -f $o.CapacityRequested, $o.CapacityConnected, $o.CapacityEchoed, $o.CapacityLastEchoMs)
        }
    }
    if ($Data.SyscallSummary.PerConnection.Count) {
        Write-Host ''
        Write-Host 'Syscalls per echo (rtt run) and per connection (conns run), Measure-EchoServer -Trace (strace -f -c of the server tree, pinned):'
        $Data.Syscalls | Where-Object { $_ -and $_.PerUnit -ge 0.01 } | Sort-Object Run, Server, { -$_.Calls } |
            Format-Table Run, Server, Syscall, Calls, Errors, PerUnit -AutoSize | Out-String -Width 200 | Write-Host
    }
    if ($Data.PerfStat) {
        Write-Host 'perf stat of each server per connection (pinned), beside the cgroup figure of the same pass:'
        $Data.PerfStat | Format-Table Server, PerfCpuUsPerConnection, ObservedCpuUsPerConnection, SwitchesPerConnection -AutoSize | Out-String -Width 200 | Write-Host
    }
    Write-Host 'Stream against buffer size (MiB/s, pinned, Measure-EchoServer -Figure Stream):'
    $Data.Sweep | Format-Table -AutoSize | Out-String | Write-Host
    $a = $Data.Allocations; $i = $Data.Import
    if ($a) { Write-Host ('EchoPS heap bytes: {0:0.###} per echo, {1:0} per connection, {2:0.#} per MiB streamed.' -f $a.bytes_per_echo, $a.bytes_per_connection, $a.bytes_per_mib_streamed) }
    if ($i) { Write-Host ('Import-Module EchoPS: {0} ms as the first import of a session, {1} ms after another module.' -f $i.ColdMs, $i.OwnMs) }
    if ($Data.ColdBurst) { Write-Host (Format-ColdBurst $Data.ColdBurst) }
    foreach ($note in $Run.Skipped) { Write-Warning "Skipped $note" }
    foreach ($failure in $Run.Failures) { Write-Warning "Failed: $($failure.What)" }
}

#endregion

#region The load figure and the server cost (Measure-EchoServer -Figure Load, pinned)

# A property of an object that may be null or lack it (measurement.json's objects under strict mode): null then.
function Get-Field($Object, [string] $Name) { if ($null -ne $Object -and $Object.PSObject.Properties[$Name]) { $Object.$Name } }

# One spread of a result (measurement.json's Spread: value, rounds' min-max, 95 % interval with 5+ rounds) by name.
function Get-Spread($Result, [string] $Figure) { @(Get-Field $Result 'Spread') | Where-Object { $_ -and $_.Figure -eq $Figure } | Select-Object -First 1 }

# "12345 (11000–13000, CI 11500–12900)": the value, the rounds' min–max, the interval; " ~" for a ratio within noise.
function Format-Spread($Spread, [string] $Format = '0', [double] $Scale = 1, [string] $Suffix = '') {
    if ($null -eq (Get-Field $Spread 'Value')) { return '' }
    $f = { param($v) ([double]$v * $Scale).ToString($Format, $Invariant) }
    $text = (& $f $Spread.Value) + $Suffix
    if ($Spread.Rounds -ge 2) {
        $text += " ($(& $f $Spread.Min)–$(& $f $Spread.Max)"
        if ($null -ne $Spread.CiLow) { $text += ", CI $(& $f $Spread.CiLow)–$(& $f $Spread.CiHigh)" }
        $text += ')'
    }
    if ($Spread.WithinNoise) { $text += ' ~' }
    $text
}

function Get-Rounded($Value, [int] $Digits, [double] $Scale = 1) { if ($null -ne $Value) { [math]::Round([double]$Value * $Scale, $Digits) } }

# One row per server and load step of a placement: clients connected and starved, round trips/s and its ratio to C
# with their spread over rounds (within_noise: the ratio's interval includes 1.0), latency, fairness, the measurer.
function ConvertTo-LoadRow($Placement) {
    foreach ($r in @($Placement.Results)) {
        foreach ($s in @(Get-Field $r 'Load')) {
            if (-not $s) { continue }
            $rate = Get-Spread $r "Load$($s.Clients)RoundTripsPerSec"
            $ratio = Get-Spread $r "Load$($s.Clients)Ratio"
            $p99 = Get-Spread $r "Load$($s.Clients)P99Ms"
            [pscustomobject][ordered]@{
                Placement = $Placement.Placement; Server = $r.Name; Clients = $s.Clients; Connected = $s.Connected; Starved = $s.Starved
                rt_per_s = Get-Rounded $s.RoundTripsPerSec 0; rt_per_s_min = Get-Rounded (Get-Field $rate 'Min') 0; rt_per_s_max = Get-Rounded (Get-Field $rate 'Max') 0
                rt_per_s_ci_low = Get-Rounded (Get-Field $rate 'CiLow') 0; rt_per_s_ci_high = Get-Rounded (Get-Field $rate 'CiHigh') 0
                rt_x_c = Get-Rounded (Get-Field $ratio 'Value') 3; rt_x_c_min = Get-Rounded (Get-Field $ratio 'Min') 3; rt_x_c_max = Get-Rounded (Get-Field $ratio 'Max') 3
                rt_x_c_ci_low = Get-Rounded (Get-Field $ratio 'CiLow') 3; rt_x_c_ci_high = Get-Rounded (Get-Field $ratio 'CiHigh') 3; within_noise = Get-Field $ratio 'WithinNoise'
                mib_per_s = Get-Rounded $s.MiBps 2; p50_us = Get-Rounded $s.P50Ms 1 1000; p99_us = Get-Rounded $s.P99Ms 1 1000
                p99_us_min = Get-Rounded $s.P99MsMin 1 1000; p99_us_max = Get-Rounded $s.P99MsMax 1 1000
                p999_us = Get-Rounded $s.P999Ms 1 1000; max_us = Get-Rounded $s.MaxMs 1 1000
                fairness_min = $s.MinPerClient; fairness_max = $s.MaxPerClient
                measurer_cpu_us_per_rt = Get-Rounded $s.MeasurerCpuUsPerRoundTrip 1; measurer_threads = $s.MeasurerThreads
                listen_overflows = Get-Field $s.Kernel 'ListenOverflows'
                rt_per_s_text = Format-Spread $rate '0'; rt_x_c_text = Format-Spread $ratio '0.00' -Suffix 'x'; p99_us_text = Format-Spread $p99 '0' 1000
            }
        }
    }
}

# bench.csv's load columns (one set per client step of the plan: round trips/s, ratio to C, starved), the server's
# CPU per round trip under load, and the ratios within noise, added to every summary row (empty where not measured).
function Add-LoadColumn($Rows, $Data, $Run) {
    $results = @{}
    foreach ($placement in $Data.Pinned, $Data.Unpinned) { foreach ($r in @(Get-Field $placement 'Results')) { if ($r) { $results["$($placement.Placement)|$($r.Name)"] = $r } } }
    foreach ($row in $Rows) {
        $r = $results["$($row.Placement)|$($row.Server)"]
        foreach ($clients in $Run.Plan.LoadClients) {
            $step = @(Get-Field $r 'Load') | Where-Object { $_ -and $_.Clients -eq $clients } | Select-Object -First 1
            $row | Add-Member "load$($clients)_rt_s" (Get-Rounded (Get-Field $step 'RoundTripsPerSec') 0)
            $row | Add-Member "load$($clients)_x_c" (Get-Rounded (Get-Field (Get-Spread $r "Load$($clients)Ratio") 'Value') 3)
            $row | Add-Member "load$($clients)_starved" (Get-Field $step 'Starved')
        }
        $cost = @(Get-Field $r 'ServerCost') | Where-Object { $_ -and $_.Figure -eq 'Load' } | Select-Object -First 1
        $row | Add-Member server_cpu_us_load_rt (Get-Rounded (Get-Field $cost 'CpuUsPerOp') 1)
        $row | Add-Member within_noise ((@(Get-Field $r 'WithinNoise') | Where-Object { $_ }) -join ' ')
    }
}

# bench.md's load and server-cost sections.
function Get-LoadMarkdown($Run, $Data) {
    $rows = @(Get-Field $Data 'LoadRows')
    if ($rows.Count) {
        "## Load: many clients at once (Measure-EchoServer -Figure Load, pinned, $($Run.Plan.LoadSec) s a step)"
        ''
        'Each client sends a 32-byte message, waits for its verified echo, sends the next. Median over rounds (min–max over rounds, CI: the 95 % interval with 5+ rounds); ratios to C paired by round, **~: within noise** (the interval includes 1.0). Starved: connected clients that got no echo at all. Fairness: the fewest and most round trips of one client. Chart: [load.svg](load.svg).'
        ''
        ConvertTo-MarkdownTable ($rows | Select-Object Server, Clients, Connected, Starved, @{ n = 'Round trips/s'; e = { $_.rt_per_s_text } }, @{ n = 'vs C'; e = { $_.rt_x_c_text } },
            @{ n = 'p99 µs'; e = { $_.p99_us_text } }, @{ n = 'Fairness min/max'; e = { "$($_.fairness_min)/$($_.fairness_max)" } }, @{ n = 'Measurer µs CPU/rt'; e = { $_.measurer_cpu_us_per_rt } }, @{ n = 'Threads'; e = { $_.measurer_threads } }) `
            'Server', 'Clients', 'Connected', 'Starved', 'Round trips/s', 'vs C', 'p99 µs', 'Fairness min/max', 'Measurer µs CPU/rt', 'Threads'
    }
    $cost = @(foreach ($r in @(Get-Field (Get-Field $Data 'Pinned') 'Results')) {
            if (-not $r -or -not @(Get-Field $r 'ServerCost' | Where-Object { $_ })) { continue }
            $row = [ordered]@{ Server = $r.Name }
            foreach ($figure in 'RoundTrip', 'Connections', 'Stream', 'Load') { $row[$figure] = Format-Spread (Get-Spread $r "Server$($figure)CpuUsPerOp") '0.0' }
            $row['CPU/conn vs C'] = Format-Spread (Get-Spread $r 'ServerCpuPerConnectionRatio') '0.00' -Suffix 'x'
            [pscustomobject]$row
        })
    if ($cost.Count) {
        "## Server CPU per operation (pinned, each server's cgroup: every thread and child)"
        ''
        'µs per round trip, per connection, per MiB streamed and per round trip of the load figure; median over rounds (min–max, CI); ~: a ratio within noise. Chart: [servercost.svg](servercost.svg).'
        ''
        ConvertTo-MarkdownTable $cost 'Server', 'RoundTrip', 'Connections', 'Stream', 'Load', 'CPU/conn vs C'
    }
}

# The console's load table.
function Show-LoadTable($Data) {
    $rows = @(Get-Field $Data 'LoadRows')
    if (-not $rows.Count) { return }
    Write-Host 'Load (pinned): clients at once, round trips/s (min-max over rounds), ratio to C (~ within noise), clients starved:'
    $rows | Format-Table Server, Clients, Starved, @{ n = 'Round trips/s'; e = { $_.rt_per_s_text } }, @{ n = 'vs C'; e = { $_.rt_x_c_text } }, @{ n = 'p99 us'; e = { $_.p99_us } } -AutoSize |
        Out-String -Width 200 | Write-Host
}

#endregion

#region Entry point

# Every step, in order; returns what was measured. Every process started is ended, whatever happens.
function Invoke-Bench($Run) {
    $data = [ordered]@{}
    try {
        Install-BenchTool $Run
        Build-CPeer $Run
        Build-PeerServer $Run
        foreach ($placement in $Config.Placements) {
            $data[(Get-Culture).TextInfo.ToTitleCase($placement.Name)] = Measure-Placement $Run $placement
        }
        $data.Syscalls = @($data.Pinned.Syscalls)
        $data.SyscallSummary = Get-SyscallSummary $data.Syscalls
        $data.PerfStat = @($data.Pinned.PerfStat)
        Write-Step 'Stream against buffer size...'
        $data.Sweep = @(Invoke-Tolerant $Run 'EchoPS' 'buffer sweep' { Measure-BufferSweep $Run })
        Write-Step "The measurer's overhead against the compiled C client..."
        $data.Overhead = Invoke-Tolerant $Run 'Measure-EchoServer' 'measurer overhead' { Measure-MeasurerOverhead $Run }
        Write-Step 'EchoPS allocations, stop latency and Import-Module time...'
        $data.Allocations = Invoke-Tolerant $Run 'EchoPS' 'allocations' {
            Invoke-BenchScript $Run 'Measure-Allocations.ps1' @{ ModulePath = $ModulePath; ClientExe = (Join-Path $Run.BinDir 'echo_client')
                Echoes = $Run.Plan.AllocEchoes; Connections = $Run.Plan.AllocConns; StreamMiB = $Run.Plan.AllocMiB; Repeats = $Run.Plan.AllocRepeats } $true
        }
        $data.Stop = Invoke-Tolerant $Run 'EchoPS' 'stop latency' { Measure-StopLatency $Run }
        $data.Import = Invoke-Tolerant $Run 'EchoPS' 'Import-Module time' { Measure-ImportTime $Run }
        Write-Step 'The cold first burst: a foreground EchoPS server started cold against C with its log lines...'
        $data.ColdBurst = Invoke-Tolerant $Run 'EchoPS' 'cold first burst' { Measure-ColdBurstStep $Run }
        $data.Plan = $Run.Plan
    }
    finally {
        # Measure-EchoServer stops every server it started; a survivor is a failure of the measurer, said here.
        foreach ($id in $Run.Started) {
            if (Get-Process -Id $id -ErrorAction SilentlyContinue) { Add-Failure $Run 'Measure-EchoServer' "server process $id was left running" }
        }
    }
    [pscustomobject]$data
}

if (-not (Test-Path (Join-Path $RepoRoot 'module/EchoPS.dll'))) { throw 'module/EchoPS.dll is missing: run ./build.ps1 -Task Bench, which builds it first.' }
Import-Module $ModulePath # the trace loads run Measure-EchoServer in this process
$run = New-BenchRun
Remove-Item $run.RawDir -Recurse -Force -ErrorAction SilentlyContinue # the last run's raw data, logs and binaries
$null = New-Item -ItemType Directory -Force $run.OutDir, $run.RawDir
$watch = [Diagnostics.Stopwatch]::StartNew()
$loadBefore = ((Get-Content /proc/loadavg -Raw) -split ' ')[0..2] -join ' '
$data = Invoke-Bench $run
$machine = Get-MachineInfo
$machine.load_average_before = $loadBefore
$rows = @(foreach ($placement in $data.Pinned, $data.Unpinned) { if ($placement) { ConvertTo-SummaryRow $placement } })
$data | Add-Member LoadRows @(if (Get-Field $data 'Pinned') { ConvertTo-LoadRow $data.Pinned })
Add-LoadColumn $rows $data $run
$targets = @(Get-TargetResult $data)
Save-BenchResult $run $data $rows $targets $machine $watch.Elapsed.TotalSeconds
Save-BenchTables $run $data $rows $targets $machine $loadBefore $watch.Elapsed.TotalSeconds
Show-BenchReport $run $data $rows $targets $machine
Write-Host "Results: $(Join-Path $run.OutDir 'bench.json'), bench.csv, report.md and charts, in $([math]::Round($watch.Elapsed.TotalSeconds)) s (load average $loadBefore before, $($machine.load_average) after)."
if (@($run.Failures | Where-Object Who -in 'C', 'EchoPS', 'EchoPS job', 'Measure-EchoServer').Count) { throw "$($run.Failures.Count) bench step(s) of EchoPS, the C baseline or the measurer failed: see the warnings above." }

#endregion
