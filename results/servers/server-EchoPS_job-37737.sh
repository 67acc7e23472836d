#!/bin/sh
# Written by Measure-EchoServer: starts EchoPS job in its cgroup, pinned, its output to a file.
exec > '/work/main/results/servers/server-EchoPS_job-37737.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-15286-4-EchoPSjob/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec '/root/.nuget/packages/powershell/7.6.9/tools/net10.0/any/unix/pwsh' -NoProfile -NonInteractive -File '/work/main/bench/Start-EchoPSServer.ps1' -ModulePath '/work/main/module/EchoPS.psd1' -Port 37737 -BufferSize 0 -Events Job
