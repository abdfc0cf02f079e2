// The pingpong lab's grader (README.md has the assignment and the points).
#include "labs/grade.h"

#include <mach/mach.h>

namespace {

constexpr int kRounds = 10;
constexpr int32_t kPing = 1000, kPong = 1100;

}  // namespace

LAB_TEST("the run ends clean: ping and pong exit 0, no deadlock, no right or message left behind", 20) {
    lab::Run r = lab::run("pingpong");
    t.expect_clean(r);
    for (const char* task : {"ping", "pong"}) {
        const machsim::TaskReport* tr = r.report.task(task);
        t.expect(tr != nullptr, "there is no task named {}", task);
    }
}

LAB_TEST("pong receives 10 requests (id 1000) and ping 10 answers (id 1100), alternately", 30) {
    lab::Run r = lab::run("pingpong");
    t.replay_with(r);
    t.expect(r.received("pong", kPing) == kRounds, "pong received {} requests, not {}", r.received("pong", kPing), kRounds);
    t.expect(r.received("ping", kPong) == kRounds, "ping received {} answers, not {}", r.received("ping", kPong), kRounds);
    // In the order of the run: request, answer, request, answer, ...
    std::vector<int32_t> order;
    for (const auto& e : r.log.of_kind(machsim::EventKind::Receive)) {
        std::string who = r.task_name(e.event.task);
        if ((who == "pong" && e.event.code == kPing) || (who == "ping" && e.event.code == kPong)) order.push_back(e.event.code);
    }
    for (std::size_t i = 0; i < order.size(); ++i)
        if (!t.expect(order[i] == (i % 2 ? kPong : kPing), "message {} of the exchange has id {}, expected {}", i + 1,
                      order[i], i % 2 ? kPong : kPing))
            break;
}

LAB_TEST("every request carries a send-once reply right made from ping's reply port", 20) {
    lab::Run r = lab::run("pingpong");
    t.replay_with(r);
    int made = r.sent_with("ping", kPing, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    t.expect(made == kRounds, "{} of ping's requests carried a MAKE_SEND_ONCE reply right, not {}", made, kRounds);
    int moved = r.sent_with("pong", kPong, MACH_MSG_TYPE_MOVE_SEND_ONCE);
    t.expect(moved == kRounds, "{} of pong's answers went through a send-once right (MOVE_SEND_ONCE), not {}", moved,
             kRounds);
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one", 30) {
    lab::under_schedules(t, "pingpong", [&](const lab::Run& r) {
        t.expect(r.received("pong", kPing) == kRounds && r.received("ping", kPong) == kRounds,
                 "under this schedule pong received {} requests and ping {} answers", r.received("pong", kPing),
                 r.received("ping", kPong));
    });
}

LAB_MAIN("pingpong")
