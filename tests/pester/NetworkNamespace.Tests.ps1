# A plumbing check across a real (virtual) network: the server in one network namespace, clients in another,
# joined by a veth pair with documentation-range addresses (198.51.100.0/24) that exist only inside these namespaces.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    $skipReason = Get-NetworkNamespaceSkipReason
    $pwsh = Join-Path $PSHOME 'pwsh'
    $serverNs = "echops-srv-$PID"
    $clientNs = "echops-cli-$PID"
    $serverIp = '198.51.100.1'
    $clientIp = '198.51.100.2'
    $strangerIp = '198.51.100.3'
    $port = 7007
    $eventLog = Join-Path ([IO.Path]::GetTempPath()) "echops-netns-events-$PID.jsonl"

    function Invoke-Ip {
        param([Parameter(ValueFromRemainingArguments)] [string[]] $Arguments)
        $out = & ip @Arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "ip $Arguments failed: $out" }
    }

    function Invoke-InClientNamespace {
        # Runs a script in a fresh pwsh inside the client namespace; returns its output (bounded by a timeout).
        param([Parameter(Mandatory)] [string] $Script, [int] $TimeoutSec = 60)
        $full = "Import-Module '$ModuleManifest'; . '$PSScriptRoot/EchoTestHelpers.ps1'; $Script"
        $output = & timeout $TimeoutSec ip netns exec $clientNs $pwsh -NoProfile -NonInteractive -Command $full 2>&1
        if ($LASTEXITCODE -ne 0) { throw "client script failed ($LASTEXITCODE): $output" }
        $output
    }
}

AfterAll {
    # Deleting the namespaces also deletes the veth pair and its qdiscs.
    foreach ($ns in $serverNs, $clientNs) { if ($ns) { & ip netns del $ns 2>$null } }
    if ($clientNs -and (Test-Path "/etc/netns/$clientNs")) { Remove-Item "/etc/netns/$clientNs" -Recurse -Force }
    if ($eventLog -and (Test-Path $eventLog)) { Remove-Item $eventLog }
}

Describe 'Across a veth link between two network namespaces' {
    BeforeAll {
        $serverProcess = $null
        if ($skipReason) { return }
        Invoke-Ip netns add $serverNs
        Invoke-Ip netns add $clientNs
        Invoke-Ip link add "vs$PID" netns $serverNs type veth peer name "vc$PID" netns $clientNs
        Invoke-Ip -n $serverNs addr add "$serverIp/24" dev "vs$PID"
        Invoke-Ip -n $clientNs addr add "$clientIp/24" dev "vc$PID"
        Invoke-Ip -n $clientNs addr add "$strangerIp/24" dev "vc$PID"
        foreach ($ns in $serverNs, $clientNs) { Invoke-Ip -n $ns link set lo up }
        Invoke-Ip -n $serverNs link set "vs$PID" up
        Invoke-Ip -n $clientNs link set "vc$PID" up
        # 'ip netns exec' mounts /etc/netns/<ns>/hosts over /etc/hosts: a name with two addresses, the first of
        # which refuses (the client's own address, where nothing listens).
        $null = New-Item "/etc/netns/$clientNs" -ItemType Directory -Force
        Set-Content "/etc/netns/$clientNs/hosts" "$strangerIp echo-peer`n$serverIp echo-peer"

        # The server as a user runs it, in the foreground of its own pwsh, its events as JSON lines in a file.
        $serverScript = "Import-Module '$ModuleManifest'; Start-BlockingEchoServer -Address $serverIp -Port $port -AllowList $clientIp/32 | " +
            "ForEach-Object { `$_ | ConvertTo-Json -Compress | Add-Content -Path '$eventLog' }"
        $start = [Diagnostics.ProcessStartInfo]::new('ip')
        foreach ($arg in 'netns', 'exec', $serverNs, $pwsh, '-NoProfile', '-NonInteractive', '-Command', $serverScript) { $start.ArgumentList.Add($arg) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $serverProcess = [Diagnostics.Process]::Start($start)
        # A fresh pwsh can take a minute to start on a loaded machine. Kill it before reading its stderr: reading a
        # running process's stream to the end would wait for ever.
        $listening = Wait-Until { (Test-Path $eventLog) -and (Get-Content $eventLog -Raw) -match '"Kind":\s*0|Listening' } -TimeoutMs 120000
        if (-not $listening) {
            $serverProcess.Kill($true)
            $null = $serverProcess.WaitForExit(5000)
            throw "the server in $serverNs did not start within 120 s: $($serverProcess.StandardError.ReadToEnd())"
        }
    }

    BeforeEach {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason }
    }

    AfterAll {
        # Here, in the scope that started it: a namespace's deletion does not end the processes inside it.
        if ($serverProcess -and -not $serverProcess.HasExited) { $serverProcess.Kill($true); $null = $serverProcess.WaitForExit(5000) }
    }

    It 'carries a round trip from the client namespace to the server namespace' {
        $out = Invoke-InClientNamespace "`$c = New-TestClient -Port $port -Address $serverIp; [string]((Invoke-Echo -Client `$c -Bytes ([byte[]](1..100))) -join ','); `$c.Dispose()"
        $out | Should -Be ((1..100) -join ',')
    }

    It 'applies the allowlist to the real source address of a client on another host' {
        $out = Invoke-InClientNamespace "`$c = New-TestClient -Port $port -Address $serverIp -LocalAddress $strangerIp; Get-ReplyLength -Client `$c -Bytes ([byte[]](1..10)); `$c.Dispose()"
        $out | Should -Be 0
        $rejected = Get-Content $eventLog | ConvertFrom-Json | Where-Object { $_.Kind -in 'Rejected', 3 }
        $rejected.RemoteEndPoint | Should -BeLike "${strangerIp}:*"
        $connected = Get-Content $eventLog | ConvertFrom-Json | Where-Object { $_.Kind -in 'Connected', 1 }
        $connected.RemoteEndPoint | Should -BeLike "${clientIp}:*"
    }

    It 'tries every address of a name in turn' {
        $out = Invoke-InClientNamespace "([System.Net.Dns]::GetHostAddresses('echo-peer') -join ','); Test-EchoRoundTrip echo-peer -Port $port -Count 3 -TimeoutSec 5 | ConvertTo-Json -Compress -EnumsAsStrings"
        $out[0] | Should -Be "$strangerIp,$serverIp" -Because 'the refusing address must come first for this test to mean anything'
        $result = $out[1] | ConvertFrom-Json
        $result.Status | Should -Be 'Success'
        $result.Address | Should -Be $serverIp
    }

    It 'measures close to the rate of a link shaped to 10 Mbit/s, every byte intact' {
        # tbf is what this kernel has (no netem): it paces the client's side of the link, so the echo comes back
        # at the rate the requests go out.
        Invoke-Ip netns exec $clientNs tc qdisc add dev "vc$PID" root tbf rate 10mbit burst 32kbit latency 100ms
        try {
            $json = Invoke-InClientNamespace "Test-EchoRoundTrip -Host $serverIp -Port $port -TotalBytes 3MB -TimeoutSec 20 | ConvertTo-Json -Compress"
            $result = $json | ConvertFrom-Json
            Write-Host ("    shaped link: {0:N3} MiB/s measured, {1:N3} MiB/s configured" -f $result.ThroughputMiBps, (10e6 / 8 / 1MB))
            $result.BytesReceived | Should -Be 3MB
            $result.Mismatches | Should -Be 0
            # 10 Mbit/s is 1.19 MiB/s on the wire; TCP/IP headers take about 4% of it.
            $result.ThroughputMiBps | Should -BeGreaterThan (0.7 * 10e6 / 8 / 1MB)
            $result.ThroughputMiBps | Should -BeLessThan (1.1 * 10e6 / 8 / 1MB)
        }
        finally { Invoke-Ip netns exec $clientNs tc qdisc del dev "vc$PID" root }
    }
}
