#!/bin/sh
# Written by Measure-EchoServer: starts EchoPS 4 KiB in its cgroup, pinned, its output to a file.
exec > '/work/main/results/sweep/servers/server-EchoPS_4_KiB-36907.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-3343-6-EchoPS4KiB/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec '/root/.nuget/packages/powershell/7.6.9/tools/net10.0/any/unix/pwsh' -NoProfile -NonInteractive -File '/work/main/bench/Start-EchoPSServer.ps1' -ModulePath '/work/main/module/EchoPS.psd1' -Port 36907 -BufferSize 4096 -Events Job
