/*
 * The near-limit reference for bench/compare (issue 15): a single-threaded epoll server in plain C, serving the
 * three handlers every peer serves, with the same wire behaviour:
 *
 *   echo      sends every byte back until the client ends its side, then closes;
 *   eof-echo  reads to "<EOF>", reports, sends the message (up to and including "<EOF>") back, reports, closes;
 *   print     reads until the client ends its side, reports what it read, closes.
 *
 * The reports are the seed's lines on standard output, one write(2) per event as the .NET peers make them:
 * "Read N bytes from socket.\n Data : TEXT\n" and "Sent N bytes to client.\n".
 *
 *   peer-c [--port N] [--handler echo|eof-echo|print]
 *
 * Listens on 127.0.0.1 (port 11000 unless --port says otherwise; 0 picks a free one) with a backlog of 512, as
 * `sockeye serve` and Kestrel do, and prints "Listening on 127.0.0.1:PORT" on standard error. SIGTERM and SIGINT
 * end it with status 0.
 *
 * How it works, as a competent C server would: nonblocking sockets, level-triggered epoll, up to 512 events a
 * wait; accept4 until the queue is empty; TCP_NODELAY on every connection; one 64 KiB read buffer shared by all
 * connections (one thread), so an idle connection holds no buffer at all. An echo is sent straight from that
 * buffer; what the kernel does not take is kept for the connection, which then stops reading (EPOLLOUT instead of
 * EPOLLIN) until it is sent: backpressure, not unbounded buffering. eof-echo and print keep what they read in a
 * buffer of the connection's own that grows by doubling. A reset, or any other error, closes that connection only.
 * When descriptors run out, a spare one is given up to accept and close the connection waiting, so the listener
 * does not spin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 512
#define MAX_EVENTS 512
#define READ_SIZE (64 * 1024)
#define DELIMITER "<EOF>"
#define DELIMITER_LENGTH 5

enum handler { ECHO, EOF_ECHO, PRINT };

/* A connection, indexed by its descriptor. `data` holds, for echo, what the kernel has not taken yet; for eof-echo
 * and print, what was read so far (and, once eof-echo has its message, the reply being sent). */
struct connection {
    char *data;
    size_t length;   /* bytes in data */
    size_t sent;     /* bytes of data already sent (while sending) */
    size_t capacity;
    int sending;     /* 1 while a reply or an echo waits for EPOLLOUT */
};

static enum handler handler = PRINT;
static struct connection *connections;
static size_t connection_slots;
static int epoll_fd;
static int spare_fd = -1;
static volatile sig_atomic_t stopping;
static char read_buffer[READ_SIZE];

static void fail(const char *message, int status)
{
    fprintf(stderr, "error: %s\n", message);
    exit(status);
}

static void on_signal(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

static void close_connection(int fd)
{
    struct connection *c = &connections[fd];
    free(c->data);
    memset(c, 0, sizeof *c);
    close(fd); /* closing removes it from the epoll set */
}

static int watch(int fd, int op, uint32_t events)
{
    struct epoll_event event = { .events = events, .data.fd = fd };
    return epoll_ctl(epoll_fd, op, fd, &event);
}

static int append(struct connection *c, const char *bytes, size_t count)
{
    if (c->length + count > c->capacity) {
        size_t capacity = c->capacity ? c->capacity : 256;
        while (capacity < c->length + count)
            capacity *= 2;
        char *grown = realloc(c->data, capacity);
        if (!grown)
            return -1;
        c->data = grown;
        c->capacity = capacity;
    }
    memcpy(c->data + c->length, bytes, count);
    c->length += count;
    return 0;
}

/* One write(2) per report, as the .NET peers' Console.Out.Write; standard output is /dev/null under bench/compare. */
static void report_received(const char *text, size_t length)
{
    char header[64];
    int header_length = snprintf(header, sizeof header, "Read %zu bytes from socket.\n Data : ", length);
    size_t total = (size_t)header_length + length + 1;
    char stack[4096];
    char *line = total <= sizeof stack ? stack : malloc(total);
    if (!line)
        return;
    memcpy(line, header, (size_t)header_length);
    memcpy(line + header_length, text, length);
    line[total - 1] = '\n';
    ssize_t ignored = write(STDOUT_FILENO, line, total);
    (void)ignored;
    if (line != stack)
        free(line);
}

static void report_sent(size_t length)
{
    char line[64];
    int line_length = snprintf(line, sizeof line, "Sent %zu bytes to client.\n", length);
    ssize_t ignored = write(STDOUT_FILENO, line, (size_t)line_length);
    (void)ignored;
}

/* Sends what is left of c->data. Returns 1 when all of it is sent, 0 when the kernel took only part (the
 * connection then waits for EPOLLOUT), -1 on an error. */
static int send_pending(int fd, struct connection *c)
{
    while (c->sent < c->length) {
        ssize_t n = send(fd, c->data + c->sent, c->length - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->sending) {
                c->sending = 1;
                if (watch(fd, EPOLL_CTL_MOD, EPOLLOUT) < 0)
                    return -1;
            }
            return 0;
        } else {
            return -1;
        }
    }
    return 1;
}

/* Echo: every read goes straight back; a part the kernel does not take stops reading until it is sent. */
static void on_echo_readable(int fd, struct connection *c)
{
    ssize_t n = recv(fd, read_buffer, sizeof read_buffer, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        close_connection(fd); /* the client ended its side, or reset */
        return;
    }
    ssize_t sent = send(fd, read_buffer, (size_t)n, MSG_NOSIGNAL);
    if (sent == n)
        return;
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close_connection(fd);
        return;
    }
    size_t taken = sent > 0 ? (size_t)sent : 0;
    c->length = c->sent = 0;
    if (append(c, read_buffer + taken, (size_t)n - taken) < 0 || send_pending(fd, c) < 0)
        close_connection(fd);
}

/* Finds the delimiter in what arrived, looking back only as far as a delimiter split across reads can reach. */
static const char *find_delimiter(const struct connection *c, size_t before)
{
    size_t from = before >= DELIMITER_LENGTH - 1 ? before - (DELIMITER_LENGTH - 1) : 0;
    return memmem(c->data + from, c->length - from, DELIMITER, DELIMITER_LENGTH);
}

static void finish_reply(int fd, struct connection *c)
{
    report_sent(c->length);
    close_connection(fd);
}

static void on_buffering_readable(int fd, struct connection *c)
{
    ssize_t n = recv(fd, read_buffer, sizeof read_buffer, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            close_connection(fd);
        return;
    }
    if (n == 0) {
        /* The client ended its side: print reports what it sent; eof-echo never saw its delimiter. */
        if (handler == PRINT && c->length > 0)
            report_received(c->data, c->length);
        close_connection(fd);
        return;
    }
    size_t before = c->length;
    if (append(c, read_buffer, (size_t)n) < 0) {
        close_connection(fd);
        return;
    }
    if (handler != EOF_ECHO)
        return;
    const char *delimiter = find_delimiter(c, before);
    if (!delimiter)
        return;
    c->length = (size_t)(delimiter - c->data) + DELIMITER_LENGTH; /* the message, up to and including "<EOF>" */
    c->sent = 0;
    report_received(c->data, c->length);
    int done = send_pending(fd, c);
    if (done == 1)
        finish_reply(fd, c);
    else if (done < 0)
        close_connection(fd);
}

static void on_writable(int fd, struct connection *c)
{
    int done = send_pending(fd, c);
    if (done < 0) {
        close_connection(fd);
    } else if (done == 1 && handler == EOF_ECHO) {
        finish_reply(fd, c);
    } else if (done == 1) {
        /* The echo's backlog is sent: read again. */
        c->length = c->sent = 0;
        c->sending = 0;
        if (watch(fd, EPOLL_CTL_MOD, EPOLLIN) < 0)
            close_connection(fd);
    }
}

static void accept_all(int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
                /* Out of descriptors: free the spare to take the waiting connection off the queue and close it. */
                close(spare_fd);
                fd = accept(listener, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            return; /* EAGAIN: the queue is empty */
        }
        if ((size_t)fd >= connection_slots) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (watch(fd, EPOLL_CTL_ADD, EPOLLIN) < 0)
            close(fd);
    }
}

static void parse(int argc, char **argv, int *port)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(argv[i], "--port") == 0 && value) {
            long parsed = strtol(value, &end, 10);
            if (*value == '\0' || *end != '\0' || parsed < 0 || parsed > 65535)
                goto usage;
            *port = (int)parsed;
            i++;
        } else if (strcmp(argv[i], "--handler") == 0 && value) {
            if (strcmp(value, "echo") == 0)
                handler = ECHO;
            else if (strcmp(value, "eof-echo") == 0)
                handler = EOF_ECHO;
            else if (strcmp(value, "print") == 0)
                handler = PRINT;
            else
                goto usage;
            i++;
        } else {
            goto usage;
        }
    }
    return;
usage:
    fprintf(stderr, "error: unexpected argument '%s' (usage: peer-c [--port N] [--handler echo|eof-echo|print])\n", argv[i]);
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 11000;
    parse(argc, argv, &port);

    /* As many connections as the descriptor limit allows (bench/compare raises it for 15,000 connections). */
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    getrlimit(RLIMIT_NOFILE, &limit);
    connection_slots = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576 ? 1048576 : (size_t)limit.rlim_cur;
    /* calloc'd pages are touched only as descriptors reach them. */
    connections = calloc(connection_slots, sizeof *connections);
    if (!connections)
        fail("out of memory", 1);

    struct sigaction action = { .sa_handler = on_signal };
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, BACKLOG) < 0) {
        fprintf(stderr, "error: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    socklen_t address_length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &address_length);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0 || watch(listener, EPOLL_CTL_ADD, EPOLLIN) < 0)
        fail("cannot create the epoll instance", 1);
    fprintf(stderr, "Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
    fflush(stderr);

    struct epoll_event events[MAX_EVENTS];
    while (!stopping) {
        int count = epoll_wait(epoll_fd, events, MAX_EVENTS, -1);
        if (count < 0) {
            if (errno == EINTR)
                continue;
            fail("epoll_wait failed", 1);
        }
        for (int i = 0; i < count; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                accept_all(listener);
                continue;
            }
            struct connection *c = &connections[fd];
            if (c->sending && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                on_writable(fd, c);
            else if (handler == ECHO)
                on_echo_readable(fd, c);
            else
                on_buffering_readable(fd, c);
        }
    }
    return 0;
}
