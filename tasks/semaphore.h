// Semaphores (XNU's semaphore_*), named by ports whose receive right the
// kernel holds. A semaphore belongs to the task that created it; it is
// destroyed with that task or by semaphore_destroy.
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

    Task* owner;                 // only it may destroy the semaphore
    int value;                   // signals not yet consumed
    bool active = true;          // false after semaphore_destroy: every operation gives KERN_TERMINATED
    ipc::Port* port = nullptr;   // its kernel object port
    machine::List<machine::Context, &machine::Context::wait_hook> waiters;  // FIFO
};

}  // namespace machsim::tasks
