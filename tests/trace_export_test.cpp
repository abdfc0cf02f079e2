// The exporting sinks: Perfetto JSON (parsed back with nlohmann-json), from real task programs.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

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

Setup program(const char* name) {
    const machsim::Program* p = machsim::find_program(name);
    REQUIRE(p);
    return p->setup;
}

// One run, exported and logged.
struct Exported {
    machsim::RunReport report;
    std::string perfetto;
    machsim::TraceLog log;
};

Exported export_run(const Setup& setup, machsim::Config cfg = {}) {
    Exported x;
    std::ostringstream pj;
    machsim::PerfettoSink perfetto(pj);
    machsim::Kernel k(cfg);
    k.attach(x.log);
    k.attach(perfetto);
    setup(k);
    x.report = k.run();
    perfetto.note("seed", cfg.seed);
    perfetto.finish();
    x.perfetto = pj.str();
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

bool enclosed(const json& doc, const json& point) {
    auto all = slices(doc);
    int64_t t = ns(point.at("ts"));
    for (const Span& s : all[{point.at("pid"), point.at("tid")}])
        if (s.start <= t && t <= s.end) return true;
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

TEST_CASE("two runs of one program give byte-identical Perfetto JSON") {
    for (const Setup& setup : {program("echo"), Setup(crash_and_deadlock)}) {
        Exported a = export_run(setup), b = export_run(setup);
        CHECK(a.perfetto.size() > 1000);
        CHECK(a.perfetto == b.perfetto);
    }
}

}  // TEST_SUITE("trace export: Perfetto")
