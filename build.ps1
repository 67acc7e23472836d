<#
.SYNOPSIS
    Builds, tests, serves, benchmarks and packages EchoPS: the one entry point.
.DESCRIPTION
    Build   (default) compiles src/EchoPS in Release with warnings as errors and assembles the importable module in module/.
    Test    builds, restores Pester into .tools/ and runs every test in tests/pester in a fresh pwsh; skipped tests are
            listed with their reasons, the last line is "N passed, N failed, N skipped" and the exit code is non-zero on
            any failure. -Repeat N runs the suite N times (to catch flaky tests), prints each run's closing line and
            ends with one line summing all runs.
    Serve   builds, imports the module and runs Start-BlockingEchoServer -Port 8080 in the foreground until Ctrl+C.
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

    # Test: run only tests/pester/<TestName>.Tests.ps1 (a wildcard is allowed); all of them by default.
    [string] $TestName = '',

    # Test: run the suite this many times in a row (each in a fresh pwsh), then sum the runs.
    [ValidateRange(1, 1000)]
    [int] $Repeat = 1,

    # Bench: a short smoke run instead of the full measurement.
    [switch] $Quick
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
    Copy-Item (Join-Path $output 'EchoPS.dll') $ModuleDir -Force
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

function Invoke-Test {
    Invoke-Build
    $pester = Get-PesterModulePath
    # A fresh pwsh: a binary module loaded in this one could not be replaced by a rebuild.
    $runner = Join-Path $RepoRoot 'build/Invoke-Pester.ps1'
    # The filter travels in the environment: pwsh on Unix would expand a bare '*' argument into file names.
    $env:ECHOPS_TEST_NAME = $TestName
    $arguments = @('-NoProfile', '-NonInteractive', '-File', $runner, '-PesterPath', $pester, '-TestRoot', (Join-Path $RepoRoot 'tests/pester'))
    if ($Repeat -eq 1) {
        & $Pwsh @arguments
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
        return
    }
    # Each run prints as usual; its closing line is kept, and the runs are summed at the end.
    $runs = foreach ($run in 1..$Repeat) {
        Write-Host "=== Test run $run of $Repeat ==="
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $closing = $null
        & $Pwsh @arguments | ForEach-Object { Write-Host $_; if ($_ -match '^\d+ passed, \d+ failed') { $closing = $_ } }
        [pscustomobject]@{ Run = $run; ExitCode = $LASTEXITCODE; Closing = $closing; Seconds = [math]::Round($watch.Elapsed.TotalSeconds) }
    }
    Write-Host ''
    $totals = @{ passed = 0; failed = 0; skipped = 0 }
    foreach ($r in $runs) {
        $line = $r.Closing ?? 'no closing line (the run did not finish)'
        Write-Host "Run $($r.Run): $line (exit code $($r.ExitCode), $($r.Seconds) s)"
        $counts = @{ passed = 0; failed = 0; skipped = 0 }
        foreach ($kind in @($counts.Keys)) { if ($line -match "(\d+) $kind") { $counts[$kind] = [int]$Matches[1] } }
        # A run that failed without counting a failed test (it did not load, or did not finish) counts as one failure.
        if (($r.ExitCode -ne 0 -or -not $r.Closing) -and $counts.failed -eq 0) { $counts.failed = 1 }
        foreach ($kind in @($counts.Keys)) { $totals[$kind] += $counts[$kind] }
    }
    $failedRuns = @($runs | Where-Object { $_.ExitCode -ne 0 -or -not $_.Closing }).Count
    Write-Host "$Repeat runs, $failedRuns failed."
    Write-Host "$($totals.passed) passed, $($totals.failed) failed, $($totals.skipped) skipped"
    if ($failedRuns -gt 0) { exit 1 }
}

function Invoke-Serve {
    Invoke-Build
    Import-Module (Join-Path $ModuleDir 'EchoPS.psd1') -Force
    Start-BlockingEchoServer -Port $Port
}

function Invoke-Clean {
    foreach ($path in 'src/EchoPS/bin', 'src/EchoPS/obj', 'build/bin', 'build/obj', 'module/EchoPS.dll', 'module/en-US/EchoPS.dll-Help.xml', '.tools', 'out') {
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
