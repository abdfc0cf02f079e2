// The built-in sinks: aligned human-readable text, and an in-memory log.
#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <string_view>

#include "kernel/machine/trace_strings.h"
#include "machsim/trace.h"

namespace machsim {

const char* event_kind_name(EventKind kind) {
    switch (kind) {
    case EventKind::TaskCreate: return "task+";
    case EventKind::TaskExit: return "task-";
    case EventKind::ThreadCreate: return "thread+";
    case EventKind::ThreadExit: return "thread-";
    case EventKind::Switch: return "switch";
    case EventKind::SyscallEnter: return "call";
    case EventKind::SyscallLeave: return "return";
    case EventKind::Fail: return "error";
    case EventKind::PortCreate: return "port+";
    case EventKind::PortDestroy: return "port-";
    case EventKind::PortSetCreate: return "pset+";
    case EventKind::Send: return "send";
    case EventKind::Enqueue: return "enqueue";
    case EventKind::Handoff: return "handoff";
    case EventKind::Dequeue: return "dequeue";
    case EventKind::Receive: return "receive";
    case EventKind::MsgDestroy: return "msg-";
    case EventKind::Block: return "block";
    case EventKind::Wake: return "wake";
    case EventKind::RightCopyIn: return "copyin";
    case EventKind::RightCopyOut: return "copyout";
    case EventKind::RightChange: return "right";
    case EventKind::DeadName: return "deadname";
    case EventKind::Timer: return "timeout";
    case EventKind::Suspend: return "suspend";
    case EventKind::Resume: return "resume";
    case EventKind::Deadlock: return "deadlock";
    case EventKind::Fault: return "fault";
    case EventKind::ExceptionRaise: return "exc-raise";
    case EventKind::ExceptionReply: return "exc-reply";
    case EventKind::SignalPost: return "signal";
    case EventKind::SignalAction: return "sig-act";
    case EventKind::IrqRaise: return "irq";
    case EventKind::IrqDeliver: return "irq-send";
    case EventKind::IrqAck: return "irq-ack";
    case EventKind::IrqRegister: return "irq-reg";
    case EventKind::IrqDrop: return "irq-drop";
    }
    return "?";
}

namespace {

using machine::disposition_name;
using machine::received_name;

std::string port(uint32_t p) { return p ? fmt::format("P{}", p) : std::string("-"); }

}  // namespace

TextSink::TextSink(std::ostream& out, bool syscalls) : out_(out), syscalls_(syscalls) {}

std::string TextSink::name_of(uint32_t task) const {
    if (task == 0) return "kernel";
    auto it = task_names_.find(task);
    return it == task_names_.end() ? fmt::format("task{}", task) : it->second;
}

std::string TextSink::who(uint32_t task, uint32_t thread) const {
    if (task == 0) return "kernel";
    if (thread == 0) return name_of(task);
    return fmt::format("{}[{}]", name_of(task), thread);
}

void TextSink::on_event(const Event& e) {
    if (!syscalls_ && (e.kind == EventKind::SyscallEnter || e.kind == EventKind::SyscallLeave)) return;
    if (e.kind == EventKind::TaskCreate) task_names_[e.task] = e.text ? e.text : "";
    // A who too wide for the column widens it for good, and the header is printed again
    // above the first wider line, so every line aligns with the header above it.
    std::string w = who(e.task, e.thread);
    std::size_t need = std::max(w.size(), e.kind == EventKind::TaskCreate ? name_of(e.task).size() + 4 : 0);
    if (need > who_width_) {  // + 4: room for a thread's "[nn]"
        who_width_ = need;
        header_due_ = true;
    }
    if (header_due_) {
        out_ << fmt::format("{:>6} {:>9}  {:<{}} {:<9} {}\n", "seq", "tick", "who", who_width_, "event", "details");
        header_due_ = false;
    }
    const char* text = e.text ? e.text : "";
    std::string in_space = fmt::format("{:#x} in {}", e.name, name_of(e.space));
    std::string d;
    switch (e.kind) {
    case EventKind::TaskCreate:
        d = fmt::format("task {} \"{}\"{}", e.task, text, e.extra ? " (daemon)" : "");
        break;
    case EventKind::TaskExit: d = fmt::format("task {} {} (exit code {})", e.task, text, e.code); break;
    case EventKind::ThreadCreate: d = fmt::format("thread {}", e.thread); break;
    case EventKind::ThreadExit: d = fmt::format("thread {}", e.thread); break;
    case EventKind::Switch: d = e.extra ? fmt::format("from thread {}", e.extra) : "from idle"; break;
    case EventKind::SyscallEnter: d = text; break;
    case EventKind::SyscallLeave: d = fmt::format("{} = {}", text, code_name(e.code)); break;
    case EventKind::Fail: d = fmt::format("{}: {}", code_name(e.code), text); break;
    case EventKind::PortCreate: d = fmt::format("{}, receive right {}", port(e.port), in_space); break;
    case EventKind::PortDestroy:
        d = fmt::format("{} dies, {} queued message(s) destroyed", port(e.port), e.before);
        break;
    case EventKind::PortSetCreate: d = fmt::format("set {} named {}", port(e.port), in_space); break;
    case EventKind::Send:
        d = e.extra ? fmt::format("kernel msg {} id={} size={} to {}", e.msg, e.code, e.before, port(e.port))
                    : fmt::format("msg {} id={} size={} to {} via {:#x}", e.msg, e.code, e.before, port(e.port), e.name);
        break;
    case EventKind::Enqueue: d = fmt::format("msg {} queued on {} (qlen {})", e.msg, port(e.port), e.after); break;
    case EventKind::Handoff:
        d = fmt::format("msg {} handed to waiting thread {} on {}", e.msg, e.extra, port(e.port));
        break;
    case EventKind::Dequeue:
        d = fmt::format("msg {} leaves {} seqno {} (qlen {})", e.msg, port(e.port), e.extra, e.after);
        break;
    case EventKind::Receive:
        d = e.extra ? fmt::format("msg {} id={} size={} back to its sender, {} ({})", e.msg, e.code, e.before,
                                  in_space, port(e.port))
                    : fmt::format("msg {} id={} size={} on {} ({})", e.msg, e.code, e.before, in_space, port(e.port));
        break;
    case EventKind::MsgDestroy: d = fmt::format("msg {} to {} destroyed: {}", e.msg, port(e.port), text); break;
    case EventKind::Block:
        d = e.port ? fmt::format("{} on {} ({})", text, in_space, port(e.port)) : std::string(text);
        break;
    case EventKind::Wake: d = fmt::format("thread {} woken: {}", e.extra, code_name(e.code)); break;
    case EventKind::RightCopyIn:
        d = fmt::format("{}: {} {}, urefs {}->{}", in_space, port(e.port), disposition_name(e.extra), e.before,
                        e.after);
        break;
    case EventKind::RightCopyOut:
        d = fmt::format("{}: {} as {}, urefs {}->{}", in_space, port(e.port), received_name(e.extra), e.before,
                        e.after);
        break;
    case EventKind::RightChange:
        d = fmt::format("{}: {} urefs {}->{} ({})", in_space, port(e.port), e.before, e.after, text);
        break;
    case EventKind::DeadName: d = fmt::format("{} is now a dead name ({} died)", in_space, port(e.port)); break;
    case EventKind::Timer: d = fmt::format("{} of thread {}", text, e.extra); break;
    case EventKind::Suspend: d = fmt::format("thread {} may not run until resumed", e.extra); break;
    case EventKind::Resume: d = fmt::format("thread {} may run again", e.extra); break;
    case EventKind::Deadlock:
        if (std::string_view(text) == "semaphore")
            d = fmt::format("blocked forever in semaphore_wait on {} ({}), made by {}", in_space, port(e.port),
                            e.extra ? name_of(e.extra) : std::string("the kernel"));
        else if (std::string_view(text) == "sleep")
            d = "blocked forever, waiting on no port and no semaphore";
        else if (std::string_view(text) == "suspended")
            d = "suspended forever: nobody resumes it";
        else
            d = fmt::format("blocked forever in {} on {} ({}); its receive right is held by {}", text, in_space,
                            port(e.port), e.extra ? name_of(e.extra) : std::string("nobody"));
        break;
    case EventKind::Fault: {
        uint64_t at = (uint64_t{e.after} << 32) | e.before;
        if (e.code == 0)  // abort() or a runaway thread: no Mach exception
            d = fmt::format("at {:#x}: {}", at, text);
        else
            d = fmt::format("{} ({}) at {:#x}: {}", exception_name(e.code),
                            exception_code_name(e.code, static_cast<int32_t>(e.extra)), at, text);
        break;
    }
    case EventKind::ExceptionRaise:
        d = fmt::format("{} sent to the {}'s exception port {}", exception_name(e.code),
                        e.extra == 1 ? "thread" : "task", port(e.port));
        break;
    case EventKind::ExceptionReply: d = fmt::format("handler on {} answered {}", port(e.port), code_name(e.code)); break;
    case EventKind::SignalPost: d = fmt::format("{} posted to {}", signal_name(e.code), name_of(e.space)); break;
    case EventKind::SignalAction: d = fmt::format("{} in {}: {}", signal_name(e.code), name_of(e.space), text); break;
    case EventKind::IrqRaise:
        d = e.before > 1 ? fmt::format("line {} raised x{}: {}", e.extra, e.before, text)
                         : fmt::format("line {} raised: {}", e.extra, text);
        break;
    case EventKind::IrqDeliver:
        d = fmt::format("line {} masked, kernel msg {} (device_intr_notify) to {}", e.extra, e.msg, port(e.port));
        break;
    case EventKind::IrqAck:
        d = fmt::format("line {} acknowledged through {}, unmasked{}", e.extra, port(e.port),
                        e.after ? "; a remembered interrupt follows" : "");
        break;
    case EventKind::IrqRegister: d = fmt::format("line {} delivers to {} ({})", e.extra, in_space, port(e.port)); break;
    case EventKind::IrqDrop: d = fmt::format("line {} registration on {} dropped: {}", e.extra, port(e.port), text); break;
    }
    out_ << fmt::format("{:>6} {:>9}  {:<{}} {:<9} {}\n", e.seq, e.tick, w, who_width_, event_kind_name(e.kind), d);
}

void TraceLog::on_event(const Event& e) {
    Entry entry{e, e.text ? e.text : ""};
    entry.event.text = nullptr;
    entries_.push_back(std::move(entry));
}

std::vector<TraceLog::Entry> TraceLog::of_kind(EventKind kind) const {
    std::vector<Entry> out;
    for (const Entry& en : entries_)
        if (en.event.kind == kind) out.push_back(en);
    return out;
}

}  // namespace machsim
