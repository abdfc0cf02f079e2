// A console with scripted input: bytes arrive at given virtual ticks, each arrival
// raising the console's interrupt line; the driver reads what has arrived by now.
// What tasks write to it is kept, and echoed to the host's standard output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace machsim::machine {

class ConsoleDevice {
public:
    static constexpr uint32_t kLine = 4;  // COM1's line on a PC

    // `bytes` arrive at `tick` (the caller raises the line for them at that tick).
    void script(uint64_t tick, std::string bytes);
    // Moves up to `max` bytes that have arrived by `now` into `out`, oldest first; returns how many.
    std::size_t read(uint64_t now, char* out, std::size_t max);
    // Bytes arrived by `now` and not read yet.
    std::size_t available(uint64_t now) const;

    // Output: kept in order, and written to the host's stdout as it comes when echo is on.
    void write(const char* bytes, std::size_t n);
    const std::string& output() const { return output_; }
    void set_echo(bool echo) { echo_ = echo; }

private:
    struct Chunk {
        uint64_t tick;
        std::string bytes;
        std::size_t taken = 0;
    };
    std::vector<Chunk> chunks_;  // by arrival tick; equal ticks in the order scripted
    std::string output_;
    bool echo_ = true;
};

}  // namespace machsim::machine
