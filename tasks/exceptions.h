// Where a thread's exceptions and a task's signals go: exception ports (R23),
// per thread and per task, and the task's signal state.
#pragma once

#include <array>
#include <cstdint>

#include "mach/exception_types.h"
#include "machsim.h"
#include "ports/port.h"

namespace machsim::tasks {

// One exception type's handler. The kernel holds a send right to `port`.
struct ExceptionPort {
    ipc::Port* port = nullptr;
    exception_behavior_t behavior = 0;
    thread_state_flavor_t flavor = 0;
    // No port, but set to MACH_PORT_DEAD or a dead name: reported as MACH_PORT_DEAD, as
    // XNU keeps such a handler (IP_DEAD) apart from none (IP_NULL).
    bool dead = false;
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
