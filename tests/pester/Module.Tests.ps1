# The module as a user gets it: a valid manifest that exports exactly the intended cmdlets, views for every output
# type, tab completion, and a package that installs from a PowerShell repository and works when imported by name.

BeforeDiscovery {
    # Every EchoPS type an exported cmdlet declares it outputs (plain .NET types such as Boolean need no view).
    $exported = (Import-Module (Join-Path $PSScriptRoot '../../module/EchoPS.psd1') -PassThru -Force).ExportedCmdlets.Values
    $outputTypes = @($exported.OutputType.Name | Where-Object { $_ -like 'EchoPS.*' } | Sort-Object -Unique)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    $repoRoot = Resolve-Path (Join-Path $PSScriptRoot '../..')
    $manifestPath = Join-Path $repoRoot 'module/EchoPS.psd1'
    $manifest = Import-PowerShellDataFile $manifestPath
    $module = Import-Module $manifestPath -PassThru -Force
}

Describe 'Manifest and exports' {
    It 'passes Test-ModuleManifest, beside the built dll of the same version' {
        $tested = Test-ModuleManifest $manifestPath -ErrorAction Stop
        $tested.Name | Should -Be 'EchoPS'
        $dllVersion = [System.Reflection.AssemblyName]::GetAssemblyName((Join-Path $repoRoot 'module/EchoPS.dll')).Version
        $dllVersion.ToString(3) | Should -Be ([version]$manifest.ModuleVersion).ToString(3)
    }

    It 'exports exactly the cmdlets the manifest lists, and nothing else' {
        @($module.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($manifest.CmdletsToExport | Sort-Object)
        $module.ExportedFunctions.Count | Should -Be 0
        $module.ExportedAliases.Count | Should -Be 0
        $module.ExportedVariables.Count | Should -Be 0
    }

    It 'lists every cmdlet the assembly defines, so none is left out by mistake' {
        $defined = $module.ImplementingAssembly.GetExportedTypes() |
            ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { "$($_.VerbName)-$($_.NounName)" }
        @($defined | Sort-Object) | Should -Be @($manifest.CmdletsToExport | Sort-Object)
    }

    It 'lists every EchoPS cmdlet, and only those, in the manifest' {
        $intended = 'Start-BlockingEchoServer', 'Stop-BlockingEchoServer', 'Get-BlockingEchoServer', 'Test-EchoRoundTrip', 'Measure-EchoServer'
        @($manifest.CmdletsToExport | Sort-Object) | Should -Be @($intended | Sort-Object)
    }

    It 'supports Windows PowerShell 5.1 and PowerShell 7: netstandard2.0, one managed dependency that ships beside it' {
        $manifest.PowerShellVersion | Should -Be '5.1'
        $manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
        # Anything beyond these would have to ship beside EchoPS.dll, and might not load in Windows PowerShell.
        $module.ImplementingAssembly.GetReferencedAssemblies().Name | Sort-Object | Should -Be @('netstandard', 'OxyPlot', 'System.Management.Automation')
        # OxyPlot (Measure-EchoServer's charts) must itself be netstandard2.0, need nothing but netstandard, and ship in the module folder.
        $oxyPlot = Join-Path $repoRoot 'module/OxyPlot.dll'
        $oxyPlot | Should -Exist
        $assembly = [System.Reflection.Assembly]::LoadFile($oxyPlot)
        $assembly.GetReferencedAssemblies().Name | Should -Be @('netstandard')
        $assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false).FrameworkName | Should -Be '.NETStandard,Version=v2.0'
    }
}

Describe 'Start-up' {
    It 'compiles the server code ahead of the first connection, every server type, without loading OxyPlot' {
        # Issue 22: a server started cold and hit at once must not pay the JIT inside its first burst. The warm-up
        # names its types (Assembly.GetTypes() would load OxyPlot.dll through the chart types): every type of the
        # server's namespaces must be in its list, or a new one would compile inside the burst again.
        $probe = Invoke-FreshPwsh @"
Import-Module '$manifestPath'
`$verbose = @(Start-BlockingEchoServer -Port 0 -AsJob -Verbose 4>&1)
`$job = `$verbose | Where-Object { `$_ -is [System.Management.Automation.Job] }
`$oxyPlot = [AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -contains 'OxyPlot'
`$null = `$job | Stop-BlockingEchoServer
`$assembly = `$job.Server.GetType().Assembly
`$roots = `$assembly.GetType('EchoPS.Commands.ServerWarmup').GetField('Roots', [Reflection.BindingFlags]'NonPublic,Static').GetValue(`$null).FullName
`$server = `$assembly.GetTypes() | Where-Object { -not `$_.IsNested -and -not `$_.IsEnum -and -not `$_.IsInterface -and `$_.Namespace -match '^EchoPS\.(Server|Net|LockDown)(\.|$)' }
[pscustomobject]@{
    Compiled = @(`$verbose | Where-Object { `$_ -is [System.Management.Automation.VerboseRecord] -and `$_.Message -like 'Server code compiled ahead*' }).Count
    OxyPlot = `$oxyPlot; Missing = @(`$server.FullName | Where-Object { `$_ -notin `$roots }) } | ConvertTo-Json -Compress
"@
        $probe.ExitCode | Should -Be 0 -Because $probe.Errors
        $result = $probe.Output | ConvertFrom-Json
        $result.Compiled | Should -Be 1 -Because '-Verbose says what the warm-up cost'
        $result.OxyPlot | Should -BeFalse -Because 'OxyPlot.dll is for charts only'
        @($result.Missing) | Should -BeNullOrEmpty -Because 'every server type belongs in ServerWarmup.Roots'
    }
}

Describe 'Format views' {
    It 'are in the session from Import-Module on; the type data comes with the first EchoPS command, every entry of the file' {
        # Views at import: deserialized objects (jobs, remoting, Import-Clixml) reach sessions that ran no EchoPS command.
        # Type data at the first command (issue 22, Import-Module's own cost): only live objects, made by commands, use it.
        $probe = Invoke-FreshPwsh @"
Import-Module '$manifestPath'
`$views = @(Get-FormatData -TypeName Deserialized.EchoPS.Server.EchoServerEvent).Count
`$before = @(Get-TypeData -TypeName 'EchoPS.*').Count
`$null = Get-BlockingEchoServer
`$after = @(Get-TypeData -TypeName 'EchoPS.*').TypeName | Sort-Object
[pscustomobject]@{ Views = `$views; Before = `$before; TypeData = `$after } | ConvertTo-Json -Compress
"@
        $probe.ExitCode | Should -Be 0 -Because $probe.Errors
        $result = $probe.Output | ConvertFrom-Json
        $result.Views | Should -Be 1 -Because 'the views come with Import-Module'
        $result.Before | Should -Be 0 -Because 'Import-Module leaves the type data to the first command'
        # Every <Type> of EchoPS.Types.ps1xml is in the session: an entry in a form the run-time reader does not know would be missing.
        $declared = ([xml](Get-Content -Raw (Join-Path $repoRoot 'module/EchoPS.Types.ps1xml'))).Types.Type.Name | Sort-Object
        $result.TypeData | Should -Be $declared
    }

    It 'has a table view first and a list view for <_>' -ForEach $outputTypes {
        $views = @((Get-FormatData -TypeName $_ -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition)
        $views.Count | Should -BeGreaterThan 0 -Because "$_ needs views in EchoPS.Format.ps1xml"
        $views[0].Control | Should -BeOfType [System.Management.Automation.TableControl]
        @($views.Control | Where-Object { $_ -is [System.Management.Automation.ListControl] }).Count | Should -Be 1
    }

    It 'shows sizes and times for people while the objects keep exact numbers' {
        [EchoPS.Formatting.DisplayFormat]::Bytes(512) | Should -Be '512 B'
        [EchoPS.Formatting.DisplayFormat]::Bytes(1536) | Should -Be ((1.5).ToString('0.0') + ' KiB')
        [EchoPS.Formatting.DisplayFormat]::Bytes(5MB) | Should -Be ((5).ToString('0.0') + ' MiB')
        [EchoPS.Formatting.DisplayFormat]::Milliseconds(0.042) | Should -Be (0.042).ToString('0.000')
        [EchoPS.Formatting.DisplayFormat]::Milliseconds(123.45) | Should -Be (123.5).ToString('0.0')
        [EchoPS.Formatting.DisplayFormat]::Milliseconds($null) | Should -Be ''
    }
}

Describe 'Tab completion' {
    BeforeAll {
        $job = Start-BlockingEchoServer -Port 0 -AsJob
        function Get-Completion([string] $Line) {
            (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
        }
    }
    AfterAll {
        $job | Stop-Job
        $job | Remove-Job -Force
    }

    It 'completes -Port of <_> with the running servers' -ForEach 'Stop-BlockingEchoServer', 'Get-BlockingEchoServer' {
        $found = Get-Completion "$_ -Port "
        $found.CompletionText | Should -Contain "$($job.Port)"
        ($found | Where-Object CompletionText -eq "$($job.Port)").ToolTip | Should -Match "server $($job.ServerId) on 127\.0\.0\.1:$($job.Port)"
        (Get-Completion "$_ -Port $("$($job.Port)".Substring(0, 2))").CompletionText | Should -Contain "$($job.Port)"
        Get-Completion "$_ -Port 0" | Should -BeNullOrEmpty -Because 'no bound port starts with 0'
    }

    It 'completes -Id of <_> with the running servers' -ForEach 'Stop-BlockingEchoServer', 'Get-BlockingEchoServer' {
        (Get-Completion "$_ -Id ").CompletionText | Should -Contain "$($job.ServerId)"
    }

    It 'completes -Address of Start-BlockingEchoServer with local addresses, loopback first' {
        $all = Get-Completion 'Start-BlockingEchoServer -Address '
        $all[0].CompletionText | Should -Be '127.0.0.1'
        $all.CompletionText | Should -Contain '0.0.0.0'
        $all.CompletionText | Should -Contain '::'
        $filtered = Get-Completion 'Start-BlockingEchoServer -Address 0.'
        $filtered.CompletionText | Should -Be '0.0.0.0'
    }

    It 'stops offering a server once it has stopped' {
        $other = Start-BlockingEchoServer -Port 0 -AsJob
        try {
            (Get-Completion 'Stop-BlockingEchoServer -Port ').CompletionText | Should -Contain "$($other.Port)"
            $other | Stop-BlockingEchoServer
            (Get-Completion 'Stop-BlockingEchoServer -Port ').CompletionText | Should -Not -Contain "$($other.Port)"
        }
        finally {
            $other | Remove-Job -Force
        }
    }
}

Describe 'Package' {
    BeforeAll {
        $out = Join-Path $TestDrive 'out'
        $version = $manifest.ModuleVersion
        # PSResourceGet keeps its repository list under the user's data folder and creates it on first use: give
        # every child its own, so the test never touches the real one (XDG_DATA_HOME on Linux and macOS; on
        # Windows the uniquely named test repository is removed again).
        $data = New-Item -ItemType Directory (Join-Path $TestDrive 'data')
        $package = Invoke-FreshPwsh -Environment @{ XDG_DATA_HOME = $data.FullName } "& '$repoRoot/build/Package.ps1' -OutputPath '$out'"
    }

    It 'builds a versioned module folder and a .nupkg' {
        $package.ExitCode | Should -Be 0 -Because $package.Errors
        $folder = Join-Path $out "EchoPS/$version"
        $files = Get-ChildItem $folder -Recurse -File | ForEach-Object { [System.IO.Path]::GetRelativePath($folder, $_.FullName).Replace('\', '/') }
        $files | Sort-Object | Should -Be @('EchoPS.dll', 'OxyPlot.dll', 'EchoPS.Format.ps1xml', 'EchoPS.Types.ps1xml', 'EchoPS.psd1', 'en-US/about_EchoPS.help.txt', 'en-US/EchoPS.dll-Help.xml', 'LICENSE' | Sort-Object)
        Join-Path $out "EchoPS.$version.nupkg" | Should -Exist
        (Test-ModuleManifest (Join-Path $folder 'EchoPS.psd1')).Version | Should -Be $version
    }

    It 'installs from a local repository and works when imported by name in a fresh pwsh' {
        $package.ExitCode | Should -Be 0
        $modules = New-Item -ItemType Directory (Join-Path $TestDrive 'Modules')
        $install = Invoke-FreshPwsh -Environment @{ XDG_DATA_HOME = $data.FullName } @"
`$ErrorActionPreference = 'Stop'
`$name = 'EchoPSTest' + [guid]::NewGuid().ToString('n')
Register-PSResourceRepository -Name `$name -Uri '$out' -Trusted
try {
    Save-PSResource -Name EchoPS -Version '$version' -Repository `$name -Path '$modules' -TrustRepository
}
finally {
    Unregister-PSResourceRepository -Name `$name
}
"@
        $install.ExitCode | Should -Be 0 -Because $install.Errors
        Join-Path $modules "EchoPS/$version/EchoPS.psd1" | Should -Exist
        $baseline = New-Item -ItemType Directory (Join-Path $modules 'Baseline')
        New-ModuleManifest (Join-Path $baseline 'Baseline.psd1')

        $run = Invoke-FreshPwsh -Environment @{ PSModulePath = $modules.FullName; XDG_DATA_HOME = $data.FullName } @'
$ErrorActionPreference = 'Stop'
# PowerShell's own first Import-Module costs tens of ms whatever the module: pay it with an empty module first, so
# that the second figure is what EchoPS itself adds.
$watch = [System.Diagnostics.Stopwatch]::StartNew()
Import-Module Baseline
$baselineMs = $watch.Elapsed.TotalMilliseconds
$watch.Restart()
Import-Module EchoPS
$importMs = $watch.Elapsed.TotalMilliseconds
$job = Start-BlockingEchoServer -Port 0 -AsJob
try {
    $payload = [byte[]]::new(100000)
    [System.Random]::new(7).NextBytes($payload)
    $client = [System.Net.Sockets.TcpClient]::new('127.0.0.1', $job.Port)
    $client.ReceiveTimeout = 10000
    $stream = $client.GetStream()
    $stream.Write($payload, 0, $payload.Length)
    $client.Client.Shutdown('Send')
    $echo = [System.IO.MemoryStream]::new()
    $stream.CopyTo($echo)
    $client.Dispose()
    # Every exported cmdlet, as a user reaches it after importing by name.
    $clientStatus = "$((Test-EchoRoundTrip 127.0.0.1 $job.Port -Count 3 -TimeoutSec 10).Status)"
    $listed = "$((Get-BlockingEchoServer -Port $job.Port).Port)"
    $stopped = "$((Stop-BlockingEchoServer -Port $job.Port -PassThru).State)"
}
finally {
    $job | Stop-Job
    $job | Remove-Job -Force
}
[pscustomobject]@{
    Commands     = @(Get-Command -Module EchoPS | ForEach-Object Name | Sort-Object)
    ClientStatus = $clientStatus
    Listed       = $listed -eq "$($job.Port)"
    Stopped      = $stopped
    ModuleBase = (Get-Module EchoPS).ModuleBase
    BaselineMs = $baselineMs
    ImportMs   = $importMs
    EchoedBack = [System.Linq.Enumerable]::SequenceEqual($payload, $echo.ToArray())
    Synopsis   = (Get-Help Start-BlockingEchoServer).Synopsis
} | ConvertTo-Json -Compress
'@
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $result = $run.Output | ConvertFrom-Json
        $result.ModuleBase | Should -BeLike "$($modules.FullName)*"
        $result.EchoedBack | Should -BeTrue
        $result.Commands | Should -Be @($manifest.CmdletsToExport | Sort-Object)
        $result.ClientStatus | Should -Be 'Success'
        $result.Listed | Should -BeTrue
        $result.Stopped | Should -Be 'Stopped'
        $result.Synopsis | Should -Be 'Starts a blocking, single-client TCP echo server.'
        Write-Host ("Import-Module in a fresh pwsh: an empty module {0:N1} ms (PowerShell's own first-import cost), then EchoPS by name {1:N1} ms" -f $result.BaselineMs, $result.ImportMs)
        # Only a gross regression: on a machine shared with other work both figures grow together, so the bound does too.
        $result.ImportMs | Should -BeLessThan ([math]::Max(2000, 2 * $result.BaselineMs)) -Because 'importing must stay cheap (the README reports the typical figure)'
    }
}
