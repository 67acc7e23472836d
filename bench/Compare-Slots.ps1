<#
.SYNOPSIS
    Issue 20's Done-when, measured in one run: the server with -Slots 1 against the last build before -Slots existed
    (connections/s, round-trip p50 and syscalls per connection within noise), and -Slots 4 serving 4 of 8 clients
    at once with a capacity of 4.
.DESCRIPTION
    Builds the commit before -Slots (the parent of the first commit that gave EchoServerOptions its MaxSlots; or
    -Before) from `git archive` into out/compare-slots/before (kept between runs, rebuilt when the commit differs),
    then runs Measure-EchoServer twice in a pwsh of its own pinned to -Cpu (the measurer pins the servers it starts
    beside itself):

    1. 'before' and 'now' (this worktree's module/, built by build.ps1 -Task Build), each the foreground
       Start-BlockingEchoServer in a pwsh of its own, -Figure RoundTrip, Connections, -Rounds rounds (5 or more, so
       the spread has a confidence interval), -Baseline before, -Trace: the ratios carry '~' (WithinNoise) where the
       rounds cannot tell the two apart, and the trace gives syscalls per connection.
    2. 'now' and 'slots4' (-Slots 4), -Figure Slots, Capacity with 8 slots clients: 1/8 and 4/8, capacity 1 and 4.

    Prints both tables, the ratios with their noise marks, and the syscalls per connection; the reports (report.md,
    measurement.json, charts) are in out/compare-slots/one-slot and out/compare-slots/four-slots. Takes about
    5 minutes with the defaults.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Build; dotnet pwsh bench/Compare-Slots.ps1 -Rounds 5
#>
[CmdletBinding()]
param(
    # The commit to compare with; default: the last commit before -Slots existed.
    [string] $Before,
    [ValidateRange(5, 50)] [int] $Rounds = 5,
    # The CPU the measurer and the servers are pinned to.
    [int] $Cpu = 1,
    [int] $Count = 5000,
    [int] $ConnectionCount = 1000,
    [string] $OutDir
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
if (-not $OutDir) { $OutDir = Join-Path $repo 'out/compare-slots' }
$null = New-Item -ItemType Directory -Force $OutDir
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
$now = Join-Path $repo 'module/EchoPS.psd1'
if (-not (Test-Path (Join-Path $repo 'module/EchoPS.dll'))) { throw "Build first: dotnet pwsh ./build.ps1 -Task Build (no module/EchoPS.dll in $repo)." }

# The last commit before -Slots: the parent of the first commit that added MaxSlots to the options.
if (-not $Before) {
    $first = git -C $repo log --reverse --format=%H -S MaxSlots -- src/EchoPS/Server/EchoServerOptions.cs | Select-Object -First 1
    if (-not $first) { throw 'No commit added MaxSlots to src/EchoPS/Server/EchoServerOptions.cs: give -Before.' }
    $Before = "$first^"
}
$commit = git -C $repo rev-parse --verify "$Before^{commit}"
if ($LASTEXITCODE -ne 0) { throw "Not a commit: $Before" }
$beforeDir = Join-Path $OutDir 'before'
$beforeModule = Join-Path $beforeDir 'module/EchoPS.psd1'
$stamp = Join-Path $beforeDir '.commit'
if (-not (Test-Path $stamp) -or (Get-Content $stamp) -ne $commit -or -not (Test-Path (Join-Path $beforeDir 'module/EchoPS.dll'))) {
    Write-Host "Building $commit (before -Slots) into $beforeDir ..."
    if (Test-Path $beforeDir) { Remove-Item $beforeDir -Recurse -Force }
    $null = New-Item -ItemType Directory -Force $beforeDir
    git -C $repo archive --format=tar $commit | tar -x -C $beforeDir
    if ($LASTEXITCODE -ne 0) { throw "git archive $commit failed." }
    Push-Location $beforeDir
    try {
        & dotnet tool restore | Out-Null
        & dotnet pwsh -NoProfile -NonInteractive ./build.ps1 -Task Build | Out-Null
        if ($LASTEXITCODE -ne 0 -or -not (Test-Path 'module/EchoPS.dll')) { throw "The build of $commit failed (run build.ps1 -Task Build in $beforeDir to see why)." }
    }
    finally { Pop-Location }
    Set-Content $stamp $commit
}

# A command target: the foreground server of a module in a pwsh of its own, events written as the user sees them.
# The script is in sh single quotes (no $ expansion); Measure-EchoServer fills in {port}.
function Get-Target([string] $Label, [string] $Module, [string] $Extra = '') {
    "$Label='$pwsh' -NoProfile -NonInteractive -Command 'Import-Module `"$Module`"; `$PSStyle.OutputRendering = `"PlainText`"; Start-BlockingEchoServer -Port {port} $Extra'"
}

# One Measure-EchoServer call in a pwsh pinned to $Cpu; the results come back through measurement.json.
function Invoke-Pinned([string[]] $Targets, [hashtable] $Parameters, [string] $Path) {
    $null = New-Item -ItemType Directory -Force $Path
    $spec = Join-Path $Path 'spec.json'
    [ordered]@{ Target = $Targets; Parameters = $Parameters } | ConvertTo-Json -Depth 4 | Set-Content $spec
    $script = "`$ErrorActionPreference = 'Stop'; Import-Module '$now'; `$s = Get-Content -Raw '$spec' | ConvertFrom-Json; " +
        "`$p = @{}; foreach (`$q in `$s.Parameters.PSObject.Properties) { `$p[`$q.Name] = `$q.Value }; " +
        "`$null = Measure-EchoServer ([string[]]`$s.Target) @p -Path '$Path' -ErrorAction Continue"
    & taskset -c $Cpu $pwsh -NoProfile -NonInteractive -Command $script 2> (Join-Path $Path 'measure.err')
    $json = Join-Path $Path 'measurement.json'
    if (-not (Test-Path $json)) { throw "Measure-EchoServer wrote no $json (see $Path/measure.err)." }
    (Get-Content -Raw $json | ConvertFrom-Json).Results
}

$load = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
Write-Host "Load average before: $($load -join ', '); measurer and servers pinned to CPU $Cpu."

$one = Invoke-Pinned @((Get-Target 'before' $beforeModule), (Get-Target 'now' $now)) @{
    Figure = @('RoundTrip', 'Connections'); Baseline = 'before'; Rounds = $Rounds; Count = $Count
    ConnectionCount = $ConnectionCount; Trace = $true
} (Join-Path $OutDir 'one-slot')

$four = Invoke-Pinned @((Get-Target 'now' $now), (Get-Target 'slots4' $now '-Slots 4')) @{
    Figure = @('Slots', 'Capacity'); Baseline = 'now'; Rounds = 3; SlotClients = 8; HoldMs = 200
    CapacityConnections = 100; CapacityWaitSec = 2
} (Join-Path $OutDir 'four-slots')

$loadAfter = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 3
function Format-Spread($Result, [string] $Figure) {
    $s = @($Result.Spread | Where-Object Figure -EQ $Figure) | Select-Object -First 1
    if (-not $s) { return '' }
    $ci = if ($null -ne $s.CiLow) { ' CI {0:0.###}-{1:0.###}' -f $s.CiLow, $s.CiHigh } else { '' }
    '{0:0.###} (min {1:0.###}, max {2:0.###}{3}){4}' -f $s.Value, $s.Min, $s.Max, $ci, $(if ($s.WithinNoise) { ' ~ within noise' } else { '' })
}

Write-Host "`n-Slots 1 against $($commit.Substring(0, 7)) (before -Slots), $Rounds rounds, medians; ratios to 'before':"
$one | ForEach-Object {
    [pscustomobject]@{
        Name = $_.Name; RttP50Us = [math]::Round($_.RttP50Ms * 1000, 1); ConnPerSec = [math]::Round($_.ConnectionsPerSec)
        SyscallsPerConn = $_.SyscallsPerConnection; SyscallsPerRtt = $_.SyscallsPerRoundTrip; Errors = $_.ErrorCount
        # The socket calls of one connection by name (the rest, futex, sched_yield, write, is the runtime and the
        # event output, which vary with the load).
        SocketCallsPerConn = (@($_.Syscalls | Where-Object { $_.Pass -eq 'Connections' -and $_.Syscall -in 'accept4', 'accept', 'recvfrom', 'recvmsg', 'sendto', 'sendmsg', 'close', 'shutdown', 'setsockopt', 'poll' } |
                ForEach-Object { '{0} {1:0.###}' -f $_.Syscall, $_.PerOperation }) -join ', ')
        RttP50Ratio = Format-Spread $_ 'RttP50Ratio'; ConnRatio = Format-Spread $_ 'ConnectionsRatio'
    }
} | Format-List | Out-String -Width 200 | Write-Host

Write-Host "-Slots 4 beside one slot: 8 slots clients holding 200 ms, 100 capacity connections for 2 s, 3 rounds:"
$four | ForEach-Object {
    [pscustomobject]@{ Name = $_.Name; Slots = "$($_.Slots)/$($_.SlotClients)"; Capacity = "$($_.CapacityEchoed)/$($_.CapacityRequested)"; Errors = $_.ErrorCount }
} | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
Write-Host "Load average after: $($loadAfter -join ', '). Reports: $OutDir/one-slot/report.md, $OutDir/four-slots/report.md"
