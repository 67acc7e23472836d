# Parameters, parsing, ids and help (issue 10): every value means what it says, or is refused naming it.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module $ModuleManifest -Force

    function Get-Completion([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
    }

    function Get-JobEvent {
        # The job's events of one kind, waiting (bounded) until one is there.
        param([Parameter(Mandatory)] $Job, [Parameter(Mandatory)] [string] $Kind, [int] $TimeoutMs = 5000)
        $null = Wait-Until { @($Job.Output | Where-Object Kind -EQ $Kind).Count -ge 1 } -TimeoutMs $TimeoutMs
        @($Job.Output | Where-Object Kind -EQ $Kind)
    }
}

AfterAll {
    Stop-AllTestServers
}

Describe 'Fractional seconds are honoured, fractional counts refused (item 2)' {
    It 'keeps the exact fractions the issue gave, never 0 = none' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 0.5 -SendTimeoutSec 0.4 -MaxSessionSec 0.3
        try {
            $job.Server.Limits | Should -BeLike '*idle timeout 0.5 s, send timeout 0.4 s*max session 0.3 s*'
            $job.Server.Limits | Should -Not -BeLike '*none*'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'keeps 2.5 s as 2.5 s, and rounds a sub-millisecond timeout up to 1 ms' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 2.5 -SendTimeoutSec 0.0004
        try { $job.Server.Limits | Should -BeLike '*idle timeout 2.5 s, send timeout 0.001 s*' }
        finally { $job | Remove-Job -Force }
    }

    It 'cuts off a silent client after a 0.5 s idle timeout' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 0.5
        try {
            $client = New-TestClient -Port $job.Port
            try {
                $gone = Get-JobEvent $job Disconnected -TimeoutMs 8000
                $gone.Reason | Should -Be 'IdleTimeout'
            }
            finally { $client.Dispose() }
        }
        finally { $job | Remove-Job -Force }
    }

    It 'refuses <Parameter> <Value> naming the value' -TestCases @(
        @{ Parameter = 'MaxBytesPerConnection'; Value = 0.4 }, @{ Parameter = 'MaxBytesPerSecond'; Value = 0.2 },
        @{ Parameter = 'MaxConnectionsPerMinute'; Value = 0.5 }, @{ Parameter = 'MaxTotalConnectionsPerMinute'; Value = 2.5 },
        @{ Parameter = 'Backlog'; Value = 1.5 }, @{ Parameter = 'BufferSize'; Value = 4096.5 }, @{ Parameter = 'Port'; Value = '0.5' }) {
        $before = @(Get-BlockingEchoServer).Count
        $arguments = @{ $Parameter = $Value }
        $err = { Start-BlockingEchoServer @arguments -AsJob } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*$Parameter*$Value*whole number*"
        @(Get-BlockingEchoServer).Count | Should -Be $before
    }

    It 'refuses the issue''s whole command line rather than starting a server with limits off' {
        $err = { Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 0.5 -SendTimeoutSec 0.4 -MaxSessionSec 0.3 -MaxBytesPerConnection 0.4 -MaxBytesPerSecond 0.2 -MaxConnectionsPerMinute 0.5 } |
            Should -Throw -PassThru
        $err.Exception.Message | Should -BeLike '*0.4*whole number*'
    }

    It 'accepts whole numbers written as doubles or text' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob -MaxBytesPerConnection 1e6 -MaxConnectionsPerMinute '7'
        try { $job.Server.Limits | Should -BeLike '*max 1000000 bytes per connection*max 7 connections/min per source*' }
        finally { $job | Remove-Job -Force }
    }

    It 'refuses <Value> seconds naming the value' -TestCases @(@{ Value = -0.5 }, @{ Value = 86400.5 }) {
        { Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec $Value } | Should -Throw -ErrorId 'ParameterArgumentValidationError,EchoPS.Commands.StartBlockingEchoServerCommand' -ExpectedMessage "*$Value*0 to 86400*"
    }

    It 'refuses a fractional -Port or -Id of <_>' -ForEach 'Stop-BlockingEchoServer', 'Get-BlockingEchoServer' {
        { & $_ -Port 8080.5 } | Should -Throw -ExpectedMessage '*8080.5*whole number*'
        { & $_ -Id 1.5 } | Should -Throw -ExpectedMessage '*1.5*whole number*'
    }

    It 'refuses a fractional count of Test-EchoRoundTrip' {
        { Test-EchoRoundTrip 127.0.0.1 -Port 1 -Count 2.5 } | Should -Throw -ExpectedMessage '*2.5*whole number*'
    }
}

Describe 'Job ids and server ids are one id space (item 3)' {
    It 'stops exactly the server whose job id was given, with an unrelated job in the session' {
        $unrelated = Start-ThreadJob -ScriptBlock { 1 }
        $jobs = 1..4 | ForEach-Object { Start-BlockingEchoServer -Port 0 -AsJob }
        try {
            foreach ($job in $jobs) { $job.ServerId | Should -Be $job.Id }
            $b = $jobs[1]
            Stop-BlockingEchoServer -Id $b.Id
            $b.Server.State | Should -Be 'Stopped'
            foreach ($other in $jobs | Where-Object Id -NE $b.Id) { $other.Server.State | Should -Not -Be 'Stopped' }
        }
        finally {
            $jobs | Remove-Job -Force
            $unrelated | Remove-Job -Force
        }
    }

    It 'says that no server has the id of an unrelated job' {
        $unrelated = Start-ThreadJob -ScriptBlock { 1 }
        try {
            { Stop-BlockingEchoServer -Id $unrelated.Id -ErrorAction Stop } | Should -Throw -ErrorId 'ServerNotFound,EchoPS.Commands.StopBlockingEchoServerCommand'
        }
        finally { $unrelated | Remove-Job -Force }
    }
}

Describe 'Canonical addresses only (item 8)' {
    It 'refuses -AllowList <_> naming it' -ForEach '127.0.0.010', '0177.0.0.1', '0x7f.0.0.1', '127.1', '::ffff:127.0.0.010' {
        $err = { Start-BlockingEchoServer -Port 0 -AllowList $_ -AsJob } | Should -Throw -ErrorId 'InvalidAllowList,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'$_'*"
    }

    It 'refuses -Address <_> naming it' -ForEach '127.0.0.010', '0177.0.0.1', '0x7f.0.0.1', '[::1]:80' {
        $err = { Start-BlockingEchoServer -Port 0 -Address $_ -AsJob } | Should -Throw -ErrorId 'InvalidAddress,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message.Contains("'$_'") | Should -BeTrue -Because $err.Exception.Message
    }

    It 'refuses the client target <_> locally, naming it, without resolving it' -ForEach '127.0.0.010', '0177.0.0.1', '0x7f.0.0.1', '999.1.1.1', '10.1' {
        $err = { Test-EchoRoundTrip $_ -Port 1 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidTarget,EchoPS.Commands.TestEchoRoundTripCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'$_'*"
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'still takes canonical forms: 127.0.0.10 in an allowlist is 127.0.0.10/32' {
        $job = Start-BlockingEchoServer -Port 0 -AllowList 127.0.0.10, '::1' -AsJob
        try { $job.Server.Limits | Should -BeLike '*allow 127.0.0.10/32, ::1/128*' }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'Host and port in one target (item 13)' {
    BeforeAll {
        $v4 = Start-BlockingEchoServer -Port 0 -AsJob
        $v6 = Start-BlockingEchoServer -Address '::1' -Port 0 -AsJob
    }
    AfterAll { $v4, $v6 | Remove-Job -Force }

    It 'takes 127.0.0.1:port' {
        $r = Test-EchoRoundTrip "127.0.0.1:$($v4.Port)"
        $r.Status | Should -Be 'Success'
        $r.Port | Should -Be $v4.Port
        $r.TargetName | Should -Be '127.0.0.1'
    }

    It 'takes [::1]:port' {
        $r = Test-EchoRoundTrip "[::1]:$($v6.Port)"
        $r.Status | Should -Be 'Success'
        $r.Port | Should -Be $v6.Port
        $r.Address | Should -Be '::1'
    }

    It 'refuses a port in the target that contradicts -Port' {
        $err = { Test-EchoRoundTrip "127.0.0.1:$($v4.Port)" -Port 9 -ErrorAction Stop } | Should -Throw -ErrorId 'PortConflict,EchoPS.Commands.TestEchoRoundTripCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*$($v4.Port)*-Port 9*"
    }

    It 'refuses a bad port <_> in the target' -ForEach '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:', '[::1]x' {
        { Test-EchoRoundTrip $_ -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidTarget,EchoPS.Commands.TestEchoRoundTripCommand'
    }
}

Describe 'Pipeline binding and stopping (items 15, 16)' {
    It 'takes host names piped as strings' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $results = '127.0.0.1', 'localhost' | Test-EchoRoundTrip -Port $job.Port -IPv4
            $results | Should -HaveCount 2
            $results.TargetName | Should -Be '127.0.0.1', 'localhost'
            $results.Status | Should -Be 'Success', 'Success'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'still binds a piped job by its Address and Port' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try { ($job | Test-EchoRoundTrip -Count 1).Status | Should -Be 'Success' }
        finally { $job | Remove-Job -Force }
    }

    It 'stops a server from an object with a <Property> property' -TestCases @(@{ Property = 'Port' }, @{ Property = 'ServerId' }) {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            [pscustomobject]@{ $Property = $job.$Property } | Stop-BlockingEchoServer
            $job.Server.State | Should -Be 'Stopped'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'names only the type of an object it cannot stop' {
        $err = { [pscustomobject]@{ Name = 'x' * 300 } | Stop-BlockingEchoServer -ErrorAction Stop } | Should -Throw -ErrorId 'NotAnEchoServer,EchoPS.Commands.StopBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -Not -BeLike '*xxxxxxxxxx*'
        $err.Exception.Message.Length | Should -BeLessThan 250
    }

    It 'reports a second stop the same way by <Route>' -TestCases @(@{ Route = 'Port' }, @{ Route = 'Job' }, @{ Route = 'Server' }) {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $server = $job.Server
            $stop = switch ($Route) {
                'Port' { { Stop-BlockingEchoServer -Port $job.Port -ErrorAction Stop } }
                'Job' { { $job | Stop-BlockingEchoServer -ErrorAction Stop } }
                'Server' { { $server | Stop-BlockingEchoServer -ErrorAction Stop } }
            }
            & $stop
            $server.State | Should -Be 'Stopped'
            $stop | Should -Throw -ErrorId 'ServerNotFound,EchoPS.Commands.StopBlockingEchoServerCommand'
        }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'A blank host is a module error (item 17)' {
    It 'refuses <_> with the id InvalidTarget' -ForEach '   ', "`t" {
        $err = { Test-EchoRoundTrip $_ -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidTarget,EchoPS.Commands.TestEchoRoundTripCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -BeLike '*blank*'
    }
}

Describe 'Listen addresses that cannot mean what they say (item 18)' {
    It 'refuses -Address <Address> saying why' -TestCases @(
        @{ Address = '::1%1'; Why = '*zone*::1*' }, @{ Address = '::ffff:127.0.0.1'; Why = '*IPv4-mapped*127.0.0.1*' },
        @{ Address = '224.0.0.1'; Why = '*multicast*' }, @{ Address = 'ff02::1'; Why = '*multicast*' },
        @{ Address = '255.255.255.255'; Why = '*broadcast*' }) {
        $err = { Start-BlockingEchoServer -Port 0 -Address $Address -AsJob } | Should -Throw -ErrorId 'InvalidAddress,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike $Why
        $err.Exception.Message | Should -BeLike "*'$Address'*"
    }
}

Describe 'IPv4-mapped ranges, prefixes and an empty allowlist (items 19, 24)' {
    It 'reads <Entry> as <Range>' -TestCases @(
        @{ Entry = '::ffff:10.0.0.0/104'; Range = '10.0.0.0/8' }, @{ Entry = '::ffff:0:0/96'; Range = '0.0.0.0/0' },
        @{ Entry = '::ffff:127.0.0.1'; Range = '127.0.0.1/32' }) {
        $job = Start-BlockingEchoServer -Port 0 -AllowList $Entry -AsJob
        try { $job.Server.Limits | Should -BeLike "allow $Range,*" }
        finally { $job | Remove-Job -Force }
    }

    It 'refuses the prefix of <Entry> saying what is allowed' -TestCases @(
        @{ Entry = '::1/-0'; Allowed = '*0 to 128*' }, @{ Entry = '10.0.0.0/+8'; Allowed = '*0 to 32*' },
        @{ Entry = '10.0.0.0/08'; Allowed = '*0 to 32*' }, @{ Entry = '::ffff:10.0.0.0/80'; Allowed = '*96 to 128*' }) {
        $err = { Start-BlockingEchoServer -Port 0 -AllowList $Entry -AsJob } | Should -Throw -ErrorId 'InvalidAllowList,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike $Allowed
        $err.Exception.Message | Should -BeLike "*'$Entry'*"
    }

    It 'refuses an empty -AllowList instead of allowing everyone' {
        $before = @(Get-BlockingEchoServer).Count
        $err = { Start-BlockingEchoServer -Port 0 -AllowList @() -AsJob } | Should -Throw -ErrorId 'InvalidAllowList,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike '*empty*'
        @(Get-BlockingEchoServer).Count | Should -Be $before
    }
}

Describe 'Session semantics (item 20)' {
    It 'lists a server started in another runspace, and stops it when that runspace closes' {
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $shell = [powershell]::Create($runspace)
        try {
            $port = $shell.AddScript("Import-Module '$ModuleManifest'; (Start-BlockingEchoServer -Port 0 -AsJob).Port").Invoke()[0]
            $port | Should -BeGreaterThan 0
            (Get-BlockingEchoServer -Port $port).Port | Should -Be $port -Because 'the server list is per process'
        }
        finally {
            $shell.Dispose()
            $runspace.Dispose()
        }
        Wait-Until { -not (Get-BlockingEchoServer | Where-Object Port -EQ $port) } | Should -BeTrue
        Test-PortFree -Port $port | Should -BeTrue
    }
}

Describe 'Help examples clean up after themselves (item 21)' {
    It 'every example in <_> that starts a background server stops it' -ForEach (Get-ChildItem (Join-Path $PSScriptRoot '../../docs/help/*.md')).Name {
        $text = Get-Content -Raw (Join-Path $PSScriptRoot "../../docs/help/$_")
        $examples = [regex]::Matches($text, '(?ms)^### Example \d+:.*?(?=^### Example |^## PARAMETERS)')
        foreach ($example in $examples.Value) {
            $code = [regex]::Matches($example, '(?ms)^```powershell\r?\n(.*?)^```').ForEach({ $_.Groups[1].Value }) -join "`n"
            $starts = [regex]::Matches($code, '(?m)^PS> .*(Start-BlockingEchoServer|Get-BlockingEchoServer)[^\r\n]*-AsJob').Count
            if ($starts -gt 0) {
                $code | Should -Match '(?m)^PS> .*(Stop-BlockingEchoServer|Stop-Job|Remove-Job)' -Because "$(($example -split "`n")[0]) starts a server"
            }
        }
    }
}

Describe 'Completion and payload messages (item 23)' {
    It 'completes -Port of Test-EchoRoundTrip with the running servers' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try { (Get-Completion 'Test-EchoRoundTrip 127.0.0.1 -Port ').CompletionText | Should -Contain "$($job.Port)" }
        finally { $job | Remove-Job -Force }
    }

    It 'names the byte out of range in -Payload <Payload>' -TestCases @(
        @{ Payload = (300, 1); Bad = '*300*index 0*0 to 255*' }, @{ Payload = (1, -2); Bad = '*-2*index 1*0 to 255*' },
        @{ Payload = (1, 2.5); Bad = '*2.5*index 1*0 to 255*' }) {
        $err = { Test-EchoRoundTrip 127.0.0.1 -Port 1 -Payload $Payload } | Should -Throw -ErrorId 'InvalidPayload,EchoPS.Commands.TestEchoRoundTripCommand' -PassThru
        $err.Exception.Message | Should -BeLike $Bad
    }
}

Describe 'Objects from elsewhere stop only the server they name (items 3, 15)' {
    It 'needs both ServerId and Port to match when an object has both' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            { [pscustomobject]@{ ServerId = $job.ServerId; Port = $job.Port + 1 } | Stop-BlockingEchoServer -ErrorAction Stop } |
                Should -Throw -ErrorId 'ServerNotFound,EchoPS.Commands.StopBlockingEchoServerCommand'
            $job.Server.State | Should -Not -Be 'Stopped'
            [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($job.Server)) | Stop-BlockingEchoServer
            $job.Server.State | Should -Be 'Stopped'
        }
        finally { $job | Remove-Job -Force }
    }
}

Describe 'What a job and its events say (item 22)' {
    It 'names the job after the cmdlet and its parameters, not the whole line typed' {
        $j = Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 5
        try {
            $j.Command | Should -Be 'Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec 5'
        }
        finally { $j | Remove-Job -Force }
    }

    It 'counts clients served on Stopped only; other events leave it empty rather than 0' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $client = New-TestClient -Port $job.Port
            (Invoke-Echo -Client $client -Bytes ([byte[]](1..8))) | Should -HaveCount 8
            $client.Dispose()
            $null = Get-JobEvent $job Disconnected
        }
        finally { $job | Stop-Job; $events = @($job.Output); $job | Remove-Job -Force }
        ($events | Where-Object Kind -In 'Listening', 'Connected', 'Disconnected').ClientsServed | Where-Object { $null -ne $_ } | Should -BeNullOrEmpty
        ($events | Where-Object Kind -EQ 'Stopped').ClientsServed | Should -Be 1
    }
}

Describe 'Every number parameter of every cmdlet goes through one conversion (issue 23, items 1 and 8)' {
    BeforeDiscovery {
        . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
        Import-Module $ModuleManifest
        $numericTypes = [int], [long], [double], [float], [decimal], [short], [byte], [uint32], [uint64]
        # Arguments that would make each cmdlet run if the parameter under test were good (it replaces its own).
        $base = @{
            'Start-BlockingEchoServer' = @{ Port = 0; AsJob = $true }
            'Test-EchoRoundTrip'       = @{ HostName = '127.0.0.1'; Port = 1; TimeoutSec = 1 }
            'Measure-EchoServer'       = @{ Target = '127.0.0.1:1'; Figure = 'RoundTrip'; Rounds = 1; Count = 1 }
            'Stop-BlockingEchoServer'  = @{}
            'Get-BlockingEchoServer'   = @{}
        }
        $numberParameters = foreach ($command in Get-Command -Module EchoPS -CommandType Cmdlet) {
            foreach ($parameter in $command.Parameters.Values | Where-Object Name -NotIn ([System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters)) {
                $type = if ($parameter.ParameterType.IsArray) { $parameter.ParameterType.GetElementType() } else { $parameter.ParameterType }
                if ($type -in $numericTypes) {
                    $arguments = $base[$command.Name].Clone()
                    if ($command.Name -eq 'Measure-EchoServer' -and $parameter.Name -eq 'Port') { $arguments.Remove('Target'); $arguments.HostName = '127.0.0.1' }
                    @{ Command = $command.Name; Parameter = $parameter.Name; Whole = $type -ne [double] -and $type -ne [float] -and $type -ne [decimal]; Arguments = $arguments }
                }
            }
        }
    }

    It 'found the number parameters of all five cmdlets' {
        # A guard on the walk below: it must see every cmdlet and the limits the issue named.
        $numbers = foreach ($command in Get-Command -Module EchoPS -CommandType Cmdlet) {
            $command.Parameters.Values | Where-Object { $_.ParameterType -in [int], [long], [double], [int[]] -and $_.Name -notin [System.Management.Automation.PSCmdlet]::CommonParameters } | ForEach-Object { "$($command.Name) -$($_.Name)" }
        }
        @($numbers).Count | Should -BeGreaterOrEqual 35
        foreach ($name in 'IdleTimeoutSec', 'SendTimeoutSec', 'MaxSlotHoldSec', 'MaxBytesPerConnection', 'MaxConnectionsPerMinute', 'MaxSessionSec', 'MaxTotalConnectionsPerMinute', 'MaxBytesPerSecond') {
            $numbers | Should -Contain "Start-BlockingEchoServer -$name"
        }
        $numbers | Should -Contain 'Stop-BlockingEchoServer -Id'
        $numbers | Should -Contain 'Measure-EchoServer -Rounds'
    }

    It '<Command> -<Parameter> carries the one conversion (whole numbers: <Whole>)' -ForEach $numberParameters {
        $attributes = (Get-Command $Command).Parameters[$Parameter].Attributes
        $conversion = @($attributes | Where-Object { $_ -is [EchoPS.Commands.NumberArgumentAttribute] })
        $conversion | Should -HaveCount 1 -Because 'every number parameter must go through NumberArgumentAttribute'
        $conversion[0].Whole | Should -Be $Whole
        # It must come before PowerShell's own conversion: no other transformation ahead of it.
        @($attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentTransformationAttribute] }) | Should -HaveCount 1
    }

    It '<Command> -<Parameter> refuses every value that is not plainly a number, naming it' -ForEach $numberParameters {
        $bad = @(
            @{ Value = ''; Shown = "''" }, @{ Value = '  '; Shown = "'  '" }, @{ Value = $null; Shown = '$null' },
            @{ Value = [double]::NaN; Shown = 'NaN' }, @{ Value = [double]::PositiveInfinity; Shown = 'Infinity' },
            @{ Value = $true; Shown = '$true' }, @{ Value = $false; Shown = '$false' }, @{ Value = 'ten'; Shown = "'ten'" },
            @{ Value = '0x10'; Shown = "'0x10'" }, @{ Value = '1kb'; Shown = "'1kb'" }, @{ Value = '5 s'; Shown = "'5 s'" },
            @{ Value = [char]'5'; Shown = '5' }, @{ Value = [datetime]::UnixEpoch; Shown = 'DateTime' }, @{ Value = @{}; Shown = 'Hashtable' }
        )
        if ($Whole) { $bad += @{ Value = 0.5; Shown = '0.5' }, @{ Value = 2.5; Shown = '2.5' }, @{ Value = '0.4'; Shown = "'0.4'" }, @{ Value = [decimal]1.5; Shown = '1.5' } }
        $before = @(Get-BlockingEchoServer).Count
        foreach ($case in $bad) {
            $arguments = $Arguments.Clone()
            $arguments[$Parameter] = $case.Value
            $err = $null
            try { $null = & $Command @arguments -ErrorAction Stop } catch { $err = $_ }
            $err | Should -Not -BeNullOrEmpty -Because "$Command -$Parameter $($case.Shown) must be refused"
            $err.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentTransformationError,*' -Because "$Command -$Parameter $($case.Shown): $($err.Exception.Message)"
            $err.Exception | Should -BeOfType [System.Management.Automation.ParameterBindingException]
            $err.Exception.Message | Should -BeLike "*'$Parameter'*$($case.Shown)*this parameter takes*" -Because "$Command -$Parameter $($case.Shown)"
            $err.Exception.Message | Should -Not -BeLike '*   at *' -Because 'no stack trace'
            $err.Exception.Message | Should -Not -BeLike '*unlimited*' -Because 'the conversion does not know what 0 means for this parameter'
        }
        @(Get-BlockingEchoServer).Count | Should -Be $before -Because 'no server may start on a refused value'
    }

    It 'refuses the issue''s command line of empty limits instead of starting a server with every limit off' {
        $before = @(Get-BlockingEchoServer).Count
        $err = { Start-BlockingEchoServer -Port 0 -AsJob -IdleTimeoutSec '' -SendTimeoutSec '' -MaxSlotHoldSec '' -MaxBytesPerConnection '' -MaxConnectionsPerMinute '' -MaxSessionSec '' -MaxTotalConnectionsPerMinute '' -MaxBytesPerSecond '' } |
            Should -Throw -ErrorId 'ParameterArgumentTransformationError,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'IdleTimeoutSec'*'' (an empty string) is not a number*"
        @(Get-BlockingEchoServer).Count | Should -Be $before
    }

    It 'still takes plain numbers as numbers or text: <Value>' -TestCases @(@{ Value = '7' }, @{ Value = ' 7 ' }, @{ Value = 7L }, @{ Value = 7.0 }, @{ Value = '7.0' }, @{ Value = '7e0' }) {
        $job = Start-BlockingEchoServer -Port 0 -AsJob -MaxConnectionsPerMinute $Value -IdleTimeoutSec $Value
        try { $job.Server.Limits | Should -BeLike '*idle timeout 7 s*max 7 connections/min per source*' }
        finally { $job | Remove-Job -Force }
    }

    It 'refuses fractional counts of Measure-EchoServer (-Rounds 1.5 ran 2 rounds)' {
        $err = { Measure-EchoServer 127.0.0.1:1 -Rounds 1.5 } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,EchoPS.Commands.MeasureEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'Rounds'*1.5 is not a whole number*"
    }

    It 'refuses Stop-BlockingEchoServer -Id $true rather than stopping server 1, and does not say 0 means unlimited' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $err = { Stop-BlockingEchoServer -Id $true } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,EchoPS.Commands.StopBlockingEchoServerCommand' -PassThru
            $err.Exception.Message | Should -BeLike '*$true (a boolean) is not a number*'
            $err = { Stop-BlockingEchoServer -Id 1.5 } | Should -Throw -PassThru
            $err.Exception.Message | Should -Not -BeLike '*unlimited*'
            $job.Server.State | Should -Not -Be 'Stopped'
        }
        finally { $job | Remove-Job -Force }
    }

    It 'refuses -Payload <Shown> like @(-1): a negative number is no byte' -TestCases @(@{ Shown = '-1' }, @{ Shown = '@(-1)' }) {
        $err = if ($Shown -eq '-1') { { Test-EchoRoundTrip 127.0.0.1 -Port 1 -Payload -1 } | Should -Throw -PassThru }
        else { { Test-EchoRoundTrip 127.0.0.1 -Port 1 -Payload @(-1) } | Should -Throw -PassThru }
        $err.FullyQualifiedErrorId | Should -Be 'InvalidPayload,EchoPS.Commands.TestEchoRoundTripCommand'
        $err.Exception.Message | Should -BeLike '*-1*0 to 255*'
    }

    It 'refuses -AllowList <Entry> (host bits set), naming the range to write' -TestCases @(
        @{ Entry = '10.0.0.1/8'; Range = '10.0.0.0/8' }, @{ Entry = '127.0.0.1/24'; Range = '127.0.0.0/24' },
        @{ Entry = '3f::/10'; Range = '::/10' }, @{ Entry = '::ffff:10.1.2.3/104'; Range = '10.0.0.0/8' }) {
        $before = @(Get-BlockingEchoServer).Count
        $err = { Start-BlockingEchoServer -Port 0 -AllowList $Entry -AsJob } | Should -Throw -ErrorId 'InvalidAllowList,EchoPS.Commands.StartBlockingEchoServerCommand' -PassThru
        $err.Exception.Message | Should -BeLike "*'$Entry'*host bits*$Range*"
        @(Get-BlockingEchoServer).Count | Should -Be $before
    }
}

Describe 'Bad strings give module errors, never raw .NET exceptions (issue 23, item 7)' {
    It 'refuses Test-EchoRoundTrip -HostName <Shown> locally with InvalidTarget' -TestCases @(
        @{ Shown = "'a' x 300"; Value = 'a' * 300 }, @{ Shown = 'a 64-character label'; Value = ('a' * 64) + '.invalid' },
        @{ Shown = "'a.' x 130"; Value = 'a.' * 130 }) {
        $err = { Test-EchoRoundTrip -HostName $Value -Port 1 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidTarget,EchoPS.Commands.TestEchoRoundTripCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -BeLike '*is not a host name*253 characters*'
        $err.Exception.Message.Length | Should -BeLessThan 250 -Because 'the error names the value without repeating all of it'
    }

    It 'refuses Measure-EchoServer -Path <Shown> before measuring, with InvalidPath' -TestCases @(
        @{ Shown = 'a null character'; Value = "`0" }, @{ Shown = 'a null character inside'; Value = "a`0b" }, @{ Shown = 'an unknown drive'; Value = 'nosuchdrive:/x' }) {
        $err = { Measure-EchoServer 127.0.0.1:1 -Figure RoundTrip -Path $Value -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidPath,EchoPS.Commands.MeasureEchoServerCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -BeLike '*-Path*is not a folder*'
    }

    It 'checks Measure-EchoServer''s hosts by the client''s rules: <Case>' -TestCases @(
        @{ Case = 'a 300-character -HostName'; Arguments = @{ HostName = 'a' * 300; Port = 1 } }
        @{ Case = 'a non-canonical -Target'; Arguments = @{ Target = '127.0.0.010:7' } }
        @{ Case = 'a control character in -Target'; Arguments = @{ Target = "a`tb:7" } }) {
        $err = { Measure-EchoServer @Arguments -Figure RoundTrip -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidTarget,EchoPS.Commands.MeasureEchoServerCommand' -PassThru
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'gives every string parameter of <Command> only module or binding errors for bad strings' -ForEach @(
        @{ Command = 'Test-EchoRoundTrip'; Arguments = @{ Port = 1; TimeoutSec = 1; DeadlineSec = 5 }; Parameters = @('HostName') }
        @{ Command = 'Measure-EchoServer'; Arguments = @{ Figure = 'RoundTrip'; Count = 1; Rounds = 1; TimeoutSec = 1 }; Parameters = @('Target', 'HostName', 'Name', 'Baseline', 'Path') }
        @{ Command = 'Start-BlockingEchoServer'; Arguments = @{ Port = 0; AsJob = $true }; Parameters = @('Address', 'AllowList') }
    ) {
        # Strings refused before any lookup (none may reach a resolver): too long, control characters, brackets.
        $bad = @(('a' * 300), "`0", "a`0b", "`t", ('a' * 64 + '.invalid'), '[::1', '::1]', '1.2.3.4.5', '')
        $before = @(Get-BlockingEchoServer).Count
        foreach ($parameter in $Parameters) {
            foreach ($value in $bad) {
                if ($parameter -eq 'Path' -and $value -notmatch "`0") { continue } # a good folder name would get a report
                $arguments = $Arguments.Clone()
                $arguments[$parameter] = $value
                if ($parameter -eq 'HostName' -and $Command -eq 'Measure-EchoServer') { $arguments.Port = 1 }
                elseif ($parameter -ne 'Target' -and $Command -eq 'Measure-EchoServer') { $arguments.Target = '127.0.0.1:1' }
                if ($parameter -eq 'Target' -and $value -ne '') { $arguments.Target = "$($value):7" }
                $err = $null
                try { & $Command @arguments -ErrorAction Stop -WarningAction SilentlyContinue | Where-Object { $_ -is [System.Management.Automation.Job] } | Remove-Job -Force } catch { $err = $_ }
                if ($null -eq $err) { continue } # taken as a label, or refused by the server's own peer checks
                $shown = "$Command -$parameter '$(($value -replace "`0", '\0').Substring(0, [Math]::Min(20, $value.Length)))'"
                $err.FullyQualifiedErrorId | Should -Not -BeLike 'System.*' -Because "$shown gave $($err.Exception.GetType().FullName): $($err.Exception.Message)"
                $err.CategoryInfo.Category | Should -Not -Be 'NotSpecified' -Because "$shown gave $($err.FullyQualifiedErrorId)"
            }
        }
        @(Get-BlockingEchoServer).Count | Should -Be $before
    }
}
