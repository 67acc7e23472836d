#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# The benchmark is not a speed test here: a -Quick run in a child pwsh must finish, print its table and write a
# well-formed results file, so the bench cannot rot. No figure is compared with anything.

BeforeAll {
    $script:RepoRoot = Join-Path $PSScriptRoot '../..' | Resolve-Path | ForEach-Object Path
    $script:OutDir = Join-Path $TestDrive 'bench'
    $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $stdout = Join-Path $TestDrive 'bench.out'
    $stderr = Join-Path $TestDrive 'bench.err'

    # The bench drives Linux tools (taskset, strace, perf, /proc): elsewhere the tests are skipped.
    if ($IsLinux) {
        $bench = Join-Path $RepoRoot 'build/Bench.ps1'
        $process = Start-Process $pwsh -ArgumentList "-NoProfile -NonInteractive -File `"$bench`" -Quick -OutDir `"$OutDir`"" `
            -RedirectStandardOutput $stdout -RedirectStandardError $stderr -PassThru
        # Bounded: a -Quick run takes about 30 s here; a hung bench is killed with everything it started.
        $script:Finished = $process.WaitForExit(150000)
        if (-not $script:Finished) { $process.Kill($true); $null = $process.WaitForExit(10000) }
        $script:ExitCode = $process.ExitCode
        $script:Output = Get-Content -Raw $stdout
        $script:Errors = Get-Content -Raw $stderr
        $jsonPath = Join-Path $OutDir 'bench.json'
        $script:Report = if (Test-Path $jsonPath) { Get-Content -Raw $jsonPath | ConvertFrom-Json }
    }
}

Describe 'Bench -Quick' -Skip:(-not $IsLinux) {
    It 'finishes within its bound and exits cleanly' {
        $Finished | Should -BeTrue -Because 'a -Quick bench must end within 150 s'
        $ExitCode | Should -Be 0 -Because "the bench's errors were: $Errors"
    }

    It 'prints the side-by-side table with ratios to the C baseline' {
        $Output | Should -Match 'Pinned: server and client on CPU'
        $Output | Should -Match 'Unpinned'
        $Output | Should -Match 'RTT p50 us'
        $Output | Should -Match 'EchoPS\s+echo_client\s+[\d.]+ \([\d.]+x\)'
        $Output | Should -Match 'Targets'
    }

    It 'writes a well-formed results file: every server, both placements, positive figures' {
        $Report | Should -Not -BeNullOrEmpty
        $Report.quick | Should -BeTrue
        $Report.machine.cpus | Should -BeGreaterThan 0
        foreach ($placement in 'pinned', 'unpinned') {
            foreach ($server in 'C', 'EchoPS') {
                $row = $Report.summary | Where-Object { $_.Placement -eq $placement -and $_.Server -eq $server -and $_.Client -eq 'echo_client' }
                $row | Should -HaveCount 1 -Because "$server $placement must have a row"
                $row.rtt_p50_us | Should -BeGreaterThan 0
                $row.rtt_p99_us | Should -BeGreaterOrEqual $row.rtt_p50_us
                $row.stream_mib_s | Should -BeGreaterThan 0
                $row.conns_per_s | Should -BeGreaterThan 0
                $row.peak_mib | Should -BeGreaterThan 0
            }
        }
        $Report.summary | Where-Object { $_.Server -eq 'C' } | ForEach-Object { $_.rtt_p50_us_x_c | Should -Be 1 }
        $Report.targets.Count | Should -BeGreaterThan 5
    }

    It 'measures the PowerShell client against the same servers' {
        $row = $Report.summary | Where-Object { $_.Placement -eq 'pinned' -and $_.Server -eq 'EchoPS' -and $_.Client -eq 'Test-EchoRoundTrip' }
        $row | Should -HaveCount 1
        $row.rtt_p50_us | Should -BeGreaterThan 0
    }

    It 'counts one read and one write per echo for the C baseline and EchoPS (strace)' {
        $traceFailures = @($Report.failures | Where-Object Who -eq 'strace')
        if ($Report.skipped -match 'strace' -or $traceFailures) {
            Set-ItResult -Skipped -Because "strace was not installed or could not attach: $($Report.skipped) $($traceFailures.What)"
            return
        }
        foreach ($server in 'C', 'EchoPS') {
            $calls = @($Report.syscalls | Where-Object { $_.Server -eq $server -and $_.Run -eq 'rtt' })
            $reads = ($calls | Where-Object Syscall -in 'read', 'recvfrom', 'recvmsg' | Measure-Object PerUnit -Sum).Sum
            $writes = ($calls | Where-Object Syscall -in 'write', 'sendto', 'sendmsg' | Measure-Object PerUnit -Sum).Sum
            $reads | Should -BeGreaterOrEqual 1 -Because "$server reads each echo"
            $writes | Should -BeGreaterOrEqual 1 -Because "$server writes each echo"
        }
    }

    It 'reports allocations, stop latency and Import-Module time' {
        $Report.allocations.bytes_per_echo | Should -Not -BeNullOrEmpty
        $Report.allocations.bytes_per_connection | Should -BeGreaterThan 0
        @($Report.stop_latency_ms.PSObject.Properties.Name) | Should -Be @('Listening', 'ServingIdle', 'ServingStream', 'ServingWithQueue')
        $Report.import_module.ColdMs | Should -BeGreaterThan 0
    }

    It 'draws its charts from its own data' {
        if ($Report.skipped -match 'gnuplot') { Set-ItResult -Skipped -Because "gnuplot could not be installed: $($Report.skipped)"; return }
        foreach ($chart in 'rtt-histogram.png', 'queue-wait.png', 'throughput-buffer.png') {
            (Get-Item (Join-Path $OutDir $chart)).Length | Should -BeGreaterThan 1000
        }
    }

    It 'leaves no server, client or tracer running' {
        $Report.started_pids.Count | Should -BeGreaterThan 3
        $alive = @($Report.started_pids | Where-Object { Get-Process -Id $_ -ErrorAction SilentlyContinue })
        $alive | Should -BeNullOrEmpty
    }
}
