/* A fork-per-connection echo server, as the lab's second server is written: the parent accepts, a child per
 * connection echoes until the client closes, the parent reaps children in a SIGCHLD handler (so accept() is
 * interrupted, EINTR, and retried). Usage: fork_server PORT (0 = any free; listens on 127.0.0.1). Used by MeasureServer.Tests.ps1. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer_common.h"

static void reap(int sig)
{
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fork_server PORT\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap; /* no SA_RESTART: accept() returns EINTR when a child ends */
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int one = 1;
    int ls = peer_listen("fork_server: bind/listen", atoi(argv[1]), 128);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            perror("fork_server: accept");
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(ls);
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            peer_echo(c);
            close(c);
            _exit(0);
        }
        close(c);
    }
}
