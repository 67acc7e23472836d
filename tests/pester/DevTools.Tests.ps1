# build/DevTools.psm1, the helpers that the build scripts, the bench and this suite share: each tested once, here.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
}

Describe 'Get-Median' {
    It 'takes the middle value of an odd count, in any order' {
        Get-Median @(9, 1, 5) | Should -Be 5
    }

    It 'takes the mean of the two middle values of an even count' {
        Get-Median @(4, 1, 3, 2) | Should -Be 2.5
    }

    It 'returns nothing for no values, and 0 for a single 0' {
        Get-Median @() | Should -BeNullOrEmpty
        Get-Median @(0) | Should -BeExactly ([double]0)
    }
}

Describe 'Wait-Until' {
    It 'returns true as soon as the condition holds' {
        $script:polls = 0
        Wait-Until { (++$script:polls) -ge 3 } -TimeoutMs 10000 -IntervalMs 10 | Should -BeTrue
        $polls | Should -Be 3
    }

    It 'returns false once its bound has passed, without waiting much longer' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Wait-Until { $false } -TimeoutMs 300 | Should -BeFalse
        $watch.ElapsedMilliseconds | Should -BeGreaterOrEqual 300
        # Generous: only a wait that ignored its bound would come near this.
        $watch.ElapsedMilliseconds | Should -BeLessThan 5000
    }
}

Describe 'Wait-ProcessIdle' {
    BeforeEach { if (-not $IsLinux) { Set-ItResult -Skipped -Because 'it reads /proc' } }

    It 'returns true for a sleeping process and false, within its bound, for one that keeps a CPU busy' {
        $sleeper = Start-Process sleep -ArgumentList 60 -PassThru
        $spinner = Start-Process sh -ArgumentList '-c', '"while :; do :; done"' -PassThru
        try {
            Wait-ProcessIdle -ProcessId $sleeper.Id -TimeoutSec 10 | Should -BeTrue
            $watch = [Diagnostics.Stopwatch]::StartNew()
            Wait-ProcessIdle -ProcessId $sleeper.Id, $spinner.Id -TimeoutSec 1 | Should -BeFalse
            $watch.ElapsedMilliseconds | Should -BeLessThan 5000
        }
        finally { $sleeper.Kill(); $spinner.Kill() }
    }
}

Describe 'Get-FreePort' {
    It 'returns a loopback port that a listener can bind' {
        $port = Get-FreePort
        $port | Should -BeGreaterThan 0
        $port | Should -BeLessOrEqual 65535
        $listener = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, $port)
        try { { $listener.Start() } | Should -Not -Throw }
        finally { $listener.Stop() }
    }
}

Describe 'Install-DebianTool' {
    It 'reports a missing command with the reason, and installs nothing, when installing is turned off' {
        $env:ECHOPS_NO_INSTALL = '1'
        try { $tool = Install-DebianTool @{ 'echops-no-such-command' = 'echops-no-such-package' } }
        finally { Remove-Item Env:ECHOPS_NO_INSTALL }
        $tool.Command | Should -Be 'echops-no-such-command'
        $tool.Available | Should -BeFalse
        $tool.Installed | Should -BeFalse
        $tool.Reason | Should -Be 'echops-no-such-command is missing: installing is turned off (ECHOPS_NO_INSTALL=1)'
    }

    It 'reports a command that is already there as available, not installed' {
        $tool = Install-DebianTool @{ sh = 'dash' }
        $tool.Available | Should -BeTrue
        $tool.Installed | Should -BeFalse
        $tool.Reason | Should -BeNullOrEmpty
    }

    It 'installs a missing Debian package with apt-get (root), so the command is on PATH' {
        # GNU hello: a tiny package nothing else here needs, so it is missing on every run and removed again after.
        $why = if (-not $IsLinux) { 'apt-get needs Debian Linux' }
        elseif ((& id -u) -ne '0') { 'installing a package needs root' }
        elseif (-not (Test-Tool apt-get)) { 'this machine has no apt-get' }
        elseif ($env:ECHOPS_NO_INSTALL -eq '1') { 'installing is turned off (ECHOPS_NO_INSTALL=1)' }
        elseif (Test-Tool hello) { 'hello was installed already, so this run cannot show an install' }
        if ($why) { Set-ItResult -Skipped -Because $why; return }
        $log = Join-Path $TestDrive 'apt.log'
        try {
            $tool = Install-DebianTool @{ hello = 'hello' } -LogPath $log
            $tool.Available | Should -BeTrue -Because "apt-get's log says: $(Get-Content -Raw $log -ErrorAction SilentlyContinue)"
            $tool.Installed | Should -BeTrue
            & hello | Should -Be 'Hello, world!'
        }
        finally {
            if (Test-Tool hello) {
                $env:DEBIAN_FRONTEND = 'noninteractive'
                & apt-get -o DPkg::Lock::Timeout=300 -q -y remove hello *>> $log
            }
        }
        Test-Tool hello | Should -BeFalse -Because 'the test removes what it installed'
    }
}
