// mach_msg: send, receive, or both (an RPC), as one system call.
#include "kernel/gate/sys_common.h"
#include "ports/fastpath.h"
#include "ports/mqueue.h"
#include "ports/msg_copy.h"

namespace machsim::gate {

mach_msg_return_t sys_mach_msg(mach_msg_header_t* msg, mach_msg_option_t option, mach_msg_size_t send_size,
                               mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                               mach_port_name_t notify) {
    (void)notify;  // MACH_RCV_NOTIFY is obsolete and MACH_SEND_NOTIFY is not provided
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
        if (option & MACH_SEND_NOTIFY)
            return entry.leave(ipc::fail(k.env, MACH_SEND_INVALID_NOTIFY, "MACH_SEND_NOTIFY is not provided"));
        if (!ipc::fast::try_send(k.env, space, self->waiter, msg, send_size)) {
            ipc::KMsg* m = nullptr;
            mach_msg_return_t mr = ipc::copyin_message(space, msg, send_size, m);
            if (mr != MACH_MSG_SUCCESS) return entry.leave(mr);
            mr = ipc::send_message(k.env, m, self->waiter, option, timeout);
            if (mr != MACH_MSG_SUCCESS) {
                ipc::pseudo_receive(space, m, msg);  // R18: the message comes back to the sender
                return entry.leave(mr);
            }
        }
    }
    if (option & MACH_RCV_MSG) {
        // After a send (an RPC) the reply is rarely queued yet; the general path waits for it.
        if (!(option & MACH_SEND_MSG) && ipc::fast::try_receive(space, msg, rcv_size, rcv_name, option))
            return entry.leave(MACH_MSG_SUCCESS);
        return entry.leave(ipc::receive_message(space, self->waiter, msg, rcv_size, rcv_name, option, timeout));
    }
    return entry.leave(MACH_MSG_SUCCESS);
}

}  // namespace machsim::gate
