// The nameserver lab's protocol, shared by your server and the grader's tasks. Requests and
// answers are laid out as MIG lays them out: a request or answer that carries a port right is
// a complex message with a port descriptor; an answer without one is a mig_reply_error_t.
#pragma once

#include <mach/mach.h>

enum : mach_msg_id_t {
    NS_REGISTER = 4000,     // bind name to the send right in `service`
    NS_LOOKUP = 4001,       // the send right bound to name
    NS_REPLY_OFFSET = 100,  // an answer's id: the request's + 100
};
constexpr unsigned NS_NAME_MAX = 32;  // name: up to 31 characters and a NUL

#pragma pack(push, 4)
struct ns_register_request {  // complex: one port descriptor
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t service;
    NDR_record_t NDR;
    char name[NS_NAME_MAX];
};

struct ns_lookup_request {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    char name[NS_NAME_MAX];
};

struct ns_lookup_reply {  // a lookup that succeeded: complex, one port descriptor (COPY_SEND)
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t service;
};
#pragma pack(pop)
// Every other answer (to a register, or a lookup that failed) is a mig_reply_error_t.

// Yours (nameserver.cpp): the server task's body and its demux routine.
int name_server();
boolean_t ns_demux(mach_msg_header_t *request, mach_msg_header_t *reply);
