// The exporting sinks: Perfetto JSON (parsed back with nlohmann-json) and Mermaid diagrams,
// from real task programs.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support.h"

using machsim::EventKind;
using nlohmann::json;

namespace {

using Setup = std::function<void(machsim::Kernel&)>;
using mt::lines_of;
using mt::program;

// One run, exported both ways and logged.
struct Exported {
    machsim::RunReport report;
    std::string perfetto;
    std::string mermaid;
    machsim::TraceLog log;
};

Exported export_run(const Setup& setup, machsim::Config cfg = {}, machsim::MermaidSink::Options mo = {}) {
    Exported x;
    std::ostringstream pj, mm;
    machsim::PerfettoSink perfetto(pj);
    machsim::MermaidSink mermaid(mm, mo);
    machsim::Kernel k(cfg);
    k.attach(x.log);
    k.attach(perfetto);
    k.attach(mermaid);
    setup(k);
    x.report = k.run();
    perfetto.note("seed", cfg.seed);
    perfetto.finish();
    mermaid.finish();
    x.perfetto = pj.str();
    x.mermaid = mm.str();
    return x;
}

std::vector<json> events_of(const json& doc, const std::string& ph) {
    std::vector<json> out;
    for (const json& e : doc.at("traceEvents"))
        if (e.at("ph") == ph) out.push_back(e);
    return out;
}

int64_t ns(const json& v) { return std::llround(v.get<double>() * 1000); }

struct Span {
    int64_t start, end;
    std::string name;
};

// The X slices of each (pid, tid), sorted by start, longest first.
std::map<std::pair<int, int>, std::vector<Span>> slices(const json& doc) {
    std::map<std::pair<int, int>, std::vector<Span>> out;
    for (const json& e : events_of(doc, "X"))
        out[{e.at("pid"), e.at("tid")}].push_back({ns(e.at("ts")), ns(e.at("ts")) + ns(e.at("dur")), e.at("name")});
    for (auto& [track, spans] : out)
        std::sort(spans.begin(), spans.end(),
                  [](const Span& a, const Span& b) { return a.start != b.start ? a.start < b.start : a.end > b.end; });
    return out;
}

// Every slice has dur >= 0, and the slices of one thread nest: one that starts inside
// another ends inside it too.
void check_nesting(const json& doc) {
    for (const json& e : events_of(doc, "X")) CHECK(e.at("dur").get<double>() >= 0);
    for (const auto& [track, spans] : slices(doc)) {
        std::vector<Span> stack;
        for (const Span& s : spans) {
            while (!stack.empty() && stack.back().end <= s.start) stack.pop_back();
            if (!stack.empty()) {
                INFO("pid ", track.first, " tid ", track.second, ": '", s.name, "' inside '", stack.back().name, "'");
                CHECK(s.end <= stack.back().end);
            }
            stack.push_back(s);
        }
    }
}

// Strictly inside a slice of its own thread, so that which slice Perfetto binds it to does not
// hang on how it orders records of one timestamp.
bool enclosed(const json& doc, const json& point) {
    auto all = slices(doc);
    int64_t t = ns(point.at("ts"));
    for (const Span& s : all[{point.at("pid"), point.at("tid")}])
        if (s.start < t && t < s.end) return true;
    return false;
}

// Two tasks that each wait for the other to speak first, and one that crashes.
void crash_and_deadlock(machsim::Kernel& k) {
    k.spawn("alice", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "alice", &p), KERN_SUCCESS);
        mt::SimpleReceived in;
        mt::receive_simple(p, in);  // nobody sends
    });
    k.spawn("crasher", [] {
        machsim::compute(3);
        throw std::runtime_error("boom");
    });
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Whether some line of `text` starts with `head`, holds `middle` after it and ends with `tail`.
// (No std::regex: GCC 12 warns inside it under the sanitizers, and warnings are errors.)
bool has_line(const std::string& text, const std::string& head, const std::string& middle, const std::string& tail);

// `line` without its Mermaid entities (#59; #lt; ...).
std::string strip_entities(const std::string& line) {
    std::string out;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#') {
            std::size_t j = i + 1;
            while (j < line.size() && (std::isdigit(static_cast<unsigned char>(line[j])) ||
                                       std::islower(static_cast<unsigned char>(line[j]))))
                ++j;
            if (j > i + 1 && j < line.size() && line[j] == ';') {
                i = j;
                continue;
            }
        }
        out += line[i];
    }
    return out;
}

// Whether `line` holds the word "end", in any case, standing alone.
bool has_word_end(const std::string& line) {
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (std::size_t i = 0; i + 3 <= line.size(); ++i) {
        std::string w = line.substr(i, 3);
        for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (w == "end" && (i == 0 || !word(line[i - 1])) && (i + 3 == line.size() || !word(line[i + 3]))) return true;
    }
    return false;
}

bool has_line(const std::string& text, const std::string& head, const std::string& middle, const std::string& tail) {
    for (const std::string& l : lines_of(text)) {
        if (l.size() < head.size() + middle.size() + tail.size() || l.compare(0, head.size(), head) != 0 ||
            l.compare(l.size() - tail.size(), tail.size(), tail) != 0)
            continue;
        if (l.substr(head.size(), l.size() - head.size() - tail.size()).find(middle) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST_SUITE("trace export: Perfetto") {

TEST_CASE("the Perfetto export of an RPC run is JSON with a named process per task and a named track per thread") {
    Exported x = export_run(program("echo"));
    CHECK(x.report.clean());
    json doc = json::parse(x.perfetto);
    std::map<int, std::string> processes, threads;
    for (const json& e : events_of(doc, "M")) {
        if (e.at("name") == "process_name") processes[e.at("pid")] = e.at("args").at("name");
        if (e.at("name") == "thread_name") threads[e.at("tid")] = e.at("args").at("name");
    }
    CHECK(processes[1] == "task 1 bootstrap");
    CHECK(processes[2] == "task 2 echo-server");
    CHECK(processes[3] == "task 3 echo-client");
    for (const auto& e : x.log.of_kind(EventKind::ThreadCreate))
        CHECK(threads[static_cast<int>(e.event.thread)] == fmt::format("thread {}", e.event.thread));
    CHECK(doc.at("otherData").at("seed") == 1);
    CHECK(doc.at("displayTimeUnit") == "ns");
    // One syscall slice per call, with its return code by name.
    std::multiset<std::string> returns, expected;
    for (const json& e : events_of(doc, "X"))
        if (e.at("cat") == "syscall") returns.insert(e.at("args").at("return"));
    for (const auto& e : x.log.of_kind(EventKind::SyscallLeave)) expected.insert(machsim::code_name(e.event.code));
    CHECK(returns == expected);
    CHECK(returns.count("MACH_RCV_INTERRUPTED") == 1);  // the bootstrap server's last wait, at shut-down
}

TEST_CASE("system call and blocked slices nest on each thread, and a blocked interval sits in its mach_msg") {
    for (const char* name : {"echo", "prodcons", "pager", "failover"}) {
        INFO(name);
        Exported x = export_run(program(name));
        json doc = json::parse(x.perfetto);
        check_nesting(doc);
        int blocked = 0;
        for (const json& e : events_of(doc, "X")) {
            if (e.at("cat") != "blocked") continue;
            ++blocked;
            bool in_call = false;
            for (const json& c : events_of(doc, "X"))
                if (c.at("cat") == "syscall" && c.at("tid") == e.at("tid") && ns(c.at("ts")) < ns(e.at("ts")) &&
                    ns(e.at("ts")) + ns(e.at("dur")) < ns(c.at("ts")) + ns(c.at("dur")))
                    in_call = true;
            if (e.at("name").get<std::string>().find("0x0") == std::string::npos)  // not an exception wait
                CHECK(in_call);
        }
        CHECK(blocked > 0);
    }
}

TEST_CASE("every message received is one flow: s on the sender's thread, f (bp e) on the receiver's, id = msg") {
    for (const char* name : {"echo", "pager"}) {
        INFO(name);
        Exported x = export_run(program(name));
        json doc = json::parse(x.perfetto);
        std::map<uint32_t, json> starts, finishes;
        for (const json& e : events_of(doc, "s")) CHECK(starts.emplace(e.at("id"), e).second);
        for (const json& e : events_of(doc, "f")) CHECK(finishes.emplace(e.at("id"), e).second);
        std::map<uint32_t, machsim::Event> sends;
        for (const auto& e : x.log.of_kind(EventKind::Send)) sends[e.event.msg] = e.event;
        int received = 0;
        for (const auto& r : x.log.of_kind(EventKind::Receive)) {
            if (r.event.extra == 1) continue;
            ++received;
            uint32_t msg = r.event.msg;
            REQUIRE(starts.count(msg));
            REQUIRE(finishes.count(msg));
            const json& s = starts[msg];
            const json& f = finishes[msg];
            CHECK(s.at("cat") == "ipc");
            CHECK(f.at("bp") == "e");
            CHECK(s.at("pid") == sends[msg].task);
            CHECK(s.at("tid") == sends[msg].thread);
            CHECK(f.at("pid") == r.event.task);
            CHECK(f.at("tid") == r.event.thread);
            CHECK(ns(s.at("ts")) < ns(f.at("ts")));
            CHECK(s.at("name") == f.at("name"));
            CHECK(enclosed(doc, s));  // Perfetto binds each end to the slice around it
            CHECK(enclosed(doc, f));
        }
        CHECK(received > 0);
        for (const auto& [id, s] : starts) CHECK(finishes.count(id));
        CHECK(starts.size() >= static_cast<std::size_t>(received));
    }
}

TEST_CASE("a port's counter follows its queue length, enqueue by enqueue, dequeue by dequeue") {
    Exported x = export_run(program("prodcons"));
    json doc = json::parse(x.perfetto);
    std::map<std::string, std::vector<int>> counters, expected;
    for (const json& e : events_of(doc, "C")) counters[e.at("name")].push_back(e.at("args").at("qlen"));
    for (const auto& en : x.log.entries()) {
        const machsim::Event& e = en.event;
        std::string name = fmt::format("port P{}", e.port);
        if (e.kind == EventKind::Enqueue || e.kind == EventKind::Dequeue)
            expected[name].push_back(static_cast<int>(e.after));
        if (e.kind == EventKind::PortDestroy && expected.count(name) && expected[name].back() != 0)
            expected[name].push_back(0);
    }
    CHECK(!expected.empty());
    CHECK(counters == expected);
    int max = 0;
    for (const auto& [name, values] : counters)
        for (int v : values) max = std::max(max, v);
    CHECK(max == 3);  // prodcons fills its queue (qlimit 3)
}

TEST_CASE("a run that crashes, deadlocks or stops at its time limit still ends in valid, nested JSON") {
    machsim::Config limited;
    limited.max_ticks = 40;
    for (auto [setup, cfg] : {std::pair{Setup(crash_and_deadlock), machsim::Config{}},
                              std::pair{program("prodcons"), limited}}) {
        Exported x = export_run(setup, cfg);
        CHECK_FALSE(x.report.clean());
        json doc = json::parse(x.perfetto);
        check_nesting(doc);
        std::set<std::string> names;
        for (const json& e : events_of(doc, "i")) names.insert(e.at("name"));
        if (x.report.deadlock) {
            CHECK(names.count("task 3 crashed: boom"));
            CHECK(names.count("deadlock: blocked forever (receive)"));
        } else {
            CHECK(x.report.time_limit);
            CHECK(names.count("task 2 stopped"));
        }
    }
}

TEST_CASE("faults, exception messages and signals are instants with their details") {
    Exported x = export_run(program("pager"));
    json doc = json::parse(x.perfetto);
    std::map<std::string, std::vector<json>> instants;
    for (const json& e : events_of(doc, "i")) instants[e.at("name")].push_back(e);
    REQUIRE(instants["fault EXC_BAD_ACCESS"].size() == x.log.of_kind(EventKind::Fault).size());
    const json& fault = instants["fault EXC_BAD_ACCESS"].front();
    CHECK(fault.at("pid") == 3);  // the client
    CHECK(fault.at("args").at("address") == "0x300000004000");
    CHECK(fault.at("args").at("code") == "KERN_PROTECTION_FAILURE");
    CHECK(instants["exception EXC_BAD_ACCESS raised"].size() == x.log.of_kind(EventKind::ExceptionRaise).size());
    CHECK(instants["exception answered"].size() == x.log.of_kind(EventKind::ExceptionReply).size());
    REQUIRE(instants["SIGSEGV posted"].size() == 1);
    CHECK(instants["SIGSEGV posted"][0].at("args").at("to") == "client");
    CHECK(instants["SIGSEGV: handler"].size() == 1);
}

TEST_CASE("interrupts are instants on a track per line of a \"devices\" process") {
    Exported x = export_run(program("driver"));
    json doc = json::parse(x.perfetto);
    check_nesting(doc);
    const int devices = 1'000'001;
    bool named = false, line_named = false;
    for (const json& e : events_of(doc, "M")) {
        named |= e.at("pid") == devices && e.at("name") == "process_name" && e.at("args").at("name") == "devices";
        line_named |= e.at("pid") == devices && e.at("name") == "thread_name" && e.at("args").at("name") == "irq line 0";
    }
    CHECK(named);
    CHECK(line_named);
    std::map<std::string, int> on_line;
    for (const json& e : events_of(doc, "i"))
        if (e.at("pid") == devices && e.at("tid") == devices + 0 && e.at("cat") == "irq") ++on_line[e.at("name")];
    CHECK(on_line["registered"] == 1);
    CHECK(on_line["raised"] + on_line["raised x2"] == static_cast<int>(x.log.of_kind(EventKind::IrqRaise).size()));
    CHECK(on_line["raised x2"] == 1);  // the slow handler: two raises coalesced
    CHECK(on_line["delivered, masked"] == static_cast<int>(x.log.of_kind(EventKind::IrqDeliver).size()));
    CHECK(on_line["acknowledged, unmasked"] == static_cast<int>(x.log.of_kind(EventKind::IrqAck).size()));
    CHECK(on_line["registration dropped"] == 1);
    // A run with no interrupts has no devices process.
    Exported echo = export_run(program("echo"));
    CHECK(echo.perfetto.find("\"devices\"") == std::string::npos);
}

TEST_CASE("slices still open when the sink finishes are closed at the last event, inner first") {
    std::ostringstream out;
    machsim::PerfettoSink sink(out);
    // A thread in mach_msg, blocked, when the stream stops (a sink detached mid-run sees this).
    sink.on_event({.seq = 1, .tick = 5, .kind = EventKind::TaskCreate, .task = 2, .text = "t"});
    sink.on_event({.seq = 2, .tick = 5, .kind = EventKind::SyscallEnter, .task = 2, .thread = 7, .text = "mach_msg"});
    sink.on_event({.seq = 3, .tick = 6, .kind = EventKind::Block, .task = 2, .thread = 7, .text = "receive"});
    sink.on_event({.seq = 4, .tick = 9, .kind = EventKind::Switch, .task = 0, .thread = 0});
    sink.finish();
    json doc = json::parse(out.str());
    auto xs = events_of(doc, "X");
    REQUIRE(xs.size() == 2);
    CHECK(xs[0].at("name") == "blocked: receive");
    CHECK(xs[1].at("name") == "mach_msg");
    CHECK(ns(xs[0].at("ts")) == 6000);
    CHECK(ns(xs[1].at("ts")) == 5001);  // the second event of tick 5
    CHECK(ns(xs[0].at("ts")) + ns(xs[0].at("dur")) == 9000);
    CHECK(ns(xs[1].at("ts")) + ns(xs[1].at("dur")) == 9000);
    CHECK(xs[1].at("args").at("unfinished") == "the run ended");
    check_nesting(doc);
}

TEST_CASE("strings are escaped: a task name with quotes, a backslash, a control byte and no valid UTF-8") {
    std::string name = "q\"b\\s\nc\x01 \xff\xc3\xa9";
    Exported x = export_run([&](machsim::Kernel& k) { k.spawn(name, [] {}); });
    json doc = json::parse(x.perfetto);  // throws on invalid UTF-8 or a bad escape
    bool found = false;
    for (const json& e : events_of(doc, "M"))
        if (e.at("name") == "process_name" && e.at("pid") == 2) {
            found = true;
            CHECK(e.at("args").at("name") == "task 2 q\"b\\s\nc\x01 \xef\xbf\xbd\xc3\xa9");  // 0xff -> U+FFFD
        }
    CHECK(found);
}

TEST_CASE("two runs of one program give byte-identical Perfetto JSON and Mermaid text") {
    for (const Setup& setup : {program("echo"), Setup(crash_and_deadlock)}) {
        Exported a = export_run(setup), b = export_run(setup);
        CHECK(a.perfetto.size() > 1000);
        CHECK(a.perfetto == b.perfetto);
        CHECK(a.mermaid == b.mermaid);
    }
}

}  // TEST_SUITE("trace export: Perfetto")

TEST_SUITE("trace export: Mermaid") {

TEST_CASE("the echo RPC draws a participant per task, a solid arrow per request and a dotted one per reply") {
    Exported x = export_run(program("echo"));
    const std::string& m = x.mermaid;
    CHECK(m.rfind("sequenceDiagram\n", 0) == 0);
    CHECK(m.find("    participant T1 as bootstrap (task 1)\n") != std::string::npos);
    CHECK(m.find("    participant T2 as echo-server (task 2)\n") != std::string::npos);
    CHECK(m.find("    participant T3 as echo-client (task 3)\n") != std::string::npos);
    CHECK(m.find("    T2->>T1: msg 1 id=402 to P3\n") != std::string::npos);     // check-in request
    CHECK(m.find("    T1-->>T2: msg 2 id=502 to P8\n") != std::string::npos);    // its reply, send-once
    CHECK(m.find("    T3->>T2: msg 5 id=500 to P9\n") != std::string::npos);     // the echo request
    CHECK(m.find("    T2-->>T3: msg 6 id=600 to P11\n") != std::string::npos);   // and its answer
    CHECK(m.find("    Note over T3: exited (exit code 0)\n") != std::string::npos);
    std::size_t receives = 0;
    for (const auto& e : x.log.of_kind(EventKind::Receive)) receives += e.event.extra == 0;
    CHECK(count(m, "->>") == receives);  // "-->>" contains "->>": every arrow once
    CHECK(m.find("truncated") == std::string::npos);
}

TEST_CASE("a destroyed message is drawn with a cross; failed calls, crashes, deadlocks and timeouts are notes") {
    Exported x = export_run([](machsim::Kernel& k) {
        crash_and_deadlock(k);
        k.spawn("dropper", [] {
            mach_port_t p = mt::new_port_with_send();
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, MACH_PORT_NULL, 0, 321), MACH_MSG_SUCCESS);
            CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
            mach_msg_header_t h{};  // no disposition: MACH_SEND_INVALID_HEADER
            h.msgh_remote_port = bootstrap_port;
            CHECK_KR(mach_msg(&h, MACH_SEND_MSG, sizeof h, 0, 0, 0, 0), MACH_SEND_INVALID_HEADER);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(mt::new_receive_right(), in, MACH_RCV_TIMEOUT, 2), MACH_RCV_TIMED_OUT);
        });
    });
    const std::string& m = x.mermaid;
    INFO(m);
    CHECK(has_line(m, "    T4-xT4: msg ", " id=321 to P", " destroyed: its port died"));
    CHECK(m.find("Note over T4: mach_msg failed: MACH_SEND_INVALID_HEADER: ") != std::string::npos);
    CHECK(m.find("Note over T4: receive timeout\n") != std::string::npos);
    CHECK(m.find("Note over T3: crashed: boom (exit code 0)\n") != std::string::npos);
    CHECK(has_line(m, "    Note over T2: deadlock: blocked forever (receive) on 0x", " (P",
                   "), receive right held by alice"));
}

TEST_CASE("a page fault served by a pager: the fault a note, the exception message from K, the answer a reply") {
    Exported x = export_run(program("pager"));
    const std::string& m = x.mermaid;
    INFO(m);
    CHECK(m.find("    participant K as kernel\n") != std::string::npos);
    CHECK(m.find("    Note over T3: fault EXC_BAD_ACCESS (KERN_PROTECTION_FAILURE): thread 3 touched 0x300000004000") !=
          std::string::npos);
    CHECK(m.find("    K-)T2: msg 3 id=2405 exception message to P6\n") != std::string::npos);
    // The answer reaches the faulting thread with no receive line: drawn at its exc-reply, before
    // the client's next fault.
    std::size_t answer = m.find("    T2-->>T3: msg 4 id=2505 to P10\n");
    CHECK(answer != std::string::npos);
    CHECK(answer < m.find("Note over T3: fault EXC_BAD_ACCESS (KERN_PROTECTION_FAILURE): thread 3 touched 0x300000001000"));
    CHECK(m.find("    Note over T3: SIGSEGV posted to client\n") != std::string::npos);
    CHECK(m.find("    Note over T3: SIGSEGV: handler\n") != std::string::npos);
}

TEST_CASE("interrupts: raises and drops are notes over K, notifications arrows from K, registers and acks notes") {
    Exported x = export_run(program("driver"));
    const std::string& m = x.mermaid;
    INFO(m);
    CHECK(m.find("    Note over T3: registered for irq line 0\n") != std::string::npos);
    CHECK(count(m, "    Note over K: irq line 0 raised: pending\n") == 4);
    CHECK(m.find("    Note over K: irq line 0 raised x2: remembered: line masked until acknowledged\n") !=
          std::string::npos);
    CHECK(count(m, "id=100 interrupt notification to P12") == x.log.of_kind(EventKind::IrqDeliver).size());
    CHECK(m.find("    Note over T3: acknowledged irq line 0, a remembered interrupt follows\n") != std::string::npos);
    CHECK(m.find("    Note over K: irq line 0 registration dropped: delivery port died with its task\n") !=
          std::string::npos);
}

TEST_CASE("a task name with ';', '#', '<' and the word end is escaped, so Mermaid reads it as text") {
    Exported x = export_run([](machsim::Kernel& k) {
        k.spawn("a;b #1 <i>the end</i> End;sender", [] {
            mach_port_t p = mt::new_port_with_send();
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        });
    });
    const std::string& m = x.mermaid;
    INFO(m);
    CHECK(m.find("    participant T2 as a#59;b #35;1 #lt;i#gt;the #101;nd#lt;/i#gt; #69;nd#59;sender (task 2)\n") !=
          std::string::npos);
    CHECK(m.find("    T2->>T2: msg ") != std::string::npos);
    // No ';' or '#' outside an entity, and no bare word "end", anywhere but in %% comments.
    for (const std::string& line : lines_of(m)) {
        if (line.find("%%") != std::string::npos) continue;
        std::string bare = strip_entities(line);
        CHECK(bare.find(';') == std::string::npos);
        CHECK(bare.find('#') == std::string::npos);
        CHECK_FALSE(has_word_end(line));
    }
}

TEST_CASE("a diagram over the size limit stops at a whole line and says where the rest begins") {
    // A task that sends itself 1,500 messages: far more than 50,000 characters of arrows.
    Setup chatter = [](machsim::Kernel& k) {
        k.spawn("chatter", [] {
            mach_port_t p = mt::new_port_with_send();
            mt::SimpleReceived in;
            for (int i = 0; i < 1500; ++i) {
                mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, i);
                mt::receive_simple(p, in);
            }
        });
    };
    Exported x = export_run(chatter);
    const std::string& m = x.mermaid;
    CHECK(m.size() <= 50'000);
    CHECK(m.size() > 45'000);
    const std::string mark = "    %% truncated: cut at seq ";
    std::size_t cut = m.find(mark);
    REQUIRE(cut != std::string::npos);
    uint64_t at = std::stoull(m.substr(cut + mark.size()));
    CHECK(m.find(fmt::format("{}{} to stay under 50000 characters", mark, at)) != std::string::npos);
    CHECK(m.find(fmt::format("Note over T2: cut at seq {} to stay under 50000 characters, draw the rest with --from {}",
                             at, at)) != std::string::npos);
    CHECK(m.back() == '\n');
    // The next window starts where this one stopped: at the arrow that did not fit.
    machsim::MermaidSink::Options next;
    next.from = at;
    next.max_chars = 2'000;
    Exported y = export_run(chatter, {}, next);
    std::string first_arrow;
    for (const std::string& line : lines_of(y.mermaid))
        if (line.find("T2->>T2") != std::string::npos) {
            first_arrow = line;
            break;
        }
    CHECK(first_arrow != "");
    CHECK(m.find(first_arrow + "\n") == std::string::npos);  // not drawn in the first part
    CHECK(y.mermaid.size() <= 2'000);
    CHECK(y.mermaid.find(fmt::format("    %% machsim trace, seq {} to ", at)) != std::string::npos);
    // A limit too small for even one line: still a diagram, which says it was cut, not that it is empty.
    machsim::MermaidSink::Options tiny;
    tiny.max_chars = 700;
    std::string z = export_run(program("echo"), {}, tiny).mermaid;
    CHECK(z.find("%% truncated: cut at seq ") != std::string::npos);
    CHECK(z.find("nothing to draw") == std::string::npos);
    machsim::MermaidSink::Options late;
    late.from = 1'000'000;
    CHECK(export_run(program("echo"), {}, late).mermaid.find("    %% nothing to draw in this window\n") !=
          std::string::npos);
}

TEST_CASE("the window and the task filter keep only the events asked for") {
    Exported all = export_run(program("echo"));
    uint64_t from = 0, to = 0;  // the receives of msg 5 and msg 6: one request and its reply
    for (const auto& e : all.log.of_kind(EventKind::Receive)) {
        if (e.event.msg == 5) from = e.event.seq;
        if (e.event.msg == 6) to = e.event.seq;
    }
    REQUIRE(from != 0);
    REQUIRE(to > from);
    machsim::MermaidSink::Options window;
    window.from = from;
    window.to = to;
    std::string m = export_run(program("echo"), {}, window).mermaid;
    INFO(m);
    CHECK(count(m, "->>") == 2);
    CHECK(m.find("    T3->>T2: msg 5 id=500 to P9\n") != std::string::npos);
    CHECK(m.find("    T2-->>T3: msg 6 id=600 to P11\n") != std::string::npos);
    CHECK(m.find("participant T1") == std::string::npos);  // the bootstrap server plays no part in it
    CHECK(m.find(fmt::format("%% machsim trace, seq {} to {}", from, to)) != std::string::npos);

    machsim::MermaidSink::Options server;
    server.tasks = {"echo-server"};
    m = export_run(program("echo"), {}, server).mermaid;
    INFO(m);
    int drawn = 0;
    for (const std::string& line : lines_of(m)) {
        if (line.find("->>") == std::string::npos && line.find("Note") == std::string::npos) continue;
        ++drawn;
        CHECK(line.find("T2") != std::string::npos);
    }
    CHECK(drawn >= 8);
    CHECK(m.find("T3->>T1") == std::string::npos);  // the client's look-up does not involve the server
    CHECK(m.find("tasks: echo-server") != std::string::npos);
}

}  // TEST_SUITE("trace export: Mermaid")
