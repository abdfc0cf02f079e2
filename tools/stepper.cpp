#include "tools/stepper.h"

#include <fmt/format.h>

#include <charconv>
#include <istream>
#include <ostream>
#include <sstream>

namespace machsim {

namespace {

constexpr const char* kPrompt = "(machsim) ";

constexpr const char* kHelp =
    "  Enter, n [N]      show the next event (or the next N) and stop\n"
    "  back [N]          go back to the event shown before this one (or N before): the program\n"
    "                    runs again from the start, unseen up to there\n"
    "  c                 run on until a breakpoint or the end of the run\n"
    "  b SEQ             stop at event SEQ (or the first one shown after it), once\n"
    "  b task NAME       stop at events of task NAME (acting, or whose name space changes)\n"
    "  b kind WORD       stop at events of a kind, by the trace's word: send, receive, block, irq, ...\n"
    "  b port P3         stop at events on port P3\n"
    "  b msg N           stop at events of message N\n"
    "  b                 list the breakpoints;  d: delete them all\n"
    "  ps                every task, and what each thread is doing\n"
    "  q                 stop showing events: the run ends silently, then its report\n"
    "  h                 this help\n";

bool parse_number(std::string_view s, uint64_t& out) {
    if (!s.empty() && (s[0] == 'P' || s[0] == 'p')) s.remove_prefix(1);  // "P3" for a port
    auto [at, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && at == s.data() + s.size();
}

bool is_kind_word(const std::string& w) {
    for (int k = 0; k < 256; ++k)  // every EventKind: past the last one the name is "?"
        if (w == event_kind_name(static_cast<EventKind>(k))) return w != "?";
    return false;
}

}  // namespace

// Passes what is written on to `to`, or drops it while closed.
class Stepper::Gate : public std::streambuf {
public:
    explicit Gate(std::streambuf* to) : to_(to) {}
    bool open = true;

protected:
    int overflow(int c) override { return !open || c == traits_type::eof() ? traits_type::not_eof(c) : to_->sputc(static_cast<char>(c)); }
    std::streamsize xsputn(const char* s, std::streamsize n) override { return open ? to_->sputn(s, n) : n; }
    int sync() override { return open ? to_->pubsync() : 0; }

private:
    std::streambuf* to_;
};

Stepper::Stepper(std::istream& in, std::ostream& out, bool syscalls, bool echo)
    : in_(in), out_(out), syscalls_(syscalls), echo_(echo), gate_(std::make_unique<Gate>(out.rdbuf())),
      gated_(std::make_unique<std::ostream>(gate_.get())), text_(*gated_, syscalls) {}

Stepper::~Stepper() = default;

void Stepper::replay() {
    // What ps shows is learnt again from the replayed events; breakpoints stay.
    task_names_.clear();
    task_ends_.clear();
    daemons_.clear();
    thread_task_.clear();
    thread_state_.clear();
    suspended_.clear();
    shown_.clear();
    mode_ = Mode::Replay;
    gate_->open = false;  // the text sink has printed these events already
}

std::string Stepper::Break::describe() const {
    switch (on) {
    case On::Seq: return fmt::format("event {}", number);
    case On::Task: return fmt::format("task {}", word);
    case On::Kind: return fmt::format("kind {}", word);
    case On::Port: return fmt::format("port P{}", number);
    case On::Msg: return fmt::format("msg {}", number);
    }
    return "?";
}

bool Stepper::Break::matches(const Event& e, const std::string& task_name, const std::string& space_name) const {
    switch (on) {
    case On::Seq: return e.seq >= number;  // the first event shown from there on (a call's may be hidden)
    case On::Task: return task_name == word || space_name == word;
    case On::Kind: return event_kind_name(e.kind) == word;
    case On::Port: return e.port == number;
    case On::Msg: return e.msg == number;
    }
    return false;
}

bool Stepper::shown(const Event& e) const {
    return e.seq != 0 && (syscalls_ || (e.kind != EventKind::SyscallEnter && e.kind != EventKind::SyscallLeave));
}

std::string Stepper::name_of(uint32_t task) const {
    auto it = task_names_.find(task);
    return it == task_names_.end() ? std::string() : it->second;
}

void Stepper::on_event(const Event& e) {
    follow(e);
    if (mode_ == Mode::Quiet) return;
    text_.on_event(e);
    if (!shown(e)) return;
    shown_.push_back(e.seq);
    if (mode_ == Mode::Replay) {
        if (e.seq < restart_at_) return;
        gate_->open = true;
        if (hide_output) hide_output(false);
        restart_at_ = 0;
        mode_ = Mode::Step;
        out_ << fmt::format("back at event {} (the program ran again from the start):\n", e.seq);
        text_.on_event(e);  // its line again, now that it shows
        stop();
        return;
    }
    for (auto b = breaks_.begin(); b != breaks_.end(); ++b) {
        if (b->matches(e, name_of(e.task), e.space ? name_of(e.space) : std::string())) {
            out_ << "breakpoint: " << b->describe() << '\n';
            if (b->on == Break::On::Seq) breaks_.erase(b);  // it would match every later event
            stop();
            return;
        }
    }
    if (mode_ == Mode::Step && --steps_left_ == 0) stop();
}

void Stepper::follow(const Event& e) {
    auto set = [this](uint32_t thread, std::string state) {
        if (thread) thread_state_[thread] = std::move(state);
    };
    if (e.thread && e.task && thread_task_.emplace(e.thread, e.task).second)  // one made before we attached
        thread_state_.emplace(e.thread, "ready");
    switch (e.kind) {
    case EventKind::TaskCreate:
        task_names_[e.task] = e.text ? e.text : "";
        daemons_[e.task] = e.extra == 1;
        break;
    case EventKind::TaskExit:
        task_ends_[e.task] = fmt::format("{} (exit code {})", e.text ? e.text : "", e.code);
        break;
    case EventKind::ThreadCreate:
        thread_task_[e.thread] = e.task;
        set(e.thread, "ready");
        break;
    case EventKind::ThreadExit: set(e.thread, "ended"); break;
    case EventKind::Switch: {
        auto prev = thread_state_.find(e.extra);
        if (prev != thread_state_.end() && prev->second == "running") prev->second = "ready";
        set(e.thread, "running");
        break;
    }
    case EventKind::Block:
        set(e.thread, e.port ? fmt::format("blocked: {} on {:#x} (P{})", e.text ? e.text : "", e.name, e.port)
                             : fmt::format("blocked: {}", e.text ? e.text : ""));
        break;
    case EventKind::Wake: set(e.extra, fmt::format("ready (woken: {})", code_name(e.code))); break;
    case EventKind::Suspend: suspended_.insert(e.extra); break;
    case EventKind::Resume: suspended_.erase(e.extra); break;
    default: break;
    }
}

void Stepper::stop() {
    steps_left_ = 1;
    while (!input_ended_) {
        out_ << kPrompt;
        out_.flush();
        std::string line;
        if (!std::getline(in_, line)) {
            input_ended_ = true;  // no more commands: run on to the end
            out_ << "\n";
            mode_ = Mode::Continue;
            breaks_.clear();
            return;
        }
        if (echo_) out_ << line << '\n';
        if (command(line)) return;
    }
}

bool Stepper::command(const std::string& line) {
    std::istringstream words_in(line);
    std::vector<std::string> w;
    for (std::string s; words_in >> s;) w.push_back(s);
    if (w.empty() || w[0] == "n" || w[0] == "next") {
        uint64_t n = 1;
        if (w.size() > 1 && (!parse_number(w[1], n) || n == 0)) {
            out_ << fmt::format("'{}' is not a number of events (1 or more)\n", w[1]);
            return false;
        }
        mode_ = Mode::Step;
        steps_left_ = n;
        return true;
    }
    const std::string& c = w[0];
    if (c == "c" || c == "continue") {
        mode_ = Mode::Continue;
        return true;
    }
    if (c == "back") return back(w);
    if (c == "b" || c == "break") {
        if (w.size() == 1) {
            if (breaks_.empty()) out_ << "no breakpoints\n";
            for (const Break& b : breaks_) out_ << "  " << b.describe() << '\n';
            return false;
        }
        if (add_break(w)) out_ << "breakpoint at " << breaks_.back().describe() << '\n';
        return false;
    }
    if (c == "d" || c == "delete") {
        breaks_.clear();
        out_ << "no breakpoints\n";
        return false;
    }
    if (c == "ps") {
        ps();
        return false;
    }
    if (c == "q" || c == "quit") {
        mode_ = Mode::Quiet;
        return true;
    }
    if (c == "h" || c == "help" || c == "?") {
        out_ << kHelp;
        return false;
    }
    out_ << fmt::format("unknown command '{}' (h: help)\n", c);
    return false;
}

bool Stepper::add_break(const std::vector<std::string>& w) {
    Break b{};
    uint64_t n = 0;
    if (w.size() == 2 && parse_number(w[1], n) && w[1][0] != 'P' && w[1][0] != 'p') {
        b.on = Break::On::Seq;
        b.number = n;
    } else if (w.size() == 3 && w[1] == "task") {
        b.on = Break::On::Task;
        b.word = w[2];
    } else if (w.size() == 3 && w[1] == "kind" && is_kind_word(w[2])) {
        b.on = Break::On::Kind;
        b.word = w[2];
    } else if (w.size() == 3 && w[1] == "port" && parse_number(w[2], n)) {
        b.on = Break::On::Port;
        b.number = n;
    } else if (w.size() == 3 && w[1] == "msg" && parse_number(w[2], n)) {
        b.on = Break::On::Msg;
        b.number = n;
    } else {
        if (w.size() == 3 && w[1] == "kind")
            out_ << fmt::format("no event kind '{}': the trace's words are send, receive, block, wake, "
                                "copyin, irq, ... (the fourth column of the trace)\n",
                                w[2]);
        else
            out_ << "usage: b SEQ | b task NAME | b kind WORD | b port P3 | b msg N\n";
        return false;
    }
    breaks_.push_back(b);
    return true;
}

bool Stepper::back(const std::vector<std::string>& w) {
    uint64_t n = 1;
    if (w.size() > 1 && (!parse_number(w[1], n) || n == 0)) {
        out_ << fmt::format("'{}' is not a number of events (1 or more)\n", w[1]);
        return false;
    }
    if (shown_.size() < 2) {
        out_ << "this is the first event: there is nothing to go back to\n";
        return false;
    }
    restart_at_ = shown_[shown_.size() - 1 - std::min<uint64_t>(n, shown_.size() - 1)];
    mode_ = Mode::Quiet;  // the rest of this run goes by unseen; debug_run runs the program again
    if (hide_output) hide_output(true);  // and so does what its tasks print, until the replay is back
    return true;
}

void Stepper::ps() const {
    for (const auto& [id, name] : task_names_) {
        auto end = task_ends_.find(id);
        bool daemon = daemons_.count(id) && daemons_.at(id);
        out_ << fmt::format("  task {} {}{}{}\n", id, name, daemon ? " (daemon)" : "",
                            end == task_ends_.end() ? "" : ": " + end->second);
        if (end != task_ends_.end()) continue;
        for (const auto& [thread, task] : thread_task_)
            if (task == id)
                out_ << fmt::format("    thread {}: {}{}\n", thread, thread_state_.at(thread),
                                    suspended_.count(thread) ? ", suspended" : "");
    }
}

RunReport debug_run(const std::function<void(Kernel&)>& setup, const Config& cfg, std::istream& in, std::ostream& out,
                    bool syscalls, bool echo, const std::function<void(bool)>& hide_output) {
    Stepper stepper(in, out, syscalls, echo);
    stepper.hide_output = hide_output;
    for (;;) {
        Kernel k(cfg);
        k.attach(stepper);
        setup(k);
        RunReport r = k.run();
        if (!stepper.restart_at()) return r;
        stepper.replay();
    }
}

}  // namespace machsim
