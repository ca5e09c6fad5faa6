/*
 * Test support for the C tests (header-only; included first by each test program):
 * a check counter, file and temporary-folder helpers, and a loopback HTTP server written
 * in C that serves the files of one folder at /<name>, answers 404 to anything else, and
 * accepts /hang without ever answering (for timeouts and calls in flight).
 */
#ifndef AVATARIUM_TEST_SUPPORT_H
#define AVATARIUM_TEST_SUPPORT_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "avatarium.h"

/* ---- checks ---- */

static atomic_int tests_passed;
static atomic_int tests_failed;

#define CHECK(cond, ...) check_((cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

static inline void check_(int ok, const char *expr, const char *file, int line, const char *fmt, ...) {
  if (ok) {
    atomic_fetch_add(&tests_passed, 1);
    return;
  }
  atomic_fetch_add(&tests_failed, 1);
  fprintf(stderr, "FAIL %s:%d: %s: ", file, line, expr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* The summary line the test script looks for; the exit status says the same. */
static inline int report(void) {
  int p = atomic_load(&tests_passed), f = atomic_load(&tests_failed);
  printf("%d passed, %d failed\n", p, f);
  return f == 0 && p > 0 ? 0 : 1;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- files ---- */

static inline unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  buf[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static inline char *make_temp_dir(void) {
  char *dir = strdup("/tmp/pp-c-test-XXXXXX");
  if (!dir || !mkdtemp(dir)) {
    perror("mkdtemp");
    exit(2);
  }
  return dir;
}

static inline int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static inline void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* ---- JSON ---- */

/* The value at a dotted path ("profile.photoURL"), or NULL. */
static inline const cJSON *json_at(const cJSON *v, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *key = strtok_r(buf, ".", &save); key && v; key = strtok_r(NULL, ".", &save)) {
    v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key) : NULL;
  }
  return v;
}

static inline long json_long(const cJSON *v, const char *path) {
  const cJSON *x = json_at(v, path);
  return cJSON_IsNumber(x) ? (long)x->valuedouble : -1;
}

static inline const char *json_str(const cJSON *v, const char *path) {
  const cJSON *x = json_at(v, path);
  return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* The value as one line of JSON, in a per-thread buffer (for messages; nothing to free). */
static inline const char *json_show(const cJSON *v) {
  static _Thread_local char buf[8192];
  if (!v || !cJSON_PrintPreallocated((cJSON *)v, buf, (int)sizeof buf, 0)) {
    snprintf(buf, sizeof buf, "(unprintable)");
  }
  return buf;
}

static inline int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- a loopback HTTP server ---- */

#define MAX_CONNECTIONS 4096

struct test_server {
  int listen_fd;
  int port;
  int stop_pipe[2];
  char dir[1024];
  pthread_t acceptor;
  pthread_mutex_t lock;
  pthread_t workers[MAX_CONNECTIONS];
  int n_workers;
  atomic_int hang_hits;
  atomic_int requests;
};

struct connection {
  struct test_server *server;
  int fd;
};

static inline void send_all(int fd, const void *data, size_t len) {
  const char *p = (const char *)data;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

/* Wait until fd is readable or the server stops; 1 when fd is readable. */
static inline int wait_readable(struct test_server *s, int fd) {
  struct pollfd fds[2] = {{fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
  for (;;) {
    int r = poll(fds, 2, -1);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0 || (fds[1].revents & POLLIN)) {
      return 0;
    }
    if (fds[0].revents) {
      return 1;
    }
  }
}

static inline int safe_name(const char *name) {
  if (!*name || name[0] == '.') {
    return 0;
  }
  for (const char *c = name; *c; c++) {
    if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') || *c == '.' ||
          *c == '_' || *c == '-')) {
      return 0;
    }
  }
  return 1;
}

static inline void *serve_connection(void *arg) {
  struct connection *conn = (struct connection *)arg;
  struct test_server *s = conn->server;
  int fd = conn->fd;
  free(conn);
  char req[8192];
  req[0] = 0;
  size_t got = 0;
  while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
    if (!wait_readable(s, fd)) {
      close(fd);
      return NULL;
    }
    ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
    if (n <= 0) {
      close(fd);
      return NULL;
    }
    got += (size_t)n;
    req[got] = 0;
  }
  atomic_fetch_add(&s->requests, 1);
  char path[1024] = "";
  sscanf(req, "%*s %1023s", path);
  if (strcmp(path, "/hang") == 0) {
    atomic_fetch_add(&s->hang_hits, 1);
    /* Accept and never answer: hold the connection until the client gives up. */
    char sink[256];
    while (wait_readable(s, fd) && recv(fd, sink, sizeof sink, 0) > 0) {
    }
    close(fd);
    return NULL;
  }
  char file[2048];
  FILE *f = NULL;
  if (path[0] == '/' && safe_name(path + 1)) {
    snprintf(file, sizeof file, "%s/%s", s->dir, path + 1);
    f = fopen(file, "rb");
  }
  if (!f) {
    const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(fd, nf, strlen(nf));
    close(fd);
    return NULL;
  }
  fclose(f);
  size_t len;
  unsigned char *body = read_file(file, &len);
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   len);
  send_all(fd, head, (size_t)n);
  send_all(fd, body, len);
  free(body);
  close(fd);
  return NULL;
}

static inline void *accept_loop(void *arg) {
  struct test_server *s = (struct test_server *)arg;
  for (;;) {
    if (!wait_readable(s, s->listen_fd)) {
      return NULL;
    }
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) {
      continue;
    }
    struct connection *conn = (struct connection *)malloc(sizeof *conn);
    conn->server = s;
    conn->fd = fd;
    pthread_mutex_lock(&s->lock);
    if (s->n_workers == MAX_CONNECTIONS ||
        pthread_create(&s->workers[s->n_workers], NULL, serve_connection, conn) != 0) {
      close(fd);
      free(conn);
    } else {
      s->n_workers++;
    }
    pthread_mutex_unlock(&s->lock);
  }
}

static inline void server_start(struct test_server *s, const char *dir) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "%s", dir);
  pthread_mutex_init(&s->lock, NULL);
  if (pipe(s->stop_pipe) != 0) {
    perror("pipe");
    exit(2);
  }
  s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t alen = sizeof addr;
  if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s->listen_fd, 512) != 0 ||
      getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
    perror("test server");
    exit(2);
  }
  s->port = ntohs(addr.sin_port);
  pthread_create(&s->acceptor, NULL, accept_loop, s);
}

/* Stops accepting, releases hanging connections and joins every thread. */
static inline void server_stop(struct test_server *s) {
  if (write(s->stop_pipe[1], "x", 1) != 1) {
    perror("stop");
  }
  pthread_join(s->acceptor, NULL);
  for (int i = 0; i < s->n_workers; i++) {
    pthread_join(s->workers[i], NULL);
  }
  close(s->listen_fd);
  close(s->stop_pipe[0]);
  close(s->stop_pipe[1]);
  pthread_mutex_destroy(&s->lock);
}

/* A config document for a test client on a fresh folder, allowed to fetch from the server.
 * The decode deadline is generous: under valgrind, on a busy machine, decoding is slow. */
static inline char *test_config(const char *data_dir, const struct test_server *s, const char *extra) {
  char *json = (char *)malloc(2048);
  snprintf(json, 2048,
           "{\"data_dir\": \"%s\", \"allow_loopback\": true, \"fetch_allowed_ports\": [%d], "
           "\"decode_timeout_ms\": 300000%s%s}",
           data_dir, s ? s->port : 80, extra && *extra ? ", " : "", extra ? extra : "");
  return json;
}

/* A blocking call whose envelope is parsed; exits on a status other than OK. */
static inline cJSON *call_json(const avatarium_client *client, const char *method, const char *params) {
  char *response = NULL;
  avatarium_status st = avatarium_client_call(client, method, params, &response);
  if (st != AVATARIUM_STATUS_OK || !response) {
    fprintf(stderr, "%s: status %d (%s)\n", method, (int)st, avatarium_last_error_message());
    exit(2);
  }
  cJSON *v = cJSON_Parse(response);
  avatarium_string_free(response);
  if (!v) {
    fprintf(stderr, "%s: response is not JSON\n", method);
    exit(2);
  }
  return v;
}

/* Parse and free an envelope from an out-parameter. */
static inline cJSON *take_json(char *response) {
  cJSON *v = response ? cJSON_Parse(response) : NULL;
  avatarium_string_free(response);
  return v ? v : cJSON_CreateNull();
}

#endif
