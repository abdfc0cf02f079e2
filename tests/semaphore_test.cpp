// Semaphores (R26): how long an ended semaphore lives, and what semaphore_destroy does to the caller's right.
#include <vector>

#include "tests/lifecycle_support.h"

using lt::Rcv;

TEST_SUITE("semaphore lifetime") {

// The census (machsim::check_invariants) reports every ended semaphore that no send right
// reaches: the kernel must have freed it.
TEST_CASE("a task creating and destroying semaphores in a loop keeps none of them") {
    machsim::RunReport r = mt::run_task([] {
        for (int i = 0; i < 1000; ++i) {
            semaphore_t s = MACH_PORT_NULL;
            REQUIRE_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, i % 3), KERN_SUCCESS);
            REQUIRE_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
        }
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphore_create with a semaphore pointer it cannot write is KERN_INVALID_ADDRESS and makes nothing") {
    machsim::RunReport r = mt::run_task([] {
        static const semaphore_t kReadOnly = MACH_PORT_NULL;
        mach_port_name_array_t names = nullptr;
        mach_port_type_array_t types = nullptr;
        mach_msg_type_number_t before = 0, ntypes = 0;
        REQUIRE_KR(mach_port_names(mach_task_self(), &names, &before, &types, &ntypes), KERN_SUCCESS);
        CHECK_KR(semaphore_create(mach_task_self(), nullptr, SYNC_POLICY_FIFO, 0), KERN_INVALID_ADDRESS);
        CHECK_KR(semaphore_create(mach_task_self(), const_cast<semaphore_t*>(&kReadOnly), SYNC_POLICY_FIFO, 0),
                 KERN_INVALID_ADDRESS);
        mach_msg_type_number_t after = 0;
        REQUIRE_KR(mach_port_names(mach_task_self(), &names, &after, &types, &ntypes), KERN_SUCCESS);
        CHECK(after == before);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a semaphore_create that cannot name the semaphore (full name space) frees it and its port at once") {
    machsim::TraceLog log;
    machsim::Config cfg;
    cfg.max_names = 64;
    machsim::Kernel k(cfg);
    k.attach(log);
    k.spawn("t", [] {
        CHECK(mt::fill_name_space() > 0);
        for (int i = 0; i < 3; ++i) {
            semaphore_t s = 7;
            CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_RESOURCE_SHORTAGE);
            CHECK(s == MACH_PORT_NULL);
        }
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    // Each failing call destroys the port it made for the semaphore before it returns.
    int calls = 0, destroyed = 0;
    bool in_call = false;
    for (const auto& e : log.entries()) {
        bool create_call = e.text == "semaphore_create";
        if (e.event.kind == machsim::EventKind::SyscallEnter && create_call) {
            in_call = true;
            destroyed = 0;
        } else if (in_call && e.event.kind == machsim::EventKind::PortDestroy) {
            ++destroyed;
        } else if (e.event.kind == machsim::EventKind::SyscallLeave && create_call) {
            in_call = false;
            ++calls;
            CHECK(destroyed == 1);
        }
    }
    CHECK(calls == 3);
}

TEST_CASE("a destroyed semaphore lives while another task holds a right to it, and goes with that right") {
    machsim::RunReport r = mt::run_task([] {
        semaphore_t s = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        mach_port_t c = mt::new_receive_right();
        CHECK_KR(lt::send_port(c, MACH_MSG_TYPE_MAKE_SEND, s, MACH_MSG_TYPE_COPY_SEND), MACH_MSG_SUCCESS);
        machsim::task_spawn(
            "holder",
            [](mach_port_t in) {
                Rcv b;
                CHECK_KR(lt::poll(in, b), MACH_MSG_SUCCESS);
                semaphore_t sem = lt::port_desc(b).name;
                lt::sleep_ms(2);  // the owner destroys it meanwhile
                CHECK_KR(semaphore_signal(sem), KERN_TERMINATED);
                CHECK_KR(semaphore_wait(sem), KERN_TERMINATED);
                CHECK(lt::invariants_ok());
                CHECK_KR(mach_port_deallocate(mach_task_self(), sem), KERN_SUCCESS);  // the last right: freed
                CHECK(lt::invariants_ok());
            },
            c, MACH_MSG_TYPE_MOVE_RECEIVE);
        lt::sleep_ms(1);
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
        CHECK(lt::invariants_ok());
        lt::sleep_ms(5);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// The waiters woken by semaphore_destroy run only after the semaphore is freed (the
// destroy used up the last right), and new semaphores may take its memory first; a
// waiter's timer that was armed for the old wait still comes due later. Under
// AddressSanitizer (make asan) any use of the freed semaphore fails the run.
TEST_CASE("waiters woken by semaphore_destroy return KERN_TERMINATED after it is freed and its memory reused") {
    std::vector<kern_return_t> got(3, -1);
    kern_return_t second_wait = -1;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = MACH_PORT_NULL;
        semaphore_t later = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        REQUIRE_KR(semaphore_create(mach_task_self(), &later, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        machsim::thread_start([&got, s] { got[0] = semaphore_wait(s); });
        machsim::thread_start([&got, &second_wait, s, later] {
            got[1] = semaphore_timedwait(s, mach_timespec_t{0, 5000000});  // its timer is due at 5 ms
            second_wait = semaphore_timedwait(later, mach_timespec_t{0, 20000000});
        });
        mach_port_t third = machsim::thread_start([&got, s] { got[2] = semaphore_wait(s); });
        lt::yield();  // all three wait
        CHECK(got == std::vector<kern_return_t>{-1, -1, -1});
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);  // the last right to it
        CHECK_KR(thread_abort(third), KERN_SUCCESS);  // already woken: nothing left to abort
        std::vector<semaphore_t> fresh(8, MACH_PORT_NULL);
        for (semaphore_t& f : fresh) REQUIRE_KR(semaphore_create(mach_task_self(), &f, SYNC_POLICY_FIFO, 1), KERN_SUCCESS);
        CHECK(lt::invariants_ok());
        lt::yield(2);
        CHECK(got == std::vector<kern_return_t>{KERN_TERMINATED, KERN_TERMINATED, KERN_TERMINATED});
        lt::sleep_ms(10);  // past the stale 5 ms timer; the second wait goes on
        CHECK(second_wait == -1);
        CHECK_KR(semaphore_signal(later), KERN_SUCCESS);
        lt::yield();
        CHECK_KR(second_wait, KERN_SUCCESS);
        for (semaphore_t f : fresh) {
            CHECK_KR(semaphore_wait(f), KERN_SUCCESS);
            CHECK_KR(semaphore_destroy(mach_task_self(), f), KERN_SUCCESS);
        }
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("semaphore lifetime")

TEST_SUITE("semaphore_destroy") {

// XNU: the MIG stub moves the right into the request (semaphore_consume_ref_t), and the
// kernel destroys a failed request with the rights in it. Only a request never sent (a bad
// task) leaves the right alone.
TEST_CASE("semaphore_destroy uses up one uref of the caller's right even when it fails") {
    machsim::RunReport r = mt::run_task([] {
        semaphore_t s = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), s, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
        CHECK_KR(semaphore_destroy(MACH_PORT_NULL, s), MACH_SEND_INVALID_DEST);  // never sent
        CHECK(mt::refs(s, MACH_PORT_RIGHT_SEND) == 3);
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
        CHECK(mt::refs(s, MACH_PORT_RIGHT_SEND) == 2);
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_TERMINATED);  // already destroyed
        CHECK(mt::refs(s, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_TERMINATED);  // its last uref
        CHECK(mt::type_of(s) == 0xdead);                                   // the name is gone
        CHECK(lt::invariants_ok());                                        // and the semaphore

        semaphore_t owned = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(mach_task_self(), &owned, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        machsim::task_spawn(
            "stranger",
            [](mach_port_t sem) {
                CHECK_KR(mach_port_mod_refs(mach_task_self(), sem, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
                CHECK_KR(semaphore_destroy(mach_task_self(), sem), KERN_INVALID_RIGHT);  // not the owner
                CHECK(mt::refs(sem, MACH_PORT_RIGHT_SEND) == 1);
                CHECK_KR(semaphore_signal(sem), KERN_SUCCESS);  // the semaphore itself is untouched
                CHECK_KR(semaphore_destroy(mach_task_self(), sem), KERN_INVALID_RIGHT);
                CHECK(mt::type_of(sem) == 0xdead);
            },
            owned, MACH_MSG_TYPE_COPY_SEND);
        CHECK_KR(semaphore_wait(owned), KERN_SUCCESS);  // the stranger's signal
        lt::sleep_ms(1);
        CHECK(mt::refs(owned, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(semaphore_destroy(mach_task_self(), owned), KERN_SUCCESS);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("semaphore_destroy")

TEST_SUITE("semaphore_wait_signal and semaphore_signal_thread") {

namespace {

semaphore_t new_semaphore(int value = 0) {
    semaphore_t s = MACH_PORT_NULL;
    REQUIRE_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, value), KERN_SUCCESS);
    return s;
}

// Whether a count is there to take (it is taken).
bool has_count(semaphore_t s) { return semaphore_timedwait(s, mach_timespec_t{0, 0}) == KERN_SUCCESS; }

// Yields until the other threads have run as far as they can.
void let_run() {
    for (int i = 0; i < 4; ++i) (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
}

}  // namespace

TEST_CASE("two threads play ping-pong with semaphore_wait_signal: strict turns, no wake-up lost") {
    std::vector<std::string> log;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t ping = new_semaphore(), pong = new_semaphore();
        constexpr int kRounds = 50;
        machsim::thread_start([&] {
            CHECK_KR(semaphore_wait(ping), KERN_SUCCESS);
            for (int i = 0; i < kRounds; ++i) {
                log.push_back("pong");
                if (i + 1 < kRounds) {
                    CHECK_KR(semaphore_wait_signal(ping, pong), KERN_SUCCESS);
                } else {
                    CHECK_KR(semaphore_signal(pong), KERN_SUCCESS);
                }
            }
        });
        for (int i = 0; i < kRounds; ++i) {
            log.push_back("ping");
            CHECK_KR(semaphore_wait_signal(pong, ping), KERN_SUCCESS);
        }
        CHECK_FALSE(has_count(ping));
        CHECK_FALSE(has_count(pong));
    });
    INFO(r.summary());
    CHECK(r.clean());
    REQUIRE(log.size() == 100);
    for (std::size_t i = 0; i < log.size(); ++i) CHECK(log[i] == (i % 2 ? "pong" : "ping"));
}

TEST_CASE("semaphore_wait_signal on one semaphore, with a count, and its codes: nothing done when a name is bad") {
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = new_semaphore(), w = new_semaphore(), sig = new_semaphore();
        // The same semaphore both ways: its own signal is what the wait takes.
        CHECK_KR(semaphore_wait_signal(s, s), KERN_SUCCESS);
        CHECK_FALSE(has_count(s));
        // A count to take: no wait; the signal is counted.
        CHECK_KR(semaphore_signal(w), KERN_SUCCESS);
        CHECK_KR(semaphore_wait_signal(w, sig), KERN_SUCCESS);
        CHECK_FALSE(has_count(w));
        CHECK(has_count(sig));
        // Names are looked up before anything happens.
        mach_port_t not_one = mt::new_receive_right();
        CHECK_KR(semaphore_wait_signal(w, not_one), KERN_INVALID_ARGUMENT);
        CHECK_KR(semaphore_wait_signal(not_one, sig), KERN_INVALID_ARGUMENT);
        CHECK_KR(semaphore_wait_signal(MACH_PORT_NULL, sig), KERN_INVALID_ARGUMENT);
        CHECK_FALSE(has_count(sig));
        // A timed one that cannot wait: timed out, and the signal went.
        CHECK_KR(semaphore_timedwait_signal(w, sig, mach_timespec_t{0, 0}), KERN_OPERATION_TIMED_OUT);
        CHECK(has_count(sig));
        // A bad time: refused before the call, nothing signalled.
        CHECK_KR(semaphore_timedwait_signal(w, sig, mach_timespec_t{0, -1}), KERN_INVALID_VALUE);
        CHECK_KR(semaphore_timedwait_signal(w, sig, mach_timespec_t{0, 1'000'000'000}), KERN_INVALID_VALUE);
        CHECK_FALSE(has_count(sig));

        // Destroyed semaphores (an extra uref keeps each name): a destroyed signal
        // semaphore stops the call before anything; a destroyed wait semaphore after the signal.
        semaphore_t gone = new_semaphore();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), gone, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        CHECK_KR(semaphore_destroy(mach_task_self(), gone), KERN_SUCCESS);
        CHECK_KR(semaphore_signal(w), KERN_SUCCESS);
        CHECK_KR(semaphore_wait_signal(w, gone), KERN_TERMINATED);
        CHECK(has_count(w));  // not taken
        CHECK_KR(semaphore_wait_signal(gone, sig), KERN_TERMINATED);
        CHECK(has_count(sig));  // signalled first
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphore_timedwait_signal times out on the virtual clock after signalling") {
    uint64_t start = 0, end = 0;
    kern_return_t woken_by_signal = -1;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t w = new_semaphore(), sig = new_semaphore();
        machsim::thread_start([&] { woken_by_signal = semaphore_wait(sig); });
        let_run();  // it waits on sig
        start = machsim::now();
        CHECK_KR(semaphore_timedwait_signal(w, sig, mach_timespec_t{0, 3'000'000}), KERN_OPERATION_TIMED_OUT);
        end = machsim::now();
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(woken_by_signal, KERN_SUCCESS);
    CHECK(end - start >= 3000);
    CHECK(end - start < 3010);
}

TEST_CASE("semaphore_signal_thread wakes the thread named, or any one waiter, and never keeps a count") {
    std::vector<std::string> woke;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = new_semaphore(), other = new_semaphore();
        mach_port_t first = machsim::thread_start([&] {
            CHECK_KR(semaphore_wait(s), KERN_SUCCESS);
            woke.push_back("first");
        });
        mach_port_t second = machsim::thread_start([&] {
            CHECK_KR(semaphore_wait(s), KERN_SUCCESS);
            woke.push_back("second");
        });
        mach_port_t elsewhere = machsim::thread_start([&] {
            CHECK_KR(semaphore_wait(other), KERN_SUCCESS);
            woke.push_back("elsewhere");
        });
        let_run();  // all three wait

        // The thread named, though it is not first in line.
        CHECK_KR(semaphore_signal_thread(s, second), KERN_SUCCESS);
        let_run();
        CHECK(woke == std::vector<std::string>{"second"});
        // A thread that waits on another semaphore, or runs: not waiting, nothing counted. (One
        // that has ended has no thread port any more: KERN_INVALID_ARGUMENT.)
        CHECK_KR(semaphore_signal_thread(s, elsewhere), KERN_NOT_WAITING);
        mach_port_t me = mach_thread_self();
        CHECK_KR(semaphore_signal_thread(s, me), KERN_NOT_WAITING);
        (void)mach_port_deallocate(mach_task_self(), me);
        CHECK_KR(semaphore_signal_thread(s, second), KERN_INVALID_ARGUMENT);
        // Any one waiter.
        CHECK_KR(semaphore_signal_thread(s, MACH_PORT_NULL), KERN_SUCCESS);
        let_run();
        CHECK(woke == std::vector<std::string>{"second", "first"});
        CHECK_KR(semaphore_signal_thread(s, MACH_PORT_NULL), KERN_NOT_WAITING);
        CHECK_FALSE(has_count(s));
        // The thread name is looked at first.
        mach_port_t not_one = mt::new_receive_right();
        CHECK_KR(semaphore_signal_thread(not_one, not_one), KERN_INVALID_ARGUMENT);
        CHECK_KR(semaphore_signal_thread(not_one, MACH_PORT_NULL), KERN_INVALID_ARGUMENT);

        CHECK_KR(semaphore_signal_thread(other, elsewhere), KERN_SUCCESS);
        let_run();
        CHECK(woke.back() == "elsewhere");
        for (mach_port_t t : {first, second, elsewhere}) (void)mach_port_deallocate(mach_task_self(), t);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE
