// Entry: the bookkeeping of one system call. Constructing it enters the kernel
// (time passes, a due timer interrupt preempts, the trace records the call);
// leave() records the result and, for a thread being terminated, starts the
// unwinding of its task body, or delivers the task's pending signals.
#pragma once

#include <exception>

#include "kernel/gate/kernel.h"
#include "kernel/gate/syscalls.h"

namespace machsim::gate {

class Entry {
public:
    Entry(Kernel& k, tasks::Thread& self, Sys call) : k_(k), self_(self), call_(call) {
        self.in_kernel = true;
        k.sched.kernel_entry(k.cfg.syscall_cost);
        MS_TRACE(k.trace, Event{.kind = EventKind::SyscallEnter, .text = sys_name(call)});
        if (__builtin_expect(self.kill_pending, 0) && std::uncaught_exceptions() == 0) {
            self.in_kernel = false;
            throw tasks::ThreadKilled{};
        }
    }

    // Whether this entry would be bookkeeping only: no trace sink listens, no timer
    // or quantum end falls due at it, and nothing awaits the thread (a kill, a
    // signal). The fast door (sys_msg.cpp) then does that bookkeeping itself, after
    // its work, which reads neither the clock nor the count of entries.
    static bool quiet(Kernel& k, tasks::Thread& self) {
        return !self.attention && !k.trace.active() && k.sched.entry_is_quiet(k.cfg.syscall_cost);
    }
    // The bookkeeping of a quiet entry, for a call done by then.
    static void quiet_done(Kernel& k) { k.sched.kernel_entry_quiet(k.cfg.syscall_cost); }
    // Enters as the first constructor does, when quiet() said so.
    struct Quiet {};
    Entry(Kernel& k, tasks::Thread& self, Sys call, Quiet) : k_(k), self_(self), call_(call) {
        self.in_kernel = true;
        quiet_done(k);
    }

    // Kernel exit: a thread with something pending (a kill, a signal) deals with it here.
    [[nodiscard]] int leave(int code) {
        MS_TRACE(k_.trace, Event{.kind = EventKind::SyscallLeave, .code = code, .text = sys_name(call_)});
        if (__builtin_expect(self_.attention, 0)) k_.kernel_exit(self_);
        self_.in_kernel = false;
        return code;
    }

    // True while the thread unwinds after being killed: calls must not block then.
    bool dying() const { return self_.kill_pending; }

private:
    Kernel& k_;
    tasks::Thread& self_;
    Sys call_;
};

}  // namespace machsim::gate
