# Every output type keeps its meaning and its view after serialization, as scripts meet it: through [PSSerializer]
# at the default depth (what Export-Clixml and remoting do), and through Start-Job (a second process). The same
# checks through a real remoting session are in Remoting.Tests.ps1. One data-driven test per type and route: a new
# output type needs only a sample in OutputSamples.ps1.

BeforeDiscovery {
    $module = Import-Module (Join-Path $PSScriptRoot '../../module/EchoPS.psd1') -PassThru -Force
    # Every EchoPS type a cmdlet declares it outputs, and the EchoPS types those carry in their properties (a
    # result's Clients, a job's Server): each must survive serialization. An abstract property type (a job's Server is
    # an EchoServer) has no instances of its own: its concrete types are declared outputs and sampled as such.
    $declared = @($module.ExportedCmdlets.Values.OutputType.Type | Where-Object { $_ -and $_.FullName -like 'EchoPS.*' })
    $nested = foreach ($type in $declared) {
        foreach ($property in $type.GetProperties()) {
            $inner = if ($property.PropertyType.IsArray) { $property.PropertyType.GetElementType() } else { $property.PropertyType }
            if ($inner.IsClass -and -not $inner.IsAbstract -and $inner.FullName -like 'EchoPS.*') { $inner }
        }
    }
    $outputTypes = @(@($declared) + @($nested) | ForEach-Object FullName | Sort-Object -Unique)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'OutputSamples.ps1')
    $PSStyle.OutputRendering = 'PlainText'
    $samples = New-EchoOutputSample

    # The same samples made in a job's own process, with the views' text as that process shows the live objects.
    $producer = Start-Job -ScriptBlock $EchoSampleProducer -ArgumentList $ModuleManifest, (Join-Path $PSScriptRoot 'OutputSamples.ps1')
    $null = Wait-Job $producer -Timeout 300
    if ($producer.State -ne 'Completed') {
        $state = $producer.State
        $producer | Stop-Job
        throw "The sample job did not complete within 300 s: $state $(Receive-Job $producer 2>&1)"
    }
    $fromJob = Split-EchoOutputSample -Received @(Receive-Job $producer -ErrorAction Stop) -TypeName $samples.Keys
    Remove-Job $producer -Force
    $jobText = $fromJob.Text
    $jobCopies = $fromJob.Copies

    function ConvertTo-SerializedCopy {
        # What Export-Clixml, Import-Clixml and remoting do to an object, at PowerShell's default depth.
        param($InputObject)
        [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject))
    }
}

AfterAll {
    # New-EchoOutputSample stops its server; its job is left for Receive-Job and removed here.
    if ($samples) { $samples['EchoPS.Jobs.EchoServerJob'] | Remove-Job -Force -ErrorAction SilentlyContinue }
}

Describe 'Output type <_> after serialization' -ForEach $outputTypes {
    BeforeAll {
        $type = $_
        $live = @($samples[$type])
        $skipReason = if ($live.Count -eq 0 -and $type -eq 'EchoPS.Measure.SyscallCount' -and -not (Get-Command strace -ErrorAction Ignore)) {
            'a SyscallCount comes only from -Trace, which needs strace, and strace could not be installed here'
        }
        if (-not $skipReason) { $live.Count | Should -BeGreaterThan 0 -Because "OutputSamples.ps1 must make a sample of every output type ($type has none)" }
    }

    It 'keeps every property''s meaning through [PSSerializer] at the default depth: enums as names, times as times' {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason; return }
        foreach ($object in $live) {
            $copy = ConvertTo-SerializedCopy $object
            $copy.PSObject.TypeNames[0] | Should -Be "Deserialized.$type"
            @(Compare-EchoOutputMeaning $object $copy) | Should -BeNullOrEmpty
        }
    }

    It 'reads the same in its table and list views through [PSSerializer]' {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason; return }
        $copies = @($live | ForEach-Object { ConvertTo-SerializedCopy $_ })
        $want = Format-EchoOutputText $live
        $got = Format-EchoOutputText $copies
        $got.Table | Should -Be $want.Table
        $got.List | Should -Be $want.List
    }

    It 'keeps its meaning through Start-Job' {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason; return }
        $copies = @($jobCopies[$type])
        $copies.Count | Should -Be $live.Count -Because 'the job makes the same samples'
        for ($i = 0; $i -lt $copies.Count; $i++) {
            $copies[$i].PSObject.TypeNames[0] | Should -Be "Deserialized.$type"
            @(Compare-EchoOutputMeaning $live[$i] $copies[$i] -ShapeOnly) | Should -BeNullOrEmpty
        }
    }

    It 'reads here as the job''s own process showed it (Start-Job)' {
        if ($skipReason) { Set-ItResult -Skipped -Because $skipReason; return }
        $got = Format-EchoOutputText @($jobCopies[$type])
        $got.Table | Should -Be $jobText["$type|Table"]
        $got.List | Should -Be $jobText["$type|List"]
    }
}

Describe 'What scripts do with serialized results' {
    BeforeAll {
        $copies = @($samples['EchoPS.Client.EchoRoundTripResult'] | ForEach-Object { ConvertTo-SerializedCopy $_ })
    }

    It 'filters and groups by status name, as a fan-out script does' {
        @($copies | Where-Object Status -eq 'Success').Count | Should -Be ($copies.Count - 1)
        @($copies | Where-Object Status -eq 'Refused').Count | Should -Be 1
        ($copies | Group-Object Mode).Name | Should -Contain 'Concurrency'
    }

    It 'exports names and times, not integers, to CSV and JSON' {
        $csv = $copies | ConvertTo-Csv | ConvertFrom-Csv
        $csv[0].Status | Should -Be 'Success'
        $csv[0].Mode | Should -Be 'RoundTrip'
        [DateTime]::Parse($csv[0].Timestamp) | Should -BeOfType [DateTime]
        $json = $copies | ConvertTo-Json -Depth 3 | ConvertFrom-Json
        $json[0].Status | Should -Be 'Success'
        ($json | Where-Object Mode -eq 'Concurrency').Clients[0].Status | Should -Be 'Success'
        # The live objects, too, with -EnumsAsStrings (PowerShell 7): the same text.
        ($samples['EchoPS.Client.EchoRoundTripResult'][0] | ConvertTo-Json -EnumsAsStrings | ConvertFrom-Json).Status | Should -Be 'Success'
    }
}
