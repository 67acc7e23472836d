#!/bin/sh
# Written by Measure-EchoServer: starts threads in its cgroup, pinned, its output to a file.
exec > '/work/main/results/servers/server-threads-39567.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-15286-5-threads/cgroup.procs' || exit 97
taskset -cp 1 $$ > /dev/null || exit 98
exec '/work/main/results/raw/bin/thread_server' 39567
