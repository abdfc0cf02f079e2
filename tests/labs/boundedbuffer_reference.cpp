// A solution of labs/boundedbuffer, for the tests: `make grade LAB=boundedbuffer SOLUTION=...`
// must give it every point. Built with -DBOUNDEDBUFFER_POLL its producer polls a full buffer
// (MACH_SEND_TIMEOUT 0, then yields) instead of waiting in mach_msg, and loses that test's
// points (tests/run.sh).
#include "labs/boundedbuffer/buffer.h"

#include <machsim.h>
#include <servers/bootstrap.h>

int consumer() {
    mach_port_options_t opts{};
    opts.flags = MPO_QLIMIT | MPO_INSERT_SEND_RIGHT;
    opts.mpl.mpl_qlimit = PC_BUFFER_SLOTS;
    mach_port_t buffer = MACH_PORT_NULL;
    if (mach_port_construct(mach_task_self(), &opts, 0, &buffer) != KERN_SUCCESS) return 1;
    if (bootstrap_register(bootstrap_port, "buffer", buffer) != KERN_SUCCESS) return 1;
    for (int32_t i = 0; i < PC_ITEMS; ++i) {
        struct {
            pc_item item;
            mach_msg_trailer_t trailer;
        } in{};
        if (mach_msg(&in.item.head, MACH_RCV_MSG, 0, sizeof in, buffer, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
                MACH_MSG_SUCCESS ||
            in.item.head.msgh_id != PC_ITEM || in.item.value != i)
            return 1;
        pc_consume(in.item.value);
    }
    return 0;
}

int producer() {
    mach_port_t buffer = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, "buffer", &buffer);
    for (int tries = 0; kr == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, "buffer", &buffer);
    }
    if (kr != KERN_SUCCESS) return 1;
    for (int32_t i = 0; i < PC_ITEMS; ++i) {
        pc_item item{};
        item.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        item.head.msgh_size = sizeof item;
        item.head.msgh_remote_port = buffer;
        item.head.msgh_id = PC_ITEM;
        item.value = i;
#ifndef BOUNDEDBUFFER_POLL
        if (mach_msg(&item.head, MACH_SEND_MSG, sizeof item, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                     MACH_PORT_NULL) != MACH_MSG_SUCCESS)
            return 1;
#else
        mach_msg_return_t mr;
        while ((mr = mach_msg(&item.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof item, 0, MACH_PORT_NULL, 0,
                              MACH_PORT_NULL)) == MACH_SEND_TIMED_OUT)
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // the mistake: a busy wait
        if (mr != MACH_MSG_SUCCESS) return 1;
#endif
    }
    return 0;
}

MACHSIM_PROGRAM(boundedbuffer, "lab: a producer and a consumer over a bounded buffer (reference solution)") {
    k.spawn("consumer", consumer);
    k.spawn("producer", producer);
}
