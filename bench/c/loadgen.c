/* loadgen: the load generator of bench/run's churn and idle scenarios.
 *
 * churn: keep CONC connections in flight; each connects, writes SIZE bytes, reads REPLY bytes
 *        back, closes; COUNT connections in all (or as many as fit in -d SECONDS).
 * hold:  open COUNT connections (CONC in flight while opening), each writes SIZE bytes and reads
 *        REPLY bytes back, then stays open and idle. Once all are open it prints its report and
 *        waits until stdin reaches EOF (or it gets SIGTERM), then closes them all.
 *
 * usage: loadgen -p PORT [-a ADDR] [-m churn|hold] [-c CONC] [-n COUNT] [-s SIZE] [-r REPLY]
 *                [-d SECONDS]
 *   REPLY defaults to SIZE (an echo). The report is one JSON line on stdout:
 *   {"mode":..., "ok":N, "failed":N, "seconds":T, "rate":N/s, "p50_us":..., "p99_us":...}
 *   where the latency is connect to last reply byte, per connection.
 * Built by bench/run with gcc -O2. Raises its own soft file-descriptor limit to the hard one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, TRANSFER, HELD };

struct conn {
    int fd, state;
    size_t sent, got;
    double started;
};

static struct sockaddr_in target;
static size_t size = 64, reply = (size_t)-1;
static char *payload;
static int epfd;
/* latency histogram: 10 us buckets up to 2 s, then one overflow bucket */
#define BUCKETS 200001
static uint64_t hist[BUCKETS];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int start(struct conn *c) {
    memset(c, 0, sizeof *c);
    c->started = now();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    c->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

/* Moves bytes; returns 1 when the exchange is complete, 0 to wait, -1 on failure. */
static int step(struct conn *c, uint32_t events) {
    static char scratch[65536];
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) return -1;
        if (!(events & (EPOLLOUT | EPOLLIN))) return 0;
        c->state = TRANSFER;
    }
    while (c->sent < size) {
        ssize_t n = write(c->fd, payload + c->sent, size - c->sent);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        c->sent += (size_t)n;
    }
    while (c->got < reply) {
        ssize_t n = read(c->fd, scratch, sizeof scratch);
        if (n == 0) return -1;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        c->got += (size_t)n;
    }
    if (c->sent < size) { /* wait for room to write */
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
    }
    if (c->got < reply) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
    }
    return 1;
}

static void record(double seconds) {
    long b = (long)(seconds * 1e5);
    if (b >= BUCKETS - 1 || b < 0) b = BUCKETS - 1;
    hist[b]++;
}

static double percentile(uint64_t total, double p) {
    uint64_t want = (uint64_t)(total * p), seen = 0;
    for (long b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen > want) return b * 10.0 + 5.0;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1", *mode = "churn";
    int port = 0, conc = 64, opt;
    long count = 10000;
    double duration = 0;
    while ((opt = getopt(argc, argv, "a:p:m:c:n:s:r:d:")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'c': conc = atoi(optarg); break;
        case 'n': count = atol(optarg); break;
        case 's': size = (size_t)atol(optarg); break;
        case 'r': reply = (size_t)atol(optarg); break;
        case 'd': duration = atof(optarg); break;
        default:
            fprintf(stderr, "usage: loadgen -p PORT [-a ADDR] [-m churn|hold] [-c CONC] [-n COUNT] [-s SIZE] [-r REPLY] [-d SECONDS]\n");
            return 2;
        }
    }
    int hold = strcmp(mode, "hold") == 0;
    if (!hold && strcmp(mode, "churn") != 0) { fprintf(stderr, "mode is churn or hold\n"); return 2; }
    if (port <= 0) { fprintf(stderr, "-p PORT is required\n"); return 2; }
    if (reply == (size_t)-1) reply = size;
    if (duration > 0 && !hold) count = -1; /* until the time is up */
    if (conc < 1) conc = 1;
    if (count >= 0 && conc > count) conc = (int)(count > 0 ? count : 1);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, addr, &target.sin_addr);
    payload = malloc(size ? size : 1);
    memset(payload, 'x', size ? size : 1);
    epfd = epoll_create1(EPOLL_CLOEXEC);

    /* hold keeps every connection; churn reuses CONC slots */
    long slots = hold ? count : conc;
    struct conn *conns = calloc((size_t)slots, sizeof *conns);
    long started = 0, ok = 0, failed = 0, inflight = 0, next_slot = 0;
    double t0 = now(), deadline = duration > 0 ? t0 + duration : 0;
    struct conn **free_slots = malloc(sizeof(struct conn *) * (size_t)slots);
    long nfree = 0;
    if (!hold) for (long i = 0; i < slots; i++) free_slots[nfree++] = &conns[i];

    struct epoll_event events[512];
    for (;;) {
        int stopping = deadline > 0 && now() >= deadline;
        while (inflight < conc && (count < 0 || started < count) && !stopping) {
            struct conn *c = hold ? &conns[next_slot++] : free_slots[--nfree];
            started++;
            if (start(c) < 0) {
                failed++;
                if (hold) c->fd = -1; else free_slots[nfree++] = c;
                continue;
            }
            inflight++;
        }
        if (inflight == 0) break;
        int n = epoll_wait(epfd, events, 512, 1000);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            int r = step(c, events[i].events);
            if (r == 0) continue;
            inflight--;
            if (r > 0) {
                ok++;
                record(now() - c->started);
            } else {
                failed++;
            }
            if (hold && r > 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                c->state = HELD;
            } else {
                epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                if (!hold) free_slots[nfree++] = c;
            }
        }
    }
    double seconds = now() - t0;
    printf("{\"mode\":\"%s\",\"ok\":%ld,\"failed\":%ld,\"seconds\":%.4f,\"rate\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f}\n",
           mode, ok, failed, seconds, ok / seconds, percentile((uint64_t)ok, 0.5), percentile((uint64_t)ok, 0.99));
    fflush(stdout);
    if (hold) {
        char b[256];
        while (read(0, b, sizeof b) > 0) {}
        for (long i = 0; i < slots; i++)
            if (conns[i].state == HELD && conns[i].fd >= 0) close(conns[i].fd);
    }
    return failed > 0 && ok == 0 ? 1 : 0;
}
