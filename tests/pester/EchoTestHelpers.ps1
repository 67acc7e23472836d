# Shared helpers for the Pester suite: raw-socket clients with bounded waits, so a test never hangs.

$script:ModuleManifest = Join-Path $PSScriptRoot '../../module/EchoPS.psd1' | Resolve-Path | ForEach-Object Path
$script:IoTimeoutMs = 5000

function New-TestClient {
    # A connected TcpClient whose every read and write gives up after $IoTimeoutMs.
    param([Parameter(Mandatory)] [int] $Port, [string] $Address = '127.0.0.1', [string] $LocalAddress)
    $client = if ($LocalAddress) {
        # A chosen source address, e.g. 127.0.0.2, to test the allowlist from "another host" on loopback.
        [System.Net.Sockets.TcpClient]::new([System.Net.IPEndPoint]::new([ipaddress]$LocalAddress, 0))
    }
    else {
        [System.Net.Sockets.TcpClient]::new(([ipaddress]$Address).AddressFamily)
    }
    $client.ReceiveTimeout = $script:IoTimeoutMs
    $client.SendTimeout = $script:IoTimeoutMs
    $client.NoDelay = $true
    $client.Connect([ipaddress]$Address, $Port)
    $client
}

function Read-Exactly {
    # Reads exactly $Count bytes, or fewer if the peer closes first; a silent peer fails on the receive timeout.
    param([Parameter(Mandatory)] [System.Net.Sockets.NetworkStream] $Stream, [Parameter(Mandatory)] [int] $Count)
    $buffer = [byte[]]::new($Count)
    $total = 0
    while ($total -lt $Count) {
        $n = $Stream.Read($buffer, $total, $Count - $total)
        if ($n -eq 0) { break }
        $total += $n
    }
    if ($total -lt $Count) { return , $buffer[0..($total - 1)] }
    , $buffer
}

function Invoke-Echo {
    # Sends $Bytes on an open client and returns what comes back (the same number of bytes, or fewer on EOF).
    param([Parameter(Mandatory)] [System.Net.Sockets.TcpClient] $Client, [Parameter(Mandatory)] [byte[]] $Bytes)
    $stream = $Client.GetStream()
    $stream.Write($Bytes, 0, $Bytes.Length)
    Read-Exactly -Stream $stream -Count $Bytes.Length
}

function Get-ReplyLength {
    # Sends $Bytes and counts what comes back until EOF or a reset: 0 for a client that was turned away.
    param([Parameter(Mandatory)] [System.Net.Sockets.TcpClient] $Client, [Parameter(Mandatory)] [AllowEmptyCollection()] [byte[]] $Bytes)
    $stream = $Client.GetStream()
    $total = 0
    try {
        $stream.Write($Bytes, 0, $Bytes.Length)
        $buffer = [byte[]]::new(64KB)
        while (($n = $stream.Read($buffer, 0, $buffer.Length)) -gt 0) { $total += $n }
    }
    catch [System.IO.IOException] {
        # A reset ends the reply like EOF does; a receive timeout here would mean the server never answered.
        if ($_.Exception.InnerException.SocketErrorCode -eq 'TimedOut') { throw }
    }
    $total
}

function Test-DataArrives {
    # True when at least one byte is readable within $WithinMs: "is this client being served?"
    param([Parameter(Mandatory)] [System.Net.Sockets.TcpClient] $Client, [int] $WithinMs = 500)
    $Client.Client.Poll($WithinMs * 1000, [System.Net.Sockets.SelectMode]::SelectRead) -and $Client.Available -gt 0
}

function Wait-Until {
    # Polls $Condition every 20 ms for at most $TimeoutMs; returns whether it became true.
    param([Parameter(Mandatory)] [scriptblock] $Condition, [int] $TimeoutMs = 5000)
    $deadline = [DateTime]::UtcNow.AddMilliseconds($TimeoutMs)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (& $Condition) { return $true }
        Start-Sleep -Milliseconds 20
    }
    [bool](& $Condition)
}

function Test-PortFree {
    # True when a new listener can bind the port right now (the server released it).
    param([Parameter(Mandatory)] [int] $Port, [string] $Address = '127.0.0.1')
    $probe = [System.Net.Sockets.Socket]::new(([ipaddress]$Address).AddressFamily, 'Stream', 'Tcp')
    try {
        $probe.SetSocketOption('Socket', 'ReuseAddress', $true)
        $probe.Bind([System.Net.IPEndPoint]::new([ipaddress]$Address, $Port))
        $probe.Listen(1)
        $true
    }
    catch [System.Net.Sockets.SocketException] { $false }
    finally { $probe.Dispose() }
}

function Get-FreePort {
    # A port that was free a moment ago: bind port 0, read the port back, release it.
    $probe = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

function Stop-AllTestServers {
    # Leaves nothing behind: every server and every server job this process started.
    Get-BlockingEchoServer | Stop-BlockingEchoServer
    Get-Job | Where-Object PSJobTypeName -EQ 'EchoServerJob' | Remove-Job -Force
}

function Get-ProcessResourceCount {
    # Open descriptors (handles), threads and managed heap of this process, after a full collection: the heap
    # grows with uncollected garbage otherwise, which says nothing about leaks.
    [GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
    $process = Get-Process -Id $PID
    [pscustomobject]@{ Handles = $process.HandleCount; Threads = $process.Threads.Count; ManagedBytes = [GC]::GetTotalMemory($true) }
}

function Get-NetworkNamespaceSkipReason {
    # Why this machine cannot run a test between network namespaces (not Linux, not root, no iproute2, namespaces not
    # allowed), or $null when it can. The probe namespace is deleted again.
    if (-not $IsLinux) { return 'network namespaces need Linux' }
    if ((id -u) -ne '0') { return 'network namespaces need root' }
    if (-not (Get-Command ip -ErrorAction SilentlyContinue)) { return "the 'ip' command (iproute2) is not installed" }
    $probe = "echops-probe-$PID-$(Get-Random -Maximum 100000)"
    $out = & ip netns add $probe 2>&1
    if ($LASTEXITCODE -ne 0) { return "this machine does not allow creating network namespaces: $out" }
    & ip netns del $probe
    $null
}
