// failover: a backup server takes over a service port when the primary dies,
// through a port-destroyed notification (MACH-REFERENCE R11). The port never
// dies, so the name server's entry, the clients' send rights and the requests
// already queued all stay valid: the clients never notice.
//
//   backup                     bootstrap                    primary                      clients
//     |-- check_in "calc.backup" ->|                            |                            |
//     |                            |<-- check_in "calc" --------|  receive right of "calc"   |
//     |                            |<-- look_up "calc.backup" --|                            |
//     |<--------------------- hello (+ send-once reply) --------|                            |
//     |---- reply carrying a send-once right to the backup ---->|                            |
//     |                            |                            |  request_notification(calc, PORT_DESTROYED,
//     |                            |                            |     that send-once right)  |
//     |                            |                            |<======= square n ==========|  (RPCs)
//     |                            |                       dies after 4 requests, holding the receive right
//     |<== MACH_NOTIFY_PORT_DESTROYED carrying the receive right of "calc", its queue intact ==
//     |<=================================== square n, ..., bye ==============================|
//
// Only the holder of a receive right may arm a port-destroyed request on it, so
// the primary arms it; the notification must go to the backup, so the primary
// needs a send-once right to the backup's port, which only the backup can make
// (MAKE_SEND_ONCE needs the receive right): hence the hello round trip.
#include <cstdio>
#include <string>

#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr int kClients = 3;
constexpr int kRequests = 5;     // per client
constexpr int kPrimaryLife = 4;  // requests the primary answers before it dies (< kRequests: see serve())
constexpr mach_msg_id_t kSquare = 800, kBye = 801, kHello = 802, kReplyOffset = 100;

int g_backup_served = 0;

struct Request {
    mach_msg_header_t head;
    int n;
};
struct Reply {
    mach_msg_header_t head;
    int square;
    char server[16];  // who answered: for the reader only, the clients do not care
};
struct HelloReply {  // complex: carries a send-once right to the backup's port
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t right;
};

// How many messages wait in the queue of the port whose receive right is `port`.
unsigned queued(mach_port_t port) {
    mach_port_status_t st{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    mach_port_get_attributes(mach_task_self(), port, MACH_PORT_RECEIVE_STATUS, reinterpret_cast<mach_port_info_t>(&st),
                             &count);
    return st.mps_msgcount;
}

// Looks up `service`, waiting while it is not checked in yet.
mach_port_t look_up(const char* service) {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = look_up_service(service, &port);
    if (kr != KERN_SUCCESS) mach_error("bootstrap_look_up:", kr);
    return kr == KERN_SUCCESS ? port : MACH_PORT_NULL;
}

// Answers requests on `svc` until `limit` have been served or every client has
// said bye. The primary's limit is below kRequests, so no client can finish
// (and say bye) before the primary dies: every bye reaches the backup.
int serve(const char* who, mach_port_t svc, int limit, int* served) {
    int byes = 0;
    while (*served < limit && byes < kClients) {
        struct {
            Request req;
            mach_msg_trailer_t trailer;
        } in{};
        mach_msg_return_t mr = mach_msg(&in.req.head, MACH_RCV_MSG, 0, sizeof in, svc, MACH_MSG_TIMEOUT_NONE, 0);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("serve: receive:", mr);
            return 1;
        }
        if (in.req.head.msgh_id == kBye) {
            ++byes;
            continue;
        }
        // Each answer waits 1 ms for I/O: meanwhile other clients run and their requests queue up.
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        Reply out{};
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.head.msgh_remote_port = in.req.head.msgh_remote_port;
        out.head.msgh_id = kSquare + kReplyOffset;
        out.square = in.req.n * in.req.n;
        std::snprintf(out.server, sizeof out.server, "%s", who);
        mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, 0);
        if (mr != MACH_MSG_SUCCESS) mach_error("serve: reply:", mr);
        ++*served;
    }
    return 0;
}

int primary() {
    mach_port_t svc = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "calc", &svc);
    if (kr != KERN_SUCCESS) {
        mach_error("primary: bootstrap_check_in:", kr);
        return 1;
    }
    mach_port_t backup = look_up("calc.backup");
    if (backup == MACH_PORT_NULL) return 1;

    // Hello: ask the backup for a send-once right to its port.
    mach_port_t reply = mach_reply_port();
    union {
        Request out;
        struct {
            HelloReply msg;
            mach_msg_trailer_t trailer;
        } in;
    } buf{};
    buf.out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.out.head.msgh_remote_port = backup;
    buf.out.head.msgh_local_port = reply;
    buf.out.head.msgh_id = kHello;
    mach_msg_return_t mr = mach_msg(&buf.out.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.out, sizeof buf.in,
                                    reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS || buf.in.msg.head.msgh_id != kHello + kReplyOffset) {
        mach_error("primary: hello:", mr);
        return 1;
    }
    mach_port_t once = buf.in.msg.right.name;
    mach_port_t previous = MACH_PORT_NULL;
    kr = mach_port_request_notification(mach_task_self(), svc, MACH_NOTIFY_PORT_DESTROYED, 0, once,
                                        MACH_MSG_TYPE_MOVE_SEND_ONCE, &previous);
    if (kr != KERN_SUCCESS) {
        mach_error("primary: request_notification:", kr);
        return 1;
    }
    mach_port_deallocate(mach_task_self(), backup);
    mach_port_mod_refs(mach_task_self(), reply, MACH_PORT_RIGHT_RECEIVE, -1);
    std::printf("primary: serving \"calc\"; port-destroyed request armed with the backup's send-once right\n");

    int served = 0;
    if (serve("primary", svc, kPrimaryLife, &served) != 0) return 1;
    // The "crash": the task ends without a word, still holding the receive right.
    // (An exception escaping the body would take the same path, but a crashed
    // task makes the run unclean by definition.) The kernel would destroy the
    // right; the armed request sends it to the backup instead.
    std::printf("primary: served %d requests and dies with %u requests queued (tick %llu)\n", served, queued(svc),
                static_cast<unsigned long long>(machsim::now()));
    return 0;
}

int backup() {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "calc.backup", &port);
    if (kr != KERN_SUCCESS) {
        mach_error("backup: bootstrap_check_in:", kr);
        return 1;
    }
    // 1. The primary's hello: answer with a send-once right to our own port.
    struct {
        Request req;
        mach_msg_trailer_t trailer;
    } hello{};
    mach_msg_return_t mr = mach_msg(&hello.req.head, MACH_RCV_MSG, 0, sizeof hello, port, MACH_MSG_TIMEOUT_NONE, 0);
    if (mr != MACH_MSG_SUCCESS || hello.req.head.msgh_id != kHello) {
        mach_error("backup: hello:", mr);
        return 1;
    }
    HelloReply out{};
    out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) | MACH_MSGH_BITS_COMPLEX;
    out.head.msgh_remote_port = hello.req.head.msgh_remote_port;
    out.head.msgh_id = kHello + kReplyOffset;
    out.body.msgh_descriptor_count = 1;
    out.right.name = port;
    out.right.disposition = MACH_MSG_TYPE_MAKE_SEND_ONCE;
    out.right.type = MACH_MSG_PORT_DESCRIPTOR;
    mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, 0);
    if (mr != MACH_MSG_SUCCESS) {
        mach_error("backup: hello reply:", mr);
        return 1;
    }
    std::printf("backup: gave the primary a send-once right; standing by\n");

    // 2. Wait for the primary's death: the notification carries the receive right.
    mach_port_destroyed_notification_t note{};
    mr = mach_msg(&note.not_header, MACH_RCV_MSG, 0, sizeof note, port, MACH_MSG_TIMEOUT_NONE, 0);
    if (mr != MACH_MSG_SUCCESS || note.not_header.msgh_id != MACH_NOTIFY_PORT_DESTROYED) {
        mach_error("backup: waiting for the primary:", mr);
        return 1;
    }
    mach_port_t svc = note.not_port.name;
    std::printf("backup: MACH_NOTIFY_PORT_DESTROYED: now holding the receive right of \"calc\" (name %#x), "
                "%u requests still queued (tick %llu)\n",
                svc, queued(svc), static_cast<unsigned long long>(machsim::now()));
    mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);  // no further backup needed

    // 3. Serve the same port until every client has said bye.
    if (serve("backup", svc, 1 << 30, &g_backup_served) != 0) return 1;
    std::printf("backup: served %d requests after the takeover; all clients gone\n", g_backup_served);
    return 0;
}

int client(int id) {
    mach_port_t svc = look_up("calc");
    mach_port_t reply = mach_reply_port();
    if (svc == MACH_PORT_NULL) return 1;
    for (int i = 1; i <= kRequests; ++i) {
        int n = 10 * id + i;
        union {
            Request out;
            struct {
                Reply msg;
                mach_msg_trailer_t trailer;
            } in;
        } buf{};
        buf.out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        buf.out.head.msgh_remote_port = svc;
        buf.out.head.msgh_local_port = reply;
        buf.out.head.msgh_id = kSquare;
        buf.out.n = n;
        mach_msg_return_t mr = mach_msg(&buf.out.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.out, sizeof buf.in,
                                        reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS || buf.in.msg.head.msgh_id != kSquare + kReplyOffset || buf.in.msg.square != n * n) {
            mach_error("client: rpc:", mr ? mr : MIG_REPLY_MISMATCH);  // e.g. a send-once notification
            return 1;
        }
        std::printf("client-%d: %d^2 = %d (answered by the %s)\n", id, n, buf.in.msg.square, buf.in.msg.server);
    }
    Request bye{{MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), sizeof bye, svc, MACH_PORT_NULL, 0, kBye}, 0};
    return mach_msg(&bye.head, MACH_SEND_MSG, sizeof bye, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, 0) ? 1 : 0;
}

}  // namespace

int failover_backup_served() { return g_backup_served; }

Program failover_program() {
    return {"failover", "a backup server inherits a service port (with its queue) through a port-destroyed notification",
            [](Kernel& k) {
                g_backup_served = 0;
                k.spawn("backup", backup);
                k.spawn("primary", primary);
                for (int i = 1; i <= kClients; ++i) k.spawn("client-" + std::to_string(i), [i] { return client(i); });
            }};
}

}  // namespace machsim::demos
