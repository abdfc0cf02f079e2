// mach_msg_server_once and mach_msg_server: the user-level server loop a MIG
// server runs. It receives a request, hands it to the program's demux routine
// (exc_server, or the program's own), and sends the reply the routine wrote,
// following MIG's reply conventions (docs/api.md §3.10).
//
// The buffers are host memory, not vm_allocate'd regions: a region touched on
// every message would make every switch remap the task's space (docs/memory.md).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "mach/mach.h"

namespace {

using Demux = boolean_t (*)(mach_msg_header_t*, mach_msg_header_t*);

// A message buffer of at least `bytes`, 8-byte aligned, freed with the buffer.
// ok() is false when the host could not give the memory (a huge max_size).
class Buffer {
public:
    explicit Buffer(uint64_t bytes) { resize(bytes); }
    bool resize(uint64_t bytes) {
        bytes = std::clamp<uint64_t>(bytes, sizeof(mig_reply_error_t) + MAX_TRAILER_SIZE, UINT32_MAX);
        words_.reset(new (std::nothrow) uint64_t[(bytes + 7) / 8]);
        size_ = words_ ? static_cast<mach_msg_size_t>(bytes) : 0;
        return ok();
    }
    bool ok() const { return words_ != nullptr; }
    mach_msg_header_t* header() { return reinterpret_cast<mach_msg_header_t*>(words_.get()); }
    mig_reply_error_t* reply() { return reinterpret_cast<mig_reply_error_t*>(words_.get()); }
    mach_msg_size_t size() const { return size_; }
    void swap(Buffer& other) {
        std::swap(size_, other.size_);
        std::swap(words_, other.words_);
    }

private:
    mach_msg_size_t size_ = 0;
    std::unique_ptr<uint64_t[]> words_;
};

// The options a caller may pass on to mach_msg: everything but the operations.
mach_msg_option_t pass_on(mach_msg_option_t options) { return options & ~(MACH_SEND_MSG | MACH_RCV_MSG); }

// Hands the request to demux and applies MIG's rules to the reply it wrote.
// Returns whether there is a reply to send.
bool handle(Demux demux, Buffer& request, Buffer& reply) {
    std::memset(reply.reply(), 0, sizeof(mig_reply_error_t));  // a routine that writes nothing sends nothing
    (void)demux(request.header(), reply.header());
    mig_reply_error_t* r = reply.reply();
    if (!(r->Head.msgh_bits & MACH_MSGH_BITS_COMPLEX)) {
        if (r->RetCode == MIG_NO_REPLY) {
            // The routine replies later, or never: nothing goes out now.
            r->Head.msgh_remote_port = MACH_PORT_NULL;
        } else if (r->RetCode != KERN_SUCCESS && (request.header()->msgh_bits & MACH_MSGH_BITS_COMPLEX)) {
            // The request failed: the rights and memory it carried are not the
            // routine's to keep. Its reply right is, and goes with the reply.
            request.header()->msgh_remote_port = MACH_PORT_NULL;
            mach_msg_destroy(request.header());
        }
    }
    return r->Head.msgh_remote_port != MACH_PORT_NULL;
}

// The send options for a reply: a reply to a send right must not block the
// server on a client that does not receive (MACH_SEND_TIMEOUT, 0: at once);
// a reply to a send-once right cannot block.
mach_msg_option_t reply_options(Buffer& reply, mach_msg_option_t options) {
    bool once = MACH_MSGH_BITS_REMOTE(reply.header()->msgh_bits) == MACH_MSG_TYPE_MOVE_SEND_ONCE;
    return MACH_SEND_MSG | (once ? 0 : MACH_SEND_TIMEOUT) | options;
}

// Whether mach_msg failed in its send: MACH_SEND_* codes, not MACH_RCV_* ones.
bool send_failed(mach_msg_return_t mr) {
    const auto code = static_cast<uint32_t>(mr) & ~uint32_t{MACH_MSG_MASK};  // without the IPC_SPACE, VM_SPACE... bits
    return code >= MACH_SEND_IN_PROGRESS && code < MACH_RCV_IN_PROGRESS;
}

// A reply that could not be delivered because its client is gone or not
// receiving: the server drops it and goes on.
bool client_gone(mach_msg_return_t mr) { return mr == MACH_SEND_INVALID_DEST || mr == MACH_SEND_TIMED_OUT; }

// Releases what an unsent reply carries: the rights a failed send gave back,
// the reply right a dead client left as a dead name. (MIG's own loop releases
// only a complex reply's; machsim's promise is that nothing leaks.)
void drop_reply(Buffer& reply) { mach_msg_destroy(reply.header()); }

// Receives a request into `request`, growing it for a larger one when the
// caller asked for MACH_RCV_LARGE.
mach_msg_return_t receive(Buffer& request, mach_port_t rcv_name, mach_msg_option_t options, mach_msg_size_t trailer) {
    for (;;) {
        mach_msg_return_t mr = mach_msg(request.header(), MACH_RCV_MSG | options, 0, request.size(), rcv_name,
                                        MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_RCV_TOO_LARGE || !(options & MACH_RCV_LARGE)) return mr;
        // The message waits in the queue for a buffer that holds it.
        if (!request.resize(uint64_t{request.header()->msgh_size} + trailer)) return KERN_RESOURCE_SHORTAGE;
    }
}

}  // namespace

extern "C" {

mach_msg_return_t mach_msg_server_once(Demux demux, mach_msg_size_t max_size, mach_port_t rcv_name,
                                       mach_msg_options_t options) {
    options = pass_on(options);
    const mach_msg_size_t trailer = REQUESTED_TRAILER_SIZE(options);
    Buffer request(uint64_t{max_size} + trailer), reply(max_size);
    if (!request.ok() || !reply.ok()) return KERN_RESOURCE_SHORTAGE;
    mach_msg_return_t mr = receive(request, rcv_name, options, trailer);
    if (mr != MACH_MSG_SUCCESS) return mr;
    if (handle(demux, request, reply)) {
        mr = mach_msg(reply.header(), reply_options(reply, options), reply.header()->msgh_size, 0, MACH_PORT_NULL,
                      MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr == MACH_MSG_SUCCESS) return mr;  // the reply's rights went with it
        drop_reply(reply);
        return client_gone(mr) ? MACH_MSG_SUCCESS : mr;
    }
    drop_reply(reply);  // no reply: its buffer holds nothing to send (MIG_NO_REPLY cleared its reply right)
    return MACH_MSG_SUCCESS;
}

mach_msg_return_t mach_msg_server(Demux demux, mach_msg_size_t max_size, mach_port_t rcv_name,
                                  mach_msg_options_t options) {
    options = pass_on(options);
    const mach_msg_size_t trailer = REQUESTED_TRAILER_SIZE(options);
    // Both buffers take requests: the reply's receives the next one.
    Buffer request(uint64_t{max_size} + trailer), reply(uint64_t{max_size} + trailer);
    if (!request.ok() || !reply.ok()) return KERN_RESOURCE_SHORTAGE;
    mach_msg_return_t mr = receive(request, rcv_name, options, trailer);
    while (mr == MACH_MSG_SUCCESS) {
        // The reply buffer receives the next request: as large as a request grew (MACH_RCV_LARGE).
        // Grown now, before the routine writes the reply into it.
        if (reply.size() < request.size() && !reply.resize(request.size())) return KERN_RESOURCE_SHORTAGE;
        if (!handle(demux, request, reply)) {
            drop_reply(reply);
            mr = receive(request, rcv_name, options, trailer);
            continue;
        }
        // The reply and the next request in one call, as a MIG server does.
        mr = mach_msg(reply.header(), reply_options(reply, options) | MACH_RCV_MSG, reply.header()->msgh_size,
                      reply.size(), rcv_name, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (send_failed(mr)) {  // nothing was received
            drop_reply(reply);
            if (!client_gone(mr)) break;
            mr = receive(request, rcv_name, options, trailer);
            continue;
        }
        if (mr == MACH_RCV_TOO_LARGE && (options & MACH_RCV_LARGE)) {  // sent; the request waits in the queue
            mr = receive(request, rcv_name, options, trailer);
            continue;
        }
        request.swap(reply);  // the next request arrived in the reply buffer
    }
    return mr;
}

}  // extern "C"
