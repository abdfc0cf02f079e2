// Lab: producer and consumer over a bounded buffer that is a Mach port's queue.
// README.md says what to write; buffer.h has the shared constants.
#include "labs/boundedbuffer/buffer.h"

#include <machsim.h>
#include <servers/bootstrap.h>

int consumer() {
    // TODO: make the buffer (a port whose queue holds PC_BUFFER_SLOTS messages), register it as
    // "buffer", then receive PC_ITEMS items, calling pc_consume for each.
    return 1;
}

int producer() {
    // TODO: look "buffer" up and send the items 0 .. PC_ITEMS - 1.
    return 1;
}

MACHSIM_PROGRAM(boundedbuffer, "lab: a producer and a consumer over a bounded buffer (a port's queue)") {
    k.spawn("consumer", consumer);
    k.spawn("producer", producer);
}
