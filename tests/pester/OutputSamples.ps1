# One sample of every EchoPS output type, made by a real server and client on loopback, and the checks that a
# serialized copy (Start-Job, remoting, [PSSerializer]) still means and reads the same. Dot-sourced by
# Serialization.Tests.ps1 in this process and inside jobs, and by Remoting.Tests.ps1 on the remote side.
#
# A new output type (a new cmdlet's result): add one entry to New-EchoOutputSample; the tests pick it up, and the
# test that every declared [OutputType] has a sample fails until it is there.

function New-EchoOutputSample {
    # Returns an ordered dictionary: output type name -> the objects of that type, varied enough to fill every column
    # the views show (every event kind but Error, every client mode, a failure). Everything started here is stopped.
    $job = Start-BlockingEchoServer -Port 0 -AsJob -AllowList 127.0.0.1 -IdleTimeoutSec 30
    try {
        $port = $job.Port
        $results = @(
            Test-EchoRoundTrip 127.0.0.1 -Port $port -Count 5 -TimeoutSec 10
            Test-EchoRoundTrip 127.0.0.1 -Port $port -TotalBytes 1MB -TimeoutSec 10
            Test-EchoRoundTrip 127.0.0.1 -Port $port -Continuous -Interval 0.01 -TimeoutSec 10 | Select-Object -First 2
        )
        $concurrency = Test-EchoRoundTrip 127.0.0.1 -Port $port -Concurrency 2 -HoldMs 20 -TimeoutSec 10
        # Two rounds of two small figures: a measurement with per-round records.
        $measured = Measure-EchoServer "127.0.0.1:$port" -Figure RoundTrip, Slots -Rounds 2 -Count 50 -SlotClients 2 -HoldMs 20 -TimeoutSec 10
        # Load steps, capacity's kernel counters and the rounds' spread: two small rounds of the load and capacity figures.
        $loaded = Measure-EchoServer "127.0.0.1:$port" -Figure Load, Capacity -Clients 1, 2 -LoadSec 0.2 -CapacityConnections 3 -CapacityWaitSec 0.5 -Rounds 2 -TimeoutSec 10
        # A client from an address outside the allowlist: a Rejected event with a reason.
        $stranger = [System.Net.Sockets.TcpClient]::new([System.Net.IPEndPoint]::new([ipaddress]'127.0.0.2', 0))
        try { $stranger.Connect([ipaddress]::Loopback, $port) } finally { $stranger.Dispose() }
        # Every client's Disconnected event and the stranger's Rejected event, before the server stops (bounded).
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ($true) {
            $kinds = @($job.Output | ForEach-Object { "$($_.Kind)" })
            $settled = ($kinds -eq 'Rejected') -and @($kinds -eq 'Connected').Count -eq @($kinds -eq 'Disconnected').Count
            if ($settled -or [DateTime]::UtcNow -gt $deadline) { break }
            Start-Sleep -Milliseconds 20
        }
    }
    finally {
        $server = $job | Stop-BlockingEchoServer -PassThru
    }
    # Nothing listens on the port any more: a failure result.
    $refused = Test-EchoRoundTrip 127.0.0.1 -Port $port -TimeoutSec 5 -ErrorAction SilentlyContinue
    # And a measurement of nothing: errors per figure.
    $unmeasured = Measure-EchoServer "127.0.0.1:$port" -Figure RoundTrip -Count 10 -TimeoutSec 5 -ErrorAction SilentlyContinue
    # The server's side: EchoPS's own server started by command (observed in a cgroup of its own, stopped after), its
    # syscalls traced with strace (installed as the tests install tools; without it there is no SyscallCount sample,
    # and Serialization.Tests says so). How many figures and syscall names a run lists varies: the first few are the
    # samples, so a job's run makes as many as this one.
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1')
    $null = Install-DebianTool @{ strace = 'strace' }
    $observed = Measure-EchoServer EchoPS -Figure RoundTrip -Count 20 -Rounds 1 -Trace -TimeoutSec 10 -ErrorAction SilentlyContinue
    $events = @(Receive-Job $job -Keep)
    [ordered]@{
        'EchoPS.Server.EchoServerEvent'     = $events
        'EchoPS.Server.BlockingEchoServer'  = @($server)
        'EchoPS.Jobs.EchoServerJob'         = @($job)
        'EchoPS.Client.EchoRoundTripResult' = @($results) + $concurrency + $refused
        'EchoPS.Client.EchoClientWait'      = @($concurrency.Clients)
        'EchoPS.Measure.EchoServerMeasurement' = @($measured) + $unmeasured + $loaded + $observed
        'EchoPS.Measure.MeasureRound'       = @($measured.PerRound)
        'EchoPS.Measure.MeasureError'       = @($unmeasured.Errors)
        'EchoPS.Measure.LoadStep'           = @($loaded.Load)
        'EchoPS.Measure.FigureSpread'       = @($loaded.Spread)
        'EchoPS.Measure.KernelCounterDelta' = @($loaded.CapacityKernel | Where-Object { $_ })
        'EchoPS.Measure.ServerFigureCost'   = @($observed.ServerCost | Select-Object -First 1)
        'EchoPS.Measure.SyscallCount'       = @($observed.Syscalls | Select-Object -First 3)
    }
}

# Makes the samples in another process (a job, a remote session) and sends them back: first a hashtable with the
# views' text as that process shows its live objects, and how many objects of each type follow; then the objects.
$EchoSampleProducer = {
    param([string] $Manifest, [string] $SamplesFile)
    Import-Module $Manifest
    . $SamplesFile
    $made = New-EchoOutputSample
    $text = @{}
    foreach ($type in $made.Keys) {
        $rendered = Format-EchoOutputText $made[$type]
        $text["$type|Table"] = $rendered.Table
        $text["$type|List"] = $rendered.List
        $text["$type|Count"] = @($made[$type]).Count
    }
    $text
    foreach ($type in $made.Keys) { $made[$type] }
}

function Split-EchoOutputSample {
    # What $EchoSampleProducer sent, as Text (the hashtable) and Copies (type name -> the deserialized objects).
    param([Parameter(Mandatory)] [object[]] $Received, [Parameter(Mandatory)] [string[]] $TypeName)
    $text = $Received[0]
    $copies = @{}
    $next = 1
    foreach ($type in $TypeName) {
        $count = [int]$text["$type|Count"]
        $copies[$type] = if ($count) { @($Received[$next..($next + $count - 1)]) } else { @() }
        $next += $count
    }
    [pscustomobject]@{ Text = $text; Copies = $copies }
}

function Format-EchoOutputText {
    # The default table and the list view of $Objects as plain text, as a person would see them.
    param([Parameter(Mandatory)] [object[]] $Objects, [int] $Width = 250)
    $PSStyle.OutputRendering = 'PlainText'
    [pscustomobject]@{
        Table = ($Objects | Format-Table | Out-String -Width $Width).TrimEnd()
        List  = ($Objects | Format-List | Out-String -Width $Width).TrimEnd()
    }
}

function Compare-EchoOutputMeaning {
    # What a serialized copy lost or changed, property by property: an empty list when every property of $Live is on
    # $Copy with the same meaning. Enums must arrive as their names (text), times as the same instant (a DateTime),
    # numbers and text unchanged, nested EchoPS objects (a result's Clients, a job's Server) the same, recursively.
    # -ShapeOnly compares kinds, not values: for a copy of another object of the same type (made in another process).
    param([Parameter(Mandatory)] $Live, [Parameter(Mandatory)] $Copy, [string] $Path = '', [switch] $ShapeOnly)
    foreach ($property in $Live.PSObject.Properties) {
        $name = $property.Name
        $where = "$Path$name"
        try { $value = $property.Value } catch { continue } # a live property that throws has no value to carry
        # The job's PowerShell plumbing (ChildJobs, Output, JobStateInfo, Finished) is PowerShell's to carry or not.
        $carried = $null -eq $value -or $value -is [string] -or $value -is [ValueType] -or $value.GetType().FullName -like 'EchoPS.*'
        if (-not $carried) { continue }
        if (-not $Copy.PSObject.Properties[$name]) { "${where}: missing"; continue }
        $copied = $Copy.PSObject.Properties[$name].Value
        $copiedText = if ($null -eq $copied) { 'null' } else { "$($copied.GetType().Name) '$copied'" }
        if ($null -eq $value -or ($ShapeOnly -and $null -eq $copied)) {
            if (-not $ShapeOnly -and $null -ne $copied) { "${where}: null arrived as $copiedText" }
        }
        elseif ($value -is [enum]) {
            $named = $copied -is [string] -and [enum]::GetNames($value.GetType()) -ccontains $copied
            if (-not $named -or (-not $ShapeOnly -and $copied -cne $value.ToString())) { "${where}: enum $value arrived as $copiedText" }
        }
        elseif ($value -is [DateTime]) {
            if ($copied -isnot [DateTime] -or (-not $ShapeOnly -and $copied.ToUniversalTime() -ne $value.ToUniversalTime())) {
                "${where}: time $($value.ToString('o')) arrived as $copiedText"
            }
        }
        elseif ($value -is [string] -or $value -is [ValueType]) {
            if ($null -eq $copied -or $copied.GetType() -ne $value.GetType() -or (-not $ShapeOnly -and $copied -ne $value)) {
                "${where}: $($value.GetType().Name) '$value' arrived as $copiedText"
            }
        }
        elseif ($null -eq $copied -or $copied -is [string]) {
            "${where}: $($value.GetType().Name) arrived as $copiedText"
        }
        else {
            if ($value -is [array]) {
                $items = @($copied)
                if ($items.Count -ne $value.Count -and -not $ShapeOnly) { "${where}: $($value.Count) items arrived as $($items.Count)"; continue }
                for ($i = 0; $i -lt [math]::Min($value.Count, $items.Count); $i++) {
                    Compare-EchoOutputMeaning $value[$i] $items[$i] "$where[$i]." -ShapeOnly:$ShapeOnly
                }
            }
            else {
                Compare-EchoOutputMeaning $value $copied "$where." -ShapeOnly:$ShapeOnly
            }
        }
    }
}
