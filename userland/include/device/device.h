/* GNU Mach's device calls that machsim implements, as a driver includes them:
 * <device/device.h>. docs/api.md section 17 has what each returns. */
#ifndef MACHSIM_DEVICE_DEVICE_H
#define MACHSIM_DEVICE_DEVICE_H

#include "device/device_types.h"
#include "device/notify.h"
#include "mach/message.h"
#include "mach/machine_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A send right to the host's privileged port (not implemented: always MACH_PORT_NULL)
 * and to the master device port, for a task spawned with SpawnOptions::privileged.
 * Either pointer may be null. KERN_NO_ACCESS for any other task. */
kern_return_t get_privileged_ports(mach_port_t *host_priv, mach_port_t *device_master);

/* Opens the device `name` ("irq", "console", or "hd0" when the host attached a disk)
 * through the master device port. */
kern_return_t device_open(mach_port_t master_port, dev_mode_t mode, const char *name, device_t *device);

/* Interrupts of line `id` arrive as device_intr_notification_t messages on
 * receive_port (given with MAKE_SEND, COPY_SEND or MOVE_SEND); flags must be 0. */
kern_return_t device_intr_register(device_t device, int id, int flags, mach_port_t receive_port,
                                   mach_msg_type_name_t receive_portPoly);

/* Reads up to bytes_wanted (at most 128) bytes into data; *dataCnt = how many.
 * The console: its scripted input that has arrived; never waits (D_WOULD_BLOCK when
 * none has). The disk: from record recnum on, once the disk has served the request. */
kern_return_t device_read_inband(device_t device, dev_mode_t mode, recnum_t recnum, vm_size_t bytes_wanted,
                                 io_buf_ptr_inband_t data, mach_msg_type_number_t *dataCnt);

/* As device_read_inband, any size: the bytes arrive out of line, in new memory of the
 * caller's (*data; vm_deallocate it), *dataCnt of them. */
kern_return_t device_read(device_t device, dev_mode_t mode, recnum_t recnum, vm_size_t bytes_wanted,
                          io_buf_ptr_t *data, mach_msg_type_number_t *dataCnt);

/* Writes dataCnt bytes: to the console (the host keeps them and shows them), or to the
 * disk from record recnum on, waiting until the disk has served the request.
 * *bytes_written = how many (fewer at the disk's end). */
kern_return_t device_write(device_t device, dev_mode_t mode, recnum_t recnum, io_buf_ptr_t data,
                           mach_msg_type_number_t dataCnt, int *bytes_written);

/* As device_write, with at most 128 bytes carried in the message (MIG_ARRAY_TOO_LARGE beyond). */
kern_return_t device_write_inband(device_t device, dev_mode_t mode, recnum_t recnum, const char *data,
                                  mach_msg_type_number_t dataCnt, int *bytes_written);

/* DEV_GET_SIZE (bytes, record size) or DEV_GET_RECORDS (records, record size) of the
 * console or the disk into status; *statusCnt: the room on entry, the values on return (2). */
kern_return_t device_get_status(device_t device, dev_flavor_t flavor, dev_status_t status,
                                mach_msg_type_number_t *statusCnt);

/* Closes the device: D_SUCCESS for an open device. The device port stays (drop the
 * right with mach_port_deallocate). */
kern_return_t device_close(device_t device);

/* Unmasks the line whose interrupt was last delivered to receive_port. */
kern_return_t device_intr_ack(device_t device, mach_port_t receive_port, mach_msg_type_name_t receive_portPoly);

#ifdef __cplusplus
}
#endif

#endif
