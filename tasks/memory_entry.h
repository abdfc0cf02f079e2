// A memory entry: a port naming part of a memory object (mach_make_memory_entry),
// which vm_map maps into any task that holds a send right to it. It lives as long
// as send rights to its port do.
#pragma once

#include <cstddef>

#include "kernel/machine/memory_object.h"
#include "mach/vm_types.h"
#include "ports/port.h"

namespace machsim::tasks {

struct MemoryEntry {
    MemoryEntry(machine::MemoryObject* obj, std::size_t offset, std::size_t size, vm_prot_t protection)
        : object(obj), offset(offset), size(size), protection(protection) {
        object->ref();
    }
    ~MemoryEntry() { object->unref(); }
    MemoryEntry(const MemoryEntry&) = delete;
    MemoryEntry& operator=(const MemoryEntry&) = delete;

    machine::MemoryObject* object;
    std::size_t offset;      // of the entry's first byte in the object
    std::size_t size;
    vm_prot_t protection;    // the most a mapping of it may allow
    ipc::Port* port = nullptr;
};

}  // namespace machsim::tasks
