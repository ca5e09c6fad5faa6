/*
 * Threads: many async and blocking calls from several pthreads on one client, each
 * callback exactly once; and avatarium_client_free while async calls are still in flight (it
 * waits for them: every callback has run when it returns, none runs afterwards).
 *
 * usage: test_threads <repo root>
 */
#include "support.h"

#define THREADS 4
#define CALLS_PER_THREAD 12
#define IN_FLIGHT 12

static struct test_server server;
static const char *files_dir;
static unsigned char *png;
static size_t png_len;

struct call {
  atomic_int callbacks;
  atomic_long error_code;
  atomic_int was_null;
};

static atomic_int finished;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;

static void on_done(void *user_data, const char *response) {
  struct call *call = (struct call *)user_data;
  cJSON *r = response ? cJSON_Parse(response) : NULL;
  atomic_store(&call->error_code, r ? json_long(r, "errorCode") : -1);
  atomic_store(&call->was_null, response == NULL);
  cJSON_Delete(r);
  atomic_fetch_add(&call->callbacks, 1);
  pthread_mutex_lock(&done_lock);
  atomic_fetch_add(&finished, 1);
  pthread_cond_broadcast(&done_cond);
  pthread_mutex_unlock(&done_lock);
}

struct worker {
  avatarium_client *client;
  int index;
  struct call calls[CALLS_PER_THREAD];
  int blocking_ok;
};

static void *worker_main(void *arg) {
  struct worker *w = (struct worker *)arg;
  char uid[64], params[512];
  for (int i = 0; i < CALLS_PER_THREAD; i++) {
    snprintf(uid, sizeof uid, "thread-%d-%d", w->index, i);
    avatarium_status st;
    switch (i % 3) {
    case 0:
      snprintf(params, sizeof params, "{\"UID\": \"%s\", \"url\": \"http://127.0.0.1:%d/photo.jpg\"}", uid,
               server.port);
      st = avatarium_client_call_async(w->client, "accounts.importProfilePhoto", params, on_done, &w->calls[i]);
      break;
    case 1:
      st = avatarium_client_upload_photo_async(w->client, uid, NULL, png, png_len, true, on_done, &w->calls[i]);
      break;
    default:
      st = avatarium_client_call_async(w->client, "accounts.getPolicies", "{}", on_done, &w->calls[i]);
      break;
    }
    CHECK(st == AVATARIUM_STATUS_OK, "start %s: %s", uid, avatarium_last_error_message());
    /* Blocking calls interleaved from the same threads. */
    char *resp = NULL;
    if (avatarium_client_call(w->client, "accounts.initRegistration", NULL, &resp) == AVATARIUM_STATUS_OK) {
      cJSON *r = take_json(resp);
      w->blocking_ok += json_long(r, "errorCode") == 0;
      cJSON_Delete(r);
    }
  }
  return NULL;
}

static avatarium_client *open_client(const char *dir, const char *name, const char *extra) {
  char data[1100];
  snprintf(data, sizeof data, "%s/%s", dir, name);
  char *config = test_config(data, &server, extra);
  avatarium_client *c = NULL;
  if (avatarium_client_new(config, &c) != AVATARIUM_STATUS_OK) {
    fprintf(stderr, "avatarium_client_new: %s\n", avatarium_last_error_message());
    exit(2);
  }
  free(config);
  return c;
}

static void test_many_threads(const char *dir) {
  /* Valgrind runs the decoders ~50x slower on a loaded machine: the deadline is not under
   * test here (core/tests covers it), so it must not fail a correct call. */
  avatarium_client *c = open_client(dir, "many", "\"max_queued_imports\": 1000, \"decode_timeout_ms\": 300000");
  static struct worker workers[THREADS];
  pthread_t threads[THREADS];
  atomic_store(&finished, 0);
  for (int t = 0; t < THREADS; t++) {
    memset(&workers[t], 0, sizeof workers[t]);
    workers[t].client = c;
    workers[t].index = t;
    pthread_create(&threads[t], NULL, worker_main, &workers[t]);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
  }
  pthread_mutex_lock(&done_lock);
  while (atomic_load(&finished) < THREADS * CALLS_PER_THREAD) {
    pthread_cond_wait(&done_cond, &done_lock);
  }
  pthread_mutex_unlock(&done_lock);
  sleep_ms(100); /* a second callback, if any, would show up here */
  int once = 0, ok = 0, blocking = 0;
  for (int t = 0; t < THREADS; t++) {
    blocking += workers[t].blocking_ok;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
      once += atomic_load(&workers[t].calls[i].callbacks) == 1;
      ok += atomic_load(&workers[t].calls[i].error_code) == 0;
      if (atomic_load(&workers[t].calls[i].error_code) != 0) {
        fprintf(stderr, "thread %d call %d: errorCode %ld\n", t, i, atomic_load(&workers[t].calls[i].error_code));
      }
    }
  }
  CHECK(once == THREADS * CALLS_PER_THREAD, "every callback exactly once (%d)", once);
  CHECK(ok == THREADS * CALLS_PER_THREAD, "every async call succeeded (%d)", ok);
  CHECK(blocking == THREADS * CALLS_PER_THREAD, "every blocking call succeeded (%d)", blocking);

  /* Every upload published: the account shows it. */
  cJSON *r = call_json(c, "accounts.getAccountInfo", "{\"UID\": \"thread-0-1\"}");
  CHECK(json_str(r, "profile.photoURL") != NULL, "published: %s", json_show(r));
  cJSON_Delete(r);
  avatarium_client_free(c);
}

static void test_free_in_flight(const char *dir) {
  /* Imports of /hang stay in flight until fetch_timeout_ms; getPolicies calls are quick. */
  avatarium_client *c = open_client(dir, "inflight", "\"fetch_timeout_ms\": 1500, \"max_queued_imports\": 1000");
  static struct call calls[IN_FLIGHT];
  char params[256];
  snprintf(params, sizeof params, "{\"UID\": \"f\", \"url\": \"http://127.0.0.1:%d/hang\"}", server.port);
  atomic_store(&finished, 0);
  int hits = atomic_load(&server.hang_hits);
  for (int i = 0; i < IN_FLIGHT; i++) {
    memset(&calls[i], 0, sizeof calls[i]);
    const char *method = i % 2 ? "accounts.getPolicies" : "accounts.importProfilePhoto";
    CHECK(avatarium_client_call_async(c, method, i % 2 ? NULL : params, on_done, &calls[i]) == AVATARIUM_STATUS_OK, "start %d",
          i);
  }
  /* Wait until the server holds at least one hanging fetch, so the free really overlaps. */
  for (int i = 0; i < 1000 && atomic_load(&server.hang_hits) == hits; i++) {
    sleep_ms(5);
  }
  CHECK(atomic_load(&finished) < IN_FLIGHT, "calls still in flight when freeing (%d done)", atomic_load(&finished));
  avatarium_client_free(c);
  CHECK(atomic_load(&finished) == IN_FLIGHT, "free waited for every callback (%d)", atomic_load(&finished));
  int once = 0, timeouts = 0;
  for (int i = 0; i < IN_FLIGHT; i++) {
    once += atomic_load(&calls[i].callbacks) == 1 && !atomic_load(&calls[i].was_null);
    timeouts += i % 2 == 0 && atomic_load(&calls[i].error_code) == 504002;
  }
  CHECK(once == IN_FLIGHT, "each exactly once, with an envelope (%d)", once);
  CHECK(timeouts == IN_FLIGHT / 2, "the hanging imports timed out (%d)", timeouts);
  sleep_ms(100);
  CHECK(atomic_load(&finished) == IN_FLIGHT, "no callback after free");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <repo root>\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  char files[1024], path[1100];
  snprintf(files, sizeof files, "%s/conformance/files", argv[1]);
  files_dir = files;
  snprintf(path, sizeof path, "%s/photo.png", files_dir);
  png = read_file(path, &png_len);
  server_start(&server, files_dir);
  char *dir = make_temp_dir();

  test_many_threads(dir);
  test_free_in_flight(dir);

  server_stop(&server);
  remove_tree(dir);
  free(dir);
  free(png);
  return report();
}
