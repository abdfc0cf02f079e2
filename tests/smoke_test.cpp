// The first things a student tries: a port, a message to oneself, an RPC.
#include "tests/support.h"

TEST_SUITE("smoke") {

TEST_CASE("a task sends a message to itself and receives it") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        REQUIRE(MACH_PORT_VALID(p));
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 42);
        CHECK(in.msg.head.msgh_local_port == p);
        CHECK(in.msg.head.msgh_id == 100);
    });
    CHECK(r.clean());
}

TEST_CASE("the echo demo runs clean") {
    const machsim::Program* p = machsim::find_program("echo");
    REQUIRE(p);
    machsim::RunReport r = mt::run_kernel(p->setup);
    INFO(r.summary());
    CHECK(r.clean());
}

}
