// mach_msg: the header path (dispositions, reversal, atomicity), its error codes, and trailers.
// Written from ../shared/MACH-REFERENCE.md (R5, R6, R17, R19, R20, R22, §2.2, §6), not from the code.
//
//   sender                                   kernel                            receiver
//     | -- header {remote: dest+disp, local: reply+disp} --> copyin (atomic, R6)   |
//     |                                          | -- reversed header (R20) -----> |
//     |                                          |    local = receiver's name,     |
//     |                                          |    remote = reply right,        |
//     |                                          |    trailer after msgh_size      |
#include <cstring>
#include <utility>
#include <vector>

#include "tests/support.h"

namespace {

// CHECK_KR with a label naming the case, for tables of cases in one task body.
#define CHECK_KR_AS(what, expr, expected) \
    CHECK_MESSAGE(::mt::Code{static_cast<int>(expr)} == ::mt::Code{static_cast<int>(expected)}, what)

constexpr mach_msg_option_t kPoll = MACH_RCV_TIMEOUT;  // with timeout 0: never block

struct BigMsg {
    mach_msg_header_t head;
    char data[64];
};

mach_msg_return_t send_big(mach_port_t dest, mach_msg_type_name_t disp, mach_msg_id_t id,
                           mach_port_t reply = MACH_PORT_NULL, mach_msg_type_name_t reply_disp = 0) {
    BigMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(disp, reply_disp);
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = dest;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = id;
    for (unsigned i = 0; i < sizeof m.data; ++i) m.data[i] = static_cast<char>('a' + i % 26);
    return mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

// Polls `port` with a receive buffer of `rcv_size` bytes and the given extra options.
mach_msg_return_t poll(mach_port_t port, mt::SimpleReceived& in, mach_msg_option_t extra = 0,
                       mach_msg_size_t rcv_size = sizeof(mt::SimpleReceived)) {
    in = mt::SimpleReceived{};
    return mach_msg(&in.msg.head, MACH_RCV_MSG | kPoll | extra, 0, rcv_size, port, 0, MACH_PORT_NULL);
}

// The trailer that follows a received message (it starts at msgh_size).
template <class T>
T trailer_of(const mach_msg_header_t& h) {
    T t{};
    std::memcpy(&t, reinterpret_cast<const char*>(&h) + h.msgh_size, sizeof t);
    return t;
}

// A send-once right to `port` under a fresh name, obtained the Mach way: as the reply
// right of a message sent to a scratch port and received back.
mach_port_t send_once_to(mach_port_t port) {
    mach_port_t carrier = mt::new_receive_right();
    if (mt::send_simple(carrier, MACH_MSG_TYPE_MAKE_SEND_ONCE, 0, 0, 0, port, MACH_MSG_TYPE_MAKE_SEND_ONCE) !=
        MACH_MSG_SUCCESS)
        return MACH_PORT_NULL;
    mt::SimpleReceived in;
    mach_msg_return_t mr = poll(carrier, in);
    (void)mach_port_mod_refs(mach_task_self(), carrier, MACH_PORT_RIGHT_RECEIVE, -1);
    return mr == MACH_MSG_SUCCESS ? in.msg.head.msgh_remote_port : MACH_PORT_NULL;
}

// A name that was in the space and is not any more.
mach_port_t gone_name() {
    mach_port_t p = mt::new_receive_right();
    (void)mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1);
    return p;
}

kern_return_t type_kr(mach_port_name_t name) {
    mach_port_type_t t = 0;
    return mach_port_type(mach_task_self(), name, &t);
}

// Messages queued on p (0xdead if p names no receive right).
mach_port_msgcount_t queued(mach_port_t p) {
    mach_port_status_t st{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    if (mach_port_get_attributes(mach_task_self(), p, MACH_PORT_RECEIVE_STATUS, reinterpret_cast<mach_port_info_t>(&st),
                                 &count) != KERN_SUCCESS)
        return 0xdead;
    return st.mps_msgcount;
}

void expect_clean(const machsim::RunReport& r) {
    INFO(r.summary());
    CHECK(r.clean());
}

// The textbook's message (Silberschatz, ch. 3).
struct message {
    mach_msg_header_t header;
    int data;
};

}  // namespace

TEST_SUITE("mach_msg header") {

// ---------------------------------------------------------------- R5 / R20: dispositions

TEST_CASE("COPY_SEND as dest leaves the sender's urefs and arrives as PORT_SEND with a reversed header") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        mach_port_mscount_t ms = mt::status_of(p).mps_mscount;
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 5, 0, 0, MACH_PORT_NULL, 0, 321), MACH_MSG_SUCCESS);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::status_of(p).mps_mscount == ms);  // R13: copying is not making
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
        CHECK(in.msg.head.msgh_local_port == p);
        CHECK(in.msg.head.msgh_remote_port == MACH_PORT_NULL);
        CHECK(in.msg.head.msgh_voucher_port == MACH_PORT_NULL);
        CHECK(in.msg.head.msgh_size == sizeof(mt::SimpleMsg));  // excludes the trailer
        CHECK(in.msg.head.msgh_id == 321);
        CHECK(in.msg.payload == 5);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);  // the carried dest right was consumed
    });
    expect_clean(r);
}

TEST_CASE("MOVE_SEND as dest takes one uref and arrives as PORT_SEND") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 2);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1), MACH_MSG_SUCCESS);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 2), MACH_MSG_SUCCESS);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 0);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);  // the receive right keeps the name
        mt::SimpleReceived in;
        for (int i = 1; i <= 2; ++i) {
            CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
            CHECK(in.msg.payload == i);
            CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
            CHECK(in.msg.head.msgh_local_port == p);
        }
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 0);
    });
    expect_clean(r);
}

TEST_CASE("MOVE_SEND of the last uref removes the sender's name; the receiver sees its own name") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("server", [&k] {
            mach_port_t svc = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "hdr-move", &svc), BOOTSTRAP_SUCCESS);
            k.spawn("client", [] {
                mach_port_t s = MACH_PORT_NULL;
                CHECK_KR(bootstrap_look_up(bootstrap_port, "hdr-move", &s), BOOTSTRAP_SUCCESS);
                CHECK(mt::refs(s, MACH_PORT_RIGHT_SEND) == 1);
                CHECK_KR(mt::send_simple(s, MACH_MSG_TYPE_MOVE_SEND, 77), MACH_MSG_SUCCESS);
                CHECK_KR(type_kr(s), KERN_INVALID_NAME);
            });
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(svc, in), MACH_MSG_SUCCESS);
            CHECK(in.msg.payload == 77);
            CHECK(in.msg.head.msgh_local_port == svc);
            CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
            CHECK(in.msg.head.msgh_remote_port == MACH_PORT_NULL);
        });
    });
    expect_clean(r);
}

TEST_CASE("MAKE_SEND as dest needs only the receive right, bumps mscount and arrives as PORT_SEND") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        CHECK(mt::status_of(p).mps_mscount == 0);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 3), MACH_MSG_SUCCESS);
        CHECK(mt::status_of(p).mps_mscount == 1);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 0);  // the new right is in the message, not the space
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
        CHECK(in.msg.head.msgh_local_port == p);
        CHECK(in.msg.payload == 3);
        CHECK(mt::status_of(p).mps_mscount == 1);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);  // dest right consumed on receive
        CHECK(!mt::status_of(p).mps_srights);
    });
    expect_clean(r);
}

TEST_CASE("MAKE_SEND_ONCE and MOVE_SEND_ONCE dests arrive as PORT_SEND_ONCE; MOVE_SEND_ONCE takes the name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        auto expect_once = [p](int payload) {
            mt::SimpleReceived in;
            CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
            CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND_ONCE));
            CHECK(in.msg.head.msgh_local_port == p);
            CHECK(in.msg.payload == payload);
        };
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, 4), MACH_MSG_SUCCESS);
        CHECK(mt::status_of(p).mps_sorights == 1);
        expect_once(4);
        mach_port_t so = send_once_to(p);
        CHECK(MACH_PORT_VALID(so));
        CHECK(so != p);  // R1: send-once rights get their own name
        CHECK(mt::type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK_KR(mt::send_simple(so, MACH_MSG_TYPE_MOVE_SEND_ONCE, 6), MACH_MSG_SUCCESS);
        CHECK_KR(type_kr(so), KERN_INVALID_NAME);
        expect_once(6);
        CHECK(mt::status_of(p).mps_sorights == 0);  // both consumed by delivery
        CHECK(mt::status_of(p).mps_mscount == 0);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
    });
    expect_clean(r);
}

TEST_CASE("MAKE_SEND, COPY_SEND and MOVE_SEND replies arrive as PORT_SEND under the receiver's name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t q = mt::new_receive_right();
        struct Step {
            mach_msg_type_name_t disp;
            mach_port_urefs_t after_send, after_receive;
        } steps[] = {{MACH_MSG_TYPE_MAKE_SEND, 0, 1}, {MACH_MSG_TYPE_COPY_SEND, 1, 2}, {MACH_MSG_TYPE_MOVE_SEND, 1, 2}};
        for (const Step& st : steps) {
            CAPTURE(st.disp);
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, 1, 0, 0, q, st.disp), MACH_MSG_SUCCESS);
            CHECK(mt::refs(q, MACH_PORT_RIGHT_SEND) == st.after_send);
            mt::SimpleReceived in;
            CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
            CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND_ONCE));
            CHECK(in.msg.head.msgh_remote_port == q);  // R1: one name per port in a space
            CHECK(mt::refs(q, MACH_PORT_RIGHT_SEND) == st.after_receive);
        }
        CHECK(mt::status_of(q).mps_mscount == 1);  // only the MAKE_SEND counted (R13)
    });
    expect_clean(r);
}

TEST_CASE("MAKE_SEND_ONCE and MOVE_SEND_ONCE replies arrive as PORT_SEND_ONCE under a fresh name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_receive_right();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, q, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                 MACH_MSG_SUCCESS);
        CHECK(mt::status_of(q).mps_sorights == 1);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND_ONCE, MACH_MSG_TYPE_PORT_SEND));
        mach_port_t so = in.msg.head.msgh_remote_port;
        CHECK(MACH_PORT_VALID(so));
        CHECK(so != q);
        CHECK(mt::type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::status_of(q).mps_mscount == 0);

        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2, 0, 0, so, MACH_MSG_TYPE_MOVE_SEND_ONCE),
                 MACH_MSG_SUCCESS);
        CHECK_KR(type_kr(so), KERN_INVALID_NAME);
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND_ONCE, MACH_MSG_TYPE_PORT_SEND));
        mach_port_t so2 = in.msg.head.msgh_remote_port;
        CHECK(MACH_PORT_VALID(so2));
        CHECK(so2 != q);
        CHECK(mt::type_of(so2) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::status_of(q).mps_sorights == 1);
        // Use it: the send-once right really names q.
        CHECK_KR(mt::send_simple(so2, MACH_MSG_TYPE_MOVE_SEND_ONCE, 3), MACH_MSG_SUCCESS);
        CHECK_KR(poll(q, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 3);
        CHECK(in.msg.head.msgh_local_port == q);
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- R6: header rights are atomic

TEST_CASE("dest and reply rights of one name with one uref are copied in together (MOVE+COPY either way)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_msg_type_name_t pairs[][2] = {{MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_COPY_SEND},
                                           {MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MOVE_SEND}};
        for (auto& d : pairs) {
            CAPTURE(d[0]);
            CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
            CHECK_KR(mt::send_simple(p, d[0], 1, 0, 0, p, d[1]), MACH_MSG_SUCCESS);
            CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 0);
            mt::SimpleReceived in;
            CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
            CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND));
            CHECK(in.msg.head.msgh_local_port == p);
            CHECK(in.msg.head.msgh_remote_port == p);
            CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);  // the reply right came back
        }
    });
    expect_clean(r);
}

TEST_CASE("one name moved as both dest and reply needs two urefs: with one, MACH_SEND_INVALID_DEST and nothing moves") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1, 0, 0, p, MACH_MSG_TYPE_MOVE_SEND),
                 MACH_SEND_INVALID_DEST);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
        // With two urefs both move: the name keeps its receive right only.
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 2, 0, 0, p, MACH_MSG_TYPE_MOVE_SEND), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 2);
        CHECK(in.msg.head.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND));
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);  // the reply right came back; the dest right was spent
    });
    expect_clean(r);
}

TEST_CASE("a failing reply right changes nothing about the dest right") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t bad = gone_name();
        mach_port_t p = mt::new_port_with_send();
        mach_port_mscount_t ms = mt::status_of(p).mps_mscount;
        for (mach_msg_type_name_t d :
             {MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE}) {
            CAPTURE(d);
            CHECK_KR(mt::send_simple(p, d, 1, 0, 0, bad, MACH_MSG_TYPE_COPY_SEND), MACH_SEND_INVALID_REPLY);
            CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
            CHECK(mt::status_of(p).mps_mscount == ms);
            CHECK(mt::status_of(p).mps_sorights == 0);
            CHECK(queued(p) == 0);
        }
        CHECK(mt::type_of(p) == (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE));
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- MACH_SEND_INVALID_DEST

// Each case carries a MAKE_SEND reply to q: if anything was copied in, q's mscount moves.
static void check_invalid_dest(const char* what, mach_port_t dest, mach_msg_type_name_t disp, mach_port_t q) {
    CHECK_KR_AS(what, mt::send_simple(dest, disp, 9, 0, 0, q, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_DEST);
    CHECK_MESSAGE(mt::status_of(q).mps_mscount == 0, what);
    CHECK_MESSAGE(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE, what);
}

TEST_CASE("a send to MACH_PORT_NULL or MACH_PORT_DEAD returns MACH_SEND_INVALID_DEST and changes nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t q = mt::new_receive_right();
        check_invalid_dest("NULL COPY_SEND", MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, q);
        check_invalid_dest("NULL MOVE_SEND_ONCE", MACH_PORT_NULL, MACH_MSG_TYPE_MOVE_SEND_ONCE, q);
        check_invalid_dest("DEAD COPY_SEND", MACH_PORT_DEAD, MACH_MSG_TYPE_COPY_SEND, q);
        check_invalid_dest("DEAD MOVE_SEND", MACH_PORT_DEAD, MACH_MSG_TYPE_MOVE_SEND, q);
    });
    expect_clean(r);
}

TEST_CASE("a send to a name not in the space returns MACH_SEND_INVALID_DEST and changes nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t bad = gone_name();
        mach_port_t q = mt::new_receive_right();
        CHECK_KR(type_kr(bad), KERN_INVALID_NAME);
        check_invalid_dest("gone COPY_SEND", bad, MACH_MSG_TYPE_COPY_SEND, q);
        check_invalid_dest("gone MAKE_SEND", bad, MACH_MSG_TYPE_MAKE_SEND, q);
        check_invalid_dest("0x7ff00003 COPY_SEND", 0x7ff00003, MACH_MSG_TYPE_COPY_SEND, q);
        CHECK_KR(type_kr(bad), KERN_INVALID_NAME);
    });
    expect_clean(r);
}

TEST_CASE("a send to a dead name returns MACH_SEND_INVALID_DEST and keeps its urefs") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t d = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), d, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(d) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        mach_port_t q = mt::new_receive_right();
        check_invalid_dest("dead name COPY_SEND", d, MACH_MSG_TYPE_COPY_SEND, q);
        CHECK(mt::type_of(d) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(d, MACH_PORT_RIGHT_DEAD_NAME) == 1);
    });
    expect_clean(r);
}

TEST_CASE("a dest disposition the name's right cannot satisfy returns MACH_SEND_INVALID_DEST") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t q = mt::new_receive_right();
        mach_port_t recv_only = mt::new_receive_right();
        mach_port_t send_recv = mt::new_port_with_send();
        mach_port_t so = send_once_to(recv_only);
        CHECK(MACH_PORT_VALID(so));
        if (!MACH_PORT_VALID(so)) return;
        mach_port_t bp = bootstrap_port;  // a send right whose receive right is the bootstrap server's
        mach_port_urefs_t bp_refs = mt::refs(bp, MACH_PORT_RIGHT_SEND);
        CHECK(bp_refs >= 1);

        check_invalid_dest("COPY_SEND on receive-only", recv_only, MACH_MSG_TYPE_COPY_SEND, q);
        check_invalid_dest("MOVE_SEND on receive-only", recv_only, MACH_MSG_TYPE_MOVE_SEND, q);
        check_invalid_dest("MOVE_SEND_ONCE on receive-only", recv_only, MACH_MSG_TYPE_MOVE_SEND_ONCE, q);
        check_invalid_dest("MAKE_SEND on send-only", bp, MACH_MSG_TYPE_MAKE_SEND, q);
        check_invalid_dest("MAKE_SEND_ONCE on send-only", bp, MACH_MSG_TYPE_MAKE_SEND_ONCE, q);
        check_invalid_dest("MOVE_SEND_ONCE on a send right", send_recv, MACH_MSG_TYPE_MOVE_SEND_ONCE, q);
        check_invalid_dest("COPY_SEND on send-once", so, MACH_MSG_TYPE_COPY_SEND, q);
        check_invalid_dest("MOVE_SEND on send-once", so, MACH_MSG_TYPE_MOVE_SEND, q);

        CHECK(mt::type_of(recv_only) == MACH_PORT_TYPE_RECEIVE);
        CHECK(queued(recv_only) == 0);
        CHECK(mt::status_of(recv_only).mps_mscount == 0);
        CHECK(mt::status_of(recv_only).mps_sorights == 1);  // just `so`
        CHECK(mt::refs(send_recv, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(send_recv) == 0);
        CHECK(mt::type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::refs(bp, MACH_PORT_RIGHT_SEND) == bp_refs);
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- MACH_SEND_INVALID_REPLY

TEST_CASE("a reply name that cannot supply its disposition returns MACH_SEND_INVALID_REPLY") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t gone = gone_name();
        mach_port_t p = mt::new_port_with_send();
        mach_port_t recv_only = mt::new_receive_right();
        mach_port_t send_recv = mt::new_port_with_send();
        mach_port_t bp = bootstrap_port;
        mach_port_urefs_t bp_refs = mt::refs(bp, MACH_PORT_RIGHT_SEND);
        struct Case {
            const char* what;
            mach_port_t reply;
            mach_msg_type_name_t disp;
        } cases[] = {
            {"unknown name COPY_SEND", gone, MACH_MSG_TYPE_COPY_SEND},
            {"unknown name MAKE_SEND_ONCE", gone, MACH_MSG_TYPE_MAKE_SEND_ONCE},
            {"COPY_SEND on receive-only", recv_only, MACH_MSG_TYPE_COPY_SEND},
            {"MOVE_SEND on receive-only", recv_only, MACH_MSG_TYPE_MOVE_SEND},
            {"MAKE_SEND on send-only", bp, MACH_MSG_TYPE_MAKE_SEND},
            {"MAKE_SEND_ONCE on send-only", bp, MACH_MSG_TYPE_MAKE_SEND_ONCE},
            {"MOVE_SEND_ONCE on a send right", send_recv, MACH_MSG_TYPE_MOVE_SEND_ONCE},
        };
        for (const Case& c : cases) {
            CHECK_KR_AS(c.what, mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, c.reply, c.disp),
                        MACH_SEND_INVALID_REPLY);
            CHECK_MESSAGE(queued(p) == 0, c.what);
        }
        CHECK(mt::type_of(recv_only) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(recv_only).mps_mscount == 0);
        CHECK(mt::refs(send_recv, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::refs(bp, MACH_PORT_RIGHT_SEND) == bp_refs);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- MACH_SEND_INVALID_HEADER

TEST_CASE("a remote disposition that is not a send type (0, MOVE_RECEIVE) returns MACH_SEND_INVALID_HEADER") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_receive_right();
        mt::SimpleMsg m{};  // msgh_bits left 0, as the textbook prints it
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = p;
        CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                 MACH_SEND_INVALID_HEADER);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_RECEIVE, 1), MACH_SEND_INVALID_HEADER);
        CHECK_KR(mt::send_simple(q, MACH_MSG_TYPE_MOVE_RECEIVE, 2), MACH_SEND_INVALID_HEADER);
        CHECK(mt::type_of(p) == (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE));
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE);
        CHECK(queued(p) == 0);
        CHECK(queued(q) == 0);
    });
    expect_clean(r);
}

TEST_CASE("local disposition 0 with a non-null local name returns MACH_SEND_INVALID_HEADER") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1, 0, 0, q, 0), MACH_SEND_INVALID_HEADER);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2, 0, 0, q, 0), MACH_SEND_INVALID_HEADER);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::refs(q, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
    });
    expect_clean(r);
}

TEST_CASE("a garbage remote disposition (22, 24, 31) returns MACH_SEND_INVALID_HEADER and copies in nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_receive_right();
        for (mach_msg_type_name_t d : {22u /* COPY_RECEIVE */, 24u /* DISPOSE_RECEIVE */, 31u}) {
            CAPTURE(d);
            CHECK_KR(mt::send_simple(p, d, 1, 0, 0, q, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_HEADER);
        }
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
        CHECK(mt::status_of(q).mps_mscount == 0);  // the reply was not made either
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE);
    });
    expect_clean(r);
}

TEST_CASE("a send-once right sent with any remote disposition but MOVE_SEND_ONCE fails and is kept") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t q = mt::new_receive_right();
        mach_port_t so = send_once_to(q);
        const std::pair<mach_msg_type_name_t, mach_msg_return_t> cases[] = {
            {0, MACH_SEND_INVALID_HEADER},
            {22, MACH_SEND_INVALID_HEADER},
            {31, MACH_SEND_INVALID_HEADER},
            {MACH_MSG_TYPE_COPY_SEND, MACH_SEND_INVALID_DEST},
            {MACH_MSG_TYPE_MOVE_SEND, MACH_SEND_INVALID_DEST},
            {MACH_MSG_TYPE_MAKE_SEND_ONCE, MACH_SEND_INVALID_DEST},
        };
        for (auto [d, expected] : cases) {
            CAPTURE(d);
            CHECK_KR(mt::send_simple(so, d, 1), expected);
        }
        CHECK(mt::type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(queued(q) == 0);
    });
    expect_clean(r);
}

TEST_CASE("a local disposition that is not a send type (MOVE_RECEIVE, 22, 31) returns MACH_SEND_INVALID_HEADER "
          "and copies in neither right") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_port_with_send();
        for (mach_msg_type_name_t d : {unsigned{MACH_MSG_TYPE_MOVE_RECEIVE}, 22u, 31u}) {
            CAPTURE(d);
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1, 0, 0, q, d), MACH_SEND_INVALID_HEADER);
        }
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);  // the dest's MOVE_SEND did not happen
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_SEND_RECEIVE);  // q kept its receive right
        CHECK(mt::refs(q, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
        CHECK(queued(q) == 0);
    });
    expect_clean(r);
}

// §6: the header has XNU's layout but vouchers are not implemented; XNU's code is 0x10000005.
TEST_CASE("non-zero voucher bits return MACH_SEND_INVALID_VOUCHER and copy in neither dest nor reply") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_receive_right();
        for (mach_msg_type_name_t v : {MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MOVE_SEND}) {
            CAPTURE(v);
            mt::SimpleMsg m{};
            m.head.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_MAKE_SEND, v, 0);
            m.head.msgh_size = sizeof m;
            m.head.msgh_remote_port = p;
            m.head.msgh_local_port = q;
            m.head.msgh_voucher_port = p;
            CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                     MACH_SEND_INVALID_VOUCHER);
        }
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
        CHECK(mt::status_of(q).mps_mscount == 0);
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE);
    });
    expect_clean(r);
}

// §6: MACH_SEND_NOTIFY is not provided; §2.2: the bad notify argument is refused with nothing done.
TEST_CASE("MACH_SEND_NOTIFY returns MACH_SEND_INVALID_NOTIFY; nothing is sent, and a combined receive does not run") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_receive_right();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1, MACH_SEND_NOTIFY, 0, q, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                 MACH_SEND_INVALID_NOTIFY);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
        CHECK(mt::status_of(q).mps_sorights == 0);
        // With SEND|RCV the error returns before the receive (R19): p's message stays queued.
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2), MACH_MSG_SUCCESS);
        mt::SimpleReceived buf{};
        buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0);
        buf.msg.head.msgh_size = sizeof buf.msg;
        buf.msg.head.msgh_remote_port = p;
        buf.msg.head.msgh_id = 99;
        CHECK_KR(mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG | MACH_SEND_NOTIFY, sizeof buf.msg, sizeof buf, p,
                          0, MACH_PORT_NULL),
                 MACH_SEND_INVALID_NOTIFY);
        CHECK(buf.msg.head.msgh_id == 99);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 1);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 2);
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- sizes and buffers (R22)

TEST_CASE("a send size below the 24-byte header or not 4-aligned returns MACH_SEND_MSG_TOO_SMALL") {
    machsim::RunReport r = mt::run_task([] {
        CHECK(sizeof(mach_msg_header_t) == 24);
        mach_port_t p = mt::new_port_with_send();
        mach_msg_size_t sizes[] = {0, 4, 20, 23, 26, 30};
        // COPY_SEND as well: a small simple message the fast path would otherwise take.
        for (mach_msg_type_name_t disp : {MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_TYPE_COPY_SEND}) {
            for (mach_msg_size_t size : sizes) {
                BigMsg m{};
                m.head.msgh_bits = MACH_MSGH_BITS(disp, 0);
                m.head.msgh_size = size;
                m.head.msgh_remote_port = p;
                CAPTURE(disp);
                CAPTURE(size);
                CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                         MACH_SEND_MSG_TOO_SMALL);
            }
        }
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(queued(p) == 0);
        // The smallest legal message is the bare header.
        mach_msg_header_t h{};
        h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        h.msgh_size = sizeof h;
        h.msgh_remote_port = p;
        CHECK_KR(mach_msg(&h, MACH_SEND_MSG, sizeof h, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK(queued(p) == 1);
    });
    expect_clean(r);
}

TEST_CASE("an unreadable send buffer returns MACH_SEND_INVALID_DATA") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mach_msg(nullptr, MACH_SEND_MSG, sizeof(mt::SimpleMsg), 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                 MACH_SEND_INVALID_DATA);
        CHECK(queued(p) == 0);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
    });
    expect_clean(r);
}

TEST_CASE("a message above Config::max_message returns MACH_SEND_TOO_LARGE; one at the limit is sent") {
    machsim::Config cfg;
    cfg.max_message = 256;
    machsim::RunReport r = mt::run_task(
        [] {
            mach_port_t p = mt::new_port_with_send();
            std::vector<unsigned char> buf(512);
            auto* h = reinterpret_cast<mach_msg_header_t*>(buf.data());
            h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0);
            h->msgh_remote_port = p;
            h->msgh_size = 260;
            CHECK_KR(mach_msg(h, MACH_SEND_MSG, 260, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_SEND_TOO_LARGE);
            CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
            CHECK(queued(p) == 0);
            h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
            h->msgh_size = 256;
            CHECK_KR(mach_msg(h, MACH_SEND_MSG, 256, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
            CHECK(queued(p) == 1);
        },
        cfg);
    expect_clean(r);
}

// ---------------------------------------------------------------- receive errors

TEST_CASE("receiving on NULL, an unknown name, a send-only, send-once or dead name returns MACH_RCV_INVALID_NAME") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t gone = gone_name();
        mach_port_t target = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(target, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        mach_port_t so = send_once_to(target);
        mach_port_t dead = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), dead, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        struct Case {
            const char* what;
            mach_port_t name;
        } cases[] = {
            {"MACH_PORT_NULL", MACH_PORT_NULL}, {"unknown name", gone},   {"send-only name", bootstrap_port},
            {"send-once name", so},             {"dead name", dead},     {"MACH_PORT_DEAD", MACH_PORT_DEAD},
        };
        for (const Case& c : cases) {
            mt::SimpleReceived in;
            CHECK_KR_AS(c.what, poll(c.name, in), MACH_RCV_INVALID_NAME);
        }
        CHECK(queued(target) == 1);  // nothing dequeued anywhere
    });
    expect_clean(r);
}

TEST_CASE("an unwritable receive buffer returns MACH_RCV_INVALID_DATA and the message is dequeued") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        static const char kReadOnly[] = "a read-only string literal, longer than any message in this test...";
        mach_msg_header_t* bufs[] = {
            reinterpret_cast<mach_msg_header_t*>(const_cast<char*>(kReadOnly)),
            nullptr,
        };
        for (mach_msg_header_t* buf : bufs) {
            CAPTURE(static_cast<const void*>(buf));
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
            CHECK_KR(mach_msg(buf, MACH_RCV_MSG | kPoll, 0, sizeof(mt::SimpleReceived), p, 0, MACH_PORT_NULL),
                     MACH_RCV_INVALID_DATA);
            CHECK(queued(p) == 0);
        }
        CHECK(std::strncmp(kReadOnly, "a read-only", 11) == 0);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_RCV_TIMED_OUT);
    });
    expect_clean(r);
}

TEST_CASE("MACH_RCV_TOO_LARGE with MACH_RCV_LARGE leaves the message queued and reports its size") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(send_big(p, MACH_MSG_TYPE_COPY_SEND, 41), MACH_MSG_SUCCESS);
        mt::SimpleReceived small;
        CHECK_KR(poll(p, small, MACH_RCV_LARGE), MACH_RCV_TOO_LARGE);
        CHECK(small.msg.head.msgh_size == sizeof(BigMsg));  // the message's size, without trailer
        CHECK(queued(p) == 1);
        // Retry as libsyscall does: msgh_size + MAX_TRAILER_SIZE.
        std::vector<unsigned char> buf(small.msg.head.msgh_size + MAX_TRAILER_SIZE);
        auto* h = reinterpret_cast<mach_msg_header_t*>(buf.data());
        CHECK_KR(mach_msg(h, MACH_RCV_MSG | kPoll | MACH_RCV_LARGE, 0, static_cast<mach_msg_size_t>(buf.size()), p, 0,
                          MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        CHECK(h->msgh_id == 41);
        CHECK(h->msgh_size == sizeof(BigMsg));
        CHECK(h->msgh_local_port == p);
        CHECK(reinterpret_cast<BigMsg*>(buf.data())->data[27] == 'b');
        CHECK(queued(p) == 0);
    });
    expect_clean(r);
}

TEST_CASE("MACH_RCV_LARGE into a buffer the receiver cannot write is MACH_RCV_INVALID_DATA and the message stays "
          "queued") {
    machsim::RunReport r = mt::run_task([] {
        static const char kReadOnly[] = "read-only, and far smaller than the big message";
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(send_big(p, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);
        CHECK_KR(mach_msg(reinterpret_cast<mach_msg_header_t*>(const_cast<char*>(kReadOnly)),
                          MACH_RCV_MSG | kPoll | MACH_RCV_LARGE, 0, sizeof kReadOnly, p, 0, MACH_PORT_NULL),
                 MACH_RCV_INVALID_DATA);
        CHECK(std::strcmp(kReadOnly, "read-only, and far smaller than the big message") == 0);
        CHECK(queued(p) == 1);
        std::vector<unsigned char> buf(sizeof(BigMsg) + MAX_TRAILER_SIZE);
        auto* h = reinterpret_cast<mach_msg_header_t*>(buf.data());
        CHECK_KR(mach_msg(h, MACH_RCV_MSG | kPoll, 0, static_cast<mach_msg_size_t>(buf.size()), p, 0, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        CHECK(h->msgh_id == 42);
    });
    expect_clean(r);
}

TEST_CASE("MACH_RCV_TOO_LARGE without MACH_RCV_LARGE returns the header and destroys the message") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_receive_right();
        CHECK_KR(send_big(p, MACH_MSG_TYPE_COPY_SEND, 51, q, MACH_MSG_TYPE_MAKE_SEND), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 52, 0, 0, MACH_PORT_NULL, 0, 52), MACH_MSG_SUCCESS);
        CHECK(mt::status_of(q).mps_srights);  // the reply right in transit counts (R14)
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_RCV_TOO_LARGE);
        CHECK(in.msg.head.msgh_local_port == p);
        CHECK(in.msg.head.msgh_remote_port == MACH_PORT_NULL);
        CHECK(in.msg.head.msgh_id == 51);
        CHECK(queued(p) == 1);
        CHECK(!mt::status_of(q).mps_srights);  // its reply right was destroyed with it
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE);
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_id == 52);
        CHECK(in.msg.payload == 52);
    });
    expect_clean(r);
}

TEST_CASE("a message to a send-once right that its receiver discards (too large, bad buffer) is that right's one "
          "message: no send-once notification follows (R16)") {
    struct ComplexEmpty {  // a complex message with no descriptors
        mach_msg_header_t head;
        mach_msg_body_t body;
    };
    static const char kReadOnly[256] = "a read-only buffer";
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        auto no_second_message = [p](const char* what) {
            INFO(what);
            mt::SimpleReceived in;
            CHECK_KR(poll(p, in), MACH_RCV_TIMED_OUT);
            CHECK(mt::status_of(p).mps_sorights == 0);
        };

        // Queued, then received without MACH_RCV_LARGE into a buffer too small.
        CHECK_KR(send_big(send_once_to(p), MACH_MSG_TYPE_MOVE_SEND_ONCE, 61), MACH_MSG_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_RCV_TOO_LARGE);
        CHECK(in.msg.head.msgh_id == 61);
        CHECK(MACH_MSGH_BITS_LOCAL(in.msg.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
        no_second_message("too large, from the queue");

        // Handed to a receiver already waiting with a buffer too small.
        mach_msg_return_t waited = -1;
        machsim::thread_start([&waited, p] {
            mt::SimpleReceived small;
            waited = mt::receive_simple(p, small);
        });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        CHECK(waited == -1);
        CHECK_KR(send_big(send_once_to(p), MACH_MSG_TYPE_MOVE_SEND_ONCE, 62), MACH_MSG_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        CHECK_KR(waited, MACH_RCV_TOO_LARGE);
        no_second_message("too large, handed to a waiting receiver");

        // A complex message received into a buffer the receiver cannot write.
        ComplexEmpty m{};
        m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0) | MACH_MSGH_BITS_COMPLEX;
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = send_once_to(p);
        m.head.msgh_id = 63;
        CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK_KR(mach_msg(reinterpret_cast<mach_msg_header_t*>(const_cast<char*>(kReadOnly)), MACH_RCV_MSG | kPoll, 0,
                          sizeof kReadOnly, p, 0, MACH_PORT_NULL),
                 MACH_RCV_INVALID_DATA);
        no_second_message("complex, unwritable buffer");

        // The same, simple.
        CHECK_KR(send_big(send_once_to(p), MACH_MSG_TYPE_MOVE_SEND_ONCE, 64), MACH_MSG_SUCCESS);
        CHECK_KR(mach_msg(reinterpret_cast<mach_msg_header_t*>(const_cast<char*>(kReadOnly)), MACH_RCV_MSG | kPoll, 0,
                          sizeof kReadOnly, p, 0, MACH_PORT_NULL),
                 MACH_RCV_INVALID_DATA);
        no_second_message("simple, unwritable buffer");
        CHECK(std::strcmp(kReadOnly, "a read-only buffer") == 0);
    });
    expect_clean(r);
}

TEST_CASE("the receive buffer must hold the message plus the requested trailer") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 8), MACH_MSG_SUCCESS);
        const mach_msg_size_t msg = sizeof(mt::SimpleMsg);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in, MACH_RCV_LARGE, msg), MACH_RCV_TOO_LARGE);  // no room for the 8-byte trailer
        CHECK(in.msg.head.msgh_size == msg);
        CHECK_KR(poll(p, in, MACH_RCV_LARGE | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT), msg + 12),
                 MACH_RCV_TOO_LARGE);
        CHECK_KR(poll(p, in, MACH_RCV_LARGE | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_SENDER), msg + 12),
                 MACH_RCV_TOO_LARGE);
        CHECK(queued(p) == 1);
        CHECK_KR(poll(p, in, MACH_RCV_LARGE | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_SEQNO), msg + 12),
                 MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 8);
        CHECK(trailer_of<mach_msg_seqno_trailer_t>(in.msg.head).msgh_trailer_size == 12);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 9), MACH_MSG_SUCCESS);
        CHECK_KR(poll(p, in, MACH_RCV_LARGE, msg + 8), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 9);
    });
    expect_clean(r);
}

TEST_CASE("a receive with timeout 0 on an empty queue returns MACH_RCV_TIMED_OUT") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mt::SimpleReceived in{};
        CHECK_KR(mach_msg(&in.msg.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof in, p, 0, MACH_PORT_NULL),
                 MACH_RCV_TIMED_OUT);
        CHECK(queued(p) == 0);
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- trailers

TEST_CASE("requested trailer elements give trailer sizes 8, 12, 20 and 52 after msgh_size") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        struct Case {
            int elements;
            mach_msg_size_t size;
        } cases[] = {{MACH_RCV_TRAILER_NULL, 8},
                     {MACH_RCV_TRAILER_SEQNO, 12},
                     {MACH_RCV_TRAILER_SENDER, 20},
                     {MACH_RCV_TRAILER_AUDIT, 52}};
        for (const Case& c : cases) {
            CAPTURE(c.elements);
            CHECK(REQUESTED_TRAILER_SIZE(MACH_RCV_TRAILER_ELEMENTS(c.elements)) == c.size);
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, c.elements), MACH_MSG_SUCCESS);
            mt::SimpleReceived in;
            CHECK_KR(poll(p, in, MACH_RCV_TRAILER_ELEMENTS(c.elements)), MACH_MSG_SUCCESS);
            CHECK(in.msg.head.msgh_size == sizeof(mt::SimpleMsg));
            CHECK(in.msg.payload == c.elements);
            mach_msg_trailer_t t = trailer_of<mach_msg_trailer_t>(in.msg.head);
            CHECK(t.msgh_trailer_type == MACH_MSG_TRAILER_FORMAT_0);
            CHECK(t.msgh_trailer_size == c.size);
        }
    });
    expect_clean(r);
}

TEST_CASE("the seqno trailer counts 0, 1, 2 per port in dequeue order") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t q = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 10), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(q, MACH_MSG_TYPE_COPY_SEND, 20), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 11), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 12), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(q, MACH_MSG_TYPE_COPY_SEND, 21), MACH_MSG_SUCCESS);
        struct Step {
            mach_port_t port;
            int payload;
            mach_port_seqno_t seqno;
        } steps[] = {{p, 10, 0}, {p, 11, 1}, {q, 20, 0}, {p, 12, 2}, {q, 21, 1}};
        for (const Step& s : steps) {
            CAPTURE(s.payload);
            mt::SimpleReceived in;
            CHECK_KR(poll(s.port, in, MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_SEQNO)), MACH_MSG_SUCCESS);
            CHECK(in.msg.payload == s.payload);
            mach_msg_seqno_trailer_t t = trailer_of<mach_msg_seqno_trailer_t>(in.msg.head);
            CHECK(t.msgh_trailer_size == 12);
            CHECK(t.msgh_seqno == s.seqno);
        }
    });
    expect_clean(r);
}

TEST_CASE("the sender trailer's val[0] is the sending task's id, different for two senders") {
    uint32_t ids[3] = {0, 0, 0};  // [payload] = id of the task that sent it
    int seen = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("server", [&] {
            mach_port_t svc = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "hdr-sender", &svc), BOOTSTRAP_SUCCESS);
            for (int who = 1; who <= 2; ++who) {
                ids[who] = k.spawn(who == 1 ? "client-1" : "client-2", [who] {
                    mach_port_t s = MACH_PORT_NULL;
                    CHECK_KR(bootstrap_look_up(bootstrap_port, "hdr-sender", &s), BOOTSTRAP_SUCCESS);
                    CHECK_KR(mt::send_simple(s, MACH_MSG_TYPE_COPY_SEND, who), MACH_MSG_SUCCESS);
                });
            }
            unsigned tokens[3] = {0, 0, 0};
            for (int i = 0; i < 2; ++i) {
                mt::SimpleReceived in;
                CHECK_KR(mt::receive_simple(svc, in, MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_SENDER)),
                         MACH_MSG_SUCCESS);
                mach_msg_security_trailer_t t = trailer_of<mach_msg_security_trailer_t>(in.msg.head);
                CHECK(t.msgh_trailer_size == 20);
                int who = in.msg.payload;
                CHECK((who == 1 || who == 2));
                if (who != 1 && who != 2) continue;
                tokens[who] = t.msgh_sender.val[0];
                ++seen;
            }
            CHECK(tokens[1] == ids[1]);
            CHECK(tokens[2] == ids[2]);
            CHECK(tokens[1] != tokens[2]);
        });
    });
    expect_clean(r);
    CHECK(seen == 2);
    CHECK(ids[1] != ids[2]);
}

TEST_CASE("the audit trailer carries the sender's task id in msgh_sender.val[0] and msgh_audit.val[5]") {
    uint32_t client_id = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("server", [&] {
            mach_port_t svc = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "hdr-audit", &svc), BOOTSTRAP_SUCCESS);
            client_id = k.spawn("client", [] {
                mach_port_t s = MACH_PORT_NULL;
                CHECK_KR(bootstrap_look_up(bootstrap_port, "hdr-audit", &s), BOOTSTRAP_SUCCESS);
                CHECK_KR(mt::send_simple(s, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
            });
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(svc, in, MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT)), MACH_MSG_SUCCESS);
            mach_msg_audit_trailer_t t = trailer_of<mach_msg_audit_trailer_t>(in.msg.head);
            CHECK(t.msgh_trailer_size == 52);
            CHECK(t.msgh_seqno == 0);
            CHECK(t.msgh_sender.val[0] == client_id);
            CHECK(t.msgh_audit.val[5] == client_id);
        });
    });
    expect_clean(r);
    CHECK(client_id != 0);
}

// ---------------------------------------------------------------- combined SEND|RCV (R19)

TEST_CASE("a send error in a combined SEND|RCV returns at once without receiving") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, MACH_PORT_NULL, 0, 7), MACH_MSG_SUCCESS);
        mt::SimpleReceived buf{};
        buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        buf.msg.head.msgh_size = sizeof buf.msg;
        buf.msg.head.msgh_remote_port = MACH_PORT_NULL;
        buf.msg.head.msgh_id = 99;
        // No RCV_TIMEOUT: were the receive attempted on an empty port it would block forever;
        // here p holds a message that must still be there afterwards.
        CHECK_KR(mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.msg, sizeof buf, p, 0,
                          MACH_PORT_NULL),
                 MACH_SEND_INVALID_DEST);
        CHECK(buf.msg.head.msgh_id == 99);
        CHECK(queued(p) == 1);
        mach_port_t empty = mt::new_receive_right();
        buf.msg.head.msgh_bits = 0;  // MACH_SEND_INVALID_HEADER
        buf.msg.head.msgh_remote_port = p;
        CHECK_KR(mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.msg, sizeof buf, empty, 0,
                          MACH_PORT_NULL),
                 MACH_SEND_INVALID_HEADER);
        CHECK(queued(p) == 1);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_id == 7);
    });
    expect_clean(r);
}

TEST_CASE("a receive error after a successful combined send leaves the message sent") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mt::SimpleReceived buf{};
        buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        buf.msg.head.msgh_size = sizeof buf.msg;
        buf.msg.head.msgh_remote_port = p;
        buf.msg.head.msgh_id = 17;
        CHECK_KR(mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.msg, sizeof buf, gone_name(), 0,
                          MACH_PORT_NULL),
                 MACH_RCV_INVALID_NAME);
        CHECK(queued(p) == 1);
        mt::SimpleReceived in;
        CHECK_KR(poll(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.head.msgh_id == 17);
    });
    expect_clean(r);
}

// ---------------------------------------------------------------- the textbook, and host code

// Silberschatz, Operating System Concepts, ch. 3 (Mach message passing), with the two fixes it
// needs to run on a real Mach: msgh_bits set, and room for the trailer in the receive buffer.
TEST_CASE("the textbook client/server example, fixed, runs between two tasks through the bootstrap server") {
    int got = 0;
    int replied = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("server", [&] {
            struct {
                struct message message;
                mach_msg_trailer_t trailer;  // fix 2
            } in{};
            mach_port_t server = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "textbook.server", &server), BOOTSTRAP_SUCCESS);
            k.spawn("client", [&] {
                mach_port_t server = MACH_PORT_NULL;
                mach_port_t client = MACH_PORT_NULL;
                CHECK_KR(bootstrap_look_up(bootstrap_port, "textbook.server", &server), BOOTSTRAP_SUCCESS);
                CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &client), KERN_SUCCESS);
                struct message message {};
                message.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND);  // fix 1
                message.header.msgh_size = sizeof(message);
                message.header.msgh_remote_port = server;
                message.header.msgh_local_port = client;
                message.data = 1234;
                CHECK_KR(mach_msg(&message.header, MACH_SEND_MSG, sizeof(message), 0, MACH_PORT_NULL,
                                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
                         MACH_MSG_SUCCESS);
                struct {
                    struct message message;
                    mach_msg_trailer_t trailer;
                } reply{};
                CHECK_KR(mach_msg(&reply.message.header, MACH_RCV_MSG, 0, sizeof(reply), client, MACH_MSG_TIMEOUT_NONE,
                                  MACH_PORT_NULL),
                         MACH_MSG_SUCCESS);
                CHECK(reply.message.header.msgh_local_port == client);
                CHECK(reply.message.header.msgh_bits == MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND));
                replied = reply.message.data;
            });
            CHECK_KR(mach_msg(&in.message.header, MACH_RCV_MSG, 0, sizeof(in), server, MACH_MSG_TIMEOUT_NONE,
                              MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
            got = in.message.data;
            CHECK(in.message.header.msgh_size == sizeof(message));
            CHECK(in.message.header.msgh_local_port == server);
            CHECK(in.message.header.msgh_bits == MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND, MACH_MSG_TYPE_PORT_SEND));
            mach_port_t back = in.message.header.msgh_remote_port;
            CHECK(MACH_PORT_VALID(back));
            CHECK(back != server);
            CHECK(mt::type_of(back) == MACH_PORT_TYPE_SEND);
            message out{};
            out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0);
            out.header.msgh_size = sizeof(out);
            out.header.msgh_remote_port = back;
            out.data = got + 1;
            CHECK_KR(mach_msg(&out.header, MACH_SEND_MSG, sizeof(out), 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                              MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
            CHECK_KR(type_kr(back), KERN_INVALID_NAME);
        });
    });
    expect_clean(r);
    CHECK(got == 1234);
    CHECK(replied == 1235);
}

TEST_CASE("mach_msg called from host code outside any task returns an error code") {
    mt::SimpleReceived buf{};
    buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    buf.msg.head.msgh_size = sizeof buf.msg;
    buf.msg.head.msgh_remote_port = 0x103;
    auto attempts = [&] {
        CHECK(mach_msg(&buf.msg.head, MACH_SEND_MSG, sizeof buf.msg, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL) !=
              MACH_MSG_SUCCESS);
        CHECK(mach_msg(&buf.msg.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, 0x103, 0, MACH_PORT_NULL) !=
              MACH_MSG_SUCCESS);
        CHECK(mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.msg, sizeof buf, 0x103, 0,
                       MACH_PORT_NULL) != MACH_MSG_SUCCESS);
    };
    attempts();  // no kernel at all
    {
        machsim::Kernel k;
        attempts();  // a kernel exists but is not running
        k.spawn("idle", [] {});
        machsim::RunReport r = k.run();
        CHECK(r.clean());
        attempts();  // after its run
    }
}


TEST_CASE("a message to a kernel object (the task port) gets MIG's bad-id reply, id + 100") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t reply = mt::new_receive_right();
        // COPY_SEND with a MAKE_SEND_ONCE reply: a message the fast path would take to an ordinary port.
        CHECK_KR(mt::send_simple(mach_task_self(), MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, reply,
                                 MACH_MSG_TYPE_MAKE_SEND_ONCE, 4242),
                 MACH_MSG_SUCCESS);
        struct {
            mig_reply_error_t r;
            mach_msg_max_trailer_t trailer;
        } in{};
        CHECK_KR(mach_msg(&in.r.Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof in, reply, 0, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        CHECK(in.r.Head.msgh_id == 4342);
        CHECK(in.r.RetCode == MIG_BAD_ID);
        CHECK(in.r.Head.msgh_local_port == reply);
        CHECK(mt::status_of(reply).mps_msgcount == 0);
    });
    expect_clean(r);
}

TEST_CASE("a queued message's reply right arrives as MACH_PORT_DEAD when it was a dead name or its port died") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t dead = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &dead), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, dead, MACH_MSG_TYPE_COPY_SEND),
                 MACH_MSG_SUCCESS);
        mach_port_t gone = mt::new_receive_right();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2, 0, 0, gone, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                 MACH_MSG_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), gone, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 1);
        CHECK(in.msg.head.msgh_remote_port == MACH_PORT_DEAD);
        CHECK(MACH_MSGH_BITS_REMOTE(in.msg.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 2);
        CHECK(in.msg.head.msgh_remote_port == MACH_PORT_DEAD);
        CHECK(MACH_MSGH_BITS_REMOTE(in.msg.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
        CHECK(machsim::check_invariants().empty());
    });
    expect_clean(r);
}

}  // TEST_SUITE
