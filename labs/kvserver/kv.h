// The kvserver lab's protocol, shared by your server and the grader's clients.
// Each request is a MIG-style message; each answer begins as a mig_reply_error_t.
#pragma once

#include <mach/mach.h>

enum : mach_msg_id_t {
    KV_PUT = 2000,          // store value under key; answer: RetCode KERN_SUCCESS
    KV_GET = 2001,          // the value under key; answer: RetCode KERN_SUCCESS and value, or KERN_NOT_FOUND
    KV_REPLY_OFFSET = 100,  // an answer's id: the request's + 100 (MIG's convention)
};

struct kv_put_request {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    int32_t key;
    int32_t value;
};

struct kv_get_request {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    int32_t key;
};

// Every answer: Head, NDR and RetCode are a mig_reply_error_t; value is meaningful
// only in the answer to a successful KV_GET.
struct kv_reply {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    int32_t value;
};

// Yours (kvserver.cpp): the server task's body, and its MIG-style demux routine.
int kv_server();
boolean_t kv_demux(mach_msg_header_t *request, mach_msg_header_t *reply);
