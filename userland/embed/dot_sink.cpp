// DotSink: who talked to whom, as a Graphviz digraph (docs/trace.md, section 11).
//
// A box per task and an arrow per (sender, receiver) pair, labelled with how many messages went
// that way and their ids; messages the kernel composed come from an ellipse "kernel". A run that
// deadlocks gets its wait-for graph drawn over that in red, from the report: an arrow from each
// blocked thread's task to each task that could still have woken it, so a cycle of waits shows as
// a red cycle. It lives beside the facade because it reads the RunReport.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "kernel/machine/trace_follow.h"
#include "machsim.h"

namespace machsim {

namespace {

constexpr uint32_t kKernel = 0;
constexpr std::size_t kIdsShown = 4;  // ids listed on an arrow before "..."

// A string dot reads as written, inside double quotes.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + '"';
}

std::string node(uint32_t task) { return task == kKernel ? std::string("K") : fmt::format("T{}", task); }

}  // namespace

struct DotSink::State {
    struct Flow {
        uint64_t messages = 0;
        std::set<int32_t> ids;
    };
    std::ostream& out;
    machine::TraceFollower follow;
    std::vector<uint32_t> tasks;  // in the order they were made
    std::map<uint32_t, std::string> ends;
    std::set<uint32_t> daemons;
    std::map<std::pair<uint32_t, uint32_t>, Flow> flows;  // (from, to)
    bool finished = false;

    explicit State(std::ostream& o) : out(o) {}

    void delivered(uint32_t msg, uint32_t to) {
        const machine::TraceFollower::Message* m = follow.message(msg);
        if (!m) return;  // sent before this sink was attached
        Flow& f = flows[{m->kernel ? kKernel : m->task, to}];
        ++f.messages;
        f.ids.insert(m->id);
        follow.forget(msg);
    }

    void on_event(const Event& e) {
        follow.on_event(e);
        const char* text = e.text ? e.text : "";
        switch (e.kind) {
        case EventKind::TaskCreate:
            if (e.seq == 0 && std::find(tasks.begin(), tasks.end(), e.task) != tasks.end()) break;
            tasks.push_back(e.task);
            if (e.extra == 1) daemons.insert(e.task);
            break;
        case EventKind::TaskExit:  // the code means something only for a task that exited
            ends[e.task] = std::string_view(text) == "exited" ? fmt::format("exited (exit code {})", e.code) : text;
            break;
        case EventKind::Receive:
            if (e.extra == 1)  // handed back to its sender: it went nowhere
                follow.forget(e.msg);
            else
                delivered(e.msg, e.task);
            break;
        case EventKind::ExceptionReply:  // the answer reached the faulting thread with no receive event
            for (uint32_t msg : follow.taken_by(e.thread)) delivered(msg, e.task);
            break;
        case EventKind::MsgDestroy: follow.forget(e.msg); break;
        default: break;
        }
    }

    std::string task_label(uint32_t task, const RunReport& r) const {
        std::string label = fmt::format("{}\ntask {}{}", follow.task_name(task), task, daemons.count(task) ? ", daemon" : "");
        auto end = ends.find(task);
        if (end != ends.end()) label += "\n" + end->second;
        for (const BlockedThread& b : r.blocked)  // waits nobody else can end
            if (b.task == task && (b.waiting == "sleep" || b.waiting == "suspended"))
                label += fmt::format("\nthread {}: {} forever", b.thread, b.waiting == "sleep" ? "asleep" : "suspended");
        return label;
    }

    // The wait-for arrows of one blocked thread: to whoever could still have woken it.
    std::string wait_arrows(const BlockedThread& b) const {
        std::string on = b.port ? fmt::format(" on {:#x} (P{})", b.name, b.port) : std::string();
        std::vector<std::pair<uint32_t, std::string>> to;
        if (b.waiting == "receive") {
            for (const BlockedThread::TaskRef& s : b.senders)
                if (s.id != b.task) to.emplace_back(s.id, "holds a send right");
            if (to.empty()) to.emplace_back(b.task, "no other task holds a send right");
        } else if (b.waiting == "send" || b.waiting == "semaphore") {
            if (b.holder) to.emplace_back(b.holder, b.waiting == "send" ? "receives there" : "made it");
        }
        std::string out;
        for (const auto& [task, why] : to)
            out += fmt::format("  {} -> {} [color=red, fontcolor=red, penwidth=2, label={}];\n", node(b.task), node(task),
                               quoted(fmt::format("thread {} waits to {}{}\n({} {})", b.thread, b.waiting, on,
                                                  follow.task_name(task), why)));
        return out;
    }

    static std::string flow_label(const Flow& f) {
        std::string ids;
        std::size_t shown = 0;
        for (int32_t id : f.ids) {
            if (shown++ == kIdsShown) {
                ids += ", ...";
                break;
            }
            ids += fmt::format("{}{}", ids.empty() ? "" : ", ", id);
        }
        return fmt::format("{} message{}, id{} {}", f.messages, f.messages == 1 ? "" : "s", f.ids.size() == 1 ? "" : "s",
                           ids);
    }

    void finish(const RunReport& r) {
        if (finished) return;
        finished = true;
        out << "// machsim: who sent messages to whom (arrows: count and ids)"
            << (r.deadlock ? "; red: who waits for whom in the deadlock" : "") << "\n";
        out << "digraph machsim {\n  rankdir=LR;\n  node [shape=box];\n";
        bool kernel_sends = false;
        for (const auto& [pair, f] : flows) kernel_sends |= pair.first == kKernel;
        if (kernel_sends) out << "  K [label=\"kernel\", shape=ellipse];\n";
        for (uint32_t t : tasks) out << fmt::format("  {} [label={}];\n", node(t), quoted(task_label(t, r)));
        for (const auto& [pair, f] : flows)
            out << fmt::format("  {} -> {} [label={}];\n", node(pair.first), node(pair.second), quoted(flow_label(f)));
        for (const BlockedThread& b : r.blocked) out << wait_arrows(b);
        out << "}\n";
        out.flush();
    }
};

DotSink::DotSink(std::ostream& out) : s_(std::make_unique<State>(out)) {}
DotSink::~DotSink() = default;
void DotSink::on_event(const Event& e) { s_->on_event(e); }
void DotSink::finish(const RunReport& report) { s_->finish(report); }

}  // namespace machsim
