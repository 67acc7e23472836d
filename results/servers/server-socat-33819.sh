#!/bin/sh
# Written by Measure-EchoServer: starts socat in its cgroup, pinned, its output to a file.
exec > '/work/main/results/servers/server-socat-33819.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-24675-2-socat/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec socat TCP-LISTEN:33819,bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=128 PIPE
