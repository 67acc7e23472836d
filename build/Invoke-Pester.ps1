<#
.SYNOPSIS
    Runs Pester test files in this (fresh) pwsh and ends with one plain line: "N passed, N failed, N skipped".
    Every skipped test is listed with its reason just before that line. Exits non-zero when anything failed,
    including a test file that did not load or a failing BeforeAll/AfterAll.
.DESCRIPTION
    With -ClaimDir, several of these processes share one run: each takes the next file nobody has taken yet (a file
    created with CreateNew in ClaimDir is the claim, atomic across processes), so the files spread over the processes
    by how long they really take. Without it, this process runs every matching file.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $TestRoot,
    # Which tests/pester/<TestName>.Tests.ps1 files to run; all by default.
    [string] $TestName = $env:ECHOPS_TEST_NAME,
    # A folder shared with the other processes of this run (see DESCRIPTION).
    [string] $ClaimDir = ''
)
if (-not $TestName) { $TestName = '*' }

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module $PesterPath -Force

# Files with a long set-up (servers compiled or started, namespaces, tools installed) go first, so the shorter ones
# fill in behind them; a file not named here (a new one) counts as long.
$short = 'Help', 'Parameters', 'Serialization', 'Robustness', 'Netcat', 'Module', 'LockDown', 'Flood', 'TestEchoRoundTrip', 'Server'
$files = @(Get-ChildItem -Path $TestRoot -Filter "$TestName.Tests.ps1" |
        Sort-Object { [array]::IndexOf($short, ($_.Name -replace '\.Tests\.ps1$')) }, Name)

function Test-Claim([System.IO.FileInfo] $File) {
    if (-not $ClaimDir) { return $true }
    try { [System.IO.File]::Open((Join-Path $ClaimDir $File.Name), 'CreateNew').Dispose(); $true }
    catch [System.IO.IOException] { $false }
}

$passed = 0; $failed = 0; $skipped = [System.Collections.Generic.List[object]]::new(); $ran = 0
foreach ($file in $files) {
    if (-not (Test-Claim $file)) { continue }
    $config = New-PesterConfiguration
    $config.Run.Path = @($file.FullName)
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.Output.RenderMode = 'Plaintext'
    $config.Should.ErrorAction = 'Continue'
    $result = Invoke-Pester -Configuration $config
    $ran++
    $passed += $result.PassedCount
    # Pester's FailedCount leaves out files that failed to load and failing setup blocks: count those as failures too.
    $failed += $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    if ($result.Result -ne 'Passed' -and $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount -eq 0) { $failed++ }
    foreach ($test in $result.Skipped) { $skipped.Add($test) }
}
# Every skip with its reason: Set-ItResult -Skipped -Because puts it in the test's error record ("is skipped, because
# ..."); a bare -Skip carries none, which is said too, so a skip can never pass unexplained.
if ($skipped.Count -gt 0) {
    Write-Host ''
    Write-Host "Skipped ($($skipped.Count)):"
    foreach ($test in $skipped) {
        $message = @($test.ErrorRecord | ForEach-Object { "$($_.Exception.Message)" } | Where-Object { $_ }) | Select-Object -First 1
        $reason = if ($message -match '(?s)^is skipped,\s*because\s*(.*)$') { $Matches[1] } else { 'no reason given (-Skip without Set-ItResult -Because)' }
        Write-Host "  $($test.ExpandedPath): $reason"
    }
}
Write-Host ''
Write-Host "$passed passed, $failed failed, $($skipped.Count) skipped"
# A process that found every file taken ran nothing, which is fine when it shares a run; alone, no test is a failure.
if ($failed -gt 0 -or (-not $ClaimDir -and $passed -eq 0)) { exit 1 }
exit 0
