// nosenders: an object server that frees objects nobody can reach any more, in
// the style of the Hurd's libports. Each object is a port whose receive right
// the server keeps; clients hold send rights. A no-senders request on each
// object port tells the server when the last send right is gone.
//
//   client-a            objserver (port set: "objects" + every object port)          client-b
//     |-- open "log" ----->| creates log#1, arms no-senders (sync 1)                      |
//     |<-- send right -----| (MAKE_SEND: made 1)                                          |
//     |-- use, use ------->|                                                              |
//     |                    |<------------------------------------------ open "log" -------|  t = 9 ms
//     |                    |  loading (2 ms of I/O) ...                                   |
//     x drops its right    |  t = 10 ms: the kernel queues NO_SENDERS (mscount 1)         |
//                          |-- send right (MAKE_SEND: made 2) --------------------------->|  t = 11 ms
//                          |  NO_SENDERS says mscount 1 < made 2: a sender appeared        |
//                          |  after the notification left: re-arm with sync 2, keep log#1 |
//                          |<-- use (sees the state of log#1), then drop -----------------|
//                          |  NO_SENDERS mscount 2 == made 2: free log#1                   |
//   client-c (t = 20 ms) opens "log" again: a fresh object, log#2, freed the same way
//
// The race protocol (MACH-REFERENCE R15): the notification carries the make-send
// count the kernel had when it fired. Only if that equals the number of send
// rights the server has made (handed out) is nobody left: free. If it is smaller,
// a right made after the notification was sent is alive somewhere: re-arm.
#include <cstdio>
#include <cstring>

#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr mach_msg_id_t kOpen = 1000, kUse = 1001, kBye = 1002, kReplyOffset = 100;
constexpr int kClients = 3;
constexpr int kMaxObjects = 8;

NoSendersStats g_stats;

struct Request {
    mach_msg_header_t head;
    char name[16];  // kOpen: the object's name
};
struct OpenReply {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t object;
};
struct UseReply {
    mach_msg_header_t head;
    int uses;  // how often the object has been used, this use included
};

struct Object {
    char name[16];
    int generation = 0;
    mach_port_t port = MACH_PORT_NULL;  // MACH_PORT_NULL: the slot is free
    mach_port_mscount_t made = 0;       // send rights we made for it (MAKE_SEND in open replies)
    int uses = 0;
};
Object objects[kMaxObjects];

// Arms (or re-arms) the no-senders request; the notification comes to the object's own port.
kern_return_t arm(Object& o, mach_port_mscount_t sync) {
    mach_port_t previous = MACH_PORT_NULL;
    kern_return_t kr = mach_port_request_notification(mach_task_self(), o.port, MACH_NOTIFY_NO_SENDERS, sync, o.port,
                                                      MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous);
    if (kr == KERN_SUCCESS && previous != MACH_PORT_NULL) mach_port_deallocate(mach_task_self(), previous);
    return kr;
}

Object* find_or_create(const char* name, mach_port_t set) {
    for (Object& o : objects)
        if (o.port != MACH_PORT_NULL && std::strcmp(o.name, name) == 0) return &o;
    for (Object& o : objects) {
        if (o.port != MACH_PORT_NULL) continue;
        o = Object{};
        std::snprintf(o.name, sizeof o.name, "%s", name);
        o.generation = ++g_stats.created;
        if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &o.port) != KERN_SUCCESS) return nullptr;
        mach_port_move_member(mach_task_self(), o.port, set);
        // sync 1: fire once the first right we make has come and gone (sync 0 would fire now: no senders yet).
        if (arm(o, 1) != KERN_SUCCESS) return nullptr;
        std::printf("objserver: created %s#%d (port %#x), no-senders armed with sync 1\n", o.name, o.generation, o.port);
        return &o;
    }
    return nullptr;
}

void on_no_senders(Object& o, mach_port_mscount_t mscount) {
    if (mscount < o.made) {  // R15: a right we made after the kernel sent this is still out there
        ++g_stats.rearmed;
        std::printf("objserver: NO_SENDERS for %s#%d with mscount %u < made %u: a new sender appeared while it was "
                    "in flight; re-armed with sync %u, object kept\n",
                    o.name, o.generation, mscount, o.made, o.made);
        if (arm(o, o.made) != KERN_SUCCESS) std::fprintf(stderr, "objserver: re-arm failed\n");
        return;
    }
    ++g_stats.freed;
    std::printf("objserver: NO_SENDERS for %s#%d with mscount %u == made %u: nobody can reach it; freed after %d "
                "uses\n",
                o.name, o.generation, mscount, o.made, o.uses);
    mach_port_mod_refs(mach_task_self(), o.port, MACH_PORT_RIGHT_RECEIVE, -1);  // leaves the set too
    o.port = MACH_PORT_NULL;
}

int live_objects() {
    int n = 0;
    for (const Object& o : objects) n += o.port != MACH_PORT_NULL;
    return n;
}

int server() {
    mach_port_t service = MACH_PORT_NULL, set = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "objects", &service);
    if (kr == KERN_SUCCESS) kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set);
    if (kr == KERN_SUCCESS) kr = mach_port_move_member(mach_task_self(), service, set);
    if (kr != KERN_SUCCESS) {
        mach_error("objserver: setup:", kr);
        return 1;
    }
    int byes = 0;
    while (byes < kClients || live_objects() > 0) {
        struct {
            union {
                Request req;
                mach_no_senders_notification_t ns;
            } u;
            mach_msg_trailer_t trailer;
        } in{};
        mach_msg_return_t mr = mach_msg(&in.u.req.head, MACH_RCV_MSG, 0, sizeof in, set, MACH_MSG_TIMEOUT_NONE, 0);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("objserver: receive:", mr);
            return 1;
        }
        const mach_msg_header_t& h = in.u.req.head;
        Object* target = nullptr;
        for (Object& o : objects)
            if (o.port != MACH_PORT_NULL && o.port == h.msgh_local_port) target = &o;
        if (h.msgh_id == kBye) {
            ++byes;
        } else if (h.msgh_id == MACH_NOTIFY_NO_SENDERS && target) {
            on_no_senders(*target, in.u.ns.not_count);
        } else if (h.msgh_id == kOpen) {
            Object* o = find_or_create(in.u.req.name, set);
            if (!o) return 1;
            std::printf("objserver: open \"%s\": loading %s#%d (2 ms, tick %llu)\n", o->name, o->name, o->generation,
                        static_cast<unsigned long long>(machsim::now()));
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 2);  // I/O: other tasks run meanwhile
            OpenReply out{};
            out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) | MACH_MSGH_BITS_COMPLEX;
            out.head.msgh_remote_port = h.msgh_remote_port;
            out.head.msgh_id = kOpen + kReplyOffset;
            out.body.msgh_descriptor_count = 1;
            out.object = {o->port, 0, 0, MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_PORT_DESCRIPTOR};
            ++o->made;  // counted with the MAKE_SEND it goes with
            mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, 0);
            if (mr != MACH_MSG_SUCCESS) mach_error("objserver: open reply:", mr);
            std::printf("objserver: handed out a send right to %s#%d (made %u)\n", o->name, o->generation, o->made);
        } else if (h.msgh_id == kUse && target) {
            UseReply out{};
            out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
            out.head.msgh_remote_port = h.msgh_remote_port;
            out.head.msgh_id = kUse + kReplyOffset;
            out.uses = ++target->uses;
            mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, 0);
            if (mr != MACH_MSG_SUCCESS) mach_error("objserver: use reply:", mr);
        } else {
            mach_msg_destroy(&in.u.req.head);  // not ours: drop it and whatever rights it carries
        }
    }
    std::printf("objserver: no clients and no objects left; exiting\n");
    return 0;
}

// One RPC to `to`: kOpen (with `name`) returns the object's send right, kUse the use count.
int rpc(mach_port_t to, mach_msg_id_t id, const char* name) {
    mach_port_t reply = mig_get_reply_port();
    union {
        Request out;
        struct {
            union {
                OpenReply open;
                UseReply use;
            } u;
            mach_msg_trailer_t trailer;
        } in;
    } buf{};
    buf.out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.out.head.msgh_remote_port = to;
    buf.out.head.msgh_local_port = reply;
    buf.out.head.msgh_id = id;
    std::snprintf(buf.out.name, sizeof buf.out.name, "%s", name);
    mach_msg_return_t mr = mach_msg(&buf.out.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.out, sizeof buf.in, reply,
                                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS || buf.in.u.open.head.msgh_id != id + kReplyOffset) {
        mach_error("client: rpc:", mr);
        return -1;
    }
    return id == kOpen ? static_cast<int>(buf.in.u.open.object.name) : buf.in.u.use.uses;
}

void sleep_ms(int ms) { thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, ms); }

// Opens `name`, uses it `uses` times, optionally waits, then drops the right.
bool session(const char* who, mach_port_t service, const char* name, int uses, int linger_ms) {
    int object = rpc(service, kOpen, name);
    if (object <= 0) return false;
    std::printf("%s: opened \"%s\" (send right %#x, tick %llu)\n", who, name, object,
                static_cast<unsigned long long>(machsim::now()));
    for (int i = 0; i < uses; ++i) {
        int n = rpc(static_cast<mach_port_t>(object), kUse, "");
        if (n < 0) return false;
        std::printf("%s: used \"%s\": use #%d of this object\n", who, name, n);
    }
    if (linger_ms) sleep_ms(linger_ms);
    std::printf("%s: drops its send right to \"%s\" (tick %llu)\n", who, name,
                static_cast<unsigned long long>(machsim::now()));
    return mach_port_deallocate(mach_task_self(), static_cast<mach_port_t>(object)) == KERN_SUCCESS;
}

int client(const char* who, int start_ms, int linger_ms) {
    if (start_ms) sleep_ms(start_ms);
    mach_port_t service = MACH_PORT_NULL;
    kern_return_t kr = look_up_service("objects", &service);
    if (kr != KERN_SUCCESS) {
        mach_error("client: bootstrap_look_up:", kr);
        return 1;
    }
    if (!session(who, service, "log", 2, linger_ms)) return 1;
    Request bye{{MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0), sizeof bye, service, MACH_PORT_NULL, 0, kBye}, ""};
    return mach_msg(&bye.head, MACH_SEND_MSG, sizeof bye, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, 0) ? 1 : 0;
}

}  // namespace

NoSendersStats nosenders_stats() { return g_stats; }

Program nosenders_program() {
    return {"nosenders", "objects garbage-collected on no-senders notifications, with the Hurd libports race protocol",
            [](Kernel& k) {
                g_stats = {};
                for (Object& o : objects) o = Object{};
                k.spawn("objserver", server);
                // client-a drops "log" at ~10 ms, while the server is handing it to client-b (9-11 ms).
                k.spawn("client-a", [] { return client("client-a", 0, 8); });
                k.spawn("client-b", [] { return client("client-b", 9, 0); });
                k.spawn("client-c", [] { return client("client-c", 20, 0); });  // after log#1 is gone
            }};
}

}  // namespace machsim::demos
