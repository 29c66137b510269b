/*
 * An experiment, not a peer: a second io_uring echo (see uring-echo.c beside it), with the receive side the kernel
 * offers for exactly this: one multishot receive per connection that picks its buffer from a ring of 4,096 provided
 * 2 KiB buffers, and a send straight from that buffer, which goes back to the ring when the send completes. One
 * io_uring_enter per round submits and waits. Not built by bench/compare or CI; for ping-pong and pipelined rows of
 * 32 B messages only (a short send is not resent, so it is no server for streams):
 *
 *   apt-get install liburing-dev
 *   gcc -O2 -o /tmp/uring-multishot bench/peers/C/experiments/uring-multishot-echo.c -luring
 *   /tmp/uring-multishot 0            # the port; prints "Listening on 127.0.0.1:PORT" on standard error
 *
 * liburing 2.3 (Debian 12) has no io_uring_setup_buf_ring, so the buffer ring is registered by hand.
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <errno.h>
#define NBUF 4096
#define BUFSZ 2048
#define BGID 1
enum { ACCEPT = 1, RECV = 2, SEND = 3 };
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static inline uint64_t ud(int op, int fd, int bid) { return ((uint64_t)op << 56) | ((uint64_t)(uint32_t)bid << 24) | (uint32_t)fd; }
static void add_recv(int fd) {
  struct io_uring_sqe *s = io_uring_get_sqe(&ring);
  io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT; s->buf_group = BGID;
  io_uring_sqe_set_data64(s, ud(RECV, fd, 0));
}
static void ret_buf(int bid) {
  io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid, io_uring_buf_ring_mask(NBUF), 0);
  io_uring_buf_ring_advance(br, 1);
}
int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  signal(SIGPIPE, SIG_IGN);
  struct io_uring_params p = {0};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;
  if (io_uring_queue_init_params(4096, &ring, &p) < 0) { perror("init"); return 1; }
  br = aligned_alloc(4096, NBUF * sizeof(struct io_uring_buf)); memset(br, 0, NBUF * sizeof(struct io_uring_buf));
  struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID };
  int ret = io_uring_register_buf_ring(&ring, &reg, 0); if (ret) { fprintf(stderr, "bufring %d\n", ret); return 1; }
  io_uring_buf_ring_init(br);
  bufs = aligned_alloc(4096, (size_t)NBUF * BUFSZ);
  for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
  io_uring_buf_ring_advance(br, NBUF);
  int l = socket(AF_INET, SOCK_STREAM, 0); int one = 1; setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, 4);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)}; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (void*)&a, sizeof a); listen(l, 512); socklen_t al = sizeof a; getsockname(l, (void*)&a, &al);
  fprintf(stderr, "Listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
  struct io_uring_sqe *s = io_uring_get_sqe(&ring); io_uring_prep_multishot_accept(s, l, NULL, NULL, 0); io_uring_sqe_set_data64(s, ud(ACCEPT, l, 0));
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe *c; unsigned head, n = 0;
    io_uring_for_each_cqe(&ring, head, c) {
      n++;
      uint64_t d = c->user_data; int op = d >> 56, fd = (int)(uint32_t)d, bid = (d >> 24) & 0xFFFFFFFF;
      if (op == ACCEPT) {
        if (c->res >= 0) { setsockopt(c->res, IPPROTO_TCP, TCP_NODELAY, &one, 4); add_recv(c->res); }
        if (!(c->flags & IORING_CQE_F_MORE)) { s = io_uring_get_sqe(&ring); io_uring_prep_multishot_accept(s, l, NULL, NULL, 0); io_uring_sqe_set_data64(s, ud(ACCEPT, l, 0)); }
      } else if (op == RECV) {
        if (c->res <= 0) { if (c->res == -ENOBUFS) { add_recv(fd); continue; } close(fd); continue; }
        int b = c->flags >> IORING_CQE_BUFFER_SHIFT;
        s = io_uring_get_sqe(&ring); io_uring_prep_send(s, fd, bufs + (size_t)b * BUFSZ, c->res, 0); io_uring_sqe_set_data64(s, ud(SEND, fd, b));
        if (!(c->flags & IORING_CQE_F_MORE)) add_recv(fd);
      } else if (op == SEND) {
        ret_buf(bid); // experiment: a short send is not resent
      }
    }
    io_uring_cq_advance(&ring, n);
  }
}
