#include "kernel/gate/host.h"

#include "kernel/gate/kernel.h"
#include "ports/rights.h"

namespace machsim::gate {

ipc::Port* Host::make_port(ipc::Port*& port, ipc::KobjectKind kind, void* object) {
    if (!port) {
        port = ipc::port_create(k_.env, 0);
        port->kobject_kind = kind;
        port->kobject = object;
    }
    return port;
}

ipc::Port* Host::host_port() { return make_port(host_, ipc::KobjectKind::Host, this); }

ipc::Port* Host::clock_port(clock_id_t id) {
    switch (id) {
    case SYSTEM_CLOCK: return make_port(system_.port, ipc::KobjectKind::Clock, &system_);
    case CALENDAR_CLOCK: return make_port(calendar_.port, ipc::KobjectKind::Clock, &calendar_);
    default: return nullptr;
    }
}

void Host::add_to_census(ipc::Census& census) const {
    census.add_kernel_ref(host_);
    census.add_kernel_ref(system_.port);
    census.add_kernel_ref(calendar_.port);
}

void Host::shut_down() {
    for (ipc::Port** p : {&host_, &system_.port, &calendar_.port}) {
        if (!*p) continue;
        (*p)->kobject = nullptr;
        ipc::port_destroy(k_.env, *p);  // the kernel's reference
        *p = nullptr;
    }
}

}  // namespace machsim::gate
