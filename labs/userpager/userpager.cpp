// Lab: a user-level pager. README.md says what to write; userpager.h has the protocol.
#include "labs/userpager/userpager.h"

#include <machsim.h>

int pager(client_fn client) {
    // TODO: spawn `client` with a send right to a port of yours, become its task's EXC_BAD_ACCESS
    // handler, answer its PAGER_MANAGE requests and its page faults, and return 0 once it has ended.
    (void)client;
    return 1;
}

MACHSIM_PROGRAM(userpager, "lab: a user-level pager pages in a client's memory from its faults") {
    k.spawn("pager", [] {
        return pager([](mach_port_t) { return 0; });
    });
}
