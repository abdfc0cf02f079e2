// Semaphores (XNU's semaphore_*), named by ports whose receive right the
// kernel holds. A semaphore belongs to the task that created it; it is ended
// with that task or by semaphore_destroy, and freed once it is ended and the
// last send right to its port is gone (semaphore_release).
#pragma once

#include <cstdint>

#include "kernel/machine/context.h"
#include "kernel/machine/list.h"
#include "ports/port.h"

namespace machsim::tasks {

class Task;

struct Semaphore {
    Semaphore(Task& owner, int value) : owner(&owner), value(value) {}
    ~Semaphore() { MS_ASSERT(waiters.empty(), "semaphore freed with waiters"); }
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    Task* owner;                 // only it may destroy the semaphore
    int value;                   // signals not yet consumed
    bool active = true;          // false once ended: every operation gives KERN_TERMINATED
    ipc::Port* port = nullptr;   // its kernel object port, until semaphore_release
    // FIFO. A waiting thread's wait_object points here only while it is in this list
    // (semaphore_wake), so nothing refers to an ended semaphore but its port.
    machine::List<machine::Context, &machine::Context::wait_hook> waiters;
    machine::ListHook task_hook;  // in owner->semaphores, from semaphore_new until it is freed
};

}  // namespace machsim::tasks
