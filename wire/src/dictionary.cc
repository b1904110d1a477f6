// The published zstd dictionaries, their shared digested forms, and the
// choice of one in the Hello exchange.
#include "dictionary.h"

#include <zstd.h>

#include <array>
#include <mutex>

#include "postbox/wire/codec.h"

namespace postbox::wire {
namespace {

// Generated at build time from wire/dictionaries/1.zdict (wire/CMakeLists.txt);
// frozen once published: flags 0x03 in a session that agreed id 1 mean
// exactly these bytes.
#include "dictionary_1.inc"

// Indexed by id; entry 0 (no dictionary) stays empty.
const std::array<std::span<const uint8_t>, kLatestDictionary + 1> kDictionaries = {
    std::span<const uint8_t>{},
    std::span<const uint8_t>{kDictionary1, sizeof(kDictionary1)},
};

}  // namespace

std::span<const uint8_t> DictionaryBytes(uint32_t id) {
  return id < kDictionaries.size() ? kDictionaries[id] : std::span<const uint8_t>{};
}

uint32_t ChooseDictionary(std::span<const uint32_t> offered) {
  uint32_t best = 0;
  for (uint32_t id : offered) {
    if (id > best && !DictionaryBytes(id).empty()) best = id;
  }
  return best;
}

namespace internal {

const ZSTD_CDict_s* SharedCDict(uint32_t id, int level) {
  // One digested dictionary per id and level, made on first use and kept for
  // the life of the process: creating one costs far more than a compression.
  static std::mutex mu;
  static std::array<std::array<ZSTD_CDict*, 23>, kLatestDictionary + 1> cdicts{};
  const std::span<const uint8_t> bytes = DictionaryBytes(id);
  if (bytes.empty()) return nullptr;
  if (level < 1) level = 1;
  if (level > 22) level = 22;
  std::lock_guard<std::mutex> lock(mu);
  ZSTD_CDict*& cdict = cdicts[id][level];
  if (cdict == nullptr) cdict = ZSTD_createCDict(bytes.data(), bytes.size(), level);
  return cdict;
}

const ZSTD_DDict_s* SharedDDict(uint32_t id) {
  static const auto ddicts = [] {
    std::array<ZSTD_DDict*, kLatestDictionary + 1> all{};
    for (uint32_t i = 1; i <= kLatestDictionary; ++i) {
      const std::span<const uint8_t> bytes = DictionaryBytes(i);
      all[i] = ZSTD_createDDict(bytes.data(), bytes.size());
    }
    return all;
  }();
  return id < ddicts.size() ? ddicts[id] : nullptr;
}

}  // namespace internal
}  // namespace postbox::wire
