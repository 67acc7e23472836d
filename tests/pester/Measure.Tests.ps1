# Measure-EchoServer against servers no one wrote for it: EchoPS's own, the classic blocking C server
# (bench/echo_server.c), a thread-per-client and an event-loop server (tests/pester/peers/echo_peer.py), and
# socat's fork-per-client server where Install-DebianTool can provide socat. Small K, N, H and T keep it fast.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    $script:haveGcc = Test-Tool gcc
    $script:havePython = Test-Tool python3
    $script:socat = Install-DebianTool @{ socat = 'socat' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'BrokenServers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    Import-Module $ModuleManifest -Force
    $peerScript = Join-Path $PSScriptRoot 'peers/echo_peer.py'
    $processes = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function Start-Peer {
        # Starts a server process that prints "listening <port>"; returns its port. Bounded: 10 s to announce itself.
        param([string] $FileName, [string[]] $Arguments)
        $info = [System.Diagnostics.ProcessStartInfo]::new($FileName)
        foreach ($a in $Arguments) { $info.ArgumentList.Add($a) }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardInput = $true # the Python peers exit when it closes
        $process = [System.Diagnostics.Process]::Start($info)
        $processes.Add($process)
        $line = $process.StandardOutput.ReadLineAsync()
        if (-not $line.Wait(10000) -or $line.Result -notmatch '^listening (\d+)$') { throw "$FileName $Arguments did not start: '$($line.Result)'." }
        [int]$Matches[1]
    }

    $targets = [ordered]@{}
    $echops = Start-BlockingEchoServer -Port 0 -AsJob
    $targets['EchoPS'] = "EchoPS=127.0.0.1:$($echops.Port)"
    if (Test-Tool gcc) {
        $exe = Join-Path $TestDrive 'echo_server'
        & gcc -O2 -o $exe (Join-Path $PSScriptRoot '../../bench/echo_server.c')
        if ($LASTEXITCODE -eq 0) { $targets['C'] = "C=127.0.0.1:$(Start-Peer $exe @('0'))" }
    }
    if (Test-Tool python3) {
        $targets['threads'] = "threads=127.0.0.1:$(Start-Peer python3 @($peerScript, 'threads', '0'))"
        $targets['asyncio'] = "asyncio=127.0.0.1:$(Start-Peer python3 @($peerScript, 'asyncio', '0'))"
    }
    if (Test-Tool socat) {
        $socatPort = Get-FreePort
        $info = [System.Diagnostics.ProcessStartInfo]::new('socat')
        foreach ($a in '-lf/dev/null', "TCP-LISTEN:$socatPort,bind=127.0.0.1,reuseaddr,fork,backlog=1024", 'PIPE') { $info.ArgumentList.Add($a) }
        $processes.Add([System.Diagnostics.Process]::Start($info))
        $up = Wait-Until { try { $c = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $socatPort); $c.Dispose(); $true } catch { $false } } -TimeoutMs 5000
        if ($up) { $targets['socat'] = "socat=127.0.0.1:$socatPort" }
    }

    # One measurement of slots and capacity for every server, shared by the tests below.
    $K = 3; $N = 30
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $measured = Measure-EchoServer @($targets.Values) -Figure Slots, Capacity -Rounds 1 -SlotClients $K -HoldMs 300 -CapacityConnections $N -CapacityWaitSec 1.5 -Size 16
    $clock.Stop(); Write-Host "Slots and capacity of $($targets.Count) servers: $([int]$clock.Elapsed.TotalSeconds) s"
    $byName = @{}
    foreach ($m in $measured) { $byName[$m.Name] = $m }
}

AfterAll {
    if ($echops) { $echops | Stop-Job; $echops | Remove-Job -Force }
    foreach ($p in $processes) {
        if (-not $p.HasExited) { $p.Kill(); $null = $p.WaitForExit(5000) }
        $p.Dispose()
    }
}

Describe 'Measure-EchoServer: slots and capacity tell the I/O model' {
    It 'measures every server once, in the order given, within a bounded time' {
        @($measured.Name) | Should -Be @($targets.Keys)
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 30
        foreach ($m in $measured) { $m.ErrorCount | Should -Be 0 -Because "$($m.Name): $($m.Errors | Out-String)" }
    }

    It 'reads 1 slot for a blocking server (<_>): client k waits about (k-1) hold times' -ForEach @('EchoPS', 'C') {
        if (-not $byName.ContainsKey($_)) { Set-ItResult -Skipped -Because "the $_ server could not be started (gcc missing or failed)"; return }
        $m = $byName[$_]
        $m.Slots | Should -Be 1
        $m.SlotWaitsMs.Count | Should -Be $K
        $m.SlotWaitsMs[2] | Should -BeGreaterThan (2 * 300 * 0.8) -Because 'the third client waits behind two holds'
    }

    It 'reads K slots for a server that serves clients at once (<_>)' -ForEach @('threads', 'asyncio', 'socat') {
        if (-not $byName.ContainsKey($_)) {
            $why = if ($_ -eq 'socat') { ($socat.Reason ?? 'socat did not start') } else { 'python3 is missing' }
            Set-ItResult -Skipped -Because $why; return
        }
        $byName[$_].Slots | Should -Be $K
    }

    It 'finds a capacity of 1 for a blocking server (<_>)' -ForEach @('EchoPS', 'C') {
        if (-not $byName.ContainsKey($_)) { Set-ItResult -Skipped -Because "the $_ server could not be started"; return }
        $m = $byName[$_]
        $m.CapacityRequested | Should -Be $N
        $m.CapacityEchoed | Should -Be 1
        $m.CapacityConnected | Should -BeGreaterOrEqual 1
    }

    It 'finds a capacity of N for a server that holds every connection (<_>)' -ForEach @('threads', 'asyncio', 'socat') {
        if (-not $byName.ContainsKey($_)) { Set-ItResult -Skipped -Because $(if ($_ -eq 'socat') { $socat.Reason ?? 'socat did not start' } else { 'python3 is missing' }); return }
        $m = $byName[$_]
        $m.CapacityConnected | Should -Be $N
        $m.CapacityEchoed | Should -Be $N
        $m.CapacityLastEchoMs | Should -BeLessOrEqual 1500
        $m.CapacityRatio | Should -Be $N -Because 'EchoPS, the baseline, echoes 1'
    }
}

Describe 'Measure-EchoServer: every figure, verified, with ratios to a baseline' {
    It 'gives round trip, stream and connection figures, and ratios against -Baseline' {
        $r = Measure-EchoServer $targets['EchoPS'], "second=127.0.0.1:$($echops.Port)" -Figure RoundTrip, Stream, Connections -Rounds 2 -Count 200 -StreamSec 0.1 -ConnectionCount 50 -Baseline second
        $r.Count | Should -Be 2
        $r[1].IsBaseline | Should -BeTrue
        $r[0].IsBaseline | Should -BeFalse
        $r[0].Baseline | Should -Be 'second'
        $r[1].RttP50Ratio | Should -Be 1
        foreach ($m in $r) {
            $m.ErrorCount | Should -Be 0
            $m.PerRound.Count | Should -Be 2
            $m.RttMinMs | Should -BeLessOrEqual $m.RttP50Ms
            $m.RttP50Ms | Should -BeLessOrEqual $m.RttP99Ms
            $m.RttP99Ms | Should -BeLessOrEqual $m.RttP999Ms
            $m.RttP999Ms | Should -BeLessOrEqual $m.RttMaxMs
            $m.StreamMiBps | Should -BeGreaterThan 0
            $m.ConnectionsPerSec | Should -BeGreaterThan 0
            foreach ($round in $m.PerRound) { [math]::Abs($round.ConnectionMs * $round.ConnectionsPerSec / 1000 - 1) | Should -BeLessThan 0.001 }
            $m.Slots | Should -BeNullOrEmpty -Because 'slots were not asked for'
        }
        $r[0].RttP50Ratio | Should -Be ($r[0].RttP50Ms / $r[1].RttP50Ms)
        $r[0].StreamRatio | Should -Be ($r[0].StreamMiBps / $r[1].StreamMiBps)
    }

    It 'counts mismatched bytes as errors of each figure, and writes EchoMeasureFailed' {
        $broken = New-BrokenEchoServer -Behaviour FlipByte -Offset 40
        try {
            $r = Measure-EchoServer "broken=127.0.0.1:$($broken.Port)" -Figure RoundTrip, Connections -Rounds 1 -Count 10 -ConnectionCount 5 -Size 64 -ErrorVariable failures -ErrorAction SilentlyContinue
        } finally { $broken.Dispose() }
        $r.ErrorCount | Should -BeGreaterThan 0
        @($r.Errors | Where-Object Figure -eq 'RoundTrip').Status | Should -Contain 'Mismatch'
        @($r.Errors | Where-Object Figure -eq 'Connections').Status | Should -Contain 'Mismatch'
        $r.RttP50Ms | Should -BeNullOrEmpty -Because 'a round trip that came back wrong is no figure'
        $failures.FullyQualifiedErrorId | Should -Contain 'EchoMeasureFailed,EchoPS.Commands.MeasureEchoServerCommand'
    }

    It 'gives a refused server a result with errors per figure, quickly' {
        $port = Get-FreePort
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $r = Measure-EchoServer "127.0.0.1:$port" -Quick -ErrorAction SilentlyContinue
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 15
        $r.Name | Should -Be "127.0.0.1:$port"
        @($r.Errors.Figure) | Should -Contain 'Connections'
        @($r.Errors | Where-Object Status -eq 'Refused').Count | Should -BeGreaterThan 0
        $r.CapacityEchoed | Should -Be 0
    }
}

Describe 'Measure-EchoServer: report, views, input and stopping' {
    It 'writes report.md, measurement.json and SVG charts with -Path' {
        $dir = Join-Path $TestDrive 'report'
        $r = Measure-EchoServer $targets['EchoPS'], ($targets['asyncio'] ?? $targets['EchoPS']) -Figure RoundTrip, Slots, Capacity -Rounds 1 -Count 100 -SlotClients 2 -HoldMs 100 -CapacityConnections 10 -CapacityWaitSec 0.3 -Path $dir
        # The asyncio peer is a process of its own, found by its port and observed: its CPU per operation gets servercost.svg.
        @(Get-ChildItem $dir -Name | Sort-Object) | Should -Be (@('capacity.svg', 'latency.svg', 'measurement.json', 'report.md') + @(if ($targets['asyncio']) { 'servercost.svg' }) + 'slots.svg')
        foreach ($svg in Get-ChildItem $dir -Filter *.svg) { ([xml](Get-Content $svg -Raw)).DocumentElement.LocalName | Should -Be 'svg' }
        $report = Get-Content (Join-Path $dir 'report.md') -Raw
        $report | Should -Match '## Set-up'
        $report | Should -Match '\| EchoPS \|'
        $report | Should -Match 'Stream: not measured \(not asked for'
        $report | Should -Match 'throughput.svg: no stream figures'
        $json = Get-Content (Join-Path $dir 'measurement.json') -Raw | ConvertFrom-Json
        $json.Results.Count | Should -Be 2
        $json.Results[0].RttP50Ms | Should -Be $r[0].RttP50Ms
    }

    It 'leaves every legend entry room for DejaVu Sans, the font the charts name (it was cut off)' {
        $svg = [xml](Get-Content (Join-Path $TestDrive 'report/slots.svg') -Raw)
        $ns = @{ s = 'http://www.w3.org/2000/svg' }
        $entries = @(Select-Xml -Xml $svg -XPath '//s:g[@clip-path][s:polyline]/s:text' -Namespace $ns | ForEach-Object Node)
        $entries.Count | Should -BeGreaterThan 0
        foreach ($text in $entries) {
            $text.'font-family' | Should -BeLike 'DejaVu Sans*'
            $clip = $text.ParentNode.'clip-path' -replace '^url\(#|\)$'
            $rect = (Select-Xml -Xml $svg -XPath "//s:clipPath[@id='$clip']/s:rect" -Namespace $ns).Node
            $x = [double]($text.transform -replace '^translate\(([\d.]+),.*$', '$1')
            # Half the font size a character is a lower bound for DejaVu Sans on such labels (about 0.52 here).
            $x + 0.5 * [double]$text.'font-size' * $text.InnerText.Length | Should -BeLessOrEqual ([double]$rect.x + [double]$rect.width) -Because "'$($text.InnerText)' must fit its legend"
        }
    }

    It 'shows one row per server with ratios, also for deserialized results' {
        $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($measured))
        $text = $copy | Format-Table -View Wide | Out-String -Width 200
        $text | Should -Match 'xCapacity'
        $text | Should -Match "EchoPS\s.*\s1/$N\s"
        ($copy | Format-List | Out-String) | Should -Match 'SlotWaitsMs'
    }

    It 'takes servers piped from Get-BlockingEchoServer and jobs' {
        $r = $echops | Measure-EchoServer -Figure RoundTrip -Count 20 -Rounds 1
        $r.Port | Should -Be $echops.Port
        $r.Name | Should -Be $echops.Name
        $r.ErrorCount | Should -Be 0
    }

    It 'rejects <Case> with a clear error naming the value' -ForEach @(
        @{ Case = 'a target without a port'; Arguments = @{ Target = '127.0.0.1' }; Id = 'InvalidTarget,EchoPS.Commands.MeasureEchoServerCommand'; Text = "'127.0.0.1' is not host:port" }
        @{ Case = 'an IPv6 target without brackets'; Arguments = @{ Target = '::1:8080' }; Id = 'InvalidTarget,EchoPS.Commands.MeasureEchoServerCommand'; Text = 'is not host:port' }
        @{ Case = 'an unknown baseline'; Arguments = @{ Target = '127.0.0.1:7'; Baseline = 'nope' }; Id = 'BaselineNotFound,EchoPS.Commands.MeasureEchoServerCommand'; Text = "-Baseline 'nope' names none" }
    ) {
        { Measure-EchoServer @Arguments -ErrorAction Stop } | Should -Throw -ExpectedMessage "*$Text*" -ErrorId $Id
    }

    It 'stops within a second on Ctrl+C and leaves no connection open' {
        if (-not (Test-Path /proc/self/fd)) { Set-ItResult -Skipped -Because 'open sockets are counted in /proc/self/fd (Linux)'; return }
        # A capacity probe against a blocking server holds its connections for the whole wait: 30 s here.
        $target = $targets['C'] ?? $targets['EchoPS']
        $open = { @(Get-ChildItem /proc/self/fd -ErrorAction SilentlyContinue).Count }
        # The probe's connections, exactly: established ones whose remote port is the target's (this process's other
        # descriptors come and go: a count of all of them fell 5 short of 100 held on a loaded machine).
        $port = '{0:X4}' -f [int]($target -replace '^.*:', '')
        $probes = { @(Get-Content /proc/net/tcp, /proc/net/tcp6 -ErrorAction SilentlyContinue | Where-Object { ($_.Trim() -split '\s+')[2] -like "*:$port" -and ($_.Trim() -split '\s+')[3] -eq '01' }).Count }
        $before = & $open
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddCommand('Import-Module').AddArgument($ModuleManifest).AddStatement().
                AddCommand('Measure-EchoServer').AddParameter('Target', $target).AddParameter('Figure', 'Capacity').AddParameter('CapacityConnections', 100).AddParameter('CapacityWaitSec', 30)
            $handle = $ps.BeginInvoke()
            $held = Wait-Until { (& $probes) -ge 100 } -TimeoutMs 20000
            if (-not $held) {
                # By index: enumerating a stream of a running PowerShell waits for its end.
                $errors = for ($i = 0; $i -lt $ps.Streams.Error.Count; $i++) { "$($ps.Streams.Error[$i])" }
                $state = $ps.InvocationStateInfo
                $held | Should -BeTrue -Because ("the capacity probe holds its connections ($(& $probes) established to the target, $(& $open) descriptors open, $before before; " +
                    "the measurer $($state.State) $($state.Reason) $($errors -join '; '))")
            }
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            Wait-Until { $handle.IsCompleted } -TimeoutMs 5000 | Should -BeTrue
            $clock.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 3 -Because 'Ctrl+C ends the probe long before its 30 s wait (a loaded machine may take more than a second)'
            Wait-Until { (& $open) -le $before + 5 } -TimeoutMs 3000 | Should -BeTrue -Because "every probe connection is closed ($(& $open) descriptors open, $before before)"
        } finally { $ps.Dispose() }
    }
}
