// crr: TCP connection setup rate, one request and response per connection (netperf's
// TCP_CRR in miniature), and bulk throughput. The benchmark runs servers in one namespace
// and clients in another, so that every connection crosses the host namespace under test.
//
//   crr server PORT                 accepts forever: reads 1 byte, writes 1 byte, closes
//   crr sink PORT                   accepts forever: reads until the peer closes
//   crr client ADDR PORT SECONDS [HOST:PORT]
//                                   connects, writes 1 byte, reads 1 byte, closes with a
//                                   reset; prints the connections completed per second
//   crr stream ADDR PORT SECONDS [HOST:PORT]
//                                   writes 64 KiB blocks for SECONDS; prints bytes per second
//
// With HOST:PORT the client first asks ADDR:PORT, an HTTP proxy, to CONNECT there.
//
// The client closes with SO_LINGER 0 so that neither side keeps TIME_WAIT sockets: a run
// of tens of thousands of connections never runs out of ports.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Sends a CONNECT for `target` and reads the proxy's answer; 0 when it opened a tunnel.
static int tunnel(int fd, const char* target) {
  char req[256], head[4096];
  int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
  if (write(fd, req, n) != n) return -1;
  size_t got = 0;
  while (got < sizeof head - 1) {
    ssize_t r = read(fd, head + got, 1);  // byte by byte: nothing past the head is taken
    if (r != 1) return -1;
    head[++got] = 0;
    if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) break;
  }
  return strncmp(head, "HTTP/1.", 7) == 0 && strncmp(head + 8, " 200", 4) == 0 ? 0 : -1;
}

static int listener(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0) {
    perror("crr listen");
    exit(1);
  }
  return fd;
}

static _Noreturn void sink(int port) {
  int fd = listener(port);
  static char buf[1 << 16];
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    while (read(c, buf, sizeof buf) > 0) {
    }
    close(c);
  }
}

static _Noreturn void serve(int port) {
  int fd = listener(port);
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    char b;
    if (read(c, &b, 1) == 1) (void)!write(c, &b, 1);
    close(c);
  }
}

static int resolve(const char* host, int port, struct sockaddr_in* addr) {
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_port = htons(port);
  if (inet_pton(AF_INET, host, &addr->sin_addr) == 1) return 0;
  fprintf(stderr, "crr: bad address %s\n", host);
  return -1;
}

static int stream(const char* host, int port, double seconds, const char* target) {
  struct sockaddr_in addr;
  static char buf[1 << 16];
  if (resolve(host, port, &addr) < 0) return 2;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&addr, sizeof addr) < 0 ||
      (target && tunnel(fd, target) < 0)) {
    perror("crr stream");
    return 1;
  }
  long long sent = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    ssize_t n = write(fd, buf, sizeof buf);
    if (n <= 0) {
      perror("crr stream");
      return 1;
    }
    sent += n;
  }
  close(fd);
  printf("%.1f %lld\n", sent / (now() - start), sent);
  return 0;
}

static int client(const char* host, int port, double seconds, const char* target) {
  struct sockaddr_in addr;
  if (resolve(host, port, &addr) < 0) return 2;
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  long done = 0, failed = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char b = 'x';
    int ok = fd >= 0 && connect(fd, (struct sockaddr*)&addr, sizeof addr) == 0 &&
             (!target || tunnel(fd, target) == 0) && write(fd, &b, 1) == 1 &&
             read(fd, &b, 1) == 1;
    if (fd >= 0) {
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close(fd);
    }
    ok ? done++ : failed++;
    if (failed > 100) {
      perror("crr client");
      return 1;
    }
  }
  printf("%.1f %ld %ld\n", done / (now() - start), done, failed);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) serve(atoi(argv[2]));
  if (argc == 3 && strcmp(argv[1], "sink") == 0) sink(atoi(argv[2]));
  const char* target = argc == 6 ? argv[5] : NULL;
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "client") == 0) {
    return client(argv[2], atoi(argv[3]), atof(argv[4]), target);
  }
  if ((argc == 5 || argc == 6) && strcmp(argv[1], "stream") == 0) {
    return stream(argv[2], atoi(argv[3]), atof(argv[4]), target);
  }
  fprintf(stderr, "usage: crr server|sink PORT | crr client|stream ADDR PORT SECONDS "
                  "[HOST:PORT]\n");
  return 2;
}
