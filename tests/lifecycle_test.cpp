// Port death (R7, R8) and notification requests (R9-R15), written from docs MACH-REFERENCE.md.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "tests/lifecycle_support.h"

using lt::Rcv;

namespace {

struct OolMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_ool_descriptor_t ool;
};

// How a task ends in the mid-RPC tests: on its own (its body returns, throws
// or faults), or at another task's hand (task_terminate, SIGKILL).
enum class Death { returns, throws, faults, terminated, killed };
constexpr Death kDeaths[] = {Death::returns, Death::throws, Death::faults, Death::terminated, Death::killed};

const char* death_name(Death d) {
    switch (d) {
    case Death::returns: return "returns";
    case Death::throws: return "throws";
    case Death::faults: return "faults";
    case Death::terminated: return "task_terminate";
    case Death::killed: return "SIGKILL";
    }
    return "?";
}

// An address no task has memory at; volatile, so that the compiler cannot see the fault coming.
volatile vm_address_t kNoMemory = 0x40;

// Called by the dying task where it should end; the two killed kinds wait there to be killed.
void end_here(Death d) {
    switch (d) {
    case Death::returns: return;
    case Death::throws: throw std::runtime_error("gone mid-RPC");
    case Death::faults: mt::poke(kNoMemory, 1); return;
    case Death::terminated:
    case Death::killed: lt::sleep_ms(1000000); return;
    }
}

// How the run report shows a task that ended so.
void check_ended(const machsim::RunReport& r, const char* task, Death d) {
    const machsim::TaskReport* t = r.task(task);
    REQUIRE(t);
    INFO(task << ": " << t->detail);
    switch (d) {
    case Death::returns: CHECK(t->end == machsim::TaskEnd::Exited); break;
    case Death::throws: CHECK(t->end == machsim::TaskEnd::Crashed); break;
    case Death::faults: CHECK(t->end == machsim::TaskEnd::Signaled); CHECK(t->exit_code == machsim::sig::SEGV); break;
    case Death::terminated: CHECK(t->end == machsim::TaskEnd::Terminated); break;
    case Death::killed: CHECK(t->end == machsim::TaskEnd::Signaled); CHECK(t->exit_code == machsim::sig::KILL); break;
    }
}

// For the killed kinds: a thread of the caller ends `task` after `ms`.
void kill_later(mach_port_t task, Death d, mach_msg_timeout_t ms) {
    if (d != Death::terminated && d != Death::killed) return;
    machsim::thread_start([task, d, ms] {
        lt::sleep_ms(ms);
        if (d == Death::terminated) CHECK_KR(task_terminate(task), KERN_SUCCESS);
        else CHECK_KR(machsim::task_signal(task, machsim::sig::KILL), KERN_SUCCESS);
    });
}

}  // namespace

TEST_SUITE("lifecycle") {

TEST_CASE("mach_port_deallocate on a receive right is KERN_INVALID_RIGHT and the port lives on with its queue") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 1), MACH_MSG_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_INVALID_RIGHT);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(p).mps_msgcount == 1);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("mod_refs(RECEIVE, -1) kills the port: queued send-once rights notify, carried send rights stop counting, "
          "the name's send right becomes a dead name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t reply = mt::new_receive_right();
        mach_port_t s = mt::new_port_with_send();  // its only send right will sit in p's queue
        mach_port_t notify = mt::new_receive_right();
        CHECK_KR(lt::request(s, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                 MACH_MSG_SUCCESS);
        CHECK_KR(lt::send_port(p, MACH_MSG_TYPE_COPY_SEND, s, MACH_MSG_TYPE_MOVE_SEND), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(s) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(s).mps_srights);  // in transit, still a sender (R14)
        CHECK(mt::status_of(reply).mps_sorights == 1);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);

        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);

        CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);  // R8: the send right under p is now dead
        CHECK(mt::refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK_KR(lt::poll(reply, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
        CHECK(b.head.msgh_local_port == reply);
        CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(reply).mps_sorights == 0);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == 1);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_FALSE(mt::status_of(s).mps_srights);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2, MACH_SEND_TIMEOUT, 0), MACH_SEND_INVALID_DEST);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a receive right inside a destroyed message dies too: its own queue is destroyed and its dead-name "
          "requests fire") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t outer = mt::new_receive_right();
        mach_port_t inner = mt::new_port_with_send();
        mach_port_t reply = mt::new_receive_right();
        mach_port_t notify = mt::new_receive_right();
        CHECK_KR(mt::send_simple(inner, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                 MACH_MSG_SUCCESS);
        CHECK_KR(lt::request(inner, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_SUCCESS);
        CHECK_KR(lt::send_port(outer, MACH_MSG_TYPE_MAKE_SEND, inner, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        CHECK((mt::type_of(inner) & lt::kNoReq) == MACH_PORT_TYPE_SEND);  // the send right stays under the name
        CHECK(mt::refs(inner, MACH_PORT_RIGHT_SEND) == 1);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);

        CHECK_KR(mach_port_destroy(mach_task_self(), outer), KERN_SUCCESS);

        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_DEAD_NAME);
        CHECK(lt::word_of(b) == inner);
        CHECK(mt::type_of(inner) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(inner, MACH_PORT_RIGHT_DEAD_NAME) == 2);  // 1 + the notification's (R9)
        CHECK_KR(lt::poll(reply, b), MACH_MSG_SUCCESS);  // from the message queued on inner
        CHECK(b.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), inner, MACH_PORT_RIGHT_DEAD_NAME, -2), KERN_SUCCESS);
        CHECK(mt::type_of(inner) == 0xdead);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("mach_port_destroy kills the port: the name is gone, queued OOL memory is freed, a blocked sender "
          "returns MACH_MSG_SUCCESS and its send-once reply right notifies") {
    mach_msg_return_t blocked = -1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::set_qlimit(p, 1), KERN_SUCCESS);
        mach_port_t reply = mt::new_receive_right();
        vm_address_t a = 0;
        CHECK_KR(vm_allocate(mach_task_self(), &a, 2 * vm_page_size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        std::memset(reinterpret_cast<void*>(a), 0x5a, 2 * vm_page_size);
        OolMsg m{};
        m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = p;
        m.head.msgh_id = 11;
        m.body.msgh_descriptor_count = 1;
        m.ool.address = reinterpret_cast<void*>(a);
        m.ool.size = static_cast<mach_msg_size_t>(2 * vm_page_size);
        m.ool.deallocate = 0;
        m.ool.copy = MACH_MSG_VIRTUAL_COPY;
        m.ool.type = MACH_MSG_OOL_DESCRIPTOR;
        CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK_KR(vm_deallocate(mach_task_self(), a, 2 * vm_page_size), KERN_SUCCESS);
        machsim::thread_start([&blocked, p, reply] {
            blocked = mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        });
        lt::yield();  // it blocks on the full queue
        CHECK(blocked == -1);
        CHECK(mt::status_of(reply).mps_sorights == 1);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);

        CHECK_KR(mach_port_destroy(mach_task_self(), p), KERN_SUCCESS);
        lt::yield();

        CHECK_KR(blocked, MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);  // mach_port_destroy removes the send right too
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_INVALID_NAME);
        Rcv b;
        CHECK_KR(lt::poll(reply, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
        CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(r.leaks.empty());
}

TEST_CASE("a second thread blocked receiving gets MACH_RCV_PORT_DIED when its own task destroys the receive right") {
    mach_msg_return_t got = -1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        machsim::thread_start([&got, p] {
            mt::SimpleReceived in;
            got = mt::receive_simple(p, in);
        });
        lt::yield();  // it blocks
        CHECK(got == -1);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        lt::yield();
        CHECK_KR(got, MACH_RCV_PORT_DIED);
        CHECK(mt::type_of(p) == 0xdead);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("when the task holding a receive right exits, its queued send-once rights notify and another task's "
          "watched send right becomes a dead name keeping its urefs, plus one for the notification") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t q = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), q, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
        mach_port_t notify = mt::new_receive_right();
        mach_port_t reply = mt::new_receive_right();
        CHECK_KR(lt::request(q, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_SUCCESS);
        mach_port_t child = machsim::task_spawn(
            "holder",
            [](mach_port_t port) {
                CHECK(mt::type_of(port) == MACH_PORT_TYPE_RECEIVE);
                lt::sleep_ms(2);
                CHECK(mt::status_of(port).mps_msgcount == 2);
                CHECK(lt::invariants_ok());
            },
            q, MACH_MSG_TYPE_MOVE_RECEIVE);
        CHECK(MACH_PORT_VALID(child));
        CHECK((mt::type_of(q) & lt::kNoReq) == MACH_PORT_TYPE_SEND);
        CHECK(mt::refs(q, MACH_PORT_RIGHT_SEND) == 3);
        for (int i = 0; i < 2; ++i)
            CHECK_KR(mt::send_simple(q, MACH_MSG_TYPE_COPY_SEND, i, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                     MACH_MSG_SUCCESS);
        Rcv b;
        CHECK_KR(lt::wait_for(notify, b, 20), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_DEAD_NAME);
        CHECK(lt::word_of(b) == q);
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(q, MACH_PORT_RIGHT_DEAD_NAME) == 4);
        CHECK(lt::drain_ids(reply) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_SEND_ONCE});
        CHECK_KR(mt::send_simple(q, MACH_MSG_TYPE_COPY_SEND, 3, MACH_SEND_TIMEOUT, 0), MACH_SEND_INVALID_DEST);
        CHECK(mt::refs(q, MACH_PORT_RIGHT_DEAD_NAME) == 4);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), q, MACH_PORT_RIGHT_DEAD_NAME, -4), KERN_SUCCESS);
        CHECK(mt::type_of(q) == 0xdead);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a server that dies mid-RPC, however it ends, leaves the blocked client a send-once notification as its "
          "reply") {
    for (Death d : kDeaths) {
        CAPTURE(death_name(d));
        machsim::RunReport r = mt::run_task([d] {
            mach_port_t svc = mt::new_port_with_send();
            mach_port_t reply = mach_reply_port();
            mach_port_t server = machsim::task_spawn(
                "server",
                [d](mach_port_t port) {
                    Rcv b;
                    CHECK_KR(mach_msg(&b.head, MACH_RCV_MSG, 0, sizeof b, port, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
                    end_here(d);  // holding the client's reply right
                },
                svc, MACH_MSG_TYPE_MOVE_RECEIVE);
            CHECK(MACH_PORT_VALID(server));
            kill_later(server, d, 5);
            mt::SimpleReceived buf = mt::rpc_request(svc, reply);
            CHECK_KR(mt::rpc_call(buf, reply), MACH_MSG_SUCCESS);
            CHECK(buf.msg.head.msgh_id == MACH_NOTIFY_SEND_ONCE);  // R16: the reply right died unused
            CHECK(buf.msg.head.msgh_local_port == reply);
            CHECK(mt::type_of(svc) == MACH_PORT_TYPE_DEAD_NAME);  // R7: the service died with its task
            Rcv b;
            CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);  // nothing else comes
        });
        INFO(r.summary());
        mt::check_sound(r);
        check_ended(r, "server", d);
        check_ended(r, "test", Death::returns);
    }
}

TEST_CASE("a reply to a client that died mid-RPC fails with MACH_SEND_INVALID_DEST, and the server serves the next "
          "client") {
    for (Death d : kDeaths) {
        CAPTURE(death_name(d));
        machsim::RunReport r = mt::run_task([d] {
            mach_port_t svc = mt::new_port_with_send();
            auto client = [d](mach_port_t dest) {
                mach_port_t reply = mach_reply_port();
                mt::SimpleReceived buf = mt::rpc_request(dest, reply);
                if (d == Death::terminated || d == Death::killed) {  // killed while it waits for the reply
                    (void)mt::rpc_call(buf, reply);
                    return;
                }
                CHECK_KR(mach_msg(&buf.msg.head, MACH_SEND_MSG, sizeof buf.msg, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                         MACH_MSG_SUCCESS);
                end_here(d);  // gone before the reply comes
            };
            mach_port_t first = machsim::task_spawn("client", client, svc, MACH_MSG_TYPE_COPY_SEND);
            Rcv req;
            CHECK_KR(mach_msg(&req.head, MACH_RCV_MSG, 0, sizeof req, svc, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
            mach_port_t answer_to = req.head.msgh_remote_port;
            kill_later(first, d, 1);
            lt::sleep_ms(5);  // the client is gone: its reply port died with it
            CHECK_KR(mt::send_simple(answer_to, MACH_MSG_TYPE_MOVE_SEND_ONCE, 1), MACH_SEND_INVALID_DEST);
            // A reply right named before its port died is a dead name now; one whose port
            // was dead when the request was copied out arrived as MACH_PORT_DEAD (which is
            // which depends on when the copy-out ran: docs/architecture.md, the fast path).
            if (answer_to != MACH_PORT_DEAD) {
                CHECK(mt::type_of(answer_to) == MACH_PORT_TYPE_DEAD_NAME);
                CHECK_KR(mach_port_deallocate(mach_task_self(), answer_to), KERN_SUCCESS);
            }
            // The next client is served as if nothing happened.
            machsim::task_spawn(
                "second",
                [](mach_port_t dest) {
                    mach_port_t reply = mach_reply_port();
                    mt::SimpleReceived buf = mt::rpc_request(dest, reply);
                    CHECK_KR(mt::rpc_call(buf, reply), MACH_MSG_SUCCESS);
                    CHECK(buf.msg.payload == 7);
                },
                svc, MACH_MSG_TYPE_COPY_SEND);
            CHECK_KR(mach_msg(&req.head, MACH_RCV_MSG, 0, sizeof req, svc, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
            CHECK_KR(mt::send_simple(req.head.msgh_remote_port, MACH_MSG_TYPE_MOVE_SEND_ONCE, 7), MACH_MSG_SUCCESS);
            lt::sleep_ms(5);
            CHECK(lt::invariants_ok());
        });
        INFO(r.summary());
        mt::check_sound(r);
        check_ended(r, "client", d);
        check_ended(r, "second", Death::returns);
        check_ended(r, "test", Death::returns);
    }
}

}  // TEST_SUITE("lifecycle")

TEST_SUITE("notifications 2") {

TEST_CASE("a message handed to a waiting receiver whose receive right then goes (destroyed, or moved away) before "
          "it runs is still received") {
    for (bool moved : {false, true}) {
        CAPTURE(moved);
        mach_msg_return_t got = -1;
        mach_port_t local = 0xffff;
        int payload = 0;
        mach_port_t p = MACH_PORT_NULL;
        machsim::RunReport r = mt::run_task([&, moved] {
            p = mt::new_port_with_send();
            mach_port_t elsewhere = mt::new_receive_right();
            bool done = false;
            machsim::thread_start([&] {
                mt::SimpleReceived in;
                got = mt::receive_simple(p, in);
                local = in.msg.head.msgh_local_port;
                payload = in.msg.payload;
                done = true;
            });
            lt::yield();  // it waits
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 77), MACH_MSG_SUCCESS);
            if (moved)
                CHECK_KR(lt::send_port(elsewhere, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_MOVE_RECEIVE),
                         MACH_MSG_SUCCESS);
            else
                CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
            while (!done) lt::yield();
            CHECK(lt::drain_ids(elsewhere).size() == (moved ? 1u : 0u));
            CHECK(lt::invariants_ok());
        });
        INFO(r.summary());
        CHECK(r.clean());
        CHECK_KR(got, MACH_MSG_SUCCESS);
        CHECK(payload == 77);
        // Copied out when the receiver runs (the general path), the right has left the space:
        // MACH_PORT_NULL. Copied out at the send (the fast path), it still had its name.
        // Mach allows both for this race (docs/architecture.md, the path of one message).
        CHECK((local == MACH_PORT_NULL || local == p));
    }
}

TEST_CASE("request_notification on a name the space does not hold is KERN_INVALID_NAME; the unused send-once right "
          "yields one send-once notification") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        const mach_port_name_t bogus = 0x4242;
        CHECK(mt::type_of(bogus) == 0xdead);
        for (mach_msg_id_t id : {MACH_NOTIFY_DEAD_NAME, MACH_NOTIFY_NO_SENDERS, MACH_NOTIFY_PORT_DESTROYED}) {
            CAPTURE(id);
            CHECK_KR(lt::request(bogus, id, 0, notify), KERN_INVALID_NAME);
            CHECK(lt::drain_ids(notify) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
        }
        CHECK(mt::status_of(notify).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("request_notification is KERN_INVALID_RIGHT on a port set, and for no-senders or port-destroyed without "
          "the receive right") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        mach_port_t set = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set), KERN_SUCCESS);
        mach_port_t p = mt::new_receive_right();
        mach_port_t once = lt::send_once_to(p);
        mach_port_t dead = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &dead), KERN_SUCCESS);
        CHECK_KR(lt::request(set, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_INVALID_RIGHT);
        CHECK_KR(lt::request(set, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_INVALID_RIGHT);
        CHECK_KR(lt::request(set, MACH_NOTIFY_PORT_DESTROYED, 0, notify), KERN_INVALID_RIGHT);
        CHECK_KR(lt::request(bootstrap_port, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_INVALID_RIGHT);  // send only
        CHECK_KR(lt::request(once, MACH_NOTIFY_PORT_DESTROYED, 0, notify), KERN_INVALID_RIGHT);
        CHECK_KR(lt::request(dead, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_INVALID_RIGHT);
        CHECK(lt::drain_ids(notify) == std::vector<mach_msg_id_t>(6, MACH_NOTIFY_SEND_ONCE));
        CHECK(mt::type_of(set) == MACH_PORT_TYPE_PORT_SET);
        CHECK(mt::type_of(once) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("an unknown notification id, and a port-destroyed request with sync != 0, are KERN_INVALID_VALUE and arm "
          "nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        mach_port_t p = mt::new_receive_right();
        for (mach_msg_id_t id : {MACH_NOTIFY_PORT_DELETED, MACH_NOTIFY_SEND_ONCE, 0, 999}) {
            CAPTURE(id);
            CHECK_KR(lt::request(p, id, 0, notify), KERN_INVALID_VALUE);
        }
        CHECK_KR(lt::request(p, MACH_NOTIFY_PORT_DESTROYED, 1, notify), KERN_INVALID_VALUE);
        CHECK(lt::drain_ids(notify) == std::vector<mach_msg_id_t>(5, MACH_NOTIFY_SEND_ONCE));
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);  // no port-destroyed request was armed
        CHECK(mt::type_of(p) == 0xdead);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a dead-name request on a dead name: sync 0 is KERN_INVALID_ARGUMENT, sync 1 fires at once with one more "
          "uref (R9)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        mach_port_t p = mt::new_receive_right();
        mach_port_t once = lt::send_once_to(p);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(once) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == 1);

        CHECK_KR(lt::request(once, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_INVALID_ARGUMENT);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(lt::drain_ids(notify) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});

        mach_port_t previous = 77;
        CHECK_KR(lt::request(once, MACH_NOTIFY_DEAD_NAME, 1, notify, &previous), KERN_SUCCESS);
        CHECK(previous == MACH_PORT_NULL);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == 2);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_DEAD_NAME);
        CHECK(lt::word_of(b) == once);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(notify).mps_sorights == 0);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), once, MACH_PORT_RIGHT_DEAD_NAME, -2), KERN_SUCCESS);
        CHECK(mt::type_of(once) == 0xdead);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a dead-name request on a dead name already at MACH_PORT_UREFS_MAX is KERN_UREFS_OVERFLOW and sends "
          "nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        mach_port_t p = mt::new_receive_right();
        mach_port_t once = lt::send_once_to(p);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), once, MACH_PORT_RIGHT_DEAD_NAME, MACH_PORT_UREFS_MAX - 1),
                 KERN_SUCCESS);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == MACH_PORT_UREFS_MAX);

        CHECK_KR(lt::request(once, MACH_NOTIFY_DEAD_NAME, 1, notify), KERN_UREFS_OVERFLOW);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == MACH_PORT_UREFS_MAX);
        // No dead-name notification; the unused send-once right made for it dies with a send-once notification.
        CHECK(lt::drain_ids(notify) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
        CHECK(mt::status_of(notify).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a dead notify port is KERN_INVALID_CAPABILITY and arms nothing") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t q = mt::new_receive_right();
        mach_port_t once = lt::send_once_to(q);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), q, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(once) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, once, nullptr, MACH_MSG_TYPE_MOVE_SEND_ONCE),
                 KERN_INVALID_CAPABILITY);
        CHECK_KR(lt::request(p, MACH_NOTIFY_PORT_DESTROYED, 0, MACH_PORT_DEAD, nullptr, MACH_MSG_TYPE_MOVE_SEND_ONCE),
                 KERN_INVALID_CAPABILITY);
        CHECK_KR(lt::request(p, MACH_NOTIFY_DEAD_NAME, 0, MACH_PORT_DEAD, nullptr, MACH_MSG_TYPE_MOVE_SEND_ONCE),
                 KERN_INVALID_CAPABILITY);
        // Nothing was armed: a real no-senders request replaces nothing and fires at once (no senders, 0 <= 0).
        mach_port_t notify = mt::new_receive_right();
        mach_port_t previous = 77;
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, notify, &previous), KERN_SUCCESS);
        CHECK(previous == MACH_PORT_NULL);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == 0);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a request through a name that is not a live task's port is MACH_SEND_INVALID_DEST and makes no "
          "send-once right") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t notify = mt::new_receive_right();
        mach_port_t gone = machsim::task_spawn("brief", [](mach_port_t) {});
        lt::sleep_ms(1);
        CHECK(mt::type_of(gone) == MACH_PORT_TYPE_DEAD_NAME);
        for (mach_port_t task : {mach_port_t{MACH_PORT_NULL}, mach_port_t{MACH_PORT_DEAD}, p, gone,
                                 mach_port_t{0x4242}}) {
            CAPTURE(task);
            CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, notify, nullptr, MACH_MSG_TYPE_MAKE_SEND_ONCE, task),
                     MACH_SEND_INVALID_DEST);
        }
        CHECK(mt::status_of(notify).mps_sorights == 0);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("replacing a dead-name request returns the old send-once right in previous; cancelling with "
          "MACH_PORT_NULL returns the current one") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t watched = lt::send_once_to(p);
        mach_port_t n1 = mt::new_receive_right();
        mach_port_t n2 = mt::new_receive_right();
        mach_port_t previous = 77;
        CHECK_KR(lt::request(watched, MACH_NOTIFY_DEAD_NAME, 0, n1, &previous), KERN_SUCCESS);
        CHECK(previous == MACH_PORT_NULL);
        CHECK_KR(lt::request(watched, MACH_NOTIFY_DEAD_NAME, 0, n2, &previous), KERN_SUCCESS);
        CHECK(MACH_PORT_VALID(previous));
        CHECK(mt::type_of(previous) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::status_of(n1).mps_sorights == 1);
        mach_port_t previous2 = 77;
        CHECK_KR(lt::request(watched, MACH_NOTIFY_DEAD_NAME, 0, MACH_PORT_NULL, &previous2), KERN_SUCCESS);
        CHECK(MACH_PORT_VALID(previous2));
        CHECK(previous2 != previous);
        CHECK(mt::type_of(previous2) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::status_of(n2).mps_sorights == 1);
        CHECK((mt::type_of(watched) & MACH_PORT_TYPE_DNREQUEST) == 0);
        Rcv b;
        CHECK_KR(lt::poll(n1, b), MACH_RCV_TIMED_OUT);  // replacing and cancelling send nothing
        CHECK_KR(lt::poll(n2, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(mach_port_deallocate(mach_task_self(), previous), KERN_SUCCESS);
        CHECK(lt::drain_ids(n1) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
        CHECK_KR(mach_port_deallocate(mach_task_self(), previous2), KERN_SUCCESS);
        CHECK(lt::drain_ids(n2) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(watched) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(watched, MACH_PORT_RIGHT_DEAD_NAME) == 1);  // no request left: no extra uref
        CHECK_KR(lt::poll(n1, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(lt::poll(n2, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("replacing or cancelling a no-senders or port-destroyed request returns the old send-once right in "
          "previous") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();  // a sender exists: no-senders does not fire
        for (mach_msg_id_t id : {MACH_NOTIFY_NO_SENDERS, MACH_NOTIFY_PORT_DESTROYED}) {
            CAPTURE(id);
            mach_port_t n1 = mt::new_receive_right();
            mach_port_t n2 = mt::new_receive_right();
            mach_port_t previous = 77;
            CHECK_KR(lt::request(p, id, 0, n1, &previous), KERN_SUCCESS);
            CHECK(previous == MACH_PORT_NULL);
            CHECK_KR(lt::request(p, id, 0, n2, &previous), KERN_SUCCESS);
            CHECK(mt::type_of(previous) == MACH_PORT_TYPE_SEND_ONCE);
            CHECK(mt::status_of(n1).mps_sorights == 1);
            mach_port_t previous2 = 77;
            CHECK_KR(lt::request(p, id, 0, MACH_PORT_NULL, &previous2), KERN_SUCCESS);
            CHECK(mt::type_of(previous2) == MACH_PORT_TYPE_SEND_ONCE);
            CHECK(mt::status_of(n2).mps_sorights == 1);
            CHECK_KR(mach_port_deallocate(mach_task_self(), previous), KERN_SUCCESS);
            CHECK_KR(mach_port_deallocate(mach_task_self(), previous2), KERN_SUCCESS);
            CHECK(lt::drain_ids(n1) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
            CHECK(lt::drain_ids(n2) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
            CHECK_KR(mach_port_mod_refs(mach_task_self(), n1, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
            CHECK_KR(mach_port_mod_refs(mach_task_self(), n2, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        }
        // Both requests are cancelled: destroying the receive right really kills the port.
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("moving a watched send right away with its last uref gives a port-deleted notification; moving one of two "
          "urefs does not (R10)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        machsim::task_spawn(
            "mover",
            [](mach_port_t g) {
                mach_port_t notify = mt::new_receive_right();
                mach_port_t carrier = mt::new_receive_right();
                CHECK(mt::type_of(g) == MACH_PORT_TYPE_SEND);
                CHECK_KR(mach_port_mod_refs(mach_task_self(), g, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
                CHECK_KR(lt::request(g, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_SUCCESS);
                CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, g, MACH_MSG_TYPE_MOVE_SEND), MACH_MSG_SUCCESS);
                CHECK(mt::refs(g, MACH_PORT_RIGHT_SEND) == 1);
                Rcv b;
                CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
                CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, g, MACH_MSG_TYPE_MOVE_SEND), MACH_MSG_SUCCESS);
                CHECK(mt::type_of(g) == 0xdead);
                CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
                CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DELETED);
                CHECK(lt::word_of(b) == g);
                CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
                // Both rights come back under one name, with no request on it.
                CHECK_KR(lt::poll(carrier, b), MACH_MSG_SUCCESS);
                mach_port_t back = lt::port_desc(b).name;
                CHECK_KR(lt::poll(carrier, b), MACH_MSG_SUCCESS);
                CHECK(lt::port_desc(b).name == back);
                CHECK(mt::type_of(back) == MACH_PORT_TYPE_SEND);
                CHECK(mt::refs(back, MACH_PORT_RIGHT_SEND) == 2);
                CHECK_KR(mt::send_simple(back, MACH_MSG_TYPE_MOVE_SEND, 9), MACH_MSG_SUCCESS);  // "done"
                CHECK(lt::invariants_ok());
            },
            p, MACH_MSG_TYPE_MAKE_SEND);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 50), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 9);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("dropping a watched send right by deallocate, mod_refs or mach_port_destroy gives a port-deleted "
          "notification naming it (R10)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        mach_port_t carrier = mt::new_receive_right();
        mach_port_t p[3];
        for (mach_port_t& x : p) x = mt::new_port_with_send();
        // The receive rights wait in a queued message: the ports live, and our names hold only send rights.
        CHECK_KR(lt::send_ports(carrier, MACH_MSG_TYPE_MAKE_SEND,
                                {{p[0], MACH_MSG_TYPE_MOVE_RECEIVE},
                                 {p[1], MACH_MSG_TYPE_MOVE_RECEIVE},
                                 {p[2], MACH_MSG_TYPE_MOVE_RECEIVE}}),
                 MACH_MSG_SUCCESS);
        for (mach_port_t x : p) {
            CHECK(mt::type_of(x) == MACH_PORT_TYPE_SEND);
            CHECK(mt::refs(x, MACH_PORT_RIGHT_SEND) == 1);
            CHECK_KR(lt::request(x, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_SUCCESS);
        }
        CHECK(mt::status_of(notify).mps_sorights == 3);
        Rcv b;
        CHECK_KR(mach_port_deallocate(mach_task_self(), p[0]), KERN_SUCCESS);
        CHECK(mt::type_of(p[0]) == 0xdead);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DELETED);
        CHECK(lt::word_of(b) == p[0]);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p[1], MACH_PORT_RIGHT_SEND, -1), KERN_SUCCESS);
        CHECK(mt::type_of(p[1]) == 0xdead);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DELETED);
        CHECK(lt::word_of(b) == p[1]);
        CHECK_KR(mach_port_destroy(mach_task_self(), p[2]), KERN_SUCCESS);
        CHECK(mt::type_of(p[2]) == 0xdead);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DELETED);
        CHECK(lt::word_of(b) == p[2]);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(notify).mps_sorights == 0);
        // The ports die with the carrier's queue: no request is left to fire.
        CHECK_KR(mach_port_mod_refs(mach_task_self(), carrier, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("after its last send right is deallocated, a port's send right received again gets a usable name (R1)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t carrier = mt::new_receive_right();
        mach_port_t keep = mt::new_receive_right();
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(lt::send_port(keep, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND);
        CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_COPY_SEND), MACH_MSG_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);
        Rcv b;
        CHECK_KR(lt::poll(carrier, b), MACH_MSG_SUCCESS);
        mach_port_t back = lt::port_desc(b).name;
        CHECK(MACH_PORT_VALID(back));
        CHECK(mt::type_of(back) == MACH_PORT_TYPE_SEND);
        CHECK(mt::refs(back, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("after its receive right is destroyed under a name of its own, a port's receive right received again gets "
          "a usable name (R1)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t notify = mt::new_receive_right();
        mach_port_t p = mt::new_receive_right();
        CHECK_KR(lt::request(p, MACH_NOTIFY_PORT_DESTROYED, 0, notify), KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DESTROYED);
        mach_port_t back = lt::port_desc(b).name;
        CHECK(MACH_PORT_VALID(back));
        CHECK(mt::type_of(back) == MACH_PORT_TYPE_RECEIVE);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("sending a watched send-once right (MOVE_SEND_ONCE) gives a port-deleted notification; its message "
          "arrives instead of a send-once notification (R10, R16)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t notify = mt::new_receive_right();
        mach_port_t once = lt::send_once_to(p);
        CHECK_KR(lt::request(once, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 5, 0, 0, MACH_PORT_NULL, 0, 600),
                 MACH_MSG_SUCCESS);
        CHECK(mt::type_of(once) == 0xdead);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DELETED);
        CHECK(lt::word_of(b) == once);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::drain_ids(p) == std::vector<mach_msg_id_t>{600});
        CHECK(mt::status_of(p).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("when the task holding a watched send right exits, a port-deleted notification names it (R10)") {
    mach_port_name_t watched_in_child = MACH_PORT_NULL;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t notify = mt::new_receive_right();
        machsim::task_spawn(
            "watcher",
            [&watched_in_child](mach_port_t to_notify) {
                watched_in_child = bootstrap_port;
                mach_port_urefs_t before = mt::refs(bootstrap_port, MACH_PORT_RIGHT_SEND);
                mach_port_t previous = 77;
                CHECK_KR(lt::request(bootstrap_port, MACH_NOTIFY_DEAD_NAME, 0, to_notify, &previous,
                                     MACH_MSG_TYPE_MOVE_SEND_ONCE),
                         KERN_SUCCESS);
                CHECK(previous == MACH_PORT_NULL);
                CHECK(mt::type_of(to_notify) == 0xdead);  // moved into the request
                CHECK(mt::refs(bootstrap_port, MACH_PORT_RIGHT_SEND) == before);
                CHECK(lt::invariants_ok());
            },
            notify, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        CHECK(mt::status_of(notify).mps_sorights == 1);
        Rcv b;
        CHECK_KR(lt::wait_for(notify, b, 20), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DELETED);
        CHECK(lt::word_of(b) == watched_in_child);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(notify).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(MACH_PORT_VALID(watched_in_child));
}

TEST_CASE("a backup task receives the receive right when the primary server task dies: the queue is intact and "
          "messages still arrive (R11)") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("backup", [] {
            mach_port_t backup = mt::new_receive_right();
            machsim::task_spawn(
                "primary",
                [](mach_port_t to_backup) {
                    mach_port_t svc = MACH_PORT_NULL;
                    CHECK_KR(bootstrap_check_in(bootstrap_port, "lifecycle.primary", &svc), KERN_SUCCESS);
                    mach_port_t previous = 77;
                    CHECK_KR(lt::request(svc, MACH_NOTIFY_PORT_DESTROYED, 0, to_backup, &previous,
                                         MACH_MSG_TYPE_MOVE_SEND_ONCE),
                             KERN_SUCCESS);
                    CHECK(previous == MACH_PORT_NULL);
                    mt::SimpleReceived in;
                    CHECK_KR(mt::receive_simple(svc, in), MACH_MSG_SUCCESS);
                    CHECK(in.msg.payload == 1);
                    CHECK(lt::invariants_ok());
                    // returns: the task dies with messages 2 and 3 queued
                },
                backup, MACH_MSG_TYPE_MAKE_SEND_ONCE);
            mach_port_t svc = MACH_PORT_NULL;
            for (int i = 0; i < 50 && bootstrap_look_up(bootstrap_port, "lifecycle.primary", &svc) != KERN_SUCCESS; ++i)
                lt::sleep_ms(1);
            CHECK(mt::type_of(svc) == MACH_PORT_TYPE_SEND);
            CHECK(mt::refs(svc, MACH_PORT_RIGHT_SEND) == 1);
            for (int i = 1; i <= 3; ++i) CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, i), MACH_MSG_SUCCESS);
            Rcv b;
            CHECK_KR(lt::wait_for(backup, b, 50), MACH_MSG_SUCCESS);
            CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DESTROYED);
            mach_msg_port_descriptor_t d = lt::port_desc(b);
            CHECK(d.name == svc);  // the receive right joins our send right's name (R1)
            CHECK(unsigned(d.disposition) == MACH_MSG_TYPE_PORT_RECEIVE);
            CHECK(mt::type_of(svc) == MACH_PORT_TYPE_SEND_RECEIVE);
            CHECK(mt::refs(svc, MACH_PORT_RIGHT_SEND) == 1);
            CHECK(mt::status_of(svc).mps_msgcount == 2);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(svc, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
            CHECK(in.msg.payload == 2);
            CHECK_KR(mt::receive_simple(svc, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
            CHECK(in.msg.payload == 3);
            // Clients still reach it: through our right and through the name server's.
            CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 4), MACH_MSG_SUCCESS);
            CHECK_KR(mt::receive_simple(svc, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
            CHECK(in.msg.payload == 4);
            mach_port_t again = MACH_PORT_NULL;
            CHECK_KR(bootstrap_look_up(bootstrap_port, "lifecycle.primary", &again), KERN_SUCCESS);
            CHECK(again == svc);
            CHECK(mt::refs(svc, MACH_PORT_RIGHT_SEND) == 2);
            CHECK(lt::invariants_ok());
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    REQUIRE(r.task("primary"));
    CHECK(r.task("primary")->end == machsim::TaskEnd::Exited);
}

TEST_CASE("a receive right moved in a message does not trigger its port-destroyed request; the request travels and "
          "fires when the new holder destroys it (R11)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t notify = mt::new_receive_right();
        mach_port_t carrier = mt::new_receive_right();
        CHECK_KR(lt::request(p, MACH_NOTIFY_PORT_DESTROYED, 0, notify), KERN_SUCCESS);
        CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(lt::poll(carrier, b), MACH_MSG_SUCCESS);
        mach_port_t moved = lt::port_desc(b).name;
        CHECK(mt::type_of(moved) == MACH_PORT_TYPE_RECEIVE);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(notify).mps_sorights == 1);  // the request is still armed

        CHECK_KR(mach_port_mod_refs(mach_task_self(), moved, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_PORT_DESTROYED);
        mach_port_t back = lt::port_desc(b).name;
        CHECK(mt::type_of(back) == MACH_PORT_TYPE_RECEIVE);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), back, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);  // one-shot: this time the port died
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("moving a receive right in a message restarts its mscount and seqno at 0 (R13)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();  // mscount 1
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 1), MACH_MSG_SUCCESS);  // mscount 2
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 3), MACH_MSG_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT), 0),
                 MACH_MSG_SUCCESS);
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT), 0),
                 MACH_MSG_SUCCESS);
        CHECK(in.trailer.msgh_seqno == 1);
        CHECK(mt::status_of(p).mps_mscount == 2);
        CHECK(mt::status_of(p).mps_seqno == 2);
        mach_port_t carrier = mt::new_receive_right();
        CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_MOVE_RECEIVE), MACH_MSG_SUCCESS);
        Rcv b;
        CHECK_KR(lt::poll(carrier, b), MACH_MSG_SUCCESS);
        CHECK(lt::port_desc(b).name == p);  // joins the send right still named p (R1)
        mach_port_status_t st = mt::status_of(p);
        CHECK(st.mps_mscount == 0);
        CHECK(st.mps_seqno == 0);
        CHECK(st.mps_msgcount == 1);
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT | MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT), 0),
                 MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 3);
        CHECK(in.trailer.msgh_seqno == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send right queued in a message keeps no-senders from firing; destroying that message fires it (R14)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();  // mscount 1
        mach_port_t notify = mt::new_receive_right();
        mach_port_t carrier = mt::new_receive_right();
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_SUCCESS);
        CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_MOVE_SEND), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(p).mps_srights);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        // Received back, it is an ordinary send right again.
        CHECK_KR(lt::poll(carrier, b), MACH_MSG_SUCCESS);
        CHECK(lt::port_desc(b).name == p);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        // In transit again, then destroyed with the carrier's queue.
        CHECK_KR(lt::send_port(carrier, MACH_MSG_TYPE_MAKE_SEND, p, MACH_MSG_TYPE_MOVE_SEND), MACH_MSG_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), carrier, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == 1);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_FALSE(mt::status_of(p).mps_srights);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("send-once rights do not count as senders: no-senders fires while one exists (R14)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t once = lt::send_once_to(p);
        mach_port_t notify = mt::new_receive_right();
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_SUCCESS);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_SUCCESS);
        CHECK(mt::status_of(p).mps_sorights == 1);
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == 1);
        CHECK_KR(mach_port_deallocate(mach_task_self(), once), KERN_SUCCESS);
        CHECK(lt::drain_ids(p) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("the no-senders race (R15): a stale mscount shows a new sender; re-arming with the server's own count "
          "fires only when no sender is left") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t notify = mt::new_receive_right();
        mach_port_mscount_t handed = 0;
        machsim::task_spawn(
            "client1", [](mach_port_t s) { CHECK_KR(mach_port_deallocate(mach_task_self(), s), KERN_SUCCESS); }, p,
            MACH_MSG_TYPE_MAKE_SEND);
        ++handed;
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_SUCCESS);
        lt::sleep_ms(1);  // client1 drops its right: the notification is queued
        machsim::task_spawn(
            "client2",
            [](mach_port_t s) {
                lt::sleep_ms(5);
                CHECK_KR(mach_port_deallocate(mach_task_self(), s), KERN_SUCCESS);
            },
            p, MACH_MSG_TYPE_MAKE_SEND);
        ++handed;
        CHECK(mt::status_of(p).mps_mscount == handed);
        Rcv b;
        CHECK_KR(lt::poll(notify, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == 1);
        CHECK(lt::word_of(b) < handed);  // a sender appeared since: re-arm instead of freeing
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, handed, notify), KERN_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);  // client2 still holds its right
        CHECK_KR(lt::wait_for(notify, b, 20), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == handed);
        // With sync above the make-send count nothing fires at once, though there is no sender.
        CHECK_FALSE(mt::status_of(p).mps_srights);
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, handed + 1, notify), KERN_SUCCESS);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a no-senders request travels with a moved receive right and reports the count restarted by the move") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();  // mscount 1
        mach_port_t notify = mt::new_receive_right();
        CHECK_KR(lt::request(p, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_SUCCESS);
        machsim::task_spawn(
            "new-holder",
            [](mach_port_t port) {
                CHECK(mt::type_of(port) == MACH_PORT_TYPE_RECEIVE);
                CHECK(mt::status_of(port).mps_mscount == 0);
                mt::SimpleReceived in;
                CHECK_KR(mt::receive_simple(port, in, MACH_RCV_TIMEOUT, 20), MACH_MSG_SUCCESS);
                CHECK(in.msg.payload == 8);
                CHECK(lt::invariants_ok());
            },
            p, MACH_MSG_TYPE_MOVE_RECEIVE);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND);
        // Our last send right travels as the message's destination and is used up on delivery.
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 8), MACH_MSG_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);
        Rcv b;
        CHECK_KR(lt::wait_for(notify, b, 20), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_NO_SENDERS);
        CHECK(lt::word_of(b) == 0);
        CHECK_KR(lt::poll(notify, b), MACH_RCV_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("notifications 2")
