<#
.SYNOPSIS
    Builds, tests, serves, benchmarks and packages EchoPS: the one entry point.
.DESCRIPTION
    Build   (default) compiles src/EchoPS in Release with warnings as errors and assembles the importable module in module/.
    Test    builds, runs the engine's unit tests (tests/unit, dotnet test), restores Pester into .tools/ and runs every
            test in tests/pester in -Shards fresh pwsh processes (2 by default) that share the files; skipped tests are
            listed with their reasons, the last line sums both, "N passed, N failed[, N skipped]", and the exit code is
            non-zero on any failure. -Repeat N runs the suite N
            times in a row (to catch flaky tests), prints each run's closing line and ends with one line summing all runs.
    Serve   builds, imports the module and runs Start-BlockingEchoServer -Port 8080 in the foreground until Ctrl+C,
            SIGTERM or SIGHUP (a clean stop: Stopped event, port freed). Started through `dotnet pwsh`, a watcher
            passes the launcher's end on as SIGTERM: `kill` of the launcher does not leave the server behind.
    Bench   runs the benchmark (build/Bench.ps1): EchoPS against C and socat peers, table and results/ files.
    Package builds the versioned module folder and .nupkg under out/ (build/Package.ps1).
    Clean   removes build output and restored tools.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Serve', 'Bench', 'Package', 'Clean')]
    [string] $Task = 'Build',

    # Serve: the port to listen on.
    [ValidateRange(0, 65535)]
    [int] $Port = 8080,

    # Test: run only tests/pester/<TestName>.Tests.ps1 (a wildcard is allowed), or 'Unit' for the unit tests only;
    # all of them by default. The unit tests run when the name matches 'Unit' ('*' does, 'Server' does not).
    [string] $TestName = '',

    # Test: run the suite this many times in a row (each in a fresh pwsh), then sum the runs.
    [ValidateRange(1, 1000)]
    [int] $Repeat = 1,

    # Test: how many pwsh processes run the Pester files at once (each takes the next file not yet taken).
    [ValidateRange(1, 8)]
    [int] $Shards = 2,

    # Bench: a short smoke run instead of the full measurement.
    [switch] $Quick,

    # Serve: use the module as last built (no build first).
    [switch] $NoBuild
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'

$RepoRoot = $PSScriptRoot
$ModuleDir = Join-Path $RepoRoot 'module'
$ToolsDir = Join-Path $RepoRoot '.tools'
$PesterVersion = '5.7.1'
# Inside `dotnet pwsh` the current process is dotnet itself: child shells start from $PSHOME.
$Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

function Invoke-Native {
    param([Parameter(Mandatory)] [scriptblock] $Command, [Parameter(Mandatory)] [string] $What)
    & $Command | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE." }
}

function Invoke-Build {
    Write-Host 'Building src/EchoPS (Release, warnings as errors)...'
    $project = Join-Path $RepoRoot 'src/EchoPS/EchoPS.csproj'
    Invoke-Native { dotnet build $project -c Release -nologo -v quiet -warnaserror } 'dotnet build'
    $output = Join-Path $RepoRoot 'src/EchoPS/bin/Release/netstandard2.0'
    # OxyPlot.dll (managed, netstandard2.0) draws Measure-EchoServer's charts; it ships beside EchoPS.dll.
    foreach ($dll in 'EchoPS.dll', 'OxyPlot.dll') { Copy-Item (Join-Path $output $dll) $ModuleDir -Force }
    # Help is generated from docs/help/*.md and the built cmdlets, in a fresh pwsh: this one may hold an older dll.
    Invoke-Native { & $Pwsh -NoProfile -NonInteractive -File (Join-Path $RepoRoot 'build/New-Help.ps1') } 'Help generation'
}

function Get-PesterModulePath {
    $manifest = Join-Path $ToolsDir "packages/pester/$PesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $manifest)) {
        Write-Host "Restoring Pester $PesterVersion into .tools/..."
        $toolsProject = Join-Path $RepoRoot 'build/Tools.proj'
        Invoke-Native { dotnet restore $toolsProject --packages (Join-Path $ToolsDir 'packages') -nologo -v quiet } 'Restoring Pester'
    }
    $manifest
}

# Runs the engine's unit tests (tests/unit, xUnit) and returns their counts from the TRX log.
function Invoke-UnitTest {
    Write-Host 'Running the unit tests (tests/unit)...'
    $trx = Join-Path $RepoRoot 'out/unit-tests.trx'
    if (Test-Path $trx) { Remove-Item $trx }
    $project = Join-Path $RepoRoot 'tests/unit/EchoPS.Tests.csproj'
    dotnet test $project -c Release -nologo -v quiet -warnaserror --logger "trx;LogFileName=$trx" | Out-Host
    $exitCode = $LASTEXITCODE
    if (-not (Test-Path $trx)) {
        Write-Host "The unit tests did not run (dotnet test exit code $exitCode): counted as one failure."
        return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
    }
    $counters = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
    $failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
    # A non-zero exit with nothing failed (a crashed test host) is a failure too.
    if ($exitCode -ne 0 -and $failed -eq 0) { $failed = 1 }
    # TRX counts a skipped test as neither passed nor failed: it is in total but not in executed.
    [pscustomobject]@{ Passed = [int]$counters.passed; Failed = $failed; Skipped = [int]$counters.total - [int]$counters.executed }
}

# Runs tests/pester/*.Tests.ps1 in -Shards fresh pwsh processes at once (each takes the next file nobody has taken),
# prints each process's output when it ends, and returns the counts summed from their closing lines.
function Invoke-PesterTest {
    $pester = Get-PesterModulePath
    # Fresh pwsh processes: a binary module loaded in this one could not be replaced by a rebuild.
    $runner = Join-Path $RepoRoot 'build/Invoke-Pester.ps1'
    # The filter travels in the environment: pwsh on Unix would expand a bare '*' argument into file names.
    $env:ECHOPS_TEST_NAME = $TestName
    $runDir = Join-Path $RepoRoot "out/pester-run"
    if (Test-Path $runDir) { Remove-Item $runDir -Recurse -Force }
    $claims = New-Item -ItemType Directory -Force (Join-Path $runDir 'claims')
    $processes = foreach ($shard in 1..$Shards) {
        $log = Join-Path $runDir "shard$shard.log"
        $arguments = @('-NoProfile', '-NonInteractive', '-File', $runner, '-PesterPath', $pester,
            '-TestRoot', (Join-Path $RepoRoot 'tests/pester'), '-ClaimDir', $claims.FullName)
        $process = Start-Process -FilePath $Pwsh -ArgumentList $arguments -RedirectStandardOutput $log `
            -RedirectStandardError "$log.err" -NoNewWindow -PassThru
        [pscustomobject]@{ Shard = $shard; Process = $process; Log = $log }
    }
    Write-Host "Pester: $Shards processes share the test files (out/pester-run/shard*.log while they run)."
    $seen = @{}
    # Each file bounds its own waits; this bound only keeps a stuck process from outliving CI's limit.
    $deadline = [DateTime]::UtcNow.AddMinutes(45)
    while (@($processes | Where-Object { -not $_.Process.HasExited }).Count -gt 0 -and [DateTime]::UtcNow -lt $deadline) {
        foreach ($claim in Get-ChildItem $claims.FullName) {
            if (-not $seen[$claim.Name]) { $seen[$claim.Name] = $true; Write-Host "  started $($claim.Name)" }
        }
        Start-Sleep -Milliseconds 500
    }
    $total = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($s in $processes) {
        if (-not $s.Process.HasExited) { Stop-Process -Id $s.Process.Id -Force; $s.Process.WaitForExit() }
        Write-Host ''
        Write-Host "=== Pester process $($s.Shard) of $Shards ==="
        # The summary is the last non-empty line of the process's output; what processes started by the tests wrote
        # to the shared error stream is shown after it, and does not hide it.
        $last = ''
        foreach ($line in @(Get-Content $s.Log)) {
            Write-Host $line
            if ("$line".Trim()) { $last = "$line".Trim() }
        }
        foreach ($line in @(Get-Content "$($s.Log).err")) { Write-Host $line }
        $exitCode = $s.Process.ExitCode
        if ($last -notmatch '^(\d+) passed, (\d+) failed(, (\d+) skipped)?$') {
            Write-Host "Pester process $($s.Shard) ended without its summary line (exit code $exitCode): counted as one failure."
            $total.Failed++
            continue
        }
        $failed = [int]$Matches[2]
        if ($exitCode -ne 0 -and $failed -eq 0) { $failed = 1 }
        $total.Passed += [int]$Matches[1]; $total.Failed += $failed; $total.Skipped += [int]$Matches[4]
    }
    # Every file must have been run by some process.
    $expected = @(Get-ChildItem (Join-Path $RepoRoot 'tests/pester') -Filter "$(if ($TestName) { $TestName } else { '*' }).Tests.ps1").Count
    $claimed = @(Get-ChildItem $claims.FullName).Count
    if ($claimed -ne $expected) { Write-Host "Only $claimed of $expected test files ran: counted as one failure."; $total.Failed++ }
    if ($total.Passed -eq 0) { $total.Failed++ }
    $total
}

# One run of the selected tests: the unit tests, then Pester. Prints the run's closing line and returns its counts.
function Invoke-TestRun([bool] $RunUnit, [bool] $RunPester) {
    $parts = [ordered]@{}
    if ($RunUnit) { $parts['unit'] = Invoke-UnitTest }
    if ($RunPester) { $parts['Pester'] = Invoke-PesterTest }
    $total = [pscustomobject]@{
        Passed  = [int]($parts.Values | Measure-Object Passed -Sum).Sum
        Failed  = [int]($parts.Values | Measure-Object Failed -Sum).Sum
        Skipped = [int]($parts.Values | Measure-Object Skipped -Sum).Sum
    }
    Write-Host ''
    Write-Host (($parts.GetEnumerator() | ForEach-Object { "$($_.Key): $($_.Value.Passed) passed, $($_.Value.Failed) failed, $($_.Value.Skipped) skipped" }) -join '; ')
    Write-Host (Format-TestLine $total)
    $total
}

function Format-TestLine($Counts) {
    $line = "$($Counts.Passed) passed, $($Counts.Failed) failed"
    if ($Counts.Skipped -gt 0) { $line += ", $($Counts.Skipped) skipped" }
    $line
}

# Unit tests run with no -TestName or with one that matches 'Unit'; Pester runs the tests/pester files that match.
# With -Repeat N the same selection runs N times in a row; the last line sums every run.
function Invoke-Test {
    Invoke-Build
    $pattern = if ($TestName) { $TestName } else { '*' }
    $runUnit = 'Unit' -like $pattern
    $runPester = [bool](Get-ChildItem (Join-Path $RepoRoot 'tests/pester') -Filter "$pattern.Tests.ps1")
    if (-not $runUnit -and -not $runPester) { throw "No tests match -TestName '$TestName': use Unit or the name of a tests/pester/<Name>.Tests.ps1 file." }
    $runs = foreach ($run in 1..$Repeat) {
        if ($Repeat -gt 1) { Write-Host "=== Test run $run of $Repeat ===" }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $counts = Invoke-TestRun $runUnit $runPester
        $counts | Add-Member Run $run -PassThru | Add-Member Seconds ([math]::Round($watch.Elapsed.TotalSeconds)) -PassThru
    }
    $failedRuns = @($runs | Where-Object { $_.Failed -gt 0 -or $_.Passed -eq 0 }).Count
    if ($Repeat -gt 1) {
        Write-Host ''
        foreach ($r in $runs) { Write-Host "Run $($r.Run): $(Format-TestLine $r) ($($r.Seconds) s)" }
        Write-Host "$Repeat runs, $failedRuns failed."
        $sum = [pscustomobject]@{
            Passed  = [int]($runs | Measure-Object Passed -Sum).Sum
            Failed  = [int]($runs | Measure-Object Failed -Sum).Sum
            Skipped = [int]($runs | Measure-Object Skipped -Sum).Sum
        }
        Write-Host (Format-TestLine $sum)
    }
    if ($failedRuns -gt 0) { exit 1 }
}

# The `dotnet pwsh` launchers (the dotnet CLI and the tool's shim) above this process, nearest first: they do not
# pass SIGTERM on, so `kill <launcher>` would leave this pwsh serving with its port. Linux only (reads /proc).
function Get-LauncherChain {
    if (-not $IsLinux) { return @() }
    $chain = @()
    $id = $PID
    for ($level = 0; $level -lt 2; $level++) {
        $parent = [int]((Get-Content "/proc/$id/status" -ErrorAction SilentlyContinue | Select-String '^PPid:\s*(\d+)').Matches.Groups[1].Value)
        if ($parent -le 1) { break }
        $command = (Get-Content -Raw "/proc/$parent/cmdline" -ErrorAction SilentlyContinue) -replace "`0", ' '
        if ($command -notmatch 'GlobalTool\.Shim|^\S*dotnet\s+pwsh\b') { break }
        $chain += $parent
        $id = $parent
    }
    $chain
}

function Invoke-Serve {
    if (-not $NoBuild) { Invoke-Build }
    Import-Module (Join-Path $ModuleDir 'EchoPS.psd1') -Force
    $launchers = @(Get-LauncherChain)
    $watcher = $null
    if ($launchers) {
        # A small sh loop: once a launcher is gone (or a zombie), SIGTERM to this process stops the server as Ctrl+C
        # does; it ends by itself when this process ends.
        $alive = ($launchers + $PID | ForEach-Object { "grep -q '^State:[[:space:]]*[^Z]' /proc/$_/status 2>/dev/null" }) -join ' && '
        $watcher = Start-Process -FilePath /bin/sh -ArgumentList '-c', "`"while $alive; do sleep 0.5; done; kill -TERM $PID 2>/dev/null`"" -PassThru
        Write-Host "Serving in process $PID (started through the dotnet launcher $($launchers[-1])): Ctrl+C, or kill -TERM either, stops it cleanly."
    }
    else {
        Write-Host "Serving in process $PID`: Ctrl+C or kill -TERM $PID stops it cleanly."
    }
    try { Start-BlockingEchoServer -Port $Port }
    finally { if ($watcher -and -not $watcher.HasExited) { $watcher.Kill() } }
}

function Invoke-Clean {
    foreach ($path in 'src/EchoPS/bin', 'src/EchoPS/obj', 'build/bin', 'build/obj', 'tests/unit/bin', 'tests/unit/obj', 'module/EchoPS.dll', 'module/OxyPlot.dll', 'module/en-US/EchoPS.dll-Help.xml', '.tools', 'out') {
        $full = Join-Path $RepoRoot $path
        if (Test-Path $full) { Remove-Item $full -Recurse -Force }
    }
    Write-Host 'Clean.'
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Serve' { Invoke-Serve }
    'Bench' { Invoke-Build; & (Join-Path $RepoRoot 'build/Bench.ps1') -Quick:$Quick }
    'Package' { Invoke-Build; & (Join-Path $RepoRoot 'build/Package.ps1') }
    'Clean' { Invoke-Clean }
}
