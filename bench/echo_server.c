/*
 * The baseline of the series: a minimal blocking, single-client TCP echo server in C.
 * Accept one client, read up to 4 KiB, write all of it back, until the client closes; then accept the next.
 * Usage: echo_server [port (0 = any free)] [buffer bytes (default 4096, the classic size)]
 * Prints "listening <port>" once bound, so a caller that asked for port 0 learns the port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 4096;
    char *buf = malloc(size);
    int one = 1;

    /* A client that resets while its echo is written must not kill the server (EPIPE, not SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (!buf || listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listener, 128) < 0 || getsockname(listener, (struct sockaddr *)&addr, &len) < 0) {
        perror("echo_server");
        return 1;
    }
    printf("listening %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0)
            continue; /* EINTR, or a client that vanished before accept */
        /* Same as EchoPS's default: small echoes are not held back by Nagle's algorithm. */
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ssize_t n;
        while ((n = read(client, buf, size)) > 0) {
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(client, buf + off, (size_t)(n - off));
                if (w < 0)
                    goto done;
                off += w;
            }
        }
    done:
        close(client);
    }
}
