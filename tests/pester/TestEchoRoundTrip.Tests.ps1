#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'BrokenServers.ps1')
    Import-Module $ModuleManifest -Force

    $script:server = Start-BlockingEchoServer -Port 0 -AsJob
    $script:port = $script:server.Port
    $script:broken = @{}

    # Runs a block and returns how long it took, so that "within its bound" can be checked.
    function Measure-Seconds([scriptblock] $Block) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $null = & $Block
        $clock.Elapsed.TotalSeconds
    }
}

AfterAll {
    Stop-AllTestServers
    foreach ($b in $script:broken.Values) { $b.Dispose() }
}

Describe 'Test-EchoRoundTrip against the blocking echo server' {
    It 'verifies and times round trips, returning a typed result' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $port

        $r.PSObject.TypeNames[0] | Should -Be 'EchoPS.Client.EchoRoundTripResult'
        $r.Status | Should -Be 'Success'
        $r.Success | Should -BeTrue
        $r.RoundTrips | Should -Be 4
        $r.Size | Should -Be 32
        # Four timed 32-byte messages plus the warm-up.
        $r.BytesSent | Should -Be 160
        $r.BytesReceived | Should -Be 160
        $r.Mismatches | Should -Be 0
        $r.FirstMismatchOffset | Should -BeNullOrEmpty
        $r.ConnectMs | Should -BeGreaterThan 0
        $r.RttMinMs | Should -BeGreaterThan 0
        $r.RttMinMs | Should -BeLessOrEqual $r.RttP50Ms
        $r.RttP50Ms | Should -BeLessOrEqual $r.RttP90Ms
        $r.RttP90Ms | Should -BeLessOrEqual $r.RttP99Ms
        $r.RttP99Ms | Should -BeLessOrEqual $r.RttMaxMs
        $r.LocalEndPoint | Should -Match '^127\.0\.0\.1:\d+$'
        $r.Address | Should -Be '127.0.0.1'
        $r.Port | Should -Be $port
    }

    It 'binds the host by position, -Host, -ComputerName and -Address' {
        (Test-EchoRoundTrip 127.0.0.1 $port -Count 1).Status | Should -Be 'Success'
        (Test-EchoRoundTrip -Host 127.0.0.1 -Port $port -Count 1).Status | Should -Be 'Success'
        (Test-EchoRoundTrip -ComputerName 127.0.0.1 -Port $port -Count 1).Status | Should -Be 'Success'
        (Test-EchoRoundTrip -Address 127.0.0.1 -Port $port -Count 1).Status | Should -Be 'Success'
    }

    It 'sends a given payload, as a string or as bytes' {
        $text = Test-EchoRoundTrip 127.0.0.1 -Port $port -Payload 'héllo' -Count 2
        $text.Status | Should -Be 'Success'
        $text.Size | Should -Be 6 # UTF-8
        $text.BytesReceived | Should -Be 18

        $bytes = Test-EchoRoundTrip 127.0.0.1 -Port $port -Payload ([byte[]](0..255)) -Count 1
        $bytes.Status | Should -Be 'Success'
        $bytes.Size | Should -Be 256
    }

    It 'round-trips a message larger than the socket buffers without deadlocking' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $port -Size 4MB -Count 2 -TimeoutSec 10
        $r.Status | Should -Be 'Success'
        $r.BytesReceived | Should -Be (3 * 4MB)
    }

    It 'resolves localhost' {
        $r = Test-EchoRoundTrip localhost -Port $port -Count 1
        $r.Status | Should -Be 'Success'
        $r.TargetName | Should -Be 'localhost'
        $r.Address | Should -Be '127.0.0.1'
    }

    It 'reaches a server on ::1 over IPv6, and -IPv4 rules that address out' {
        $script:v6Server = Start-BlockingEchoServer -Address ::1 -Port 0 -AsJob
        $r = Test-EchoRoundTrip ::1 -Port $v6Server.Port -Count 2
        $r.Status | Should -Be 'Success'
        $r.Address | Should -Be '::1'
        $r.LocalEndPoint | Should -Match '^\[::1\]:\d+$'

        $wrongFamily = Test-EchoRoundTrip '[::1]' -Port $v6Server.Port -IPv4 -ErrorAction SilentlyContinue
        $wrongFamily.Status | Should -Be 'Unresolved'
    }

    It 'returns only $true or $false with -Quiet, and writes no error' {
        Test-EchoRoundTrip 127.0.0.1 -Port $port -Quiet | Should -BeExactly $true
        $answer = Test-EchoRoundTrip 127.0.0.1 -Port (Get-FreePort) -Quiet -ErrorVariable errors
        $answer | Should -BeExactly $false
        $errors | Should -BeNullOrEmpty
    }

    It 'takes servers and server jobs from the pipeline, reaching 0.0.0.0 through loopback' {
        ($server | Test-EchoRoundTrip -Count 1).Status | Should -Be 'Success'
        $viaGet = Get-BlockingEchoServer -Port $port | Test-EchoRoundTrip -Count 1
        $viaGet.Status | Should -Be 'Success'
        $viaGet.Port | Should -Be $port

        $script:anyServer = Start-BlockingEchoServer -Address 0.0.0.0 -Port 0 -AllowList 127.0.0.1 -AsJob
        $viaAny = $anyServer | Test-EchoRoundTrip -Count 1
        $viaAny.Status | Should -Be 'Success'
        $viaAny.Address | Should -Be '127.0.0.1'
    }

    It 'reports a server that turns the client away (allowlist) as ClosedEarly' {
        $closed = Start-BlockingEchoServer -Port 0 -AllowList 10.0.0.0/8 -AsJob
        try {
            $r = Test-EchoRoundTrip 127.0.0.1 -Port $closed.Port -ErrorAction SilentlyContinue
            $r.Status | Should -Be 'ClosedEarly'
            $r.BytesReceived | Should -Be 0
        }
        finally { $closed | Remove-Job -Force }
    }

    It 'expects every byte back, then end of stream, after -HalfClose' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $port -HalfClose -Size 1000 -Count 3
        $r.Status | Should -Be 'Success'
        $r.Message | Should -Match 'end of stream'
        $r.BytesReceived | Should -Be 4000
    }

    It 'measures throughput with both directions flowing at once' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $port -TotalBytes 64MB -TimeoutSec 10
        $r.Status | Should -Be 'Success'
        $r.Mode | Should -Be 'Throughput'
        $r.BytesSent | Should -Be 64MB
        $r.BytesReceived | Should -Be 64MB
        $r.ThroughputMiBps | Should -BeGreaterThan 0

        $timed = Test-EchoRoundTrip 127.0.0.1 -Port $port -DurationSec 0.3 -HalfClose
        $timed.Status | Should -Be 'Success'
        $timed.BytesReceived | Should -BeGreaterThan 0
        $timed.BytesReceived | Should -Be $timed.BytesSent
    }

    It 'shows the blocking server serving concurrent clients one at a time' {
        $hold = 400
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $port -Concurrency 3 -HoldMs $hold
        $r.Status | Should -Be 'Success'
        $r.Clients | Should -HaveCount 3
        $r.Clients.Status | Should -Not -Contain 'Failed'
        # Whoever was accepted first is answered first; each of the others queues behind one more hold (steps of at
        # least a hold: lower bounds only, which a loaded machine keeps).
        $waits = $r.Clients.WaitMs | Sort-Object
        ($waits[1] - $waits[0]) | Should -BeGreaterThan ($hold * 0.9)
        ($waits[2] - $waits[1]) | Should -BeGreaterThan ($hold * 0.9)
    }

    It 'streams one result per interval with -Continuous and closes its connection when the pipeline ends' {
        $results = Test-EchoRoundTrip 127.0.0.1 -Port $port -Continuous -Interval 0.05 | Select-Object -First 3
        $results.Sequence | Should -Be 1, 2, 3
        $results.Status | Should -Be Success, Success, Success
        # The server serves one client at a time: it answers the next one only if that connection was closed.
        (Test-EchoRoundTrip 127.0.0.1 -Port $port -Count 1 -TimeoutSec 2).Status | Should -Be 'Success'
    }

    It 'sets TCP_NODELAY <Expected> on its socket with -NoDelay:$<NoDelay>' -TestCases @(
        @{ NoDelay = $true; Expected = 'on' }, @{ NoDelay = $false; Expected = 'off' }) {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'reading the option from /proc and getsockopt needs Linux'; return }
        # The client holds its connection for a while (-HoldMs) in another runspace of this process, so its socket
        # can be read here, with getsockopt, while it is open.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Test-EchoRoundTrip 127.0.0.1 -Port $port -Concurrency 1 -HoldMs 5000 -NoDelay:`$$NoDelay")
            $async = $ps.BeginInvoke()
            # This process's end of a connection to the server: the client's socket (the server's end has it as local port).
            $script:option = $null
            Wait-Until { $null -ne ($script:option = Get-TcpNoDelay -RemotePort $port) } -TimeoutMs 15000 |
                Should -BeTrue -Because "the client's socket is open in this process during its hold"
            $script:option | Should -Be $NoDelay
            $async.AsyncWaitHandle.WaitOne(15000) | Should -BeTrue
            $result = $ps.EndInvoke($async)
            $result.Status | Should -Be 'Success'
            $result.NoDelay | Should -Be $NoDelay
        }
        finally { $ps.Dispose() }
    }

    It 'keeps the payload out of verbose output' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $port -Payload 'secret-payload' -Count 1 -NoDelay:$false -Verbose 4>&1
        $verbose = $r | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $result = $r | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $result.Status | Should -Be 'Success'
        $verbose | Should -Not -BeNullOrEmpty
        ($verbose.Message -join "`n") | Should -Not -Match 'secret'
    }

    It 'serializes to flat JSON: endpoints as text, times as milliseconds' {
        $json = Test-EchoRoundTrip 127.0.0.1 -Port $port -Count 2 | ConvertTo-Json | ConvertFrom-Json
        $json.LocalEndPoint | Should -BeOfType [string]
        $json.RttP50Ms | Should -BeGreaterThan 0
        $json.BytesReceived | Should -Be 96
    }

    It 'stops promptly when the pipeline is stopped (Ctrl+C)' {
        $silent = $script:broken.StopTest = New-BrokenEchoServer -Behaviour Silent
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ModuleManifest'; Test-EchoRoundTrip 127.0.0.1 -Port $($silent.Port) -TimeoutSec 60")
            $async = $ps.BeginInvoke()
            # Stop only once the client is connected and blocked waiting for its echo.
            Wait-Until { $silent.Accepted -ge 1 } -TimeoutMs 15000 | Should -BeTrue
            Start-Sleep -Milliseconds 100
            (Measure-Seconds { $ps.Stop() }) | Should -BeLessThan 3
            $async.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally { $ps.Dispose() }
    }
}

Describe 'Test-EchoRoundTrip against broken servers' {
    BeforeAll {
        $script:broken.Flip = New-BrokenEchoServer -Behaviour FlipByte -Offset 37
        $script:broken.FlipStream = New-BrokenEchoServer -Behaviour FlipByte -Offset 1000003
        $script:broken.DropTail = New-BrokenEchoServer -Behaviour DropTail -Offset 40
        $script:broken.CloseEarly = New-BrokenEchoServer -Behaviour CloseEarly -Offset 40
        $script:broken.Silent = New-BrokenEchoServer -Behaviour Silent
        $script:broken.Reset = New-BrokenEchoServer -Behaviour Reset
    }

    It 'reports a flipped byte as Mismatch with its offset and error id EchoMismatch' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.Flip.Port -ErrorVariable errors -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Mismatch'
        $r.Success | Should -BeFalse
        $r.Mismatches | Should -Be 1
        # Offset 37 is the sixth byte of the first timed message, after the 32-byte warm-up.
        $r.FirstMismatchOffset | Should -Be 37
        $r.BytesReceived | Should -Be 160
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'EchoMismatch,EchoPS.Commands.TestEchoRoundTripCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidResult'
    }

    It 'catches a corrupted byte in throughput mode, at its offset' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.FlipStream.Port -TotalBytes 4MB -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Mismatch'
        $r.Mismatches | Should -Be 1
        $r.FirstMismatchOffset | Should -Be 1000003
        $r.BytesReceived | Should -Be 4MB
    }

    It 'reports a dropped tail as Incomplete within the timeout' {
        $seconds = Measure-Seconds { $script:r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.DropTail.Port -TimeoutSec 1 -ErrorAction SilentlyContinue }
        $r.Status | Should -Be 'Incomplete'
        $r.BytesReceived | Should -Be 40
        $seconds | Should -BeLessThan 5
    }

    It 'reports a server that closes early as ClosedEarly' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.CloseEarly.Port -TimeoutSec 2 -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'ClosedEarly'
        $r.BytesReceived | Should -Be 40
    }

    It 'reports a server that accepts and never answers as TimedOut within the timeout' {
        $seconds = Measure-Seconds { $script:r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.Silent.Port -TimeoutSec 1 -ErrorAction SilentlyContinue }
        $r.Status | Should -Be 'TimedOut'
        $r.BytesReceived | Should -Be 0
        $r.ConnectMs | Should -BeGreaterThan 0
        $seconds | Should -BeLessThan 5
    }

    It 'reports a connect that is never answered as TimedOut within the timeout' {
        $script:broken.Backlog = New-FullBacklogListener
        $seconds = Measure-Seconds { $script:r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.Backlog.Port -TimeoutSec 1 -ErrorAction SilentlyContinue }
        $r.Status | Should -Be 'TimedOut'
        $r.Message | Should -Match 'Connect'
        $r.ConnectMs | Should -BeNullOrEmpty
        $seconds | Should -BeLessThan 5
    }

    It 'reports a reset connection as Reset' {
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $broken.Reset.Port -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Reset'
    }

    It 'reports a port with nothing listening as Refused, with a stable error id' {
        $free = Get-FreePort
        $r = Test-EchoRoundTrip 127.0.0.1 -Port $free -ErrorVariable errors -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Refused'
        $r.Message | Should -Match "127\.0\.0\.1:$free"
        $errors[0].FullyQualifiedErrorId | Should -Be 'EchoRefused,EchoPS.Commands.TestEchoRoundTripCommand'
        { Test-EchoRoundTrip 127.0.0.1 -Port $free -ErrorAction Stop } | Should -Throw -ErrorId 'EchoRefused,EchoPS.Commands.TestEchoRoundTripCommand'
    }

    It 'reports a name that does not resolve as Unresolved' {
        $r = Test-EchoRoundTrip 'no-such-host.invalid' -Port 7 -TimeoutSec 3 -ErrorAction SilentlyContinue
        $r.Status | Should -Be 'Unresolved'
        $r.Address | Should -BeNullOrEmpty
    }
}

Describe 'Test-EchoRoundTrip parameter checks' {
    It 'rejects <Name> with a clear error naming the value' -TestCases @(
        @{ Name = 'a negative count'; Arguments = @{ Count = -1 }; Value = '-1' }
        @{ Name = 'a zero size'; Arguments = @{ Size = 0 }; Value = '0' }
        @{ Name = 'port 70000'; Arguments = @{ Port = 70000 }; Value = '70000' }
        @{ Name = 'a zero timeout'; Arguments = @{ TimeoutSec = 0 }; Value = '0' }
    ) {
        param($Arguments, $Value)
        $err = { Test-EchoRoundTrip 127.0.0.1 @Arguments } | Should -Throw -ErrorId 'ParameterArgumentValidationError,EchoPS.Commands.TestEchoRoundTripCommand' -PassThru
        $err.Exception.Message | Should -Match ([regex]::Escape($Value))
    }

    It 'rejects <Name>' -TestCases @(
        @{ Name = '-Size with -Payload'; Arguments = @{ Size = 8; Payload = 'abc' }; ErrorId = 'SizeWithPayload' }
        @{ Name = '-IPv4 with -IPv6'; Arguments = @{ IPv4 = $true; IPv6 = $true }; ErrorId = 'ConflictingAddressFamily' }
        @{ Name = 'a payload that is not text or bytes'; Arguments = @{ Payload = @{ a = 1 } }; ErrorId = 'InvalidPayload' }
        @{ Name = 'an empty payload'; Arguments = @{ Payload = [byte[]]@() }; ErrorId = 'InvalidPayload' }
    ) {
        param($Arguments, $ErrorId)
        { Test-EchoRoundTrip 127.0.0.1 -Port $port @Arguments } | Should -Throw -ErrorId "$ErrorId,EchoPS.Commands.TestEchoRoundTripCommand"
    }
}
