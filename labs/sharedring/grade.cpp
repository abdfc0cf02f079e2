// The sharedring lab's grader (README.md has the assignment and the points). Besides the
// student's two tasks together, it runs each beside a partner the grader wrote.
#include "labs/grade.h"

#include <utility>

#include "labs/sharedring/ring.h"

namespace {

using lab::give_up;

// The grader's producer: the ring, the semaphores, the setup message, every item, then it
// waits for the ring to drain (its semaphores end with it).
int graders_producer() {
    vm_address_t at = 0;
    if (kern_return_t kr = vm_allocate(mach_task_self(), &at, sizeof(ring), VM_FLAGS_ANYWHERE); kr != KERN_SUCCESS)
        return give_up("the grader's producer: vm_allocate: {}", mach_error_string(kr));
    memory_object_size_t size = sizeof(ring);
    mach_port_t entry = MACH_PORT_NULL;
    semaphore_t slots_free = MACH_PORT_NULL, items_ready = MACH_PORT_NULL;
    kern_return_t kr = mach_make_memory_entry_64(mach_task_self(), &size, at, VM_PROT_READ | VM_PROT_WRITE, &entry,
                                                 MACH_PORT_NULL);
    if (kr == KERN_SUCCESS) kr = semaphore_create(mach_task_self(), &slots_free, SYNC_POLICY_FIFO, RING_SLOTS);
    if (kr == KERN_SUCCESS) kr = semaphore_create(mach_task_self(), &items_ready, SYNC_POLICY_FIFO, 0);
    if (kr != KERN_SUCCESS) return give_up("the grader's producer: setting up: {}", mach_error_string(kr));
    mach_port_t consumer_port = lab::look_up("ring");
    if (!consumer_port) return 1;
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
    if (mach_msg_return_t mr = mach_msg(&setup.head, MACH_SEND_MSG, sizeof setup, 0, MACH_PORT_NULL,
                                        MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        mr != MACH_MSG_SUCCESS)
        return give_up("the grader's producer: sending the setup message: {}", mach_error_string(mr));
    auto* r = reinterpret_cast<volatile ring*>(at);
    for (uint32_t i = 0; i < RING_ITEMS; ++i) {
        if (semaphore_wait(slots_free) != KERN_SUCCESS) return give_up("the grader's producer: waiting for a slot");
        r->slot[r->head % RING_SLOTS] = ring_value(i);
        r->head = r->head + 1;
        (void)semaphore_signal(items_ready);
    }
    for (uint32_t i = 0; i < RING_SLOTS; ++i)
        if (semaphore_wait(slots_free) != KERN_SUCCESS) return give_up("the grader's producer: waiting for the ring to drain");
    if (r->tail != RING_ITEMS) return give_up("the ring's tail is {} once it drained, not {}", r->tail, RING_ITEMS);
    return 0;
}

// The grader's consumer: every item checked, and the ring never more than full.
int graders_consumer() {
    mach_port_t port = MACH_PORT_NULL;
    if (kern_return_t kr = bootstrap_check_in(bootstrap_port, "ring", &port); kr != KERN_SUCCESS)
        return give_up("the grader's consumer: bootstrap_check_in(\"ring\"): {}", mach_error_string(kr));
    struct {
        ring_setup_msg msg;
        mach_msg_max_trailer_t trailer;
    } in{};
    mach_msg_return_t mr = mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) return give_up("receiving the setup message: {}", mach_error_string(mr));
    if (in.msg.head.msgh_id != RING_SETUP || !(in.msg.head.msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
        in.msg.body.msgh_descriptor_count != 3)
        return give_up("the setup message has id {} and {} descriptors, not {} and 3", in.msg.head.msgh_id,
                       in.msg.body.msgh_descriptor_count, +RING_SETUP);
    vm_address_t at = 0;
    kern_return_t kr = vm_map(mach_task_self(), &at, in.msg.ring_size, 0, VM_FLAGS_ANYWHERE, in.msg.entry.name, 0,
                              FALSE, VM_PROT_READ | VM_PROT_WRITE, VM_PROT_READ | VM_PROT_WRITE, VM_INHERIT_NONE);
    if (kr != KERN_SUCCESS) return give_up("mapping the entry of the setup message: {}", mach_error_string(kr));
    auto* r = reinterpret_cast<volatile ring*>(at);
    for (uint32_t i = 0; i < RING_ITEMS; ++i) {
        if (kr = semaphore_wait(in.msg.items_ready.name); kr != KERN_SUCCESS)
            return give_up("waiting for item {} on items_ready: {}", i, mach_error_string(kr));
        if (r->head - r->tail > RING_SLOTS)
            return give_up("the ring holds {} items: more than its {} slots", r->head - r->tail, RING_SLOTS);
        if (r->head <= i) return give_up("item {} was signalled, but head is {}: the item is not in the ring", i, r->head);
        uint32_t v = r->slot[r->tail % RING_SLOTS];
        if (v != ring_value(i)) return give_up("item {} has the value {:#x}, not {:#x}", i, v, ring_value(i));
        r->tail = r->tail + 1;
        if (kr = semaphore_signal(in.msg.slots_free.name); kr != KERN_SUCCESS)
            return give_up("signalling slots_free after item {}: {}", i, mach_error_string(kr));
    }
    return 0;
}

// Messages the producer sent, other than its bootstrap requests (ids 402-404).
int producers_messages(const lab::Run& r) {
    int n = 0;
    for (const auto& e : r.log.of_kind(machsim::EventKind::Send))
        n += r.task_name(e.event.task) == "producer" && e.event.extra != 1 && (e.event.code < 402 || e.event.code > 404);
    return n;
}

}  // namespace

MACHSIM_PROGRAM(sr_both, "sharedring grader: your producer and your consumer") {
    k.spawn("consumer", consumer);
    k.spawn("producer", producer);
}
MACHSIM_PROGRAM(sr_producer, "sharedring grader: your producer and the grader's consumer") {
    k.spawn("consumer", graders_consumer);
    k.spawn("producer", producer);
}
MACHSIM_PROGRAM(sr_consumer, "sharedring grader: the grader's producer and your consumer") {
    k.spawn("consumer", consumer);
    k.spawn("producer", graders_producer);
}

LAB_TEST("your producer and consumer together: the run ends clean", 25) { t.expect_clean(lab::run("sr_both")); }

LAB_TEST("your producer, with the grader's consumer: 16 items through the ring, never more than 4 in it", 20) {
    t.expect_clean(lab::run("sr_producer"));
}

LAB_TEST("your consumer, with the grader's producer: it takes every item and frees every slot", 20) {
    t.expect_clean(lab::run("sr_consumer"));
}

LAB_TEST("the items go through the shared memory: the producer sends one message, the setup", 15) {
    lab::Run r = lab::run("sr_both");
    t.expect_clean(r);
    t.expect(producers_messages(r) == 1, "the producer sent {} messages besides its bootstrap requests, not 1",
             producers_messages(r));
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one", 20) {
    lab::under_schedules(t, "sr_both");
}

LAB_MAIN("sharedring")
