# A flood of connections: what one connection costs the server (syscalls, counted with strace), events folded and
# bounded, every client still counted, and Ctrl+C writing out what is queued.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Function Install-DebianTool, Wait-ProcessIdle
    Import-Module $ModuleManifest -Force

    function Test-ServerConnectionOpen([int] $Port) {
        # Whether a connection on the server's side of $Port is established or waits for the server's close
        # (/proc/net/tcp states 01 and 08).
        $suffix = ':{0:X4}' -f $Port
        foreach ($file in '/proc/net/tcp', '/proc/net/tcp6') {
            foreach ($line in [IO.File]::ReadAllLines($file) | Select-Object -Skip 1) {
                $fields = -split $line
                if ($fields[1].EndsWith($suffix) -and $fields[3] -in '01', '08') { return $true }
            }
        }
        $false
    }
    if (-not ('ConnectionFlood' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot 'FloodHelpers.cs')
    }

    function Invoke-Flood {
        # $Count short connections (connect, 1-byte echo, close), one after another; fails the test on any failure.
        param([Parameter(Mandatory)] [int] $Port, [Parameter(Mandatory)] [int] $Count, [string] $LocalAddress)
        $problem = $null
        $done = [ConnectionFlood]::Run($Port, $Count, $LocalAddress, 5000, [ref] $problem)
        if ($done -ne $Count) { throw "Only $done of $Count connections completed: $problem" }
    }

    function Get-ClientEventTally {
        # Client events of a stream of server events, passed one by one and folded into summaries.
        param([AllowEmptyCollection()] [object[]] $Events)
        $summaries = @($Events | Where-Object Kind -EQ 'Summary')
        $folded = @{ Connected = 0; Disconnected = 0; Rejected = 0 }
        foreach ($summary in $summaries) {
            $folded.Connected += $summary.FoldedConnected
            $folded.Disconnected += $summary.FoldedDisconnected
            $folded.Rejected += $summary.FoldedRejected
        }
        [pscustomobject]@{
            Connected    = @($Events | Where-Object Kind -EQ 'Connected').Count + $folded.Connected
            Disconnected = @($Events | Where-Object Kind -EQ 'Disconnected').Count + $folded.Disconnected
            Rejected     = @($Events | Where-Object Kind -EQ 'Rejected').Count + $folded.Rejected
            Individual   = @($Events | Where-Object Kind -In 'Connected', 'Disconnected', 'Rejected').Count
            Summaries    = $summaries.Count
        }
    }
}

AfterAll {
    Stop-AllTestServers
}

Describe 'What one connection costs' {
    It 'copies TCP_NODELAY and both socket timeouts from a listener to the sockets it accepts (what the server relies on)' -Skip:(-not $IsLinux) {
        $listener = [System.Net.Sockets.Socket]::new('InterNetwork', 'Stream', 'Tcp')
        $client = $null; $accepted = $null
        try {
            $listener.Bind([System.Net.IPEndPoint]::new([ipaddress]::Loopback, 0))
            $listener.Listen(4)
            $listener.NoDelay = $true
            $listener.ReceiveTimeout = 1500
            $listener.SendTimeout = 2500
            $client = [System.Net.Sockets.TcpClient]::new()
            $client.Connect([ipaddress]::Loopback, $listener.LocalEndPoint.Port)
            $accepted = $listener.Accept()
            $accepted.NoDelay | Should -BeTrue
            [KernelSocketOptions]::TimeoutMs($accepted, $false) | Should -Be 1500
            [KernelSocketOptions]::TimeoutMs($accepted, $true) | Should -Be 2500
        }
        finally {
            if ($accepted) { $accepted.Dispose() }
            if ($client) { $client.Dispose() }
            $listener.Dispose()
        }
    }

    It 'keeps serving across accept timeouts of its listener, and still stops at once' {
        # On Linux the idle timeout is set on the listener, so accept itself times out while no client comes.
        $job = Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 1
        try {
            Start-Sleep -Milliseconds 2500
            $client = New-TestClient -Port $job.Port
            try { (Invoke-Echo -Client $client -Bytes ([byte[]](1, 2, 3))).Length | Should -Be 3 }
            finally { $client.Dispose() }
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Stop-BlockingEchoServer -Id $job.ServerId
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
            $job | Receive-Job -ErrorVariable failures -ErrorAction SilentlyContinue | Out-Null
            $failures | Should -BeNullOrEmpty
            Test-PortFree -Port $job.Port | Should -BeTrue
        }
        finally { $job | Remove-Job -Force }
    }

    It 'makes at most 5 socket syscalls per connection for a small echo (the C server: 6), no setsockopt per connection' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'strace and the direct Linux calls are Linux only'; return }
        $strace = Install-DebianTool -Tools @{ strace = 'strace' }
        if (-not $strace.Available) { Set-ItResult -Skipped -Because $strace.Reason; return }
        $port = Get-FreePort
        $pwsh = Join-Path $PSHOME 'pwsh'
        $command = "Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port $port -AsJob | Wait-Job"
        $serverLog = Join-Path $TestDrive 'server.log'
        $server = Start-Process $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command -PassThru `
            -RedirectStandardOutput $serverLog -RedirectStandardError "$serverLog.err"
        $tracer = $null
        try {
            # A fresh pwsh can take a long while to start on a loaded machine; bounded all the same.
            $listening = Wait-Until { $server.HasExited -or -not (Test-PortFree -Port $port) } -TimeoutMs 90000
            $state = if ($server.HasExited) { "exited with $($server.ExitCode)" } else { 'running' }
            $because = "the server process ($state) listens on $port; its output: $(Get-Content -Raw $serverLog, "$serverLog.err" -ErrorAction SilentlyContinue)"
            ($listening -and -not $server.HasExited) | Should -BeTrue -Because $because
            Invoke-Flood -Port $port -Count 3000 # warm-up: JIT and tiering
            $null = Wait-ProcessIdle -ProcessId $server.Id -TimeoutSec 20 # background compiles done
            $file = Join-Path $TestDrive 'strace.txt'
            $tracer = Start-Process strace -ArgumentList "-f -c -o `"$file`" -p $($server.Id)" -PassThru -RedirectStandardError "$file.err"
            $attached = Wait-Until { (Get-Content "/proc/$($server.Id)/status") -match 'TracerPid:\s+[1-9]' } -TimeoutMs 10000
            if (-not $attached) {
                Set-ItResult -Skipped -Because "strace could not attach to the server process: $(Get-Content -Raw "$file.err" -ErrorAction SilentlyContinue)"
                return
            }
            # The other threads attach right after the first.
            Wait-Until {
                @(Get-ChildItem "/proc/$($server.Id)/task" -ErrorAction SilentlyContinue | Where-Object {
                        (Get-Content "$($_.FullName)/status" -ErrorAction SilentlyContinue) -match '^TracerPid:\s+0$' }).Count -eq 0
            } -TimeoutMs 10000 | Should -BeTrue
            $connections = 1000
            Invoke-Flood -Port $port -Count $connections
            # The server has closed every connection (none established or waiting for its close on the port).
            Wait-Until { -not (Test-ServerConnectionOpen -Port $port) } -TimeoutMs 10000 | Should -BeTrue
            & kill -INT $tracer.Id
            $tracer.WaitForExit(15000) | Should -BeTrue
            $calls = @{}
            foreach ($line in Get-Content $file) {
                $fields = -split $line
                if ($fields.Count -ge 5 -and $fields[0] -match '^\d' -and $fields[-1] -ne 'total') { $calls[$fields[-1]] = [long]$fields[3] }
            }
            $socketCalls = 'accept', 'accept4', 'recvfrom', 'recvmsg', 'read', 'sendto', 'sendmsg', 'write', 'close', 'shutdown',
                'setsockopt', 'getsockopt', 'getsockname', 'getpeername', 'fcntl', 'ioctl'
            $perConnection = ($socketCalls | ForEach-Object { $calls[$_] } | Measure-Object -Sum).Sum / $connections
            Write-Host ("    strace, {0} connections: {1}" -f $connections, (($calls.GetEnumerator() | Sort-Object Value -Descending |
                        ForEach-Object { "$($_.Key) $($_.Value)" }) -join ', '))
            $calls['accept4'] | Should -BeGreaterOrEqual $connections
            # No setsockopt per connection: the accepted socket takes its timeouts from the listener. A session's
            # receive timeout is changed only when its idle or slot-hold deadline needs it; with clients waiting (a
            # flood) a session delayed past the deadlines' slack on a loaded machine did so once in 1,000 connections.
            [int]$calls['setsockopt'] | Should -BeLessOrEqual ($connections / 100)
            $perConnection | Should -BeLessOrEqual 5.05
        }
        finally {
            if ($tracer -and -not $tracer.HasExited) { $tracer.Kill() }
            if (-not $server.HasExited) { $server.Kill() }
            $server.WaitForExit(5000) | Out-Null
        }
    }
}

Describe 'Events under a flood (<Slots> slots)' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    It 'folds client events above -EventRateLimit into summaries, and every one is counted' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob -EventRateLimit 10
        try {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Invoke-Flood -Port $job.Port -Count 1000
            Wait-Until { (Get-BlockingEchoServer -Id $job.ServerId).ClientsServed -eq 1000 } | Should -BeTrue
            Stop-BlockingEchoServer -Id $job.ServerId
            $seconds = $clock.Elapsed.TotalSeconds
            $events = @($job | Receive-Job)
            $tally = Get-ClientEventTally $events
            $tally.Connected | Should -Be 1000
            $tally.Disconnected | Should -Be 1000
            $tally.Summaries | Should -BeGreaterThan 0
            # At most 10 a second one by one (a window opens with the first event of each second).
            $tally.Individual | Should -BeLessOrEqual (10 * ([math]::Ceiling($seconds) + 1))
            $summary = $events | Where-Object Kind -EQ 'Summary' | Select-Object -First 1
            $summary.BusiestSources | Should -Match '^127\.0\.0\.1 \('
            $summary.Message | Should -Match 'events folded \(above 10/s\): .*ClientClosed'
            $summary.BytesEchoed | Should -Be $summary.FoldedDisconnected
            $events[-1].Kind | Should -Be 'Stopped'
            $events[-1].ClientsServed | Should -Be 1000
        }
        finally { $job | Remove-Job -Force }
    }

    It 'writes every event with -EventRateLimit 0' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob -EventRateLimit 0
        try {
            Invoke-Flood -Port $job.Port -Count 500
            Stop-BlockingEchoServer -Id $job.ServerId
            $tally = Get-ClientEventTally @($job | Receive-Job)
            $tally.Summaries | Should -Be 0
            $tally.Individual | Should -Be 1000
        }
        finally { $job | Remove-Job -Force }
    }

    It 'folds a flood of rejected clients too, and counts each in ClientsRejected' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob -AllowList 127.0.0.2 -EventRateLimit 5
        try {
            Invoke-Flood -Port $job.Port -Count 400
            Wait-Until { (Get-BlockingEchoServer -Id $job.ServerId).ClientsRejected -eq 400 } | Should -BeTrue
            Stop-BlockingEchoServer -Id $job.ServerId
            $events = @($job | Receive-Job)
            $tally = Get-ClientEventTally $events
            $tally.Rejected | Should -Be 400
            $tally.Connected | Should -Be 0
            ($events | Where-Object Kind -EQ 'Summary' | Select-Object -First 1).Message | Should -Match 'rejected \(NotAllowed [\d,]+\)'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'keeps at most 10,000 unreceived events in a job, and says how many it dropped' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob -EventRateLimit 0
        try {
            Invoke-Flood -Port $job.Port -Count 5500 # 11,000 client events, never received meanwhile
            Wait-Until { (Get-BlockingEchoServer -Id $job.ServerId).ClientsServed -eq 5500 } | Should -BeTrue
            $job.ChildJobs.Count | Should -Be 0
            $job.Output.Count | Should -Be 10000
            $dropped = $job.DroppedEvents
            $dropped | Should -Be 1001 # Listening + 11,000 - 10,000
            Stop-BlockingEchoServer -Id $job.ServerId
            $events = @($job | Receive-Job -WarningVariable warnings -WarningAction SilentlyContinue)
            $events.Count | Should -Be 10001
            $events[-1].Kind | Should -Be 'Stopped'
            @($warnings).Count | Should -Be 1
            "$($warnings[0])" | Should -Match "^$dropped events were dropped"
        }
        finally { $job | Remove-Job -Force }
    }

    It 'warns at most once every 10 s that events were not shown, with the exact count' {
        $port = Get-FreePort
        $ps = [powershell]::Create()
        try {
            # A console that stalls on its first row, as a slow terminal would, until the flood is over (however long
            # a loaded machine takes for it; at most 60 s), then keeps up.
            $go = [System.Threading.ManualResetEventSlim]::new($false)
            $null = $ps.AddScript("param(`$go) Import-Module '$ModuleManifest'; `$n = 0; Start-BlockingEchoServer -Port $port -EventRateLimit 0 | ForEach-Object { if (`$n++ -eq 0) { `$null = `$go.Wait(60000) }; `$_ }").AddArgument($go)
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
            Wait-Until { -not (Test-PortFree -Port $port) } -TimeoutMs 10000 | Should -BeTrue
            Invoke-Flood -Port $port -Count 6000
            $go.Set()
            Wait-Until { $output.Count -ge 10000 } -TimeoutMs 20000 | Should -BeTrue
            Stop-BlockingEchoServer -Port $port
            $handle.AsyncWaitHandle.WaitOne(20000) | Should -BeTrue
            $warnings = @($ps.Streams.Warning)
            $warnings.Count | Should -BeIn 1, 2
            $notShown = ($warnings | ForEach-Object { [long]("$_" -replace '^(\d+) events were not shown.*$', '$1') } | Measure-Object -Sum).Sum
            $notShown | Should -BeGreaterThan 0
            # Listening + 12,000 client events + Stopped: each shown or counted as not shown.
            $output.Count + $notShown | Should -Be 12002
        }
        finally { $go.Set(); $ps.Dispose() }
    }

    It 'writes what is queued to the host on a runspace Stop() (Ctrl+C) after a burst of rejected clients' {
        $port = Get-FreePort
        $recorder = [RecordingHost]::new()
        $runspace = [runspacefactory]::CreateRunspace($recorder)
        $runspace.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $runspace
        try {
            # Each row takes the console 50 ms: 20 rejected clients queue up behind it.
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port $port -AllowList 127.0.0.2 | ForEach-Object { Start-Sleep -Milliseconds 50; `$_ }")
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
            Wait-Until { $output.Count -ge 1 } -TimeoutMs 10000 | Should -BeTrue
            Invoke-Flood -Port $port -Count 20
            Wait-Until { (Get-BlockingEchoServer -Port $port).ClientsRejected -ge 20 } -TimeoutMs 10000 | Should -BeTrue
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 3
            $lines = @($recorder.Lines)
            $shown = @($output | Where-Object Kind -EQ 'Rejected').Count
            # Written as rows of the events' table view (Echoed, Duration, Reason and Detail columns).
            $written = @($lines | Where-Object { $_ -match '\sRejected\s+127\.0\.0\.1:\d+\s.*\sNotAllowed\b' }).Count
            $shown | Should -BeLessThan 20 # the test's premise: some were still queued
            # Every rejected client is either shown or written out; one may be both (the row being written at the stop).
            ($shown + $written) | Should -BeIn 20, 21
            $lines | Should -Contain 'Stopped by Ctrl+C; events not yet written:'
            $lines[-1] | Should -Match '\sStopped\s+127\.0\.0\.1:\d+\s.*\s0 clients served$'
            Test-PortFree -Port $port | Should -BeTrue
        }
        finally {
            $ps.Dispose()
            $runspace.Dispose()
        }
    }
}
