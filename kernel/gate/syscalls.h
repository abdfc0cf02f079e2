// The door from userland into the kernel. userland/libmach calls these and
// nothing else; each checks the caller's names once, here, and below the gate
// code works on objects, never on names.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mach/message.h"
#include "mach/port.h"
#include "mach/clock_types.h"
#include "mach/exception_types.h"
#include "mach/host_info.h"
#include "mach/task_info.h"
#include "mach/thread_info.h"
#include "mach/vm_types.h"
#include "machsim.h"

namespace machsim::gate {

enum class Sys : uint8_t {
#define SYSCALL(name) name,
#include "kernel/gate/syscalls.def"
#undef SYSCALL
    count_
};
const char* sys_name(Sys call);

// mach_msg's arguments. They come in memory, not registers: the library keeps
// them there anyway for its retry of an interrupted call, and the kernel's general
// path, reached from the fast one, finds them there without the fast one keeping
// them in registers.
struct MsgArgs {
    mach_msg_header_t* msg;
    mach_msg_option_t option;
    mach_msg_size_t send_size;
    mach_msg_size_t rcv_size;
    mach_port_name_t rcv_name;
    mach_msg_timeout_t timeout;
    mach_port_name_t notify;
    mach_msg_header_t* rcv_msg;  // where a receive puts the message: msg, unless mach_msg_overwrite says
};
mach_msg_return_t sys_mach_msg(const MsgArgs& args);
kern_return_t sys_mach_port_allocate(mach_port_name_t task, mach_port_right_t right, mach_port_name_t* name);
kern_return_t sys_mach_port_allocate_name(mach_port_name_t task, mach_port_right_t right, mach_port_name_t name);
kern_return_t sys_mach_port_deallocate(mach_port_name_t task, mach_port_name_t name);
kern_return_t sys_mach_port_destroy(mach_port_name_t task, mach_port_name_t name);
kern_return_t sys_mach_port_mod_refs(mach_port_name_t task, mach_port_name_t name, mach_port_right_t right,
                                     mach_port_delta_t delta);
kern_return_t sys_mach_port_get_refs(mach_port_name_t task, mach_port_name_t name, mach_port_right_t right,
                                     mach_port_urefs_t* refs);
kern_return_t sys_mach_port_type(mach_port_name_t task, mach_port_name_t name, mach_port_type_t* type);
kern_return_t sys_mach_port_names(mach_port_name_t task, mach_port_name_array_t* names,
                                  mach_msg_type_number_t* names_count, mach_port_type_array_t* types,
                                  mach_msg_type_number_t* types_count);
kern_return_t sys_mach_port_insert_right(mach_port_name_t task, mach_port_name_t name, mach_port_name_t poly,
                                         mach_msg_type_name_t poly_poly);
kern_return_t sys_mach_port_extract_right(mach_port_name_t task, mach_port_name_t name,
                                          mach_msg_type_name_t msgt_name, mach_port_name_t* poly,
                                          mach_msg_type_name_t* poly_poly);
kern_return_t sys_mach_port_get_attributes(mach_port_name_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                           mach_port_info_t info, mach_msg_type_number_t* count);
kern_return_t sys_mach_port_set_attributes(mach_port_name_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                           mach_port_info_t info, mach_msg_type_number_t count);
kern_return_t sys_mach_port_move_member(mach_port_name_t task, mach_port_name_t member, mach_port_name_t after);
kern_return_t sys_mach_port_insert_member(mach_port_name_t task, mach_port_name_t member, mach_port_name_t set);
kern_return_t sys_mach_port_extract_member(mach_port_name_t task, mach_port_name_t member, mach_port_name_t set);
kern_return_t sys_mach_port_get_set_status(mach_port_name_t task, mach_port_name_t set, mach_port_name_array_t* members,
                                           mach_msg_type_number_t* count);
kern_return_t sys_mach_port_construct(mach_port_name_t task, mach_port_options_ptr_t options,
                                      mach_port_context_t context, mach_port_name_t* name);
kern_return_t sys_mach_port_destruct(mach_port_name_t task, mach_port_name_t name, mach_port_delta_t srdelta,
                                     mach_port_context_t guard);
kern_return_t sys_mach_port_get_context(mach_port_name_t task, mach_port_name_t name, mach_port_context_t* context);
kern_return_t sys_mach_port_set_context(mach_port_name_t task, mach_port_name_t name, mach_port_context_t context);
kern_return_t sys_mach_port_request_notification(mach_port_name_t task, mach_port_name_t name, mach_msg_id_t id,
                                                 mach_port_mscount_t sync, mach_port_name_t notify,
                                                 mach_msg_type_name_t notify_poly, mach_port_name_t* previous);
mach_port_name_t sys_mach_reply_port();
kern_return_t sys_task_get_special_port(mach_port_name_t task, int which, mach_port_name_t* port);
kern_return_t sys_task_set_special_port(mach_port_name_t task, int which, mach_port_name_t port);
kern_return_t sys_thread_switch(mach_port_name_t thread, int option, mach_msg_timeout_t time);
// Sleeps until the virtual clock reads `deadline` (ticks); at once when it has.
kern_return_t sys_mach_wait_until(uint64_t deadline);
kern_return_t sys_clock_sleep(mach_port_name_t clock, sleep_type_t type, mach_timespec_t time, mach_timespec_t* wakeup);
mach_port_name_t sys_mach_host_self();
kern_return_t sys_host_info(mach_port_name_t host, host_flavor_t flavor, integer_t* out, mach_msg_type_number_t* count);
kern_return_t sys_host_page_size(mach_port_name_t host, vm_size_t* size);
kern_return_t sys_host_get_clock_service(mach_port_name_t host, clock_id_t id, mach_port_name_t* clock);
kern_return_t sys_clock_get_time(mach_port_name_t clock, mach_timespec_t* time);
kern_return_t sys_clock_get_attributes(mach_port_name_t clock, clock_flavor_t flavor, int* attr,
                                       mach_msg_type_number_t* count);
kern_return_t sys_vm_allocate(mach_port_name_t task, vm_address_t* address, vm_size_t size, int flags);
kern_return_t sys_vm_deallocate(mach_port_name_t task, vm_address_t address, vm_size_t size);
kern_return_t sys_vm_protect(mach_port_name_t task, vm_address_t address, vm_size_t size, boolean_t set_maximum,
                             vm_prot_t new_protection);
kern_return_t sys_vm_inherit(mach_port_name_t task, vm_address_t address, vm_size_t size, vm_inherit_t inheritance);
kern_return_t sys_vm_read(mach_port_name_t task, vm_address_t address, vm_size_t size, vm_offset_t* data,
                          mach_msg_type_number_t* count);
kern_return_t sys_vm_write(mach_port_name_t task, vm_address_t address, vm_offset_t data, mach_msg_type_number_t count);
kern_return_t sys_vm_copy(mach_port_name_t task, vm_address_t source, vm_size_t size, vm_address_t dest);
kern_return_t sys_vm_region_64(mach_port_name_t task, vm_address_t* address, vm_size_t* size, int flavor, int* info,
                               mach_msg_type_number_t* count, mach_port_name_t* object_name);
kern_return_t sys_make_memory_entry(mach_port_name_t task, uint64_t* size, uint64_t offset, vm_prot_t permission,
                                    mach_port_name_t* handle, mach_port_name_t parent);
kern_return_t sys_vm_map(mach_port_name_t task, vm_address_t* address, vm_size_t size, vm_address_t mask, int flags,
                         mach_port_name_t object, vm_offset_t offset, boolean_t copy, vm_prot_t cur, vm_prot_t max,
                         vm_inherit_t inheritance);
void sys_compute(uint64_t ticks);

mach_port_name_t sys_mach_thread_self();
kern_return_t sys_thread_start(std::function<void()> body, mach_port_name_t* thread);
kern_return_t sys_thread_create(mach_port_name_t task, mach_port_name_t* thread);
kern_return_t sys_thread_create_running(mach_port_name_t task, thread_state_flavor_t flavor, const natural_t* state,
                                        mach_msg_type_number_t count, mach_port_name_t* thread);
kern_return_t sys_thread_terminate(mach_port_name_t thread);
kern_return_t sys_thread_suspend(mach_port_name_t thread);
kern_return_t sys_thread_resume(mach_port_name_t thread);
kern_return_t sys_thread_abort(mach_port_name_t thread);
kern_return_t sys_thread_get_state(mach_port_name_t thread, thread_state_flavor_t flavor, natural_t* state,
                                   mach_msg_type_number_t* count);
kern_return_t sys_thread_set_state(mach_port_name_t thread, thread_state_flavor_t flavor, const natural_t* state,
                                   mach_msg_type_number_t count);
kern_return_t sys_task_info(mach_port_name_t task, task_flavor_t flavor, integer_t* out, mach_msg_type_number_t* count);
kern_return_t sys_thread_info(mach_port_name_t thread, thread_flavor_t flavor, integer_t* out,
                              mach_msg_type_number_t* count);
kern_return_t sys_task_threads(mach_port_name_t task, mach_port_name_t** threads, mach_msg_type_number_t* count);
// A new task with no thread, its bootstrap port and (inherit_memory) its memory from parent's.
kern_return_t sys_task_create(mach_port_name_t parent, boolean_t inherit_memory, mach_port_name_t* child);
// A new task running body(name of the right it was given); *child = a send right to its task port.
kern_return_t sys_task_spawn(std::string name, std::function<int(mach_port_name_t)> body, mach_port_name_t give,
                             mach_msg_type_name_t give_disposition, SpawnOptions opts, mach_port_name_t* child);
kern_return_t sys_task_terminate(mach_port_name_t task);
// exit(code) called by task code: the caller's task ends, Exited with `code`; the
// calling thread ends at once, not unwound; the task's other threads unwind as
// after task_terminate. Does not return then. False when the caller is not task
// code (host code, a trace sink): the process exit is for it.
bool sys_exit(int code);
kern_return_t sys_task_suspend(mach_port_name_t task);
kern_return_t sys_task_resume(mach_port_name_t task);
void* running_facade();

kern_return_t sys_semaphore_create(mach_port_name_t task, mach_port_name_t* semaphore, int policy, int value);
kern_return_t sys_semaphore_destroy(mach_port_name_t task, mach_port_name_t semaphore);
kern_return_t sys_semaphore_signal(mach_port_name_t semaphore);
kern_return_t sys_semaphore_signal_all(mach_port_name_t semaphore);
kern_return_t sys_semaphore_wait(mach_port_name_t semaphore);
// timeout_ticks: virtual time to wait; nullptr means forever.
kern_return_t sys_semaphore_timedwait(mach_port_name_t semaphore, const uint64_t* timeout_ticks);
// Signals signal_semaphore and waits on wait_semaphore, as one call (semaphore_wait_signal,
// and semaphore_timedwait_signal with a timeout).
kern_return_t sys_semaphore_wait_signal(mach_port_name_t wait_semaphore, mach_port_name_t signal_semaphore,
                                        const uint64_t* timeout_ticks);
// Wakes `thread` if it waits on the semaphore, or any one waiter for MACH_PORT_NULL; never counts.
kern_return_t sys_semaphore_signal_thread(mach_port_name_t semaphore, mach_port_name_t thread);

kern_return_t sys_task_set_exception_ports(mach_port_name_t task, exception_mask_t mask, mach_port_name_t port,
                                           exception_behavior_t behavior, thread_state_flavor_t flavor);
kern_return_t sys_thread_set_exception_ports(mach_port_name_t thread, exception_mask_t mask, mach_port_name_t port,
                                             exception_behavior_t behavior, thread_state_flavor_t flavor);
kern_return_t sys_task_get_exception_ports(mach_port_name_t task, exception_mask_t mask, exception_mask_array_t masks,
                                           mach_msg_type_number_t* count, exception_handler_array_t handlers,
                                           exception_behavior_array_t behaviors, exception_flavor_array_t flavors);
kern_return_t sys_thread_get_exception_ports(mach_port_name_t thread, exception_mask_t mask,
                                             exception_mask_array_t masks, mach_msg_type_number_t* count,
                                             exception_handler_array_t handlers, exception_behavior_array_t behaviors,
                                             exception_flavor_array_t flavors);

kern_return_t sys_signal_action(int signal, const SignalAction* act, SignalAction* old);
kern_return_t sys_signal_mask(MaskHow how, SignalSet set, SignalSet* old);
kern_return_t sys_signal_pending(SignalSet* out);
kern_return_t sys_task_signal(mach_port_name_t task, int signal);

// Devices and interrupts (GNU Mach's device interface, R25; devices.h).
kern_return_t sys_get_privileged_ports(mach_port_name_t* host_priv, mach_port_name_t* device_master);
kern_return_t sys_device_open(mach_port_name_t master, int mode, const char* name, mach_port_name_t* device);
kern_return_t sys_device_intr_register(mach_port_name_t device, int id, int flags, mach_port_name_t port,
                                       mach_msg_type_name_t port_poly);
kern_return_t sys_device_intr_ack(mach_port_name_t device, mach_port_name_t port, mach_msg_type_name_t port_poly);
kern_return_t sys_device_read_inband(mach_port_name_t device, int mode, unsigned recnum, vm_size_t bytes_wanted,
                                     char* data, mach_msg_type_number_t* count);
kern_return_t sys_device_read(mach_port_name_t device, int mode, unsigned recnum, vm_size_t bytes_wanted,
                              char** data, mach_msg_type_number_t* count);
kern_return_t sys_device_write(mach_port_name_t device, int mode, unsigned recnum, const char* data,
                               mach_msg_type_number_t count, int* written);
kern_return_t sys_device_write_inband(mach_port_name_t device, int mode, unsigned recnum, const char* data,
                                      mach_msg_type_number_t count, int* written);
kern_return_t sys_device_get_status(mach_port_name_t device, unsigned flavor, int* status,
                                    mach_msg_type_number_t* count);
kern_return_t sys_device_close(mach_port_name_t device);

// State a real system keeps in user space (variables, caches): no kernel entry.
mach_port_name_t task_self_name();
mach_port_name_t bootstrap_name();
mach_port_name_t mig_reply_name();      // the thread's MIG reply port, allocated on first use
void mig_reply_discard(mach_port_name_t name);
uint64_t clock_now();
// Where a user-space library keeps its record of the calling thread, and its
// state for the calling task (C Threads; a real system keeps them in a thread
// register and in process memory). Null outside a task. Freed with the thread, the task.
std::shared_ptr<void>* thread_user_data();
std::shared_ptr<void>* task_user_data();
// mach_timebase_info's numer and denom: ticks (virtual µs) to nanoseconds.
constexpr uint32_t kTimebaseNumer = 1000, kTimebaseDenom = 1;
// A mach_timespec_t as ticks (virtual µs, rounded down); false for a bad one
// (BAD_MACH_TIMESPEC). And ticks as a mach_timespec_t.
inline bool timespec_ticks(mach_timespec_t t, uint64_t& ticks) {
    if (BAD_MACH_TIMESPEC(&t)) return false;
    ticks = uint64_t{t.tv_sec} * USEC_PER_SEC + static_cast<uint64_t>(t.tv_nsec) / NSEC_PER_USEC;
    return true;
}
inline mach_timespec_t ticks_timespec(uint64_t ticks) {
    return {static_cast<unsigned int>(ticks / USEC_PER_SEC), static_cast<clock_res_t>(ticks % USEC_PER_SEC * NSEC_PER_USEC)};
}
std::vector<std::string> check_invariants();  // of the kernel running now; empty outside run()

}  // namespace machsim::gate
