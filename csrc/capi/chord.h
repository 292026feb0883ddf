/* chord.h -- the on-device runtime of chord, without Python (C99 / C++).
 *
 * A model file written by `chord export` (a frozen SASRec or Caser backbone and its item
 * table; format in docs/mobile.md) is opened once; strategy bytes from the cloud (the wire
 * format of chord.Strategy.to_bytes) re-quantize its layers on the device; rerank returns a
 * user's top-k items from their recent history. The same packed format and the same kernels
 * as the Python package: a strategy gives the same ids as chord.runtime on the same model.
 *
 * Errors: every function returns a chord_status; on failure chord_last_error() holds a message
 * naming the argument and what was wrong (per thread, valid until this thread's next call).
 * No function aborts or lets an exception escape; a failing call leaves the model as it was.
 * One model may be shared by threads: calls on it are serialized.
 */
#ifndef CHORD_H_
#define CHORD_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define CHORD_API __declspec(dllexport)
#else
#define CHORD_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CHORD_API_VERSION 1

typedef enum chord_status {
  CHORD_OK = 0,
  CHORD_E_ARG = 1,      /* a null pointer, a size or k out of range, bad options */
  CHORD_E_IO = 2,       /* the model file cannot be opened or read */
  CHORD_E_FORMAT = 3,   /* the model file is truncated, corrupt or of an unsupported version */
  CHORD_E_STRATEGY = 4, /* strategy bytes corrupt, truncated, or made for another model */
  CHORD_E_ITEM = 5,     /* an item id or user index out of range */
  CHORD_E_NOMEM = 6,    /* out of memory */
  CHORD_E_INTERNAL = 7  /* a bug: please report it with the message */
} chord_status;

typedef struct chord_model chord_model;

/* Options of chord_open; a zeroed struct (or NULL) gives the defaults. */
typedef struct chord_options {
  int act_bits; /* 0: exact fp32 activations (default); 8: dynamic int8 activations */
  int threads;  /* threads per call, the caller's included; 0: all cores. Results never depend on it. */
} chord_options;

typedef struct chord_info {
  const char* arch;   /* "sasrec" or "caser" (static storage of the model) */
  int64_t num_items;  /* valid item ids are 1..num_items (0 is padding) */
  int64_t dim;        /* embedding width */
  int64_t max_len;    /* SASRec: history items used (the most recent); Caser: 0 (any length) */
  int64_t num_users;  /* Caser with a user table: valid user indexes 0..num_users-1; else 0 */
  int64_t num_layers; /* quantizable layers (the channels a strategy codes) */
} chord_info;

/* Opens a model file; *out receives the model (NULL on failure). Every layer starts 8-bit
 * (as chord.DeviceModel) until the first strategy is applied. */
CHORD_API chord_status chord_open(const char* path, const chord_options* options, chord_model** out);
/* The same from bytes in memory (copied; e.g. an Android asset). */
CHORD_API chord_status chord_open_memory(const void* data, size_t size, const chord_options* options,
                                         chord_model** out);
/* Decodes strategy bytes (chord.Strategy wire format, made for this model) and re-packs every
 * layer they name from the frozen weights. */
CHORD_API chord_status chord_apply_strategy(chord_model* model, const void* bytes, size_t size);
/* Top-k items for one user. history: the user's n >= 1 recent item ids, oldest first.
 * user: the user index for a Caser with a user table, else -1. candidates: NULL (rank every
 * item) or n_candidates item ids to rerank. ids[k], scores[k]: descending score, ties to the
 * smaller id. */
CHORD_API chord_status chord_rerank(chord_model* model, const int64_t* history, size_t n, int64_t user,
                                    const int64_t* candidates, size_t n_candidates, size_t k, int64_t* ids,
                                    float* scores);
CHORD_API chord_status chord_get_info(const chord_model* model, chord_info* info);
/* Frees the model (NULL is fine). */
CHORD_API void chord_close(chord_model* model);
/* This thread's last error message ("" after a successful call). */
CHORD_API const char* chord_last_error(void);
CHORD_API const char* chord_status_name(chord_status status);

#ifdef __cplusplus
}
#endif

#endif /* CHORD_H_ */
