// GNU Mach's device calls for drivers (<device/device.h>): thin calls through the gate
// (MIG stubs on a real system).
#include "device/device.h"
#include "kernel/gate/syscalls.h"

namespace gate = machsim::gate;

extern "C" {

kern_return_t get_privileged_ports(mach_port_t* host_priv, mach_port_t* device_master) {
    return gate::sys_get_privileged_ports(host_priv, device_master);
}

kern_return_t device_open(mach_port_t master_port, dev_mode_t mode, const char* name, device_t* device) {
    return gate::sys_device_open(master_port, mode, name, device);
}

kern_return_t device_intr_register(device_t device, int id, int flags, mach_port_t receive_port,
                                   mach_msg_type_name_t receive_portPoly) {
    return gate::sys_device_intr_register(device, id, flags, receive_port, receive_portPoly);
}

kern_return_t device_intr_ack(device_t device, mach_port_t receive_port, mach_msg_type_name_t receive_portPoly) {
    return gate::sys_device_intr_ack(device, receive_port, receive_portPoly);
}

kern_return_t device_read_inband(device_t device, dev_mode_t mode, recnum_t recnum, vm_size_t bytes_wanted,
                                 io_buf_ptr_inband_t data, mach_msg_type_number_t* dataCnt) {
    return gate::sys_device_read_inband(device, mode, recnum, bytes_wanted, data, dataCnt);
}

kern_return_t device_read(device_t device, dev_mode_t mode, recnum_t recnum, vm_size_t bytes_wanted, io_buf_ptr_t* data,
                          mach_msg_type_number_t* dataCnt) {
    return gate::sys_device_read(device, mode, recnum, bytes_wanted, data, dataCnt);
}

kern_return_t device_write(device_t device, dev_mode_t mode, recnum_t recnum, io_buf_ptr_t data,
                           mach_msg_type_number_t dataCnt, int* bytes_written) {
    return gate::sys_device_write(device, mode, recnum, data, dataCnt, bytes_written);
}

kern_return_t device_write_inband(device_t device, dev_mode_t mode, recnum_t recnum, const char* data,
                                  mach_msg_type_number_t dataCnt, int* bytes_written) {
    return gate::sys_device_write_inband(device, mode, recnum, data, dataCnt, bytes_written);
}

kern_return_t device_get_status(device_t device, dev_flavor_t flavor, dev_status_t status,
                                mach_msg_type_number_t* statusCnt) {
    return gate::sys_device_get_status(device, flavor, status, statusCnt);
}

kern_return_t device_close(device_t device) { return gate::sys_device_close(device); }

}  // extern "C"
