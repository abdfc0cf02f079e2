// `machsim debug`'s stepper, driven by a script of commands as a student would type them.
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support.h"
#include "tools/stepper.h"

namespace {

using mt::lines_of;

// One run of a named program under the stepper, with `script` as its input.
std::string debug_run(const char* name, const std::string& script) {
    std::istringstream in(script);
    std::ostringstream out;
    machsim::Stepper stepper(in, out, false, true);
    machsim::Kernel k;
    k.attach(stepper);
    mt::program(name)(k);
    (void)k.run();
    return out.str();
}

std::string text_run(const char* name, machsim::TraceLog* log = nullptr) {
    std::ostringstream out;
    machsim::TextSink text(out);
    machsim::Kernel k;
    k.attach(text);
    if (log) k.attach(*log);
    mt::program(name)(k);
    (void)k.run();
    return out.str();
}

// The seq of an event line of the text trace, or 0 for any other line.
uint64_t seq_of(const std::string& line) {
    std::istringstream in(line);
    uint64_t seq = 0;
    std::string tick;
    if (!(in >> seq >> tick) || tick.empty() || tick.find_first_not_of("0123456789") != std::string::npos) return 0;
    return seq;
}

// The seq of the last event shown before each prompt.
std::vector<uint64_t> stops(const std::string& out) {
    std::vector<uint64_t> v;
    uint64_t last = 0;
    for (const std::string& l : lines_of(out)) {
        if (l.rfind("(machsim) ", 0) == 0) v.push_back(last);
        if (uint64_t s = seq_of(l)) last = s;
    }
    return v;
}

}  // namespace

TEST_SUITE("stepper") {

TEST_CASE("with no commands it stops once, after the first event, then shows the whole trace as the text sink does") {
    std::string out = debug_run("echo", "");
    CHECK(stops(out) == std::vector<uint64_t>{1});
    std::string without_prompt = out;
    without_prompt.erase(without_prompt.find("(machsim) \n"), std::string("(machsim) \n").size());
    CHECK(without_prompt == text_run("echo"));
}

TEST_CASE("n N shows N more events; breakpoints by seq, kind, task, port and msg stop there; q ends the showing") {
    machsim::TraceLog log;
    (void)text_run("echo", &log);
    auto first = [&](uint64_t after, auto pred) -> uint64_t {
        for (const auto& e : log.entries())
            if (e.event.seq > after && pred(e.event)) return e.event.seq;
        return 0;
    };
    uint64_t at30 = first(29, [](const machsim::Event& e) {  // calls are not shown without --syscalls
        return e.kind != machsim::EventKind::SyscallEnter && e.kind != machsim::EventKind::SyscallLeave;
    });
    uint64_t handoff = first(at30, [](const machsim::Event& e) { return e.kind == machsim::EventKind::Handoff; });
    uint64_t client = first(0, [](const machsim::Event& e) { return e.task == 3; });  // echo-client is task 3
    uint64_t msg5 = first(handoff, [](const machsim::Event& e) { return e.msg == 5; });
    uint64_t port9 = first(msg5, [](const machsim::Event& e) { return e.port == 9; });
    REQUIRE(handoff);
    REQUIRE(msg5);
    REQUIRE(port9);
    std::string out = debug_run("echo",
                                "n 3\n"
                                "b task echo-client\nc\nd\n"
                                "b 30\nc\nd\n"
                                "b kind handoff\nc\nd\n"
                                "b msg 5\nc\nd\n"
                                "b port P9\nc\nq\n");
    INFO(out);
    // Each prompt, with the event it follows: b and c wait at the same event, d at the next stop.
    CHECK(stops(out) == std::vector<uint64_t>{1, 4, 4, client, client, client, at30, at30, at30, handoff, handoff,
                                              handoff, msg5, msg5, msg5, port9});
    CHECK(out.find("breakpoint: task echo-client\n") != std::string::npos);
    CHECK(out.find("breakpoint: event 30\n") != std::string::npos);
    CHECK(out.find("breakpoint: kind handoff\n") != std::string::npos);
    CHECK(out.find("breakpoint: port P9\n") != std::string::npos);
    // After q no event is shown: the output ends with the tasks' own lines.
    std::vector<std::string> lines = lines_of(out.substr(out.rfind("(machsim) q")));
    for (const std::string& l : lines) CHECK(seq_of(l) == 0);
}

TEST_CASE("a breakpoint at a seq stops once, at the first event shown from there on") {
    std::string out = debug_run("echo", "b 30\nc\nc\n");
    INFO(out);
    std::vector<uint64_t> s = stops(out);
    REQUIRE(s.size() == 3);  // b and c after event 1, then one stop at or after 30, where c runs to the end
    CHECK(s[0] == 1);
    CHECK(s[1] == 1);
    CHECK(s[2] >= 30);
}

TEST_CASE("ps shows every task and what each of its threads is doing at the stop") {
    std::string out = debug_run("echo", "b kind handoff\nc\nps\nq\n");
    INFO(out);
    std::string ps = out.substr(out.find("(machsim) ps\n"));
    CHECK(ps.find("  task 1 bootstrap (daemon)\n    thread 1: blocked: receive on 0x203 (P3)\n") != std::string::npos);
    CHECK(ps.find("  task 2 echo-server\n    thread 2: running\n") != std::string::npos);
    CHECK(ps.find("  task 3 echo-client\n    thread 3: ready\n") != std::string::npos);
}

TEST_CASE("suspend and resume are events; ps shows a thread suspended until it is resumed") {
    auto setup = [](machsim::Kernel& k) {
        k.spawn("boss", [] {
            mach_port_t worker = machsim::thread_start([] {
                for (int i = 0; i < 6; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            });
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            CHECK_KR(thread_suspend(worker), KERN_SUCCESS);
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            CHECK_KR(thread_resume(worker), KERN_SUCCESS);
            mach_port_deallocate(mach_task_self(), worker);
        });
    };
    std::istringstream in("b kind suspend\nc\nps\nd\nb kind resume\nc\nps\nq\n");
    std::ostringstream out;
    machsim::Stepper stepper(in, out, false, true);
    machsim::Kernel k;
    k.attach(stepper);
    setup(k);
    CHECK(k.run().clean());
    INFO(out.str());
    const std::string text = out.str();
    const std::size_t first = text.find("(machsim) ps\n"), second = text.find("(machsim) ps\n", first + 1);
    REQUIRE(second != std::string::npos);
    CHECK(text.find("suspend   thread 3 may not run until resumed") != std::string::npos);
    CHECK(text.find("resume    thread 3 may run again") != std::string::npos);
    CHECK(text.substr(first, second - first).find("    thread 3: ready, suspended\n") != std::string::npos);
    CHECK(text.substr(second).find("    thread 3: ready\n") != std::string::npos);
    CHECK(text.substr(second).find("suspended") == std::string::npos);
}

TEST_CASE("a command it cannot take is answered, and the run does not move on") {
    std::string out = debug_run("echo", "x\nn 0\nn two\nb kind nonsense\nb port\nb\nh\nc\n");
    INFO(out);
    CHECK(stops(out) == std::vector<uint64_t>{1, 1, 1, 1, 1, 1, 1, 1});
    CHECK(out.find("unknown command 'x' (h: help)\n") != std::string::npos);
    CHECK(out.find("'0' is not a number of events (1 or more)\n") != std::string::npos);
    CHECK(out.find("'two' is not a number of events (1 or more)\n") != std::string::npos);
    CHECK(out.find("no event kind 'nonsense'") != std::string::npos);
    CHECK(out.find("usage: b SEQ | b task NAME | b kind WORD | b port P3 | b msg N\n") != std::string::npos);
    CHECK(out.find("no breakpoints\n") != std::string::npos);
    CHECK(out.find("  ps                every task") != std::string::npos);  // the help
}

TEST_CASE("ps names a task's end once it has ended, and an interrupt event can be a breakpoint") {
    std::string out = debug_run("driver", "b kind irq-ack\nc\nd\nb kind task-\nc\nps\nq\n");
    INFO(out);
    CHECK(out.find("breakpoint: kind irq-ack\n") != std::string::npos);
    std::string ps = out.substr(out.find("(machsim) ps\n"));
    CHECK(ps.find(": exited (exit code 0)\n") != std::string::npos);
}

TEST_CASE("back goes to an earlier event by running the program again, and what follows is shown again the same") {
    std::istringstream in("n 4\nback 2\nn\nback 9\nback\nc\n");
    std::ostringstream out;
    std::vector<bool> hidden;  // what debug_run asked of the tasks' output, in order
    machsim::RunReport r = machsim::debug_run(mt::program("echo"), {}, in, out, false, true,
                                              [&hidden](bool hide) { hidden.push_back(hide); });
    CHECK(r.clean());
    const std::string text = out.str();
    // Stops: after event 1, 4 events later (5), back 2 shown events (3), one on (4), back past the
    // start (to 1), and back from the first event, which is refused.
    CHECK(stops(text) == std::vector<uint64_t>{1, 5, 3, 4, 1, 1});
    CHECK(text.find("back at event 3 (the program ran again from the start):\n") != std::string::npos);
    CHECK(text.find("this is the first event: there is nothing to go back to\n") != std::string::npos);
    CHECK(hidden == std::vector<bool>{true, false, true, false});
    // Every event line it printed is the plain trace's line for that seq, replays included.
    std::map<uint64_t, std::string> plain;
    for (const std::string& l : lines_of(text_run("echo")))
        if (uint64_t s = seq_of(l)) plain[s] = l;
    int event_lines = 0;
    for (const std::string& l : lines_of(text))
        if (uint64_t s = seq_of(l)) {
            ++event_lines;
            CHECK(plain[s] == l);
        }
    // The whole trace once, plus what was shown again: 3 and 4 after the first back, 1 after the
    // second, and 2 to 5, first seen before the backs, on the way to the end.
    CHECK(event_lines == static_cast<int>(plain.size()) + 2 + 1 + 4);
}

}  // TEST_SUITE("stepper")
