<#
.SYNOPSIS
    The EchoPS server as a user starts it, for the bench: its own pwsh, the module imported, Start-BlockingEchoServer
    in the foreground with its events streaming to this process's output (the bench sends them to a log file).
.PARAMETER Events
    Formatted (default, the user's way): events formatted by the default view and written out as they happen.
    Discarded: events go down the pipeline into Out-Null (the pipeline's cost without formatting and writing).
    Job: -AsJob, events kept in the job (the engine's cost alone). With Job, several ports (each with its
    -BufferSize) start one server job each in this one process (the bench's buffer sweep).
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # One port, or several separated by commas (pwsh -File passes one string per parameter).
    [Parameter(Mandatory)] [string] $Port,
    # The buffer of each server, as -Port; 0: the default.
    [string] $BufferSize = '0',
    [ValidateSet('Formatted', 'Discarded', 'Job')] [string] $Events = 'Formatted'
)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module $ModulePath
$ports = [int[]]($Port -split ',')
$sizes = [int[]]($BufferSize -split ',')
if ($ports.Count -gt 1 -and $Events -ne 'Job') { throw 'Several ports need -Events Job.' }
$servers = for ($i = 0; $i -lt $ports.Count; $i++) {
    $options = @{ Port = $ports[$i] }
    $size = $sizes[[math]::Min($i, $sizes.Count - 1)]
    if ($size -gt 0) { $options.BufferSize = $size }
    $options
}
$first = @($servers)[0]
switch ($Events) {
    'Formatted' { Start-BlockingEchoServer @first }
    'Discarded' { Start-BlockingEchoServer @first | Out-Null }
    'Job' { $servers | ForEach-Object { $options = $_; Start-BlockingEchoServer @options -AsJob } | Wait-Job }
}
