# Lock-down controls of Start-BlockingEchoServer: each one enforced, reported in an event, and the next client served.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module $ModuleManifest -Force

    function Get-ServerEvent {
        # The server's events of one kind, waiting (bounded) until at least $Count are there.
        param([Parameter(Mandatory)] $Job, [Parameter(Mandatory)] [string] $Kind, [int] $Count = 1, [int] $TimeoutMs = 5000)
        $null = Wait-Until { @($Job.Output | Where-Object Kind -EQ $Kind).Count -ge $Count } -TimeoutMs $TimeoutMs
        @($Job.Output | Where-Object Kind -EQ $Kind)
    }

    function Assert-NextClientServed {
        param([Parameter(Mandatory)] [int] $Port)
        $next = New-TestClient -Port $Port
        try { (Invoke-Echo -Client $next -Bytes ([byte[]](1, 2, 3))) | Should -Be @(1, 2, 3) }
        finally { $next.Dispose() }
    }
}

AfterAll {
    Stop-AllTestServers
}

Describe 'Safe defaults' {
    It 'binds loopback by default, with a 60 s idle timeout and a 10 s send timeout' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $job.Address | Should -Be '127.0.0.1'
            $job.Server.Limits | Should -BeLike '*idle timeout 60 s, send timeout 10 s*'
            (Get-ServerEvent $job Listening).Message | Should -BeLike '*allow any address, idle timeout 60 s, send timeout 10 s*'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'warns when binding a non-loopback address without an allowlist, and not with one' {
        $job = Start-BlockingEchoServer -Address 0.0.0.0 -Port 0 -AsJob -WarningVariable warnings -WarningAction SilentlyContinue
        $job | Remove-Job -Force
        $warnings | Should -HaveCount 1
        "$($warnings[0])" | Should -BeLike "*0.0.0.0:$($job.Port)*every network*-AllowList*"

        $job = Start-BlockingEchoServer -Address 0.0.0.0 -Port 0 -AllowList 127.0.0.1 -AsJob -WarningVariable quiet
        $job | Remove-Job -Force
        $quiet | Should -BeNullOrEmpty
    }
}

Describe 'Allowlist (<Slots> slots)' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    It 'rejects 127.0.0.2 when only 127.0.0.1/32 is allowed, and serves 127.0.0.1' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -AllowList 127.0.0.1/32 -AsJob
        try {
            $outsider = New-TestClient -Port $job.Port -LocalAddress 127.0.0.2
            try { Get-ReplyLength -Client $outsider -Bytes ([byte[]](1..10)) | Should -Be 0 -Because 'a rejected client gets no echo' }
            finally { $outsider.Dispose() }
            $rejected = Get-ServerEvent $job Rejected
            $rejected.Reason | Should -Be 'NotAllowed'
            $rejected.RemoteEndPoint | Should -BeLike '127.0.0.2:*'
            $rejected.Message | Should -Be '127.0.0.2 is not in the allowlist'
            Assert-NextClientServed -Port $job.Port
        }
        finally { $job | Remove-Job -Force }
    }

    It 'matches an IPv4 client on a dual-stack socket as IPv4, and IPv6 clients against IPv6 ranges' {
        $job = Start-BlockingEchoServer -Address '::' -Port 0 -Slots $Slots -AllowList 127.0.0.0/31, 'fe80::/10' -AsJob -WarningAction SilentlyContinue
        try {
            Assert-NextClientServed -Port $job.Port   # 127.0.0.1 arrives as ::ffff:127.0.0.1
            $v6 = New-TestClient -Port $job.Port -Address '::1'
            try { Get-ReplyLength -Client $v6 -Bytes ([byte[]](1)) | Should -Be 0 }
            finally { $v6.Dispose() }
            (Get-ServerEvent $job Rejected).RemoteEndPoint | Should -BeLike '`[::1`]:*'
            (Get-ServerEvent $job Connected).RemoteEndPoint | Should -BeLike '127.0.0.1:*'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'with -AllowList <Entry> on a dual-stack server, admits <Admitted> and rejects <Rejected>' -TestCases @(
        # Prefixes that are not a multiple of 8, each beside its boundary: the entry differs from the rejected
        # client in the last bit of the prefix, or matches the admitted one in the prefix only. (Host bits set, as in
        # 3f::/10, are refused: Parameters.Tests.ps1.)
        @{ Entry = '::/10'; Admitted = @('::1'); Rejected = @() }
        @{ Entry = '40::/10'; Admitted = @(); Rejected = @('::1') }
        @{ Entry = '::/57'; Admitted = @('::1'); Rejected = @() }
        @{ Entry = '0:0:0:80::/57'; Admitted = @(); Rejected = @('::1') }
        # IPv4 clients arrive as IPv4-mapped IPv6 addresses (::ffff:127.0.0.x) and match IPv4 ranges.
        @{ Entry = '127.0.0.2/31'; Admitted = @('127.0.0.2', '127.0.0.3'); Rejected = @('127.0.0.1') }
        @{ Entry = '127.0.0.0/31'; Admitted = @('127.0.0.1'); Rejected = @('127.0.0.2', '::1') }
    ) {
        $job = Start-BlockingEchoServer -Address '::' -Port 0 -Slots $Slots -AllowList $Entry -AsJob -WarningAction SilentlyContinue
        try {
            foreach ($source in $Admitted + $Rejected) {
                $client = if ($source -like '*:*') { New-TestClient -Port $job.Port -Address '::1' }
                else { New-TestClient -Port $job.Port -Address '127.0.0.1' -LocalAddress $source }
                try {
                    if ($source -in $Admitted) {
                        (Invoke-Echo -Client $client -Bytes ([byte[]](1, 2, 3))) | Should -Be @(1, 2, 3) -Because "$source is in $Entry"
                    }
                    else {
                        Get-ReplyLength -Client $client -Bytes ([byte[]](1, 2, 3)) | Should -Be 0 -Because "$source is not in $Entry"
                    }
                }
                finally { $client.Dispose() }
            }
            # Each admitted client has its Connected event, each rejected one its Rejected event, none other.
            $hostOf = { param($endPoint) ($endPoint -replace ':\d+$') -replace '^\[(.*)\]$', '$1' }
            $connected = @(Get-ServerEvent $job Connected -Count $Admitted.Count | ForEach-Object { & $hostOf $_.RemoteEndPoint })
            $rejected = @(Get-ServerEvent $job Rejected -Count $Rejected.Count | ForEach-Object { & $hostOf $_.RemoteEndPoint })
            $connected.Count | Should -Be $Admitted.Count
            $rejected.Count | Should -Be $Rejected.Count
            foreach ($source in $Admitted) { $connected | Should -Contain $source }
            foreach ($source in $Rejected) { $rejected | Should -Contain $source }
        }
        finally { $job | Remove-Job -Force }
    }

    It 'rejects a malformed entry <Entry> naming it' -TestCases @(
        @{ Entry = '10.0.0.0/33'; Allowed = '0 to 32' }, @{ Entry = '::1/129'; Allowed = '0 to 128' },
        @{ Entry = 'localhost'; Allowed = 'CIDR range' }, @{ Entry = '10.0/8'; Allowed = 'CIDR range' }) {
        $err = { Start-BlockingEchoServer -Port 0 -Slots $Slots -AllowList $Entry -AsJob } | Should -Throw -ErrorId 'InvalidAllowList,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'$Entry'*$Allowed*"
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-BlockingEchoServer | Where-Object Limits -NotLike 'allow any address*' | Should -BeNullOrEmpty
    }
}

Describe 'Rate limits (<Slots> slots)' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    It 'rejects the (N+1)th connection in a minute from one source, but not another source' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -MaxConnectionsPerMinute 3 -AsJob
        try {
            1..3 | ForEach-Object { Assert-NextClientServed -Port $job.Port }
            $fourth = New-TestClient -Port $job.Port
            try { Get-ReplyLength -Client $fourth -Bytes ([byte[]](1)) | Should -Be 0 }
            finally { $fourth.Dispose() }
            $rejected = Get-ServerEvent $job Rejected
            $rejected.Reason | Should -Be 'RateLimited'
            $rejected.Message | Should -Be 'more than 3 connections in a minute from 127.0.0.1'

            $other = New-TestClient -Port $job.Port -LocalAddress 127.0.0.2
            try { (Invoke-Echo -Client $other -Bytes ([byte[]](7))) | Should -Be 7 }
            finally { $other.Dispose() }
        }
        finally { $job | Remove-Job -Force }
    }

    It 'caps connections from all sources together' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -MaxTotalConnectionsPerMinute 2 -AsJob
        try {
            Assert-NextClientServed -Port $job.Port
            $second = New-TestClient -Port $job.Port -LocalAddress 127.0.0.2
            try { (Invoke-Echo -Client $second -Bytes ([byte[]](7))) | Should -Be 7 } finally { $second.Dispose() }
            $third = New-TestClient -Port $job.Port -LocalAddress 127.0.0.3
            try { Get-ReplyLength -Client $third -Bytes ([byte[]](1)) | Should -Be 0 } finally { $third.Dispose() }
            (Get-ServerEvent $job Rejected).Message | Should -Be 'more than 2 connections in a minute from all sources'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'throttles the echo to -MaxBytesPerSecond, every byte intact' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -MaxBytesPerSecond 64KB -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            try {
                $payload = [byte[]]::new(192KB)
                [Random]::new(7).NextBytes($payload)
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $back = Invoke-Echo -Client $client -Bytes $payload
                $watch.Stop()
                [Convert]::ToBase64String($back) | Should -BeExactly ([Convert]::ToBase64String($payload))
                # One second's burst, then 64 KiB/s: at least ~2 s for 192 KiB. Only the lower bound is asserted.
                $watch.Elapsed.TotalSeconds | Should -BeGreaterThan 1.8
            }
            finally { $client.Dispose() }
        }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'Timeouts and caps (<Slots> slots)' -ForEach @(@{ Slots = 1 }, @{ Slots = 3 }) {
    It 'cuts off a silent client after -IdleTimeoutSec and serves the next one' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -IdleTimeoutSec 1 -AsJob
        try {
            $loris = New-TestClient -Port $job.Port
            $watch = [Diagnostics.Stopwatch]::StartNew()
            try { Get-ReplyLength -Client $loris -Bytes ([byte[]]@()) | Should -Be 0 } finally { $loris.Dispose() }
            $watch.Elapsed.TotalSeconds | Should -BeGreaterThan 0.8
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 4
            $gone = Get-ServerEvent $job Disconnected
            $gone.Reason | Should -Be 'IdleTimeout'
            $gone.Message | Should -Be 'sent nothing for 1 s'
            Assert-NextClientServed -Port $job.Port
        }
        finally { $job | Remove-Job -Force }
    }

    It 'cuts off a client that never reads after -SendTimeoutSec and serves the next one' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -SendTimeoutSec 1 -AsJob
        try {
            $reader = New-TestClient -Port $job.Port
            $reader.ReceiveBufferSize = 64KB
            # Far more than the socket buffers hold: the server blocks writing the echo nobody reads.
            $pending = $reader.GetStream().WriteAsync([byte[]]::new(64MB), 0, 64MB)
            $gone = Get-ServerEvent $job Disconnected -TimeoutMs 8000
            $gone.Reason | Should -Be 'SendTimeout'
            $gone.Message | Should -Be 'did not read its echo for 1 s'
            $gone.BytesReceived | Should -BeGreaterThan $gone.BytesEchoed
            $reader.Dispose()
            $null = $pending.ContinueWith({ param($t) $t.Exception })
            Assert-NextClientServed -Port $job.Port
        }
        finally { $job | Remove-Job -Force }
    }

    It 'echoes up to -MaxBytesPerConnection, then cuts the client off' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -MaxBytesPerConnection 1000 -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            try { Get-ReplyLength -Client $client -Bytes ([byte[]]::new(3000)) | Should -Be 1000 }
            finally { $client.Dispose() }
            $gone = Get-ServerEvent $job Disconnected
            $gone.Reason | Should -Be 'ByteLimit'
            $gone.BytesEchoed | Should -Be 1000
            Assert-NextClientServed -Port $job.Port
        }
        finally { $job | Remove-Job -Force }
    }

    It 'cuts off a busy client after -MaxSessionSec' {
        $job = Start-BlockingEchoServer -Port 0 -Slots $Slots -MaxSessionSec 1 -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            try {
                $echoed = 0
                for ($i = 0; $i -lt 40; $i++) {
                    try { $echoed += (Invoke-Echo -Client $client -Bytes ([byte[]](1))).Count }
                    catch { break }   # cut off: the write or read fails
                    Start-Sleep -Milliseconds 100
                }
                $i | Should -BeLessThan 40 -Because 'the session ends after about a second'
            }
            finally { $client.Dispose() }
            $gone = Get-ServerEvent $job Disconnected
            $gone.Reason | Should -Be 'SessionLimit'
            $gone.DurationMs | Should -BeGreaterOrEqual 900
            Assert-NextClientServed -Port $job.Port
        }
        finally { $job | Remove-Job -Force }
    }
}
