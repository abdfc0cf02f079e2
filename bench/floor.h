// The one-way floor (floor.cpp): the oneway_msgs_per_s loop against a model kernel
// that does only what Mach's semantics ask of a one-way send and receive, alone
// (the floor) or with the kernel parts below around it (the kernel floor).
#pragma once

#include <cstdint>
#include <string>

namespace bench {

// The parts of a kernel the model can add to the floor.
enum Part : unsigned {
    // A kernel entry and exit for every call: the running kernel and thread found
    // through a thread_local, one test for a listening trace sink or anything
    // waiting for the thread (a kill, a signal), the virtual clock advanced by the
    // call's cost and compared with its next event (a timer, the quantum's end).
    kEntry = 1,
    // The library and the kernel apart (DESIGN.md's layers: the gate is the one
    // door into the kernel): the library's mach_msg calls the kernel's trap, a
    // function of its own, with the arguments in registers.
    kTrap = 2,
    // Waiting through a scheduler: a thread that finds the queue full (empty) joins
    // the port's wait queue and the next thread comes off the run queue; the other
    // side wakes it onto the run queue.
    kSched = 4,
    // The rest of what mach_msg checks on this path: the send-once dispositions, a
    // MAKE_SEND_ONCE reply port, kernel-object ports, port sets, the trailer the
    // receiver asks for, MACH_RCV_LARGE, a zero send timeout.
    kChecks = 8,
    kFloorAll = kEntry | kTrap | kSched | kChecks,
};

// Messages per second over `msgs` messages after `warmup` untimed ones, with the
// port's queue limited to `qlimit`, the model having the given parts: none, or
// kEntry, adding kTrap, kSched and kChecks in that order. `error` is set when a
// message arrives wrong or no model has those parts.
double oneway_floor_once(unsigned parts, uint64_t warmup, uint64_t msgs, uint32_t qlimit, std::string& error);

}  // namespace bench
