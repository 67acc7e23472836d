<#
.SYNOPSIS
    Runs the Pester suite in this (fresh) pwsh and ends with one plain line: "N passed, N failed".
    Exits non-zero when anything failed, including a test file that did not load or a failing BeforeAll/AfterAll.
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
$line = "$($result.PassedCount) passed, $failed failed"
if ($result.SkippedCount -gt 0) { $line += ", $($result.SkippedCount) skipped" }
Write-Host ''
Write-Host $line
if ($failed -gt 0 -or $result.Result -ne 'Passed' -or $result.PassedCount -eq 0) { exit 1 }
exit 0
