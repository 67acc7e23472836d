# The blocking echo server over real sockets on loopback: echo, ordering, lifecycle, stopping and bad input.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module $ModuleManifest -Force
}

AfterAll {
    Stop-AllTestServers
}

Describe 'Echo' {
    BeforeAll {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        $port = $job.Port
    }
    AfterAll { $job | Remove-Job -Force }

    It 'echoes text' {
        $client = New-TestClient -Port $port
        try {
            $sent = [Text.Encoding]::UTF8.GetBytes('hello, echo ✓')
            $back = Invoke-Echo -Client $client -Bytes $sent
            [Text.Encoding]::UTF8.GetString($back) | Should -BeExactly 'hello, echo ✓'
        }
        finally { $client.Dispose() }
    }

    It 'echoes all 256 byte values unchanged' {
        $client = New-TestClient -Port $port
        try {
            $sent = [byte[]](0..255)
            $back = Invoke-Echo -Client $client -Bytes $sent
            $back.Length | Should -Be 256
            [Convert]::ToBase64String($back) | Should -BeExactly ([Convert]::ToBase64String($sent))
        }
        finally { $client.Dispose() }
    }

    It 'echoes 64 MiB intact while the client reads concurrently' {
        $size = 64MB
        $payload = [byte[]]::new($size)
        [Random]::new(42).NextBytes($payload)
        $client = New-TestClient -Port $port
        try {
            $stream = $client.GetStream()
            # The write runs as a task while this thread reads: writing it all first would deadlock once both
            # socket buffers fill.
            $writing = $stream.WriteAsync($payload, 0, $size)
            $received = [byte[]]::new($size)
            $total = 0
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ($total -lt $size -and [DateTime]::UtcNow -lt $deadline) {
                $n = $stream.Read($received, $total, [Math]::Min(1MB, $size - $total))
                if ($n -eq 0) { break }
                $total += $n
            }
            $writing.Wait(5000) | Should -BeTrue
            $total | Should -Be $size
            $sha = [System.Security.Cryptography.SHA256]::Create()
            [Convert]::ToHexString($sha.ComputeHash($received)) | Should -BeExactly ([Convert]::ToHexString($sha.ComputeHash($payload)))
        }
        finally { $client.Dispose() }
    }

    It 'returns every byte after the client half-closes, then ends the stream' {
        $client = New-TestClient -Port $port
        try {
            $sent = [byte[]](1..200) * 100
            $stream = $client.GetStream()
            $stream.Write($sent, 0, $sent.Length)
            $client.Client.Shutdown([System.Net.Sockets.SocketShutdown]::Send)
            $back = Read-Exactly -Stream $stream -Count $sent.Length
            $back.Length | Should -Be $sent.Length
            [Convert]::ToBase64String($back) | Should -BeExactly ([Convert]::ToBase64String($sent))
            $stream.Read([byte[]]::new(1), 0, 1) | Should -Be 0 -Because 'the server closes after echoing everything'
        }
        finally { $client.Dispose() }
    }
}

Describe 'One client at a time' {
    BeforeAll {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        $port = $job.Port
    }
    AfterAll { $job | Remove-Job -Force }

    It 'serves a second client only after the first one closes' {
        $first = New-TestClient -Port $port
        $second = New-TestClient -Port $port
        try {
            (Invoke-Echo -Client $first -Bytes ([byte[]](1, 2, 3))).Length | Should -Be 3
            # The second client's connect succeeded (the kernel queued it in the backlog), but nobody reads it.
            $second.GetStream().Write([byte[]](7, 8, 9), 0, 3)
            Test-DataArrives -Client $second -WithinMs 500 | Should -BeFalse
            (Get-BlockingEchoServer -Port $port).CurrentClient | Should -Be $first.Client.LocalEndPoint.ToString()

            $first.Dispose()
            $back = Read-Exactly -Stream $second.GetStream() -Count 3
            $back | Should -Be @(7, 8, 9)
        }
        finally { $first.Dispose(); $second.Dispose() }
    }

    It 'survives a client that resets mid-stream, and reports the reset' {
        $client = New-TestClient -Port $port
        # This test's own client: the job also holds events of the tests before it.
        $endpoint = $client.Client.LocalEndPoint.ToString()
        # Send far more than the socket buffers hold without reading: the server ends up blocked writing the echo.
        $pending = $client.GetStream().WriteAsync([byte[]]::new(64MB), 0, 64MB)
        # Blocked in the write: more received than echoed, and the counters no longer move.
        Wait-Until {
            $server = Get-BlockingEchoServer -Port $port
            $echoed = $server.BytesEchoed
            Start-Sleep -Milliseconds 200
            $server.BytesReceived -gt 1MB -and $server.BytesEchoed -eq $echoed -and $server.BytesReceived -gt $echoed
        } -TimeoutMs 10000 | Should -BeTrue
        # Linger 0 turns close into a reset (RST) while the server still has echo to write.
        $client.Client.LingerState = [System.Net.Sockets.LingerOption]::new($true, 0)
        $client.Dispose()
        $null = $pending.ContinueWith({ param($t) $t.Exception })

        $next = New-TestClient -Port $port
        try { (Invoke-Echo -Client $next -Bytes ([byte[]](42))) | Should -Be 42 }
        finally { $next.Dispose() }

        $disconnectedOfClient = { @($job.Output | Where-Object { $_.Kind -eq 'Disconnected' -and $_.RemoteEndPoint -eq $endpoint }) }
        Wait-Until { @(& $disconnectedOfClient).Count -ge 1 } | Should -BeTrue -Because "the reset client $endpoint gets its Disconnected event"
        $reset = @(& $disconnectedOfClient)[0]
        $reset.Reason | Should -Be 'ClientReset' -Because $reset.Message
        $reset.BytesReceived | Should -BeGreaterThan $reset.BytesEchoed -Because 'the client was cut off mid-echo'
        $job.State | Should -Be 'Running'
    }

    It 'handles 10,000 sequential connections without growing handles, threads or memory' {
        $echo = {
            $c = New-TestClient -Port $port
            try { $null = Invoke-Echo -Client $c -Bytes ([byte[]](1)) } finally { $c.Dispose() }
        }
        1..100 | ForEach-Object $echo
        $null = Receive-Job $job
        $before = Get-ProcessResourceCount
        $served = (Get-BlockingEchoServer -Port $port).ClientsServed
        for ($i = 0; $i -lt 10000; $i++) { & $echo }
        Wait-Until { (Get-BlockingEchoServer -Port $port).ClientsServed -ge $served + 10000 } | Should -BeTrue
        $null = Receive-Job $job
        $after = Get-ProcessResourceCount
        Write-Host ("    handles {0} -> {1}, threads {2} -> {3}, managed heap {4:N1} -> {5:N1} MiB" -f $before.Handles,
            $after.Handles, $before.Threads, $after.Threads, ($before.ManagedBytes / 1MB), ($after.ManagedBytes / 1MB))
        $after.Handles | Should -BeLessOrEqual ($before.Handles + 10)
        $after.Threads | Should -BeLessOrEqual ($before.Threads + 3)
        $after.ManagedBytes | Should -BeLessOrEqual ($before.ManagedBytes + 8MB)
    }
}

Describe 'Socket options' {
    It 'sets TCP_NODELAY <Expected> on the accepted socket with -NoDelay:$<NoDelay>' -TestCases @(
        @{ NoDelay = $true; Expected = 'on' }, @{ NoDelay = $false; Expected = 'off' }) {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'reading the option from /proc and getsockopt needs Linux'; return }
        $job = Start-BlockingEchoServer -Port 0 -NoDelay:$NoDelay -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            try {
                # Once the echo is back the server holds the accepted socket; read the option the kernel has on it.
                (Invoke-Echo -Client $client -Bytes ([byte[]](1))) | Should -Be 1
                $accepted = Get-TcpNoDelay -LocalPort $job.Port -RemotePort $client.Client.LocalEndPoint.Port
                $accepted | Should -Not -BeNullOrEmpty -Because 'the accepted socket is open in this process'
                $accepted | Should -Be $NoDelay
            }
            finally { $client.Dispose() }
        }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'Events' {
    It 'streams Listening, Connected, Disconnected and Stopped for one session, without payload' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            $clientEndPoint = $client.Client.LocalEndPoint.ToString()
            $null = Invoke-Echo -Client $client -Bytes ([Text.Encoding]::ASCII.GetBytes('secret-payload'))
            $client.Dispose()
            Wait-Until { @($job.Output | Where-Object Kind -EQ 'Disconnected').Count -ge 1 } | Should -BeTrue
            $job | Stop-Job
            $events = @(Receive-Job $job)

            $events.Kind | Should -Be @('Listening', 'Connected', 'Disconnected', 'Stopped')
            $events[0].LocalEndPoint | Should -Be "127.0.0.1:$($job.Port)"
            $events[1].RemoteEndPoint | Should -Be $clientEndPoint
            $events[2].Reason | Should -Be 'ClientClosed'
            $events[2].BytesReceived | Should -Be 14
            $events[2].BytesEchoed | Should -Be 14
            $events[2].DurationMs | Should -BeGreaterThan 0
            $events[3].ClientsServed | Should -Be 1
            $events | ForEach-Object { $_.Timestamp | Should -BeOfType [DateTime] }
            ($events | ConvertTo-Json -Depth 3) | Should -Not -Match 'secret-payload'
        }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'Output that cannot keep up' {
    It 'drops and counts events rather than queueing without bound, and keeps serving' {
        $before = @(Get-BlockingEchoServer | ForEach-Object Id)
        $gate = [System.Threading.ManualResetEvent]::new($false)
        $ps = [powershell]::Create()
        try {
            $ps.Runspace.SessionStateProxy.SetVariable('gate', $gate)
            # The consumer stalls on the first event until the test opens the gate, as a slow console would.
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port 0 -EventRateLimit 0 | ForEach-Object { if (`$_.Kind -eq 'Listening') { `$null = `$gate.WaitOne(60000) }; `$_ }")
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $null = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]$null, $output)
            Wait-Until { @(Get-BlockingEchoServer | Where-Object Id -NotIn $before).Count -eq 1 } | Should -BeTrue
            $server = Get-BlockingEchoServer | Where-Object Id -NotIn $before
            # 6,000 sessions are 12,000 Connected and Disconnected events: more than the queue's 10,000.
            for ($i = 0; $i -lt 6000; $i++) { (New-TestClient -Port $server.Port).Dispose() }
            Wait-Until { $server.ClientsServed -ge 6000 } -TimeoutMs 10000 | Should -BeTrue
            $gate.Set()
            # The warning comes at most once every 10 s, and always before Stopped: stop once the queue is drained.
            Wait-Until { $output.Count -ge 10000 } -TimeoutMs 20000 | Should -BeTrue
            Stop-BlockingEchoServer -Id $server.Id
            Wait-Until { @($output | Where-Object Kind -EQ 'Stopped').Count -eq 1 } -TimeoutMs 10000 | Should -BeTrue
            "$($ps.Streams.Warning[0])" | Should -Match '^\d+ events were not shown'
            $dropped = ($ps.Streams.Warning | ForEach-Object { [int]("$_" -replace ' .*') } | Measure-Object -Sum).Sum
            $dropped | Should -BeGreaterThan 0
            $output.Count | Should -Be (12002 - $dropped) -Because 'every event (Listening, 12,000, Stopped) is either shown or counted'
        }
        finally {
            $ps.Stop()
            $ps.Dispose()
            $gate.Dispose()
        }
    }
}

Describe 'Stopping' {
    It 'stops a foreground server on Ctrl+C (runspace Stop) within a second while a client is connected' {
        $before = @(Get-BlockingEchoServer | ForEach-Object Id)
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port 0")
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $null = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]$null, $output)
            Wait-Until { @(Get-BlockingEchoServer | Where-Object Id -NotIn $before).Count -eq 1 } | Should -BeTrue
            $server = Get-BlockingEchoServer | Where-Object Id -NotIn $before
            $client = New-TestClient -Port $server.Port
            (Invoke-Echo -Client $client -Bytes ([byte[]](5))) | Should -Be 5
            Wait-Until { $server.State -eq 'Serving' } | Should -BeTrue

            $watch = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $watch.Stop()

            $watch.ElapsedMilliseconds | Should -BeLessThan 5000 -Because "well under the 60 s idle timeout a stop must not wait for"
            $server.State | Should -Be 'Stopped'
            $client.GetStream().Read([byte[]]::new(1), 0, 1) | Should -Be 0 -Because 'the idle client is closed'
            Test-PortFree -Port $server.Port | Should -BeTrue
            $output.Kind | Should -Contain 'Connected'
            $client.Dispose()
        }
        finally { $ps.Dispose() }
    }

    It 'Stop-BlockingEchoServer stops a server with a connected client promptly and frees the port' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            $null = Invoke-Echo -Client $client -Bytes ([byte[]](1))
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $stopped = Stop-BlockingEchoServer -Port $job.Port -PassThru
            $watch.Stop()
            $watch.ElapsedMilliseconds | Should -BeLessThan 5000 -Because "well under the 60 s idle timeout a stop must not wait for"
            $stopped.State | Should -Be 'Stopped'
            $stopped.BytesEchoed | Should -Be 1
            Test-PortFree -Port $job.Port | Should -BeTrue
            $job.State | Should -Be 'Stopped'
            $events = Receive-Job $job
            ($events | Where-Object Kind -EQ 'Disconnected').Reason | Should -Be 'ServerStopping'
            $events[-1].Kind | Should -Be 'Stopped'
            $client.Dispose()
        }
        finally { $job | Remove-Job -Force }
    }

    It 'stops servers by -Id and by pipeline (a server or its job), and honours -WhatIf' {
        $a = Start-BlockingEchoServer -Port 0 -AsJob
        $b = Start-BlockingEchoServer -Port 0 -AsJob
        $c = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            Stop-BlockingEchoServer -Id $a.ServerId -WhatIf
            $a.Server.State | Should -Be 'Listening'
            Stop-BlockingEchoServer -Id $a.ServerId
            $a.Server.State | Should -Be 'Stopped'
            $b | Stop-BlockingEchoServer
            $b.State | Should -Be 'Stopped'
            Get-BlockingEchoServer -Id $c.ServerId | Stop-BlockingEchoServer
            $c.Server.State | Should -Be 'Stopped'
            Get-BlockingEchoServer | Where-Object Id -In $a.ServerId, $b.ServerId, $c.ServerId | Should -BeNullOrEmpty
        }
        finally { $a, $b, $c | Remove-Job -Force }
    }

    It 'ends a foreground server when a downstream command stops the pipeline' {
        $before = @(Get-BlockingEchoServer | ForEach-Object Id)
        $first = Start-BlockingEchoServer -Port 0 | Select-Object -First 1
        $first.Kind | Should -Be 'Listening'
        @(Get-BlockingEchoServer | Where-Object Id -NotIn $before) | Should -HaveCount 0
        Test-PortFree -Port ($first.LocalEndPoint -replace '.*:') | Should -BeTrue
    }
}

Describe 'Server jobs' {
    It 'goes through the job lifecycle: Get-Job, Receive-Job, Stop-Job, Remove-Job' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        $job | Should -BeOfType 'EchoPS.Jobs.EchoServerJob'
        $job.Port | Should -BeGreaterThan 0
        $job.Address | Should -Be '127.0.0.1'
        (Get-Job -Id $job.Id).State | Should -Be 'Running'
        (Get-BlockingEchoServer -Id $job.ServerId).Port | Should -Be $job.Port

        (Receive-Job $job).Kind | Should -Be 'Listening'
        Stop-Job $job
        $job.State | Should -Be 'Stopped'
        (Receive-Job $job).Kind | Should -Be 'Stopped'
        Get-BlockingEchoServer -Id $job.ServerId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Remove-Job $job
        Get-Job -Id $job.Id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'Remove-Job -Force stops a running server job' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        $port = $job.Port
        Remove-Job $job -Force
        Test-PortFree -Port $port | Should -BeTrue
    }
}

Describe 'Binding' {
    It 'reports the bound port back when asked for port 0' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try { (Receive-Job $job).LocalEndPoint | Should -Be "127.0.0.1:$($job.Port)" }
        finally { $job | Remove-Job -Force }
    }

    It 'binds the same port again right after a stop that left connections in TIME_WAIT' {
        $port = Get-FreePort
        $job = Start-BlockingEchoServer -Port $port -AsJob
        $client = New-TestClient -Port $port
        $null = Invoke-Echo -Client $client -Bytes ([byte[]](1))
        $job | Remove-Job -Force   # the server closes first, so its side of the connection waits in TIME_WAIT
        $client.Dispose()
        if (Get-Command ss -ErrorAction SilentlyContinue) {
            Wait-Until { ss -Htan state time-wait "( sport = :$port )" } -TimeoutMs 2000 | Should -BeTrue -Because 'the test needs a connection in TIME_WAIT on the port'
        }
        $again = Start-BlockingEchoServer -Port $port -AsJob
        try {
            $again.Port | Should -Be $port
            # Bound is not enough: a client reconnects to the port and gets its echo from the new server.
            $client = New-TestClient -Port $port
            try { (Invoke-Echo -Client $client -Bytes ([byte[]](4, 2))) | Should -Be @(4, 2) }
            finally { $client.Dispose() }
            Wait-Until { $again.Server.BytesEchoed -eq 2 } | Should -BeTrue -Because 'the new server counts the echo'
        }
        finally { $again | Remove-Job -Force }
    }

    It 'serves IPv6 on ::1' {
        $job = Start-BlockingEchoServer -Port 0 -Address '::1' -AsJob
        try {
            $client = New-TestClient -Port $job.Port -Address '::1'
            try { (Invoke-Echo -Client $client -Bytes ([byte[]](9, 9))) | Should -Be @(9, 9) }
            finally { $client.Dispose() }
        }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'Bad input' {
    BeforeAll {
        $jobsBefore = @(Get-Job).Count
        $serversBefore = @(Get-BlockingEchoServer).Count
    }
    AfterAll {
        # Nothing half-started: no job, no server left behind by any of the failures below.
        @(Get-Job).Count | Should -Be $jobsBefore
        @(Get-BlockingEchoServer).Count | Should -Be $serversBefore
    }

    It 'rejects port <Port> naming the value and the bound' -TestCases @(@{ Port = 70000; Bound = 65535 }, @{ Port = -1; Bound = 0 }) {
        { Start-BlockingEchoServer -Port $Port -AsJob } | Should -Throw -ErrorId 'ParameterArgumentValidationError,EchoPS.Commands.StartBlockingEchoServerCommand' -ExpectedMessage "*$Port*$Bound*"
    }

    It 'rejects a malformed address <Address> naming it' -TestCases @(@{ Address = '300.1.1.1' }, @{ Address = 'not-an-ip' }, @{ Address = '10.1' }) {
        $err = { Start-BlockingEchoServer -Port 0 -Address $Address -AsJob } | Should -Throw -ErrorId 'InvalidAddress,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'$Address'*127.0.0.1*"
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'rejects an address that is not on this machine' {
        $err = { Start-BlockingEchoServer -Port 0 -Address '192.0.2.1' -AsJob } | Should -Throw -ErrorId 'AddressNotAvailable,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*192.0.2.1*not available*'
    }

    It 'reports a port already in use with its number, for foreground and job' {
        $holder = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
        $holder.Start()
        try {
            $port = $holder.LocalEndpoint.Port
            $err = { Start-BlockingEchoServer -Port $port -AsJob } | Should -Throw -ErrorId 'PortInUse,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
            $err.Exception.Message | Should -BeLike "*port $port is already in use*"
            $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
            { Start-BlockingEchoServer -Port $port } | Should -Throw -ErrorId 'PortInUse,EchoPS.Commands.StartBlockingEchoServerCommand'
        }
        finally { $holder.Stop() }
    }

    It 'refuses a second server on a port another server holds' {
        $first = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            { Start-BlockingEchoServer -Port $first.Port -AsJob } | Should -Throw -ErrorId 'PortInUse,EchoPS.Commands.StartBlockingEchoServerCommand'
            @(Get-BlockingEchoServer | Where-Object Port -EQ $first.Port) | Should -HaveCount 1
        }
        finally { $first | Remove-Job -Force }
    }

    It 'rejects buffer size <BufferSize> and backlog <Backlog> out of range' -TestCases @(
        @{ BufferSize = 1; Backlog = 128 }, @{ BufferSize = 64KB; Backlog = 0 }) {
        { Start-BlockingEchoServer -Port 0 -BufferSize $BufferSize -Backlog $Backlog -AsJob } | Should -Throw -ErrorId 'ParameterArgumentValidationError,EchoPS.Commands.StartBlockingEchoServerCommand'
    }

    It 'reports a privileged port without permission' {
        if (-not ($IsLinux -and (Get-Command setpriv -ErrorAction SilentlyContinue))) {
            Set-ItResult -Skipped -Because 'dropping CAP_NET_BIND_SERVICE needs Linux and setpriv (util-linux)'
            return
        }
        # A child pwsh without CAP_NET_BIND_SERVICE, as an unprivileged user would be.
        $pwsh = Join-Path $PSHOME 'pwsh'
        $script = "Import-Module '$ModuleManifest'; try { Start-BlockingEchoServer -Port 80 -AsJob -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category; `$_.Exception.Message }"
        $out = & setpriv --inh-caps=-net_bind_service --bounding-set=-net_bind_service -- $pwsh -NoProfile -NonInteractive -Command $script
        $out[0] | Should -Be 'PermissionDenied,EchoPS.Commands.StartBlockingEchoServerCommand'
        $out[1] | Should -Be 'PermissionDenied'
        $out[2] | Should -BeLike '*permission denied for port 80*'
    }

    It 'says which server is missing for an unknown -Port or -Id' {
        $err = { Stop-BlockingEchoServer -Port 1 -ErrorAction Stop } | Should -Throw -ErrorId 'ServerNotFound,EchoPS.Commands.StopBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*port 1*'
        { Get-BlockingEchoServer -Id 99999 -ErrorAction Stop } | Should -Throw -ErrorId 'ServerNotFound,EchoPS.Commands.GetBlockingEchoServerCommand'
        { 'text' | Stop-BlockingEchoServer -ErrorAction Stop } | Should -Throw -ErrorId 'NotAnEchoServer,EchoPS.Commands.StopBlockingEchoServerCommand'
    }
}

Describe 'Slots: -Slots <Slots> serves that many clients at once, each on its own thread' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    BeforeAll {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob
        $port = $job.Port
    }
    AfterAll { $job | Remove-Job -Force }

    It 'echoes <Slots> clients at once, and the next one only when a slot is free; Get shows every client and the slots' {
        $clients = @(1..($Slots + 1) | ForEach-Object { New-TestClient -Port $port })
        try {
            for ($i = 0; $i -lt $Slots; $i++) {
                (Invoke-Echo -Client $clients[$i] -Bytes ([byte[]]($i + 1))) | Should -Be ($i + 1) -Because "slot $($i + 1) serves client $($i + 1) while the others stay connected"
            }
            $extra = $clients[$Slots]
            $extra.GetStream().Write([byte[]](9), 0, 1)
            Test-DataArrives -Client $extra -WithinMs 500 | Should -BeFalse -Because 'every slot is busy: the next client waits in the backlog'
            $server = Get-BlockingEchoServer -Port $port
            $server.Slots | Should -Be $Slots
            $server.SlotsBusy | Should -Be $Slots
            $shown = $server.CurrentClient -split ', '
            $shown | Should -HaveCount $Slots
            ($shown | Sort-Object) | Should -Be @($clients[0..($Slots - 1)] | ForEach-Object { $_.Client.LocalEndPoint.ToString() } | Sort-Object) -Because 'every client in service is shown (in slot order)'
            ($server | Format-List | Out-String) | Should -Match "Slots\s*:\s*$Slots of $Slots busy"
            $clients[0].Dispose()
            (Read-Exactly -Stream $extra.GetStream() -Count 1) | Should -Be 9
        }
        finally { $clients | ForEach-Object { $_.Dispose() } }
    }

    It 'cuts off a slot holder only when all slots are busy and a client waits' {
        $hold = Start-BlockingEchoServer -Port 0 -Slots $Slots -MaxSlotHoldSec 1 -AsJob
        $holders = @()
        $next = $null
        try {
            $holders = @(1..$Slots | ForEach-Object { New-TestClient -Port $hold.Port })
            $holders | ForEach-Object { (Invoke-Echo -Client $_ -Bytes ([byte[]](1))) | Should -Be 1 }
            $next = New-TestClient -Port $hold.Port
            $next.ReceiveTimeout = 20000
            (Invoke-Echo -Client $next -Bytes ([byte[]](5))) | Should -Be 5 -Because 'a holder is cut off and the waiting client served'
            $gone = @($hold.Output | Where-Object Kind -EQ Disconnected)
            $gone.Count | Should -BeGreaterOrEqual 1
            $gone[0].Reason | Should -Be 'SlotHoldLimit'
            $expected = if ($Slots -eq 1) { 'held the only slot for 1 s while 1 client waited' } else { "held a slot for 1 s while all $Slots were busy and 1 client waited" }
            $gone[0].Message | Should -Be $expected
        }
        finally {
            $holders | ForEach-Object { $_.Dispose() }
            if ($next) { $next.Dispose() }
            $hold | Remove-Job -Force
        }
    }

    It 'stops promptly with every slot busy, and frees the port' {
        $s = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob
        $clients = @()
        try {
            $clients = @(1..$Slots | ForEach-Object { New-TestClient -Port $s.Port })
            $clients | ForEach-Object { (Invoke-Echo -Client $_ -Bytes ([byte[]](3))) | Should -Be 3 }
            Wait-Until { $s.Server.SlotsBusy -eq $Slots } | Should -BeTrue
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $stopped = Stop-BlockingEchoServer -Id $s.ServerId -PassThru
            $watch.Stop()
            $watch.ElapsedMilliseconds | Should -BeLessThan 5000 -Because 'every session is woken, far under the 60 s idle timeout'
            $stopped.State | Should -Be 'Stopped'
            $stopped.ClientsServed | Should -Be $Slots
            @($s.Output | Where-Object Kind -EQ Disconnected).Reason | Select-Object -Unique | Should -Be 'ServerStopping'
            Test-PortFree -Port $s.Port | Should -BeTrue
            $clients | ForEach-Object { $_.GetStream().Read([byte[]]::new(1), 0, 1) | Should -Be 0 }
        }
        finally { $clients | ForEach-Object { $_.Dispose() }; $s | Remove-Job -Force }
    }

    It 'keeps the count exact under <Slots> concurrent streams (nothing lost, nothing counted twice)' {
        $s = Start-BlockingEchoServer -Port 0 -Slots $Slots -EventRateLimit 0 -AsJob
        try {
            $results = Test-EchoRoundTrip 127.0.0.1 -Port $s.Port -Concurrency ($Slots * 2) -HoldMs 50
            @($results.Clients | Where-Object Status -NE 'Success') | Should -BeNullOrEmpty
            $stopped = Stop-BlockingEchoServer -Id $s.ServerId -PassThru
            $stopped.ClientsServed | Should -Be ($Slots * 2)
            $stopped.BytesEchoed | Should -Be $stopped.BytesReceived
            @($s.Output | Where-Object Kind -EQ Disconnected).Count | Should -Be ($Slots * 2)
        }
        finally { $s | Remove-Job -Force }
    }
}

Describe 'Slots: the range' {
    It 'refuses <Value> slots, naming the value' -TestCases @(@{ Value = 0 }, @{ Value = 65 }, @{ Value = 1.5 }, @{ Value = '' }) {
        { Start-BlockingEchoServer -Port 0 -Slots $Value -AsJob } | Should -Throw
        @(Get-Job | Where-Object PSJobTypeName -EQ 'EchoServerJob' | Where-Object State -EQ 'Running').Count | Should -Be 0
    }

    It 'says how many slots in the Listening event when there are several' {
        $job = Start-BlockingEchoServer -Port 0 -Slots 4 -AsJob
        try {
            $null = Wait-Until { @($job.Output | Where-Object Kind -EQ Listening).Count -ge 1 }
            ($job.Output | Where-Object Kind -EQ Listening)[0].Message | Should -BeLike '*4 slots, backlog 128, buffer 65536 bytes each*'
        }
        finally { $job | Remove-Job -Force }
    }
}
