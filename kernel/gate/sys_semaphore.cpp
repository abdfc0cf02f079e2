// Semaphores (R26): XNU's semaphore_* calls on semaphores named by ports.
#include "kernel/gate/sys_common.h"
#include "mach/sync_policy.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

// The semaphore that `name` (a send right in the caller's space) names. A name
// that names none answers KERN_INVALID_ARGUMENT, for every semaphore call.
kern_return_t find_semaphore(Kernel& k, tasks::Thread& self, mach_port_name_t name, tasks::Semaphore*& out) {
    out = target_semaphore(self, name);
    return out ? KERN_SUCCESS : ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{:#x} is not a semaphore", name);
}

template <class F>
kern_return_t semaphore_call(Sys sys, mach_port_name_t name, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        tasks::Semaphore* s = nullptr;
        if (kern_return_t kr = find_semaphore(k, self, name, s)) return kr;
        if (!s->active) return KERN_TERMINATED;
        return body(k, self, *s);
    });
}

void on_timeout(machine::Context* c) {
    auto* s = static_cast<tasks::Semaphore*>(c->wait_object);
    s->waiters.remove(c);
    Kernel& k = *Kernel::current();
    MS_TRACE(k.trace, Event{.kind = EventKind::Timer, .extra = c->trace_thread, .text = "semaphore timeout"});
    tasks::semaphore_wake(k.env, c, KERN_OPERATION_TIMED_OUT);
}

void on_abort(machine::Context* c) {
    auto* s = static_cast<tasks::Semaphore*>(c->wait_object);
    s->waiters.remove(c);
    tasks::semaphore_wake(Kernel::current()->env, c, KERN_ABORTED);
}

// Wakes the first waiter, or counts the signal when none waits.
void signal(Kernel& k, tasks::Semaphore& s) {
    if (machine::Context* c = s.waiters.pop_front()) {
        tasks::semaphore_wake(k.env, c, KERN_SUCCESS);
    } else {
        ++s.value;
    }
}

kern_return_t wait(Kernel& k, tasks::Thread& self, tasks::Semaphore& s, mach_port_name_t name,
                   const uint64_t* timeout) {
    if (s.value > 0) {
        --s.value;
        return KERN_SUCCESS;
    }
    if ((timeout && *timeout == 0) || self.kill_pending) return KERN_OPERATION_TIMED_OUT;
    if (self.wait_interrupted()) return KERN_ABORTED;  // a signal first; as an interrupted wait
    s.waiters.push_back(&self);
    self.wait_object = &s;
    self.semaphore_name = name;
    self.abort_wait = on_abort;
    if (timeout) k.sched.arm_timer(&self, k.clock.now() + *timeout, on_timeout);
    MS_TRACE(k.trace, Event{.kind = EventKind::Block, .port = s.port ? s.port->id() : 0, .space = self.task.id,
                            .name = name, .text = "semaphore"});
    kern_return_t kr = k.sched.block();
    MS_ASSERT(self.wait_object == &self.waiter, "a semaphore wait ended without semaphore_wake");
    return kr;
}

}  // namespace

kern_return_t sys_semaphore_create(mach_port_name_t task, mach_port_name_t* semaphore, int policy, int value) {
    return task_call(Sys::semaphore_create, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(semaphore, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        if (value < 0 || policy < 0 || policy > SYNC_POLICY_MAX) return KERN_INVALID_ARGUMENT;
        tasks::Semaphore& s = tasks::semaphore_new(t, value);
        s.port = ipc::port_create(k.env, t.id);
        s.port->kobject_kind = ipc::KobjectKind::Semaphore;
        s.port->kobject = &s;
        ipc::Carried c = ipc::make_send(s.port);
        mach_port_name_t name = MACH_PORT_NULL;
        if (ipc::copyout(self.task.space, c, &name) != KERN_SUCCESS) {  // nobody can reach it: free it now
            ipc::carried_release(k.env, c);
            tasks::semaphore_end(k.env, s);
            tasks::semaphore_release(k.env, s);
            return KERN_RESOURCE_SHORTAGE;
        }
        (void)put_user(semaphore, name);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_semaphore_destroy(mach_port_name_t task, mach_port_name_t semaphore) {
    return task_call(Sys::semaphore_destroy, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        tasks::Semaphore* s = nullptr;
        if (kern_return_t kr = find_semaphore(k, self, semaphore, s)) return kr;
        kern_return_t kr = KERN_SUCCESS;
        if (s->owner != &t) {
            kr = ipc::fail(k.env, KERN_INVALID_RIGHT, "the semaphore belongs to another task");
        } else if (!s->active) {
            kr = KERN_TERMINATED;
        } else {
            tasks::semaphore_end(k.env, *s);
        }
        // XNU's MIG stub moves the right into the request (semaphore_consume_ref_t is a
        // MOVE_SEND), and a request that fails is destroyed with it: the call uses up one
        // uref whatever it answers (docs/api.md, section 10). It may free the semaphore.
        (void)ipc::right_deallocate(self.task.space, semaphore);
        return kr;
    });
}

kern_return_t sys_semaphore_signal(mach_port_name_t semaphore) {
    return semaphore_call(Sys::semaphore_signal, semaphore, [](Kernel& k, tasks::Thread&, tasks::Semaphore& s) {
        signal(k, s);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_semaphore_wait_signal(mach_port_name_t wait_semaphore, mach_port_name_t signal_semaphore,
                                        const uint64_t* timeout_ticks) {
    return call(Sys::semaphore_wait_signal, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        // Both names first, the signalled one first, as XNU's trap looks them up.
        tasks::Semaphore *to_signal = nullptr, *to_wait = nullptr;
        if (kern_return_t kr = find_semaphore(k, self, signal_semaphore, to_signal)) return kr;
        if (kern_return_t kr = find_semaphore(k, self, wait_semaphore, to_wait)) return kr;
        if (!to_signal->active) return KERN_TERMINATED;  // and nothing is done
        // XNU registers the wait first, then signals; nothing can run in between, so
        // signalling first gives the same outcome, also when both are one semaphore.
        signal(k, *to_signal);
        if (!to_wait->active) return KERN_TERMINATED;
        return wait(k, self, *to_wait, wait_semaphore, timeout_ticks);
    });
}

kern_return_t sys_semaphore_signal_thread(mach_port_name_t semaphore, mach_port_name_t thread) {
    return call(Sys::semaphore_signal_thread, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        tasks::Thread* t = nullptr;  // MACH_PORT_NULL: any one waiter
        if (thread != MACH_PORT_NULL && !(t = target_thread(self, thread)))
            return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{:#x} is not a thread", thread);
        tasks::Semaphore* s = nullptr;
        if (kern_return_t kr = find_semaphore(k, self, semaphore, s)) return kr;
        if (!s->active) return KERN_TERMINATED;
        machine::Context* c = t ? (t->wait_object == s ? static_cast<machine::Context*>(t) : nullptr)
                                : s->waiters.front();
        if (!c) return KERN_NOT_WAITING;  // and, unlike semaphore_signal, no count is kept
        s->waiters.remove(c);
        tasks::semaphore_wake(k.env, c, KERN_SUCCESS);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_semaphore_signal_all(mach_port_name_t semaphore) {
    return semaphore_call(Sys::semaphore_signal_all, semaphore, [](Kernel& k, tasks::Thread&, tasks::Semaphore& s) {
        while (machine::Context* c = s.waiters.pop_front()) tasks::semaphore_wake(k.env, c, KERN_SUCCESS);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_semaphore_wait(mach_port_name_t semaphore) {
    return semaphore_call(Sys::semaphore_wait, semaphore, [&](Kernel& k, tasks::Thread& self, tasks::Semaphore& s) {
        return wait(k, self, s, semaphore, nullptr);
    });
}

kern_return_t sys_semaphore_timedwait(mach_port_name_t semaphore, const uint64_t* timeout_ticks) {
    return semaphore_call(Sys::semaphore_timedwait, semaphore, [&](Kernel& k, tasks::Thread& self, tasks::Semaphore& s) {
        return wait(k, self, s, semaphore, timeout_ticks);
    });
}

}  // namespace machsim::gate
