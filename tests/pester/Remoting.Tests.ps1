# PowerShell remoting over SSH, for real, as admins on Linux use it to check plumbing between machines: two network
# namespaces joined by a veth pair (192.0.2.0/24, TEST-NET-1, which exists only inside them), an OpenSSH server from
# Debian's packages started here in each namespace with its own config, host key and PowerShell as its "powershell"
# subsystem, and a key made for this run. From the admin's namespace (Remoting.Client.ps1): New-PSSession -HostName,
# a locked-down server started remotely as a job, Test-EchoRoundTrip through the link, the remote events, a fan-out
# over two hosts with -ThrottleLimit, and every output type's views compared across the session.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    $skipReason = Get-NetworkNamespaceSkipReason

    $pwsh = Join-Path $PSHOME 'pwsh'
    $hostNs = "echops-rh-$PID"     # the remote host
    $adminNs = "echops-ra-$PID"    # the admin's host, also the fan-out's second host
    $hostIp = '192.0.2.1'
    $adminIp = '192.0.2.2'
    $strangerIp = '192.0.2.3'
    $work = Join-Path ([IO.Path]::GetTempPath()) "echops-ssh-$PID"
    $sshdProcesses = @()
    $report = $null

    function Invoke-Checked {
        # Runs a native command (the first argument) with the rest as its arguments, passed as they are (no
        # parameter binding here, so '-C' or '-n' reach the command); throws with its output when it fails.
        $command, $arguments = $args
        $out = & $command @arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "$command $arguments failed ($LASTEXITCODE): $out" }
    }

    function Start-Sshd {
        # An sshd for one namespace: its own config, host key, pid and log file in $work; PowerShell as the
        # "powershell" subsystem. Returns the process (sshd -D stays in the foreground, so the test can kill it).
        param([string] $Namespace, [string] $Address)
        $config = Join-Path $work "sshd-$Address.conf"
        $log = Join-Path $work "sshd-$Address.log"
        Set-Content -LiteralPath $config -Value @"
ListenAddress $Address
Port 22
HostKey $work/host_key
PidFile $work/sshd-$Address.pid
AuthorizedKeysFile $work/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel INFO
Subsystem powershell $pwsh -sshs -NoLogo -NoProfile
"@
        $start = [Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($arg in 'netns', 'exec', $Namespace, $sshdPath, '-D', '-f', $config, '-E', $log) { $start.ArgumentList.Add($arg) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($start)
        $listening = Wait-Until { (Test-Path $log) -and (Get-Content $log -Raw) -match 'Server listening' } -TimeoutMs 60000
        if (-not $listening) {
            # Killed before its stderr is read: reading a running process's stream to the end would wait for ever.
            $process.Kill($true)
            $null = $process.WaitForExit(5000)
            $why = if (Test-Path $log) { Get-Content $log -Raw } else { $process.StandardError.ReadToEnd() }
            throw "sshd in $Namespace did not start listening on ${Address}:22 within 60 s: $why"
        }
        $process
    }

    if ($skipReason) { return }

    # The test's own set-up installs OpenSSH's server: a missing package is a failure to fix, never a skip.
    $tool = Install-DebianTool @{ sshd = 'openssh-server' }
    if (-not $tool.Available) { throw "The SSH remoting test needs sshd: $($tool.Reason)" }
    $sshdPath = (Get-Command sshd -CommandType Application | Select-Object -First 1).Source

    $null = New-Item -ItemType Directory -Path $work -Force
    Invoke-Checked ssh-keygen -q -t ed25519 -N '' -C "echops-host-$PID" -f "$work/host_key"
    Invoke-Checked ssh-keygen -q -t ed25519 -N '' -C "echops-admin-$PID" -f "$work/admin_key"
    Copy-Item "$work/admin_key.pub" "$work/authorized_keys"
    # The only host key the admin's ssh trusts: the one made above, for both hosts' addresses.
    $hostKey = (Get-Content "$work/host_key.pub" -Raw).Trim()
    Set-Content "$work/known_hosts" "$hostIp $hostKey`n$adminIp $hostKey"
    # sshd's privilege separation needs this directory; the package's service would create it at boot.
    $null = New-Item -ItemType Directory -Path '/run/sshd' -Force

    Invoke-Checked ip netns add $hostNs
    Invoke-Checked ip netns add $adminNs
    Invoke-Checked ip link add "erh$PID" netns $hostNs type veth peer name "era$PID" netns $adminNs
    Invoke-Checked ip -n $hostNs addr add "$hostIp/24" dev "erh$PID"
    Invoke-Checked ip -n $adminNs addr add "$adminIp/24" dev "era$PID"
    Invoke-Checked ip -n $adminNs addr add "$strangerIp/24" dev "era$PID"
    foreach ($ns in $hostNs, $adminNs) { Invoke-Checked ip -n $ns link set lo up }
    Invoke-Checked ip -n $hostNs link set "erh$PID" up
    Invoke-Checked ip -n $adminNs link set "era$PID" up

    $sshdProcesses += Start-Sshd -Namespace $hostNs -Address $hostIp
    $sshdProcesses += Start-Sshd -Namespace $adminNs -Address $adminIp

    # The fan-out example's matrix pipeline, taken from the help as a user would copy it.
    $help = Get-Content (Join-Path $PSScriptRoot '../../docs/help/Test-EchoRoundTrip.md')
    $first = [array]::FindIndex($help, [Predicate[string]] { param($l) $l -like 'PS> $results | Group-Object PSComputerName*' })
    if ($first -lt 0) { throw 'docs/help/Test-EchoRoundTrip.md has no fan-out matrix example (PS> $results | Group-Object PSComputerName ...)' }
    $last = [array]::FindIndex($help, $first, [Predicate[string]] { param($l) $l -match '^\s*\}\s*\|\s*Format-Table' })
    $matrixScript = (($help[$first..$last] -replace '^PS> ', '') -join "`n") -replace '\|\s*Format-Table\s*$', ''

    $reportPath = Join-Path $work 'report.json'
    $client = [Diagnostics.ProcessStartInfo]::new('timeout')
    foreach ($arg in '600', 'ip', 'netns', 'exec', $adminNs, $pwsh, '-NoProfile', '-NonInteractive', '-File', (Join-Path $PSScriptRoot 'Remoting.Client.ps1'),
        '-Manifest', $ModuleManifest, '-SamplesFile', (Join-Path $PSScriptRoot 'OutputSamples.ps1'), '-KeyFile', "$work/admin_key",
        '-KnownHosts', "$work/known_hosts", '-HostA', $hostIp, '-HostB', $adminIp, '-Stranger', $strangerIp,
        '-MatrixScript', $matrixScript, '-ReportPath', $reportPath) { $client.ArgumentList.Add($arg) }
    $client.RedirectStandardOutput = $true
    $client.RedirectStandardError = $true
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $process = [Diagnostics.Process]::Start($client)
    $stdout = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    $process.WaitForExit()
    $clientOutput = "exit $($process.ExitCode) after $([int]$watch.Elapsed.TotalSeconds) s`n$($stdout.Result)`n$($stderr.Result)"
    $report = if (Test-Path $reportPath) { Get-Content $reportPath -Raw | ConvertFrom-Json }
    if ($process.ExitCode -ne 0 -or -not $report) { Write-Host "    admin side: $clientOutput" }
}

AfterAll {
    # Here, in the scope that started them: deleting a namespace does not end the processes inside it.
    foreach ($process in $sshdProcesses) {
        if ($process -and -not $process.HasExited) { $process.Kill($true); $null = $process.WaitForExit(5000) }
    }
    foreach ($ns in $hostNs, $adminNs) { if ($ns) { & ip netns del $ns 2>$null } }
    if ($work -and (Test-Path $work)) { Remove-Item $work -Recurse -Force }
}

Describe 'PowerShell remoting over SSH between two network namespaces' {
    BeforeEach {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason }
    }

    It 'opens sessions to both hosts over SSH, with the run''s key and host key' {
        $report | Should -Not -BeNullOrEmpty -Because $clientOutput
        $report.RemoteHost | Should -Match 'pid \d+, 7\.'
        $report.SessionStates | Should -Be @('Opened', 'Opened')
    }

    It 'starts a locked-down server remotely as a job that names its server and port' {
        $report.JobTypeNames[0] | Should -Be 'Deserialized.EchoPS.Jobs.EchoServerJob'
        $report.JobPort | Should -BeGreaterThan 0
        $report.JobServerId | Should -BeGreaterThan 0
        $report.JobTable | Should -Match "EchoServer$($report.JobPort)\s+Running\s+\w+\s+$($report.JobServerId)\s+${hostIp}:$($report.JobPort)"
    }

    It 'gets every byte back through the link from the admin''s host' {
        $report.Result.Status | Should -Be 'Success'
        $report.Result.Address | Should -Be $hostIp
        $report.Result.RoundTrips | Should -Be 20
        $report.Result.LocalEndPoint | Should -BeLike "${adminIp}:*"
        $report.ResultTable | Should -Match "$hostIp\s+$hostIp\s+$($report.JobPort) Success"
    }

    It 'reports the client''s real address in the remote server''s events, and turns away the stranger' {
        $kinds = @($report.Events.Kind)
        $kinds[0] | Should -Be 'Listening'
        $kinds[-1] | Should -Be 'Stopped'
        $served = @($report.Events | Where-Object { $_.Kind -eq 'Connected' -and $_.RemoteEndPoint -eq $report.Result.LocalEndPoint })
        $served.Count | Should -Be 1 -Because "the remote side saw the admin's test come from $($report.Result.LocalEndPoint)"
        # Turned away: the stranger, and (in the fan-out below) the remote host's own test of its server.
        $rejected = @($report.Events | Where-Object Kind -EQ 'Rejected')
        @($rejected | Where-Object RemoteEndPoint -Like "${strangerIp}:*").Count | Should -Be 1
        @($rejected | Where-Object RemoteEndPoint -NotLike "${strangerIp}:*" | Where-Object RemoteEndPoint -NotLike "${hostIp}:*") | Should -BeNullOrEmpty
        $rejected | ForEach-Object { $_.Reason | Should -Be 'NotAllowed' }
        @($report.Events | Where-Object { $_.Kind -eq 'Connected' -and $_.RemoteEndPoint -notlike "${adminIp}:*" }) | Should -BeNullOrEmpty
        Write-Host "    the remote server's events, shown here:`n$($report.EventsTable)"
        $report.Events[0].PSComputerName | Should -Be $hostIp
    }

    It 'fans out: each host tests each target, one table with PSComputerName, a matrix, CSV and JSON' {
        Write-Host "    fan-out results:`n$($report.FanOutTable)`n    default view:`n$($report.FanOutDefaultTable)`n    matrix:`n$($report.MatrixTable)"
        $report.FanOut.Count | Should -Be 6
        foreach ($row in $report.FanOut) {
            $expected = if ($row.Port -eq 9) { 'Refused' }
            elseif ($row.PSComputerName -eq $hostIp -and $row.TargetName -eq $hostIp) { 'not Success: the allowlist admits only the admin host' }
            else { 'Success' }
            if ($expected -like 'not*') { $row.Status | Should -Not -Be 'Success' -Because $expected }
            else { $row.Status | Should -Be $expected -Because "$($row.PSComputerName) -> $($row.TargetName):$($row.Port)" }
            if ($row.Status -eq 'Success') { $row.LocalEndPoint | Should -BeLike "$($row.PSComputerName):*" }
        }
        $report.FanOutDefaultTable | Should -Match 'PSComputerName' -Because 'results from sessions show where they came from'
        @($report.Matrix).Count | Should -Be 2
        $report.MatrixTable | Should -Match 'Source'
        $cell = ($report.Matrix | Where-Object Source -EQ $adminIp)."${hostIp}:$($report.JobPort)"
        $cell | Should -Match '^Success \d+\.\d{3}$'
        ($report.Matrix | Where-Object Source -EQ $adminIp)."${hostIp}:9" | Should -Be 'Refused'
        @($report.Csv).Count | Should -Be 6
        @($report.Csv.Status) | Should -Contain 'Refused'
        @($report.Csv.PSComputerName | Sort-Object -Unique) | Should -Be @($hostIp, $adminIp)
        @($report.Json.Status) | Should -Contain 'Success'
    }

    It 'shows every output type made on the remote host exactly as the remote host showed it' {
        @($report.Views).Count | Should -BeGreaterThan 4
        foreach ($view in $report.Views) {
            $view.Count | Should -BeGreaterThan 0 -Because $view.Type
            $view.TypeNames | Should -Be "Deserialized.$($view.Type)"
            $view.LocalTable | Should -Be $view.RemoteTable -Because "$($view.Type)'s table view"
            $view.LocalList | Should -Be $view.RemoteList -Because "$($view.Type)'s list view"
            @($view.Lost) | Should -BeNullOrEmpty -Because "$($view.Type)'s properties keep their meaning"
        }
    }
}
