<#
.SYNOPSIS
    Runs the Pester suite in this (fresh) pwsh and ends with one plain line: "N passed, N failed, N skipped".
    Every skipped test is listed with its reason just before that line. Exits non-zero when anything failed,
    including a test file that did not load or a failing BeforeAll/AfterAll.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $TestRoot,
    # Which tests/pester/<TestName>.Tests.ps1 files to run; all by default.
    [string] $TestName = $env:ECHOPS_TEST_NAME
)
if (-not $TestName) { $TestName = '*' }

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module $PesterPath -Force

$config = New-PesterConfiguration
$config.Run.Path = @(Get-ChildItem -Path $TestRoot -Filter "$TestName.Tests.ps1" | ForEach-Object FullName)
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.Output.RenderMode = 'Plaintext'
$config.Should.ErrorAction = 'Continue'

$result = Invoke-Pester -Configuration $config

# Pester's FailedCount leaves out files that failed to load and failing setup blocks: count those as failures too.
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
# Every skip with its reason: Set-ItResult -Skipped -Because puts it in the test's error record ("is skipped, because
# ..."); a bare -Skip carries none, which is said too, so a skip can never pass unexplained.
if ($result.SkippedCount -gt 0) {
    Write-Host ''
    Write-Host "Skipped ($($result.SkippedCount)):"
    foreach ($test in $result.Skipped) {
        $message = @($test.ErrorRecord | ForEach-Object { "$($_.Exception.Message)" } | Where-Object { $_ }) | Select-Object -First 1
        $reason = if ($message -match '(?s)^is skipped,\s*because\s*(.*)$') { $Matches[1] } else { 'no reason given (-Skip without Set-ItResult -Because)' }
        Write-Host "  $($test.ExpandedPath): $reason"
    }
}
Write-Host ''
Write-Host "$($result.PassedCount) passed, $failed failed, $($result.SkippedCount) skipped"
if ($failed -gt 0 -or $result.Result -ne 'Passed' -or $result.PassedCount -eq 0) { exit 1 }
exit 0
