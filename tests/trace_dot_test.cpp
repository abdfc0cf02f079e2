// The Graphviz export (DotSink, docs/trace.md section 11) and what a deadlock report says about
// who could still have woken each blocked thread (BlockedThread::senders).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sstream>
#include <string>

#include "mach/mach.h"
#include "machsim.h"
#include "servers/bootstrap.h"
#include "support.h"

namespace {

struct Dot {
    machsim::RunReport report;
    std::string text;
};

Dot dot_of(const std::function<void(machsim::Kernel&)>& setup) {
    std::ostringstream out;
    machsim::DotSink sink(out);
    Dot d;
    d.report = mt::run_kernel(setup, {}, &sink);
    sink.finish(d.report);
    d.text = out.str();
    return d;
}

bool has(const std::string& text, const std::string& piece) { return text.find(piece) != std::string::npos; }

// Two tasks that each hold a send right to the other's port and each wait for the other to
// write first: a deadlock whose wait-for graph is a cycle.
void polite_pair(machsim::Kernel& k) {
    for (const char* me : {"alice", "bob"}) {
        k.spawn(me, [me] {
            const char* other = std::string(me) == "alice" ? "bob" : "alice";
            mach_port_t mine = mt::publish(me);
            mach_port_t theirs = mt::look_up(other);
            CHECK(MACH_PORT_VALID(theirs));
            mt::SimpleReceived in;
            (void)mt::receive_simple(mine, in);  // "after you": never returns
        });
    }
}

}  // namespace

TEST_CASE("dot: an arrow per sender and receiver with the count and ids of the messages, no red without a deadlock") {
    Dot d = dot_of(mt::program("echo"));
    REQUIRE(d.report.clean());
    CHECK(d.text.rfind("// machsim: who sent messages to whom (arrows: count and ids)\ndigraph machsim {\n", 0) == 0);
    CHECK(has(d.text, "  T2 [label=\"echo-server\\ntask 2\\nexited (exit code 0)\"];\n"));
    CHECK(has(d.text, "  T3 -> T2 [label=\"4 messages, ids 500, 501\"];\n"));  // three requests and the quit
    CHECK(has(d.text, "  T2 -> T3 [label=\"3 messages, id 600\"];\n"));        // the replies
    CHECK(has(d.text, "  T3 -> T1 [label=\"1 message, id 404\"];\n"));         // the look-up
    CHECK_FALSE(has(d.text, "color=red"));
    CHECK(d.text.size() > 2);
    CHECK(d.text.substr(d.text.size() - 2) == "}\n");
}

TEST_CASE("a deadlock report names who holds send rights, and dot draws the cycle of waits in red") {
    Dot d = dot_of(polite_pair);
    REQUIRE(d.report.deadlock);
    REQUIRE(d.report.blocked.size() == 2);
    for (const machsim::BlockedThread& b : d.report.blocked) {
        INFO(b.describe());
        CHECK(b.waiting == "receive");
        const char* other = b.task_name == "alice" ? "bob" : "alice";
        // The other, the bootstrap server (the port is registered there) and the waiter itself
        // (a send right under its port's name), in task order; the report leaves the waiter out.
        REQUIRE(b.senders.size() == 3);
        CHECK(b.senders[0].name == "bootstrap");
        CHECK((b.senders[1].name == other || b.senders[2].name == other));
        CHECK(has(b.describe(), fmt::format("; send rights: task 1 (bootstrap), task {} ({})", b.task_name == "alice" ? 3 : 2, other)));
    }
    CHECK(has(d.text, "; red: who waits for whom in the deadlock\n"));
    CHECK(has(d.text, "  T2 -> T3 [color=red, fontcolor=red, penwidth=2, label=\"thread 2 waits to receive on"));
    CHECK(has(d.text, "  T3 -> T2 [color=red, fontcolor=red, penwidth=2, label=\"thread 3 waits to receive on"));
    CHECK(has(d.text, "\\n(bob holds a send right)\"];\n"));
}

TEST_CASE("a receiver nobody else can send to: the report says so and dot draws a loop") {
    Dot d = dot_of([](machsim::Kernel& k) {
        k.spawn("hermit", [] {
            mach_port_t p = mt::new_receive_right();
            mt::SimpleReceived in;
            (void)mt::receive_simple(p, in);
        });
    });
    REQUIRE(d.report.deadlock);
    REQUIRE(d.report.blocked.size() == 1);
    CHECK(d.report.blocked[0].senders.empty());
    CHECK(has(d.report.blocked[0].describe(), "; no other task holds a send right to it"));
    CHECK(has(d.text, "  T2 -> T2 [color=red"));
    CHECK(has(d.text, "(hermit no other task holds a send right)"));
}

TEST_CASE("dot: names are quoted, so a quote or a backslash in a task name cannot break the graph") {
    Dot d = dot_of([](machsim::Kernel& k) { k.spawn("say \"hi\" \\o/", [] {}); });
    CHECK(has(d.text, "  T2 [label=\"say \\\"hi\\\" \\\\o/\\ntask 2\\nexited (exit code 0)\"];\n"));
}
