// The trace: one event stream, readable text, and what it costs when nobody listens.
#include <fmt/format.h>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support.h"

using machsim::EventKind;

namespace {

// A send-once right to p under a name of its own, with a dead-name request on it
// (answered on a fresh port).
mach_port_t watched_send_once(mach_port_t p) {
    mach_port_t once = MACH_PORT_NULL;
    mach_msg_type_name_t type = 0;
    CHECK_KR(mach_port_extract_right(mach_task_self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE, &once, &type), KERN_SUCCESS);
    mach_port_t notify = mt::new_receive_right();
    mach_port_t prev = MACH_PORT_NULL;
    CHECK_KR(mach_port_request_notification(mach_task_self(), once, MACH_NOTIFY_DEAD_NAME, 0, notify,
                                            MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev),
             KERN_SUCCESS);
    return once;
}

}  // namespace

TEST_SUITE("trace") {

TEST_CASE("an RPC is traced as send, handoff, receive, with the right copy-in and copy-out") {
    machsim::TraceLog log;
    const machsim::Program* echo = machsim::find_program("echo");
    REQUIRE(echo);
    machsim::RunReport r = mt::run_kernel(echo->setup, {}, &log);
    CHECK(r.clean());
    auto sends = log.of_kind(EventKind::Send);
    auto receives = log.of_kind(EventKind::Receive);
    CHECK(sends.size() >= 8);
    CHECK(receives.size() == sends.size());  // every message sent was received
    CHECK(!log.of_kind(EventKind::Handoff).empty());
    CHECK(!log.of_kind(EventKind::RightCopyIn).empty());
    CHECK(!log.of_kind(EventKind::RightCopyOut).empty());
    // Sequence numbers count up from 1 with no gap, and time never runs backwards.
    uint64_t seq = 0, tick = 0;
    for (const auto& e : log.entries()) {
        if (e.event.seq == 0) continue;  // introductions of tasks that existed before the sink
        CHECK(e.event.seq == ++seq);
        CHECK(e.event.tick >= tick);
        tick = e.event.tick;
    }
}

TEST_CASE("copy-in and copy-out events carry the urefs before and after") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    mach_port_t name = MACH_PORT_NULL;
    k.spawn("t", [&] {
        name = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(name, MACH_MSG_TYPE_MOVE_SEND, 1), MACH_MSG_SUCCESS);
    });
    CHECK(k.run().clean());
    bool seen = false;
    for (const auto& e : log.of_kind(EventKind::RightCopyIn)) {
        if (e.event.name != name || e.event.extra != MACH_MSG_TYPE_MOVE_SEND) continue;
        seen = true;
        CHECK(e.event.before == 3);
        CHECK(e.event.after == 2);
    }
    CHECK(seen);
}

TEST_CASE("a failed call records why, and the text trace shows the code by name") {
    std::ostringstream out;
    machsim::TextSink sink(out, true);
    machsim::Kernel k;
    k.attach(sink);
    k.spawn("t", [] {
        mach_msg_header_t h{};  // msgh_bits left 0, as in many textbook examples
        h.msgh_remote_port = bootstrap_port;
        CHECK_KR(mach_msg(&h, MACH_SEND_MSG, sizeof h, 0, 0, 0, 0), MACH_SEND_INVALID_HEADER);
    });
    CHECK(k.run().clean());
    std::string text = out.str();
    CHECK(text.find("MACH_SEND_INVALID_HEADER: remote disposition 0 is not a send disposition") != std::string::npos);
    CHECK(text.find("mach_msg = MACH_SEND_INVALID_HEADER") != std::string::npos);
}

TEST_CASE("text trace lines keep their columns aligned") {
    std::ostringstream out;
    machsim::TextSink sink(out);
    const machsim::Program* echo = machsim::find_program("echo");
    REQUIRE(echo);
    (void)mt::run_kernel(echo->setup, {}, &sink);
    std::istringstream in(out.str());
    std::string line;
    std::getline(in, line);
    std::size_t event_col = line.find("event");
    std::size_t details_col = line.find("details");
    REQUIRE(event_col != std::string::npos);
    int lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        CHECK(line.size() > details_col);
        CHECK(line[event_col - 1] == ' ');
        CHECK(line[details_col - 1] == ' ');
    }
    CHECK(lines > 50);
}

TEST_CASE("a task name too long for the who column widens it from its task+ line on, under a header of the new "
          "width") {
    std::ostringstream out;
    machsim::TextSink sink(out);
    machsim::Kernel k;
    k.attach(sink);
    const std::string long_name = "a-task-with-a-name-far-wider-than-the-column";
    k.spawn(long_name, [] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
    });
    k.spawn("short", [] { thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0); });
    CHECK(k.run().clean());
    std::istringstream in(out.str());
    std::string line;
    std::size_t event_col = 0, details_col = 0;
    int headers = 0, lines = 0, long_lines = 0;
    while (std::getline(in, line)) {
        if (line.find("   seq") == 0) {  // a header: the lines below align with it
            ++headers;
            event_col = line.find("event");
            details_col = line.find("details");
            continue;
        }
        REQUIRE(headers > 0);
        ++lines;
        if (line.find(long_name + "[") != std::string::npos) ++long_lines;
        if (headers == 2) CHECK(event_col > 18 + long_name.size());
        REQUIRE(line.size() > details_col);
        CHECK(line[event_col - 1] == ' ');
        CHECK(line[event_col] != ' ');
        CHECK(line[details_col - 1] == ' ');
    }
    CHECK(headers == 2);  // the first, then the wider one above the long task's task+ line
    CHECK(long_lines > 3);
    CHECK(lines > long_lines);
}

// The seq of the first event of `kind` about port `port` (any port if 0) and, if given, with code `code`.
static uint64_t first_of(const machsim::TraceLog& log, EventKind kind, uint32_t port, int code = -1) {
    for (const auto& e : log.entries())
        if (e.event.kind == kind && (port == 0 || e.event.port == port) && (code < 0 || e.event.code == code))
            return e.event.seq;
    return 0;
}

TEST_CASE("a right change is traced before what it sets off: notifications, port death") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    k.spawn("t", [] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t prev = MACH_PORT_NULL;
        CHECK_KR(mach_port_request_notification(mach_task_self(), p, MACH_NOTIFY_NO_SENDERS, 0, p,
                                                MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev),
                 KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_SUCCESS);  // the last send right: no-senders
        mach_port_t q = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), q, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        mach_port_t r = mt::new_receive_right();
        CHECK_KR(mach_port_destroy(mach_task_self(), r), KERN_SUCCESS);
    });
    CHECK(k.run().clean());
    auto changes = log.of_kind(EventKind::RightChange);
    REQUIRE(changes.size() == 3);
    // mach_port_deallocate: the right goes, then the no-senders notification (id 70) is sent.
    uint64_t nosenders = first_of(log, EventKind::Send, changes[0].event.port, MACH_NOTIFY_NO_SENDERS);
    REQUIRE(nosenders != 0);
    CHECK(changes[0].event.seq < nosenders);
    CHECK(changes[0].event.before == 1);
    CHECK(changes[0].event.after == 0);
    // mach_port_mod_refs of the receive right: the right goes, then the port dies and the
    // name's send right becomes a dead name (urefs unchanged).
    uint32_t q = changes[1].event.port;
    REQUIRE(first_of(log, EventKind::PortDestroy, q) != 0);
    CHECK(changes[1].event.seq < first_of(log, EventKind::PortDestroy, q));
    CHECK(changes[1].event.seq < first_of(log, EventKind::DeadName, q));
    CHECK(changes[1].event.before == 1);
    CHECK(changes[1].event.after == 1);
    // mach_port_destroy: the right goes, then the port dies.
    uint32_t r = changes[2].event.port;
    REQUIRE(first_of(log, EventKind::PortDestroy, r) != 0);
    CHECK(changes[2].event.seq < first_of(log, EventKind::PortDestroy, r));
}

TEST_CASE("a right's copy-in is traced before the port-deleted notification it sets off") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    mach_port_t once = MACH_PORT_NULL;
    k.spawn("t", [&] {
        mach_port_t p = mt::new_receive_right();
        once = watched_send_once(p);
        // Moving the watched right away deletes its name: a port-deleted notification (R10).
        CHECK_KR(mt::send_simple(once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 1), MACH_MSG_SUCCESS);
    });
    CHECK(k.run().clean());
    uint64_t copyin = 0;
    for (const auto& e : log.of_kind(EventKind::RightCopyIn))
        if (e.event.name == once && e.event.extra == MACH_MSG_TYPE_MOVE_SEND_ONCE) {
            copyin = e.event.seq;
            CHECK(e.event.before == 1);
            CHECK(e.event.after == 0);
        }
    uint64_t deleted = first_of(log, EventKind::Send, 0, MACH_NOTIFY_PORT_DELETED);
    REQUIRE(copyin != 0);
    REQUIRE(deleted != 0);
    CHECK(copyin < deleted);
}

TEST_CASE("a dead name made by mach_port_allocate or mach_port_allocate_name is traced as it appears") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    mach_port_t made = MACH_PORT_NULL;
    k.spawn("t", [&] {
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &made), KERN_SUCCESS);
        CHECK_KR(mach_port_allocate_name(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, 0x1234), KERN_SUCCESS);
    });
    CHECK(k.run().clean());
    auto changes = log.of_kind(EventKind::RightChange);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].event.name == made);
    CHECK(changes[0].event.port == 0);
    CHECK(changes[0].event.before == 0);
    CHECK(changes[0].event.after == 1);
    CHECK(changes[0].text == "mach_port_allocate");
    CHECK(changes[1].event.name == 0x1234);
    CHECK(changes[1].text == "mach_port_allocate_name");
}

TEST_CASE("a port's death is traced before what it sets off: destroyed messages, dead-name notifications") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    k.spawn("t", [] {
        mach_port_t p = mt::new_receive_right();
        (void)watched_send_once(p);
        CHECK_KR(mach_port_insert_right(mach_task_self(), p, p, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1), MACH_MSG_SUCCESS);  // one queued message
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
    });
    CHECK(k.run().clean());
    auto deaths = log.of_kind(EventKind::PortDestroy);
    REQUIRE(!deaths.empty());
    const machsim::Event& death = deaths.front().event;  // p: the first port to die
    CHECK(death.before == 1);
    uint64_t destroyed = first_of(log, EventKind::MsgDestroy, death.port);
    uint64_t dead_name = first_of(log, EventKind::Send, 0, MACH_NOTIFY_DEAD_NAME);
    REQUIRE(destroyed != 0);
    REQUIRE(dead_name != 0);
    CHECK(death.seq < destroyed);
    CHECK(death.seq < dead_name);
}

namespace {

// A kernel traced both ways: every event kept (log) and printed without system calls (out).
struct TracedKernel {
    std::ostringstream out;
    machsim::TextSink text{out, false};
    machsim::TraceLog log;
    machsim::Kernel k;
    TracedKernel() {
        k.attach(log);
        k.attach(text);
    }
};

struct CountingSink : machsim::TraceSink {
    int events = 0;
    void on_event(const machsim::Event& e) override {
        if (e.seq != 0) ++events;  // introductions aside
    }
};

// Detaches itself on its first event, as a grader's sink that has seen enough might.
struct QuittingSink : machsim::TraceSink {
    machsim::Kernel* k = nullptr;
    int events = 0;
    void on_event(const machsim::Event& e) override {
        if (e.seq == 0) return;
        ++events;
        k->detach(*this);
    }
};

}  // namespace

TEST_CASE("a message pseudo-received back by its sender after MACH_SEND_TIMED_OUT ends in a receive line") {
    TracedKernel t;
    machsim::Kernel& k = t.k;
    const machsim::TraceLog& log = t.log;
    const std::ostringstream& out = t.out;
    mach_port_t name = MACH_PORT_NULL;
    k.spawn("t", [&] {
        name = mt::new_port_with_send();
        mach_port_limits_t limits{1};
        CHECK_KR(mach_port_set_attributes(mach_task_self(), name, MACH_PORT_LIMITS_INFO,
                                          reinterpret_cast<mach_port_info_t>(&limits), MACH_PORT_LIMITS_INFO_COUNT),
                 KERN_SUCCESS);
        CHECK_KR(mt::send_simple(name, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(name, MACH_MSG_TYPE_COPY_SEND, 2, MACH_SEND_TIMEOUT, 0, MACH_PORT_NULL, 0, 222),
                 MACH_SEND_TIMED_OUT);
    });
    CHECK(k.run().clean());
    uint64_t timed_out = 0;
    for (const auto& e : log.of_kind(EventKind::Send))
        if (e.event.code == 222) timed_out = e.event.msg;
    REQUIRE(timed_out != 0);
    int back = 0;
    for (const auto& e : log.of_kind(EventKind::Receive)) {
        if (e.event.msg != timed_out) continue;
        ++back;
        CHECK(e.event.extra == 1);
        CHECK(e.event.name == name);  // the sender's name for the destination
    }
    CHECK(back == 1);
    CHECK(out.str().find(fmt::format("msg {} id=222 size=28 back to its sender", timed_out)) != std::string::npos);
}

TEST_CASE("a semaphore_timedwait that times out is traced as a mach_msg timeout is: a timeout line, then the wake") {
    TracedKernel t;
    machsim::Kernel& k = t.k;
    const machsim::TraceLog& log = t.log;
    const std::ostringstream& out = t.out;
    k.spawn("t", [] {
        mach_port_t p = mt::new_receive_right();
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 2), MACH_RCV_TIMED_OUT);
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 3000000}), KERN_OPERATION_TIMED_OUT);
    });
    CHECK(k.run().clean());
    // Each timeout line is followed at once by the wake of the thread it names, with the timed-out code.
    std::vector<std::pair<std::string, int>> timeouts;
    const auto& entries = log.entries();
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const machsim::Event& e = entries[i].event;
        if (e.kind != EventKind::Timer) continue;
        REQUIRE(i + 1 < entries.size());
        const machsim::Event& next = entries[i + 1].event;
        CHECK(next.kind == EventKind::Wake);
        CHECK(next.extra == e.extra);
        timeouts.emplace_back(entries[i].text, next.code);
    }
    CHECK(timeouts == std::vector<std::pair<std::string, int>>{{"receive timeout", MACH_RCV_TIMED_OUT},
                                                               {"semaphore timeout", KERN_OPERATION_TIMED_OUT}});
    CHECK(out.str().find("timeout   semaphore timeout of thread 2") != std::string::npos);
    CHECK(out.str().find("wake      thread 2 woken: KERN_OPERATION_TIMED_OUT") != std::string::npos);
}

TEST_CASE("a sink may detach itself from on_event; the others still get every event once") {
    machsim::Kernel k;
    QuittingSink quitter;
    quitter.k = &k;
    CountingSink second, third;
    k.attach(quitter);
    k.attach(second);
    k.attach(third);
    k.spawn("t", [] { mt::send_simple(mt::new_port_with_send(), MACH_MSG_TYPE_COPY_SEND, 1); });
    machsim::RunReport r = k.run();
    CHECK(r.clean());
    CHECK(quitter.events == 1);
    CHECK(second.events == static_cast<int>(r.events));  // it used to miss the event the quitter left on
    CHECK(third.events == static_cast<int>(r.events));   // and this one to get it twice
}

TEST_CASE("destroying a kernel that never ran tells no sink: its clean-up is no part of a run") {
    machsim::TraceLog log;  // outlives the kernel here; a sink declared after it would be gone
    {
        machsim::Kernel k;
        k.attach(log);
        k.spawn("t", [] {});
        log.clear();
    }  // the task's ports die here
    CHECK(log.entries().empty());
}

TEST_CASE("a thread that never starts (no stack) has no thread+ line, so every thread+ has its thread-") {
    machsim::TraceLog log;
    machsim::Config cfg;
    cfg.stack_size = std::size_t(1) << 47;  // more than a 47-bit address space holds: mmap refuses it
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) { k.spawn("t", [] {}); }, cfg, &log);
    mt::check_sound(r);
    CHECK(log.of_kind(EventKind::ThreadCreate).size() == log.of_kind(EventKind::ThreadExit).size());
    CHECK(log.of_kind(EventKind::TaskExit).size() == 1);  // task "t" crashed: the host refused a stack
}

TEST_CASE("with no sink attached the kernel emits nothing") {
    machsim::Kernel k;
    k.spawn("t", [] { mt::send_simple(mt::new_port_with_send(), MACH_MSG_TYPE_COPY_SEND, 1); });
    machsim::RunReport r = k.run();
    CHECK(r.clean());
    CHECK(r.events == 0);
}

TEST_CASE("the census of rights balances in the middle of a busy run") {
    machsim::Kernel k;
    k.spawn("server", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "busy", &p), KERN_SUCCESS);
        CHECK(machsim::check_invariants().empty());
        for (int i = 0; i < 7; ++i) {
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
            auto problems = machsim::check_invariants();  // the client is blocked on a full queue here
            for (const auto& line : problems) INFO(line);
            CHECK(problems.empty());
        }
    });
    k.spawn("client", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "busy", &p), KERN_SUCCESS);
        for (int i = 0; i < 7; ++i) {
            mach_port_t reply = mach_reply_port();  // a receive right and a send-once right travel
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, i, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                     MACH_MSG_SUCCESS);
        }
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("trace")
