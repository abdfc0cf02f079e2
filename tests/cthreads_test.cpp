// C Threads: the bounded buffer of the textbooks with a mutex and two
// conditions, fork and join, cthread_exit, and what happens to programs that
// misuse the package or deadlock on its locks.
#include <algorithm>
#include <string>
#include <vector>

#include "cthreads.h"
#include "tests/support.h"

namespace {

// The producer/consumer of the Mach chapter of Operating System Concepts, as C
// Threads code: a circular buffer guarded by a mutex, with conditions for "not
// full" and "not empty".
constexpr int kSlots = 5, kPerProducer = 200, kProducers = 2, kConsumers = 2;

struct Buffer {
    int item[kSlots];
    int count, in, out;
    mutex_t lock;
    condition_t not_full, not_empty;
    std::vector<int> consumed;  // what the consumers took, in order
};
Buffer g_buffer;

any_t producer(any_t arg) {
    const int base = static_cast<int>(reinterpret_cast<intptr_t>(arg)) * 1000;
    for (int i = 0; i < kPerProducer; ++i) {
        mutex_lock(g_buffer.lock);
        while (g_buffer.count == kSlots) condition_wait(g_buffer.not_full, g_buffer.lock);
        g_buffer.item[g_buffer.in] = base + i;
        g_buffer.in = (g_buffer.in + 1) % kSlots;
        ++g_buffer.count;
        condition_signal(g_buffer.not_empty);
        mutex_unlock(g_buffer.lock);
        if (i % 7 == 0) cthread_yield();
    }
    return nullptr;
}

any_t consumer(any_t) {
    intptr_t taken = 0;
    for (int i = 0; i < kPerProducer * kProducers / kConsumers; ++i) {
        mutex_lock(g_buffer.lock);
        while (g_buffer.count == 0) condition_wait(g_buffer.not_empty, g_buffer.lock);
        g_buffer.consumed.push_back(g_buffer.item[g_buffer.out]);
        g_buffer.out = (g_buffer.out + 1) % kSlots;
        --g_buffer.count;
        condition_signal(g_buffer.not_full);
        mutex_unlock(g_buffer.lock);
        ++taken;
    }
    return reinterpret_cast<any_t>(taken);
}

void bounded_buffer() {
    g_buffer.count = g_buffer.in = g_buffer.out = 0;
    g_buffer.consumed.clear();
    g_buffer.lock = mutex_alloc();
    g_buffer.not_full = condition_alloc();
    g_buffer.not_empty = condition_alloc();
    std::vector<cthread_t> consumers, producers;
    for (int i = 0; i < kConsumers; ++i) consumers.push_back(cthread_fork(consumer, nullptr));
    for (intptr_t i = 0; i < kProducers; ++i) producers.push_back(cthread_fork(producer, reinterpret_cast<any_t>(i)));
    for (cthread_t t : producers) CHECK(cthread_join(t) == nullptr);
    for (cthread_t t : consumers) CHECK(cthread_join(t) == reinterpret_cast<any_t>(intptr_t{kPerProducer}));
    condition_free(g_buffer.not_empty);
    condition_free(g_buffer.not_full);
    mutex_free(g_buffer.lock);
}

void check_every_item_once_in_order() {
    REQUIRE(g_buffer.consumed.size() == static_cast<std::size_t>(kProducers * kPerProducer));
    for (int p = 0; p < kProducers; ++p) {  // each producer's items arrive in the order it made them
        std::vector<int> mine;
        for (int v : g_buffer.consumed)
            if (v / 1000 == p) mine.push_back(v % 1000);
        REQUIRE(mine.size() == static_cast<std::size_t>(kPerProducer));
        for (int i = 0; i < kPerProducer; ++i) CHECK(mine[static_cast<std::size_t>(i)] == i);
    }
}

}  // namespace

TEST_CASE("the textbook bounded buffer with a mutex and two conditions, under every policy") {
    struct Run {
        machsim::Policy policy;
        uint64_t seed;
    };
    for (Run run : {Run{machsim::Policy::RoundRobin, 1}, Run{machsim::Policy::Random, 3}, Run{machsim::Policy::Random, 7},
                    Run{machsim::Policy::Pct, 11}, Run{machsim::Policy::Pct, 12}}) {
        CAPTURE(machsim::policy_name(run.policy));
        CAPTURE(run.seed);
        machsim::Config cfg;
        cfg.policy = run.policy;
        cfg.seed = run.seed;
        cfg.quantum = 3;  // switches in the middle of everything
        machsim::RunReport r = mt::run_task(bounded_buffer, cfg);
        INFO(r.summary());
        CHECK(r.clean());
        check_every_item_once_in_order();
    }
}

TEST_CASE("cthread_fork and cthread_join: results, names, data, self; detached threads; nothing is left behind") {
    machsim::RunReport r = mt::run_task([] {
        mach_msg_type_number_t names = mt::name_count();
        static cthread_t seen_self;
        cthread_t t = cthread_fork(
            [](any_t arg) -> any_t {
                seen_self = cthread_self();
                cthread_set_name(cthread_self(), "worker");
                cthread_set_data(cthread_self(), arg);
                return reinterpret_cast<any_t>(reinterpret_cast<intptr_t>(arg) * 2);
            },
            reinterpret_cast<any_t>(intptr_t{21}));
        REQUIRE(t != NO_CTHREAD);
        cthread_yield();  // it runs and ends before the join
        CHECK(seen_self == t);
        CHECK(std::string(cthread_name(t)) == "worker");
        CHECK(cthread_data(t) == reinterpret_cast<any_t>(intptr_t{21}));
        CHECK(cthread_join(t) == reinterpret_cast<any_t>(intptr_t{42}));
        CHECK(cthread_self() != NO_CTHREAD);
        CHECK(cthread_self() == cthread_self());

        static int detached_ran = 0;
        for (int i = 0; i < 3; ++i) cthread_detach(cthread_fork([](any_t) -> any_t { ++detached_ran; return nullptr; }, nullptr));
        cthread_t late = cthread_fork([](any_t) -> any_t { ++detached_ran; return nullptr; }, nullptr);
        cthread_yield();
        cthread_yield();
        cthread_detach(late);  // already ended
        CHECK(detached_ran == 4);

        for (int i = 0; i < 300; ++i)  // many threads come and go
            CHECK(cthread_join(cthread_fork([](any_t a) -> any_t { return a; }, reinterpret_cast<any_t>(intptr_t{i}))) ==
                  reinterpret_cast<any_t>(intptr_t{i}));
        CHECK(mt::name_count() == names);  // no semaphore or thread port left in the space
        CHECK(machsim::check_invariants().empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("cthread_exit ends a forked thread with its result, running its destructors; in the first thread it waits") {
    static std::vector<std::string> log;
    log.clear();
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("main", [] {
            struct Note {
                ~Note() { log.push_back("unwound"); }
            };
            cthread_t t = cthread_fork(
                [](any_t) -> any_t {
                    Note n;
                    cthread_exit(reinterpret_cast<any_t>(intptr_t{7}));
                },
                nullptr);
            CHECK(cthread_join(t) == reinterpret_cast<any_t>(intptr_t{7}));
            log.push_back("joined");
            cthread_detach(cthread_fork(
                [](any_t) -> any_t {
                    for (int i = 0; i < 5; ++i) machsim::compute(100);
                    log.push_back("slow one done");
                    return nullptr;
                },
                nullptr));
            cthread_exit(reinterpret_cast<any_t>(intptr_t{3}));  // waits for the slow one, then the task exits 3
        });
    });
    INFO(r.summary());
    mt::check_sound(r);
    CHECK(log == std::vector<std::string>{"unwound", "joined", "slow one done"});
    const machsim::TaskReport* main = r.task("main");
    REQUIRE(main);
    CHECK(main->end == machsim::TaskEnd::Exited);
    CHECK(main->exit_code == 3);
}

TEST_CASE("mutex_try_lock, and a waiter blocks in the kernel until the holder unlocks") {
    static std::vector<std::string> log;
    log.clear();
    machsim::RunReport r = mt::run_task([] {
        static struct mutex m = MUTEX_INITIALIZER;
        mutex_set_name(&m, "m");
        CHECK(std::string(mutex_name(&m)) == "m");
        mutex_lock(&m);
        cthread_t t = cthread_fork(
            [](any_t) -> any_t {
                CHECK_FALSE(mutex_try_lock(&m));
                mutex_lock(&m);  // waits
                log.push_back("waiter has it");
                mutex_unlock(&m);
                return nullptr;
            },
            nullptr);
        for (int i = 0; i < 5; ++i) cthread_yield();
        log.push_back("holder unlocks");
        mutex_unlock(&m);
        cthread_join(t);
        CHECK(mutex_try_lock(&m));
        mutex_unlock(&m);
        mutex_clear(&m);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(log == std::vector<std::string>{"holder unlocks", "waiter has it"});
}

TEST_CASE("two threads locking two mutexes in opposite orders: the run ends as a deadlock naming both") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("philosophers", [] {
            static mutex_t a = mutex_alloc(), b = mutex_alloc();
            auto take = [](mutex_t first, mutex_t second) {
                mutex_lock(first);
                cthread_yield();
                mutex_lock(second);
                mutex_unlock(second);
                mutex_unlock(first);
            };
            cthread_t one = cthread_fork([](any_t) -> any_t { return nullptr; }, nullptr);
            cthread_join(one);
            cthread_t left = cthread_fork(
                [](any_t p) -> any_t {
                    auto f = *static_cast<decltype(take)*>(p);
                    f(a, b);
                    return nullptr;
                },
                &take);
            cthread_t right = cthread_fork(
                [](any_t p) -> any_t {
                    auto f = *static_cast<decltype(take)*>(p);
                    f(b, a);
                    return nullptr;
                },
                &take);
            cthread_join(left);
            cthread_join(right);
        });
    });
    INFO(r.summary());
    CHECK(r.deadlock);
    int on_semaphores = 0;
    for (const machsim::BlockedThread& b : r.blocked) on_semaphores += b.waiting == "semaphore";
    CHECK(on_semaphores == 3);  // the two philosophers on the mutexes, the first thread joining
}

TEST_CASE("unlocking a mutex the thread does not hold ends that task with SIGABRT; the others run on") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("careless", [] {
            mutex_t m = mutex_alloc();
            mutex_unlock(m);
        });
        k.spawn("bystander", [] {
            for (int i = 0; i < 3; ++i) cthread_yield();
        });
    });
    INFO(r.summary());
    mt::check_sound(r);
    const machsim::TaskReport* careless = r.task("careless");
    REQUIRE(careless);
    CHECK(careless->end == machsim::TaskEnd::Signaled);
    CHECK(careless->exit_code == machsim::sig::ABRT);
    CHECK(r.task("bystander")->end == machsim::TaskEnd::Exited);
}

TEST_CASE("a forked thread ended by thread_terminate, or by an exception, still ends for cthread_join") {
    machsim::RunReport r = mt::run_task([] {
        static mach_port_t victim = MACH_PORT_NULL;
        cthread_t t = cthread_fork(
            [](any_t) -> any_t {
                victim = mach_thread_self();
                for (;;) cthread_yield();
            },
            nullptr);
        cthread_yield();
        REQUIRE(MACH_PORT_VALID(victim));
        CHECK_KR(thread_terminate(victim), KERN_SUCCESS);
        CHECK(cthread_join(t) == nullptr);  // returns: the joiner is not left waiting
        (void)mach_port_deallocate(mach_task_self(), victim);
        cthread_exit(nullptr);  // no forked thread is left: the task exits 0 at once
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a thread terminated while it waits for a mutex leaves its queue; one the mutex was handed to passes it on") {
    static std::vector<std::string> log;
    log.clear();
    machsim::RunReport r = mt::run_task([] {
        static struct mutex m = MUTEX_INITIALIZER;
        static mach_port_t victim = MACH_PORT_NULL;
        auto waiter = [](any_t) -> any_t {
            victim = mach_thread_self();
            mutex_lock(&m);  // waits; terminated here
            log.push_back("the terminated thread got the mutex");
            mutex_unlock(&m);
            return nullptr;
        };

        // Terminated while queued, ahead of another waiter: that one gets the mutex next.
        mutex_lock(&m);
        cthread_t a = cthread_fork(waiter, nullptr);
        cthread_yield();
        mach_port_t a_port = victim;
        cthread_t b = cthread_fork(
            [](any_t) -> any_t {
                mutex_lock(&m);
                log.push_back("b has it");
                mutex_unlock(&m);
                return nullptr;
            },
            nullptr);
        cthread_yield();
        CHECK((m.first != nullptr && m.first != m.last));  // two threads wait, a first
        CHECK_KR(thread_terminate(a_port), KERN_SUCCESS);
        CHECK(cthread_join(a) == nullptr);
        CHECK((m.first != nullptr && m.first == m.last));  // only b waits now
        mutex_unlock(&m);
        cthread_join(b);
        CHECK(mutex_try_lock(&m));  // free again, and nobody is counted as waiting
        CHECK(m.first == nullptr);
        mutex_unlock(&m);

        // Terminated after the mutex was handed to it, before it ran: it passes the mutex on.
        mutex_lock(&m);
        cthread_t c = cthread_fork(waiter, nullptr);
        cthread_yield();
        mutex_unlock(&m);  // to c, which has not run yet
        CHECK_FALSE(mutex_try_lock(&m));
        CHECK_KR(thread_terminate(victim), KERN_SUCCESS);
        CHECK(cthread_join(c) == nullptr);
        CHECK(mutex_try_lock(&m));
        mutex_unlock(&m);
        mutex_clear(&m);  // nobody waits: no misuse
        (void)mach_port_deallocate(mach_task_self(), a_port);
        (void)mach_port_deallocate(mach_task_self(), victim);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(log == std::vector<std::string>{"b has it"});
}
