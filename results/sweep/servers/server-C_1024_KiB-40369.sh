#!/bin/sh
# Written by Measure-EchoServer: starts C 1024 KiB in its cgroup, pinned, its output to a file.
exec > '/work/main/results/sweep/servers/server-C_1024_KiB-40369.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-3343-5-C1024KiB/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec '/work/main/results/raw/bin/echo_server' 40369 1048576
