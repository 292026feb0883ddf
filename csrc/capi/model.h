// The on-device model behind chord.h: a model file (safetensors + the "chord" JSON header
// written by `chord export`, docs/mobile.md) read into memory, the frozen float weights of its
// quantizable layers, their current packing (one strategy at a time, quantized with
// chord::qpack::quantize_pack exactly as chord.DeviceModel does) and the fused SASRec / Caser
// runner (csrc/runtime) assembled over them. All errors are C++ exceptions here; chord_api.cpp
// turns them into status codes.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "capi/json.h"
#include "capi/safetensors.h"
#include "capi/strategy_wire.h"
#include "runtime/runtime_caser.h"
#include "runtime/runtime_sasrec.h"

namespace chord {
namespace capi {

// Error classes mapped to status codes (std::invalid_argument = bad argument).
struct FormatError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct StrategyError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct ItemError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// One quantizable layer (a channel = an output row): its frozen weight and current packing.
struct Packing {
  std::vector<uint8_t> qweight;
  std::vector<float> scales, zeros;
  std::vector<int32_t> perm;
  std::vector<int64_t> buckets;
  std::vector<float> tiny;  // dequantized [N, K] when it is no larger than the packing (act_bits 0)
};

struct Layer {
  std::string name, kind;  // kind: linear | conv2d | embedding
  int64_t N = 0, K = 0;
  const float* frozen = nullptr;  // [N, K] in the file
  Packing cur;
};

class Model {
 public:
  Model(std::unique_ptr<st::File> file, int act_bits, int threads);

  // Decode + re-pack every layer the strategy names; on any failure nothing changes.
  void apply(const uint8_t* bytes, size_t n);
  // history: the user's recent items, oldest first (ids in [1, num_items]); user: Caser's user
  // index (with a user table) or -1; candidates: null (all items) or C ids in [1, num_items].
  void rerank(const int64_t* history, int64_t n, int64_t user, const int64_t* cand, int64_t C, int64_t k, int64_t* ids,
              float* scores);

  std::string arch;  // "sasrec" | "caser"
  int64_t num_items = 0, dim = 0, max_len = 0, num_users = 0;
  std::vector<Layer> layers;
  uint8_t fingerprint[8] = {};

 private:
  std::unique_ptr<st::File> file_;
  json::Value spec_;
  int act_bits_, threads_;
  std::mutex mu_;
  std::unique_ptr<runtime::SASRecRunner> sasrec_;
  std::unique_ptr<runtime::CaserRunner> caser_;
  std::vector<wire::Layer> known_;

  // Builds a runner over `packs` (one per layer, parallel to `layers`); throws FormatError.
  void assemble(const std::vector<const Packing*>& packs, std::unique_ptr<runtime::SASRecRunner>& s,
                std::unique_ptr<runtime::CaserRunner>& c) const;
  void pack_layer(const Layer& l, const uint8_t* codes, const uint8_t widths[4], int scheme, Packing& out) const;
};

}  // namespace capi
}  // namespace chord
