// Lab: a producer and a consumer share a ring buffer in memory, kept in step by two semaphores.
// README.md says what to write; ring.h has the layout and the setup message.
#include "labs/sharedring/ring.h"

#include <machsim.h>
#include <servers/bootstrap.h>

int producer() {
    // TODO: make the ring (vm_allocate, mach_make_memory_entry_64), the two semaphores, send the
    // setup message to "ring", put the RING_ITEMS items through, and wait until the ring is empty.
    return 1;
}

int consumer() {
    // TODO: check in "ring", receive the setup message, map the ring (vm_map), take RING_ITEMS items.
    return 1;
}

MACHSIM_PROGRAM(sharedring, "lab: a producer and a consumer over a ring in shared memory") {
    k.spawn("consumer", consumer);
    k.spawn("producer", producer);
}
