// PerfettoSink: the trace as Chrome Trace Event JSON, which ui.perfetto.dev opens.
//
// pid = task, tid = thread (the kernel's own events: pid and tid kKernelPid). Each system
// call is an X slice; a blocked interval is an X slice nested in it; each delivered message is
// a flow (s at the send, f at the receive); each port with a queue has a counter; the rest are
// instants. ts is in µs: the tick, plus the event's place among the events of its tick in the
// three decimals (ns), so that events of one tick keep their order and slices nest strictly.
// docs/trace.md, section 8, describes the format as built.
#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string_view>

#include "kernel/machine/trace_follow.h"
#include "kernel/machine/trace_strings.h"
#include "machsim/trace.h"

namespace machsim {

namespace {

constexpr uint32_t kKernelPid = 1'000'000;  // Perfetto gives pid 0 to Linux's idle task
constexpr uint32_t kDevicesPid = 1'000'001;  // interrupts: one track per line, tid = kDevicesPid + line
constexpr uint32_t kMaxSub = 999;           // ns within a tick

// Perfetto calls an event's members its args.
using Args = machine::JsonObject;
using machine::json_string;

struct Stamp {
    uint64_t tick = 0;
    uint32_t sub = 0;  // ns into the tick
};

std::string ts(Stamp s) { return fmt::format("{}.{:03}", s.tick, s.sub); }

std::string dur(Stamp from, Stamp to) {
    uint64_t ticks = to.tick - from.tick;
    if (to.sub >= from.sub) return fmt::format("{}.{:03}", ticks, to.sub - from.sub);
    return fmt::format("{}.{:03}", ticks - 1, 1000 + to.sub - from.sub);
}

Stamp one_ns_after(Stamp s) { return s.sub < kMaxSub ? Stamp{s.tick, s.sub + 1} : Stamp{s.tick + 1, 0}; }
Stamp one_ns_before(Stamp s) { return s.sub > 0 ? Stamp{s.tick, s.sub - 1} : s.tick > 0 ? Stamp{s.tick - 1, kMaxSub} : s; }

std::string port_str(uint32_t p) { return fmt::format("P{}", p); }
std::string hex(uint32_t v) { return fmt::format("{:#x}", v); }

}  // namespace

struct PerfettoSink::State {
    struct Slice {
        std::string name;
        const char* cat;
        Stamp start;
        Args args{};
        bool blocked = false;  // a blocked interval (else a system call)
        bool sent = false, received = false;
    };
    struct Track {
        uint32_t pid, tid;
    };

    std::ostream& out;
    machine::TraceFollower follow;
    bool first_record = true;
    bool finished = false;
    bool started = false;  // a numbered event has been seen
    Stamp now;
    std::map<uint32_t, std::vector<Slice>> open;  // per thread, innermost last
    std::set<uint32_t> named_tasks, named_threads, named_lines;
    std::map<uint32_t, uint32_t> first_thread;  // per task: where its task-level instants go
    std::map<uint32_t, Stamp> sends, takes;     // per message: its send; its hand-off or dequeue
    std::map<uint32_t, uint32_t> qlen;          // per port with a counter: the last value written
    std::vector<std::pair<std::string, std::string>> other;  // otherData: key, JSON value

    explicit State(std::ostream& o) : out(o) {}

    void record(const std::string& json) {
        out << (first_record ? "\n" : ",\n") << json;
        first_record = false;
    }

    void stamp(const Event& e) {
        if (e.seq == 0) return;  // an introduction, at attach time: keep the current stamp
        if (!started || e.tick != now.tick)
            now = Stamp{e.tick, 0};
        else if (now.sub < kMaxSub)
            ++now.sub;
        started = true;
    }

    static uint32_t pid_of(uint32_t task) { return task ? task : kKernelPid; }

    Track track(uint32_t task, uint32_t thread) {
        if (task == 0) return {kKernelPid, kKernelPid};
        name_task(task);
        if (thread == 0) {
            auto it = first_thread.find(task);
            return {task, it == first_thread.end() ? kKernelPid + task : it->second};
        }
        name_thread(task, thread);
        return {task, thread};
    }

    void name_task(uint32_t task) {
        if (task == 0 || !named_tasks.insert(task).second) return;
        record(fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"process_name","args":{}}})", task, task,
                           Args().add("name", fmt::format("task {} {}", task, follow.task_name(task))).str()));
        record(fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"process_sort_index","args":{{"sort_index":{}}}}})",
                           task, task, task));
    }

    void name_thread(uint32_t task, uint32_t thread) {
        first_thread.emplace(task, thread);
        if (!named_threads.insert(thread).second) return;
        record(fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"thread_name","args":{}}})", task, thread,
                           Args().add("name", fmt::format("thread {}", thread)).str()));
    }

    // The track of interrupt line `line`, in the "devices" process.
    Track line_track(uint32_t line) {
        if (named_lines.empty())
            record(fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"process_name","args":{{"name":"devices"}}}})",
                               kDevicesPid, kDevicesPid));
        if (named_lines.insert(line).second)
            record(fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"thread_name","args":{{"name":"irq line {}"}}}})",
                               kDevicesPid, kDevicesPid + line, line));
        return {kDevicesPid, kDevicesPid + line};
    }

    void instant(Track t, std::string_view name, const char* cat, const Args& args, bool process_scope = false) {
        record(fmt::format(R"({{"ph":"i","s":"{}","pid":{},"tid":{},"ts":{},"name":{},"cat":"{}","args":{}}})",
                           process_scope ? "p" : "t", t.pid, t.tid, ts(now), json_string(name), cat, args.str()));
    }

    void complete(Track t, const Slice& s, Stamp end) {
        record(fmt::format(R"({{"ph":"X","pid":{},"tid":{},"ts":{},"dur":{},"name":{},"cat":"{}","args":{}}})",
                           t.pid, t.tid, ts(s.start), dur(s.start, end), json_string(s.name), s.cat,
                           s.args.str()));
    }

    // Ends the innermost open slice of `thread` at `end`.
    void close(uint32_t thread, Stamp end, std::string_view why = {}) {
        auto it = open.find(thread);
        if (it == open.end() || it->second.empty()) return;
        Slice s = std::move(it->second.back());
        it->second.pop_back();
        if (!s.blocked && s.name == "mach_msg" && (s.sent || s.received))
            s.name += s.sent && s.received ? " SEND|RCV" : s.sent ? " SEND" : " RCV";
        if (!why.empty()) s.args.add("unfinished", why);
        complete(track(follow.task_of(thread), thread), s, end);
    }

    void close_all(uint32_t thread, Stamp end, std::string_view why) {
        while (open.count(thread) && !open[thread].empty()) close(thread, end, why);
    }

    Slice* top(uint32_t thread) {
        auto it = open.find(thread);
        return it == open.end() || it->second.empty() ? nullptr : &it->second.back();
    }

    Slice* call_of(uint32_t thread) {  // the system call slice the thread is in
        auto it = open.find(thread);
        if (it == open.end()) return nullptr;
        for (auto s = it->second.rbegin(); s != it->second.rend(); ++s)
            if (!s->blocked) return &*s;
        return nullptr;
    }

    std::string msg_name(uint32_t msg, const machine::TraceFollower::Message& m) const {
        std::string name = fmt::format("msg {} id={}", msg, m.id);
        if (m.kernel) {
            const char* kind = machine::kernel_message_kind(m.id);
            name += *kind ? fmt::format(" ({})", kind) : " (from the kernel)";
        } else if (m.reply) {
            name += " (reply)";
        }
        return name;
    }

    // The arrow of a delivered message: s where it was sent, f where `to` took it.
    void flow(uint32_t msg, Track to, Stamp at) {
        const machine::TraceFollower::Message* m = follow.message(msg);
        auto sent = sends.find(msg);
        if (!m || sent == sends.end()) return;  // sent before this sink was attached
        Track from = track(m->task, m->thread);
        std::string name = json_string(msg_name(msg, *m));
        record(fmt::format(R"({{"ph":"s","pid":{},"tid":{},"ts":{},"id":{},"cat":"ipc","name":{}}})", from.pid,
                           from.tid, ts(sent->second), msg, name));
        record(fmt::format(R"({{"ph":"f","bp":"e","pid":{},"tid":{},"ts":{},"id":{},"cat":"ipc","name":{}}})",
                           to.pid, to.tid, ts(at), msg, name));
    }

    void counter(uint32_t port, uint32_t value) {
        qlen[port] = value;
        record(fmt::format(R"({{"ph":"C","pid":{},"tid":{},"ts":{},"name":"port {}","args":{{"qlen":{}}}}})",
                           kKernelPid, kKernelPid, ts(now), port_str(port), value));
    }

    void forget(uint32_t msg) {
        follow.forget(msg);
        sends.erase(msg);
        takes.erase(msg);
    }

    void on_event(const Event& e);
    void on_ipc(const Event& e, Track here);
    void on_other(const Event& e, Track here);
};

void PerfettoSink::State::on_event(const Event& e) {
    follow.on_event(e);
    stamp(e);
    Track here = track(e.task, e.thread);
    const char* text = e.text ? e.text : "";
    switch (e.kind) {
    case EventKind::TaskCreate: break;  // named by track() above
    case EventKind::ThreadCreate: break;
    case EventKind::SyscallEnter: open[e.thread].push_back(Slice{.name = text, .cat = "syscall", .start = now}); break;
    case EventKind::SyscallLeave:
        if (Slice* s = top(e.thread); s && s->blocked) close(e.thread, now);  // not woken (cannot happen today)
        if (Slice* s = top(e.thread)) {
            s->args.add("return", code_name(e.code));
            close(e.thread, now);
        }
        break;
    case EventKind::Fail:
        if (Slice* s = call_of(e.thread))
            s->args.add("error", fmt::format("{}: {}", code_name(e.code), text));
        else
            instant(here, fmt::format("error {}", code_name(e.code)), "error", Args().add("why", text));
        break;
    case EventKind::Block: {
        Slice s{.name = fmt::format("blocked: {}", text), .cat = "blocked", .start = now, .blocked = true};
        if (e.port) {
            s.name += fmt::format(" on {} ({})", hex(e.name), port_str(e.port));
            s.args.add("port", port_str(e.port)).add("name", hex(e.name));
        }
        open[e.thread].push_back(std::move(s));
        break;
    }
    case EventKind::Wake:
        if (Slice* s = top(e.extra); s && s->blocked) {
            s->args.add("woken", code_name(e.code)).add("by", e.task ? follow.task_name(e.task) : "the kernel");
            close(e.extra, now);
        }
        break;
    case EventKind::ThreadExit: close_all(e.thread, now, "the thread ended"); break;
    case EventKind::TaskExit: {
        for (const auto& [thread, slices] : open)
            if (!slices.empty() && follow.task_of(thread) == e.task) close_all(thread, now, "the task ended");
        instant(here, fmt::format("task {} {}", e.task, text), "task",
                Args().add("exit code", e.code).add("how", text), true);
        break;
    }
    case EventKind::Send:
    case EventKind::Enqueue:
    case EventKind::Handoff:
    case EventKind::Dequeue:
    case EventKind::Receive:
    case EventKind::MsgDestroy:
    case EventKind::PortDestroy: on_ipc(e, here); break;
    default: on_other(e, here); break;
    }
}

void PerfettoSink::State::on_ipc(const Event& e, Track here) {
    const char* text = e.text ? e.text : "";
    switch (e.kind) {
    case EventKind::Send: {
        sends[e.msg] = now;
        const machine::TraceFollower::Message* m = follow.message(e.msg);
        if (Slice* s = call_of(e.thread)) {
            s->sent = true;
            s->args.add(fmt::format("sent msg {}", e.msg), fmt::format("id={} size={} to {}", e.code, e.before,
                                                                        port_str(e.port)));
        } else if (m) {  // a kernel message outside any call (an exception's): a slice for its arrow to
            // leave, from 1 ns before the send to 1 ns after, so that the arrow starts strictly inside
            // it (the thread has no slice open, so nothing on its track overlaps).
            Slice s{.name = fmt::format("kernel sends {}", msg_name(e.msg, *m)), .cat = "ipc",
                    .start = one_ns_before(now)};
            complete(here, s, one_ns_after(now));
        }
        break;
    }
    case EventKind::Enqueue: counter(e.port, e.after); break;
    case EventKind::Dequeue:
        takes[e.msg] = now;
        counter(e.port, e.after);
        break;
    case EventKind::Handoff: takes[e.msg] = now; break;
    case EventKind::Receive:
        if (e.extra == 1) {
            instant(here, fmt::format("msg {} back to its sender", e.msg), "ipc",
                    Args().add("id", e.code).add("port", port_str(e.port)));
        } else {
            flow(e.msg, here, now);
            if (Slice* s = call_of(e.thread)) {
                s->received = true;
                s->args.add(fmt::format("received msg {}", e.msg),
                            fmt::format("id={} size={} on {} ({})", e.code, e.before, hex(e.name), port_str(e.port)));
            }
        }
        forget(e.msg);
        break;
    case EventKind::MsgDestroy: {
        Args args;
        args.add("port", port_str(e.port)).add("why", text);
        if (const machine::TraceFollower::Message* m = follow.message(e.msg))
            args.add("id", m->id).add("sent by", m->kernel ? "the kernel" : follow.task_name(m->task));
        instant(here, fmt::format("msg {} destroyed", e.msg), "ipc", args);
        forget(e.msg);
        break;
    }
    case EventKind::PortDestroy:
        if (auto it = qlen.find(e.port); it != qlen.end()) {
            if (it->second != 0) counter(e.port, 0);
            qlen.erase(e.port);
        }
        if (e.before)
            instant(here, fmt::format("{} died", port_str(e.port)), "ipc",
                    Args().add("queued messages destroyed", e.before));
        break;
    default: break;
    }
}

void PerfettoSink::State::on_other(const Event& e, Track here) {
    const char* text = e.text ? e.text : "";
    switch (e.kind) {
    case EventKind::Deadlock: {
        Args args;
        args.add("waiting", text);
        if (e.port) args.add("port", port_str(e.port)).add("name", hex(e.name));
        if (e.extra) args.add("holder", follow.task_name(e.extra));
        instant(here, fmt::format("deadlock: blocked forever ({})", text), "deadlock", args);
        break;
    }
    case EventKind::Fault: {
        uint64_t at = (uint64_t{e.after} << 32) | e.before;
        Args args;
        args.add("address", fmt::format("{:#x}", at)).add("what", text);
        if (e.code) args.add("code", exception_code_name(e.code, static_cast<int32_t>(e.extra)));
        instant(here, e.code ? fmt::format("fault {}", exception_name(e.code)) : std::string("fault"), "fault", args);
        break;
    }
    case EventKind::ExceptionRaise:
        instant(here, fmt::format("exception {} raised", exception_name(e.code)), "exception",
                Args().add("port", port_str(e.port)).add("to", e.extra == 1 ? "thread's port" : "task's port"));
        break;
    case EventKind::ExceptionReply:
        instant(here, "exception answered", "exception",
                Args().add("port", port_str(e.port)).add("answer", code_name(e.code)));
        break;
    case EventKind::SignalPost:
        instant(here, fmt::format("{} posted", signal_name(e.code)), "signal",
                Args().add("to", follow.task_name(e.space)));
        break;
    case EventKind::SignalAction:
        instant(here, fmt::format("{}: {}", signal_name(e.code), text), "signal",
                Args().add("in", follow.task_name(e.space)));
        break;
    case EventKind::DeadName:
        instant(here, fmt::format("dead name {}", hex(e.name)), "ipc",
                Args().add("port", port_str(e.port)).add("urefs", e.after));
        break;
    case EventKind::Timer:  // on the track of the thread whose wait timed out
        instant(track(follow.task_of(e.extra), e.extra), text, "timer", Args().add("thread", e.extra));
        break;
    case EventKind::Suspend:  // on the track of the thread suspended
        instant(track(follow.task_of(e.extra), e.extra), "suspended", "suspend", Args().add("thread", e.extra));
        break;
    case EventKind::Resume:
        instant(track(follow.task_of(e.extra), e.extra), "resumed", "suspend", Args().add("thread", e.extra));
        break;
    case EventKind::IrqRaise:
        instant(line_track(e.extra), e.before > 1 ? fmt::format("raised x{}", e.before) : std::string("raised"), "irq",
                Args().add("outcome", text));
        break;
    case EventKind::IrqDeliver:
        instant(line_track(e.extra), "delivered, masked", "irq",
                Args().add("port", port_str(e.port)).add("msg", e.msg));
        break;
    case EventKind::IrqAck:
        instant(line_track(e.extra), "acknowledged, unmasked", "irq",
                Args().add("port", port_str(e.port)).add("by", follow.task_name(e.task)).add(
                    "remembered interrupt follows", e.after ? "yes" : "no"));
        break;
    case EventKind::IrqRegister:
        instant(line_track(e.extra), "registered", "irq",
                Args().add("port", port_str(e.port)).add("driver", follow.task_name(e.space)).add("name", hex(e.name)));
        break;
    case EventKind::IrqDrop:
        instant(line_track(e.extra), "registration dropped", "irq",
                Args().add("port", port_str(e.port)).add("why", text));
        break;
    default: break;  // switches, ports and rights: the text trace has them
    }
}

PerfettoSink::PerfettoSink(std::ostream& out) : s_(std::make_unique<State>(out)) {
    out << R"({"traceEvents":[)";
    s_->record(fmt::format(R"({{"ph":"M","pid":{},"tid":{},"name":"process_name","args":{{"name":"kernel"}}}})",
                           kKernelPid, kKernelPid));
}

PerfettoSink::~PerfettoSink() = default;

void PerfettoSink::note(const std::string& key, const std::string& value) {
    s_->other.emplace_back(key, json_string(value));
}

void PerfettoSink::note(const std::string& key, uint64_t value) {
    s_->other.emplace_back(key, fmt::format("{}", value));
}

void PerfettoSink::on_event(const Event& e) {
    if (!s_->finished) s_->on_event(e);
}

void PerfettoSink::finish() {
    State& s = *s_;
    if (s.finished) return;
    // Messages taken from a queue that no receive line claimed (the answer to an exception
    // message reaches the waiting thread so): the arrow ends where they were taken.
    for (uint32_t msg : s.follow.pending()) {
        const machine::TraceFollower::Message* m = s.follow.message(msg);
        auto taken = s.takes.find(msg);
        if (m && m->to_thread && taken != s.takes.end())
            s.flow(msg, s.track(m->to_task, m->to_thread), taken->second);
    }
    for (auto& [thread, slices] : s.open) s.close_all(thread, s.now, "the run ended");
    Args other;
    for (const auto& [key, value] : s.other) other.raw(key, value);
    s.out << fmt::format("\n],\"displayTimeUnit\":\"ns\",\"otherData\":{}}}\n", other.str());
    s.out.flush();
    s.finished = true;
}

}  // namespace machsim
