#include "kernel/machine/address_space.h"

#include <algorithm>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <vector>

namespace machsim::machine {

namespace {

bool reserved = false;
AddressSpace* open_space = nullptr;  // the one space mapped into the range now

// Reserves the shared range of task addresses, once per process.
bool reserve_range() {
    static std::once_flag once;
    std::call_once(once, [] {
        void* want = reinterpret_cast<void*>(AddressSpace::kBase);
        void* got = mmap(want, AddressSpace::kSize, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        reserved = got == want;
        if (got != MAP_FAILED && got != want) munmap(got, AddressSpace::kSize);
    });
    return reserved;
}

uintptr_t round_page(uintptr_t x) {
    uintptr_t p = AddressSpace::page_size();
    return (x + p - 1) & ~(p - 1);
}
uintptr_t trunc_page(uintptr_t x) { return x & ~(uintptr_t{AddressSpace::page_size()} - 1); }

// Executable pages are always readable, as in x86's page tables. The host must be told so:
// on a CPU with protection keys Linux makes a PROT_EXEC-only mapping execute-only, and a
// task's read through a pointer would fault there and not on other machines.
int host_prot(vm_prot_t p) {
    return ((p & (VM_PROT_READ | VM_PROT_EXECUTE)) ? PROT_READ : 0) | ((p & VM_PROT_WRITE) ? PROT_WRITE : 0) |
           ((p & VM_PROT_EXECUTE) ? PROT_EXEC : 0);
}

void unmap_host(uintptr_t start, std::size_t size) {
    mmap(reinterpret_cast<void*>(start), size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
         -1, 0);
}

bool valid_prot(vm_prot_t p) { return (p & ~VM_PROT_ALL) == 0; }

}  // namespace

std::size_t AddressSpace::page_size() {
    static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return page;
}

AddressSpace::~AddressSpace() { release_all(); }

void AddressSpace::release_all() {
    if (open_) close();
    for (auto& [start, r] : regions_) r.object->unref();
    regions_.clear();
}

void AddressSpace::map_host(uintptr_t start, const Region& r) const {
    mmap(reinterpret_cast<void*>(start), r.size, host_prot(r.prot), MAP_SHARED | MAP_FIXED, r.object->fd(),
         static_cast<off_t>(r.offset));
}

void AddressSpace::open() {
    if (open_) return;
    if (open_space) open_space->close();  // only one space is ever mapped
    for (const auto& [start, r] : regions_) map_host(start, r);
    open_ = true;
    open_space = this;
}

void AddressSpace::close() {
    if (!open_) return;
    // Only what open() and later calls mapped: replacing the whole 16 GiB range
    // costs the host several times more than a few regions (docs/memory.md).
    uintptr_t run_start = 0, run_end = 0;
    for (const auto& [start, r] : regions_) {
        if (start != run_end) {
            if (run_end) unmap_host(run_start, run_end - run_start);
            run_start = start;
        }
        run_end = start + r.size;
    }
    if (run_end) unmap_host(run_start, run_end - run_start);
    open_ = false;
    if (open_space == this) open_space = nullptr;
}

const AddressSpace::Region* AddressSpace::find(uintptr_t addr, uintptr_t* start) const {
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin()) return nullptr;
    --it;
    if (addr - it->first >= it->second.size) return nullptr;
    if (start) *start = it->first;
    return &it->second;
}

bool AddressSpace::covers(uintptr_t addr, std::size_t size) const {
    uintptr_t end = addr + size;
    if (end < addr) return false;
    for (uintptr_t cursor = addr; cursor < end;) {
        uintptr_t s;
        const Region* r = find(cursor, &s);
        if (!r) return false;
        cursor = s + r->size;
    }
    return true;
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

bool AddressSpace::find_space(std::size_t size, uintptr_t& out, uintptr_t mask) const {
    auto align = [mask](uintptr_t a) { return (a + mask) & ~mask; };
    uintptr_t cursor = align(kBase + page_size());  // the first page stays unmapped
    for (const auto& [start, r] : regions_) {
        if (start >= cursor && start - cursor >= size) break;
        cursor = align(std::max(cursor, start + r.size));
    }
    // A mask too large for the range wraps the aligned cursor (a mask of ~0 aligns
    // everything to 0): nothing below kBase is the task's.
    if (cursor < kBase || cursor + size > kBase + kSize || cursor + size < cursor) return false;
    out = cursor;
    return true;
}

kern_return_t AddressSpace::place(uintptr_t at, std::size_t len, uintptr_t mask, int flags, uintptr_t& start) const {
    if (flags & VM_FLAGS_ANYWHERE) return find_space(len, start, mask | (page_size() - 1)) ? KERN_SUCCESS : KERN_NO_SPACE;
    if (!in_range(at) || at + len > kBase + kSize || at + len < at) return KERN_INVALID_ADDRESS;
    if (!range_free(at, len)) return KERN_NO_SPACE;
    start = at;
    return KERN_SUCCESS;
}

void AddressSpace::insert(uintptr_t start, Region r) {
    regions_[start] = r;
    peak_bytes_ = std::max(peak_bytes_, mapped_bytes());
    if (open_) map_host(start, r);
}

void AddressSpace::split_at(uintptr_t addr) {
    uintptr_t s;
    Region* r = const_cast<Region*>(find(addr, &s));
    if (!r || s == addr) return;
    Region tail = *r;
    tail.size = s + r->size - addr;
    tail.offset = r->offset + (addr - s);
    tail.object->ref();
    r->size = addr - s;
    regions_[addr] = tail;
}

template <class F>
bool AddressSpace::each_in(uintptr_t start, uintptr_t end, F&& f) {
    if (!covers(start, end - start)) return false;
    split_at(start);
    split_at(end);
    for (auto it = regions_.lower_bound(start); it != regions_.end() && it->first < end; ++it) f(it->first, it->second);
    return true;
}

kern_return_t AddressSpace::allocate(vm_address_t& addr, vm_size_t size, int flags) {
    if (size == 0) {  // R24: success, at address 0
        addr = 0;
        return KERN_SUCCESS;
    }
    if (!reserve_range()) return KERN_RESOURCE_SHORTAGE;
    std::size_t len = round_page(size);
    if (len < size) return KERN_INVALID_ARGUMENT;
    uintptr_t start;
    // A fixed address is rounded down on its own, as Mach does.
    if (kern_return_t kr = place(trunc_page(addr), len, 0, flags, start); kr != KERN_SUCCESS) return kr;
    MemoryObject* obj = MemoryObject::create(objects_, len);
    if (!obj) return KERN_RESOURCE_SHORTAGE;
    insert(start, Region{len, VM_PROT_DEFAULT, VM_PROT_ALL, VM_INHERIT_DEFAULT, obj, 0});
    addr = start;
    return KERN_SUCCESS;
}

// [addr, addr + size) rounded out to pages; false when it wraps around.
bool AddressSpace::page_range(vm_address_t addr, vm_size_t size, uintptr_t& start, uintptr_t& end) {
    start = trunc_page(addr);
    end = round_page(addr + size);
    return addr + size >= addr && end > start;
}

kern_return_t AddressSpace::deallocate(vm_address_t addr, vm_size_t size) {
    if (size == 0) return KERN_SUCCESS;
    uintptr_t start, end;
    if (!page_range(addr, size, start, end)) return KERN_INVALID_ARGUMENT;
    if (regions_.empty()) return KERN_SUCCESS;
    split_at(start);
    split_at(end);
    for (auto it = regions_.lower_bound(start); it != regions_.end() && it->first < end;) {
        if (open_) unmap_host(it->first, it->second.size);
        it->second.object->unref();
        it = regions_.erase(it);
    }
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::protect(vm_address_t addr, vm_size_t size, bool set_max, vm_prot_t prot) {
    if (!valid_prot(prot)) return KERN_INVALID_ARGUMENT;
    if (size == 0) return KERN_SUCCESS;
    uintptr_t start, end;
    if (!page_range(addr, size, start, end)) return KERN_INVALID_ARGUMENT;
    if (!covers(start, end - start)) return KERN_INVALID_ADDRESS;
    // Check every piece before changing any (R24: the maximum only shrinks).
    for (uintptr_t cursor = start; cursor < end;) {
        uintptr_t s;
        const Region* r = find(cursor, &s);
        if ((prot & r->max_prot) != prot) return KERN_PROTECTION_FAILURE;
        cursor = s + r->size;
    }
    each_in(start, end, [&](uintptr_t s, Region& r) {
        if (set_max) {
            r.max_prot = prot;
            r.prot &= prot;
        } else {
            r.prot = prot;
        }
        if (open_) mprotect(reinterpret_cast<void*>(s), r.size, host_prot(r.prot));
    });
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::inherit(vm_address_t addr, vm_size_t size, vm_inherit_t how) {
    if (how != VM_INHERIT_SHARE && how != VM_INHERIT_COPY && how != VM_INHERIT_NONE) return KERN_INVALID_ARGUMENT;
    if (size == 0) return KERN_SUCCESS;
    uintptr_t start, end;
    if (!page_range(addr, size, start, end)) return KERN_INVALID_ARGUMENT;
    if (!each_in(start, end, [&](uintptr_t, Region& r) { r.inherit = how; })) return KERN_INVALID_ADDRESS;
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::check(vm_address_t addr, std::size_t size, vm_prot_t need) const {
    if (addr + size < addr) return KERN_INVALID_ADDRESS;
    for (uintptr_t cursor = addr, end = addr + size; cursor < end;) {
        uintptr_t s;
        const Region* r = find(cursor, &s);
        if (!r) return KERN_INVALID_ADDRESS;
        if ((r->prot & need) != need) return KERN_PROTECTION_FAILURE;
        cursor = s + r->size;
    }
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::read(vm_address_t addr, std::size_t size, void* out) const {
    if (kern_return_t kr = check(addr, size, VM_PROT_READ); kr != KERN_SUCCESS) return kr;
    auto* dst = static_cast<uint8_t*>(out);
    for (uintptr_t cursor = addr, end = addr + size; cursor < end;) {
        uintptr_t s;
        const Region* r = find(cursor, &s);
        std::size_t n = std::min<uintptr_t>(end, s + r->size) - cursor;
        std::memcpy(dst, r->object->alias() + r->offset + (cursor - s), n);
        dst += n;
        cursor += n;
    }
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::write(vm_address_t addr, const void* data, std::size_t size) {
    if (kern_return_t kr = check(addr, size, VM_PROT_WRITE); kr != KERN_SUCCESS) return kr;  // nothing half-written
    auto* src = static_cast<const uint8_t*>(data);
    for (uintptr_t cursor = addr, end = addr + size; cursor < end;) {
        uintptr_t s;
        const Region* r = find(cursor, &s);
        std::size_t n = std::min<uintptr_t>(end, s + r->size) - cursor;
        std::memcpy(r->object->alias() + r->offset + (cursor - s), src, n);
        src += n;
        cursor += n;
    }
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::copy(vm_address_t src, std::size_t size, vm_address_t dst, std::size_t limit) {
    if (kern_return_t kr = check(src, size, VM_PROT_READ); kr != KERN_SUCCESS) return kr;
    if (kern_return_t kr = check(dst, size, VM_PROT_WRITE); kr != KERN_SUCCESS) return kr;
    if (size > limit) return KERN_RESOURCE_SHORTAGE;
    // The whole source is read before anything is written (Mach copies a snapshot):
    // the two ranges may overlap, by address or as two mappings of one memory object.
    std::vector<uint8_t> snapshot(size);
    (void)read(src, size, snapshot.data());
    (void)write(dst, snapshot.data(), size);
    return KERN_SUCCESS;
}

kern_return_t AddressSpace::map(vm_address_t& addr, std::size_t size, uintptr_t mask, int flags, MemoryObject* obj,
                                std::size_t offset, bool copy, vm_prot_t cur, vm_prot_t max, vm_inherit_t inh) {
    if (!valid_prot(cur) || !valid_prot(max) || (cur & max) != cur) return KERN_INVALID_ARGUMENT;
    if (inh != VM_INHERIT_SHARE && inh != VM_INHERIT_COPY && inh != VM_INHERIT_NONE) return KERN_INVALID_ARGUMENT;
    if (size == 0 || (offset & (page_size() - 1))) return KERN_INVALID_ARGUMENT;
    std::size_t len = round_page(size);
    if (len < size) return KERN_INVALID_ARGUMENT;
    if (obj && (offset + len > obj->size() || offset + len < offset)) return KERN_INVALID_ARGUMENT;
    if (!reserve_range()) return KERN_RESOURCE_SHORTAGE;
    if (!(flags & VM_FLAGS_ANYWHERE) && (trunc_page(addr) != addr || (addr & mask))) return KERN_INVALID_ADDRESS;
    uintptr_t start;
    if (kern_return_t kr = place(addr, len, mask, flags, start); kr != KERN_SUCCESS) return kr;
    MemoryObject* use = obj;
    std::size_t at = offset;
    if (!obj) {
        use = MemoryObject::create(objects_, len);
        if (!use) return KERN_RESOURCE_SHORTAGE;
        at = 0;
    } else if (copy) {
        use = MemoryObject::create(objects_, len);
        if (!use) return KERN_RESOURCE_SHORTAGE;
        std::memcpy(use->alias(), obj->alias() + offset, len);
        at = 0;
    } else {
        obj->ref();
    }
    insert(start, Region{len, cur, max, inh, use, at});
    addr = start;
    return KERN_SUCCESS;
}

bool AddressSpace::region(vm_address_t addr, RegionInfo& out) const {
    auto it = regions_.upper_bound(addr);
    if (it != regions_.begin()) {
        auto prev = std::prev(it);
        if (addr - prev->first < prev->second.size) it = prev;
    }
    if (it == regions_.end()) return false;
    const Region& r = it->second;
    // Shared: something outside this space holds the object too. The pieces of a
    // region that vm_protect or vm_inherit split share it with each other only.
    uint32_t here = 0;
    for (const auto& [s, other] : regions_) here += other.object == r.object;
    bool shared = r.object->refs() > here;
    out = RegionInfo{it->first, r.size, r.prot, r.max_prot, r.inherit, r.offset, shared, r.object->id()};
    return true;
}

kern_return_t AddressSpace::object_at(vm_address_t addr, std::size_t size, MemoryObject*& obj, std::size_t& offset,
                                      vm_prot_t& prot) const {
    uintptr_t s;
    const Region* r = find(trunc_page(addr), &s);
    if (!r) return KERN_INVALID_ADDRESS;
    if (round_page(addr + size) > s + r->size) return KERN_INVALID_ARGUMENT;  // spans regions
    obj = r->object;
    offset = r->offset + (trunc_page(addr) - s);
    prot = r->prot;
    return KERN_SUCCESS;
}

void AddressSpace::inherit_into(AddressSpace& child) const {
    for (const auto& [start, r] : regions_) {
        if (r.inherit == VM_INHERIT_NONE) continue;
        Region c = r;
        if (r.inherit == VM_INHERIT_SHARE) {
            r.object->ref();
        } else {  // COPY: a private copy, made now (machsim copies eagerly)
            c.object = MemoryObject::create(objects_, r.size);
            if (!c.object) continue;
            std::memcpy(c.object->alias(), r.object->alias() + r.offset, r.size);
            c.offset = 0;
        }
        child.insert(start, c);
    }
}

std::size_t AddressSpace::mapped_bytes() const {
    std::size_t n = 0;
    for (const auto& [s, r] : regions_) n += r.size;
    return n;
}

}  // namespace machsim::machine
