/*
 * A select() echo server, as a lab student writes it, for Measure-EchoServer's tests (MeasureLoad.Tests.ps1).
 * One loop: rebuild the fd_set from every open connection, select(), then look at every descriptor up to the
 * highest. Its cost per wake-up grows with the connections it holds (idle or not), and it cannot watch a
 * descriptor at or above FD_SETSIZE (1024): such a connection is closed at once, as an honest server must.
 * Usage: select_server [port (0 = any free)]. Binds 127.0.0.1, prints "listening <port>", exits when its
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
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_common.h"

static char buf[65536];
static char *pending[FD_SETSIZE]; /* bytes read but not yet written back (a partial write), per descriptor */
static size_t pendingLen[FD_SETSIZE];
static int open_[FD_SETSIZE];

static void drop(int fd)
{
    close(fd);
    open_[fd] = 0;
    free(pending[fd]);
    pending[fd] = NULL;
    pendingLen[fd] = 0;
}

/* Writes what it can; keeps the rest for when the socket is writable. Returns -1 when the connection broke. */
static int flush_out(int fd, const char *data, size_t len)
{
    ssize_t sent = peer_write_some(fd, data, len);
    if (sent < 0)
        return -1;
    size_t off = (size_t)sent;
    char *rest = off < len ? malloc(len - off) : NULL;
    if (rest)
        memcpy(rest, data + off, len - off);
    free(pending[fd]);
    pending[fd] = rest;
    pendingLen[fd] = rest ? len - off : 0;
    return 0;
}

int main(int argc, char **argv)
{
    int one = 1;
    peer_raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    int listener = peer_listen("select_server", argc > 1 ? atoi(argv[1]) : 0, 4096);
    fcntl(listener, F_SETFL, O_NONBLOCK);

    int maxfd = listener;
    for (;;) {
        fd_set readable, writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        FD_SET(0, &readable);
        FD_SET(listener, &readable);
        for (int fd = 0; fd <= maxfd; fd++)
            if (open_[fd])
                FD_SET(fd, pending[fd] ? &writable : &readable);
        if (select(maxfd + 1, &readable, &writable, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            perror("select");
            return 1;
        }
        if (FD_ISSET(0, &readable) && read(0, buf, sizeof buf) <= 0)
            return 0;
        if (FD_ISSET(listener, &readable)) {
            int client;
            while ((client = accept(listener, NULL, NULL)) >= 0) {
                if (client >= FD_SETSIZE) {
                    close(client); /* select() cannot watch it */
                    continue;
                }
                fcntl(client, F_SETFL, O_NONBLOCK);
                setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                open_[client] = 1;
                if (client > maxfd)
                    maxfd = client;
            }
        }
        for (int fd = 1; fd <= maxfd; fd++) {
            if (!open_[fd])
                continue;
            if (FD_ISSET(fd, &writable)) {
                char *rest = pending[fd];
                pending[fd] = NULL;
                if (flush_out(fd, rest, pendingLen[fd]) < 0)
                    drop(fd);
                free(rest);
            } else if (FD_ISSET(fd, &readable)) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    continue;
                if (n <= 0 || flush_out(fd, buf, (size_t)n) < 0)
                    drop(fd);
            }
        }
    }
}
