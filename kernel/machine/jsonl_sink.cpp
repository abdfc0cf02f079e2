// JsonLinesSink: one JSON object per event, one line each, written as the event arrives.
// Every line of a kind has the same members, in the same order; docs/trace.md, section 10,
// lists them.
#include <fmt/format.h>

#include <ostream>

#include "kernel/machine/trace_strings.h"
#include "machsim/trace.h"

namespace machsim {

namespace {

// One event's line: JsonObject with the spellings this format uses for ports, names and flags.
class Line {
public:
    Line& num(std::string_view key, int64_t v) {
        o_.add(key, v);
        return *this;
    }
    Line& str(std::string_view key, std::string_view v) {
        o_.add(key, v);
        return *this;
    }
    Line& port(uint32_t p, std::string_view key = "port") {  // "P3"; null for none
        o_.raw(key, p ? machine::json_string(fmt::format("P{}", p)) : "null");
        return *this;
    }
    Line& name(uint32_t space, uint32_t n) {  // a port name in a task's space: "0x103"
        o_.add("space", space);
        o_.add("name", fmt::format("{:#x}", n));
        return *this;
    }
    Line& flag(std::string_view key, bool b) {
        o_.raw(key, b ? "true" : "false");
        return *this;
    }
    Line& code(int32_t c) {  // a return code, and its name
        o_.add("code", c);
        o_.add("code_name", code_name(c));
        return *this;
    }
    Line& null_or(std::string_view key, bool present, const std::string& v) {
        o_.raw(key, present ? machine::json_string(v) : "null");
        return *this;
    }
    std::string str() const { return o_.str(); }

private:
    machine::JsonObject o_;
};

// The members a kind adds after seq, tick, kind, task, task_name and thread (text comes last).
// Returns whether the kind uses `text`.
bool kind_fields(Line& l, const Event& e) {
    switch (e.kind) {
    case EventKind::TaskCreate: l.flag("daemon", e.extra != 0); return true;
    case EventKind::TaskExit: l.num("exit_code", e.code); return true;
    case EventKind::ThreadCreate:
    case EventKind::ThreadExit: return false;
    case EventKind::Switch: l.num("from_thread", e.extra); return false;
    case EventKind::SyscallEnter: return true;
    case EventKind::SyscallLeave:
    case EventKind::Fail: l.code(e.code); return true;
    case EventKind::PortCreate:
    case EventKind::PortSetCreate: l.port(e.port).name(e.space, e.name); return false;
    case EventKind::PortDestroy: l.port(e.port).num("messages_destroyed", e.before); return false;
    case EventKind::Send:
        l.num("msg", e.msg).port(e.port).name(e.space, e.name).num("msgh_id", e.code).num("size", e.before);
        l.flag("kernel", e.extra != 0);
        return false;
    case EventKind::Enqueue: l.num("msg", e.msg).port(e.port).num("queue_length", e.after); return false;
    case EventKind::Handoff: l.num("msg", e.msg).port(e.port).num("to_thread", e.extra); return false;
    case EventKind::Dequeue:
        l.num("msg", e.msg).port(e.port).num("queue_length", e.after).num("seqno", e.extra);
        return false;
    case EventKind::Receive:
        l.num("msg", e.msg).port(e.port).name(e.space, e.name).num("msgh_id", e.code).num("size", e.before);
        l.flag("back_to_sender", e.extra != 0);
        return false;
    case EventKind::MsgDestroy: l.num("msg", e.msg).port(e.port); return true;
    case EventKind::Block: l.port(e.port).name(e.space, e.name); return true;
    case EventKind::Wake: l.num("woken_thread", e.extra).code(e.code); return false;
    case EventKind::RightCopyIn:
        l.name(e.space, e.name).port(e.port).num("urefs_before", e.before).num("urefs_after", e.after);
        l.num("disposition", e.extra).str("disposition_name", machine::disposition_name(e.extra));
        return false;
    case EventKind::RightCopyOut:
        l.name(e.space, e.name).port(e.port).num("urefs_before", e.before).num("urefs_after", e.after);
        l.num("right_type", e.extra).str("right_type_name", machine::received_name(e.extra));
        return false;
    case EventKind::RightChange:
        l.name(e.space, e.name).port(e.port).num("urefs_before", e.before).num("urefs_after", e.after);
        return true;
    case EventKind::DeadName:
        l.name(e.space, e.name).port(e.port).num("urefs_before", e.before).num("urefs_after", e.after);
        return false;
    case EventKind::Timer: l.num("timed_out_thread", e.extra); return true;
    case EventKind::Suspend: l.num("suspended_thread", e.extra); return false;
    case EventKind::Resume: l.num("resumed_thread", e.extra); return false;
    case EventKind::Deadlock: l.port(e.port).name(e.space, e.name).num("holder_task", e.extra); return true;
    case EventKind::Fault: {
        int32_t code = static_cast<int32_t>(e.extra);
        l.num("exception", e.code).null_or("exception_name", e.code != 0, exception_name(e.code));
        l.num("exception_code", code).null_or("exception_code_name", e.code != 0, exception_code_name(e.code, code));
        l.str("address", fmt::format("{:#x}", (uint64_t{e.after} << 32) | e.before));
        return true;
    }
    case EventKind::ExceptionRaise:
        l.port(e.port).num("exception", e.code).str("exception_name", exception_name(e.code));
        l.str("port_of", e.extra == 1 ? "thread" : "task");
        return false;
    case EventKind::ExceptionReply: l.port(e.port).code(e.code); return false;
    case EventKind::SignalPost:
        l.num("target_task", e.space).num("signal", e.code).str("signal_name", signal_name(e.code));
        return false;
    case EventKind::SignalAction:
        l.num("target_task", e.space).num("signal", e.code).str("signal_name", signal_name(e.code));
        return true;
    case EventKind::IrqRaise: l.num("line", e.extra).num("raises", e.before); return true;
    case EventKind::IrqDeliver: l.num("line", e.extra).port(e.port).num("msg", e.msg); return false;
    case EventKind::IrqAck: l.num("line", e.extra).port(e.port).flag("remembered_follows", e.after != 0); return false;
    case EventKind::IrqRegister: l.num("line", e.extra).port(e.port).name(e.space, e.name); return false;
    case EventKind::IrqDrop: l.num("line", e.extra).port(e.port); return true;
    }
    return true;
}

}  // namespace

void JsonLinesSink::on_event(const Event& e) {
    if (e.kind == EventKind::TaskCreate) task_names_[e.task] = e.text ? e.text : "";
    if (e.seq == 0) return;  // an introduction: its name is all it brings
    Line l;
    l.num("seq", static_cast<int64_t>(e.seq)).num("tick", static_cast<int64_t>(e.tick));
    l.str("kind", event_kind_name(e.kind)).num("task", e.task);
    auto known = task_names_.find(e.task);  // a task never introduced (attached by hand): null
    if (e.task == 0)
        l.str("task_name", "kernel");
    else
        l.null_or("task_name", known != task_names_.end(), known != task_names_.end() ? known->second : "");
    l.num("thread", e.thread);
    if (kind_fields(l, e)) l.str("text", e.text ? e.text : "");
    std::string line = l.str();
    line += '\n';
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
}

}  // namespace machsim
