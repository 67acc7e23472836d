#!/bin/sh
# Written by Measure-EchoServer: starts socat in its cgroup, pinned, its output to a file.
exec > '/work/main/results/servers/server-socat-32807.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-15286-2-socat/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec socat TCP-LISTEN:32807,bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=128 PIPE
