// The IPC fast path, seL4 style: a list of guards for the common simple
// message, then the common case, inline. When any guard fails nothing has
// changed and the call takes the general path (msg_copy.cpp, mqueue.cpp), which
// gives the same result; the fast path only skips work the general path would
// find it does not need. It never runs while a trace sink listens, so every
// trace is the general path's. MACHSIM_FASTPATH=0 in the environment turns it
// off (tests/run.sh runs the whole suite both ways).
//
// Covered: header-only or small inline messages whose destination is sent
// COPY_SEND (requests, one-way messages) or MOVE_SEND_ONCE (replies), with no
// reply right or a MAKE_SEND_ONCE one, received from a port's queue or handed
// over to a waiting receiver.
//
// One difference can be seen: a message handed to a waiting receiver is copied
// out at once, on the sender's side (deliver_direct), where the general path
// lets the receiver copy it out when it runs. What changes in between is seen as
// of the send: a reply right whose port dies arrives as a name that is then dead,
// not as MACH_PORT_DEAD; a destination whose receive right is destroyed or moved
// away keeps its old name in msgh_local_port, not MACH_PORT_NULL. Both are
// outcomes Mach allows for those races (the receiver may run first).
#pragma once

#include "kernel/machine/address_space.h"
#include "kernel/machine/usercopy.h"
#include "mach/message.h"
#include "ports/env.h"
#include "ports/mqueue.h"
#include "ports/msg_copy.h"
#include "ports/rights.h"
#include "ports/space.h"

namespace machsim::ipc::fast {

constexpr mach_msg_size_t kMaxSize = 128;  // header + body bytes the fast path takes

// What try_send did with a message.
enum class Sent {
    no,          // a guard failed and nothing happened: the general path takes the message
    yes,         // sent (MACH_MSG_SUCCESS)
    queue_full,  // copied in and checked, as copyin_message leaves it, but the queue is
                 // full: the caller sends it with send_message, which waits for room
};

namespace detail {

// Writes the trailer a receiver asked for after a message of `size` bytes in buf:
// format 0, then the seqno, sender and audit elements as far as `trailer` reaches.
inline void put_trailer(char* buf, mach_msg_size_t size, mach_msg_size_t trailer, mach_port_seqno_t seqno,
                        uint32_t sender) {
    uint32_t* t = reinterpret_cast<uint32_t*>(buf + size);
    put_trailer_word(t, trailer);
    if (trailer <= sizeof(mach_msg_trailer_t)) return;
    t[2] = seqno;
    if (trailer <= sizeof(mach_msg_seqno_trailer_t)) return;
    t[3] = sender;  // msgh_sender.val[0]
    t[4] = 0;
    if (trailer <= sizeof(mach_msg_security_trailer_t)) return;
    for (int i = 5; i < 13; ++i) t[i] = 0;
    t[5 + 5] = sender;  // msgh_audit.val[5]
}

// Delivers straight into the buffer of the receiver waiting on p (L4 style):
// one copy out, and the receiver has nothing left to do when it wakes. buf holds
// the message (with room for the largest trailer); its header is rewritten for
// the receiver.
// False when a guard fails; then nothing has changed.
[[gnu::always_inline]] inline bool deliver_direct(Env& env, IpcSpace& space, Waiter& self, char* buf,
                                                  mach_msg_size_t size, Entry* de, Entry* re, Port* p) {
    if (p->set || p->receivers.empty() || !p->queue.empty() || !p->receiver) return false;
    Waiter* w = p->receivers.front();
    if (size + w->trailer_size > w->rcv_limit) return false;
    IpcSpace& rs = *p->receiver;
    // The copy runs on the sender's side, where the task range holds the sender's
    // regions: a receiver's buffer there is the receiver's only in the same task.
    // (Checked for the largest message this path takes: one comparison.)
    if (machine::AddressSpace::touches_range(w->umsg, kMaxSize + MAX_TRAILER_SIZE) && &rs != &space) return false;
    mach_port_name_t rname = MACH_PORT_NULL;
    Entry* rentry = nullptr;
    if (re && !(rentry = rs.allocate(rname))) return false;
    auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
    const mach_msg_header_t sent = *h;  // restored if the copy-out fails
    mach_port_name_t dest = h->msgh_remote_port;
    bool once = MACH_MSGH_BITS_REMOTE(h->msgh_bits) == MACH_MSG_TYPE_MOVE_SEND_ONCE;
    uint8_t dest_type = once ? MACH_MSG_TYPE_PORT_SEND_ONCE : MACH_MSG_TYPE_PORT_SEND;
    put_header_words(h, MACH_MSGH_BITS(re ? MACH_MSG_TYPE_PORT_SEND_ONCE : 0, dest_type), size, rname,
                     p->receiver_name);
    put_trailer(buf, size, w->trailer_size, p->seqno, space.task_id());
    if (!machine::copy_user(w->umsg, buf, size + w->trailer_size)) {
        if (rentry) rs.release_name(rname);
        *h = sent;  // the caller queues the message as it was sent
        return false;
    }
    // Committed: the message is received.
    p->receivers.pop_front();
    w->queue = nullptr;
    ++p->seqno;
    if (once) {  // the send-once right is spent by this delivery; a copied send right is made and spent at once
        de->type = 0;
        de->object = nullptr;
        de->urefs = 0;
        space.release_name(dest);
        --p->sorights;
        p->unref();
    }
    if (rentry) {
        rentry->type = MACH_PORT_TYPE_SEND_ONCE;
        rentry->urefs = 1;
        rentry->object = make_send_once(re->port()).port;
    }
    ++env.next_msg;  // message numbers stay what the general path would give
    w->delivered = true;
    w->msg = nullptr;
    self.handoff = w->ctx;
    env.sched.wake(w->ctx, MACH_MSG_SUCCESS);
    return true;
}

// Gives an unused kernel message back to the pool, when one of try_send's guards fails.
[[gnu::noinline]] inline Sent give_back(Env& env, KMsg* m) {
    env.msgs.put(m);
    return Sent::no;
}

// Makes a checked, copied-in message ready to queue: the destination right goes
// into it (a copied send right is made, with a reference; a moved send-once right
// leaves the space), a send-once reply right is made, and it is stamped.
[[gnu::always_inline]] inline void stamp(Env& env, IpcSpace& space, KMsg* m, mach_msg_size_t size, Entry* de,
                                         Entry* re, Port* p) {
    auto* h = reinterpret_cast<mach_msg_header_t*>(m->inline_data());
    if (MACH_MSGH_BITS_REMOTE(h->msgh_bits) == MACH_MSG_TYPE_COPY_SEND) {
        ++p->srights;
        p->ref();
        m->dest_type = MACH_MSG_TYPE_PORT_SEND;
    } else {
        de->type = 0;
        de->object = nullptr;
        de->urefs = 0;
        space.release_name(h->msgh_remote_port);
        m->dest_type = MACH_MSG_TYPE_PORT_SEND_ONCE;
    }
    if (re) m->reply = make_send_once(re->port());
    m->dest = p;
    m->size = size;
    h->msgh_size = size;
    m->sender_task = space.task_id();
    m->number = ++env.next_msg;
}

// try_send's end when a receiver waits on p or its set: straight into the
// receiver's buffer if it can, else queued and handed over as the general path
// would. Out of line: one-way traffic mostly finds nobody waiting.
[[gnu::noinline]] inline Sent send_to_waiting(Env& env, IpcSpace& space, Waiter& self, KMsg* m,
                                              mach_msg_size_t size, Entry* de, Entry* re, Port* p) {
    if (!p->receivers.empty() && deliver_direct(env, space, self, reinterpret_cast<char*>(m->inline_data()), size,
                                                de, re, p)) {
        env.msgs.put(m);
        return Sent::yes;
    }
    stamp(env, space, m, size, de, re, p);  // nothing can fail from here on
    post(env, p, m, &self);  // a receiver on the set, or one whose buffer is too small
    return Sent::yes;
}

}  // namespace detail

// Whether the fast path may run: it is on, and no trace sink listens (every
// trace is the general path's). try_send and try_receive assume it.
inline bool allowed(const Env& env) { return env.fast_path && !env.trace.active(); }

// Copies in and delivers a simple message. Forced inline into its callers
// (sys_msg.cpp): out of line it would save and restore six registers per message.
[[gnu::always_inline]] inline Sent try_send(Env& env, IpcSpace& space, Waiter& self, const mach_msg_header_t* umsg,
                                            mach_msg_size_t size, KMsg*& out) {
    if (size - sizeof(mach_msg_header_t) > kMaxSize - sizeof(mach_msg_header_t) || (size & 3)) return Sent::no;
    // The message is copied in once, into the kernel message it travels in if it is
    // queued; delivered straight into a waiting receiver's buffer, that one goes back
    // to the pool unused.
    KMsg* m = env.msgs.get(size + MAX_TRAILER_SIZE);
    auto* h = reinterpret_cast<mach_msg_header_t*>(m->inline_data());
    if (!machine::copy_user(h, umsg, size)) return detail::give_back(env, m);
    mach_msg_bits_t bits = h->msgh_bits;
    mach_msg_type_name_t rdisp = MACH_MSGH_BITS_REMOTE(bits);
    mach_msg_type_name_t ldisp = MACH_MSGH_BITS_LOCAL(bits);
    mach_port_name_t dest = h->msgh_remote_port, reply = h->msgh_local_port;
    if ((bits & ~(MACH_MSGH_BITS_REMOTE_MASK | MACH_MSGH_BITS_LOCAL_MASK)) != 0 ||
        (rdisp != MACH_MSG_TYPE_COPY_SEND && rdisp != MACH_MSG_TYPE_MOVE_SEND_ONCE) ||
        (ldisp == 0 ? reply != MACH_PORT_NULL : ldisp != MACH_MSG_TYPE_MAKE_SEND_ONCE || reply == dest))
        return detail::give_back(env, m);
    Entry* de = space.find(dest);
    if (!de || !(rdisp == MACH_MSG_TYPE_COPY_SEND ? de->has(MACH_PORT_TYPE_SEND)
                                                 : de->type == MACH_PORT_TYPE_SEND_ONCE))
        return detail::give_back(env, m);
    Port* p = de->port();
    if (!p->active || p->kobject_kind != KobjectKind::None) return detail::give_back(env, m);
    Entry* re = nullptr;
    if (ldisp) {
        re = space.find(reply);
        if (!re || !re->has(MACH_PORT_TYPE_RECEIVE)) return detail::give_back(env, m);
    }
    self.handoff = nullptr;
    const bool full = rdisp != MACH_MSG_TYPE_MOVE_SEND_ONCE && p->full();  // nobody waits to receive then
    if (__builtin_expect(!full && (!p->receivers.empty() || p->set), 0))
        return detail::send_to_waiting(env, space, self, m, size, de, re, p);
    detail::stamp(env, space, m, size, de, re, p);  // nothing can fail from here on
    if (__builtin_expect(full, 0)) {
        out = m;
        return Sent::queue_full;
    }
    p->queue.push_back(m);
    return Sent::yes;
}

namespace detail {

// try_copyout once the fast path is known to be on (no trace sink listens).
[[gnu::always_inline]] inline bool copyout_simple(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg, mach_msg_size_t trailer) {
    Env& env = space.env();
    Carried& reply = m->reply;
    if (m->complex || reply.dead ||
        (reply.port && (reply.type != MACH_MSG_TYPE_PORT_SEND_ONCE || !reply.port->active)))
        return false;
    Port* dest = m->dest;
    mach_port_name_t remote = MACH_PORT_NULL;
    Entry* re = nullptr;
    if (reply.port && !(re = space.allocate(remote))) return false;
    uint8_t* data = m->data();
    // 64 bits wide on purpose: put_header_words shifts it into a word's upper half,
    // and GCC, when it spills a 32-bit value for that, reloads it 64 bits wide: a
    // load its 4-byte store cannot forward to, a stall on every message.
    const uint64_t size = m->size;
    put_header_words(data, MACH_MSGH_BITS(reply.type, m->dest_type), size, remote,
                     dest->receiver == &space ? dest->receiver_name : MACH_PORT_NULL);
    put_trailer_word(data + size, trailer);
    if (trailer > sizeof(mach_msg_trailer_t)) write_trailer_elements(m, trailer);
    if (!machine::copy_user(umsg, data, size + trailer)) {
        if (re) space.release_name(remote);
        return false;  // the general path destroys it and reports the bad buffer
    }
    if (re) {  // the send-once right and its reference move into the entry
        re->type = MACH_PORT_TYPE_SEND_ONCE;
        re->urefs = 1;
        re->object = reply.port;
        reply = {};
    }
    m->dest = nullptr;
    spend_destination(env, dest, m->dest_type);
    env.msgs.put(m);
    return true;
}

}  // namespace detail

// Copies a simple received message out: no descriptors, and no reply right or
// a send-once one. True: done and m consumed. False: nothing happened.
inline bool try_copyout(IpcSpace& space, KMsg* m, mach_msg_header_t* umsg, mach_msg_size_t trailer) {
    if (!allowed(space.env())) return false;
    return detail::copyout_simple(space, m, umsg, trailer);
}

// Receives the message at the head of a port's queue when it is simple and
// fits. True: received (MACH_MSG_SUCCESS). False: nothing happened.
[[gnu::always_inline]] inline bool try_receive(IpcSpace& space, mach_msg_header_t* umsg, mach_msg_size_t rcv_size,
                                               mach_port_name_t rcv_name, mach_msg_option_t option) {
    Env& env = space.env();
    Entry* e = space.find(rcv_name);
    if (!e || !e->has(MACH_PORT_TYPE_RECEIVE)) return false;
    Port* p = e->port();
    KMsg* m = p->queue.front();
    mach_msg_size_t trailer = requested_trailer_size(option);
    if (!m || p->set || m->size + trailer > rcv_size) return false;
    p->queue.pop_front();
    m->seqno = p->seqno++;
    if (!detail::copyout_simple(space, m, umsg, trailer)) {  // put it back as it was
        p->queue.push_front(m);
        --p->seqno;
        return false;
    }
    if (!p->senders.empty()) admit_senders(env, p);
    return true;
}

}  // namespace machsim::ipc::fast
