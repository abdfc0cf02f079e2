/* The exception messages (MIG subsystems exc 2401 and mach_exc 2405): what an
 * exception port receives and what its handler replies, for the behaviours
 * EXCEPTION_DEFAULT, EXCEPTION_STATE and EXCEPTION_STATE_IDENTITY. */
#ifndef MACHSIM_MACH_EXC_H
#define MACHSIM_MACH_EXC_H

#include "mach/exception_types.h"
#include "mach/kern_return.h"
#include "mach/message.h"
#include "mach/ndr.h"
#include "mach/thread_status.h"

#define EXCEPTION_RAISE_ID 2401      /* exception_raise: 32-bit codes */
#define EXCEPTION_RAISE_STATE_ID 2402          /* exception_raise_state */
#define EXCEPTION_RAISE_STATE_IDENTITY_ID 2403 /* exception_raise_state_identity */
#define MACH_EXCEPTION_RAISE_ID 2405 /* mach_exception_raise: 64-bit codes (MACH_EXCEPTION_CODES) */
#define MACH_EXCEPTION_RAISE_STATE_ID 2406
#define MACH_EXCEPTION_RAISE_STATE_IDENTITY_ID 2407
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

/* EXCEPTION_STATE: no thread or task rights, the thread's state instead (not
 * complex). The message ends after old_stateCnt words of old_state. As MIG lays
 * it out, flavor and what follows come right after the codeCnt codes: they move
 * up when codeCnt < 2 (the kernel always sends 2). */
typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    exception_data_type_t code[2];
    int flavor;
    mach_msg_type_number_t old_stateCnt;
    natural_t old_state[THREAD_STATE_MAX];
} exception_raise_state_request_t;

typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    mach_exception_data_type_t code[2];
    int flavor;
    mach_msg_type_number_t old_stateCnt;
    natural_t old_state[THREAD_STATE_MAX];
} mach_exception_raise_state_request_t;

/* EXCEPTION_STATE_IDENTITY: both, the rights and the state (complex). */
typedef struct {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread;
    mach_msg_port_descriptor_t task;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    exception_data_type_t code[2];
    int flavor;
    mach_msg_type_number_t old_stateCnt;
    natural_t old_state[THREAD_STATE_MAX];
} exception_raise_state_identity_request_t;

typedef struct {
    mach_msg_header_t Head;
    mach_msg_body_t msgh_body;
    mach_msg_port_descriptor_t thread;
    mach_msg_port_descriptor_t task;
    NDR_record_t NDR;
    exception_type_t exception;
    mach_msg_type_number_t codeCnt;
    mach_exception_data_type_t code[2];
    int flavor;
    mach_msg_type_number_t old_stateCnt;
    natural_t old_state[THREAD_STATE_MAX];
} mach_exception_raise_state_identity_request_t;

/* The reply to any of the four state requests. With RetCode KERN_SUCCESS it
 * ends after new_stateCnt words of new_state, the state the thread resumes with;
 * with any other RetCode it is only an exception_raise_reply_t (36 bytes). */
typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    int flavor;
    mach_msg_type_number_t new_stateCnt;
    natural_t new_state[THREAD_STATE_MAX];
} exception_raise_state_reply_t;

#pragma pack(pop)

#endif
