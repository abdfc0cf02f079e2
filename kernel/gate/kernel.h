// gate::Kernel: the machine, the IPC layer and the task table wired together,
// the run loop, and the run report. The public machsim::Kernel (machsim.h) is
// a thin facade over it that also starts the bootstrap server.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernel/gate/devices.h"
#include "kernel/gate/host.h"
#include "kernel/machine/clock.h"
#include "kernel/machine/console_device.h"
#include "kernel/machine/disk_device.h"
#include "kernel/machine/irq_controller.h"
#include "kernel/machine/scheduler.h"
#include "kernel/machine/stack_pool.h"
#include "kernel/machine/timer_queue.h"
#include "kernel/machine/trace_bus.h"
#include "machsim.h"
#include "ports/env.h"
#include "tasks/memory_entry.h"
#include "tasks/task.h"

namespace machsim::gate {

class Kernel;
// Routes faults in task code to k.handle_fault (exceptions.cpp).
void install_fault_path(Kernel& k);

// Config's policy, for the scheduler.
inline machine::PolicyConfig policy_config(const Config& cfg) {
    static_assert(static_cast<int>(Policy::Random) == static_cast<int>(machine::PolicyKind::Random) &&
                  static_cast<int>(Policy::Pct) == static_cast<int>(machine::PolicyKind::Pct));
    return {static_cast<machine::PolicyKind>(cfg.policy), cfg.seed, cfg.pct_depth, cfg.pct_steps};
}

class Kernel {
public:
    explicit Kernel(const Config& cfg);
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    // The kernel whose run() is executing on this host thread, if any.
    static Kernel* current() { return running_; }
    // The thread running now; null on the idle context or outside run().
    tasks::Thread* current_thread() {
        return sched.on_idle() ? nullptr : static_cast<tasks::Thread*>(sched.current());
    }

    // Starts the bootstrap name server (a daemon task holding the bootstrap
    // port's receive right); tasks spawned afterwards get a send right to it.
    void boot(std::function<int()> bootstrap_server);
    // A new task running body. Its bootstrap port (special port and bootstrap_port) is
    // a copy of `parent`'s (task_spawn), or from the host the bootstrap server's.
    uint32_t spawn(std::string name, std::function<int()> body, SpawnOptions opts,
                   const tasks::Task* parent = nullptr);
    // A new task with no thread (task_create): it keeps the run going from its first
    // thread on, and ends when its last thread ends, or with the run if it never had one.
    tasks::Task& create_task(std::string name, SpawnOptions opts, const tasks::Task* parent);
    // Attaches a sink and introduces the tasks that already exist to it (events with seq 0).
    void attach(TraceSink* sink);
    void detach(TraceSink* sink) { trace.detach(sink); }
    RunReport run();

    // The census of every right (ipc::Census): one line per disagreement, none when all is well.
    std::vector<std::string> check_invariants();

    tasks::Task* task(uint32_t id) { return id && id <= tasks_.size() ? tasks_[id - 1].get() : nullptr; }
    // The id the next task made will have (tasks are numbered from 1, in order).
    uint32_t next_task_id() const { return static_cast<uint32_t>(tasks_.size()) + 1; }

    // Adds a thread to t running body; null when Config::max_threads threads are
    // alive or the host has no stack for it.
    tasks::Thread* start_thread(tasks::Task& t, std::function<int()> body, bool main);
    bool at_thread_limit() const { return cfg.max_threads && live_threads_ >= cfg.max_threads; }
    // Stops every thread of t (each unwinds at its next kernel exit); a task with no
    // thread ends at once.
    void kill_task(tasks::Task& t, TaskEnd why);
    // Takes a new memory entry; returns its port (the kernel keeps the receive right).
    ipc::Port* adopt_memory_entry(std::unique_ptr<tasks::MemoryEntry> entry);
    void drop_memory_entry(ipc::Port* p);

    // The public facade that owns this kernel (for programs started from tasks).
    void* facade = nullptr;

    // Called on a thread's own stack when its body has ended.
    void thread_finished(tasks::Thread* t, TaskEnd how, int code, std::string detail);
    // Makes t unwind at its next kernel exit (it is woken if it waits).
    void kill(tasks::Thread* t, TaskEnd why);
    // task_suspend / task_resume (also stop and continue signals). resume_task is
    // false when the task was not suspended.
    void suspend_task(tasks::Task& t, tasks::Thread& caller);
    bool resume_task(tasks::Task& t);

    // Faults and exceptions (exceptions.cpp). handle_fault runs as the faulting
    // thread on its fault stack: true resumes it, false means it has finished.
    bool handle_fault(tasks::Thread& t, const machine::FaultInfo& f);
    kern_return_t raise_exception(tasks::Thread& t, const tasks::ExceptionPort& ep, int level,
                                  exception_type_t type, int64_t code, int64_t subcode);

    // Signals (signals.cpp).
    void post_signal(tasks::Task& target, int signal);
    // At a kernel exit with t.attention set: unwind a killed thread, deliver signals.
    void kernel_exit(tasks::Thread& t);
    // A fault nobody handled becomes `signal`: its handler runs (true: resume) or the task ends (false).
    bool fault_signal(tasks::Thread& t, int signal, const std::string& what);
    // Ends the task as `signal`'s default action does.
    void end_by_signal(tasks::Task& task, int signal, std::string detail);
    // Whether the task has signals to deliver; sets its threads' attention if so.
    void signals_changed(tasks::Task& task);

    const Config cfg;
    machine::Clock clock;
    machine::TraceBus trace{clock};
    machine::TimerQueue timers;
    machine::StackPool stacks{cfg.stack_size};
    machine::Scheduler sched{stacks, clock, timers, trace, cfg.quantum, policy_config(cfg)};
    machine::MemoryObjects memory_objects;  // before everything that holds memory objects
    ipc::Env env{sched, clock, trace};
    machine::IrqController irq{clock, trace};
    machine::ConsoleDevice console;
    machine::DiskDevice disk;  // none until the host attaches one (machsim::Kernel::add_disk)
    Devices devices{*this};
    Host host{*this};

private:
    void finish_task(tasks::Task& task);
    void collect_deadlock(RunReport& report);
    // The live tasks holding a send or send-once right to one of `ports`.
    std::vector<BlockedThread::TaskRef> senders_of(const std::vector<const ipc::Port*>& ports) const;
    void shut_down_everything(bool time_limit);
    void check_leaks(RunReport& report);
    RunReport make_report(bool time_limit);

    static inline thread_local Kernel* running_ = nullptr;
    std::vector<std::unique_ptr<tasks::Task>> tasks_;
    uint32_t next_thread_ = 0;
    uint32_t live_ordinary_ = 0;  // tasks alive that are not daemons
    uint32_t live_threads_ = 0;   // threads started and not yet finished, in all tasks (Config::max_threads)
    ipc::Port* bootstrap_port_ = nullptr;  // a kernel reference, to make send rights for new tasks
    std::map<uint32_t, std::unique_ptr<tasks::MemoryEntry>> memory_entries_;  // by port number
    bool ran_ = false;
};

}  // namespace machsim::gate
