# The admin's side of Remoting.Tests.ps1: runs in the admin's network namespace, drives two hosts over PowerShell
# remoting through SSH, and writes what it saw to a JSON report for the test to check. Every step is bounded
# (SSH connect timeout, client timeouts, Wait-Job -Timeout); the test kills this process if it overruns anyway.
param(
    [Parameter(Mandatory)] [string] $Manifest,
    [Parameter(Mandatory)] [string] $SamplesFile,
    [Parameter(Mandatory)] [string] $KeyFile,
    [Parameter(Mandatory)] [string] $KnownHosts,
    [Parameter(Mandatory)] [string] $HostA,      # the remote host (the other namespace)
    [Parameter(Mandatory)] [string] $HostB,      # this namespace's own address: a second host for the fan-out
    [Parameter(Mandatory)] [string] $Stranger,   # a second address here that no allowlist admits
    [Parameter(Mandatory)] [string] $MatrixScript, # the matrix pipeline of the help's fan-out example, as text
    [Parameter(Mandatory)] [string] $ReportPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
. $SamplesFile
$PSStyle.OutputRendering = 'PlainText'

# PowerShell's SSH transport runs the ssh client with these options: the host key made for this run is the only one
# trusted, nothing prompts (BatchMode), only the run's key is offered.
$ssh = @{
    UserName          = 'root'
    KeyFilePath       = $KeyFile
    ConnectingTimeout = 30000
    Options           = @{
        UserKnownHostsFile    = $KnownHosts
        GlobalKnownHostsFile  = '/dev/null'
        StrictHostKeyChecking = 'yes'
        BatchMode             = 'yes'
        IdentitiesOnly        = 'yes'
        ConnectTimeout        = '20'
    }
}
$report = [ordered]@{}
$sessions = @()
try {
    $a = New-PSSession -HostName $HostA @ssh
    $sessions += $a
    $report.RemoteHost = Invoke-Command -Session $a { "$([System.Net.Dns]::GetHostName()) pid $PID, $($PSVersionTable.PSVersion)" }

    # 1. A locked-down server on the remote host, started through the session: bound to its link address, open
    #    only to this host, as a job that outlives the Invoke-Command.
    $job = Invoke-Command -Session $a -ArgumentList $Manifest, $HostA, $HostB {
        param($manifest, $address, $peer)
        Import-Module $manifest
        Start-BlockingEchoServer -Address $address -Port 0 -AllowList $peer -IdleTimeoutSec 30 -AsJob
    }
    $report.JobTypeNames = @($job.PSObject.TypeNames)
    $report.JobPort = $job.Port
    $report.JobServerId = $job.ServerId
    $report.JobTable = (Format-EchoOutputText @($job)).Table

    $result = Test-EchoRoundTrip $HostA -Port $job.Port -Count 20 -TimeoutSec 10
    $report.Result = $result | Select-Object Status, Address, Port, LocalEndPoint, RoundTrips, RttP50Ms, Message
    $report.ResultTable = (Format-EchoOutputText @($result)).Table

    # A client from an address the allowlist does not admit.
    $outsider = [System.Net.Sockets.TcpClient]::new([System.Net.IPEndPoint]::new([ipaddress]$Stranger, 0))
    try { $outsider.Connect([ipaddress]$HostA, $job.Port) } finally { $outsider.Dispose() }

    # 2. The fan-out: a second host (this namespace, through its own sshd), a server there open to both hosts,
    #    and every host testing every target, one of which is closed.
    $b = New-PSSession -HostName $HostB @ssh
    $sessions += $b
    $jobB = Invoke-Command -Session $b -ArgumentList $Manifest, $HostB {
        param($manifest, $address)
        Import-Module $manifest
        Start-BlockingEchoServer -Address $address -Port 0 -AllowList "$($address -replace '\.\d+$', '.0')/24" -IdleTimeoutSec 30 -AsJob
    }
    Invoke-Command -Session $a -ArgumentList $Manifest { param($manifest) Import-Module $manifest }
    $targets = @(
        [pscustomobject]@{ HostName = $HostA; Port = $job.Port }
        [pscustomobject]@{ HostName = $HostB; Port = $jobB.Port }
        [pscustomobject]@{ HostName = $HostA; Port = 9 }
    )
    $results = @(Invoke-Command -Session $sessions -ThrottleLimit 2 {
            $using:targets | Test-EchoRoundTrip -Count 20 -TimeoutSec 3 -ErrorAction SilentlyContinue
        })
    $report.FanOut = @($results | Sort-Object PSComputerName, TargetName, Port |
            Select-Object PSComputerName, TargetName, Port, Status, RttP50Ms, LocalEndPoint, Message)
    $report.FanOutTable = ($results | Sort-Object PSComputerName, TargetName, Port |
            Format-Table PSComputerName, TargetName, Port, Status, RttP50Ms, Message | Out-String -Width 130).TrimEnd()
    $report.FanOutDefaultTable = ($results | Sort-Object PSComputerName, TargetName, Port | Out-String -Width 130).TrimEnd()
    $matrix = & ([scriptblock]::Create($MatrixScript))
    $report.Matrix = @($matrix | ForEach-Object { $_ })
    $report.MatrixTable = ($matrix | Format-Table | Out-String -Width 130).TrimEnd()
    $csv = Join-Path ([IO.Path]::GetTempPath()) "echops-fanout-$PID.csv"
    try {
        $results | Export-Csv $csv
        $report.Csv = @(Import-Csv $csv | Select-Object PSComputerName, TargetName, Port, Status, RttP50Ms)
    }
    finally { Remove-Item $csv -ErrorAction SilentlyContinue }
    $report.Json = $results | ConvertTo-Json -Depth 3 | ConvertFrom-Json | Select-Object PSComputerName, TargetName, Port, Status, Timestamp

    # 3. The remote server's events, as the remote side recorded them, then everything there stopped.
    $events = @(Invoke-Command -Session $a -ArgumentList $job.Id {
            param($id)
            $j = Get-Job -Id $id
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            while (-not ($j.Output | Where-Object Kind -EQ 'Rejected') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            $j | Stop-Job
            Receive-Job $j
            $j | Remove-Job -Force
        })
    $report.Events = @($events | Select-Object Kind, RemoteEndPoint, Reason, BytesEchoed, PSComputerName)
    $report.EventsTable = (Format-EchoOutputText $events -Width 130).Table
    Invoke-Command -Session $b -ArgumentList $jobB.Id { param($id) Get-Job -Id $id | Stop-Job -PassThru | Remove-Job -Force }

    # 4. Every output type made on the remote host reads here as it read there.
    $received = Invoke-Command -Session $a -HideComputerName -ScriptBlock $EchoSampleProducer -ArgumentList $Manifest, $SamplesFile
    $local = New-EchoOutputSample
    $split = Split-EchoOutputSample -Received @($received) -TypeName $local.Keys
    $report.Views = foreach ($type in $local.Keys) {
        $copies = $split.Copies[$type]
        $here = Format-EchoOutputText $copies
        [pscustomobject]@{
            Type        = $type
            TypeNames   = @($copies | ForEach-Object { $_.PSObject.TypeNames[0] } | Sort-Object -Unique)
            Count       = $copies.Count
            RemoteTable = $split.Text["$type|Table"]
            LocalTable  = $here.Table
            RemoteList  = $split.Text["$type|List"]
            LocalList   = $here.List
            Lost        = @(for ($i = 0; $i -lt [math]::Min($copies.Count, @($local[$type]).Count); $i++) {
                    Compare-EchoOutputMeaning @($local[$type])[$i] $copies[$i] -ShapeOnly
                })
        }
    }
    $local['EchoPS.Jobs.EchoServerJob'] | Remove-Job -Force
}
finally {
    $report.SessionStates = @($sessions | ForEach-Object { "$($_.State)" })
    $sessions | Remove-PSSession
    $report | ConvertTo-Json -Depth 6 -EnumsAsStrings | Set-Content -LiteralPath $ReportPath
}
