// Lab: a guard that confines a task to the services it may use. README.md says what to write;
// sandbox.h has the protocol.
#include "labs/sandbox/sandbox.h"

#include <machsim.h>

int guard(untrusted_fn untrusted) {
    // TODO: make a port, make it your bootstrap port (task_set_bootstrap_port), spawn `untrusted`
    // (machsim::task_spawn), answer its bootstrap requests, and return 0 once it has ended.
    (void)untrusted;
    return 1;
}

MACHSIM_PROGRAM(sandbox, "lab: a guard confines a task to the services it may look up") {
    k.spawn("guard", [] {
        return guard([](mach_port_t) {
            mach_port_t echo = MACH_PORT_NULL;
            return bootstrap_look_up(bootstrap_port, "echo", &echo) == BOOTSTRAP_UNKNOWN_SERVICE ? 0 : 1;
        });
    });
}
