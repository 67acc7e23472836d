<#
.SYNOPSIS
    The EchoPS server as a user starts it, for the bench: its own pwsh, the module imported, Start-BlockingEchoServer
    in the foreground with its events streaming to this process's output (the bench sends them to a log file).
.PARAMETER Events
    Formatted (default, the user's way): events formatted by the default view and written out as they happen.
    Discarded: events go down the pipeline into Out-Null (the pipeline's cost without formatting and writing).
    Job: -AsJob, events kept in the job (the engine's cost alone). The last two only explain where time goes.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [int] $Port,
    [int] $BufferSize = 0,
    [ValidateSet('Formatted', 'Discarded', 'Job')] [string] $Events = 'Formatted'
)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module $ModulePath
$options = @{ Port = $Port }
if ($BufferSize -gt 0) { $options.BufferSize = $BufferSize }
switch ($Events) {
    'Formatted' { Start-BlockingEchoServer @options }
    'Discarded' { Start-BlockingEchoServer @options | Out-Null }
    'Job' { Start-BlockingEchoServer @options -AsJob | Wait-Job }
}
