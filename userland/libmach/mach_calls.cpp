// The Mach task API: thin calls through the gate (MIG stubs and traps on a real system).
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "kernel/gate/syscalls.h"
#include "kernel/machine/usercopy.h"
#include "mach/mach.h"
#include "mach/mach_time.h"
#include "machsim/trace.h"

namespace gate = machsim::gate;

namespace {

// As Mach's own library does: an interrupted wait is retried unless the caller
// asked to see interruptions. An interrupted send has its message back, so it
// is sent again whole; an interrupted receive is only received again. Out of
// line and cold: every mach_msg passes here, and the common one only needs one
// test of its result.
[[gnu::noinline, gnu::cold]] mach_msg_return_t retry_interrupted(mach_msg_return_t mr, gate::MsgArgs& a) {
    if (!(a.option & MACH_SEND_INTERRUPT))
        while (mr == MACH_SEND_INTERRUPTED) mr = gate::sys_mach_msg(a);
    if (!(a.option & MACH_RCV_INTERRUPT)) {
        a.option &= ~MACH_SEND_MSG;
        a.send_size = 0;
        while (mr == MACH_RCV_INTERRUPTED) mr = gate::sys_mach_msg(a);
    }
    return mr;
}

// The mach_msg system call, and the retry of an interrupted wait.
[[gnu::always_inline]] inline mach_msg_return_t trap(gate::MsgArgs& a) {
    mach_msg_return_t mr = gate::sys_mach_msg(a);
    if (__builtin_expect(mr == MACH_SEND_INTERRUPTED || mr == MACH_RCV_INTERRUPTED, 0)) return retry_interrupted(mr, a);
    return mr;
}

}  // namespace

vm_size_t vm_page_size = static_cast<vm_size_t>(sysconf(_SC_PAGESIZE));

extern "C" {

mach_port_t mach_task_self(void) { return gate::task_self_name(); }
mach_port_t machsim_bootstrap_port(void) { return gate::bootstrap_name(); }

// Not vectorised: packing the four 32-bit arguments into one vector store takes
// more instructions than the stores it saves.
[[gnu::optimize("no-tree-slp-vectorize")]] mach_msg_return_t mach_msg(
    mach_msg_header_t* msg, mach_msg_option_t option, mach_msg_size_t send_size, mach_msg_size_t rcv_size,
    mach_port_name_t rcv_name, mach_msg_timeout_t timeout, mach_port_name_t notify) {
    gate::MsgArgs a{msg, option, send_size, rcv_size, rcv_name, timeout, notify, msg};
    return trap(a);
}

// As XNU: rcv_limit is not used (rcv_size bounds the receive, as in mach_msg).
mach_msg_return_t mach_msg_overwrite(mach_msg_header_t* msg, mach_msg_option_t option, mach_msg_size_t send_size,
                                     mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                                     mach_port_name_t notify, mach_msg_header_t* rcv_msg, mach_msg_size_t rcv_limit) {
    (void)rcv_limit;
    gate::MsgArgs a{msg, option, send_size, rcv_size, rcv_name, timeout, notify, rcv_msg ? rcv_msg : msg};
    return trap(a);
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
kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t pset) {
    return gate::sys_mach_port_insert_member(task, name, pset);
}
kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t pset) {
    return gate::sys_mach_port_extract_member(task, name, pset);
}
kern_return_t mach_port_get_set_status(ipc_space_t task, mach_port_name_t name, mach_port_name_array_t* members,
                                       mach_msg_type_number_t* membersCnt) {
    return gate::sys_mach_port_get_set_status(task, name, members, membersCnt);
}
kern_return_t mach_port_construct(ipc_space_t task, mach_port_options_ptr_t options, mach_port_context_t context,
                                  mach_port_name_t* name) {
    return gate::sys_mach_port_construct(task, options, context, name);
}
kern_return_t mach_port_destruct(ipc_space_t task, mach_port_name_t name, mach_port_delta_t srdelta,
                                 mach_port_context_t guard) {
    return gate::sys_mach_port_destruct(task, name, srdelta, guard);
}
kern_return_t mach_port_get_context(ipc_space_t task, mach_port_name_t name, mach_port_context_t* context) {
    return gate::sys_mach_port_get_context(task, name, context);
}
kern_return_t mach_port_set_context(ipc_space_t task, mach_port_name_t name, mach_port_context_t context) {
    return gate::sys_mach_port_set_context(task, name, context);
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

kern_return_t task_set_special_port(task_t task, int which_port, mach_port_t special_port) {
    return gate::sys_task_set_special_port(task, which_port, special_port);
}

kern_return_t thread_switch(mach_port_name_t thread_name, int option, mach_msg_timeout_t option_time) {
    return gate::sys_thread_switch(thread_name, option, option_time);
}

uint64_t mach_absolute_time(void) { return gate::clock_now(); }
kern_return_t mach_timebase_info(mach_timebase_info_t info) {
    const mach_timebase_info_data_t base{gate::kTimebaseNumer, gate::kTimebaseDenom};
    return machsim::machine::copy_user(info, &base, sizeof base) ? KERN_SUCCESS : KERN_INVALID_ADDRESS;
}
kern_return_t mach_wait_until(uint64_t deadline) { return gate::sys_mach_wait_until(deadline); }
mach_port_t mach_host_self(void) { return gate::sys_mach_host_self(); }
kern_return_t host_info(host_t host, host_flavor_t flavor, host_info_t host_info_out,
                        mach_msg_type_number_t* host_info_outCnt) {
    return gate::sys_host_info(host, flavor, host_info_out, host_info_outCnt);
}
kern_return_t host_page_size(host_t host, vm_size_t* out_page_size) {
    return gate::sys_host_page_size(host, out_page_size);
}
kern_return_t host_get_clock_service(host_t host, clock_id_t clock_id, clock_serv_t* clock_serv) {
    return gate::sys_host_get_clock_service(host, clock_id, clock_serv);
}
kern_return_t clock_get_time(clock_serv_t clock_serv, mach_timespec_t* cur_time) {
    return gate::sys_clock_get_time(clock_serv, cur_time);
}
kern_return_t clock_get_attributes(clock_serv_t clock_serv, clock_flavor_t flavor, clock_attr_t clock_attr,
                                   mach_msg_type_number_t* clock_attrCnt) {
    return gate::sys_clock_get_attributes(clock_serv, flavor, clock_attr, clock_attrCnt);
}
kern_return_t clock_sleep(mach_port_t clock_name, sleep_type_t sleep_type, mach_timespec_t sleep_time,
                          mach_timespec_t* wakeup_time) {
    return gate::sys_clock_sleep(clock_name, sleep_type, sleep_time, wakeup_time);
}

mach_port_t mach_thread_self(void) { return gate::sys_mach_thread_self(); }
kern_return_t task_create(task_t target_task, ledger_array_t ledgers, mach_msg_type_number_t ledgersCnt,
                          boolean_t inherit_memory, task_t* child_task) {
    (void)ledgers;  // as XNU: accepted and not used
    (void)ledgersCnt;
    return gate::sys_task_create(target_task, inherit_memory, child_task);
}
kern_return_t thread_create(task_t parent_task, thread_act_t* child_act) {
    return gate::sys_thread_create(parent_task, child_act);
}
kern_return_t thread_create_running(task_t parent_task, thread_state_flavor_t flavor, thread_state_t new_state,
                                    mach_msg_type_number_t new_stateCnt, thread_act_t* child_act) {
    return gate::sys_thread_create_running(parent_task, flavor, new_state, new_stateCnt, child_act);
}
kern_return_t thread_terminate(thread_act_t target_act) { return gate::sys_thread_terminate(target_act); }
kern_return_t thread_suspend(thread_act_t target_act) { return gate::sys_thread_suspend(target_act); }
kern_return_t thread_resume(thread_act_t target_act) { return gate::sys_thread_resume(target_act); }
kern_return_t thread_abort(thread_act_t target_act) { return gate::sys_thread_abort(target_act); }
kern_return_t thread_get_state(thread_act_t target_act, thread_state_flavor_t flavor, thread_state_t old_state,
                               mach_msg_type_number_t* old_stateCnt) {
    return gate::sys_thread_get_state(target_act, flavor, old_state, old_stateCnt);
}
kern_return_t thread_set_state(thread_act_t target_act, thread_state_flavor_t flavor, thread_state_t new_state,
                               mach_msg_type_number_t new_stateCnt) {
    return gate::sys_thread_set_state(target_act, flavor, new_state, new_stateCnt);
}
kern_return_t task_threads(task_t target_task, thread_act_array_t* act_list, mach_msg_type_number_t* act_listCnt) {
    return gate::sys_task_threads(target_task, act_list, act_listCnt);
}
kern_return_t task_info(task_name_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t* task_info_outCnt) {
    return gate::sys_task_info(target_task, flavor, task_info_out, task_info_outCnt);
}
kern_return_t thread_info(thread_inspect_t target_act, thread_flavor_t flavor, thread_info_t thread_info_out,
                          mach_msg_type_number_t* thread_info_outCnt) {
    return gate::sys_thread_info(target_act, flavor, thread_info_out, thread_info_outCnt);
}
kern_return_t task_terminate(task_t target_task) { return gate::sys_task_terminate(target_task); }
kern_return_t task_suspend(task_t target_task) { return gate::sys_task_suspend(target_task); }
kern_return_t task_resume(task_t target_task) { return gate::sys_task_resume(target_task); }

kern_return_t task_set_exception_ports(task_t task, exception_mask_t exception_mask, mach_port_t new_port,
                                       exception_behavior_t behavior, thread_state_flavor_t new_flavor) {
    return gate::sys_task_set_exception_ports(task, exception_mask, new_port, behavior, new_flavor);
}
kern_return_t thread_set_exception_ports(thread_act_t thread, exception_mask_t exception_mask, mach_port_t new_port,
                                         exception_behavior_t behavior, thread_state_flavor_t new_flavor) {
    return gate::sys_thread_set_exception_ports(thread, exception_mask, new_port, behavior, new_flavor);
}
kern_return_t task_get_exception_ports(task_t task, exception_mask_t exception_mask, exception_mask_array_t masks,
                                       mach_msg_type_number_t* masksCnt, exception_handler_array_t old_handlers,
                                       exception_behavior_array_t old_behaviors, exception_flavor_array_t old_flavors) {
    return gate::sys_task_get_exception_ports(task, exception_mask, masks, masksCnt, old_handlers, old_behaviors,
                                              old_flavors);
}
kern_return_t thread_get_exception_ports(thread_act_t thread, exception_mask_t exception_mask,
                                         exception_mask_array_t masks, mach_msg_type_number_t* masksCnt,
                                         exception_handler_array_t old_handlers,
                                         exception_behavior_array_t old_behaviors,
                                         exception_flavor_array_t old_flavors) {
    return gate::sys_thread_get_exception_ports(thread, exception_mask, masks, masksCnt, old_handlers, old_behaviors,
                                                old_flavors);
}

kern_return_t semaphore_create(task_t task, semaphore_t* semaphore, int policy, int value) {
    return gate::sys_semaphore_create(task, semaphore, policy, value);
}
kern_return_t semaphore_destroy(task_t task, semaphore_t semaphore) { return gate::sys_semaphore_destroy(task, semaphore); }
kern_return_t semaphore_signal(semaphore_t semaphore) { return gate::sys_semaphore_signal(semaphore); }
kern_return_t semaphore_signal_all(semaphore_t semaphore) { return gate::sys_semaphore_signal_all(semaphore); }
kern_return_t semaphore_wait(semaphore_t semaphore) { return gate::sys_semaphore_wait(semaphore); }
kern_return_t semaphore_timedwait(semaphore_t semaphore, mach_timespec_t wait_time) {
    uint64_t ticks = 0;
    if (!gate::timespec_ticks(wait_time, ticks)) return KERN_INVALID_VALUE;
    return gate::sys_semaphore_timedwait(semaphore, &ticks);
}
kern_return_t semaphore_wait_signal(semaphore_t wait_semaphore, semaphore_t signal_semaphore) {
    return gate::sys_semaphore_wait_signal(wait_semaphore, signal_semaphore, nullptr);
}
kern_return_t semaphore_timedwait_signal(semaphore_t wait_semaphore, semaphore_t signal_semaphore,
                                         mach_timespec_t wait_time) {
    uint64_t ticks = 0;
    if (!gate::timespec_ticks(wait_time, ticks)) return KERN_INVALID_VALUE;
    return gate::sys_semaphore_wait_signal(wait_semaphore, signal_semaphore, &ticks);
}
kern_return_t semaphore_signal_thread(semaphore_t semaphore, thread_act_t thread) {
    return gate::sys_semaphore_signal_thread(semaphore, thread);
}

kern_return_t vm_allocate(vm_map_t target_task, vm_address_t* address, vm_size_t size, int flags) {
    return gate::sys_vm_allocate(target_task, address, size, flags);
}
kern_return_t vm_deallocate(vm_map_t target_task, vm_address_t address, vm_size_t size) {
    return gate::sys_vm_deallocate(target_task, address, size);
}

kern_return_t vm_protect(vm_map_t target_task, vm_address_t address, vm_size_t size, boolean_t set_maximum,
                         vm_prot_t new_protection) {
    return gate::sys_vm_protect(target_task, address, size, set_maximum, new_protection);
}
kern_return_t vm_inherit(vm_map_t target_task, vm_address_t address, vm_size_t size, vm_inherit_t new_inheritance) {
    return gate::sys_vm_inherit(target_task, address, size, new_inheritance);
}
kern_return_t vm_read(vm_map_t target_task, vm_address_t address, vm_size_t size, vm_offset_t* data,
                      mach_msg_type_number_t* dataCnt) {
    return gate::sys_vm_read(target_task, address, size, data, dataCnt);
}
kern_return_t vm_write(vm_map_t target_task, vm_address_t address, vm_offset_t data, mach_msg_type_number_t dataCnt) {
    return gate::sys_vm_write(target_task, address, data, dataCnt);
}
kern_return_t vm_copy(vm_map_t target_task, vm_address_t source_address, vm_size_t size, vm_address_t dest_address) {
    return gate::sys_vm_copy(target_task, source_address, size, dest_address);
}
kern_return_t vm_region_64(vm_map_t target_task, vm_address_t* address, vm_size_t* size, vm_region_flavor_t flavor,
                           vm_region_info_t info, mach_msg_type_number_t* infoCnt, mach_port_t* object_name) {
    return gate::sys_vm_region_64(target_task, address, size, flavor, info, infoCnt, object_name);
}
kern_return_t vm_map(vm_map_t target_task, vm_address_t* address, vm_size_t size, vm_address_t mask, int flags,
                     mem_entry_name_port_t object, vm_offset_t offset, boolean_t copy, vm_prot_t cur_protection,
                     vm_prot_t max_protection, vm_inherit_t inheritance) {
    return gate::sys_vm_map(target_task, address, size, mask, flags, object, offset, copy, cur_protection,
                            max_protection, inheritance);
}
kern_return_t mach_make_memory_entry_64(vm_map_t target_task, memory_object_size_t* size,
                                        memory_object_offset_t offset, vm_prot_t permission, mach_port_t* object_handle,
                                        mem_entry_name_port_t parent_entry) {
    return gate::sys_make_memory_entry(target_task, size, offset, permission, object_handle, parent_entry);
}
kern_return_t mach_make_memory_entry(vm_map_t target_task, vm_size_t* size, vm_offset_t offset, vm_prot_t permission,
                                     mem_entry_name_port_t* object_handle, mem_entry_name_port_t parent_entry) {
    // The 64-bit call does the work; its size travels through a local, copied in and out as the kernel would.
    uint64_t s = 0;
    if (!size || !machsim::machine::copy_user(&s, size, sizeof *size) || !machsim::machine::copy_user(size, &s, sizeof *size))
        return KERN_INVALID_ADDRESS;
    kern_return_t kr = gate::sys_make_memory_entry(target_task, &s, offset, permission, object_handle, parent_entry);
    if (kr == KERN_SUCCESS) {
        vm_size_t out = static_cast<vm_size_t>(s);
        (void)machsim::machine::copy_user(size, &out, sizeof out);
    }
    return kr;
}

kern_return_t mach_vm_allocate(vm_map_t target, mach_vm_address_t* address, mach_vm_size_t size, int flags) {
    static_assert(sizeof(mach_vm_address_t) == sizeof(vm_address_t), "64-bit hosts only");
    return vm_allocate(target, reinterpret_cast<vm_address_t*>(address), size, flags);
}
kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t address, mach_vm_size_t size) {
    return vm_deallocate(target, address, size);
}
kern_return_t mach_vm_protect(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size,
                              boolean_t set_maximum, vm_prot_t new_protection) {
    return vm_protect(target_task, address, size, set_maximum, new_protection);
}
kern_return_t mach_vm_inherit(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size,
                              vm_inherit_t new_inheritance) {
    return vm_inherit(target_task, address, size, new_inheritance);
}
kern_return_t mach_vm_read(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size, vm_offset_t* data,
                           mach_msg_type_number_t* dataCnt) {
    return vm_read(target_task, address, size, data, dataCnt);
}
kern_return_t mach_vm_write(vm_map_t target_task, mach_vm_address_t address, vm_offset_t data,
                            mach_msg_type_number_t dataCnt) {
    return vm_write(target_task, address, data, dataCnt);
}
kern_return_t mach_vm_copy(vm_map_t target_task, mach_vm_address_t source_address, mach_vm_size_t size,
                           mach_vm_address_t dest_address) {
    return vm_copy(target_task, source_address, size, dest_address);
}
kern_return_t mach_vm_region(vm_map_t target_task, mach_vm_address_t* address, mach_vm_size_t* size,
                             vm_region_flavor_t flavor, vm_region_info_t info, mach_msg_type_number_t* infoCnt,
                             mach_port_t* object_name) {
    return vm_region_64(target_task, reinterpret_cast<vm_address_t*>(address), reinterpret_cast<vm_size_t*>(size),
                        flavor, info, infoCnt, object_name);
}
kern_return_t mach_vm_map(vm_map_t target_task, mach_vm_address_t* address, mach_vm_size_t size,
                          mach_vm_offset_t mask, int flags, mem_entry_name_port_t object, memory_object_offset_t offset,
                          boolean_t copy, vm_prot_t cur_protection, vm_prot_t max_protection,
                          vm_inherit_t inheritance) {
    return vm_map(target_task, reinterpret_cast<vm_address_t*>(address), size, mask, flags, object, offset, copy,
                  cur_protection, max_protection, inheritance);
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
