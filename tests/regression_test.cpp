// Regression tests, each named after the bug it caught.
#include "tests/support.h"

namespace {

struct PortMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
};

struct PortMsgIn {
    PortMsg msg;
    mach_msg_trailer_t trailer;
};

}  // namespace

TEST_SUITE("regressions") {

TEST_CASE("a complex message whose reply right cannot be named destroys its body rights too (no leak)") {
    machsim::Config cfg;
    cfg.max_names = 6;
    machsim::RunReport r = mt::run_task(
        [] {
            mach_port_t p = mt::new_port_with_send();     // names: self, bootstrap, p
            mach_port_t carried = mt::new_receive_right();  // a right to carry in the body
            mach_port_t reply = mt::new_receive_right();
            PortMsg m{};
            m.head.msgh_bits =
                MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE) | MACH_MSGH_BITS_COMPLEX;
            m.head.msgh_size = sizeof m;
            m.head.msgh_remote_port = p;
            m.head.msgh_local_port = reply;
            m.body.msgh_descriptor_count = 1;
            m.port.name = carried;
            m.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
            m.port.type = MACH_MSG_PORT_DESCRIPTOR;
            CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, 0, 0, 0), MACH_MSG_SUCCESS);
            mach_port_t filler = MACH_PORT_NULL;  // fill the space: the reply right finds no name
            CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &filler), KERN_SUCCESS);
            PortMsgIn in{};
            CHECK_KR(mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, p, 0, 0),
                     MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE);
            CHECK(in.msg.port.name == MACH_PORT_NULL);   // the body right was destroyed, not named
            CHECK(mt::status_of(carried).mps_srights == FALSE);
            CHECK(machsim::check_invariants().empty());
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a sender blocked on a full queue is traced with the name it sends to") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    mach_port_t name = MACH_PORT_NULL;
    k.spawn("filler", [&] {
        name = mt::new_port_with_send();
        CHECK_KR(mt::set_qlimit(name, 1), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(name, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(name, MACH_MSG_TYPE_COPY_SEND, 2, MACH_SEND_TIMEOUT, 1), MACH_SEND_TIMED_OUT);
    });
    CHECK(k.run().clean());
    bool seen = false;
    for (const auto& e : log.of_kind(machsim::EventKind::Block)) {
        if (e.text != "send") continue;
        seen = true;
        CHECK(e.event.name == name);
        CHECK(e.event.space == e.event.task);
    }
    CHECK(seen);
}

TEST_CASE("mach_port_mod_refs of a receive right is traced with the send urefs that remain") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    mach_port_t name = MACH_PORT_NULL;
    k.spawn("t", [&] {
        name = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);  // 2 urefs
        CHECK_KR(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
    });
    CHECK(k.run().clean());
    bool seen = false;
    for (const auto& e : log.of_kind(machsim::EventKind::RightChange)) {
        if (e.event.name != name || e.event.before != 2) continue;
        seen = true;
        CHECK(e.event.after == 2);  // the receive right went; both send urefs stayed (as a dead name)
    }
    CHECK(seen);
}

TEST_CASE("a message the kernel composes is traced as the kernel's") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    k.spawn("t", [] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t once = MACH_PORT_NULL;
        mach_msg_type_name_t type = 0;
        CHECK_KR(mach_port_extract_right(mach_task_self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE, &once, &type),
                 KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), once), KERN_SUCCESS);  // a send-once notification
    });
    CHECK(k.run().clean());
    int kernel_sends = 0;
    for (const auto& e : log.of_kind(machsim::EventKind::Send))
        if (e.event.extra == 1) {
            ++kernel_sends;
            CHECK(e.event.code == MACH_NOTIFY_SEND_ONCE);
        }
    CHECK(kernel_sends == 1);
}

TEST_CASE("msgh_bits a task may not set are refused with MACH_SEND_INVALID_HEADER (XNU)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mt::SimpleMsg m{};
        m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_RAISEIMP;
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = p;
        CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, 0, 0, 0), MACH_SEND_INVALID_HEADER);
        CHECK(mt::status_of(p).mps_msgcount == 0);
    });
    CHECK(r.clean());
}

TEST_CASE("one send-once name as both destination and reply is refused with MACH_SEND_INVALID_DEST (XNU)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t once = MACH_PORT_NULL;
        mach_msg_type_name_t type = 0;
        CHECK_KR(mach_port_extract_right(mach_task_self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE, &once, &type),
                 KERN_SUCCESS);
        CHECK_KR(mt::send_simple(once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 1, 0, 0, once, MACH_MSG_TYPE_MOVE_SEND_ONCE),
                 MACH_SEND_INVALID_DEST);
        CHECK(mt::type_of(once) == MACH_PORT_TYPE_SEND_ONCE);  // nothing moved
    });
    CHECK(r.clean());
}

TEST_CASE("control passing from a thread that has just ended is traced as a switch from it") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    k.spawn("first", [] {});
    k.spawn("second", [] {});
    machsim::RunReport r = k.run();
    CHECK(r.clean());
    // Every event of a thread after another's has a switch to it in between.
    uint32_t running = 0;
    int from_ended = 0;
    for (const auto& e : log.entries()) {
        const machsim::Event& ev = e.event;
        if (ev.seq == 0) continue;  // introductions
        if (ev.kind == machsim::EventKind::Switch) {  // thread 0: to the idle loop
            CHECK(ev.extra == running);
            running = ev.thread;
        } else if (ev.thread == 0) {
            continue;  // the kernel itself
        } else if (ev.kind == machsim::EventKind::ThreadExit && ev.thread == running) {
            running = ev.thread;  // the next switch comes from it
            ++from_ended;
        } else if (ev.kind != machsim::EventKind::ThreadCreate) {
            INFO("event " << ev.seq << " of thread " << ev.thread << " while thread " << running << " runs");
            CHECK(ev.thread == running);
        }
    }
    CHECK(from_ended >= 2);
}

}  // TEST_SUITE("regressions")
