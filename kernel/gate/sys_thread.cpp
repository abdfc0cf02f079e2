// Threads and tasks as objects: thread and task ports, starting, stopping,
// suspending, and tasks creating tasks.
#include <algorithm>
#include <vector>

#include "kernel/gate/sys_common.h"
#include "kernel/gate/thread_state.h"
#include "mach/mig_errors.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

bool runs(const tasks::Thread& t) { return t.state() != machine::RunState::Dead; }

// Adds one to t's suspend count; the first stops it (unless its task's count already does).
void hold(Kernel& k, tasks::Thread& t) {
    if (t.suspend_count++ == 0 && t.task.suspend_count == 0 && !t.kill_pending) k.sched.hold(&t);
}

// The registers of a thread thread_create makes, as XNU gives a new 64-bit thread:
// all zero but rflags (interrupts enabled, and the bit that is always set) and the
// user code segment (the host's, as a fault reports it).
machine::UserRegisters new_thread_registers() {
    machine::UserRegisters r{};
    r.rflags = 0x202;
    r.cs = 0x33;
    return r;
}

// The first code a thread made by thread_create runs: the function at its rip, given
// the six argument registers of the System V convention (rdi, rsi, rdx, rcx, r8, r9).
// It runs on the thread's own stack (rsp is not used); its return ends the thread.
int run_from_registers() {
    tasks::Thread* self = caller();
    const machine::UserRegisters r = self->start_regs;
    self->unstarted = false;
    using Start = void (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
    reinterpret_cast<Start>(r.rip)(r.rdi, r.rsi, r.rdx, r.rcx, r.r8, r.r9);
    return 0;
}

// thread_create and thread_create_running: a thread of `task` that will start at
// regs.rip, held (suspend count 1) unless `running`; *thread names it for the caller.
kern_return_t create_thread(Kernel& k, tasks::Thread& self, tasks::Task& task, const machine::UserRegisters& regs,
                            bool running, mach_port_name_t* thread) {
    if (task.ending) return ipc::fail(k.env, KERN_FAILURE, "task {} is ending", task.id);
    if (self.task.space.full())
        return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no name is free for the thread's port");
    tasks::Thread* t = k.start_thread(task, run_from_registers, false);
    if (!t) return KERN_RESOURCE_SHORTAGE;
    t->unstarted = true;
    t->start_regs = regs;
    if (!running) hold(k, *t);
    (void)put_user(thread, send_right_to(self, t->thread_port));
    return KERN_SUCCESS;
}

}  // namespace

mach_port_name_t sys_mach_thread_self() {
    mach_port_name_t n = MACH_PORT_NULL;
    (void)call(Sys::mach_thread_self, [&](Kernel&, tasks::Thread& self) {
        n = send_right_to(self, self.thread_port);  // a new uref each call, as on XNU
        return KERN_SUCCESS;
    });
    return n;
}

kern_return_t sys_thread_start(std::function<void()> body, mach_port_name_t* thread) {
    return call(Sys::thread_start, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if (!put_user(thread, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        // With no name left the thread would run while its caller got MACH_PORT_NULL ("not made").
        if (self.task.space.full())
            return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no name is free for the thread's port");
        tasks::Thread* t = k.start_thread(self.task, [b = std::move(body)]() mutable { b(); return 0; }, false);
        if (!t) return KERN_RESOURCE_SHORTAGE;
        (void)put_user(thread, send_right_to(self, t->thread_port));
        return KERN_SUCCESS;
    });
}

kern_return_t sys_thread_create(mach_port_name_t task, mach_port_name_t* thread) {
    return task_call(Sys::thread_create, task, [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(thread, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        return create_thread(k, self, t, new_thread_registers(), false, thread);
    });
}

kern_return_t sys_thread_create_running(mach_port_name_t task, thread_state_flavor_t flavor, const natural_t* state,
                                        mach_msg_type_number_t count, mach_port_name_t* thread) {
    if (count > THREAD_STATE_MAX) return MIG_ARRAY_TOO_LARGE;  // MIG's client stub refuses it before any message
    return task_call(Sys::thread_create_running, task,
                     [&](Kernel& k, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(thread, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        natural_t in[kLargestState] = {};
        if (count <= kLargestState && !machine::copy_user(in, state, count * sizeof(natural_t)))
            return KERN_INVALID_ADDRESS;
        machine::UserRegisters wanted{};
        if (kern_return_t kr = read_thread_state(k.env, flavor, in, count, wanted); kr != KERN_SUCCESS) return kr;
        machine::UserRegisters regs = new_thread_registers();
        machine::set_user_registers(regs, wanted);
        return create_thread(k, self, t, regs, true, thread);
    });
}

kern_return_t sys_thread_terminate(mach_port_name_t thread) {
    return thread_call(Sys::thread_terminate, thread, [](Kernel& k, tasks::Thread&, tasks::Thread& t) {
        k.kill(&t, TaskEnd::Terminated);  // the caller itself unwinds when this call returns
        return KERN_SUCCESS;
    });
}

kern_return_t sys_thread_suspend(mach_port_name_t thread) {
    return thread_call(Sys::thread_suspend, thread, [](Kernel& k, tasks::Thread&, tasks::Thread& t) {
        hold(k, t);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_thread_resume(mach_port_name_t thread) {
    return thread_call(Sys::thread_resume, thread, [](Kernel& k, tasks::Thread&, tasks::Thread& t) {
        if (t.suspend_count == 0) return KERN_FAILURE;  // not suspended
        if (--t.suspend_count == 0 && t.task.suspend_count == 0) {
            k.sched.release(&t);
            k.signals_changed(t.task);  // a signal posted while it was held may interrupt its wait now
        }
        return KERN_SUCCESS;
    });
}

kern_return_t sys_thread_get_state(mach_port_name_t thread, thread_state_flavor_t flavor, natural_t* state,
                                   mach_msg_type_number_t* count) {
    return thread_call(Sys::thread_get_state, thread, [&](Kernel& k, tasks::Thread&, tasks::Thread& t) -> kern_return_t {
        mach_msg_type_number_t room = 0;
        if (!out_room(count, THREAD_STATE_MAX, room)) return KERN_INVALID_ADDRESS;
        natural_t out[kLargestState] = {};
        mach_msg_type_number_t n = room;
        if (kern_return_t kr = get_thread_state(k.env, t, flavor, out, &n); kr != KERN_SUCCESS) return kr;
        if (!machine::copy_user(state, out, n * sizeof(natural_t)) || !put_user(count, n)) return KERN_INVALID_ADDRESS;
        return KERN_SUCCESS;
    });
}

kern_return_t sys_thread_set_state(mach_port_name_t thread, thread_state_flavor_t flavor, const natural_t* state,
                                   mach_msg_type_number_t count) {
    if (count > THREAD_STATE_MAX) return MIG_ARRAY_TOO_LARGE;  // MIG's client stub refuses it before any message
    return thread_call(Sys::thread_set_state, thread, [&](Kernel& k, tasks::Thread&, tasks::Thread& t) -> kern_return_t {
        // A count no flavor has is refused by set_thread_state; only that many words are read.
        natural_t in[kLargestState] = {};
        if (count <= kLargestState && !machine::copy_user(in, state, count * sizeof(natural_t)))
            return KERN_INVALID_ADDRESS;
        return set_thread_state(k.env, t, flavor, in, count);
    });
}

kern_return_t sys_thread_abort(mach_port_name_t thread) {
    return thread_call(Sys::thread_abort, thread, [](Kernel&, tasks::Thread&, tasks::Thread& t) {
        if (t.state() == machine::RunState::Blocked && t.abort_wait) t.abort_wait(&t);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_task_threads(mach_port_name_t task, mach_port_name_t** threads, mach_msg_type_number_t* count) {
    return task_call(Sys::task_threads, task, [&](Kernel&, tasks::Thread& self, tasks::Task& t) -> kern_return_t {
        if (!put_user(threads, static_cast<mach_port_name_t*>(nullptr)) ||
            !put_user(count, mach_msg_type_number_t{0}))
            return KERN_INVALID_ADDRESS;
        std::vector<mach_port_name_t> names;
        bool unnamed = false;  // a right that found no name would be a MACH_PORT_NULL in the list
        for (auto& th : t.threads) {
            if (!runs(*th) || !th->thread_port) continue;
            mach_port_name_t n = send_right_to(self, th->thread_port);
            if (n == MACH_PORT_NULL) unnamed = true;
            else names.push_back(n);
        }
        if (names.empty() && !unnamed) return KERN_SUCCESS;
        vm_size_t bytes = names.size() * sizeof(mach_port_name_t);
        vm_address_t a = 0;
        if (unnamed || self.task.vm.allocate(a, bytes, VM_FLAGS_ANYWHERE) != KERN_SUCCESS) {
            for (mach_port_name_t n : names) (void)ipc::right_deallocate(self.task.space, n);
            return KERN_RESOURCE_SHORTAGE;
        }
        (void)machine::copy_user(reinterpret_cast<void*>(a), names.data(), bytes);
        (void)put_user(threads, reinterpret_cast<mach_port_name_t*>(a));
        (void)put_user(count, static_cast<mach_msg_type_number_t>(names.size()));
        return KERN_SUCCESS;
    });
}

kern_return_t sys_task_spawn(std::string name, std::function<int(mach_port_name_t)> body, mach_port_name_t give,
                             mach_msg_type_name_t give_disposition, SpawnOptions opts, mach_port_name_t* child) {
    return call(Sys::task_spawn, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if (!put_user(child, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        if (MACH_PORT_VALID(give)) {
            if (!MACH_MSG_TYPE_PORT_ANY(give_disposition))
                return ipc::fail(k.env, MACH_SEND_INVALID_TYPE, "disposition {} is not a port disposition",
                                 give_disposition);
            if (ipc::copyin_check(self.task.space, give, give_disposition) != KERN_SUCCESS)
                return ipc::fail(k.env, MACH_SEND_INVALID_RIGHT, "{:#x} cannot be given with disposition {}", give,
                                 give_disposition);
        }
        if (self.task.space.full())  // as in thread_start; checked before the given right is taken
            return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no name is free for the new task's port");
        ipc::Carried given;
        if (MACH_PORT_VALID(give)) given = ipc::copyin(self.task.space, give, give_disposition);
        // The child's body learns the name its given right got; it is set before the child first runs.
        auto given_name = std::make_shared<mach_port_name_t>(MACH_PORT_NULL);
        uint32_t id = k.spawn(std::move(name), [b = std::move(body), given_name]() mutable { return b(*given_name); },
                              SpawnOptions{.daemon = opts.daemon,
                                           .privileged = opts.privileged && self.task.privileged},
                              &self.task);
        tasks::Task* t = k.task(id);
        if (t->end != TaskEnd::Running) {  // the host refused its stack: the given right comes back
            mach_port_name_t back = MACH_PORT_NULL;
            if (ipc::copyout(self.task.space, given, &back) != KERN_SUCCESS) ipc::carried_release(k.env, given);
            return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "task {} could not start: {}", id, t->detail);
        }
        if (opts.inherit_memory) self.task.vm.inherit_into(t->vm);  // vm_inherit (R24)
        if (ipc::copyout(t->space, given, given_name.get()) != KERN_SUCCESS) ipc::carried_release(k.env, given);
        (void)put_user(child, send_right_to(self, t->task_port));
        return KERN_SUCCESS;
    });
}

kern_return_t sys_task_create(mach_port_name_t parent, boolean_t inherit_memory, mach_port_name_t* child) {
    return task_call(Sys::task_create, parent, [&](Kernel& k, tasks::Thread& self, tasks::Task& p) -> kern_return_t {
        if (!put_user(child, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        if (p.ending) return ipc::fail(k.env, KERN_FAILURE, "task {} is ending", p.id);
        if (self.task.space.full())
            return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no name is free for the new task's port");
        // Named after its parent and its own id, as it has no program name: "test.3".
        const std::string name = fmt::format("{}.{}", p.name, k.next_task_id());
        tasks::Task& t = k.create_task(name, SpawnOptions{}, &p);
        if (inherit_memory) p.vm.inherit_into(t.vm);  // vm_inherit (R24)
        (void)put_user(child, send_right_to(self, t.task_port));
        return KERN_SUCCESS;
    });
}

kern_return_t sys_task_terminate(mach_port_name_t task) {
    return task_call(Sys::task_terminate, task, [](Kernel& k, tasks::Thread&, tasks::Task& t) {
        k.kill_task(t, TaskEnd::Terminated);  // a task terminating itself unwinds as this call returns
        return KERN_SUCCESS;
    });
}

bool sys_exit(int code) {
    tasks::Thread* self = caller();
    if (!self || self->in_kernel) return false;
    Kernel& k = *Kernel::current();
    if (k.trace.emitting()) return false;  // a sink's on_event: host code, though a task's thread runs it
    // The entry by hand: an Entry throws to unwind a thread being killed, and no
    // exception may leave exit(), which C++ declares noexcept.
    self->in_kernel = true;
    k.sched.kernel_entry(k.cfg.syscall_cost);
    MS_TRACE(k.trace, Event{.kind = EventKind::SyscallEnter, .text = sys_name(Sys::exit)});
    tasks::Task& t = self->task;
    if (t.end == TaskEnd::Running && !self->kill_pending) {  // the first end wins (a destructor run by
        t.end = TaskEnd::Exited;                             // task_terminate's unwinding cannot undo it)
        t.exit_code = code;
    }
    k.kill_task(t, TaskEnd::Exited);  // the other threads unwind at their next kernel exit
    // The caller is not unwound, as a process's exit() unwinds nothing.
    k.thread_finished(self, self->kill_reason, t.exit_code, {});
    k.sched.exit_abandoned();
}

kern_return_t sys_task_suspend(mach_port_name_t task) {
    return task_call(Sys::task_suspend, task, [](Kernel& k, tasks::Thread& self, tasks::Task& t) {
        k.suspend_task(t, self);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_task_resume(mach_port_name_t task) {
    return task_call(Sys::task_resume, task, [](Kernel& k, tasks::Thread&, tasks::Task& t) {
        if (!k.resume_task(t)) return KERN_FAILURE;  // it was not suspended
        if (t.suspend_count == 0) t.signals.stopped = false;  // resumed out of a stop signal: no longer stopped
        return KERN_SUCCESS;
    });
}

void* running_facade() {
    Kernel* k = Kernel::current();
    return k ? k->facade : nullptr;
}

}  // namespace machsim::gate
