// echo: an RPC server and a client that meet through the bootstrap server.
//
//   client                      bootstrap                   echo-server
//     |                             | <--- check_in "echo" ----- |  gets the receive right
//     | --- look_up "echo" -------> |                             |
//     | <-- send right ------------ |                             |
//     | --- "hello 1" + send-once reply right ------------------> |
//     | <------------------------------------- "hello 1" -------- |  (reply consumes the send-once right)
#include <cstdio>
#include <cstring>

#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr mach_msg_id_t kEcho = 500;
constexpr mach_msg_id_t kQuit = 501;
constexpr int kRounds = 3;

struct EchoMsg {
    mach_msg_header_t head;
    char text[64];
};

struct EchoReceived {
    EchoMsg msg;
    mach_msg_trailer_t trailer;
};

int server() {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "echo", &port);
    if (kr != KERN_SUCCESS) {
        mach_error("echo-server: bootstrap_check_in:", kr);
        return 1;
    }
    for (;;) {
        EchoReceived in{};
        mach_msg_return_t mr =
            mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("echo-server: receive:", mr);
            return 1;
        }
        if (in.msg.head.msgh_id == kQuit) return 0;
        EchoMsg out{};
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.head.msgh_size = sizeof out;
        out.head.msgh_remote_port = in.msg.head.msgh_remote_port;
        out.head.msgh_id = in.msg.head.msgh_id + 100;
        std::memcpy(out.text, in.msg.text, sizeof out.text);
        mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) mach_error("echo-server: reply:", mr);
    }
}

int client() {
    mach_port_t server_port = MACH_PORT_NULL;
    kern_return_t kr = look_up_service("echo", &server_port);
    if (kr != KERN_SUCCESS) {
        mach_error("echo-client: bootstrap_look_up:", kr);
        return 1;
    }
    mach_port_t reply = mach_reply_port();
    for (int i = 1; i <= kRounds; ++i) {
        union {
            EchoMsg out;
            EchoReceived in;
        } buf{};
        buf.out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        buf.out.head.msgh_size = sizeof buf.out;
        buf.out.head.msgh_remote_port = server_port;
        buf.out.head.msgh_local_port = reply;
        buf.out.head.msgh_id = kEcho;
        std::snprintf(buf.out.text, sizeof buf.out.text, "hello %d", i);
        mach_msg_return_t mr = mach_msg(&buf.out.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.out, sizeof buf.in,
                                        reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("echo-client: rpc:", mr);
            return 1;
        }
        std::printf("echo-client: sent \"hello %d\", got back \"%s\" (id %d)\n", i, buf.in.msg.text,
                    buf.in.msg.head.msgh_id);
    }
    mach_msg_header_t quit{};
    quit.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    quit.msgh_size = sizeof quit;
    quit.msgh_remote_port = server_port;
    quit.msgh_id = kQuit;
    return mach_msg(&quit, MACH_SEND_MSG, sizeof quit, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) ==
                   MACH_MSG_SUCCESS
               ? 0
               : 1;
}

}  // namespace

Program echo_program() {
    return {"echo", "an RPC echo server and its client, meeting through the bootstrap server", [](Kernel& k) {
                k.spawn("echo-server", server);
                k.spawn("echo-client", client);
            }};
}

}  // namespace machsim::demos
