// The nameserver lab's grader (README.md has the assignment and the points). It runs the
// student's name_server with services and clients of its own, in programs registered here.
#include "labs/grade.h"

#include <cstring>

#include <servers/bootstrap.h>

#include "labs/nameserver/ns.h"

namespace {

using lab::give_up;

constexpr mach_msg_id_t kDouble = 5000;  // the grader's services answer value * 2, with id 5100

mach_port_t look_up_ns() { return lab::look_up("ns"); }

// An answer of the name server: a mig_reply_error_t, or a lookup's port.
union Answer {
    mig_reply_error_t err;
    ns_lookup_reply found;
    struct {
        ns_lookup_reply reply;
        mach_msg_max_trailer_t trailer;
    } in;
};

// Sends `req` (size bytes) to the name server and receives its answer; returns mach_msg's code.
template <class Request>
mach_msg_return_t call(mach_port_t ns, Request& req, mach_msg_id_t id, Answer& out) {
    mach_port_t reply = mig_get_reply_port();
    req.Head.msgh_bits |= MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    req.Head.msgh_size = sizeof req;
    req.Head.msgh_remote_port = ns;
    req.Head.msgh_local_port = reply;
    req.Head.msgh_id = id;
    req.NDR = NDR_record_t MACHSIM_NDR_NATIVE;
    mach_msg_return_t mr = mach_msg(&req.Head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                                    MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) return mr;
    out = {};
    return mach_msg(&out.in.reply.Head, MACH_RCV_MSG, 0, sizeof out.in, reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

// Copies `name` into a request's field; a name of NS_NAME_MAX characters or more fills it
// with no NUL, on purpose (the server must refuse it).
void put_name(char (&field)[NS_NAME_MAX], const char* name) {
    std::memcpy(field, name, std::min<std::size_t>(std::strlen(name) + 1, NS_NAME_MAX));
}

// NS_REGISTER of `port` (made send) under `name`: the answer's RetCode, or mach_msg's error.
kern_return_t ns_register(mach_port_t ns, const char* name, mach_port_t port) {
    ns_register_request req{};
    req.Head.msgh_bits = MACH_MSGH_BITS_COMPLEX;
    req.msgh_body.msgh_descriptor_count = 1;
    req.service.name = port;
    req.service.disposition = MACH_MSG_TYPE_MAKE_SEND;
    req.service.type = MACH_MSG_PORT_DESCRIPTOR;
    put_name(req.name, name);
    Answer a;
    if (mach_msg_return_t mr = call(ns, req, NS_REGISTER, a); mr != MACH_MSG_SUCCESS) return mr;
    if (a.err.Head.msgh_id != NS_REGISTER + NS_REPLY_OFFSET) return MIG_REPLY_MISMATCH;
    if (a.err.Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) return MIG_TYPE_ERROR;
    return a.err.RetCode;
}

// NS_LOOKUP of `name`: KERN_SUCCESS and the send right in *port, or the answer's RetCode.
kern_return_t ns_lookup(mach_port_t ns, const char* name, mach_port_t* port, mach_msg_id_t id = NS_LOOKUP) {
    ns_lookup_request req{};
    put_name(req.name, name);
    Answer a;
    if (mach_msg_return_t mr = call(ns, req, id, a); mr != MACH_MSG_SUCCESS) return mr;
    if (a.err.Head.msgh_id != id + NS_REPLY_OFFSET) return MIG_REPLY_MISMATCH;
    if (!(a.err.Head.msgh_bits & MACH_MSGH_BITS_COMPLEX)) return a.err.RetCode;
    if (a.found.msgh_body.msgh_descriptor_count != 1 || a.found.service.type != MACH_MSG_PORT_DESCRIPTOR ||
        a.found.service.disposition != MACH_MSG_TYPE_PORT_SEND) {
        mach_msg_destroy(&a.found.Head);
        return MIG_TYPE_ERROR;
    }
    *port = a.found.service.name;
    return KERN_SUCCESS;
}

struct DoubleMsg {
    mach_msg_header_t Head;
    int32_t value;
};

// A service: registers a port of its own as `name` and answers `count` requests.
int service(const char* name, int count) {
    mach_port_t ns = look_up_ns();
    if (!ns) return 1;
    mach_port_t port = MACH_PORT_NULL;
    (void)mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port);
    if (kern_return_t kr = ns_register(ns, name, port); kr != KERN_SUCCESS)
        return give_up("register(\"{}\") of a fresh port: {}", name, mach_error_string(kr));
    for (int i = 0; i < count; ++i) {
        struct {
            DoubleMsg m;
            mach_msg_max_trailer_t trailer;
        } in{};
        if (mach_msg(&in.m.Head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return give_up("service {} could not receive", name);
        DoubleMsg out{};
        out.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.Head.msgh_size = sizeof out;
        out.Head.msgh_remote_port = in.m.Head.msgh_remote_port;
        out.Head.msgh_id = kDouble + 100;
        out.value = in.m.value * 2;
        (void)mach_msg(&out.Head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    }
    return 0;
}

// A client: looks `name` up (again while it is not bound yet) and calls the service through
// the right it got, so the right must be the service's.
int client(const char* name, int32_t value) {
    mach_port_t ns = look_up_ns();
    if (!ns) return 1;
    mach_port_t svc = MACH_PORT_NULL;
    kern_return_t kr = ns_lookup(ns, name, &svc);
    for (int tries = 0; kr == KERN_INVALID_NAME && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = ns_lookup(ns, name, &svc);
    }
    if (kr != KERN_SUCCESS) return give_up("lookup(\"{}\") of a registered service: {}", name, mach_error_string(kr));
    struct {
        DoubleMsg m;
        mach_msg_max_trailer_t trailer;
    } buf{};
    mach_port_t reply = mig_get_reply_port();
    buf.m.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.m.Head.msgh_size = sizeof buf.m;
    buf.m.Head.msgh_remote_port = svc;
    buf.m.Head.msgh_local_port = reply;
    buf.m.Head.msgh_id = kDouble;
    buf.m.value = value;
    mach_msg_return_t mr = mach_msg(&buf.m.Head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.m, sizeof buf, reply,
                                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS)
        return give_up("calling \"{}\" through the right lookup gave: {}", name, mach_error_string(mr));
    if (buf.m.value != value * 2) return give_up("\"{}\" answered {}, not {}", name, buf.m.value, value * 2);
    (void)mach_port_deallocate(mach_task_self(), svc);
    return 0;
}

mach_port_t fresh_port() {
    mach_port_t p = MACH_PORT_NULL;
    (void)mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p);
    return p;
}

int errors_client() {
    mach_port_t ns = look_up_ns();
    if (!ns) return 1;
    mach_port_t got = MACH_PORT_NULL;
    if (kern_return_t kr = ns_lookup(ns, "nobody", &got); kr != KERN_INVALID_NAME)
        return give_up("lookup(\"nobody\"), never registered: {}, not KERN_INVALID_NAME", mach_error_string(kr));
    mach_port_t first = fresh_port(), second = fresh_port();
    if (kern_return_t kr = ns_register(ns, "dup", first); kr != KERN_SUCCESS)
        return give_up("register(\"dup\"): {}", mach_error_string(kr));
    if (kern_return_t kr = ns_register(ns, "dup", second); kr != KERN_NAME_EXISTS)
        return give_up("register(\"dup\") a second time: {}, not KERN_NAME_EXISTS", mach_error_string(kr));
    const char long_name[] = "0123456789abcdef0123456789abcdef";  // 32 characters: no room for the NUL
    if (kern_return_t kr = ns_register(ns, long_name, fresh_port()); kr != KERN_INVALID_ARGUMENT)
        return give_up("register of a 32-character name: {}, not KERN_INVALID_ARGUMENT", mach_error_string(kr));
    if (kern_return_t kr = ns_lookup(ns, "dup", &got, 4099); kr != MIG_BAD_ID)
        return give_up("a request with the unknown id 4099: {}, not MIG_BAD_ID", mach_error_string(kr));
    if (kern_return_t kr = ns_lookup(ns, "dup", &got); kr != KERN_SUCCESS)
        return give_up("lookup(\"dup\"): {}", mach_error_string(kr));
    // A send right to a port whose receive right this task holds arrives under the same name.
    if (got != first) return give_up("lookup(\"dup\") gave a right to another port than the one registered");
    return 0;
}

int no_leak_client() {
    mach_port_t ns = look_up_ns();
    if (!ns) return 1;
    mach_port_t first = fresh_port(), second = fresh_port(), third = fresh_port();
    if (kern_return_t kr = ns_register(ns, "taken", first); kr != KERN_SUCCESS)
        return give_up("register(\"taken\"): {}", mach_error_string(kr));
    (void)ns_register(ns, "taken", second);
    if (lab::has_senders(second))
        return give_up("a register that failed (the name was taken) left a send right to the port it carried: "
                       "a request that fails must give back what it carried (mach_msg_destroy)");
    (void)ns_register(ns, "", third);
    if (lab::has_senders(third))
        return give_up("a register that failed (an empty name) left a send right to the port it carried");
    if (!lab::has_senders(first)) return give_up("the name server does not hold the right a register gave it");
    return 0;
}

// Registers `name` and is gone at once: its port dies, and the name server's right becomes a dead name.
int short_lived(const char* name) {
    mach_port_t ns = look_up_ns();
    if (!ns) return 1;
    if (kern_return_t kr = ns_register(ns, name, fresh_port()); kr != KERN_SUCCESS)
        return give_up("register(\"{}\"): {}", name, mach_error_string(kr));
    return 0;
}

int after_death() {
    mach_port_t ns = look_up_ns();
    if (!ns) return 1;
    thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 10);  // "first" registers "calc" and exits meanwhile
    mach_port_t got = MACH_PORT_NULL;
    if (kern_return_t kr = ns_lookup(ns, "calc", &got); kr != KERN_INVALID_NAME)
        return give_up("lookup(\"calc\") after its service died: {}, not KERN_INVALID_NAME", mach_error_string(kr));
    return client("calc", 21);  // "second" registers "calc" again and serves it
}

void spawn_ns(machsim::Kernel& k) { k.spawn("ns", name_server, machsim::SpawnOptions{.daemon = true}); }

}  // namespace

MACHSIM_PROGRAM(ns_basic, "nameserver grader: two services and two clients that find them") {
    spawn_ns(k);
    k.spawn("calc", [] { return service("calc", 1); });
    k.spawn("client", [] { return client("calc", 21); });
    k.spawn("echo", [] { return service("echo", 1); });
    k.spawn("client2", [] { return client("echo", 5); });
}
MACHSIM_PROGRAM(ns_errors, "nameserver grader: names never bound, taken, too long; an unknown request") {
    spawn_ns(k);
    k.spawn("client", errors_client);
}
MACHSIM_PROGRAM(ns_no_leak, "nameserver grader: registers that fail must not keep the rights they carried") {
    spawn_ns(k);
    k.spawn("client", no_leak_client);
}
MACHSIM_PROGRAM(ns_dead, "nameserver grader: a service dies; its name is free again") {
    spawn_ns(k);
    k.spawn("first", [] { return short_lived("calc"); });
    k.spawn("client", after_death);
    k.spawn("second", [] {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 20);
        return service("calc", 1);
    });
}

LAB_TEST("services register, clients look them up and call them through the rights they get", 25) {
    lab::Run r = lab::run("ns_basic");
    t.expect_clean(r);
    int sent = r.sent_with("ns", NS_LOOKUP + NS_REPLY_OFFSET, MACH_MSG_TYPE_COPY_SEND);
    t.expect(sent >= 2, "{} lookup answers carried a copy of a send right (COPY_SEND), not at least 2", sent);
}

LAB_TEST("names never bound, taken, or too long, and unknown requests, get their codes", 20) {
    t.expect_clean(lab::run("ns_errors"));
}

LAB_TEST("a register that fails keeps no right: the one it carried is released", 15) {
    t.expect_clean(lab::run("ns_no_leak"));
}

LAB_TEST("a name whose service died is unbound: lookup fails, and the name can be registered again", 20) {
    t.expect_clean(lab::run("ns_dead"));
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one, two programs", 20) {
    for (const char* program : {"ns_basic", "ns_dead"}) {
        lab::under_schedules(t, program);
        if (t.failed()) return;
    }
}

LAB_MAIN("nameserver")
