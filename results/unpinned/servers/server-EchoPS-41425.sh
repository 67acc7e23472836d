#!/bin/sh
# Written by Measure-EchoServer: starts EchoPS in its cgroup, pinned, its output to a file.
exec > '/work/main/results/unpinned/servers/server-EchoPS-41425.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-23666-3-EchoPS/cgroup.procs' || exit 97
exec '/root/.nuget/packages/powershell/7.6.9/tools/net10.0/any/unix/pwsh' -NoProfile -NonInteractive -File '/work/main/bench/Start-EchoPSServer.ps1' -ModulePath '/work/main/module/EchoPS.psd1' -Port 41425 -BufferSize 0 -Events Formatted
