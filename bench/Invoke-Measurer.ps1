<#
.SYNOPSIS
    The bench's call of Measure-EchoServer, in a pwsh of its own (the bench pins it with taskset): a warm-up run,
    a wait until the servers and this process are idle, then the measurement, its report written to -Path.
.DESCRIPTION
    The warm-up compiles the measurer's and every server's code paths, so neither is measured while the JIT works
    beside it on the same CPU. -SpecFile is a JSON object: Target (Measure-EchoServer's targets), Parameters (its
    other parameters) and IdleProcessId (servers to wait for, besides this process, at most IdleTimeoutSec). The bench reads the results
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
$warmUp = @{ Quick = $true; Figure = @('RoundTrip', 'Stream', 'Connections') }
$null = Measure-EchoServer $Target @warmUp -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
$null = Wait-ProcessIdle -ProcessId (@($PID) + @($spec.IdleProcessId)) -TimeoutSec $spec.IdleTimeoutSec
$null = Measure-EchoServer $Target @parameters -Path $Path -ErrorAction Continue
