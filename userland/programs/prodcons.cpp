// prodcons: a producer and a slower consumer. The bounded buffer is the
// consumer's port queue (qlimit 3): when it is full, the producer's send blocks
// until the consumer takes a message (back-pressure, no locks).
#include <cstdio>

#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr int kItems = 8;
constexpr mach_port_msgcount_t kBufferSlots = 3;
constexpr mach_msg_id_t kItem = 600;

struct ItemMsg {
    mach_msg_header_t head;
    int item;
};

int consumer() {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "buffer", &port);
    if (kr != KERN_SUCCESS) {
        mach_error("consumer: bootstrap_check_in:", kr);
        return 1;
    }
    mach_port_limits_t limits{kBufferSlots};
    kr = mach_port_set_attributes(mach_task_self(), port, MACH_PORT_LIMITS_INFO,
                                  reinterpret_cast<mach_port_info_t>(&limits), MACH_PORT_LIMITS_INFO_COUNT);
    if (kr != KERN_SUCCESS) {
        mach_error("consumer: set qlimit:", kr);
        return 1;
    }
    for (int n = 0; n < kItems; ++n) {
        struct {
            ItemMsg msg;
            mach_msg_trailer_t trailer;
        } in{};
        mach_msg_return_t mr =
            mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("consumer: receive:", mr);
            return 1;
        }
        std::printf("consumer: took item %d at tick %llu\n", in.msg.item,
                    static_cast<unsigned long long>(machsim::now()));
        machsim::compute(40);  // consuming is slower than producing
    }
    return 0;
}

int producer() {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = look_up_service("buffer", &port);
    if (kr != KERN_SUCCESS) {
        mach_error("producer: bootstrap_look_up:", kr);
        return 1;
    }
    for (int i = 1; i <= kItems; ++i) {
        machsim::compute(10);
        ItemMsg m{};
        m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = port;
        m.head.msgh_id = kItem;
        m.item = i;
        mach_msg_return_t mr =
            mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("producer: send:", mr);
            return 1;
        }
        std::printf("producer: put item %d at tick %llu\n", i, static_cast<unsigned long long>(machsim::now()));
    }
    return 0;
}

}  // namespace

Program prodcons_program() {
    return {"prodcons", "a producer and a slower consumer; a port's queue (qlimit 3) is the bounded buffer",
            [](Kernel& k) {
                k.spawn("consumer", consumer);
                k.spawn("producer", producer);
            }};
}

}  // namespace machsim::demos
