#!/bin/sh
# Written by Measure-EchoServer: starts C in its cgroup, pinned, its output to a file.
exec > '/work/main/results/unpinned/servers/server-C-35827.log' 2>&1 < /dev/null
echo $$ > '/sys/fs/cgroup/unified/echops-measure-23666-1-C/cgroup.procs' || exit 97
exec '/work/main/results/raw/bin/echo_server' 35827 65536
