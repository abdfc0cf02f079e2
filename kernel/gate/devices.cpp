#include "kernel/gate/devices.h"

#include "device/device_types.h"
#include "device/notify.h"
#include "kernel/gate/kernel.h"
#include "ports/mqueue.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

// GNU Mach's type descriptor for the notification's one inline 32-bit integer.
constexpr mach_msg_type_t kIntegerType = {.msgt_name = 2 /* MACH_MSG_TYPE_INTEGER_32 */,
                                          .msgt_size = 32,
                                          .msgt_number = 1,
                                          .msgt_inline = 1,
                                          .msgt_longform = 0,
                                          .msgt_deallocate = 0,
                                          .msgt_unused = 0};

}  // namespace

Devices::Devices(Kernel& k) : k_(k) {
    k.irq.set_handler({.alive = &Devices::alive, .deliver = &Devices::deliver, .ctx = this});
}

ipc::Port* Devices::make_port(Device& d) {
    if (!d.port) {
        d.port = ipc::port_create(k_.env, 0);
        d.port->kobject_kind = ipc::KobjectKind::Device;
        d.port->kobject = &d;
    }
    return d.port;
}

ipc::Port* Devices::master_port() { return make_port(master_); }
ipc::Port* Devices::irq_port() { return make_port(irq_); }
ipc::Port* Devices::console_port() { return make_port(console_); }
ipc::Port* Devices::disk_port() { return make_port(disk_); }

kern_return_t Devices::intr_register(uint32_t line, ipc::Carried& right, uint32_t space, mach_port_name_t name) {
    sweep("delivery port died");  // a driver that restarts may take its line again at once
    if (registered_[line].port)
        return ipc::fail(k_.env, D_ALREADY_OPEN, "line {} already delivers to P{}", line, registered_[line].port->id());
    for (uint32_t n = 0; n < machine::IrqController::kLines; ++n)
        if (registered_[n].port == right.port)
            return ipc::fail(k_.env, D_ALREADY_OPEN, "P{} already takes line {}", right.port->id(), n);
    registered_[line] = right;
    right = {};
    k_.irq.attach(line);
    MS_TRACE(k_.trace, Event{.kind = EventKind::IrqRegister, .port = registered_[line].port->id(), .space = space,
                             .name = name, .extra = line});
    return D_SUCCESS;
}

kern_return_t Devices::intr_ack(ipc::Port* p) {
    for (uint32_t n = 0; n < machine::IrqController::kLines; ++n) {
        if (!p || registered_[n].port != p) continue;
        if (!k_.irq.line(n).masked)
            return ipc::fail(k_.env, D_INVALID_OPERATION, "line {} has no interrupt delivered and unacknowledged", n);
        MS_TRACE(k_.trace, Event{.kind = EventKind::IrqAck, .port = p->id(), .after = k_.irq.line(n).pending ? 1u : 0u,
                                 .extra = n});
        (void)k_.irq.unmask(n);
        return D_SUCCESS;
    }
    return ipc::fail(k_.env, KERN_INVALID_ARGUMENT, "no interrupt line delivers to that port");
}

void Devices::drop(uint32_t line, const char* why) {
    ipc::Carried& r = registered_[line];
    MS_TRACE(k_.trace, Event{.kind = EventKind::IrqDrop, .port = r.port->id(), .extra = line, .text = why});
    ipc::carried_release(k_.env, r);
    r = {};
}

void Devices::sweep(const char* why) {
    for (uint32_t n = 0; n < machine::IrqController::kLines; ++n) {
        if (registered_[n].port && !registered_[n].port->active) {
            drop(n, why);
            k_.irq.detach(n);
        }
    }
}

bool Devices::alive(void* ctx, uint32_t line) {
    auto* self = static_cast<Devices*>(ctx);
    ipc::Carried& r = self->registered_[line];
    if (r.port && r.port->active) return true;
    if (r.port) self->drop(line, "delivery port died");
    return false;
}

bool Devices::deliver(void* ctx, uint32_t line) {
    auto* self = static_cast<Devices*>(ctx);
    if (!alive(ctx, line)) return false;
    ipc::Env& env = self->k_.env;
    ipc::Port* p = self->registered_[line].port;
    // GNU Mach's deliver_intr: a copy of the registration's send right is the message's destination.
    ipc::Carried dest = ipc::copy_send(p);
    struct {
        mach_msg_type_t intr_type;
        int id;
    } body{kIntegerType, static_cast<int>(line)};
    ipc::kernel_send(env, dest, DEVICE_INTR_NOTIFY, &body, sizeof body);
    MS_TRACE(self->k_.trace,
             Event{.kind = EventKind::IrqDeliver, .port = p->id(), .msg = static_cast<uint32_t>(env.next_msg),
                   .extra = line});
    return true;
}

void Devices::add_to_census(ipc::Census& census) const {
    census.add_kernel_ref(master_.port);
    census.add_kernel_ref(irq_.port);
    census.add_kernel_ref(console_.port);
    census.add_kernel_ref(disk_.port);
    for (const ipc::Carried& r : registered_)
        if (r.port) census.add_kernel_right(r);
}

void Devices::shut_down() {
    for (uint32_t n = 0; n < machine::IrqController::kLines; ++n) {
        if (!registered_[n].port) continue;
        ipc::carried_release(k_.env, registered_[n]);
        registered_[n] = {};
        k_.irq.detach(n);
    }
    for (Device* d : {&master_, &irq_, &console_, &disk_}) {
        if (!d->port) continue;
        d->port->kobject = nullptr;
        ipc::port_destroy(k_.env, d->port);  // the kernel's reference
        d->port = nullptr;
    }
}

}  // namespace machsim::gate
