# What the console, a log file and a supervisor see of a server: an early pipeline end is quiet, a real Ctrl+C writes
# out what is queued as rows of the normal view, SIGTERM and SIGHUP stop a foreground server cleanly, redirected
# output is plain text, -LogPath writes one JSON object per event with a size cap, and -Concurrency numbers its
# clients in the order they were served.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Function Install-DebianTool
    Import-Module $ModuleManifest -Force
    if (-not ('RecordingHost' -as [type])) {
        Add-Type -Path (Join-Path $PSScriptRoot 'FloodHelpers.cs')
    }
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

    function Invoke-WithRecordingHost {
        # Runs $Script in a runspace whose host records every line written to it; returns the output, the host's
        # lines and the error, if any.
        param([Parameter(Mandatory)] [string] $Script)
        $recorder = [RecordingHost]::new()
        $runspace = [runspacefactory]::CreateRunspace($recorder)
        $runspace.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $runspace
        try {
            $null = $ps.AddScript($Script)
            $handle = $ps.BeginInvoke()
            if (-not $handle.AsyncWaitHandle.WaitOne(30000)) { $ps.Stop(); throw "The script did not end within 30 s: $Script" }
            $failure = $null
            $output = try { @($ps.EndInvoke($handle)) } catch { $failure = $_; @() }
            [pscustomobject]@{ Output = $output; HostLines = @($recorder.Lines); Failure = $failure }
        }
        finally {
            $ps.Dispose()
            $runspace.Dispose()
        }
    }

    function Start-ServerProcess {
        # A real pwsh process (not the dotnet launcher) running a foreground server with its output redirected, as a
        # service manager or `> file` runs it.
        # -Env: arguments for env(1) before pwsh, e.g. '--default-signal=HUP' (a signal disposition is inherited).
        param([Parameter(Mandatory)] [int] $Port, [string] $Arguments = '', [string[]] $Env = @())
        $info = [System.Diagnostics.ProcessStartInfo]::new($(if ($Env) { 'env' } else { $script:Pwsh }))
        if ($Env) { foreach ($arg in $Env + $script:Pwsh) { $info.ArgumentList.Add($arg) } }
        foreach ($arg in '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port $Port $Arguments") {
            $info.ArgumentList.Add($arg)
        }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($info)
        [pscustomobject]@{ Process = $process; Stdout = New-OutputCapture $process.StandardOutput.BaseStream; Stderr = New-OutputCapture $process.StandardError.BaseStream }
    }

    function New-OutputCapture([IO.Stream] $Stream) {
        # A process's output copied as it comes: SoFar to wait for a row, Result (as a Task's) once it has ended.
        $capture = [pscustomobject]@{ Buffer = [IO.MemoryStream]::new(); Copy = $null }
        $capture.Copy = $Stream.CopyToAsync($capture.Buffer)
        $capture | Add-Member ScriptProperty SoFar { try { [Text.Encoding]::UTF8.GetString($this.Buffer.ToArray()) } catch { '' } }
        $capture | Add-Member ScriptProperty Result { $null = $this.Copy.Wait(30000); [Text.Encoding]::UTF8.GetString($this.Buffer.ToArray()) }
        $capture
    }

    function Stop-ServerProcess($Server) {
        # Leaves nothing behind, whatever the test did.
        if (-not $Server.Process.HasExited) { $Server.Process.Kill($true); $null = $Server.Process.WaitForExit(10000) }
        $Server.Process.Dispose()
    }
}

AfterAll {
    Stop-AllTestServers
}

Describe 'An early end of the pipeline' {
    It 'Select-Object -First 1 returns the Listening event and writes nothing to the host' {
        $port = Get-FreePort
        $run = Invoke-WithRecordingHost "Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port $port | Select-Object -First 1"
        $run.Failure | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 1
        $run.Output[0].Kind | Should -Be 'Listening'
        # Before: "Stopped by Ctrl+C; events not yet written:" and the Listening and Stopped rows, though nobody pressed Ctrl+C.
        @($run.HostLines | Where-Object { "$_".Trim() }) | Should -BeNullOrEmpty
        Test-PortFree -Port $port | Should -BeTrue
    }

    It 'a downstream error ends the server quietly and frees the port' {
        $port = Get-FreePort
        $run = Invoke-WithRecordingHost "Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port $port | ForEach-Object { throw 'downstream failure' }"
        "$($run.Failure)" | Should -Match 'downstream failure'
        @($run.HostLines | Where-Object { "$_".Trim() }) | Should -BeNullOrEmpty
        Test-PortFree -Port $port | Should -BeTrue
    }
}

Describe 'Ctrl+C on a terminal' {
    It 'writes the final Stopped event as a row of the normal view, with Echoed, Duration and "1 client served"' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'the pseudo-terminal comes from tmux, on Linux'; return }
        $tool = Install-DebianTool @{ tmux = 'tmux' }
        if (-not $tool.Available) { Set-ItResult -Skipped -Because $tool.Reason; return }
        $port = Get-FreePort
        $session = "echops-console-$PID-$(Get-Random -Maximum 100000)"
        $child = Join-Path ([IO.Path]::GetTempPath()) "$session.ps1"
        Set-Content -LiteralPath $child -Value "Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Port $port"
        # A wide pane, so that the row is not cut; the shell waits after pwsh so the pane can still be read. A tmux
        # server of its own (-L): it ends with the session.
        & tmux -L $session new-session -d -s $session -x 160 -y 50 "'$script:Pwsh' -NoProfile -NoLogo -File '$child'; sleep 60"
        try {
            $LASTEXITCODE | Should -Be 0
            $pane = { (& tmux -L $session capture-pane -p -t $session -S -100) -join "`n" }
            Wait-Until { -not (Test-PortFree -Port $port) } -TimeoutMs 30000 | Should -BeTrue
            $client = New-TestClient -Port $port
            try { (Invoke-Echo -Client $client -Bytes ([byte[]](1..5))).Length | Should -Be 5 } finally { $client.Dispose() }
            Wait-Until { (& $pane) -match 'Disconnected' } -TimeoutMs 10000 | Should -BeTrue
            & tmux -L $session send-keys -t $session C-c
            Wait-Until { (& $pane) -match 'client served' } -TimeoutMs 10000 | Should -BeTrue
            $text = & $pane
            $text | Should -Match 'Stopped by Ctrl\+C; events not yet written:'
            $lines = $text -split "`n"
            $stopped = @($lines | Where-Object { $_ -match '^\d\d:\d\d:\d\d\.\d{3}\s+Stopped\s' })
            $stopped | Should -HaveCount 1
            # The normal view's row: the bytes echoed (5 B), a duration, and the grammar of one client.
            $stopped[0] | Should -Match "\sStopped\s+127\.0\.0\.1:$port\s+5 B\s+[\d,.]+\s+1 client served\s*$"
            @($lines | Where-Object { $_ -match '^Time\s+Kind\s+Endpoint\s+Echoed\s+Dur' }).Count | Should -BeGreaterOrEqual 2
            Test-PortFree -Port $port | Should -BeTrue
        }
        finally {
            & tmux -L $session kill-session -t $session 2>$null
            Remove-Item -LiteralPath $child -ErrorAction SilentlyContinue
        }
    }
}

Describe 'SIGTERM and SIGHUP on a foreground server' {
    It 'stops cleanly on <Signal>: exit code 0, the Stopped event written, the port freed, no process left' -TestCases @(
        @{ Signal = 'TERM' }, @{ Signal = 'HUP' }) {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'POSIX signals are tested on Linux'; return }
        $port = Get-FreePort
        # The signal's default disposition, whatever this test run inherited (under nohup SIGHUP is ignored, and a
        # process that ignores it since it starts keeps ignoring it: the next test).
        $server = Start-ServerProcess -Port $port -Env "--default-signal=$Signal"
        try {
            Wait-Until { -not (Test-PortFree -Port $port) } -TimeoutMs 30000 | Should -BeTrue
            $client = New-TestClient -Port $port
            try { (Invoke-Echo -Client $client -Bytes ([byte[]](1..3))).Length | Should -Be 3 } finally { $client.Dispose() }
            # The client's Disconnected row written: the pipeline thread runs its loop, its signal handlers in place.
            Wait-Until { $server.Stdout.SoFar -match '\sDisconnected\s' } -TimeoutMs 30000 | Should -BeTrue
            & kill "-$Signal" $server.Process.Id
            $server.Process.WaitForExit(20000) | Should -BeTrue -Because 'the server stops within seconds'
            $server.Process.ExitCode | Should -Be 0 -Because "before, SIGTERM ended pwsh at once with 143 and no Stopped event: $($server.Stderr.Result)"
            $out = $server.Stdout.Result
            $out | Should -Match "\sStopped\s+127\.0\.0\.1:$port\s"
            $out | Should -Match "\sDisconnected\s+127\.0\.0\.1:\d+\s"
            Test-PortFree -Port $port | Should -BeTrue
            # Output to a pipe or file: plain text, no colour codes.
            $out.Contains([char]27) | Should -BeFalse
        }
        finally { Stop-ServerProcess $server }
    }
}

Describe 'SIGHUP ignored since the process started (nohup)' {
    It 'is not claimed as a way to stop the server, leaves it serving, and SIGTERM still stops it cleanly' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'POSIX signals are tested on Linux'; return }
        $port = Get-FreePort
        $server = Start-ServerProcess -Port $port -Arguments '-Verbose' -Env '--ignore-signal=HUP', '--default-signal=TERM'
        try {
            # The Listening row comes after both -Verbose lines of the start (the second one may lag the first).
            Wait-Until { $server.Stdout.SoFar -match '\sListening\s+127\.0\.0\.1:' } -TimeoutMs 30000 | Should -BeTrue
            $verbose = $server.Stdout.SoFar
            # Before: "Ctrl+C, Stop-BlockingEchoServer, SIGTERM or SIGHUP stops it." though SIGHUP stopped nothing.
            $verbose | Should -Match 'Ctrl\+C, Stop-BlockingEchoServer or SIGTERM stops it\.'
            $verbose | Should -Match 'SIGHUP is ignored by this process since it started \(inherited, as under nohup\): it does not stop the server\.'
            & kill -HUP $server.Process.Id
            # The kernel drops a signal the process ignores: SIGHUP's bit (1) stays set in the server's SigIgn.
            $sigIgn = (Get-Content "/proc/$($server.Process.Id)/status" | Where-Object { $_ -like 'SigIgn:*' }) -replace '^SigIgn:\s*'
            ([Convert]::ToUInt64($sigIgn, 16) -band 1) | Should -Be 1
            $client = New-TestClient -Port $port
            try { (Invoke-Echo -Client $client -Bytes ([byte[]](1..3))).Length | Should -Be 3 } finally { $client.Dispose() }
            $server.Process.HasExited | Should -BeFalse
            & kill -TERM $server.Process.Id
            $server.Process.WaitForExit(20000) | Should -BeTrue -Because 'SIGTERM still stops it'
            $server.Process.ExitCode | Should -Be 0
            $out = $server.Stdout.Result
            $out | Should -Match "\sStopped\s+127\.0\.0\.1:$port\s"
            $out | Should -Match 'VERBOSE: Stopped by SIGTERM\.'
            $out | Should -Match "\sDisconnected\s+127\.0\.0\.1:\d+\s+3 B\s"
        }
        finally { Stop-ServerProcess $server }
    }
}

Describe 'build.ps1 -Task Serve through the dotnet launcher' {
    It 'kill -TERM of the launcher stops the real server cleanly: port freed, no process left' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'the launcher watch reads /proc, on Linux'; return }
        $root = Resolve-Path (Join-Path $PSScriptRoot '../..')
        $port = Get-FreePort
        $info = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($arg in 'pwsh', '-NoProfile', '-NonInteractive', './build.ps1', '-Task', 'Serve', '-Port', "$port", '-NoBuild') { $info.ArgumentList.Add($arg) }
        $info.WorkingDirectory = $root
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $launcher = [System.Diagnostics.Process]::Start($info)
        $stdout = $launcher.StandardOutput.ReadToEndAsync()
        $serving = { @(Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d+$' | Where-Object {
                    $line = Get-Content -Raw "/proc/$($_.Name)/cmdline" -ErrorAction SilentlyContinue
                    $line -and ($line -replace "`0", ' ') -match "-Task Serve -Port $port " }) }
        try {
            Wait-Until { -not (Test-PortFree -Port $port) } -TimeoutMs 60000 | Should -BeTrue
            & kill -TERM $launcher.Id
            # Before: the launcher died and the real pwsh kept serving on the port.
            Wait-Until { Test-PortFree -Port $port } -TimeoutMs 15000 | Should -BeTrue
            Wait-Until { @(& $serving).Count -eq 0 } -TimeoutMs 15000 | Should -BeTrue
            $null = $launcher.WaitForExit(10000)
            $stdout.Result | Should -Match "\sStopped\s+127\.0\.0\.1:$port\s"
        }
        finally {
            foreach ($left in & $serving) { Stop-Process -Id ([int]$left.Name) -Force -ErrorAction SilentlyContinue }
            if (-not $launcher.HasExited) { $launcher.Kill($true) }
            $launcher.Dispose()
        }
    }
}

Describe 'Logs fit for a file' {
    It 'redirected output has no ESC byte and every row: Listening, Connected, Disconnected, Stopped' {
        if (-not $IsLinux) { Set-ItResult -Skipped -Because 'stopped by SIGTERM, on Linux'; return }
        $port = Get-FreePort
        $server = Start-ServerProcess -Port $port -Arguments '-Verbose'
        try {
            Wait-Until { -not (Test-PortFree -Port $port) } -TimeoutMs 30000 | Should -BeTrue
            $client = New-TestClient -Port $port
            try { $null = Invoke-Echo -Client $client -Bytes ([byte[]](1..3)) } finally { $client.Dispose() }
            Wait-Until { $server.Stdout.SoFar -match '\sDisconnected\s' } -TimeoutMs 30000 | Should -BeTrue
            & kill -TERM $server.Process.Id
            $server.Process.WaitForExit(20000) | Should -BeTrue
            $out = $server.Stdout.Result
            # Before: the table's header and verbose lines carried $PSStyle colour sequences in the file.
            $out.Contains([char]27) | Should -BeFalse
            foreach ($kind in 'Listening', 'Connected', 'Disconnected', 'Stopped') {
                $out | Should -Match "(?m)^\d\d:\d\d:\d\d\.\d{3}\s+$kind\s"
            }
            $out | Should -Match '(?m)^VERBOSE: Stopped by SIGTERM\.'
        }
        finally { Stop-ServerProcess $server }
    }

    It '-LogPath writes one JSON object per event, flushed as it happens, never the payload (job server)' {
        $path = Join-Path $TestDrive 'job-events.jsonl'
        $job = Start-BlockingEchoServer -Port 0 -AsJob -LogPath $path
        try {
            $secret = [Text.Encoding]::ASCII.GetBytes('PAYLOAD-MUST-NOT-BE-LOGGED')
            foreach ($i in 1..3) {
                $client = New-TestClient -Port $job.Port
                try { $null = Invoke-Echo -Client $client -Bytes $secret } finally { $client.Dispose() }
            }
            # Flushed per event: the log has the clients' events while the server still runs.
            Wait-Until { @(Get-Content -LiteralPath $path).Count -ge 7 } -TimeoutMs 5000 | Should -BeTrue
            Stop-BlockingEchoServer -Port $job.Port
            $events = @(Receive-Job $job -Wait)
            $lines = @(Get-Content -LiteralPath $path)
            $lines.Count | Should -Be $events.Count
            $parsed = @($lines | ForEach-Object { $_ | ConvertFrom-Json })
            $parsed.Kind | Should -Be ([string[]]$events.Kind)
            $parsed[-1].Kind | Should -Be 'Stopped'
            $parsed[-1].ClientsServed | Should -Be 3
            @($parsed | Where-Object Kind -EQ 'Disconnected').BytesEchoed | Should -Be ($secret.Length, $secret.Length, $secret.Length)
            (Get-Content -Raw -LiteralPath $path) | Should -Not -Match 'PAYLOAD'
        }
        finally { $job | Remove-Job -Force }
    }

    It '-LogPath moves the file to .1 at -LogMaxBytes, so neither file passes the cap' {
        $path = Join-Path $TestDrive 'capped.jsonl'
        $cap = 4096
        $job = Start-BlockingEchoServer -Port 0 -AsJob -LogPath $path -LogMaxBytes $cap -EventRateLimit 0
        try {
            foreach ($i in 1..15) {
                $client = New-TestClient -Port $job.Port
                try { $null = Invoke-Echo -Client $client -Bytes ([byte[]](1)) } finally { $client.Dispose() }
            }
            Stop-BlockingEchoServer -Port $job.Port
            $events = @(Receive-Job $job -Wait)
            $events.Count | Should -Be 32
            Test-Path -LiteralPath "$path.1" | Should -BeTrue
            (Get-Item -LiteralPath $path).Length | Should -BeLessOrEqual $cap
            (Get-Item -LiteralPath "$path.1").Length | Should -BeLessOrEqual $cap
            $kept = @(Get-Content -LiteralPath "$path.1") + @(Get-Content -LiteralPath $path)
            # Whole lines only: every kept line parses, and they are the newest events, in order, ending with Stopped.
            $parsed = @($kept | ForEach-Object { $_ | ConvertFrom-Json })
            $parsed.Count | Should -BeLessThan $events.Count
            $parsed.Kind | Should -Be ([string[]]($events | Select-Object -Last $parsed.Count).Kind)
            $parsed[-1].Kind | Should -Be 'Stopped'
        }
        finally { $job | Remove-Job -Force }
    }

    It '-LogPath that cannot be opened is a clear error before the server starts' {
        $port = Get-FreePort
        $bad = Join-Path $TestDrive 'no-such-folder/events.jsonl'
        { Start-BlockingEchoServer -Port $port -AsJob -LogPath $bad -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidLogPath,EchoPS.Commands.StartBlockingEchoServerCommand'
        Test-PortFree -Port $port | Should -BeTrue
    }
}

Describe '-Concurrency numbering' {
    It 'numbers and lists the clients in the order they were served, so client k waited about k-1 holds' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $hold = 300
            $r = Test-EchoRoundTrip 127.0.0.1 -Port $job.Port -Concurrency 5 -HoldMs $hold
            $r.Status | Should -Be 'Success'
            # Before: listed by wait, but numbered in the order the client threads started (e.g. 3, 2, 1).
            $r.Clients.Client | Should -Be 1, 2, 3, 4, 5
            $waits = [double[]]$r.Clients.WaitMs
            for ($k = 1; $k -lt $waits.Count; $k++) {
                $waits[$k] | Should -BeGreaterThan $waits[$k - 1]
                # Generous: each later client queued behind at least half a hold per client before it.
                $waits[$k] | Should -BeGreaterThan ($k * $hold * 0.5)
            }
        }
        finally { $job | Remove-Job -Force }
    }
}
