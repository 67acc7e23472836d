# What people read: every default table at 80 columns (a default terminal) and written to a file (Out-File, >) keeps
# what matters in full, for live objects and for deserialized copies (Export-Clixml, jobs, remoting): the event table
# shows Kind and Reason whole and its detail wrapped, never cut; Get-BlockingEchoServer's table every column;
# Measure-EchoServer's table its Errors and ratio columns (every figure in the view named Wide). PowerShell marks a
# cut cell with '…': none may appear.

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'OutputSamples.ps1')
    Import-Module $ModuleManifest
    $PSStyle.OutputRendering = 'PlainText'
    $samples = New-EchoOutputSample

    function ConvertTo-SerializedCopy($InputObject) {
        [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject))
    }

    # The default view's text three ways: Out-String at 80 columns, Out-File at 80 columns, and '>' (Out-File at the
    # host's width); each as lines.
    function Get-RenderedText {
        param([object[]] $Objects, [string] $Name)
        $file = Join-Path $TestDrive "$Name.txt"
        $redirected = Join-Path $TestDrive "$Name-redirected.txt"
        $Objects | Out-File -LiteralPath $file -Width 80
        $Objects > $redirected
        [ordered]@{
            'Out-String -Width 80' = ($Objects | Out-String -Width 80)
            'Out-File -Width 80'   = (Get-Content -LiteralPath $file -Raw)
            '> file'               = (Get-Content -LiteralPath $redirected -Raw)
        }
    }

    # Text without the layout: every run of white space removed, so a value wrapped over lines reads as one again.
    function Get-Squeezed([string] $Text) { $Text -replace '\s+', '' }
}

AfterAll {
    if ($samples) { $samples['EchoPS.Jobs.EchoServerJob'] | Remove-Job -Force -ErrorAction SilentlyContinue }
}

Describe 'The event table (<_>)' -ForEach 'live', 'deserialized' {
    BeforeAll {
        $events = @($samples['EchoPS.Server.EchoServerEvent'])
        if ($_ -eq 'deserialized') { $events = @(ConvertTo-SerializedCopy $events) }
        $rendered = Get-RenderedText $events "events-$_"
    }

    It 'keeps every Kind and Reason whole, and every detail, at 80 columns and in a file' {
        $events.Count | Should -BeGreaterThan 3
        foreach ($route in $rendered.Keys) {
            $text = $rendered[$route]
            $text | Should -Not -Match '…' -Because "$route must not cut a cell"
            $lines = $text -split "`r?`n"
            if ($route -like '*80*') { ($lines | Measure-Object Length -Maximum).Maximum | Should -BeLessOrEqual 80 -Because $route }
            $lines | Where-Object { $_ -match '^Time\s' } | Should -Match 'Kind\s+Endpoint\s+Echoed\s+Dur\(ms\)\s+Reason/Detail' -Because $route
            $squeezed = Get-Squeezed $text
            foreach ($event in $events) {
                $row = $lines | Where-Object { $_ -like "$($event.Timestamp.ToString('HH:mm:ss.fff')) *" } | Where-Object { $_ -match "\s$($event.Kind)\s" } |
                    Where-Object { -not $event.Endpoint -or $_ -like "*$($event.Endpoint) *" }
                $row | Should -Not -BeNullOrEmpty -Because "$route shows the $($event.Kind) row of $($event.Timestamp.ToString('HH:mm:ss.fff')) with its Kind whole"
                if ($event.Reason) { $row | Should -Match "\s$($event.Reason)(:|\s|$)" -Because "$route shows the reason $($event.Reason) whole on its row" }
                if ($event.Message) { $squeezed | Should -BeLikeExactly "*$(Get-Squeezed $event.Message)*" -Because "$route keeps the detail '$($event.Message)'" }
            }
        }
        # The sample has a rejected client (a reason and a detail) and a Stopped event (clients served).
        Get-Squeezed $rendered['Out-String -Width 80'] | Should -Match 'NotAllowed:127\.0\.0\.2isnotintheallowlist'
        Get-Squeezed $rendered['Out-String -Width 80'] | Should -Match '\d+clientsserved'
    }

    It 'shows sizes and times for people' {
        $text = $rendered['Out-String -Width 80']
        $text | Should -Match "\s$([regex]::Escape((1.0).ToString('0.0'))) MiB\s"
        $stopped = $events | Where-Object { "$($_.Kind)" -eq 'Stopped' }
        $text | Should -Match ([regex]::Escape([EchoPS.Formatting.DisplayFormat]::Milliseconds($stopped.DurationMs)))
    }
}

Describe 'Get-BlockingEchoServer''s table (<_>)' -ForEach 'live', 'deserialized' {
    It 'fits 80 columns with every column and no cut value' {
        $servers = @($samples['EchoPS.Server.BlockingEchoServer'])
        if ($_ -eq 'deserialized') { $servers = @(ConvertTo-SerializedCopy $servers) }
        $rendered = Get-RenderedText $servers "servers-$_"
        foreach ($route in $rendered.Keys) {
            $text = $rendered[$route]
            $text | Should -Not -Match '…' -Because $route
            $text | Should -Match 'Id\s+State\s+Endpoint\s+CurrentClient\s+Clients\s+Echoed\s+Uptime' -Because $route
            $text | Should -Match "\s$($servers[0].State)\s+$([regex]::Escape($servers[0].LocalEndPoint))\s.*\s$($servers[0].ClientsServed)\s" -Because $route
            if ($route -like '*80*') { (($text -split "`r?`n") | Measure-Object Length -Maximum).Maximum | Should -BeLessOrEqual 80 }
        }
    }
}

Describe 'Measure-EchoServer''s table (<_>)' -ForEach 'live', 'deserialized' {
    BeforeAll {
        $measured = @($samples['EchoPS.Measure.EchoServerMeasurement'])
        if ($_ -eq 'deserialized') { $measured = @(ConvertTo-SerializedCopy $measured) }
    }

    It 'keeps Errors and the ratio columns at 80 columns and in a file' {
        $rendered = Get-RenderedText $measured "measure-$_"
        foreach ($route in $rendered.Keys) {
            $text = $rendered[$route]
            $text | Should -Not -Match '…' -Because $route
            $text | Should -Match 'Name\s+P50\(µs\)\s+MiB/s\s+Conn/s\s+Errors\s+xP50\s+xMiB/s\s+xConn/s\s+xCap' -Because $route
            # The measured server: its p50 ratio to itself; the unreachable one: its error count.
            $text | Should -Match "$([regex]::Escape($measured[0].Name))\s+$([regex]::Escape($measured[0].RttP50Us.ToString('0.0')))\s+$($measured[0].ErrorCount)\s+$([regex]::Escape((1).ToString('0.00')))" -Because $route
            $text | Should -Match "$([regex]::Escape($measured[1].Name))\s+$($measured[1].ErrorCount)\s*(\r?\n|$)" -Because $route
            if ($route -like '*80*') { (($text -split "`r?`n") | Measure-Object Length -Maximum).Maximum | Should -BeLessOrEqual 80 }
        }
    }

    It 'has every figure in the view named Wide' {
        $text = $measured | Format-Table -View Wide | Out-String -Width 200
        $text | Should -Match 'P99\(µs\)\s+P99\.9\(µs\)\s+MiB/s\s+Conn/s\s+Slots\s+Capacity\s+Errors\s+xP50\s+xP99\s+xMiB/s\s+xConn/s\s+xSlots\s+xCapacity'
        $text | Should -Match "\s$([regex]::Escape($measured[0].SlotsText))\s"
    }
}
