// Port and PortSet, the two kinds of IPC object.
//
// A port is a message queue with exactly one receive right. Its counters
// follow Mach: srights counts send rights (one per space entry holding send,
// plus one per send right travelling in a message), sorights counts send-once
// rights, mscount counts MAKE_SENDs since the receive right last moved.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel/machine/list.h"
#include "mach/port.h"
#include "ports/ipc_object.h"
#include "ports/message.h"
#include "ports/notify_types.h"
#include "ports/waiter.h"

namespace machsim::ipc {

class IpcSpace;
class PortSet;

// What the kernel itself implements behind a port (the receive right is the kernel's).
enum class KobjectKind : uint8_t { None, Task, Thread, Semaphore, MemoryEntry, Device, Host, Clock };

class Port final : public IpcObject {
public:
    explicit Port(uint32_t id) : IpcObject(ObjectKind::Port, id) {}
    ~Port() override;

    bool active = true;  // false once the receive right is destroyed: the port is dead

    // Where the receive right is: a space and the name it has there; both null
    // while the right travels in a message, or when the kernel holds it.
    IpcSpace* receiver = nullptr;
    mach_port_name_t receiver_name = MACH_PORT_NULL;
    // While the receive right travels: the port whose queue holds the message
    // carrying it (to detect a receive right sent into its own queue).
    Port* destination = nullptr;
    PortSet* set = nullptr;  // the set it belongs to, if any

    // Would this port's receive right, sent to `to`, end up in its own queue (R12)?
    // The destination chain has no cycles: a message that would close one is
    // marked circular instead of linked (msg_copy.cpp).
    bool reaches_self_from(const Port* to) const {
        for (const Port* d = to; d; d = d->destination)
            if (d == this) return true;
        return false;
    }

    machine::List<KMsg, &KMsg::hook> queue;  // owns the queued messages
    uint32_t qlimit = MACH_PORT_QLIMIT_DEFAULT;
    uint32_t seqno = 0;
    uint32_t mscount = 0;
    uint32_t srights = 0;
    uint32_t sorights = 0;
    mach_port_context_t context = 0;  // the receiver's value (mach_port_set_context, mach_port_construct)

    // R13: a receive right that changes hands starts counting afresh, and, as in
    // XNU, its context does not follow it.
    void reset_for_new_receiver() {
        mscount = 0;
        seqno = 0;
        context = 0;
    }

    WaitList receivers;  // threads blocked receiving directly on this port
    WaitList senders;    // threads blocked because the queue is full, oldest first

    machine::ListHook set_hook;    // in set->members
    machine::ListHook ready_hook;  // in set->ready while messages are queued
    machine::ListHook all_hook;    // in *registry (Env::ports) while the object exists
    machine::List<Port, &Port::all_hook>* registry = nullptr;

    KobjectKind kobject_kind = KobjectKind::None;
    void* kobject = nullptr;

    // Notification requests (ports/notify.h). Each holds a send-once right.
    Carried pdrequest;                           // port-destroyed
    Carried nsrequest;                           // no-senders
    std::vector<DeadNameRequest> dnrequests;  // dead-name, per (space, name)

    uint32_t created_by = 0;  // task id, for leak reports
    uint32_t last_holder = 0; // last task that held its receive right

    bool full() const { return queue.size() >= qlimit; }
};

class PortSet final : public IpcObject {
public:
    explicit PortSet(uint32_t id) : IpcObject(ObjectKind::PortSet, id) {}
    ~PortSet() override;

    bool active = true;
    IpcSpace* space = nullptr;
    mach_port_name_t name = MACH_PORT_NULL;
    machine::List<Port, &Port::set_hook> members;
    machine::List<Port, &Port::ready_hook> ready;  // members with messages, served round robin
    WaitList receivers;
};

inline Port* as_port(IpcObject* o) { return static_cast<Port*>(o); }
inline PortSet* as_set(IpcObject* o) { return static_cast<PortSet*>(o); }

}  // namespace machsim::ipc
