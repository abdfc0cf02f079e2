// GNU Mach's device calls for drivers (R25): the master device port, opening the
// "irq" device, registering a port for a line's interrupts and acknowledging them.
// Arguments are checked as a MIG request would meet them: the device right as the
// request's destination, the port right copied in, then the device's own checks.
#include <algorithm>
#include <cstring>

#include "device/device_types.h"
#include "kernel/gate/sys_common.h"
#include "ports/rights.h"

namespace machsim::gate {

namespace {

constexpr std::size_t kNameMax = sizeof(dev_name_t);

// The port `name` sends to, if it is a send right in the caller's space (what MIG needs
// for a request's destination); null otherwise.
ipc::Port* send_target(tasks::Thread& self, mach_port_name_t name) {
    ipc::Entry* e = self.task.space.lookup(name);
    return e && e->has(MACH_PORT_TYPE_SEND) ? e->port() : nullptr;
}

// Copies in a mach_port_send_t argument. MACH_PORT_NULL and MACH_PORT_DEAD come in as no right.
kern_return_t copyin_send(Kernel& k, tasks::Thread& self, mach_port_name_t name, mach_msg_type_name_t poly,
                          ipc::Carried& out) {
    if (!MACH_PORT_VALID(name)) {
        out.dead = name == MACH_PORT_DEAD;
        return KERN_SUCCESS;
    }
    if (poly != MACH_MSG_TYPE_MAKE_SEND && poly != MACH_MSG_TYPE_COPY_SEND && poly != MACH_MSG_TYPE_MOVE_SEND)
        return ipc::fail(k.env, MACH_SEND_INVALID_TYPE, "disposition {} does not give a send right", poly);
    if (ipc::copyin_check(self.task.space, name, poly) != KERN_SUCCESS)
        return ipc::fail(k.env, MACH_SEND_INVALID_RIGHT, "{:#x} cannot be copied in with disposition {}", name, poly);
    out = ipc::copyin(self.task.space, name, poly);
    return KERN_SUCCESS;
}

// Runs body(kernel, caller, port right) for device_intr_register and _ack, once `device`
// is known to be the irq device. The right is released afterwards unless body consumed it.
template <class F>
kern_return_t irq_call(Sys sys, mach_port_name_t device, mach_port_name_t port, mach_msg_type_name_t poly, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        ipc::Port* d = send_target(self, device);
        if (!d) return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right", device);
        ipc::Carried right;
        if (kern_return_t kr = copyin_send(k, self, port, poly, right); kr != KERN_SUCCESS) return kr;
        kern_return_t kr;
        Device* dev = Devices::device_of(d);
        if (!dev || dev->kind == Device::Kind::Master) {
            kr = ipc::fail(k.env, D_NO_SUCH_DEVICE, "{:#x} is not an open device", device);
        } else if (dev->kind != Device::Kind::Irq) {
            kr = ipc::fail(k.env, D_INVALID_OPERATION, "interrupts are registered on the irq device only");
        } else {
            kr = body(k, self, right);
        }
        ipc::carried_release(k.env, right);  // MIG destroys a failed request's rights; an ack spends its right
        return kr;
    });
}

}  // namespace

kern_return_t sys_get_privileged_ports(mach_port_name_t* host_priv, mach_port_name_t* device_master) {
    return call(Sys::get_privileged_ports, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        if ((host_priv && !put_user(host_priv, MACH_PORT_NULL)) ||
            (device_master && !put_user(device_master, MACH_PORT_NULL)))
            return KERN_INVALID_ADDRESS;
        if (!self.task.privileged)
            return ipc::fail(k.env, KERN_NO_ACCESS, "task {} was not spawned privileged", self.task.id);
        if (!device_master) return KERN_SUCCESS;
        mach_port_name_t n = send_right_to(self, k.devices.master_port());
        if (n == MACH_PORT_NULL) return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no free name for the port");
        (void)put_user(device_master, n);
        return KERN_SUCCESS;
    });
}

kern_return_t sys_device_open(mach_port_name_t master, int /*mode*/, const char* name, mach_port_name_t* device) {
    return call(Sys::device_open, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        ipc::Port* m = send_target(self, master);
        if (!m) return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right", master);
        if (!put_user(device, MACH_PORT_NULL)) return KERN_INVALID_ADDRESS;
        char buf[kNameMax] = {};
        std::size_t len = 0;
        for (; len < kNameMax; ++len) {
            if (!get_user(buf[len], name + len)) return KERN_INVALID_ADDRESS;
            if (buf[len] == 0) break;
        }
        Device* dev = Devices::device_of(m);
        if (!dev || dev->kind != Device::Kind::Master)
            return ipc::fail(k.env, D_INVALID_OPERATION, "{:#x} is not the master device port", master);
        ipc::Port* port = nullptr;
        if (len < kNameMax && std::strcmp(buf, "irq") == 0) port = k.devices.irq_port();
        if (len < kNameMax && std::strcmp(buf, "console") == 0) port = k.devices.console_port();
        if (!port) return ipc::fail(k.env, D_NO_SUCH_DEVICE, "no device named \"{}\"", std::string(buf, len));
        mach_port_name_t n = send_right_to(self, port);
        if (n == MACH_PORT_NULL) return ipc::fail(k.env, KERN_RESOURCE_SHORTAGE, "no free name for the port");
        (void)put_user(device, n);
        return D_SUCCESS;
    });
}

kern_return_t sys_device_intr_register(mach_port_name_t device, int id, int flags, mach_port_name_t port,
                                       mach_msg_type_name_t port_poly) {
    return irq_call(Sys::device_intr_register, device, port, port_poly,
                    [&](Kernel& k, tasks::Thread& self, ipc::Carried& right) -> kern_return_t {
                        if (flags != 0) return ipc::fail(k.env, D_INVALID_OPERATION, "flags must be 0, not {}", flags);
                        if (id < 0 || !machine::IrqController::valid(static_cast<uint32_t>(id)))
                            return ipc::fail(k.env, D_INVALID_OPERATION, "no interrupt line {}", id);
                        if (!right.port || !right.port->active || right.port->kobject_kind != ipc::KobjectKind::None)
                            return ipc::fail(k.env, KERN_INVALID_CAPABILITY,
                                             "the delivery port is null, dead or a kernel object's");
                        return k.devices.intr_register(static_cast<uint32_t>(id), right, self.task.id, port);
                    });
}

kern_return_t sys_device_intr_ack(mach_port_name_t device, mach_port_name_t port, mach_msg_type_name_t port_poly) {
    return irq_call(Sys::device_intr_ack, device, port, port_poly,
                    [&](Kernel& k, tasks::Thread&, ipc::Carried& right) { return k.devices.intr_ack(right.port); });
}

kern_return_t sys_device_read_inband(mach_port_name_t device, int /*mode*/, unsigned /*recnum*/,
                                     vm_size_t bytes_wanted, char* data, mach_msg_type_number_t* count) {
    return call(Sys::device_read_inband, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        ipc::Port* d = send_target(self, device);
        if (!d) return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right", device);
        if (!put_user(count, mach_msg_type_number_t{0})) return KERN_INVALID_ADDRESS;
        Device* dev = Devices::device_of(d);
        if (!dev || dev->kind == Device::Kind::Master)
            return ipc::fail(k.env, D_NO_SUCH_DEVICE, "{:#x} is not an open device", device);
        if (dev->kind != Device::Kind::Console)
            return ipc::fail(k.env, D_INVALID_OPERATION, "the irq device cannot be read");
        char buf[sizeof(io_buf_ptr_inband_t)] = {};
        std::size_t want = std::min<vm_size_t>(bytes_wanted, sizeof buf);
        std::size_t have = std::min(want, k.console.available(k.clock.now()));
        if (want > 0 && have == 0) return D_WOULD_BLOCK;  // never waits: nothing has arrived yet
        // The buffer is checked before the bytes leave the console, so that a bad pointer loses none.
        if (have > 0 && !machine::copy_user(data, buf, have)) return KERN_INVALID_ADDRESS;
        std::size_t n = k.console.read(k.clock.now(), buf, have);
        (void)machine::copy_user(data, buf, n);
        (void)put_user(count, static_cast<mach_msg_type_number_t>(n));
        return D_SUCCESS;
    });
}

}  // namespace machsim::gate
