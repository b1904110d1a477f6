// The fault policy's checks and the per-frame decision function
// (tests/support/fault_proxy.h): pure, no sockets.
#include <algorithm>
#include <string>

#include "tests/support/fault_proxy.h"

namespace postbox::testing {
namespace {

// SplitMix64's finalizer: spreads (seed, stream) over the generator's seed
// space, so neighbouring connection indexes get unrelated streams.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A double in [0, 1) from the top 53 bits: the same on every platform.
double Unit(uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; }

Status CheckRate(const char* dir, const char* name, double rate) {
  if (rate >= 0 && rate <= 1) return Status::Ok();
  return Status::InvalidArgument(std::string("FaultPolicy.") + dir + "." + name + " is " +
                                 std::to_string(rate) + "; expected a probability in [0, 1]");
}

Status CheckDirection(const char* dir, const DirectionFaults& f) {
  for (auto [name, rate] : {std::pair{"drop", f.drop},
                            {"duplicate", f.duplicate},
                            {"delay", f.delay},
                            {"cut", f.cut}}) {
    if (Status s = CheckRate(dir, name, rate); !s.ok()) return s;
  }
  if (f.drop + f.duplicate + f.cut > 1 + 1e-9) {
    return Status::InvalidArgument(std::string("FaultPolicy.") + dir +
                                   ": drop + duplicate + cut exceed 1; they are exclusive "
                                   "shares of the frames");
  }
  if (f.delay_min.count() < 0 || f.delay_max < f.delay_min) {
    return Status::InvalidArgument(std::string("FaultPolicy.") + dir + ": delay range [" +
                                   std::to_string(f.delay_min.count()) + ", " +
                                   std::to_string(f.delay_max.count()) +
                                   "] ms; expected 0 <= delay_min <= delay_max");
  }
  return Status::Ok();
}

}  // namespace

bool DirectionFaults::Applies(uint16_t type) const {
  return types.empty() || std::any_of(types.begin(), types.end(), [type](wire::MessageType t) {
           return static_cast<uint16_t>(t) == type;
         });
}

Status FaultPolicy::Validate() const {
  if (Status s = CheckDirection("to_server", to_server); !s.ok()) return s;
  return CheckDirection("to_client", to_client);
}

FaultPolicy FaultPolicy::Flip(wire::MessageType type, uint32_t frames) {
  FaultPolicy p;
  p.flip_type = type;
  p.flip_frames = frames;
  return p;
}

FaultDecider::FaultDecider(uint64_t seed, uint64_t connection_index, Direction direction)
    : rng_(Mix(seed ^ Mix(connection_index * 2 + static_cast<uint64_t>(direction)))) {}

FaultDecision FaultDecider::Next(const DirectionFaults& f, const wire::FrameHeader& header) {
  // Always four draws, so one frame's outcome never shifts the next's.
  const uint64_t r_action = rng_(), r_delay = rng_(), r_delay_ms = rng_(), r_cut = rng_();
  FaultDecision d;
  const double u = Unit(r_action);
  if (u < f.cut) {
    d.action = FaultDecision::Action::kCut;
    d.cut_prefix = static_cast<size_t>(r_cut % (wire::kFrameHeaderSize + header.length));
  } else if (u < f.cut + f.drop) {
    d.action = FaultDecision::Action::kDrop;
  } else if (u < f.cut + f.drop + f.duplicate) {
    d.action = FaultDecision::Action::kDuplicate;
  }
  if (Unit(r_delay) < f.delay) {
    const uint64_t span = static_cast<uint64_t>((f.delay_max - f.delay_min).count());
    d.delay = f.delay_min + std::chrono::milliseconds(r_delay_ms % (span + 1));
  }
  return d;
}

}  // namespace postbox::testing
