// Signals: BSD's, per task, kept in machsim's namespace (machsim.h). A signal
// is posted to a task (task_signal, or a fault nobody handled) and delivered
// when one of its threads next leaves the kernel; a task whose threads all
// wait in the kernel has one of them interrupted for it.
#include <fmt/format.h>

#include <exception>

#include "kernel/gate/sys_common.h"

namespace machsim::gate {

namespace {

enum class DefaultAction { Terminate, Ignore, Stop, Continue };

// BSD's table (XNU's sigprop): what a signal does when nobody catches it.
DefaultAction default_of(int s) {
    switch (s) {
    case sig::URG:
    case sig::CHLD:
    case sig::IO:
    case sig::WINCH:
    case sig::INFO: return DefaultAction::Ignore;
    case sig::STOP:
    case sig::TSTP:
    case sig::TTIN:
    case sig::TTOU: return DefaultAction::Stop;
    case sig::CONT: return DefaultAction::Continue;
    default: return DefaultAction::Terminate;
    }
}

constexpr SignalSet kUncatchable = signal_bit(sig::KILL) | signal_bit(sig::STOP);
constexpr SignalSet kStops =
    signal_bit(sig::STOP) | signal_bit(sig::TSTP) | signal_bit(sig::TTIN) | signal_bit(sig::TTOU);

bool valid(int s) { return s >= 1 && s < sig::kCount; }

bool discards(const SignalAction& a, int s) {
    return a.kind == SignalAction::Ignore || (a.kind == SignalAction::Default && default_of(s) == DefaultAction::Ignore);
}

// space = the task the action applies to (the actor may be the task that posted it).
void trace_action(Kernel& k, const tasks::Task& target, int s, const char* what) {
    MS_TRACE(k.trace, Event{.kind = EventKind::SignalAction, .space = target.id, .code = s, .text = what});
}

// Runs the handler as the thread itself (task code), with the signal and the
// action's mask blocked meanwhile. An exception the handler throws passes.
void run_handler(tasks::Thread& t, int s, const SignalAction& a) {
    struct Restore {
        tasks::Thread& t;
        SignalSet blocked;
        int exceptions;
        ~Restore() {
            t.task.signals.blocked = blocked;
            // Back in the kernel, or on the way out to task code with the handler's exception.
            t.in_kernel = std::uncaught_exceptions() == exceptions;
        }
    } restore{t, t.task.signals.blocked, std::uncaught_exceptions()};
    t.task.signals.blocked |= (a.mask | signal_bit(s)) & ~kUncatchable;
    t.in_kernel = false;
    a.handler(s);
}

}  // namespace

void Kernel::signals_changed(tasks::Task& task) {
    if (!task.signals.deliverable()) return;
    bool someone_runs = false;
    tasks::Thread* sleeper = nullptr;
    for (auto& th : task.threads) {
        machine::RunState st = th->state();
        if (st == machine::RunState::Dead) continue;
        th->attention = true;
        if (th->held()) continue;
        if (st == machine::RunState::Ready || st == machine::RunState::Running || st == machine::RunState::New) {
            someone_runs = true;
        } else if (st == machine::RunState::Blocked && th->abort_wait && !th->in_fault() && !sleeper) {
            sleeper = th.get();
        }
    }
    // It runs the handler on its way out of the kernel; then its call restarts.
    if (!someone_runs && sleeper) sleeper->abort_wait(sleeper);
}

void Kernel::post_signal(tasks::Task& target, int s) {
    MS_TRACE(trace, Event{.kind = EventKind::SignalPost, .space = target.id, .code = s});
    if (!target.alive) return;
    tasks::SignalState& st = target.signals;
    if (s == sig::KILL) {
        trace_action(*this, target, s, "terminate");
        end_by_signal(target, s, signal_name(s));
        return;
    }
    if (s == sig::CONT) {
        st.pending &= ~kStops;  // a continue cancels stops not yet delivered, and the reverse
        if (st.stopped) {
            st.stopped = false;
            trace_action(*this, target, s, "continue");
            (void)resume_task(target);
        } else if (st.actions[s].kind != SignalAction::Handle) {
            trace_action(*this, target, s, "ignore");  // nothing to continue
        }
        if (st.actions[s].kind != SignalAction::Handle) return;
    } else if (signal_bit(s) & kStops) {
        st.pending &= ~signal_bit(sig::CONT);
    }
    if (discards(st.actions[s], s)) {
        trace_action(*this, target, s, "ignore");
        return;
    }
    st.pending |= signal_bit(s);
    signals_changed(target);
}

void Kernel::end_by_signal(tasks::Task& task, int s, std::string detail) {
    if (task.end == TaskEnd::Running) {
        task.end = TaskEnd::Signaled;
        task.exit_code = s;
        task.detail = std::move(detail);
    }
    kill_task(task, TaskEnd::Signaled);
}

void Kernel::kernel_exit(tasks::Thread& t) {
    for (;;) {
        if (t.kill_pending) {
            if (std::uncaught_exceptions() > 0) return;  // already unwinding
            t.in_kernel = false;
            throw tasks::ThreadKilled{};
        }
        tasks::SignalState& st = t.task.signals;
        // When nothing is left for any thread of the task, every thread's mark
        // goes, so that no wait (the handler's own included) is interrupted for nothing.
        auto clear_marks = [&t] {
            for (auto& th : t.task.threads)
                if (!th->kill_pending) th->attention = false;
        };
        SignalSet ready = st.deliverable();
        if (!ready) {
            clear_marks();
            return;
        }
        if (std::uncaught_exceptions() > 0) return;  // not while unwinding; later
        int s = __builtin_ctz(ready) + 1;  // lowest number first, as BSD does
        st.pending &= ~signal_bit(s);
        if (!st.deliverable()) clear_marks();
        SignalAction a = st.actions[s];
        if (a.kind == SignalAction::Handle) {
            trace_action(*this, t.task, s, "handler");
            run_handler(t, s, a);
            continue;
        }
        if (a.kind == SignalAction::Ignore) {
            trace_action(*this, t.task, s, "ignore");
            continue;
        }
        switch (default_of(s)) {
        case DefaultAction::Ignore:
        case DefaultAction::Continue: trace_action(*this, t.task, s, "ignore"); break;
        case DefaultAction::Stop:
            if (!st.stopped) {
                st.stopped = true;
                trace_action(*this, t.task, s, "stop");
                suspend_task(t.task, t);  // back here after SIGCONT
            } else {
                trace_action(*this, t.task, s, "ignore");  // already stopped
            }
            break;
        case DefaultAction::Terminate:
            trace_action(*this, t.task, s, "terminate");
            end_by_signal(t.task, s, signal_name(s));
            break;
        }
    }
}

bool Kernel::fault_signal(tasks::Thread& t, int s, const std::string& what) {
    MS_TRACE(trace, Event{.kind = EventKind::SignalPost, .space = t.task.id, .code = s});
    tasks::SignalState& st = t.task.signals;
    SignalAction a = st.actions[s];
    // A caught fault signal runs its handler, then the instruction runs again
    // (the handler is expected to have fixed the cause). Blocked or ignored, it
    // would only fault forever: the task ends instead. abort() never returns.
    if (a.kind == SignalAction::Handle && !(st.blocked & signal_bit(s))) {
        trace_action(*this, t.task, s, "handler");
        try {
            run_handler(t, s, a);
        } catch (const tasks::ThreadKilled&) {
        } catch (const std::exception& e) {
            thread_finished(&t, TaskEnd::Crashed, 0, fmt::format("{} handler threw: {}", signal_name(s), e.what()));
            return false;
        } catch (...) {
            thread_finished(&t, TaskEnd::Crashed, 0, fmt::format("{} handler threw", signal_name(s)));
            return false;
        }
        if (t.kill_pending) {
            thread_finished(&t, t.kill_reason, 0, {});
            return false;
        }
        if (s != sig::ABRT) return true;
    }
    trace_action(*this, t.task, s, "terminate");
    end_by_signal(t.task, s, fmt::format("{}: {}", signal_name(s), what));
    thread_finished(&t, TaskEnd::Signaled, s, {});
    return false;
}

// --- the calls ---------------------------------------------------------------

kern_return_t sys_signal_action(int s, const SignalAction* act, SignalAction* old) {
    return call(Sys::signal_action, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if (!valid(s)) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not a signal number", s);
        tasks::SignalState& st = self.task.signals;
        SignalAction a;
        if (act) {
            if (!get_user(a, act)) return KERN_INVALID_ADDRESS;
            if (a.kind > SignalAction::Handle)
                return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not an action kind", static_cast<int>(a.kind));
            if (a.kind == SignalAction::Handle && !a.handler)
                return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "a Handle action needs a handler");
            if ((signal_bit(s) & kUncatchable) && a.kind != SignalAction::Default)
                return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} cannot be caught or ignored", signal_name(s));
        }
        // `old` first: a call that fails changes nothing (act was read already, so they may alias).
        if (old && !put_user(old, st.actions[s])) return KERN_INVALID_ADDRESS;
        if (act) {
            st.actions[s] = a;
            if (discards(a, s)) st.pending &= ~signal_bit(s);  // POSIX: pending ones are discarded too
        }
        return KERN_SUCCESS;
    });
}

kern_return_t sys_signal_mask(MaskHow how, SignalSet set, SignalSet* old) {
    return call(Sys::signal_mask, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        tasks::SignalState& st = self.task.signals;
        if (how != MaskHow::Block && how != MaskHow::Unblock && how != MaskHow::SetMask)
            return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not a MaskHow", static_cast<int>(how));
        if (old && !put_user(old, st.blocked)) return KERN_INVALID_ADDRESS;  // a call that fails changes nothing
        switch (how) {
        case MaskHow::Block: st.blocked |= set; break;
        case MaskHow::Unblock: st.blocked &= ~set; break;
        case MaskHow::SetMask: st.blocked = set; break;
        }
        st.blocked &= ~kUncatchable;
        k.signals_changed(self.task);  // what was unblocked is delivered as this call returns
        return KERN_SUCCESS;
    });
}

kern_return_t sys_signal_pending(SignalSet* out) {
    return call(Sys::signal_pending, [&](Kernel&, tasks::Thread& self) -> kern_return_t {
        return put_user(out, self.task.signals.pending) ? KERN_SUCCESS : KERN_INVALID_ADDRESS;
    });
}

kern_return_t sys_task_signal(mach_port_name_t task, int s) {
    return task_call(Sys::task_signal, task, [&](Kernel& k, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        if (s != 0 && !valid(s)) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not a signal number", s);
        if (s != 0) k.post_signal(t, s);
        return KERN_SUCCESS;
    });
}

}  // namespace machsim::gate
