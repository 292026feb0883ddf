/* rerank: open a chord model file, apply a strategy, print a user's top-10.
 *   rerank MODEL.chord STRATEGY.bin ITEM [ITEM ...] [--user U] [--k K] [--act-bits 0|8]
 * STRATEGY.bin may be "-" (keep the 8-bit packing the model opens with). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"

static void* read_all(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  unsigned char* buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      unsigned char* grown = realloc(buf, cap *= 2);
      if (!grown) free(buf);
      buf = grown;
    }
  }
  fclose(f);
  *n = len;
  return buf;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL STRATEGY|- ITEM [ITEM ...] [--user U] [--k K] [--act-bits 0|8]\n", argv[0]);
    return 2;
  }
  int64_t hist[4096], user = -1, ids[100];
  float scores[100];
  size_t n = 0, k = 10;
  chord_options opt = {0, 0};
  for (int i = 3; i < argc; ++i) {
    if (!strcmp(argv[i], "--user") && i + 1 < argc)
      user = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--k") && i + 1 < argc)
      k = (size_t)atoll(argv[++i]);
    else if (!strcmp(argv[i], "--act-bits") && i + 1 < argc)
      opt.act_bits = atoi(argv[++i]);
    else if (n < 4096)
      hist[n++] = atoll(argv[i]);
  }
  if (k > 100) k = 100;
  chord_model* m = NULL;
  chord_status s = chord_open(argv[1], &opt, &m);
  if (s == CHORD_OK && strcmp(argv[2], "-") != 0) {
    size_t len = 0;
    void* bytes = read_all(argv[2], &len);
    if (!bytes) {
      fprintf(stderr, "cannot read %s\n", argv[2]);
      chord_close(m);
      return 1;
    }
    s = chord_apply_strategy(m, bytes, len);
    free(bytes);
  }
  if (s == CHORD_OK) s = chord_rerank(m, hist, n, user, NULL, 0, k, ids, scores);
  if (s != CHORD_OK) {
    fprintf(stderr, "%s: %s\n", chord_status_name(s), chord_last_error());
    chord_close(m);
    return 1;
  }
  for (size_t i = 0; i < k; ++i) printf("%lld %.6g\n", (long long)ids[i], scores[i]);
  chord_close(m);
  return 0;
}
