// The one-way floor: the oneway_msgs_per_s loop (bench.cpp) run against a model
// kernel that does only the work Mach's semantics ask of a one-way send and receive
// of a small message. It is not machsim and is not used by it: it tells how far the
// oneway_vs_boost_fiber target is from the best an implementation could do in this
// process.
//
// Kept always, per message: the copy in and the copy out (machsim's fault-safe
// copy_user), the size and header checks, a name lookup with its generation, the
// right checks, the queue limit, a kernel message from a pool, an intrusive queue,
// the send right and reference the queued message holds, the message number,
// seqno, sender, the header rewritten for the receiver and a format-0 trailer.
//
// The model then adds, one Part at a time, the kernel around the message that
// issue 2 and DESIGN.md ask for (see Part). With none of them a full queue switches
// straight to the consumer and an empty one straight back: the floor. With all of
// them it is the least a kernel with those parts could do: the kernel floor. What
// machsim does beyond that (notifications, signals, the fault watch, the trace
// events themselves) is still left out.
#include "bench/floor.h"

#include <boost/context/fiber.hpp>
#include <chrono>
#include <vector>

#include "kernel/machine/usercopy.h"
#include "mach/mach.h"

namespace bench {

namespace {

namespace ctx = boost::context;
using Clock = std::chrono::steady_clock;

struct Port;
struct Thread;

struct Msg {  // a kernel message
    Msg* next = nullptr;
    Msg* prev = nullptr;
    Port* dest = nullptr;
    Port* reply = nullptr;  // a send-once right it carries (kChecks)
    mach_msg_size_t size = 0;
    uint32_t sender = 0;
    uint64_t number = 0;
    mach_port_seqno_t seqno = 0;
    uint8_t dest_type = 0;
    alignas(8) char data[128 + sizeof(mach_msg_max_trailer_t)];
};

// A FIFO of threads, linked through Thread::link (wait queues and the run queue).
struct ThreadQueue {
    Thread* head = nullptr;
    Thread* tail = nullptr;
    bool empty() const { return head == nullptr; }
    void push(Thread* t);
    Thread* pop();
};

struct Port {
    Msg queue;  // list head
    uint32_t count = 0, qlimit = 0;
    mach_port_seqno_t seqno = 0;
    uint32_t send_rights = 0, sonce_rights = 0, refs = 0;
    bool active = true;
    uint8_t kobject = 0;        // a kernel object's port is served by the kernel (kChecks)
    Port* set = nullptr;        // the port set it belongs to (kChecks)
    ThreadQueue senders, receivers;  // threads waiting for room / for a message (kSched)
    mach_port_name_t receiver_name = MACH_PORT_NULL;
    Port() { queue.next = queue.prev = &queue; }
};

struct Entry {
    Port* port = nullptr;
    mach_port_type_t type = 0;
    uint8_t gen = 0;
};

struct Space {
    std::vector<Entry> table;
    uint32_t task = 0;
    [[gnu::always_inline]] Entry* find(mach_port_name_t name) {
        uint32_t index = name >> 8;
        if (index >= table.size()) return nullptr;
        Entry* e = &table[index];
        return e->type != 0 && e->gen == (name & 0xff) ? e : nullptr;
    }
};

struct Thread {
    Space* space = nullptr;
    Thread* link = nullptr;
    bool in_kernel = false;
    bool blocked = false;  // written as a scheduler records a thread's state; the model never reads it
};

void ThreadQueue::push(Thread* t) {
    t->link = nullptr;
    if (tail)
        tail->link = t;
    else
        head = t;
    tail = t;
}
Thread* ThreadQueue::pop() {
    Thread* t = head;
    head = t->link;
    if (!head) tail = nullptr;
    return t;
}

constexpr uint64_t kCallCost = 1;  // virtual ticks per call

// One run: two tasks, one port, and the switch between the two fibers.
template <unsigned Parts>
struct Machine {
    static constexpr bool entry = Parts & kEntry, sched = Parts & kSched, checks = Parts & kChecks;

    Space producer, consumer;
    Thread producer_thread, consumer_thread;
    Thread* current = nullptr;
    ThreadQueue runq;
    Msg* free = nullptr;
    std::vector<Msg*> all;
    uint64_t next_number = 0;
    uint64_t now = 0, next_event = UINT64_MAX, entries = 0;  // the virtual clock (kEntry)
    ctx::fiber other;  // the side that is not running

    ~Machine() {
        for (Msg* m : all) delete m;
    }
    Msg* get() {
        Msg* m = free;
        if (!m) {
            all.push_back(m = new Msg);
            return m;
        }
        free = m->next;
        return m;
    }
    void put(Msg* m) {
        if (checks) m->reply = nullptr;
        m->next = free;
        free = m;
    }
    void switch_to(Thread* t) {
        current = t;
        other = std::move(other).resume();
    }
    // kSched: the current thread waits on q until woken; the run queue gives the next.
    void block(ThreadQueue& q) {
        Thread* self = current;
        self->blocked = true;
        q.push(self);
        if (runq.empty()) std::abort();  // a deadlock: the benchmark never makes one
        switch_to(runq.pop());
    }
    void wake(ThreadQueue& q) {
        Thread* t = q.pop();
        t->blocked = false;
        runq.push(t);
    }
    void yield() {
        runq.push(current);
        switch_to(runq.pop());
    }

    // kEntry: the entry when next_event says something is due (a timer, the
    // quantum's end, a listening sink, a kill or signal). The model has none of
    // them, so it only sets the next event again; the benchmark never comes here.
    [[gnu::noinline]] void slow_entry() { next_event = UINT64_MAX; }

    mach_msg_return_t send(const mach_msg_header_t* umsg, mach_msg_size_t size, mach_msg_option_t option,
                           mach_msg_timeout_t timeout) {
        if (size < sizeof(mach_msg_header_t) || size > 128 || (size & 3)) return MACH_SEND_MSG_TOO_SMALL;
        Msg* m = get();
        auto* h = reinterpret_cast<mach_msg_header_t*>(m->data);
        if (!machsim::machine::copy_user(h, umsg, size)) {
            put(m);
            return MACH_SEND_INVALID_DATA;
        }
        Space& space = *current->space;
        mach_msg_type_name_t rdisp = MACH_MSGH_BITS_REMOTE(h->msgh_bits), ldisp = MACH_MSGH_BITS_LOCAL(h->msgh_bits);
        Entry* re = nullptr;
        if constexpr (checks) {
            if ((h->msgh_bits & ~(MACH_MSGH_BITS_REMOTE_MASK | MACH_MSGH_BITS_LOCAL_MASK)) != 0 ||
                (rdisp != MACH_MSG_TYPE_COPY_SEND && rdisp != MACH_MSG_TYPE_MOVE_SEND_ONCE) ||
                (ldisp == 0 ? h->msgh_local_port != MACH_PORT_NULL : ldisp != MACH_MSG_TYPE_MAKE_SEND_ONCE)) {
                put(m);
                return MACH_SEND_INVALID_HEADER;
            }
            if (ldisp) {
                re = space.find(h->msgh_local_port);
                if (!re || !(re->type & MACH_PORT_TYPE_RECEIVE)) {
                    put(m);
                    return MACH_SEND_INVALID_REPLY;
                }
            }
        } else if (h->msgh_bits != MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) ||
                   h->msgh_local_port != MACH_PORT_NULL) {
            put(m);
            return MACH_SEND_INVALID_HEADER;
        }
        Entry* e = space.find(h->msgh_remote_port);
        bool once = checks && rdisp == MACH_MSG_TYPE_MOVE_SEND_ONCE;
        if (!e || !(e->type & (once ? MACH_PORT_TYPE_SEND_ONCE : MACH_PORT_TYPE_SEND)) || !e->port->active) {
            put(m);
            return MACH_SEND_INVALID_DEST;
        }
        Port* p = e->port;
        if (checks && p->kobject) {
            put(m);
            return MACH_SEND_INVALID_DEST;  // the kernel would serve it
        }
        while (!once && p->count >= p->qlimit) {
            if (checks && (option & MACH_SEND_TIMEOUT) && timeout == 0) {
                put(m);
                return MACH_SEND_TIMED_OUT;
            }
            if constexpr (sched) {
                block(p->senders);
            } else {
                if (!other) return MACH_SEND_NO_BUFFER;  // the consumer has stopped
                switch_to(&consumer_thread);
            }
        }
        if (once) {
            e->type = 0;  // the right moves into the message
            e->port = nullptr;
            m->dest_type = MACH_MSG_TYPE_PORT_SEND_ONCE;
        } else {
            ++p->send_rights;
            ++p->refs;
            if (checks) m->dest_type = MACH_MSG_TYPE_PORT_SEND;
        }
        if (re) {
            ++re->port->sonce_rights;
            ++re->port->refs;
            m->reply = re->port;
        }
        m->dest = p;
        m->size = size;
        m->sender = space.task;
        m->number = ++next_number;
        m->next = &p->queue;
        m->prev = p->queue.prev;
        p->queue.prev->next = m;
        p->queue.prev = m;
        ++p->count;
        if (sched && !p->receivers.empty()) wake(p->receivers);
        if (checks && p->set) std::abort();  // would wake a receiver on the set: the benchmark has none
        return MACH_MSG_SUCCESS;
    }

    mach_msg_return_t receive(mach_msg_header_t* umsg, mach_msg_size_t rcv_size, mach_port_name_t name,
                              mach_msg_option_t option) {
        Entry* e = current->space->find(name);
        if (!e || !(e->type & MACH_PORT_TYPE_RECEIVE)) return MACH_RCV_INVALID_NAME;  // (a set's name: not modelled)
        Port* p = e->port;
        if (checks && p->set) return MACH_RCV_IN_SET;
        while (p->count == 0) {
            if constexpr (sched)
                block(p->receivers);
            else
                switch_to(&producer_thread);
        }
        Msg* m = p->queue.next;
        mach_msg_size_t trailer = sizeof(mach_msg_trailer_t);
        if constexpr (checks) {
            static constexpr uint8_t sizes[4] = {sizeof(mach_msg_trailer_t), sizeof(mach_msg_seqno_trailer_t),
                                                 sizeof(mach_msg_security_trailer_t), sizeof(mach_msg_audit_trailer_t)};
            trailer = sizes[GET_RCV_ELEMENTS(option) & 3];
        }
        if (m->size + trailer > rcv_size) return MACH_RCV_TOO_LARGE;  // (the message left queued: not modelled)
        p->queue.next = m->next;
        m->next->prev = &p->queue;
        --p->count;
        m->seqno = p->seqno++;
        auto* h = reinterpret_cast<mach_msg_header_t*>(m->data);
        h->msgh_bits = checks ? MACH_MSGH_BITS(m->reply ? MACH_MSG_TYPE_PORT_SEND_ONCE : 0, m->dest_type)
                              : MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND);
        h->msgh_size = m->size;
        h->msgh_remote_port = MACH_PORT_NULL;
        h->msgh_local_port = p->receiver_name;
        mach_msg_trailer_t head{MACH_MSG_TRAILER_FORMAT_0, trailer};
        __builtin_memcpy(m->data + m->size, &head, sizeof head);
        if (checks && trailer > sizeof head) {
            auto* t = reinterpret_cast<mach_msg_seqno_trailer_t*>(m->data + m->size);
            t->msgh_seqno = m->seqno;
        }
        if (checks && m->reply) std::abort();  // a reply right's copy-out: the benchmark sends none
        if (!machsim::machine::copy_user(umsg, m->data, m->size + trailer)) return MACH_RCV_INVALID_DATA;
        if (!checks || m->dest_type == MACH_MSG_TYPE_PORT_SEND)
            --p->send_rights;
        else
            --p->sonce_rights;
        --p->refs;
        put(m);
        if (sched && !p->senders.empty()) wake(p->senders);
        return MACH_MSG_SUCCESS;
    }

    mach_msg_return_t call(mach_msg_header_t* msg, mach_msg_option_t option, mach_msg_size_t send_size,
                           mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout) {
        switch (option & (MACH_SEND_MSG | MACH_RCV_MSG)) {
        case MACH_SEND_MSG:
            return send(msg, send_size, option, timeout);
        case MACH_RCV_MSG:
            return receive(msg, rcv_size, rcv_name, option);
        default:
            return MACH_SEND_INVALID_HEADER;
        }
    }

    static inline thread_local Machine* running = nullptr;

    // The kernel side of mach_msg: the work, inside a kernel entry when kEntry.
    mach_msg_return_t trap(mach_msg_header_t* msg, mach_msg_option_t option, mach_msg_size_t send_size,
                           mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout) {
        if constexpr (!entry) {
            return call(msg, option, send_size, rcv_size, rcv_name, timeout);
        } else {
            // One test for all of them: a listening sink or a thread's pending kill or
            // signal would set next_event to 0.
            Thread* self = current;
            if (__builtin_expect(now + kCallCost >= next_event, 0)) slow_entry();
            self->in_kernel = true;
            mach_msg_return_t mr = call(msg, option, send_size, rcv_size, rcv_name, timeout);
            ++entries;
            now += kCallCost;
            self->in_kernel = false;
            return mr;
        }
    }
};

// The kernel's side of the door (kTrap): the six arguments arrive in registers.
// noipa here and below: a library function and a trap are compiled without
// knowing the constant arguments of the benchmark's calls.
template <unsigned Parts>
[[gnu::noipa]] mach_msg_return_t kernel_trap(mach_msg_header_t* msg, mach_msg_option_t option,
                                             mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                             mach_port_name_t rcv_name, mach_msg_timeout_t timeout) {
    Machine<Parts>* k = Machine<Parts>::running;
    if (!k) return MACH_SEND_INVALID_DEST;
    return k->trap(msg, option, send_size, rcv_size, rcv_name, timeout);
}

// mach_msg's shape: seven arguments, one call for every message (two with kTrap).
template <unsigned Parts>
[[gnu::noipa]] mach_msg_return_t floor_mach_msg(mach_msg_header_t* msg, mach_msg_option_t option,
                                                mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                                mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                                                mach_port_name_t) {
    if constexpr (Parts & kTrap) {
        return kernel_trap<Parts>(msg, option, send_size, rcv_size, rcv_name, timeout);
    } else {
        Machine<Parts>* k = Machine<Parts>::running;
        return k->trap(msg, option, send_size, rcv_size, rcv_name, timeout);
    }
}

template <unsigned Parts>
double run(uint64_t warmup, uint64_t msgs, uint32_t qlimit, std::string& error) {
    Machine<Parts> k;
    Machine<Parts>::running = &k;
    Port port;
    port.qlimit = qlimit;
    port.send_rights = port.refs = 1;
    const mach_port_name_t rcv_name = 0x103, send_name = 0x205;  // index 1 gen 3, index 2 gen 5
    port.receiver_name = rcv_name;
    k.consumer.task = 3;
    k.consumer.table.resize(4);
    k.consumer.table[1] = {&port, MACH_PORT_TYPE_RECEIVE, 3};
    k.producer.task = 2;
    k.producer.table.resize(4);
    k.producer.table[2] = {&port, MACH_PORT_TYPE_SEND, 5};
    k.producer_thread.space = &k.producer;
    k.consumer_thread.space = &k.consumer;

    struct Data {
        mach_msg_header_t head;
        uint64_t value;
    };
    struct Buffer {
        Data msg;
        mach_msg_max_trailer_t trailer;
    };
    const uint64_t total = warmup + msgs;
    Clock::time_point t0{}, t1{};
    // The consumer's fiber; the producer runs on the caller's stack.
    k.other = ctx::fiber{[&](ctx::fiber&& producer) {
        k.other = std::move(producer);
        Buffer buf{};
        for (uint64_t i = 0; i < total; ++i) {
            mach_msg_return_t mr = floor_mach_msg<Parts>(&buf.msg.head, MACH_RCV_MSG, 0, sizeof buf, rcv_name,
                                                         MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS || buf.msg.head.msgh_id != 7 || buf.msg.value != i ||
                buf.msg.head.msgh_size != sizeof(Data) || buf.msg.head.msgh_local_port != rcv_name) {
                error = "floor: message " + std::to_string(i) + " arrived wrong";
                break;
            }
        }
        t1 = Clock::now();
        return std::move(k.other);
    }};
    k.current = &k.producer_thread;
    if (Parts & kSched) k.runq.push(&k.consumer_thread);  // ready to run
    Data m{};
    for (uint64_t i = 0; i < total && error.empty(); ++i) {
        if (i == warmup) t0 = Clock::now();
        m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = send_name;
        m.head.msgh_local_port = MACH_PORT_NULL;
        m.head.msgh_voucher_port = MACH_PORT_NULL;
        m.head.msgh_id = 7;
        m.value = i;
        mach_msg_return_t mr = floor_mach_msg<Parts>(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL,
                                                     MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) error = "floor: send " + std::to_string(i) + " failed";
    }
    while (k.other) {  // the consumer takes what is queued and ends
        if constexpr ((Parts & kSched) != 0)
            k.yield();
        else
            k.switch_to(&k.consumer_thread);
    }
    Machine<Parts>::running = nullptr;
    if (error.empty() && (port.count != 0 || port.send_rights != 1 || port.refs != 1))
        error = "floor: messages or rights left over";
    return error.empty() ? static_cast<double>(msgs) / std::chrono::duration<double>(t1 - t0).count() : 0;
}

// run<parts>, for parts known only at run time.
template <unsigned Parts = 0>
double dispatch(unsigned parts, uint64_t warmup, uint64_t msgs, uint32_t qlimit, std::string& error) {
    if (parts == Parts) return run<Parts>(warmup, msgs, qlimit, error);
    if constexpr (Parts < kFloorAll) {
        return dispatch<Parts + 1>(parts, warmup, msgs, qlimit, error);
    } else {
        error = "floor: no model with parts " + std::to_string(parts);
        return 0;
    }
}

}  // namespace

double oneway_floor_once(unsigned parts, uint64_t warmup, uint64_t msgs, uint32_t qlimit, std::string& error) {
    return dispatch(parts, warmup, msgs, qlimit, error);
}

}  // namespace bench
