/*
 * The seed's code sample (accounts.importProfilePhoto with publish: false and a callback
 * that shows the result), in C; then the photo is published.
 *
 *   function showPhotoInfo(response) { ... }
 *   function doImportPhoto() {
 *     var photoParams = { URL: 'http://<MY_SERVER>.com/path/to/photo.jpg',
 *                         callback: showPhotoInfo, publish: false };
 *     gigya.accounts.importProfilePhoto(photoParams);
 *   }
 *
 * usage: import_then_publish <photo URL on 127.0.0.1> [data dir]
 *   e.g. (cd examples/photos && python3 -m http.server --bind 127.0.0.1 8000) &
 *        ./import_then_publish http://127.0.0.1:8000/astronaut.png
 *
 * The photo server is "MY_SERVER" of the sample. Loopback addresses are refused by default;
 * the example allows exactly 127.0.0.1 and the URL's port. It builds as C and as C++.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avatarium.h"

/* What the callback hands back to main. */
struct import_result {
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  int done;
  int ok;
};

/* The sample's showPhotoInfo(response). It runs on a library thread; the response is
 * valid only during the call. */
static void show_photo_info(void *user_data, const char *response_json) {
  struct import_result *result = (struct import_result *)user_data;
  int ok = response_json != NULL && strstr(response_json, "\"errorCode\":0") != NULL;
  if (ok) {
    printf("Photo imported: %s\n", response_json);
  } else {
    printf("Error: %s\n", response_json ? response_json : "(no response)");
  }
  fflush(stdout);
  pthread_mutex_lock(&result->lock);
  result->ok = ok;
  result->done = 1;
  pthread_cond_signal(&result->done_cond);
  pthread_mutex_unlock(&result->lock);
}

static int fail(const char *what, avatarium_status status) {
  fprintf(stderr, "%s failed: status %d: %s\n", what, (int)status, avatarium_last_error_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || strncmp(argv[1], "http://127.0.0.1:", 17) != 0 || strlen(argv[1]) > 400) {
    fprintf(stderr, "usage: %s http://127.0.0.1:PORT/path/to/photo.png [data dir]\n", argv[0]);
    return 2;
  }
  const char *photo_url = argv[1];
  int port = atoi(photo_url + 17);
  const char *data_dir = argc > 2 ? argv[2] : "./avatarium-data";
  printf("avatarium %s\n", avatarium_version());

  char config[1024];
  snprintf(config, sizeof config,
           "{\"data_dir\": \"%s\", \"allow_addresses\": [\"127.0.0.1\"], \"fetch_allowed_ports\": [%d]}", data_dir,
           port);
  avatarium_client *client = NULL;
  avatarium_status status = avatarium_client_new(config, &client);
  if (status != AVATARIUM_STATUS_OK) {
    return fail("avatarium_client_new", status);
  }

  /* doImportPhoto(): URL, publish: false, callback: showPhotoInfo. */
  char photo_params[512];
  snprintf(photo_params, sizeof photo_params, "{\"UID\": \"example-user\", \"URL\": \"%s\", \"publish\": false}",
           photo_url);
  struct import_result result;
  memset(&result, 0, sizeof result);
  pthread_mutex_init(&result.lock, NULL);
  pthread_cond_init(&result.done_cond, NULL);
  status = avatarium_client_call_async(client, "accounts.importProfilePhoto", photo_params, show_photo_info, &result);
  if (status != AVATARIUM_STATUS_OK) {
    avatarium_client_free(client);
    return fail("avatarium_client_call_async", status);
  }
  pthread_mutex_lock(&result.lock);
  while (!result.done) {
    pthread_cond_wait(&result.done_cond, &result.lock);
  }
  pthread_mutex_unlock(&result.lock);
  pthread_mutex_destroy(&result.lock);
  pthread_cond_destroy(&result.done_cond);

  int exit_code = result.ok ? 0 : 1;
  if (result.ok) {
    /* Later: publish it (blocking this time), then read the profile. */
    char *published = NULL;
    status = avatarium_client_publish_photo(client, "example-user", NULL, &published);
    if (status != AVATARIUM_STATUS_OK) {
      avatarium_client_free(client);
      return fail("avatarium_client_publish_photo", status);
    }
    printf("Published: %s\n", published);
    avatarium_string_free(published);

    char *account = NULL;
    status = avatarium_client_call(client, "accounts.getAccountInfo", "{\"UID\": \"example-user\"}", &account);
    if (status != AVATARIUM_STATUS_OK) {
      avatarium_client_free(client);
      return fail("avatarium_client_call", status);
    }
    printf("Account: %s\n", account);
    if (strstr(account, "\"thumbnailURL\"") == NULL) {
      fprintf(stderr, "no thumbnailURL after publishing\n");
      exit_code = 1;
    }
    avatarium_string_free(account);
  }
  avatarium_client_free(client);
  return exit_code;
}
