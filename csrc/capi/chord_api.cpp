// The C boundary of chord.h: every entry point catches every exception and turns it into a
// status code plus a thread-local message (capi/model.h holds the logic).
#include "capi/chord.h"

#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "capi/model.h"

struct chord_model {
  std::unique_ptr<chord::capi::Model> m;
};

namespace {

thread_local std::string g_error;

chord_status fail(chord_status s, const std::string& msg) {
  try {
    g_error = msg;
  } catch (...) {
    g_error.clear();
  }
  return s;
}

template <class F>
chord_status guarded(F&& f) {
  try {
    g_error.clear();
    f();
    return CHORD_OK;
  } catch (const chord::capi::FormatError& e) {
    return fail(CHORD_E_FORMAT, e.what());
  } catch (const chord::capi::StrategyError& e) {
    return fail(CHORD_E_STRATEGY, e.what());
  } catch (const chord::capi::ItemError& e) {
    return fail(CHORD_E_ITEM, e.what());
  } catch (const std::bad_alloc&) {
    return fail(CHORD_E_NOMEM, "out of memory");
  } catch (const std::invalid_argument& e) {
    return fail(CHORD_E_ARG, e.what());
  } catch (const chord::st::IoError& e) {
    return fail(CHORD_E_IO, e.what());
  } catch (const std::exception& e) {
    return fail(CHORD_E_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(CHORD_E_INTERNAL, "internal error: unknown exception");
  }
}

chord_status open_file(std::unique_ptr<chord::st::File> (*make)(const void*, size_t, const char*), const void* data,
                       size_t size, const char* path, const chord_options* options, chord_model** out) {
  if (!out) return fail(CHORD_E_ARG, "out: expected a chord_model** to receive the model, got NULL");
  *out = nullptr;
  return guarded([&] {
    std::unique_ptr<chord::st::File> f;
    try {
      f = make(data, size, path);
    } catch (const std::invalid_argument& e) {
      throw chord::capi::FormatError(e.what());
    }
    const chord_options o = options ? *options : chord_options{0, 0};
    auto m = std::make_unique<chord_model>();
    m->m = std::make_unique<chord::capi::Model>(std::move(f), o.act_bits, o.threads);
    *out = m.release();
  });
}

}  // namespace

extern "C" {

chord_status chord_open(const char* path, const chord_options* options, chord_model** out) {
  if (!path) {
    if (out) *out = nullptr;
    return fail(CHORD_E_ARG, "path: expected a file name, got NULL");
  }
  return open_file([](const void*, size_t, const char* p) { return std::make_unique<chord::st::File>(std::string(p)); },
                   nullptr, 0, path, options, out);
}

chord_status chord_open_memory(const void* data, size_t size, const chord_options* options, chord_model** out) {
  if (!data && size) {
    if (out) *out = nullptr;
    return fail(CHORD_E_ARG, "data: expected a pointer to size bytes, got NULL");
  }
  return open_file(
      [](const void* d, size_t n, const char*) {
        const uint8_t* p = static_cast<const uint8_t*>(d);
        return std::make_unique<chord::st::File>(std::vector<uint8_t>(p, p + n));
      },
      data, size, nullptr, options, out);
}

chord_status chord_apply_strategy(chord_model* model, const void* bytes, size_t size) {
  if (!model) return fail(CHORD_E_ARG, "model: expected an open model, got NULL");
  if (!bytes) return fail(CHORD_E_ARG, "bytes: expected strategy bytes, got NULL");
  return guarded([&] { model->m->apply(static_cast<const uint8_t*>(bytes), size); });
}

chord_status chord_rerank(chord_model* model, const int64_t* history, size_t n, int64_t user, const int64_t* candidates,
                          size_t n_candidates, size_t k, int64_t* ids, float* scores) {
  if (!model) return fail(CHORD_E_ARG, "model: expected an open model, got NULL");
  if (n > (size_t(1) << 40) || n_candidates > (size_t(1) << 40) || k > (size_t(1) << 40))
    return fail(CHORD_E_ARG, "n, n_candidates, k: sizes out of range");
  return guarded([&] {
    model->m->rerank(history, int64_t(n), user, candidates, candidates ? int64_t(n_candidates) : 0, int64_t(k), ids,
                     scores);
  });
}

chord_status chord_get_info(const chord_model* model, chord_info* info) {
  if (!model || !info) return fail(CHORD_E_ARG, "model, info: expected non-NULL pointers");
  const chord::capi::Model& m = *model->m;
  info->arch = m.arch.c_str();
  info->num_items = m.num_items;
  info->dim = m.dim;
  info->max_len = m.max_len;
  info->num_users = m.num_users;
  info->num_layers = int64_t(m.layers.size());
  g_error.clear();
  return CHORD_OK;
}

void chord_close(chord_model* model) {
  delete model;
}

const char* chord_last_error(void) {
  return g_error.c_str();
}

const char* chord_status_name(chord_status s) {
  switch (s) {
    case CHORD_OK:
      return "CHORD_OK";
    case CHORD_E_ARG:
      return "CHORD_E_ARG";
    case CHORD_E_IO:
      return "CHORD_E_IO";
    case CHORD_E_FORMAT:
      return "CHORD_E_FORMAT";
    case CHORD_E_STRATEGY:
      return "CHORD_E_STRATEGY";
    case CHORD_E_ITEM:
      return "CHORD_E_ITEM";
    case CHORD_E_NOMEM:
      return "CHORD_E_NOMEM";
    case CHORD_E_INTERNAL:
      return "CHORD_E_INTERNAL";
  }
  return "CHORD_E_UNKNOWN";
}

}  // extern "C"
