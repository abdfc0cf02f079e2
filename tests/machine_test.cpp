// The machine layer on its own (kernel/machine): what no task program can see,
// because it happens as a kernel is taken apart, such as the stack pool's count
// after Scheduler::discard.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernel/machine/clock.h"
#include "kernel/machine/context.h"
#include "kernel/machine/fault.h"
#include "kernel/machine/scheduler.h"
#include "kernel/machine/stack_pool.h"
#include "kernel/machine/timer_queue.h"
#include "kernel/machine/trace_bus.h"

namespace {

using namespace machsim::machine;

// A machine without a kernel: a scheduler over its own stack pool.
struct Machine {
    StackPool stacks{64 * 1024};
    Clock clock;
    TimerQueue timers;
    TraceBus trace{clock};
    Scheduler sched{stacks, clock, timers, trace, 1000};
};

volatile const char* forbidden = nullptr;  // a host page with no access
int faults = 0;

// The first fault's handling runs task code (as a fault's signal handler does) that
// faults again; the second waits for ever, so the context stays in both faults.
bool fault_twice_then_wait(Context* c, const FaultInfo&, void* sched) {
    if (++faults == 1) {
        c->in_kernel = false;
        (void)*forbidden;
    }
    static_cast<Scheduler*>(sched)->block();  // nobody wakes it
    return false;
}

void touch_forbidden(Context*) { (void)*forbidden; }

}  // namespace

TEST_SUITE("machine") {

TEST_CASE("Scheduler::discard of a context in a fault nested in a fault gives every fault stack back to the pool") {
    install_fault_handler();
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* p = mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    forbidden = static_cast<const char*>(p);
    faults = 0;
    {
        Machine m;
        m.sched.set_fault_handler(fault_twice_then_wait, &m.sched);
        Context c;
        REQUIRE(m.sched.start(&c, touch_forbidden));
        m.sched.run_ready();
        CHECK(faults == 2);
        CHECK(c.state() == RunState::Blocked);
        CHECK(c.in_fault());
        CHECK(m.stacks.in_use() == 4);  // its own, one per fault, and the one kept for the next fault
        m.sched.discard(&c);
        CHECK(c.state() == RunState::Dead);
        CHECK_FALSE(c.in_fault());
        m.sched.drop_spare_fault_stack();
        CHECK(m.stacks.in_use() == 0);
    }
    munmap(p, page);
}

}  // TEST_SUITE
