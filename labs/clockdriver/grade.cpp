// The clockdriver lab's grader (README.md has the assignment and the points). It runs the
// student's clock_driver beside a timer and a client of its own.
#include "labs/grade.h"

#include "labs/clockdriver/clock.h"

namespace {

using lab::give_up;

// The grader's client: ticks 1 .. CLOCK_TICKS, in order.
int graders_client() {
    mach_port_t port = MACH_PORT_NULL;
    if (kern_return_t kr = bootstrap_check_in(bootstrap_port, "clock", &port); kr != KERN_SUCCESS)
        return give_up("the grader's client could not check in \"clock\": {}", mach_error_string(kr));
    for (int32_t n = 1; n <= CLOCK_TICKS; ++n) {
        struct {
            clock_tick tick;
            mach_msg_max_trailer_t trailer;
        } in{};
        mach_msg_return_t mr =
            mach_msg(&in.tick.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return give_up("receiving tick {}: {}", n, mach_error_string(mr));
        if (in.tick.head.msgh_id != CLOCK_TICK)
            return give_up("tick {} came with id {}, not {}", n, in.tick.head.msgh_id, +CLOCK_TICK);
        if (in.tick.n != n) return give_up("the tick number {} came as {}", n, in.tick.n);
    }
    return 0;
}

}  // namespace

MACHSIM_PROGRAM(cd_basic, "clockdriver grader: your driver, the timer, the grader's client") {
    k.timer_device(CLOCK_LINE, CLOCK_PERIOD, 0, 4 * CLOCK_TICKS);  // a few raises more than needed, then none
    k.spawn("client", graders_client);
    k.spawn("driver", clock_driver, machsim::SpawnOptions{.privileged = true});
}

LAB_TEST("the client receives ticks 1 to 5, one per interrupt, and the run ends clean", 40) {
    lab::Run r = lab::run("cd_basic");
    t.expect_clean(r);
    int interrupts = r.received("driver", DEVICE_INTR_NOTIFY);
    t.expect(interrupts == CLOCK_TICKS, "the driver received {} interrupt notifications (id {}), not {}", interrupts,
             DEVICE_INTR_NOTIFY, CLOCK_TICKS);
}

LAB_TEST("each interrupt is acknowledged with device_intr_ack, after its tick is sent", 30) {
    lab::Run r = lab::run("cd_basic");
    t.replay_with(r);
    int ticks = 0, acks = 0, early = 0;  // early: the first acknowledgement before its tick, if any
    for (const auto& entry : r.log.entries()) {
        const machsim::Event& e = entry.event;
        if (r.task_name(e.task) != "driver") continue;
        if (e.kind == machsim::EventKind::Send && e.code == CLOCK_TICK) ++ticks;
        if (e.kind == machsim::EventKind::IrqAck && ++acks > ticks && !early) early = acks;
    }
    t.expect(!early, "acknowledgement {} came before tick {} was sent: the line is open again while the interrupt "
                     "is still being handled", early, early);
    t.expect(acks >= CLOCK_TICKS - 1, "the driver acknowledged {} interrupts; without an acknowledgement the line "
                                      "stays masked and no further interrupt comes", acks);
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one", 30) {
    lab::under_schedules(t, "cd_basic");
}

LAB_MAIN("clockdriver")
