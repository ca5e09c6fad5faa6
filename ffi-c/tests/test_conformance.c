/*
 * Runs conformance/cases.json through avatarium_client_call, with the same set-up and the same
 * expectations as core/tests/conformance.rs (format in conformance/README.md).
 *
 * usage: test_conformance <repo root>
 */
#include "support.h"

static const char *files_dir;

/* ---- variables ---- */

#define MAX_VARS 32

struct vars {
  int n;
  char *name[MAX_VARS];
  char *value[MAX_VARS];
};

static void var_set(struct vars *v, const char *name, const char *value) {
  for (int i = 0; i < v->n; i++) {
    if (strcmp(v->name[i], name) == 0) {
      free(v->value[i]);
      v->value[i] = strdup(value);
      return;
    }
  }
  if (v->n < MAX_VARS) {
    v->name[v->n] = strdup(name);
    v->value[v->n] = strdup(value);
    v->n++;
  }
}

static void vars_free(struct vars *v) {
  for (int i = 0; i < v->n; i++) {
    free(v->name[i]);
    free(v->value[i]);
  }
  v->n = 0;
}

static char *base64(const unsigned char *data, size_t len) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = (char *)malloc(4 * ((len + 2) / 3) + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned n = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0) |
                 (i + 2 < len ? data[i + 2] : 0);
    out[o++] = abc[n >> 18 & 63];
    out[o++] = abc[n >> 12 & 63];
    out[o++] = i + 1 < len ? abc[n >> 6 & 63] : '=';
    out[o++] = i + 2 < len ? abc[n & 63] : '=';
  }
  out[o] = 0;
  return out;
}

/* Every ${name} replaced by its value (unknown names are left as they are). */
static char *substitute_text(const char *s, const struct vars *v) {
  size_t cap = strlen(s) + 1;
  for (int i = 0; i < v->n; i++) {
    cap += strlen(v->value[i]) * 8;
  }
  char *out = (char *)malloc(cap);
  size_t o = 0;
  while (*s) {
    int replaced = 0;
    if (s[0] == '$' && s[1] == '{') {
      for (int i = 0; i < v->n; i++) {
        size_t n = strlen(v->name[i]);
        if (strncmp(s + 2, v->name[i], n) == 0 && s[2 + n] == '}') {
          size_t m = strlen(v->value[i]);
          memcpy(out + o, v->value[i], m);
          o += m;
          s += n + 3;
          replaced = 1;
          break;
        }
      }
    }
    if (!replaced) {
      out[o++] = *s++;
    }
  }
  out[o] = 0;
  return out;
}

/* A deep copy of `v` with substitutions; "${b64:FILE}" becomes the base64 of files/FILE. */
static cJSON *substitute(const cJSON *v, const struct vars *vars) {
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (strncmp(s, "${b64:", 6) == 0 && n > 7 && s[n - 1] == '}') {
      char path[1200];
      snprintf(path, sizeof path, "%s/%.*s", files_dir, (int)(n - 7), s + 6);
      size_t len;
      unsigned char *data = read_file(path, &len);
      char *b64 = base64(data, len);
      cJSON *out = cJSON_CreateString(b64);
      free(data);
      free(b64);
      return out;
    }
    char *text = substitute_text(s, vars);
    cJSON *out = cJSON_CreateString(text);
    free(text);
    return out;
  }
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
    cJSON *out = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
    for (const cJSON *item = v->child; item; item = item->next) {
      cJSON *copy = substitute(item, vars);
      if (cJSON_IsArray(v)) {
        cJSON_AddItemToArray(out, copy);
      } else {
        cJSON_AddItemToObject(out, item->string, copy);
      }
    }
    return out;
  }
  return cJSON_Duplicate(v, 1);
}

/* ---- checks on one envelope ---- */

static int failures_before;

static void check_envelope(const cJSON *r, const char *ctx) {
  const char *call_id = json_str(r, "callId");
  int hex = call_id && strlen(call_id) == 32;
  for (const char *c = call_id; hex && *c; c++) {
    hex = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F');
  }
  CHECK(hex, "%s: callId in %s", ctx, json_show(r));
  const char *time = json_str(r, "time");
  CHECK(time && strlen(time) == 24 && time[23] == 'Z' && time[19] == '.', "%s: time %s", ctx, time ? time : "-");
  CHECK(json_long(r, "apiVersion") == 2, "%s: apiVersion", ctx);
  if (json_long(r, "errorCode") != 0) {
    CHECK(json_str(r, "errorMessage") && json_str(r, "errorDetails"), "%s: error fields in %s", ctx, json_show(r));
  }
}

static void run_step(avatarium_client *client, const cJSON *step, struct vars *vars, const char *ctx) {
  const char *method = json_str(step, "method");
  cJSON *params = substitute(cJSON_GetObjectItemCaseSensitive(step, "params"), vars);
  char *params_text = cJSON_PrintUnformatted(params);
  char *response = NULL;
  avatarium_status st = avatarium_client_call(client, method, params_text, &response);
  CHECK(st == AVATARIUM_STATUS_OK && response, "%s: status %d", ctx, (int)st);
  cJSON *r = take_json(response);
  free(params_text);
  cJSON_Delete(params);

  check_envelope(r, ctx);
  const cJSON *item;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(step, "expect")) {
    cJSON *want = substitute(item, vars);
    const cJSON *got = json_at(r, item->string);
    CHECK(got && cJSON_Compare(got, want, 1), "%s: %s in %s", ctx, item->string, json_show(r));
    cJSON_Delete(want);
  }
  const char *presence[2] = {"present", "absent"};
  for (int k = 0; k < 2; k++) {
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(step, presence[k])) {
      int exists = json_at(r, item->valuestring) != NULL;
      CHECK(exists == (k == 0), "%s: %s %s in %s", ctx, presence[k], item->valuestring, json_show(r));
    }
  }
  const char *texts[2] = {"endsWith", "contains"};
  for (int k = 0; k < 2; k++) {
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(step, texts[k])) {
      const char *got = json_str(r, item->string);
      const char *want = item->valuestring;
      int ok = got && want && (k == 0 ? ends_with(got, want) : strstr(got, want) != NULL);
      CHECK(ok, "%s: %s=%s should %s %s", ctx, item->string, got ? got : "(missing)", texts[k], want);
    }
  }
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(step, "save")) {
    const cJSON *v = json_at(r, item->valuestring);
    CHECK(v != NULL, "%s: save %s in %s", ctx, item->valuestring, json_show(r));
    if (cJSON_IsString(v)) {
      var_set(vars, item->string, v->valuestring);
    } else if (v) {
      char *text = cJSON_PrintUnformatted(v);
      var_set(vars, item->string, text);
      free(text);
    }
  }
  cJSON_Delete(r);
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
  snprintf(path, sizeof path, "%s/conformance/cases.json", argv[1]);
  size_t len;
  char *text = (char *)read_file(path, &len);
  cJSON *doc = cJSON_Parse(text);
  free(text);
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "cases");
  CHECK(cJSON_GetArraySize(cases) >= 10, "at least 10 cases");

  struct test_server server;
  server_start(&server, files_dir);
  char base_url[64];
  snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", server.port);

  int index = 0, cases_failed = 0, n_cases = 0;
  const cJSON *kase;
  cJSON_ArrayForEach(kase, cases) {
    const char *name = json_str(kase, "name");
    char *dir = make_temp_dir();
    char *config = test_config(dir, &server, "\"max_photo_bytes\": 100000");
    avatarium_client *client = NULL;
    avatarium_status st = avatarium_client_new(config, &client);
    CHECK(st == AVATARIUM_STATUS_OK, "case %s: avatarium_client_new: %s", name, avatarium_last_error_message());
    free(config);
    if (st != AVATARIUM_STATUS_OK) {
      free(dir);
      cases_failed++;
      continue;
    }
    struct vars vars = {0, {0}, {0}};
    char uid[64];
    snprintf(uid, sizeof uid, "conformance-%d", index);
    var_set(&vars, "base_url", base_url);
    var_set(&vars, "uid", uid);
    failures_before = atomic_load(&tests_failed);
    int step_index = 0;
    const cJSON *step;
    cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(kase, "steps")) {
      char ctx[512];
      snprintf(ctx, sizeof ctx, "case \"%s\" step %d", name, step_index++);
      run_step(client, step, &vars, ctx);
    }
    int ok = atomic_load(&tests_failed) == failures_before;
    cases_failed += !ok;
    n_cases++;
    printf("%s  %s (%d steps)\n", ok ? "ok  " : "FAIL", name, step_index);
    vars_free(&vars);
    avatarium_client_free(client);
    remove_tree(dir);
    free(dir);
    index++;
  }
  printf("conformance: %d of %d cases passed\n", n_cases - cases_failed, n_cases);
  cJSON_Delete(doc);
  server_stop(&server);
  return report();
}
