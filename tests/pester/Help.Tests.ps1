# Help cannot fall behind the code: every exported cmdlet and parameter has text and every cmdlet real examples,
# as Get-Help shows them from the generated MAML; the markdown documents nothing the code does not have.

BeforeDiscovery {
    $manifest = Join-Path $PSScriptRoot '../../module/EchoPS.psd1'
    $module = Import-Module $manifest -PassThru -Force
    $common = [System.Management.Automation.Cmdlet]::CommonParameters
    $cmdletCases = foreach ($command in $module.ExportedCmdlets.Values | Sort-Object Name) {
        @{
            Name       = $command.Name
            Parameters = @($command.Parameters.Keys | Where-Object { $_ -notin $common } | ForEach-Object { @{ Parameter = $_ } })
        }
    }
    $docCases = Get-ChildItem (Join-Path $PSScriptRoot '../../docs/help') -Filter '*.md' | ForEach-Object { @{ File = $_.Name; Path = $_.FullName } }
}

BeforeAll {
    $module = Import-Module (Join-Path $PSScriptRoot '../../module/EchoPS.psd1') -PassThru -Force
}

Describe 'Help for <Name>' -ForEach $cmdletCases {
    BeforeAll {
        $help = Get-Help $Name -Full
    }

    It 'has a synopsis of its own' {
        # Without help, Get-Help puts the syntax in the synopsis.
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($Name))\s+[[-]"
    }

    It 'has a description' {
        ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'has text for -<Parameter>' -ForEach $Parameters {
        $parameterHelp = Get-Help $Name -Parameter $Parameter
        ($parameterHelp.description.Text -join '').Trim() | Should -Not -BeNullOrEmpty -Because "-$Parameter of $Name needs a description in docs/help/$Name.md"
    }

    It 'has at least three examples, each with a command, its output and an explanation' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 3 -Because "docs/help/$Name.md needs three real examples"
        foreach ($example in $examples) {
            @($example.code -split "`n" | Where-Object { $_.Trim() }).Count | Should -BeGreaterOrEqual 2 -Because "$($example.title) should show the command and the output it prints"
            ($example.remarks.Text -join '').Trim() | Should -Not -BeNullOrEmpty -Because "$($example.title) should explain itself"
        }
    }

    It 'describes its inputs and outputs' {
        @($help.inputTypes.inputType).Count | Should -BeGreaterOrEqual 1
        @($help.returnValues.returnValue).Count | Should -BeGreaterOrEqual 1
        foreach ($output in $help.returnValues.returnValue) {
            ($output.description.Text -join '') | Should -Not -BeNullOrEmpty -Because "output $($output.type.name) needs a description"
        }
    }

    It 'links to related help' {
        @($help.relatedLinks.navigationLink).Count | Should -BeGreaterOrEqual 1
    }
}

Describe 'docs/help/<File>' -ForEach $docCases {
    It 'documents an exported cmdlet, and only parameters it has' {
        $lines = Get-Content $Path
        $name = ($lines | Where-Object { $_ -match '^# ' } | Select-Object -First 1).Substring(2).Trim()
        $File | Should -Be "$name.md"
        $module.ExportedCmdlets.Keys | Should -Contain $name -Because "$File documents $name"
        $parameters = $module.ExportedCmdlets[$name].Parameters
        $inParameters = $false
        foreach ($line in $lines) {
            if ($line -match '^## ') { $inParameters = $line -match '^## PARAMETERS' }
            elseif ($inParameters -and $line -match '^### -(\S+)') {
                $parameters.Keys | Should -Contain $Matches[1] -Because "$File documents -$($Matches[1])"
            }
        }
    }
}

Describe 'Get-Help views' {
    It 'answers -Parameter, -Examples and -Full for Start-BlockingEchoServer' {
        (Get-Help Start-BlockingEchoServer -Parameter Port).defaultValue | Should -Be '8080'
        (Get-Help Start-BlockingEchoServer -Parameter Port).pipelineInput | Should -Be 'True (ByPropertyName)'
        (Get-Help Stop-BlockingEchoServer -Parameter Id).aliases | Should -Be 'ServerId'
        (Get-Help Start-BlockingEchoServer -Examples | Out-String) | Should -Match 'Example 1:'
        (Get-Help Start-BlockingEchoServer -Full | Out-String) | Should -Match 'Accept pipeline input\?\s+True \(ByPropertyName\)'
    }

    It 'shows each default as the cmdlet has it, with the words the markdown adds' {
        # build/New-Help.ps1 reads the defaults from new cmdlet instances; the markdown may only add words after them.
        (Get-Help Start-BlockingEchoServer -Parameter IdleTimeoutSec).defaultValue | Should -Be '60'
        (Get-Help Start-BlockingEchoServer -Parameter NoDelay).defaultValue | Should -Be 'True'
        (Get-Help Start-BlockingEchoServer -Parameter MaxBytesPerSecond).defaultValue | Should -Be '0 (unlimited)'
        (Get-Help Test-EchoRoundTrip -Parameter TimeoutSec).defaultValue | Should -Be '5'
        (Get-Help Test-EchoRoundTrip -Parameter Interval).defaultValue | Should -Be '0 (1 with -Continuous)'
        # Not set unless given: the instance's 0 is outside the parameter's own range.
        (Get-Help Test-EchoRoundTrip -Parameter TotalBytes).defaultValue | Should -Be 'None'
    }

    It 'shows the about_EchoPS topic' {
        $about = Get-Help about_EchoPS | Out-String
        $about | Should -Match 'about_EchoPS'
        $about | Should -Match 'backlog'
        $about | Should -Match 'LOCK-DOWN'
    }
}
