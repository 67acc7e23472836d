<#
.SYNOPSIS
    Generates the module's MAML help (en-US/EchoPS.dll-Help.xml) from docs/help/*.md and the cmdlets' own metadata.
.DESCRIPTION
    The markdown (platyPS layout) holds the words: synopsis, description, examples, parameter descriptions,
    inputs, outputs, notes and links. Everything the code already knows comes from the code instead: parameter sets,
    types, positions, mandatory, pipeline input and aliases from Get-Command, and each parameter's default from a
    new instance of the cmdlet (Get-CodeDefault), so the help cannot disagree with it. A markdown 'Default value:'
    line is only for words the value needs ("0 (unlimited)"): it must start with the code's value, or the
    generation fails.
    Run it in a fresh pwsh after a build (build.ps1 does): it imports the freshly built module. Gaps are reported as
    warnings; tests/pester/Help.Tests.ps1 turns them into failures.
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../module/EchoPS.psd1'),
    [string] $DocsPath = (Join-Path $PSScriptRoot '../docs/help'),
    [string] $OutputPath = (Join-Path $PSScriptRoot '../module/en-US/EchoPS.dll-Help.xml')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$MamlNs = 'http://schemas.microsoft.com/maml/2004/10'
$CommandNs = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$DevNs = 'http://schemas.microsoft.com/maml/dev/2004/10'
$NamedPosition = [int]::MinValue

#region Markdown

# Splits a markdown file into its '## SECTION' parts; each part is a list of lines.
function Split-Section {
    param([string[]] $Lines, [string] $Prefix)
    $sections = [ordered]@{}
    $current = $null
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith("$Prefix ")) {
            $current = $line.Substring($Prefix.Length + 1).Trim()
            $sections[$current] = [System.Collections.Generic.List[string]]::new()
        }
        elseif ($null -ne $current) {
            $sections[$current].Add($line)
        }
    }
    $sections
}

# Get-Help breaks lines at the console's edge even mid-word: paragraphs come pre-wrapped at a width that fits an
# 80-column console after Get-Help's indentation. List items keep a hanging indent.
$WrapWidth = 76

function Format-Wrapped {
    param([string] $Text)
    $lines = foreach ($item in $Text -split "`n") {
        $indent = if ($item -match '^([-*]|\d+\.)\s') { ' ' * ($Matches[0].Length) } else { '' }
        $line = ''
        foreach ($word in $item -split ' ') {
            if ($line -and ($line.Length + 1 + $word.Length) -gt $WrapWidth) {
                $line
                $line = $indent + $word
            }
            else {
                $line = if ($line) { "$line $word" } else { $word }
            }
        }
        $line
    }
    $lines -join "`n"
}

# Turns markdown lines into help paragraphs: wrapped lines join, list items and fenced blocks keep their lines.
function ConvertTo-Paragraph {
    param([string[]] $Lines)
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $buffer = [System.Text.StringBuilder]::new()
    $inFence = $false
    $flush = {
        if ($buffer.Length) {
            $paragraphs.Add($(if ($inFence) { $buffer.ToString() } else { Format-Wrapped $buffer.ToString() }))
            [void]$buffer.Clear()
        }
    }
    foreach ($line in $Lines) {
        if ($line -match '^```') {
            . $flush
            $inFence = -not $inFence
            continue
        }
        if ($inFence) {
            if ($buffer.Length) { [void]$buffer.Append("`n") }
            [void]$buffer.Append($line)
            continue
        }
        if ([string]::IsNullOrWhiteSpace($line)) {
            . $flush
            continue
        }
        $separator = if ($line -match '^\s*([-*]|\d+\.)\s') { "`n" } else { ' ' }
        if ($buffer.Length) { [void]$buffer.Append($separator) }
        [void]$buffer.Append($line.Trim())
    }
    . $flush
    , $paragraphs.ToArray()
}

# The first fenced block in the lines (without its fences) and the lines after it.
function Split-Fence {
    param([string[]] $Lines)
    $start = [Array]::FindIndex([string[]]$Lines, [Predicate[string]] { param($l) $l -match '^```' })
    if ($start -lt 0) { return @{ Code = $null; Before = $Lines; After = @() } }
    $end = [Array]::FindIndex([string[]]$Lines, $start + 1, [Predicate[string]] { param($l) $l -match '^```' })
    if ($end -lt 0) { throw "Unclosed code fence: $($Lines[$start])" }
    @{
        Code   = if ($end -gt $start + 1) { $Lines[($start + 1)..($end - 1)] -join "`n" } else { '' }
        Before = if ($start -gt 0) { $Lines[0..($start - 1)] } else { @() }
        After  = if ($end -lt $Lines.Count - 1) { $Lines[($end + 1)..($Lines.Count - 1)] } else { @() }
    }
}

function Read-HelpDoc {
    param([string] $Path)
    $lines = Get-Content -LiteralPath $Path
    $title = $lines | Where-Object { $_ -match '^# ' } | Select-Object -First 1
    if (-not $title) { throw "$Path has no '# Name' title." }
    $sections = Split-Section $lines '##'
    $text = { param($name) if ($sections.Contains($name)) { ConvertTo-Paragraph $sections[$name] } else { @() } }

    $examples = foreach ($entry in (Split-Section $sections['EXAMPLES'] '###').GetEnumerator()) {
        $parts = Split-Fence $entry.Value
        [pscustomobject]@{ Title = $entry.Key; Code = $parts.Code; Remarks = ConvertTo-Paragraph $parts.After }
    }
    $parameters = [ordered]@{}
    # '### -Name' documents a parameter; platyPS's '### CommonParameters' entry is Get-Help's own business.
    foreach ($entry in (Split-Section $sections['PARAMETERS'] '###').GetEnumerator() | Where-Object Key -like '-*') {
        $parts = Split-Fence $entry.Value
        $yaml = @{}
        foreach ($line in ($parts.Code -split "`n")) {
            if ($line -match '^\s*([^:]+):\s*(.*)$') { $yaml[$Matches[1].Trim()] = $Matches[2].Trim() }
        }
        $parameters[$entry.Key.TrimStart('-')] = [pscustomobject]@{
            Description = ConvertTo-Paragraph $parts.Before
            Default     = $yaml['Default value']
            Wildcards   = $yaml['Accept wildcard characters'] -eq 'True'
        }
    }
    $typed = {
        param($name)
        if (-not $sections.Contains($name)) { return }
        foreach ($entry in (Split-Section $sections[$name] '###').GetEnumerator()) {
            [pscustomobject]@{ Type = $entry.Key; Description = ConvertTo-Paragraph $entry.Value }
        }
    }
    $links = foreach ($line in $sections['RELATED LINKS']) {
        if ($line -match '^\s*[-*]\s*\[([^\]]+)\]\(([^)]*)\)') {
            $uri = if ($Matches[2] -match '^https?://') { $Matches[2] } else { '' }
            [pscustomobject]@{ Text = $Matches[1]; Uri = $uri }
        }
    }
    [pscustomobject]@{
        Name        = $title.Substring(2).Trim()
        Synopsis    = (& $text 'SYNOPSIS') -join ' '
        Description = & $text 'DESCRIPTION'
        Examples    = @($examples)
        Parameters  = $parameters
        Inputs      = @(& $typed 'INPUTS')
        Outputs     = @(& $typed 'OUTPUTS')
        Notes       = & $text 'NOTES'
        Links       = @($links)
    }
}

#endregion

#region MAML

function Write-Para {
    param([System.Xml.XmlWriter] $Writer, [string] $Element, [string[]] $Paragraphs, [string] $Prefix = 'maml')
    $Writer.WriteStartElement($Prefix, $Element, $(if ($Prefix -eq 'dev') { $DevNs } else { $MamlNs }))
    foreach ($p in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $MamlNs, $p) }
    if (-not $Paragraphs) { $Writer.WriteElementString('maml', 'para', $MamlNs, '') }
    $Writer.WriteEndElement()
}

function Get-PipelineInput {
    param($ByValue, $ByPropertyName)
    $kinds = @(if ($ByValue) { 'ByValue' }; if ($ByPropertyName) { 'ByPropertyName' })
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

# One <command:parameter>; $Setting describes it in one parameter set (ConvertTo-Setting) or over all (Merge-Setting).
function Write-Parameter {
    param([System.Xml.XmlWriter] $Writer, $Setting, $Doc, [switch] $InSyntax)
    $isSwitch = $Setting.Type -eq [System.Management.Automation.SwitchParameter]
    $Writer.WriteStartElement('command', 'parameter', $CommandNs)
    $Writer.WriteAttributeString('required', "$($Setting.Mandatory)".ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', "$($Setting.Type.IsArray)".ToLowerInvariant())
    $Writer.WriteAttributeString('globbing', "$([bool]($Doc -and $Doc.Wildcards))".ToLowerInvariant())
    $Writer.WriteAttributeString('pipelineInput', $Setting.PipelineInput)
    $Writer.WriteAttributeString('position', $Setting.Position)
    $Writer.WriteAttributeString('aliases', $(if ($Setting.Aliases) { $Setting.Aliases -join ', ' } else { 'none' }))
    $Writer.WriteElementString('maml', 'name', $MamlNs, $Setting.Name)
    Write-Para $Writer 'description' $(if ($Doc) { $Doc.Description } else { @() })
    if (-not ($InSyntax -and $isSwitch)) {
        $Writer.WriteStartElement('command', 'parameterValue', $CommandNs)
        $Writer.WriteAttributeString('required', "$(-not $isSwitch)".ToLowerInvariant())
        $Writer.WriteAttributeString('variableLength', "$($Setting.Type.IsArray)".ToLowerInvariant())
        $Writer.WriteString($Setting.Type.Name)
        $Writer.WriteEndElement()
    }
    $Writer.WriteStartElement('dev', 'type', $DevNs)
    $Writer.WriteElementString('maml', 'name', $MamlNs, $Setting.Type.Name)
    $Writer.WriteElementString('maml', 'uri', $MamlNs, '')
    $Writer.WriteEndElement()
    $Writer.WriteElementString('dev', 'defaultValue', $DevNs, $Setting.Default)
    $Writer.WriteEndElement()
}

# A parameter's default as the cmdlet has it: the property's value on a new instance, in invariant text. 'None'
# where there is no value to give: null, an empty array, a mandatory parameter, or a value the parameter's own
# ValidateRange refuses (such as -TotalBytes 0: the parameter is simply not set).
function Get-CodeDefault {
    param([object] $Instance, [System.Management.Automation.ParameterMetadata] $Metadata)
    $property = $Instance.GetType().GetProperty($Metadata.Name)
    if (-not $property) {
        # -WhatIf and -Confirm come from SupportsShouldProcess, not from a property.
        return $(if ($Metadata.SwitchParameter) { 'False' } else { 'None' })
    }
    $value = $property.GetValue($Instance)
    if ($value -is [System.Management.Automation.SwitchParameter]) { return "$($value.IsPresent)" }
    $range = $Metadata.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] } | Select-Object -First 1
    $mandatory = @($Metadata.ParameterSets.Values | Where-Object { -not $_.IsMandatory }).Count -eq 0
    if ($null -eq $value -or ($value -is [array] -and $value.Count -eq 0) -or $mandatory -or
        ($range -and ($value -lt $range.MinRange -or $value -gt $range.MaxRange))) {
        return 'None'
    }
    [string]::Join(', ', @(foreach ($item in @($value)) { [System.Convert]::ToString($item, [cultureinfo]::InvariantCulture) }))
}

# The default Get-Help shows: the code's value, with the markdown's words after it when it has a 'Default value:'
# line that starts with that value. A line that says another value fails the generation: docs and code disagree.
function Resolve-Default {
    param([string] $CodeDefault, [string] $DocDefault, [string] $Where)
    if (-not $DocDefault) { return $CodeDefault }
    if ($DocDefault -eq $CodeDefault -or $DocDefault.StartsWith("$CodeDefault (")) { return $DocDefault }
    throw "$Where says 'Default value: $DocDefault', but the cmdlet's default is '$CodeDefault': fix the markdown, or drop the line (the generator supplies the value)."
}

function ConvertTo-Setting {
    param($Info, [string] $Default)
    [pscustomobject]@{
        Default       = $Default
        Name          = $Info.Name
        Type          = $Info.ParameterType
        Mandatory     = $Info.IsMandatory
        Position      = if ($Info.Position -eq $NamedPosition) { 'named' } else { "$($Info.Position)" }
        PipelineInput = Get-PipelineInput $Info.ValueFromPipeline $Info.ValueFromPipelineByPropertyName
        Aliases       = @($Info.Aliases)
    }
}

# A parameter as the PARAMETERS section shows it: one entry over all its sets.
function Merge-Setting {
    param([System.Management.Automation.ParameterMetadata] $Metadata, [string] $Default)
    $sets = @($Metadata.ParameterSets.Values)
    $positions = @($sets | Where-Object Position -ne $NamedPosition | ForEach-Object Position | Sort-Object -Unique)
    [pscustomobject]@{
        Default       = $Default
        Name          = $Metadata.Name
        Type          = $Metadata.ParameterType
        Mandatory     = [bool]($sets | Where-Object IsMandatory)
        Position      = if ($positions.Count) { "$($positions[0])" } else { 'named' }
        PipelineInput = Get-PipelineInput ($sets | Where-Object ValueFromPipeline) ($sets | Where-Object ValueFromPipelineByPropertyName)
        Aliases       = @($Metadata.Aliases)
    }
}

function Write-TypedList {
    param([System.Xml.XmlWriter] $Writer, [string] $ListElement, [string] $ItemElement, $Items)
    $Writer.WriteStartElement('command', $ListElement, $CommandNs)
    foreach ($item in $Items) {
        $Writer.WriteStartElement('command', $ItemElement, $CommandNs)
        $Writer.WriteStartElement('dev', 'type', $DevNs)
        $Writer.WriteElementString('maml', 'name', $MamlNs, $item.Type)
        $Writer.WriteEndElement()
        Write-Para $Writer 'description' $item.Description
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-Command {
    param([System.Xml.XmlWriter] $Writer, [System.Management.Automation.CmdletInfo] $Command, $Doc)
    $common = [System.Management.Automation.Cmdlet]::CommonParameters
    $instance = [Activator]::CreateInstance($Command.ImplementingType)
    $defaults = @{}
    foreach ($name in $Command.Parameters.Keys | Where-Object { $_ -notin $common }) {
        $docDefault = if ($Doc.Parameters.Contains($name)) { $Doc.Parameters[$name].Default }
        $defaults[$name] = Resolve-Default (Get-CodeDefault $instance $Command.Parameters[$name]) $docDefault "docs/help/$($Command.Name).md -$name"
    }
    $Writer.WriteStartElement('command', 'command', $CommandNs)
    $Writer.WriteAttributeString('xmlns', 'maml', $null, $MamlNs)
    $Writer.WriteAttributeString('xmlns', 'command', $null, $CommandNs)
    $Writer.WriteAttributeString('xmlns', 'dev', $null, $DevNs)

    $Writer.WriteStartElement('command', 'details', $CommandNs)
    $Writer.WriteElementString('command', 'name', $CommandNs, $Command.Name)
    $Writer.WriteElementString('command', 'verb', $CommandNs, $Command.Verb)
    $Writer.WriteElementString('command', 'noun', $CommandNs, $Command.Noun)
    Write-Para $Writer 'description' @($Doc.Synopsis)
    $Writer.WriteEndElement()
    Write-Para $Writer 'description' $Doc.Description

    # Syntax: one item per parameter set, default set first, positional parameters in position order.
    $Writer.WriteStartElement('command', 'syntax', $CommandNs)
    foreach ($set in ($Command.ParameterSets | Sort-Object { -not $_.IsDefault })) {
        $Writer.WriteStartElement('command', 'syntaxItem', $CommandNs)
        $Writer.WriteElementString('maml', 'name', $MamlNs, $Command.Name)
        $ordered = $set.Parameters | Where-Object Name -notin $common |
            Sort-Object { if ($_.Position -eq $NamedPosition) { [int]::MaxValue } else { $_.Position } }, { -not $_.IsMandatory }
        foreach ($info in $ordered) {
            Write-Parameter $Writer (ConvertTo-Setting $info $defaults[$info.Name]) $Doc.Parameters[$info.Name] -InSyntax
        }
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    # Parameters: in the order the markdown documents them, then any it misses.
    $names = @($Command.Parameters.Keys | Where-Object { $_ -notin $common })
    $names = @($Doc.Parameters.Keys | Where-Object { $_ -in $names }) + @($names | Where-Object { $_ -notin $Doc.Parameters.Keys })
    $Writer.WriteStartElement('command', 'parameters', $CommandNs)
    foreach ($name in $names) {
        Write-Parameter $Writer (Merge-Setting $Command.Parameters[$name] $defaults[$name]) $Doc.Parameters[$name]
    }
    $Writer.WriteEndElement()

    Write-TypedList $Writer 'inputTypes' 'inputType' $Doc.Inputs
    Write-TypedList $Writer 'returnValues' 'returnValue' $Doc.Outputs

    $Writer.WriteStartElement('maml', 'alertSet', $MamlNs)
    $Writer.WriteStartElement('maml', 'alert', $MamlNs)
    foreach ($p in $Doc.Notes) { $Writer.WriteElementString('maml', 'para', $MamlNs, $p) }
    $Writer.WriteEndElement()
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'examples', $CommandNs)
    foreach ($example in $Doc.Examples) {
        $Writer.WriteStartElement('command', 'example', $CommandNs)
        $Writer.WriteElementString('maml', 'title', $MamlNs, "---------- $($example.Title) ----------")
        $Writer.WriteElementString('dev', 'code', $DevNs, $example.Code)
        # The empty paragraph separates one example from the next title, as in PowerShell's own help.
        Write-Para $Writer 'remarks' (@($example.Remarks) + '') -Prefix dev
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'relatedLinks', $CommandNs)
    foreach ($link in $Doc.Links) {
        $Writer.WriteStartElement('maml', 'navigationLink', $MamlNs)
        $Writer.WriteElementString('maml', 'linkText', $MamlNs, $link.Text)
        $Writer.WriteElementString('maml', 'uri', $MamlNs, $link.Uri)
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteEndElement()
}

#endregion

$module = Import-Module (Resolve-Path $ModulePath) -PassThru -Force
$commands = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
$docs = @{}
foreach ($file in Get-ChildItem -LiteralPath $DocsPath -Filter '*.md') {
    $doc = Read-HelpDoc $file.FullName
    $docs[$doc.Name] = $doc
}

New-Item -ItemType Directory -Force -Path (Split-Path $OutputPath) | Out-Null
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$writer = [System.Xml.XmlWriter]::Create($OutputPath, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', 'http://msh')
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($command in $commands) {
        $doc = $docs[$command.Name]
        if (-not $doc) {
            Write-Warning "$($command.Name) has no help: add docs/help/$($command.Name).md."
            continue
        }
        foreach ($name in $doc.Parameters.Keys | Where-Object { -not $command.Parameters.ContainsKey($_) }) {
            Write-Warning "docs/help/$($command.Name).md documents -$name, which $($command.Name) does not have."
        }
        Write-Command $writer $command $doc
    }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
}
finally {
    $writer.Dispose()
}
Write-Host "Help for $(@($commands | Where-Object { $docs.ContainsKey($_.Name) }).Count) of $($commands.Count) cmdlets written to $(Resolve-Path $OutputPath -Relative)."
