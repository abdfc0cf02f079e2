// Helpers shared by the system calls: finding the caller, turning a task name
// into a task, and writing results through task pointers.
#pragma once

#include <algorithm>

#include "kernel/gate/entry.h"
#include "kernel/gate/kernel.h"
#include "kernel/machine/usercopy.h"
#include "ports/env.h"

namespace machsim::gate {

// The calling thread, or null when called from outside any task.
inline tasks::Thread* caller() {
    Kernel* k = Kernel::current();
    return k ? k->current_thread() : nullptr;
}

// The kernel object behind the port that `name`, a send right in the caller's
// space, names, when that port is a `kind` object's (what MIG's COPY_SEND of it
// would reach); null otherwise, or when the object is gone.
void* target_kobject(tasks::Thread& self, mach_port_name_t name, ipc::KobjectKind kind);

// A new send right to p (a kernel object's port) in the caller's space: a new
// uref each time, as XNU's traps give. MACH_PORT_NULL when p is null or the
// space has no name left.
mach_port_name_t send_right_to(tasks::Thread& self, ipc::Port* p);

// A send-right argument of a MIG call (`port`, copied in COPY_SEND as the request
// would carry it) into *out: a send right the caller now owns, none for
// MACH_PORT_NULL, or `dead` for MACH_PORT_DEAD or a dead name.
// MACH_SEND_INVALID_RIGHT when `port` names no send right (nothing changes).
kern_return_t copyin_send_arg(Kernel& k, tasks::Thread& self, mach_port_name_t port, tasks::HeldSend* out);

inline tasks::Task* target_task(tasks::Thread& self, mach_port_name_t name) {
    return static_cast<tasks::Task*>(target_kobject(self, name, ipc::KobjectKind::Task));
}
inline tasks::Thread* target_thread(tasks::Thread& self, mach_port_name_t name) {
    return static_cast<tasks::Thread*>(target_kobject(self, name, ipc::KobjectKind::Thread));
}
inline tasks::Semaphore* target_semaphore(tasks::Thread& self, mach_port_name_t name) {
    return static_cast<tasks::Semaphore*>(target_kobject(self, name, ipc::KobjectKind::Semaphore));
}
inline tasks::MemoryEntry* target_memory_entry(tasks::Thread& self, mach_port_name_t name) {
    return static_cast<tasks::MemoryEntry*>(target_kobject(self, name, ipc::KobjectKind::MemoryEntry));
}

// Writes a result through a task pointer; false if it is not writable.
template <class T>
[[nodiscard]] bool put_user(T* where, const T& value) {
    return machine::copy_user(where, &value, sizeof value);
}
template <class T>
[[nodiscard]] bool get_user(T& value, const T* from) {
    return machine::copy_user(&value, from, sizeof value);
}

// The room a MIG out-array gives (*count elements, as the caller says), bounded by
// the array's maximum as MIG's server stub bounds it. False if *count cannot be read.
[[nodiscard]] inline bool out_room(const mach_msg_type_number_t* count, mach_msg_type_number_t max,
                                   mach_msg_type_number_t& room) {
    if (!get_user(room, count)) return false;
    room = std::min(room, max);
    return true;
}

// Out-of-line data for the caller (the result of vm_read, device_read): n bytes in a
// new region of its space, *data its address (0 for none) and *count = n.
kern_return_t give_bytes(tasks::Thread& self, const void* bytes, std::size_t n, vm_offset_t* data,
                         mach_msg_type_number_t* count);

// Runs body(kernel, caller) as system call `sys`.
template <class F>
kern_return_t call(Sys sys, F&& body) {
    tasks::Thread* self = caller();
    if (!self) return MACH_SEND_INVALID_DEST;  // not inside a task: there is no space to name anything in
    Kernel& k = *Kernel::current();
    Entry entry(k, *self, sys);
    return entry.leave(body(k, *self));
}

// Runs body(kernel, caller, target task) for a call aimed at a task port.
// A name that is not a send right to a live task fails as MIG's send would.
template <class F>
kern_return_t task_call(Sys sys, mach_port_name_t task, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        tasks::Task* t = target_task(self, task);
        if (!t)
            return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right to a live task's port", task);
        return body(k, self, *t);
    });
}

// Runs body(kernel, caller, target thread) for a call aimed at a thread port.
template <class F>
kern_return_t thread_call(Sys sys, mach_port_name_t thread, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        tasks::Thread* t = target_thread(self, thread);
        if (!t) return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right to a live thread", thread);
        return body(k, self, *t);
    });
}

}  // namespace machsim::gate
