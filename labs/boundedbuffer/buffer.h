// The boundedbuffer lab's protocol, shared by your tasks and the grader's.
#pragma once

#include <mach/mach.h>

enum : mach_msg_id_t { PC_ITEM = 3000 };           // each item is a message with this id
constexpr mach_port_msgcount_t PC_BUFFER_SLOTS = 4;  // the buffer's capacity: the port's qlimit
constexpr int32_t PC_ITEMS = 20;                     // items produced: the values 0, 1, ..., 19

struct pc_item {
    mach_msg_header_t head;
    int32_t value;
};

// Consuming an item takes time: 2 ms of the kernel's virtual clock, during which the
// consumer does not receive. The producer is faster, so the buffer fills up.
inline void pc_consume(int32_t /*value*/) { thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 2); }

// Yours (boundedbuffer.cpp): the two task bodies.
int producer();
int consumer();
