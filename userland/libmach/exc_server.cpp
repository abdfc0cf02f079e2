// exc_server and mach_exc_server: what MIG generates from exc.defs and
// mach_exc.defs for a server, written by hand. Each subsystem has three routines:
// exception_raise (+0), exception_raise_state (+1), exception_raise_state_identity
// (+2). The handlers are the program's; a program that defines none still links
// (they are weak here), and a request whose handler is missing is answered
// KERN_FAILURE.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mach/mach.h"

#pragma weak catch_exception_raise
#pragma weak catch_exception_raise_state
#pragma weak catch_exception_raise_state_identity
#pragma weak catch_mach_exception_raise
#pragma weak catch_mach_exception_raise_state
#pragma weak catch_mach_exception_raise_state_identity

namespace {

constexpr NDR_record_t kNdr = MACHSIM_NDR_NATIVE;

// A request taken apart as MIG's server checks and reads it. Code is
// exception_data_type_t (exc) or mach_exception_data_type_t (mach_exc).
template <class Code>
struct Request {
    mach_port_t thread = MACH_PORT_NULL;
    mach_port_t task = MACH_PORT_NULL;
    exception_type_t exception = 0;
    mach_msg_type_number_t codeCnt = 0;
    // A copy, aligned: the message packs 64-bit codes at 4 bytes, where reading
    // them in place would be undefined behaviour (UBSan checks it).
    Code code[2] = {};
    int flavor = 0;
    mach_msg_type_number_t old_stateCnt = 0;
    natural_t* old_state = nullptr;  // in the message (4-byte words, aligned)
};

// Reads the bytes at `at` into `value`, if the message has them.
class Reader {
public:
    explicit Reader(mach_msg_header_t* in) : base_(reinterpret_cast<char*>(in)), size_(in->msgh_size) {}
    template <class T>
    bool take(T& value) {
        return take(&value, sizeof value);
    }
    bool take(void* out, std::size_t n) {
        if (n > size_ - at_) return false;
        std::memcpy(out, base_ + at_, n);
        at_ += n;
        return true;
    }
    char* here() const { return base_ + at_; }
    bool skip(std::size_t n) {
        if (n > size_ - at_) return false;
        at_ += n;
        return true;
    }
    bool at_end() const { return at_ == size_; }

private:
    char* base_;
    std::size_t size_;
    std::size_t at_ = sizeof(mach_msg_header_t);
};

// False when the request is not a well-formed one of its routine: complex exactly
// when it carries the thread and task, two port descriptors then, at most two codes,
// a state no longer than THREAD_STATE_MAX words, and nothing after it.
template <class Code>
bool parse(mach_msg_header_t* in, bool identity, bool state, Request<Code>& r) {
    if (in->msgh_size < sizeof(mach_msg_header_t)) return false;
    Reader at(in);
    if (identity != ((in->msgh_bits & MACH_MSGH_BITS_COMPLEX) != 0)) return false;
    if (identity) {
        mach_msg_body_t body{};
        mach_msg_port_descriptor_t thread{}, task{};
        if (!at.take(body) || body.msgh_descriptor_count != 2 || !at.take(thread) || !at.take(task)) return false;
        if (thread.type != MACH_MSG_PORT_DESCRIPTOR || task.type != MACH_MSG_PORT_DESCRIPTOR) return false;
        r.thread = thread.name;
        r.task = task.name;
    }
    if (!at.skip(sizeof(NDR_record_t)) || !at.take(r.exception) || !at.take(r.codeCnt) || r.codeCnt > 2 ||
        !at.take(r.code, r.codeCnt * sizeof(Code)))
        return false;
    if (state) {  // after the codes there are, not at a fixed place (as MIG lays it out)
        if (!at.take(r.flavor) || !at.take(r.old_stateCnt) || r.old_stateCnt > THREAD_STATE_MAX) return false;
        r.old_state = reinterpret_cast<natural_t*>(at.here());
        if (!at.skip(r.old_stateCnt * sizeof(natural_t))) return false;
    }
    return at.at_end();
}

// The reply header and NDR every answer has, with RetCode, as MIG's short error reply.
exception_raise_reply_t* start_reply(const mach_msg_header_t* in, mach_msg_header_t* out, kern_return_t code) {
    auto* reply = reinterpret_cast<exception_raise_reply_t*>(out);
    reply->Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in->msgh_bits), 0);
    reply->Head.msgh_size = sizeof(exception_raise_reply_t);
    reply->Head.msgh_remote_port = in->msgh_remote_port;
    reply->Head.msgh_local_port = MACH_PORT_NULL;
    reply->Head.msgh_voucher_port = MACH_PORT_NULL;
    // As MIG: the request's id + 100, wrapping (in unsigned arithmetic) for any id a client sends.
    reply->Head.msgh_id = static_cast<mach_msg_id_t>(static_cast<uint32_t>(in->msgh_id) + EXCEPTION_REPLY_ID_OFFSET);
    reply->NDR = kNdr;
    reply->RetCode = code;
    return reply;
}

// The program's routines of one subsystem.
template <class Code, class Data>
struct Handlers {
    kern_return_t (*raise)(mach_port_t, mach_port_t, mach_port_t, exception_type_t, Data, mach_msg_type_number_t);
    kern_return_t (*raise_state)(mach_port_t, exception_type_t, Data, mach_msg_type_number_t, int*, thread_state_t,
                                 mach_msg_type_number_t, thread_state_t, mach_msg_type_number_t*);
    kern_return_t (*raise_state_identity)(mach_port_t, mach_port_t, mach_port_t, exception_type_t, Data,
                                          mach_msg_type_number_t, int*, thread_state_t, mach_msg_type_number_t,
                                          thread_state_t, mach_msg_type_number_t*);
};

// One request of the subsystem whose first id is `base`.
template <class Code, class Data>
boolean_t serve(mach_msg_header_t* in, mach_msg_header_t* out, mach_msg_id_t base, const Handlers<Code, Data>& h) {
    const int64_t routine = int64_t{in->msgh_id} - base;  // 64 bits: any id, no overflow
    if (routine < 0 || routine > 2) {
        start_reply(in, out, MIG_BAD_ID);
        return FALSE;
    }
    const bool state = routine != 0, identity = routine != 1;
    Request<Code> r;
    if (!parse(in, identity, state, r)) {
        start_reply(in, out, MIG_BAD_ARGUMENTS);
        return TRUE;
    }
    exception_raise_reply_t* reply = start_reply(in, out, KERN_FAILURE);
    if (!state) {
        if (h.raise) reply->RetCode = h.raise(in->msgh_local_port, r.thread, r.task, r.exception, r.code, r.codeCnt);
        return TRUE;
    }
    // The routine writes the new state straight into the reply, as MIG's server has it do.
    auto* full = reinterpret_cast<exception_raise_state_reply_t*>(out);
    int flavor = r.flavor;
    mach_msg_type_number_t new_count = THREAD_STATE_MAX;
    if (routine == 1 && h.raise_state) {
        reply->RetCode = h.raise_state(in->msgh_local_port, r.exception, r.code, r.codeCnt, &flavor, r.old_state,
                                       r.old_stateCnt, full->new_state, &new_count);
    } else if (routine == 2 && h.raise_state_identity) {
        reply->RetCode = h.raise_state_identity(in->msgh_local_port, r.thread, r.task, r.exception, r.code, r.codeCnt,
                                                &flavor, r.old_state, r.old_stateCnt, full->new_state, &new_count);
    }
    if (reply->RetCode != KERN_SUCCESS) return TRUE;  // the short reply: no state
    if (new_count > THREAD_STATE_MAX) {
        reply->RetCode = MIG_ARRAY_TOO_LARGE;
        return TRUE;
    }
    full->flavor = flavor;
    full->new_stateCnt = new_count;
    full->Head.msgh_size =
        static_cast<mach_msg_size_t>(offsetof(exception_raise_state_reply_t, new_state) + new_count * sizeof(natural_t));
    return TRUE;
}

}  // namespace

extern "C" {

boolean_t exc_server(mach_msg_header_t* request, mach_msg_header_t* reply) {
    const Handlers<exception_data_type_t, exception_data_t> h{
        catch_exception_raise, catch_exception_raise_state, catch_exception_raise_state_identity};
    return serve(request, reply, EXCEPTION_RAISE_ID, h);
}

boolean_t mach_exc_server(mach_msg_header_t* request, mach_msg_header_t* reply) {
    const Handlers<mach_exception_data_type_t, mach_exception_data_t> h{
        catch_mach_exception_raise, catch_mach_exception_raise_state, catch_mach_exception_raise_state_identity};
    return serve(request, reply, MACH_EXCEPTION_RAISE_ID, h);
}

}  // extern "C"
