// Lab: a name server that hands out port rights. README.md says what to write; ns.h is the protocol.
#include "labs/nameserver/ns.h"

#include <machsim.h>
#include <servers/bootstrap.h>

boolean_t ns_demux(mach_msg_header_t* request, mach_msg_header_t* reply) {
    // TODO: answer an NS_REGISTER or an NS_LOOKUP, as a MIG server routine does.
    (void)request;
    (void)reply;
    return FALSE;
}

int name_server() {
    // TODO: check in "ns" with the bootstrap server, then serve requests with ns_demux.
    return 1;
}

MACHSIM_PROGRAM(nameserver, "lab: a name server that hands out port rights") {
    k.spawn("ns", name_server, machsim::SpawnOptions{.daemon = true});
}
