# Robustness of the blocking server under odd clients, big streams, and stops in every state.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module $ModuleManifest -Force
    if (-not ('StreamProbe' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot 'StreamProbe.cs')
    }
}

AfterAll {
    Stop-AllTestServers
}

Describe 'Odd clients (<Slots> slots)' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    BeforeAll {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob
        $port = $job.Port
    }
    AfterAll { $job | Remove-Job -Force }

    It 'treats connect-and-close with no data as a normal, empty session' {
        (New-TestClient -Port $port).Dispose()
        Wait-Until { @($job.Output | Where-Object Kind -EQ 'Disconnected').Count -ge 1 } | Should -BeTrue
        $gone = @($job.Output | Where-Object Kind -EQ 'Disconnected')[0]
        $gone.Reason | Should -Be 'ClientClosed'
        $gone.BytesReceived | Should -Be 0
        (New-TestClient -Port $port).Dispose()
    }

    It 'echoes garbage and telnet IAC negotiation bytes verbatim' {
        $client = New-TestClient -Port $port
        try {
            # IAC WILL ECHO, IAC DO SUPPRESS-GO-AHEAD, IAC SB ... IAC SE, CR NUL, then random bytes.
            $iac = [byte[]](255, 251, 1, 255, 253, 3, 255, 250, 24, 1, 255, 240, 13, 0)
            $garbage = [byte[]]::new(4096)
            [Random]::new(3).NextBytes($garbage)
            $sent = $iac + $garbage
            $back = Invoke-Echo -Client $client -Bytes $sent
            [Convert]::ToBase64String($back) | Should -BeExactly ([Convert]::ToBase64String($sent))
        }
        finally { $client.Dispose() }
    }

    It 'streams 1 GiB in random chunk sizes from 1 byte to 1 MiB with an intact SHA-256' {
        $result = [StreamProbe]::Run('127.0.0.1', $port, 1GB, 11, 20000)
        $result.Error | Should -BeNullOrEmpty
        $result.BytesSent | Should -Be 1GB
        $result.BytesReceived | Should -Be 1GB
        $result.ReceivedSha256 | Should -BeExactly $result.SentSha256
    }
}

Describe 'Stopping in every state (<Slots> slots)' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    It 'stops within a second while <State>' -TestCases @(
        @{ State = 'idle (no client)' }, @{ State = 'serving an idle client' }, @{ State = 'blocked writing to a client that does not read' }) {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AsJob
        $client = $null
        $pending = $null
        try {
            if ($State -ne 'idle (no client)') {
                $client = New-TestClient -Port $job.Port
                (Invoke-Echo -Client $client -Bytes ([byte[]](1))) | Should -Be 1
            }
            if ($State -like 'blocked*') {
                $pending = $client.GetStream().WriteAsync([byte[]]::new(64MB), 0, 64MB)
                # Blocked in the write: a chunk read but not all echoed, and the counters no longer move.
                Wait-Until {
                    $echoed = $job.Server.BytesEchoed
                    Start-Sleep -Milliseconds 200
                    $job.Server.BytesEchoed -eq $echoed -and $job.Server.BytesReceived -gt $echoed
                } | Should -BeTrue
            }
            $watch = [Diagnostics.Stopwatch]::StartNew()
            Stop-BlockingEchoServer -Id $job.ServerId
            $watch.Stop()
            Write-Host "    stop took $($watch.Elapsed.TotalMilliseconds.ToString('0.0')) ms"
            $watch.ElapsedMilliseconds | Should -BeLessThan 5000 -Because "well under the 10 s send timeout and 60 s idle timeout a stop must not wait for"
            $job.Server.State | Should -Be 'Stopped'
            Test-PortFree -Port $job.Port | Should -BeTrue
        }
        finally {
            if ($client) { $client.Dispose() }
            if ($pending) { $null = $pending.ContinueWith({ param($t) $t.Exception }) }
            $job | Remove-Job -Force
        }
    }
}

Describe 'Several servers and address families' {
    It 'runs two servers on different ports in one session, each echoing its own client' {
        $a = Start-BlockingEchoServer -Port 0 -AsJob
        $b = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $a.Port | Should -Not -Be $b.Port
            $ca = New-TestClient -Port $a.Port
            $cb = New-TestClient -Port $b.Port
            try {
                # Both connections are open at once: each server holds its own single client.
                (Invoke-Echo -Client $ca -Bytes ([byte[]](1))) | Should -Be 1
                (Invoke-Echo -Client $cb -Bytes ([byte[]](2))) | Should -Be 2
                (Get-BlockingEchoServer -Id $a.ServerId, $b.ServerId).State | Should -Be @('Serving', 'Serving')
            }
            finally { $ca.Dispose(); $cb.Dispose() }
        }
        finally { $a, $b | Remove-Job -Force }
    }

    It 'serves an IPv4 and an IPv6 client on a dual-stack :: server' {
        $job = Start-BlockingEchoServer -Address '::' -Port 0 -AllowList 127.0.0.1, ::1 -AsJob
        try {
            foreach ($address in '127.0.0.1', '::1') {
                $client = New-TestClient -Port $job.Port -Address $address
                try { (Invoke-Echo -Client $client -Bytes ([byte[]](4, 6))) | Should -Be @(4, 6) }
                finally { $client.Dispose() }
            }
            $clients = @($job.Output | Where-Object Kind -EQ 'Connected').RemoteEndPoint
            $clients[0] | Should -BeLike '127.0.0.1:*'
            $clients[1] | Should -BeLike '`[::1`]:*'
        }
        finally { $job | Remove-Job -Force }
    }
}
