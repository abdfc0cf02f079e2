#include "kernel/machine/fault.h"

#include <link.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "kernel/machine/address_space.h"
#include "kernel/machine/sanitizer.h"
#include "kernel/machine/scheduler.h"
#include "kernel/machine/stack_pool.h"

extern "C" {
extern char machsim_usercopy_fault_begin[];
extern char machsim_usercopy_fault_end[];
extern char machsim_usercopy_fixup[];
}

namespace machsim::machine {

// Everything needed to put a faulted thread back as it was. It lives at the top
// of the thread's fault stack, followed by the x87/SSE/AVX state.
struct FaultRecord {
    Context* thread;
    FaultInfo info;
    gregset_t gregs;
    std::size_t fp_size;
    unsigned char* fp;
    // A fault in a fault's signal handler (which runs on the fault stack) nests:
    // the stack the thread stood on, and its fault's record there; none otherwise.
    StackPool::Stack outer;
    FaultRecord* outer_record;
};

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGVTALRM};
struct sigaction previous[std::size(kSignals)];

// The record of the thread being resumed, between FaultDetour::run's self-sent
// signal and its handler.
thread_local FaultRecord* resuming = nullptr;

// Bytes of saved FPU state in a signal frame: the whole XSAVE area when the
// kernel says it wrote one (Linux marks it in the fxsave area's software bytes),
// else the 512-byte legacy area.
std::size_t fp_size_of(const ucontext_t* uc) {
    if (!uc->uc_mcontext.fpregs) return 0;
    const auto* bytes = reinterpret_cast<const unsigned char*>(uc->uc_mcontext.fpregs);
    uint32_t magic = 0;
    uint32_t xstate_size = 0;
    std::memcpy(&magic, bytes + 464, sizeof magic);             // fpx_sw_bytes.magic1
    std::memcpy(&xstate_size, bytes + 464 + 16, sizeof xstate_size);  // fpx_sw_bytes.xstate_size
    constexpr uint32_t kXstateMagic = 0x46505853;  // "FPXS"
    return magic == kXstateMagic && xstate_size >= 512 ? xstate_size : 512;
}

void chain(int sig, siginfo_t* info, void* uctx) {
    std::size_t i = 0;
    while (kSignals[i] != sig) ++i;
    const struct sigaction& prev = previous[i];
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) return prev.sa_sigaction(sig, info, uctx);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler) {
        return prev.sa_handler(sig);
    }
    // Nobody else wants it: the default action. A fault re-runs its instruction
    // and faults again; a sent signal is sent again.
    signal(sig, SIG_DFL);
    if (info->si_code <= 0) raise(sig);
}

// The watchdog's state: armed by a Watchdog for the length of a run.
struct WatchState {
    bool armed = false;
    uint32_t ticks_to_stop = 0;  // quiet ticks that make a runaway
    uint32_t quiet = 0;          // ticks in a row with the same thread and no kernel entry
    const Context* last = nullptr;
    uint64_t entries = 0;
};
thread_local WatchState watch;

// The program's own code (where task code and the kernel live), as opposed to
// shared libraries. Collected once, outside any signal handler.
struct CodeRange {
    uintptr_t lo, hi;
};
CodeRange program_code[8];
int program_code_count = 0;

int collect_program_code(dl_phdr_info* info, std::size_t, void*) {
    for (int i = 0; i < info->dlpi_phnum && program_code_count < 8; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
        program_code[program_code_count++] = {lo, lo + ph.p_memsz};
    }
    return 1;  // the first object is the program itself
}

bool in_program(uintptr_t pc) {
    for (int i = 0; i < program_code_count; ++i)
        if (pc >= program_code[i].lo && pc < program_code[i].hi) return true;
    return false;
}

bool in_usercopy(uintptr_t pc) {
    return pc >= reinterpret_cast<uintptr_t>(machsim_usercopy_fault_begin) &&
           pc < reinterpret_cast<uintptr_t>(machsim_usercopy_fault_end);
}

// Tells AddressSanitizer that this thread now runs on [lo, lo + size).
void asan_move_to(const void* lo, std::size_t size) {
    void* fake = nullptr;
    asan_start_switch(&fake, lo, size);
    asan_finish_switch(fake, nullptr, nullptr);
}

}  // namespace

// The detour's three steps; a friend of Scheduler and Context.
struct FaultDetour {
    // The record of c's innermost fault, while the kernel handles it.
    static FaultRecord* record(const Context& c) { return c.in_fault() ? c.fault_record_ : nullptr; }

    // In the signal handler: moves thread c onto a fault stack, where it will
    // call run(). False (and nothing changed) when no fault stack is ready.
    static bool enter(Scheduler& s, Context* c, const FaultInfo& info, ucontext_t* uc) {
        StackPool::Stack fs;
        if (!s.take_fault_stack(fs)) return false;
        std::size_t fp_size = fp_size_of(uc);
        auto top = reinterpret_cast<uintptr_t>(fs.top());
        uintptr_t base = (top - sizeof(FaultRecord) - fp_size - 64) & ~uintptr_t{63};
        auto* r = new (reinterpret_cast<void*>(base)) FaultRecord{};
        r->thread = c;
        r->info = info;
        std::memcpy(r->gregs, uc->uc_mcontext.gregs, sizeof r->gregs);
        r->fp_size = fp_size;
        r->fp = reinterpret_cast<unsigned char*>((base + sizeof(FaultRecord) + 63) & ~uintptr_t{63});
        if (fp_size) std::memcpy(r->fp, uc->uc_mcontext.fpregs, fp_size);
        r->outer = c->fault_stack_;
        r->outer_record = c->fault_record_;
        c->fault_stack_ = fs;
        c->fault_record_ = r;
        c->asan_bottom_ = fs.lo;
        c->asan_size_ = fs.size;
        asan_move_to(fs.lo, fs.size);
        // Returning from the handler "calls" run(r) on the fault stack.
        uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>((base & ~uintptr_t{15}) - 8);
        uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(&FaultDetour::run);
        uc->uc_mcontext.gregs[REG_RDI] = static_cast<greg_t>(base);
        return true;
    }

    // On the fault stack, in ordinary context: the kernel decides.
    [[noreturn]] static void run(FaultRecord* r) {
        Context* c = r->thread;
        Scheduler& s = *c->sched_;
        c->in_kernel = true;
        s.replenish_fault_stack();
        bool resume = s.fault_handler_ && s.fault_handler_(c, r->info, s.fault_ctx_);
        if (!resume) {
            release_outer(s, r);  // the faults it was nested in end with it
            c->fault_record_ = nullptr;
            s.exit_faulted();
        }
        c->in_kernel = false;
        StackPool::Stack fs = c->fault_stack_;
        // Back where the fault came from: the thread's stack, or the enclosing fault's.
        c->fault_stack_ = r->outer;
        c->fault_record_ = r->outer_record;
        const StackPool::Stack& back = r->outer.lo ? r->outer : c->stack_;
        c->asan_bottom_ = back.lo;
        c->asan_size_ = back.size;
        // Nothing can take the stack we stand on before the signal below is handled.
        s.stacks_.release(fs);
        resuming = r;
        sigset_t segv;
        sigemptyset(&segv);
        sigaddset(&segv, SIGSEGV);
        pthread_sigmask(SIG_UNBLOCK, &segv, nullptr);
        syscall(SYS_tgkill, getpid(), gettid(), SIGSEGV);
        std::abort();  // unreachable: the handler does not come back here
    }

    // Releases the fault stacks of the faults r is nested in.
    static void release_outer(Scheduler& s, const FaultRecord* r) {
#ifdef MACHSIM_ASAN
        constexpr bool keep_frames = true;  // the enclosing faults' frames stay, as exit_faulted keeps the thread's
#else
        constexpr bool keep_frames = false;
#endif
        release_chain(s, r->outer, r->outer_record, keep_frames);
    }

    // Releases fault stack st, whose fault's record is r, and those of the faults it
    // is nested in. Each record lives on the stack it names, so it is read before
    // that goes. keep_frames: retire them instead (StackPool::retire).
    static void release_chain(Scheduler& s, StackPool::Stack st, const FaultRecord* r, bool keep_frames) {
        while (st.lo) {
            StackPool::Stack next = r ? r->outer : StackPool::Stack{};
            const FaultRecord* next_record = r ? r->outer_record : nullptr;
            if (keep_frames) {
                s.stacks_.retire(st);
            } else {
                s.stacks_.release(st);
            }
            st = next;
            r = next_record;
        }
    }

    // In the handler of that signal: the frame it returns through becomes the
    // one saved at the fault, so the return restores every register.
    static void resume(ucontext_t* uc) {
        FaultRecord* r = resuming;
        resuming = nullptr;
        std::memcpy(uc->uc_mcontext.gregs, r->gregs, sizeof r->gregs);
        std::size_t n = std::min(r->fp_size, fp_size_of(uc));
        if (n) std::memcpy(uc->uc_mcontext.fpregs, r->fp, n);
        const StackPool::Stack& back = r->outer.lo ? r->outer : r->thread->stack_;
        asan_move_to(back.lo, back.size);
    }
};

// --- a stopped thread's registers ------------------------------------------------

namespace {

// Where each general register (and rip) lives in the saved gregs.
struct GregSlot {
    uint64_t UserRegisters::*field;
    int greg;
};
constexpr GregSlot kGregs[] = {
    {&UserRegisters::rax, REG_RAX}, {&UserRegisters::rbx, REG_RBX}, {&UserRegisters::rcx, REG_RCX},
    {&UserRegisters::rdx, REG_RDX}, {&UserRegisters::rdi, REG_RDI}, {&UserRegisters::rsi, REG_RSI},
    {&UserRegisters::rbp, REG_RBP}, {&UserRegisters::rsp, REG_RSP}, {&UserRegisters::r8, REG_R8},
    {&UserRegisters::r9, REG_R9},   {&UserRegisters::r10, REG_R10}, {&UserRegisters::r11, REG_R11},
    {&UserRegisters::r12, REG_R12}, {&UserRegisters::r13, REG_R13}, {&UserRegisters::r14, REG_R14},
    {&UserRegisters::r15, REG_R15}, {&UserRegisters::rip, REG_RIP},
};

// CF, PF, AF, ZF, SF, OF: the flags a task may set.
constexpr uint64_t kArithmeticFlags = 0x8D5;

}  // namespace

bool read_fault_registers(const Context& c, UserRegisters& regs, TrapInfo& trap) {
    const FaultRecord* r = FaultDetour::record(c);
    if (!r) return false;
    for (const GregSlot& g : kGregs) regs.*g.field = static_cast<uint64_t>(r->gregs[g.greg]);
    regs.rflags = static_cast<uint64_t>(r->gregs[REG_EFL]);
    auto segments = static_cast<uint64_t>(r->gregs[REG_CSGSFS]);  // cs, gs, fs, ss: 16 bits each
    regs.cs = segments & 0xFFFF;
    regs.gs = (segments >> 16) & 0xFFFF;
    regs.fs = (segments >> 32) & 0xFFFF;
    trap.trapno = static_cast<uint16_t>(r->gregs[REG_TRAPNO]);
    trap.err = static_cast<uint32_t>(r->gregs[REG_ERR]);
    trap.cr2 = static_cast<uint64_t>(r->gregs[REG_CR2]);
    return true;
}

void set_user_registers(UserRegisters& regs, const UserRegisters& wanted) {
    for (const GregSlot& g : kGregs) regs.*g.field = wanted.*g.field;
    regs.rflags = (regs.rflags & ~kArithmeticFlags) | (wanted.rflags & kArithmeticFlags);
}

bool write_fault_registers(Context& c, const UserRegisters& wanted) {
    UserRegisters regs{};
    TrapInfo trap{};
    if (!read_fault_registers(c, regs, trap)) return false;
    FaultRecord* r = FaultDetour::record(c);
    set_user_registers(regs, wanted);
    for (const GregSlot& g : kGregs) r->gregs[g.greg] = static_cast<greg_t>(regs.*g.field);
    r->gregs[REG_EFL] = static_cast<greg_t>(regs.rflags);
    return true;
}

namespace {

// A watchdog tick: is the running task thread still where it was, without a kernel entry?
void on_tick(ucontext_t* uc) {
    Scheduler* s = Scheduler::active();
    Context* c = s && !s->on_idle() ? s->current() : nullptr;
    // A thread in a fault's signal handler runs task code too (on its fault stack,
    // not in the kernel): an endless loop there is stopped the same way, as a nested fault.
    if (!c || c->in_kernel || c != watch.last || s->kernel_entries() != watch.entries) {
        watch.last = c;
        watch.entries = s ? s->kernel_entries() : 0;
        watch.quiet = 0;
        return;
    }
    auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    if (++watch.quiet < watch.ticks_to_stop || !in_program(pc)) return;  // inside a library: next tick
    watch.quiet = 0;
    FaultInfo f;
    f.signal = SIGXCPU;
    f.pc = pc;
    f.address = pc;
    f.runaway = true;
    (void)FaultDetour::enter(*s, c, f, uc);
}

void on_signal(int sig, siginfo_t* info, void* uctx) {
    auto* uc = static_cast<ucontext_t*>(uctx);
    auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    if (sig == SIGSEGV && resuming && info->si_code == SI_TKILL) return FaultDetour::resume(uc);
    if (sig == SIGVTALRM) {
        if (watch.armed && info->si_code == SI_TIMER) return on_tick(uc);
        return chain(sig, info, uctx);
    }
    bool memory = sig == SIGSEGV || sig == SIGBUS;
    Scheduler* s = Scheduler::active();
    Context* c = s && !s->on_idle() ? s->current() : nullptr;
    // The running task touches its own memory for the first time since it was switched in.
    if (memory && c && c->vm && !c->vm->is_open() && AddressSpace::in_range(addr) && c->vm->find(addr)) {
        c->vm->open();
        return;  // the access runs again, now mapped
    }
    if (memory && in_usercopy(pc)) {
        uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(machsim_usercopy_fixup);
        return;
    }
    if (c && !c->in_kernel) {
        FaultInfo f;
        f.signal = sig;
        f.code = info->si_code;
        f.address = memory ? addr : pc;
        f.pc = pc;
        f.write = memory && uc->uc_mcontext.gregs[REG_TRAPNO] == 14 && (uc->uc_mcontext.gregs[REG_ERR] & 2);
        auto lo = reinterpret_cast<uintptr_t>(c->stack_lo());
        f.stack_overflow = memory && addr < lo && lo - addr <= StackPool::kGuardBytes;
        if (FaultDetour::enter(*s, c, f, uc)) return;
    }
    chain(sig, info, uctx);
}

}  // namespace

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
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;  // ticks must not fail the host's calls
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(kSignals); ++i) {
        struct sigaction current {};
        sigaction(kSignals[i], nullptr, &current);
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_signal) continue;
        previous[i] = current;
        sigaction(kSignals[i], &sa, nullptr);
    }
}

// --- the watchdog --------------------------------------------------------------

Watchdog::Watchdog(uint32_t limit_ms) {
    if (limit_ms == 0 || watch.armed) return;
    if (program_code_count == 0) dl_iterate_phdr(collect_program_code, nullptr);
    constexpr uint32_t kTickMs = 20;
    sigevent ev{};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGVTALRM;
    ev._sigev_un._tid = static_cast<pid_t>(gettid());
    timer_t t{};
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t) != 0) return;  // no watchdog, as with limit 0
    watch = WatchState{};
    watch.armed = true;
    watch.ticks_to_stop = std::max<uint32_t>(1, limit_ms / kTickMs);
    itimerspec every{};
    every.it_interval.tv_nsec = kTickMs * 1'000'000L;
    every.it_value = every.it_interval;
    timer_settime(t, 0, &every, nullptr);
    timer_ = t;
}

Watchdog::~Watchdog() {
    if (!timer_) return;
    timer_delete(static_cast<timer_t>(timer_));
    watch.armed = false;
}

// --- the scheduler's side ----------------------------------------------------

bool Scheduler::take_fault_stack(StackPool::Stack& out) {
    if (!spare_fault_stack_.lo) return false;
    out = spare_fault_stack_;
    spare_fault_stack_ = {};
    return true;
}

void Scheduler::replenish_fault_stack() {
    if (!spare_fault_stack_.lo) (void)stacks_.allocate(spare_fault_stack_);
}

void Scheduler::drop_spare_fault_stack() {
    stacks_.release(spare_fault_stack_);
    spare_fault_stack_ = {};
}

void Scheduler::release_fault_stacks(Context* c) {
    FaultDetour::release_chain(*this, c->fault_stack_, c->fault_record_, false);
    c->fault_stack_ = {};
    c->fault_record_ = nullptr;
}

void Scheduler::exit_faulted() {
    Context* self = current_;
#ifdef MACHSIM_ASAN
    stacks_.retire(self->stack_);  // its frames stay as they were, for LeakSanitizer (see fault.h)
#else
    stacks_.release(self->stack_);
#endif
    self->stack_ = self->fault_stack_;  // released once we are off it
    self->fault_stack_ = {};
    exit_current();
}

void Scheduler::exit_abandoned() {
    Context* self = current_;
#ifdef MACHSIM_ASAN
    zombie_keeps_frames_ = true;  // the stack it stands on keeps its frames too, thread's or fault's
#endif
    if (self->fault_stack_.lo) {  // in a fault's signal handler: it ends as its fault would
        FaultDetour::release_outer(*this, self->fault_record_);
        self->fault_record_ = nullptr;
        exit_faulted();
    }
    exit_current();
}

}  // namespace machsim::machine
