// The Mach task API: thin calls through the gate (MIG stubs and traps on a real system).
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "kernel/gate/syscalls.h"
#include "mach/mach.h"
#include "machsim/trace.h"

namespace gate = machsim::gate;

vm_size_t vm_page_size = static_cast<vm_size_t>(sysconf(_SC_PAGESIZE));

extern "C" {

mach_port_t mach_task_self(void) { return gate::task_self_name(); }
mach_port_t machsim_bootstrap_port(void) { return gate::bootstrap_name(); }

mach_msg_return_t mach_msg(mach_msg_header_t* msg, mach_msg_option_t option, mach_msg_size_t send_size,
                           mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                           mach_port_name_t notify) {
    return gate::sys_mach_msg(msg, option, send_size, rcv_size, rcv_name, timeout, notify);
}

mach_msg_return_t mach_msg_send(mach_msg_header_t* msg) {
    mach_msg_size_t size = msg ? msg->msgh_size : 0;
    return mach_msg(msg, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

mach_msg_return_t mach_msg_receive(mach_msg_header_t* msg) {
    mach_msg_size_t size = msg ? msg->msgh_size : 0;
    mach_port_name_t port = msg ? msg->msgh_local_port : MACH_PORT_NULL;
    return mach_msg(msg, MACH_RCV_MSG, 0, size, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t* name) {
    return gate::sys_mach_port_allocate(task, right, name);
}
kern_return_t mach_port_allocate_name(ipc_space_t task, mach_port_right_t right, mach_port_name_t name) {
    return gate::sys_mach_port_allocate_name(task, right, name);
}
kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name) {
    return gate::sys_mach_port_deallocate(task, name);
}
kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name) {
    return gate::sys_mach_port_destroy(task, name);
}
kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                 mach_port_delta_t delta) {
    return gate::sys_mach_port_mod_refs(task, name, right, delta);
}
kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                 mach_port_urefs_t* refs) {
    return gate::sys_mach_port_get_refs(task, name, right, refs);
}
kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name, mach_port_type_t* ptype) {
    return gate::sys_mach_port_type(task, name, ptype);
}
kern_return_t mach_port_names(ipc_space_t task, mach_port_name_array_t* names, mach_msg_type_number_t* namesCnt,
                              mach_port_type_array_t* types, mach_msg_type_number_t* typesCnt) {
    return gate::sys_mach_port_names(task, names, namesCnt, types, typesCnt);
}
kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
                                     mach_msg_type_name_t polyPoly) {
    return gate::sys_mach_port_insert_right(task, name, poly, polyPoly);
}
kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name, mach_msg_type_name_t msgt_name,
                                      mach_port_t* poly, mach_msg_type_name_t* polyPoly) {
    return gate::sys_mach_port_extract_right(task, name, msgt_name, poly, polyPoly);
}
kern_return_t mach_port_get_attributes(ipc_space_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                       mach_port_info_t port_info_out, mach_msg_type_number_t* port_info_outCnt) {
    return gate::sys_mach_port_get_attributes(task, name, flavor, port_info_out, port_info_outCnt);
}
kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                       mach_port_info_t port_info, mach_msg_type_number_t port_infoCnt) {
    return gate::sys_mach_port_set_attributes(task, name, flavor, port_info, port_infoCnt);
}
kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member, mach_port_name_t after) {
    return gate::sys_mach_port_move_member(task, member, after);
}

kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name, mach_msg_id_t msgid,
                                             mach_port_mscount_t sync, mach_port_t notify,
                                             mach_msg_type_name_t notifyPoly, mach_port_t* previous) {
    return gate::sys_mach_port_request_notification(task, name, msgid, sync, notify, notifyPoly, previous);
}

mach_port_t mach_reply_port(void) { return gate::sys_mach_reply_port(); }
mach_port_t mig_get_reply_port(void) { return gate::mig_reply_name(); }
void mig_dealloc_reply_port(mach_port_t reply_port) { gate::mig_reply_discard(reply_port); }

kern_return_t task_get_special_port(task_t task, int which_port, mach_port_t* special_port) {
    return gate::sys_task_get_special_port(task, which_port, special_port);
}

kern_return_t thread_switch(mach_port_name_t thread_name, int option, mach_msg_timeout_t option_time) {
    return gate::sys_thread_switch(thread_name, option, option_time);
}

mach_port_t mach_thread_self(void) { return gate::sys_mach_thread_self(); }
kern_return_t thread_terminate(thread_act_t target_act) { return gate::sys_thread_terminate(target_act); }
kern_return_t thread_suspend(thread_act_t target_act) { return gate::sys_thread_suspend(target_act); }
kern_return_t thread_resume(thread_act_t target_act) { return gate::sys_thread_resume(target_act); }
kern_return_t thread_abort(thread_act_t target_act) { return gate::sys_thread_abort(target_act); }
kern_return_t task_threads(task_t target_task, thread_act_array_t* act_list, mach_msg_type_number_t* act_listCnt) {
    return gate::sys_task_threads(target_task, act_list, act_listCnt);
}
kern_return_t task_terminate(task_t target_task) { return gate::sys_task_terminate(target_task); }
kern_return_t task_suspend(task_t target_task) { return gate::sys_task_suspend(target_task); }
kern_return_t task_resume(task_t target_task) { return gate::sys_task_resume(target_task); }

kern_return_t semaphore_create(task_t task, semaphore_t* semaphore, int policy, int value) {
    return gate::sys_semaphore_create(task, semaphore, policy, value);
}
kern_return_t semaphore_destroy(task_t task, semaphore_t semaphore) { return gate::sys_semaphore_destroy(task, semaphore); }
kern_return_t semaphore_signal(semaphore_t semaphore) { return gate::sys_semaphore_signal(semaphore); }
kern_return_t semaphore_signal_all(semaphore_t semaphore) { return gate::sys_semaphore_signal_all(semaphore); }
kern_return_t semaphore_wait(semaphore_t semaphore) { return gate::sys_semaphore_wait(semaphore); }
kern_return_t semaphore_timedwait(semaphore_t semaphore, mach_timespec_t wait_time) {
    if (wait_time.tv_nsec < 0 || wait_time.tv_nsec >= static_cast<clock_res_t>(NSEC_PER_SEC)) return KERN_INVALID_VALUE;
    uint64_t ticks = uint64_t{wait_time.tv_sec} * USEC_PER_SEC + static_cast<uint64_t>(wait_time.tv_nsec) / NSEC_PER_USEC;
    return gate::sys_semaphore_timedwait(semaphore, &ticks);
}

kern_return_t vm_allocate(vm_map_t target_task, vm_address_t* address, vm_size_t size, int flags) {
    return gate::sys_vm_allocate(target_task, address, size, flags);
}
kern_return_t vm_deallocate(vm_map_t target_task, vm_address_t address, vm_size_t size) {
    return gate::sys_vm_deallocate(target_task, address, size);
}

char* mach_error_string(mach_error_t error_value) {
    // Strings live as long as the process, one per code asked about.
    static std::map<mach_error_t, std::string> names;
    auto it = names.find(error_value);
    if (it == names.end()) it = names.emplace(error_value, machsim::code_name(error_value)).first;
    return it->second.data();
}

void mach_error(const char* str, mach_error_t error_value) {
    std::fprintf(stderr, "%s %s (0x%x)\n", str ? str : "", mach_error_string(error_value),
                 static_cast<unsigned>(error_value));
}

}  // extern "C"
