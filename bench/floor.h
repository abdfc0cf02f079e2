// The one-way floor (floor.cpp): the oneway_msgs_per_s loop against a model kernel
// that does only what Mach's semantics ask of a one-way send and receive.
#pragma once

#include <cstdint>
#include <string>

namespace bench {

// Messages per second over `msgs` messages after `warmup` untimed ones, with the
// port's queue limited to `qlimit`. `error` is set when a message arrives wrong.
double oneway_floor_once(uint64_t warmup, uint64_t msgs, uint32_t qlimit, std::string& error);

}  // namespace bench
