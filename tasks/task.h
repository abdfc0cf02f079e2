// A task: an IPC space (its names), an address space (its memory), and its
// threads. The kernel's task table owns tasks; a task owns its threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernel/machine/address_space.h"
#include "kernel/machine/context.h"
#include "kernel/machine/fault.h"
#include "kernel/machine/list.h"
#include "machsim.h"
#include "ports/port.h"
#include "ports/space.h"
#include "ports/waiter.h"
#include "tasks/exceptions.h"
#include "tasks/semaphore.h"

namespace machsim::tasks {

class Task;

// Thrown at a thread's next kernel exit when it is being terminated; it unwinds
// the task body (running its destructors) up to the thread's entry. It is not a
// std::exception, so `catch (const std::exception&)` in task code lets it pass.
struct ThreadKilled {};

class Thread final : public machine::Context {
public:
    Thread(Task& task, uint32_t id, ipc::Env& env, std::function<int()> body);

    Task& task;
    const uint32_t id;
    ipc::Waiter waiter;               // its IPC wait state
    std::function<int()> body;        // run once, on its own stack
    mach_port_name_t mig_reply = MACH_PORT_NULL;  // mig_get_reply_port, allocated on first use
    ipc::Port* thread_port = nullptr; // its kernel object port, alive while the thread is
    uint32_t suspend_count = 0;       // thread_suspend minus thread_resume
    // Made by thread_create and not run yet: it has registers only here (thread_get_state,
    // thread_set_state), and starts at start_regs.rip when it first runs.
    bool unstarted = false;
    machine::UserRegisters start_regs{};
    mach_port_name_t semaphore_name = MACH_PORT_NULL;  // the name of the semaphore it waits on (reports)
    bool main = false;                // the task's first thread: when it returns, the task ends
    uint64_t started_at = 0;          // the virtual time it was made
    uint64_t compute_ticks = 0;       // virtual time spent in compute(): its user time (thread_info)
    std::shared_ptr<void> user_data;  // a user-space library's per-thread record (C Threads); freed with it

    ExceptionPorts exc_ports;          // thread_set_exception_ports
    // Set by its first thread_set_exception_ports that succeeds: until then, as XNU (which
    // makes a thread's table of handlers then), thread_get_exception_ports reports none.
    bool exc_ports_made = false;
    ipc::Port* exc_reply = nullptr;    // where handlers' replies come back; the kernel holds its receive right

    // Termination: set by the kernel; the thread unwinds at its next kernel exit.
    bool kill_pending = false;
    TaskEnd kill_reason = TaskEnd::ShutDown;
};

class Task {
public:
    Task(ipc::Env& env, machine::MemoryObjects& objects, uint32_t id, std::string name, bool daemon);
    ~Task();
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;

    const uint32_t id;
    const std::string name;
    const bool daemon;

    machine::AddressSpace vm;  // declared before `space`, which points at it
    ipc::IpcSpace space;
    std::vector<std::unique_ptr<Thread>> threads;
    uint32_t live_threads = 0;
    uint32_t suspend_count = 0;  // task_suspend minus task_resume

    ipc::Port* task_port = nullptr;  // its kernel object port; the kernel holds the receive right
    // Created by this task and owned here (semaphore_new): each is ended with the task, and
    // freed once it is ended and no send right to its port is left (semaphore_release).
    machine::List<Semaphore, &Semaphore::task_hook> semaphores;
    ExceptionPorts exc_ports;  // task_set_exception_ports: for exceptions its threads do not handle
    SignalState signals;
    mach_port_name_t self_name = MACH_PORT_NULL;       // mach_task_self()
    mach_port_name_t bootstrap_name = MACH_PORT_NULL;  // bootstrap_port: its copy of `bootstrap`, made at its start
    // TASK_BOOTSTRAP_PORT (task_set_special_port): what task_get_special_port gives,
    // and what the tasks it spawns start with.
    HeldSend bootstrap;
    bool privileged = false;  // SpawnOptions::privileged: may have the master device port
    std::shared_ptr<void> user_data;  // a user-space library's per-task state (C Threads); freed with it

    bool alive = true;
    bool ending = false;  // its threads are being ended (Kernel::kill_task): no thread starts in it any more
    bool keeps_run = false;  // counted among the ordinary tasks the run waits for (from its first thread on)
    TaskEnd end = TaskEnd::Running;
    int exit_code = 0;
    std::string detail;
};

// Releases everything a task holds: every right in its space (firing whatever
// depends on them), its semaphores, its task port, its memory. The threads must be gone.
void teardown(ipc::Env& env, Task& task);

// A thread has ended: its thread port dies (rights to it become dead names),
// its exception reply port too, and the kernel lets go of its exception ports.
void release_thread_ports(ipc::Env& env, Thread& t);

// A new semaphore owned by t, in t.semaphores; its port is the caller's to make.
Semaphore& semaphore_new(Task& t, int value);

// Ends a semaphore: waiters return KERN_TERMINATED, later operations too.
void semaphore_end(ipc::Env& env, Semaphore& s);

// Ends c's wait on a semaphore with `result`. c has already left the semaphore's
// waiters; from here on it refers to the semaphore no more (which may be freed before c runs).
void semaphore_wake(ipc::Env& env, machine::Context* c, kern_return_t result);

// Frees an ended semaphore once no send right to it is left: its port is destroyed
// (if it still has one), then the semaphore itself. s is gone on return.
void semaphore_release(ipc::Env& env, Semaphore& s);

}  // namespace machsim::tasks
