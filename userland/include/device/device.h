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

/* Opens the device `name` ("irq") through the master device port. */
kern_return_t device_open(mach_port_t master_port, dev_mode_t mode, const char *name, device_t *device);

/* Interrupts of line `id` arrive as device_intr_notification_t messages on
 * receive_port (given with MAKE_SEND, COPY_SEND or MOVE_SEND); flags must be 0. */
kern_return_t device_intr_register(device_t device, int id, int flags, mach_port_t receive_port,
                                   mach_msg_type_name_t receive_portPoly);

/* Reads up to bytes_wanted (at most 128) bytes the device has received into data;
 * *dataCnt = how many. The console's scripted input; never waits (D_WOULD_BLOCK when empty). */
kern_return_t device_read_inband(device_t device, dev_mode_t mode, recnum_t recnum, vm_size_t bytes_wanted,
                                 io_buf_ptr_inband_t data, mach_msg_type_number_t *dataCnt);

/* Unmasks the line whose interrupt was last delivered to receive_port. */
kern_return_t device_intr_ack(device_t device, mach_port_t receive_port, mach_msg_type_name_t receive_portPoly);

#ifdef __cplusplus
}
#endif

#endif
