#include "kernel/machine/disk_device.h"

#include <algorithm>

namespace machsim::machine {

bool DiskDevice::attach(uint32_t records, uint64_t seek_ticks, uint64_t record_ticks, std::string image) {
    if (records == 0 || records > kMaxRecords || image.size() > uint64_t{records} * kRecordSize) return false;
    records_ = records;
    seek_ticks_ = seek_ticks;
    record_ticks_ = record_ticks;
    data_ = std::move(image);
    data_.resize(std::size_t{records} * kRecordSize, '\0');
    return true;
}

std::size_t DiskDevice::span(uint64_t recnum, std::size_t bytes) const {
    if (recnum >= records_) return 0;
    return std::min<uint64_t>(bytes, data_.size() - recnum * kRecordSize);
}

uint64_t DiskDevice::schedule(uint64_t now, std::size_t bytes) {
    const uint64_t touched = (bytes + kRecordSize - 1) / kRecordSize;
    busy_until_ = std::max(now, busy_until_) + seek_ticks_ + touched * record_ticks_;
    return busy_until_;
}

void DiskDevice::read(uint64_t recnum, char* out, std::size_t bytes) const {
    std::copy_n(data_.data() + recnum * kRecordSize, bytes, out);
}

void DiskDevice::write(uint64_t recnum, const char* in, std::size_t bytes) {
    std::copy_n(in, bytes, data_.data() + recnum * kRecordSize);
}

}  // namespace machsim::machine
