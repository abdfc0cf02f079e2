// A solution of labs/nameserver, for the tests: `make grade LAB=nameserver SOLUTION=...` must
// give it every point. Built with -DNAMESERVER_HAND_LOOP it serves with a loop of its own that
// sends every answer and destroys no request, so the right carried by a register that failed
// stays in its space, and loses that test's points (tests/run.sh).
#include "labs/nameserver/ns.h"

#include <cstring>
#include <map>
#include <string>

#include <machsim.h>
#include <servers/bootstrap.h>

namespace {

std::map<std::string, mach_port_t> g_names;  // name -> a send right (one uref each); cleared at start

bool dead(mach_port_t name) {
    mach_port_type_t type = 0;
    return mach_port_type(mach_task_self(), name, &type) != KERN_SUCCESS || (type & MACH_PORT_TYPE_DEAD_NAME);
}

// The bound name, or end() if there is none or its port has died (then it is forgotten).
std::map<std::string, mach_port_t>::iterator live(const std::string& name) {
    auto it = g_names.find(name);
    if (it != g_names.end() && dead(it->second)) {
        (void)mach_port_deallocate(mach_task_self(), it->second);
        g_names.erase(it);
        return g_names.end();
    }
    return it;
}

// The name in a request, if it is 1 to NS_NAME_MAX - 1 characters and a NUL.
bool name_of(const char (&field)[NS_NAME_MAX], std::string& out) {
    const void* nul = std::memchr(field, 0, NS_NAME_MAX);
    if (!nul || nul == field) return false;
    out.assign(field);
    return true;
}

}  // namespace

boolean_t ns_demux(mach_msg_header_t* in, mach_msg_header_t* out) {
    auto* err = reinterpret_cast<mig_reply_error_t*>(out);
    err->Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in->msgh_bits), 0);
    err->Head.msgh_size = sizeof(mig_reply_error_t);
    err->Head.msgh_remote_port = in->msgh_remote_port;
    err->Head.msgh_local_port = MACH_PORT_NULL;
    err->Head.msgh_voucher_port = MACH_PORT_NULL;
    err->Head.msgh_id = in->msgh_id + NS_REPLY_OFFSET;
    NDR_record_t ndr = MACHSIM_NDR_NATIVE;
    std::memcpy(err->NDR, &ndr, sizeof ndr);
    std::string name;
    if (in->msgh_id == NS_REGISTER) {
        auto* req = reinterpret_cast<ns_register_request*>(in);
        if (!(in->msgh_bits & MACH_MSGH_BITS_COMPLEX) || in->msgh_size != sizeof *req ||
            req->msgh_body.msgh_descriptor_count != 1 || req->service.type != MACH_MSG_PORT_DESCRIPTOR ||
            req->service.disposition != MACH_MSG_TYPE_PORT_SEND) {
            err->RetCode = MIG_BAD_ARGUMENTS;
            return TRUE;
        }
        if (!name_of(req->name, name)) {
            err->RetCode = KERN_INVALID_ARGUMENT;
            return TRUE;
        }
        if (live(name) != g_names.end()) {
            err->RetCode = KERN_NAME_EXISTS;  // the loop destroys the request, and the right in it
            return TRUE;
        }
        g_names[name] = req->service.name;  // the right is ours now
        err->RetCode = KERN_SUCCESS;
        return TRUE;
    }
    if (in->msgh_id == NS_LOOKUP) {
        auto* req = reinterpret_cast<ns_lookup_request*>(in);
        if (in->msgh_size != sizeof *req || !name_of(req->name, name)) {
            err->RetCode = KERN_INVALID_ARGUMENT;
            return TRUE;
        }
        auto it = live(name);
        if (it == g_names.end()) {
            err->RetCode = KERN_INVALID_NAME;
            return TRUE;
        }
        auto* reply = reinterpret_cast<ns_lookup_reply*>(out);
        reply->Head.msgh_bits |= MACH_MSGH_BITS_COMPLEX;
        reply->Head.msgh_size = sizeof *reply;
        reply->msgh_body.msgh_descriptor_count = 1;
        reply->service = {};
        reply->service.name = it->second;
        reply->service.disposition = MACH_MSG_TYPE_COPY_SEND;
        reply->service.type = MACH_MSG_PORT_DESCRIPTOR;
        return TRUE;
    }
    err->RetCode = MIG_BAD_ID;
    return FALSE;
}

int name_server() {
    g_names.clear();
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "ns", &port) != KERN_SUCCESS) return 1;
#ifndef NAMESERVER_HAND_LOOP
    mach_msg_server(ns_demux, sizeof(ns_register_request), port, 0);
    return 1;  // mach_msg_server returns only when mach_msg fails
#else
    for (;;) {
        struct {
            ns_register_request req;
            mach_msg_trailer_t trailer;
        } in{};
        union {
            mig_reply_error_t err;
            ns_lookup_reply found;
        } out{};
        if (mach_msg(&in.req.Head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
        ns_demux(&in.req.Head, &out.err.Head);  // the mistake: a failed request's right is never destroyed
        (void)mach_msg(&out.err.Head, MACH_SEND_MSG, out.err.Head.msgh_size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                       MACH_PORT_NULL);
    }
#endif
}

MACHSIM_PROGRAM(nameserver, "lab: a name server that hands out port rights (reference solution)") {
    k.spawn("ns", name_server, machsim::SpawnOptions{.daemon = true});
}
