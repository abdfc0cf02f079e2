// Hardware faults in task code: the host signal handler and the detour that
// turns a fault into a kernel event the faulting thread itself processes.
//
// A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE) or abort() (SIGABRT) in a thread
// running task code does not reach the host. The handler saves the thread's
// registers, including the vector state, and makes it continue on a fresh
// kernel stack in FaultDetour::run, outside the signal handler, where the kernel may
// block it, send messages, switch away. The kernel's FaultHandler decides:
//   resume: the registers come back exactly as they were (through a second,
//           self-sent signal, whose return restores the whole machine state)
//           and the faulting instruction runs again;
//   end:    the thread never runs again. Its stack is not unwound (a non-call
//           instruction cannot throw): it is retired, kept mapped and known
//           to LeakSanitizer as a root, up to kRetiredStacks per process.
// Faults elsewhere (the kernel itself, the host) go to the handler that was
// installed before ours, as if we were not there.
#pragma once

#include <cstdint>

namespace machsim::machine {

class Context;

struct FaultInfo {
    int signal = 0;          // host SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT
    int code = 0;            // host si_code
    uintptr_t address = 0;   // the address touched (SIGSEGV, SIGBUS) or the instruction (SIGILL, SIGFPE)
    uintptr_t pc = 0;
    bool write = false;           // the access was a write
    bool stack_overflow = false;  // it touched the guard gap below the thread's own stack
    bool runaway = false;         // not a fault: the watchdog stopped a thread that never enters the kernel
};

// The registers of a thread stopped at a fault, as it will resume: the fields
// of XNU's x86_thread_state64_t, in its order, and what the trap itself said.
struct UserRegisters {
    uint64_t rax, rbx, rcx, rdx, rdi, rsi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags, cs, fs, gs;
};
struct TrapInfo {
    uint16_t trapno;  // the x86 vector (14: page fault)
    uint32_t err;     // its error code
    uint64_t cr2;     // the faulting address of a page fault
};

// The registers of c at its fault, while the kernel handles that fault
// (Context::in_fault); false otherwise. Only then does the simulator hold a
// thread's user registers: a thread that entered the kernel by a call has left
// them in its compiled code's frames.
bool read_fault_registers(const Context& c, UserRegisters& regs, TrapInfo& trap);

// What a task may set of a thread's registers: `regs` with `wanted`'s general
// registers and rip, and of its rflags the arithmetic flags only (a trap flag or an
// alignment check would stop the host, a set direction flag would corrupt the
// kernel's copies); cs, fs and gs stay.
void set_user_registers(UserRegisters& regs, const UserRegisters& wanted);

// Replaces them: c resumes with these, as set_user_registers takes them. False
// when c is not stopped at a fault.
bool write_fault_registers(Context& c, const UserRegisters& regs);

// What the kernel does about a fault of thread c. Runs as c, in ordinary
// context, on a kernel stack. True: resume c at the faulting instruction.
// False: c is finished (the kernel has done its bookkeeping) and never runs again.
using FaultHandler = bool (*)(Context* c, const FaultInfo& f, void* ctx);

// Installs the process-wide handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and
// SIGABRT. Host code (a test framework, a grader) may install its own at any
// time; ours goes back on top whenever a kernel starts or runs.
void install_fault_handler();

// Stacks of faulted-and-ended threads kept per process under LeakSanitizer
// (see above). Without it they are reused at once.
constexpr int kRetiredStacks = 4096;

// The runaway watchdog, armed for the length of a run: a task thread that runs
// `limit_ms` of host CPU time without entering the kernel (an endless loop)
// is detoured like a fault, with FaultInfo::runaway set. It is only stopped
// while it runs code of the program itself, never inside a shared library
// (malloc, say), whose state the kernel's own code needs intact. 0: no watchdog.
class Watchdog {
public:
    explicit Watchdog(uint32_t limit_ms);
    ~Watchdog();
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    void* timer_ = nullptr;
};

}  // namespace machsim::machine
