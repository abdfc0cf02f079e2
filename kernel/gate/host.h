// The host as tasks see it: the host port (mach_host_self, TASK_HOST_PORT) and
// the clocks host_get_clock_service gives. The kernel holds their receive
// rights; each port is made on first use, so runs that never ask number their
// ports as before.
#pragma once

#include "mach/clock_types.h"
#include "ports/census.h"
#include "ports/port.h"

namespace machsim::gate {

class Kernel;

// A clock's kernel object: which clock its port stands for.
struct HostClock {
    clock_id_t id;
    ipc::Port* port = nullptr;
};

class Host {
public:
    explicit Host(Kernel& k) : k_(k) {}

    ipc::Port* host_port();
    // The port of clock `id`; null for an id that names no clock.
    ipc::Port* clock_port(clock_id_t id);

    void add_to_census(ipc::Census& census) const;
    // The run is over: the ports are destroyed.
    void shut_down();

private:
    ipc::Port* make_port(ipc::Port*& port, ipc::KobjectKind kind, void* object);

    Kernel& k_;
    ipc::Port* host_ = nullptr;
    HostClock system_{SYSTEM_CLOCK};
    HostClock calendar_{CALENDAR_CLOCK};
};

}  // namespace machsim::gate
