// The one-way floor: the oneway_msgs_per_s loop (bench.cpp) run against a model
// kernel that does only the work Mach's semantics ask of a one-way send and receive
// of a small message, and nothing a whole kernel adds. It is not machsim and is not
// used by it: it tells how far the oneway_vs_boost_fiber target is from the best
// any implementation of those semantics could do in this process.
//
// Kept, per message: the copy in and the copy out (machsim's fault-safe
// copy_user), the size and header checks, a name lookup with its generation, the
// right checks, the queue limit, a kernel message from a pool, an intrusive queue,
// the send right and reference the queued message holds, the message number,
// seqno, sender, the header rewritten for the receiver and a format-0 trailer.
// Left out: everything else machsim does on the same path (the kernel entry and its
// virtual clock, the trace gate, the scheduler and its wait queues, port sets,
// reply rights, larger trailers, notifications, signals, the watchdog). A full
// queue switches straight to the consumer, an empty one straight back.
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

struct Msg {  // a kernel message
    Msg* next = nullptr;
    Msg* prev = nullptr;
    Port* dest = nullptr;
    mach_msg_size_t size = 0;
    uint32_t sender = 0;
    uint64_t number = 0;
    mach_port_seqno_t seqno = 0;
    alignas(8) char data[128 + sizeof(mach_msg_trailer_t)];
};

struct Port {
    Msg queue;  // list head
    uint32_t count = 0, qlimit = 0;
    mach_port_seqno_t seqno = 0;
    uint32_t send_rights = 0, refs = 0;
    bool active = true;
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
    Entry* find(mach_port_name_t name) {
        uint32_t index = name >> 8;
        if (index >= table.size()) return nullptr;
        Entry* e = &table[index];
        return e->type != 0 && e->gen == (name & 0xff) ? e : nullptr;
    }
};

// One run: two tasks, one port, and the switch between the two fibers.
struct Machine {
    Space producer, consumer;
    Space* current = nullptr;
    Msg* free = nullptr;
    std::vector<Msg*> all;
    uint64_t next_number = 0;
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
        m->next = free;
        free = m;
    }
    void switch_to(Space& s) {
        current = &s;
        other = std::move(other).resume();
    }

    mach_msg_return_t send(const mach_msg_header_t* umsg, mach_msg_size_t size) {
        if (size < sizeof(mach_msg_header_t) || size > 128 || (size & 3)) return MACH_SEND_MSG_TOO_SMALL;
        Msg* m = get();
        auto* h = reinterpret_cast<mach_msg_header_t*>(m->data);
        if (!machsim::machine::copy_user(h, umsg, size)) {
            put(m);
            return MACH_SEND_INVALID_DATA;
        }
        if (h->msgh_bits != MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) || h->msgh_local_port != MACH_PORT_NULL) {
            put(m);
            return MACH_SEND_INVALID_HEADER;
        }
        Entry* e = current->find(h->msgh_remote_port);
        if (!e || !(e->type & MACH_PORT_TYPE_SEND) || !e->port->active) {
            put(m);
            return MACH_SEND_INVALID_DEST;
        }
        Port* p = e->port;
        while (p->count >= p->qlimit) {
            if (!other) return MACH_SEND_NO_BUFFER;  // the consumer has stopped
            switch_to(consumer);
        }
        ++p->send_rights;
        ++p->refs;
        m->dest = p;
        m->size = size;
        m->sender = current->task;
        m->number = ++next_number;
        m->next = &p->queue;
        m->prev = p->queue.prev;
        p->queue.prev->next = m;
        p->queue.prev = m;
        ++p->count;
        return MACH_MSG_SUCCESS;
    }

    mach_msg_return_t receive(mach_msg_header_t* umsg, mach_msg_size_t rcv_size, mach_port_name_t name) {
        Entry* e = current->find(name);
        if (!e || !(e->type & MACH_PORT_TYPE_RECEIVE)) return MACH_RCV_INVALID_NAME;
        Port* p = e->port;
        while (p->count == 0) switch_to(producer);
        Msg* m = p->queue.next;
        if (m->size + sizeof(mach_msg_trailer_t) > rcv_size) return MACH_RCV_TOO_LARGE;
        p->queue.next = m->next;
        m->next->prev = &p->queue;
        --p->count;
        m->seqno = p->seqno++;
        auto* h = reinterpret_cast<mach_msg_header_t*>(m->data);
        h->msgh_bits = MACH_MSGH_BITS(0, MACH_MSG_TYPE_PORT_SEND);
        h->msgh_size = m->size;
        h->msgh_remote_port = MACH_PORT_NULL;
        h->msgh_local_port = p->receiver_name;
        mach_msg_trailer_t trailer{MACH_MSG_TRAILER_FORMAT_0, sizeof(mach_msg_trailer_t)};
        __builtin_memcpy(m->data + m->size, &trailer, sizeof trailer);
        if (!machsim::machine::copy_user(umsg, m->data, m->size + sizeof trailer)) return MACH_RCV_INVALID_DATA;
        --p->send_rights;
        --p->refs;
        put(m);
        return MACH_MSG_SUCCESS;
    }
};

Machine* g_machine = nullptr;

// mach_msg's shape: seven arguments, one call for every message.
[[gnu::noinline]] mach_msg_return_t floor_mach_msg(mach_msg_header_t* msg, mach_msg_option_t option,
                                                   mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                                   mach_port_name_t rcv_name, mach_msg_timeout_t, mach_port_name_t) {
    switch (option) {
    case MACH_SEND_MSG:
        return g_machine->send(msg, send_size);
    case MACH_RCV_MSG:
        return g_machine->receive(msg, rcv_size, rcv_name);
    default:
        return MACH_SEND_INVALID_HEADER;
    }
}

}  // namespace

double oneway_floor_once(uint64_t warmup, uint64_t msgs, uint32_t qlimit, std::string& error) {
    Machine k;
    g_machine = &k;
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
            mach_msg_return_t mr =
                floor_mach_msg(&buf.msg.head, MACH_RCV_MSG, 0, sizeof buf, rcv_name, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS || buf.msg.head.msgh_id != 7 || buf.msg.value != i ||
                buf.msg.head.msgh_size != sizeof(Data) || buf.msg.head.msgh_local_port != rcv_name) {
                error = "floor: message " + std::to_string(i) + " arrived wrong";
                break;
            }
        }
        t1 = Clock::now();
        return std::move(k.other);
    }};
    k.current = &k.producer;
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
        mach_msg_return_t mr =
            floor_mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) error = "floor: send " + std::to_string(i) + " failed";
    }
    if (error.empty())
        while (k.other) k.switch_to(k.consumer);  // the consumer takes what is queued and ends
    g_machine = nullptr;
    if (error.empty() && (port.count != 0 || port.send_rights != 1 || port.refs != 1))
        error = "floor: messages or rights left over";
    return error.empty() ? static_cast<double>(msgs) / std::chrono::duration<double>(t1 - t0).count() : 0;
}

}  // namespace bench
