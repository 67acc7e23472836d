/*
 * The compiled client of the EchoPS bench: measures any echo server on loopback and prints one JSON line.
 *   echo_client rtt        PORT COUNT SIZE [WARMUP] [SAMPLES_FILE]  round trips of SIZE-byte messages (TCP_NODELAY)
 *   echo_client stream     PORT TOTAL CHUNK      TOTAL bytes in CHUNK-byte writes, read back concurrently and verified
 *   echo_client conns      PORT COUNT            sequential connections: connect, 1-byte echo, close
 *   echo_client concurrent PORT CLIENTS HOLD_MS  CLIENTS connect at once; each echoes 1 byte, holds, closes:
 *                                                the wait until each one's echo is its queue wait
 * Exit code 0 on success; 1 with a message on stderr on any failure (wrong bytes included).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_port;

static void fail(const char *what)
{
    fprintf(stderr, "echo_client: %s: %s\n", what, errno ? strerror(errno) : "unexpected data");
    exit(1);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int connect_loopback(void)
{
    int one = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(g_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        fail("connect");
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

static void write_all(int s, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(s, buf, len);
        if (n <= 0)
            fail("write");
        buf += n;
        len -= (size_t)n;
    }
}

static void read_exact(int s, char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(s, buf, len);
        if (n <= 0)
            fail(n == 0 ? "read (server closed early)" : "read");
        buf += n;
        len -= (size_t)n;
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double p)
{
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i];
}

static int rtt(long count, size_t size, long warmup, const char *samples_path)
{
    char *msg = malloc(size), *back = malloc(size);
    double *us = malloc(sizeof(double) * (size_t)count);
    for (size_t i = 0; i < size; i++)
        msg[i] = (char)('a' + i % 26);
    int s = connect_loopback();
    for (long i = -warmup; i < count; i++) {
        double t0 = now_us();
        write_all(s, msg, size);
        read_exact(s, back, size);
        double t1 = now_us();
        if (memcmp(msg, back, size) != 0)
            fail("rtt echo differs");
        if (i >= 0)
            us[i] = t1 - t0;
    }
    close(s);
    if (samples_path) {
        FILE *f = fopen(samples_path, "w");
        if (!f)
            fail(samples_path);
        for (long i = 0; i < count; i++)
            fprintf(f, "%.2f\n", us[i]);
        fclose(f);
    }
    double sum = 0;
    for (long i = 0; i < count; i++)
        sum += us[i];
    qsort(us, (size_t)count, sizeof(double), by_value);
    printf("{\"mode\":\"rtt\",\"count\":%ld,\"size\":%zu,\"warmup\":%ld,\"min_us\":%.2f,\"p50_us\":%.2f,"
           "\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f}\n",
           count, size, warmup, us[0], percentile(us, count, 50), percentile(us, count, 90),
           percentile(us, count, 99), percentile(us, count, 99.9), us[count - 1], sum / (double)count);
    return 0;
}

/* The streamed bytes repeat a random pattern with a period that is no power of two, so a byte
 * echoed at the wrong offset (lost, doubled or reordered chunk) is caught. */
#define PERIOD 65521
struct stream_job { int s; long long total; size_t chunk; const char *pattern; };

static void *stream_writer(void *arg)
{
    struct stream_job *job = arg;
    for (long long sent = 0; sent < job->total;) {
        size_t n = job->chunk;
        if ((long long)n > job->total - sent)
            n = (size_t)(job->total - sent);
        write_all(job->s, job->pattern + sent % PERIOD, n);
        sent += (long long)n;
    }
    shutdown(job->s, SHUT_WR);
    return NULL;
}

static int stream(long long total, size_t chunk)
{
    char *pattern = malloc(PERIOD + chunk), *buf = malloc(chunk);
    srand(42);
    for (size_t i = 0; i < PERIOD + chunk; i++)
        pattern[i] = (char)rand();
    for (size_t i = PERIOD; i < PERIOD + chunk; i++)
        pattern[i] = pattern[i - PERIOD];
    struct stream_job job = { connect_loopback(), total, chunk, pattern };
    pthread_t writer;
    double t0 = now_us();
    pthread_create(&writer, NULL, stream_writer, &job);
    long long got = 0;
    ssize_t n;
    while ((n = read(job.s, buf, chunk)) > 0) {
        if (memcmp(buf, pattern + got % PERIOD, (size_t)n) != 0)
            fail("stream echo differs");
        got += n;
    }
    double t1 = now_us();
    pthread_join(writer, NULL);
    close(job.s);
    if (n < 0 || got != total) {
        fprintf(stderr, "echo_client: stream got %lld of %lld bytes back\n", got, total);
        return 1;
    }
    printf("{\"mode\":\"stream\",\"bytes\":%lld,\"chunk\":%zu,\"seconds\":%.6f,\"mib_per_s\":%.1f}\n",
           total, chunk, (t1 - t0) / 1e6, (double)total / 1048576.0 / ((t1 - t0) / 1e6));
    return 0;
}

static int conns(long count)
{
    char out = 'x', back;
    double t0 = now_us();
    for (long i = 0; i < count; i++) {
        int s = connect_loopback();
        write_all(s, &out, 1);
        read_exact(s, &back, 1);
        close(s);
        if (back != out)
            fail("conns echo differs");
    }
    double t1 = now_us();
    printf("{\"mode\":\"conns\",\"count\":%ld,\"seconds\":%.6f,\"per_second\":%.1f}\n",
           count, (t1 - t0) / 1e6, (double)count / ((t1 - t0) / 1e6));
    return 0;
}

struct queued_client { double start_us, wait_us; long hold_ms; pthread_t thread; };

static void *queued_client_run(void *arg)
{
    struct queued_client *c = arg;
    char out = 'q', back;
    int s = connect_loopback();
    write_all(s, &out, 1);
    read_exact(s, &back, 1);
    c->wait_us = now_us() - c->start_us;
    struct timespec hold = { c->hold_ms / 1000, (c->hold_ms % 1000) * 1000000L };
    nanosleep(&hold, NULL);
    close(s);
    return NULL;
}

static int concurrent(int clients, long hold_ms)
{
    struct queued_client *c = calloc((size_t)clients, sizeof *c);
    double start = now_us();
    for (int i = 0; i < clients; i++) {
        c[i].start_us = start;
        c[i].hold_ms = hold_ms;
        pthread_create(&c[i].thread, NULL, queued_client_run, &c[i]);
    }
    double *waits = malloc(sizeof(double) * (size_t)clients);
    for (int i = 0; i < clients; i++) {
        pthread_join(c[i].thread, NULL);
        waits[i] = c[i].wait_us / 1000.0;
    }
    /* Served order is echo order: the n-th served client waited for n-1 holds. */
    qsort(waits, (size_t)clients, sizeof(double), by_value);
    printf("{\"mode\":\"concurrent\",\"clients\":%d,\"hold_ms\":%ld,\"wait_ms\":[", clients, hold_ms);
    for (int i = 0; i < clients; i++)
        printf("%s%.3f", i ? "," : "", waits[i]);
    printf("]}\n");
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 4) {
        fprintf(stderr, "usage: echo_client rtt|stream|conns|concurrent PORT ARGS... (see the source's header)\n");
        return 2;
    }
    g_port = atoi(argv[2]);
    const char *mode = argv[1];
    if (strcmp(mode, "rtt") == 0 && argc >= 5)
        return rtt(atol(argv[3]), (size_t)atol(argv[4]), argc > 5 ? atol(argv[5]) : 1000, argc > 6 ? argv[6] : NULL);
    if (strcmp(mode, "stream") == 0 && argc >= 5)
        return stream(atoll(argv[3]), (size_t)atol(argv[4]));
    if (strcmp(mode, "conns") == 0)
        return conns(atol(argv[3]));
    if (strcmp(mode, "concurrent") == 0 && argc >= 5)
        return concurrent(atoi(argv[3]), atol(argv[4]));
    fprintf(stderr, "echo_client: unknown mode or missing arguments: %s\n", mode);
    return 2;
}
