#!/bin/sh
# Written by Measure-EchoServer: starts C in its cgroup, pinned, its output to a file.
exec > '/work/main/results/servers/server-C-37927.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-15286-1-C/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec '/work/main/results/raw/bin/echo_server' 37927 65536
