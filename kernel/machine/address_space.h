// A task's address space: its VM regions, carved out of a slot of host
// address space reserved for that task alone. Region memory is real host
// memory, so the address a task gets is usable as a pointer.
//
// Slots sit at fixed host addresses (kSlotBase + i * slot size) so that runs
// are reproducible; a task's FIXED allocations must fall inside its own slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "mach/kern_return.h"
#include "mach/vm_types.h"

namespace machsim::machine {

class AddressSpace {
public:
    static constexpr uintptr_t kSlotBase = 0x300000000000ull;
    static constexpr std::size_t kDefaultSlotSize = std::size_t{1} << 30;  // 1 GiB per task

    explicit AddressSpace(std::size_t slot_size = kDefaultSlotSize);
    ~AddressSpace();
    AddressSpace(const AddressSpace&) = delete;
    AddressSpace& operator=(const AddressSpace&) = delete;

    // vm_allocate: flags VM_FLAGS_ANYWHERE or VM_FLAGS_FIXED. Zero-filled pages.
    [[nodiscard]] kern_return_t allocate(vm_address_t& addr, vm_size_t size, int flags);
    // vm_deallocate: unmapped parts of the range are ignored.
    [[nodiscard]] kern_return_t deallocate(vm_address_t addr, vm_size_t size);
    // Unmaps every region (the task is gone).
    void release_all();
    // True when every byte of [addr, addr+size) lies in a region.
    bool covers(uintptr_t addr, std::size_t size) const;

    std::size_t region_count() const { return regions_.size(); }
    std::size_t mapped_bytes() const;
    static std::size_t page_size();

private:
    struct Region {
        std::size_t size;
        vm_prot_t prot;
        vm_prot_t max_prot;
        vm_inherit_t inherit;
    };
    bool reserve_slot();
    bool range_free(uintptr_t start, std::size_t size) const;
    bool find_space(std::size_t size, uintptr_t& out) const;
    void unmap_range(uintptr_t start, std::size_t size);

    std::size_t slot_size_;
    uintptr_t base_ = 0;   // 0 until the first allocation reserves the slot
    long slot_index_ = -1;
    std::map<uintptr_t, Region> regions_;  // by start address
};

}  // namespace machsim::machine
