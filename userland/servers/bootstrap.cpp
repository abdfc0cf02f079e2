// The bootstrap name server: a task like any other, serving check_in,
// register and look_up over its port. It keeps one send right per service and
// forgets services whose port has died.
#include <cstring>
#include <map>
#include <string>

#include "userland/servers/bootstrap_protocol.h"

namespace machsim::servers {

namespace {

struct Service {
    mach_port_name_t send = MACH_PORT_NULL;  // our send right to the service port
};

using Registry = std::map<std::string, Service>;

std::string service_name(const BootstrapRequest& req) {
    return std::string(req.name, strnlen(req.name, sizeof req.name));
}

// A service whose port died is gone: drop our dead name for it.
bool alive(Registry& services, const std::string& name) {
    auto it = services.find(name);
    if (it == services.end()) return false;
    mach_port_type_t type = 0;
    if (mach_port_type(mach_task_self(), it->second.send, &type) == KERN_SUCCESS &&
        (type & MACH_PORT_TYPE_SEND))
        return true;
    (void)mach_port_deallocate(mach_task_self(), it->second.send);
    services.erase(it);
    return false;
}

void reply_error(mach_msg_header_t& req, kern_return_t code) {
    mig_reply_error_t r{};
    r.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(req.msgh_bits), 0);
    r.Head.msgh_size = sizeof r;
    r.Head.msgh_remote_port = req.msgh_remote_port;
    r.Head.msgh_id = req.msgh_id + 100;
    r.RetCode = code;
    (void)mach_msg(&r.Head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof r, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

void reply_port(mach_msg_header_t& req, mach_port_name_t port, mach_msg_type_name_t disposition) {
    BootstrapPortReply r{};
    r.head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(req.msgh_bits), 0) | MACH_MSGH_BITS_COMPLEX;
    r.head.msgh_size = sizeof r;
    r.head.msgh_remote_port = req.msgh_remote_port;
    r.head.msgh_id = req.msgh_id + 100;
    r.body.msgh_descriptor_count = 1;
    r.port.name = port;
    r.port.disposition = disposition;
    r.port.type = MACH_MSG_PORT_DESCRIPTOR;
    r.ret = BOOTSTRAP_SUCCESS;
    (void)mach_msg(&r.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof r, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

void check_in(Registry& services, BootstrapRequest& req) {
    std::string name = service_name(req);
    if (alive(services, name)) return reply_error(req.head, BOOTSTRAP_SERVICE_ACTIVE);
    mach_port_name_t port = MACH_PORT_NULL;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS)
        return reply_error(req.head, BOOTSTRAP_NO_MEMORY);
    (void)mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND);
    services[name] = Service{port};
    reply_port(req.head, port, MACH_MSG_TYPE_MOVE_RECEIVE);  // the checker-in gets the receive right
}

void register_service(Registry& services, BootstrapRequest& req) {
    std::string name = service_name(req);
    mach_port_name_t given = req.port.name;
    if (alive(services, name)) {
        (void)mach_port_deallocate(mach_task_self(), given);
        return reply_error(req.head, BOOTSTRAP_NAME_IN_USE);
    }
    services[name] = Service{given};
    reply_error(req.head, BOOTSTRAP_SUCCESS);
}

void look_up(Registry& services, BootstrapRequest& req) {
    std::string name = service_name(req);
    if (!alive(services, name)) return reply_error(req.head, BOOTSTRAP_UNKNOWN_SERVICE);
    reply_port(req.head, services[name].send, MACH_MSG_TYPE_COPY_SEND);
}

}  // namespace

int bootstrap_server_main() {
    Registry services;
    mach_port_name_t port = bootstrap_port;  // our receive right shares the name (R1)
    for (;;) {
        struct {
            BootstrapRequest req;
            mach_msg_trailer_t trailer;
        } buf{};
        mach_msg_return_t mr = mach_msg(&buf.req.head, MACH_RCV_MSG, 0, sizeof buf, port, MACH_MSG_TIMEOUT_NONE,
                                        MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) continue;  // a bad request costs the sender, never the server
        BootstrapRequest& req = buf.req;
        bool complex = MACH_MSGH_BITS_IS_COMPLEX(req.head.msgh_bits);
        bool well_formed = req.head.msgh_size == sizeof req &&
                           MACH_MSGH_BITS_REMOTE(req.head.msgh_bits) != 0 &&
                           (req.head.msgh_id == BOOTSTRAP_MSG_REGISTER
                                ? complex && req.body.msgh_descriptor_count == 1
                                : !complex || req.body.msgh_descriptor_count == 0);
        if (!well_formed) {
            if (MACH_PORT_VALID(req.head.msgh_remote_port)) reply_error(req.head, MIG_BAD_ARGUMENTS);
            mach_msg_destroy(&req.head);
            continue;
        }
        switch (req.head.msgh_id) {
        case BOOTSTRAP_MSG_CHECK_IN: check_in(services, req); break;
        case BOOTSTRAP_MSG_REGISTER: register_service(services, req); break;
        case BOOTSTRAP_MSG_LOOK_UP: look_up(services, req); break;
        default:
            reply_error(req.head, MIG_BAD_ID);
            mach_msg_destroy(&req.head);
        }
    }
}

}  // namespace machsim::servers

// --- the client side ----------------------------------------------------------

namespace {

using machsim::servers::BootstrapPortReply;
using machsim::servers::BootstrapRequest;

// One RPC to the bootstrap server: the request goes out with a send-once right
// to the thread's reply port; the reply comes back on it.
kern_return_t call(mach_port_t bp, mach_msg_id_t id, const char* service, mach_port_t give, mach_port_t* got) {
    if (got) *got = MACH_PORT_NULL;
    union {
        BootstrapRequest req;
        struct {
            BootstrapPortReply rep;
            mach_msg_trailer_t trailer;
        } in;
    } buf{};
    BootstrapRequest& req = buf.req;
    mach_port_t reply = mig_get_reply_port();
    req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    req.head.msgh_size = sizeof req;
    req.head.msgh_remote_port = bp;
    req.head.msgh_local_port = reply;
    req.head.msgh_id = id;
    if (give != MACH_PORT_NULL) {
        req.head.msgh_bits |= MACH_MSGH_BITS_COMPLEX;
        req.body.msgh_descriptor_count = 1;
        req.port.name = give;
        req.port.disposition = MACH_MSG_TYPE_COPY_SEND;
        req.port.type = MACH_MSG_PORT_DESCRIPTOR;
    }
    if (service) strncpy(req.name, service, sizeof req.name - 1);
    mach_msg_return_t mr = mach_msg(&req.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof req, sizeof buf.in, reply,
                                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) {
        // As MIG's stubs do: unless the header was refused whole (nothing was made
        // from it), a failed call gives the reply port up, since something may still
        // arrive on it (the reply, or the send-once notification of a request
        // destroyed by a body error) and would be taken for the next call's reply.
        if (mr != MACH_SEND_INVALID_DATA && mr != MACH_SEND_INVALID_DEST && mr != MACH_SEND_INVALID_HEADER)
            mig_dealloc_reply_port(reply);
        return mr;
    }
    BootstrapPortReply& rep = buf.in.rep;
    if (rep.head.msgh_id != id + 100) {
        mach_msg_destroy(&rep.head);
        return MIG_REPLY_MISMATCH;
    }
    if (!MACH_MSGH_BITS_IS_COMPLEX(rep.head.msgh_bits)) {
        mig_reply_error_t err;
        std::memcpy(&err, &rep, sizeof err);
        return err.RetCode;
    }
    if (got) {
        *got = rep.port.name;
    } else {
        mach_msg_destroy(&rep.head);
    }
    return rep.ret;
}

bool name_ok(const char* service) { return service && strnlen(service, BOOTSTRAP_MAX_NAME_LEN) < BOOTSTRAP_MAX_NAME_LEN; }

}  // namespace

extern "C" {

kern_return_t bootstrap_check_in(mach_port_t bp, const name_t service_name, mach_port_t* sp) {
    if (!name_ok(service_name)) return BOOTSTRAP_BAD_COUNT;
    if (!sp) return KERN_INVALID_ADDRESS;  // else the new service's receive right would have nowhere to go
    return call(bp, BOOTSTRAP_MSG_CHECK_IN, service_name, MACH_PORT_NULL, sp);
}

kern_return_t bootstrap_register(mach_port_t bp, const name_t service_name, mach_port_t sp) {
    if (!name_ok(service_name)) return BOOTSTRAP_BAD_COUNT;
    if (!MACH_PORT_VALID(sp)) return BOOTSTRAP_NOT_PRIVILEGED;
    return call(bp, BOOTSTRAP_MSG_REGISTER, service_name, sp, nullptr);
}

kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name, mach_port_t* sp) {
    if (!name_ok(service_name)) return BOOTSTRAP_BAD_COUNT;
    if (!sp) return KERN_INVALID_ADDRESS;
    return call(bp, BOOTSTRAP_MSG_LOOK_UP, service_name, MACH_PORT_NULL, sp);
}

}  // extern "C"
