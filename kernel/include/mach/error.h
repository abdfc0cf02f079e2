/* How a Mach error code is laid out, with XNU's names and values: from the high
 * bit down, the system (6 bits), the subsystem (12 bits) and the code (14 bits).
 * MACH_SEND_INVALID_DEST (0x10000003), say, is system err_mach_ipc (4),
 * subsystem 0 (send), code 3; MACH_RCV_TIMED_OUT (0x10004003) is subsystem 1
 * (receive), code 3. */
#ifndef MACHSIM_MACH_ERROR_H
#define MACHSIM_MACH_ERROR_H

#include "mach/kern_return.h"

typedef kern_return_t mach_error_t;
typedef mach_error_t (*mach_error_fn_t)(void);

#define err_none ((mach_error_t)0)
#define ERR_SUCCESS ((mach_error_t)0)
#define ERR_ROUTINE_NIL ((mach_error_fn_t)0)

#define err_system(x) (((x) & 0x3f) << 26)
#define err_sub(x) (((x) & 0xfff) << 14)

#define err_get_system(err) (((err) >> 26) & 0x3f)
#define err_get_sub(err) (((err) >> 14) & 0xfff)
#define err_get_code(err) ((err) & 0x3fff)

#define system_emask (err_system(0x3f))
#define sub_emask (err_sub(0xfff))
#define code_emask (0x3fff)

/* The systems. */
#define err_kern err_system(0x0)       /* the kernel: KERN_* */
#define err_us err_system(0x1)         /* user-space libraries */
#define err_server err_system(0x2)     /* user-space servers */
#define err_ipc err_system(0x3)        /* the old IPC's codes */
#define err_mach_ipc err_system(0x4)   /* mach_msg: MACH_SEND_*, MACH_RCV_* */
#define err_local err_system(0x3e)     /* the program's own */
#define err_ipc_compat err_system(0x3f)
#define err_max_system 0x3f

/* A Unix errno as a Mach error. */
#define unix_err(e) (err_kern | err_sub(3) | (e))

#endif
