// Programs written for a real Mach include the headers the calls are declared in
// there: XNU's <mach/task.h>, <mach/mach_port.h>, <mach/mach_error.h>, ..., or
// GNU Mach's <mach.h>. These are the only Mach headers this file includes: the
// programs below compile and run with them as they are.
#include <mach.h>
#include <mach/clock.h>
#include <mach/error.h>
#include <mach/mach_error.h>
#include <mach/mach_host.h>
#include <mach/mach_init.h>
#include <mach/mach_port.h>
#include <mach/mach_traps.h>
#include <mach/semaphore.h>
#include <mach/task.h>
#include <mach/thread_act.h>
#include <mach/vm_map.h>
#include <mach_error.h>

#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "machsim.h"

namespace {

// What the program saw, for the test to check after the run.
struct Seen {
    kern_return_t allocate = -1, insert = -1, send = -1, receive = -1;
    int payload = 0;
    std::string bad_name_error;
    kern_return_t vm = -1, semaphore = -1, clock = -1;
    int threads = 0;
    kern_return_t reply_port_type = -1;
};
Seen seen;

struct Message {
    mach_msg_header_t header;
    int data;
};
struct Received {
    Message message;
    mach_msg_trailer_t trailer;
};

// A port of its own, a message to itself, and the calls of the other headers.
int textbook_program() {
    mach_port_t port = MACH_PORT_NULL;
    seen.allocate = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port);
    seen.insert = mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND);

    Message out = {};
    out.header.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    out.header.msgh_size = sizeof out;
    out.header.msgh_remote_port = port;
    out.header.msgh_id = 100;
    out.data = 1234;
    seen.send = mach_msg(&out.header, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                         MACH_PORT_NULL);
    Received in = {};
    seen.receive = mach_msg(&in.message.header, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE,
                            MACH_PORT_NULL);
    seen.payload = in.message.data;

    kern_return_t kr = mach_port_deallocate(mach_task_self(), 0x7777);  // a name this task does not have
    seen.bad_name_error = mach_error_string(kr);

    vm_address_t page = 0;
    seen.vm = vm_allocate(mach_task_self(), &page, vm_page_size, VM_FLAGS_ANYWHERE);
    if (seen.vm == KERN_SUCCESS) {
        std::memset(reinterpret_cast<void*>(page), 7, vm_page_size);
        seen.vm = vm_deallocate(mach_task_self(), page, vm_page_size);
    }

    semaphore_t sem = MACH_PORT_NULL;
    seen.semaphore = semaphore_create(mach_task_self(), &sem, SYNC_POLICY_FIFO, 0);
    if (seen.semaphore == KERN_SUCCESS) seen.semaphore = semaphore_signal(sem);
    if (seen.semaphore == KERN_SUCCESS) seen.semaphore = semaphore_wait(sem);
    if (seen.semaphore == KERN_SUCCESS) seen.semaphore = semaphore_destroy(mach_task_self(), sem);

    clock_serv_t clock = MACH_PORT_NULL;
    mach_timespec_t now = {};
    seen.clock = host_get_clock_service(mach_host_self(), SYSTEM_CLOCK, &clock);
    if (seen.clock == KERN_SUCCESS) seen.clock = clock_get_time(clock, &now);

    thread_act_array_t threads = nullptr;
    mach_msg_type_number_t count = 0;
    if (task_threads(mach_task_self(), &threads, &count) == KERN_SUCCESS) {
        seen.threads = static_cast<int>(count);
        for (mach_msg_type_number_t i = 0; i < count; ++i) mach_port_deallocate(mach_task_self(), threads[i]);
        vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(threads), count * sizeof *threads);
    }

    mach_port_t reply = mach_reply_port();
    mach_port_type_t type = 0;
    seen.reply_port_type = mach_port_type(mach_task_self(), reply, &type) == KERN_SUCCESS &&
                                   type == MACH_PORT_TYPE_RECEIVE
                               ? KERN_SUCCESS
                               : KERN_FAILURE;
    return 0;
}

}  // namespace

TEST_SUITE("textbook") {

TEST_CASE("a program that includes XNU's and GNU Mach's split headers, not <mach/mach.h>, compiles and runs") {
    seen = {};
    machsim::Kernel k;
    k.spawn("textbook", textbook_program);
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen.allocate == KERN_SUCCESS);
    CHECK(seen.insert == KERN_SUCCESS);
    CHECK(seen.send == MACH_MSG_SUCCESS);
    CHECK(seen.receive == MACH_MSG_SUCCESS);
    CHECK(seen.payload == 1234);
    CHECK(seen.bad_name_error == "KERN_INVALID_NAME");
    CHECK(seen.vm == KERN_SUCCESS);
    CHECK(seen.semaphore == KERN_SUCCESS);
    CHECK(seen.clock == KERN_SUCCESS);
    CHECK(seen.threads == 1);
    CHECK(seen.reply_port_type == KERN_SUCCESS);
}

TEST_CASE("<mach/error.h> takes a code apart: system, subsystem, code") {
    CHECK(err_get_system(MACH_RCV_TIMED_OUT) == 4);
    CHECK(err_get_sub(MACH_RCV_TIMED_OUT) == 1);
    CHECK(err_get_code(MACH_RCV_TIMED_OUT) == 3);
    CHECK((MACH_SEND_INVALID_DEST & system_emask) == err_mach_ipc);
    CHECK((MACH_SEND_INVALID_DEST & sub_emask) == err_sub(0));
    CHECK((KERN_INVALID_NAME & system_emask) == err_kern);
    CHECK(err_get_code(KERN_INVALID_NAME) == 15);
    CHECK((err_system(0x3e) | err_sub(2) | 7) == (err_local | 0x8007));
    CHECK(unix_err(2) == 0xc002);
    CHECK(err_none == ERR_SUCCESS);
    CHECK(ERR_SUCCESS == KERN_SUCCESS);
}

}  // TEST_SUITE
