// task_info and thread_info: what a task or thread can learn about itself or
// another (times, state, memory), in XNU's flavors.
//
// Times are virtual: a thread's CPU time is the virtual time that passed while
// it ran (the scheduler counts it at each switch). Its user time is what it spent
// in compute(), its system time the rest: the cost of its kernel entries.
#include <algorithm>

#include "kernel/gate/sys_common.h"
#include "mach/task_info.h"
#include "mach/thread_info.h"

namespace machsim::gate {

namespace {

struct Times {
    uint64_t user = 0;
    uint64_t system = 0;
};

Times times_of(const Kernel& k, const tasks::Thread& t) {
    const uint64_t cpu = k.sched.cpu_ticks(t);
    const uint64_t user = std::min(t.compute_ticks, cpu);
    return {user, cpu - user};
}

// Ticks are virtual microseconds.
time_value_t time_value(uint64_t ticks) {
    return {static_cast<integer_t>(ticks / TIME_MICROS_MAX), static_cast<integer_t>(ticks % TIME_MICROS_MAX)};
}

bool ended(const tasks::Thread& t) { return t.state() == machine::RunState::Dead; }

// XNU's task_info reports the times of the task's terminated threads in its basic
// flavors, and those of its live threads in TASK_THREAD_TIMES_INFO.
Times task_times(const Kernel& k, const tasks::Task& task, bool of_ended) {
    Times sum;
    for (const auto& th : task.threads) {
        if (ended(*th) != of_ended) continue;
        Times t = times_of(k, *th);
        sum.user += t.user;
        sum.system += t.system;
    }
    return sum;
}

// As XNU's thread_info: a thread being terminated is halted; a suspended one is
// stopped; one waiting for its exception handler cannot be interrupted.
integer_t run_state(const tasks::Thread& t) {
    if (t.kill_pending) return TH_STATE_HALTED;
    if (t.held()) return TH_STATE_STOPPED;  // by thread_suspend, task_suspend or a stop signal
    if (t.state() == machine::RunState::Blocked) return t.in_fault() ? TH_STATE_UNINTERRUPTIBLE : TH_STATE_WAITING;
    return TH_STATE_RUNNING;
}

// The fields the basic flavors share (each lays them out its own way). Every page
// of a region is backed while the region exists (nothing is paged out), so the
// resident size is the virtual size.
template <class Info>
Info basic_info(const Kernel& k, const tasks::Task& t, uint64_t size) {
    const Times dead = task_times(k, t, true);
    Info i{};
    i.suspend_count = static_cast<integer_t>(t.suspend_count);
    i.virtual_size = static_cast<decltype(i.virtual_size)>(size);  // the caller cut it to the field's width
    i.resident_size = i.virtual_size;
    i.user_time = time_value(dead.user);
    i.system_time = time_value(dead.system);
    i.policy = POLICY_TIMESHARE;
    return i;
}

// Copies a flavor's structure out as `count` words, when the caller's buffer
// (*count words, as MIG bounds it) has room for it.
template <class Info>
kern_return_t put_info(const Info& info, mach_msg_type_number_t words, mach_msg_type_number_t room,
                       integer_t* out, mach_msg_type_number_t* count) {
    static_assert(sizeof(Info) % sizeof(natural_t) == 0);
    if (room < words) return KERN_INVALID_ARGUMENT;
    if (!machine::copy_user(out, &info, sizeof info) || !put_user(count, words)) return KERN_INVALID_ADDRESS;
    return KERN_SUCCESS;
}

}  // namespace

kern_return_t sys_task_info(mach_port_name_t task, task_flavor_t flavor, integer_t* out,
                            mach_msg_type_number_t* count) {
    return task_call(Sys::task_info, task, [&](Kernel& k, tasks::Thread&, tasks::Task& t) -> kern_return_t {
        mach_msg_type_number_t room = 0;
        if (!out_room(count, TASK_INFO_MAX, room)) return KERN_INVALID_ADDRESS;
        const uint64_t size = t.vm.mapped_bytes();
        switch (flavor) {
        case TASK_BASIC_INFO_32: {
            // XNU cuts the sizes to 32 bits for this flavor.
            auto i = basic_info<task_basic_info_32>(k, t, std::min<uint64_t>(size, UINT32_MAX));
            return put_info(i, TASK_BASIC_INFO_32_COUNT, room, out, count);
        }
        case TASK_BASIC_INFO_64: {
            auto i = basic_info<task_basic_info_64>(k, t, size);
            return put_info(i, TASK_BASIC_INFO_64_COUNT, room, out, count);
        }
        case MACH_TASK_BASIC_INFO: {
            auto i = basic_info<mach_task_basic_info>(k, t, size);
            i.resident_size_max = t.vm.peak_mapped_bytes();
            return put_info(i, MACH_TASK_BASIC_INFO_COUNT, room, out, count);
        }
        case TASK_THREAD_TIMES_INFO: {
            Times live = task_times(k, t, false);
            task_thread_times_info i{time_value(live.user), time_value(live.system)};
            return put_info(i, TASK_THREAD_TIMES_INFO_COUNT, room, out, count);
        }
        default:
            return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "task_info flavor {} is not provided", flavor);
        }
    });
}

kern_return_t sys_thread_info(mach_port_name_t thread, thread_flavor_t flavor, integer_t* out,
                              mach_msg_type_number_t* count) {
    return thread_call(Sys::thread_info, thread, [&](Kernel& k, tasks::Thread&, tasks::Thread& t) -> kern_return_t {
        mach_msg_type_number_t room = 0;
        if (!out_room(count, THREAD_INFO_MAX, room)) return KERN_INVALID_ADDRESS;
        switch (flavor) {
        case THREAD_BASIC_INFO: {
            Times tm = times_of(k, t);
            // The share of the time since it began that it ran (XNU's is a decaying average).
            const uint64_t lived = k.clock.now() - t.started_at;
            const uint64_t ran = tm.user + tm.system;
            thread_basic_info i{};
            i.user_time = time_value(tm.user);
            i.system_time = time_value(tm.system);
            i.cpu_usage = lived == 0 ? 0 : static_cast<integer_t>(std::min<uint64_t>(ran, lived) * TH_USAGE_SCALE / lived);
            i.policy = POLICY_TIMESHARE;
            i.run_state = run_state(t);
            i.flags = 0;
            i.suspend_count = static_cast<integer_t>(t.suspend_count);
            i.sleep_time = 0;  // always 0 in XNU too
            return put_info(i, THREAD_BASIC_INFO_COUNT, room, out, count);
        }
        case THREAD_IDENTIFIER_INFO: {
            thread_identifier_info i{};
            i.thread_id = t.id;
            // XNU gives the thread's pthread; here its C Threads record (cthread_self), if it has one.
            i.thread_handle = reinterpret_cast<uintptr_t>(t.user_data.get());
            i.dispatch_qaddr = 0;  // no dispatch queues
            return put_info(i, THREAD_IDENTIFIER_INFO_COUNT, room, out, count);
        }
        default:
            return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "thread_info flavor {} is not provided", flavor);
        }
    });
}

}  // namespace machsim::gate
