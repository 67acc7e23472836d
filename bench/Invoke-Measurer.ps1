<#
.SYNOPSIS
    The bench's call of Measure-EchoServer, in a pwsh of its own (the bench pins it with taskset): the measurement,
    its report written to -Path.
.DESCRIPTION
    The targets are commands: Measure-EchoServer starts each server (pinned beside itself when it is pinned), warms it
    and itself up and waits until the server is idle before the first round, then stops it. -SpecFile is a JSON
    object: Target (Measure-EchoServer's targets) and Parameters (its other parameters). The bench reads the results
    from -Path/measurement.json; this script prints nothing else.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SpecFile,
    [Parameter(Mandatory)] [string] $Path
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath
Import-Module (Join-Path $PSScriptRoot '../build/DevTools.psm1')
$spec = Get-Content -Raw $SpecFile | ConvertFrom-Json
$Target = [string[]]$spec.Target
$parameters = @{}
foreach ($p in $spec.Parameters.PSObject.Properties) { $parameters[$p.Name] = $p.Value }
$null = Wait-ProcessIdle -ProcessId $PID -TimeoutSec $spec.IdleTimeoutSec
$null = Measure-EchoServer $Target @parameters -Path $Path -ErrorAction Continue
