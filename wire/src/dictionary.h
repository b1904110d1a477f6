// Internal: the built-in zstd dictionary (frame flag 0x02) and the digested
// forms of it that compressors and decompressors share.
#ifndef POSTBOX_WIRE_SRC_DICTIONARY_H_
#define POSTBOX_WIRE_SRC_DICTIONARY_H_

#include <cstdint>
#include <span>

struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace postbox::wire::internal {

// The raw dictionary bytes, trained by wire/tools/train_dictionary.cc on
// typical payloads and frozen: a frame flagged 0x02 means this very content,
// so changing it needs a new flag bit (see PROTOCOL.md §Compression).
std::span<const uint8_t> DictionaryBytes();

// Process-wide, built once on first use (thread-safe), read-only afterwards,
// never freed. Null if zstd could not digest the dictionary.
const ZSTD_CDict_s* SharedCDict(int level);
const ZSTD_DDict_s* SharedDDict();

}  // namespace postbox::wire::internal

#endif  // POSTBOX_WIRE_SRC_DICTIONARY_H_
