// Faults in task code (R23): EXC_BAD_ACCESS and friends, exception ports,
// resuming after a handler fixed the cause, and the signal a fault becomes
// when nobody handles it.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "tests/support.h"

namespace {

using mt::page_with;
using mt::peek;
using mt::poke;

struct ExcRequest {
    mach_exception_raise_request_t req;
    mach_msg_audit_trailer_t trailer;
};

// Receives one exception message on `port` and answers it with `answer` after
// calling `fix` with the request. Returns the request.
template <class Fix>
mach_exception_raise_request_t serve_one(mach_port_t port, kern_return_t answer, Fix&& fix) {
    ExcRequest in{};
    CHECK_KR(mach_msg(&in.req.Head, MACH_RCV_MSG, 0, sizeof in, port, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
    fix(in.req);
    exception_raise_reply_t out{};
    out.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in.req.Head.msgh_bits), 0);
    out.Head.msgh_size = sizeof out;
    out.Head.msgh_remote_port = in.req.Head.msgh_remote_port;
    out.Head.msgh_id = in.req.Head.msgh_id + 100;
    out.RetCode = answer;
    CHECK_KR(mach_msg(&out.Head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
    (void)mach_port_deallocate(mach_task_self(), in.req.thread.name);
    (void)mach_port_deallocate(mach_task_self(), in.req.task.name);
    return in.req;
}

// Recurses until the stack runs out; the array keeps each frame from being optimised away.
int recurse(int depth) {
    if (depth < 0) return 0;  // never: it keeps the compiler from calling the recursion infinite
    volatile char frame[256];
    frame[0] = static_cast<char>(depth);
    return recurse(depth + 1) + frame[0];
}

const machsim::TaskReport& report_of(const machsim::RunReport& r, const char* name) {
    const machsim::TaskReport* t = r.task(name);
    REQUIRE(t);
    return *t;
}

// What *_get_exception_ports reports. Rights to valid ports are the caller's: see drop().
struct Handlers {
    kern_return_t kr = KERN_FAILURE;
    mach_msg_type_number_t count = 0;
    exception_mask_t masks[EXC_TYPES_COUNT] = {};
    mach_port_t ports[EXC_TYPES_COUNT] = {};
    exception_behavior_t behaviors[EXC_TYPES_COUNT] = {};
    thread_state_flavor_t flavors[EXC_TYPES_COUNT] = {};

    // The entry whose mask has `type`'s bit; null if none.
    const exception_mask_t* find(exception_type_t type) const {
        for (mach_msg_type_number_t i = 0; i < count; ++i)
            if (masks[i] & (1u << type)) return &masks[i];
        return nullptr;
    }
    std::size_t index(exception_type_t type) const { return static_cast<std::size_t>(find(type) - masks); }
    void drop() const {
        for (mach_msg_type_number_t i = 0; i < count; ++i)
            if (MACH_PORT_VALID(ports[i])) (void)mach_port_deallocate(mach_task_self(), ports[i]);
    }
};

// thread = MACH_PORT_NULL: the calling task's handlers; else that thread's.
Handlers handlers_of(mach_port_t thread, exception_mask_t mask, mach_msg_type_number_t room = EXC_TYPES_COUNT) {
    Handlers h;
    h.count = room;
    h.kr = thread ? thread_get_exception_ports(thread, mask, h.masks, &h.count, h.ports, h.behaviors, h.flavors)
                  : task_get_exception_ports(mach_task_self(), mask, h.masks, &h.count, h.ports, h.behaviors,
                                             h.flavors);
    return h;
}

// A name for a dead port in the caller's space.
mach_port_t dead_name() {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
    return p;
}

}  // namespace

TEST_SUITE("exceptions") {

TEST_CASE("a write through a read-only mapping with no handler ends the task with SIGBUS; others run on") {
    int others = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("victim", [] {
            vm_address_t a = page_with(VM_PROT_READ);
            REQUIRE(a != 0);
            CHECK(peek(a) == 0);  // reading is allowed
            poke(a, 1);
            FAIL("the write should not have returned");
        });
        k.spawn("bystander", [&] {
            for (int i = 0; i < 5; ++i) {
                thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
                ++others;
            }
        });
    });
    const machsim::TaskReport& v = report_of(r, "victim");
    CHECK(v.end == machsim::TaskEnd::Signaled);
    CHECK(v.exit_code == machsim::sig::BUS);
    CHECK(v.detail.find("SIGBUS") != std::string::npos);
    CHECK(v.detail.find("wrote 0x") != std::string::npos);
    CHECK(v.detail.find("r--") != std::string::npos);
    CHECK(report_of(r, "bystander").end == machsim::TaskEnd::Exited);
    CHECK(others == 5);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("a read of an address near null ends the task with SIGSEGV (KERN_INVALID_ADDRESS)") {
    machsim::RunReport r = mt::run_task([] {
        volatile vm_address_t near_null = 64;  // not null: UndefinedBehaviorSanitizer would stop a null load first
        (void)peek(near_null);
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::SEGV);
    CHECK(t.detail.find("outside the task's memory") != std::string::npos);
    CHECK(r.leaks.empty());
}

TEST_CASE("an exception handler that fixes the protection and answers KERN_SUCCESS resumes the faulting write") {
    int seen = 0;
    exception_type_t type = 0;
    int64_t code = 0;
    uint64_t address = 0;
    vm_address_t page = 0;
    machsim::RunReport r = mt::run_task([&] {
        page = page_with(VM_PROT_READ);
        mach_port_t exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                          EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES, THREAD_STATE_NONE),
                 KERN_SUCCESS);
        machsim::thread_start([&] {
            serve_one(exc, KERN_SUCCESS, [&](const mach_exception_raise_request_t& req) {
                type = req.exception;
                code = req.code[0];
                address = static_cast<uint64_t>(req.code[1]);
                CHECK(req.Head.msgh_id == MACH_EXCEPTION_RAISE_ID);
                CHECK_KR(vm_protect(mach_task_self(), page, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE),
                         KERN_SUCCESS);
            });
        });
        poke(page + 8, 42);  // faults once; resumed, the write happens
        seen = peek(page + 8);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(type == EXC_BAD_ACCESS);
    CHECK(code == KERN_PROTECTION_FAILURE);
    CHECK(address == page + 8);
    CHECK(seen == 42);
}

TEST_CASE("a handler answering KERN_FAILURE passes the exception on: thread port first, then task port, then SIGBUS") {
    std::string order;
    machsim::RunReport r = mt::run_task([&] {
        vm_address_t page = page_with(VM_PROT_READ);
        mach_port_t thread_exc = mt::new_port_with_send();
        mach_port_t task_exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_ALL, task_exc, EXCEPTION_DEFAULT, 0),
                 KERN_SUCCESS);
        machsim::thread_start([&] {
            serve_one(thread_exc, KERN_FAILURE, [&](const mach_exception_raise_request_t& req) {
                order += "thread ";
                CHECK(req.Head.msgh_id == EXCEPTION_RAISE_ID);  // no MACH_EXCEPTION_CODES: 32-bit codes
                auto* narrow = reinterpret_cast<const exception_raise_request_t*>(&req);
                CHECK(narrow->code[0] == KERN_PROTECTION_FAILURE);
            });
            serve_one(task_exc, KERN_FAILURE, [&](const mach_exception_raise_request_t&) { order += "task"; });
        });
        mach_port_t self = mach_thread_self();
        CHECK_KR(thread_set_exception_ports(self, EXC_MASK_BAD_ACCESS, thread_exc, EXCEPTION_DEFAULT, 0), KERN_SUCCESS);
        poke(page, 1);
    });
    CHECK(order == "thread task");
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::BUS);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("an answer to a request abandoned by thread_abort is not taken for the answer to the thread's next "
          "exception") {
    kern_return_t late = -1;
    mach_msg_return_t second_at_task = -1;
    volatile int writes = 0;
    machsim::RunReport r = mt::run_task([&] {
        vm_address_t page = page_with(VM_PROT_READ);
        mach_port_t thread_exc = mt::new_port_with_send();
        mach_port_t task_exc = mt::new_port_with_send();
        semaphore_t go = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(mach_task_self(), &go, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, task_exc,
                                          EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES, 0),
                 KERN_SUCCESS);
        mach_port_t faulter = machsim::thread_start([&] {
            mach_port_t me = mach_thread_self();
            CHECK_KR(thread_set_exception_ports(me, EXC_MASK_BAD_ACCESS, thread_exc,
                                                EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES, 0),
                     KERN_SUCCESS);
            poke(page, 1);  // its thread-level request is abandoned; the task level fixes it
            writes = writes + 1;
            CHECK_KR(semaphore_wait(go), KERN_SUCCESS);
            poke(page, 2);  // the thread level fixes it
            writes = writes + 1;
            CHECK_KR(mach_port_deallocate(mach_task_self(), me), KERN_SUCCESS);
        });
        ExcRequest first{};
        REQUIRE_KR(mach_msg(&first.req.Head, MACH_RCV_MSG, 0, sizeof first, thread_exc, 0, MACH_PORT_NULL),
                   MACH_MSG_SUCCESS);
        CHECK_KR(thread_abort(faulter), KERN_SUCCESS);  // the faulter goes on to its task's port
        auto make_writable = [page](const mach_exception_raise_request_t&) {
            CHECK_KR(vm_protect(mach_task_self(), page, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE),
                     KERN_SUCCESS);
        };
        serve_one(task_exc, KERN_SUCCESS, make_writable);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        CHECK(writes == 1);

        // The answer to the abandoned request comes late: nobody waits for it any more.
        exception_raise_reply_t out{};
        out.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.Head.msgh_size = sizeof out;
        out.Head.msgh_remote_port = first.req.Head.msgh_remote_port;
        out.Head.msgh_id = first.req.Head.msgh_id + 100;
        out.RetCode = KERN_FAILURE;
        late = mach_msg(&out.Head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
        if (late != MACH_MSG_SUCCESS) (void)mach_port_deallocate(mach_task_self(), first.req.Head.msgh_remote_port);
        (void)mach_port_deallocate(mach_task_self(), first.req.thread.name);
        (void)mach_port_deallocate(mach_task_self(), first.req.task.name);

        // The next fault waits for the thread level's answer to it, KERN_SUCCESS.
        CHECK_KR(vm_protect(mach_task_self(), page, vm_page_size, FALSE, VM_PROT_READ), KERN_SUCCESS);
        CHECK_KR(semaphore_signal(go), KERN_SUCCESS);
        serve_one(thread_exc, KERN_SUCCESS, make_writable);
        ExcRequest extra{};
        second_at_task = mach_msg(&extra.req.Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof extra, task_exc, 10,
                                  MACH_PORT_NULL);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        CHECK(writes == 2);
        CHECK_KR(mach_port_deallocate(mach_task_self(), faulter), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(late, MACH_SEND_INVALID_DEST);  // the reply port went with the abandoned request
    CHECK_KR(second_at_task, MACH_RCV_TIMED_OUT);  // the stale answer did not pass the exception on
    CHECK(r.leaks.empty());
}

TEST_CASE("a handler that removes its exception port before answering, in a traced run, does not crash the host") {
    std::ostringstream out;
    machsim::TextSink sink(out, true);
    int seen = 0;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("test", [&] {
                vm_address_t page = page_with(VM_PROT_READ);
                mach_port_t exc = mt::new_port_with_send();
                CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                                  EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES, 0),
                         KERN_SUCCESS);
                machsim::thread_start([&] {
                    serve_one(exc, KERN_SUCCESS, [&](const mach_exception_raise_request_t&) {
                        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, MACH_PORT_NULL,
                                                          EXCEPTION_DEFAULT, 0),
                                 KERN_SUCCESS);
                        CHECK_KR(vm_protect(mach_task_self(), page, vm_page_size, FALSE,
                                            VM_PROT_READ | VM_PROT_WRITE),
                                 KERN_SUCCESS);
                    });
                });
                poke(page, 7);
                seen = peek(page);
            });
        },
        {}, &sink);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen == 7);
    CHECK(out.str().find("answered KERN_SUCCESS") != std::string::npos);
}

constexpr exception_behavior_t kDefault64 = EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES;

// XNU's set_exception_ports_validation (osfmk/kern/ipc_tt.c), after MIG has copied the
// port in: the mask; the behaviour, only when there is a port to send to; the flavor;
// MACH_EXCEPTION_CODES for the identity-protected behaviour and backtraces. Then
// machsim's own refusal of the behaviours it cannot send. A refused call changes nothing.
TEST_CASE("*_set_exception_ports checks its arguments as XNU does, the port first, the behaviour only for a port") {
    for (bool on_thread : {false, true}) {
        CAPTURE(on_thread);
        machsim::RunReport r = mt::run_task([&] {
            mach_port_t me = on_thread ? mach_thread_self() : MACH_PORT_NULL;
            auto set = [&](exception_mask_t mask, mach_port_t port, exception_behavior_t behavior,
                           thread_state_flavor_t flavor) {
                return on_thread ? thread_set_exception_ports(me, mask, port, behavior, flavor)
                                 : task_set_exception_ports(mach_task_self(), mask, port, behavior, flavor);
            };
            mach_port_t exc = mt::new_port_with_send();
            mach_port_t dead = dead_name();
            const exception_mask_t bad_mask = 1u << EXC_TYPES_COUNT;

            // The port is copied in first, as the MIG request carries it (COPY_SEND needs a send right).
            CHECK_KR(set(bad_mask, mt::new_receive_right(), 0, -1), MACH_SEND_INVALID_RIGHT);
            // The mask: only the bits of EXC_MASK_VALID (bit 0 names no exception).
            CHECK_KR(set(bad_mask, exc, kDefault64, 0), KERN_INVALID_ARGUMENT);
            CHECK_KR(set(1, exc, kDefault64, 0), KERN_INVALID_ARGUMENT);
            CHECK_KR(set(bad_mask, MACH_PORT_NULL, kDefault64, 0), KERN_INVALID_ARGUMENT);
            // The behaviour, only when there is a port to send to.
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, 0, 0), KERN_INVALID_ARGUMENT);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, 6 | MACH_EXCEPTION_CODES, 0), KERN_INVALID_ARGUMENT);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, 6, 0), KERN_SUCCESS);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_DEAD, 0, 0), KERN_SUCCESS);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, dead, 0x1234, 0), KERN_SUCCESS);
            // The flavor: 0 or one of x86's, whatever the port (14, 15: XNU's internal ones).
            for (thread_state_flavor_t bad : {-1, 14, 15, 26})
                CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, kDefault64, bad), KERN_INVALID_ARGUMENT);
            for (thread_state_flavor_t good : {x86_THREAD_STATE32, x86_THREAD_STATE64, THREAD_STATE_NONE,
                                               x86_AVX_STATE32, x86_LAST_BRANCH_STATE})
                CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, kDefault64, good), KERN_SUCCESS);
            // The identity-protected behaviour and backtraces need 64-bit codes, whatever the port.
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, EXCEPTION_IDENTITY_PROTECTED, 0), KERN_INVALID_ARGUMENT);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, EXCEPTION_IDENTITY_PROTECTED | MACH_EXCEPTION_CODES, 0),
                     KERN_SUCCESS);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, EXCEPTION_DEFAULT | MACH_EXCEPTION_BACKTRACE_PREFERRED, 0),
                     KERN_INVALID_ARGUMENT);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, kDefault64 | MACH_EXCEPTION_BACKTRACE_PREFERRED, 0), KERN_SUCCESS);
            // Behaviours XNU takes whose messages machsim cannot send: refused for a port. The
            // identity-protected ones carry identity tokens; the state ones, a flavor machsim gives.
            for (exception_behavior_t b : {EXCEPTION_IDENTITY_PROTECTED, EXCEPTION_STATE_IDENTITY_PROTECTED})
                CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, b | MACH_EXCEPTION_CODES, x86_THREAD_STATE64),
                         KERN_INVALID_ARGUMENT);
            for (exception_behavior_t b : {EXCEPTION_STATE, EXCEPTION_STATE_IDENTITY}) {
                for (thread_state_flavor_t f : {0, x86_THREAD_STATE32, x86_FLOAT_STATE64, THREAD_STATE_NONE})
                    CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, b, f), KERN_INVALID_ARGUMENT);
                for (thread_state_flavor_t f : {x86_THREAD_STATE64, x86_THREAD_STATE, x86_EXCEPTION_STATE64,
                                                x86_EXCEPTION_STATE})
                    CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, b | MACH_EXCEPTION_CODES, f), KERN_SUCCESS);
                CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_NULL, b, 0), KERN_SUCCESS);  // no port: not looked at
            }

            // The last call that succeeded holds; the refused ones cost the caller no uref.
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, EXCEPTION_DEFAULT | MACH_EXCEPTION_ERRORS, THREAD_STATE_NONE),
                     KERN_SUCCESS);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, EXCEPTION_STATE, x86_FLOAT_STATE64), KERN_INVALID_ARGUMENT);
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, exc, kDefault64, 14), KERN_INVALID_ARGUMENT);
            CHECK(mt::refs(exc, MACH_PORT_RIGHT_SEND) == 1);
            Handlers h = handlers_of(me, EXC_MASK_BAD_ACCESS);
            CHECK_KR(h.kr, KERN_SUCCESS);
            REQUIRE(h.count == 1);
            CHECK(h.masks[0] == EXC_MASK_BAD_ACCESS);
            CHECK(h.ports[0] == exc);
            CHECK(h.behaviors[0] == (EXCEPTION_DEFAULT | MACH_EXCEPTION_ERRORS));
            CHECK(h.flavors[0] == THREAD_STATE_NONE);
            h.drop();
            CHECK(mt::refs(exc, MACH_PORT_RIGHT_SEND) == 1);
            if (on_thread) CHECK_KR(mach_port_deallocate(mach_task_self(), me), KERN_SUCCESS);
        });
        INFO(r.summary());
        CHECK(r.clean());
    }
}

// XNU keeps the dead port a handler is set to (IP_DEAD, from MACH_PORT_DEAD or a dead
// name) and its get copies it out as MACH_PORT_DEAD; types never set report MACH_PORT_NULL.
TEST_CASE("a handler set to MACH_PORT_DEAD or a dead name is reported as MACH_PORT_DEAD, apart from types with none") {
    for (bool on_thread : {false, true}) {
        CAPTURE(on_thread);
        machsim::RunReport r = mt::run_task([&] {
            mach_port_t me = on_thread ? mach_thread_self() : MACH_PORT_NULL;
            auto set = [&](exception_mask_t mask, mach_port_t port) {
                return on_thread ? thread_set_exception_ports(me, mask, port, EXCEPTION_DEFAULT, 0)
                                 : task_set_exception_ports(mach_task_self(), mask, port, EXCEPTION_DEFAULT, 0);
            };
            mach_port_t dead = dead_name();
            CHECK_KR(set(EXC_MASK_BAD_ACCESS, MACH_PORT_DEAD), KERN_SUCCESS);
            CHECK_KR(set(EXC_MASK_ARITHMETIC, dead), KERN_SUCCESS);
            CHECK_KR(set(EXC_MASK_SOFTWARE, MACH_PORT_NULL), KERN_SUCCESS);
            CHECK(mt::refs(dead, MACH_PORT_RIGHT_DEAD_NAME) == 1);  // copied, not taken
            Handlers h = handlers_of(me, EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC | EXC_MASK_SOFTWARE);
            CHECK_KR(h.kr, KERN_SUCCESS);
            REQUIRE(h.count == 2);
            CHECK(h.masks[0] == (EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC));
            CHECK(h.ports[0] == MACH_PORT_DEAD);
            CHECK(h.behaviors[0] == EXCEPTION_DEFAULT);
            CHECK(h.masks[1] == EXC_MASK_SOFTWARE);
            CHECK(h.ports[1] == MACH_PORT_NULL);
            CHECK(h.behaviors[1] == EXCEPTION_DEFAULT);
            if (on_thread) CHECK_KR(mach_port_deallocate(mach_task_self(), me), KERN_SUCCESS);
        });
        INFO(r.summary());
        CHECK(r.clean());
    }
}

TEST_CASE("*_get_exception_ports with a count it cannot read or an array it cannot write is KERN_INVALID_ADDRESS and "
          "gives no right") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t a = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, a, EXCEPTION_DEFAULT, THREAD_STATE_NONE),
                 KERN_SUCCESS);
        CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 1);
        static const exception_mask_t kReadOnly[EXC_TYPES_COUNT] = {};
        auto* unwritable = const_cast<exception_mask_t*>(kReadOnly);
        Handlers h;
        mach_msg_type_number_t room = EXC_TYPES_COUNT;
        CHECK_KR(task_get_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, h.masks, nullptr, h.ports,
                                          h.behaviors, h.flavors),
                 KERN_INVALID_ADDRESS);
        CHECK_KR(task_get_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, unwritable, &room, h.ports,
                                          h.behaviors, h.flavors),
                 KERN_INVALID_ADDRESS);
        room = EXC_TYPES_COUNT;
        CHECK_KR(task_get_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, h.masks, &room,
                                          reinterpret_cast<exception_handler_array_t>(unwritable), h.behaviors,
                                          h.flavors),
                 KERN_INVALID_ADDRESS);
        room = EXC_TYPES_COUNT;
        CHECK_KR(task_get_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, h.masks, &room, h.ports,
                                          h.behaviors, reinterpret_cast<exception_flavor_array_t>(unwritable)),
                 KERN_INVALID_ADDRESS);
        static const mach_msg_type_number_t kReadOnlyRoom = EXC_TYPES_COUNT;  // read, but not written back
        CHECK_KR(task_get_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, h.masks,
                                          const_cast<mach_msg_type_number_t*>(&kReadOnlyRoom), h.ports, h.behaviors,
                                          h.flavors),
                 KERN_INVALID_ADDRESS);
        CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 1);  // no failing call copied a right out
        CHECK(kReadOnly[0] == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// XNU's *_get_exception_ports (osfmk/kern/ipc_tt.c) takes the types of the mask lowest
// first and groups them by (port, behaviour, flavor); once *masksCnt groups are out, a
// type of a new group is left out, while one of a group already out still joins it. A
// thread has no table of handlers until its first *_set_exception_ports succeeds (XNU
// makes tro_exc_actions then): before, it reports none. A task always has its table.
TEST_CASE("*_get_exception_ports groups types as XNU does; a thread whose ports were never set reports none") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t me = mach_thread_self();
        Handlers none = handlers_of(me, EXC_MASK_ALL);
        CHECK_KR(none.kr, KERN_SUCCESS);
        CHECK(none.count == 0);
        Handlers task_none = handlers_of(MACH_PORT_NULL, EXC_MASK_ALL);
        CHECK_KR(task_none.kr, KERN_SUCCESS);
        REQUIRE(task_none.count == 1);
        CHECK(task_none.masks[0] == EXC_MASK_ALL);
        CHECK(task_none.ports[0] == MACH_PORT_NULL);
        CHECK(task_none.behaviors[0] == 0);
        CHECK(task_none.flavors[0] == 0);
        CHECK_KR(handlers_of(me, 1u << EXC_TYPES_COUNT).kr, KERN_INVALID_ARGUMENT);
        CHECK_KR(handlers_of(MACH_PORT_NULL, 1).kr, KERN_INVALID_ARGUMENT);

        mach_port_t a = mt::new_port_with_send();
        mach_port_t b = mt::new_port_with_send();
        auto set = [](exception_mask_t mask, mach_port_t port, exception_behavior_t behavior) {
            return task_set_exception_ports(mach_task_self(), mask, port, behavior, THREAD_STATE_NONE);
        };
        CHECK_KR(set(EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC, a, kDefault64), KERN_SUCCESS);
        CHECK_KR(set(EXC_MASK_BAD_INSTRUCTION, a, EXCEPTION_DEFAULT), KERN_SUCCESS);
        CHECK_KR(set(EXC_MASK_SOFTWARE, b, kDefault64), KERN_SUCCESS);
        CHECK_KR(set(EXC_MASK_BREAKPOINT, a, kDefault64), KERN_SUCCESS);
        const exception_mask_t set_ones = EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC | EXC_MASK_BAD_INSTRUCTION |
                                          EXC_MASK_SOFTWARE | EXC_MASK_BREAKPOINT;

        Handlers all = handlers_of(MACH_PORT_NULL, EXC_MASK_ALL);
        CHECK_KR(all.kr, KERN_SUCCESS);
        REQUIRE(all.count == 4);
        CHECK(all.masks[0] == (EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC | EXC_MASK_BREAKPOINT));
        CHECK(all.ports[0] == a);
        CHECK(all.behaviors[0] == kDefault64);
        CHECK(all.flavors[0] == THREAD_STATE_NONE);
        CHECK(all.masks[1] == EXC_MASK_BAD_INSTRUCTION);  // the same port, another behaviour
        CHECK(all.ports[1] == a);
        CHECK(all.behaviors[1] == EXCEPTION_DEFAULT);
        CHECK(all.masks[2] == (EXC_MASK_ALL & ~set_ones));  // from EXC_EMULATION on: none
        CHECK(all.ports[2] == MACH_PORT_NULL);
        CHECK(all.behaviors[2] == 0);
        CHECK(all.flavors[2] == 0);
        CHECK(all.masks[3] == EXC_MASK_SOFTWARE);
        CHECK(all.ports[3] == b);
        CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 3);  // one more uref per entry
        CHECK(mt::refs(b, MACH_PORT_RIGHT_SEND) == 2);
        all.drop();

        Handlers two = handlers_of(MACH_PORT_NULL, EXC_MASK_ALL, 2);
        CHECK_KR(two.kr, KERN_SUCCESS);
        REQUIRE(two.count == 2);
        CHECK(two.masks[0] == (EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC | EXC_MASK_BREAKPOINT));
        CHECK(two.masks[1] == EXC_MASK_BAD_INSTRUCTION);
        two.drop();
        Handlers zero = handlers_of(MACH_PORT_NULL, EXC_MASK_ALL, 0);
        CHECK_KR(zero.kr, KERN_SUCCESS);
        CHECK(zero.count == 0);
        CHECK(mt::refs(a, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::refs(b, MACH_PORT_RIGHT_SEND) == 1);

        // The thread's first set makes its table: the types it did not set read MACH_PORT_NULL.
        CHECK_KR(thread_set_exception_ports(me, EXC_MASK_BAD_ACCESS, b, kDefault64, 0), KERN_SUCCESS);
        Handlers mine = handlers_of(me, EXC_MASK_BAD_ACCESS | EXC_MASK_ARITHMETIC);
        CHECK_KR(mine.kr, KERN_SUCCESS);
        REQUIRE(mine.count == 2);
        CHECK(mine.masks[0] == EXC_MASK_BAD_ACCESS);
        CHECK(mine.ports[0] == b);
        CHECK(mine.masks[1] == EXC_MASK_ARITHMETIC);
        CHECK(mine.ports[1] == MACH_PORT_NULL);
        mine.drop();
        // A set that fails makes none; one with an empty mask does.
        mach_port_t other = machsim::thread_start([] { (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 5); });
        CHECK_KR(thread_set_exception_ports(other, 1, MACH_PORT_NULL, 0, 0), KERN_INVALID_ARGUMENT);
        CHECK(handlers_of(other, EXC_MASK_ALL).count == 0);
        CHECK_KR(thread_set_exception_ports(other, 0, MACH_PORT_NULL, 0, 0), KERN_SUCCESS);
        Handlers made = handlers_of(other, EXC_MASK_ALL);
        REQUIRE(made.count == 1);
        CHECK(made.masks[0] == EXC_MASK_ALL);
        CHECK(made.ports[0] == MACH_PORT_NULL);
        CHECK_KR(mach_port_deallocate(mach_task_self(), other), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), me), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// The hardware's divide, which UndefinedBehaviorSanitizer would otherwise stop before the CPU traps.
static __attribute__((no_sanitize("undefined"))) int divide(int a, int b) { return a / b; }

TEST_CASE("an integer division by zero is EXC_ARITHMETIC and ends the task with SIGFPE") {
    machsim::RunReport r = mt::run_task([] {
        volatile int zero = 0;
        volatile int x = divide(10, zero);
        (void)x;
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::FPE);
}

TEST_CASE("abort() in a task ends that task with SIGABRT, not the host") {
    machsim::RunReport r = mt::run_task([] { std::abort(); });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::ABRT);
}

TEST_CASE("a stack overflow ends that task with a fault report; the other tasks and the host carry on") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("deep", [] { CHECK(recurse(1) > 0); });
        k.spawn("shallow", [] { thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0); });
    });
    const machsim::TaskReport& t = report_of(r, "deep");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::BUS);
    CHECK(t.detail.find("stack overflow") != std::string::npos);
    CHECK(report_of(r, "shallow").end == machsim::TaskEnd::Exited);
    CHECK(r.leaks.empty());
}

// One frame larger than the whole 64 KiB stack: its first store lands well below
// the stack. Built with stack-clash probing (as the Makefile and machsim.pc build
// task code), it touches the stack page by page; built without, its store must still
// fall in the guard gap (kernel/machine/stack_pool.h), not in memory mapped below.
[[gnu::noinline]] int huge_frame(int v) {
    volatile char big[96 * 1024];
    big[0] = static_cast<char>(v);
    return big[0];
}
[[gnu::noinline, gnu::optimize("no-stack-clash-protection")]] int huge_frame_unprobed(int v) {
    volatile char big[96 * 1024];
    big[0] = static_cast<char>(v);
    return big[0];
}

TEST_CASE("a frame larger than the whole stack, probed or not, faults in the guard gap; memory mapped below is "
          "untouched") {
    for (bool probed : {true, false}) {
        CAPTURE(probed);
        bool intact = false;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            k.spawn("parent", [&] {
                // The child's stack is mapped first; the host maps the region's memory next,
                // below it if it can.
                mach_port_t child = machsim::task_spawn("big", [probed](mach_port_t) {
                    (void)(probed ? huge_frame(16) : huge_frame_unprobed(16));
                });
                REQUIRE(MACH_PORT_VALID(child));
                const vm_size_t size = 64 * 1024;
                vm_address_t a = 0;
                REQUIRE_KR(vm_allocate(mach_task_self(), &a, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
                std::memset(reinterpret_cast<void*>(a), 0x5a, size);
                thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 10);  // the child runs and dies
                const auto* b = reinterpret_cast<const unsigned char*>(a);
                intact = std::all_of(b, b + size, [](unsigned char c) { return c == 0x5a; });
                CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
            });
        });
        const machsim::TaskReport& t = report_of(r, "big");
        CHECK(t.end == machsim::TaskEnd::Signaled);
        CHECK(t.exit_code == machsim::sig::BUS);
        CHECK(t.detail.find("stack overflow") != std::string::npos);
        CHECK(intact);
        CHECK(r.leaks.empty());
    }
}

TEST_CASE("thousands of tasks overflowing their stacks one after another are each caught") {
#ifdef __SANITIZE_ADDRESS__
    constexpr int kTasks = 500;  // each keeps its stack for LeakSanitizer
#else
    constexpr int kTasks = 20000;
#endif
    int caught = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("spawner", [&] {
            for (int i = 0; i < kTasks; ++i) {
                mach_port_t child = machsim::task_spawn("deep", [](mach_port_t) { CHECK(recurse(1) > 0); });
                REQUIRE(child != MACH_PORT_NULL);
                while (mt::type_of(child) != MACH_PORT_TYPE_DEAD_NAME) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
                ++caught;
                CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
            }
        });
    });
    CHECK(caught == kTasks);
    int overflowed = 0;
    for (const machsim::TaskReport& t : r.tasks)
        if (t.name == "deep" && t.end == machsim::TaskEnd::Signaled && t.detail.find("stack overflow") != std::string::npos)
            ++overflowed;
    CHECK(overflowed == kTasks);
    CHECK(r.leaks.empty());
}

TEST_CASE("a task in an endless loop that never enters the kernel is stopped with SIGXCPU") {
    machsim::Config cfg;
    cfg.runaway_ms = 100;
    bool other_ran = false;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("spinner", [] {
                volatile uint64_t n = 0;
                for (;;) n = n + 1;
            });
            k.spawn("other", [&] { other_ran = true; });
        },
        cfg);
    const machsim::TaskReport& t = report_of(r, "spinner");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::XCPU);
    CHECK(t.detail.find("without entering the kernel") != std::string::npos);
    CHECK(other_ran);
    CHECK(r.leaks.empty());
}

}  // TEST_SUITE("exceptions")
