#include "kernel/machine/console_device.h"

#include <algorithm>
#include <cstdio>

namespace machsim::machine {

void ConsoleDevice::script(uint64_t tick, std::string bytes) {
    if (bytes.empty()) return;
    auto at = std::upper_bound(chunks_.begin(), chunks_.end(), tick,
                               [](uint64_t t, const Chunk& c) { return t < c.tick; });
    chunks_.insert(at, Chunk{tick, std::move(bytes)});
}

std::size_t ConsoleDevice::read(uint64_t now, char* out, std::size_t max) {
    std::size_t n = 0;
    while (n < max && !chunks_.empty() && chunks_.front().tick <= now) {
        Chunk& c = chunks_.front();
        std::size_t take = std::min(max - n, c.bytes.size() - c.taken);
        std::copy_n(c.bytes.data() + c.taken, take, out + n);
        c.taken += take;
        n += take;
        if (c.taken == c.bytes.size()) chunks_.erase(chunks_.begin());
    }
    return n;
}

std::size_t ConsoleDevice::available(uint64_t now) const {
    std::size_t n = 0;
    for (const Chunk& c : chunks_) {
        if (c.tick > now) break;
        n += c.bytes.size() - c.taken;
    }
    return n;
}

void ConsoleDevice::write(const char* bytes, std::size_t n) {
    output_.append(bytes, n);
    if (echo_ && n > 0) {
        std::fwrite(bytes, 1, n, stdout);
        std::fflush(stdout);  // interleaves in order with the trace and the host's own output
    }
}

}  // namespace machsim::machine
