// The clockdriver lab's constants and messages, shared by your driver and the grader's tasks.
#pragma once

#include <device/device.h>
#include <mach/mach.h>

constexpr int CLOCK_LINE = 0;          // the timer's interrupt line
constexpr uint64_t CLOCK_PERIOD = 1000;  // the timer raises it every 1000 ticks of virtual time
constexpr int32_t CLOCK_TICKS = 5;     // interrupts the driver handles, then it returns
enum : mach_msg_id_t { CLOCK_TICK = 600 };  // the message the driver sends the client per interrupt

struct clock_tick {
    mach_msg_header_t head;
    int32_t n;  // 1 for the first interrupt, 2 for the second, ...
};

// Yours (clockdriver.cpp): the driver task's body. It runs privileged (get_privileged_ports works).
int clock_driver();
