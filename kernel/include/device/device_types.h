// GNU Mach's device interface: types, open modes and the device return codes
// (values as in GNU Mach's include/device/device_types.h). machsim implements
// interrupts, the console and one disk: docs/api.md, section 17.
#pragma once

#include "mach/kern_return.h"
#include "mach/port.h"

typedef mach_port_t device_t;
typedef int dev_mode_t;
typedef char dev_name_t[128];  // a device name, NUL-terminated
typedef int io_return_t;
typedef unsigned int recnum_t;  // a record (block) number
#define IO_INBAND_MAX 128
typedef char io_buf_ptr_inband_t[IO_INBAND_MAX];  // data carried in the message itself (the _inband calls)
typedef char* io_buf_ptr_t;  // data carried out of line (device_read, device_write)
typedef unsigned int dev_flavor_t;  // what device_get_status asks
typedef int* dev_status_t;          // its answer: an array of integers
#define DEV_STATUS_MAX 1024         // the most integers in it

// device_get_status flavors, and where each value is in the answer.
#define DEV_GET_SIZE 0
#define DEV_GET_SIZE_DEVICE_SIZE 0  // bytes; 0 if unknown
#define DEV_GET_SIZE_RECORD_SIZE 1  // bytes per record; 1 if sequential
#define DEV_GET_SIZE_COUNT 2
#define DEV_GET_RECORDS 1
#define DEV_GET_RECORDS_DEVICE_RECORDS 0  // records; 0 if unknown
#define DEV_GET_RECORDS_RECORD_SIZE 1
#define DEV_GET_RECORDS_COUNT 2

// dev_mode_t bits for device_open.
#define D_READ 0x1
#define D_WRITE 0x2
#define D_NODELAY 0x4
#define D_NOWAIT 0x8  // I/O mode: do not wait (machsim ignores it: docs/api.md 17.12)

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
