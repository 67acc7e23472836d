#!/bin/sh
# Written by Measure-EchoServer: starts C 16 KiB in its cgroup, pinned, its output to a file.
exec > '/work/main/results/sweep/servers/server-C_16_KiB-33017.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-3343-2-C16KiB/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec '/work/main/results/raw/bin/echo_server' 33017 16384
