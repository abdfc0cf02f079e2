// A lab's grader: tests worth points, run against the student's program through the
// public API only (machsim.h), as any outside program would. `make grade LAB=name`
// builds labs/<name>/grade.cpp with the student's file and runs it (labs/README.md).
//
//   LAB_TEST("pong answers every ping", 30) {
//       lab::Run run = lab::run("pingpong");
//       t.expect(run.received("pong", 1000) == 10, "pong received {} pings, not 10", run.received("pong", 1000));
//   }
//
// Checks read the run's report and its event stream (what the kernel did), never what the
// tasks printed. A failed check prints the command that replays the run. The binary is also
// the `machsim` command over the student's program (`grade run pingpong --trace`), so the
// replay commands work as printed. It ends with "N passed, N failed" and exits 1 unless every
// test passed.
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "machsim.h"
#include "servers/bootstrap.h"

namespace lab {

// What the grader's own tasks said when they gave up on the student's (give_up): printed under
// a failed test, after the task's exit code. lab::run clears them before each run.
inline std::vector<std::string>& notes() {
    static std::vector<std::string> all;
    return all;
}

// For the grader's tasks: records why, and returns 1, the task's exit code.
template <class... Args>
int give_up(fmt::format_string<Args...> what, Args&&... args) {
    notes().push_back(fmt::format(what, std::forward<Args>(args)...));
    return 1;
}

// For the grader's tasks: whether any send right to the receive right `port` exists anywhere
// (the receive status's mps_srights), as a check that the student's task kept none.
inline bool has_senders(mach_port_t port) {
    mach_port_status_t st{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    (void)mach_port_get_attributes(mach_task_self(), port, MACH_PORT_RECEIVE_STATUS,
                                   reinterpret_cast<mach_port_info_t>(&st), &count);
    return st.mps_srights;
}

// For the grader's tasks: a send right to the service `name`, asking the bootstrap server again
// (1 ms of virtual time apart) while the student's server has not checked in yet. MACH_PORT_NULL,
// and a note, if it never does.
inline mach_port_t look_up(const char* name) {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, name, &port);
    for (int tries = 0; kr == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, name, &port);
    }
    if (kr == KERN_SUCCESS) return port;
    give_up("bootstrap_look_up(\"{}\"): {} after 100 tries (no live server checked in)", name, mach_error_string(kr));
    return MACH_PORT_NULL;
}

// One run of a registered program, with every event it made.
struct Run {
    std::string program;
    std::string error;  // set when the program could not be run
    machsim::Config cfg;
    machsim::RunReport report;
    machsim::TraceLog log;
    std::vector<std::string> notes;  // what the grader's tasks said when they gave up
    std::string disk;     // the disk's bytes at the end (Kernel::disk_contents), if the program attached one
    std::string console;  // what the tasks wrote to the console (Kernel::console_output)

    // Messages with id `id` that the task named `task` received.
    int received(const std::string& task, int32_t id) const {
        int n = 0;
        for (const auto& e : log.of_kind(machsim::EventKind::Receive))
            n += e.event.code == id && task_name(e.event.task) == task && e.event.extra != 1;
        return n;
    }
    // The ids the task received, in order.
    std::vector<int32_t> received_ids(const std::string& task) const {
        std::vector<int32_t> ids;
        for (const auto& e : log.of_kind(machsim::EventKind::Receive))
            if (task_name(e.event.task) == task && e.event.extra != 1) ids.push_back(e.event.code);
        return ids;
    }
    // Messages with id `id` that the task sent carrying a right with disposition `disposition`
    // (MACH_MSG_TYPE_*): the rights a message carries are copied in just before its send.
    int sent_with(const std::string& task, int32_t id, uint32_t disposition) const {
        int n = 0;
        std::map<uint32_t, bool> carried;  // per thread: such a right copied in since its last send
        for (const auto& entry : log.entries()) {
            const machsim::Event& e = entry.event;
            if (e.kind == machsim::EventKind::RightCopyIn && e.extra == disposition) carried[e.thread] = true;
            if (e.kind != machsim::EventKind::Send) continue;
            n += carried[e.thread] && e.code == id && task_name(e.task) == task && e.extra != 1;
            carried[e.thread] = false;
        }
        return n;
    }
    // How often the task named `task` blocked waiting for the disk to serve a request.
    int disk_waits(const std::string& task) const {
        int n = 0;
        for (const auto& e : log.of_kind(machsim::EventKind::Block))
            n += e.text == "disk" && task_name(e.event.task) == task;
        return n;
    }
    std::string task_name(uint32_t id) const {
        for (const auto& t : report.tasks)
            if (t.id == id) return t.name;
        return {};
    }
    // What went wrong, or "" for a clean run in which every task exited with code 0.
    std::string failure() const {
        if (!error.empty()) return error;
        if (report.deadlock) return "the run deadlocked: " + (report.blocked.empty() ? "" : report.blocked[0].describe());
        if (report.time_limit) return "the run hit its time limit";
        for (const auto& t : report.tasks) {
            if (t.daemon) continue;
            if (t.end != machsim::TaskEnd::Exited)
                return fmt::format("task {} {}{}", t.name, machsim::task_end_name(t.end), t.detail.empty() ? "" : ": " + t.detail);
            if (t.exit_code != 0) return fmt::format("task {} exited with code {}", t.name, t.exit_code);
        }
        if (!report.leaks.empty()) return "leak: " + report.leaks.front();
        if (!report.accounting.empty()) return "accounting: " + report.accounting.front();
        return {};
    }
    // The command that runs it again, with its trace.
    std::string replay(const std::string& self) const {
        std::string cmd = fmt::format("{} run {} --seed {}", self, program, cfg.seed);
        if (cfg.policy == machsim::Policy::Pct)
            cmd += fmt::format(" --policy pct:{}:{}", cfg.pct_depth, cfg.pct_steps);
        else if (cfg.policy == machsim::Policy::Random)
            cmd += " --policy random";
        if (report.time_limit) cmd += fmt::format(" --max-ticks {}", cfg.max_ticks);  // else the replay runs for ever
        return cmd + " --trace";
    }
};

// The virtual time a run may take unless its Config says otherwise: 0.5 s, where the labs'
// programs need a few milliseconds (100 ms if a look-up retries all it may). A run still going then is taken for a livelock (a fault answered with
// an error that the task's signal handler does not mend, a loop of polls), and stops there
// ("the run hit its time limit") rather than hold the grader, and fill its log, for ever.
constexpr uint64_t kRunTicks = 500'000;

// Runs the program with what the tasks print hidden (the grader's output is its own).
inline Run run(const std::string& program, machsim::Config cfg = {}) {
    if (cfg.max_ticks == 0) cfg.max_ticks = kRunTicks;
    Run r;
    r.program = program;
    r.cfg = cfg;
    const machsim::Program* p = machsim::find_program(program);
    if (!p) {
        r.error = fmt::format("no program named '{}' is registered (MACHSIM_PROGRAM)", program);
        return r;
    }
    notes().clear();
    std::fflush(stdout);
    std::FILE* saved = std::tmpfile();  // stdout goes here for the run, and is dropped
    machsim::Kernel k(cfg);
    k.attach(r.log);
    p->setup(k);
    {
        int out = dup(1);
        if (saved) dup2(fileno(saved), 1);
        r.report = k.run();
        std::fflush(stdout);
        dup2(out, 1);
        close(out);
    }
    if (saved) std::fclose(saved);
    r.notes = notes();
    r.disk = k.disk_contents();
    r.console = k.console_output();
    return r;
}

class Test {
public:
    // Records a failed check (with a fmt message) unless `ok`.
    template <class... Args>
    bool expect(bool ok, fmt::format_string<Args...> what, Args&&... args) {
        if (!ok && failures_.size() < 5) failures_.push_back(fmt::format(what, std::forward<Args>(args)...));
        failed_ |= !ok;
        return ok;
    }
    // A run whose failures are this test's, with the notes of the grader's tasks; its replay
    // command is printed if the test fails.
    bool expect_clean(const Run& r) {
        replay_ = r;
        std::string why = r.failure();
        if (why.empty()) return true;
        expect(false, "{}", why);
        for (const std::string& note : r.notes) expect(false, "{}", note);
        return false;
    }
    void replay_with(const Run& r) { replay_ = r; }
    bool failed() const { return failed_; }
    const std::vector<std::string>& failures() const { return failures_; }
    const Run* replay() const { return replay_.program.empty() ? nullptr : &replay_; }

private:
    bool failed_ = false;
    std::vector<std::string> failures_;
    Run replay_;
};

// Runs `program` under 25 seeds of the PCT policy and 25 of the random one; each run must be
// clean and pass `check`. Stops at the first that fails (its replay command is then printed).
inline void under_schedules(Test& t, const std::string& program, const std::function<void(const Run&)>& check = {}) {
    // PCT's change points fall among the kernel entries of a round-robin run.
    const uint64_t steps = std::max<uint64_t>(run(program).report.kernel_entries, 1);
    for (machsim::Policy policy : {machsim::Policy::Pct, machsim::Policy::Random})
        for (uint64_t seed = 1; seed <= 25; ++seed) {
            machsim::Config cfg;
            cfg.policy = policy;
            cfg.seed = seed;
            cfg.pct_steps = steps;
            Run r = run(program, cfg);
            if (!t.expect_clean(r)) return;
            if (check) check(r);
            if (t.failed()) return;
        }
}

struct Case {
    std::string name;
    int points;
    std::function<void(Test&)> body;
};

inline std::vector<Case>& cases() {
    static std::vector<Case> all;
    return all;
}

inline bool add(std::string name, int points, std::function<void(Test&)> body) {
    cases().push_back({std::move(name), points, std::move(body)});
    return true;
}

// Runs every test (or those whose name contains `only`), prints the points, returns the exit status.
inline int grade(const std::string& lab, const std::string& self, const std::string& only = "") {
    int score = 0, total = 0, passed = 0, failed = 0;
    std::printf("lab %s\n", lab.c_str());
    for (const Case& c : cases()) {
        if (!only.empty() && c.name.find(only) == std::string::npos) continue;
        Test t;
        c.body(t);
        total += c.points;
        const int got = t.failed() ? 0 : c.points;
        score += got;
        (t.failed() ? failed : passed)++;
        std::printf("  %s %3d/%-3d %s\n", t.failed() ? "FAIL" : "PASS", got, c.points, c.name.c_str());
        for (const std::string& f : t.failures()) std::printf("              %s\n", f.c_str());
        if (t.failed() && t.replay()) std::printf("              replay: %s\n", t.replay()->replay(self).c_str());
    }
    std::printf("score %d/%d\n%d passed, %d failed\n", score, total, passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace lab

#define LAB_CAT2(a, b) a##b
#define LAB_CAT(a, b) LAB_CAT2(a, b)
// LAB_TEST("what it checks", points) { ...t.expect(...)... }
#define LAB_TEST(name, points)                                                                                   \
    static void LAB_CAT(lab_test_, __LINE__)(lab::Test & t);                                                     \
    [[maybe_unused]] static const bool LAB_CAT(lab_added_, __LINE__) = lab::add(name, points, &LAB_CAT(lab_test_, __LINE__)); \
    static void LAB_CAT(lab_test_, __LINE__)([[maybe_unused]] lab::Test & t)

// The grader's main: `grade [TEST]` grades; `grade run|debug|explore|list ...` is the machsim command.
#define LAB_MAIN(lab_name)                                                                                 \
    int main(int argc, char** argv) {                                                                      \
        if (argc > 1 && std::string(argv[1]) != "--only") return machsim::main(argc, argv);                \
        return lab::grade(lab_name, argv[0], argc > 2 ? argv[2] : "");                                     \
    }
