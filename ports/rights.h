// Rights: creating and destroying ports, moving rights into and out of
// spaces, and the mach_port_* operations on names. One place for each rule of
// MACH-REFERENCE §3 R1–R16.
//
// Accounting kept exact at every step (checked by ipc::check_invariants):
//   - an entry holding any port right holds one reference on the port;
//   - a right in transit (Carried) holds one reference;
//   - port->srights = entries holding send + send rights in transit;
//   - port->sorights = entries holding send-once + send-once rights in transit.
#pragma once

#include <vector>

#include "mach/message.h"
#include "mach/port.h"
#include "ports/message.h"
#include "ports/port.h"
#include "ports/space.h"

namespace machsim::ipc {

// --- objects ---------------------------------------------------------------
Port* port_create(Env& env, uint32_t creator);  // an active port; the caller holds its one reference
PortSet* set_create(Env& env);
// p's receive right is gone: p dies (R7). Consumes the caller's reference.
void port_destroy(Env& env, Port* p);
void set_destroy(Env& env, PortSet* s);  // consumes the caller's reference
void join_set(Env& env, Port* p, PortSet* s);
void leave_set(Port* p);

// --- rights in transit -----------------------------------------------------
Carried make_send(Port* p);       // a new send right (MAKE_SEND): counts toward mscount
Carried make_send_once(Port* p);  // a new send-once right
Carried copy_send(Port* p);       // another send right, from one the caller holds (COPY_SEND)
void send_rights_lowered(Env& env, Port* p);  // notify.h
// A send right is gone; consumes a reference. Inline: every message received
// spends its destination's send right this way.
[[gnu::always_inline]] inline void release_send(Env& env, Port* p) {
    MS_ASSERT(p->srights > 0, "P{}: send right count underflow", p->id());
    if (--p->srights == 0) send_rights_lowered(env, p);  // only the last one can fire no-senders
    p->unref();
}
void release_send_once(Env& env, Port* p);  // a send-once right is gone unused; consumes a reference
// A delivered message's destination right is used up: a send-once right is spent
// (it was used, so no send-once notification), a send right released. Consumes a reference.
[[gnu::always_inline]] inline void spend_destination(Env& env, Port* dest, uint8_t dest_type) {
    if (dest_type == MACH_MSG_TYPE_PORT_SEND_ONCE) {
        --dest->sorights;
        dest->unref();
    } else {
        release_send(env, dest);
    }
}
void carried_release(Env& env, Carried& c); // destroys whatever right c holds
void msg_destroy(Env& env, KMsg* m, const char* why);  // the message and every right and byte in it
// The kernel received m itself (an exception reply): its destination right is
// spent, as by a receive; whatever else it carries is destroyed.
void msg_consume(Env& env, KMsg* m);
// A receiver took m off its queue but cannot have it (too large, a bad buffer): as
// in Mach, the destination right is spent as by a receive (a send-once right gives
// no notification: the message it was sent with did arrive); the rest is destroyed.
void msg_discard(Env& env, KMsg* m, const char* why);

// --- names -> rights (checked once, here) ----------------------------------
// Can `name` be copied in with disposition `disp`? Changes nothing. Returns
// KERN_SUCCESS, KERN_INVALID_NAME, KERN_INVALID_RIGHT or KERN_INVALID_VALUE.
kern_return_t copyin_check(IpcSpace& space, mach_port_name_t name, mach_msg_type_name_t disp);
// Takes the right out of the space; copyin_check must have said yes.
Carried copyin(IpcSpace& space, mach_port_name_t name, mach_msg_type_name_t disp);
// The same, on an entry already looked up (the message fast path).
Carried copyin_entry(IpcSpace& space, mach_port_name_t name, Entry& e, mach_msg_type_name_t disp);

// Whether entry e holds the right disposition `disp` copies in (the rule of copyin_check).
inline kern_return_t copyin_allowed(const Entry& e, mach_msg_type_name_t disp) {
    switch (disp) {
    case MACH_MSG_TYPE_MOVE_RECEIVE:
    case MACH_MSG_TYPE_MAKE_SEND:
    case MACH_MSG_TYPE_MAKE_SEND_ONCE: return e.has(MACH_PORT_TYPE_RECEIVE) ? KERN_SUCCESS : KERN_INVALID_RIGHT;
    case MACH_MSG_TYPE_COPY_SEND:
    case MACH_MSG_TYPE_MOVE_SEND:
        return e.has(MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME) ? KERN_SUCCESS : KERN_INVALID_RIGHT;
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        return e.has(MACH_PORT_TYPE_SEND_ONCE | MACH_PORT_TYPE_DEAD_NAME) ? KERN_SUCCESS : KERN_INVALID_RIGHT;
    default: return KERN_INVALID_VALUE;
    }
}
// Puts c into the space under a fresh or the existing name (R1). On success c
// is consumed. KERN_NO_SPACE when the space is full (c untouched).
kern_return_t copyout(IpcSpace& space, Carried& c, mach_port_name_t* name);

// Called by IpcSpace::lookup when the port of a send or send-once right has died (R8).
void right_became_dead(IpcSpace& space, mach_port_name_t name, Entry& e);
// Removes every right of a dying space, in ascending name order.
void space_destroy(IpcSpace& space);

// --- mach_port_* on a space --------------------------------------------------
kern_return_t port_allocate(IpcSpace& space, mach_port_right_t right, mach_port_name_t* name);
kern_return_t port_allocate_name(IpcSpace& space, mach_port_right_t right, mach_port_name_t name);
kern_return_t right_deallocate(IpcSpace& space, mach_port_name_t name);
kern_return_t right_destroy(IpcSpace& space, mach_port_name_t name);
kern_return_t right_mod_refs(IpcSpace& space, mach_port_name_t name, mach_port_right_t right,
                             mach_port_delta_t delta);
kern_return_t right_get_refs(IpcSpace& space, mach_port_name_t name, mach_port_right_t right,
                             mach_port_urefs_t* refs);
kern_return_t right_type(IpcSpace& space, mach_port_name_t name, mach_port_type_t* type);
// Puts c into the space under exactly `name` (mach_port_insert_right). On success c is consumed.
kern_return_t insert_right(IpcSpace& space, mach_port_name_t name, Carried& c);
kern_return_t move_member(IpcSpace& space, mach_port_name_t member, mach_port_name_t after);
// XNU's calls: insert_member adds a port that is in no set; extract_member takes it out of `set`.
kern_return_t insert_member(IpcSpace& space, mach_port_name_t member, mach_port_name_t set);
kern_return_t extract_member(IpcSpace& space, mach_port_name_t member, mach_port_name_t set);
// The names of a set's members, in the order they joined (mach_port_get_set_status).
kern_return_t set_members(IpcSpace& space, mach_port_name_t set, std::vector<mach_port_name_t>& members);
// mach_port_construct: a receive right with the attributes `options` asks for
// (docs/api.md §5.14); on failure nothing is left in the space.
kern_return_t port_construct(IpcSpace& space, const mach_port_options_t& options, mach_port_context_t context,
                             mach_port_name_t* name);
// mach_port_destruct: drops -srdelta send urefs, then destroys the receive right.
kern_return_t port_destruct(IpcSpace& space, mach_port_name_t name, mach_port_delta_t srdelta,
                            mach_port_context_t guard);
kern_return_t get_context(IpcSpace& space, mach_port_name_t name, mach_port_context_t* context);
kern_return_t set_context(IpcSpace& space, mach_port_name_t name, mach_port_context_t context);
kern_return_t get_attributes(IpcSpace& space, mach_port_name_t name, mach_port_flavor_t flavor,
                             integer_t* info, mach_msg_type_number_t* count);
kern_return_t set_attributes(IpcSpace& space, mach_port_name_t name, mach_port_flavor_t flavor,
                             const integer_t* info, mach_msg_type_number_t count);

}  // namespace machsim::ipc
