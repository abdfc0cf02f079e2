// Task special ports, thread_switch, the VM calls, compute, and the state a
// real system keeps in user space.
#include <algorithm>

#include "kernel/gate/sys_common.h"
#include "mach/task_special_ports.h"
#include "mach/thread_switch.h"
#include "ports/mqueue.h"
#include "ports/rights.h"

namespace machsim::gate {

const char* sys_name(Sys call) {
    static const char* const names[] = {
#define SYSCALL(name) #name,
#include "kernel/gate/syscalls.def"
#undef SYSCALL
    };
    return names[static_cast<int>(call)];
}

kern_return_t sys_task_get_special_port(mach_port_name_t task, int which, mach_port_name_t* port) {
    return task_call(Sys::task_get_special_port, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(port, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        ipc::Carried c;
        switch (which) {
        case TASK_KERNEL_PORT:
            if (!t.task_port) return KERN_FAILURE;
            c = ipc::make_send(t.task_port);
            break;
        case TASK_HOST_PORT:
            c = ipc::make_send(k.host.host_port());
            break;
        case TASK_BOOTSTRAP_PORT:
            if (!t.bootstrap.live()) {  // MACH_PORT_NULL, written above, unless it reads dead
                if (t.bootstrap.reads_dead()) (void)put_user(port, mach_port_name_t{MACH_PORT_DEAD});
                return KERN_SUCCESS;
            }
            c = ipc::copy_send(t.bootstrap.port);
            break;
        default: return KERN_INVALID_ARGUMENT;
        }
        mach_port_name_t n = MACH_PORT_NULL;
        if (ipc::copyout(self.task.space, c, &n) != KERN_SUCCESS) {
            ipc::carried_release(k.env, c);
            return KERN_RESOURCE_SHORTAGE;
        }
        (void)put_user(port, n);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_task_set_special_port(mach_port_name_t task, int which, mach_port_name_t port) {
    return task_call(Sys::task_set_special_port, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        // The right first, as the MIG request carries it; a call that then fails drops it.
        tasks::HeldSend given;
        if (kern_return_t kr = copyin_send_arg(k, self, port, &given); kr != KERN_SUCCESS) return kr;
        kern_return_t kr = KERN_SUCCESS;
        switch (which) {
        case TASK_BOOTSTRAP_PORT:
            std::swap(t.bootstrap, given);  // the old one is released below
            break;
        case TASK_KERNEL_PORT:
        case TASK_HOST_PORT:  // as XNU (with System Integrity Protection on)
            kr = ipc::fail(k.env, KERN_NO_ACCESS, "a task's {} port cannot be replaced",
                           which == TASK_KERNEL_PORT ? "kernel" : "host");
            break;
        default:
            kr = ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not a special port machsim lets be set", which);
        }
        tasks::release_held(k.env, given);
        return kr;
    });
}

namespace {
void on_sleep_over(machine::Context* c) { Kernel::current()->sched.wake(c, KERN_SUCCESS); }
void on_sleep_aborted(machine::Context* c) { Kernel::current()->sched.wake(c, KERN_ABORTED); }

// Sleeps until virtual time `deadline`: KERN_SUCCESS then, KERN_ABORTED when cut short.
// A signal first cuts it short. A thread being terminated (a destructor run by the
// unwinding) never sleeps; in a fault's signal handler wait_interrupted() would not
// say so, and the sleep would hold it (at the end of a run, for ever).
kern_return_t sleep_until(Kernel& k, tasks::Thread& self, uint64_t deadline) {
    if (self.kill_pending || self.wait_interrupted()) return KERN_ABORTED;
    k.sched.arm_timer(&self, std::min(deadline, machine::Clock::kEndOfTime), on_sleep_over);  // never wraps
    MS_TRACE(k.trace, Event{.kind = EventKind::Block, .text = "sleep"});
    self.abort_wait = on_sleep_aborted;
    return k.sched.block();
}
}  // namespace

kern_return_t sys_thread_switch(mach_port_name_t thread, int option, mach_msg_timeout_t time) {
    (void)thread;  // a hint for whom to run next; machsim's policies decide themselves
    return call(Sys::thread_switch, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        switch (option) {
        case SWITCH_OPTION_NONE:
        case SWITCH_OPTION_DEPRESS: k.sched.yield(); return KERN_SUCCESS;
        case SWITCH_OPTION_WAIT: return sleep_until(k, self, k.clock.now() + uint64_t{time} * ipc::kTicksPerMs);
        default: return KERN_INVALID_ARGUMENT;
        }
    });
}

kern_return_t sys_mach_wait_until(uint64_t deadline) {
    return call(Sys::mach_wait_until, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if (deadline <= k.clock.now()) return KERN_SUCCESS;  // already past: no wait, as XNU
        return sleep_until(k, self, deadline);
    });
}

kern_return_t sys_clock_sleep(mach_port_name_t clock, sleep_type_t type, mach_timespec_t time,
                              mach_timespec_t* wakeup) {
    return call(Sys::clock_sleep, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        // As XNU's clock_sleep_trap: MACH_PORT_NULL means the system clock, the only one that sleeps.
        const HostClock* c = nullptr;
        if (clock != MACH_PORT_NULL) {
            c = static_cast<const HostClock*>(target_kobject(self, clock, ipc::KobjectKind::Clock));
            if (!c) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{:#x} is not a clock", clock);
            if (c->id != SYSTEM_CLOCK) return ipc::fail(k.env, KERN_FAILURE, "only the system clock sleeps");
        }
        uint64_t ticks = 0;
        if ((type != TIME_ABSOLUTE && type != TIME_RELATIVE) || !gate::timespec_ticks(time, ticks))
            return KERN_INVALID_VALUE;
        const uint64_t now = k.clock.now();
        const uint64_t deadline = type == TIME_RELATIVE ? now + std::min(ticks, machine::Clock::kEndOfTime - now) : ticks;
        kern_return_t kr = deadline <= now ? KERN_SUCCESS : sleep_until(k, self, deadline);  // a time past: at once
        if (wakeup) (void)put_user(wakeup, ticks_timespec(k.clock.now()));  // XNU ignores a bad pointer here
        return kr;
    });
}

void sys_compute(uint64_t ticks) {
    (void)call(Sys::compute, [&](Kernel& k, tasks::Thread& self) {
        // A count past the end of virtual time (a negative one cast to unsigned, say) stops there.
        constexpr uint64_t kEndOfTime = machine::Clock::kEndOfTime;
        uint64_t now = k.clock.now();
        const uint64_t spent = now >= kEndOfTime ? 0 : std::min(ticks, kEndOfTime - now);
        self.compute_ticks += spent;
        k.sched.kernel_entry(spent);
        return KERN_SUCCESS;
    });
}

mach_port_name_t task_self_name() {
    tasks::Thread* self = caller();
    return self ? self->task.self_name : MACH_PORT_NULL;
}

mach_port_name_t bootstrap_name() {
    tasks::Thread* self = caller();
    return self ? self->task.bootstrap_name : MACH_PORT_NULL;
}

mach_port_name_t mig_reply_name() {
    tasks::Thread* self = caller();
    if (!self) return MACH_PORT_NULL;
    ipc::Entry* e = self->task.space.lookup(self->mig_reply);
    if (self->mig_reply == MACH_PORT_NULL || !e || !e->has(MACH_PORT_TYPE_RECEIVE))
        self->mig_reply = sys_mach_reply_port();
    return self->mig_reply;
}

void mig_reply_discard(mach_port_name_t name) {
    tasks::Thread* self = caller();
    if (!self || name != self->mig_reply) return;
    self->mig_reply = MACH_PORT_NULL;
    (void)sys_mach_port_mod_refs(self->task.self_name, name, MACH_PORT_RIGHT_RECEIVE, -1);
}

std::vector<std::string> check_invariants() {
    Kernel* k = Kernel::current();
    return k ? k->check_invariants() : std::vector<std::string>{};
}

std::shared_ptr<void>* thread_user_data() {
    tasks::Thread* self = caller();
    return self ? &self->user_data : nullptr;
}

std::shared_ptr<void>* task_user_data() {
    tasks::Thread* self = caller();
    return self ? &self->task.user_data : nullptr;
}

uint64_t clock_now() {
    Kernel* k = Kernel::current();
    return k ? k->clock.now() : 0;
}

}  // namespace machsim::gate
