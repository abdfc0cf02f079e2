#include "kernel/machine/usercopy.h"

#include <signal.h>
#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

extern "C" {
extern char machsim_usercopy_fault_begin[];
extern char machsim_usercopy_fault_end[];
extern char machsim_usercopy_fixup[];
}

namespace machsim::machine {

namespace {

struct sigaction previous_segv;
struct sigaction previous_bus;

void chain(int sig, siginfo_t* info, void* uctx) {
    const struct sigaction& prev = sig == SIGSEGV ? previous_segv : previous_bus;
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) return prev.sa_sigaction(sig, info, uctx);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler) {
        return prev.sa_handler(sig);
    }
    // Nobody else wants it: restore the default action; returning re-runs the
    // faulting instruction, which now terminates the process as usual.
    signal(sig, SIG_DFL);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    auto* uc = static_cast<ucontext_t*>(uctx);
    auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    if (pc >= reinterpret_cast<uintptr_t>(machsim_usercopy_fault_begin) &&
        pc < reinterpret_cast<uintptr_t>(machsim_usercopy_fault_end)) {
        uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(machsim_usercopy_fixup);
        return;
    }
    chain(sig, info, uctx);
}

}  // namespace

// Host code (a test framework, a grader) may install its own handlers at any
// time; ours goes back on top whenever a kernel starts or runs, and passes on
// every fault that is not a user copy's to the handler it found.
void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        // An alternate stack, so that a fault on an exhausted fiber stack can still be handled.
        static char altstack[64 * 1024];
        stack_t ss{};
        ss.ss_sp = altstack;
        ss.ss_size = sizeof altstack;
        sigaltstack(&ss, nullptr);
    });
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (auto [sig, previous] : {std::pair{SIGSEGV, &previous_segv}, std::pair{SIGBUS, &previous_bus}}) {
        struct sigaction current {};
        sigaction(sig, nullptr, &current);
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) continue;
        *previous = current;
        sigaction(sig, &sa, nullptr);
    }
}

}  // namespace machsim::machine
