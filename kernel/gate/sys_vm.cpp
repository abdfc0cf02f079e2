// The VM calls: regions of a task's address space, shared memory through
// memory entries, and the mach_vm_* spellings of the same calls.
#include <vector>

#include "kernel/gate/sys_common.h"
#include "mach/vm_region.h"
#include "ports/rights.h"
#include "tasks/memory_entry.h"

namespace machsim::gate {

namespace {

// The most bytes vm_read, vm_write and vm_copy move in one call: each goes through
// a kernel buffer.
uint64_t transfer_limit(const Kernel& k) { return k.cfg.max_message * 64ull; }

}  // namespace

kern_return_t give_bytes(tasks::Thread& self, const void* bytes, std::size_t n, vm_offset_t* data,
                         mach_msg_type_number_t* count) {
    vm_address_t a = 0;
    if (n > 0) {
        if (kern_return_t kr = self.task.vm.allocate(a, n, VM_FLAGS_ANYWHERE); kr != KERN_SUCCESS) return kr;
        (void)self.task.vm.write(a, bytes, n);
    }
    (void)put_user(data, vm_offset_t{a});
    (void)put_user(count, static_cast<mach_msg_type_number_t>(n));
    return KERN_SUCCESS;
}

kern_return_t sys_vm_allocate(mach_port_name_t task, vm_address_t* address, vm_size_t size, int flags) {
    return task_call(Sys::vm_allocate, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        if (flags & ~VM_FLAGS_ANYWHERE) return KERN_INVALID_ARGUMENT;
        vm_address_t a = 0;
        if (!get_user(a, address) || !put_user(address, a)) return KERN_INVALID_ADDRESS;
        kern_return_t kr = t.vm.allocate(a, size, flags);
        if (kr == KERN_SUCCESS) (void)put_user(address, a);
        return kr;
    });
}

kern_return_t sys_vm_deallocate(mach_port_name_t task, vm_address_t address, vm_size_t size) {
    return task_call(Sys::vm_deallocate, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return t.vm.deallocate(address, size);
    });
}

kern_return_t sys_vm_protect(mach_port_name_t task, vm_address_t address, vm_size_t size, boolean_t set_maximum,
                             vm_prot_t new_protection) {
    return task_call(Sys::vm_protect, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return t.vm.protect(address, size, set_maximum != FALSE, new_protection);
    });
}

kern_return_t sys_vm_inherit(mach_port_name_t task, vm_address_t address, vm_size_t size, vm_inherit_t inheritance) {
    return task_call(Sys::vm_inherit, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) {
        return t.vm.inherit(address, size, inheritance);
    });
}

kern_return_t sys_vm_read(mach_port_name_t task, vm_address_t address, vm_size_t size, vm_offset_t* data,
                          mach_msg_type_number_t* count) {
    return task_call(Sys::vm_read, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(data, vm_offset_t{0}) || !put_user(count, mach_msg_type_number_t{0})) return KERN_INVALID_ADDRESS;
        if (size > transfer_limit(k)) return KERN_RESOURCE_SHORTAGE;
        std::vector<uint8_t> bytes(size);
        if (kern_return_t kr = t.vm.read(address, size, bytes.data()); kr != KERN_SUCCESS) return kr;
        return give_bytes(self, bytes.data(), bytes.size(), data, count);
    });
}

kern_return_t sys_vm_write(mach_port_name_t task, vm_address_t address, vm_offset_t data,
                           mach_msg_type_number_t count) {
    return task_call(Sys::vm_write, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (kern_return_t kr = t.vm.check(address, count, VM_PROT_WRITE); kr != KERN_SUCCESS) return kr;
        if (count > transfer_limit(k)) return KERN_RESOURCE_SHORTAGE;
        // The data is taken whole before anything is written, as Mach takes it (an
        // out-of-line copy): it may overlap the target, and a failing read leaves the
        // target as it was.
        const void* from = reinterpret_cast<const void*>(data);
        std::vector<uint8_t> bytes(count);
        if (!self.task.vm.may_copy_in(from, count) || !machine::copy_user(bytes.data(), from, count))
            return KERN_INVALID_ADDRESS;
        (void)t.vm.write(address, bytes.data(), count);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_vm_copy(mach_port_name_t task, vm_address_t source, vm_size_t size, vm_address_t dest) {
    return task_call(Sys::vm_copy, task, [&](Kernel& k, tasks::Thread&, tasks::Task& t) {
        return t.vm.copy(source, size, dest, transfer_limit(k));
    });
}

kern_return_t sys_vm_region_64(mach_port_name_t task, vm_address_t* address, vm_size_t* size, int flavor,
                               int* info, mach_msg_type_number_t* count, mach_port_name_t* object_name) {
    return task_call(Sys::vm_region, task, [&](Kernel&, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        vm_address_t at = 0;
        mach_msg_type_number_t n = 0;
        if (!get_user(at, address) || !get_user(n, count) || !put_user(object_name, MACH_PORT_NULL))
            return KERN_INVALID_ADDRESS;
        // The two flavors differ only in the width of `offset` (XNU's layouts).
        if (flavor != VM_REGION_BASIC_INFO_64 && flavor != VM_REGION_BASIC_INFO) return KERN_INVALID_ARGUMENT;
        bool wide = flavor == VM_REGION_BASIC_INFO_64;
        mach_msg_type_number_t need = wide ? VM_REGION_BASIC_INFO_COUNT_64 : VM_REGION_BASIC_INFO_COUNT;
        if (n < need) return KERN_INVALID_ARGUMENT;
        machine::AddressSpace::RegionInfo r;
        if (!t.vm.region(at, r)) return KERN_INVALID_ADDRESS;  // nothing at or above `address`
        vm_region_basic_info_data_64_t out64{};
        vm_region_basic_info_data_t out32{};
        out64.protection = out32.protection = r.prot;
        out64.max_protection = out32.max_protection = r.max_prot;
        out64.inheritance = out32.inheritance = r.inherit;
        out64.shared = out32.shared = r.shared;
        out64.offset = r.offset;
        out32.offset = static_cast<uint32_t>(r.offset);
        bool copied = wide ? machine::copy_user(info, &out64, sizeof out64) : machine::copy_user(info, &out32, sizeof out32);
        if (!copied || !put_user(address, vm_address_t{r.start}) || !put_user(size, vm_size_t{r.size}) ||
            !put_user(count, need))
            return KERN_INVALID_ADDRESS;
        return KERN_SUCCESS;
    });
}

kern_return_t sys_make_memory_entry(mach_port_name_t task, uint64_t* size, uint64_t offset, vm_prot_t permission,
                                    mach_port_name_t* handle, mach_port_name_t parent) {
    return task_call(Sys::mach_make_memory_entry, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        uint64_t len = 0;
        if (!get_user(len, size) || !put_user(size, len) || !put_user(handle, MACH_PORT_NULL))
            return KERN_INVALID_ADDRESS;
        if (parent != MACH_PORT_NULL) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "parent entries are not supported");
        vm_prot_t prot = permission & VM_PROT_ALL;
        if (len == 0) return KERN_INVALID_ARGUMENT;
        std::size_t page = machine::AddressSpace::page_size();
        std::size_t rounded = (len + page - 1) & ~(page - 1);
        machine::MemoryObject* obj = nullptr;
        std::size_t at = 0;
        if (permission & MAP_MEM_NAMED_CREATE) {  // a fresh object, mapped nowhere yet
            obj = machine::MemoryObject::create(k.memory_objects, rounded);
            if (!obj) return KERN_RESOURCE_SHORTAGE;
        } else {
            // An unaligned start widens the entry to whole pages: it covers every page the range touches.
            if (offset + len < offset || offset + len > ~uint64_t{0} - page) return KERN_INVALID_ARGUMENT;
            rounded = ((offset + len + page - 1) & ~uint64_t{page - 1}) - (offset & ~uint64_t{page - 1});
            vm_prot_t now = 0;
            if (kern_return_t kr = t.vm.object_at(offset, len, obj, at, now); kr != KERN_SUCCESS) return kr;
            if ((prot & now) != prot) return KERN_PROTECTION_FAILURE;  // no wider than the memory allows now, as XNU
            obj->ref();
        }
        auto entry = std::make_unique<tasks::MemoryEntry>(obj, at, rounded, prot);
        obj->unref();  // the entry holds its own reference
        tasks::MemoryEntry* e = entry.get();
        e->port = k.adopt_memory_entry(std::move(entry));
        ipc::Carried c = ipc::make_send(e->port);
        mach_port_name_t n = MACH_PORT_NULL;
        if (ipc::copyout(self.task.space, c, &n) != KERN_SUCCESS) {
            ipc::carried_release(k.env, c);
            return KERN_RESOURCE_SHORTAGE;
        }
        (void)put_user(handle, n);
        (void)put_user(size, uint64_t{rounded});
        return KERN_SUCCESS;
    });
}

kern_return_t sys_vm_map(mach_port_name_t task, vm_address_t* address, vm_size_t size, vm_address_t mask, int flags,
                         mach_port_name_t object, vm_offset_t offset, boolean_t copy, vm_prot_t cur, vm_prot_t max,
                         vm_inherit_t inheritance) {
    return task_call(Sys::vm_map, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        vm_address_t a = 0;
        if (!get_user(a, address) || !put_user(address, a)) return KERN_INVALID_ADDRESS;
        if (flags & ~VM_FLAGS_ANYWHERE) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "flags {:#x}", flags);
        if (mask & (mask + 1)) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "mask {:#x} is not 2^n - 1", mask);
        if (object == MACH_PORT_NULL) {  // fresh zero-filled memory, as vm_allocate
            kern_return_t kr = t.vm.map(a, size, mask, flags, nullptr, offset, false, cur, max, inheritance);
            if (kr == KERN_SUCCESS) (void)put_user(address, a);
            return kr;
        }
        tasks::MemoryEntry* e = target_memory_entry(self, object);
        if (!e) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{:#x} is not a memory entry", object);
        if ((e->protection & cur) != cur) return KERN_PROTECTION_FAILURE;  // wider than the entry allows
        if (offset + size > e->size || offset + size < offset) return KERN_INVALID_ARGUMENT;
        // max is checked as given, before the entry's protection clips it: the clipping would drop
        // stray bits and let the call succeed (GNU Mach and XNU reject them before anything else).
        if (max & ~VM_PROT_ALL) return KERN_INVALID_ARGUMENT;
        kern_return_t kr = t.vm.map(a, size, mask, flags, e->object, e->offset + offset, copy != FALSE, cur,
                                    max & e->protection, inheritance);
        if (kr == KERN_SUCCESS) (void)put_user(address, a);
        return kr;
    });
}

}  // namespace machsim::gate
