/* What the test peers (fork, thread, select and epoll servers) share: a listener on 127.0.0.1 that says its port,
 * and the blocking echo of one connection. Each function is static inline: a peer that needs one compiles
 * cleanly under -Wall -Wextra -Werror without the others. */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Binds 127.0.0.1:port (0 = any free port) with SO_REUSEADDR, listens with the given backlog and prints
 * "listening <port>" (flushed: the test reads it to find the port). Exits with status 1, naming `who`, when it can't. */
static inline int peer_listen(const char *who, int port, int backlog)
{
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, backlog) < 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) < 0) {
        perror(who);
        exit(1);
    }
    printf("listening %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return listener;
}

/* Lifts the soft limit on open descriptors to the hard one (the event-loop peers hold thousands of connections). */
static inline void peer_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Echoes one blocking connection until the client closes or a read or write fails; does not close it. */
static inline void peer_echo(int fd)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0)
                return;
            off += w;
        }
    }
}

/* Writes what a non-blocking socket takes now: returns how many bytes went (fewer than len when it would block), or
 * -1 when the connection broke. */
static inline ssize_t peer_write_some(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    return (ssize_t)off;
}

#endif
