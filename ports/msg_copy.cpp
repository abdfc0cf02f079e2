#include "ports/msg_copy.h"

#include <cstddef>
#include <cstring>

#include "kernel/machine/address_space.h"
#include "kernel/machine/usercopy.h"
#include "ports/env.h"
#include "ports/fastpath.h"
#include "ports/rights.h"

namespace machsim::ipc {

namespace {

constexpr uint32_t kHeader = sizeof(mach_msg_header_t);
constexpr uint32_t kBody = sizeof(mach_msg_body_t);
constexpr uint32_t kMaxOol = 256u << 20;        // bytes in one out-of-line region
constexpr uint32_t kMaxOolPorts = 1u << 16;     // names in one out-of-line port array

uint32_t descriptor_size(mach_msg_descriptor_type_t type) {
    return type == MACH_MSG_PORT_DESCRIPTOR ? sizeof(mach_msg_port_descriptor_t) : sizeof(mach_msg_ool_descriptor_t);
}

// The descriptor type sits in the last byte of the third word of every descriptor.
mach_msg_descriptor_type_t descriptor_type(const uint8_t* d) { return d[11]; }

bool valid_port_disposition(mach_msg_type_name_t d) { return MACH_MSG_TYPE_PORT_ANY(d); }

// The code a header right that cannot be copied in earns, with the reason.
mach_msg_return_t header_right_error(Env& env, Entry* e, mach_port_name_t name, mach_msg_type_name_t disp,
                                     bool is_dest) {
    mach_msg_return_t bad = is_dest ? MACH_SEND_INVALID_DEST : MACH_SEND_INVALID_REPLY;
    const char* what = is_dest ? "destination" : "reply port";
    if (!e) return fail(env, bad, "{} {:#x} names nothing in this task", what, name);
    if (is_dest && e->has(MACH_PORT_TYPE_DEAD_NAME)) return fail(env, bad, "destination {:#x} is a dead name", name);
    return fail(env, bad, "{} {:#x} does not hold the right that disposition {} needs", what, name, disp);
}

bool consumes(mach_msg_type_name_t d) {
    return d == MACH_MSG_TYPE_MOVE_SEND || d == MACH_MSG_TYPE_MOVE_SEND_ONCE;
}

// Header rights, atomically (R6): everything is checked before anything moves.
mach_msg_return_t copyin_header(IpcSpace& space, KMsg* m) {
    Env& env = space.env();
    mach_msg_header_t* h = m->header();
    mach_msg_bits_t bits = h->msgh_bits;
    if (bits & ~MACH_MSGH_BITS_USER)
        return fail(env, MACH_SEND_INVALID_HEADER, "msgh_bits {:#x} has bits a task may not set", bits);
    mach_msg_type_name_t rdisp = MACH_MSGH_BITS_REMOTE(bits);
    mach_msg_type_name_t ldisp = MACH_MSGH_BITS_LOCAL(bits);
    mach_port_name_t dest = h->msgh_remote_port, reply = h->msgh_local_port;
    if (!MACH_MSG_TYPE_PORT_ANY_SEND(rdisp))
        return fail(env, MACH_SEND_INVALID_HEADER,
                    "remote disposition {} is not a send disposition (set msgh_bits, e.g. "
                    "MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0))",
                    rdisp);
    if (ldisp == 0 ? reply != MACH_PORT_NULL : !MACH_MSG_TYPE_PORT_ANY_SEND(ldisp))
        return fail(env, MACH_SEND_INVALID_HEADER, "local disposition {} does not fit reply port {:#x}", ldisp, reply);
    if (MACH_MSGH_BITS_VOUCHER(bits) != 0)
        return fail(env, MACH_SEND_INVALID_VOUCHER, "machsim has no vouchers; voucher bits must be 0");
    if (!MACH_PORT_VALID(dest))
        return fail(env, MACH_SEND_INVALID_DEST, "destination {:#x} is not a port name", dest);
    Entry* de = space.lookup(dest);
    if (!de || copyin_allowed(*de, rdisp) != KERN_SUCCESS || de->has(MACH_PORT_TYPE_DEAD_NAME))
        return header_right_error(env, de, dest, rdisp, true);
    bool has_reply = MACH_PORT_VALID(reply);
    Carried d, r;
    if (!has_reply) {
        d = copyin_entry(space, dest, *de, rdisp);
        r.dead = reply == MACH_PORT_DEAD;
        r.type = r.dead ? received_type(ldisp) : 0;
    } else if (reply != dest) {
        Entry* re = space.lookup(reply);
        if (!re || copyin_allowed(*re, ldisp) != KERN_SUCCESS) return header_right_error(env, re, reply, ldisp, false);
        d = copyin_entry(space, dest, *de, rdisp);
        r = copyin_entry(space, reply, *re, ldisp);
    } else {  // one name in both places
        if (copyin_allowed(*de, ldisp) != KERN_SUCCESS) return header_right_error(env, de, reply, ldisp, false);
        // A right that cannot be moved twice is the destination's error, as in CMU
        // Mach and XNU (their two-right copy-in failing goes to invalid_dest).
        if (consumes(rdisp) && consumes(ldisp) &&
            (rdisp == MACH_MSG_TYPE_MOVE_SEND_ONCE || ldisp == MACH_MSG_TYPE_MOVE_SEND_ONCE))
            return fail(env, MACH_SEND_INVALID_DEST, "send-once right {:#x} cannot be moved twice", dest);
        if (consumes(rdisp) && consumes(ldisp) && de->urefs < 2)
            return fail(env, MACH_SEND_INVALID_DEST, "{:#x} has one uref and cannot be moved twice", dest);
        if (consumes(rdisp) && !consumes(ldisp)) {  // copy before moving
            r = copyin(space, reply, ldisp);
            d = copyin(space, dest, rdisp);
        } else {
            d = copyin(space, dest, rdisp);
            r = copyin(space, reply, ldisp);
        }
    }
    m->dest = d.port;
    m->dest_type = d.type;
    m->reply = r;
    m->complex = (bits & MACH_MSGH_BITS_COMPLEX) != 0;
    h->msgh_bits = bits;
    return MACH_MSG_SUCCESS;
}

// A message that carries a receive right into its own queue is destroyed at
// send (R12); it is never linked, so that destination chains stay acyclic.
void note_receive_in_transit(KMsg* m, Carried& c) {
    if (c.type != MACH_MSG_TYPE_PORT_RECEIVE || !c.port || m->circular) return;
    if (c.port->reaches_self_from(m->dest)) {
        m->circular = true;
        return;
    }
    c.port->destination = m->dest;
    m->dest->ref();
}

mach_msg_return_t copyin_port(IpcSpace& space, KMsg* m, BodyItem& item, mach_port_name_t name,
                              mach_msg_type_name_t disp) {
    Env& env = space.env();
    if (name == MACH_PORT_NULL) return MACH_MSG_SUCCESS;
    if (name == MACH_PORT_DEAD) {
        if (disp == MACH_MSG_TYPE_MOVE_RECEIVE || disp == MACH_MSG_TYPE_MAKE_SEND ||
            disp == MACH_MSG_TYPE_MAKE_SEND_ONCE)
            return fail(env, MACH_SEND_INVALID_RIGHT, "MACH_PORT_DEAD cannot be sent with disposition {}", disp);
        item.right.dead = true;
        item.right.type = received_type(disp);
        return MACH_MSG_SUCCESS;
    }
    if (copyin_check(space, name, disp) != KERN_SUCCESS)
        return fail(env, MACH_SEND_INVALID_RIGHT, "body right {:#x} cannot be sent with disposition {}", name, disp);
    item.right = copyin(space, name, disp);
    note_receive_in_transit(m, item.right);
    return MACH_MSG_SUCCESS;
}

void deallocate_if_mapped(IpcSpace& space, const void* addr, std::size_t size) {
    auto a = reinterpret_cast<uintptr_t>(addr);
    if (space.vm() && space.vm()->covers(a, size)) (void)space.vm()->deallocate(a, size);
}

mach_msg_return_t copyin_ool(IpcSpace& space, BodyItem& item, const mach_msg_ool_descriptor_t& d) {
    Env& env = space.env();
    if (d.size == 0) return MACH_MSG_SUCCESS;
    if (d.size > kMaxOol) return fail(env, MACH_SEND_TOO_LARGE, "out-of-line region of {} bytes is too large", d.size);
    if (space.vm() && !space.vm()->may_copy_in(d.address, d.size))
        return fail(env, MACH_SEND_INVALID_MEMORY, "out-of-line region at {} is not readable (its protection)",
                    d.address);
    item.data.resize(d.size);
    if (!machine::copy_user(item.data.data(), d.address, d.size))
        return fail(env, MACH_SEND_INVALID_MEMORY, "out-of-line region at {} is not readable", d.address);
    if (d.deallocate) deallocate_if_mapped(space, d.address, d.size);
    return MACH_MSG_SUCCESS;
}

mach_msg_return_t copyin_ool_ports(IpcSpace& space, KMsg* m, BodyItem& item, const mach_msg_ool_ports_descriptor_t& d) {
    Env& env = space.env();
    if (d.count > kMaxOolPorts) return fail(env, MACH_SEND_TOO_LARGE, "{} names in one port array", d.count);
    std::vector<mach_port_name_t> names(d.count);
    if (!machine::copy_user(names.data(), d.address, d.count * sizeof(mach_port_name_t)))
        return fail(env, MACH_SEND_INVALID_MEMORY, "port array at {} is not readable", d.address);
    // Entry by entry, as in Mach: after a bad entry, the rights taken before it
    // are destroyed with the message (body rights are not atomic, R6).
    item.rights.resize(d.count);
    for (uint32_t i = 0; i < d.count; ++i) {
        if (names[i] == MACH_PORT_DEAD) {
            item.rights[i].dead = true;
            item.rights[i].type = received_type(d.disposition);
        } else if (names[i] != MACH_PORT_NULL) {
            if (copyin_check(space, names[i], d.disposition) != KERN_SUCCESS)
                return fail(env, MACH_SEND_INVALID_RIGHT, "port array entry {} ({:#x}) cannot be sent with disposition {}",
                            i, names[i], static_cast<unsigned>(d.disposition));
            item.rights[i] = copyin(space, names[i], d.disposition);
            note_receive_in_transit(m, item.rights[i]);
        }
    }
    if (d.deallocate) deallocate_if_mapped(space, d.address, d.count * sizeof(mach_port_name_t));
    return MACH_MSG_SUCCESS;
}

mach_msg_return_t copyin_body(IpcSpace& space, KMsg* m, mach_msg_size_t send_size) {
    Env& env = space.env();
    if (send_size < kHeader + kBody)
        return fail(env, MACH_SEND_MSG_TOO_SMALL, "complex message of {} bytes has no room for its body", send_size);
    uint8_t* data = m->data();
    mach_msg_body_t body;
    std::memcpy(&body, data + kHeader, sizeof body);
    // Pass 1: the shape of every descriptor, before any right or byte moves.
    uint32_t off = kHeader + kBody;
    for (uint32_t i = 0; i < body.msgh_descriptor_count; ++i) {
        if (off + sizeof(mach_msg_port_descriptor_t) > send_size)
            return fail(env, MACH_SEND_MSG_TOO_SMALL, "descriptor {} runs past the end of the message", i);
        mach_msg_descriptor_type_t type = descriptor_type(data + off);
        if (type > MACH_MSG_OOL_VOLATILE_DESCRIPTOR)
            return fail(env, MACH_SEND_INVALID_TYPE, "descriptor {} has unknown type {}", i, type);
        if (off + descriptor_size(type) > send_size)
            return fail(env, MACH_SEND_MSG_TOO_SMALL, "descriptor {} runs past the end of the message", i);
        if (type == MACH_MSG_PORT_DESCRIPTOR || type == MACH_MSG_OOL_PORTS_DESCRIPTOR) {
            mach_msg_type_name_t disp = data[off + 10];
            if (!valid_port_disposition(disp))
                return fail(env, MACH_SEND_INVALID_TYPE, "descriptor {} has disposition {}", i, disp);
        } else {
            mach_msg_ool_descriptor_t d;
            std::memcpy(&d, data + off, sizeof d);
            unsigned copy = d.copy;
            if (copy != MACH_MSG_PHYSICAL_COPY && copy != MACH_MSG_VIRTUAL_COPY)
                return fail(env, MACH_SEND_INVALID_TYPE, "descriptor {} has copy option {}", i, copy);
        }
        off += descriptor_size(type);
    }
    // Pass 2: move rights and memory, in order. Not atomic: Mach's rule.
    m->items.resize(body.msgh_descriptor_count);
    off = kHeader + kBody;
    for (uint32_t i = 0; i < body.msgh_descriptor_count; ++i) {
        BodyItem& item = m->items[i];
        item.offset = off;
        item.kind = descriptor_type(data + off);
        if (item.kind == MACH_MSG_OOL_VOLATILE_DESCRIPTOR) item.kind = MACH_MSG_OOL_DESCRIPTOR;
        mach_msg_return_t mr;
        if (item.kind == MACH_MSG_PORT_DESCRIPTOR) {
            mach_msg_port_descriptor_t d;
            std::memcpy(&d, data + off, sizeof d);
            mr = copyin_port(space, m, item, d.name, d.disposition);
        } else if (item.kind == MACH_MSG_OOL_DESCRIPTOR) {
            mach_msg_ool_descriptor_t d;
            std::memcpy(&d, data + off, sizeof d);
            mr = copyin_ool(space, item, d);
        } else {
            mach_msg_ool_ports_descriptor_t d;
            std::memcpy(&d, data + off, sizeof d);
            mr = copyin_ool_ports(space, m, item, d);
        }
        if (mr != MACH_MSG_SUCCESS) return mr;
        off += descriptor_size(descriptor_type(data + off));
    }
    return MACH_MSG_SUCCESS;
}

}  // namespace

mach_msg_return_t copyin_message(IpcSpace& space, const mach_msg_header_t* umsg, mach_msg_size_t send_size,
                                 KMsg*& out) {
    Env& env = space.env();
    if (send_size < kHeader || (send_size & 3))
        return fail(env, MACH_SEND_MSG_TOO_SMALL, "send size {} is below the header's {} bytes or not 4-aligned",
                    send_size, kHeader);
    if (send_size > env.max_message)
        return fail(env, MACH_SEND_TOO_LARGE, "send size {} exceeds the limit of {}", send_size, env.max_message);
    KMsg* m = env.msgs.get(send_size + MAX_TRAILER_SIZE);
    if (!machine::copy_user(m->data(), umsg, send_size)) {
        env.msgs.put(m);
        return fail(env, MACH_SEND_INVALID_DATA, "message buffer at {} is not readable", static_cast<const void*>(umsg));
    }
    if (mach_msg_return_t mr = copyin_header(space, m); mr != MACH_MSG_SUCCESS) {
        env.msgs.put(m);
        return mr;
    }
    m->size = send_size;
    m->header()->msgh_size = send_size;
    m->sender_task = space.task_id();
    m->number = ++env.next_msg;
    if (m->complex) {
        if (mach_msg_return_t mr = copyin_body(space, m, send_size); mr != MACH_MSG_SUCCESS) {
            msg_destroy(env, m, "its body could not be copied in");
            return mr;
        }
    }
    MS_TRACE(env.trace, Event{.kind = EventKind::Send,
                              .port = m->dest->id(),
                              .msg = m->number,
                              .space = space.task_id(),
                              .name = umsg->msgh_remote_port,
                              .code = m->header()->msgh_id,
                              .before = send_size});
    out = m;
    return MACH_MSG_SUCCESS;
}

namespace {

// Copies the body's rights and memory into space and patches the descriptors
// in m's buffer. Returns MACH_MSG_SUCCESS or the MACH_RCV_BODY_ERROR detail.
mach_msg_return_t copyout_body(IpcSpace& space, KMsg* m) {
    Env& env = space.env();
    uint8_t* data = m->data();
    mach_msg_return_t err = MACH_MSG_SUCCESS;
    for (BodyItem& item : m->items) {
        uint8_t* at = data + item.offset;
        if (item.kind == MACH_MSG_PORT_DESCRIPTOR) {
            mach_msg_port_descriptor_t d;
            std::memcpy(&d, at, sizeof d);
            uint8_t type = item.right.type;
            if (copyout(space, item.right, &d.name) != KERN_SUCCESS) {
                carried_release(env, item.right);
                d.name = MACH_PORT_NULL;
                err = MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE;
            }
            d.disposition = type;
            std::memcpy(at, &d, sizeof d);
        } else if (item.kind == MACH_MSG_OOL_DESCRIPTOR) {
            mach_msg_ool_descriptor_t d;
            std::memcpy(&d, at, sizeof d);
            d.address = nullptr;
            d.deallocate = FALSE;
            if (!item.data.empty()) {
                vm_address_t addr = 0;
                if (space.vm() && space.vm()->allocate(addr, item.data.size(), VM_FLAGS_ANYWHERE) == KERN_SUCCESS &&
                    machine::copy_user(reinterpret_cast<void*>(addr), item.data.data(), item.data.size())) {
                    d.address = reinterpret_cast<void*>(addr);
                } else {
                    err = MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE;
                }
            }
            std::memcpy(at, &d, sizeof d);
        } else {
            mach_msg_ool_ports_descriptor_t d;
            std::memcpy(&d, at, sizeof d);
            std::vector<mach_port_name_t> names(item.rights.size());
            uint8_t type = 0;
            for (std::size_t i = 0; i < item.rights.size(); ++i) {
                if (item.rights[i].type) type = item.rights[i].type;
                if (copyout(space, item.rights[i], &names[i]) != KERN_SUCCESS) {
                    carried_release(env, item.rights[i]);
                    names[i] = MACH_PORT_NULL;
                    err = MACH_RCV_BODY_ERROR | MACH_MSG_IPC_SPACE;
                }
            }
            d.address = nullptr;
            d.deallocate = FALSE;
            if (type) d.disposition = type;
            if (!names.empty()) {
                vm_address_t addr = 0;
                std::size_t bytes = names.size() * sizeof(mach_port_name_t);
                if (space.vm() && space.vm()->allocate(addr, bytes, VM_FLAGS_ANYWHERE) == KERN_SUCCESS &&
                    machine::copy_user(reinterpret_cast<void*>(addr), names.data(), bytes)) {
                    d.address = reinterpret_cast<void*>(addr);
                } else {
                    err = MACH_RCV_BODY_ERROR | MACH_MSG_VM_SPACE;  // the names stay in the space
                }
            }
            std::memcpy(at, &d, sizeof d);
        }
    }
    return err;
}

// Destroys the body's rights and memory and blanks its descriptors (names
// MACH_PORT_NULL, no addresses), for a message that cannot be delivered whole.
void drop_body(Env& env, KMsg* m) {
    uint8_t* data = m->data();
    for (BodyItem& item : m->items) {
        uint8_t* at = data + item.offset;
        carried_release(env, item.right);
        for (Carried& c : item.rights) carried_release(env, c);
        item.data.clear();
        if (item.kind == MACH_MSG_PORT_DESCRIPTOR) {
            mach_msg_port_descriptor_t d;
            std::memcpy(&d, at, sizeof d);
            d.name = MACH_PORT_NULL;
            std::memcpy(at, &d, sizeof d);
        } else {
            mach_msg_ool_descriptor_t d;  // an OOL ports descriptor has the address in the same place
            std::memcpy(&d, at, sizeof d);
            d.address = nullptr;
            std::memcpy(at, &d, sizeof d);
        }
    }
}

uint32_t patched_prefix(const KMsg* m) {
    if (m->items.empty()) return kHeader;
    const BodyItem& last = m->items.back();
    return last.offset + (last.kind == MACH_MSG_PORT_DESCRIPTOR ? sizeof(mach_msg_port_descriptor_t)
                                                                : sizeof(mach_msg_ool_descriptor_t));
}

// Gives back a reply right that was copied out under `name` (the copy-out failed later).
void take_back_reply(IpcSpace& space, mach_port_name_t name, uint8_t type) {
    if (!MACH_PORT_VALID(name)) return;
    Carried c = copyin(space, name, type == MACH_MSG_TYPE_PORT_SEND_ONCE ? MACH_MSG_TYPE_MOVE_SEND_ONCE
                                                                         : MACH_MSG_TYPE_MOVE_SEND);
    carried_release(space.env(), c);
}

}  // namespace

void write_trailer_elements(KMsg* m, mach_msg_size_t trailer_size) {
    uint32_t t[sizeof(mach_msg_max_trailer_t) / 4] = {};
    t[0] = MACH_MSG_TRAILER_FORMAT_0;
    t[1] = trailer_size;
    t[2] = m->seqno;
    t[3] = m->sender_task;      // msgh_sender.val[0]
    t[5 + 5] = m->sender_task;  // msgh_audit.val[5] (the pid slot on XNU)
    std::memcpy(m->data() + m->size, t, trailer_size);
}

namespace {

// The receive line of m in `space`, which names its port `name` (the sender's name for the
// destination when the message is pseudo-received back).
void trace_receive(IpcSpace& space, KMsg* m, uint32_t port_id, mach_port_name_t name, bool pseudo) {
    MS_TRACE(space.env().trace, Event{.kind = EventKind::Receive,
                                      .port = port_id,
                                      .msg = m->number,
                                      .space = space.task_id(),
                                      .name = name,
                                      .code = m->header()->msgh_id,
                                      .before = m->size,
                                      .extra = pseudo ? 1u : 0u});
}

}  // namespace

mach_msg_return_t copyout_message(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg, mach_msg_option_t option) {
    Env& env = space.env();
    mach_msg_size_t trailer = requested_trailer_size(option);
    if (fast::try_copyout(space, m, umsg, trailer)) return MACH_MSG_SUCCESS;
    write_trailer_elements(m, trailer);
    // A complex message moves rights and memory into the space: first make sure the
    // buffer takes the bytes, so that a bad buffer destroys the message with nothing moved.
    if (m->complex && !machine::copy_user(umsg, m->data(), m->size + trailer)) {
        msg_discard(env, m, "the receive buffer is not writable");
        return fail(env, MACH_RCV_INVALID_DATA, "receive buffer at {} is not writable", static_cast<void*>(umsg));
    }
    Port* dest = m->dest;
    uint8_t dest_type = m->dest_type;
    uint8_t reply_type = m->reply.type;
    mach_port_name_t local = dest->receiver == &space ? dest->receiver_name : MACH_PORT_NULL;
    uint32_t port_id = dest->id();
    m->dest = nullptr;
    spend_destination(env, dest, dest_type);
    mach_port_name_t remote = MACH_PORT_NULL;
    mach_msg_return_t result = MACH_MSG_SUCCESS;
    if (copyout(space, m->reply, &remote) != KERN_SUCCESS) {
        carried_release(env, m->reply);
        remote = MACH_PORT_NULL;
        result = MACH_RCV_HEADER_ERROR | MACH_MSG_IPC_SPACE;
    }
    mach_msg_header_t* h = m->header();
    put_header_words(h, MACH_MSGH_BITS_SET(reply_type, dest_type, 0, m->complex ? MACH_MSGH_BITS_COMPLEX : 0),
                     m->size, remote, local);
    if (m->complex) {
        if (result == MACH_MSG_SUCCESS) {
            result = copyout_body(space, m);
        } else {
            drop_body(env, m);  // a header error destroys every right the message carries
        }
        (void)machine::copy_user(umsg, m->data(), patched_prefix(m));
    } else if (!machine::copy_user(umsg, m->data(), m->size + trailer)) {  // one copy on the fast path
        take_back_reply(space, remote, reply_type);
        msg_destroy(env, m, "the receive buffer is not writable");
        return fail(env, MACH_RCV_INVALID_DATA, "receive buffer at {} is not writable", static_cast<void*>(umsg));
    }
    trace_receive(space, m, port_id, local, false);
    env.msgs.put(m);
    return result;
}

void pseudo_receive(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg) {
    Env& env = space.env();
    if (!machine::copy_user(umsg, m->data(), m->size)) {
        msg_destroy(env, m, "the send buffer is not writable for the pseudo-receive");
        return;
    }
    Carried dest{m->dest, m->dest_type, false};
    uint8_t dest_type = m->dest_type, reply_type = m->reply.type;
    uint32_t port_id = m->dest->id();
    m->dest = nullptr;
    mach_port_name_t remote = MACH_PORT_NULL, local = MACH_PORT_NULL;
    if (copyout(space, dest, &remote) != KERN_SUCCESS) carried_release(env, dest);
    if (copyout(space, m->reply, &local) != KERN_SUCCESS) carried_release(env, m->reply);
    mach_msg_header_t* h = m->header();
    h->msgh_bits = MACH_MSGH_BITS_SET(dest_type, reply_type, 0, m->complex ? MACH_MSGH_BITS_COMPLEX : 0);
    h->msgh_remote_port = remote;
    h->msgh_local_port = local;
    if (m->complex) (void)copyout_body(space, m);
    (void)machine::copy_user(umsg, m->data(), patched_prefix(m));
    trace_receive(space, m, port_id, remote, true);  // the message's end: received, by its own sender
    env.msgs.put(m);
}

mach_msg_return_t return_header_only(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg, mach_msg_size_t rcv_size) {
    Env& env = space.env();
    mach_msg_header_t h = *m->header();
    h.msgh_bits = MACH_MSGH_BITS(0, m->dest_type);
    h.msgh_size = m->size;
    h.msgh_remote_port = MACH_PORT_NULL;
    h.msgh_local_port = m->dest->receiver == &space ? m->dest->receiver_name : MACH_PORT_NULL;
    h.msgh_voucher_port = MACH_PORT_NULL;
    uint32_t size = m->size;
    msg_discard(env, m, "it was larger than the receive buffer (no MACH_RCV_LARGE)");
    (void)machine::copy_user(umsg, &h, std::min<std::size_t>(rcv_size, sizeof h));
    return fail(env, MACH_RCV_TOO_LARGE, "a {}-byte message (plus trailer) did not fit a {}-byte buffer; destroyed",
                size, rcv_size);
}

}  // namespace machsim::ipc
