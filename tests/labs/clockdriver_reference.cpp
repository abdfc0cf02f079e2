// A solution of labs/clockdriver, for the tests: `make grade LAB=clockdriver SOLUTION=...` must
// give it every point. Built with -DCLOCKDRIVER_ACK_FIRST it acknowledges each interrupt before
// it has forwarded it, and loses the test whose client is slow to take the ticks (tests/run.sh).
#include "labs/clockdriver/clock.h"

#include <machsim.h>
#include <servers/bootstrap.h>

int clock_driver() {
    mach_port_t master = MACH_PORT_NULL, irq = MACH_PORT_NULL, intr = MACH_PORT_NULL, client = MACH_PORT_NULL;
    if (get_privileged_ports(nullptr, &master) != KERN_SUCCESS) return 1;
    if (device_open(master, D_READ | D_WRITE, "irq", &irq) != D_SUCCESS) return 1;
    (void)mach_port_deallocate(mach_task_self(), master);
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &intr) != KERN_SUCCESS) return 1;
    if (device_intr_register(irq, CLOCK_LINE, 0, intr, MACH_MSG_TYPE_MAKE_SEND) != D_SUCCESS) return 1;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, "clock", &client);
    for (int tries = 0; kr == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, "clock", &client);
    }
    if (kr != KERN_SUCCESS) return 1;
    for (int32_t n = 1; n <= CLOCK_TICKS; ++n) {
        struct {
            device_intr_notification_t n;
            mach_msg_trailer_t trailer;
        } in{};
        if (mach_msg(&in.n.intr_header, MACH_RCV_MSG, 0, sizeof in, intr, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
                MACH_MSG_SUCCESS ||
            in.n.intr_header.msgh_id != DEVICE_INTR_NOTIFY || in.n.id != CLOCK_LINE)
            return 1;
#ifdef CLOCKDRIVER_ACK_FIRST
        (void)device_intr_ack(irq, intr, MACH_MSG_TYPE_MAKE_SEND);  // the mistake: the line is open again too soon
#endif
        clock_tick tick{};
        tick.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        tick.head.msgh_size = sizeof tick;
        tick.head.msgh_remote_port = client;
        tick.head.msgh_id = CLOCK_TICK;
        tick.n = n;
        if (mach_msg(&tick.head, MACH_SEND_MSG, sizeof tick, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                     MACH_PORT_NULL) != MACH_MSG_SUCCESS)
            return 1;
#ifndef CLOCKDRIVER_ACK_FIRST
        if (device_intr_ack(irq, intr, MACH_MSG_TYPE_MAKE_SEND) != D_SUCCESS) return 1;
#endif
    }
    return 0;
}
