<#
.SYNOPSIS
    Helpers shared by the build scripts, the benchmark and the Pester suite: installing an optional Debian tool,
    free ports, bounded waits (for a condition, for processes to go idle) and medians. Each is written once, here, and tested once (tests/pester/DevTools.Tests.ps1).
#>

Set-StrictMode -Version Latest

$script:AptUpdated = $false

function Test-Tool {
    # True when $Name is an application on PATH.
    param([Parameter(Mandatory)] [string] $Name)
    [bool](Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue)
}

function Install-DebianTool {
    <#
    .SYNOPSIS
        Makes sure each command is on PATH, installing its Debian package with apt-get when it is missing.
        Returns one object per command: Command, Package, Available, Installed (this call installed it), Reason
        (why it is missing, when it is). Never throws for a tool that cannot be had: the caller skips, saying why.
        ECHOPS_NO_INSTALL=1 in the environment turns installing off (a test of the missing-tool path uses it).
    #>
    param(
        # command name -> Debian package, e.g. @{ socat = 'socat'; gnuplot = 'gnuplot-nox' }
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Tools,
        # apt-get's output goes here (appended); a temporary file when not given.
        [string] $LogPath = (Join-Path ([IO.Path]::GetTempPath()) "echops-apt-$PID.log")
    )
    $missing = @($Tools.Keys | Where-Object { -not (Test-Tool $_) })
    $reason = $null
    if ($missing.Count -gt 0) {
        $packages = @($missing | ForEach-Object { $Tools[$_] } | Select-Object -Unique)
        $isRoot = $IsLinux -and ((& id -u) -eq '0')
        $sudo = -not $isRoot -and (Test-Tool sudo)
        if ($env:ECHOPS_NO_INSTALL -eq '1') { $reason = 'installing is turned off (ECHOPS_NO_INSTALL=1)' }
        elseif (-not $IsLinux) { $reason = 'not Linux: install it by hand' }
        elseif (-not (Test-Tool apt-get)) { $reason = 'no apt-get on this machine: install it by hand' }
        elseif (-not $isRoot -and -not $sudo) { $reason = 'not root and no sudo: install it by hand' }
        else {
            $apt = { param([string[]] $Arguments)
                $env:DEBIAN_FRONTEND = 'noninteractive'
                # Two test processes may install at once: wait for dpkg's lock instead of failing on it.
                $common = @('-o', 'DPkg::Lock::Timeout=300', '-q', '-y')
                if ($sudo) { & sudo -E apt-get @common @Arguments *>> $LogPath } else { & apt-get @common @Arguments *>> $LogPath }
                $LASTEXITCODE
            }
            if (-not $script:AptUpdated) {
                $null = & $apt @('update')
                $script:AptUpdated = $true
            }
            $code = & $apt (@('install', '--no-install-recommends') + $packages)
            if ($code -ne 0) { $reason = "apt-get install $($packages -join ' ') failed with exit code $code (see $LogPath)" }
        }
    }
    foreach ($command in $Tools.Keys) {
        $wasMissing = $command -in $missing
        $available = Test-Tool $command
        [pscustomobject]@{
            Command   = $command
            Package   = $Tools[$command]
            Available = $available
            Installed = $wasMissing -and $available
            Reason    = if ($available) { $null } elseif ($reason) { "$command is missing: $reason" } else { "$command is missing: apt-get did not provide it (see $LogPath)" }
        }
    }
}

function Get-FreePort {
    # A loopback port that was free a moment ago: bind port 0, read the port back, release it.
    $probe = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
    $probe.Start()
    try { $probe.LocalEndpoint.Port } finally { $probe.Stop() }
}

function Wait-Until {
    # Polls $Condition every $IntervalMs for at most $TimeoutMs; returns whether it became true. Never waits longer.
    param([Parameter(Mandatory)] [scriptblock] $Condition, [int] $TimeoutMs = 5000, [int] $IntervalMs = 20)
    $deadline = [DateTime]::UtcNow.AddMilliseconds($TimeoutMs)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (& $Condition) { return $true }
        Start-Sleep -Milliseconds $IntervalMs
    }
    [bool](& $Condition)
}

function Get-Median {
    # The median; for an even count, the mean of the two middle values. $null for no values.
    param([AllowEmptyCollection()] [double[]] $Values)
    # Not `-not $Values`: a single 0 is a value, and @(0) is falsy.
    if ($null -eq $Values -or $Values.Count -eq 0) { return $null }
    $sorted = [double[]]($Values | Sort-Object)
    $middle = [math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2 -eq 1) { return $sorted[$middle] }
    ($sorted[$middle - 1] + $sorted[$middle]) / 2
}

function Wait-ProcessIdle {
    <#
    .SYNOPSIS
        Waits until every process has been idle (at most one 10 ms tick of CPU time per quarter second, twice in a
        row) or at most $TimeoutSec; returns whether they all were. A pwsh that just started or just ran a warm-up
        keeps compiling in the background, and on a pinned CPU that would be measured as someone else's time.
        Linux only (reads /proc); elsewhere returns $false at once. A process that has exited counts as idle.
    #>
    param([Parameter(Mandatory)] [int[]] $ProcessId, [double] $TimeoutSec = 20)
    if (-not $IsLinux) { return $false }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    $quiet = 0
    $last = $null
    while ([DateTime]::UtcNow -lt $deadline) {
        $ticks = foreach ($id in $ProcessId) {
            $stat = Get-Content "/proc/$id/stat" -Raw -ErrorAction SilentlyContinue
            if (-not $stat) { 0; continue }
            $fields = ($stat -replace '^.*\) ', '') -split ' '
            [long]$fields[11] + [long]$fields[12] # utime + stime, in 10 ms ticks
        }
        $ticks = @($ticks)
        $busy = $null -eq $last -or @(for ($i = 0; $i -lt $ticks.Count; $i++) { if ($ticks[$i] - $last[$i] -gt 1) { $i } }).Count -gt 0
        $quiet = if ($busy) { 0 } else { $quiet + 1 }
        if ($quiet -ge 2) { return $true }
        $last = $ticks
        Start-Sleep -Milliseconds 250
    }
    $false
}

Export-ModuleMember -Function Test-Tool, Install-DebianTool, Get-FreePort, Wait-Until, Get-Median, Wait-ProcessIdle
