/* MIG return codes and the reply message MIG servers send on error. */
#ifndef MACHSIM_MACH_MIG_ERRORS_H
#define MACHSIM_MACH_MIG_ERRORS_H

#include "mach/message.h"

#define MIG_TYPE_ERROR -300
#define MIG_REPLY_MISMATCH -301
#define MIG_REMOTE_ERROR -302
#define MIG_BAD_ID -303
#define MIG_BAD_ARGUMENTS -304
#define MIG_NO_REPLY -305
#define MIG_EXCEPTION -306
#define MIG_ARRAY_TOO_LARGE -307
#define MIG_SERVER_DIED -308
#define MIG_TRAILER_ERROR -309

#pragma pack(push, 4)
typedef struct {
    mach_msg_header_t Head;
    unsigned char NDR[8];
    kern_return_t RetCode;
} mig_reply_error_t;
#pragma pack(pop)

#endif
