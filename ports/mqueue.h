// Message queues: delivering a copied-in message to its port, and taking one
// off a port or port set. This is the IPC fast path: no allocation, no
// formatting (trace events are built only when a sink listens).
//
//   sender                         port P                        receiver
//   send_message(m) --(1)--> receiver waiting on P (or its set)?
//                              yes: (2) hand m over, wake it; if the sender then
//                                   blocks, it switches straight to it (3)
//                              no:  (2') queue m, or block while P is full
//                              receive_message <--(4)-- dequeue or wait
#pragma once

#include "mach/message.h"
#include "ports/message.h"
#include "ports/port.h"
#include "ports/space.h"
#include "ports/waiter.h"

namespace machsim::ipc {

struct Env;

// Delivers m (fully copied in) to m->dest. On MACH_MSG_SUCCESS the kernel owns
// m. On failure (MACH_SEND_TIMED_OUT, MACH_SEND_INTERRUPTED) m is still the
// caller's, to be pseudo-received back into the sender's buffer (R18).
mach_msg_return_t send_message(Env& env, KMsg* m, Waiter& self, mach_msg_option_t option,
                               mach_msg_timeout_t timeout);

// Receives on rcv_name in space into the caller's buffer (copy-out included).
mach_msg_return_t receive_message(IpcSpace& space, Waiter& self, mach_msg_header_t* umsg,
                                  mach_msg_size_t rcv_size, mach_port_name_t rcv_name,
                                  mach_msg_option_t option, mach_msg_timeout_t timeout);

// Queues m on p or hands it to a waiting receiver, ignoring qlimit (kernel
// messages, admitted senders). If `sender` is given it learns whom it woke.
void post(Env& env, Port* p, KMsg* m, Waiter* sender);

// Lets blocked senders in while p has room (after a dequeue or a raised qlimit).
void admit_senders(Env& env, Port* p);
// Gives queued messages of p to receivers waiting on its set (p just joined it).
void serve_waiting_receivers(Env& env, Port* p);

// Sends a message the kernel itself composes (notifications, kernel replies) to
// the right `dest`, which it consumes. Kernel messages ignore qlimit.
void kernel_send(Env& env, Carried& dest, mach_msg_id_t id, const void* body, uint32_t body_size);

// The same for a complex message carrying one body item (a port-destroyed
// notification carries the receive right); body holds the descriptors.
void kernel_send_complex(Env& env, Carried& dest, mach_msg_id_t id, const void* body, uint32_t body_size,
                         BodyItem item);
// A kernel RPC request (an exception message): reply (a send-once right) goes
// in msgh_local_port; items are its port descriptors. Consumes every right.
// False when dest cannot take a message (then nothing was sent).
bool kernel_send_request(Env& env, Carried& dest, Carried& reply, mach_msg_id_t id, const void* body,
                         uint32_t body_size, BodyItem* items, std::size_t n_items);
// Waits for the next message on p, whose receive right the kernel holds itself
// (an exception reply port). MACH_MSG_SUCCESS with *out, or MACH_RCV_INTERRUPTED.
mach_msg_return_t kernel_receive(Env& env, Waiter& self, Port* p, KMsg** out);

// Ends a thread's IPC wait early (thread abort, termination) with `result`.
void abort_wait(Waiter& w, mach_msg_return_t result);

// Ticks per millisecond of a Mach timeout (1 tick = 1 virtual microsecond).
constexpr uint64_t kTicksPerMs = 1000;

}  // namespace machsim::ipc
