// philosophers: Dijkstra's dining philosophers, as C Threads code. Five threads
// of one task share five forks (mutexes); each takes its left fork, then its
// right, eats, and puts both down. Picking a fork up takes a moment (a kernel
// entry), so a schedule that switches there can leave every philosopher holding
// a left fork and waiting for a right one: a deadlock. Round robin never
// switches there and always ends clean; `machsim explore philosophers` finds the
// schedules that deadlock, and the report names each philosopher and the fork
// (a semaphore) it waits for. In `philosophers-ordered` they take the lower-numbered
// fork first, the classic cure: no schedule deadlocks them.
#include <cstdint>
#include <cstdio>
#include <utility>

#include "cthreads.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr int kPhilosophers = 5;
constexpr int kMeals = 2;

struct Table {
    struct mutex fork[kPhilosophers];
    int meals = 0;
    bool ordered = false;
};
Table g_table;

any_t philosopher(any_t arg) {
    const int me = static_cast<int>(reinterpret_cast<intptr_t>(arg));
    int first = me, second = (me + 1) % kPhilosophers;  // left, then right
    if (g_table.ordered && second < first) std::swap(first, second);
    for (int meal = 0; meal < kMeals; ++meal) {
        compute(50);  // thinks
        mutex_lock(&g_table.fork[first]);
        compute(1);  // reaches for the other fork: a schedule may switch here
        mutex_lock(&g_table.fork[second]);
        compute(20);  // eats
        ++g_table.meals;
        mutex_unlock(&g_table.fork[second]);
        mutex_unlock(&g_table.fork[first]);
    }
    return nullptr;
}

int dine(bool ordered) {
    g_table = Table{};
    g_table.ordered = ordered;
    for (struct mutex& f : g_table.fork) mutex_init(&f);
    cthread_t diners[kPhilosophers];
    for (int i = 0; i < kPhilosophers; ++i)
        diners[i] = cthread_fork(philosopher, reinterpret_cast<any_t>(static_cast<intptr_t>(i)));
    for (cthread_t d : diners) cthread_join(d);
    std::printf("philosophers: %d meals eaten\n", g_table.meals);
    return g_table.meals == kPhilosophers * kMeals ? 0 : 1;
}

}  // namespace

Program philosophers_program() {
    return {"philosophers",
            "five C threads share five forks: some schedules deadlock (machsim explore philosophers)",
            [](Kernel& k) { k.spawn("table", [] { return dine(false); }); }};
}

Program philosophers_ordered_program() {
    return {"philosophers-ordered", "the same, lower-numbered fork first: no schedule deadlocks",
            [](Kernel& k) { k.spawn("table", [] { return dine(true); }); }};
}

}  // namespace machsim::demos
