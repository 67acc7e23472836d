# Shared helpers for the Pester suite: raw-socket clients with bounded waits, so a test never hangs.
# Free ports, bounded waits, medians and optional tools come from build/DevTools.psm1, shared with the build scripts.

Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1')
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

function Get-TcpNoDelay {
    # TCP_NODELAY as the kernel has it on a real socket of this process: among this process's descriptors, the TCP
    # socket connected to $RemotePort (from $LocalPort, or from any port) is found with getpeername/getsockname and
    # the option read with getsockopt. $null when no such socket is open here. Linux only.
    param([int] $LocalPort = 0, [Parameter(Mandatory)] [int] $RemotePort)
    if (-not ('EchoTests.SocketOption' -as [type])) {
        Add-Type -TypeDefinition @'
using System;
using System.IO;
using System.Runtime.InteropServices;
namespace EchoTests {
    public static class SocketOption {
        [DllImport("libc")] private static extern int getsockopt(int fd, int level, int name, ref int value, ref int length);
        [DllImport("libc")] private static extern int getpeername(int fd, byte[] address, ref int length);
        [DllImport("libc")] private static extern int getsockname(int fd, byte[] address, ref int length);

        // The port of a sockaddr_in or sockaddr_in6 (bytes 2-3, network order); -1 when the call fails.
        private static int Port(Func<byte[], int[], int> call) {
            var address = new byte[128];
            var length = new[] { address.Length };
            return call(address, length) == 0 ? (address[2] << 8) | address[3] : -1;
        }

        // TCP_NODELAY (IPPROTO_TCP = 6, option 1) of this process's socket connected to remotePort from localPort
        // (0: any); null when there is none.
        public static bool? TcpNoDelay(int localPort, int remotePort) {
            foreach (var path in Directory.GetFiles("/proc/self/fd")) {
                int fd;
                if (!int.TryParse(Path.GetFileName(path), out fd)) continue;
                int peer = Port((a, l) => getpeername(fd, a, ref l[0]));
                if (peer != remotePort) continue;
                if (localPort != 0 && Port((a, l) => getsockname(fd, a, ref l[0])) != localPort) continue;
                int value = 0, length = 4;
                if (getsockopt(fd, 6, 1, ref value, ref length) == 0) return value != 0;
            }
            return null;
        }
    }
}
'@
    }
    [EchoTests.SocketOption]::TcpNoDelay($LocalPort, $RemotePort)
}

function Invoke-FreshPwsh {
    # Runs a script (its text) or a script file with arguments in a fresh pwsh, with extra environment variables;
    # bounded in time: one that overruns is killed with everything it started, and this throws.
    param([string] $Script, [string] $File, [string[]] $ArgumentList = @(), [hashtable] $Environment = @{}, [int] $TimeoutSec = 60)
    if ($Script) {
        $File = Join-Path ([IO.Path]::GetTempPath()) "echops-child-$([guid]::NewGuid().ToString('n')).ps1"
        Set-Content -LiteralPath $File -Value $Script
    }
    $info = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')))
    foreach ($arg in @('-NoProfile', '-NonInteractive', '-File', $File) + $ArgumentList) { $info.ArgumentList.Add($arg) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    foreach ($entry in $Environment.GetEnumerator()) { $info.Environment[$entry.Key] = $entry.Value }
    $process = [System.Diagnostics.Process]::Start($info)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit($TimeoutSec * 1000)) {
            $process.Kill($true)
            $null = $process.WaitForExit(10000)
            throw "The child pwsh ($File) did not finish within $TimeoutSec s. Its output so far: $($stdout.Result)"
        }
        [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result; Errors = $stderr.Result }
    }
    finally {
        $process.Dispose()
        if ($Script) { Remove-Item -LiteralPath $File -ErrorAction SilentlyContinue }
    }
}
