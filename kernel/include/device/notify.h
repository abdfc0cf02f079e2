// The message a driver receives for each interrupt of a line it registered for
// (GNU Mach's include/device/notify.h: device_intr_notification_t, id 100).
// machsim's header is XNU's 24-byte mach_msg_header_t; the body keeps GNU Mach's
// fields: a typed-data descriptor for one 32-bit integer, then the line number.
#pragma once

#include <stdint.h>

#include "mach/message.h"

#define DEVICE_INTR_NOTIFY 100

// GNU Mach's typed-data descriptor (mach_msg_type_t), which XNU's layout does not have.
typedef struct {
    unsigned int msgt_name : 8;   // MACH_MSG_TYPE_INTEGER_32 = 2
    unsigned int msgt_size : 8;   // bits per element: 32
    unsigned int msgt_number : 12;  // elements: 1
    unsigned int msgt_inline : 1;   // 1
    unsigned int msgt_longform : 1;
    unsigned int msgt_deallocate : 1;
    unsigned int msgt_unused : 1;
} mach_msg_type_t;

typedef struct {
    mach_msg_header_t intr_header;  // msgh_id = DEVICE_INTR_NOTIFY, msgh_size = 32
    mach_msg_type_t intr_type;
    int id;                         // the interrupt line
} device_intr_notification_t;

#ifdef __cplusplus
static_assert(sizeof(mach_msg_type_t) == 4, "GNU Mach's type descriptor is one word");
static_assert(sizeof(device_intr_notification_t) == 32, "header, type descriptor, line");
#endif
