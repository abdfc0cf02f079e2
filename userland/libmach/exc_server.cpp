// exc_server and mach_exc_server: what MIG generates from exc.defs and
// mach_exc.defs for a server, written by hand. The handlers are the program's;
// a program that defines none still links (they are weak here).
#include <cstring>
#include <type_traits>

#include "mach/mach.h"

#pragma weak catch_exception_raise
#pragma weak catch_mach_exception_raise

namespace {

constexpr NDR_record_t kNdr = MACHSIM_NDR_NATIVE;

// The reply header and NDR every answer has; RetCode is filled in by the caller.
exception_raise_reply_t* start_reply(const mach_msg_header_t* in, mach_msg_header_t* out) {
    auto* reply = reinterpret_cast<exception_raise_reply_t*>(out);
    reply->Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in->msgh_bits), 0);
    reply->Head.msgh_size = sizeof(exception_raise_reply_t);
    reply->Head.msgh_remote_port = in->msgh_remote_port;
    reply->Head.msgh_local_port = MACH_PORT_NULL;
    reply->Head.msgh_voucher_port = MACH_PORT_NULL;
    reply->Head.msgh_id = in->msgh_id + EXCEPTION_REPLY_ID_OFFSET;
    reply->NDR = kNdr;
    return reply;
}

template <class Request>
bool well_formed(const mach_msg_header_t* in) {
    const auto* req = reinterpret_cast<const Request*>(in);
    return (in->msgh_bits & MACH_MSGH_BITS_COMPLEX) && in->msgh_size == sizeof(Request) &&
           req->msgh_body.msgh_descriptor_count == 2 && req->codeCnt <= 2;
}

// One exception_raise-style request (message `id`, layout Request) handed to
// `handler`, the program's catch_* function, or null when it defines none.
template <class Request, class Handler>
boolean_t serve(mach_msg_header_t* request, mach_msg_header_t* reply, mach_msg_id_t id, Handler* handler) {
    exception_raise_reply_t* out = start_reply(request, reply);
    if (request->msgh_id != id) {
        out->RetCode = MIG_BAD_ID;
        return FALSE;
    }
    if (!well_formed<Request>(request)) {
        out->RetCode = MIG_BAD_ARGUMENTS;
        return TRUE;
    }
    auto* req = reinterpret_cast<Request*>(request);
    // The message packs its 64-bit codes at 4-byte alignment; the handler gets them in an array
    // of their own, aligned, so that reading code[i] is defined behaviour (UBSan checks it).
    std::remove_reference_t<decltype(req->code[0])> code[2] = {};
    std::memcpy(code, req->code, req->codeCnt * sizeof code[0]);
    out->RetCode = handler ? handler(request->msgh_local_port, req->thread.name, req->task.name, req->exception, code,
                                     req->codeCnt)
                           : KERN_FAILURE;
    return TRUE;
}

}  // namespace

extern "C" {

boolean_t exc_server(mach_msg_header_t* request, mach_msg_header_t* reply) {
    return serve<exception_raise_request_t>(request, reply, EXCEPTION_RAISE_ID, catch_exception_raise);
}

boolean_t mach_exc_server(mach_msg_header_t* request, mach_msg_header_t* reply) {
    return serve<mach_exception_raise_request_t>(request, reply, MACH_EXCEPTION_RAISE_ID, catch_mach_exception_raise);
}

}  // extern "C"
