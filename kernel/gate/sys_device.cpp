// GNU Mach's device calls for drivers (R25): the master device port, opening the
// "irq" device, registering a port for a line's interrupts and acknowledging them;
// reading and writing the console and the disk.
// Arguments are checked as a MIG request would meet them: the device right as the
// request's destination, the port right copied in, then the device's own checks.
#include <algorithm>
#include <cstring>

#include "device/device_types.h"
#include "mach/mig_errors.h"
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

// Runs body(kernel, caller, port) for a call whose request goes to `device`: a name that
// is not a send right in the caller's space fails first, as MIG's send would.
template <class F>
kern_return_t device_call(Sys sys, mach_port_name_t device, F&& body) {
    return call(sys, [&](Kernel& k, tasks::Thread& self) -> kern_return_t {
        ipc::Port* d = send_target(self, device);
        if (!d) return ipc::fail(k.env, MACH_SEND_INVALID_DEST, "{:#x} is not a send right", device);
        return body(k, self, d);
    });
}

// The open device behind d: D_NO_SUCH_DEVICE for any other port, the master device port included.
kern_return_t opened(Kernel& k, ipc::Port* d, mach_port_name_t device, Device*& dev) {
    dev = Devices::device_of(d);
    if (dev && dev->kind != Device::Kind::Master) return D_SUCCESS;
    return ipc::fail(k.env, D_NO_SUCH_DEVICE, "{:#x} is not an open device", device);
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
    return device_call(sys, device, [&](Kernel& k, tasks::Thread& self, ipc::Port* d) -> kern_return_t {
        ipc::Carried right;
        if (kern_return_t kr = copyin_send(k, self, port, poly, right); kr != KERN_SUCCESS) return kr;
        Device* dev = nullptr;
        kern_return_t kr = opened(k, d, device, dev);
        if (kr == D_SUCCESS)
            kr = dev->kind == Device::Kind::Irq
                     ? body(k, self, right)
                     : ipc::fail(k.env, D_INVALID_OPERATION, "interrupts are registered on the irq device only");
        ipc::carried_release(k.env, right);  // MIG destroys a failed request's rights; an ack spends its right
        return kr;
    });
}

// The console or the disk behind d (a send right's port) for a read or a write (`verb`).
kern_return_t io_device(Kernel& k, ipc::Port* d, mach_port_name_t device, const char* verb, Device*& dev) {
    if (kern_return_t kr = opened(k, d, device, dev); kr != D_SUCCESS) return kr;
    if (dev->kind == Device::Kind::Irq)
        return ipc::fail(k.env, D_INVALID_OPERATION, "the irq device cannot be {}", verb);
    return D_SUCCESS;
}

// A transfer on the disk starts at a record the disk has.
kern_return_t check_recnum(Kernel& k, uint64_t recnum) {
    if (recnum < k.disk.records()) return D_SUCCESS;
    return ipc::fail(k.env, D_INVALID_RECNUM, "record {} is past the disk's end ({} records)", recnum,
                     k.disk.records());
}

void on_disk_done(machine::Context* c) { Kernel::current()->sched.wake(c, KERN_SUCCESS); }

// Waits until the disk has served a request, at tick `done`. A disk wait is not cut
// short by a signal (it is delivered when the wait ends), only by the thread's end:
// false then, and nothing more reaches the caller.
bool await_disk(Kernel& k, tasks::Thread& self, uint64_t done) {
    if (self.kill_pending) return false;
    if (done <= k.clock.now()) return true;
    k.sched.arm_timer(&self, done, on_disk_done);
    MS_TRACE(k.trace, Event{.kind = EventKind::Block, .text = "disk"});
    return k.sched.block() == KERN_SUCCESS;
}

// Reads up to `want` bytes into `out`: from the console, what has arrived by now (it
// never waits: D_WOULD_BLOCK when nothing has); from the disk, from record `recnum` on,
// once the disk has served the request. An inband read's buffer (`user`) is checked
// before console bytes are taken, so that a bad pointer loses none.
struct ReadInto {
    bool inband;
    char* user;
};
kern_return_t read_bytes(Kernel& k, tasks::Thread& self, const Device& dev, uint64_t recnum, std::size_t want,
                         std::string& out, ReadInto into) {
    if (dev.kind == Device::Kind::Console) {
        std::size_t have = std::min(want, k.console.available(k.clock.now()));
        if (want > 0 && have == 0) return D_WOULD_BLOCK;
        out.assign(have, '\0');
        if (into.inband && have > 0 && !machine::copy_user(into.user, out.data(), have)) return KERN_INVALID_ADDRESS;
        out.resize(k.console.read(k.clock.now(), out.data(), have));
        return D_SUCCESS;
    }
    if (kern_return_t kr = check_recnum(k, recnum); kr != D_SUCCESS) return kr;
    out.assign(k.disk.span(recnum, want), '\0');
    k.disk.read(recnum, out.data(), out.size());
    if (!await_disk(k, self, k.disk.schedule(k.clock.now(), out.size()))) return KERN_ABORTED;
    return D_SUCCESS;
}

// device_write and device_write_inband once the device is known: `count` bytes at
// `data` to the console, or to the disk from record `recnum` on (clipped at its end);
// *written = how many. `bad_data`: the code for a pointer that cannot be read.
kern_return_t write_bytes(Kernel& k, tasks::Thread& self, const Device& dev, uint64_t recnum, const char* data,
                          std::size_t count, int* written, kern_return_t bad_data) {
    std::size_t n = count;
    if (dev.kind == Device::Kind::Disk) {
        if (kern_return_t kr = check_recnum(k, recnum); kr != D_SUCCESS) return kr;
        n = k.disk.span(recnum, count);
    } else if (count > k.cfg.max_message) {
        return ipc::fail(k.env, D_INVALID_SIZE, "{} bytes at once is more than Config::max_message", count);
    }
    std::string bytes(n, '\0');  // taken whole before anything is written, as a message carries it
    if (n > 0 && (!self.task.vm.may_copy_in(data, n) || !machine::copy_user(bytes.data(), data, n)))
        return bad_data;
    if (dev.kind == Device::Kind::Console) {
        k.console.write(bytes.data(), n);
    } else {
        k.disk.write(recnum, bytes.data(), n);
        if (!await_disk(k, self, k.disk.schedule(k.clock.now(), n))) return KERN_ABORTED;
    }
    (void)put_user(written, static_cast<int>(n));
    return D_SUCCESS;
}

// The two writes: the same checks, in MIG's order, then write_bytes.
kern_return_t write_call(Sys sys, mach_port_name_t device, unsigned recnum, const char* data, std::size_t count,
                         int* written, kern_return_t bad_data) {
    return device_call(sys, device, [&](Kernel& k, tasks::Thread& self, ipc::Port* d) -> kern_return_t {
        if (!put_user(written, 0)) return KERN_INVALID_ADDRESS;
        Device* dev = nullptr;
        if (kern_return_t kr = io_device(k, d, device, "written", dev); kr != D_SUCCESS) return kr;
        return write_bytes(k, self, *dev, recnum, data, count, written, bad_data);
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
    return device_call(Sys::device_open, master, [&](Kernel& k, tasks::Thread& self, ipc::Port* m) {
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
        if (len < kNameMax && std::strcmp(buf, "hd0") == 0 && k.disk.present()) port = k.devices.disk_port();
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

kern_return_t sys_device_read_inband(mach_port_name_t device, int /*mode*/, unsigned recnum,
                                     vm_size_t bytes_wanted, char* data, mach_msg_type_number_t* count) {
    return device_call(Sys::device_read_inband, device, [&](Kernel& k, tasks::Thread& self, ipc::Port* d) {
        if (!put_user(count, mach_msg_type_number_t{0})) return KERN_INVALID_ADDRESS;
        Device* dev = nullptr;
        if (kern_return_t kr = io_device(k, d, device, "read", dev); kr != D_SUCCESS) return kr;
        std::string bytes;
        const std::size_t want = std::min<vm_size_t>(bytes_wanted, IO_INBAND_MAX);
        const ReadInto into{.inband = true, .user = data};
        if (kern_return_t kr = read_bytes(k, self, *dev, recnum, want, bytes, into); kr != D_SUCCESS) return kr;
        if (!machine::copy_user(data, bytes.data(), bytes.size())) return KERN_INVALID_ADDRESS;
        (void)put_user(count, static_cast<mach_msg_type_number_t>(bytes.size()));
        return D_SUCCESS;
    });
}

kern_return_t sys_device_read(mach_port_name_t device, int /*mode*/, unsigned recnum, vm_size_t bytes_wanted,
                              char** data, mach_msg_type_number_t* count) {
    return device_call(Sys::device_read, device, [&](Kernel& k, tasks::Thread& self, ipc::Port* d) {
        if (!put_user(data, static_cast<char*>(nullptr)) || !put_user(count, mach_msg_type_number_t{0}))
            return KERN_INVALID_ADDRESS;
        Device* dev = nullptr;
        if (kern_return_t kr = io_device(k, d, device, "read", dev); kr != D_SUCCESS) return kr;
        std::string bytes;
        const std::size_t want = std::min<vm_size_t>(bytes_wanted, k.cfg.max_message);
        const ReadInto into{.inband = false, .user = nullptr};
        if (kern_return_t kr = read_bytes(k, self, *dev, recnum, want, bytes, into); kr != D_SUCCESS) return kr;
        return give_bytes(self, bytes.data(), bytes.size(), reinterpret_cast<vm_offset_t*>(data), count);
    });
}

kern_return_t sys_device_write(mach_port_name_t device, int /*mode*/, unsigned recnum, const char* data,
                               mach_msg_type_number_t count, int* written) {
    // Out-of-line data the kernel cannot read fails the request's send, as MIG's would.
    return write_call(Sys::device_write, device, recnum, data, count, written, MACH_SEND_INVALID_MEMORY);
}

kern_return_t sys_device_write_inband(mach_port_name_t device, int /*mode*/, unsigned recnum, const char* data,
                                      mach_msg_type_number_t count, int* written) {
    // MIG's client stub refuses an inline array larger than its bound before sending anything.
    if (count > IO_INBAND_MAX) return MIG_ARRAY_TOO_LARGE;
    return write_call(Sys::device_write_inband, device, recnum, data, count, written, KERN_INVALID_ADDRESS);
}

kern_return_t sys_device_get_status(mach_port_name_t device, unsigned flavor, int* status,
                                    mach_msg_type_number_t* count) {
    return device_call(Sys::device_get_status, device, [&](Kernel& k, tasks::Thread&, ipc::Port* d) {
        mach_msg_type_number_t room = 0;
        if (!out_room(count, DEV_STATUS_MAX, room)) return KERN_INVALID_ADDRESS;
        Device* dev = nullptr;
        if (kern_return_t kr = io_device(k, d, device, "asked its status", dev); kr != D_SUCCESS) return kr;
        if (flavor != DEV_GET_SIZE && flavor != DEV_GET_RECORDS)
            return ipc::fail(k.env, D_INVALID_OPERATION, "no status flavor {}", flavor);
        if (room < DEV_GET_SIZE_COUNT)
            return ipc::fail(k.env, D_INVALID_SIZE, "room for {} values; the answer has {}", room, DEV_GET_SIZE_COUNT);
        // The console is sequential, of unknown size: 0 and 1, as the header says.
        const bool disk = dev->kind == Device::Kind::Disk;
        const int records = disk ? static_cast<int>(k.disk.records()) : 0;
        const int record_size = disk ? static_cast<int>(machine::DiskDevice::kRecordSize) : 1;
        static_assert(DEV_GET_SIZE_DEVICE_SIZE == DEV_GET_RECORDS_DEVICE_RECORDS &&
                      DEV_GET_SIZE_RECORD_SIZE == DEV_GET_RECORDS_RECORD_SIZE && DEV_GET_SIZE_COUNT == 2);
        int answer[DEV_GET_SIZE_COUNT];
        answer[DEV_GET_SIZE_DEVICE_SIZE] = flavor == DEV_GET_SIZE ? records * record_size : records;
        answer[DEV_GET_SIZE_RECORD_SIZE] = record_size;
        if (!machine::copy_user(status, answer, sizeof answer)) return KERN_INVALID_ADDRESS;
        (void)put_user(count, mach_msg_type_number_t{DEV_GET_SIZE_COUNT});
        return D_SUCCESS;
    });
}

kern_return_t sys_device_close(mach_port_name_t device) {
    return device_call(Sys::device_close, device, [&](Kernel& k, tasks::Thread&, ipc::Port* d) {
        Device* dev = nullptr;
        return opened(k, d, device, dev);  // the device port lives as long as the kernel; the caller's right stays
    });
}

}  // namespace machsim::gate
