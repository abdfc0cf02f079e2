// The bootstrap name server: a task serving check_in, register and look_up.
#include <cstring>

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

}  // TEST_SUITE("bootstrap")
