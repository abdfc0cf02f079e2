#include "ports/rights.h"

#include <cstring>

#include "mach/notify.h"
#include "ports/env.h"
#include "ports/mqueue.h"
#include "ports/notify.h"

namespace machsim::ipc {

namespace {

constexpr mach_port_type_t kSend = MACH_PORT_TYPE_SEND;
constexpr mach_port_type_t kReceive = MACH_PORT_TYPE_RECEIVE;
constexpr mach_port_type_t kSendOnce = MACH_PORT_TYPE_SEND_ONCE;
constexpr mach_port_type_t kPortSet = MACH_PORT_TYPE_PORT_SET;
constexpr mach_port_type_t kDead = MACH_PORT_TYPE_DEAD_NAME;

void trace_right(IpcSpace& space, EventKind kind, mach_port_name_t name, uint32_t port, uint32_t before,
                 uint32_t after, uint32_t extra, const char* text = nullptr) {
    MS_TRACE(space.env().trace, Event{.kind = kind,
                                      .port = port,
                                      .space = space.task_id(),
                                      .name = name,
                                      .before = before,
                                      .after = after,
                                      .extra = extra,
                                      .text = text});
}

constexpr mach_port_type_t kRights = MACH_PORT_TYPE_ALL_RIGHTS;

// The entry no longer holds anything: forget it and free the name. A dead-name
// request on it becomes a port-deleted notification (R10).
// Callers may already have stripped the right bits from e.type, so the entry's
// object, not its type, says whether a port is being let go.
void clear_entry(IpcSpace& space, mach_port_name_t name, Entry& e) {
    if (e.object && e.object->kind() == ObjectKind::Port) {
        Port* p = e.port();
        if (space.name_for(p) == name) space.forget(p);  // send and receive names are in the reverse map
        if (e.type & MACH_PORT_TYPE_DNREQUEST) {
            e.type &= ~MACH_PORT_TYPE_DNREQUEST;
            fire_port_deleted(space, name, p);
        }
    }
    e.object = nullptr;
    e.type = 0;
    e.urefs = 0;
    space.release_name(name);
}

// The receive right leaves its space (moved or destroyed). Threads of the
// space blocked receiving on it give up with MACH_RCV_PORT_DIED.
void detach_receiver(Env& env, Port* p) {
    if (p->set) leave_set(p);
    while (Waiter* w = p->receivers.pop_front()) {
        w->queue = nullptr;
        env.sched.wake(w->ctx, MACH_RCV_PORT_DIED);
    }
    p->receiver = nullptr;
    p->receiver_name = MACH_PORT_NULL;
}

// Drops the send right held by entry e (all its urefs).
void drop_send(IpcSpace& space, mach_port_name_t name, Entry& e) {
    Port* p = e.port();
    e.type &= ~kSend;
    e.urefs = 0;
    if (!(e.type & kRights)) {
        clear_entry(space, name, e);
        release_send(space.env(), p);
    } else {
        --p->srights;  // the entry keeps its reference for the receive right
        send_rights_lowered(space.env(), p);
    }
}

void drop_send_once(IpcSpace& space, mach_port_name_t name, Entry& e) {
    Port* p = e.port();
    clear_entry(space, name, e);
    release_send_once(space.env(), p);
}

// Destroys the receive right held by entry e; send rights under the name stay (and go dead).
void drop_receive(IpcSpace& space, mach_port_name_t name, Entry& e) {
    Port* p = e.port();
    e.type &= ~kReceive;
    if (!(e.type & kRights)) {
        clear_entry(space, name, e);  // the entry's reference passes to port_destroy
    } else {
        p->ref();  // the entry keeps one for its send right; port_destroy consumes this one
    }
    detach_receiver(space.env(), p);
    port_destroy(space.env(), p);
}

// Fills entry e (already allocated under `name`) with carried right c, or merges c
// into the rights e already holds for the same port. Consumes c.
void fill_entry(IpcSpace& space, mach_port_name_t name, Entry& e, Carried& c) {
    Port* p = c.port;
    uint32_t before = e.urefs;
    bool merge = e.type != 0;  // e already names p (send and/or receive)
    switch (c.type) {
    case MACH_MSG_TYPE_PORT_SEND:
        if (merge && e.has(kSend)) {
            if (e.urefs < MACH_PORT_UREFS_MAX) ++e.urefs;
            --p->srights;  // the entry counts once however many urefs it holds
        } else {
            e.type |= kSend;
            e.urefs = 1;
        }
        space.remember(p, name);
        break;
    case MACH_MSG_TYPE_PORT_SEND_ONCE:
        e.type = kSendOnce;
        e.urefs = 1;
        break;
    case MACH_MSG_TYPE_PORT_RECEIVE:
        e.type |= kReceive;
        space.remember(p, name);
        p->receiver = &space;
        p->receiver_name = name;
        p->last_holder = space.task_id();
        if (p->destination) {
            p->destination->unref();
            p->destination = nullptr;
        }
        break;
    default: MS_ASSERT(false, "filling an entry with right type {}", c.type);
    }
    if (merge) {
        p->unref();  // the entry already holds a reference
    } else {
        e.object = p;
    }
    trace_right(space, EventKind::RightCopyOut, name, p->id(), before, e.urefs, c.type);
    c = {};
}

}  // namespace

// --- objects ---------------------------------------------------------------

Port* port_create(Env& env, uint32_t creator) {
    Port* p = new Port(++env.next_object);
    p->created_by = creator;
    p->last_holder = creator;
    p->registry = &env.ports;
    env.ports.push_back(p);
    return p;
}

Port::~Port() {
    MS_ASSERT(queue.empty() && receivers.empty() && senders.empty() && !set,
              "P{} freed while still in use", id());
    MS_ASSERT(srights == 0 && sorights == 0, "P{} freed with {} send and {} send-once rights", id(), srights,
              sorights);
    MS_ASSERT(!pdrequest.port && !nsrequest.port && dnrequests.empty(), "P{} freed with notification requests", id());
    if (registry) registry->remove(this);
}

PortSet::~PortSet() { MS_ASSERT(members.empty() && ready.empty() && receivers.empty(), "set P{} freed in use", id()); }

PortSet* set_create(Env& env) { return new PortSet(++env.next_object); }

void port_destroy(Env& env, Port* p) {
    MS_ASSERT(p->active, "P{} destroyed twice", p->id());
    detach_receiver(env, p);
    if (divert_to_port_destroyed(env, p)) return;  // R11: the receive right went to its backup
    p->active = false;
    // Traced here, before what the death sets off (dead-name notifications, destroyed
    // messages, released senders); nothing can be queued on a dead port, so the count holds.
    MS_TRACE(env.trace, Event{.kind = EventKind::PortDestroy,
                              .port = p->id(),
                              .before = static_cast<uint32_t>(p->queue.size())});
    fire_dead_name_requests(env, p);  // R9
    // Blocked senders: their messages are destroyed and their sends report success (R7, R29).
    while (Waiter* w = p->senders.pop_front()) {
        w->queue = nullptr;
        KMsg* m = w->msg;
        w->msg = nullptr;
        msg_destroy(env, m, "its destination died while the sender waited");
        env.sched.wake(w->ctx, MACH_MSG_SUCCESS);
    }
    while (KMsg* m = p->queue.pop_front()) msg_destroy(env, m, "its port died");
    p->unref();
}

void set_destroy(Env& env, PortSet* s) {
    s->active = false;
    while (Port* p = s->members.front()) leave_set(p);
    while (Waiter* w = s->receivers.pop_front()) {
        w->queue = nullptr;
        env.sched.wake(w->ctx, MACH_RCV_PORT_DIED);
    }
    s->unref();
}

void join_set(Env& env, Port* p, PortSet* s) {
    p->set = s;
    s->members.push_back(p);
    // Threads receiving on the port itself must now use the set (GNU Mach).
    while (Waiter* w = p->receivers.pop_front()) {
        w->queue = nullptr;
        env.sched.wake(w->ctx, MACH_RCV_PORT_CHANGED);
    }
    if (!p->queue.empty()) {
        s->ready.push_back(p);
        serve_waiting_receivers(env, p);
    }
}

void leave_set(Port* p) {
    PortSet* s = p->set;
    s->members.remove(p);
    if (p->ready_hook.linked()) s->ready.remove(p);
    p->set = nullptr;
}

// --- rights in transit -----------------------------------------------------

Carried make_send(Port* p) {
    ++p->mscount;
    ++p->srights;
    p->ref();
    return {p, MACH_MSG_TYPE_PORT_SEND, false};
}

Carried make_send_once(Port* p) {
    ++p->sorights;
    p->ref();
    return {p, MACH_MSG_TYPE_PORT_SEND_ONCE, false};
}

Carried copy_send(Port* p) {
    MS_ASSERT(p->srights > 0, "P{}: copying a send right nobody holds", p->id());
    ++p->srights;
    p->ref();
    return {p, MACH_MSG_TYPE_PORT_SEND, false};
}

// A send-once right yields exactly one message (R16): dropped unused, it
// carries a send-once notification to its port instead.
void release_send_once(Env& env, Port* p) {
    MS_ASSERT(p->sorights > 0, "P{}: send-once right count underflow", p->id());
    if (p->active && p->kobject_kind == KobjectKind::None) {
        Carried right{p, MACH_MSG_TYPE_PORT_SEND_ONCE, false};
        NDR_record_t ndr = MACHSIM_NDR_NATIVE;
        kernel_send(env, right, MACH_NOTIFY_SEND_ONCE, &ndr, sizeof ndr);  // the right becomes its destination
        return;
    }
    --p->sorights;
    p->unref();
}

void carried_release(Env& env, Carried& c) {
    Port* p = c.port;
    uint8_t type = c.type;
    c = {};
    if (!p) return;
    switch (type) {
    case MACH_MSG_TYPE_PORT_SEND: release_send(env, p); break;
    case MACH_MSG_TYPE_PORT_SEND_ONCE: release_send_once(env, p); break;
    case MACH_MSG_TYPE_PORT_RECEIVE:
        if (p->destination) {
            p->destination->unref();
            p->destination = nullptr;
        }
        port_destroy(env, p);
        break;
    default: MS_ASSERT(false, "carried right of type {}", type);
    }
}

namespace {

void trace_destroy(Env& env, const KMsg* m, const char* why) {
    MS_TRACE(env.trace, Event{.kind = EventKind::MsgDestroy,
                              .port = m->dest ? m->dest->id() : 0,
                              .msg = m->number,
                              .text = why});
}

// Destroys every right m carries besides its destination, and m itself.
void release_contents(Env& env, KMsg* m) {
    carried_release(env, m->reply);
    for (BodyItem& item : m->items) {
        carried_release(env, item.right);
        for (Carried& c : item.rights) carried_release(env, c);
    }
    env.msgs.put(m);
}

}  // namespace

void msg_destroy(Env& env, KMsg* m, const char* why) {
    trace_destroy(env, m, why);
    Carried dest{m->dest, m->dest_type, false};
    m->dest = nullptr;
    carried_release(env, dest);
    release_contents(env, m);
}

void msg_consume(Env& env, KMsg* m) {
    Port* dest = m->dest;
    m->dest = nullptr;
    spend_destination(env, dest, m->dest_type);
    release_contents(env, m);
}

void msg_discard(Env& env, KMsg* m, const char* why) {
    trace_destroy(env, m, why);
    msg_consume(env, m);
}

// --- names -> rights ---------------------------------------------------------

kern_return_t copyin_check(IpcSpace& space, mach_port_name_t name, mach_msg_type_name_t disp) {
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    return copyin_allowed(*e, disp);
}

Carried copyin(IpcSpace& space, mach_port_name_t name, mach_msg_type_name_t disp) {
    Entry* e = space.lookup(name);
    MS_ASSERT(e, "copyin of {:#x} without a successful copyin_check", name);
    return copyin_entry(space, name, *e, disp);
}

Carried copyin_entry(IpcSpace& space, mach_port_name_t name, Entry& e, mach_msg_type_name_t disp) {
    uint32_t before = e.urefs;
    bool moves = e.has(kDead) ? disp != MACH_MSG_TYPE_COPY_SEND
                              : disp == MACH_MSG_TYPE_MOVE_SEND || disp == MACH_MSG_TYPE_MOVE_SEND_ONCE;
    // Traced first: letting go of the name may send a port-deleted notification or wake
    // receivers, and the trace shows the cause before what it sets off.
    MS_TRACE(space.env().trace, Event{.kind = EventKind::RightCopyIn,
                                      .port = e.has(kDead) ? 0 : e.port()->id(),
                                      .space = space.task_id(),
                                      .name = name,
                                      .before = before,
                                      .after = moves ? before - 1 : before,
                                      .extra = disp});
    Carried c{};
    if (e.has(kDead)) {  // a dead name travels as MACH_PORT_DEAD (R5)
        if (moves && --e.urefs == 0) clear_entry(space, name, e);
        c.dead = true;
        c.type = received_type(disp);
        return c;
    }
    Port* p = e.port();
    switch (disp) {
    case MACH_MSG_TYPE_MOVE_RECEIVE:
        if (e.has(kSend)) {
            e.type &= ~kReceive;
            p->ref();  // the entry keeps one for its send right
        } else {
            clear_entry(space, name, e);  // the entry's reference travels with the right
        }
        detach_receiver(space.env(), p);
        p->reset_for_new_receiver();
        c = {p, MACH_MSG_TYPE_PORT_RECEIVE, false};
        break;
    case MACH_MSG_TYPE_COPY_SEND:
        ++p->srights;
        p->ref();
        c = {p, MACH_MSG_TYPE_PORT_SEND, false};
        break;
    case MACH_MSG_TYPE_MOVE_SEND:
        if (--e.urefs == 0) {
            e.type &= ~kSend;
            if (!(e.type & kRights)) {
                clear_entry(space, name, e);  // the entry's right and reference travel
            } else {
                p->ref();  // the entry keeps one for its receive right
            }
        } else {
            ++p->srights;
            p->ref();
        }
        c = {p, MACH_MSG_TYPE_PORT_SEND, false};
        break;
    case MACH_MSG_TYPE_MAKE_SEND: c = make_send(p); break;
    case MACH_MSG_TYPE_MAKE_SEND_ONCE: c = make_send_once(p); break;
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
        clear_entry(space, name, e);
        c = {p, MACH_MSG_TYPE_PORT_SEND_ONCE, false};
        break;
    default: MS_ASSERT(false, "copyin with disposition {}", disp);
    }
    return c;
}

kern_return_t copyout(IpcSpace& space, Carried& c, mach_port_name_t* name) {
    if (c.dead) {
        *name = MACH_PORT_DEAD;
        c = {};
        return KERN_SUCCESS;
    }
    Port* p = c.port;
    if (!p) {
        *name = MACH_PORT_NULL;
        return KERN_SUCCESS;
    }
    if (!p->active) {  // the port died while the right travelled: it arrives dead
        carried_release(space.env(), c);
        *name = MACH_PORT_DEAD;
        return KERN_SUCCESS;
    }
    mach_port_name_t n = c.type == MACH_MSG_TYPE_PORT_SEND_ONCE ? MACH_PORT_NULL : space.name_for(p);
    Entry* e = n ? space.lookup(n) : space.allocate(n);
    if (!e) return KERN_NO_SPACE;
    fill_entry(space, n, *e, c);
    *name = n;
    return KERN_SUCCESS;
}

void right_became_dead(IpcSpace& space, mach_port_name_t name, Entry& e) {
    Port* p = e.port();
    if (e.has(kSend)) {
        --p->srights;  // the port is dead: no no-senders notification
    } else {
        --p->sorights;
        e.urefs = 1;
    }
    e.type = (e.type & ~MACH_PORT_TYPE_ALL_RIGHTS) | kDead;
    e.object = nullptr;
    space.forget(p);
    trace_right(space, EventKind::DeadName, name, p->id(), e.urefs, e.urefs, 0);
    p->unref();
}

namespace {

// Removes everything under a name (mach_port_destroy, and task death).
void destroy_entry(IpcSpace& space, mach_port_name_t name, Entry& e) {
    if (e.has(kPortSet)) {
        PortSet* s = e.set();
        clear_entry(space, name, e);
        set_destroy(space.env(), s);
        return;
    }
    if (e.has(kDead)) {
        clear_entry(space, name, e);
        return;
    }
    if (e.has(kSendOnce)) {
        drop_send_once(space, name, e);
        return;
    }
    if (e.has(kSend)) drop_send(space, name, e);
    Entry* still = space.lookup(name);
    if (still && still->has(kReceive)) drop_receive(space, name, *still);
}

}  // namespace

void space_destroy(IpcSpace& space) {
    space.deactivate();
    for (mach_port_name_t name : space.names()) {
        Entry* e = space.lookup(name);
        if (e) destroy_entry(space, name, *e);
    }
}

// --- mach_port_* -----------------------------------------------------------

namespace {

// `call` names the call for the trace (a new dead name has no port+ or pset+ line of its own).
kern_return_t fill_new(IpcSpace& space, mach_port_right_t right, mach_port_name_t name, Entry& e, const char* call) {
    Env& env = space.env();
    switch (right) {
    case MACH_PORT_RIGHT_RECEIVE: {
        Port* p = port_create(env, space.task_id());
        e.object = p;
        e.type = kReceive;
        space.remember(p, name);
        p->receiver = &space;
        p->receiver_name = name;
        MS_TRACE(env.trace, Event{.kind = EventKind::PortCreate, .port = p->id(), .space = space.task_id(), .name = name});
        return KERN_SUCCESS;
    }
    case MACH_PORT_RIGHT_PORT_SET: {
        PortSet* s = set_create(env);
        s->space = &space;
        s->name = name;
        e.object = s;
        e.type = kPortSet;
        MS_TRACE(env.trace,
                 Event{.kind = EventKind::PortSetCreate, .port = s->id(), .space = space.task_id(), .name = name});
        return KERN_SUCCESS;
    }
    case MACH_PORT_RIGHT_DEAD_NAME:
        e.type = kDead;
        e.urefs = 1;
        trace_right(space, EventKind::RightChange, name, 0, 0, 1, 0, call);
        return KERN_SUCCESS;
    default: return KERN_INVALID_VALUE;
    }
}

bool allocatable(mach_port_right_t right) {
    return right == MACH_PORT_RIGHT_RECEIVE || right == MACH_PORT_RIGHT_PORT_SET || right == MACH_PORT_RIGHT_DEAD_NAME;
}

}  // namespace

kern_return_t port_allocate(IpcSpace& space, mach_port_right_t right, mach_port_name_t* name) {
    if (!allocatable(right)) return KERN_INVALID_VALUE;
    Entry* e = space.allocate(*name);
    if (!e) return KERN_NO_SPACE;
    return fill_new(space, right, *name, *e, "mach_port_allocate");
}

kern_return_t port_allocate_name(IpcSpace& space, mach_port_right_t right, mach_port_name_t name) {
    if (!allocatable(right)) return KERN_INVALID_VALUE;
    Entry* e = nullptr;
    kern_return_t kr = space.allocate_named(name, e);
    if (kr != KERN_SUCCESS) return kr;
    return fill_new(space, right, name, *e, "mach_port_allocate_name");
}

kern_return_t right_deallocate(IpcSpace& space, mach_port_name_t name) {
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    uint32_t port = e->object && e->object->kind() == ObjectKind::Port ? e->object->id() : 0;
    uint32_t before = e->urefs;
    // Receive rights and port sets are not deallocated (GNU Mach).
    if (!e->has(kSend | kSendOnce | kDead)) return KERN_INVALID_RIGHT;
    // Traced first: dropping the right may send a notification or kill a port, and the trace
    // shows the cause before what it sets off.
    trace_right(space, EventKind::RightChange, name, port, before, before - 1, 0, "mach_port_deallocate");
    if (e->has(kSend)) {
        if (--e->urefs == 0) drop_send(space, name, *e);
    } else if (e->has(kSendOnce)) {
        drop_send_once(space, name, *e);
    } else {
        if (--e->urefs == 0) clear_entry(space, name, *e);
    }
    return KERN_SUCCESS;
}

kern_return_t right_destroy(IpcSpace& space, mach_port_name_t name) {
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    uint32_t port = e->object && e->object->kind() == ObjectKind::Port ? e->object->id() : 0;
    uint32_t before = e->urefs;
    trace_right(space, EventKind::RightChange, name, port, before, 0, 0, "mach_port_destroy");  // cause first
    destroy_entry(space, name, *e);
    return KERN_SUCCESS;
}

namespace {

// New uref count for send and dead-name rights (R4).
kern_return_t adjust_urefs(uint32_t urefs, mach_port_delta_t delta, uint32_t& out) {
    int64_t n = static_cast<int64_t>(urefs) + delta;
    if (n < 0) return KERN_INVALID_VALUE;
    if (n > MACH_PORT_UREFS_MAX) return KERN_UREFS_OVERFLOW;
    out = static_cast<uint32_t>(n);
    return KERN_SUCCESS;
}

}  // namespace

kern_return_t right_mod_refs(IpcSpace& space, mach_port_name_t name, mach_port_right_t right,
                             mach_port_delta_t delta) {
    if (right >= MACH_PORT_RIGHT_NUMBER) return KERN_INVALID_VALUE;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    uint32_t port = e->object && e->object->kind() == ObjectKind::Port ? e->object->id() : 0;
    uint32_t before = e->urefs, after = 0;
    switch (right) {
    case MACH_PORT_RIGHT_RECEIVE:
    case MACH_PORT_RIGHT_SEND_ONCE:
    case MACH_PORT_RIGHT_PORT_SET: {
        mach_port_type_t need = MACH_PORT_TYPE(right);
        if (!e->has(need)) return KERN_INVALID_RIGHT;
        if (delta == 0) return KERN_SUCCESS;
        if (delta != -1) return KERN_INVALID_VALUE;
        // Traced first (dropping the right may kill a port); send urefs under the name stay.
        after = right == MACH_PORT_RIGHT_RECEIVE && e->has(kSend) ? e->urefs : 0;
        trace_right(space, EventKind::RightChange, name, port, before, after, 0, "mach_port_mod_refs");
        if (right == MACH_PORT_RIGHT_RECEIVE) {
            drop_receive(space, name, *e);
        } else if (right == MACH_PORT_RIGHT_SEND_ONCE) {
            drop_send_once(space, name, *e);
        } else {
            PortSet* s = e->set();
            clear_entry(space, name, *e);
            set_destroy(space.env(), s);
        }
        break;
    }
    case MACH_PORT_RIGHT_SEND:
    case MACH_PORT_RIGHT_DEAD_NAME: {
        if (!e->has(MACH_PORT_TYPE(right))) return KERN_INVALID_RIGHT;
        if (kern_return_t kr = adjust_urefs(e->urefs, delta, after); kr != KERN_SUCCESS) return kr;
        trace_right(space, EventKind::RightChange, name, port, before, after, 0, "mach_port_mod_refs");
        if (after > 0) {
            e->urefs = static_cast<uint16_t>(after);
        } else if (right == MACH_PORT_RIGHT_SEND) {
            drop_send(space, name, *e);
        } else {
            clear_entry(space, name, *e);
        }
        break;
    }
    default: return KERN_INVALID_VALUE;  // MACH_PORT_RIGHT_LABELH is obsolete
    }
    return KERN_SUCCESS;
}

kern_return_t right_get_refs(IpcSpace& space, mach_port_name_t name, mach_port_right_t right,
                             mach_port_urefs_t* refs) {
    if (right >= MACH_PORT_RIGHT_NUMBER) return KERN_INVALID_VALUE;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    mach_port_type_t t = MACH_PORT_TYPE(right);
    if (!e->has(t)) {
        *refs = 0;  // R2: a right the name does not hold has zero references
    } else if (right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_DEAD_NAME) {
        *refs = e->urefs;
    } else {
        *refs = 1;
    }
    return KERN_SUCCESS;
}

kern_return_t right_type(IpcSpace& space, mach_port_name_t name, mach_port_type_t* type) {
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    *type = e->type;
    return KERN_SUCCESS;
}

kern_return_t insert_right(IpcSpace& space, mach_port_name_t name, Carried& c) {
    if (!MACH_PORT_VALID(name)) return KERN_INVALID_VALUE;
    if (c.dead || !c.port || !c.port->active) return KERN_INVALID_CAPABILITY;
    Port* p = c.port;
    Entry* e = space.lookup(name);
    if (c.type != MACH_MSG_TYPE_PORT_SEND_ONCE) {
        mach_port_name_t existing = space.name_for(p);
        if (existing != MACH_PORT_NULL && existing != name) return KERN_RIGHT_EXISTS;  // R28
        if (e) {
            if (existing != name) return KERN_NAME_EXISTS;
            if (c.type == MACH_MSG_TYPE_PORT_SEND && e->has(kSend) && e->urefs == MACH_PORT_UREFS_MAX)
                return KERN_UREFS_OVERFLOW;
            fill_entry(space, name, *e, c);
            return KERN_SUCCESS;
        }
    } else if (e) {
        return KERN_NAME_EXISTS;
    }
    Entry* fresh = nullptr;
    if (kern_return_t kr = space.allocate_named(name, fresh); kr != KERN_SUCCESS) return kr;
    fill_entry(space, name, *fresh, c);
    return KERN_SUCCESS;
}

kern_return_t move_member(IpcSpace& space, mach_port_name_t member, mach_port_name_t after) {
    Entry* m = space.lookup(member);
    if (!m) return KERN_INVALID_NAME;
    if (!m->has(kReceive)) return KERN_INVALID_RIGHT;
    Port* p = m->port();
    if (after == MACH_PORT_NULL) {
        if (!p->set) return KERN_NOT_IN_SET;
        leave_set(p);
        return KERN_SUCCESS;
    }
    Entry* a = space.lookup(after);
    if (!a) return KERN_INVALID_NAME;
    if (!a->has(kPortSet)) return KERN_INVALID_RIGHT;
    PortSet* s = a->set();
    if (p->set == s) return KERN_SUCCESS;
    if (p->set) leave_set(p);
    join_set(space.env(), p, s);
    return KERN_SUCCESS;
}

namespace {

// The receive right `member` and the port set `set` of insert_member and
// extract_member, checked in XNU's order: names that cannot name a right, then
// names not in the space, then names holding the wrong right.
kern_return_t member_and_set(IpcSpace& space, mach_port_name_t member, mach_port_name_t set, Port*& p,
                             PortSet*& s) {
    if (!MACH_PORT_VALID(member) || !MACH_PORT_VALID(set)) return KERN_INVALID_RIGHT;
    Entry* m = space.lookup(member);
    Entry* a = space.lookup(set);
    if (!m || !a) return KERN_INVALID_NAME;
    if (!m->has(kReceive) || !a->has(kPortSet)) return KERN_INVALID_RIGHT;
    p = m->port();
    s = a->set();
    return KERN_SUCCESS;
}

}  // namespace

kern_return_t insert_member(IpcSpace& space, mach_port_name_t member, mach_port_name_t set) {
    Port* p = nullptr;
    PortSet* s = nullptr;
    if (kern_return_t kr = member_and_set(space, member, set, p, s); kr != KERN_SUCCESS) return kr;
    // XNU lets a port be in several sets; machsim keeps GNU Mach's one (R21), so a
    // port already in any set is refused, with the code XNU gives for this set.
    if (p->set) return KERN_ALREADY_IN_SET;
    join_set(space.env(), p, s);
    return KERN_SUCCESS;
}

kern_return_t extract_member(IpcSpace& space, mach_port_name_t member, mach_port_name_t set) {
    Port* p = nullptr;
    PortSet* s = nullptr;
    if (kern_return_t kr = member_and_set(space, member, set, p, s); kr != KERN_SUCCESS) return kr;
    if (p->set != s) return KERN_NOT_IN_SET;
    leave_set(p);
    return KERN_SUCCESS;
}

kern_return_t set_members(IpcSpace& space, mach_port_name_t set, std::vector<mach_port_name_t>& members) {
    members.clear();
    if (!MACH_PORT_VALID(set)) return KERN_INVALID_RIGHT;
    Entry* e = space.lookup(set);
    if (!e) return KERN_INVALID_NAME;
    if (!e->has(kPortSet)) return KERN_INVALID_RIGHT;
    e->set()->members.for_each([&](Port* p) { members.push_back(p->receiver_name); });
    return KERN_SUCCESS;
}

// --- mach_port_construct and its kin (XNU) ---------------------------------------------

namespace {

// The MPO_* flags machsim acts on, and those it accepts with no effect (they
// steer XNU's scheduler). The rest ask for guards or filters, not provided.
constexpr uint32_t kConstructActs = MPO_QLIMIT | MPO_INSERT_SEND_RIGHT;
constexpr uint32_t kConstructIgnores = MPO_TEMPOWNER | MPO_IMPORTANCE_RECEIVER | MPO_DENAP_RECEIVER | MPO_TG_BLOCK_TRACKING;

// The port whose receive right `name` holds, checked as XNU's context calls check it.
kern_return_t receive_port(IpcSpace& space, mach_port_name_t name, Port*& p) {
    if (!MACH_PORT_VALID(name)) return KERN_INVALID_RIGHT;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    if (!e->has(kReceive)) return KERN_INVALID_RIGHT;
    p = e->port();
    return KERN_SUCCESS;
}

}  // namespace

kern_return_t port_construct(IpcSpace& space, const mach_port_options_t& options, mach_port_context_t context,
                             mach_port_name_t* name) {
    Env& env = space.env();
    *name = MACH_PORT_NULL;
    if (uint32_t other = options.flags & ~(kConstructActs | kConstructIgnores))
        return fail(env, KERN_INVALID_ARGUMENT, "mach_port_construct: flags {:#x} are not provided (guards, filters)",
                    other);
    mach_port_name_t n = MACH_PORT_NULL;
    Entry* e = space.allocate(n);
    if (!e) return KERN_NO_SPACE;
    (void)fill_new(space, MACH_PORT_RIGHT_RECEIVE, n, *e, "mach_port_construct");
    e->port()->context = context;
    if (options.flags & MPO_QLIMIT) {  // mach_port_set_attributes's rules, as XNU applies them here
        integer_t limits[MACH_PORT_LIMITS_INFO_COUNT];
        std::memcpy(limits, &options.mpl, sizeof options.mpl);
        if (kern_return_t kr = set_attributes(space, n, MACH_PORT_LIMITS_INFO, limits, MACH_PORT_LIMITS_INFO_COUNT);
            kr != KERN_SUCCESS) {
            (void)right_mod_refs(space, n, MACH_PORT_RIGHT_RECEIVE, -1);  // nothing is left behind
            return kr;
        }
    }
    if (options.flags & MPO_INSERT_SEND_RIGHT) {
        Carried c = copyin(space, n, MACH_MSG_TYPE_MAKE_SEND);
        (void)insert_right(space, n, c);  // cannot fail: the name holds this port's receive right alone
    }
    *name = n;
    return KERN_SUCCESS;
}

kern_return_t port_destruct(IpcSpace& space, mach_port_name_t name, mach_port_delta_t srdelta,
                            mach_port_context_t /*guard: no port is guarded*/) {
    if (!MACH_PORT_VALID(name)) return KERN_INVALID_NAME;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    if (!e->has(kReceive)) return KERN_INVALID_RIGHT;
    if (srdelta != 0 && !e->has(kSend)) return KERN_INVALID_RIGHT;
    if (srdelta > 0 || (srdelta < 0 && e->urefs < static_cast<uint32_t>(-static_cast<int64_t>(srdelta))))
        return KERN_INVALID_VALUE;
    // Both steps are mach_port_mod_refs's, checked above so that neither fails.
    if (srdelta < 0) (void)right_mod_refs(space, name, MACH_PORT_RIGHT_SEND, srdelta);
    return right_mod_refs(space, name, MACH_PORT_RIGHT_RECEIVE, -1);
}

kern_return_t get_context(IpcSpace& space, mach_port_name_t name, mach_port_context_t* context) {
    Port* p = nullptr;
    if (kern_return_t kr = receive_port(space, name, p); kr != KERN_SUCCESS) return kr;
    *context = p->context;
    return KERN_SUCCESS;
}

kern_return_t set_context(IpcSpace& space, mach_port_name_t name, mach_port_context_t context) {
    Port* p = nullptr;
    if (kern_return_t kr = receive_port(space, name, p); kr != KERN_SUCCESS) return kr;
    p->context = context;
    return KERN_SUCCESS;
}

kern_return_t get_attributes(IpcSpace& space, mach_port_name_t name, mach_port_flavor_t flavor,
                             integer_t* info, mach_msg_type_number_t* count) {
    mach_msg_type_number_t need;
    switch (flavor) {
    case MACH_PORT_LIMITS_INFO: need = MACH_PORT_LIMITS_INFO_COUNT; break;
    case MACH_PORT_RECEIVE_STATUS: need = MACH_PORT_RECEIVE_STATUS_COUNT; break;
    default: return KERN_INVALID_ARGUMENT;
    }
    if (*count < need) return KERN_FAILURE;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    if (!e->has(kReceive)) return KERN_INVALID_RIGHT;
    Port* p = e->port();
    if (flavor == MACH_PORT_LIMITS_INFO) {
        mach_port_limits_t lim{p->qlimit};
        std::memcpy(info, &lim, sizeof lim);
    } else {
        mach_port_status_t st{};
        st.mps_pset = p->set ? p->set->name : MACH_PORT_NULL;
        st.mps_seqno = p->seqno;
        st.mps_mscount = p->mscount;
        st.mps_qlimit = p->qlimit;
        st.mps_msgcount = static_cast<mach_port_msgcount_t>(p->queue.size());
        st.mps_sorights = p->sorights;
        st.mps_srights = p->srights > 0;
        st.mps_pdrequest = p->pdrequest.port != nullptr;
        st.mps_nsrequest = p->nsrequest.port != nullptr;
        std::memcpy(info, &st, sizeof st);
    }
    *count = need;
    return KERN_SUCCESS;
}

kern_return_t set_attributes(IpcSpace& space, mach_port_name_t name, mach_port_flavor_t flavor,
                             const integer_t* info, mach_msg_type_number_t count) {
    if (flavor != MACH_PORT_LIMITS_INFO) return KERN_INVALID_ARGUMENT;
    if (count < MACH_PORT_LIMITS_INFO_COUNT) return KERN_FAILURE;
    mach_port_limits_t lim;
    std::memcpy(&lim, info, sizeof lim);
    if (lim.mpl_qlimit > space.env().qlimit_max) return KERN_INVALID_VALUE;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    if (!e->has(kReceive)) return KERN_INVALID_RIGHT;
    Port* p = e->port();
    p->qlimit = lim.mpl_qlimit;
    admit_senders(space.env(), p);  // a raised limit lets waiting senders in (R18)
    return KERN_SUCCESS;
}

}  // namespace machsim::ipc
