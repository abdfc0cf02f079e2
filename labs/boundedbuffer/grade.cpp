// The boundedbuffer lab's grader (README.md has the assignment and the points). Besides the
// student's two tasks together, it runs each beside a partner the grader wrote, so that each is
// graded on its own.
#include "labs/grade.h"

#include <algorithm>
#include <set>

#include <servers/bootstrap.h>

#include "labs/boundedbuffer/buffer.h"

namespace {

using lab::give_up;

// The grader's consumer: a buffer of PC_BUFFER_SLOTS, and every item checked.
int graders_consumer() {
    mach_port_options_t opts{};
    opts.flags = MPO_QLIMIT | MPO_INSERT_SEND_RIGHT;
    opts.mpl.mpl_qlimit = PC_BUFFER_SLOTS;
    mach_port_t buffer = MACH_PORT_NULL;
    if (kern_return_t kr = mach_port_construct(mach_task_self(), &opts, 0, &buffer); kr != KERN_SUCCESS)
        return give_up("the grader's consumer could not make the buffer: {}", mach_error_string(kr));
    if (kern_return_t kr = bootstrap_register(bootstrap_port, "buffer", buffer); kr != KERN_SUCCESS)
        return give_up("the grader's consumer could not register \"buffer\": {}", mach_error_string(kr));
    for (int32_t i = 0; i < PC_ITEMS; ++i) {
        struct {
            pc_item item;
            mach_msg_max_trailer_t trailer;
        } in{};
        mach_msg_return_t mr =
            mach_msg(&in.item.head, MACH_RCV_MSG, 0, sizeof in, buffer, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return give_up("receiving item {}: {}", i, mach_error_string(mr));
        if (in.item.head.msgh_id != PC_ITEM) return give_up("item {} has id {}, not {}", i, in.item.head.msgh_id, +PC_ITEM);
        if (in.item.head.msgh_size != sizeof(pc_item))
            return give_up("item {} is {} bytes, not {}", i, in.item.head.msgh_size, sizeof(pc_item));
        if (in.item.value != i) return give_up("item {} has the value {}", i, in.item.value);
        pc_consume(in.item.value);
    }
    return 0;
}

// The grader's producer: every item, in order, waiting in mach_msg while the buffer is full.
int graders_producer() {
    mach_port_t buffer = lab::look_up("buffer");
    if (!buffer) return 1;
    for (int32_t i = 0; i < PC_ITEMS; ++i) {
        pc_item item{};
        item.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        item.head.msgh_size = sizeof item;
        item.head.msgh_remote_port = buffer;
        item.head.msgh_id = PC_ITEM;
        item.value = i;
        mach_msg_return_t mr =
            mach_msg(&item.head, MACH_SEND_MSG, sizeof item, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return give_up("sending item {}: {}", i, mach_error_string(mr));
    }
    return 0;
}

// What the kernel saw of the items in a run.
struct Items {
    uint32_t longest_queue = 0;  // the most items queued at once
    int producer_waits = 0;      // times the producer waited in mach_msg for room
    int producer_timeouts = 0;   // mach_msg calls of the producer that returned MACH_SEND_TIMED_OUT
};

Items items_of(const lab::Run& r) {
    Items out;
    std::set<uint32_t> items;  // message numbers of the items
    for (const auto& entry : r.log.entries()) {
        const machsim::Event& e = entry.event;
        const bool by_producer = r.task_name(e.task) == "producer";
        switch (e.kind) {
        case machsim::EventKind::Send:
            if (e.code == PC_ITEM && e.extra != 1) items.insert(e.msg);
            break;
        case machsim::EventKind::Enqueue:
            if (items.count(e.msg)) out.longest_queue = std::max(out.longest_queue, e.after);
            break;
        case machsim::EventKind::Block: out.producer_waits += by_producer && entry.text == "send"; break;
        case machsim::EventKind::SyscallLeave:
            out.producer_timeouts += by_producer && entry.text == "mach_msg" && e.code == MACH_SEND_TIMED_OUT;
            break;
        default: break;
        }
    }
    return out;
}

}  // namespace

MACHSIM_PROGRAM(bb_both, "boundedbuffer grader: your producer and your consumer") {
    k.spawn("consumer", consumer);
    k.spawn("producer", producer);
}
MACHSIM_PROGRAM(bb_producer, "boundedbuffer grader: your producer and the grader's consumer") {
    k.spawn("consumer", graders_consumer);
    k.spawn("producer", producer);
}
MACHSIM_PROGRAM(bb_consumer, "boundedbuffer grader: the grader's producer and your consumer") {
    k.spawn("consumer", consumer);
    k.spawn("producer", graders_producer);
}

LAB_TEST("your producer and consumer together: 20 items arrive, in order, and the run ends clean", 20) {
    lab::Run r = lab::run("bb_both");
    t.expect_clean(r);
    t.expect(r.received("consumer", PC_ITEM) == PC_ITEMS, "the consumer received {} items, not {}",
             r.received("consumer", PC_ITEM), PC_ITEMS);
}

LAB_TEST("your producer, with the grader's consumer: items 0 to 19, in order, each a message of its own", 20) {
    lab::Run r = lab::run("bb_producer");
    t.expect_clean(r);
    int sent = r.sent_with("producer", PC_ITEM, MACH_MSG_TYPE_COPY_SEND);
    t.expect(sent == PC_ITEMS, "{} items were sent to a send right the producer kept (COPY_SEND), not {}", sent,
             PC_ITEMS);
}

LAB_TEST("your consumer, with the grader's producer: the buffer holds 4 items, and fills up", 20) {
    lab::Run r = lab::run("bb_consumer");
    t.expect_clean(r);
    Items seen = items_of(r);
    t.expect(seen.longest_queue == PC_BUFFER_SLOTS,
             "at most {} items were queued at once: the buffer's queue limit should be {}, and the "
             "consumer slower than the producer",
             seen.longest_queue, PC_BUFFER_SLOTS);
}

LAB_TEST("the producer waits in mach_msg while the buffer is full, rather than polling it", 20) {
    lab::Run r = lab::run("bb_both");
    t.expect_clean(r);
    Items seen = items_of(r);
    t.expect(seen.producer_waits > 0, "the producer never waited for room in the buffer");
    t.expect(seen.producer_timeouts == 0,
             "the producer polled: {} of its sends returned MACH_SEND_TIMED_OUT (send without "
             "MACH_SEND_TIMEOUT, and the kernel makes it wait)",
             seen.producer_timeouts);
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one", 20) {
    lab::under_schedules(t, "bb_both", [&](const lab::Run& r) {
        t.expect(r.received("consumer", PC_ITEM) == PC_ITEMS, "under this schedule the consumer received {} items",
                 r.received("consumer", PC_ITEM));
    });
}

LAB_MAIN("boundedbuffer")
