<#
.SYNOPSIS
    How long stopping an EchoPS server takes in each state, by both routes a user has.
.DESCRIPTION
    Foreground: Start-BlockingEchoServer runs in a runspace of this process and is stopped with PowerShell.Stop(), the
    route Ctrl+C takes (StopProcessing). Job: Start-BlockingEchoServer -AsJob, stopped with Stop-BlockingEchoServer.
    States: listening with no client; serving an idle client; serving a client that streams; serving with two more
    clients queued in the backlog. Prints one JSON object with every sample in milliseconds.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $ClientExe,
    [int] $Repeats = 3
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

Import-Module (Join-Path $PSScriptRoot '../build/DevTools.psm1')

# Waits (bounded: 10 s) until $Condition holds; the measurement cannot go on without it, so a timeout throws.
function Assert-Eventually([scriptblock] $Condition, [string] $What) {
    if (-not (Wait-Until $Condition -TimeoutMs 10000 -IntervalMs 5)) { throw "Timed out waiting for $What." }
}

# Puts a running server on $Port into $State; returns what must be closed afterwards.
function Enter-State([int] $Port, [string] $State) {
    $held = [Collections.Generic.List[object]]::new()
    $server = { Get-BlockingEchoServer -Port $Port }
    switch ($State) {
        'Listening' { }
        'ServingIdle' { $held.Add([Net.Sockets.TcpClient]::new('127.0.0.1', $Port)) }
        'ServingStream' { $held.Add((Start-Process $ClientExe -ArgumentList 'stream', $Port, 1TB, 65536 -PassThru -RedirectStandardError '/dev/null')) }
        'ServingWithQueue' { foreach ($i in 1..3) { $held.Add([Net.Sockets.TcpClient]::new('127.0.0.1', $Port)) } }
    }
    if ($State -ne 'Listening') { Assert-Eventually { (& $server).State -eq 'Serving' } "server on $Port to serve" }
    if ($State -eq 'ServingStream') { Assert-Eventually { (& $server).BytesEchoed -gt 1MB } "the stream to flow" }
    $held
}

function Exit-State($Held) {
    foreach ($item in $Held) {
        if ($item -is [Diagnostics.Process]) { if (-not $item.HasExited) { $item.Kill() }; $null = $item.WaitForExit(5000) }
        else { $item.Dispose() }
    }
}

$states = 'Listening', 'ServingIdle', 'ServingStream', 'ServingWithQueue'
$result = [ordered]@{}
foreach ($state in $states) {
    $foreground = @(); $job = @()
    foreach ($i in 1..$Repeats) {
        # Foreground server stopped as Ctrl+C stops it.
        $port = Get-FreePort
        $ps = [PowerShell]::Create()
        $null = $ps.AddScript("Import-Module '$ModulePath'; Start-BlockingEchoServer -Port $port")
        $invocation = $ps.BeginInvoke()
        $held = @()
        try {
            Assert-Eventually { Get-BlockingEchoServer -Port $port -ErrorAction SilentlyContinue } "server on $port to listen"
            $held = Enter-State $port $state
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $foreground += $watch.Elapsed.TotalMilliseconds
            if (-not $invocation.IsCompleted) { throw "Foreground server on $port still running after Stop()." }
        }
        finally { Exit-State $held; $ps.Dispose() }

        # Job server stopped with Stop-BlockingEchoServer.
        $server = Start-BlockingEchoServer -Port 0 -AsJob
        $held = @()
        try {
            $held = Enter-State $server.Port $state
            $watch = [Diagnostics.Stopwatch]::StartNew()
            Stop-BlockingEchoServer -Port $server.Port
            $job += $watch.Elapsed.TotalMilliseconds
        }
        finally { Exit-State $held; $server | Remove-Job -Force }
    }
    $result[$state] = [ordered]@{ foreground_ms = $foreground; job_ms = $job }
}
$result | ConvertTo-Json -Compress -Depth 4
