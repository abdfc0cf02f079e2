// driver: a device driver that takes a timer's interrupts as messages (GNU Mach's
// irq device, R25) and forwards each tick to a client.
//
//   timer device        kernel (line 0)              clock-driver                 clock-client
//   raise every 1000 --> masked, device_intr_notify --> receive (id 100)
//                        (raises meanwhile: one        tick n -------------------> receive, print
//                         remembered)              <-- device_intr_ack: unmasked
//
// The third interrupt takes the driver longer than two timer periods: the raises in
// between coalesce into one, delivered as soon as it acknowledges.
#include <cstdio>

#include "device/device.h"
#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr int kLine = 0;
constexpr uint64_t kPeriod = 1000;
constexpr int kTicks = 5;
constexpr mach_msg_id_t kTick = 600;

DriverStats g_stats;

struct TickMsg {
    mach_msg_header_t head;
    int n;
    int line;
    uint64_t at;
};

struct TickReceived {
    TickMsg msg;
    mach_msg_trailer_t trailer;
};

struct IntrReceived {
    device_intr_notification_t n;
    mach_msg_trailer_t trailer;
};

int fail(const char* what, kern_return_t kr) {
    mach_error(what, kr);
    return 1;
}

int driver() {
    mach_port_t master = MACH_PORT_NULL, irq = MACH_PORT_NULL, intr = MACH_PORT_NULL, client = MACH_PORT_NULL;
    kern_return_t kr = get_privileged_ports(nullptr, &master);
    if (kr != KERN_SUCCESS) return fail("clock-driver: get_privileged_ports:", kr);
    kr = device_open(master, D_READ | D_WRITE, "irq", &irq);
    if (kr != D_SUCCESS) return fail("clock-driver: device_open:", kr);
    (void)mach_port_deallocate(mach_task_self(), master);
    kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &intr);
    if (kr != KERN_SUCCESS) return fail("clock-driver: mach_port_allocate:", kr);
    kr = device_intr_register(irq, kLine, 0, intr, MACH_MSG_TYPE_MAKE_SEND);
    if (kr != D_SUCCESS) return fail("clock-driver: device_intr_register:", kr);
    kr = look_up_service("clock", &client);
    if (kr != KERN_SUCCESS) return fail("clock-driver: bootstrap_look_up:", kr);
    std::printf("clock-driver: line %d registered\n", kLine);

    for (int n = 1; n <= kTicks; ++n) {
        IntrReceived in{};
        mach_msg_return_t mr =
            mach_msg(&in.n.intr_header, MACH_RCV_MSG, 0, sizeof in, intr, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return fail("clock-driver: receive:", mr);
        if (in.n.intr_header.msgh_id != DEVICE_INTR_NOTIFY || in.n.id != kLine) return 1;
        ++g_stats.interrupts;
        uint64_t at = machsim::now();
        std::printf("clock-driver: interrupt %d on line %d at tick %llu\n", n, in.n.id, (unsigned long long)at);
        machsim::compute(n == 3 ? 2500 : 100);  // handling it; the third takes long
        TickMsg tick{};
        tick.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        tick.head.msgh_size = sizeof tick;
        tick.head.msgh_remote_port = client;
        tick.head.msgh_id = kTick;
        tick.n = n;
        tick.line = in.n.id;
        tick.at = at;
        mr = mach_msg(&tick.head, MACH_SEND_MSG, sizeof tick, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return fail("clock-driver: send:", mr);
        kr = device_intr_ack(irq, intr, MACH_MSG_TYPE_MAKE_SEND);
        if (kr != D_SUCCESS) return fail("clock-driver: device_intr_ack:", kr);
        ++g_stats.acks;
    }
    std::printf("clock-driver: done; its port dies with it and the line is free again\n");
    return 0;
}

int client() {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "clock", &port);
    if (kr != KERN_SUCCESS) return fail("clock-client: bootstrap_check_in:", kr);
    for (int i = 0; i < kTicks; ++i) {
        TickReceived in{};
        mach_msg_return_t mr =
            mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return fail("clock-client: receive:", mr);
        ++g_stats.received;
        std::printf("clock-client: tick %d (line %d, interrupt at tick %llu), received at tick %llu\n", in.msg.n,
                    in.msg.line, (unsigned long long)in.msg.at, (unsigned long long)machsim::now());
    }
    return 0;
}

}  // namespace

DriverStats driver_stats() { return g_stats; }

Program driver_program() {
    return {"driver", "a driver takes a timer's interrupts as messages (device_intr_register) and forwards ticks",
            [](Kernel& k) {
                g_stats = {};
                k.timer_device(kLine, kPeriod);
                k.spawn("clock-client", client);
                k.spawn("clock-driver", driver, SpawnOptions{.privileged = true});
            }};
}

}  // namespace machsim::demos
