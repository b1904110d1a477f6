// Turns the body of a session fuzzer input (input.h) into the bytes the
// harness sends and the points where its writes end. Pure functions.
#ifndef POSTBOX_FUZZ_SESSION_STREAM_H_
#define POSTBOX_FUZZ_SESSION_STREAM_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/session/world.h"

namespace postbox::fuzz {

struct Stream {
  std::string bytes;
  std::vector<size_t> ends;  // where each write ends, ascending

  // Appends `bytes` as one write.
  void Write(std::string_view more) {
    bytes.append(more);
    ends.push_back(bytes.size());
  }
};

// Appends `body` to *out: with `framed` (kModeFramed), the lengths of the
// pieces after each kFrame marker are filled in first; then the body is cut
// into writes at each kCut (removed) and every `write_size` bytes (0: no cut
// by size), and tokens are replaced by the fixture's values.
void AppendBody(std::string_view body, bool framed, size_t write_size, const World& world,
                Stream* out);

// True if the frame headers in `s`, walked by their length fields, end
// exactly at its end: a frame appended then starts on a frame boundary.
bool EndsOnFrameBoundary(std::string_view s);

}  // namespace postbox::fuzz

#endif  // POSTBOX_FUZZ_SESSION_STREAM_H_
