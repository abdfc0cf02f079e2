// mach_msg_server_once and mach_msg_server: the MIG server loop, with a demux
// routine written as MIG would write one, and the textbook exception handler
// (mach_msg_server with mach_exc_server).
#include <cstring>

#include "tests/support.h"

namespace {

using mt::Code;

// A MIG-style protocol: "add one" (id 500), answered with id 600.
enum : mach_msg_id_t {
    kAdd = 500,    // answered with value + 1
    kLater = 501,  // answered later, outside the server loop (MIG_NO_REPLY)
    kFail = 502,   // answered KERN_INVALID_ARGUMENT
    kQuit = 503,   // destroys the server's port; no answer
    kClientDies = 504,  // destroys the client's reply port (g_server.doomed), then answers as kAdd
    kReplyOffset = 100,
};

struct Request {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    int32_t value;
};

struct ComplexRequest {
    mach_msg_header_t Head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
};

struct Reply {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    int32_t value;
};

struct ReplyBuffer {
    Reply reply;
    mach_msg_audit_trailer_t trailer;
};

// What the demux routine saw and kept.
struct ServerState {
    mach_port_t port = MACH_PORT_NULL;    // the port it serves
    mach_port_t kept = MACH_PORT_NULL;    // the reply right of a kLater request
    mach_port_t doomed = MACH_PORT_NULL;  // the receive right kClientDies destroys
    int served = 0;
};
ServerState g_server;

// The demux routine, as MIG generates one: it always writes a reply header,
// and a RetCode; it returns FALSE for an id it does not know.
boolean_t add_demux(mach_msg_header_t* in, mach_msg_header_t* out) {
    auto* reply = reinterpret_cast<Reply*>(out);
    reply->Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in->msgh_bits), 0);
    reply->Head.msgh_size = sizeof(mig_reply_error_t);
    reply->Head.msgh_remote_port = in->msgh_remote_port;
    reply->Head.msgh_local_port = MACH_PORT_NULL;
    reply->Head.msgh_id = in->msgh_id + kReplyOffset;
    reply->NDR = NDR_record_t MACHSIM_NDR_NATIVE;
    ++g_server.served;
    switch (in->msgh_id) {
    case kClientDies:
        // The client is gone between request and reply: the reply right held
        // here is now a dead name.
        (void)mach_port_destroy(mach_task_self(), g_server.doomed);
        [[fallthrough]];
    case kAdd:
        reply->Head.msgh_size = sizeof(Reply);
        reply->RetCode = KERN_SUCCESS;
        reply->value = reinterpret_cast<Request*>(in)->value + 1;
        return TRUE;
    case kLater:
        g_server.kept = in->msgh_remote_port;
        reply->RetCode = MIG_NO_REPLY;
        return TRUE;
    case kFail:
        reply->RetCode = KERN_INVALID_ARGUMENT;
        return TRUE;
    case kQuit:
        (void)mach_port_destroy(mach_task_self(), g_server.port);
        reply->RetCode = MIG_NO_REPLY;
        return TRUE;
    default:
        reply->RetCode = MIG_BAD_ID;
        return FALSE;
    }
}

// A port to serve, with a send right under its name.
mach_port_t new_server_port() {
    g_server = {};
    g_server.port = mt::new_port_with_send();
    return g_server.port;
}

// An RPC: sends `id` with `value` and waits for the answer on the thread's MIG reply port.
mach_msg_return_t call(mach_port_t server, mach_msg_id_t id, int32_t value, ReplyBuffer& out) {
    union {
        Request req;
        ReplyBuffer rep;
    } buf{};
    mach_port_t reply = mig_get_reply_port();
    buf.req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.req.Head.msgh_size = sizeof(Request);
    buf.req.Head.msgh_remote_port = server;
    buf.req.Head.msgh_local_port = reply;
    buf.req.Head.msgh_id = id;
    buf.req.value = value;
    mach_msg_return_t mr = mach_msg(&buf.req.Head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(Request), sizeof(ReplyBuffer),
                                    reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    out = buf.rep;
    return mr;
}

// A one-way message with no reply right.
mach_msg_return_t post(mach_port_t server, mach_msg_id_t id) {
    Request req{};
    req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    req.Head.msgh_size = sizeof req;
    req.Head.msgh_remote_port = server;
    req.Head.msgh_id = id;
    return mach_msg(&req.Head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}


}  // namespace

TEST_CASE("mach_msg_server_once receives one request, hands it to the demux routine and sends the reply it wrote") {
    Code served{-1};
    ReplyBuffer got{};
    mach_msg_type_number_t names_before = 0, names_after = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        machsim::thread_start([&] {
            names_before = mt::name_count();
            served.value = mach_msg_server_once(add_demux, sizeof(Request), port, 0);
            names_after = mt::name_count();
        });
        CHECK_KR(call(port, kAdd, 41, got), MACH_MSG_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(served == Code{MACH_MSG_SUCCESS});
    CHECK(got.reply.Head.msgh_id == kAdd + kReplyOffset);
    CHECK(got.reply.Head.msgh_size == sizeof(Reply));
    CHECK(MACH_MSGH_BITS_LOCAL(got.reply.Head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
    CHECK(got.reply.RetCode == KERN_SUCCESS);
    CHECK(got.reply.value == 42);
    CHECK(names_after == names_before);  // the reply right went out with the reply
}

TEST_CASE("mach_msg_server serves until mach_msg fails, and returns that error") {
    Code ended{-1};
    int answers = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        bool done = false;
        machsim::thread_start([&] {
            ended.value = mach_msg_server(add_demux, sizeof(Request), port, 0);
            done = true;
        });
        for (int i = 0; i < 5; ++i) {
            ReplyBuffer got{};
            CHECK_KR(call(port, kAdd, i * 10, got), MACH_MSG_SUCCESS);
            if (got.reply.value == i * 10 + 1) ++answers;
        }
        CHECK_KR(post(port, kQuit), MACH_MSG_SUCCESS);  // its receive right goes: the next receive fails
        while (!done) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(answers == 5);
    CHECK(g_server.served == 6);
    CHECK(ended == Code{MACH_RCV_INVALID_NAME});
}

TEST_CASE("mach_msg_server answers an unknown id with MIG_BAD_ID, as the routine wrote, and goes on") {
    ReplyBuffer bad{}, good{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        machsim::thread_start([&] { (void)mach_msg_server(add_demux, sizeof(Request), port, 0); });
        CHECK_KR(call(port, 999, 0, bad), MACH_MSG_SUCCESS);
        CHECK_KR(call(port, kAdd, 1, good), MACH_MSG_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(bad.reply.Head.msgh_id == 999 + kReplyOffset);
    CHECK(bad.reply.RetCode == MIG_BAD_ID);
    CHECK(good.reply.value == 2);
}

TEST_CASE("MIG_NO_REPLY: the loop sends nothing, and the routine answers later with the reply right it kept") {
    ReplyBuffer got{};
    Code once{-1}, late{-1};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        machsim::thread_start([&] {
            once.value = mach_msg_server_once(add_demux, sizeof(Request), port, 0);
            Reply answer{};
            answer.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
            answer.Head.msgh_size = sizeof answer;
            answer.Head.msgh_remote_port = g_server.kept;
            answer.Head.msgh_id = kLater + kReplyOffset;
            answer.value = 7;
            late.value = mach_msg(&answer.Head, MACH_SEND_MSG, sizeof answer, 0, MACH_PORT_NULL,
                                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        });
        CHECK_KR(call(port, kLater, 0, got), MACH_MSG_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(once == Code{MACH_MSG_SUCCESS});
    CHECK(late == Code{MACH_MSG_SUCCESS});
    CHECK(got.reply.Head.msgh_id == kLater + kReplyOffset);
    CHECK(got.reply.value == 7);
}

TEST_CASE("a complex request that fails is destroyed, all but its reply right, which carries the error reply") {
    mach_port_urefs_t carried = 0, after = 0;
    ReplyBuffer got{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        mach_port_t gift = mt::new_port_with_send();  // one send uref
        machsim::thread_start([&] {
            CHECK_KR(mach_msg_server_once(add_demux, sizeof(ComplexRequest), port, 0), MACH_MSG_SUCCESS);
            after = mt::refs(gift, MACH_PORT_RIGHT_SEND);
        });
        union {
            ComplexRequest req;
            ReplyBuffer rep;
        } buf{};
        mach_port_t reply = mig_get_reply_port();
        buf.req.Head.msgh_bits =
            MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE) | MACH_MSGH_BITS_COMPLEX;
        buf.req.Head.msgh_size = sizeof(ComplexRequest);
        buf.req.Head.msgh_remote_port = port;
        buf.req.Head.msgh_local_port = reply;
        buf.req.Head.msgh_id = kFail;
        buf.req.body.msgh_descriptor_count = 1;
        buf.req.port.name = gift;
        buf.req.port.disposition = MACH_MSG_TYPE_MAKE_SEND;
        buf.req.port.type = MACH_MSG_PORT_DESCRIPTOR;
        // The request is queued before the server runs: the carried right is then in this space twice.
        CHECK_KR(mach_msg(&buf.req.Head, MACH_SEND_MSG, sizeof(ComplexRequest), 0, MACH_PORT_NULL,
                          MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        carried = mt::refs(gift, MACH_PORT_RIGHT_SEND);
        CHECK_KR(mach_msg(&buf.rep.reply.Head, MACH_RCV_MSG, 0, sizeof(ReplyBuffer), reply, MACH_MSG_TIMEOUT_NONE,
                          MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        got = buf.rep;
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(carried == 1);  // still in the message
    CHECK(after == 1);    // it arrived (2), and the failed request gave it back (1)
    CHECK(got.reply.Head.msgh_id == kFail + kReplyOffset);
    CHECK(got.reply.RetCode == KERN_INVALID_ARGUMENT);
}

TEST_CASE("a reply whose client is gone is dropped: the server goes on and keeps no dead name") {
    Code once{-1}, loop{-1};
    mach_msg_type_number_t names_before = 0, names_after_once = 0, names_after_loop = 0;
    int served_by_loop = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        // A request whose reply port is destroyed before the server receives it
        // (the reply right arrives as MACH_PORT_DEAD) or while the server handles
        // it (the reply right is a dead name when the reply goes out).
        auto orphan = [&](bool early) {
            mach_port_t gone = mt::new_receive_right();
            Request req{};
            req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
            req.Head.msgh_size = sizeof req;
            req.Head.msgh_remote_port = port;
            req.Head.msgh_local_port = gone;
            req.Head.msgh_id = early ? kAdd : kClientDies;
            CHECK_KR(mach_msg(&req.Head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                              MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
            if (early)
                CHECK_KR(mach_port_destroy(mach_task_self(), gone), KERN_SUCCESS);
            else
                g_server.doomed = gone;
        };
        names_before = mt::name_count();
        orphan(false);
        once.value = mach_msg_server_once(add_demux, sizeof(Request), port, 0);
        names_after_once = mt::name_count();
        orphan(true);
        CHECK_KR(post(port, kAdd), MACH_MSG_SUCCESS);  // no reply right at all
        orphan(false);
        CHECK_KR(post(port, kQuit), MACH_MSG_SUCCESS);
        int before = g_server.served;
        loop.value = mach_msg_server(add_demux, sizeof(Request), port, 0);
        served_by_loop = g_server.served - before;
        names_after_loop = mt::name_count();
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(once == Code{MACH_MSG_SUCCESS});
    CHECK(names_after_once == names_before);
    CHECK(served_by_loop == 4);
    CHECK(loop == Code{MACH_RCV_INVALID_NAME});
    CHECK(names_after_loop == names_before - 1);  // the served port, destroyed by kQuit
}

TEST_CASE("MACH_RCV_LARGE lets the server take a request larger than max_size; without it, the receive fails") {
    struct BigRequest {
        Request head;
        char pad[1000];
    };
    Code small{-1}, large{-1};
    ReplyBuffer got{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        machsim::thread_start([&] {
            small.value = mach_msg_server_once(add_demux, sizeof(Request), port, 0);
            large.value = mach_msg_server_once(add_demux, sizeof(Request), port, MACH_RCV_LARGE);
        });
        BigRequest big{};
        for (int i = 0; i < 2; ++i) {
            // The first has no reply right: refused, it is destroyed, and a reply right
            // would come back as a send-once notification.
            mach_port_t reply = i == 1 ? mig_get_reply_port() : MACH_PORT_NULL;
            big.head.Head.msgh_bits =
                MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, i == 1 ? MACH_MSG_TYPE_MAKE_SEND_ONCE : 0);
            big.head.Head.msgh_size = sizeof big;
            big.head.Head.msgh_remote_port = port;
            big.head.Head.msgh_local_port = reply;
            big.head.Head.msgh_id = kAdd;
            big.head.value = 99;
            CHECK_KR(mach_msg(&big.head.Head, MACH_SEND_MSG, sizeof big, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                              MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
            if (i == 1) {
                CHECK_KR(mach_msg(&got.reply.Head, MACH_RCV_MSG, 0, sizeof got, reply, MACH_MSG_TIMEOUT_NONE,
                                  MACH_PORT_NULL),
                         MACH_MSG_SUCCESS);
            } else {
                thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // the server refuses the first
            }
        }
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(small == Code{MACH_RCV_TOO_LARGE});
    CHECK(large == Code{MACH_MSG_SUCCESS});
    CHECK(got.reply.value == 100);
}

TEST_CASE("mach_msg_server with MACH_RCV_LARGE answers a request larger than max_size, and the ones after it") {
    struct BigRequest {
        Request head;
        char pad[1000];
    };
    Code ended{-1};
    ReplyBuffer big_answer{}, small_answer{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = new_server_port();
        machsim::thread_start([&] { ended.value = mach_msg_server(add_demux, sizeof(Request), port, MACH_RCV_LARGE); });
        union {
            BigRequest req;
            ReplyBuffer rep;
        } buf{};
        mach_port_t reply = mig_get_reply_port();
        buf.req.head.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        buf.req.head.Head.msgh_size = sizeof buf.req;
        buf.req.head.Head.msgh_remote_port = port;
        buf.req.head.Head.msgh_local_port = reply;
        buf.req.head.Head.msgh_id = kAdd;
        buf.req.head.value = 5;
        CHECK_KR(mach_msg(&buf.req.head.Head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.req, sizeof buf.rep, reply,
                          MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        big_answer = buf.rep;
        CHECK_KR(call(port, kAdd, 9, small_answer), MACH_MSG_SUCCESS);  // into the grown buffers
        CHECK_KR(post(port, kQuit), MACH_MSG_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(big_answer.reply.Head.msgh_id == kAdd + kReplyOffset);
    CHECK(big_answer.reply.value == 6);
    CHECK(small_answer.reply.value == 10);
    CHECK(ended == Code{MACH_RCV_INVALID_NAME});
}

// The textbook exception handler: mach_exc_server calls the program's
// catch_mach_exception_raise, and mach_msg_server sends its answer.
namespace {
vm_address_t g_fixable_page = 0;
int g_handled = 0;
}  // namespace

extern "C" kern_return_t catch_mach_exception_raise(mach_port_t, mach_port_t thread, mach_port_t task,
                                                    exception_type_t exception, mach_exception_data_t code,
                                                    mach_msg_type_number_t) {
    kern_return_t answer = KERN_FAILURE;
    if (exception == EXC_BAD_ACCESS && code[0] == KERN_PROTECTION_FAILURE &&
        static_cast<vm_address_t>(code[1]) - g_fixable_page < vm_page_size) {
        answer = vm_protect(task, g_fixable_page, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE);
        ++g_handled;
    }
    (void)mach_port_deallocate(mach_task_self(), thread);
    (void)mach_port_deallocate(mach_task_self(), task);
    return answer;
}

TEST_CASE("the textbook exception handler: mach_msg_server(mach_exc_server) fixes a fault and the write resumes") {
    int seen = 0;
    g_handled = 0;
    machsim::RunReport r = mt::run_task([&] {
        g_fixable_page = mt::page_with(VM_PROT_READ);
        mach_port_t exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                          EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES, THREAD_STATE_NONE),
                 KERN_SUCCESS);
        machsim::thread_start([exc] { (void)mach_msg_server(mach_exc_server, 4096, exc, 0); });
        mt::poke(g_fixable_page + 16, 5);  // faults; the handler makes the page writable
        mt::poke(g_fixable_page + 24, 6);  // no fault now
        seen = mt::peek(g_fixable_page + 16) + mt::peek(g_fixable_page + 24);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(g_handled == 1);
    CHECK(seen == 11);
}
