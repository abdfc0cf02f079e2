// A task's address space: VM regions over memory objects.
//
// Every task has its own address space, and all of them use the same range of
// host addresses [kBase, kBase + kSize): an address means different memory in
// different tasks, as on Mach, and a child that inherits a region sees it at
// the same address. Only one space is mapped into that range at a time: the
// running task's, opened on its first fault after it is switched in and closed
// when it is switched out. A task that never touches its regions pays nothing;
// a task never sees another's memory. The kernel reaches any space's memory
// through the memory objects' own mappings (read, write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "kernel/machine/memory_object.h"
#include "mach/kern_return.h"
#include "mach/vm_types.h"

namespace machsim::machine {

class AddressSpace {
public:
    static constexpr uintptr_t kBase = 0x300000000000ull;
    static constexpr std::size_t kSize = std::size_t{16} << 30;  // 16 GiB of addresses per task

    struct Region {
        std::size_t size;
        vm_prot_t prot;
        vm_prot_t max_prot;
        vm_inherit_t inherit;
        MemoryObject* object;  // holds a reference
        std::size_t offset;    // of the region's first byte in the object
    };

    struct RegionInfo {
        uintptr_t start = 0;
        std::size_t size = 0;
        vm_prot_t prot = 0;
        vm_prot_t max_prot = 0;
        vm_inherit_t inherit = 0;
        std::size_t offset = 0;
        bool shared = false;  // the object is mapped elsewhere too
        uint32_t object = 0;
    };

    // Its memory objects are counted in `objects` (the kernel's), which outlives it.
    explicit AddressSpace(MemoryObjects& objects) : objects_(objects) {}
    ~AddressSpace();
    AddressSpace(const AddressSpace&) = delete;
    AddressSpace& operator=(const AddressSpace&) = delete;

    // The VM calls (MACH-REFERENCE R24). Addresses and sizes are rounded to pages.
    [[nodiscard]] kern_return_t allocate(vm_address_t& addr, vm_size_t size, int flags);
    [[nodiscard]] kern_return_t deallocate(vm_address_t addr, vm_size_t size);
    [[nodiscard]] kern_return_t protect(vm_address_t addr, vm_size_t size, bool set_max, vm_prot_t prot);
    [[nodiscard]] kern_return_t inherit(vm_address_t addr, vm_size_t size, vm_inherit_t how);
    [[nodiscard]] kern_return_t read(vm_address_t addr, std::size_t size, void* out) const;
    [[nodiscard]] kern_return_t write(vm_address_t addr, const void* data, std::size_t size);
    // A snapshot of the source goes through a buffer: KERN_RESOURCE_SHORTAGE when size
    // is above `limit` (checked after the ranges).
    [[nodiscard]] kern_return_t copy(vm_address_t src, std::size_t size, vm_address_t dst, std::size_t limit);
    // Maps `size` bytes of obj from `offset` (vm_map) at an address with the bits
    // of `mask` clear (alignment); `copy` maps a private copy; obj null: fresh zero-filled memory.
    [[nodiscard]] kern_return_t map(vm_address_t& addr, std::size_t size, uintptr_t mask, int flags, MemoryObject* obj,
                                    std::size_t offset, bool copy, vm_prot_t cur, vm_prot_t max, vm_inherit_t inh);
    // The first region that ends after addr (vm_region).
    bool region(vm_address_t addr, RegionInfo& out) const;
    // The object behind [addr, addr + size), which must lie in one region, and
    // that region's current protection (mach_make_memory_entry).
    [[nodiscard]] kern_return_t object_at(vm_address_t addr, std::size_t size, MemoryObject*& obj,
                                          std::size_t& offset, vm_prot_t& prot) const;
    // Builds a new task's space from this one, region by region, as vm_inherit says.
    void inherit_into(AddressSpace& child) const;
    void release_all();

    // Isolation.
    bool is_open() const { return open_; }
    void open();   // maps every region at its address, with its protection
    void close();  // unmaps them all (the range stays reserved)
    const Region* find(uintptr_t addr, uintptr_t* start = nullptr) const;
    bool covers(uintptr_t addr, std::size_t size) const;
    static bool in_range(uintptr_t addr) { return addr >= kBase && addr - kBase < kSize; }
    // Whether [addr, addr + size) touches the task range, where an address means
    // whatever the task mapped at the moment has there.
    // size > 0. One comparison: the last byte lies in [kBase, kBase + kSize + size - 1).
    static bool touches_range(const void* addr, std::size_t size) {
        return reinterpret_cast<uintptr_t>(addr) + size - 1 - kBase < kSize + size - 1;
    }
    // Whether the kernel may take [addr, addr + size) as out-of-line data, as Mach's
    // vm_map_copyin would: what lies in the task range must be in this space's regions
    // and readable by their protection (the hardware reads write-only and execute-only
    // pages; Mach checks the region). Host memory is left to copy_user's fault check.
    bool may_copy_in(const void* addr, std::size_t size) const {
        return size == 0 || !touches_range(addr, size) ||
               check(reinterpret_cast<uintptr_t>(addr), size, VM_PROT_READ) == KERN_SUCCESS;
    }

    std::size_t region_count() const { return regions_.size(); }
    std::size_t mapped_bytes() const;
    std::size_t peak_mapped_bytes() const { return peak_bytes_; }  // the most it has had mapped
    static std::size_t page_size();

    // KERN_SUCCESS when all of [addr, addr + size) is mapped with at least `need`;
    // else KERN_INVALID_ADDRESS (a hole) or KERN_PROTECTION_FAILURE.
    [[nodiscard]] kern_return_t check(vm_address_t addr, std::size_t size, vm_prot_t need) const;

private:
    static bool page_range(vm_address_t addr, vm_size_t size, uintptr_t& start, uintptr_t& end);
    bool range_free(uintptr_t start, std::size_t size) const;
    bool find_space(std::size_t size, uintptr_t& out, uintptr_t mask) const;
    // Where a new region of len bytes goes: anywhere free, aligned to mask (with
    // VM_FLAGS_ANYWHERE), else at `at`. KERN_INVALID_ADDRESS when a fixed range
    // leaves the task range, KERN_NO_SPACE when it is taken or nothing is free.
    kern_return_t place(uintptr_t at, std::size_t len, uintptr_t mask, int flags, uintptr_t& start) const;
    // Splits regions so that region boundaries fall at start and end.
    void split_at(uintptr_t addr);
    // Calls f(start, region) for every region in [start, end); false if a hole lies in it.
    template <class F>
    bool each_in(uintptr_t start, uintptr_t end, F&& f);
    void insert(uintptr_t start, Region r);
    void map_host(uintptr_t start, const Region& r) const;

    MemoryObjects& objects_;
    std::map<uintptr_t, Region> regions_;
    std::size_t peak_bytes_ = 0;
    bool open_ = false;
};

}  // namespace machsim::machine
