// GNU Mach's device interface: types, open modes and the device return codes
// (values as in GNU Mach's include/device/device_types.h). machsim implements
// the part a driver needs for interrupts: docs/api.md, section 17.
#pragma once

#include "mach/kern_return.h"
#include "mach/port.h"

typedef mach_port_t device_t;
typedef int dev_mode_t;
typedef char dev_name_t[128];  // a device name, NUL-terminated
typedef int io_return_t;
typedef unsigned int recnum_t;  // a record (block) number
typedef char io_buf_ptr_inband_t[128];  // data returned in the reply itself (device_read_inband)

// dev_mode_t bits for device_open.
#define D_READ 0x1
#define D_WRITE 0x2
#define D_NODELAY 0x4
#define D_NOWAIT 0x8  // I/O mode: do not wait (machsim's reads never wait)

// Device return codes.
#define D_SUCCESS 0
#define D_IO_ERROR 2500
#define D_WOULD_BLOCK 2501
#define D_NO_SUCH_DEVICE 2502
#define D_ALREADY_OPEN 2503
#define D_DEVICE_DOWN 2504
#define D_INVALID_OPERATION 2505
#define D_INVALID_RECNUM 2506
#define D_INVALID_SIZE 2507
#define D_NO_MEMORY 2508
#define D_READ_ONLY 2509
