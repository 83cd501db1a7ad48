// crr: TCP connection setup rate, one request and response per connection (netperf's
// TCP_CRR in miniature). The benchmark runs the server in one namespace and the client in
// another, so that every connection crosses the host namespace under test.
//
//   crr server PORT                 accepts forever: reads 1 byte, writes 1 byte, closes
//   crr client ADDR PORT SECONDS    connects, writes 1 byte, reads 1 byte, closes with a
//                                   reset; prints the connections completed per second
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

static int serve(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0) {
    perror("crr server");
    return 1;
  }
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    char b;
    if (read(c, &b, 1) == 1) (void)!write(c, &b, 1);
    close(c);
  }
}

static int client(const char* host, int port, double seconds) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "crr client: bad address %s\n", host);
    return 2;
  }
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  long done = 0, failed = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char b = 'x';
    int ok = fd >= 0 && connect(fd, (struct sockaddr*)&addr, sizeof addr) == 0 &&
             write(fd, &b, 1) == 1 && read(fd, &b, 1) == 1;
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
  if (argc == 3 && strcmp(argv[1], "server") == 0) return serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "client") == 0) {
    return client(argv[2], atoi(argv[3]), atof(argv[4]));
  }
  fprintf(stderr, "usage: crr server PORT | crr client ADDR PORT SECONDS\n");
  return 2;
}
