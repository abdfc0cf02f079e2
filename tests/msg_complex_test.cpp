// Complex messages: port descriptors, out-of-line memory and out-of-line port arrays,
// as a Mach user sends and receives them. Expectations come from
// /work/shared/MACH-REFERENCE.md (§2.2 codes; rules R1, R5, R7, R12, R16, R20, R22, R27).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tests/support.h"

namespace {

using mt::look_up;
using mt::publish;
using mt::sleep_ms;

mach_port_msgcount_t queued(mach_port_t p) { return mt::status_of(p).mps_msgcount; }

// A name that is not in the caller's space: allocated, then destroyed.
mach_port_name_t absent_name() {
    mach_port_t p = mt::new_receive_right();
    CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
    return p;
}

mach_msg_port_descriptor_t port_desc(mach_port_name_t name, mach_msg_type_name_t disposition) {
    mach_msg_port_descriptor_t d{};
    d.name = name;
    d.disposition = disposition & 0xff;
    d.type = MACH_MSG_PORT_DESCRIPTOR;
    return d;
}

mach_msg_ool_descriptor_t ool_desc(const void* address, mach_msg_size_t size, bool deallocate = false) {
    mach_msg_ool_descriptor_t d{};
    d.address = const_cast<void*>(address);
    d.size = size;
    d.deallocate = deallocate;
    d.copy = MACH_MSG_VIRTUAL_COPY;
    d.type = MACH_MSG_OOL_DESCRIPTOR;
    return d;
}

mach_msg_ool_ports_descriptor_t ool_ports_desc(const mach_port_t* names, mach_msg_size_t count,
                                               mach_msg_type_name_t disposition) {
    mach_msg_ool_ports_descriptor_t d{};
    d.address = const_cast<mach_port_t*>(names);
    d.count = count;
    d.disposition = disposition & 0xff;
    d.copy = MACH_MSG_PHYSICAL_COPY;
    d.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
    return d;
}

template <int N>
struct PortsMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port[N];
    int payload;
};

struct OolMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_ool_descriptor_t ool;
    int payload;
};

struct OolPortsMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_ool_ports_descriptor_t ports;
};

template <class M>
struct Received {
    M msg;
    mach_msg_max_trailer_t trailer;
};

template <class M>
void complex_header(M& m, mach_port_t dest, mach_msg_type_name_t dest_disp, mach_msg_size_t count,
                    mach_port_t reply = MACH_PORT_NULL, mach_msg_type_name_t reply_disp = 0) {
    m.head.msgh_bits = MACH_MSGH_BITS(dest_disp, reply_disp) | MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = dest;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = 400;
    m.body.msgh_descriptor_count = count;
}

template <class M>
mach_msg_return_t send_msg(M& m, mach_msg_size_t size = sizeof(M)) {
    return mach_msg(&m.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

// Sends dest (COPY_SEND) a complex message carrying one port descriptor.
mach_msg_return_t send_one_port(mach_port_t dest, mach_port_name_t name, mach_msg_type_name_t disposition) {
    PortsMsg<1> m{};
    complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
    m.port[0] = port_desc(name, disposition);
    return send_msg(m);
}

template <class M>
mach_msg_return_t receive_msg(mach_port_t port, Received<M>& in, mach_msg_timeout_t timeout_ms = 0,
                              mach_msg_option_t extra = MACH_RCV_TIMEOUT) {
    std::memset(&in, 0, sizeof in);
    return mach_msg(&in.msg.head, MACH_RCV_MSG | extra, 0, sizeof in, port, timeout_ms, MACH_PORT_NULL);
}

// Replies on a received send-once right (consumes it).
void reply_once(mach_port_t send_once) {
    CHECK_KR(mt::send_simple(send_once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 0), MACH_MSG_SUCCESS);
}

unsigned disp_of(const mach_msg_port_descriptor_t& d) { return d.disposition; }
unsigned type_of_desc(const mach_msg_port_descriptor_t& d) { return d.type; }

bool readable_via_msg(const void* address, mach_msg_size_t size) {
    mach_port_t p = mt::new_port_with_send();
    OolMsg m{};
    complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
    m.ool = ool_desc(address, size);
    mach_msg_return_t mr = send_msg(m);
    CHECK_KR(mach_port_destroy(mach_task_self(), p), KERN_SUCCESS);  // drops any queued copy too
    return mr == MACH_MSG_SUCCESS;
}

// What a forked scenario reports back: numbered values (codes, counts, flags).
struct Outcome {
    int v[8];
};

// Runs a scenario that makes the kernel read unreadable memory in a child process, so
// that a fault the kernel fails to catch shows up as a failed test, not a dead test binary.
// The scenario fills `out` from plain task code (doctest assertions in the child are lost).
template <class F>
bool run_forked(F&& scenario, Outcome& out) {
    int fds[2];
    if (pipe(fds) != 0) {
        FAIL_CHECK("pipe failed");
        return false;
    }
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        // doctest's crash handler would report from the child; die quietly instead.
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        Outcome o;
        for (int& x : o.v) x = -1;
        scenario(o);
        ssize_t n = write(fds[1], &o, sizeof o);
        _exit(n == static_cast<ssize_t>(sizeof o) ? 0 : 3);
    }
    close(fds[1]);
    Outcome o{};
    ssize_t n = pid > 0 ? read(fds[0], &o, sizeof o) : -1;
    close(fds[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    if (pid < 0) {
        FAIL_CHECK("fork failed");
        return false;
    }
    if (WIFSIGNALED(status)) {
        FAIL_CHECK("the run crashed the process with signal " << WTERMSIG(status) << " (" << std::string(strsignal(WTERMSIG(status)))
                                                              << "): a fault in a user copy was not caught");
        return false;
    }
    CHECK(n == static_cast<ssize_t>(sizeof o));
    out = o;
    return n == static_cast<ssize_t>(sizeof o);
}

}  // namespace

TEST_SUITE("complex messages") {

TEST_CASE("MOVE_RECEIVE in a port descriptor hands a service to another task, which then receives on it") {
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("new-owner", [] {
            mach_port_t inbox = publish("inbox");
            Received<PortsMsg<1>> in;
            CHECK_KR(receive_msg(inbox, in, 50), MACH_MSG_SUCCESS);
            CHECK(MACH_MSGH_BITS_IS_COMPLEX(in.msg.head.msgh_bits));
            CHECK(in.msg.body.msgh_descriptor_count == 1);
            CHECK(disp_of(in.msg.port[0]) == MACH_MSG_TYPE_PORT_RECEIVE);
            mach_port_t svc = in.msg.port[0].name;
            CHECK(MACH_PORT_VALID(svc));
            CHECK(svc != inbox);
            CHECK(mt::type_of(svc) == MACH_PORT_TYPE_RECEIVE);
            // The message queued before the move came along; then the old owner, which kept
            // its send right, talks to us through it.
            mt::SimpleReceived req;
            CHECK_KR(mt::receive_simple(svc, req, MACH_RCV_TIMEOUT, 50), MACH_MSG_SUCCESS);
            CHECK(req.msg.payload == 10);
            CHECK_KR(mt::receive_simple(svc, req, MACH_RCV_TIMEOUT, 50), MACH_MSG_SUCCESS);
            CHECK(req.msg.payload == 11);
            CHECK(req.msg.head.msgh_local_port == svc);
        });
        k.spawn("old-owner", [] {
            mach_port_t inbox = look_up("inbox");
            mach_port_t svc = mt::new_port_with_send();
            CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 10), MACH_MSG_SUCCESS);  // travels with the port
            CHECK_KR(send_one_port(inbox, svc, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
            CHECK(mt::type_of(svc) == MACH_PORT_TYPE_SEND);  // the send right stays under the name (R5)
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(svc, in, MACH_RCV_TIMEOUT, 0), MACH_RCV_INVALID_NAME);
            sleep_ms(1);
            CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 11), MACH_MSG_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a moved receive right arrives with the messages queued on it") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t svc = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);
        CHECK_KR(send_one_port(inbox, svc, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        Received<PortsMsg<1>> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        mach_port_t back = in.msg.port[0].name;
        CHECK(disp_of(in.msg.port[0]) == MACH_MSG_TYPE_PORT_RECEIVE);
        CHECK(back == svc);  // we still held a send right under that name (R1)
        mt::SimpleReceived q;
        CHECK_KR(mt::receive_simple(back, q, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(q.msg.payload == 42);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("COPY_SEND, MAKE_SEND, MOVE_SEND and MAKE_SEND_ONCE arrive as PORT_SEND and PORT_SEND_ONCE with one uref") {
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("receiver", [] {
            mach_port_t inbox = publish("inbox");
            Received<PortsMsg<4>> in;
            CHECK_KR(receive_msg(inbox, in, 50), MACH_MSG_SUCCESS);
            CHECK(in.msg.body.msgh_descriptor_count == 4);
            const auto& d = in.msg.port;
            for (int i = 0; i < 4; ++i) {
                CHECK(type_of_desc(d[i]) == MACH_MSG_PORT_DESCRIPTOR);
                CHECK(MACH_PORT_VALID(d[i].name));
            }
            CHECK(disp_of(d[0]) == MACH_MSG_TYPE_PORT_SEND);
            CHECK(disp_of(d[1]) == MACH_MSG_TYPE_PORT_SEND);
            CHECK(disp_of(d[2]) == MACH_MSG_TYPE_PORT_SEND);
            CHECK(disp_of(d[3]) == MACH_MSG_TYPE_PORT_SEND_ONCE);
            CHECK(d[0].name != d[1].name);
            CHECK(d[1].name != d[2].name);
            CHECK(d[0].name != d[2].name);
            for (int i = 0; i < 3; ++i) {
                CHECK(mt::type_of(d[i].name) == MACH_PORT_TYPE_SEND);
                CHECK(mt::refs(d[i].name, MACH_PORT_RIGHT_SEND) == 1);
            }
            CHECK(mt::type_of(d[3].name) == MACH_PORT_TYPE_SEND_ONCE);
            CHECK(mt::refs(d[3].name, MACH_PORT_RIGHT_SEND_ONCE) == 1);
            CHECK(in.msg.payload == 1234);
            reply_once(d[3].name);  // tells the sender we are done looking
        });
        k.spawn("sender", [] {
            mach_port_t inbox = look_up("inbox");
            mach_port_t copied = mt::new_port_with_send();
            mach_port_t made = mt::new_receive_right();
            mach_port_t moved = mt::new_port_with_send();
            CHECK_KR(mach_port_mod_refs(mach_task_self(), moved, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
            mach_port_t once = mt::new_receive_right();
            PortsMsg<4> m{};
            complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 4);
            m.port[0] = port_desc(copied, MACH_MSG_TYPE_COPY_SEND);
            m.port[1] = port_desc(made, MACH_MSG_TYPE_MAKE_SEND);
            m.port[2] = port_desc(moved, MACH_MSG_TYPE_MOVE_SEND);
            m.port[3] = port_desc(once, MACH_MSG_TYPE_MAKE_SEND_ONCE);
            m.payload = 1234;
            CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
            CHECK(mt::refs(copied, MACH_PORT_RIGHT_SEND) == 1);   // COPY leaves urefs alone
            CHECK(mt::refs(moved, MACH_PORT_RIGHT_SEND) == 1);    // MOVE took one
            CHECK(mt::type_of(made) == MACH_PORT_TYPE_RECEIVE);   // MAKE_SEND gave us nothing
            CHECK(mt::status_of(made).mps_mscount == 1);          // but counted a make-send (R13)
            CHECK(mt::status_of(once).mps_sorights == 1);
            mt::SimpleReceived done;
            CHECK_KR(mt::receive_simple(once, done, MACH_RCV_TIMEOUT, 50), MACH_MSG_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send right for a port the receiver already names joins that name (R1)") {
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("receiver", [] {
            mach_port_t inbox = publish("inbox");
            Received<PortsMsg<1>> first, second;
            CHECK_KR(receive_msg(inbox, first, 50), MACH_MSG_SUCCESS);
            CHECK_KR(receive_msg(inbox, second, 50), MACH_MSG_SUCCESS);
            mach_port_t a = first.msg.port[0].name;
            CHECK(MACH_PORT_VALID(a));
            CHECK(second.msg.port[0].name == a);
            CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 2);
        });
        k.spawn("sender", [] {
            mach_port_t inbox = look_up("inbox");
            mach_port_t x = mt::new_port_with_send();
            for (int i = 0; i < 2; ++i) {
                CHECK_KR(send_one_port(inbox, x, MACH_MSG_TYPE_COPY_SEND), MACH_MSG_SUCCESS);
            }
            sleep_ms(5);  // keep x alive while the receiver looks
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send right to a port whose receive right the receiver holds arrives under that port's name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t mine = mt::new_receive_right();
        CHECK_KR(send_one_port(inbox, mine, MACH_MSG_TYPE_MAKE_SEND), MACH_MSG_SUCCESS);
        Received<PortsMsg<1>> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.port[0].name == mine);
        CHECK(mt::type_of(mine) == MACH_PORT_TYPE_SEND_RECEIVE);
        CHECK(mt::refs(mine, MACH_PORT_RIGHT_SEND) == 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("each received send-once right gets a fresh name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t target = mt::new_receive_right();
        PortsMsg<2> m{};
        complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 2);
        m.port[0] = port_desc(target, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        m.port[1] = port_desc(target, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        Received<PortsMsg<2>> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        mach_port_t a = in.msg.port[0].name, b = in.msg.port[1].name;
        CHECK(MACH_PORT_VALID(a));
        CHECK(MACH_PORT_VALID(b));
        CHECK(a != b);
        CHECK(a != target);
        CHECK(b != target);
        CHECK(mt::type_of(a) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::type_of(b) == MACH_PORT_TYPE_SEND_ONCE);
        reply_once(a);
        reply_once(b);
        mt::SimpleReceived drained;
        CHECK_KR(mt::receive_simple(target, drained, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK_KR(mt::receive_simple(target, drained, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("MACH_PORT_NULL and a dead name in port descriptors arrive as MACH_PORT_NULL and MACH_PORT_DEAD") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t dead = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), dead, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(dead) == MACH_PORT_TYPE_DEAD_NAME);
        PortsMsg<3> m{};
        complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 3);
        m.port[0] = port_desc(MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND);
        m.port[1] = port_desc(dead, MACH_MSG_TYPE_COPY_SEND);
        m.port[2] = port_desc(MACH_PORT_DEAD, MACH_MSG_TYPE_MOVE_SEND);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        CHECK(mt::refs(dead, MACH_PORT_RIGHT_DEAD_NAME) == 1);  // COPY left the dead name's uref
        Received<PortsMsg<3>> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.port[0].name == MACH_PORT_NULL);
        CHECK(in.msg.port[1].name == MACH_PORT_DEAD);
        CHECK(in.msg.port[2].name == MACH_PORT_DEAD);
        CHECK_KR(mach_port_deallocate(mach_task_self(), dead), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a body descriptor naming a right the sender lacks fails with MACH_SEND_INVALID_RIGHT") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t recv_only = mt::new_receive_right();
        CHECK_KR(send_one_port(dest, absent_name(), MACH_MSG_TYPE_COPY_SEND), MACH_SEND_INVALID_RIGHT);
        // A receive right, no send right.
        CHECK_KR(send_one_port(dest, recv_only, MACH_MSG_TYPE_COPY_SEND), MACH_SEND_INVALID_RIGHT);
        CHECK(queued(dest) == 0);
        CHECK(mt::type_of(recv_only) == MACH_PORT_TYPE_RECEIVE);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("after MACH_SEND_INVALID_RIGHT in the body, the header's moved rights are consumed") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), dest, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        PortsMsg<1> m{};
        complex_header(m, dest, MACH_MSG_TYPE_MOVE_SEND, 1);
        m.port[0] = port_desc(absent_name(), MACH_MSG_TYPE_COPY_SEND);
        CHECK_KR(send_msg(m), MACH_SEND_INVALID_RIGHT);
        CHECK(mt::refs(dest, MACH_PORT_RIGHT_SEND) == 1);  // the moved uref is gone (§2.2)
        CHECK(queued(dest) == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("after MACH_SEND_INVALID_RIGHT in the body, a made send-once reply right yields a send-once notification") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t reply = mt::new_receive_right();
        PortsMsg<1> m{};
        complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        m.port[0] = port_desc(absent_name(), MACH_MSG_TYPE_COPY_SEND);
        CHECK_KR(send_msg(m), MACH_SEND_INVALID_RIGHT);
        // The header's send-once right was made, then destroyed with the message (R16).
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(reply, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
        CHECK(mt::status_of(reply).mps_sorights == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a descriptor of an unknown type fails with MACH_SEND_INVALID_TYPE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t x = mt::new_port_with_send();
        PortsMsg<1> m{};
        complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
        m.port[0] = port_desc(x, MACH_MSG_TYPE_COPY_SEND);
        m.port[0].type = 7;
        CHECK_KR(send_msg(m), MACH_SEND_INVALID_TYPE);
        CHECK(queued(dest) == 0);
        CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a port descriptor or port array with a disposition that is not a port disposition fails with "
          "MACH_SEND_INVALID_TYPE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t x = mt::new_port_with_send();
        mach_port_t names[2] = {x, x};
        for (mach_msg_type_name_t bad : {0u, 15u, 22u /* COPY_RECEIVE */, 25u /* DISPOSE_SEND */}) {
            CAPTURE(bad);
            CHECK_KR(send_one_port(dest, x, bad), MACH_SEND_INVALID_TYPE);
            OolPortsMsg a{};
            complex_header(a, dest, MACH_MSG_TYPE_COPY_SEND, 1);
            a.ports = ool_ports_desc(names, 2, bad);
            CHECK_KR(send_msg(a), MACH_SEND_INVALID_TYPE);
        }
        CHECK(queued(dest) == 0);
        CHECK(mt::type_of(x) == MACH_PORT_TYPE_SEND_RECEIVE);
        CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("descriptors that run past send_size fail with MACH_SEND_MSG_TOO_SMALL") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t x = mt::new_port_with_send();
        PortsMsg<2> m{};
        complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 2);
        m.port[0] = port_desc(x, MACH_MSG_TYPE_COPY_SEND);
        m.port[1] = port_desc(x, MACH_MSG_TYPE_COPY_SEND);
        // send_size ends after the first descriptor; the count claims two.
        mach_msg_size_t size = static_cast<mach_msg_size_t>(sizeof m.head + sizeof m.body + sizeof m.port[0]);
        m.head.msgh_size = size;
        CHECK_KR(send_msg(m, size), MACH_SEND_MSG_TOO_SMALL);
        // A count far beyond the message.
        m.body.msgh_descriptor_count = 1000;
        CHECK_KR(send_msg(m, size), MACH_SEND_MSG_TOO_SMALL);
        CHECK(queued(dest) == 0);
        CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 1);
        // An OOL descriptor (16 bytes) cut after 12: room for a port descriptor, not for it.
        int data = 7;
        OolMsg o{};
        complex_header(o, dest, MACH_MSG_TYPE_COPY_SEND, 1);
        o.ool = ool_desc(&data, sizeof data);
        mach_msg_size_t cut = static_cast<mach_msg_size_t>(sizeof o.head + sizeof o.body + 12);
        o.head.msgh_size = cut;
        CHECK_KR(send_msg(o, cut), MACH_SEND_MSG_TOO_SMALL);
        CHECK(queued(dest) == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a complex message with no room for its body returns MACH_SEND_MSG_TOO_SMALL; a body of 0 descriptors "
          "is enough") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        PortsMsg<1> m{};
        complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 0);
        const mach_msg_size_t bare = sizeof m.head, with_body = sizeof m.head + sizeof m.body;
        CHECK_KR(send_msg(m, bare), MACH_SEND_MSG_TOO_SMALL);  // R22: the COMPLEX bit promises a body
        CHECK(queued(dest) == 0);
        CHECK(mt::refs(dest, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(send_msg(m, with_body), MACH_MSG_SUCCESS);
        Received<PortsMsg<1>> in;
        CHECK_KR(receive_msg(dest, in), MACH_MSG_SUCCESS);
        CHECK(MACH_MSGH_BITS_IS_COMPLEX(in.msg.head.msgh_bits));
        CHECK(in.msg.head.msgh_size == with_body);
        CHECK(in.msg.body.msgh_descriptor_count == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("MACH_PORT_DEAD in a port descriptor with MAKE_SEND, MAKE_SEND_ONCE or MOVE_RECEIVE fails with "
          "MACH_SEND_INVALID_RIGHT") {
    // R5: only COPY_SEND and MOVE_SEND(_ONCE) of a dead name are allowed in a body.
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        for (mach_msg_type_name_t disp :
             {MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_MSG_TYPE_MOVE_RECEIVE}) {
            CAPTURE(disp);
            CHECK_KR(send_one_port(dest, MACH_PORT_DEAD, disp), MACH_SEND_INVALID_RIGHT);
        }
        CHECK(queued(dest) == 0);
        CHECK(mt::refs(dest, MACH_PORT_RIGHT_SEND) == 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("MOVE_SEND_ONCE in a port descriptor takes the sender's name and arrives as PORT_SEND_ONCE under a fresh "
          "name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t target = mt::new_receive_right();
        mach_port_t once = MACH_PORT_NULL;
        mach_msg_type_name_t got_type = 0;
        CHECK_KR(mach_port_extract_right(mach_task_self(), target, MACH_MSG_TYPE_MAKE_SEND_ONCE, &once, &got_type),
                 KERN_SUCCESS);
        CHECK_KR(send_one_port(inbox, once, MACH_MSG_TYPE_MOVE_SEND_ONCE), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(once) == 0xdead);                  // R5: consumed, name and all
        CHECK(mt::status_of(target).mps_sorights == 1);      // the right itself travels
        Received<PortsMsg<1>> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        CHECK(disp_of(in.msg.port[0]) == MACH_MSG_TYPE_PORT_SEND_ONCE);
        mach_port_t got = in.msg.port[0].name;
        CHECK(MACH_PORT_VALID(got));
        CHECK(got != target);  // R1: a send-once right never joins the receive right's name
        CHECK(mt::type_of(got) == MACH_PORT_TYPE_SEND_ONCE);
        reply_once(got);  // it still reaches target
        mt::SimpleReceived answer;
        CHECK_KR(mt::receive_simple(target, answer, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(answer.msg.head.msgh_id != MACH_NOTIFY_SEND_ONCE);
        CHECK(mt::status_of(target).mps_sorights == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("an OOL descriptor whose copy option is not PHYSICAL_COPY or VIRTUAL_COPY fails with "
          "MACH_SEND_INVALID_TYPE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        const mach_msg_size_t size = static_cast<mach_msg_size_t>(vm_page_size);
        vm_address_t addr = 0;
        CHECK_KR(vm_allocate(mach_task_self(), &addr, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        std::memset(reinterpret_cast<void*>(addr), 'k', size);
        for (unsigned bad : {unsigned{MACH_MSG_ALLOCATE}, unsigned{MACH_MSG_OVERWRITE}, 5u}) {
            CAPTURE(bad);
            OolMsg m{};
            complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
            m.ool = ool_desc(reinterpret_cast<void*>(addr), size, true);
            m.ool.copy = bad;
            CHECK_KR(send_msg(m), MACH_SEND_INVALID_TYPE);
        }
        CHECK(queued(dest) == 0);
        // The rejected descriptor's deallocate flag was not acted on: the region is still ours, unchanged.
        CHECK(readable_via_msg(reinterpret_cast<void*>(addr), size));
        CHECK(reinterpret_cast<unsigned char*>(addr)[size - 1] == 'k');
        CHECK_KR(vm_deallocate(mach_task_self(), addr, size), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a receive buffer the receiver cannot write fails a complex message with MACH_RCV_INVALID_DATA and destroys "
          "its rights") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t once_to = mt::new_receive_right();
        mach_port_t made = mt::new_receive_right();
        PortsMsg<2> m{};
        complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 2);
        m.port[0] = port_desc(once_to, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        m.port[1] = port_desc(made, MACH_MSG_TYPE_MAKE_SEND);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        CHECK(mt::status_of(made).mps_srights);  // a send right in transit counts (R14)
        static const char kReadOnly[256] = "a read-only buffer";
        CHECK_KR(mach_msg(reinterpret_cast<mach_msg_header_t*>(const_cast<char*>(kReadOnly)),
                          MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof kReadOnly, inbox, 0, MACH_PORT_NULL),
                 MACH_RCV_INVALID_DATA);
        CHECK(queued(inbox) == 0);  // dequeued and destroyed (§2.2)
        CHECK(std::strcmp(kReadOnly, "a read-only buffer") == 0);
        CHECK(mt::type_of(made) == MACH_PORT_TYPE_RECEIVE);  // the send right was not named here
        CHECK(!mt::status_of(made).mps_srights);              // but destroyed
        mt::SimpleReceived note;
        CHECK_KR(mt::receive_simple(once_to, note, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(note.msg.head.msgh_id == MACH_NOTIFY_SEND_ONCE);  // R16
        CHECK(mt::status_of(once_to).mps_sorights == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a reply right the receiver has no name for is destroyed: MACH_RCV_HEADER_ERROR|MACH_MSG_IPC_SPACE with the "
          "data of a simple message") {
    machsim::Config cfg;
    cfg.max_names = 6;
    machsim::RunReport r = mt::run_task(
        [] {
            mach_port_t p = mt::new_port_with_send();
            mach_port_t q = mt::new_receive_right();
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 3, 0, 0, q, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                     MACH_MSG_SUCCESS);
            CHECK(mt::fill_name_space() > 0);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE);
            CHECK(in.msg.head.msgh_remote_port == MACH_PORT_NULL);
            CHECK(in.msg.head.msgh_local_port == p);
            CHECK(in.msg.payload == 3);
            CHECK(queued(p) == 0);
            mt::SimpleReceived note;
            CHECK_KR(mt::receive_simple(q, note, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
            CHECK(note.msg.head.msgh_id == MACH_NOTIFY_SEND_ONCE);  // the destroyed reply right (R16)
            CHECK(mt::status_of(q).mps_sorights == 0);
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a body right the receiver has no name for arrives as MACH_PORT_NULL with "
          "MACH_RCV_BODY_ERROR|MACH_MSG_IPC_SPACE; the rest is delivered") {
    machsim::Config cfg;
    cfg.max_names = 6;
    machsim::RunReport r = mt::run_task(
        [] {
            mach_port_t inbox = mt::new_port_with_send();
            mach_port_t target = mt::new_receive_right();
            PortsMsg<2> m{};
            complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 2);
            m.port[0] = port_desc(target, MACH_MSG_TYPE_MAKE_SEND_ONCE);  // needs a fresh name
            m.port[1] = port_desc(inbox, MACH_MSG_TYPE_COPY_SEND);        // joins inbox's name (R1)
            m.payload = 7;
            CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
            CHECK(mt::fill_name_space() > 0);
            Received<PortsMsg<2>> in;
            CHECK_KR(receive_msg(inbox, in), MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE);
            CHECK(in.msg.port[0].name == MACH_PORT_NULL);
            CHECK(in.msg.port[1].name == inbox);
            CHECK(disp_of(in.msg.port[1]) == MACH_MSG_TYPE_PORT_SEND);
            CHECK(mt::refs(inbox, MACH_PORT_RIGHT_SEND) == 2);
            CHECK(in.msg.payload == 7);
            CHECK(queued(inbox) == 0);
            mt::SimpleReceived note;
            CHECK_KR(mt::receive_simple(target, note, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
            CHECK(note.msg.head.msgh_id == MACH_NOTIFY_SEND_ONCE);  // the right that found no name (R16)
            CHECK(mt::status_of(target).mps_sorights == 0);
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("complex messages")

TEST_SUITE("out-of-line memory") {

TEST_CASE("OOL memory arrives as a copy in a new region of the receiver's own space") {
    vm_address_t sender_addr = 0;
    const mach_msg_size_t size = static_cast<mach_msg_size_t>(2 * vm_page_size + 100);
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("receiver", [&] {
            mach_port_t inbox = publish("inbox");
            Received<OolMsg> in;
            CHECK_KR(receive_msg(inbox, in, 50), MACH_MSG_SUCCESS);
            CHECK(unsigned(in.msg.ool.type) == MACH_MSG_OOL_DESCRIPTOR);
            CHECK(in.msg.ool.size == size);
            auto* data = static_cast<unsigned char*>(in.msg.ool.address);
            CHECK(data != nullptr);
            if (data == nullptr) return;
            // Each task has its own address space, so the number may equal the sender's (as on Mach);
            // what matters is that it is a region of ours holding a copy.
            vm_address_t at = reinterpret_cast<vm_address_t>(data);
            vm_size_t rsize = 0;
            vm_region_basic_info_data_64_t info{};
            mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
            mach_port_t object = MACH_PORT_NULL;
            CHECK_KR(vm_region_64(mach_task_self(), &at, &rsize, VM_REGION_BASIC_INFO_64,
                                  reinterpret_cast<vm_region_info_t>(&info), &count, &object),
                     KERN_SUCCESS);
            CHECK(at == reinterpret_cast<vm_address_t>(data));
            CHECK(rsize >= size);
            bool same = true;
            for (mach_msg_size_t i = 0; i < size; ++i) same = same && data[i] == static_cast<unsigned char>(i * 7);
            CHECK(same);
            data[0] = 0xAA;  // ours to write
            CHECK(data[0] == 0xAA);
            CHECK(readable_via_msg(data, size));
            CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(data), size), KERN_SUCCESS);
        });
        k.spawn("sender", [&] {
            mach_port_t inbox = look_up("inbox");
            CHECK_KR(vm_allocate(mach_task_self(), &sender_addr, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
            auto* data = reinterpret_cast<unsigned char*>(sender_addr);
            for (mach_msg_size_t i = 0; i < size; ++i) data[i] = static_cast<unsigned char>(i * 7);
            OolMsg m{};
            complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 1);
            m.ool = ool_desc(data, size);
            CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
            sleep_ms(5);
            CHECK_KR(vm_deallocate(mach_task_self(), sender_addr, size), KERN_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("the sender's writes after mach_msg returns are not seen by the receiver") {
    const mach_msg_size_t size = static_cast<mach_msg_size_t>(vm_page_size);
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("receiver", [&] {
            mach_port_t inbox = publish("inbox");
            Received<OolMsg> in;
            CHECK_KR(receive_msg(inbox, in, 50), MACH_MSG_SUCCESS);
            auto* data = static_cast<unsigned char*>(in.msg.ool.address);
            CHECK(data != nullptr);
            if (data == nullptr) return;
            CHECK(in.msg.ool.size == size);
            bool original = true;
            for (mach_msg_size_t i = 0; i < size; ++i) original = original && data[i] == 'a';
            CHECK(original);
            CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(data), size), KERN_SUCCESS);
        });
        k.spawn("sender", [&] {
            mach_port_t inbox = look_up("inbox");
            vm_address_t addr = 0;
            CHECK_KR(vm_allocate(mach_task_self(), &addr, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
            std::memset(reinterpret_cast<void*>(addr), 'a', size);
            OolMsg m{};
            complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 1);
            m.ool = ool_desc(reinterpret_cast<void*>(addr), size);
            CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
            std::memset(reinterpret_cast<void*>(addr), 'b', size);  // before the receiver runs
            sleep_ms(5);
            CHECK_KR(vm_deallocate(mach_task_self(), addr, size), KERN_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("the receiver's writes to its OOL copy are not seen by the sender") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        const mach_msg_size_t size = static_cast<mach_msg_size_t>(vm_page_size);
        vm_address_t addr = 0;
        CHECK_KR(vm_allocate(mach_task_self(), &addr, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        auto* mine = reinterpret_cast<unsigned char*>(addr);
        std::memset(mine, 's', size);
        OolMsg m{};
        complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ool = ool_desc(mine, size);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        Received<OolMsg> in;
        CHECK_KR(receive_msg(p, in), MACH_MSG_SUCCESS);
        auto* copy = static_cast<unsigned char*>(in.msg.ool.address);
        CHECK(copy != nullptr);
        if (copy == nullptr) return;
        CHECK(copy != mine);
        std::memset(copy, 'r', size);
        CHECK(mine[0] == 's');
        CHECK(mine[size - 1] == 's');
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(copy), size), KERN_SUCCESS);
        CHECK_KR(vm_deallocate(mach_task_self(), addr, size), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("an OOL region of size 0 arrives with address 0") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        vm_address_t addr = 0;
        CHECK_KR(vm_allocate(mach_task_self(), &addr, vm_page_size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        OolMsg m{};
        complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ool = ool_desc(reinterpret_cast<void*>(addr), 0);
        m.payload = 3;
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        Received<OolMsg> in;
        CHECK_KR(receive_msg(p, in), MACH_MSG_SUCCESS);
        CHECK(unsigned(in.msg.ool.type) == MACH_MSG_OOL_DESCRIPTOR);
        void* got = in.msg.ool.address;  // (a packed field: copy it before comparing)
        CHECK(got == nullptr);
        CHECK(in.msg.ool.size == 0);
        CHECK(in.msg.payload == 3);
        CHECK_KR(vm_deallocate(mach_task_self(), addr, vm_page_size), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("an OOL region at an unreadable address fails with MACH_SEND_INVALID_MEMORY") {
    Outcome o{};
    if (!run_forked(
            [](Outcome& out) {
                machsim::RunReport r = mt::run_task([&out] {
                    mach_port_t p = mt::new_port_with_send();
                    vm_address_t addr = 0;
                    out.v[0] = vm_allocate(mach_task_self(), &addr, vm_page_size, VM_FLAGS_ANYWHERE);
                    out.v[1] = vm_deallocate(mach_task_self(), addr, vm_page_size);
                    OolMsg m{};
                    complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
                    m.ool = ool_desc(reinterpret_cast<void*>(addr), 64);  // a region we gave back
                    out.v[2] = send_msg(m);
                    m = OolMsg{};
                    complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
                    m.ool = ool_desc(reinterpret_cast<void*>(uintptr_t{16}), 64);  // the host's null page
                    out.v[3] = send_msg(m);
                    out.v[4] = static_cast<int>(queued(p));
                });
                out.v[5] = r.clean();
            },
            o))
        return;
    CHECK_KR(o.v[0], KERN_SUCCESS);
    CHECK_KR(o.v[1], KERN_SUCCESS);
    CHECK_KR(o.v[2], MACH_SEND_INVALID_MEMORY);
    CHECK_KR(o.v[3], MACH_SEND_INVALID_MEMORY);
    CHECK(o.v[4] == 0);
    CHECK(o.v[5] == 1);
}

TEST_CASE("an OOL region the receiver vm_deallocates is gone from the receiver's space") {
    Outcome o{};
    if (!run_forked(
            [](Outcome& out) {
                machsim::RunReport r = mt::run_task([&out] {
                    mach_port_t p = mt::new_port_with_send();
                    const mach_msg_size_t size = static_cast<mach_msg_size_t>(vm_page_size);
                    char text[32] = "sent out of line";
                    OolMsg m{};
                    complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
                    m.ool = ool_desc(text, sizeof text);
                    out.v[0] = send_msg(m);
                    Received<OolMsg> in;
                    out.v[1] = receive_msg(p, in);
                    void* copy = in.msg.ool.address;
                    out.v[2] = copy != nullptr && std::memcmp(copy, text, sizeof text) == 0;
                    out.v[3] = vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(copy), size);
                    m = OolMsg{};
                    complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
                    m.ool = ool_desc(copy, sizeof text);
                    out.v[4] = send_msg(m);
                });
                out.v[5] = r.clean();
            },
            o))
        return;
    CHECK_KR(o.v[0], MACH_MSG_SUCCESS);
    CHECK_KR(o.v[1], MACH_MSG_SUCCESS);
    CHECK(o.v[2] == 1);
    CHECK_KR(o.v[3], KERN_SUCCESS);
    CHECK_KR(o.v[4], MACH_SEND_INVALID_MEMORY);
    CHECK(o.v[5] == 1);
}

TEST_CASE("OOL data in the sender's stack is copied like any readable memory") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        char text[48] = "a buffer on the task's own stack";
        OolMsg m{};
        complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ool = ool_desc(text, sizeof text);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        Received<OolMsg> in;
        CHECK_KR(receive_msg(p, in), MACH_MSG_SUCCESS);
        void* copy = in.msg.ool.address;  // (a packed field: copy it before comparing)
        CHECK(copy != nullptr);
        if (copy == nullptr) return;
        CHECK(in.msg.ool.size == sizeof text);
        CHECK(std::memcmp(copy, text, sizeof text) == 0);
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(copy), sizeof text),
                 KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("deallocate=TRUE moves an OOL region: it is gone from the sender") {
    Outcome o{};
    if (!run_forked(
            [](Outcome& out) {
                machsim::RunReport r = mt::run_task([&out] {
                    mach_port_t p = mt::new_port_with_send();
                    const mach_msg_size_t size = static_cast<mach_msg_size_t>(2 * vm_page_size);
                    vm_address_t addr = 0;
                    out.v[0] = vm_allocate(mach_task_self(), &addr, size, VM_FLAGS_ANYWHERE);
                    std::memset(reinterpret_cast<void*>(addr), 'm', size);
                    OolMsg m{};
                    complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
                    m.ool = ool_desc(reinterpret_cast<void*>(addr), size, true);
                    out.v[1] = send_msg(m);
                    // The region no longer exists in our space: sending it again cannot read it.
                    OolMsg again{};
                    complex_header(again, p, MACH_MSG_TYPE_COPY_SEND, 1);
                    again.ool = ool_desc(reinterpret_cast<void*>(addr), size);
                    out.v[2] = send_msg(again);
                    out.v[3] = static_cast<int>(queued(p));
                    Received<OolMsg> in;
                    out.v[4] = receive_msg(p, in);
                    auto* data = static_cast<unsigned char*>(in.msg.ool.address);
                    out.v[5] = data != nullptr && in.msg.ool.size == size && data[0] == 'm' && data[size - 1] == 'm';
                    if (data) (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(data), size);
                });
                out.v[6] = r.clean();
            },
            o))
        return;
    CHECK_KR(o.v[0], KERN_SUCCESS);
    CHECK_KR(o.v[1], MACH_MSG_SUCCESS);
    CHECK_KR(o.v[2], MACH_SEND_INVALID_MEMORY);
    CHECK(o.v[3] == 1);
    CHECK_KR(o.v[4], MACH_MSG_SUCCESS);
    CHECK(o.v[5] == 1);  // the receiver got the contents
    CHECK(o.v[6] == 1);
}

TEST_CASE("a timed-out send gives OOL memory back to the sender in the pseudo-received message") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::set_qlimit(p, 1), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 0), MACH_MSG_SUCCESS);
        const mach_msg_size_t size = static_cast<mach_msg_size_t>(vm_page_size);
        vm_address_t addr = 0;
        CHECK_KR(vm_allocate(mach_task_self(), &addr, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        std::memset(reinterpret_cast<void*>(addr), 'p', size);
        OolMsg m{};
        complex_header(m, p, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ool = ool_desc(reinterpret_cast<void*>(addr), size, true);  // moved: the sender's copy goes away
        CHECK_KR(send_msg(m), MACH_SEND_TIMED_OUT);
        auto* back = static_cast<unsigned char*>(m.ool.address);
        CHECK(back != nullptr);
        if (back == nullptr) return;
        CHECK(m.ool.size == size);
        CHECK(back[0] == 'p');
        CHECK(back[size - 1] == 'p');
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(back), size), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("OOL data the receiver has no address space for arrives at address 0 with "
          "MACH_RCV_BODY_ERROR|MACH_MSG_VM_SPACE; the rest is delivered") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        char text[32] = "no room for this";
        OolMsg m{};
        complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ool = ool_desc(text, sizeof text);
        m.payload = 9;
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        // Take the whole address space, largest pieces first.
        std::vector<std::pair<vm_address_t, vm_size_t>> taken;
        for (vm_size_t size = vm_size_t{1} << 36; size >= vm_page_size && taken.size() < 200;) {
            vm_address_t a = 0;
            if (vm_allocate(mach_task_self(), &a, size, VM_FLAGS_ANYWHERE) == KERN_SUCCESS)
                taken.emplace_back(a, size);
            else
                size /= 2;
        }
        CHECK(!taken.empty());
        Received<OolMsg> in;
        CHECK_KR(receive_msg(inbox, in), MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE);
        void* got = in.msg.ool.address;  // (a packed field: copy it before comparing)
        CHECK(got == nullptr);
        CHECK(in.msg.payload == 9);
        CHECK(in.msg.head.msgh_local_port == inbox);
        CHECK(queued(inbox) == 0);
        for (auto [a, size] : taken) CHECK_KR(vm_deallocate(mach_task_self(), a, size), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("an OOL region above 256 MiB or a port array above 65536 names fails with MACH_SEND_TOO_LARGE") {
    // A machsim limit (docs/api.md §3.3), XNU's code for a body over its cap (§2.2, R22).
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        char text[16] = "small";
        OolMsg m{};
        complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ool = ool_desc(text, (256u << 20) + 1);
        CHECK_KR(send_msg(m), MACH_SEND_TOO_LARGE);
        std::vector<mach_port_t> names(65537, MACH_PORT_NULL);
        OolPortsMsg pm{};
        complex_header(pm, dest, MACH_MSG_TYPE_COPY_SEND, 1);
        pm.ports = ool_ports_desc(names.data(), 65537, MACH_MSG_TYPE_COPY_SEND);
        CHECK_KR(send_msg(pm), MACH_SEND_TOO_LARGE);
        CHECK(queued(dest) == 0);
        CHECK(mt::refs(dest, MACH_PORT_RIGHT_SEND) == 1);
        pm.ports.count = 65536;  // the limit itself is allowed
        CHECK_KR(send_msg(pm), MACH_MSG_SUCCESS);
        Received<OolPortsMsg> in;
        CHECK_KR(receive_msg(dest, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.ports.count == 65536);
        auto* got = static_cast<mach_port_t*>(in.msg.ports.address);
        CHECK(got != nullptr);
        if (got == nullptr) return;
        CHECK(got[0] == MACH_PORT_NULL);
        CHECK(got[65535] == MACH_PORT_NULL);
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(got), 65536 * sizeof(mach_port_t)),
                 KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("out-of-line memory")

TEST_SUITE("out-of-line port arrays") {

TEST_CASE("a COPY_SEND port array arrives as an array of send-right names; NULL entries stay NULL") {
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("receiver", [] {
            mach_port_t inbox = publish("inbox");
            Received<OolPortsMsg> in;
            CHECK_KR(receive_msg(inbox, in, 50), MACH_MSG_SUCCESS);
            const auto& d = in.msg.ports;
            CHECK(unsigned(d.type) == MACH_MSG_OOL_PORTS_DESCRIPTOR);
            CHECK(unsigned(d.disposition) == MACH_MSG_TYPE_PORT_SEND);
            CHECK(d.count == 3);
            auto* names = static_cast<mach_port_t*>(d.address);
            CHECK(names != nullptr);
            if (names == nullptr) return;
            CHECK(MACH_PORT_VALID(names[0]));
            CHECK(names[1] == MACH_PORT_NULL);
            CHECK(MACH_PORT_VALID(names[2]));
            CHECK(names[0] != names[2]);
            CHECK(names[0] != inbox);
            CHECK(mt::type_of(names[0]) == MACH_PORT_TYPE_SEND);
            CHECK(mt::type_of(names[2]) == MACH_PORT_TYPE_SEND);
            CHECK(mt::refs(names[0], MACH_PORT_RIGHT_SEND) == 1);
            CHECK(mt::refs(names[2], MACH_PORT_RIGHT_SEND) == 1);
            // Talk back through the first one to prove it reaches the sender's port.
            CHECK_KR(mt::send_simple(names[0], MACH_MSG_TYPE_COPY_SEND, 77), MACH_MSG_SUCCESS);
            CHECK_KR(mach_port_deallocate(mach_task_self(), names[0]), KERN_SUCCESS);
            CHECK_KR(mach_port_deallocate(mach_task_self(), names[2]), KERN_SUCCESS);
            CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(names), 3 * sizeof(mach_port_t)),
                     KERN_SUCCESS);
        });
        k.spawn("sender", [] {
            mach_port_t inbox = look_up("inbox");
            mach_port_t x = mt::new_port_with_send();
            mach_port_t y = mt::new_port_with_send();
            mach_port_t names[3] = {x, MACH_PORT_NULL, y};
            OolPortsMsg m{};
            complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 1);
            m.ports.address = names;
            m.ports.count = 3;
            m.ports.disposition = MACH_MSG_TYPE_COPY_SEND;
            m.ports.copy = MACH_MSG_PHYSICAL_COPY;
            m.ports.deallocate = false;
            m.ports.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
            CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
            CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 1);
            CHECK(mt::refs(y, MACH_PORT_RIGHT_SEND) == 1);
            mt::SimpleReceived back;
            CHECK_KR(mt::receive_simple(x, back, MACH_RCV_TIMEOUT, 50), MACH_MSG_SUCCESS);
            CHECK(back.msg.payload == 77);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a MOVE_SEND port array takes one uref per entry from the sender and arrives as PORT_SEND rights") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t x = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), x, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        mach_port_t y = mt::new_port_with_send();
        mach_port_t names[3] = {x, y, x};
        OolPortsMsg m{};
        complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ports = ool_ports_desc(names, 3, MACH_MSG_TYPE_MOVE_SEND);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 0);  // both urefs moved (R5)
        CHECK(mt::type_of(x) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::type_of(y) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(x).mps_srights);  // in transit they still count (R14)
        CHECK(mt::status_of(x).mps_mscount == 1);
        Received<OolPortsMsg> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        CHECK(unsigned(in.msg.ports.disposition) == MACH_MSG_TYPE_PORT_SEND);
        CHECK(in.msg.ports.count == 3);
        auto* got = static_cast<mach_port_t*>(in.msg.ports.address);
        CHECK(got != nullptr);
        if (got == nullptr) return;
        CHECK(got[0] == x);  // R1: back under the receive right's name
        CHECK(got[1] == y);
        CHECK(got[2] == x);
        CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 2);
        CHECK(mt::refs(y, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::status_of(x).mps_mscount == 1);  // moving is not making (R13)
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(got), 3 * sizeof(mach_port_t)),
                 KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a MAKE_SEND port array counts one make-send per entry, leaves the sender nothing and arrives as PORT_SEND "
          "rights") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t a = mt::new_receive_right();
        mach_port_t b = mt::new_receive_right();
        mach_port_t names[3] = {a, b, a};
        OolPortsMsg m{};
        complex_header(m, inbox, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ports = ool_ports_desc(names, 3, MACH_MSG_TYPE_MAKE_SEND);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        CHECK(mt::status_of(a).mps_mscount == 2);  // R13
        CHECK(mt::status_of(b).mps_mscount == 1);
        CHECK(mt::type_of(a) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::type_of(b) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(a).mps_srights);
        Received<OolPortsMsg> in;
        CHECK_KR(receive_msg(inbox, in), MACH_MSG_SUCCESS);
        CHECK(unsigned(in.msg.ports.disposition) == MACH_MSG_TYPE_PORT_SEND);
        CHECK(in.msg.ports.count == 3);
        auto* got = static_cast<mach_port_t*>(in.msg.ports.address);
        CHECK(got != nullptr);
        if (got == nullptr) return;
        CHECK(got[0] == a);
        CHECK(got[1] == b);
        CHECK(got[2] == a);
        CHECK(mt::type_of(a) == MACH_PORT_TYPE_SEND_RECEIVE);
        CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 2);
        CHECK(mt::refs(b, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::status_of(a).mps_mscount == 2);
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(got), 3 * sizeof(mach_port_t)),
                 KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a port-array entry naming a right the sender lacks fails with MACH_SEND_INVALID_RIGHT") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t x = mt::new_port_with_send();
        mach_port_t recv_only = mt::new_receive_right();
        mach_port_t set = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set), KERN_SUCCESS);
        mach_port_t bp = bootstrap_port;
        mach_port_urefs_t bp_refs = mt::refs(bp, MACH_PORT_RIGHT_SEND);
        struct Case {
            const char* what;
            mach_port_t bad;
            mach_msg_type_name_t disp;
        } cases[] = {
            {"absent name, COPY_SEND", absent_name(), MACH_MSG_TYPE_COPY_SEND},
            {"receive-only name, COPY_SEND", recv_only, MACH_MSG_TYPE_COPY_SEND},
            {"port set, MAKE_SEND", set, MACH_MSG_TYPE_MAKE_SEND},
            {"send-only name, MAKE_SEND", bp, MACH_MSG_TYPE_MAKE_SEND},
        };
        for (const Case& c : cases) {
            INFO(c.what);
            mach_port_t names[2] = {x, c.bad};
            OolPortsMsg m{};
            complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
            m.ports = ool_ports_desc(names, 2, c.disp);
            CHECK_KR(send_msg(m), MACH_SEND_INVALID_RIGHT);
        }
        CHECK(queued(dest) == 0);
        CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::type_of(recv_only) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::type_of(set) == MACH_PORT_TYPE_PORT_SET);
        CHECK(mt::refs(bp, MACH_PORT_RIGHT_SEND) == bp_refs);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("body rights are copied in one at a time: rights moved before a bad one are destroyed, and one uref is never "
          "moved twice") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t dest = mt::new_port_with_send();
        mach_port_t a = mt::new_port_with_send(), b = mt::new_port_with_send(), c = mt::new_port_with_send();
        for (mach_port_t p : {a, b, c}) CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        mach_port_t names[4] = {a, b, absent_name(), c};
        OolPortsMsg m{};
        complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
        m.ports = ool_ports_desc(names, 4, MACH_MSG_TYPE_MOVE_SEND);
        CHECK_KR(send_msg(m), MACH_SEND_INVALID_RIGHT);
        CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 1);  // moved, then destroyed with the message (R6)
        CHECK(mt::refs(b, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::refs(c, MACH_PORT_RIGHT_SEND) == 2);  // after the bad entry: untouched
        // One name twice with one uref: the second entry finds nothing left to move.
        mach_port_t d = mt::new_port_with_send();
        mach_port_t twice[2] = {d, d};
        m.ports = ool_ports_desc(twice, 2, MACH_MSG_TYPE_MOVE_SEND);
        CHECK_KR(send_msg(m), MACH_SEND_INVALID_RIGHT);
        CHECK(mt::type_of(d) == MACH_PORT_TYPE_RECEIVE);
        // The same in two port descriptors.
        mach_port_t e = mt::new_port_with_send();
        PortsMsg<2> pm{};
        complex_header(pm, dest, MACH_MSG_TYPE_COPY_SEND, 2);
        pm.port[0] = port_desc(e, MACH_MSG_TYPE_MOVE_SEND);
        pm.port[1] = port_desc(e, MACH_MSG_TYPE_MOVE_SEND);
        CHECK_KR(send_msg(pm), MACH_SEND_INVALID_RIGHT);
        CHECK(mt::type_of(e) == MACH_PORT_TYPE_RECEIVE);
        CHECK(queued(dest) == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a port array at an unreadable address fails with MACH_SEND_INVALID_MEMORY and moves no right") {
    Outcome o{};
    if (!run_forked(
            [](Outcome& out) {
                machsim::RunReport r = mt::run_task([&out] {
                    mach_port_t dest = mt::new_port_with_send();
                    mach_port_t x = mt::new_port_with_send();
                    vm_address_t addr = 0;
                    out.v[0] = vm_allocate(mach_task_self(), &addr, vm_page_size, VM_FLAGS_ANYWHERE);
                    auto* names = reinterpret_cast<mach_port_t*>(addr);
                    names[0] = x;  // what the array held before we gave the region back
                    names[1] = MACH_PORT_NULL;
                    out.v[1] = vm_deallocate(mach_task_self(), addr, vm_page_size);
                    OolPortsMsg m{};
                    complex_header(m, dest, MACH_MSG_TYPE_COPY_SEND, 1);
                    m.ports = ool_ports_desc(names, 2, MACH_MSG_TYPE_MOVE_SEND);
                    out.v[2] = send_msg(m);
                    m.ports = ool_ports_desc(nullptr, 2, MACH_MSG_TYPE_MOVE_SEND);
                    out.v[3] = send_msg(m);
                    out.v[4] = static_cast<int>(queued(dest));
                    out.v[5] = static_cast<int>(mt::refs(x, MACH_PORT_RIGHT_SEND));
                });
                out.v[6] = r.clean();
            },
            o))
        return;
    CHECK_KR(o.v[0], KERN_SUCCESS);
    CHECK_KR(o.v[1], KERN_SUCCESS);
    CHECK_KR(o.v[2], MACH_SEND_INVALID_MEMORY);
    CHECK_KR(o.v[3], MACH_SEND_INVALID_MEMORY);
    CHECK(o.v[4] == 0);
    CHECK(o.v[5] == 1);
    CHECK(o.v[6] == 1);
}

}  // TEST_SUITE("out-of-line port arrays")

TEST_SUITE("receive rights in transit") {

TEST_CASE("sending a port's receive right in a message to that same port is not an error and leaks nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(send_one_port(p, p, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        // The kernel destroys the cycle (R12): the port is dead and our send right a dead name.
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
    });
    INFO(r.summary());
    CHECK(r.leaks.empty());
    CHECK(r.clean());
}

TEST_CASE("a cycle of two receive rights, each queued on the other's port, leaks nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_port_with_send();
        CHECK_KR(send_one_port(p, q, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        CHECK_KR(send_one_port(q, p, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_DEAD_NAME);
    });
    INFO(r.summary());
    CHECK(r.leaks.empty());
    CHECK(r.clean());
}

TEST_CASE("a message carrying its own port's receive right and then another receive right destroys both") {
    // Regression: the second right's loop check walked a destination chain that
    // the first had made circular, and never returned.
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_port_with_send();
        PortsMsg<2> m{};
        complex_header(m, p, MACH_MSG_TYPE_MAKE_SEND, 2);
        m.port[0] = port_desc(p, MACH_MSG_TYPE_MOVE_RECEIVE);
        m.port[1] = port_desc(q, MACH_MSG_TYPE_MOVE_RECEIVE);
        CHECK_KR(send_msg(m), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_DEAD_NAME);
    });
    INFO(r.summary());
    CHECK(r.leaks.empty());
    CHECK(r.clean());
}

}  // TEST_SUITE("receive rights in transit")
