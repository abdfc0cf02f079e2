// The JSON-lines sink, read back line by line with nlohmann-json, from real task programs.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
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

// One run, written as JSON lines and logged by a TraceLog attached to the same kernel.
struct Lines {
    machsim::RunReport report;
    std::string text;
    machsim::TraceLog log;
    std::vector<machsim::TraceLog::Entry> numbered() const {  // the log without the introductions
        std::vector<machsim::TraceLog::Entry> out;
        for (const auto& en : log.entries())
            if (en.event.seq != 0) out.push_back(en);
        return out;
    }
};

Lines jsonl_run(const Setup& setup, machsim::Config cfg = {}) {
    Lines x;
    std::ostringstream out;
    machsim::JsonLinesSink sink(out);
    machsim::Kernel k(cfg);
    k.attach(x.log);
    k.attach(sink);
    setup(k);
    x.report = k.run();
    x.text = out.str();
    return x;
}

// Every line parsed; a line that is not JSON fails the test with the line shown.
std::vector<json> parsed(const std::string& text) {
    std::vector<json> out;
    for (const std::string& line : lines_of(text)) {
        INFO(line);
        json j;
        CHECK_NOTHROW(j = json::parse(line));
        REQUIRE(j.is_object());
        out.push_back(std::move(j));
    }
    return out;
}

const json* line_at(const std::vector<json>& lines, uint64_t seq) {
    for (const json& j : lines)
        if (j.at("seq") == seq) return &j;
    return nullptr;
}

std::string hex(uint32_t v) { return fmt::format("{:#x}", v); }

void crash(machsim::Kernel& k) {
    k.spawn("crasher", [] {
        machsim::compute(3);
        throw std::runtime_error("boom");
    });
}

}  // namespace

TEST_SUITE("trace export: JSON lines") {

TEST_CASE("every line is a JSON object; seq runs 1, 2, 3, ... with no gap, one line per event the TraceLog saw") {
    for (const char* name : {"echo", "crash", "driver", "pager"}) {
        INFO(name);
        Lines x = jsonl_run(std::string_view(name) == "crash" ? Setup(crash) : program(name));
        REQUIRE(!x.text.empty());
        CHECK(x.text.back() == '\n');
        std::vector<json> lines = parsed(x.text);
        std::vector<machsim::TraceLog::Entry> events = x.numbered();
        REQUIRE(lines.size() == events.size());
        CHECK(lines.size() == x.report.events);
        std::map<std::string, std::vector<std::string>> members;  // per kind: the member names, in order
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const json& j = lines[i];
            const machsim::Event& e = events[i].event;
            INFO("line ", i + 1, ": ", j.dump());
            CHECK(j.at("seq") == i + 1);
            CHECK(j.at("tick") == e.tick);
            CHECK(j.at("kind") == machsim::event_kind_name(e.kind));
            CHECK(j.at("task") == e.task);
            CHECK(j.at("thread") == e.thread);
            if (e.task == 0) CHECK(j.at("task_name") == "kernel");
            std::vector<std::string> keys;
            for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
            // nlohmann sorts an object's members; the order on the line is checked below on one line.
            auto [at, fresh] = members.emplace(j.at("kind").get<std::string>(), keys);
            if (!fresh) CHECK(at->second == keys);  // every line of a kind has the same members
        }
    }
}

TEST_CASE("a send, a receive, a copy-in and a return carry the TraceLog's fields under their own names") {
    Lines x = jsonl_run(program("echo"));
    std::vector<json> lines = parsed(x.text);
    std::map<uint32_t, std::string> names;
    for (const auto& en : x.log.of_kind(EventKind::TaskCreate)) names[en.event.task] = en.text;

    machsim::Event send{}, receive{}, copyin{}, leave{};
    for (const auto& en : x.log.of_kind(EventKind::Send))
        if (en.event.extra == 0) { send = en.event; break; }
    receive = x.log.of_kind(EventKind::Receive).at(0).event;
    for (const auto& en : x.log.of_kind(EventKind::RightCopyIn))
        if (en.event.before != en.event.after) { copyin = en.event; break; }  // a reply's send-once right, used up
    leave = x.log.of_kind(EventKind::SyscallLeave).at(0).event;

    const json* s = line_at(lines, send.seq);
    REQUIRE(s);
    CHECK(s->at("task_name") == names.at(send.task));
    CHECK(s->at("msg") == send.msg);
    CHECK(s->at("port") == fmt::format("P{}", send.port));
    CHECK(s->at("space") == send.space);
    CHECK(s->at("name") == hex(send.name));
    CHECK(s->at("msgh_id") == send.code);
    CHECK(s->at("size") == send.before);
    CHECK(s->at("kernel") == false);
    // The members in the order the format promises (docs/trace.md, section 10).
    CHECK(lines_of(x.text).at(send.seq - 1).rfind(
              fmt::format(R"({{"seq":{},"tick":{},"kind":"send","task":{},"task_name":)", send.seq, send.tick, send.task),
              0) == 0);

    const json* r = line_at(lines, receive.seq);
    REQUIRE(r);
    CHECK(r->at("msg") == receive.msg);
    CHECK(r->at("port") == fmt::format("P{}", receive.port));
    CHECK(r->at("space") == receive.space);
    CHECK(r->at("name") == hex(receive.name));
    CHECK(r->at("msgh_id") == receive.code);
    CHECK(r->at("size") == receive.before);
    CHECK(r->at("back_to_sender") == false);

    const json* c = line_at(lines, copyin.seq);
    REQUIRE(c);
    CHECK(c->at("space") == copyin.space);
    CHECK(c->at("name") == hex(copyin.name));
    CHECK(c->at("port") == fmt::format("P{}", copyin.port));
    CHECK(c->at("urefs_before") == copyin.before);
    CHECK(c->at("urefs_after") == copyin.after);
    CHECK(c->at("disposition") == copyin.extra);
    CHECK(c->at("disposition_name") == "MOVE_SEND_ONCE");

    const json* l = line_at(lines, leave.seq);
    REQUIRE(l);
    CHECK(l->at("code") == leave.code);
    CHECK(l->at("code_name") == machsim::code_name(leave.code));
    CHECK(l->at("text") == x.log.of_kind(EventKind::SyscallLeave).at(0).text);
}

TEST_CASE("a crash, a fault and interrupts keep their details: exit text, address and codes by name, lines") {
    Lines crashed = jsonl_run(crash);
    bool ended = false;
    for (const json& j : parsed(crashed.text))
        if (j.at("kind") == "task-" && j.at("task_name") == "crasher") {
            ended = true;
            CHECK(j.at("text").get<std::string>().rfind("crashed: boom", 0) == 0);
            CHECK(j.contains("exit_code"));
        }
    CHECK(ended);

    Lines pager = jsonl_run(program("pager"));
    std::vector<json> lines = parsed(pager.text);
    machsim::Event fault = pager.log.of_kind(EventKind::Fault).at(0).event;
    const json* f = line_at(lines, fault.seq);
    REQUIRE(f);
    CHECK(f->at("address") == "0x300000004000");
    CHECK(f->at("exception_name") == "EXC_BAD_ACCESS");
    CHECK(f->at("exception_code_name") == "KERN_PROTECTION_FAILURE");

    Lines driver = jsonl_run(program("driver"));
    std::map<std::string, int> kinds;
    int raised_twice = 0;
    for (const json& j : parsed(driver.text)) {
        ++kinds[j.at("kind")];
        if (j.at("kind") == "irq") {
            CHECK(j.at("line") == 0);
            if (j.at("raises") == 2) ++raised_twice;
        }
        if (j.at("kind") == "irq-ack") CHECK(j.at("remembered_follows").is_boolean());
    }
    CHECK(kinds["irq"] == static_cast<int>(driver.log.of_kind(EventKind::IrqRaise).size()));
    CHECK(kinds["irq-send"] == static_cast<int>(driver.log.of_kind(EventKind::IrqDeliver).size()));
    CHECK(kinds["irq-ack"] == static_cast<int>(driver.log.of_kind(EventKind::IrqAck).size()));
    CHECK(kinds["irq-reg"] == 1);
    CHECK(raised_twice == 1);  // the slow handler: two raises coalesced
}

TEST_CASE("suspend and resume name the thread that may not run, then may run again") {
    Lines x = jsonl_run([](machsim::Kernel& k) {
        k.spawn("boss", [] {
            mach_port_t worker = machsim::thread_start([] { mt::sleep_ms(1); });
            CHECK_KR(thread_suspend(worker), KERN_SUCCESS);
            CHECK_KR(thread_resume(worker), KERN_SUCCESS);
            mach_port_deallocate(mach_task_self(), worker);
        });
    });
    CHECK(x.report.clean());
    std::vector<json> lines = parsed(x.text);
    int suspends = 0, resumes = 0;
    for (const json& j : lines) {
        if (j.at("kind") == "suspend") {
            ++suspends;
            CHECK(j.at("suspended_thread") == 3);
            CHECK(j.at("task_name") == "boss");  // who suspended it
        } else if (j.at("kind") == "resume") {
            ++resumes;
            CHECK(j.at("resumed_thread") == 3);
        }
    }
    CHECK(suspends == 1);
    CHECK(resumes == 1);
}

TEST_CASE("strings are escaped: a task name with quotes, a backslash, control bytes and no valid UTF-8") {
    std::string name = "q\"b\\s\nc\x01\t \xff\xc3\xa9";
    Lines x = jsonl_run([&](machsim::Kernel& k) { k.spawn(name, [] {}); });
    for (char c : x.text) CHECK((c == '\n' || static_cast<unsigned char>(c) >= 0x20));  // no raw control byte
    int named = 0;
    for (const json& j : parsed(x.text))  // nlohmann throws on a bad escape or invalid UTF-8
        if (j.at("task") == 2) {
            ++named;
            CHECK(j.at("task_name") == "q\"b\\s\nc\x01\t \xef\xbf\xbd\xc3\xa9");  // 0xff -> U+FFFD
        }
    CHECK(named > 2);
}

TEST_CASE("introductions (seq 0) are not written, but name the tasks that were there before the sink") {
    std::ostringstream out;
    machsim::JsonLinesSink sink(out);
    machsim::Kernel k;
    k.spawn("early", [] { machsim::compute(1); });
    k.attach(sink);  // introduces bootstrap and early
    CHECK(out.str().empty());
    machsim::RunReport r = k.run();
    std::vector<json> lines = parsed(out.str());
    CHECK(lines.size() == r.events);
    int early = 0;
    for (const json& j : lines) {
        CHECK(j.at("seq") != 0);
        if (j.at("task") == 2) {
            ++early;
            CHECK(j.at("task_name") == "early");
        }
    }
    CHECK(early > 0);
    // A stream that never introduced a task: its name is null.
    std::ostringstream bare;
    machsim::JsonLinesSink alone(bare);
    alone.on_event({.seq = 1, .tick = 2, .kind = EventKind::ThreadExit, .task = 7, .thread = 9});
    CHECK(json::parse(bare.str()).at("task_name").is_null());
}

TEST_CASE("each line is in the file, whole, as its event arrives (written and flushed, not held)") {
    std::string path = fmt::format("/tmp/machsim-jsonl-test-{}.jsonl", getpid());
    // After the sink, for every event: the file on disk has exactly one line per event so far.
    struct Probe : machsim::TraceSink {
        std::string path;
        uint64_t seen = 0, mismatches = 0;
        void on_event(const machsim::Event& e) override {
            if (e.seq == 0) return;
            ++seen;
            std::ifstream in(path, std::ios::binary);
            std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            uint64_t newlines = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
            if (newlines != seen || text.empty() || text.back() != '\n') ++mismatches;
        }
    } probe;
    probe.path = path;
    {
        std::ofstream file(path, std::ios::binary | std::ios::trunc);
        REQUIRE(file);
        machsim::JsonLinesSink sink(file);
        machsim::Kernel k;
        k.attach(sink);
        k.attach(probe);
        program("echo")(k);
        machsim::RunReport r = k.run();
        CHECK(probe.seen == r.events);
    }
    CHECK(probe.seen > 100);
    CHECK(probe.mismatches == 0);
    std::remove(path.c_str());
}

TEST_CASE("two runs of one program give byte-identical JSON lines") {
    for (const Setup& setup : {program("echo"), Setup(crash), program("driver")}) {
        Lines a = jsonl_run(setup), b = jsonl_run(setup);
        CHECK(a.text.size() > 1000);
        CHECK(a.text == b.text);
    }
}

}  // TEST_SUITE("trace export: JSON lines")
