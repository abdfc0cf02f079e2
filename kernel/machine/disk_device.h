// A disk of fixed-size records on the virtual clock. Requests are served one at a
// time, in the order they arrive: each takes a seek plus a time per record, after
// the requests before it. The data moves when a request is taken (the order of
// service is the order of arrival, so nothing can tell), and the caller waits
// until its request's completion tick.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace machsim::machine {

class DiskDevice {
public:
    static constexpr uint32_t kRecordSize = 512;  // bytes per record (block), as DEV_BSIZE
    static constexpr uint32_t kMaxRecords = 1u << 16;  // 32 MiB, held in host memory

    // Makes the disk: `records` records, zero-filled, then `image` from byte 0.
    // False (and no disk) for no records, more than kMaxRecords, or an image larger than the disk.
    bool attach(uint32_t records, uint64_t seek_ticks, uint64_t record_ticks, std::string image);
    bool present() const { return records_ != 0; }
    uint32_t records() const { return records_; }
    const std::string& contents() const { return data_; }

    // The bytes a transfer of `bytes` from record `recnum` covers: clipped at the
    // disk's end; 0 when recnum is past it (the caller answers D_INVALID_RECNUM).
    std::size_t span(uint64_t recnum, std::size_t bytes) const;
    // Takes a request of `bytes` bytes at `now`; returns the tick it completes at.
    uint64_t schedule(uint64_t now, std::size_t bytes);
    void read(uint64_t recnum, char* out, std::size_t bytes) const;
    void write(uint64_t recnum, const char* in, std::size_t bytes);

private:
    uint32_t records_ = 0;
    uint64_t seek_ticks_ = 0, record_ticks_ = 0;
    uint64_t busy_until_ = 0;  // when the last request taken completes
    std::string data_;
};

}  // namespace machsim::machine
