// The sharedring lab's protocol, shared by your tasks and the grader's: the ring both tasks map,
// and the one message that sets the sharing up.
#pragma once

#include <mach/mach.h>

constexpr uint32_t RING_SLOTS = 4;    // slots in the ring
constexpr uint32_t RING_ITEMS = 16;   // items the producer puts through it
enum : mach_msg_id_t { RING_SETUP = 1100 };

// The value of item i (i = 0, 1, ..., RING_ITEMS - 1): varied bytes, so a mix-up shows.
inline uint32_t ring_value(uint32_t i) { return (i + 1) * 2654435761u; }

// The ring, at the start of the shared region. head: the next slot to fill, counted from 0
// without wrapping (written by the producer only); tail: the next slot to empty (the consumer's).
struct ring {
    uint32_t head;
    uint32_t tail;
    uint32_t slot[RING_SLOTS];
};

// The producer's one message to the consumer: the ring's memory entry and the two semaphores.
struct ring_setup_msg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t entry;        // names the ring's memory (mach_make_memory_entry_64)
    mach_msg_port_descriptor_t slots_free;   // a semaphore: slots the producer may fill (starts at RING_SLOTS)
    mach_msg_port_descriptor_t items_ready;  // a semaphore: items the consumer may take (starts at 0)
    uint64_t ring_size;                      // bytes to map
};

// Yours (sharedring.cpp): the two task bodies.
int producer();
int consumer();
