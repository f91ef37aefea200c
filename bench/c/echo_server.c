/* echo_server: the reference peer for the churn scenario of bench/run.
 *
 * A small epoll TCP echo server: accept, TCP_NODELAY (switchboard's default), write back every
 * byte read, close on EOF or error. The same socket work switchboard's echo listener does,
 * minus the session bookkeeping and the history.
 *
 * usage: echo_server [-a ADDR] [-p PORT] [-t THREADS]
 *   PORT 0 (default) picks a free port; the bound port is printed on stdout as "port N".
 *   THREADS > 1 runs one epoll loop per thread, each with its own SO_REUSEPORT socket.
 * Built by bench/run with gcc -O2 -pthread.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

struct conn {
    int fd;
    char *pending; /* bytes read but not yet written back (a short write) */
    size_t len, off;
};

static struct sockaddr_in bind_addr;

static int make_listener(int reuseport) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) { perror("socket"); exit(1); }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&bind_addr, sizeof bind_addr) < 0) { perror("bind"); exit(1); }
    if (listen(fd, 4096) < 0) { perror("listen"); exit(1); }
    return fd;
}

static void drop(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Writes what is pending; returns 1 if all of it went, 0 if the socket is full, -1 on error. */
static int flush_pending(struct conn *c) {
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->pending + c->off, c->len - c->off);
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        c->off += (size_t)n;
    }
    free(c->pending);
    c->pending = NULL;
    c->len = c->off = 0;
    return 1;
}

static void *loop(void *arg) {
    int lfd = (int)(long)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, events[256];
    static __thread char buf[BUF];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) { /* the listener */
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (c->pending) { /* waiting for room: write, then read again */
                int r = flush_pending(c);
                if (r < 0) { drop(ep, c); continue; }
                if (r == 0) continue;
                struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            }
            ssize_t got = read(c->fd, buf, BUF);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) { drop(ep, c); continue; }
            if (got < 0) continue;
            ssize_t put = write(c->fd, buf, (size_t)got);
            if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { drop(ep, c); continue; }
            if (put < 0) put = 0;
            if (put < got) { /* keep the rest, stop reading until it is written */
                c->len = (size_t)(got - put);
                c->off = 0;
                c->pending = malloc(c->len);
                memcpy(c->pending, buf + put, c->len);
                struct epoll_event cev = {.events = EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    int port = 0, threads = 1, opt;
    while ((opt = getopt(argc, argv, "a:p:t:")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        default: fprintf(stderr, "usage: echo_server [-a ADDR] [-p PORT] [-t THREADS]\n"); return 2;
        }
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);

    bind_addr.sin_family = AF_INET;
    bind_addr.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, addr, &bind_addr.sin_addr);
    int first = make_listener(threads > 1);
    socklen_t sl = sizeof bind_addr;
    getsockname(first, (struct sockaddr *)&bind_addr, &sl); /* later threads bind the same port */
    printf("port %d\n", ntohs(bind_addr.sin_port));
    fflush(stdout);
    for (int t = 1; t < threads; t++) {
        pthread_t th;
        pthread_create(&th, NULL, loop, (void *)(long)make_listener(1));
    }
    loop((void *)(long)first);
    return 0;
}
