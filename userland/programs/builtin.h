// The demo programs that ship with machsim.
#pragma once

#include <cstdint>
#include <vector>

#include "mach/mach.h"
#include "machsim.h"

namespace machsim::demos {

Program echo_program();      // RPC echo server and client over the bootstrap server
Program prodcons_program();  // producer/consumer with a port's queue as the bounded buffer
Program failover_program();  // a backup server takes over a service port through a port-destroyed notification
Program sieve_program();     // concurrent prime sieve: a pipeline of tasks that grows at run time
Program nosenders_program(); // objects freed on no-senders notifications, with the Hurd race protocol
Program shmring_program();   // producer/consumer over a ring buffer in shared memory, with two semaphores
Program pager_program();     // a user-level pager: page faults arrive as exception messages
Program driver_program();    // a driver takes a timer's interrupts as messages and forwards ticks
Program disklog_program();   // a log server writes its clients' lines to a disk with latency
Program bank_program();      // a lost update between two tellers, found by exploring schedules
Program philosophers_program();          // dining philosophers in C Threads: some schedules deadlock
Program philosophers_ordered_program();  // the same with ordered forks: none do

// bootstrap_look_up, asking again a tick later (up to 100 times) while the service is not
// checked in: under a seeded policy (machsim explore) a client may ask before its server
// has started, where round robin always starts the server first.
kern_return_t look_up_service(const char* service, mach_port_t* port);

// What the last run of a demo saw, for tests.
std::vector<int> sieve_primes();  // the primes the stages found, in order
struct NoSendersStats {
    int created = 0, freed = 0, rearmed = 0;  // objects made, freed, and notifications that lost the race
};
NoSendersStats nosenders_stats();
int failover_backup_served();  // requests the backup answered after the takeover
struct ShmRingStats {
    int produced = 0, consumed = 0;               // items each side moved through the ring
    uint64_t producer_sum = 0, consumer_sum = 0;  // each side's checksum of the items it moved
    uint64_t producer_read_sum = 0;               // the consumer's checksum, as the producer read it in the ring
    uint64_t consumer_read_sum = 0;               // the producer's checksum, as the consumer read it in the ring
};
ShmRingStats shmring_stats();
struct PagerStats {
    int faults = 0;   // page faults the pager served (KERN_SUCCESS)
    int refused = 0;  // faults it answered KERN_FAILURE (outside its region)
    int reads = 0;    // page reads the client reported
    uint64_t client_sum = 0;    // what the client added up through its pointer
    uint64_t expected_sum = 0;  // what the pager's pattern says those pages hold
};
PagerStats pager_stats();
struct DriverStats {
    int interrupts = 0;  // device_intr_notify messages the driver handled
    int acks = 0;        // device_intr_ack calls that succeeded
    int received = 0;    // ticks the client received
};
DriverStats driver_stats();

struct DiskLogStats {
    int appended = 0;      // lines logd wrote to the disk
    int acknowledged = 0;  // replies the clients received
};
DiskLogStats disklog_stats();

inline std::vector<Program> builtin() {
    return {echo_program(),      prodcons_program(), failover_program(), sieve_program(),
            nosenders_program(), shmring_program(),  pager_program(),    driver_program(),
            disklog_program(),
            bank_program(),      philosophers_program(), philosophers_ordered_program()};
}

}  // namespace machsim::demos
