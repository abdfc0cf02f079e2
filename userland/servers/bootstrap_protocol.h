// The bootstrap protocol's messages, shared by the server and the client calls.
#pragma once

#include "mach/mach.h"
#include "servers/bootstrap.h"

namespace machsim::servers {

#pragma pack(push, 4)
// check_in and look_up: the service name. register: the name and a send right.
struct BootstrapRequest {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;  // register only (descriptor count 0 otherwise)
    name_t name;
};

// Success of check_in / look_up: one port right. Failures (and register) come
// back as mig_reply_error_t, which is not complex: that is how a client tells.
struct BootstrapPortReply {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
    unsigned char NDR[8];
    kern_return_t ret;
};
#pragma pack(pop)

// The bootstrap server's main loop; runs as a daemon task.
int bootstrap_server_main();

}  // namespace machsim::servers
