// Lab: a device driver that takes a timer's interrupts as messages. README.md says what to
// write; clock.h has the constants.
#include "labs/clockdriver/clock.h"

#include <machsim.h>
#include <servers/bootstrap.h>

int clock_driver() {
    // TODO: open the "irq" device, register CLOCK_LINE with a port of your own, look up "clock",
    // then for each of CLOCK_TICKS interrupts: receive it, send a clock_tick, acknowledge it.
    return 1;
}

// Your own try-out program: a client that prints the ticks.
namespace {

int client() {
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "clock", &port) != KERN_SUCCESS) return 1;
    for (int32_t i = 0; i < CLOCK_TICKS; ++i) {
        struct {
            clock_tick tick;
            mach_msg_trailer_t trailer;
        } in{};
        if (mach_msg(&in.tick.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
    }
    return 0;
}

}  // namespace

MACHSIM_PROGRAM(clockdriver, "lab: a driver forwards a timer's interrupts to a client") {
    k.timer_device(CLOCK_LINE, CLOCK_PERIOD);
    k.spawn("client", client);
    k.spawn("driver", clock_driver, machsim::SpawnOptions{.privileged = true});
}
