// The host port and the clocks: mach_host_self, host_info, host_page_size,
// host_get_clock_service, clock_get_time and clock_get_attributes (clock_sleep
// is with the other sleeps, in sys_task.cpp).
//
// The machine they describe is the simulated one: one CPU (one thread runs at a
// time), the memory a task's address range holds, and clocks that read virtual
// time, so that every run of a program reads the same values.
#include <algorithm>

#include "kernel/gate/sys_common.h"
#include "kernel/machine/address_space.h"
#include "mach/host_info.h"
#include "ports/mqueue.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

constexpr mach_msg_type_number_t kHostBasicInfoOldCount = 5;  // XNU's HOST_BASIC_INFO_OLD_COUNT (kernel-private)

// Runs body(kernel, caller) for a call aimed at the host port. A name that is not
// a send right to it fails as MIG's send would.
template <class F>
kern_return_t host_call(Sys sys, mach_port_name_t host, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if (!target_kobject(self, host, ipc::KobjectKind::Host))
            return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right to the host port", host);
        return body(k, self);
    });
}

// The same for a clock's port.
template <class F>
kern_return_t clock_call(Sys sys, mach_port_name_t clock, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        auto* c = static_cast<const HostClock*>(target_kobject(self, clock, ipc::KobjectKind::Clock));
        if (!c) return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right to a clock", clock);
        return body(k, self, *c);
    });
}

}  // namespace

mach_port_name_t sys_mach_host_self() {
    mach_port_name_t n = MACH_PORT_NULL;
    (void)call(Sys::mach_host_self, [&](Kernel& k, tasks::Thread& self) {
        n = send_right_to(self, k.host.host_port());  // a new uref each call, as on XNU
        return KERN_SUCCESS;
    });
    return n;
}

kern_return_t sys_host_info(mach_port_name_t host, host_flavor_t flavor, integer_t* out,
                            mach_msg_type_number_t* count) {
    return host_call(Sys::host_info, host, [&](Kernel& k, tasks::Thread&) -> kern_return_t {
        mach_msg_type_number_t room = 0;
        if (!out_room(count, HOST_INFO_MAX, room)) return KERN_INVALID_ADDRESS;
        host_basic_info basic{};
        host_sched_info sched{};
        const void* info = nullptr;
        mach_msg_type_number_t words = 0;
        switch (flavor) {
        case HOST_BASIC_INFO: {
            // XNU answers an old caller's 5 words with the old structure, and too little room with KERN_FAILURE.
            if (room < kHostBasicInfoOldCount) return KERN_FAILURE;
            const uint64_t memory = machine::AddressSpace::kSize;  // what a task can map
            basic.max_cpus = 1;
            basic.avail_cpus = 1;
            basic.memory_size = static_cast<natural_t>(std::min<uint64_t>(memory, uint64_t{1} << 31));
            basic.cpu_type = CPU_TYPE_X86_64;
            basic.cpu_subtype = CPU_SUBTYPE_X86_64_ALL;
            basic.cpu_threadtype = CPU_THREADTYPE_NONE;
            basic.physical_cpu = 1;
            basic.physical_cpu_max = 1;
            basic.logical_cpu = 1;
            basic.logical_cpu_max = 1;
            basic.max_mem = memory;
            info = &basic;
            words = room >= HOST_BASIC_INFO_COUNT ? HOST_BASIC_INFO_COUNT : kHostBasicInfoOldCount;
            break;
        }
        case HOST_SCHED_INFO: {
            if (room < HOST_SCHED_INFO_COUNT) return KERN_FAILURE;
            // The quantum, in whole milliseconds (at least 1); a timeout can be as short as that too.
            const uint64_t ms = std::max<uint64_t>(1, k.cfg.quantum / ipc::kTicksPerMs);
            sched.min_timeout = static_cast<integer_t>(std::min<uint64_t>(ms, INT32_MAX));
            sched.min_quantum = sched.min_timeout;
            info = &sched;
            words = HOST_SCHED_INFO_COUNT;
            break;
        }
        default:
            return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "host_info flavor {} is not provided", flavor);
        }
        if (!machine::copy_user(out, info, words * sizeof(integer_t)) || !put_user(count, words))
            return KERN_INVALID_ADDRESS;
        return KERN_SUCCESS;
    });
}

kern_return_t sys_host_page_size(mach_port_name_t host, vm_size_t* size) {
    return host_call(Sys::host_page_size, host, [&](Kernel&, tasks::Thread&) -> kern_return_t {
        return put_user(size, vm_size_t{machine::AddressSpace::page_size()}) ? KERN_SUCCESS : KERN_INVALID_ADDRESS;
    });
}

kern_return_t sys_host_get_clock_service(mach_port_name_t host, clock_id_t id, mach_port_name_t* clock) {
    return host_call(Sys::host_get_clock_service, host, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if (!put_user(clock, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        ipc::Port* p = k.host.clock_port(id);
        if (!p) return ipc::fail(k.env, KERN_INVALID_ARGUMENT, "{} is not a clock (SYSTEM_CLOCK, CALENDAR_CLOCK)", id);
        mach_port_name_t n = send_right_to(self, p);
        if (n == MACH_PORT_NULL) return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no free name for the clock's port");
        (void)put_user(clock, n);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_clock_get_time(mach_port_name_t clock, mach_timespec_t* time) {
    return clock_call(Sys::clock_get_time, clock, [&](Kernel& k, tasks::Thread&, const HostClock&) -> kern_return_t {
        // Both clocks read virtual time: the system clock since the run began, the
        // calendar clock as if the run began at the epoch (there is no wall clock).
        return put_user(time, ticks_timespec(k.clock.now())) ? KERN_SUCCESS : KERN_INVALID_ADDRESS;
    });
}

kern_return_t sys_clock_get_attributes(mach_port_name_t clock, clock_flavor_t flavor, int* attr,
                                       mach_msg_type_number_t* count) {
    return clock_call(Sys::clock_get_attributes, clock, [&](Kernel& k, tasks::Thread&, const HostClock&) -> kern_return_t {
        mach_msg_type_number_t room = 0;
        if (!out_room(count, 1, room)) return KERN_INVALID_ADDRESS;  // clock_attr_t holds one word
        if (room != 1) return KERN_FAILURE;
        clock_res_t res = 0;
        switch (flavor) {
        case CLOCK_GET_TIME_RES: res = static_cast<clock_res_t>(NSEC_PER_USEC); break;  // a tick
        case CLOCK_ALARM_CURRES:
        case CLOCK_ALARM_MINRES:
        case CLOCK_ALARM_MAXRES: res = 0; break;  // no alarms
        default: return ipc::fail(k.env, KERN_INVALID_VALUE, "clock_get_attributes flavor {} is not provided", flavor);
        }
        if (!put_user(attr, res) || !put_user(count, mach_msg_type_number_t{1})) return KERN_INVALID_ADDRESS;
        return KERN_SUCCESS;
    });
}

}  // namespace machsim::gate
