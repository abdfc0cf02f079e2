// Helpers shared by the system calls: finding the caller, turning a task name
// into a task, and writing results through task pointers.
#pragma once

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

// The task a task-port name in the caller's space denotes (what MIG's COPY_SEND
// of the task port would reach). Null when it names no live task.
tasks::Task* target_task(tasks::Thread& self, mach_port_name_t task_name);

// The thread a thread-port name in the caller's space denotes; null if none lives.
tasks::Thread* target_thread(tasks::Thread& self, mach_port_name_t thread_name);

// Writes a result through a task pointer; false if it is not writable.
template <class T>
[[nodiscard]] bool put_user(T* where, const T& value) {
    return machine::copy_user(where, &value, sizeof value);
}
template <class T>
[[nodiscard]] bool get_user(T& value, const T* from) {
    return machine::copy_user(&value, from, sizeof value);
}

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
