// mach_msg: send, receive, or both (an RPC), as one system call.
//
// Each shape of call first tries its fast door (send_door, receive_door,
// rpc_door): when the kernel entry would be bookkeeping only (Entry::quiet), the
// door does that bookkeeping itself. A message the fast path (ports/fastpath.h)
// takes needs nothing more; a receive it cannot finish waits the general way
// behind the same quiet entry (receive_quiet). Everything else goes through
// `general`, which gives the same results at more cost. The doors are small
// functions of their own, so that the common call pays for no register the
// general path needs; the arguments stay in memory (MsgArgs).
#include "kernel/gate/sys_common.h"
#include "ports/fastpath.h"
#include "ports/mqueue.h"
#include "ports/msg_copy.h"

namespace machsim::gate {

namespace {

// Sends a message copied in for a call that has entered the kernel (a queue
// that is full makes it wait). On failure the message comes back to the sender (R18).
mach_msg_return_t send_copied(Kernel& k, tasks::Thread& self, ipc::KMsg* m, const MsgArgs& a,
                              mach_msg_option_t option, mach_msg_timeout_t timeout) {
    mach_msg_return_t mr = ipc::send_message(k.env, m, self.waiter, option, timeout);
    if (mr != MACH_MSG_SUCCESS) ipc::pseudo_receive(self.task.space, m, a.msg);
    return mr;
}

// The receive of a call that has entered the kernel, the general way (it waits
// for a message when none is queued), and the kernel exit after it.
[[gnu::always_inline]] inline mach_msg_return_t receive_and_leave(Entry& entry, tasks::Thread& self, const MsgArgs& a,
                                                                   mach_msg_option_t option,
                                                                   mach_msg_timeout_t timeout) {
    return entry.leave(
        ipc::receive_message(self.task.space, self.waiter, a.rcv_msg, a.rcv_size, a.rcv_name, option, timeout));
}

// Everything mach_msg can be asked, behind a full kernel entry. SendDeclined:
// the send door's try_send already declined this message (and would again).
// A template rather than a parameter: as a parameter it costs every call.
template <bool SendDeclined = false>
[[gnu::noinline]] mach_msg_return_t general(const MsgArgs& a) {
    mach_msg_option_t option = a.option;
    mach_msg_timeout_t timeout = a.timeout;
    tasks::Thread* self = caller();
    if (!self) return (option & MACH_SEND_MSG) ? MACH_SEND_INVALID_DEST : MACH_RCV_INVALID_NAME;
    Kernel& k = *Kernel::current();
    Entry entry(k, *self, Sys::mach_msg);
    ipc::IpcSpace& space = self->task.space;
    if (entry.dying()) {  // unwinding after a kill: nothing may block any more
        option |= MACH_SEND_TIMEOUT | MACH_RCV_TIMEOUT;
        timeout = 0;
    }
    if (option & MACH_SEND_MSG) {
        // MACH_RCV_NOTIFY is obsolete, and MACH_SEND_NOTIFY is not provided: a.notify is never used.
        if (option & MACH_SEND_NOTIFY)
            return entry.leave(ipc::fail(k.env, MACH_SEND_INVALID_NOTIFY, "MACH_SEND_NOTIFY is not provided"));
        ipc::KMsg* m = nullptr;
        ipc::fast::Sent sent = ipc::fast::Sent::no;
        if (!SendDeclined && ipc::fast::allowed(k.env))
            sent = ipc::fast::try_send(k.env, space, self->waiter, a.msg, a.send_size, m);
        if (sent == ipc::fast::Sent::no) {
            mach_msg_return_t mr = ipc::copyin_message(space, a.msg, a.send_size, m);
            if (mr != MACH_MSG_SUCCESS) return entry.leave(mr);
        }
        if (sent != ipc::fast::Sent::yes) {
            mach_msg_return_t mr = send_copied(k, *self, m, a, option, timeout);
            if (mr != MACH_MSG_SUCCESS) return entry.leave(mr);
        }
    }
    if (option & MACH_RCV_MSG)  // after a send (an RPC) the reply is rarely queued yet: this path waits for it
        return receive_and_leave(entry, *self, a, option, timeout);
    return entry.leave(MACH_MSG_SUCCESS);
}

// The calling thread, when a fast door may open for it (see above).
[[gnu::always_inline]] inline tasks::Thread* door_caller(Kernel*& k) {
    k = Kernel::current();
    if (!k) return nullptr;
    tasks::Thread* self = k->current_thread();
    // Entry::quiet includes the other half of ipc::fast::allowed: no trace sink listens.
    if (!self || !k->env.fast_path || !Entry::quiet(*k, *self)) return nullptr;
    return self;
}

[[gnu::noinline]] mach_msg_return_t send_door(const MsgArgs& a) {
    Kernel* k;
    tasks::Thread* self = door_caller(k);
    if (!self) return general(a);
    self->in_kernel = true;
    ipc::KMsg* m = nullptr;
    switch (ipc::fast::try_send(k->env, self->task.space, self->waiter, a.msg, a.send_size, m)) {
    case ipc::fast::Sent::yes:
        Entry::quiet_done(*k);
        self->in_kernel = false;
        return MACH_MSG_SUCCESS;
    case ipc::fast::Sent::queue_full: {
        Entry entry(*k, *self, Sys::mach_msg, Entry::Quiet{});
        return entry.leave(send_copied(*k, *self, m, a, a.option, a.timeout));
    }
    case ipc::fast::Sent::no:
        break;
    }
    self->in_kernel = false;
    return general<true>(a);
}

// The receive of a call that enters the kernel quietly (Entry::quiet), the
// general way, which waits for a message when none is queued: what `general`
// would do.
[[gnu::always_inline]] inline mach_msg_return_t receive_quiet(Kernel& k, tasks::Thread& self, const MsgArgs& a) {
    Entry entry(k, self, Sys::mach_msg, Entry::Quiet{});
    return receive_and_leave(entry, self, a, a.option, a.timeout);
}
// Out of line for receive_door, whose fast receive then pays no register for it.
[[gnu::noinline, gnu::cold]] mach_msg_return_t receive_quiet_cold(Kernel& k, tasks::Thread& self,
                                                                 const MsgArgs& a) {
    return receive_quiet(k, self, a);
}

// A receive the fast path cannot finish (nothing queued, mostly) goes on to receive_quiet.
[[gnu::noinline]] mach_msg_return_t receive_door(const MsgArgs& a) {
    Kernel* k;
    tasks::Thread* self = door_caller(k);
    if (!self) return general(a);
    self->in_kernel = true;
    if (!ipc::fast::try_receive(self->task.space, a.rcv_msg, a.rcv_size, a.rcv_name, a.option))
        return receive_quiet_cold(*k, *self, a);
    Entry::quiet_done(*k);
    self->in_kernel = false;
    return MACH_MSG_SUCCESS;
}

// SEND|RCV (an RPC): a request the fast path takes is followed by the general
// receive, which waits for the reply, behind the quiet entry.
[[gnu::noinline]] mach_msg_return_t rpc_door(const MsgArgs& a) {
    Kernel* k;
    tasks::Thread* self = door_caller(k);
    if (!self) return general(a);
    self->in_kernel = true;
    ipc::KMsg* m = nullptr;
    ipc::fast::Sent sent = ipc::fast::try_send(k->env, self->task.space, self->waiter, a.msg, a.send_size, m);
    if (sent == ipc::fast::Sent::no) {
        self->in_kernel = false;
        return general<true>(a);
    }
    if (sent == ipc::fast::Sent::queue_full) {
        Entry entry(*k, *self, Sys::mach_msg, Entry::Quiet{});
        mach_msg_return_t mr = send_copied(*k, *self, m, a, a.option, a.timeout);
        if (mr != MACH_MSG_SUCCESS) return entry.leave(mr);
        return receive_and_leave(entry, *self, a, a.option, a.timeout);
    }
    return receive_quiet(*k, *self, a);
}

}  // namespace

mach_msg_return_t sys_mach_msg(const MsgArgs& a) {
    switch (a.option & (MACH_SEND_MSG | MACH_RCV_MSG | MACH_SEND_NOTIFY)) {
    case MACH_SEND_MSG:
        return send_door(a);
    case MACH_RCV_MSG:
        return receive_door(a);
    case MACH_SEND_MSG | MACH_RCV_MSG:
        return rpc_door(a);
    default:
        return general(a);
    }
}

}  // namespace machsim::gate
