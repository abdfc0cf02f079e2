// Thread state: thread_get_state and thread_set_state on a thread stopped at a
// fault, and the EXCEPTION_STATE and EXCEPTION_STATE_IDENTITY behaviours, whose
// messages carry the state and whose answers set it. The idiom of debuggers and
// of the books' exception handlers: look at the registers, skip the faulting
// instruction, resume.
#include <functional>
#include <vector>

#include "tests/support.h"

namespace {

// Where faulting_store's store is, and the instruction after it; written by it.
uint64_t g_store_ip = 0, g_after_store = 0;

struct StoreResult {
    uint64_t rax;    // 7 unless someone changed it
    bool carry;      // CF after the store
    uint64_t flags;  // all of rflags after the store
};

// Sets rax to 7 and CF to 0, then stores 99 at `bad`, which faults. A handler may
// move rip past the store (to g_after_store) and change registers; what the
// thread then sees is returned. The flags are read below the red zone, which the
// compiler may use here.
__attribute__((noinline)) StoreResult faulting_store(uint64_t* bad) {
    uint64_t rax = 0, flags = 0;
    uint8_t carry = 0;
    asm volatile(
        "lea 1f(%%rip), %%rcx\n\t"
        "mov %%rcx, %[store_ip]\n\t"
        "lea 2f(%%rip), %%rcx\n\t"
        "mov %%rcx, %[after]\n\t"
        "mov $7, %%eax\n\t"
        "clc\n"
        "1:\tmovq $99, (%[bad])\n"
        "2:\tsetc %[carry]\n\t"
        "mov %%rax, %[rax]\n\t"
        "lea -128(%%rsp), %%rsp\n\t"
        "pushfq\n\t"
        "pop %%rcx\n\t"
        "lea 128(%%rsp), %%rsp\n\t"
        "mov %%rcx, %[flags]"
        : [rax] "=m"(rax), [flags] "=m"(flags), [carry] "=m"(carry), [store_ip] "=m"(g_store_ip),
          [after] "=m"(g_after_store)
        : [bad] "r"(bad)
        : "rax", "rcx", "cc", "memory");
    return {rax, carry != 0, flags};
}

constexpr uint64_t kTrapFlag = 0x100, kDirectionFlag = 0x400, kAlignmentCheck = 0x40000, kCarry = 0x1;

// One state request as the catch_* routines below see it.
struct StateRequest {
    mach_msg_id_t routine = 0;  // which catch_* was called: 2402, 2403, 2406 or 2407
    exception_type_t exception = 0;
    std::vector<int64_t> code;
    mach_port_t thread = MACH_PORT_NULL;  // identity routines only
    int flavor = 0;
    std::vector<natural_t> old_state;
};

// What the catch_* routines do with a request: set by each test. It may change
// *flavor, write new_state and *new_count, and returns the answer.
std::function<kern_return_t(const StateRequest&, int* flavor, thread_state_t new_state,
                            mach_msg_type_number_t* new_count)>
    g_on_state;

template <class Code>
kern_return_t dispatch(mach_msg_id_t routine, mach_port_t thread, mach_port_t task, exception_type_t exception,
                       const Code* code, mach_msg_type_number_t codeCnt, int* flavor, const natural_t* old_state,
                       mach_msg_type_number_t old_count, thread_state_t new_state, mach_msg_type_number_t* new_count) {
    StateRequest r;
    r.routine = routine;
    r.exception = exception;
    r.code.assign(code, code + codeCnt);
    r.thread = thread;
    r.flavor = *flavor;
    r.old_state.assign(old_state, old_state + old_count);
    kern_return_t answer = g_on_state ? g_on_state(r, flavor, new_state, new_count) : KERN_FAILURE;
    for (mach_port_t p : {thread, task})
        if (MACH_PORT_VALID(p)) (void)mach_port_deallocate(mach_task_self(), p);
    return answer;
}

x86_thread_state64_t state64_of(const std::vector<natural_t>& words) {
    x86_thread_state64_t s{};
    REQUIRE(words.size() == x86_THREAD_STATE64_COUNT);
    std::memcpy(&s, words.data(), sizeof s);
    return s;
}

// Serves exactly one exception message on `port` with `demux`, on a thread of its own.
void serve_once_on_a_thread(mach_port_t port, boolean_t (*demux)(mach_msg_header_t*, mach_msg_header_t*)) {
    machsim::thread_start([=] { CHECK_KR(mach_msg_server_once(demux, 4096, port, 0), MACH_MSG_SUCCESS); });
}

const machsim::TaskReport& report_of(const machsim::RunReport& r, const char* name) {
    const machsim::TaskReport* t = r.task(name);
    REQUIRE(t);
    return *t;
}

}  // namespace

// The program's exception routines, as MIG's server calls them.
extern "C" kern_return_t catch_exception_raise_state(mach_port_t, exception_type_t exception,
                                                     const exception_data_t code, mach_msg_type_number_t codeCnt,
                                                     int* flavor, const thread_state_t old_state,
                                                     mach_msg_type_number_t old_stateCnt, thread_state_t new_state,
                                                     mach_msg_type_number_t* new_stateCnt) {
    return dispatch(EXCEPTION_RAISE_STATE_ID, MACH_PORT_NULL, MACH_PORT_NULL, exception, code, codeCnt, flavor,
                    old_state, old_stateCnt, new_state, new_stateCnt);
}
extern "C" kern_return_t catch_exception_raise_state_identity(mach_port_t, mach_port_t thread, mach_port_t task,
                                                              exception_type_t exception, exception_data_t code,
                                                              mach_msg_type_number_t codeCnt, int* flavor,
                                                              thread_state_t old_state,
                                                              mach_msg_type_number_t old_stateCnt,
                                                              thread_state_t new_state,
                                                              mach_msg_type_number_t* new_stateCnt) {
    return dispatch(EXCEPTION_RAISE_STATE_IDENTITY_ID, thread, task, exception, code, codeCnt, flavor, old_state,
                    old_stateCnt, new_state, new_stateCnt);
}
extern "C" kern_return_t catch_mach_exception_raise_state(mach_port_t, exception_type_t exception,
                                                          const mach_exception_data_t code,
                                                          mach_msg_type_number_t codeCnt, int* flavor,
                                                          const thread_state_t old_state,
                                                          mach_msg_type_number_t old_stateCnt,
                                                          thread_state_t new_state,
                                                          mach_msg_type_number_t* new_stateCnt) {
    return dispatch(MACH_EXCEPTION_RAISE_STATE_ID, MACH_PORT_NULL, MACH_PORT_NULL, exception, code, codeCnt, flavor,
                    old_state, old_stateCnt, new_state, new_stateCnt);
}
extern "C" kern_return_t catch_mach_exception_raise_state_identity(
    mach_port_t, mach_port_t thread, mach_port_t task, exception_type_t exception, mach_exception_data_t code,
    mach_msg_type_number_t codeCnt, int* flavor, thread_state_t old_state, mach_msg_type_number_t old_stateCnt,
    thread_state_t new_state, mach_msg_type_number_t* new_stateCnt) {
    return dispatch(MACH_EXCEPTION_RAISE_STATE_IDENTITY_ID, thread, task, exception, code, codeCnt, flavor, old_state,
                    old_stateCnt, new_state, new_stateCnt);
}

TEST_CASE("EXCEPTION_STATE_IDENTITY: the handler sees the registers and the fault, skips the store and sets rax") {
    StateRequest seen;
    x86_exception_state64_t trap{};
    uint64_t* bad = nullptr;
    StoreResult after{};
    machsim::RunReport r = mt::run_task([&] {
        bad = reinterpret_cast<uint64_t*>(mt::page_with(VM_PROT_READ));
        mach_port_t exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                          EXCEPTION_STATE_IDENTITY | MACH_EXCEPTION_CODES, x86_THREAD_STATE64),
                 KERN_SUCCESS);
        g_on_state = [&](const StateRequest& req, int* flavor, thread_state_t new_state,
                         mach_msg_type_number_t* new_count) {
            seen = req;
            // The thread is stopped at its fault: its port answers thread_get_state too.
            mach_msg_type_number_t n = x86_EXCEPTION_STATE64_COUNT;
            CHECK_KR(thread_get_state(req.thread, x86_EXCEPTION_STATE64, reinterpret_cast<thread_state_t>(&trap), &n),
                     KERN_SUCCESS);
            CHECK(n == x86_EXCEPTION_STATE64_COUNT);
            x86_thread_state64_t s = state64_of(req.old_state);
            s.__rip = g_after_store;
            s.__rax = 42;
            s.__rflags |= kCarry;
            CHECK(*new_count == THREAD_STATE_MAX);  // the room MIG's server gives
            std::memcpy(new_state, &s, sizeof s);
            *new_count = x86_THREAD_STATE64_COUNT;
            *flavor = x86_THREAD_STATE64;
            return KERN_SUCCESS;
        };
        serve_once_on_a_thread(exc, mach_exc_server);
        after = faulting_store(bad + 1);
        CHECK(bad[1] == 0);  // the store never happened: the thread went on after it
    });
    g_on_state = nullptr;
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen.routine == MACH_EXCEPTION_RAISE_STATE_IDENTITY_ID);
    CHECK(seen.exception == EXC_BAD_ACCESS);
    CHECK(seen.code == std::vector<int64_t>{KERN_PROTECTION_FAILURE, static_cast<int64_t>(uintptr_t(bad + 1))});
    CHECK(seen.flavor == x86_THREAD_STATE64);
    REQUIRE(seen.old_state.size() == x86_THREAD_STATE64_COUNT);
    x86_thread_state64_t old = state64_of(seen.old_state);
    CHECK(old.__rip == g_store_ip);
    CHECK(old.__rax == 7);
    CHECK((old.__rflags & kCarry) == 0);
    CHECK(old.__cs != 0);
    CHECK(trap.__trapno == 14);                  // a page fault
    CHECK((trap.__err & 2) != 0);                // on a write
    CHECK(trap.__faultvaddr == uintptr_t(bad + 1));
    CHECK(after.rax == 42);
    CHECK(after.carry);
}

TEST_CASE("EXCEPTION_STATE with 32-bit codes and the x86_THREAD_STATE wrapper: no rights, the state only") {
    StateRequest seen;
    StoreResult after{};
    mach_msg_type_number_t names_before = 0, names_after = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc, EXCEPTION_STATE, x86_THREAD_STATE),
                 KERN_SUCCESS);
        g_on_state = [&](const StateRequest& req, int* flavor, thread_state_t new_state,
                         mach_msg_type_number_t* new_count) {
            seen = req;
            REQUIRE(req.old_state.size() == x86_THREAD_STATE_COUNT);
            x86_thread_state_t s{};
            std::memcpy(&s, req.old_state.data(), sizeof s);
            CHECK(s.tsh.flavor == x86_THREAD_STATE64);
            CHECK(s.tsh.count == x86_THREAD_STATE64_COUNT);
            s.uts.ts64.__rip = g_after_store;
            // Flags a task may not set: single-step, alignment checks, direction. Only CF takes.
            s.uts.ts64.__rflags |= kTrapFlag | kAlignmentCheck | kDirectionFlag | kCarry;
            s.uts.ts64.__cs = 0x1234;  // read-only: ignored
            std::memcpy(new_state, &s, sizeof s);
            *new_count = x86_THREAD_STATE_COUNT;
            *flavor = x86_THREAD_STATE;
            return KERN_SUCCESS;
        };
        names_before = mt::name_count();
        serve_once_on_a_thread(exc, exc_server);
        after = faulting_store(reinterpret_cast<uint64_t*>(0x40));  // no region: KERN_INVALID_ADDRESS
        names_after = mt::name_count();
    });
    g_on_state = nullptr;
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen.routine == EXCEPTION_RAISE_STATE_ID);
    CHECK(seen.thread == MACH_PORT_NULL);
    CHECK(seen.code == std::vector<int64_t>{KERN_INVALID_ADDRESS, 0x40});
    CHECK(seen.flavor == x86_THREAD_STATE);
    CHECK(after.rax == 7);
    CHECK(after.carry);
    CHECK((after.flags & (kTrapFlag | kAlignmentCheck | kDirectionFlag)) == 0);
    CHECK(names_after == names_before + 1);  // the server thread's port; no thread or task right came
}

TEST_CASE("an EXCEPTION_DEFAULT handler moves the thread on with thread_get_state and thread_set_state") {
    uint64_t fault_rip = 0;
    StoreResult after{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                          EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES, THREAD_STATE_NONE),
                 KERN_SUCCESS);
        machsim::thread_start([&] {
            struct {
                mach_exception_raise_request_t req;
                mach_msg_trailer_t trailer;
            } in{};
            CHECK_KR(mach_msg(&in.req.Head, MACH_RCV_MSG, 0, sizeof in, exc, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
            mach_port_t thread = in.req.thread.name;
            x86_thread_state64_t s{};
            mach_msg_type_number_t n = x86_THREAD_STATE64_COUNT;
            CHECK_KR(thread_get_state(thread, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), &n),
                     KERN_SUCCESS);
            CHECK(n == x86_THREAD_STATE64_COUNT);
            fault_rip = s.__rip;
            s.__rip = g_after_store;
            s.__rax = 5;
            CHECK_KR(thread_set_state(thread, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), n),
                     KERN_SUCCESS);
            exception_raise_reply_t out{};
            out.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in.req.Head.msgh_bits), 0);
            out.Head.msgh_size = sizeof out;
            out.Head.msgh_remote_port = in.req.Head.msgh_remote_port;
            out.Head.msgh_id = in.req.Head.msgh_id + EXCEPTION_REPLY_ID_OFFSET;
            out.RetCode = KERN_SUCCESS;
            CHECK_KR(mach_msg(&out.Head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
            (void)mach_port_deallocate(mach_task_self(), thread);
            (void)mach_port_deallocate(mach_task_self(), in.req.task.name);
        });
        after = faulting_store(reinterpret_cast<uint64_t*>(0x40));
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(fault_rip == g_store_ip);
    CHECK(after.rax == 5);
}

TEST_CASE("thread_get_state and thread_set_state: codes for flavors, counts, pointers, and threads not at a fault") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t me = mach_thread_self();
        x86_thread_state_t s{};
        auto words = reinterpret_cast<thread_state_t>(&s);
        mach_msg_type_number_t n = x86_THREAD_STATE_COUNT;
        // Arguments first, then whether the thread has registers to give.
        CHECK_KR(thread_get_state(me, x86_FLOAT_STATE64, words, &n), KERN_INVALID_ARGUMENT);
        CHECK_KR(thread_get_state(me, x86_THREAD_STATE32, words, &n), KERN_INVALID_ARGUMENT);
        n = x86_THREAD_STATE64_COUNT - 1;
        CHECK_KR(thread_get_state(me, x86_THREAD_STATE64, words, &n), KERN_INVALID_ARGUMENT);
        n = x86_THREAD_STATE64_COUNT;
        CHECK_KR(thread_get_state(me, x86_THREAD_STATE64, words, &n), KERN_FAILURE);  // running, not at a fault
        CHECK_KR(thread_get_state(me, x86_THREAD_STATE64, words, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(thread_get_state(MACH_PORT_NULL, x86_THREAD_STATE64, words, &n), MACH_SEND_INVALID_DEST);
        CHECK_KR(thread_get_state(mach_task_self(), x86_THREAD_STATE64, words, &n), MACH_SEND_INVALID_DEST);

        CHECK_KR(thread_set_state(me, x86_THREAD_STATE64, words, x86_THREAD_STATE64_COUNT - 1), KERN_INVALID_ARGUMENT);
        CHECK_KR(thread_set_state(me, x86_EXCEPTION_STATE64, words, x86_EXCEPTION_STATE64_COUNT),
                 KERN_INVALID_ARGUMENT);
        s.tsh = {x86_THREAD_STATE32, x86_THREAD_STATE32_COUNT};
        CHECK_KR(thread_set_state(me, x86_THREAD_STATE, words, x86_THREAD_STATE_COUNT), KERN_INVALID_ARGUMENT);
        CHECK_KR(thread_set_state(me, x86_THREAD_STATE64, nullptr, x86_THREAD_STATE64_COUNT), KERN_INVALID_ADDRESS);
        CHECK_KR(thread_set_state(me, x86_THREAD_STATE64, words, THREAD_STATE_MAX + 1), MIG_ARRAY_TOO_LARGE);
        CHECK_KR(thread_set_state(me, x86_THREAD_STATE64, words, x86_THREAD_STATE64_COUNT), KERN_FAILURE);

        // Another thread, blocked in a receive: not at a fault either.
        mach_port_t port = mt::new_receive_right();
        mach_port_t other = machsim::thread_start([port] {
            mt::SimpleReceived in{};
            (void)mt::receive_simple(port, in);
        });
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);
        n = x86_THREAD_STATE64_COUNT;
        CHECK_KR(thread_get_state(other, x86_THREAD_STATE64, words, &n), KERN_FAILURE);
        CHECK_KR(thread_terminate(other), KERN_SUCCESS);
        (void)mach_port_deallocate(mach_task_self(), other);
        (void)mach_port_deallocate(mach_task_self(), me);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a state the thread cannot take passes the exception on; a bad rip faults again; both are contained") {
    for (bool bad_rip : {false, true}) {
        CAPTURE(bad_rip);
        int asked = 0;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            k.spawn("faulter", [&] {
                mach_port_t exc = mt::new_port_with_send();
                CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                                  EXCEPTION_STATE | MACH_EXCEPTION_CODES, x86_THREAD_STATE64),
                         KERN_SUCCESS);
                g_on_state = [&, bad_rip](const StateRequest& req, int* flavor, thread_state_t new_state,
                                          mach_msg_type_number_t* new_count) {
                    ++asked;
                    if (asked > 1) return KERN_FAILURE;  // the second fault: give up
                    x86_thread_state64_t s = state64_of(req.old_state);
                    if (bad_rip) {
                        s.__rip = 0x10;  // nothing there: the thread faults again
                        std::memcpy(new_state, &s, sizeof s);
                        *new_count = x86_THREAD_STATE64_COUNT;
                    } else {
                        *flavor = x86_FLOAT_STATE64;  // not a flavor that can be set
                        *new_count = 4;
                    }
                    return KERN_SUCCESS;
                };
                machsim::thread_start([exc] { (void)mach_msg_server(mach_exc_server, 4096, exc, 0); });
                (void)faulting_store(reinterpret_cast<uint64_t*>(0x40));
                CHECK(false);  // never reached
            });
            k.spawn("bystander", [] {
                for (int i = 0; i < 5; ++i) CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);
            });
        });
        g_on_state = nullptr;
        INFO(r.summary());
        mt::check_sound(r);
        CHECK(asked == (bad_rip ? 2 : 1));
        const machsim::TaskReport& t = report_of(r, "faulter");
        CHECK(t.end == machsim::TaskEnd::Signaled);
        CHECK(t.exit_code == machsim::sig::SEGV);
        CHECK(report_of(r, "bystander").end == machsim::TaskEnd::Exited);
    }
}

namespace {

// The SIGSEGV handler of the case below: the thread is stopped at its fault while
// the handler runs, so it can move itself past the faulting store, as a POSIX
// handler would through its ucontext.
kern_return_t g_handler_get = KERN_FAILURE, g_handler_set = KERN_FAILURE;
void skip_the_store(int) {
    mach_port_t self = mach_thread_self();
    x86_thread_state64_t s{};
    mach_msg_type_number_t n = x86_THREAD_STATE64_COUNT;
    g_handler_get = thread_get_state(self, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), &n);
    s.__rip = g_after_store;
    s.__rax = 11;
    g_handler_set = thread_set_state(self, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), n);
    (void)mach_port_deallocate(mach_task_self(), self);
}

}  // namespace

TEST_CASE("a fault's signal handler reads and sets its own thread's registers: the thread goes on past the store") {
    StoreResult after{};
    g_handler_get = g_handler_set = KERN_FAILURE;
    machsim::RunReport r = mt::run_task([&] {
        machsim::SignalAction act;
        act.kind = machsim::SignalAction::Handle;
        act.handler = skip_the_store;
        CHECK_KR(machsim::signal_action(machsim::sig::SEGV, &act, nullptr), KERN_SUCCESS);
        after = faulting_store(reinterpret_cast<uint64_t*>(0x40));
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(g_handler_get, KERN_SUCCESS);
    CHECK_KR(g_handler_set, KERN_SUCCESS);
    CHECK(after.rax == 11);
}

TEST_CASE("a hand-written state server: the request as MIG lays it out, the answer's state taken as sent") {
    struct {
        mach_exception_raise_state_request_t req;
        mach_msg_trailer_t trailer;
    } in{};
    StoreResult after{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t exc = mt::new_port_with_send();
        CHECK_KR(task_set_exception_ports(mach_task_self(), EXC_MASK_BAD_ACCESS, exc,
                                          EXCEPTION_STATE | MACH_EXCEPTION_CODES, x86_THREAD_STATE64),
                 KERN_SUCCESS);
        machsim::thread_start([&] {
            CHECK_KR(mach_msg(&in.req.Head, MACH_RCV_MSG, 0, sizeof in, exc, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
            exception_raise_state_reply_t out{};
            out.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in.req.Head.msgh_bits), 0);
            out.Head.msgh_remote_port = in.req.Head.msgh_remote_port;
            out.Head.msgh_id = in.req.Head.msgh_id + EXCEPTION_REPLY_ID_OFFSET;
            out.RetCode = KERN_SUCCESS;
            out.flavor = x86_THREAD_STATE64;
            out.new_stateCnt = x86_THREAD_STATE64_COUNT;
            x86_thread_state64_t s{};
            std::memcpy(&s, in.req.old_state, sizeof s);
            s.__rip = g_after_store;
            s.__rax = 3;
            std::memcpy(out.new_state, &s, sizeof s);
            out.Head.msgh_size = 44 + x86_THREAD_STATE64_COUNT * 4;  // the state's words only
            CHECK_KR(mach_msg(&out.Head, MACH_SEND_MSG, out.Head.msgh_size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
        });
        after = faulting_store(reinterpret_cast<uint64_t*>(0x40));
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(in.req.Head.msgh_id == MACH_EXCEPTION_RAISE_STATE_ID);
    CHECK(in.req.Head.msgh_size == 232);  // 64 bytes before the state, 42 words of it
    CHECK((in.req.Head.msgh_bits & MACH_MSGH_BITS_COMPLEX) == 0);
    CHECK(in.req.exception == EXC_BAD_ACCESS);
    CHECK(in.req.codeCnt == 2);
    CHECK(in.req.flavor == x86_THREAD_STATE64);
    CHECK(in.req.old_stateCnt == x86_THREAD_STATE64_COUNT);
    CHECK(after.rax == 3);
}

TEST_CASE("mach_exc_server takes a state request apart as MIG lays it out, and refuses malformed ones") {
    machsim::RunReport r = mt::run_task([] {
        // A 2406 request by hand, with one code: flavor and the state move up by 8 bytes.
        union {
            mach_exception_raise_state_request_t req;
            char bytes[sizeof(mach_exception_raise_state_request_t)];
        } in{};
        auto build = [&](mach_msg_type_number_t codes, mach_msg_type_number_t words) {
            std::memset(&in, 0, sizeof in);
            in.req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_PORT_SEND_ONCE, 0);
            in.req.Head.msgh_id = MACH_EXCEPTION_RAISE_STATE_ID;
            in.req.exception = EXC_BAD_ACCESS;
            in.req.codeCnt = codes;
            const int64_t code[3] = {KERN_INVALID_ADDRESS, 0x40, 0};  // a third, for a request with too many
            char* at = in.bytes + offsetof(mach_exception_raise_state_request_t, code);
            std::memcpy(at, code, codes * sizeof(int64_t));
            at += codes * sizeof(int64_t);
            const int flavor = x86_EXCEPTION_STATE64;
            std::memcpy(at, &flavor, sizeof flavor);
            std::memcpy(at + 4, &words, sizeof words);
            for (mach_msg_type_number_t w = 0; w < std::min(words, 8u); ++w) {
                natural_t v = 100 + w;
                std::memcpy(at + 8 + 4 * w, &v, sizeof v);
            }
            in.req.Head.msgh_size = static_cast<mach_msg_size_t>(at + 8 + 4 * words - in.bytes);
        };
        union {
            exception_raise_state_reply_t reply;
            char bytes[sizeof(exception_raise_state_reply_t)];
        } out{};
        StateRequest seen;
        g_on_state = [&](const StateRequest& req, int*, thread_state_t new_state, mach_msg_type_number_t* new_count) {
            seen = req;
            new_state[0] = 7;
            *new_count = 1;
            return KERN_SUCCESS;
        };

        build(1, 4);
        CHECK(mach_exc_server(&in.req.Head, &out.reply.Head));
        CHECK(out.reply.RetCode == KERN_SUCCESS);
        CHECK(seen.code == std::vector<int64_t>{KERN_INVALID_ADDRESS});
        CHECK(seen.flavor == x86_EXCEPTION_STATE64);
        CHECK(seen.old_state == std::vector<natural_t>{100, 101, 102, 103});
        CHECK(out.reply.Head.msgh_id == MACH_EXCEPTION_RAISE_STATE_ID + 100);
        CHECK(out.reply.Head.msgh_size == 44 + 4);  // one word of new state
        CHECK(out.reply.new_stateCnt == 1);
        CHECK(out.reply.new_state[0] == 7);

        // Malformed: answered MIG_BAD_ARGUMENTS, the routine not called.
        seen = {};
        build(2, THREAD_STATE_MAX + 1);  // a state longer than any
        in.req.Head.msgh_size = sizeof in.req;
        CHECK(mach_exc_server(&in.req.Head, &out.reply.Head));
        CHECK(out.reply.RetCode == MIG_BAD_ARGUMENTS);
        build(2, 4);
        in.req.Head.msgh_size += 4;  // a size its parts do not add up to
        CHECK(mach_exc_server(&in.req.Head, &out.reply.Head));
        CHECK(out.reply.RetCode == MIG_BAD_ARGUMENTS);
        build(3, 4);  // three codes
        CHECK(mach_exc_server(&in.req.Head, &out.reply.Head));
        CHECK(out.reply.RetCode == MIG_BAD_ARGUMENTS);
        build(2, 4);
        in.req.Head.msgh_id = MACH_EXCEPTION_RAISE_STATE_IDENTITY_ID;  // an identity request must be complex
        CHECK(mach_exc_server(&in.req.Head, &out.reply.Head));
        CHECK(out.reply.RetCode == MIG_BAD_ARGUMENTS);
        CHECK(seen.routine == 0);
        CHECK(out.reply.Head.msgh_size == sizeof(exception_raise_reply_t));

        // Not this subsystem's: MIG_BAD_ID and FALSE, whatever the id.
        for (mach_msg_id_t id : {EXCEPTION_RAISE_STATE_ID, MACH_EXCEPTION_RAISE_ID + 3, INT32_MIN, INT32_MAX}) {
            CAPTURE(id);
            in.req.Head.msgh_id = id;
            CHECK_FALSE(mach_exc_server(&in.req.Head, &out.reply.Head));
            CHECK(out.reply.RetCode == MIG_BAD_ID);
            CHECK(out.reply.Head.msgh_id == static_cast<mach_msg_id_t>(static_cast<uint32_t>(id) + 100));
        }
        g_on_state = nullptr;
    });
    INFO(r.summary());
    CHECK(r.clean());
}
