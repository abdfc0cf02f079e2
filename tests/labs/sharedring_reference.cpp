// A solution of labs/sharedring, for the tests: `make grade LAB=sharedring SOLUTION=...` must
// give it every point. Built with -DSHAREDRING_NO_DRAIN its producer returns as soon as it has
// put the last item in, without waiting for the ring to drain: its semaphores end with it while
// the consumer still needs them (tests/run.sh).
#include "labs/sharedring/ring.h"

#include <utility>

#include <machsim.h>
#include <servers/bootstrap.h>

int producer() {
    vm_address_t at = 0;
    if (vm_allocate(mach_task_self(), &at, sizeof(ring), VM_FLAGS_ANYWHERE) != KERN_SUCCESS) return 1;
    memory_object_size_t size = sizeof(ring);
    mach_port_t entry = MACH_PORT_NULL;
    if (mach_make_memory_entry_64(mach_task_self(), &size, at, VM_PROT_READ | VM_PROT_WRITE, &entry,
                                  MACH_PORT_NULL) != KERN_SUCCESS)
        return 1;
    semaphore_t slots_free = MACH_PORT_NULL, items_ready = MACH_PORT_NULL;
    if (semaphore_create(mach_task_self(), &slots_free, SYNC_POLICY_FIFO, RING_SLOTS) != KERN_SUCCESS ||
        semaphore_create(mach_task_self(), &items_ready, SYNC_POLICY_FIFO, 0) != KERN_SUCCESS)
        return 1;
    mach_port_t consumer_port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, "ring", &consumer_port);
    for (int tries = 0; kr == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, "ring", &consumer_port);
    }
    if (kr != KERN_SUCCESS) return 1;
    ring_setup_msg setup{};
    setup.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    setup.head.msgh_size = sizeof setup;
    setup.head.msgh_remote_port = consumer_port;
    setup.head.msgh_id = RING_SETUP;
    setup.body.msgh_descriptor_count = 3;
    for (auto [d, right] : {std::pair{&setup.entry, entry}, {&setup.slots_free, slots_free}, {&setup.items_ready, items_ready}}) {
        d->name = right;
        d->disposition = MACH_MSG_TYPE_COPY_SEND;
        d->type = MACH_MSG_PORT_DESCRIPTOR;
    }
    setup.ring_size = sizeof(ring);
    if (mach_msg(&setup.head, MACH_SEND_MSG, sizeof setup, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                 MACH_PORT_NULL) != MACH_MSG_SUCCESS)
        return 1;
    auto* r = reinterpret_cast<volatile ring*>(at);
    for (uint32_t i = 0; i < RING_ITEMS; ++i) {
        if (semaphore_wait(slots_free) != KERN_SUCCESS) return 1;
        r->slot[r->head % RING_SLOTS] = ring_value(i);
        r->head = r->head + 1;
        if (semaphore_signal(items_ready) != KERN_SUCCESS) return 1;
    }
#ifndef SHAREDRING_NO_DRAIN
    // The semaphores are this task's: they end with it. Wait until the consumer has freed every slot.
    for (uint32_t i = 0; i < RING_SLOTS; ++i)
        if (semaphore_wait(slots_free) != KERN_SUCCESS) return 1;
#endif
    return 0;
}

int consumer() {
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "ring", &port) != KERN_SUCCESS) return 1;
    struct {
        ring_setup_msg msg;
        mach_msg_trailer_t trailer;
    } in{};
    if (mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS ||
        in.msg.head.msgh_id != RING_SETUP)
        return 1;
    vm_address_t at = 0;
    if (vm_map(mach_task_self(), &at, in.msg.ring_size, 0, VM_FLAGS_ANYWHERE, in.msg.entry.name, 0, FALSE,
               VM_PROT_READ | VM_PROT_WRITE, VM_PROT_READ | VM_PROT_WRITE, VM_INHERIT_NONE) != KERN_SUCCESS)
        return 1;
    auto* r = reinterpret_cast<volatile ring*>(at);
    for (uint32_t i = 0; i < RING_ITEMS; ++i) {
        if (semaphore_wait(in.msg.items_ready.name) != KERN_SUCCESS) return 1;
        if (r->slot[r->tail % RING_SLOTS] != ring_value(i)) return 1;
        r->tail = r->tail + 1;
        if (semaphore_signal(in.msg.slots_free.name) != KERN_SUCCESS) return 1;
    }
    return 0;
}
