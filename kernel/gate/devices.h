// Devices as GNU Mach's drivers see them (R25): the master device port, the
// "irq" device, and the registrations that tie an interrupt line to a driver's port;
// the "console" and the disk "hd0" (when the host attached one), read and written
// with device_read and device_write (sys_device.cpp).
//
//   driver                                   kernel
//   get_privileged_ports(0, &master)  --->   a send right to the master device port
//   device_open(master, .., "irq", &irq) ->  a send right to the irq device port
//   device_intr_register(irq, line, 0, port, MAKE_SEND)
//                                     --->   (1) the line's registration keeps that send right
//   ... a device raises the line ...         (2) the line masks; one device_intr_notify (id 100)
//   <--- device_intr_notification_t ---          goes to the port (a copy of the send right)
//   device_intr_ack(irq, port, MAKE_SEND) -> (3) the line unmasks; a remembered interrupt is
//                                                delivered at once (back to 2)
//   the port dies (the driver ends)   --->   (4) the registration is dropped: at the driver's
//                                                end, or at the line's next raise
#pragma once

#include <cstdint>

#include "kernel/machine/irq_controller.h"
#include "mach/message.h"
#include "ports/census.h"
#include "ports/message.h"
#include "ports/port.h"

namespace machsim::gate {

class Kernel;

struct Device {
    enum class Kind : uint8_t { Master, Irq, Console, Disk };
    Kind kind;
    ipc::Port* port = nullptr;  // the kernel holds its receive right; made on first use
};

class Devices {
public:
    explicit Devices(Kernel& k);

    // The ports, made on first use (so that runs without devices number their ports as before).
    ipc::Port* master_port();
    ipc::Port* irq_port();
    ipc::Port* console_port();
    ipc::Port* disk_port();
    // The device behind p, or null when p is no device port.
    static Device* device_of(ipc::Port* p) {
        return p && p->kobject_kind == ipc::KobjectKind::Device ? static_cast<Device*>(p->kobject) : nullptr;
    }

    // device_intr_register once its arguments are checked: `right` (a send right, consumed on
    // D_SUCCESS) takes line's interrupts. D_ALREADY_OPEN if the line or the port is taken.
    kern_return_t intr_register(uint32_t line, ipc::Carried& right, uint32_t space, mach_port_name_t name);
    // device_intr_ack for the registration holding a send right to p.
    kern_return_t intr_ack(ipc::Port* p);
    // Drops every registration whose delivery port has died.
    void sweep(const char* why);

    void add_to_census(ipc::Census& census) const;
    // The run is over: registrations released, device ports destroyed.
    void shut_down();

private:
    static bool alive(void* ctx, uint32_t line);
    static bool deliver(void* ctx, uint32_t line);
    void drop(uint32_t line, const char* why);
    ipc::Port* make_port(Device& d);

    Kernel& k_;
    Device master_{Device::Kind::Master};
    Device irq_{Device::Kind::Irq};
    Device console_{Device::Kind::Console};
    Device disk_{Device::Kind::Disk};
    ipc::Carried registered_[machine::IrqController::kLines];  // a send right to each line's delivery port
};

}  // namespace machsim::gate
