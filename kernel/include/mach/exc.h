/* The exception messages (MIG subsystems exc 2401 and mach_exc 2405): what an
 * exception port receives and what its handler replies. Only the
 * EXCEPTION_DEFAULT routines are sent by machsim. */
#ifndef MACHSIM_MACH_EXC_H
#define MACHSIM_MACH_EXC_H

#include "mach/exception_types.h"
#include "mach/kern_return.h"
#include "mach/message.h"
#include "mach/ndr.h"

#define EXCEPTION_RAISE_ID 2401      /* exception_raise: 32-bit codes */
#define MACH_EXCEPTION_RAISE_ID 2405 /* mach_exception_raise: 64-bit codes (MACH_EXCEPTION_CODES) */
#define EXCEPTION_REPLY_ID_OFFSET 100

#pragma pack(push, 4)

typedef struct {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread; /* a send right to the faulting thread */
    mach_msg_port_descriptor_t task;   /* a send right to its task */
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt; /* 2: code, subcode */
    exception_data_type_t code[2];
} exception_raise_request_t;

typedef struct {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread;
    mach_msg_port_descriptor_t task;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    mach_exception_data_type_t code[2];
} mach_exception_raise_request_t;

/* The reply to either: msgh_id is the request's + 100. KERN_SUCCESS resumes the thread. */
typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
} exception_raise_reply_t;

#pragma pack(pop)

#endif
