// Copy-in of a message from a task's buffer and copy-out into one: header
// rights, body descriptors (port rights, out-of-line memory and port arrays),
// the trailer. Every pointer a task gives is read and written with
// machine::copy_user, so a bad pointer is an error code, never a crash.
#pragma once

#include "mach/message.h"
#include "ports/message.h"
#include "ports/space.h"

namespace machsim::ipc {

// Builds a KMsg from the task's buffer. Header rights are copied in atomically
// (a bad destination or reply changes nothing); a body error destroys the
// message, header rights included (Mach's rule).
mach_msg_return_t copyin_message(IpcSpace& space, const mach_msg_header_t* umsg, mach_msg_size_t send_size,
                                 KMsg*& out);

// Receive: the header is reversed, rights and memory land in `space`, the
// requested trailer follows the message. Consumes m.
mach_msg_return_t copyout_message(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg, mach_msg_option_t option);

// Writes the trailer elements after the format-0 words (seqno, sender, audit),
// for a trailer of trailer_size bytes at the end of m.
void write_trailer_elements(KMsg* m, mach_msg_size_t trailer_size);

// A send that could not complete: the message goes back into the sender's
// buffer with its rights and memory, header not reversed, no trailer. Consumes m.
void pseudo_receive(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg);

// MACH_RCV_TOO_LARGE without MACH_RCV_LARGE: m is destroyed; only its header
// (destination named, no reply) is returned, in as much of the buffer as exists.
mach_msg_return_t return_header_only(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg, mach_msg_size_t rcv_size);

}  // namespace machsim::ipc
