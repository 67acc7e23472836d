#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# Measure-EchoServer's server side: command targets it starts (pinned, in a cgroup of their own) and stops as a
# whole tree on success, on a failed start, on a server that never listens and on Ctrl+C; the server's cost per
# operation (a fork server's children counted); a server started elsewhere found from its port; -Trace's syscall
# table; the environment in report.md. Test servers: tests/pester/peers/fork_server.c and thread_server.c, built
# by gcc into the test drive. Small counts keep it well under a minute.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    $script:NotReady = if (-not $IsLinux) { 'servers are started and observed through Linux (/proc, setsid, taskset, cgroups)' }
    elseif (-not (Test-Tool gcc)) { 'gcc builds the test servers and is missing' }
    elseif (-not (Test-Tool setsid) -or -not (Test-Tool taskset)) { 'setsid and taskset (util-linux) are missing' }
    $script:NotRoot = if ($IsLinux -and (& id -u) -ne '0') { 'a cgroup of its own needs root here' }
    $script:Strace = if (-not $NotReady) { Install-DebianTool @{ strace = 'strace' } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    Import-Module $ModuleManifest -Force
    $script:Bin = Join-Path $TestDrive "bin-$PID"
    $null = New-Item -ItemType Directory -Force $Bin
    if ($IsLinux -and (Test-Tool gcc)) {
        foreach ($name in 'fork_server', 'thread_server') {
            & gcc -O2 -Wall -Wextra -Werror -pthread -o (Join-Path $Bin $name) (Join-Path $PSScriptRoot "peers/$name.c")
            if ($LASTEXITCODE -ne 0) { throw "gcc could not build peers/$name.c" }
        }
    }
    $script:Fork = "fork=$Bin/fork_server {port}"
    $script:Threads = "threads=$Bin/thread_server {port}"

    # Processes whose command line names the test's bin folder or a marker: what must not outlive a measurement.
    function Get-Leftover([string] $Marker = $Bin) {
        @(Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -match '^\d+$' | ForEach-Object {
                $cmd = try { [IO.File]::ReadAllText("$($_.FullName)/cmdline") -replace "`0", ' ' } catch { '' }
                $state = try { ([IO.File]::ReadAllText("$($_.FullName)/stat") -split '\) ')[1][0] } catch { 'X' }
                if ($cmd -like "*$Marker*" -and $state -ne 'Z') { "$($_.Name): $cmd" }
            })
    }
    function Get-EchopsCgroup { @(Get-ChildItem /sys/fs/cgroup/unified, /sys/fs/cgroup/cpuacct -Directory -Filter "echops-measure-$PID-*" -ErrorAction SilentlyContinue) }
}

Describe 'Measure-EchoServer starts, observes and stops servers' -Skip:([bool]$NotReady) {
    It 'measures command targets, counts a fork server''s children, and leaves no process or cgroup behind' {
        $out = Join-Path $TestDrive 'report'
        $r = Measure-EchoServer $Fork, $Threads -Figure RoundTrip, Connections, Slots -Rounds 1 -Count 200 -ConnectionCount 200 -SlotClients 3 -HoldMs 300 -Path $out -ServerCpu 0
        $r.Count | Should -Be 2
        $r.ErrorCount | Should -Be @(0, 0)
        foreach ($m in $r) {
            $m.ServerCommand | Should -Match "^$([regex]::Escape($Bin))/\w+_server \d+$"
            $m.ServerCpus | Should -Be '0'
            $m.ServerCpuUsPerConnection | Should -BeGreaterThan 0
            $m.ServerCpuUsPerRoundTrip | Should -BeGreaterThan 0
            $m.ServerProcessId | Should -BeGreaterThan 0
            # A simple command replaces the start script's shell: the process observed is the server itself.
            (Get-Content (Join-Path $out "servers/server-$($m.Name)-$($m.Port).sh"))[-1] | Should -Be "exec $($m.ServerCommand)"
            (Get-Content "/proc/$PID/status" -ErrorAction SilentlyContinue) | Should -Not -BeNullOrEmpty
            $m.ServerPeakRssMiB | Should -BeGreaterThan 0
            Get-Content -Raw $m.ServerLog | Should -Match "listening $($m.Port)"
        }
        $fork, $threads = $r
        # The fork server's cost lies in its children: far more than the threads' per connection, and several tasks at once while slots held.
        $fork.ServerPeakTasks | Should -BeGreaterThan 1
        $threads.ServerPeakTasks | Should -BeGreaterThan 1
        $fork.ServerCpuPerConnectionRatio | Should -Be 1
        $threads.ServerCpuPerConnectionRatio | Should -BeLessThan 1
        Get-Leftover | Should -BeNullOrEmpty
        Get-EchopsCgroup | Should -BeNullOrEmpty
        $md = Get-Content -Raw (Join-Path $out 'report.md')
        $md | Should -Match '## The servers'' side'
        $md | Should -Match "the machine has $((Get-Content /sys/devices/system/cpu/present) -replace '^0-(\d+)$', { [int]$_.Groups[1].Value + 1 })"
        $md | Should -Match 'Load average \(1, 5, 15 min\): [\d.]+ [\d.]+ [\d.]+ before'
        (Get-ChildItem (Join-Path $out 'servers') -Filter *.log).Count | Should -Be 2
    }

    It 'uses a cgroup of its own (children that ended counted) where it can' -Skip:([bool]$NotRoot) {
        $r = Measure-EchoServer $Fork -Figure Connections -Rounds 1 -ConnectionCount 50
        $r.ServerObserved | Should -Match '^cgroup v(2|1)'
        $r.ServerCost[0].CpuUs | Should -BeGreaterThan 0
        Get-EchopsCgroup | Should -BeNullOrEmpty
    }

    It 'stops a server that exits before listening, with its output in the error, and measures the others' {
        $r = Measure-EchoServer "broken one=sh -c 'echo no-such-port-{port} >&2; exit 3'", $Threads -Figure Connections -Rounds 1 -ConnectionCount 20 -ErrorVariable failures -ErrorAction SilentlyContinue
        $r[0].Name | Should -Be 'broken one'
        $r[0].Success | Should -BeFalse
        $r[0].ErrorCount | Should -Be 1 -Because 'a server that did not start is not measured: one error, not one per figure'
        $r[0].Errors[0].Status | Should -Be 'NotStarted'
        $r[0].Errors[0].Message | Should -Match 'exited \(exit code 3\) before listening on port (\d+).*no-such-port-\1'
        $r[0].ServerCpuUsPerConnection | Should -BeNullOrEmpty
        $r[1].ErrorCount | Should -Be 0
        $failures.Count | Should -Be 1
        Get-Leftover | Should -BeNullOrEmpty
    }

    It 'stops a server tree that never listens within -StartTimeoutSec' {
        $marker = "never-listens-$PID"
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $r = Measure-EchoServer "quiet=sh -c 'sleep 300 & exec sleep 301' $marker {port}" -StartTimeoutSec 1 -Figure RoundTrip -Rounds 1 -ErrorAction SilentlyContinue
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 30
        $r.Errors[0].Message | Should -Match 'did not listen on port \d+ within 1 s'
        Get-Leftover 'sleep 30' | Where-Object { $_ -match $marker -or $_ -match 'sleep 30[01]$' } | Should -BeNullOrEmpty
        Get-Leftover $marker | Should -BeNullOrEmpty
        Get-EchopsCgroup | Should -BeNullOrEmpty
    }

    It 'leaves no server process on Ctrl+C mid-run' {
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Measure-EchoServer '$Fork' -Figure Slots -Rounds 50 -SlotClients 3 -HoldMs 2000")
            $async = $ps.BeginInvoke()
            $started = Wait-Until { @(Get-Leftover).Count -gt 0 } -TimeoutMs 30000
            $started | Should -BeTrue
            # Mid-figure: clients are held by the fork server's children.
            Wait-Until { @(Get-Leftover).Count -ge 2 } -TimeoutMs 30000 | Should -BeTrue
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 15
            $async.IsCompleted | Should -BeTrue
            Get-Leftover | Should -BeNullOrEmpty
            Get-EchopsCgroup | Should -BeNullOrEmpty
        }
        finally { $ps.Dispose() }
    }

    It 'observes a server started elsewhere, found from its port' {
        $port = Get-FreePort
        $server = Start-Process "$Bin/thread_server" -ArgumentList $port -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'ext.out')
        try {
            Wait-Until { $null -ne (Get-Content /proc/net/tcp | Where-Object { $_ -match (':{0:X4} 00000000:0000 0A' -f $port) }) } -TimeoutMs 10000 | Should -BeTrue
            $r = Measure-EchoServer "ext=127.0.0.1:$port" -Figure Connections -Rounds 1 -ConnectionCount 100
            $r.ServerProcessId | Should -Be $server.Id
            $r.ServerObserved | Should -Match "process $($server.Id)"
            $r.ServerCpuUsPerConnection | Should -BeGreaterThan 0
            $r.ServerCommand | Should -BeNullOrEmpty
            # Read from the process: it inherited this test's affinity (every CPU, unless the test itself runs pinned).
            $own = ((Get-Content "/proc/$PID/status") -match '^Cpus_allowed_list:') -replace '^Cpus_allowed_list:\s*', ''
            $all = ((Get-Content /proc/cpuinfo) -match '^processor').Count
            $r.ServerCpus | Should -Be $(if ($own -eq "0-$($all - 1)" -or ($all -eq 1 -and $own -eq '0')) { 'not pinned' } else { $own })
            $server.HasExited | Should -BeFalse # observed, not stopped: it is not the measurer's
            "/proc/$($server.Id)/cgroup" | Should -Not -FileContentMatch 'echops-measure' # moved back after
        }
        finally { $server.Kill(); $null = $server.WaitForExit(5000) }
    }

    It 'observes servers it found nested in each other''s trees, and leaves no measuring cgroup behind' {
        # Servers started by this test are children of this process; an in-process server job is this process itself.
        $a = Get-FreePort; $b = Get-FreePort
        $one = Start-Process "$Bin/thread_server" -ArgumentList $a -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'n1.out')
        $two = Start-Process "$Bin/fork_server" -ArgumentList $b -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'n2.out')
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            Wait-Until { @($a, $b | Where-Object { $p = $_; -not (Get-Content /proc/net/tcp | Where-Object { $_ -match (':{0:X4} 00000000:0000 0A' -f $p) }) }).Count -eq 0 } -TimeoutMs 10000 | Should -BeTrue
            $r = Measure-EchoServer "job=127.0.0.1:$($job.Port)", "one=127.0.0.1:$a", "two=127.0.0.1:$b" -Figure Connections -Rounds 1 -ConnectionCount 50
            $r[0].ServerObserved | Should -Match '^not observed: the server runs inside the measuring process'
            $r[0].ServerCpuUsPerConnection | Should -BeNullOrEmpty
            $r[1].ServerCpuUsPerConnection | Should -BeGreaterThan 0
            $r[2].ServerCpuUsPerConnection | Should -BeGreaterThan 0
            Get-EchopsCgroup | Should -BeNullOrEmpty
            foreach ($p in $PID, $one.Id, $two.Id) { "/proc/$p/cgroup" | Should -Not -FileContentMatch 'echops-measure' }
        }
        finally { $one.Kill(); $two.Kill($true); $job | Remove-Job -Force }
    }

    It 'says "not observed" rather than print a zero' {
        $port = Get-FreePort
        $server = Start-Process "$Bin/thread_server" -ArgumentList $port -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'ext2.out')
        try {
            Wait-Until { $null -ne (Get-Content /proc/net/tcp | Where-Object { $_ -match (':{0:X4} 00000000:0000 0A' -f $port) }) } -TimeoutMs 10000 | Should -BeTrue
            $r = Measure-EchoServer "127.0.0.1:$port" -ProcessId 2147483646 -Figure Connections -Rounds 1 -ConnectionCount 20
            $r.ServerObserved | Should -Match '^not observed: Process 2147483646 does not exist'
            $r.ServerCpuUsPerConnection | Should -BeNullOrEmpty
            $r.ServerCost | Should -BeNullOrEmpty
        }
        finally { $server.Kill(); $null = $server.WaitForExit(5000) }
    }

    It 'pins the servers beside a pinned measurer by default, and reports the machine''s CPUs, the pinning and other work' {
        $mask = ((& taskset -p $PID) -split ':\s*')[-1]
        & taskset -a -p -c 0 $PID > $null # every thread of this process: as taskset -c 0 pwsh would
        try { $r = Measure-EchoServer $Threads -Figure Connections -Rounds 1 -ConnectionCount 100 -Path (Join-Path $TestDrive 'pinned') }
        finally { & taskset -a -p $mask $PID > $null }
        $r.ServerCpus | Should -Be '0'
        $md = Get-Content -Raw (Join-Path $TestDrive 'pinned/report.md')
        $machine = [regex]::Match($md, 'the machine has (\d+); the measurer ran on CPU\(s\) 0 \(pinned').Groups[1].Value
        [int]$machine | Should -BeGreaterOrEqual 1
        [int]$machine | Should -Be ((Get-Content /proc/cpuinfo) -match '^processor').Count
        $md | Should -Match 'Other work: CPU 0 was busy [\d.]+ % of the timed rounds; the measurer and the servers explain [\d.]+ %; other work: [\d.]+ %'
        $md | Should -Match '\| threads \| `\S+thread_server \d+`; cgroup|\| threads \| `\S+thread_server \d+`; /proc'
    }

    It 'starts EchoPS itself by name, in a pwsh of its own, and stops it' {
        $r = Measure-EchoServer EchoPS -Figure RoundTrip -Rounds 1 -Count 200
        $r.ErrorCount | Should -Be 0
        $r.ServerCommand | Should -Match 'pwsh.*Import-Module .*EchoPS\.psd1.*Start-BlockingEchoServer -Port \d+'
        $r.ServerCpuUsPerRoundTrip | Should -BeGreaterThan 0
        $r.ServerPeakTasks | Should -BeGreaterThan 1 # a .NET process has threads of its own
        Get-Leftover "Start-BlockingEchoServer -Port $($r.Port)" | Should -BeNullOrEmpty
    }

    It 'rejects two targets of the same name, naming it' {
        { Measure-EchoServer "$Bin/fork_server {port}", "$Bin/fork_server {port} " -ErrorAction Stop } | Should -Throw -ErrorId 'DuplicateTargetName,EchoPS.Commands.MeasureEchoServerCommand' -ExpectedMessage "*'fork_server'*"
    }

    It 'rejects a -ServerCpu that is not a CPU list, naming it' {
        { Measure-EchoServer $Fork -ServerCpu 'one' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidServerCpu,EchoPS.Commands.MeasureEchoServerCommand' -ExpectedMessage "*'one'*"
        Get-Leftover | Should -BeNullOrEmpty
    }
}

Describe 'Measure-EchoServer -Trace' -Skip:([bool]$NotReady) {
    It 'gives the fork server''s syscalls per connection by name, with errors, in a pass of their own' {
        if (-not $Strace.Available) { Set-ItResult -Skipped -Because $Strace.Reason; return }
        $out = Join-Path $TestDrive 'traced'
        $r = Measure-EchoServer $Fork -Figure RoundTrip, Connections -Rounds 1 -Count 100 -ConnectionCount 100 -Trace -Path $out
        if ($r.TraceNote -match 'strace could not attach') { Set-ItResult -Skipped -Because $r.TraceNote; return }
        $conn = @($r.Syscalls | Where-Object Pass -eq 'Connections')
        ($conn.Syscall -match '^(accept|accept4)$').Count | Should -Be 1
        ($conn.Syscall -match '^(clone|clone3|fork)$').Count | Should -BeGreaterThan 0
        ($conn | Where-Object Syscall -in 'clone', 'clone3', 'fork').PerOperation | Measure-Object -Sum | ForEach-Object Sum | Should -BeGreaterOrEqual 0.9
        $r.SyscallsPerConnection | Should -BeGreaterThan 5
        $r.SyscallsPerRoundTrip | Should -BeGreaterOrEqual 2
        Get-Content -Raw (Join-Path $out 'report.md') | Should -Match 'fork, per connection \(top ten\): '
        if (Test-Tool perf) { $r.TraceNote | Should -Match 'perf stat: '; $r.PerfCpuUsPerConnection | Should -BeGreaterThan 0 }
        Get-Leftover | Should -BeNullOrEmpty
        Get-Leftover 'strace -f -c' | Should -BeNullOrEmpty
    }
}
