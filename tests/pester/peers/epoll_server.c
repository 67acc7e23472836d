/*
 * An epoll echo server, as a lab student writes it, for Measure-EchoServer's tests (MeasureLoad.Tests.ps1).
 * One loop over epoll_wait: only the descriptors that are ready come back, so idle connections cost nothing
 * per wake-up, and any descriptor number works. Level-triggered; a partial write waits for EPOLLOUT.
 * Usage: epoll_server [port (0 = any free)]. Binds 127.0.0.1, prints "listening <port>", exits when its
 * standard input closes (so a test that dies takes its server with it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_common.h"

struct conn {
    int fd;
    char *pending; /* bytes read but not yet written back */
    size_t pendingLen;
};

static char buf[65536];

static void drop(struct conn *c)
{
    close(c->fd); /* closing removes it from the epoll set */
    free(c->pending);
    free(c);
}

/* Writes what it can; returns 1 when bytes are left for EPOLLOUT, 0 when all went, -1 when the connection broke. */
static int flush_out(struct conn *c, const char *data, size_t len)
{
    ssize_t sent = peer_write_some(c->fd, data, len);
    if (sent < 0)
        return -1;
    size_t off = (size_t)sent;
    char *rest = off < len ? malloc(len - off) : NULL;
    if (rest)
        memcpy(rest, data + off, len - off);
    free(c->pending);
    c->pending = rest;
    c->pendingLen = rest ? len - off : 0;
    return rest != NULL;
}

int main(int argc, char **argv)
{
    int one = 1;
    peer_raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    int ep = epoll_create1(0);
    if (ep < 0) {
        perror("epoll_server");
        return 1;
    }
    int listener = peer_listen("epoll_server", argc > 1 ? atoi(argv[1]) : 0, 4096);
    fcntl(listener, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    static struct conn stdinMark;
    ev.data.ptr = &stdinMark;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == &stdinMark) {
                if (read(0, buf, sizeof buf) <= 0)
                    return 0;
            } else if (c == NULL) {
                int client;
                while ((client = accept(listener, NULL, NULL)) >= 0) {
                    fcntl(client, F_SETFL, O_NONBLOCK);
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    nc->fd = client;
                    struct epoll_event cev = { .events = EPOLLIN, .data.ptr = nc };
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, client, &cev) < 0)
                        drop(nc);
                }
            } else if (c->pending) {
                char *rest = c->pending;
                c->pending = NULL;
                int left = flush_out(c, rest, c->pendingLen);
                free(rest);
                struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
                if (left < 0)
                    drop(c);
                else if (left == 0)
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            } else {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    continue;
                int left = r <= 0 ? -1 : flush_out(c, buf, (size_t)r);
                struct epoll_event cev = { .events = EPOLLOUT, .data.ptr = c };
                if (left < 0)
                    drop(c);
                else if (left > 0)
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            }
        }
    }
}
