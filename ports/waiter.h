// A Waiter is a thread's IPC wait state: what it waits on, with which
// options, and what the waker hands it. Every thread owns exactly one.
#pragma once

#include <cstdint>

#include "kernel/machine/context.h"
#include "kernel/machine/list.h"
#include "mach/message.h"

namespace machsim::ipc {

class IpcObject;
class Port;
struct KMsg;

struct Env;

struct Waiter {
    Waiter(Env& e, machine::Context* c) : env(&e), ctx(c) { c->wait_object = this; }

    Env* env;
    machine::Context* ctx;
    machine::ListHook hook;      // in a receivers or senders list while blocked
    machine::List<Waiter, &Waiter::hook>* queue = nullptr;  // that list
    IpcObject* on = nullptr;     // the port or set it waits on
    bool sending = false;        // blocked in send (queue full) rather than in receive

    // Receive parameters, read by a sender that hands a message over directly.
    mach_msg_header_t* umsg = nullptr;  // the receive buffer (fast path: written by the sender)
    mach_msg_option_t option = 0;
    mach_msg_size_t rcv_limit = 0;     // bytes the receive buffer holds
    mach_msg_size_t trailer_size = 0;  // bytes of trailer requested

    // Results. Receive: the message handed over. Send: the message waiting for
    // room in the queue (the sender still owns it if the wait fails).
    KMsg* msg = nullptr;
    mach_msg_size_t needed = 0;   // message size, for MACH_RCV_TOO_LARGE under MACH_RCV_LARGE
    bool delivered = false;       // the fast path already wrote the message into umsg

    // Set by a send that woke a receiver: if this thread now blocks, run that receiver next.
    machine::Context* handoff = nullptr;
};

using WaitList = machine::List<Waiter, &Waiter::hook>;

}  // namespace machsim::ipc
