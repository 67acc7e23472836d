#!/bin/sh
# Written by Measure-EchoServer: starts socat in its cgroup, pinned, its output to a file.
exec > '/work/main/results/unpinned/servers/server-socat-38873.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-23666-2-socat/cgroup.procs' || exit 97
exec socat TCP-LISTEN:38873,bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=128 PIPE
