/*
 * An experiment, not a peer: the echo handler of peer.c (bench/peers/C) on io_uring instead of epoll, to measure what
 * batching the system calls would give on a machine where each one is expensive (issue 15's C column, see
 * docs/benchmarks.md, "What we tried"). Not built by bench/compare or CI:
 *
 *   apt-get install liburing-dev
 *   gcc -O2 -o /tmp/uring-echo bench/peers/C/experiments/uring-echo.c -luring
 *   /tmp/uring-echo --port 0            # prints "Listening on 127.0.0.1:PORT" on standard error
 *
 * One thread and one ring. Each connection has a 16 KiB buffer and one operation in flight at a time: a receive
 * into the buffer, then a send of what came, linked to the next receive. The loop submits everything it queued and
 * waits for completions in one io_uring_enter, so a round that serves a hundred connections costs one system call
 * instead of two hundred. Accepts are one multishot operation. Errors and ends close the connection. Echo only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE (16 * 1024)
#define ENTRIES 4096

enum op { ACCEPT = 1, RECV = 2, SEND = 3 };

struct connection {
    int fd;
    char *buffer;
    size_t length; /* bytes of the last receive */
    size_t sent;   /* of those, sent so far */
    int failed;    /* a send failed: the canceled receive linked to it ends the connection */
};

static struct io_uring ring;
static volatile sig_atomic_t stopping;

static void on_signal(int signal) { (void)signal; stopping = 1; }

static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    while (sqe == NULL) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

static uint64_t tag(struct connection *c, enum op op) { return (uint64_t)(uintptr_t)c | (uint64_t)op; }

static void queue_recv(struct connection *c)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv(sqe, c->fd, c->buffer, BUFFER_SIZE, 0);
    io_uring_sqe_set_data64(sqe, tag(c, RECV));
}

/* The rest of the last receive, then (linked, so only after the send has completed whole) the next receive. */
static void queue_send(struct connection *c)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_send(sqe, c->fd, c->buffer + c->sent, c->length - c->sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(c, SEND));
    sqe->flags |= IOSQE_IO_LINK;
    queue_recv(c);
}

static void end(struct connection *c)
{
    close(c->fd);
    free(c->buffer);
    free(c);
}

static void queue_accept(int listener)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_multishot_accept(sqe, listener, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ACCEPT);
}

int main(int argc, char **argv)
{
    int port = 11000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--handler") == 0 && i + 1 < argc) {
            if (strcmp(argv[++i], "echo") != 0) {
                fprintf(stderr, "uring-echo serves --handler echo only\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: uring-echo [--port N] [--handler echo]\n");
            return 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    struct sigaction action = { .sa_handler = on_signal };
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 512) != 0) {
        perror("listen");
        return 1;
    }
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);

    struct io_uring_params params = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    int error = io_uring_queue_init_params(ENTRIES, &ring, &params);
    if (error < 0) {
        fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-error));
        return 1;
    }

    fprintf(stderr, "Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
    queue_accept(listener);

    while (!stopping) {
        error = io_uring_submit_and_wait(&ring, 1);
        if (error < 0 && error != -EINTR) {
            fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-error));
            return 1;
        }

        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t data = io_uring_cqe_get_data64(cqe);
            enum op op = (enum op)(data & 7);
            struct connection *c = (struct connection *)(uintptr_t)(data & ~(uint64_t)7);
            int result = cqe->res;
            if (op == ACCEPT) {
                if (result >= 0) {
                    c = calloc(1, sizeof *c);
                    c->fd = result;
                    c->buffer = malloc(BUFFER_SIZE);
                    queue_recv(c);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    queue_accept(listener);
                }
            } else if (op == RECV) {
                if (result == -ECANCELED && !c->failed) {
                    /* The send linked before it was short: the send's completion re-queued both. */
                } else if (result <= 0) {
                    end(c);
                } else {
                    c->length = (size_t)result;
                    c->sent = 0;
                    queue_send(c);
                }
            } else if (op == SEND) {
                if (result < 0) {
                    /* The linked receive is canceled and completes with -ECANCELED; only then is c let go. */
                    c->failed = 1;
                } else if ((size_t)result < c->length - c->sent) {
                    c->sent += (size_t)result;
                    queue_send(c);
                }
            }
        }
        io_uring_cq_advance(&ring, seen);
    }

    io_uring_queue_exit(&ring);
    close(listener);
    return 0;
}
