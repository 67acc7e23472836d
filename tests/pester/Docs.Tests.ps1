# Docs that cannot drift: what README.md, about_EchoPS and docs/ say about the module is checked against the module.
# - The cmdlets they name are the manifest's exported cmdlets, no more, no fewer (listings and "N commands" too).
# - Their links resolve, the README stays a front door (short, no dated figures, the CI test command, a link to
#   every page in docs/), and every recipe that starts a server in the background shows how to stop it.
# - A captured sample marked `<!-- sample: name[, width=N][, flow] -->` just before its ```text block is run again,
#   command by command as the doc writes them (PS> lines), rendered at N columns (130 unless given), and must read the
#   same, line by line (word by word with flow, for text that wraps with the console), once the figures that change
#   from run to run (times, durations, ports, counts) are masked. A failure prints what the module writes today,
#   ready to paste.

BeforeDiscovery {
    $root = Join-Path $PSScriptRoot '../..' | Resolve-Path | ForEach-Object Path
    # The pages people read about the module (the cmdlets' help source, docs/help, has its own checks in Help.Tests).
    $pageCases = @(
        foreach ($page in @('README.md', 'module/en-US/about_EchoPS.help.txt', 'results/README.md') + @(Get-ChildItem (Join-Path $root 'docs') -Filter '*.md' | ForEach-Object { "docs/$($_.Name)" })) {
            @{ Page = $page; Path = Join-Path $root $page }
        }
    )
    $nameCases = @(
        @{ Page = 'README.md'; Path = Join-Path $root 'README.md' }
        @{ Page = 'module/en-US/about_EchoPS.help.txt'; Path = Join-Path $root 'module/en-US/about_EchoPS.help.txt' }
    )
    $sampleCases = @(
        foreach ($case in $pageCases) {
            $lines = Get-Content $case.Path
            for ($i = 0; $i -lt $lines.Count - 1; $i++) {
                if ($lines[$i] -match '^<!-- sample(?<options>[^>]*)-->\s*$') {
                    $options = $Matches.options
                    if ($lines[$i + 1] -notmatch '^```') { continue }
                    $end = $i + 2
                    while ($end -lt $lines.Count -and $lines[$end] -notmatch '^```') { $end++ }
                    @{
                        Page = $case.Page; Line = $i + 2; Block = @($lines[($i + 2)..($end - 1)])
                        Width = if ($options -match 'width=(\d+)') { [int]$Matches[1] } else { 130 }
                        # flow: the text wraps with the console (help), so only the words and their order count.
                        Flow = $options -match '\bflow\b'
                    }
                }
            }
        }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    $script:Root = Join-Path $PSScriptRoot '../..' | Resolve-Path | ForEach-Object Path
    $script:Module = Import-Module $ModuleManifest -Force -PassThru
    $script:Exported = @((Import-PowerShellDataFile $ModuleManifest).CmdletsToExport | Sort-Object)
    $script:Verbs = @(Get-Verb | ForEach-Object Verb)
    $script:NumberWords = @{ one = 1; two = 2; three = 3; four = 4; five = 5; six = 6; seven = 7; eight = 8; nine = 9; ten = 10 }

    function Get-EchoCmdletName([string] $Text) {
        # Every approved-verb Verb-Noun whose noun is about echo: the names a reader takes for this module's cmdlets.
        [regex]::Matches($Text, '\b(?<verb>[A-Z][a-z]+)-(?<noun>[A-Za-z]*Echo[A-Za-z]*)\b') |
            Where-Object { $_.Groups['verb'].Value -cin $Verbs } | ForEach-Object Value | Sort-Object -Unique
    }

    function Get-HeadingAnchor([string] $Path) {
        # The anchors GitHub gives a markdown file's headings: lower case, punctuation dropped, spaces as hyphens.
        $inCode = $false
        foreach ($line in Get-Content $Path) {
            if ($line -match '^```') { $inCode = -not $inCode; continue }
            if (-not $inCode -and $line -match '^#{1,6}\s+(.+?)\s*$') {
                ($Matches[1].ToLowerInvariant() -replace '[^\p{L}\p{Nd}\s_-]', '') -replace '\s', '-'
            }
        }
    }

    function ConvertTo-SampleShape([string[]] $Lines) {
        # What must stay the same between two runs: the words, column by column in order, with every figure (times,
        # durations, ports, sizes' numbers, counts, ids) masked and runs of blanks made one; blank lines dropped.
        foreach ($line in $Lines) {
            $shape = ($line -replace '\d[\d.,:]*', '#' -replace '\s+', ' ').Trim()
            if ($shape) { $shape }
        }
    }

    function Invoke-DocSample([string[]] $Block, [int] $Width) {
        # Runs the block's PS> lines in one scope, as a user types them, and returns what PowerShell writes for each
        # (output, then errors as the console shows them), as plain text at the sample's width. A server job on an
        # ephemeral port is there first, as $job, and it is the default port of Test-EchoRoundTrip, so a doc's
        # "Test-EchoRoundTrip 127.0.0.1" (port 8080) reaches the test's own server.
        $PSStyle.OutputRendering = 'PlainText'
        $ErrorActionPreference = 'Continue' # errors are output here, as the console shows them
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        $PSDefaultParameterValues = @{ 'Test-EchoRoundTrip:Port' = $job.Port; 'Test-EchoRoundTrip:TimeoutSec' = 10 }
        $text = foreach ($line in $Block -match '^PS> ') {
            $line
            $command = $line.Substring(4) -replace '\s+#.*$', ''
            if ($command -match '(^|[|;=(]\s*)Start-BlockingEchoServer\b' -and $command -notmatch '-AsJob|-WhatIf') {
                throw "A sample that runs a server in the foreground would never end: $line"
            }
            if ($command -match 'Stop-BlockingEchoServer|Receive-Job') {
                # A person types slower than a script: let every client's Disconnected event arrive first (bounded).
                $null = Wait-Until -TimeoutMs 10000 {
                    $kinds = @($job.Output | ForEach-Object { "$($_.Kind)" })
                    @($kinds -eq 'Connected').Count -eq @($kinds -eq 'Disconnected').Count
                }
            }
            $output = . ([scriptblock]::Create($command)) 2>&1
            if ($null -ne $output) { $output | Out-String -Width $Width -Stream }
        }
        @($text)
    }
}

AfterAll {
    Stop-AllTestServers
}

Describe 'The cmdlets named in <Page>' -ForEach $nameCases {
    It 'include every cmdlet the manifest exports, and none it does not' {
        $Exported | Should -Be @($Module.ExportedCmdlets.Keys | Sort-Object) -Because 'the manifest and the module agree'
        $named = @(Get-EchoCmdletName (Get-Content $Path -Raw))
        foreach ($cmdlet in $Exported) { $named | Should -Contain $cmdlet -Because "$Page names each exported cmdlet" }
        foreach ($name in $named) { $Exported | Should -Contain $name -Because "$Page names $name" }
    }
}

Describe 'What <Page> says about the module''s cmdlets' -ForEach $pageCases {
    It 'names only exported cmdlets' {
        foreach ($name in Get-EchoCmdletName (Get-Content $Path -Raw)) {
            $Exported | Should -Contain $name -Because "$Page names $name"
        }
    }

    It 'lists exactly the exported cmdlets after Get-Command -Module EchoPS, and counts them right' {
        $lines = Get-Content $Path
        for ($i = 0; $i -lt $lines.Count; $i++) {
            if ($lines[$i] -notmatch 'Get-Command -Module EchoPS\s*$') { continue }
            $listed = for ($j = $i + 1; $j -lt $lines.Count -and $lines[$j] -notmatch '^```|^PS> '; $j++) {
                if ($lines[$j] -match '^\s*Cmdlet\s+(\S+)\s+\S+\s+EchoPS\s*$') { $Matches[1] }
            }
            @($listed | Sort-Object) | Should -Be $Exported -Because "the listing at line $($i + 1) of $Page is what Get-Command shows"
        }
        $text = (Get-Content $Path -Raw) -replace '\s+', ' '
        foreach ($claim in [regex]::Matches($text, '(?i)\b(?:module|EchoPS) (?:has|exports|offers|provides) (\w+) (?:commands|cmdlets)\b|\b(\w+) cmdlets\b')) {
            $word = if ($claim.Groups[1].Success) { $claim.Groups[1].Value } else { $claim.Groups[2].Value }
            $count = if ($word -match '^\d+$') { [int]$word } else { $NumberWords[$word.ToLowerInvariant()] }
            if ($null -eq $count) { continue } # "the cmdlets", "five" only counts when it is a number
            $count | Should -Be $Exported.Count -Because "$Page says '$($claim.Value)'"
        }
    }

}

Describe 'The links in <Page>' -ForEach ($pageCases | Where-Object { $_.Page -like '*.md' }) {
    It 'lead only to files and headings that exist' {
        $inCode = $false # links in code blocks are code
        foreach ($line in Get-Content $Path) {
            if ($line -match '^```') { $inCode = -not $inCode; continue }
            if ($inCode) { continue }
            foreach ($link in [regex]::Matches($line, '\]\((?<target>[^)\s]+)\)')) {
                $target = $link.Groups['target'].Value
                if ($target -match '^[a-z]+:') { continue } # https:, mailto:
                $file, $anchor = $target -split '#', 2
                $resolved = if ($file) { Join-Path (Split-Path $Path) $file } else { $Path }
                Test-Path $resolved | Should -BeTrue -Because "$Page links to $target"
                if ($anchor) { @(Get-HeadingAnchor $resolved) | Should -Contain $anchor -Because "$Page links to $target" }
            }
        }
    }
}

Describe 'The recipes in <Page>' -ForEach $pageCases {

    It 'show how to stop every server they start in the background' {
        # Per section: a code line that starts a server job (-AsJob) or a process in the background (a shell line
        # ending in &) needs a line in the same section's code that stops it. In the plain-text about topic, a
        # section is an upper-case heading's text, all of it (its examples are indented, their clean-up may be prose).
        $markdown = $Path -like '*.md'
        $sections = (Get-Content $Path -Raw) -split $(if ($markdown) { '(?m)^(?=#{1,3} )' } else { '(?m)^(?=[A-Z][A-Z'' :-]+\r?$)' })
        foreach ($section in $sections) {
            $code = if (-not $markdown) { $section }
            else { [regex]::Matches($section, '(?ms)^```[a-z]*\r?\n(.*?)^```').ForEach({ $_.Groups[1].Value }) -join "`n" }
            $code = $code -replace '(?m)\s+#.*$', ''
            $starts = [regex]::Matches($code, '(?m)^.*(Start-BlockingEchoServer[^\r\n]*-AsJob|&\s*$)')
            if ($starts.Count) {
                $code | Should -Match '(?m)(Stop-BlockingEchoServer|Stop-Job|Remove-Job|\bkill\b)' -Because "'$(($section -split "`n")[0].Trim())' in $Page starts '$($starts[0].Value.Trim())'"
            }
        }
    }
}

Describe 'README.md is the front door' {
    BeforeAll {
        $readme = Get-Content (Join-Path $Root 'README.md')
        $readmeText = $readme -join "`n"
    }

    It 'is short: under 200 lines' {
        $readme.Count | Should -BeLessThan 200
    }

    It 'holds no dated figures (they belong in results/)' {
        @($readme -match '\b20\d\d-\d\d-\d\d\b') | Should -BeNullOrEmpty -Because 'a dated figure goes to results/README.md, and the README links to it'
    }

    It 'gives the test command that CI runs' {
        $command = 'dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test'
        $readme | Should -Contain $command
        Get-Content (Join-Path $Root '.ci/run') | Should -Contain $command
    }

    It 'links to every page in docs/' {
        foreach ($page in Get-ChildItem (Join-Path $Root 'docs') -Filter '*.md') {
            $readmeText.Contains("](docs/$($page.Name))") | Should -BeTrue -Because "where to go next should link to docs/$($page.Name)"
        }
    }
}

Describe 'Captured sample at <Page> line <Line>' -ForEach $sampleCases {
    AfterEach {
        Stop-AllTestServers
    }

    It 'reads as the module writes it today' {
        # A sample about a port where nothing listens (-Port 9) means nothing here only if nothing listens there.
        foreach ($port in [regex]::Matches(($Block -match '^PS> ') -join "`n", '-Port (\d+)\b').ForEach({ [int]$_.Groups[1].Value })) {
            $probe = [System.Net.Sockets.TcpClient]::new()
            try { $listening = $probe.ConnectAsync([ipaddress]::Loopback, $port).Wait(2000) } catch { $listening = $false } finally { $probe.Dispose() }
            if ($listening) { Set-ItResult -Skipped -Because "something listens on 127.0.0.1:$port here, which the sample shows unused"; return }
        }
        $fresh = Invoke-DocSample -Block $Block -Width $Width
        $expected = @(ConvertTo-SampleShape ($Block -notmatch '^PS> |^\s+(\.\.\.|\$|\})'))
        $actual = @(ConvertTo-SampleShape ($fresh -notmatch '^PS> '))
        if ($Flow) { $expected = @($expected -join ' '); $actual = @($actual -join ' ') }
        $first = 0
        while ($first -lt [math]::Min($actual.Count, $expected.Count) -and $actual[$first] -ceq $expected[$first]) { $first++ }
        $difference = "first difference, masked: the doc has '$(if ($first -lt $expected.Count) { $expected[$first] })', today's output '$(if ($first -lt $actual.Count) { $actual[$first] })'"
        ($actual -join "`n") | Should -BeExactly ($expected -join "`n") -Because "the sample at $Page line $Line should read as today's output ($difference); today's output, to paste:`n$(($fresh | ForEach-Object TrimEnd) -join "`n")`n"
    }
}
