// The sandbox lab's grader (README.md has the assignment and the points). It runs the student's
// guard around confined programs of its own, beside services it registers with the real
// bootstrap server, in programs registered here.
#include "labs/grade.h"

#include <mach/notify.h>

#include "labs/sandbox/sandbox.h"

namespace {

using lab::give_up;

constexpr mach_msg_id_t kCall = 6000;  // a service's request; it answers value * 2 (echo) or * 3 (secret)

struct ValueMsg {
    mach_msg_header_t head;
    int32_t value;
};

// The grader's services, outside the sandbox: "echo", which a confined task may use, and
// "secret", which it may not. One daemon checks both in, so that both exist once either does.
int services() {
    mach_port_t echo = MACH_PORT_NULL, secret = MACH_PORT_NULL, set = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "secret", &secret) != KERN_SUCCESS ||
        bootstrap_check_in(bootstrap_port, "echo", &echo) != KERN_SUCCESS)
        return give_up("the grader's services could not check in");
    (void)mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set);
    (void)mach_port_move_member(mach_task_self(), echo, set);
    (void)mach_port_move_member(mach_task_self(), secret, set);
    for (;;) {
        struct {
            ValueMsg m;
            mach_msg_max_trailer_t trailer;
        } in{};
        if (mach_msg(&in.m.head, MACH_RCV_MSG, 0, sizeof in, set, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            continue;
        ValueMsg out{};
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.head.msgh_size = sizeof out;
        out.head.msgh_remote_port = in.m.head.msgh_remote_port;
        out.head.msgh_id = kCall + 100;
        out.value = in.m.value * (in.m.head.msgh_local_port == echo ? 2 : 3);
        if (mach_msg(&out.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof out, 0, MACH_PORT_NULL, 0,
                     MACH_PORT_NULL) != MACH_MSG_SUCCESS)
            mach_msg_destroy(&out.head);
    }
}

// Calls a service through `svc`: its answer, or -1.
int32_t call(mach_port_t svc, int32_t value) {
    struct {
        ValueMsg m;
        mach_msg_max_trailer_t trailer;
    } buf{};
    buf.m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.m.head.msgh_size = sizeof buf.m;
    buf.m.head.msgh_remote_port = svc;
    buf.m.head.msgh_local_port = mig_get_reply_port();
    buf.m.head.msgh_id = kCall;
    buf.m.value = value;
    if (mach_msg(&buf.m.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.m, sizeof buf, buf.m.head.msgh_local_port,
                 MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) != MACH_MSG_SUCCESS)
        return -1;
    return buf.m.value;
}

// Inside the sandbox: finds "echo" through the guard and calls it.
int use_echo(const char* who) {
    mach_port_t echo = lab::look_up("echo");
    if (!echo) return 1;
    if (int32_t got = call(echo, 21); got != 42)
        return give_up("{}: \"echo\", found through the guard, answered {} to 21, not 42: the right is not echo's",
                       who, got);
    return 0;
}

// Inside the sandbox: what the guard must refuse.
int try_forbidden(const char* who) {
    mach_port_t echo = lab::look_up("echo");  // the services are up: "secret" is registered too
    if (!echo) return 1;
    mach_port_t got = MACH_PORT_NULL;
    if (kern_return_t kr = bootstrap_look_up(bootstrap_port, "secret", &got); kr != BOOTSTRAP_UNKNOWN_SERVICE)
        return give_up("{}: look_up(\"secret\"), a service outside the sandbox: {}, not BOOTSTRAP_UNKNOWN_SERVICE",
                       who, mach_error_string(kr));
    if (kern_return_t kr = bootstrap_look_up(bootstrap_port, "nobody", &got); kr != BOOTSTRAP_UNKNOWN_SERVICE)
        return give_up("{}: look_up(\"nobody\"): {}, not BOOTSTRAP_UNKNOWN_SERVICE", who, mach_error_string(kr));
    return 0;
}

// Sends the guard a well-formed request with an unknown id; the answer's RetCode, or mach_msg's error.
kern_return_t unknown_request() {
    struct {
        mig_reply_error_t err;
        mach_msg_max_trailer_t trailer;
    } in{};
    bootstrap_request req{};
    req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    req.head.msgh_size = sizeof req;
    req.head.msgh_remote_port = bootstrap_port;
    req.head.msgh_local_port = mig_get_reply_port();
    req.head.msgh_id = 999;
    std::strcpy(req.name, "echo");
    if (mach_msg_return_t mr = mach_msg(&req.head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
        mr != MACH_MSG_SUCCESS)
        return mr;
    if (mach_msg_return_t mr = mach_msg(&in.err.Head, MACH_RCV_MSG, 0, sizeof in, req.head.msgh_local_port, 0,
                                        MACH_PORT_NULL);
        mr != MACH_MSG_SUCCESS)
        return mr;
    if (in.err.Head.msgh_id != 999 + 100) return MIG_REPLY_MISMATCH;
    return in.err.RetCode;
}

int untrusted_denied(mach_port_t) {
    if (int bad = try_forbidden("the confined task")) return bad;
    mach_port_t got = MACH_PORT_NULL;
    if (kern_return_t kr = bootstrap_check_in(bootstrap_port, "mine", &got); kr != BOOTSTRAP_NOT_PRIVILEGED)
        return give_up("check_in(\"mine\") from the sandbox: {}, not BOOTSTRAP_NOT_PRIVILEGED", mach_error_string(kr));
    mach_port_t own = MACH_PORT_NULL;
    (void)mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &own);
    (void)mach_port_insert_right(mach_task_self(), own, own, MACH_MSG_TYPE_MAKE_SEND);
    for (const char* name : {"fresh", "echo"})
        if (kern_return_t kr = bootstrap_register(bootstrap_port, name, own); kr != BOOTSTRAP_NOT_PRIVILEGED)
            return give_up("register(\"{}\") from the sandbox: {}, not BOOTSTRAP_NOT_PRIVILEGED", name,
                           mach_error_string(kr));
    (void)mach_port_deallocate(mach_task_self(), own);  // its own send right: none should be left anywhere
    if (lab::has_senders(own))
        return give_up("a register the guard refused left a send right to the port it carried: a request that "
                       "is refused must give back what it carried (mach_msg_destroy)");
    if (kern_return_t kr = unknown_request(); kr != MIG_BAD_ID)
        return give_up("a request with the unknown id 999: {}, not MIG_BAD_ID", mach_error_string(kr));
    return use_echo("after the refusals");
}

// Outside the sandbox, after the confined task's attempts: nothing it tried reached the real server.
int auditor() {
    thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 50);
    for (const char* name : {"mine", "fresh"}) {
        mach_port_t got = MACH_PORT_NULL;
        if (bootstrap_look_up(bootstrap_port, name, &got) != BOOTSTRAP_UNKNOWN_SERVICE)
            return give_up("the real bootstrap server knows \"{}\": the guard passed a confined task's request on",
                           name);
    }
    mach_port_t echo = lab::look_up("echo");
    if (echo && call(echo, 4) != 8) return give_up("\"echo\" no longer reaches the grader's service: it was taken over");
    return 0;
}

// Waits until the task `child` (a send right to its task port) has ended.
bool wait_for_end(task_t child) {
    mach_port_t notify = MACH_PORT_NULL, previous = MACH_PORT_NULL;
    (void)mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &notify);
    if (mach_port_request_notification(mach_task_self(), child, MACH_NOTIFY_DEAD_NAME, 1, notify,
                                       MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous) != KERN_SUCCESS)
        return false;
    struct {
        mach_dead_name_notification_t n;
        mach_msg_max_trailer_t trailer;
    } in{};
    return mach_msg(&in.n.not_header, MACH_RCV_MSG, 0, sizeof in, notify, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) ==
           MACH_MSG_SUCCESS;
}

int untrusted_nested(mach_port_t) {
    task_t child = machsim::task_spawn("grandchild", [](mach_port_t) -> int {
        if (int bad = try_forbidden("a task the confined task spawned")) return bad;
        return use_echo("a task the confined task spawned");
    });
    if (!MACH_PORT_VALID(child) || !wait_for_end(child)) return give_up("the confined task could not spawn a task");
    return 0;
}

int untrusted_vanish(mach_port_t) {
    // A task that asks the guard for "echo" and ends before the answer comes.
    task_t child = machsim::task_spawn("vanisher", [](mach_port_t) {
        bootstrap_request req{};
        req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        req.head.msgh_size = sizeof req;
        req.head.msgh_remote_port = bootstrap_port;
        req.head.msgh_local_port = mig_get_reply_port();
        req.head.msgh_id = BOOTSTRAP_MSG_LOOK_UP;
        std::strcpy(req.name, "echo");
        (void)mach_msg(&req.head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
    });
    if (!MACH_PORT_VALID(child) || !wait_for_end(child)) return give_up("the confined task could not spawn a task");
    return use_echo("after a client vanished");
}

void spawn_guard(machsim::Kernel& k, untrusted_fn untrusted) {
    k.spawn("guard", [untrusted] { return guard(untrusted); });
}
void spawn_services(machsim::Kernel& k) { k.spawn("services", services, machsim::SpawnOptions{.daemon = true}); }

}  // namespace

MACHSIM_PROGRAM(sb_allowed, "sandbox grader: the confined task looks up \"echo\" and calls it") {
    spawn_services(k);
    spawn_guard(k, [](mach_port_t) { return use_echo("the confined task"); });
}
MACHSIM_PROGRAM(sb_denied, "sandbox grader: the confined task tries what it may not; an auditor checks the real server") {
    spawn_services(k);
    spawn_guard(k, untrusted_denied);
    k.spawn("auditor", auditor);
}
MACHSIM_PROGRAM(sb_nested, "sandbox grader: a task the confined task spawns tries the same") {
    spawn_services(k);
    spawn_guard(k, untrusted_nested);
}
MACHSIM_PROGRAM(sb_vanish, "sandbox grader: a confined task asks and ends before the answer") {
    spawn_services(k);
    spawn_guard(k, untrusted_vanish);
}
MACHSIM_PROGRAM(sb_quick, "sandbox grader: the confined task ends at once") {
    spawn_guard(k, [](mach_port_t) { return 0; });
}

namespace {

// The guard answered the confined task's look-ups itself, rather than the real server.
void guard_was_asked(lab::Test& t, const lab::Run& r) {
    int asked = r.received("guard", BOOTSTRAP_MSG_LOOK_UP);
    t.expect(asked >= 1,
             "the guard received {} look-up requests: the confined task asked the real bootstrap server "
             "(was the guard's port its bootstrap port before task_spawn?)",
             asked);
}

}  // namespace

LAB_TEST("the confined task finds \"echo\" through the guard and calls it through the right it gets", 20) {
    lab::Run r = lab::run("sb_allowed");
    t.expect_clean(r);
    guard_was_asked(t, r);
}

LAB_TEST("everything else is refused: a hidden service, check-in, register (its right released), unknown requests", 25) {
    lab::Run r = lab::run("sb_denied");
    t.expect_clean(r);
    guard_was_asked(t, r);
}

LAB_TEST("the tasks a confined task spawns are confined too", 15) {
    t.expect_clean(lab::run("sb_nested"));
}

LAB_TEST("the guard returns once the confined task has ended, at once or later, and outlives a client that vanishes", 20) {
    if (!t.expect_clean(lab::run("sb_quick"))) return;
    t.expect_clean(lab::run("sb_vanish"));
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one, four programs", 20) {
    for (const char* program : {"sb_allowed", "sb_nested", "sb_vanish", "sb_quick"}) {
        lab::under_schedules(t, program, [&](const lab::Run& r) {
            if (std::string(program) == "sb_allowed") guard_was_asked(t, r);
        });
        if (t.failed()) return;
    }
}

LAB_MAIN("sandbox")
