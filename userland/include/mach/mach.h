/* The Mach task API, as task programs include it: <mach/mach.h>.
 * Names, types, constants and signatures are Mach's (XNU spellings and values).
 * docs/api.md lists what machsim implements and where it differs. */
#ifndef MACHSIM_MACH_MACH_H
#define MACHSIM_MACH_MACH_H

#include "mach/kern_return.h"
#include "mach/machine_types.h"
#include "mach/clock_types.h"
#include "mach/exc.h"
#include "mach/error.h"
#include "mach/exception_types.h"
#include "mach/host_info.h"
#include "mach/machine.h"
#include "mach/message.h"
#include "mach/mig_errors.h"
#include "mach/notify.h"
#include "mach/port.h"
#include "mach/sync_policy.h"
#include "mach/task_info.h"
#include "mach/task_special_ports.h"
#include "mach/thread_info.h"
#include "mach/thread_switch.h"
#include "mach/vm_region.h"
#include "mach/vm_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef mach_port_t task_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t thread_t;
typedef mach_port_t thread_act_t;
typedef thread_act_t *thread_act_array_t;
typedef mach_port_t ledger_t;
typedef ledger_t *ledger_array_t;
typedef mach_port_t task_name_t;
typedef mach_port_t task_inspect_t;
typedef mach_port_t thread_inspect_t;
typedef mach_port_t semaphore_t;

/* The calling task's own task port (a send right). */
mach_port_t mach_task_self(void);
/* Every task starts with a send right to the bootstrap name server. On a real
 * system this is a variable; here each task has its own, so it is a call. */
mach_port_t machsim_bootstrap_port(void);
#define bootstrap_port (machsim_bootstrap_port())
/* The host's page size (vm_allocate rounds to it). */
extern vm_size_t vm_page_size;

/* The host and its clocks (docs/api.md, section 6.3). mach_host_self gives a send
 * right to the host port, a new uref each call (deallocate it when done), as
 * XNU's. The clocks read virtual time: SYSTEM_CLOCK since the run began,
 * CALENDAR_CLOCK the same from the epoch (there is no wall clock here). */
typedef mach_port_t host_t;
typedef mach_port_t host_name_t;
typedef mach_port_t host_name_port_t;
typedef mach_port_t clock_serv_t;
mach_port_t mach_host_self(void);
kern_return_t host_info(host_t host, host_flavor_t flavor, host_info_t host_info_out,
                        mach_msg_type_number_t *host_info_outCnt);
kern_return_t host_page_size(host_t host, vm_size_t *out_page_size);
kern_return_t host_get_clock_service(host_t host, clock_id_t clock_id, clock_serv_t *clock_serv);
kern_return_t clock_get_time(clock_serv_t clock_serv, mach_timespec_t *cur_time);
kern_return_t clock_get_attributes(clock_serv_t clock_serv, clock_flavor_t flavor, clock_attr_t clock_attr,
                                   mach_msg_type_number_t *clock_attrCnt);
/* Sleeps until the system clock reads sleep_time (TIME_ABSOLUTE) or for that long
 * (TIME_RELATIVE); *wakeup_time (may be null) gets the time it woke. MACH_PORT_NULL
 * is the system clock. */
kern_return_t clock_sleep(mach_port_t clock_name, sleep_type_t sleep_type, mach_timespec_t sleep_time,
                          mach_timespec_t *wakeup_time);

mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option, mach_msg_size_t send_size,
                           mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                           mach_port_name_t notify);
/* mach_msg, receiving into rcv_msg (msg if null); rcv_limit is not used, as in XNU. */
mach_msg_return_t mach_msg_overwrite(mach_msg_header_t *msg, mach_msg_option_t option, mach_msg_size_t send_size,
                                     mach_msg_size_t rcv_size, mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                                     mach_port_name_t notify, mach_msg_header_t *rcv_msg, mach_msg_size_t rcv_limit);
mach_msg_return_t mach_msg_send(mach_msg_header_t *msg);
mach_msg_return_t mach_msg_receive(mach_msg_header_t *msg);
/* Releases every right and out-of-line region a received message carries. */
void mach_msg_destroy(mach_msg_header_t *msg);
/* The MIG server loop: receive a request on rcv_name, hand it to demux (exc_server,
 * or the program's own), send the reply it wrote. _once serves one request;
 * mach_msg_server serves until mach_msg fails, and returns that error. */
mach_msg_return_t mach_msg_server_once(boolean_t (*demux)(mach_msg_header_t *, mach_msg_header_t *),
                                       mach_msg_size_t max_size, mach_port_t rcv_name, mach_msg_options_t options);
mach_msg_return_t mach_msg_server(boolean_t (*demux)(mach_msg_header_t *, mach_msg_header_t *),
                                  mach_msg_size_t max_size, mach_port_t rcv_name, mach_msg_options_t options);

kern_return_t mach_port_allocate(ipc_space_t task, mach_port_right_t right, mach_port_name_t *name);
kern_return_t mach_port_allocate_name(ipc_space_t task, mach_port_right_t right, mach_port_name_t name);
kern_return_t mach_port_deallocate(ipc_space_t task, mach_port_name_t name);
kern_return_t mach_port_destroy(ipc_space_t task, mach_port_name_t name);
kern_return_t mach_port_mod_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                 mach_port_delta_t delta);
kern_return_t mach_port_get_refs(ipc_space_t task, mach_port_name_t name, mach_port_right_t right,
                                 mach_port_urefs_t *refs);
kern_return_t mach_port_type(ipc_space_t task, mach_port_name_t name, mach_port_type_t *ptype);
kern_return_t mach_port_names(ipc_space_t task, mach_port_name_array_t *names, mach_msg_type_number_t *namesCnt,
                              mach_port_type_array_t *types, mach_msg_type_number_t *typesCnt);
kern_return_t mach_port_insert_right(ipc_space_t task, mach_port_name_t name, mach_port_t poly,
                                     mach_msg_type_name_t polyPoly);
kern_return_t mach_port_extract_right(ipc_space_t task, mach_port_name_t name, mach_msg_type_name_t msgt_name,
                                      mach_port_t *poly, mach_msg_type_name_t *polyPoly);
kern_return_t mach_port_get_attributes(ipc_space_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                       mach_port_info_t port_info_out, mach_msg_type_number_t *port_info_outCnt);
kern_return_t mach_port_set_attributes(ipc_space_t task, mach_port_name_t name, mach_port_flavor_t flavor,
                                       mach_port_info_t port_info, mach_msg_type_number_t port_infoCnt);
kern_return_t mach_port_move_member(ipc_space_t task, mach_port_name_t member, mach_port_name_t after);
/* XNU's set calls. A port is in at most one set here (GNU Mach's rule): insert_member
 * of a port already in a set returns KERN_ALREADY_IN_SET. */
kern_return_t mach_port_insert_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t pset);
kern_return_t mach_port_extract_member(ipc_space_t task, mach_port_name_t name, mach_port_name_t pset);
/* The set's members, in an array in the caller's memory (vm_deallocate it). */
kern_return_t mach_port_get_set_status(ipc_space_t task, mach_port_name_t name, mach_port_name_array_t *members,
                                       mach_msg_type_number_t *membersCnt);
/* A receive right with attributes (MPO_QLIMIT, MPO_INSERT_SEND_RIGHT), and its undoing. */
kern_return_t mach_port_construct(ipc_space_t task, mach_port_options_ptr_t options, mach_port_context_t context,
                                  mach_port_name_t *name);
kern_return_t mach_port_destruct(ipc_space_t task, mach_port_name_t name, mach_port_delta_t srdelta,
                                 mach_port_context_t guard);
kern_return_t mach_port_get_context(ipc_space_t task, mach_port_name_t name, mach_port_context_t *context);
kern_return_t mach_port_set_context(ipc_space_t task, mach_port_name_t name, mach_port_context_t context);
kern_return_t mach_port_request_notification(ipc_space_t task, mach_port_name_t name, mach_msg_id_t msgid,
                                             mach_port_mscount_t sync, mach_port_t notify,
                                             mach_msg_type_name_t notifyPoly, mach_port_t *previous);

/* A fresh receive right in the caller's space (MACH_PORT_NULL if none can be made). */
mach_port_t mach_reply_port(void);
/* The calling thread's MIG reply port, made on first use and kept. */
mach_port_t mig_get_reply_port(void);
void mig_dealloc_reply_port(mach_port_t reply_port);

kern_return_t task_get_special_port(task_t task, int which_port, mach_port_t *special_port);
#define task_get_bootstrap_port(task, port) (task_get_special_port((task), TASK_BOOTSTRAP_PORT, (port)))
#define task_get_kernel_port(task, port) (task_get_special_port((task), TASK_KERNEL_PORT, (port)))
kern_return_t task_set_special_port(task_t task, int which_port, mach_port_t special_port);
#define task_set_bootstrap_port(task, port) (task_set_special_port((task), TASK_BOOTSTRAP_PORT, (port)))

kern_return_t thread_switch(mach_port_name_t thread_name, int option, mach_msg_timeout_t option_time);

/* The calling thread's thread port (a new send-right uref each call; deallocate it). */
mach_port_t mach_thread_self(void);
/* A new thread in target_task, suspended, with no registers set but rflags and cs:
 * set its rip and arguments (rdi, rsi, ...) with thread_set_state, then thread_resume it.
 * It calls the function at rip on a stack of its own (rsp is not used) and ends when
 * that returns (docs/api.md, section 8.1). */
kern_return_t thread_create(task_t parent_task, thread_act_t *child_act);
/* thread_create, thread_set_state and thread_resume in one call. */
kern_return_t thread_create_running(task_t parent_task, thread_state_flavor_t flavor, thread_state_t new_state,
                                    mach_msg_type_number_t new_stateCnt, thread_act_t *child_act);
kern_return_t thread_terminate(thread_act_t target_act);
kern_return_t thread_suspend(thread_act_t target_act);
kern_return_t thread_resume(thread_act_t target_act);
/* A thread blocked in mach_msg with MACH_RCV_INTERRUPT / MACH_SEND_INTERRUPT
 * returns MACH_RCV_INTERRUPTED / MACH_SEND_INTERRUPTED; without them its call
 * goes on waiting, as mach_msg retries. */
kern_return_t thread_abort(thread_act_t target_act);
/* The registers of a thread stopped at a fault (waiting for its exception
 * handler's answer, or in a fault's signal handler), or made by thread_create and
 * not run yet, in the flavors
 * x86_THREAD_STATE64, x86_THREAD_STATE, x86_EXCEPTION_STATE64 and
 * x86_EXCEPTION_STATE (get only). KERN_FAILURE for any other thread: machsim
 * has no registers of it (docs/api.md, section 12.6). */
kern_return_t thread_get_state(thread_act_t target_act, thread_state_flavor_t flavor, thread_state_t old_state,
                               mach_msg_type_number_t *old_stateCnt);
kern_return_t thread_set_state(thread_act_t target_act, thread_state_flavor_t flavor, thread_state_t new_state,
                               mach_msg_type_number_t new_stateCnt);
/* Send rights to the task's live threads, in an array in the caller's memory. */
kern_return_t task_threads(task_t target_task, thread_act_array_t *act_list, mach_msg_type_number_t *act_listCnt);
/* What a task or thread can learn about itself or another: times, state and
 * memory, in XNU's flavors (TASK_BASIC_INFO, MACH_TASK_BASIC_INFO,
 * TASK_THREAD_TIMES_INFO; THREAD_BASIC_INFO, THREAD_IDENTIFIER_INFO). Times are
 * virtual (docs/api.md, section 9.5). *Cnt is the room in words: in, the
 * buffer's; out, what was written. */
kern_return_t task_info(task_name_t target_task, task_flavor_t flavor, task_info_t task_info_out,
                        mach_msg_type_number_t *task_info_outCnt);
kern_return_t thread_info(thread_inspect_t target_act, thread_flavor_t flavor, thread_info_t thread_info_out,
                          mach_msg_type_number_t *thread_info_outCnt);
/* A new task with no thread: its bootstrap port is target_task's, and with
 * inherit_memory its memory is target_task's regions as vm_inherit says. Give it a
 * thread with thread_create. The ledgers are not used (as on XNU). It ends when its
 * last thread ends (docs/api.md, section 9). */
kern_return_t task_create(task_t target_task, ledger_array_t ledgers, mach_msg_type_number_t ledgersCnt,
                          boolean_t inherit_memory, task_t *child_task);
kern_return_t task_terminate(task_t target_task);
kern_return_t task_suspend(task_t target_task);
kern_return_t task_resume(task_t target_task);

/* Semaphores (XNU): named by ports; the creating task owns them. */
kern_return_t semaphore_create(task_t task, semaphore_t *semaphore, int policy, int value);
kern_return_t semaphore_destroy(task_t task, semaphore_t semaphore);
kern_return_t semaphore_signal(semaphore_t semaphore);
kern_return_t semaphore_signal_all(semaphore_t semaphore);
kern_return_t semaphore_wait(semaphore_t semaphore);
/* Waits at most wait_time of virtual time: KERN_OPERATION_TIMED_OUT when it passes. */
kern_return_t semaphore_timedwait(semaphore_t semaphore, mach_timespec_t wait_time);
/* Signals signal_semaphore and waits on wait_semaphore in one call: nothing runs in
 * between (a ping-pong of two threads without a lost wake-up). */
kern_return_t semaphore_wait_signal(semaphore_t wait_semaphore, semaphore_t signal_semaphore);
kern_return_t semaphore_timedwait_signal(semaphore_t wait_semaphore, semaphore_t signal_semaphore,
                                         mach_timespec_t wait_time);
/* Wakes thread if it waits on the semaphore (MACH_PORT_NULL: any one waiter);
 * KERN_NOT_WAITING, and no count kept, when there is none. */
kern_return_t semaphore_signal_thread(semaphore_t semaphore, thread_act_t thread);

kern_return_t vm_allocate(vm_map_t target_task, vm_address_t *address, vm_size_t size, int flags);
kern_return_t vm_deallocate(vm_map_t target_task, vm_address_t address, vm_size_t size);
kern_return_t vm_protect(vm_map_t target_task, vm_address_t address, vm_size_t size, boolean_t set_maximum,
                         vm_prot_t new_protection);
kern_return_t vm_inherit(vm_map_t target_task, vm_address_t address, vm_size_t size, vm_inherit_t new_inheritance);
/* A copy of the range, in a new region of the caller's space (vm_deallocate it). */
kern_return_t vm_read(vm_map_t target_task, vm_address_t address, vm_size_t size, vm_offset_t *data,
                      mach_msg_type_number_t *dataCnt);
kern_return_t vm_write(vm_map_t target_task, vm_address_t address, vm_offset_t data, mach_msg_type_number_t dataCnt);
kern_return_t vm_copy(vm_map_t target_task, vm_address_t source_address, vm_size_t size, vm_address_t dest_address);
kern_return_t vm_region_64(vm_map_t target_task, vm_address_t *address, vm_size_t *size, vm_region_flavor_t flavor,
                           vm_region_info_t info, mach_msg_type_number_t *infoCnt, mach_port_t *object_name);
kern_return_t vm_map(vm_map_t target_task, vm_address_t *address, vm_size_t size, vm_address_t mask, int flags,
                     mem_entry_name_port_t object, vm_offset_t offset, boolean_t copy, vm_prot_t cur_protection,
                     vm_prot_t max_protection, vm_inherit_t inheritance);
/* A port naming memory: [offset, offset+size) of target_task's space, or a new object with MAP_MEM_NAMED_CREATE. */
kern_return_t mach_make_memory_entry_64(vm_map_t target_task, memory_object_size_t *size,
                                        memory_object_offset_t offset, vm_prot_t permission, mach_port_t *object_handle,
                                        mem_entry_name_port_t parent_entry);
kern_return_t mach_make_memory_entry(vm_map_t target_task, vm_size_t *size, vm_offset_t offset, vm_prot_t permission,
                                     mem_entry_name_port_t *object_handle, mem_entry_name_port_t parent_entry);

/* The mach_vm_* spellings (64-bit addresses and sizes; the same calls). */
kern_return_t mach_vm_allocate(vm_map_t target, mach_vm_address_t *address, mach_vm_size_t size, int flags);
kern_return_t mach_vm_deallocate(vm_map_t target, mach_vm_address_t address, mach_vm_size_t size);
kern_return_t mach_vm_protect(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size,
                              boolean_t set_maximum, vm_prot_t new_protection);
kern_return_t mach_vm_inherit(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size,
                              vm_inherit_t new_inheritance);
kern_return_t mach_vm_read(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size, vm_offset_t *data,
                           mach_msg_type_number_t *dataCnt);
kern_return_t mach_vm_write(vm_map_t target_task, mach_vm_address_t address, vm_offset_t data,
                            mach_msg_type_number_t dataCnt);
kern_return_t mach_vm_copy(vm_map_t target_task, mach_vm_address_t source_address, mach_vm_size_t size,
                           mach_vm_address_t dest_address);
kern_return_t mach_vm_region(vm_map_t target_task, mach_vm_address_t *address, mach_vm_size_t *size,
                             vm_region_flavor_t flavor, vm_region_info_t info, mach_msg_type_number_t *infoCnt,
                             mach_port_t *object_name);
kern_return_t mach_vm_map(vm_map_t target_task, mach_vm_address_t *address, mach_vm_size_t size,
                          mach_vm_offset_t mask, int flags, mem_entry_name_port_t object, memory_object_offset_t offset,
                          boolean_t copy, vm_prot_t cur_protection, vm_prot_t max_protection,
                          vm_inherit_t inheritance);

/* Exception ports (R23): where a thread's faults go, first the thread's own
 * port for the exception type, then its task's. A handler port takes the
 * behaviours EXCEPTION_DEFAULT, EXCEPTION_STATE and EXCEPTION_STATE_IDENTITY
 * (optionally | MACH_EXCEPTION_CODES); the two state behaviours need a flavor
 * thread_get_state gives (docs/api.md, section 12.2). */
kern_return_t task_set_exception_ports(task_t task, exception_mask_t exception_mask, mach_port_t new_port,
                                       exception_behavior_t behavior, thread_state_flavor_t new_flavor);
kern_return_t thread_set_exception_ports(thread_act_t thread, exception_mask_t exception_mask, mach_port_t new_port,
                                         exception_behavior_t behavior, thread_state_flavor_t new_flavor);
kern_return_t task_get_exception_ports(task_t task, exception_mask_t exception_mask, exception_mask_array_t masks,
                                       mach_msg_type_number_t *masksCnt, exception_handler_array_t old_handlers,
                                       exception_behavior_array_t old_behaviors, exception_flavor_array_t old_flavors);
kern_return_t thread_get_exception_ports(thread_act_t thread, exception_mask_t exception_mask,
                                         exception_mask_array_t masks, mach_msg_type_number_t *masksCnt,
                                         exception_handler_array_t old_handlers,
                                         exception_behavior_array_t old_behaviors,
                                         exception_flavor_array_t old_flavors);
/* MIG-style demultiplexers for an exception server: for a request of their
 * subsystem (exc_server: 2401-2403, mach_exc_server: 2405-2407) they call the
 * program's own catch_* routine, write the reply (its RetCode is the routine's
 * answer; KERN_SUCCESS resumes the thread, for the state routines with the state
 * the routine wrote to new_state) and return TRUE; for anything else the reply
 * says MIG_BAD_ID and they return FALSE. A program that does not define the
 * routine a request needs gets KERN_FAILURE as the answer. */
boolean_t exc_server(mach_msg_header_t *request, mach_msg_header_t *reply);
boolean_t mach_exc_server(mach_msg_header_t *request, mach_msg_header_t *reply);
kern_return_t catch_exception_raise(mach_port_t exception_port, mach_port_t thread, mach_port_t task,
                                    exception_type_t exception, exception_data_t code,
                                    mach_msg_type_number_t codeCnt);
kern_return_t catch_exception_raise_state(mach_port_t exception_port, exception_type_t exception,
                                          const exception_data_t code, mach_msg_type_number_t codeCnt, int *flavor,
                                          const thread_state_t old_state, mach_msg_type_number_t old_stateCnt,
                                          thread_state_t new_state, mach_msg_type_number_t *new_stateCnt);
kern_return_t catch_exception_raise_state_identity(mach_port_t exception_port, mach_port_t thread, mach_port_t task,
                                                   exception_type_t exception, exception_data_t code,
                                                   mach_msg_type_number_t codeCnt, int *flavor,
                                                   thread_state_t old_state, mach_msg_type_number_t old_stateCnt,
                                                   thread_state_t new_state, mach_msg_type_number_t *new_stateCnt);
kern_return_t catch_mach_exception_raise(mach_port_t exception_port, mach_port_t thread, mach_port_t task,
                                         exception_type_t exception, mach_exception_data_t code,
                                         mach_msg_type_number_t codeCnt);
kern_return_t catch_mach_exception_raise_state(mach_port_t exception_port, exception_type_t exception,
                                               const mach_exception_data_t code, mach_msg_type_number_t codeCnt,
                                               int *flavor, const thread_state_t old_state,
                                               mach_msg_type_number_t old_stateCnt, thread_state_t new_state,
                                               mach_msg_type_number_t *new_stateCnt);
kern_return_t catch_mach_exception_raise_state_identity(mach_port_t exception_port, mach_port_t thread,
                                                        mach_port_t task, exception_type_t exception,
                                                        mach_exception_data_t code, mach_msg_type_number_t codeCnt,
                                                        int *flavor, thread_state_t old_state,
                                                        mach_msg_type_number_t old_stateCnt, thread_state_t new_state,
                                                        mach_msg_type_number_t *new_stateCnt);

/* The symbolic name of a return code, e.g. "MACH_SEND_INVALID_DEST". */
char *mach_error_string(mach_error_t error_value);
/* Prints "str <name> (0x...)" on standard error, as Mach's mach_error does. */
void mach_error(const char *str, mach_error_t error_value);

#ifdef __cplusplus
}
#endif

#endif
