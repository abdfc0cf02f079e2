// sieve: the concurrent prime sieve (McIlroy; Hoare's CSP; JOS lab 4C) as a
// pipeline of tasks that grows while it runs.
//
//   generator --2,3,4..100--> sieve-2 --3,5,7,9..--> sieve-3 --5,7,11..--> sieve-5 --> ... --> sieve-97
//       |                      drops 2k               drops 3k               drops 5k
//       +-- done (+ send-once reply right) ------------------------------------------------------+
//       <------------------------------ "25 stages" through the send-once right -----------------+
//
// Each stage owns the receive right of its input port. The first number it
// gets is a prime p (nothing smaller divided it). When it first sees a number
// not divisible by p, it makes a port, creates the next stage with
// machsim::task_spawn, and moves that port's receive right into the new task
// (MOVE_RECEIVE), keeping a send right under the same name to feed it.
// The generator ends the run with a "done" message that carries a send-once
// right to its reply port: each stage counts itself in and passes it on; the
// last stage answers, and every stage exits after passing "done" along.
#include <cstdio>
#include <string>

#include "mach/mach.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr int kLimit = 100;
constexpr mach_msg_id_t kNumber = 700;
constexpr mach_msg_id_t kDone = 701;  // its reply is kDone + 100

std::vector<int> g_primes;  // what the last run found, for sieve_primes()

struct NumMsg {
    mach_msg_header_t head;
    int value;  // a candidate, or in "done" the number of stages so far
};

struct NumReceived {
    NumMsg msg;
    mach_msg_trailer_t trailer;
};

// Sends `value` through the send right `to`; with `reply` it also carries that right along.
mach_msg_return_t send_num(mach_port_t to, mach_msg_id_t id, int value, mach_port_t reply = MACH_PORT_NULL,
                           mach_msg_type_name_t reply_disp = 0,
                           mach_msg_type_name_t to_disp = MACH_MSG_TYPE_COPY_SEND) {
    NumMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(to_disp, reply_disp);
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = to;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = id;
    m.value = value;
    return mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

// A new port whose receive right will go to the next stage; we keep a send right.
mach_port_t new_pipe() {
    mach_port_t p = MACH_PORT_NULL;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p) != KERN_SUCCESS) return MACH_PORT_NULL;
    if (mach_port_insert_right(mach_task_self(), p, p, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS) return MACH_PORT_NULL;
    return p;
}

int stage(mach_port_t in);

// Creates stage "sieve-<first>" reading from `pipe`: its receive right moves into the new task.
bool spawn_stage(mach_port_t pipe, int first) {
    mach_port_t child = machsim::task_spawn("sieve-" + std::to_string(first), stage, pipe, MACH_MSG_TYPE_MOVE_RECEIVE);
    if (child == MACH_PORT_NULL) return false;
    mach_port_deallocate(mach_task_self(), child);  // we never act on the child's task port
    return true;
}

int stage(mach_port_t in) {
    int p = 0;                         // our prime, once known
    mach_port_t next = MACH_PORT_NULL; // send right to the next stage, once it exists
    for (;;) {
        NumReceived r{};
        mach_msg_return_t mr =
            mach_msg(&r.msg.head, MACH_RCV_MSG, 0, sizeof r, in, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("sieve: receive:", mr);
            return 1;
        }
        if (r.msg.head.msgh_id == kDone) {
            // The send-once right arrived as msgh_remote_port: pass it on, or answer through it.
            int stages = r.msg.value + 1;
            mr = next != MACH_PORT_NULL
                     ? send_num(next, kDone, stages, r.msg.head.msgh_remote_port, MACH_MSG_TYPE_MOVE_SEND_ONCE)
                     : send_num(r.msg.head.msgh_remote_port, kDone + 100, stages, MACH_PORT_NULL, 0,
                                MACH_MSG_TYPE_MOVE_SEND_ONCE);
            if (mr != MACH_MSG_SUCCESS) {
                mach_error("sieve: pass done:", mr);
                return 1;
            }
            if (next != MACH_PORT_NULL) mach_port_deallocate(mach_task_self(), next);
            mach_port_mod_refs(mach_task_self(), in, MACH_PORT_RIGHT_RECEIVE, -1);
            return 0;
        }
        int n = r.msg.value;
        if (p == 0) {  // the first number to reach us is prime
            p = n;
            g_primes.push_back(p);
            std::printf("sieve-%d: prime %d (tick %llu)\n", p, p, static_cast<unsigned long long>(machsim::now()));
            continue;
        }
        machsim::compute(2);  // one division
        if (n % p == 0) continue;
        if (next == MACH_PORT_NULL) {  // the pipeline grows: n is the next stage's prime
            next = new_pipe();
            if (next == MACH_PORT_NULL || !spawn_stage(next, n)) {
                std::fprintf(stderr, "sieve-%d: cannot start the next stage\n", p);
                return 1;
            }
        }
        mr = send_num(next, kNumber, n);  // blocks while the next stage's queue is full
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("sieve: forward:", mr);
            return 1;
        }
    }
}

int generator() {
    mach_port_t first = new_pipe();
    mach_port_t reply = mach_reply_port();
    if (first == MACH_PORT_NULL || reply == MACH_PORT_NULL || !spawn_stage(first, 2)) {
        std::fprintf(stderr, "generator: cannot start the pipeline\n");
        return 1;
    }
    for (int n = 2; n <= kLimit; ++n) {
        mach_msg_return_t mr = send_num(first, kNumber, n);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("generator: send:", mr);
            return 1;
        }
    }
    std::printf("generator: sent 2..%d, now \"done\" with a send-once reply right\n", kLimit);
    mach_msg_return_t mr = send_num(first, kDone, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    // A send-once right yields exactly one message: the answer, or a send-once
    // notification if a stage dies holding it. Leave room for either.
    union {
        NumReceived answer;
        mach_send_once_notification_t died;
    } in{};
    NumMsg& r = in.answer.msg;
    if (mr == MACH_MSG_SUCCESS)
        mr = mach_msg(&r.head, MACH_RCV_MSG, 0, sizeof in, reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) {
        mach_error("generator: done:", mr);
        return 1;
    }
    if (r.head.msgh_id != kDone + 100) {
        std::fprintf(stderr, "generator: got message %d instead of the answer\n", r.head.msgh_id);
        return 1;
    }
    std::printf("generator: the pipeline drained through %d stages, one per prime below %d\n", r.value, kLimit);
    mach_port_deallocate(mach_task_self(), first);
    mach_port_mod_refs(mach_task_self(), reply, MACH_PORT_RIGHT_RECEIVE, -1);
    return r.value == static_cast<int>(g_primes.size()) ? 0 : 1;
}

}  // namespace

std::vector<int> sieve_primes() { return g_primes; }

Program sieve_program() {
    return {"sieve", "a concurrent prime sieve: a pipeline of tasks that grows at run time, one per prime below 100",
            [](Kernel& k) {
                g_primes.clear();
                k.spawn("generator", generator);
            }};
}

}  // namespace machsim::demos
