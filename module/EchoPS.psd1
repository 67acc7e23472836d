@{
    RootModule           = 'EchoPS.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '2edd55ba-e421-438c-93ca-377a51adf3c1'
    Author               = 'EchoPS developers'
    CompanyName          = 'EchoPS'
    Copyright            = '(c) EchoPS developers. MIT License.'
    Description          = 'A blocking, single-client TCP echo server and the client that verifies and measures it: a clean baseline for learning sockets and I/O models, checking network plumbing and running latency and throughput experiments, locked down by default.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('EchoPS.Format.ps1xml')
    CmdletsToExport      = @(
        'Start-BlockingEchoServer'
        'Stop-BlockingEchoServer'
        'Get-BlockingEchoServer'
        'Test-EchoRoundTrip'
        'Measure-EchoServer'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('echo', 'tcp', 'socket', 'network', 'server', 'latency', 'benchmark', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ProjectUri   = 'https://github.com/echops/EchoPS'
            ReleaseNotes = 'First release: Start-, Stop- and Get-BlockingEchoServer.'
        }
    }
}
