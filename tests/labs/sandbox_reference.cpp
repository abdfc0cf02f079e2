// A solution of labs/sandbox, for the tests: `make grade LAB=sandbox SOLUTION=...` must give it
// every point. Two flawed variants (tests/run.sh):
//   -DSANDBOX_SET_LATE  the guard makes its port the bootstrap port only after task_spawn, so the
//                       confined task keeps the real server: only the test of the guard's end passes;
//   -DSANDBOX_NO_SYNC   it asks for the dead-name notification with sync 0, which fails when the task
//                       has already ended: the guard then waits for ever, under some schedules only.
#include "labs/sandbox/sandbox.h"

#include <mach/notify.h>
#include <machsim.h>

namespace {

#ifdef SANDBOX_NO_SYNC
constexpr mach_port_mscount_t kSync = 0;
#else
constexpr mach_port_mscount_t kSync = 1;  // on a name already dead, fire at once
#endif

// The header of an answer to `req`: to its reply right, with id + 100.
mach_msg_header_t answer_header(const bootstrap_request& req, mach_msg_size_t size) {
    mach_msg_header_t h{};
    h.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(req.head.msgh_bits), 0);
    h.msgh_size = size;
    h.msgh_remote_port = req.head.msgh_remote_port;
    h.msgh_id = req.head.msgh_id + 100;
    return h;
}

// Sends an answer; one that cannot go (its asker is gone) gives back what it carries.
void send_answer(mach_msg_header_t* h) {
    if (mach_msg(h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, h->msgh_size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL) !=
        MACH_MSG_SUCCESS)
        mach_msg_destroy(h);
}

void answer_error(const bootstrap_request& req, kern_return_t code) {
    mig_reply_error_t r{};
    r.Head = answer_header(req, sizeof r);
    NDR_record_t ndr = MACHSIM_NDR_NATIVE;
    std::memcpy(r.NDR, &ndr, sizeof ndr);
    r.RetCode = code;
    send_answer(&r.Head);
}

// Answers a look-up with `port`, a send right of ours that moves to the asker.
void answer_port(const bootstrap_request& req, mach_port_t port) {
    bootstrap_port_reply r{};
    r.head = answer_header(req, sizeof r);
    r.head.msgh_bits |= MACH_MSGH_BITS_COMPLEX;
    r.body.msgh_descriptor_count = 1;
    r.port.name = port;
    r.port.disposition = MACH_MSG_TYPE_MOVE_SEND;
    r.port.type = MACH_MSG_PORT_DESCRIPTOR;
    r.NDR = NDR_record_t MACHSIM_NDR_NATIVE;
    r.ret = BOOTSTRAP_SUCCESS;
    send_answer(&r.head);
}

// One request from the sandbox. Whatever it carried, and is not answered with, is released.
void serve(bootstrap_request& req) {
    if (req.head.msgh_remote_port == MACH_PORT_NULL) {  // no reply right: nothing to answer
        mach_msg_destroy(&req.head);
        return;
    }
    const bool well_formed = req.head.msgh_size == sizeof req &&
                             req.body.msgh_descriptor_count == ((req.head.msgh_bits & MACH_MSGH_BITS_COMPLEX) ? 1u : 0u) &&
                             std::memchr(req.name, 0, sizeof req.name) != nullptr;
    if (!well_formed) {
        answer_error(req, MIG_BAD_ARGUMENTS);
    } else if (req.head.msgh_id == BOOTSTRAP_MSG_LOOK_UP) {
        mach_port_t port = MACH_PORT_NULL;
        // Our own bootstrap_port still leads to the real server: it is what we started with.
        kern_return_t kr = sandbox_allows(req.name) ? bootstrap_look_up(bootstrap_port, req.name, &port)
                                                    : BOOTSTRAP_UNKNOWN_SERVICE;  // hidden, as if it did not exist
        if (kr == KERN_SUCCESS) answer_port(req, port);
        else answer_error(req, kr);
    } else if (req.head.msgh_id == BOOTSTRAP_MSG_CHECK_IN || req.head.msgh_id == BOOTSTRAP_MSG_REGISTER) {
        answer_error(req, BOOTSTRAP_NOT_PRIVILEGED);
    } else {
        answer_error(req, MIG_BAD_ID);
    }
    req.head.msgh_remote_port = MACH_PORT_NULL;  // the reply right went with the answer
    mach_msg_destroy(&req.head);                 // a register's send right, if any
}

}  // namespace

int guard(untrusted_fn untrusted) {
    mach_port_t filter = MACH_PORT_NULL, notify = MACH_PORT_NULL, set = MACH_PORT_NULL;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &filter) != KERN_SUCCESS ||
        mach_port_insert_right(mach_task_self(), filter, filter, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS ||
        mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &notify) != KERN_SUCCESS ||
        mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set) != KERN_SUCCESS ||
        mach_port_move_member(mach_task_self(), filter, set) != KERN_SUCCESS ||
        mach_port_move_member(mach_task_self(), notify, set) != KERN_SUCCESS)
        return 1;
#ifndef SANDBOX_SET_LATE
    if (task_set_bootstrap_port(mach_task_self(), filter) != KERN_SUCCESS) return 1;
#endif
    task_t child = machsim::task_spawn("untrusted", untrusted);
#ifdef SANDBOX_SET_LATE
    if (task_set_bootstrap_port(mach_task_self(), filter) != KERN_SUCCESS) return 1;
#endif
    if (!MACH_PORT_VALID(child)) return 1;
    mach_port_t previous = MACH_PORT_NULL;
    if (mach_port_request_notification(mach_task_self(), child, MACH_NOTIFY_DEAD_NAME, kSync, notify,
                                       MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous) != KERN_SUCCESS)
        return 1;
    for (;;) {
        struct {
            union {
                bootstrap_request req;
                mach_dead_name_notification_t dead;
            } msg;
            mach_msg_max_trailer_t trailer;
        } buf{};
        if (mach_msg(&buf.msg.req.head, MACH_RCV_MSG, 0, sizeof buf, set, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
        if (buf.msg.req.head.msgh_local_port == notify) return 0;  // the confined task has ended
        serve(buf.msg.req);
    }
}
