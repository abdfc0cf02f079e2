// Entry: the bookkeeping of one system call. Constructing it enters the kernel
// (time passes, a due timer interrupt preempts, the trace records the call);
// leave() records the result and, for a thread being terminated, starts the
// unwinding of its task body.
#pragma once

#include <exception>

#include "kernel/gate/kernel.h"
#include "kernel/gate/syscalls.h"

namespace machsim::gate {

class Entry {
public:
    Entry(Kernel& k, tasks::Thread& self, Sys call) : k_(k), self_(self), call_(call) {
        k.sched.kernel_entry(k.cfg.syscall_cost);
        MS_TRACE(k.trace, Event{.kind = EventKind::SyscallEnter, .text = sys_name(call)});
        if (__builtin_expect(self.kill_pending, 0) && std::uncaught_exceptions() == 0) throw tasks::ThreadKilled{};
    }

    [[nodiscard]] int leave(int code) {
        MS_TRACE(k_.trace, Event{.kind = EventKind::SyscallLeave, .code = code, .text = sys_name(call_)});
        if (__builtin_expect(self_.kill_pending, 0) && std::uncaught_exceptions() == 0) throw tasks::ThreadKilled{};
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
