#include "ports/notify.h"

#include <algorithm>

#include "mach/notify.h"
#include "ports/env.h"
#include "ports/mqueue.h"
#include "ports/rights.h"

namespace machsim::ipc {

namespace {

constexpr mach_port_type_t kDnRequest = MACH_PORT_TYPE_DNREQUEST;

// A notification with the NDR record and, for most kinds, one word (a name or a count).
void notify_simple(Env& env, Carried& to, mach_msg_id_t id, bool with_word, uint32_t word) {
    struct {
        NDR_record_t ndr;
        uint32_t word;
    } body{MACHSIM_NDR_NATIVE, word};
    uint32_t size = with_word ? sizeof body : sizeof(NDR_record_t);
    kernel_send(env, to, id, &body, size);
}

std::vector<DeadNameRequest>::iterator find_request(Port* p, const IpcSpace& space, mach_port_name_t name) {
    return std::find_if(p->dnrequests.begin(), p->dnrequests.end(),
                        [&](const DeadNameRequest& r) { return r.space == &space && r.name == name; });
}

kern_return_t request_dead_name(IpcSpace& space, mach_port_name_t name, mach_port_mscount_t sync, Carried& notify,
                                Carried& previous) {
    Env& env = space.env();
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    if (e->has(MACH_PORT_TYPE_DEAD_NAME)) {  // R9: already dead
        if (!notify.port) return KERN_SUCCESS;
        if (sync == 0) return KERN_INVALID_ARGUMENT;
        if (e->urefs == MACH_PORT_UREFS_MAX) return KERN_UREFS_OVERFLOW;
        ++e->urefs;
        notify_simple(env, notify, MACH_NOTIFY_DEAD_NAME, true, name);
        return KERN_SUCCESS;
    }
    if (!e->has(MACH_PORT_TYPE_PORT_RIGHTS)) return KERN_INVALID_RIGHT;
    Port* p = e->port();
    auto it = find_request(p, space, name);
    if (it != p->dnrequests.end()) {
        previous = it->notify;
        p->dnrequests.erase(it);
    }
    if (notify.port) {
        p->dnrequests.push_back({&space, name, notify});
        notify = {};
        e->type |= kDnRequest;
    } else {
        e->type &= ~kDnRequest;
    }
    return KERN_SUCCESS;
}

}  // namespace

kern_return_t request_notification(IpcSpace& space, mach_port_name_t name, mach_msg_id_t id,
                                   mach_port_mscount_t sync, Carried& notify, Carried& previous) {
    Env& env = space.env();
    previous = {};
    if (notify.dead || (notify.port && !notify.port->active)) return KERN_INVALID_CAPABILITY;
    if (id == MACH_NOTIFY_DEAD_NAME) return request_dead_name(space, name, sync, notify, previous);
    if (id != MACH_NOTIFY_PORT_DESTROYED && id != MACH_NOTIFY_NO_SENDERS) return KERN_INVALID_VALUE;
    if (id == MACH_NOTIFY_PORT_DESTROYED && sync != 0) return KERN_INVALID_VALUE;
    Entry* e = space.lookup(name);
    if (!e) return KERN_INVALID_NAME;
    if (!e->has(MACH_PORT_TYPE_RECEIVE)) return KERN_INVALID_RIGHT;
    Port* p = e->port();
    Carried& slot = id == MACH_NOTIFY_PORT_DESTROYED ? p->pdrequest : p->nsrequest;
    previous = slot;
    slot = notify;
    notify = {};
    // R14: with no senders and a make-send count that reached `sync`, it fires at once.
    if (id == MACH_NOTIFY_NO_SENDERS && p->nsrequest.port && p->srights == 0 && sync <= p->mscount)
        send_rights_lowered(env, p);
    return KERN_SUCCESS;
}

void fire_dead_name_requests(Env& env, Port* p) {
    std::vector<DeadNameRequest> requests = std::move(p->dnrequests);
    p->dnrequests.clear();
    for (DeadNameRequest& r : requests) {
        // R9: the name becomes a dead name now, with one more uref for the notification.
        if (Entry* e = r.space->lookup(r.name); e && e->has(MACH_PORT_TYPE_DEAD_NAME)) {
            e->type &= ~kDnRequest;
            if (e->urefs < MACH_PORT_UREFS_MAX) ++e->urefs;
        }
        notify_simple(env, r.notify, MACH_NOTIFY_DEAD_NAME, true, r.name);
    }
    // The port's own requests can never fire now: their rights go back (as send-once notifications).
    carried_release(env, p->nsrequest);
    carried_release(env, p->pdrequest);
}

void fire_port_deleted(IpcSpace& space, mach_port_name_t name, Port* p) {
    auto it = find_request(p, space, name);
    if (it == p->dnrequests.end()) return;
    Carried to = it->notify;
    p->dnrequests.erase(it);
    notify_simple(space.env(), to, MACH_NOTIFY_PORT_DELETED, true, name);  // R10
}

bool divert_to_port_destroyed(Env& env, Port* p) {
    if (!p->pdrequest.port || p->kobject_kind != KobjectKind::None) return false;
    Carried to = p->pdrequest;
    p->pdrequest = {};
    if (!to.port->active || p->reaches_self_from(to.port)) {
        carried_release(env, to);
        return false;
    }
    // R11: the port lives on; its receive right travels in the notification (R13: counts start afresh).
    p->reset_for_new_receiver();
    struct {
        mach_msg_body_t body;
        mach_msg_port_descriptor_t port;
    } payload{};
    payload.body.msgh_descriptor_count = 1;
    payload.port.disposition = MACH_MSG_TYPE_PORT_RECEIVE;
    payload.port.type = MACH_MSG_PORT_DESCRIPTOR;
    BodyItem item;
    item.kind = MACH_MSG_PORT_DESCRIPTOR;
    item.offset = sizeof(mach_msg_header_t) + sizeof(mach_msg_body_t);
    item.right = {p, MACH_MSG_TYPE_PORT_RECEIVE, false};  // the caller's reference goes with it
    p->destination = to.port;
    to.port->ref();
    kernel_send_complex(env, to, MACH_NOTIFY_PORT_DESTROYED, &payload, sizeof payload, std::move(item));
    return true;
}

void send_rights_lowered(Env& env, Port* p) {
    if (p->srights != 0 || !p->active) return;
    if (p->kobject_kind != KobjectKind::None) {
        if (env.kobject_no_senders) env.kobject_no_senders(env, p, env.kobject_ctx);
        return;
    }
    if (!p->nsrequest.port) return;
    Carried to = p->nsrequest;
    p->nsrequest = {};
    notify_simple(env, to, MACH_NOTIFY_NO_SENDERS, true, p->mscount);  // R14: one-shot
}

}  // namespace machsim::ipc
