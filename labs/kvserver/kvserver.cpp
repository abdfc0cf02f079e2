// Lab: a key-value server over Mach RPC. README.md says what to write; kv.h is the protocol.
#include "labs/kvserver/kv.h"

#include <cstdio>

#include <machsim.h>
#include <servers/bootstrap.h>

boolean_t kv_demux(mach_msg_header_t* request, mach_msg_header_t* reply) {
    // TODO: write the answer to a KV_PUT or a KV_GET into reply, as a MIG server routine does.
    (void)request;
    (void)reply;
    return FALSE;
}

int kv_server() {
    // TODO: check in "kv" with the bootstrap server, then serve requests with kv_demux.
    return 1;
}

// Your own try-out program: `build/labs/kvserver run kvserver --trace`. The grader runs
// kv_server with clients of its own.
namespace {

int try_out() {
    mach_port_t kv = MACH_PORT_NULL;
    for (int tries = 0; bootstrap_look_up(bootstrap_port, "kv", &kv) == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100;
         ++tries)
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
    if (kv == MACH_PORT_NULL) return 1;
    union {
        kv_put_request put;
        struct {
            kv_reply reply;
            mach_msg_trailer_t trailer;
        } in;
    } buf{};
    mach_port_t reply = mig_get_reply_port();
    buf.put.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.put.Head.msgh_size = sizeof buf.put;
    buf.put.Head.msgh_remote_port = kv;
    buf.put.Head.msgh_local_port = reply;
    buf.put.Head.msgh_id = KV_PUT;
    buf.put.key = 1;
    buf.put.value = 42;
    mach_msg_return_t mr = mach_msg(&buf.put.Head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.put, sizeof buf.in,
                                    reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    std::printf("put(1, 42): %s, RetCode %d\n", mach_error_string(mr), buf.in.reply.RetCode);
    return mr == MACH_MSG_SUCCESS && buf.in.reply.RetCode == KERN_SUCCESS ? 0 : 1;
}

}  // namespace

MACHSIM_PROGRAM(kvserver, "lab: a key-value server over Mach RPC, and one client") {
    k.spawn("server", kv_server, machsim::SpawnOptions{.daemon = true});
    k.spawn("client", try_out);
}
