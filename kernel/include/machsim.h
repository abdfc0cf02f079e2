// machsim: a Mach-style microkernel simulated in one process.
// The host embedding API: configure a kernel, spawn tasks, run, read the report.
//
//   machsim::Kernel k;
//   k.spawn("server", [] { /* task body: its first thread, using <mach/mach.h> */ });
//   machsim::RunReport r = k.run();
//
// Task bodies call the Mach API (<mach/mach.h>). Everything runs on the host
// thread that calls run(); time is virtual and the run is deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mach/message.h"
#include "mach/port.h"
#include "machsim/trace.h"

namespace machsim {

namespace gate {
class Kernel;
}

// Which ready thread runs next (docs/api.md §1.1).
enum class Policy : uint8_t {
    RoundRobin,  // the run queue in order; a thread runs until it blocks, yields or its quantum ends
    Random,      // at every kernel entry, a coin decides whether to switch, and to which ready thread
    Pct,         // probabilistic concurrency testing: random priorities, lowered at pct_depth-1 random points
};
// "round-robin", "random" or "pct".
const char* policy_name(Policy policy);

struct Config {
    uint64_t seed = 1;             // feeds the Random and Pct policies; recorded in the run report
    Policy policy = Policy::RoundRobin;
    uint32_t pct_depth = 3;        // Policy::Pct: d, one more than the number of priority change points
    uint64_t pct_steps = 1000;     // Policy::Pct: the change points fall among the first this many kernel entries
    uint64_t quantum = 10'000;     // ticks a thread may run before the timer asks it to yield
    uint64_t syscall_cost = 1;     // ticks each kernel entry costs (1 tick = 1 virtual microsecond)
    std::size_t stack_size = 64 * 1024;  // bytes of stack per thread, plus a 1 MiB guard gap
    // Threads alive at once, in all tasks (0 = as many as the host gives stacks for,
    // about 32,000 here: docs/memory.md). Past it a new task or thread cannot start.
    uint32_t max_threads = 0;
    uint32_t qlimit_max = 16;      // largest qlimit mach_port_set_attributes accepts
    uint32_t max_names = 1u << 16; // names one space may hold before KERN_NO_SPACE
    uint32_t max_message = 1u << 20;  // largest inline message (bytes) before MACH_SEND_TOO_LARGE
    uint64_t max_ticks = 0;        // stop the run at this virtual time (0 = no limit)
    // A thread that runs this long (host CPU milliseconds) without entering the
    // kernel is taken for an endless loop: its task gets SIGXCPU (0 = never).
    uint32_t runaway_ms = 2000;
    // What tasks write to the console (device_write) also goes to the host's standard
    // output as it is written. Kernel::console_output() keeps it either way.
    bool console_echo = true;
};

// A disk for Kernel::add_disk: records of 512 bytes, served one request at a time in
// the order they arrive, each taking seek_ticks plus record_ticks per record it touches.
struct DiskOptions {
    uint32_t records = 128;       // 64 KiB
    uint64_t seek_ticks = 1000;   // 1 ms of virtual time
    uint64_t record_ticks = 20;
};

enum class TaskEnd : uint8_t {
    Running,     // still alive (only in reports taken mid-run)
    Exited,      // its body returned
    Crashed,     // an exception escaped its body
    ShutDown,    // a daemon stopped when the ordinary tasks were done
    Deadlocked,  // blocked forever; stopped when the run ended in deadlock
    Stopped,     // stopped because the run hit a limit (max_ticks)
    Terminated,  // ended by task_terminate
    Signaled,    // ended by a signal's default action (exit_code = the signal): a fault nobody handled, task_signal
};
const char* task_end_name(TaskEnd end);

struct TaskReport {
    uint32_t id = 0;
    std::string name;
    bool daemon = false;
    TaskEnd end = TaskEnd::Running;
    int exit_code = 0;
    std::string detail;  // e.g. the what() of the exception that crashed it
};

struct BlockedThread {
    uint32_t task = 0;
    std::string task_name;
    uint32_t thread = 0;
    std::string waiting;       // "receive", "send", "semaphore", "sleep" or "suspended"
    uint32_t port = 0;         // port object number (0 = none)
    mach_port_name_t name = 0; // the name it waits on, in its own space
    uint32_t holder = 0;       // task holding the port's receive right; for a semaphore, its maker (0 = none)
    std::string holder_name;
    // "receive": the tasks still holding a send or send-once right to the port (or to a member
    // of the set), the waiter's own task included: the ones that could have sent it a message.
    struct TaskRef {
        uint32_t id = 0;
        std::string name;
    };
    std::vector<TaskRef> senders;
    std::string describe() const;
};

struct RunReport {
    std::vector<TaskReport> tasks;
    bool deadlock = false;
    std::vector<BlockedThread> blocked;  // set when deadlock
    bool time_limit = false;             // stopped at Config::max_ticks
    std::vector<std::string> leaks;      // kernel objects that outlived every task
    std::vector<std::string> accounting; // disagreements the kernel's census of rights found (kernel bugs)
    uint64_t ticks = 0;
    uint64_t events = 0;
    uint64_t seed = 0;
    Policy policy = Policy::RoundRobin;
    uint64_t kernel_entries = 0;  // system calls and other entries: PCT's steps (Config::pct_steps)

    const TaskReport* task(std::string_view name) const;
    // True when every non-daemon task exited normally, with no deadlock, no leak and sound accounting.
    bool clean() const;
    std::string summary() const;
};

struct SpawnOptions {
    bool daemon = false;  // a server that waits for work: shut down when the ordinary tasks are done
    // For task_spawn from a task (Mach's task_create inherit_memory): the child
    // gets the caller's regions as vm_inherit says (SHARE, COPY, NONE).
    bool inherit_memory = true;
    // A privileged task, as GNU Mach's drivers: get_privileged_ports (<device/device.h>)
    // gives it the master device port. From task_spawn, only a privileged caller can pass it on.
    bool privileged = false;
};

// One line of the simulated interrupt controller, as Kernel::irq_line reports it.
struct IrqLine {
    bool registered = false;  // a driver's port takes its interrupts
    bool masked = false;      // delivered, not yet acknowledged (device_intr_ack)
    bool pending = false;     // one interrupt remembered (raises while masked coalesce into it)
    int priority = 0;         // higher is delivered first; equal: the lower line first
    uint64_t raised = 0, delivered = 0, coalesced = 0, lost = 0;  // raised = delivered + coalesced + lost + pending
};

class Kernel {
public:
    explicit Kernel(Config cfg = {});
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    // Creates a task whose first thread runs `body`; returns the task id.
    // `body` may return void or int (the exit code). Spawning during run() from a
    // task body is allowed.
    template <class F>
    uint32_t spawn(std::string name, F&& body, SpawnOptions opts = {}) {
        using R = std::invoke_result_t<F&>;
        static_assert(std::is_void_v<R> || std::is_convertible_v<R, int>,
                      "a task body returns void or int");
        if constexpr (std::is_void_v<R>) {
            return spawn_task(std::move(name),
                              [f = std::forward<F>(body)]() mutable { f(); return 0; }, opts);
        } else {
            return spawn_task(std::move(name),
                              [f = std::forward<F>(body)]() mutable { return static_cast<int>(f()); },
                              opts);
        }
    }

    void attach(TraceSink& sink);
    void detach(TraceSink& sink);

    // Runs until every ordinary task has ended, the run deadlocks, or a limit is hit.
    RunReport run();

    const Config& config() const;

    // Interrupts (docs/api.md section 17), lines 0..15. Each returns false for a bad line
    // (or a timer with period 0) and changes nothing then. Callable before run() and from tasks.
    // `count` raises of `line` at virtual tick `tick` (a storm when count > 1).
    bool raise_irq(uint32_t line, uint64_t tick, uint64_t count = 1);
    // A timer device: raises `line` every `period` ticks, first at `first` (0: at `period`),
    // `count` times (0: for as long as the run lasts).
    bool timer_device(uint32_t line, uint64_t period, uint64_t first = 0, uint64_t count = 0);
    bool set_irq_priority(uint32_t line, int priority);
    // The console's scripted input: `bytes` arrive at `tick` and raise the console's line (4);
    // a driver reads them with device_read_inband on the "console" device. False for no bytes.
    bool console_input(uint64_t tick, std::string bytes);
    IrqLine irq_line(uint32_t line) const;  // all zero for a bad line
    // Everything tasks have written to the console (device_write on "console"), in order.
    const std::string& console_output() const;
    // Attaches the disk "hd0" (docs/api.md section 17.12), zero-filled, then `image` from
    // byte 0. False (and no disk) for a second disk, no records, more than 65,536 records
    // (32 MiB), or an image larger than the disk.
    bool add_disk(DiskOptions opts = {}, std::string image = {});
    // The disk's bytes as the tasks have left them (empty when there is no disk).
    const std::string& disk_contents() const;

    gate::Kernel& core() { return *core_; }

private:
    uint32_t spawn_task(std::string name, std::function<int()> body, SpawnOptions opts);
    std::unique_ptr<gate::Kernel> core_;
};

// Task-side helpers, callable from task bodies.
void compute(uint64_t ticks);  // model CPU work: advance this thread's virtual time
uint64_t now();                // the virtual clock, in ticks

// Starts another thread in the calling task running `body`; returns a send
// right to its thread port (MACH_PORT_NULL when no thread could be made).
mach_port_t thread_start(std::function<void()> body);

// Creates a task running `body`, which may return void or int (its exit code).
// `give` (a name in the caller's space, copied in with `disposition`) arrives in
// the new task under the name passed to `body`; the new task also starts with
// its own task port and the bootstrap port, and (unless opts.inherit_memory is
// false) the caller's memory as vm_inherit says. Returns a send right to its
// task port (MACH_PORT_NULL on failure).
mach_port_t task_spawn_body(std::string name, std::function<int(mach_port_t)> body, mach_port_t give,
                            mach_msg_type_name_t disposition, SpawnOptions opts);
template <class F>
mach_port_t task_spawn(std::string name, F&& body, mach_port_t give = MACH_PORT_NULL,
                       mach_msg_type_name_t disposition = MACH_MSG_TYPE_COPY_SEND, SpawnOptions opts = {}) {
    using R = std::invoke_result_t<F&, mach_port_t>;
    if constexpr (std::is_void_v<R>) {
        return task_spawn_body(std::move(name), [f = std::forward<F>(body)](mach_port_t p) mutable { f(p); return 0; },
                               give, disposition, opts);
    } else {
        return task_spawn_body(std::move(name),
                               [f = std::forward<F>(body)](mach_port_t p) mutable { return static_cast<int>(f(p)); },
                               give, disposition, opts);
    }
}

// Starts a named program (see register_program) from inside a task: its setup
// spawns its tasks into the running kernel. False if there is no such program.
bool program_spawn(std::string_view name);
// The kernel's census of every right and reference: one line per disagreement
// between what ports count and what spaces, messages and threads hold. Empty
// when the books balance. Callable from task bodies at any point.
std::vector<std::string> check_invariants();

// --- Signals -----------------------------------------------------------------
// BSD signals for tasks, with XNU's numbers, kept in this namespace so that the
// host's own signals and <signal.h> are untouched. Each task has one set of
// handlers, one blocked set and one pending set. A signal is delivered when a
// thread of the task next leaves the kernel; a thread blocked in the kernel is
// interrupted for it, runs the handler, and its call restarts (mach_msg returns
// MACH_RCV_INTERRUPTED / MACH_SEND_INTERRUPTED instead where the options
// MACH_RCV_INTERRUPT / MACH_SEND_INTERRUPT ask for that; semaphore waits and
// thread_switch sleeps return KERN_ABORTED). docs/signals.md has the details.
namespace sig {
enum : int {
    HUP = 1, INT, QUIT, ILL, TRAP, ABRT, EMT, FPE, KILL, BUS, SEGV, SYS, PIPE, ALRM, TERM, URG,
    STOP, TSTP, CONT, CHLD, TTIN, TTOU, IO, XCPU, XFSZ, VTALRM, PROF, WINCH, INFO, USR1, USR2,
};
constexpr int kCount = 32;  // numbers 1..31; signal_name() (machsim/trace.h) names them
}  // namespace sig

using SignalSet = uint32_t;
constexpr SignalSet signal_bit(int signal) { return signal >= 1 && signal < sig::kCount ? 1u << (signal - 1) : 0; }

struct SignalAction {
    enum Kind : uint8_t { Default, Ignore, Handle };
    Kind kind = Default;
    void (*handler)(int signal) = nullptr;  // for Handle
    SignalSet mask = 0;                     // also blocked while the handler runs (the signal itself always is)
};

// sigaction: sets (if act) and returns (if old) what the task does with `signal`.
// KERN_INVALID_ARGUMENT for a bad number, for catching or ignoring SIGKILL or
// SIGSTOP, or for Handle without a handler.
kern_return_t signal_action(int signal, const SignalAction* act, SignalAction* old);
// sigprocmask: Block adds `set`, Unblock removes it, SetMask replaces the mask.
// SIGKILL and SIGSTOP cannot be blocked (they are dropped from `set`).
enum class MaskHow : uint8_t { Block, Unblock, SetMask };
kern_return_t signal_mask(MaskHow how, SignalSet set, SignalSet* old);
// The signals posted to the calling task and not yet delivered.
SignalSet signal_pending();
// kill: posts `signal` to the task named by a send right to its task port
// (mach_task_self() included). 0 checks the right without posting.
kern_return_t task_signal(mach_port_t task, int signal);

// Programs: named setups the `machsim` command can run.
struct Program {
    std::string name;
    std::string summary;
    std::function<void(Kernel&)> setup;  // spawns the program's tasks
};
void register_program(Program program);
const std::vector<Program>& programs();
const Program* find_program(std::string_view name);

// The `machsim` command line. Outside programs register their own programs and call this.
int main(int argc, char** argv);

}  // namespace machsim

// Registers a program from a translation unit that is linked into the binary:
//   MACHSIM_PROGRAM(pingpong, "two tasks bounce a message") { k.spawn(...); }
#define MACHSIM_PROGRAM(ident, summary)                                                   \
    static void machsim_program_##ident(::machsim::Kernel& k);                            \
    [[maybe_unused]] static const bool machsim_program_registered_##ident = [] {                         \
        ::machsim::register_program({#ident, summary, &machsim_program_##ident});          \
        return true;                                                                      \
    }();                                                                                  \
    static void machsim_program_##ident(::machsim::Kernel& k)
