# The C servers of tests/pester/peers (select_server.c, epoll_server.c, and any <model>_server.c beside them),
# compiled with gcc into a folder of the test's own, and started on a free loopback port. Dot-source it in BeforeAll.
# Each server prints "listening <port>" and exits when its standard input closes, so a test that dies takes it along.

function Start-PeerServer {
    # Compiles peers/<Model>_server.c (once per folder) and starts it; returns @{ Process; Port; Target } or $null
    # with a warning when gcc is missing or the build fails. Bounded: 10 s for the server to announce itself.
    param([Parameter(Mandatory)] [string] $Model, [Parameter(Mandatory)] [string] $Folder)
    $source = Join-Path $PSScriptRoot "peers/$($Model)_server.c"
    $exe = Join-Path $Folder "$($Model)_server"
    if (-not (Test-Path $exe)) {
        if (-not (Get-Command gcc -CommandType Application -ErrorAction SilentlyContinue)) { Write-Warning 'gcc is missing'; return $null }
        $null = New-Item -ItemType Directory -Force $Folder
        & gcc -O2 -o $exe $source 2>&1 | Write-Warning
        if ($LASTEXITCODE -ne 0) { Write-Warning "gcc failed on $source"; return $null }
    }
    $info = [System.Diagnostics.ProcessStartInfo]::new($exe)
    $info.ArgumentList.Add('0')
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardInput = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $line = $process.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(10000) -or $line.Result -notmatch '^listening (\d+)$') {
        Stop-PeerServer @{ Process = $process }
        throw "$exe did not start: '$($line.Result)'."
    }
    [pscustomobject]@{ Process = $process; Port = [int]$Matches[1]; Target = "$Model=127.0.0.1:$($Matches[1])" }
}

function Stop-PeerServer {
    # Closes the server's standard input (it exits), and kills it if it has not within 3 s.
    param($Server)
    if (-not $Server -or -not $Server.Process) { return }
    $p = $Server.Process
    try { $p.StandardInput.Close() } catch { }
    if (-not $p.WaitForExit(3000)) { $p.Kill(); $null = $p.WaitForExit(3000) }
    $p.Dispose()
}
