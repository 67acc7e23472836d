# The lab's own check, with a real netcat as the seed describes it: run the server, `nc 127.0.0.1 PORT`, type a line,
# get it back; a second nc started while the first is connected waits until the first quits.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module $ModuleManifest -Force

    # Debian's netcat-openbsd, installed by the project's own helper when it is missing (or skipped, saying why).
    $script:NcSkip = if (-not $IsLinux) { 'netcat-openbsd is a Debian package: this test needs Linux' }
    else {
        $nc = Install-DebianTool @{ nc = 'netcat-openbsd' }
        if (-not $nc.Available) { $nc.Reason }
    }
    $script:Started = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    # nc connected to the server, its stdin and stdout redirected so the test types and reads as a user would.
    function Start-Netcat([int] $Port) {
        $info = [System.Diagnostics.ProcessStartInfo]::new('nc')
        foreach ($arg in '127.0.0.1', "$Port") { $info.ArgumentList.Add($arg) }
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($info)
        $Started.Add($process)
        $process
    }

    # Types a line into nc, as a user does, and returns the pending read of the next line nc prints.
    function Send-Line([System.Diagnostics.Process] $Nc, [string] $Line) {
        $Nc.StandardInput.Write("$Line`n")
        $Nc.StandardInput.Flush()
        $Nc.StandardOutput.ReadLineAsync()
    }

    # Quits nc as Ctrl+C does (SIGINT), bounded; killed if it does not end.
    function Stop-Netcat([System.Diagnostics.Process] $Nc) {
        if (-not $Nc.HasExited) { & kill -INT $Nc.Id }
        if (-not $Nc.WaitForExit(5000)) { $Nc.Kill(); $null = $Nc.WaitForExit(5000) }
    }
}

AfterAll {
    foreach ($process in $Started) { if (-not $process.HasExited) { $process.Kill(); $null = $process.WaitForExit(5000) } }
    Stop-AllTestServers
}

Describe 'The seed exercise with nc' {
    BeforeEach { if ($NcSkip) { Set-ItResult -Skipped -Because $NcSkip } }

    It 'echoes the first nc''s line; a second nc gets nothing until the first quits, then its own line' {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            $first = Start-Netcat $job.Port
            $reply = Send-Line $first 'hello'
            $reply.Wait(5000) | Should -BeTrue -Because 'the first nc gets its line back'
            $reply.Result | Should -Be 'hello'
            (Get-BlockingEchoServer -Port $job.Port).CurrentClient | Should -Not -BeNullOrEmpty

            $second = Start-Netcat $job.Port
            $waiting = Send-Line $second 'second in line'
            # The kernel completed the second connection (it sits in the backlog), but the server does not read it.
            $toServer = ':{0:X4} 01 ' -f $job.Port   # remote port, state ESTABLISHED in /proc/net/tcp
            Wait-Until { @(Get-Content /proc/net/tcp | Where-Object { $_.Contains($toServer) }).Count -ge 2 } | Should -BeTrue
            $waiting.Wait(1000) | Should -BeFalse -Because 'the blocking server serves one client at a time'
            $second.HasExited | Should -BeFalse

            Stop-Netcat $first
            $waiting.Wait(5000) | Should -BeTrue -Because 'once the first nc quits, the second is served'
            $waiting.Result | Should -Be 'second in line'
            Stop-Netcat $second

            Wait-Until { @($job.Output | Where-Object Kind -EQ 'Disconnected').Count -ge 2 } | Should -BeTrue
            @($job.Output | Where-Object Kind -EQ 'Disconnected').BytesEchoed | Should -Be @(6, 15)
        }
        finally { $job | Remove-Job -Force }
    }
}
