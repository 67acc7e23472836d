# Measure-EchoServer's lab figures for many clients: the load figure (-Clients), idle connections held during the
# figures (-IdleConnections), capacity's default above FD_SETSIZE, the kernel's counters and the spread over rounds.
# Against a select() and an epoll server written for these tests (peers/*.c, compiled here with gcc) and the
# blocking EchoPS server. Sizes are small so the file runs in about a minute.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'PeerServers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    Import-Module $ModuleManifest -Force
    $bin = Join-Path $TestDrive 'peers'
    $select = Start-PeerServer select $bin
    $epoll = Start-PeerServer epoll $bin
    $echops = Start-BlockingEchoServer -Port 0 -AsJob
    $noGcc = 'gcc is missing or could not build the C servers (peers/*.c)'
}

AfterAll {
    if ($echops) { $echops | Stop-Job; $echops | Remove-Job -Force }
    Stop-PeerServer $select
    Stop-PeerServer $epoll
}

Describe 'Measure-EchoServer -IdleConnections: the select() lesson' {
    It "holds 1,000 idle connections, and select's round trip slows several times more than epoll's" {
        if (-not $select) { Set-ItResult -Skipped -Because $noGcc; return }
        $r = Measure-EchoServer $select.Target, $epoll.Target -Figure RoundTrip -Count 2000 -Rounds 1 -IdleConnections 1000
        foreach ($m in $r) {
            $m.IdleAsked | Should -Be 1000
            $m.IdleHeld | Should -Be 1000 -Because "$($m.Name) holds every connection"
            $m.IdleOpenAtEnd | Should -Be 1000
            $m.ErrorCount | Should -Be 0
        }
        # select() walks every descriptor on each wake-up; epoll hands back the ready ones. The server's CPU per round
        # trip shows it whatever else runs; the round trip's p50 shows it too (8x on an idle machine), but a busy one
        # adds its scheduling delay to both (2.3x seen with two spinning processes beside the test run). CPU per round
        # trip with two spinners: 19x, 18x, 4.6x.
        $because = "select p50 $($r[0].RttP50Ms) ms, $($r[0].ServerCpuUsPerRoundTrip) us CPU; epoll p50 $($r[1].RttP50Ms) ms, $($r[1].ServerCpuUsPerRoundTrip) us CPU"
        Write-Host "    $because"
        $r[0].ServerCpuUsPerRoundTrip | Should -BeGreaterThan (2.5 * $r[1].ServerCpuUsPerRoundTrip) -Because $because
        $r[0].RttP50Ms | Should -BeGreaterThan $r[1].RttP50Ms -Because $because
    }

    It 'reports a server that cannot hold them (blocking: the first one only) as held of asked, and still ends' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $r = Measure-EchoServer "EchoPS=127.0.0.1:$($echops.Port)" -Figure Connections -ConnectionCount 1 -Rounds 1 -IdleConnections 20 -CapacityWaitSec 0.5 -TimeoutSec 0.5 -ErrorAction SilentlyContinue
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 15
        $r.IdleAsked | Should -Be 20
        $r.IdleHeld | Should -Be 1
        $r.Notes -join ' ' | Should -Match 'Idle connections: 1 of 20 held'
        $r.ErrorCount | Should -BeGreaterThan 0 -Because 'the one held connection blocks the server: the figure times out'
    }
}

Describe 'Measure-EchoServer capacity: a default above FD_SETSIZE, and the kernel counters' {
    It "shows select's FD_SETSIZE limit as errors at the default N, where epoll echoes all" {
        if (-not $select) { Set-ItResult -Skipped -Because $noGcc; return }
        $r = Measure-EchoServer $select.Target, $epoll.Target -Figure Capacity -Rounds 1 -CapacityWaitSec 2 -ErrorAction SilentlyContinue
        $r[0].CapacityRequested | Should -BeGreaterThan 1024 -Because 'the default N is above FD_SETSIZE'
        $r[0].CapacityEchoed | Should -BeLessThan 1024
        @($r[0].Errors | Where-Object Figure -eq 'Capacity').Count | Should -BeGreaterThan 0
        ($r[0].Errors | Measure-Object Count -Sum).Sum | Should -BeGreaterThan ($r[0].CapacityRequested - 1024) -Because 'every connection past FD_SETSIZE is closed by the server'
        $r[1].CapacityEchoed | Should -Be $r[1].CapacityRequested
        $r[1].ErrorCount | Should -Be 0
        if (Test-Path /proc/net/netstat) {
            $r[0].CapacityKernel.ResetsSent | Should -BeGreaterThan 0 -Because 'closing a connection with unread input sends a reset'
            $r[1].CapacityConnectMaxMs | Should -BeGreaterThan 0
        }
    }

    It 'names ListenOverflows in the report when a small listen queue overflowed (the 1 s SYN retransmit)' {
        if (-not (Test-Path /proc/net/netstat)) { Set-ItResult -Skipped -Because 'the kernel counters are read from /proc/net (Linux)'; return }
        $dir = Join-Path $TestDrive 'overflow'
        # EchoPS listens with a backlog of 128 and serves one client: 1,000 connects overflow its queue.
        $r = Measure-EchoServer "EchoPS=127.0.0.1:$($echops.Port)" -Figure Capacity -Rounds 1 -CapacityConnections 1000 -CapacityWaitSec 1.5 -Path $dir
        $r.CapacityKernel.ListenOverflows | Should -BeGreaterThan 0
        $report = Get-Content (Join-Path $dir 'report.md') -Raw
        $report | Should -Match 'ListenOverflows grew by \d+'
        $report | Should -Match 'sends it again after 1 s'
        $report | Should -Match 'machine-wide'
        $json = Get-Content (Join-Path $dir 'measurement.json') -Raw | ConvertFrom-Json
        $json.Results[0].CapacityKernel.ListenOverflows | Should -Be $r.CapacityKernel.ListenOverflows
    }
}

Describe 'Measure-EchoServer -Figure Load: many clients at once' {
    It 'reports starved clients against the blocking EchoPS server, and ends on time' {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $r = Measure-EchoServer "EchoPS=127.0.0.1:$($echops.Port)" -Figure Load -Clients 1, 10, 100 -LoadSec 0.5 -Rounds 1 -TimeoutSec 2
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
        $r.ErrorCount | Should -Be 0
        @($r.Load.Clients) | Should -Be @(1, 10, 100)
        foreach ($step in $r.Load) {
            $step.Connected | Should -Be $step.Clients
            # One client is served for the whole step; every other waits in the backlog.
            $step.Starved | Should -Be ($step.Clients - 1) -Because "$($step.Clients) clients against a one-at-a-time server"
            $step.RoundTrips | Should -BeGreaterThan 0
            $step.MinPerClient | Should -Be $(if ($step.Clients -gt 1) { 0 } else { $step.MaxPerClient })
            $step.P50Ms | Should -BeLessOrEqual $step.P99Ms
            $step.P99Ms | Should -BeLessOrEqual $step.MaxMs
        }
    }

    It 'reports round trips/s rising with clients against the epoll server, none starved, fair' {
        if (-not $epoll) { Set-ItResult -Skipped -Because $noGcc; return }
        $r = Measure-EchoServer $epoll.Target -Figure Load -Clients 1, 10, 100 -LoadSec 0.5 -Rounds 3
        $r.ErrorCount | Should -Be 0
        foreach ($step in $r.Load) {
            $step.Starved | Should -Be 0
            $step.MinPerClient | Should -BeGreaterThan 0
            $step.MiBps | Should -BeGreaterThan 0
            $step.MeasurerCpuUsPerRoundTrip | Should -BeGreaterThan 0
            $step.RoundTripsPerSecMin | Should -BeLessOrEqual $step.RoundTripsPerSec
            $step.RoundTripsPerSecMax | Should -BeGreaterOrEqual $step.RoundTripsPerSec
        }
        $rate = @($r.Load.RoundTripsPerSec)
        $rate[2] | Should -BeGreaterThan $rate[0] -Because "100 clients keep the server busy where one waits for each echo ($($rate -join ', ') round trips/s)"
        @($r.Spread.Figure) | Should -Contain 'Load100RoundTripsPerSec'
    }

    It "drives the clients with one thread's epoll loop on Linux and reports that loop's CPU per round trip" {
        if (-not $epoll) { Set-ItResult -Skipped -Because $noGcc; return }
        $dir = Join-Path $TestDrive 'loop'
        $r = Measure-EchoServer $epoll.Target -Figure Load -Clients 10 -LoadSec 0.5 -Rounds 1 -Path $dir
        $r.ErrorCount | Should -Be 0
        $step = $r.Load[0]
        # The runtime's asynchronous sockets are the loop where epoll is not there (Windows, macOS).
        $step.MeasurerLoop | Should -Be $(if ($IsLinux) { 'epoll' } else { 'async' })
        $step.MeasurerCpuUsPerRoundTrip | Should -BeGreaterThan 0
        $step.RoundTrips | Should -BeGreaterThan 100
        # One thread drives every client: the step adds no threads to the measuring process.
        if ($IsLinux) { ($step.MeasurerThreads - $step.MeasurerThreadsBefore) | Should -BeLessThan 5 -Because "$($step.MeasurerThreads) threads during the step, $($step.MeasurerThreadsBefore) before" }
        $json = Get-Content (Join-Path $dir 'measurement.json') -Raw | ConvertFrom-Json
        $json.Results[0].Load[0].MeasurerLoop | Should -Be $step.MeasurerLoop
        $json.Results[0].Load[0].MeasurerCpuUsPerRoundTrip | Should -BeGreaterThan 0
        $report = Get-Content (Join-Path $dir 'report.md') -Raw
        $cpu = $step.MeasurerCpuUsPerRoundTrip.ToString('0.0', [cultureinfo]::InvariantCulture)
        $report | Should -Match ('\| 10 \| [^\n]*\| ' + [regex]::Escape($cpu) + ' \| \d+ \|')
    }

    It 'ends a 1,000-client step on a blocking server within -LoadSec and one SYN retransmit, not the timeout' {
        # A backlog of 128 and one client served: the listen queue overflows and the kernel drops the other SYNs,
        # which it sends again only after 1 s, then 3 s. The step waits -LoadSec + 1.5 s for connects, not -TimeoutSec.
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $r = Measure-EchoServer "EchoPS=127.0.0.1:$($echops.Port)" -Figure Load -Clients 1000 -LoadSec 0.5 -Rounds 1 -TimeoutSec 30 -ErrorAction SilentlyContinue
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 20 -Because 'the connect wait is 2 s here; the timeout (30 s) is not waited for'
        $step = $r.Load[0]
        $step.Connected | Should -BeLessThan 1000
        $step.Connected | Should -BeGreaterThan 0
        $step.Starved | Should -Be ($step.Connected - 1) -Because 'one client is served, every other connected one waits'
    }

    It "counts the server's CPU per round trip under load, with its spread and the server ratios' spread" {
        if (-not $epoll) { Set-ItResult -Skipped -Because $noGcc; return }
        # The thread-per-client peer started by command twice: observed in cgroups of their own, so each has a cost.
        $exe = Join-Path $bin 'thread_server'
        if (-not (Test-Path $exe)) { & gcc -O2 -pthread -o $exe (Join-Path $PSScriptRoot 'peers/thread_server.c') }
        $dir = Join-Path $TestDrive 'cost'
        $r = Measure-EchoServer "a=$exe {port}", "b=$exe {port}" -Figure RoundTrip, Load -Count 200 -Clients 1, 10 -LoadSec 0.2 -Rounds 2 -Path $dir
        foreach ($m in $r) {
            $cost = $m.ServerCost | Where-Object Figure -eq 'Load'
            $cost.Unit | Should -Be 'round trip'
            $cost.CpuUsPerOp | Should -BeGreaterThan 0 -Because "$($m.Name) is observed ($($m.ServerObserved))"
            $load = $m.Spread | Where-Object Figure -eq 'ServerLoadCpuUsPerOp'
            $load.Rounds | Should -Be 2
            $load.Min | Should -BeLessOrEqual $load.Max
        }
        $ratio = $r[1].Spread | Where-Object Figure -eq 'ServerCpuPerRoundTripRatio'
        $ratio.Rounds | Should -Be 2
        $ratio.Value | Should -Be $r[1].ServerCpuPerRoundTripRatio
        $ratio.WithinNoise | Should -Be ($ratio.Min -le 1 -and $ratio.Max -ge 1)
        # The report's load table gives each step's ratio to the baseline with its min-max, ~ when within noise.
        $step = $r[1].Spread | Where-Object Figure -eq 'Load10Ratio'
        $mark = if ($step.WithinNoise) { ' ~' } else { '' }
        $report = Get-Content (Join-Path $dir 'report.md') -Raw
        $report | Should -Match ('\| b \| 10 \| [^\n]*\| ' + [regex]::Escape($step.Value.ToString('0.00', [cultureinfo]::InvariantCulture)) + 'x \([\d.]+–[\d.]+\)' + $mark + ' \|')
        $report | Should -Match '\| Server \| Clients \| Connected \| Starved \| Round trips/s \| vs a \|'
    }

    It "keeps the measurer's threads few at 1,000 clients" {
        if (-not $epoll) { Set-ItResult -Skipped -Because $noGcc; return }
        $r = Measure-EchoServer $epoll.Target -Figure Load -Clients 1000 -LoadSec 1 -Rounds 1
        $step = $r.Load[0]
        $step.Connected | Should -Be 1000
        $step.Starved | Should -Be 0
        $step.RoundTrips | Should -BeGreaterThan 1000
        # One thread's epoll loop (Linux) or asynchronous sockets (a few pool threads), not one thread per client.
        $step.MeasurerThreads | Should -BeLessThan 64 -Because "the measuring process had $($step.MeasurerThreads) threads ($($step.MeasurerThreadsBefore) before)"
        ($step.MeasurerThreads - $step.MeasurerThreadsBefore) | Should -BeLessThan 20
    }

    It 'rejects <Case> with a clear error naming the value' -ForEach @(
        @{ Case = '-Clients 0'; Arguments = @{ Clients = 0 }; Text = '*0*' }
        @{ Case = '-LoadSec 0'; Arguments = @{ LoadSec = 0 }; Text = '*0*' }
        @{ Case = '-IdleConnections -1'; Arguments = @{ IdleConnections = -1 }; Text = '*-1*' }
    ) {
        { Measure-EchoServer -Target '127.0.0.1:7' @Arguments -ErrorAction Stop } | Should -Throw -ExpectedMessage $Text -ErrorId 'ParameterArgumentValidationError,EchoPS.Commands.MeasureEchoServerCommand'
    }
}

Describe 'Measure-EchoServer: spread over rounds, within noise, load average' {
    It 'gives every figure and ratio its min-max and, with 5 rounds, a confidence interval; marks ratios within noise everywhere' {
        $dir = Join-Path $TestDrive 'spread'
        $a = "EchoPS=127.0.0.1:$($echops.Port)"; $b = "again=127.0.0.1:$($echops.Port)"
        $r = Measure-EchoServer $a, $b -Figure RoundTrip, Connections -Count 200 -ConnectionCount 50 -Rounds 5 -Path $dir
        $spread = @($r[1].Spread)
        foreach ($name in 'RttP50Ms', 'RttP50Ratio', 'ConnectionsPerSec', 'ConnectionsRatio') {
            $s = $spread | Where-Object Figure -eq $name
            $s | Should -Not -BeNullOrEmpty -Because "$name has a spread"
            $s.Rounds | Should -Be 5
            $s.Min | Should -BeLessOrEqual $s.Max
            $s.CiLow | Should -BeLessOrEqual $s.CiHigh
        }
        # Within noise is exactly "the ratio's interval includes 1.0", and the list says which.
        foreach ($s in $spread | Where-Object IsRatio) {
            $s.WithinNoise | Should -Be ($s.CiLow -le 1 -and $s.CiHigh -ge 1)
            ($s.Figure -in $r[1].WithinNoise) | Should -Be $s.WithinNoise
        }
        $report = Get-Content (Join-Path $dir 'report.md') -Raw
        $report | Should -Match '## Spread over rounds'
        $report | Should -Match 'Load average \(1, 5, 15 min\): [\d.]+ [\d.]+ [\d.]+ before the timed rounds, [\d.]+ [\d.]+ [\d.]+ after'
        if (@($r[1].WithinNoise).Count -gt 0) {
            $report | Should -Match '\| again \|[^\n]*x ~'
            # The table marks them too, also for results that went through serialization (a job, remoting).
            $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($r))
            ($copy | Format-Table | Out-String -Width 200) | Should -Match 'again\s.*\d ?~'
        }
        $json = Get-Content (Join-Path $dir 'measurement.json') -Raw | ConvertFrom-Json
        @($json.Results[1].Spread).Count | Should -Be $spread.Count
        $json.Setup.LoadAverageBefore | Should -Not -BeNullOrEmpty
    }
}
