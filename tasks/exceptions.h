// Where a thread's exceptions and a task's signals go: exception ports (R23),
// per thread and per task, and the task's signal state.
#pragma once

#include <array>
#include <cstdint>

#include "mach/exception_types.h"
#include "machsim.h"
#include "ports/port.h"

namespace machsim::tasks {

// A send right the kernel holds for a task or thread (a special port, a handler):
// `port`, or none. Set to MACH_PORT_DEAD or a dead name, it is none but `dead`, and
// reported as MACH_PORT_DEAD, as XNU keeps IP_DEAD apart from IP_NULL.
struct HeldSend {
    ipc::Port* port = nullptr;
    bool dead = false;

    // What a get call reports: a right to a live port, or else MACH_PORT_DEAD when
    // reads_dead() (set to a port since dead, or to a dead name), or else none.
    bool live() const { return port && port->active; }
    bool reads_dead() const { return !live() && (port || dead); }
};

// Releases h's send right, if it holds one; h holds nothing afterwards.
void release_held(ipc::Env& env, HeldSend& h);

// One exception type's handler: the kernel's send right, and how to send to it.
struct ExceptionPort : HeldSend {
    exception_behavior_t behavior = 0;
    thread_state_flavor_t flavor = 0;
};
using ExceptionPorts = std::array<ExceptionPort, EXC_TYPES_COUNT>;

// Releases the kernel's send rights (a thread or task ends).
void release_exception_ports(ipc::Env& env, ExceptionPorts& ports);

struct SignalState {
    SignalSet pending = 0;
    SignalSet blocked = 0;
    std::array<SignalAction, sig::kCount> actions{};
    bool stopped = false;  // by a stop signal; SIGCONT resumes it
    SignalSet deliverable() const { return pending & ~blocked; }
};

}  // namespace machsim::tasks
