#include "ports/mqueue.h"

#include <cstddef>
#include <cstring>

#include "kernel/machine/usercopy.h"
#include "ports/env.h"
#include "ports/msg_copy.h"
#include "ports/rights.h"

namespace machsim::ipc {

namespace {

WaitList& receivers_of(Port* p) { return p->set ? p->set->receivers : p->receivers; }

void enqueue(Env& env, Port* p, KMsg* m) {
    p->queue.push_back(m);
    if (p->set && !p->ready_hook.linked()) p->set->ready.push_back(p);
    MS_TRACE(env.trace, Event{.kind = EventKind::Enqueue,
                              .port = p->id(),
                              .msg = m->number,
                              .after = static_cast<uint32_t>(p->queue.size())});
}

// Takes the head message off p: stamps its seqno, keeps the set's round robin,
// and lets a blocked sender in.
KMsg* dequeue(Env& env, Port* p) {
    KMsg* m = p->queue.pop_front();
    m->seqno = p->seqno++;
    if (PortSet* s = p->set) {
        s->ready.remove(p);
        if (!p->queue.empty()) s->ready.push_back(p);  // no member starves
    }
    MS_TRACE(env.trace, Event{.kind = EventKind::Dequeue,
                              .port = p->id(),
                              .msg = m->number,
                              .after = static_cast<uint32_t>(p->queue.size()),
                              .extra = m->seqno});
    admit_senders(env, p);
    return m;
}

// Gives m to waiter w, which was taken off its wait list.
void hand_over(Env& env, Port* p, KMsg* m, Waiter* w) {
    w->msg = m;
    MS_TRACE(env.trace, Event{.kind = EventKind::Handoff,
                              .port = p->id(),
                              .msg = m->number,
                              .extra = w->ctx->trace_thread});
    env.sched.wake(w->ctx, MACH_MSG_SUCCESS);
}

bool too_large_for(const Waiter* w, const KMsg* m) {
    return (w->option & MACH_RCV_LARGE) && m->size + w->trailer_size > w->rcv_limit;
}

void on_timeout(machine::Context* c) {
    Waiter* w = static_cast<Waiter*>(c->wait_object);
    w->queue->remove(w);
    w->queue = nullptr;
    MS_TRACE(w->env->trace, Event{.kind = EventKind::Timer,
                                  .extra = c->trace_thread,
                                  .text = w->sending ? "send timeout" : "receive timeout"});
    w->env->sched.wake(c, w->sending ? MACH_SEND_TIMED_OUT : MACH_RCV_TIMED_OUT);
}

// thread_abort or termination: the call returns MACH_SEND_INTERRUPTED or MACH_RCV_INTERRUPTED.
void on_abort(machine::Context* c) {
    Waiter* w = static_cast<Waiter*>(c->wait_object);
    abort_wait(*w, w->sending ? MACH_SEND_INTERRUPTED : MACH_RCV_INTERRUPTED);
}

// Waits in q until someone ends the wait; returns the result they gave.
[[gnu::always_inline]] inline mach_msg_return_t wait_on(Env& env, Waiter& self, WaitList& q, IpcObject* on,
                                                        bool sending, mach_msg_option_t option,
                                                        mach_msg_timeout_t timeout, mach_port_name_t name,
                                                        uint32_t space) {
    // A signal waits for this thread: it leaves the kernel to take it; the call restarts (or not) as an abort.
    if (__builtin_expect(self.ctx->wait_interrupted(), 0)) return sending ? MACH_SEND_INTERRUPTED : MACH_RCV_INTERRUPTED;
    self.queue = &q;
    self.on = on;
    self.sending = sending;
    q.push_back(&self);
    if (option & (sending ? MACH_SEND_TIMEOUT : MACH_RCV_TIMEOUT))
        env.sched.arm_timer(self.ctx, env.clock.now() + uint64_t{timeout} * kTicksPerMs, on_timeout);
    MS_TRACE(env.trace, Event{.kind = EventKind::Block,
                              .port = on->id(),
                              .space = space,
                              .name = name,
                              .text = sending ? "send" : "receive"});
    machine::Context* prefer = self.handoff;
    self.handoff = nullptr;
    self.ctx->abort_wait = on_abort;
    return env.sched.block(prefer);
}

mach_msg_return_t too_large_kept(Env& env, mach_msg_header_t* umsg, mach_msg_size_t size) {
    if (!machine::copy_user(reinterpret_cast<char*>(umsg) + offsetof(mach_msg_header_t, msgh_size), &size,
                            sizeof size))
        return fail(env, MACH_RCV_INVALID_DATA, "receive buffer is not writable");
    return fail(env, MACH_RCV_TOO_LARGE, "the next message needs {} bytes plus the trailer; it stays queued",
                size);
}

}  // namespace

void post(Env& env, Port* p, KMsg* m, Waiter* sender) {
    WaitList& rl = receivers_of(p);
    // A receiver whose buffer is too small and who asked for MACH_RCV_LARGE is told the
    // size, and the message goes on to the next receiver waiting (as in XNU's ipc_mqueue_post).
    while (!rl.empty() && p->queue.empty()) {
        Waiter* w = rl.pop_front();
        w->queue = nullptr;
        if (too_large_for(w, m)) {
            w->needed = m->size;
            env.sched.wake(w->ctx, MACH_RCV_TOO_LARGE);
            continue;
        }
        m->seqno = p->seqno++;  // it leaves the port now
        if (sender) sender->handoff = w->ctx;
        hand_over(env, p, m, w);
        return;
    }
    enqueue(env, p, m);
}

void admit_senders(Env& env, Port* p) {
    while (!p->senders.empty() && !p->full()) {
        Waiter* w = p->senders.pop_front();
        w->queue = nullptr;
        KMsg* m = w->msg;
        w->msg = nullptr;
        post(env, p, m, nullptr);
        env.sched.wake(w->ctx, MACH_MSG_SUCCESS);
    }
}

void serve_waiting_receivers(Env& env, Port* p) {
    PortSet* s = p->set;
    while (s && !s->receivers.empty() && !p->queue.empty()) {
        Waiter* w = s->receivers.pop_front();
        w->queue = nullptr;
        if (too_large_for(w, p->queue.front())) {
            w->needed = p->queue.front()->size;
            env.sched.wake(w->ctx, MACH_RCV_TOO_LARGE);
            continue;
        }
        hand_over(env, p, dequeue(env, p), w);
    }
}

mach_msg_return_t send_message(Env& env, KMsg* m, Waiter& self, mach_msg_option_t option,
                               mach_msg_timeout_t timeout) {
    Port* p = m->dest;
    self.handoff = nullptr;
    if (__builtin_expect(m->circular, 0)) {
        msg_destroy(env, m, "it carried a receive right into its own queue");
        return MACH_MSG_SUCCESS;
    }
    if (__builtin_expect(p->kobject_kind != KobjectKind::None, 0)) {
        env.kobject_server(env, m, env.kobject_ctx);
        return MACH_MSG_SUCCESS;
    }
    if (p->full() && m->dest_type != MACH_MSG_TYPE_PORT_SEND_ONCE) {
        if ((option & MACH_SEND_TIMEOUT) && timeout == 0)
            return fail(env, MACH_SEND_TIMED_OUT, "queue of P{} is full ({} of {})", p->id(), p->queue.size(),
                        p->qlimit);
        self.msg = m;
        mach_msg_return_t mr =
            wait_on(env, self, p->senders, p, true, option, timeout, m->header()->msgh_remote_port, m->sender_task);
        self.msg = nullptr;
        return mr;  // SUCCESS: admitted, or destroyed with its port; else still ours
    }
    post(env, p, m, &self);
    return MACH_MSG_SUCCESS;
}

mach_msg_return_t receive_message(IpcSpace& space, Waiter& self, mach_msg_header_t* umsg,
                                  mach_msg_size_t rcv_size, mach_port_name_t rcv_name,
                                  mach_msg_option_t option, mach_msg_timeout_t timeout) {
    Env& env = space.env();
    Entry* e = space.lookup(rcv_name);
    if (!e) return fail(env, MACH_RCV_INVALID_NAME, "{:#x} names nothing in this task", rcv_name);
    Port* direct = nullptr;
    PortSet* set = nullptr;
    if (e->has(MACH_PORT_TYPE_RECEIVE)) {
        direct = e->port();
        if (direct->set)
            return fail(env, MACH_RCV_IN_SET, "{:#x} is in port set {:#x}; receive from the set", rcv_name,
                        direct->set->name);
    } else if (e->has(MACH_PORT_TYPE_PORT_SET)) {
        set = e->set();
    } else {
        return fail(env, MACH_RCV_INVALID_NAME, "{:#x} is not a receive right or a port set", rcv_name);
    }
    mach_msg_size_t trailer = requested_trailer_size(option);
    KMsg* m;
    Port* p = direct ? direct : set->ready.front();
    if (p && !p->queue.empty()) {
        KMsg* head = p->queue.front();
        if ((option & MACH_RCV_LARGE) && head->size + trailer > rcv_size) return too_large_kept(env, umsg, head->size);
        m = dequeue(env, p);
    } else {
        if ((option & MACH_RCV_TIMEOUT) && timeout == 0) return MACH_RCV_TIMED_OUT;
        self.umsg = umsg;
        self.option = option;
        self.rcv_limit = rcv_size;
        self.trailer_size = trailer;
        self.msg = nullptr;
        IpcObject* on = direct ? static_cast<IpcObject*>(direct) : set;
        mach_msg_return_t mr = wait_on(env, self, direct ? direct->receivers : set->receivers, on, false, option,
                                       timeout, rcv_name, space.task_id());
        m = self.msg;
        self.msg = nullptr;
        if (self.delivered) {  // a sender's fast path already copied it out for us
            self.delivered = false;
            return MACH_MSG_SUCCESS;
        }
        if (mr == MACH_RCV_TOO_LARGE) return too_large_kept(env, umsg, self.needed);
        if (mr != MACH_MSG_SUCCESS) return mr;
    }
    if (m->size + trailer > rcv_size) return return_header_only(space, m, umsg, rcv_size);
    return copyout_message(space, m, umsg, option);
}

namespace {

// Builds a kernel message to `dest` (consumed); null when dest cannot take one.
KMsg* kernel_message(Env& env, Carried& dest, mach_msg_id_t id, const void* body, uint32_t body_size, bool complex) {
    if (!dest.port || !dest.port->active || dest.port->kobject_kind != KobjectKind::None) {
        carried_release(env, dest);
        return nullptr;
    }
    uint32_t size = static_cast<uint32_t>(sizeof(mach_msg_header_t)) + body_size;
    KMsg* m = env.msgs.get(size + MAX_TRAILER_SIZE);
    mach_msg_header_t* h = m->header();
    *h = mach_msg_header_t{};
    h->msgh_bits = MACH_MSGH_BITS(dest.type, 0) | (complex ? MACH_MSGH_BITS_COMPLEX : 0);
    h->msgh_size = size;
    h->msgh_id = id;
    if (body_size) std::memcpy(m->data() + sizeof(mach_msg_header_t), body, body_size);
    m->size = size;
    m->number = ++env.next_msg;
    m->sender_task = 0;  // the kernel
    m->complex = complex;
    m->dest = dest.port;
    m->dest_type = dest.type;
    dest = {};
    MS_TRACE(env.trace, Event{.kind = EventKind::Send,
                              .port = m->dest->id(),
                              .msg = m->number,
                              .code = id,
                              .before = size,
                              .extra = 1});  // composed by the kernel, on behalf of the acting thread
    return m;
}

}  // namespace

void kernel_send(Env& env, Carried& dest, mach_msg_id_t id, const void* body, uint32_t body_size) {
    if (KMsg* m = kernel_message(env, dest, id, body, body_size, false)) post(env, m->dest, m, nullptr);
}

void kernel_send_complex(Env& env, Carried& dest, mach_msg_id_t id, const void* body, uint32_t body_size,
                         BodyItem item) {
    KMsg* m = kernel_message(env, dest, id, body, body_size, true);
    if (!m) {
        carried_release(env, item.right);
        return;
    }
    m->items.push_back(std::move(item));
    post(env, m->dest, m, nullptr);
}

bool kernel_send_request(Env& env, Carried& dest, Carried& reply, mach_msg_id_t id, const void* body,
                         uint32_t body_size, BodyItem* items, std::size_t n_items) {
    KMsg* m = kernel_message(env, dest, id, body, body_size, n_items > 0);
    if (!m) {
        carried_release(env, reply);
        for (std::size_t i = 0; i < n_items; ++i) carried_release(env, items[i].right);
        return false;
    }
    m->header()->msgh_bits |= MACH_MSGH_BITS(0, reply.type);
    m->reply = reply;
    reply = {};
    for (std::size_t i = 0; i < n_items; ++i) m->items.push_back(std::move(items[i]));
    post(env, m->dest, m, nullptr);
    return true;
}

mach_msg_return_t kernel_receive(Env& env, Waiter& self, Port* p, KMsg** out) {
    if (!p->queue.empty()) {
        *out = dequeue(env, p);
        return MACH_MSG_SUCCESS;
    }
    self.umsg = nullptr;
    self.option = 0;
    self.rcv_limit = ~mach_msg_size_t{0};
    self.trailer_size = 0;
    self.msg = nullptr;
    mach_msg_return_t mr = wait_on(env, self, p->receivers, p, false, 0, 0, MACH_PORT_NULL, 0);
    *out = self.msg;
    self.msg = nullptr;
    return *out ? MACH_MSG_SUCCESS : (mr == MACH_MSG_SUCCESS ? MACH_RCV_PORT_DIED : mr);
}

void abort_wait(Waiter& w, mach_msg_return_t result) {
    if (!w.queue) return;
    w.queue->remove(&w);
    w.queue = nullptr;
    w.env->sched.wake(w.ctx, result);
}

}  // namespace machsim::ipc
