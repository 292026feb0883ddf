// Fuzzer of the C boundary (csrc/capi/chord.h), meant to run under ASan/UBSan
// (cmake -DCHORD_SANITIZE=ON; tests/capi/test_capi.py runs it).
//
//   chord_fuzz_capi MODEL STRATEGY ITERATIONS SECONDS SEED
//
// From one valid model file and one valid strategy it derives mutated inputs: bit flips, byte
// overwrites, truncations and extensions; edits inside the JSON header (same-length digit
// rewrites, so the tensor offsets stay valid and the deeper checks run; and insertions /
// deletions with the header length fixed up); strategies with their CRC re-computed, so the
// checks after the CRC are reached. Plus API misuse: NULL pointers, an empty history, item ids,
// user indexes and k out of range. Checks: every call returns a status, a failing call sets a
// message, results of a successful rerank are item ids in range, and a failed
// chord_apply_strategy leaves the model's results unchanged. Stops after ITERATIONS or
// SECONDS, whichever first; prints the counts per status. Exit 0 = no invariant broken
// (sanitizer reports abort the process on their own).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chord.h"

namespace {

std::vector<uint8_t> read_file(const char* path) {
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path, "rb");
  if (!f) return out;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "INVARIANT BROKEN: %s (last error: %s)\n", what, chord_last_error());
    ++failures;
  }
}

std::map<std::string, int> counts;
chord_status note(const char* where, chord_status s) {
  counts[std::string(where) + " " + chord_status_name(s)]++;
  if (s != CHORD_OK) check(chord_last_error()[0] != '\0', "a failing call set no message");
  if (s == CHORD_E_INTERNAL) {
    std::fprintf(stderr, "internal error at %s: %s\n", where, chord_last_error());
    ++failures;
  }
  return s;
}

struct Result {
  std::vector<int64_t> ids;
  std::vector<float> scores;
  bool operator==(const Result& o) const {
    return ids == o.ids && std::memcmp(scores.data(), o.scores.data(), scores.size() * sizeof(float)) == 0;
  }
};

// rerank with a fixed history; checks the ids
chord_status probe(chord_model* m, Result* out) {
  chord_info info;
  if (chord_get_info(m, &info) != CHORD_OK) return CHORD_E_INTERNAL;
  const int64_t hist[5] = {1, 2 % info.num_items + 1, 3 % info.num_items + 1, info.num_items, 1};
  const size_t k = size_t(std::min<int64_t>(5, info.num_items));
  Result r{std::vector<int64_t>(k), std::vector<float>(k)};
  const chord_status s =
      note("rerank", chord_rerank(m, hist, 5, info.num_users ? 0 : -1, nullptr, 0, k, r.ids.data(), r.scores.data()));
  if (s == CHORD_OK)
    for (int64_t id : r.ids) check(id >= 1 && id <= info.num_items, "rerank returned an id out of range");
  if (out) *out = r;
  return s;
}

void mutate_bytes(std::vector<uint8_t>& b, std::mt19937_64& rng, size_t lo, size_t hi) {
  if (b.empty() || hi <= lo) return;
  std::uniform_int_distribution<size_t> pos(lo, hi - 1);
  const int n = 1 + int(rng() % 4);
  for (int i = 0; i < n; ++i) {
    switch (rng() % 5) {
      case 0:
        b[pos(rng)] ^= uint8_t(1u << (rng() % 8));
        break;
      case 1:
        b[pos(rng)] = uint8_t(rng());
        break;
      case 2:
        b[pos(rng)] = uint8_t("\x00\xff\x7f\x80{}[]\",:0-9"[rng() % 14]);
        break;
      case 3:
        b.resize(pos(rng));
        return;  // truncate
      default:
        b.insert(b.begin() + long(pos(rng)), uint8_t(rng()));
        return;
    }
  }
}

// edits inside the safetensors JSON header, keeping the file self-consistent
void mutate_header(std::vector<uint8_t>& b, std::mt19937_64& rng) {
  if (b.size() < 8) return;
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | b[size_t(i)];
  if (hlen + 8 > b.size() || hlen < 2) return;
  std::string h(b.begin() + 8, b.begin() + 8 + long(hlen));
  const int op = int(rng() % 4);
  if (op <= 1) {  // rewrite a run of digits in place (same length: offsets stay valid)
    std::vector<size_t> starts;
    for (size_t i = 0; i < h.size(); ++i)
      if (isdigit(static_cast<unsigned char>(h[i])) && (i == 0 || !isdigit(static_cast<unsigned char>(h[i - 1]))))
        starts.push_back(i);
    if (starts.empty()) return;
    size_t i = starts[rng() % starts.size()];
    for (; i < h.size() && isdigit(static_cast<unsigned char>(h[i])); ++i)
      h[i] = char(op == 0 ? '0' + rng() % 10 : (rng() % 2 ? '9' : '0'));
  } else if (op == 2) {  // delete a span
    const size_t at = rng() % h.size(), len = 1 + rng() % 8;
    h.erase(at, len);
  } else {  // insert a token
    static const char* toks[] = {"-1", "0", "1e300", "\\\"", "null", "[]", "{}", "\\u0000", "99999999999", ",", "\""};
    h.insert(rng() % h.size(), toks[rng() % (sizeof toks / sizeof *toks)]);
  }
  std::vector<uint8_t> out(8);
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(n >> (8 * i));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), b.begin() + 8 + long(hlen), b.end());
  b.swap(out);
}

void misuse(chord_model* m, const chord_info& info) {
  int64_t ids[4];
  float sc[4];
  const int64_t good[2] = {1, info.num_items};
  const int64_t bad_hi[2] = {1, info.num_items + 1};
  const int64_t bad_lo[2] = {0, 1};
  const int64_t neg[2] = {-5, 1};
  const int64_t u = info.num_users ? 0 : -1;
  check(note("misuse", chord_rerank(nullptr, good, 2, u, nullptr, 0, 1, ids, sc)) == CHORD_E_ARG, "NULL model");
  check(note("misuse", chord_rerank(m, nullptr, 2, u, nullptr, 0, 1, ids, sc)) == CHORD_E_ARG, "NULL history");
  check(note("misuse", chord_rerank(m, good, 0, u, nullptr, 0, 1, ids, sc)) == CHORD_E_ARG, "empty history");
  check(note("misuse", chord_rerank(m, good, 2, u, nullptr, 0, 1, nullptr, sc)) == CHORD_E_ARG, "NULL ids");
  check(note("misuse", chord_rerank(m, good, 2, u, nullptr, 0, 0, ids, sc)) == CHORD_E_ARG, "k = 0");
  check(note("misuse", chord_rerank(m, good, 2, u, nullptr, 0, size_t(info.num_items) + 1, ids, sc)) == CHORD_E_ARG,
        "k > items");
  check(note("misuse", chord_rerank(m, bad_hi, 2, u, nullptr, 0, 1, ids, sc)) == CHORD_E_ITEM, "id > num_items");
  check(note("misuse", chord_rerank(m, bad_lo, 2, u, nullptr, 0, 1, ids, sc)) == CHORD_E_ITEM, "id 0 (padding)");
  check(note("misuse", chord_rerank(m, neg, 2, u, nullptr, 0, 1, ids, sc)) == CHORD_E_ITEM, "negative id");
  check(note("misuse", chord_rerank(m, good, 2, u, bad_hi, 2, 1, ids, sc)) == CHORD_E_ITEM, "candidate out of range");
  check(note("misuse", chord_rerank(m, good, 2, u, good, 2, 3, ids, sc)) == CHORD_E_ARG, "k > candidates");
  if (info.num_users) {
    check(note("misuse", chord_rerank(m, good, 2, info.num_users, nullptr, 0, 1, ids, sc)) == CHORD_E_ITEM,
          "user out of range");
    check(note("misuse", chord_rerank(m, good, 2, -1, nullptr, 0, 1, ids, sc)) == CHORD_E_ITEM, "user -1");
  } else {
    check(note("misuse", chord_rerank(m, good, 2, 3, nullptr, 0, 1, ids, sc)) == CHORD_E_ARG, "user without a table");
  }
  check(note("misuse", chord_apply_strategy(m, nullptr, 10)) == CHORD_E_ARG, "NULL strategy");
  check(note("misuse", chord_apply_strategy(nullptr, good, 10)) == CHORD_E_ARG, "NULL model (apply)");
  check(note("misuse", chord_apply_strategy(m, good, 0)) == CHORD_E_STRATEGY, "empty strategy");
  check(note("misuse", chord_get_info(m, nullptr)) == CHORD_E_ARG, "NULL info");
  chord_model* out = reinterpret_cast<chord_model*>(1);
  check(note("misuse", chord_open(nullptr, nullptr, &out)) == CHORD_E_ARG && out == nullptr, "NULL path");
  check(note("misuse", chord_open("/nonexistent/model.chord", nullptr, &out)) == CHORD_E_IO && out == nullptr,
        "missing file");
  check(note("misuse", chord_open("/", nullptr, &out)) != CHORD_OK && out == nullptr, "a directory");
  check(note("misuse", chord_open("/", nullptr, nullptr)) == CHORD_E_ARG, "NULL out");
  check(note("misuse", chord_open_memory(nullptr, 5, nullptr, &out)) == CHORD_E_ARG, "NULL data");
  const chord_options bad_act{4, 1};
  check(note("misuse", chord_open_memory(good, sizeof good, &bad_act, &out)) != CHORD_OK, "garbage bytes");
  chord_close(nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s MODEL STRATEGY ITERATIONS SECONDS SEED\n", argv[0]);
    return 2;
  }
  const std::vector<uint8_t> model = read_file(argv[1]), strat = read_file(argv[2]);
  const long iters = std::atol(argv[3]);
  const double seconds = std::atof(argv[4]);
  std::mt19937_64 rng(std::strtoull(argv[5], nullptr, 10));
  if (model.empty() || strat.size() < 25) {
    std::fprintf(stderr, "cannot read the seed model / strategy\n");
    return 2;
  }
  const chord_options opt{0, 1};
  chord_model* base = nullptr;
  if (chord_open_memory(model.data(), model.size(), &opt, &base) != CHORD_OK) {
    std::fprintf(stderr, "the seed model does not open: %s\n", chord_last_error());
    return 2;
  }
  chord_info info;
  chord_get_info(base, &info);
  misuse(base, info);
  check(note("apply-seed", chord_apply_strategy(base, strat.data(), strat.size())) == CHORD_OK,
        "seed strategy applies");
  Result before;
  check(probe(base, &before) == CHORD_OK, "seed rerank");

  const auto t0 = std::chrono::steady_clock::now();
  long it = 0;
  for (; it < iters; ++it) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds) break;
    if (it % 2 == 0) {  // a mutated model file
      std::vector<uint8_t> b = model;
      uint64_t hlen = 0;
      for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | b[size_t(i)];
      const int kind = int(rng() % 4);
      if (kind == 0)
        mutate_bytes(b, rng, 0, b.size());
      else if (kind == 1)
        mutate_bytes(b, rng, 0, size_t(std::min<uint64_t>(hlen + 8, b.size())));
      else
        mutate_header(b, rng);
      if (kind == 3) mutate_header(b, rng);
      chord_model* m = reinterpret_cast<chord_model*>(1);
      const chord_status s = note("open", chord_open_memory(b.data(), b.size(), &opt, &m));
      check((s == CHORD_OK) == (m != nullptr), "open: *out set iff OK");
      if (s == CHORD_OK) {
        probe(m, nullptr);
        note("apply-on-mutated", chord_apply_strategy(m, strat.data(), strat.size()));
        probe(m, nullptr);
        chord_close(m);
      }
    } else {  // a mutated strategy against the valid model
      std::vector<uint8_t> b = strat;
      mutate_bytes(b, rng, rng() % 2 ? 0 : 19, b.size() > 4 ? b.size() - 4 : b.size());
      if (rng() % 4 != 0 && b.size() >= 4) {  // fix the CRC so the checks behind it run
        const uint32_t c = crc32(b.data(), b.size() - 4);
        for (int i = 0; i < 4; ++i) b[b.size() - 4 + size_t(i)] = uint8_t(c >> (8 * i));
      }
      const chord_status s = note("apply", chord_apply_strategy(base, b.data(), b.size()));
      if (s == CHORD_OK) {
        probe(base, nullptr);  // a valid different strategy: re-apply the seed to compare again
        check(chord_apply_strategy(base, strat.data(), strat.size()) == CHORD_OK, "re-apply the seed");
      } else {
        Result after;
        probe(base, &after);
        check(after == before, "a failed apply changed the model's results");
      }
    }
  }
  chord_close(base);
  std::printf("iterations %ld\n", it);
  for (const auto& kv : counts) std::printf("%-40s %d\n", kv.first.c_str(), kv.second);
  if (failures) std::printf("FAILURES %d\n", failures);
  return failures ? 1 : 0;
}
