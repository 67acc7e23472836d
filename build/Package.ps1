<#
.SYNOPSIS
    Assembles the versioned module folder out/EchoPS/<version>/ and the package out/EchoPS.<version>.nupkg.
.DESCRIPTION
    Run after a build (build.ps1 -Task Package does both). The folder is what Import-Module loads; the .nupkg is what
    a PowerShell repository serves (Register-PSResourceRepository on a folder, then Install-PSResource or
    Save-PSResource). Fails if the built dll's version differs from the manifest's or a module file is missing.
#>
[CmdletBinding()]
param(
    [string] $OutputPath = (Join-Path $PSScriptRoot '../out')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$repoRoot = Resolve-Path (Join-Path $PSScriptRoot '..')
$moduleDir = Join-Path $repoRoot 'module'
$manifestPath = Join-Path $moduleDir 'EchoPS.psd1'
$version = [version](Import-PowerShellDataFile $manifestPath).ModuleVersion

$dll = Join-Path $moduleDir 'EchoPS.dll'
if (-not (Test-Path $dll)) { throw "module/EchoPS.dll is missing: build first (build.ps1 -Task Build)." }
$dllVersion = [System.Reflection.AssemblyName]::GetAssemblyName($dll).Version
if ($dllVersion.ToString(3) -ne $version.ToString(3)) {
    throw "EchoPS.dll is version $($dllVersion.ToString(3)) but the manifest says ${version}: set <Version> in src/EchoPS/EchoPS.csproj and ModuleVersion in module/EchoPS.psd1 alike."
}

# Exactly what the module needs at run time, and the licence.
$files = [ordered]@{
    'EchoPS.psd1'                  = $manifestPath
    'EchoPS.dll'                   = $dll
    'OxyPlot.dll'                  = Join-Path $moduleDir 'OxyPlot.dll'
    'EchoPS.Format.ps1xml'         = Join-Path $moduleDir 'EchoPS.Format.ps1xml'
    'EchoPS.Types.ps1xml'          = Join-Path $moduleDir 'EchoPS.Types.ps1xml'
    'en-US/EchoPS.dll-Help.xml'    = Join-Path $moduleDir 'en-US/EchoPS.dll-Help.xml'
    'en-US/about_EchoPS.help.txt'  = Join-Path $moduleDir 'en-US/about_EchoPS.help.txt'
    'LICENSE'                      = Join-Path $repoRoot 'LICENSE'
}

New-Item -ItemType Directory -Force -Path $OutputPath | Out-Null
$OutputPath = Resolve-Path $OutputPath
$target = Join-Path $OutputPath "EchoPS/$version"
if (Test-Path $target) { Remove-Item $target -Recurse -Force }
New-Item -ItemType Directory -Force -Path (Join-Path $target 'en-US') | Out-Null
foreach ($entry in $files.GetEnumerator()) {
    if (-not (Test-Path $entry.Value)) { throw "$($entry.Value) is missing: build first (build.ps1 -Task Build)." }
    Copy-Item -LiteralPath $entry.Value -Destination (Join-Path $target $entry.Key)
}

$nupkg = Join-Path $OutputPath "EchoPS.$version.nupkg"
if (Test-Path $nupkg) { Remove-Item $nupkg -Force }
# Compress-PSResource (PSResourceGet, part of PowerShell 7.4+) validates the manifest and writes the .nupkg that
# Publish-PSResource would publish.
Compress-PSResource -Path $target -DestinationPath $OutputPath
if (-not (Test-Path $nupkg)) { throw "Compress-PSResource did not write $nupkg." }

Write-Host "Module folder: $target"
Write-Host "Package:       $nupkg"
