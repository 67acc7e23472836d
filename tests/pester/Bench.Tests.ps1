#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# The benchmark is not a speed test here: a -Quick run in a child pwsh must finish, print its table and write a
# well-formed results file (with Measure-EchoServer's report beside it), so the bench cannot rot. No figure is
# compared with anything.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    $script:RepoRoot = Join-Path $PSScriptRoot '../..' | Resolve-Path | ForEach-Object Path
    # The bench drives Linux tools (taskset, strace, perf, /proc): elsewhere its tests are skipped, saying so.
    $script:NotLinux = if (-not $IsLinux) { 'the bench drives Linux tools (taskset, strace, perf, /proc)' }

    # Runs build/Bench.ps1 -Quick in a fresh pwsh with extra environment variables: how it ended, its output and
    # its results file. A -Quick run takes 1-2 minutes on a 2-core machine (plus installing its tools the first
    # time), several times that when the machine is shared: the bound only stops a hang.
    function Invoke-QuickBench {
        param([Parameter(Mandatory)] [string] $OutDir, [hashtable] $Environment = @{})
        $run = Invoke-FreshPwsh -File (Join-Path $RepoRoot 'build/Bench.ps1') -ArgumentList '-Quick', '-OutDir', $OutDir `
            -Environment $Environment -TimeoutSec 900
        $jsonPath = Join-Path $OutDir 'bench.json'
        $run | Add-Member -PassThru Report $(if (Test-Path $jsonPath) { Get-Content -Raw $jsonPath | ConvertFrom-Json })
    }

    # A bin folder of links to every command on PATH except $Hidden: as if those tools were not installed.
    function New-PathWithout {
        param([Parameter(Mandatory)] [string[]] $Hidden, [Parameter(Mandatory)] [string] $Folder)
        $null = New-Item -ItemType Directory -Force $Folder
        foreach ($dir in $env:PATH -split [IO.Path]::PathSeparator | Where-Object { $_ -and (Test-Path $_) }) {
            foreach ($file in Get-ChildItem -LiteralPath $dir -File -ErrorAction SilentlyContinue) {
                $link = Join-Path $Folder $file.Name
                if ($file.Name -in $Hidden -or (Test-Path -LiteralPath $link)) { continue }
                $null = [IO.File]::CreateSymbolicLink($link, $file.FullName)
            }
        }
        $Folder
    }

    # Checks shared by every bench run: the table, Measure-EchoServer's report, and a results file with the C
    # baseline and both EchoPS servers measured in both placements.
    function Assert-BenchRan($Run, [string] $OutDir) {
        $Run.ExitCode | Should -Be 0 -Because "the bench's errors were: $($Run.Errors)"
        $Run.Output | Should -Match 'Pinned: servers and Measure-EchoServer on CPU'
        $Run.Output | Should -Match 'Unpinned'
        $Run.Output | Should -Match 'RTT p50 us'
        $Run.Output | Should -Match 'EchoPS job\s+[\d.]+ \([\d.]+x\)'
        $Run.Output | Should -Match 'Targets'
        $Run.Report | Should -Not -BeNullOrEmpty
        $Run.Report.quick | Should -BeTrue
        foreach ($placement in 'pinned', 'unpinned') {
            foreach ($server in 'C', 'EchoPS', 'EchoPS job') {
                $row = $Run.Report.summary | Where-Object { $_.Placement -eq $placement -and $_.Server -eq $server }
                $row | Should -HaveCount 1 -Because "$server $placement must have a row"
                $row.rtt_p50_us | Should -BeGreaterThan 0
                $row.rtt_p99_us | Should -BeGreaterOrEqual $row.rtt_p50_us
                $row.stream_mib_s | Should -BeGreaterThan 0
                $row.conns_per_s | Should -BeGreaterThan 0
                $row.peak_mib | Should -BeGreaterThan 0
            }
        }
        # The figures are Measure-EchoServer's: its report beside the bench's files.
        foreach ($file in 'report.md', 'measurement.json', 'unpinned/measurement.json', 'sweep/measurement.json') {
            Join-Path $OutDir $file | Should -Exist
        }
        $alive = @($Run.Report.started_pids | Where-Object { Get-Process -Id $_ -ErrorAction SilentlyContinue })
        $alive | Should -BeNullOrEmpty -Because 'the bench leaves no server, client or tracer running'
    }
}

Describe 'Bench -Quick' {
    BeforeAll {
        # As the README runs it: the bench installs what it is missing (or says why it could not).
        if (-not $NotLinux) {
            $script:OutDir = Join-Path $TestDrive 'bench'
            $script:Run = Invoke-QuickBench -OutDir $OutDir
            $script:Report = $Run.Report
        }
    }
    BeforeEach { if ($NotLinux) { Set-ItResult -Skipped -Because $NotLinux } }

    It 'finishes, prints the side-by-side table with ratios to the C baseline, and writes its results file' {
        Assert-BenchRan $Run $OutDir
    }

    It 'writes a well-formed results file: machine, ratios to C, targets' {
        $Report.machine.cpus | Should -BeGreaterThan 0
        $Report.machine.load_average | Should -Match '^[\d.]+ [\d.]+ [\d.]+$'
        $Report.summary | Where-Object { $_.Server -eq 'C' } | ForEach-Object { $_.rtt_p50_x_c | Should -Be 1 }
        $Report.targets.Count | Should -BeGreaterThan 5
    }

    It 'measures the measurer against the compiled C client on the same server, and its capacity probe' {
        $o = $Report.measurer_overhead
        $o.RttP50Ratio | Should -BeGreaterThan 0
        $o.StreamRatio | Should -BeGreaterThan 0
        if ($Report.skipped -match 'python3') { Set-ItResult -Skipped -Because "the bench skipped the asyncio peer: $($Report.skipped -match 'python3')"; return }
        $o.CapacityEchoed | Should -Be $Report.plan.OverheadCapacity
    }

    It 'sweeps the buffer size of the C server and EchoPS' {
        $Report.buffer_sweep | Should -HaveCount $Report.plan.Sweep.Count
        $Report.buffer_sweep | ForEach-Object { $_.CMiBps | Should -BeGreaterThan 0; $_.EchoPSMiBps | Should -BeGreaterThan 0 }
    }

    It 'measures socat too, unless it said why it could not' {
        if ($Report.skipped -match 'socat') { Set-ItResult -Skipped -Because "the bench skipped socat: $($Report.skipped -match 'socat')"; return }
        $rows = @($Report.summary | Where-Object { $_.Server -eq 'socat' })
        $rows | Should -HaveCount 2 -Because 'socat is measured pinned and unpinned'
        $Report.machine.socat | Should -Match '^\d+\.\d+'
    }

    It 'counts one read and one write per echo for the C baseline and EchoPS (strace)' {
        $traceFailures = @($Report.failures | Where-Object Who -eq 'strace')
        if ($Report.skipped -match 'strace' -or $traceFailures) {
            Set-ItResult -Skipped -Because "strace was missing or could not attach: $($Report.skipped -match 'strace') $($traceFailures.What)"
            return
        }
        foreach ($server in 'C', 'EchoPS') {
            $calls = @($Report.syscalls | Where-Object { $_.Server -eq $server -and $_.Run -eq 'rtt' })
            $calls | Should -Not -BeNullOrEmpty -Because "$server was traced"
            # Per echo of the traced run: exactly one read and one write, give or take the connection's own calls
            # (accept, the final read of end of stream) and a runtime thread's occasional read or write.
            $reads = ($calls | Where-Object Syscall -in 'read', 'recvfrom', 'recvmsg' | Measure-Object PerUnit -Sum).Sum
            $writes = ($calls | Where-Object Syscall -in 'write', 'sendto', 'sendmsg' | Measure-Object PerUnit -Sum).Sum
            $reads | Should -BeGreaterOrEqual 0.98 -Because "$server reads each echo once"
            $reads | Should -BeLessOrEqual 1.05 -Because "$server reads each echo once, not in pieces"
            $writes | Should -BeGreaterOrEqual 0.98 -Because "$server writes each echo once"
            $writes | Should -BeLessOrEqual 1.05 -Because "$server writes each echo once, not in pieces"
        }
    }

    It 'reports allocations, stop latency and Import-Module time' {
        $Report.allocations.bytes_per_echo | Should -Not -BeNullOrEmpty
        # A figure, not a sign: a connection allocates next to nothing since events are built only when shown, so in a
        # quick run (200 connections, one repeat) the shell's own noise can make the difference negative.
        $Report.allocations.bytes_per_connection -is [ValueType] | Should -BeTrue -Because 'the bench reports bytes per connection'
        @($Report.stop_latency_ms.PSObject.Properties.Name) | Should -Be @('Listening', 'ServingIdle', 'ServingStream', 'ServingWithQueue', 'WorstMs')
        $Report.stop_latency_ms.WorstMs | Should -BeGreaterThan 0
        $Report.import_module.ColdMs | Should -BeGreaterThan 0
    }

    It 'measures the load figure over every pinned server: the blocking ones starve all clients but one, the thread server none' {
        $steps = @($Report.plan.LoadClients)
        $steps.Count | Should -BeGreaterThan 1
        $servers = @('C', 'EchoPS', 'EchoPS job', 'threads') + @(if (-not ($Report.skipped -match 'socat')) { 'socat' })
        foreach ($server in $servers) {
            $rows = @($Report.load | Where-Object Server -eq $server)
            @($rows.Clients) | Should -Be $steps -Because "$server has one load row per step of the plan"
            foreach ($row in $rows) {
                $row.Connected | Should -Be $row.Clients
                $row.rt_per_s | Should -BeGreaterThan 0
                # Quick runs 2 rounds: each figure has its rounds' min-max, each ratio to C too, judged within noise or not.
                $row.rt_per_s_min | Should -BeLessOrEqual $row.rt_per_s_max
                $row.rt_per_s_text | Should -Match '^\d+ \(\d+–\d+\)'
                if ($server -ne 'C') {
                    $row.within_noise | Should -BeOfType [bool]
                    $row.rt_x_c_text | Should -Match $(if ($row.within_noise) { 'x \(.*\) ~$' } else { 'x \([^)]*\)$' })
                }
                # Blocking servers serve one client and starve the rest; the thread server serves each at once. socat
                # forks a process per client, which on a busy machine can take longer than the quick plan's step: not judged.
                if ($server -in 'C', 'EchoPS', 'EchoPS job') { $row.Starved | Should -Be ($row.Clients - 1) -Because "$server serves one of $($row.Clients) clients" }
                if ($server -eq 'threads') { $row.Starved | Should -Be 0 -Because "a thread per client serves all $($row.Clients)" }
            }
        }
        # bench.md, bench.csv and the console show them; load.svg and servercost.svg come from Measure-EchoServer.
        $md = Get-Content (Join-Path $OutDir 'bench.md') -Raw
        $md | Should -Match '## Load: many clients at once'
        $md | Should -Match '\| threads \| \d+ \| \d+ \| 0 \|'
        $md | Should -Match '~: within noise'
        $md | Should -Match '## Server CPU per operation'
        $csv = @(Import-Csv (Join-Path $OutDir 'bench.csv'))
        foreach ($clients in $steps) { $csv[0].PSObject.Properties.Name | Should -Contain "load$($clients)_rt_s" }
        ($csv | Where-Object { $_.Placement -eq 'pinned' -and $_.Server -eq 'EchoPS' })."load$($steps[-1])_starved" | Should -Be ($steps[-1] - 1)
        $csv[0].PSObject.Properties.Name | Should -Contain 'within_noise'
        $Run.Output | Should -Match 'Load \(pinned\)'
        foreach ($chart in 'load.svg', 'servercost.svg') { (Get-Item (Join-Path $OutDir $chart)).Length | Should -BeGreaterThan 1000 }
        (Get-Content (Join-Path $OutDir 'report.md') -Raw) | Should -Match '## Load: many clients at once'
    }

    It "keeps Measure-EchoServer's charts" {
        foreach ($chart in 'latency.svg', 'slots.svg', 'capacity.svg', 'throughput.svg', 'sweep/throughput.svg') {
            (Get-Item (Join-Path $OutDir $chart)).Length | Should -BeGreaterThan 1000
        }
    }

    It 'leaves no server, client or tracer running' {
        $Report.started_pids.Count | Should -BeGreaterThan 3
        $alive = @($Report.started_pids | Where-Object { Get-Process -Id $_ -ErrorAction SilentlyContinue })
        $alive | Should -BeNullOrEmpty
    }
}

Describe 'Bench -Quick without its optional tools' {
    BeforeAll {
        # A machine where socat, strace, perf and python3 are not installed and cannot be: PATH without them, and
        # installing turned off. The bench must still finish, say what it skipped and why, and write its results.
        $script:Hidden = 'socat', 'strace', 'perf', 'python3'
        if (-not $NotLinux) {
            $bin = New-PathWithout -Hidden $Hidden -Folder (Join-Path $TestDrive 'bin-without-tools')
            $script:BareDir = Join-Path $TestDrive 'bench-bare'
            $script:Bare = Invoke-QuickBench -OutDir $BareDir -Environment @{ PATH = $bin; ECHOPS_NO_INSTALL = '1' }
        }
    }
    BeforeEach { if ($NotLinux) { Set-ItResult -Skipped -Because $NotLinux } }

    It 'finishes, prints its table and writes its results file for the C server and EchoPS' {
        Assert-BenchRan $Bare $BareDir
        Join-Path $BareDir 'bench.csv' | Should -Exist
        @($Bare.Report.summary | Where-Object Server -EQ 'socat') | Should -BeNullOrEmpty
    }

    It 'says what it skipped and why, in its output and in the results file' {
        $parts = @{ socat = 'the socat server'; strace = 'syscalls per echo'; perf = 'perf stat'; python3 = 'capacity probe' }
        foreach ($tool in $Hidden) {
            $note = @($Bare.Report.skipped | Where-Object { $_ -like "*$($parts[$tool])*" })
            $note | Should -HaveCount 1 -Because "the skip of $tool is recorded"
            $note[0] | Should -BeLike "*$tool is missing: installing is turned off (ECHOPS_NO_INSTALL=1)"
            $Bare.Output + $Bare.Errors | Should -Match ([regex]::Escape("Skipped $($note[0])"))
        }
        $Bare.Report.machine.socat | Should -BeNullOrEmpty
        @($Bare.Report.syscalls) | Where-Object { $_ } | Should -BeNullOrEmpty
        @($Bare.Report.perf_stat) | Where-Object { $_ } | Should -BeNullOrEmpty
        $Bare.Report.measurer_overhead.PSObject.Properties['CapacityEchoed'] | Should -BeNullOrEmpty
    }
}
