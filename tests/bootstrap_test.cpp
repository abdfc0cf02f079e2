// The bootstrap name server: a task serving check_in, register and look_up.
#include <cstring>
#include <string>

#include "userland/servers/bootstrap_protocol.h"
#include "tests/support.h"

TEST_SUITE("bootstrap") {

TEST_CASE("every task starts with a send right to the bootstrap server in bootstrap_port") {
    machsim::RunReport r = mt::run_task([] {
        CHECK(MACH_PORT_VALID(bootstrap_port));
        CHECK(mt::type_of(bootstrap_port) == MACH_PORT_TYPE_SEND);
        CHECK(mt::refs(bootstrap_port, MACH_PORT_RIGHT_SEND) == 1);
        mach_port_t bp = MACH_PORT_NULL;
        CHECK_KR(task_get_bootstrap_port(mach_task_self(), &bp), KERN_SUCCESS);
        CHECK(bp == bootstrap_port);  // the same port joins the same name
        CHECK(mt::refs(bootstrap_port, MACH_PORT_RIGHT_SEND) == 2);
    });
    CHECK(r.clean());
}

TEST_CASE("check_in gives the caller the receive right; look_up gives others a send right to it") {
    machsim::Kernel k;
    k.spawn("server", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "svc", &p), BOOTSTRAP_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 99);
    });
    k.spawn("client", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &p), BOOTSTRAP_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 99), MACH_MSG_SUCCESS);
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("looking up a name nobody registered returns BOOTSTRAP_UNKNOWN_SERVICE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = 77;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "nobody", &p), BOOTSTRAP_UNKNOWN_SERVICE);
        CHECK(p == MACH_PORT_NULL);
    });
    CHECK(r.clean());
}

TEST_CASE("checking in a name a live server holds returns BOOTSTRAP_SERVICE_ACTIVE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t a = MACH_PORT_NULL, b = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "once", &a), BOOTSTRAP_SUCCESS);
        CHECK_KR(bootstrap_check_in(bootstrap_port, "once", &b), BOOTSTRAP_SERVICE_ACTIVE);
    });
    CHECK(r.clean());
}

TEST_CASE("register publishes a send right; registering the name again returns BOOTSTRAP_NAME_IN_USE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(bootstrap_register(bootstrap_port, "mine", p), BOOTSTRAP_SUCCESS);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);  // the server got a copy
        CHECK_KR(bootstrap_register(bootstrap_port, "mine", p), BOOTSTRAP_NAME_IN_USE);
        mach_port_t q = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "mine", &q), BOOTSTRAP_SUCCESS);
        CHECK(q == p);  // our own port comes back under its name
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 2);
    });
    CHECK(r.clean());
}

TEST_CASE("a service whose server died can be checked in again (failover)") {
    machsim::Kernel k;
    k.spawn("first", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "svc", &p), BOOTSTRAP_SUCCESS);
    });  // exits: its receive right dies
    k.spawn("second", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &p), BOOTSTRAP_UNKNOWN_SERVICE);
        CHECK_KR(bootstrap_check_in(bootstrap_port, "svc", &p), BOOTSTRAP_SUCCESS);
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("names must be shorter than BOOTSTRAP_MAX_NAME_LEN, and a null sp is KERN_INVALID_ADDRESS; neither sends anything") {
    machsim::RunReport r = mt::run_task([] {
        char longname[200];
        std::memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, longname, &p), BOOTSTRAP_BAD_COUNT);
        CHECK_KR(bootstrap_look_up(bootstrap_port, nullptr, &p), BOOTSTRAP_BAD_COUNT);
        CHECK_KR(bootstrap_check_in(bootstrap_port, longname, &p), BOOTSTRAP_BAD_COUNT);
        CHECK_KR(bootstrap_check_in(bootstrap_port, nullptr, &p), BOOTSTRAP_BAD_COUNT);
        mach_port_t svc = mt::new_port_with_send();
        CHECK_KR(bootstrap_register(bootstrap_port, longname, svc), BOOTSTRAP_BAD_COUNT);
        CHECK_KR(bootstrap_register(bootstrap_port, nullptr, svc), BOOTSTRAP_BAD_COUNT);
        CHECK(mt::refs(svc, MACH_PORT_RIGHT_SEND) == 1);  // nothing was sent
        CHECK(p == MACH_PORT_NULL);
        // A null sp: nothing is sent (a check_in would make a service nobody could serve).
        CHECK_KR(bootstrap_check_in(bootstrap_port, "no-sp", nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(bootstrap_look_up(bootstrap_port, "no-sp", nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(bootstrap_check_in(bootstrap_port, "no-sp", &p), BOOTSTRAP_SUCCESS);  // still free
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
    });
    CHECK(r.clean());
}

TEST_CASE("register of MACH_PORT_NULL or MACH_PORT_DEAD returns BOOTSTRAP_NOT_PRIVILEGED and registers nothing") {
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(bootstrap_register(bootstrap_port, "nothing", MACH_PORT_NULL), BOOTSTRAP_NOT_PRIVILEGED);
        CHECK_KR(bootstrap_register(bootstrap_port, "nothing", MACH_PORT_DEAD), BOOTSTRAP_NOT_PRIVILEGED);
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "nothing", &p), BOOTSTRAP_UNKNOWN_SERVICE);
    });
    CHECK(r.clean());
}

TEST_CASE("calls through a bootstrap port that is not a send right return MACH_SEND_INVALID_DEST") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = 5;
        CHECK_KR(bootstrap_look_up(MACH_PORT_NULL, "x", &p), MACH_SEND_INVALID_DEST);
        CHECK(p == MACH_PORT_NULL);
        CHECK_KR(bootstrap_check_in(MACH_PORT_DEAD, "x", &p), MACH_SEND_INVALID_DEST);
        mach_port_t recv_only = mt::new_receive_right();
        CHECK_KR(bootstrap_look_up(recv_only, "x", &p), MACH_SEND_INVALID_DEST);
        mach_port_t svc = mt::new_port_with_send();
        CHECK_KR(bootstrap_register(MACH_PORT_NULL, "x", svc), MACH_SEND_INVALID_DEST);
        CHECK(mt::refs(svc, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(bootstrap_look_up(bootstrap_port, "x", &p), BOOTSTRAP_UNKNOWN_SERVICE);  // the real one still works
    });
    CHECK(r.clean());
}

TEST_CASE("a register whose request cannot be sent costs the caller nothing later: its next calls get their own replies") {
    machsim::RunReport r = mt::run_task([] {
        // The service right is receive-only: the request's COPY_SEND of it fails
        // after the header rights were made, and its send-once reply right is
        // destroyed, which sends a send-once notification to the reply port.
        mach_port_t recv_only = mt::new_receive_right();
        CHECK_KR(bootstrap_register(bootstrap_port, "r", recv_only), MACH_SEND_INVALID_RIGHT);
        CHECK(mt::type_of(recv_only) == MACH_PORT_TYPE_RECEIVE);
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "nobody", &p), BOOTSTRAP_UNKNOWN_SERVICE);
        CHECK_KR(bootstrap_look_up(bootstrap_port, "nobody-else", &p), BOOTSTRAP_UNKNOWN_SERVICE);
        mach_port_t svc = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "fresh", &svc), BOOTSTRAP_SUCCESS);
        CHECK(mt::type_of(svc) == MACH_PORT_TYPE_RECEIVE);
        CHECK_KR(bootstrap_look_up(bootstrap_port, "fresh", &p), BOOTSTRAP_SUCCESS);
        CHECK(p == svc);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("check_in when the server's name space is full returns BOOTSTRAP_NO_MEMORY and the server runs on") {
    machsim::Config cfg;
    cfg.max_names = 8;
    machsim::RunReport r = mt::run_task(
        [] {
            kern_return_t kr = BOOTSTRAP_SUCCESS;
            char name[16];
            int served = 0;
            for (; served < 40 && kr == BOOTSTRAP_SUCCESS; ++served) {
                std::snprintf(name, sizeof name, "svc%d", served);
                mach_port_t svc = MACH_PORT_NULL;
                kr = bootstrap_check_in(bootstrap_port, name, &svc);
                if (kr == BOOTSTRAP_SUCCESS) CHECK_KR(mach_port_destroy(mach_task_self(), svc), KERN_SUCCESS);
            }
            CHECK_KR(kr, BOOTSTRAP_NO_MEMORY);
            CHECK(served < 8);  // the server's own names fill its space first
            mach_port_t p = MACH_PORT_NULL;
            CHECK_KR(bootstrap_look_up(bootstrap_port, "svc0", &p), BOOTSTRAP_UNKNOWN_SERVICE);  // its server died
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a malformed request gets MIG_BAD_ID or MIG_BAD_ARGUMENTS and the server runs on") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t reply = mach_reply_port();
        CHECK_KR(mt::send_simple(bootstrap_port, MACH_MSG_TYPE_COPY_SEND, 0, 0, 0, reply,
                                 MACH_MSG_TYPE_MAKE_SEND_ONCE, 999),
                 MACH_MSG_SUCCESS);
        mig_reply_error_t err{};
        CHECK_KR(mach_msg(&err.Head, MACH_RCV_MSG, 0, sizeof err + 8, reply, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK(err.RetCode == MIG_BAD_ARGUMENTS);  // too short to be any bootstrap request
        machsim::servers::BootstrapRequest req{};  // the right shape, an id the server does not know
        req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        req.head.msgh_size = sizeof req;
        req.head.msgh_remote_port = bootstrap_port;
        req.head.msgh_local_port = reply;
        req.head.msgh_id = 999;
        CHECK_KR(mach_msg(&req.head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        err = {};
        CHECK_KR(mach_msg(&err.Head, MACH_RCV_MSG, 0, sizeof err + 8, reply, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK(err.RetCode == MIG_BAD_ID);
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "still-serving", &p), BOOTSTRAP_UNKNOWN_SERVICE);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// --- task_set_special_port: a parent chooses its children's name server ----------------------------------

namespace {

// Receives one request of the bootstrap protocol on `port`.
machsim::servers::BootstrapRequest next_request(mach_port_t port) {
    struct {
        machsim::servers::BootstrapRequest req;
        mach_msg_trailer_t trailer;
    } in{};
    CHECK_KR(mach_msg(&in.req.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
             MACH_MSG_SUCCESS);
    return in.req;
}

// Answers a look_up request with a send right made from `port`, as the bootstrap server answers.
void answer_look_up(const machsim::servers::BootstrapRequest& req, mach_port_t port) {
    machsim::servers::BootstrapPortReply rep{};
    rep.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) | MACH_MSGH_BITS_COMPLEX;
    rep.head.msgh_size = sizeof rep;
    rep.head.msgh_remote_port = req.head.msgh_remote_port;
    rep.head.msgh_id = req.head.msgh_id + 100;
    rep.body.msgh_descriptor_count = 1;
    rep.port.name = port;
    rep.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
    rep.port.type = MACH_MSG_PORT_DESCRIPTOR;
    rep.ret = BOOTSTRAP_SUCCESS;
    CHECK_KR(mach_msg(&rep.head, MACH_SEND_MSG, sizeof rep, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
}

mach_port_t special_bootstrap(task_t task) {
    mach_port_t p = 0xdead;
    CHECK_KR(task_get_bootstrap_port(task, &p), KERN_SUCCESS);
    return p;
}

}  // namespace

TEST_CASE("a task sets its bootstrap port: the tasks it spawns from then on, and theirs, ask its own name server") {
    machsim::RunReport r = mt::run_task([] {
        const mach_port_t real = bootstrap_port;
        (void)machsim::task_spawn("before", [](mach_port_t) {  // spawned before the change: the real server
            mach_port_t p = MACH_PORT_NULL;
            CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &p), BOOTSTRAP_UNKNOWN_SERVICE);
        });
        mach_port_t ns = mt::new_port_with_send();
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), ns), KERN_SUCCESS);
        CHECK(mt::refs(ns, MACH_PORT_RIGHT_SEND) == 1);  // copied (COPY_SEND), as the MIG call carries it
        CHECK(special_bootstrap(mach_task_self()) == ns);
        CHECK(mt::refs(ns, MACH_PORT_RIGHT_SEND) == 2);
        CHECK(bootstrap_port == real);  // as on macOS: bootstrap_port keeps what the task started with

        (void)machsim::task_spawn("child", [](mach_port_t) {
            CHECK(special_bootstrap(mach_task_self()) == bootstrap_port);
            mach_port_t svc = MACH_PORT_NULL;
            CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &svc), BOOTSTRAP_SUCCESS);
            CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);
            (void)machsim::task_spawn("grandchild", [](mach_port_t) {  // inherits the child's
                CHECK_KR(mt::send_simple(bootstrap_port, MACH_MSG_TYPE_COPY_SEND, 7), MACH_MSG_SUCCESS);
            });
        });
        machsim::servers::BootstrapRequest req = next_request(ns);
        CHECK(req.head.msgh_id == BOOTSTRAP_MSG_LOOK_UP);
        CHECK(std::string(req.name) == "svc");
        mach_port_t svc = mt::new_receive_right();
        answer_look_up(req, svc);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(svc, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 42);
        CHECK_KR(mt::receive_simple(ns, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 7);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a bootstrap port set to null, to MACH_PORT_DEAD, to a dead name or to a port that dies: what children start with") {
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), MACH_PORT_NULL), KERN_SUCCESS);
        CHECK(special_bootstrap(mach_task_self()) == MACH_PORT_NULL);
        (void)machsim::task_spawn("none", [](mach_port_t) {
            CHECK(bootstrap_port == MACH_PORT_NULL);
            CHECK(special_bootstrap(mach_task_self()) == MACH_PORT_NULL);
            mach_port_t p = MACH_PORT_NULL;
            CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &p), MACH_SEND_INVALID_DEST);
        });

        auto spawn_expecting_dead = [](const char* name) {
            (void)machsim::task_spawn(name, [](mach_port_t) {
                CHECK(bootstrap_port == MACH_PORT_DEAD);
                CHECK(special_bootstrap(mach_task_self()) == MACH_PORT_DEAD);
            });
        };
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), MACH_PORT_DEAD), KERN_SUCCESS);
        CHECK(special_bootstrap(mach_task_self()) == MACH_PORT_DEAD);
        spawn_expecting_dead("dead");

        mach_port_t dies = mt::new_port_with_send();
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), dies), KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), dies, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(special_bootstrap(mach_task_self()) == MACH_PORT_DEAD);
        spawn_expecting_dead("died");

        CHECK(mt::type_of(dies) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), dies), KERN_SUCCESS);  // a dead name is taken
        CHECK(mt::refs(dies, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(special_bootstrap(mach_task_self()) == MACH_PORT_DEAD);
        spawn_expecting_dead("dead-name");
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("the kernel holds the special port's send right: no-senders waits until it is replaced") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t ns = mt::new_port_with_send();
        mach_port_t notify = mt::new_receive_right(), previous = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), ns, MACH_NOTIFY_NO_SENDERS, 0, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), ns), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), ns), KERN_SUCCESS);  // the task's own send right goes
        mach_no_senders_notification_t n{};
        CHECK_KR(mach_msg(&n.not_header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof n + 8, notify, 0, MACH_PORT_NULL),
                 MACH_RCV_TIMED_OUT);
        CHECK(machsim::check_invariants().empty());  // the census counts the kernel's right
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), bootstrap_port), KERN_SUCCESS);  // back to the real one
        CHECK_KR(mach_msg(&n.not_header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof n + 8, notify, 0, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        CHECK(n.not_header.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(special_bootstrap(mach_task_self()) == bootstrap_port);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("task_set_special_port on another task through its task port") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t go = mt::new_port_with_send();  // the child waits on it until the parent is done
        task_t child = machsim::task_spawn("child", [](mach_port_t go) {
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(go, in), MACH_MSG_SUCCESS);
            CHECK(special_bootstrap(mach_task_self()) != bootstrap_port);  // its start copy is unchanged
            (void)machsim::task_spawn("grandchild", [](mach_port_t) {
                CHECK_KR(mt::send_simple(bootstrap_port, MACH_MSG_TYPE_COPY_SEND, 9), MACH_MSG_SUCCESS);
            });
        }, go, MACH_MSG_TYPE_MOVE_RECEIVE);
        REQUIRE(MACH_PORT_VALID(child));
        mach_port_t ns = mt::new_port_with_send();
        CHECK_KR(task_set_special_port(child, TASK_BOOTSTRAP_PORT, ns), KERN_SUCCESS);
        CHECK(special_bootstrap(child) == ns);
        CHECK_KR(mt::send_simple(go, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(ns, in), MACH_MSG_SUCCESS);  // from the child's child
        CHECK(in.msg.payload == 9);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("task_set_special_port's codes; a call that fails changes nothing and keeps no right") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t ns = mt::new_port_with_send(), receive_only = mt::new_receive_right();
        const mach_port_t real = special_bootstrap(mach_task_self());
        CHECK_KR(mach_port_deallocate(mach_task_self(), real), KERN_SUCCESS);  // the uref that call added
        CHECK_KR(task_set_special_port(ns, TASK_BOOTSTRAP_PORT, ns), MACH_SEND_INVALID_DEST);  // not a task
        CHECK_KR(task_set_special_port(0x12345, TASK_BOOTSTRAP_PORT, ns), MACH_SEND_INVALID_DEST);
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), receive_only), MACH_SEND_INVALID_RIGHT);
        CHECK_KR(task_set_bootstrap_port(mach_task_self(), 0x12345), MACH_SEND_INVALID_RIGHT);
        // The right is copied in before `which` is looked at, as MIG's request carries it.
        CHECK_KR(task_set_special_port(mach_task_self(), 99, 0x12345), MACH_SEND_INVALID_RIGHT);
        CHECK_KR(task_set_special_port(mach_task_self(), TASK_KERNEL_PORT, ns), KERN_NO_ACCESS);
        CHECK_KR(task_set_special_port(mach_task_self(), TASK_HOST_PORT, ns), KERN_NO_ACCESS);
        CHECK_KR(task_set_special_port(mach_task_self(), TASK_NAME_PORT, ns), KERN_INVALID_ARGUMENT);
        CHECK_KR(task_set_special_port(mach_task_self(), 99, ns), KERN_INVALID_ARGUMENT);
        CHECK(mt::refs(ns, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::type_of(receive_only) == MACH_PORT_TYPE_RECEIVE);
        CHECK_KR(mach_port_deallocate(mach_task_self(), ns), KERN_SUCCESS);
        CHECK_FALSE(mt::status_of(ns).mps_srights);  // the kernel kept no copy of it
        CHECK(special_bootstrap(mach_task_self()) == real);
        mach_port_t self_port = MACH_PORT_NULL;
        CHECK_KR(task_get_special_port(mach_task_self(), TASK_KERNEL_PORT, &self_port), KERN_SUCCESS);
        CHECK(self_port == mach_task_self());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("bootstrap")
