// Notifications: dead-name, port-deleted, port-destroyed, no-senders (R9-R15).
#include "tests/support.h"

namespace {

struct NotifyIn {
    mach_dead_name_notification_t n;  // the largest simple notification; others are prefixes of it
};

// Receives one notification on `port` (poll); returns its id or 0.
mach_msg_id_t next_notification(mach_port_t port, mach_port_name_t* word = nullptr, mach_msg_return_t* mr_out = nullptr) {
    NotifyIn in{};
    mach_msg_return_t mr = mach_msg(&in.n.not_header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof in, port, 0,
                                    MACH_PORT_NULL);
    if (mr_out) *mr_out = mr;
    if (mr != MACH_MSG_SUCCESS) return 0;
    CHECK(in.n.NDR.int_rep == NDR_INT_LITTLE_ENDIAN);  // the kernel fills in the NDR record as MIG would
    if (word) *word = in.n.not_port;
    return in.n.not_header.msgh_id;
}

mach_port_t send_once_to(mach_port_t port) {
    mach_port_t once = MACH_PORT_NULL;
    mach_msg_type_name_t t = 0;
    (void)mach_port_extract_right(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, &once, &t);
    return once;
}

}  // namespace

TEST_SUITE("notifications") {

TEST_CASE("a dead-name notification names the dead name, which gains one extra uref (R9)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t watched = send_once_to(p);  // a name of its own (a send right would share p's name)
        mach_port_t notify = mt::new_receive_right();
        mach_port_t previous = 77;
        CHECK_KR(mach_port_request_notification(mach_task_self(), watched, MACH_NOTIFY_DEAD_NAME, 0, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK(previous == MACH_PORT_NULL);
        CHECK((mt::type_of(watched) & MACH_PORT_TYPE_DNREQUEST) != 0);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        mach_port_name_t named = 0;
        CHECK(next_notification(notify, &named) == MACH_NOTIFY_DEAD_NAME);
        CHECK(named == watched);
        CHECK(mt::type_of(watched) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(watched, MACH_PORT_RIGHT_DEAD_NAME) == 2);  // 1 + the notification's
        CHECK(machsim::check_invariants().empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("deallocating a watched right first gives a port-deleted notification instead (R10)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t watched = send_once_to(p);
        mach_port_t notify = mt::new_receive_right();
        mach_port_t previous = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), watched, MACH_NOTIFY_DEAD_NAME, 0, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), watched), KERN_SUCCESS);
        mach_port_name_t named = 0;
        CHECK(next_notification(notify, &named) == MACH_NOTIFY_PORT_DELETED);
        CHECK(named == watched);
        CHECK(next_notification(p) == MACH_NOTIFY_SEND_ONCE);  // the dropped send-once right's own message
        CHECK(machsim::check_invariants().empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a port-destroyed request hands the receive right back with the queue intact (R11)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 5), MACH_MSG_SUCCESS);
        mach_port_t backup = mt::new_receive_right();
        mach_port_t previous = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_PORT_DESTROYED, 0, backup,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        struct {
            mach_port_destroyed_notification_t n;
        } in{};
        CHECK_KR(mach_msg(&in.n.not_header, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof in, backup, 0, 0),
                 MACH_MSG_SUCCESS);
        CHECK(in.n.not_header.msgh_id == MACH_NOTIFY_PORT_DESTROYED);
        mach_port_t back = in.n.not_port.name;
        CHECK(back == p);  // it joins the send right still named p (R1)
        CHECK((mt::type_of(back) & MACH_PORT_TYPE_RECEIVE) != 0);
        mt::SimpleReceived m;
        CHECK_KR(mt::receive_simple(back, m, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(m.msg.payload == 5);
        CHECK(machsim::check_invariants().empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("no-senders fires when the last send right goes, with the make-send count (R14)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();  // mscount 1
        mach_port_t notify = mt::new_receive_right();
        mach_port_t previous = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_NO_SENDERS, 0, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK(next_notification(notify) == 0);  // still a sender
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_SUCCESS);
        mach_port_name_t count = 99;
        CHECK(next_notification(notify, &count) == MACH_NOTIFY_NO_SENDERS);
        CHECK(count == 1);
        CHECK(machsim::check_invariants().empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("MACH_PORT_RECEIVE_STATUS shows armed port-destroyed and no-senders requests") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t notify = mt::new_receive_right();
        auto status = [&] {
            mach_port_status_t s{};
            mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
            CHECK_KR(mach_port_get_attributes(mach_task_self(), p, MACH_PORT_RECEIVE_STATUS,
                                              reinterpret_cast<mach_port_info_t>(&s), &count),
                     KERN_SUCCESS);
            return s;
        };
        CHECK(status().mps_pdrequest == FALSE);
        CHECK(status().mps_nsrequest == FALSE);
        mach_port_t previous = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_NO_SENDERS, 1, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK(status().mps_nsrequest == TRUE);
        CHECK(status().mps_pdrequest == FALSE);
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_PORT_DESTROYED, 0, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK(status().mps_pdrequest == TRUE);
        // Cancelling (MACH_PORT_NULL) hands the send-once right back in `previous`.
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_NO_SENDERS, 0, MACH_PORT_NULL,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK(status().mps_nsrequest == FALSE);
        CHECK(MACH_PORT_VALID(previous));
        CHECK_KR(mach_port_deallocate(mach_task_self(), previous), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a notify right that cannot be copied in fails the request with MACH_SEND_INVALID_RIGHT or _TYPE") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t plain_send = mt::new_port_with_send();  // a send right, not send-once: cannot be moved as one
        mach_port_t previous = MACH_PORT_NULL;
        auto request = [&](mach_port_name_t notify, mach_msg_type_name_t poly) {
            return mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_NO_SENDERS, 0, notify, poly,
                                                  &previous);
        };
        CHECK_KR(request(0x7777, MACH_MSG_TYPE_MAKE_SEND_ONCE), MACH_SEND_INVALID_RIGHT);  // no such name
        CHECK_KR(request(plain_send, MACH_MSG_TYPE_MOVE_SEND_ONCE), MACH_SEND_INVALID_RIGHT);
        CHECK_KR(request(plain_send, MACH_MSG_TYPE_COPY_SEND), MACH_SEND_INVALID_TYPE);
        CHECK(mt::status_of(p).mps_nsrequest == FALSE);
        CHECK(mt::refs(plain_send, MACH_PORT_RIGHT_SEND) == 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a no-senders request with sync <= mscount and no senders fires at once (R14)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t notify = mt::new_receive_right();
        mach_port_t previous = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_NO_SENDERS, 0, notify,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous),
                 KERN_SUCCESS);
        CHECK(next_notification(notify) == MACH_NOTIFY_NO_SENDERS);
    });
    CHECK(r.clean());
}

}  // TEST_SUITE("notifications")
