// MermaidSink: the trace as a Mermaid sequenceDiagram, which GitHub renders in a ```mermaid block.
//
// A participant per task (T<id>), and K for the kernel when it sends something. An arrow is
// drawn when its message is received (or destroyed, or handed back to its sender), so it joins
// the two tasks that really held it and sits where the receiver took it. Mermaid refuses input
// over 50,000 characters, so the sink keeps to a window of sequence numbers, a set of tasks
// and a size limit, and says in the diagram when it stopped early. docs/trace.md, section 9.
#include <fmt/format.h>

#include <cctype>
#include <map>
#include <ostream>
#include <set>
#include <string_view>

#include "kernel/machine/trace_follow.h"
#include "machsim/trace.h"

namespace machsim {

namespace {

constexpr uint32_t kKernel = 0;        // the participant K
constexpr std::size_t kReserve = 600;  // room kept for the header comment and the truncation note

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Text Mermaid shows as written: ';' would end the statement and '#' start an entity, so both are
// written as entities; '<' and '>' too (HTML); line breaks become spaces; the word "end" is
// a keyword, so its first letter is written as an entity (it still reads "end").
std::string escape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        bool word_end = (c == 'e' || c == 'E') && i + 3 <= s.size() && (i == 0 || !word_char(s[i - 1])) &&
                        std::tolower(static_cast<unsigned char>(s[i + 1])) == 'n' &&
                        std::tolower(static_cast<unsigned char>(s[i + 2])) == 'd' &&
                        (i + 3 == s.size() || !word_char(s[i + 3]));
        if (word_end)
            out += c == 'e' ? "#101;" : "#69;";
        else if (c == ';')
            out += "#59;";
        else if (c == '#')
            out += "#35;";
        else if (c == '<')
            out += "#lt;";
        else if (c == '>')
            out += "#gt;";
        else if (c == '\n' || c == '\r' || c == '\t')
            out += ' ';
        else
            out += c;
    }
    return out;
}

std::string id(uint32_t task) { return task == kKernel ? std::string("K") : fmt::format("T{}", task); }

}  // namespace

struct MermaidSink::State {
    std::ostream& out;
    Options o;
    machine::TraceFollower follow;
    std::vector<std::string> lines;
    std::set<uint32_t> used;  // participants drawn (kKernel = K)
    std::size_t size = 0;     // characters of participant declarations and lines so far
    bool full = false;        // a line did not fit: nothing more is drawn
    uint64_t cut_at = 0;      // seq of the first event left out for size
    uint64_t first = 0, last = 0;  // seqs of the first and last event drawn
    uint64_t seen = 0;        // seq of the last event seen
    bool finished = false;
    std::map<uint32_t, uint64_t> disk_since;  // thread -> tick it began to wait for the disk

    State(std::ostream& os, Options opts) : out(os), o(std::move(opts)) {}

    std::string declaration(uint32_t task) const {
        if (task == kKernel) return "    participant K as kernel\n";
        return fmt::format("    participant {} as {} (task {})\n", id(task), escape(follow.task_name(task)), task);
    }

    bool wanted(uint64_t seq, std::initializer_list<uint32_t> who) const {
        if (seq < o.from || (o.to != 0 && seq > o.to)) return false;
        if (o.tasks.empty()) return true;
        for (uint32_t t : who)
            for (const std::string& name : o.tasks)
                if (t != kKernel && follow.task_name(t) == name) return true;
        return false;
    }

    // Adds one statement about `who` (one or two participants) for the event `seq`, if it is
    // in the window and there is room for it and for any participant it declares.
    void draw(uint64_t seq, std::initializer_list<uint32_t> who, const std::string& statement) {
        if (full || !wanted(seq, who)) return;
        std::size_t cost = statement.size() + 5;
        std::set<uint32_t> fresh;
        for (uint32_t t : who)
            if (!used.count(t) && fresh.insert(t).second) cost += declaration(t).size();
        std::size_t budget = o.max_chars > kReserve ? o.max_chars - kReserve : 0;
        if (size + cost > budget) {
            full = true;
            cut_at = seq;
            return;
        }
        used.insert(fresh.begin(), fresh.end());
        size += cost;
        lines.push_back("    " + statement + "\n");
        if (first == 0) first = seq;
        last = seq;
    }

    void arrow(uint64_t seq, uint32_t from, const char* kind, uint32_t to, const std::string& label) {
        draw(seq, {from, to}, fmt::format("{}{}{}: {}", id(from), kind, id(to), escape(label)));
    }

    void note(uint64_t seq, uint32_t task, const std::string& text) {
        draw(seq, {task}, fmt::format("Note over {}: {}", id(task), escape(text)));
    }

    void note2(uint64_t seq, uint32_t a, uint32_t b, const std::string& text) {
        if (a == b || a == kKernel) return note(seq, b, text);
        draw(seq, {a, b}, fmt::format("Note over {},{}: {}", id(a), id(b), escape(text)));
    }

    std::string label(uint32_t msg, const machine::TraceFollower::Message& m) const {
        std::string s = fmt::format("msg {} id={}", msg, m.id);
        if (m.kernel) {
            const char* kind = machine::kernel_message_kind(m.id);
            s += *kind ? fmt::format(" {}", kind) : std::string(" from the kernel");
        }
        return s + fmt::format(" to P{}", m.port);
    }

    // The arrow of a message its receiver took.
    void received(uint64_t seq, uint64_t tick, uint32_t msg, uint32_t to) {
        const machine::TraceFollower::Message* m = follow.message(msg);
        if (!m) return;  // sent before this sink was attached
        std::string text = label(msg, *m);
        if (m->queued && tick >= m->queued) {
            uint64_t waited = tick - (m->queued - 1);
            text += fmt::format(", queued {} tick{}", waited, waited == 1 ? "" : "s");
        }
        const char* kind = m->kernel ? "-)" : m->reply ? "-->>" : "->>";
        arrow(seq, m->kernel ? kKernel : m->task, kind, to, text);
        follow.forget(msg);
    }

    void on_event(const Event& e);
};

void MermaidSink::State::on_event(const Event& e) {
    follow.on_event(e);
    if (e.seq != 0) seen = e.seq;
    const char* text = e.text ? e.text : "";
    switch (e.kind) {
    case EventKind::Receive:
        if (e.extra == 1) {  // handed back to its sender after MACH_SEND_TIMED_OUT or an interruption
            if (const machine::TraceFollower::Message* m = follow.message(e.msg))
                arrow(e.seq, m->task, "-x", follow.holder(e.port),
                      label(e.msg, *m) + " not delivered, back to its sender");
            follow.forget(e.msg);
        } else {
            received(e.seq, e.tick, e.msg, e.task);
        }
        break;
    case EventKind::ExceptionReply:  // the answer reached the faulting thread with no receive line
        for (uint32_t msg : follow.taken_by(e.thread)) received(e.seq, e.tick, msg, e.task);
        break;
    case EventKind::MsgDestroy:
        if (const machine::TraceFollower::Message* m = follow.message(e.msg)) {
            uint32_t to = m->to_task ? m->to_task : follow.holder(e.port);
            arrow(e.seq, m->kernel ? kKernel : m->task, "-x", to, label(e.msg, *m) + " destroyed: " + text);
            follow.forget(e.msg);
        }
        break;
    case EventKind::TaskExit: note(e.seq, e.task, fmt::format("{} (exit code {})", text, e.code)); break;
    case EventKind::Fault:
        if (e.code == 0)
            note(e.seq, e.task, fmt::format("fault: {}", text));
        else
            note(e.seq, e.task,
                 fmt::format("fault {} ({}): {}", exception_name(e.code),
                             exception_code_name(e.code, static_cast<int32_t>(e.extra)), text));
        break;
    case EventKind::SignalPost:
        note2(e.seq, e.task, e.space, fmt::format("{} posted to {}", signal_name(e.code), follow.task_name(e.space)));
        break;
    case EventKind::SignalAction: note(e.seq, e.space, fmt::format("{}: {}", signal_name(e.code), text)); break;
    case EventKind::Fail: {
        const std::string& call = follow.call(e.thread);
        note(e.seq, e.task, fmt::format("{}failed: {}: {}", call.empty() ? "" : call + " ", code_name(e.code), text));
        break;
    }
    case EventKind::Block:
        if (std::string_view(text) == "disk") disk_since[e.thread] = e.tick;
        break;
    case EventKind::Wake:
        if (auto it = disk_since.find(e.extra); it != disk_since.end()) {
            note(e.seq, follow.task_of(e.extra),
                 e.code == 0 ? fmt::format("thread {} waited {} ticks for the disk", e.extra, e.tick - it->second)
                             : fmt::format("thread {} stopped waiting for the disk: it is ending", e.extra));
            disk_since.erase(it);
        }
        break;
    case EventKind::Timer: note(e.seq, follow.task_of(e.extra), text); break;
    case EventKind::Suspend: note(e.seq, follow.task_of(e.extra), fmt::format("thread {} suspended", e.extra)); break;
    case EventKind::Resume: note(e.seq, follow.task_of(e.extra), fmt::format("thread {} resumed", e.extra)); break;
    case EventKind::IrqRaise:
        note(e.seq, kKernel,
             fmt::format("irq line {} raised{}: {}", e.extra, e.before > 1 ? fmt::format(" x{}", e.before) : "", text));
        break;
    case EventKind::IrqAck:
        note(e.seq, e.task, fmt::format("acknowledged irq line {}{}", e.extra,
                                        e.after ? ", a remembered interrupt follows" : ""));
        break;
    case EventKind::IrqRegister: note(e.seq, e.space, fmt::format("registered for irq line {}", e.extra)); break;
    case EventKind::IrqDrop: note(e.seq, kKernel, fmt::format("irq line {} registration dropped: {}", e.extra, text)); break;
    case EventKind::Deadlock: {
        std::string s = fmt::format("deadlock: blocked forever ({})", text);
        if (e.port) s += fmt::format(" on {:#x} (P{})", e.name, e.port);
        if (e.extra)
            s += fmt::format(", {} {}", std::string_view(text) == "semaphore" ? "made by" : "receive right held by",
                             follow.task_name(e.extra));
        note(e.seq, e.task, s);
        break;
    }
    default: break;
    }
}

MermaidSink::MermaidSink(std::ostream& out, Options opts) : s_(std::make_unique<State>(out, std::move(opts))) {}

MermaidSink::~MermaidSink() = default;

void MermaidSink::on_event(const Event& e) {
    if (!s_->finished) s_->on_event(e);
}

bool MermaidSink::truncated() const { return s_->full; }
uint64_t MermaidSink::truncated_at() const { return s_->cut_at; }

void MermaidSink::finish() {
    State& s = *s_;
    if (s.finished) return;
    // Messages taken by a thread that never got to a receive line (the run ended first).
    for (uint32_t msg : s.follow.pending())
        if (const machine::TraceFollower::Message* m = s.follow.message(msg); m && m->to_task)
            s.received(s.seen, 0, msg, m->to_task);
    s.finished = true;

    std::string head = "sequenceDiagram\n";
    std::string window = fmt::format("seq {} to {}", s.o.from ? s.o.from : 1, s.o.to ? s.o.to : s.seen);
    std::string tasks;
    for (const std::string& t : s.o.tasks) tasks += (tasks.empty() ? "" : ", ") + escape(t);
    head += fmt::format("    %% machsim trace, {}{}{}; an arrow is drawn when its message is received or destroyed\n",
                        window, tasks.empty() ? "" : ", tasks: ", tasks);
    if (s.lines.empty() && !s.full) head += "    %% nothing to draw in this window\n";
    for (uint32_t t : s.used) head += s.declaration(t);
    std::string tail;
    if (s.full) {
        std::string what = fmt::format("cut at seq {} to stay under {} characters", s.cut_at, s.o.max_chars);
        std::string more = fmt::format("draw the rest with --from {}", s.cut_at);
        if (!s.used.empty()) {
            uint32_t a = *s.used.begin(), b = *s.used.rbegin();
            tail += fmt::format("    Note over {}{}: {}, {}\n", id(a), a == b ? "" : "," + id(b), escape(what),
                                escape(more));
        }
        tail += fmt::format("    %% truncated: {}; {}\n", what, more);
    }
    if (s.o.fence) s.out << "```mermaid\n";
    s.out << head;
    for (const std::string& line : s.lines) s.out << line;
    s.out << tail;
    if (s.o.fence) s.out << "```\n";
    s.out.flush();
}

}  // namespace machsim
