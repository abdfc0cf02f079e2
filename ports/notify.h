// Kernel notifications (MACH-REFERENCE R9-R16): what the kernel tells a task
// about the life of its rights, as messages to a send-once right the task gave.
//
//   request (mach_port_request_notification)   fires when                       message
//   MACH_NOTIFY_DEAD_NAME on a name            the port dies                    dead-name: the name (+1 uref)
//     ... the right leaves the name first      the name loses it                port-deleted: the name
//   MACH_NOTIFY_PORT_DESTROYED on a receive    the receive right would be        port-destroyed: the receive
//                                              destroyed                          right itself (port lives on)
//   MACH_NOTIFY_NO_SENDERS on a receive        the send-right count reaches 0    no-senders: the make-send count
//   (none: every send-once right)              it is dropped unused              send-once (rights.cpp)
//
// A request's notify right is a send-once right the port (or the request table)
// keeps; a request that can never fire gives back that right, which then yields
// its own send-once notification.
#pragma once

#include "mach/message.h"
#include "mach/port.h"
#include "ports/message.h"
#include "ports/notify_types.h"
#include "ports/port.h"
#include "ports/space.h"

namespace machsim::ipc {

struct Env;

// mach_port_request_notification on `space` (R9-R11, R14). `notify` is the
// copied-in send-once right (or empty to cancel); on success it is consumed and
// the request it replaces, if any, comes back in *previous.
kern_return_t request_notification(IpcSpace& space, mach_port_name_t name, mach_msg_id_t id,
                                   mach_port_mscount_t sync, Carried& notify, Carried& previous);

// The port is dying: every dead-name request fires (the name becomes a dead name
// with one more uref), and the port's other requests give back their rights.
void fire_dead_name_requests(Env& env, Port* p);
// Entry `name` in `space` no longer names any right to p: its dead-name request
// becomes a port-deleted notification.
void fire_port_deleted(IpcSpace& space, mach_port_name_t name, Port* p);
// The receive right of p is about to be destroyed. If a port-destroyed request
// is armed, the right goes into the notification instead and the port lives on:
// returns true (the caller's reference went with it).
bool divert_to_port_destroyed(Env& env, Port* p);
// p's send-right count has just been lowered; at zero an armed no-senders request fires.
void send_rights_lowered(Env& env, Port* p);

}  // namespace machsim::ipc
