#include "kernel/machine/address_space.h"

#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <vector>

namespace machsim::machine {

namespace {

// Which slots are taken, process-wide (several kernels may live in one process).
std::mutex slots_lock;
std::vector<bool> slots_taken;

long take_slot_index(long from) {
    std::lock_guard<std::mutex> g(slots_lock);
    for (long i = from;; ++i) {
        if (static_cast<std::size_t>(i) >= slots_taken.size()) slots_taken.resize(i + 1, false);
        if (!slots_taken[i]) {
            slots_taken[i] = true;
            return i;
        }
    }
}

void give_slot_index(long i) {
    std::lock_guard<std::mutex> g(slots_lock);
    slots_taken[i] = false;
}

uintptr_t round_page(uintptr_t x) {
    uintptr_t p = AddressSpace::page_size();
    return (x + p - 1) & ~(p - 1);
}
uintptr_t trunc_page(uintptr_t x) { return x & ~(uintptr_t{AddressSpace::page_size()} - 1); }

}  // namespace

std::size_t AddressSpace::page_size() {
    static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return page;
}

AddressSpace::AddressSpace(std::size_t slot_size) : slot_size_(round_page(slot_size)) {}

AddressSpace::~AddressSpace() {
    if (!base_) return;
    munmap(reinterpret_cast<void*>(base_), slot_size_);
    give_slot_index(slot_index_);
}

bool AddressSpace::reserve_slot() {
    const long kMaxTries = 1 << 16;
    for (long from = 0; from < kMaxTries;) {
        long i = take_slot_index(from);
        if (i >= kMaxTries) {
            give_slot_index(i);
            return false;
        }
        auto want = reinterpret_cast<void*>(kSlotBase + static_cast<uintptr_t>(i) * slot_size_);
        void* got = mmap(want, slot_size_, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (got == want) {
            base_ = reinterpret_cast<uintptr_t>(got);
            slot_index_ = i;
            return true;
        }
        if (got != MAP_FAILED) munmap(got, slot_size_);  // old kernels ignore NOREPLACE
        // Host memory already sits there: skip this slot for good in this process.
        from = i + 1;
    }
    return false;
}

bool AddressSpace::range_free(uintptr_t start, std::size_t size) const {
    auto it = regions_.lower_bound(start);
    if (it != regions_.end() && it->first < start + size) return false;
    if (it != regions_.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second.size > start) return false;
    }
    return true;
}

bool AddressSpace::find_space(std::size_t size, uintptr_t& out) const {
    // First fit, leaving the slot's first page unmapped so that 0-based offsets stay invalid.
    uintptr_t cursor = base_ + page_size();
    for (const auto& [start, r] : regions_) {
        if (start >= cursor && start - cursor >= size) break;
        cursor = std::max(cursor, start + r.size);
    }
    if (cursor + size > base_ + slot_size_ || cursor + size < cursor) return false;
    out = cursor;
    return true;
}

kern_return_t AddressSpace::allocate(vm_address_t& addr, vm_size_t size, int flags) {
    if (size == 0) {
        if (flags & VM_FLAGS_ANYWHERE) addr = 0;
        return KERN_SUCCESS;
    }
    if (!base_ && !reserve_slot()) return KERN_RESOURCE_SHORTAGE;
    std::size_t len = round_page(size);
    if (len < size) return KERN_INVALID_ARGUMENT;
    uintptr_t start;
    if (flags & VM_FLAGS_ANYWHERE) {
        if (!find_space(len, start)) return KERN_NO_SPACE;
    } else {
        start = trunc_page(addr);
        len = round_page(addr + size) - start;
        if (start < base_ || start + len > base_ + slot_size_ || start + len < start) return KERN_INVALID_ADDRESS;
        if (!range_free(start, len)) return KERN_NO_SPACE;
    }
    void* p = mmap(reinterpret_cast<void*>(start), len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) return KERN_RESOURCE_SHORTAGE;
    regions_[start] = Region{len, VM_PROT_DEFAULT, VM_PROT_ALL, VM_INHERIT_DEFAULT};
    addr = start;
    return KERN_SUCCESS;
}

void AddressSpace::unmap_range(uintptr_t start, std::size_t size) {
    // Give the pages back to the host but keep the slot reserved.
    mmap(reinterpret_cast<void*>(start), size, PROT_NONE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

kern_return_t AddressSpace::deallocate(vm_address_t addr, vm_size_t size) {
    if (size == 0 || !base_) return KERN_SUCCESS;
    uintptr_t start = trunc_page(addr);
    uintptr_t end = round_page(addr + size);
    if (end < start) return KERN_INVALID_ARGUMENT;
    // Split the regions that straddle either end, then drop everything inside.
    auto it = regions_.upper_bound(start);
    if (it != regions_.begin()) --it;
    while (it != regions_.end() && it->first < end) {
        uintptr_t rs = it->first;
        Region r = it->second;
        uintptr_t re = rs + r.size;
        if (re <= start) {
            ++it;
            continue;
        }
        it = regions_.erase(it);
        if (rs < start) regions_[rs] = Region{start - rs, r.prot, r.max_prot, r.inherit};
        if (re > end) it = regions_.emplace(end, Region{re - end, r.prot, r.max_prot, r.inherit}).first;
        uintptr_t cut_s = std::max(rs, start), cut_e = std::min(re, end);
        unmap_range(cut_s, cut_e - cut_s);
    }
    return KERN_SUCCESS;
}

void AddressSpace::release_all() {
    for (const auto& [start, r] : regions_) unmap_range(start, r.size);
    regions_.clear();
}

bool AddressSpace::covers(uintptr_t addr, std::size_t size) const {
    uintptr_t end = addr + size;
    if (end < addr) return false;
    uintptr_t cursor = addr;
    auto it = regions_.upper_bound(cursor);
    if (it == regions_.begin()) return size == 0;
    --it;
    for (; it != regions_.end() && cursor < end; ++it) {
        if (it->first > cursor) return false;
        cursor = std::max(cursor, it->first + it->second.size);
    }
    return cursor >= end;
}

std::size_t AddressSpace::mapped_bytes() const {
    std::size_t n = 0;
    for (const auto& [s, r] : regions_) n += r.size;
    return n;
}

}  // namespace machsim::machine
