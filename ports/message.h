// KMsg: a message inside the kernel, from copy-in at send to copy-out at
// receive. Small messages live in the KMsg itself; KMsgs are recycled through
// a pool so the send/receive path does not allocate in steady state.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "kernel/machine/assert.h"
#include "kernel/machine/list.h"
#include "mach/message.h"

namespace machsim::ipc {

class Port;

// A right travelling in a message.
struct Carried {
    Port* port = nullptr;   // null for MACH_PORT_NULL and MACH_PORT_DEAD
    uint8_t type = 0;       // MACH_MSG_TYPE_PORT_{RECEIVE,SEND,SEND_ONCE}; 0 = no right
    bool dead = false;      // the name was MACH_PORT_DEAD (or a dead name)
};

// The right a disposition delivers: MOVE_RECEIVE -> PORT_RECEIVE, the send
// dispositions -> PORT_SEND, the send-once ones -> PORT_SEND_ONCE.
inline uint8_t received_type(mach_msg_type_name_t disp) {
    switch (disp) {
    case MACH_MSG_TYPE_MOVE_RECEIVE: return MACH_MSG_TYPE_PORT_RECEIVE;
    case MACH_MSG_TYPE_MOVE_SEND:
    case MACH_MSG_TYPE_COPY_SEND:
    case MACH_MSG_TYPE_MAKE_SEND: return MACH_MSG_TYPE_PORT_SEND;
    case MACH_MSG_TYPE_MOVE_SEND_ONCE:
    case MACH_MSG_TYPE_MAKE_SEND_ONCE: return MACH_MSG_TYPE_PORT_SEND_ONCE;
    default: return 0;
    }
}

// The header of a message about to be copied out, and the first word of its
// trailer, are written in 8-byte words: machine::copy_user reads them back at once
// with loads of up to 8 bytes, and a load that spans two narrower stores still in
// flight cannot take their data (no store forwarding) but waits for them to reach
// the cache.
inline void put_header_words(void* at, mach_msg_bits_t bits, mach_msg_size_t size, mach_port_name_t remote,
                             mach_port_name_t local) {
    static_assert(sizeof(mach_msg_header_t) == 3 * sizeof(uint64_t), "the header is three words");
    char* h = static_cast<char*>(at);
    const uint64_t w0 = bits | uint64_t{size} << 32;
    const uint64_t w1 = remote | uint64_t{local} << 32;
    uint32_t id;  // msgh_id stays; msgh_voucher_port, before it, becomes 0 (no vouchers). Read
    std::memcpy(&id, h + 20, 4);  // alone: it may just have been stored alone, by the task
    const uint64_t w2 = uint64_t{id} << 32;
    std::memcpy(h, &w0, 8);
    std::memcpy(h + 8, &w1, 8);
    std::memcpy(h + 16, &w2, 8);
}
// The trailer's format-0 words: its format and its size.
// REQUESTED_TRAILER_SIZE(option), by table: every receive computes it.
inline mach_msg_size_t requested_trailer_size(mach_msg_option_t option) {
    static constexpr uint8_t size[16] = {
        sizeof(mach_msg_trailer_t), sizeof(mach_msg_seqno_trailer_t), sizeof(mach_msg_security_trailer_t),
        sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t),
        sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t),
        sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t),
        sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t), sizeof(mach_msg_audit_trailer_t),
        sizeof(mach_msg_audit_trailer_t)};
    static_assert(MACH_RCV_TRAILER_NULL == 0 && MACH_RCV_TRAILER_SEQNO == 1 && MACH_RCV_TRAILER_SENDER == 2);
    return size[GET_RCV_ELEMENTS(option)];
}

inline void put_trailer_word(void* at, mach_msg_size_t trailer_size) {
    const uint64_t w = MACH_MSG_TRAILER_FORMAT_0 | uint64_t{trailer_size} << 32;
    std::memcpy(at, &w, 8);
}

// One descriptor of a complex message, in kernel form.
struct BodyItem {
    mach_msg_descriptor_type_t kind = MACH_MSG_PORT_DESCRIPTOR;
    uint32_t offset = 0;              // where the descriptor sits in the message
    Carried right;                    // PORT_DESCRIPTOR
    std::vector<uint8_t> data;        // OOL_DESCRIPTOR: the copied bytes
    std::vector<Carried> rights;      // OOL_PORTS_DESCRIPTOR
};

struct KMsg {
    static constexpr uint32_t kInline = 256;

    machine::ListHook hook;  // in its destination's queue
    uint32_t number = 0;     // kernel-wide message number, for the trace
    uint32_t size = 0;       // bytes of header + body as sent (no trailer)
    uint32_t sender_task = 0;
    uint32_t seqno = 0;      // stamped when it leaves the queue
    Port* dest = nullptr;
    uint8_t dest_type = 0;   // the right consumed at the destination: PORT_SEND or PORT_SEND_ONCE
    Carried reply;
    bool complex = false;
    bool circular = false;   // carries a receive right into its own queue: destroyed at send (R12)
    std::vector<BodyItem> items;  // complex messages only

    uint8_t* data() { return big_ ? big_.get() : inline_; }
    // data() without the test, for a KMsg known to hold its bytes inline (every one
    // MsgPool::get gives for at most kInline bytes).
    uint8_t* inline_data() { return inline_; }
    mach_msg_header_t* header() { return reinterpret_cast<mach_msg_header_t*>(data()); }
    uint32_t capacity() const { return big_ ? big_capacity_ : kInline; }

private:
    friend class MsgPool;
    KMsg* next_free_ = nullptr;  // owned by MsgPool while the KMsg is free
    std::unique_ptr<uint8_t[]> big_;
    uint32_t big_capacity_ = 0;
    alignas(8) uint8_t inline_[kInline];
};

class MsgPool {
public:
    MsgPool() = default;
    ~MsgPool();
    MsgPool(const MsgPool&) = delete;
    MsgPool& operator=(const MsgPool&) = delete;

    // A clean KMsg able to hold `bytes` (message plus room for the largest trailer).
    // get and put are forced inline: every message passes both, and out of line
    // they cost more in saved registers than in their own work.
    [[gnu::always_inline]] KMsg* get(uint32_t bytes) {
        KMsg* m = free_;
        if (__builtin_expect(!m || bytes > KMsg::kInline, 0)) return get_slow(bytes);
        free_ = m->next_free_;
        ++live_;
        return m;
    }
    [[gnu::always_inline]] void put(KMsg* m) {
        if (__builtin_expect(m->big_ != nullptr || m->complex || m->circular, 0)) return put_slow(m);
        MS_ASSERT(!m->hook.linked(), "recycling msg {} while it is still queued", m->number);
        m->reply = {};
        --live_;
        m->next_free_ = free_;
        free_ = m;
    }
    std::size_t live() const { return live_; }

private:
    KMsg* get_slow(uint32_t bytes);
    void put_slow(KMsg* m);
    KMsg* free_ = nullptr;  // clean KMsgs, linked through next_free_
    std::size_t live_ = 0;
};

}  // namespace machsim::ipc
