// machsim::Kernel, the public facade: the gate's kernel plus the standard
// userland (the bootstrap name server, started as the first task).
#include <fmt/format.h>

#include "kernel/gate/kernel.h"
#include "kernel/gate/syscalls.h"
#include "machsim.h"
#include "userland/servers/bootstrap_protocol.h"

namespace machsim {

Kernel::Kernel(Config cfg) : core_(std::make_unique<gate::Kernel>(cfg)) {
    core_->facade = this;
    core_->boot(&servers::bootstrap_server_main);
}

Kernel::~Kernel() = default;

uint32_t Kernel::spawn_task(std::string name, std::function<int()> body, SpawnOptions opts) {
    return core_->spawn(std::move(name), std::move(body), opts);
}

void Kernel::attach(TraceSink& sink) { core_->attach(&sink); }
void Kernel::detach(TraceSink& sink) { core_->detach(&sink); }
RunReport Kernel::run() { return core_->run(); }
const Config& Kernel::config() const { return core_->cfg; }

// Interrupts: the gate kernel's controller. A raise scheduled while tasks run must
// not be skipped by kernel entries that expect nothing before it.
bool Kernel::raise_irq(uint32_t line, uint64_t tick, uint64_t count) {
    if (!machine::IrqController::valid(line)) return false;
    core_->irq.schedule(line, tick, 0, count ? count : 1);
    core_->sched.expect_event(tick);
    return true;
}

bool Kernel::timer_device(uint32_t line, uint64_t period, uint64_t first, uint64_t count) {
    if (!machine::IrqController::valid(line) || period == 0) return false;
    uint64_t at = first ? first : period;
    core_->irq.schedule(line, at, period, count);
    core_->sched.expect_event(at);
    return true;
}

bool Kernel::console_input(uint64_t tick, std::string bytes) {
    if (bytes.empty()) return false;
    core_->console.script(tick, std::move(bytes));
    return raise_irq(machine::ConsoleDevice::kLine, tick);
}

const std::string& Kernel::console_output() const { return core_->console.output(); }

bool Kernel::add_disk(DiskOptions opts, std::string image) {
    if (core_->disk.present()) return false;
    return core_->disk.attach(opts.records, opts.seek_ticks, opts.record_ticks, std::move(image));
}

const std::string& Kernel::disk_contents() const { return core_->disk.contents(); }

bool Kernel::set_irq_priority(uint32_t line, int priority) {
    if (!machine::IrqController::valid(line)) return false;
    core_->irq.set_priority(line, priority);
    return true;
}

IrqLine Kernel::irq_line(uint32_t line) const {
    IrqLine out;
    if (!machine::IrqController::valid(line)) return out;
    const machine::IrqController::Line& l = core_->irq.line(line);
    out.registered = l.attached;
    out.masked = l.masked;
    out.pending = l.pending;
    out.priority = l.priority;
    out.raised = l.raised;
    out.delivered = l.delivered;
    out.coalesced = l.coalesced;
    out.lost = l.lost;
    return out;
}

void compute(uint64_t ticks) { gate::sys_compute(ticks); }
uint64_t now() { return gate::clock_now(); }
std::vector<std::string> check_invariants() { return gate::check_invariants(); }

mach_port_t thread_start(std::function<void()> body) {
    mach_port_t thread = MACH_PORT_NULL;
    (void)gate::sys_thread_start(std::move(body), &thread);
    return thread;
}

mach_port_t task_spawn_body(std::string name, std::function<int(mach_port_t)> body, mach_port_t give,
                            mach_msg_type_name_t disposition, SpawnOptions opts) {
    mach_port_t child = MACH_PORT_NULL;
    (void)gate::sys_task_spawn(std::move(name), std::move(body), give, disposition, opts, &child);
    return child;
}

bool program_spawn(std::string_view name) {
    auto* k = static_cast<Kernel*>(gate::running_facade());
    const Program* p = find_program(name);
    if (!k || !p) return false;
    p->setup(*k);
    return true;
}

const char* task_end_name(TaskEnd end) {
    switch (end) {
    case TaskEnd::Running: return "running";
    case TaskEnd::Exited: return "exited";
    case TaskEnd::Crashed: return "crashed";
    case TaskEnd::ShutDown: return "shut down";
    case TaskEnd::Deadlocked: return "deadlocked";
    case TaskEnd::Stopped: return "stopped";
    case TaskEnd::Terminated: return "terminated";
    case TaskEnd::Signaled: return "killed by a signal";
    }
    return "?";
}

std::string BlockedThread::describe() const {
    std::string where = port ? fmt::format("{:#x} (P{})", name, port) : std::string("nothing");
    std::string holder_text = holder ? fmt::format("task {} ({})", holder, holder_name) : std::string("no task");
    if (waiting == "sleep") return fmt::format("task {} ({}) thread {} sleeps", task, task_name, thread);
    if (waiting == "semaphore")
        return fmt::format("task {} ({}) thread {} waits on semaphore {:#x} (P{}), made by task {} ({}), that "
                           "nobody signals",
                           task, task_name, thread, name, port, holder, holder_name);
    if (waiting == "suspended")
        return fmt::format("task {} ({}) thread {} is suspended and nobody resumes it", task, task_name, thread);
    std::string text = fmt::format("task {} ({}) thread {} waits to {} on {}; its receive right is held by {}", task,
                                   task_name, thread, waiting, where, holder_text);
    if (waiting != "receive") return text;
    std::string others;
    for (const TaskRef& s : senders)
        if (s.id != task) others += fmt::format("{}task {} ({})", others.empty() ? "" : ", ", s.id, s.name);
    return text + (others.empty() ? "; no other task holds a send right to it" : "; send rights: " + others);
}

const TaskReport* RunReport::task(std::string_view name) const {
    for (const TaskReport& t : tasks)
        if (t.name == name) return &t;
    return nullptr;
}

bool RunReport::clean() const {
    if (deadlock || time_limit || !leaks.empty() || !accounting.empty()) return false;
    for (const TaskReport& t : tasks)
        if (!t.daemon && t.end != TaskEnd::Exited) return false;
    return true;
}

const char* policy_name(Policy policy) {
    switch (policy) {
    case Policy::RoundRobin: return "round-robin";
    case Policy::Random: return "random";
    case Policy::Pct: return "pct";
    }
    return "?";
}

std::string RunReport::summary() const {
    std::string out;
    const char* how = deadlock ? "deadlock" : time_limit ? "time limit reached" : "all tasks finished";
    out += fmt::format("run ended: {} at tick {}{}, seed {}{}\n", how, ticks,
                       events ? fmt::format(" after {} trace events", events) : std::string(), seed,
                       policy == Policy::RoundRobin ? std::string() : fmt::format(", policy {}", policy_name(policy)));
    for (const TaskReport& t : tasks) {
        std::string end = task_end_name(t.end);
        if (t.end == TaskEnd::Exited) end += fmt::format(" with code {}", t.exit_code);
        if (!t.detail.empty()) end += ": " + t.detail;
        out += fmt::format("  task {:>3} {:<16} {:<7} {}\n", t.id, t.name, t.daemon ? "daemon" : "", end);
    }
    for (const BlockedThread& b : blocked) out += "  blocked: " + b.describe() + "\n";
    for (const std::string& l : leaks) out += "  leak: " + l + "\n";
    for (const std::string& a : accounting) out += "  accounting: " + a + "\n";
    return out;
}

}  // namespace machsim
