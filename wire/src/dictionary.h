// Internal: the digested forms of the published zstd dictionaries
// (wire/dictionaries/<id>.zdict) that compressors and decompressors share.
#ifndef POSTBOX_WIRE_SRC_DICTIONARY_H_
#define POSTBOX_WIRE_SRC_DICTIONARY_H_

#include <cstdint>

struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace postbox::wire::internal {

// Process-wide, built once per id on first use (thread-safe), read-only
// afterwards, never freed. Null for an id this build does not have, or if zstd
// could not digest the dictionary.
const ZSTD_CDict_s* SharedCDict(uint32_t id, int level);
const ZSTD_DDict_s* SharedDDict(uint32_t id);

}  // namespace postbox::wire::internal

#endif  // POSTBOX_WIRE_SRC_DICTIONARY_H_
