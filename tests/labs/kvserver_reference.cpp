// A solution of labs/kvserver, for the tests: `make grade LAB=kvserver SOLUTION=...` must give
// it every point. Built with -DKVSERVER_HAND_LOOP it serves with a loop of its own that gives up
// on the first reply it cannot send, and loses the points of the tests with a vanishing client
// (tests/run.sh).
#include "labs/kvserver/kv.h"

#include <map>

#include <machsim.h>
#include <servers/bootstrap.h>

namespace {

std::map<int32_t, int32_t> g_table;  // the server's; cleared when it starts

}  // namespace

boolean_t kv_demux(mach_msg_header_t* in, mach_msg_header_t* out) {
    auto* reply = reinterpret_cast<kv_reply*>(out);
    reply->Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in->msgh_bits), 0);
    reply->Head.msgh_size = sizeof(kv_reply);
    reply->Head.msgh_remote_port = in->msgh_remote_port;
    reply->Head.msgh_local_port = MACH_PORT_NULL;
    reply->Head.msgh_id = in->msgh_id + KV_REPLY_OFFSET;
    reply->NDR = NDR_record_t MACHSIM_NDR_NATIVE;
    reply->value = 0;
    if (in->msgh_id == KV_PUT && in->msgh_size == sizeof(kv_put_request)) {
        auto* req = reinterpret_cast<kv_put_request*>(in);
        g_table[req->key] = req->value;
        reply->RetCode = KERN_SUCCESS;
        return TRUE;
    }
    if (in->msgh_id == KV_GET && in->msgh_size == sizeof(kv_get_request)) {
        auto found = g_table.find(reinterpret_cast<kv_get_request*>(in)->key);
        reply->RetCode = found == g_table.end() ? KERN_NOT_FOUND : KERN_SUCCESS;
        if (found != g_table.end()) reply->value = found->second;
        return TRUE;
    }
    reply->Head.msgh_size = sizeof(mig_reply_error_t);
    reply->RetCode = in->msgh_id == KV_PUT || in->msgh_id == KV_GET ? MIG_BAD_ARGUMENTS : MIG_BAD_ID;
    return FALSE;
}

int kv_server() {
    g_table.clear();
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "kv", &port) != KERN_SUCCESS) return 1;
#ifndef KVSERVER_HAND_LOOP
    mach_msg_server(kv_demux, sizeof(kv_put_request), port, 0);
    return 1;  // mach_msg_server returns only when mach_msg fails
#else
    for (;;) {
        struct {
            kv_put_request req;
            mach_msg_trailer_t trailer;
        } in{};
        kv_reply out{};
        if (mach_msg(&in.req.Head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
        kv_demux(&in.req.Head, &out.Head);
        if (mach_msg(&out.Head, MACH_SEND_MSG, out.Head.msgh_size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                     MACH_PORT_NULL) != MACH_MSG_SUCCESS)
            return 1;  // the mistake: a client gone before its answer stops the server
    }
#endif
}

MACHSIM_PROGRAM(kvserver, "lab: a key-value server over Mach RPC (reference solution)") {
    k.spawn("server", kv_server, machsim::SpawnOptions{.daemon = true});
}
