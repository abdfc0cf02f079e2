// shmring: a producer and a consumer move items through a ring buffer in
// memory the two tasks share. No message carries an item: one message sets the
// sharing up, then the items go by plain loads and stores, and two semaphores
// keep the tasks in step.
//
//   producer                                                      consumer (no memory of its own)
//   vm_allocate: ring = header {head, tail, sums} + 4 slots
//   mach_make_memory_entry_64(ring, RW) --> entry port
//   semaphore_create: "slots free" = 4, "items ready" = 0
//   task_spawn consumer, giving it the receive right of "inbox"
//   --- one message to inbox: entry + both semaphores ----------->  vm_map(entry): the same pages
//                                                                   (3 port descriptors)
//   wait(slots free)                                                wait(items ready)
//   slot[head % 4] = item; ++head                                   item = slot[tail % 4]; ++tail
//   signal(items ready) -------------------------------------------> ...  signal(slots free)
//   ... 16 items ...
//   header.producer_sum = my checksum, before the last signal ----> reads it: equals its own checksum?
//   wait(slots free) x4: the ring is empty again  <---------------- header.consumer_sum = its checksum,
//   reads header.consumer_sum: equals mine?                          before its last signal
//
// The checksums cross in the shared header, not in messages: each side reading
// the other's number there is the proof that the pages really are the same.
#include <cstdint>
#include <cstdio>

#include "mach/mach.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr uint32_t kSlots = 4;
constexpr int kItems = 16;
constexpr int kReportEvery = 4;  // progress lines: every 4th item on each side
constexpr mach_msg_id_t kSetup = 1100;

ShmRingStats g_stats;

struct Item {
    uint32_t seq;    // 1, 2, 3, ...: lets the consumer see that nothing was lost or reordered
    uint32_t value;  // what the producer "made"
};

// The ring, as both tasks see it. Each index has one writer (head: producer,
// tail: consumer), and the semaphores, not the indices, say when a slot may be
// touched: they order every slot access as a lock would. The one read across
// that line is the producer's progress line peeking at tail to show how full
// the ring is; with tasks as fibers on one host thread it is exact, on a
// multiprocessor it would be a snapshot.
struct Ring {
    uint32_t slots;         // kSlots, written once by the producer
    uint32_t items;         // how many items the run will move
    uint32_t head;          // next slot to fill, counting from 0 without wrapping
    uint32_t tail;          // next slot to empty
    uint64_t producer_sum;  // the producer's checksum, stored before it signals the last item
    uint64_t consumer_sum;  // the consumer's checksum, stored before it frees the last slot
    Item slot[kSlots];
};

// The one message: the entry and the two semaphores, as port descriptors.
struct SetupMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t entry;        // the ring's memory entry
    mach_msg_port_descriptor_t slots_free;   // semaphore: empty slots
    mach_msg_port_descriptor_t items_ready;  // semaphore: full slots
    uint64_t ring_size;                      // bytes to map
};

struct SetupReceived {
    SetupMsg msg;
    mach_msg_trailer_t trailer;
};

uint32_t item_value(uint32_t seq) { return seq * 2654435761u; }  // Knuth's multiplicative hash: varied bytes

// Order matters to it, so a swapped pair of items would show.
uint64_t mix(uint64_t sum, const Item& it) { return sum * 1099511628211ull + (uint64_t{it.seq} << 32 | it.value); }

unsigned long long tick() { return static_cast<unsigned long long>(machsim::now()); }

int consumer(mach_port_t inbox) {
    SetupReceived in{};
    mach_msg_return_t mr =
        mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, inbox, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS || in.msg.head.msgh_id != kSetup) {
        mach_error("consumer: receive setup:", mr);
        return 1;
    }
    mach_port_t entry = in.msg.entry.name;
    semaphore_t slots_free = in.msg.slots_free.name, items_ready = in.msg.items_ready.name;

    // The consumer was spawned without the producer's memory: this mapping is
    // its only way to the ring. Every task's space spans the same addresses, so
    // the ring may well land at the producer's address too; what makes it the
    // same memory is the entry, not the number.
    vm_address_t at = 0;
    kern_return_t kr = vm_map(mach_task_self(), &at, in.msg.ring_size, 0, VM_FLAGS_ANYWHERE, entry, 0, FALSE,
                              VM_PROT_READ | VM_PROT_WRITE, VM_PROT_READ | VM_PROT_WRITE, VM_INHERIT_NONE);
    if (kr != KERN_SUCCESS) {
        mach_error("consumer: vm_map:", kr);
        return 1;
    }
    Ring* ring = reinterpret_cast<Ring*>(at);
    std::printf("consumer: mapped the entry at %#lx: a ring of %u slots, %u items to come\n",
                static_cast<unsigned long>(at), ring->slots, ring->items);

    uint64_t sum = 0;
    int taken = 0;
    for (uint32_t n = 0; n < ring->items; ++n) {
        if ((kr = semaphore_wait(items_ready)) != KERN_SUCCESS) {
            mach_error("consumer: wait for an item:", kr);
            return 1;
        }
        Item it = ring->slot[ring->tail % ring->slots];
        if (it.seq != n + 1 || it.value != item_value(it.seq)) {
            std::fprintf(stderr, "consumer: slot held item %u (%#x), expected item %u\n", it.seq, it.value, n + 1);
            return 1;
        }
        sum = mix(sum, it);
        ++taken;
        machsim::compute(30);  // consuming is slower than producing: the ring fills up
        if (n + 1 == ring->items) ring->consumer_sum = sum;  // before the signal that lets the producer look
        ++ring->tail;
        if (it.seq % kReportEvery == 0)
            std::printf("consumer: took item %2u (%#010x) from slot %u, tick %llu\n", it.seq, it.value,
                        (ring->tail - 1) % ring->slots, tick());
        if ((kr = semaphore_signal(slots_free)) != KERN_SUCCESS) {
            mach_error("consumer: free a slot:", kr);
            return 1;
        }
    }
    // The producer stored its checksum before it signalled the last item, and we have taken that item.
    uint64_t theirs = ring->producer_sum;
    std::printf("consumer: %d items, checksum %#018llx; the producer's, read from the shared header: %#018llx (%s)\n",
                taken, static_cast<unsigned long long>(sum), static_cast<unsigned long long>(theirs),
                sum == theirs ? "same" : "DIFFERENT");
    g_stats.consumed = taken;
    g_stats.consumer_sum = sum;
    g_stats.consumer_read_sum = theirs;

    (void)vm_deallocate(mach_task_self(), at, in.msg.ring_size);
    for (mach_port_t p : {entry, slots_free, items_ready}) (void)mach_port_deallocate(mach_task_self(), p);
    (void)mach_port_mod_refs(mach_task_self(), inbox, MACH_PORT_RIGHT_RECEIVE, -1);
    return sum == theirs ? 0 : 1;
}

int producer() {
    // The ring: one region, named by a memory entry the consumer can map.
    vm_address_t at = 0;
    vm_size_t size = sizeof(Ring);
    kern_return_t kr = vm_allocate(mach_task_self(), &at, size, VM_FLAGS_ANYWHERE);
    memory_object_size_t entry_size = size;
    mach_port_t entry = MACH_PORT_NULL;
    if (kr == KERN_SUCCESS)
        kr = mach_make_memory_entry_64(mach_task_self(), &entry_size, at, VM_PROT_READ | VM_PROT_WRITE, &entry,
                                       MACH_PORT_NULL);
    semaphore_t slots_free = MACH_PORT_NULL, items_ready = MACH_PORT_NULL;
    if (kr == KERN_SUCCESS) kr = semaphore_create(mach_task_self(), &slots_free, SYNC_POLICY_FIFO, kSlots);
    if (kr == KERN_SUCCESS) kr = semaphore_create(mach_task_self(), &items_ready, SYNC_POLICY_FIFO, 0);
    if (kr != KERN_SUCCESS) {
        mach_error("producer: setup:", kr);
        return 1;
    }
    Ring* ring = reinterpret_cast<Ring*>(at);
    ring->slots = kSlots;
    ring->items = kItems;
    std::printf("producer: ring of %u slots at %#lx (entry %#x, %llu bytes); semaphores \"slots free\" = %u, "
                "\"items ready\" = 0\n",
                kSlots, static_cast<unsigned long>(at), entry, static_cast<unsigned long long>(entry_size), kSlots);

    // The consumer gets the receive right of a fresh port; we keep a send right
    // to it. No inherited memory: whatever it sees of the ring comes through the entry.
    mach_port_t inbox = MACH_PORT_NULL;
    kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &inbox);
    if (kr == KERN_SUCCESS) kr = mach_port_insert_right(mach_task_self(), inbox, inbox, MACH_MSG_TYPE_MAKE_SEND);
    mach_port_t child = kr == KERN_SUCCESS ? machsim::task_spawn("consumer", consumer, inbox,
                                                                 MACH_MSG_TYPE_MOVE_RECEIVE,
                                                                 SpawnOptions{.inherit_memory = false})
                                           : MACH_PORT_NULL;
    if (child == MACH_PORT_NULL) {
        std::fprintf(stderr, "producer: cannot start the consumer\n");
        return 1;
    }
    (void)mach_port_deallocate(mach_task_self(), child);  // we never act on the consumer's task

    // The entry moves (we need it no more); the semaphores are copied (we use them too).
    SetupMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = inbox;
    m.head.msgh_id = kSetup;
    m.body.msgh_descriptor_count = 3;
    m.entry = {entry, 0, 0, MACH_MSG_TYPE_MOVE_SEND, MACH_MSG_PORT_DESCRIPTOR};
    m.slots_free = {slots_free, 0, 0, MACH_MSG_TYPE_COPY_SEND, MACH_MSG_PORT_DESCRIPTOR};
    m.items_ready = {items_ready, 0, 0, MACH_MSG_TYPE_COPY_SEND, MACH_MSG_PORT_DESCRIPTOR};
    m.ring_size = entry_size;
    mach_msg_return_t mr =
        mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) {
        mach_error("producer: send setup:", mr);
        return 1;
    }
    std::printf("producer: sent the consumer one message: the entry and both semaphores\n");

    uint64_t sum = 0;
    int made = 0;
    for (uint32_t seq = 1; seq <= kItems; ++seq) {
        Item it{seq, item_value(seq)};
        machsim::compute(10);  // making an item
        if ((kr = semaphore_wait(slots_free)) != KERN_SUCCESS) {
            mach_error("producer: wait for a slot:", kr);
            return 1;
        }
        uint32_t s = ring->head % ring->slots;
        ring->slot[s] = it;
        ++ring->head;
        sum = mix(sum, it);
        ++made;
        if (seq == kItems) ring->producer_sum = sum;  // before the signal that lets the consumer take the last item
        if (seq % kReportEvery == 0)
            std::printf("producer: put  item %2u (%#010x) in   slot %u, tick %llu (%u in the ring)\n", seq, it.value,
                        s, tick(), ring->head - ring->tail);
        if ((kr = semaphore_signal(items_ready)) != KERN_SUCCESS) {
            mach_error("producer: signal an item:", kr);
            return 1;
        }
    }
    // Taking every slot back means the consumer has freed them all, so it has
    // finished with the ring (and with our semaphores, which die with us).
    for (uint32_t i = 0; i < kSlots; ++i) {
        if ((kr = semaphore_wait(slots_free)) != KERN_SUCCESS) {
            mach_error("producer: drain:", kr);
            return 1;
        }
    }
    uint64_t theirs = ring->consumer_sum;
    std::printf("producer: %d items, checksum %#018llx; the consumer's, read from the shared header: %#018llx (%s)\n",
                made, static_cast<unsigned long long>(sum), static_cast<unsigned long long>(theirs),
                sum == theirs ? "same" : "DIFFERENT");
    g_stats.produced = made;
    g_stats.producer_sum = sum;
    g_stats.producer_read_sum = theirs;

    (void)semaphore_destroy(mach_task_self(), slots_free);
    (void)semaphore_destroy(mach_task_self(), items_ready);
    (void)vm_deallocate(mach_task_self(), at, size);
    return sum == theirs ? 0 : 1;
}

}  // namespace

ShmRingStats shmring_stats() { return g_stats; }

Program shmring_program() {
    return {"shmring",
            "producer/consumer over a ring buffer in shared memory (a memory entry), kept in step by two semaphores",
            [](Kernel& k) {
                g_stats = {};
                k.spawn("producer", producer);
            }};
}

}  // namespace machsim::demos
