// The sandbox lab: what your guard and the grader share. The bootstrap protocol's messages are
// laid out as docs/api.md §6.2 describes them (what bootstrap_look_up and its kin send and expect).
#pragma once

#include <mach/mach.h>
#include <servers/bootstrap.h>

#include <cstring>

#pragma pack(push, 4)
struct bootstrap_request {            // check_in (402), register (403), look_up (404); sent with a reply right
    mach_msg_header_t head;
    mach_msg_body_t body;             // descriptor count: 1 for register (complex), else 0
    mach_msg_port_descriptor_t port;  // register only: the send right to publish
    name_t name;                      // NUL-terminated
};

struct bootstrap_port_reply {  // the answer to a look_up that found the service: complex, one port
    mach_msg_header_t head;    // msgh_id = the request's + 100
    mach_msg_body_t body;      // descriptor count 1
    mach_msg_port_descriptor_t port;
    NDR_record_t NDR;
    kern_return_t ret;         // BOOTSTRAP_SUCCESS
};
#pragma pack(pop)
// Every other answer is a mig_reply_error_t (not complex) whose RetCode is the result.

// The services a confined task may look up.
inline bool sandbox_allows(const char* service) {
    return std::strcmp(service, "echo") == 0 || std::strcmp(service, "clock") == 0;
}

// A program to confine: the grader's. It runs as a task of its own and returns its exit code.
using untrusted_fn = int (*)(mach_port_t);

// Yours (sandbox.cpp): runs `untrusted` in a task whose bootstrap port leads to you, serves its
// requests, and returns 0 once that task has ended.
int guard(untrusted_fn untrusted);
