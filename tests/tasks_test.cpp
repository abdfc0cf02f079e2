// Send-once rights (R16), threads and tasks, task teardown, semaphores (R26), written from MACH-REFERENCE.md.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/lifecycle_support.h"

using lt::Rcv;

TEST_SUITE("send-once 2") {

TEST_CASE("a send-once right used for its reply yields that reply and nothing else, even after its user exits") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t svc = mt::new_port_with_send();
        mach_port_t reply = mt::new_receive_right();
        machsim::task_spawn(
            "server",
            [](mach_port_t port) {
                mt::SimpleReceived in;
                CHECK_KR(mt::receive_simple(port, in), MACH_MSG_SUCCESS);
                CHECK(mt::type_of(in.msg.head.msgh_remote_port) == MACH_PORT_TYPE_SEND_ONCE);
                CHECK_KR(mt::send_simple(in.msg.head.msgh_remote_port, MACH_MSG_TYPE_MOVE_SEND_ONCE, 2, 0, 0,
                                         MACH_PORT_NULL, 0, 777),
                         MACH_MSG_SUCCESS);
                CHECK(lt::invariants_ok());
            },
            svc, MACH_MSG_TYPE_MOVE_RECEIVE);
        CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                 MACH_MSG_SUCCESS);
        CHECK(mt::status_of(reply).mps_sorights == 1);
        Rcv b;
        CHECK_KR(lt::wait_for(reply, b, 20), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == 777);
        CHECK(mt::status_of(reply).mps_sorights == 0);
        CHECK_KR(lt::wait_for(reply, b, 5), MACH_RCV_TIMED_OUT);  // the server has exited meanwhile
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send-once right dropped by deallocate, mod_refs or mach_port_destroy yields exactly one send-once "
          "notification each") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        for (int way = 0; way < 3; ++way) {
            CAPTURE(way);
            mach_port_t once = lt::send_once_to(p);
            CHECK(mt::type_of(once) == MACH_PORT_TYPE_SEND_ONCE);
            CHECK(mt::refs(once, MACH_PORT_RIGHT_SEND_ONCE) == 1);
            CHECK(mt::status_of(p).mps_sorights == 1);
            if (way == 0) CHECK_KR(mach_port_deallocate(mach_task_self(), once), KERN_SUCCESS);
            if (way == 1) CHECK_KR(mach_port_mod_refs(mach_task_self(), once, MACH_PORT_RIGHT_SEND_ONCE, -1), KERN_SUCCESS);
            if (way == 2) CHECK_KR(mach_port_destroy(mach_task_self(), once), KERN_SUCCESS);
            CHECK(mt::type_of(once) == 0xdead);
            Rcv b;
            CHECK_KR(lt::poll(p, b), MACH_MSG_SUCCESS);
            CHECK(b.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
            CHECK(b.head.msgh_local_port == p);
            CHECK(b.head.msgh_remote_port == MACH_PORT_NULL);
            CHECK_KR(lt::poll(p, b), MACH_RCV_TIMED_OUT);
            CHECK(mt::status_of(p).mps_sorights == 0);
            CHECK_KR(mach_port_deallocate(mach_task_self(), once), KERN_INVALID_NAME);
        }
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("MACH_RCV_TOO_LARGE without MACH_RCV_LARGE destroys the message; its send-once reply right yields a "
          "send-once notification") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t reply = mt::new_receive_right();
        struct {
            mach_msg_header_t head;
            char data[256];
        } big{};
        big.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        big.head.msgh_size = sizeof big;
        big.head.msgh_remote_port = p;
        big.head.msgh_local_port = reply;
        big.head.msgh_id = 42;
        CHECK_KR(mach_msg(&big.head, MACH_SEND_MSG, sizeof big, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK(mt::status_of(reply).mps_sorights == 1);
        struct {
            mach_msg_header_t head;
            mach_msg_trailer_t trailer;
        } small{};
        CHECK_KR(mach_msg(&small.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof small, p, 0, MACH_PORT_NULL),
                 MACH_RCV_TOO_LARGE);
        CHECK(small.head.msgh_id == 42);
        CHECK(small.head.msgh_remote_port == MACH_PORT_NULL);
        CHECK(mt::status_of(p).mps_msgcount == 0);
        Rcv b;
        CHECK_KR(lt::poll(reply, b), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
        CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(reply).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send-once right whose holder task is terminated yields one send-once notification") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t reply = mt::new_receive_right();
        mach_port_t child = machsim::task_spawn(
            "holder", [](mach_port_t) { lt::sleep_ms(1000); }, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        CHECK(mt::status_of(reply).mps_sorights == 1);
        lt::sleep_ms(1);
        Rcv b;
        CHECK_KR(lt::poll(reply, b), MACH_RCV_TIMED_OUT);
        CHECK_KR(task_terminate(child), KERN_SUCCESS);
        CHECK_KR(lt::wait_for(reply, b, 5), MACH_MSG_SUCCESS);
        CHECK(b.head.msgh_id == MACH_NOTIFY_SEND_ONCE);
        CHECK_KR(lt::wait_for(reply, b, 5), MACH_RCV_TIMED_OUT);
        CHECK(mt::status_of(reply).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.task("holder")->end == machsim::TaskEnd::Terminated);
    CHECK(r.task("test")->end == machsim::TaskEnd::Exited);
    lt::check_sound(r);
}

TEST_CASE("with qlimit 0, a message to a send-once right and a send-once notification still get through") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::set_qlimit(p, 0), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, MACH_SEND_TIMEOUT, 0), MACH_SEND_TIMED_OUT);
        mach_port_t once = lt::send_once_to(p);
        CHECK_KR(mt::send_simple(once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 2, MACH_SEND_TIMEOUT, 0), MACH_MSG_SUCCESS);
        mach_port_t once2 = lt::send_once_to(p);
        CHECK_KR(mach_port_deallocate(mach_task_self(), once2), KERN_SUCCESS);
        CHECK(mt::status_of(p).mps_msgcount == 2);
        CHECK(lt::drain_ids(p) == std::vector<mach_msg_id_t>{100, MACH_NOTIFY_SEND_ONCE});
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send-once right to a port that died is a dead name with one uref; sending through it is "
          "MACH_SEND_INVALID_DEST") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t q = mt::new_receive_right();
        mach_port_t once = lt::send_once_to(q);
        machsim::task_spawn("brief", [](mach_port_t) {}, q, MACH_MSG_TYPE_MOVE_RECEIVE);
        lt::sleep_ms(1);  // it exits and q dies
        CHECK(mt::type_of(once) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_SEND_ONCE) == 0);
        CHECK_KR(mt::send_simple(once, MACH_MSG_TYPE_MOVE_SEND_ONCE, 1, MACH_SEND_TIMEOUT, 0), MACH_SEND_INVALID_DEST);
        CHECK(mt::refs(once, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK_KR(mach_port_deallocate(mach_task_self(), once), KERN_SUCCESS);
        CHECK(mt::type_of(once) == 0xdead);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("send-once 2")

TEST_SUITE("threads 2") {

TEST_CASE("thread_terminate of the calling thread does not return; its destructors run and its port dies") {
    bool after = false, unwound = false;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t t = machsim::thread_start([&after, &unwound] {
            lt::Guard g{&unwound};
            (void)thread_terminate(mach_thread_self());
            after = true;
        });
        CHECK(mt::refs(t, MACH_PORT_RIGHT_SEND) == 1);
        lt::sleep_ms(1);
        CHECK(unwound);
        CHECK_FALSE(after);
        CHECK(mt::type_of(t) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(t, MACH_PORT_RIGHT_DEAD_NAME) == 2);  // thread_start's uref + mach_thread_self's
        CHECK_KR(mach_port_mod_refs(mach_task_self(), t, MACH_PORT_RIGHT_DEAD_NAME, -2), KERN_SUCCESS);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_suspend nests: two suspends need two resumes") {
    int steps = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t t = machsim::thread_start([&steps] {
            for (int i = 0; i < 4; ++i) {
                ++steps;
                lt::yield();
            }
        });
        CHECK_KR(thread_suspend(t), KERN_SUCCESS);
        CHECK_KR(thread_suspend(t), KERN_SUCCESS);
        lt::yield(3);
        CHECK(steps == 0);
        CHECK_KR(thread_resume(t), KERN_SUCCESS);
        lt::yield(3);
        CHECK(steps == 0);  // still suspended once
        CHECK_KR(thread_resume(t), KERN_SUCCESS);
        lt::yield(8);
        CHECK(steps == 4);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_abort of a thread blocked sending with MACH_SEND_INTERRUPT gives MACH_SEND_INTERRUPTED and the "
          "message back in its buffer") {
    mach_msg_return_t got = -1;
    mt::SimpleMsg back{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::set_qlimit(p, 1), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        mach_port_t reply = mt::new_receive_right();
        mach_port_t t = machsim::thread_start([&got, &back, p, reply] {
            mt::SimpleMsg m{};
            m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
            m.head.msgh_size = sizeof m;
            m.head.msgh_remote_port = p;
            m.head.msgh_local_port = reply;
            m.head.msgh_id = 321;
            m.payload = 9;
            got = mach_msg(&m.head, MACH_SEND_MSG | MACH_SEND_INTERRUPT, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
            back = m;
        });
        lt::yield();  // it blocks on the full queue
        CHECK(got == -1);
        CHECK(mt::status_of(reply).mps_sorights == 1);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(thread_abort(t), KERN_SUCCESS);
        lt::yield();
        CHECK_KR(got, MACH_SEND_INTERRUPTED);
        CHECK(back.payload == 9);
        CHECK(back.head.msgh_id == 321);
        CHECK(back.head.msgh_remote_port == p);  // the destination right came back (R18 pseudo-receive)
        CHECK(MACH_MSGH_BITS_REMOTE(back.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 2);
        mach_port_t once = back.head.msgh_local_port;
        CHECK(MACH_MSGH_BITS_LOCAL(back.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE);
        CHECK(mt::type_of(once) == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(mt::status_of(p).mps_msgcount == 1);  // it was never queued
        CHECK_KR(mach_port_deallocate(mach_task_self(), once), KERN_SUCCESS);
        CHECK(lt::drain_ids(reply) == std::vector<mach_msg_id_t>{MACH_NOTIFY_SEND_ONCE});
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("without MACH_SEND_INTERRUPT, an aborted send keeps waiting and is delivered when room appears") {
    mach_msg_return_t got = -1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mt::set_qlimit(p, 1), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        mach_port_t t = machsim::thread_start([&got, p] { got = mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2); });
        lt::yield();
        CHECK_KR(thread_abort(t), KERN_SUCCESS);
        lt::yield();
        CHECK(got == -1);  // retried, still waiting
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 1);
        lt::yield();
        CHECK_KR(got, MACH_MSG_SUCCESS);
        CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 2);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_abort of a sleeping thread cuts the sleep short with KERN_ABORTED") {
    kern_return_t slept = -1;
    uint64_t woke = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t t = machsim::thread_start([&slept, &woke] {
            slept = thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 100);
            woke = machsim::now();
        });
        lt::yield();  // it sleeps
        CHECK_KR(thread_abort(t), KERN_SUCCESS);
        lt::yield();
        CHECK_KR(slept, KERN_ABORTED);
        CHECK(woke < 100000);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_abort of a ready or running thread succeeds and has no effect on its later waits") {
    kern_return_t slept = -1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t t = machsim::thread_start([&slept] { slept = thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1); });
        CHECK_KR(thread_abort(t), KERN_SUCCESS);  // ready, not yet run
        mach_port_t me = mach_thread_self();
        CHECK_KR(thread_abort(me), KERN_SUCCESS);  // running: the caller itself
        CHECK_KR(mach_port_deallocate(mach_task_self(), me), KERN_SUCCESS);
        uint64_t before = machsim::now();
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 3), KERN_SUCCESS);
        CHECK(machsim::now() - before >= 3000);
        CHECK_KR(slept, KERN_SUCCESS);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("every call on a dead thread's or dead task's port is MACH_SEND_INVALID_DEST; the dead names keep their "
          "urefs") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t t = machsim::thread_start([] {});
        mach_port_t child = machsim::task_spawn("brief", [](mach_port_t) {});
        lt::sleep_ms(1);
        CHECK(mt::type_of(t) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK_KR(thread_suspend(t), MACH_SEND_INVALID_DEST);
        CHECK_KR(thread_resume(t), MACH_SEND_INVALID_DEST);
        CHECK_KR(thread_abort(t), MACH_SEND_INVALID_DEST);
        CHECK_KR(thread_terminate(t), MACH_SEND_INVALID_DEST);
        CHECK_KR(mt::send_simple(t, MACH_MSG_TYPE_COPY_SEND, 1, MACH_SEND_TIMEOUT, 0), MACH_SEND_INVALID_DEST);
        CHECK_KR(task_suspend(child), MACH_SEND_INVALID_DEST);
        CHECK_KR(task_resume(child), MACH_SEND_INVALID_DEST);
        CHECK_KR(task_terminate(child), MACH_SEND_INVALID_DEST);
        thread_act_array_t list = nullptr;
        mach_msg_type_number_t n = 0;
        CHECK_KR(task_threads(child, &list, &n), MACH_SEND_INVALID_DEST);
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(child, &s, SYNC_POLICY_FIFO, 0), MACH_SEND_INVALID_DEST);
        vm_address_t a = 0;
        CHECK_KR(vm_allocate(child, &a, vm_page_size, VM_FLAGS_ANYWHERE), MACH_SEND_INVALID_DEST);
        mach_port_t special = MACH_PORT_NULL;
        CHECK_KR(task_get_special_port(child, TASK_KERNEL_PORT, &special), MACH_SEND_INVALID_DEST);
        CHECK_KR(mt::send_simple(child, MACH_MSG_TYPE_COPY_SEND, 1, MACH_SEND_TIMEOUT, 0), MACH_SEND_INVALID_DEST);
        CHECK(mt::refs(t, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(mt::refs(child, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a crash in a secondary thread ends the whole task, which is reported as crashed") {
    bool main_unwound = false, main_after = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("crasher", [&] {
            lt::Guard g{&main_unwound};
            mach_port_t p = mt::new_receive_right();
            machsim::thread_start([] { throw std::runtime_error("boom in a secondary thread"); });
            mt::SimpleReceived in;
            (void)mt::receive_simple(p, in);  // blocks; the crash ends the task
            main_after = true;
        });
        k.spawn("bystander", [] { lt::sleep_ms(2); });
    });
    INFO(r.summary());
    REQUIRE(r.task("crasher"));
    CHECK(r.task("crasher")->end == machsim::TaskEnd::Crashed);
    CHECK(r.task("crasher")->detail.find("boom in a secondary thread") != std::string::npos);
    CHECK(main_unwound);
    CHECK_FALSE(main_after);
    CHECK(r.task("bystander")->end == machsim::TaskEnd::Exited);
    lt::check_sound(r);
}

TEST_CASE("the first thread returning ends the task with its exit code and stops the other threads") {
    bool unwound = false, after = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("test", [&] {
            mach_port_t p = mt::new_receive_right();
            machsim::thread_start([&unwound, &after, p] {
                lt::Guard g{&unwound};
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);  // never returns normally
                after = true;
            });
            lt::yield();
            CHECK_FALSE(unwound);
            CHECK(lt::invariants_ok());
            return 7;
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(r.task("test")->exit_code == 7);
    CHECK(unwound);
    CHECK_FALSE(after);
}

}  // TEST_SUITE("threads 2")

TEST_SUITE("tasks 2") {

TEST_CASE("a task that suspends itself stops with all its threads until another task resumes it") {
    int phase = 0, helper = 0;
    kern_return_t self_kr = -1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t child = machsim::task_spawn("self-suspender", [&](mach_port_t) {
            machsim::thread_start([&helper] {
                for (int i = 0; i < 5; ++i) {
                    ++helper;
                    lt::sleep_ms(1);
                }
            });
            phase = 1;
            self_kr = task_suspend(mach_task_self());
            phase = 2;
            lt::sleep_ms(10);  // the helper finishes meanwhile
        });
        lt::sleep_ms(1);
        CHECK(phase == 1);
        lt::sleep_ms(5);
        CHECK(phase == 1);
        CHECK(helper == 0);
        CHECK(self_kr == -1);
        CHECK_KR(task_resume(child), KERN_SUCCESS);
        lt::sleep_ms(20);
        CHECK(phase == 2);
        CHECK_KR(self_kr, KERN_SUCCESS);
        CHECK(helper == 5);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("task_suspend nests: a task suspended twice runs again only after two resumes") {
    int ran = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t child = machsim::task_spawn("counter", [&ran](mach_port_t) {
            for (int i = 0; i < 3; ++i) {
                ++ran;
                lt::yield();
            }
        });
        CHECK_KR(task_suspend(child), KERN_SUCCESS);
        CHECK_KR(task_suspend(child), KERN_SUCCESS);
        lt::yield(4);
        CHECK(ran == 0);
        CHECK_KR(task_resume(child), KERN_SUCCESS);
        lt::yield(4);
        CHECK(ran == 0);
        CHECK_KR(task_resume(child), KERN_SUCCESS);
        lt::yield(6);
        CHECK(ran == 3);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("task_terminate of the calling task does not return; every thread of it unwinds") {
    bool after = false, main_unwound = false, helper_unwound = false;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t child = machsim::task_spawn("quitter", [&](mach_port_t) {
            lt::Guard g{&main_unwound};
            machsim::thread_start([&helper_unwound] {
                lt::Guard h{&helper_unwound};
                lt::sleep_ms(1000);
            });
            lt::yield();
            (void)task_terminate(mach_task_self());
            after = true;
        });
        lt::sleep_ms(2);
        CHECK(main_unwound);
        CHECK(helper_unwound);
        CHECK_FALSE(after);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.task("quitter")->end == machsim::TaskEnd::Terminated);
    CHECK(r.task("test")->end == machsim::TaskEnd::Exited);
    lt::check_sound(r);
}

TEST_CASE("a task_terminate'd task whose body swallows the unwinding with catch (...) and returns is still "
          "Terminated") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t child = machsim::task_spawn(
            "swallower",
            [](mach_port_t rcv) {
                try {
                    mt::SimpleReceived in;
                    (void)mt::receive_simple(rcv, in);  // nobody sends: it waits until terminated
                } catch (...) {
                }
                return 7;  // no kernel call after the catch: nothing throws again
            },
            p, MACH_MSG_TYPE_MOVE_RECEIVE);
        lt::sleep_ms(1);
        CHECK_KR(task_terminate(child), KERN_SUCCESS);
        lt::sleep_ms(1);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
    });
    INFO(r.summary());
    REQUIRE(r.task("swallower") != nullptr);
    CHECK(r.task("swallower")->end == machsim::TaskEnd::Terminated);
    CHECK(r.task("swallower")->exit_code == 0);
    lt::check_sound(r);
}

namespace {
// Suspends its own task from a destructor, which runs while the task is being terminated.
struct SuspendsOnUnwind {
    ~SuspendsOnUnwind() { (void)task_suspend(mach_task_self()); }
};
}  // namespace

TEST_CASE("task_suspend of its own task from a destructor run by task_terminate does not stop the unwinding") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t child = machsim::task_spawn(
            "suspender",
            [](mach_port_t rcv) {
                SuspendsOnUnwind s;
                mt::SimpleReceived in;
                (void)mt::receive_simple(rcv, in);  // nobody sends: it waits until terminated
            },
            p, MACH_MSG_TYPE_MOVE_RECEIVE);
        lt::sleep_ms(1);
        CHECK_KR(task_terminate(child), KERN_SUCCESS);
        lt::sleep_ms(1);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);  // it has ended
    });
    INFO(r.summary());
    REQUIRE(r.task("suspender") != nullptr);
    CHECK(r.task("suspender")->end == machsim::TaskEnd::Terminated);
    lt::check_sound(r);
}

namespace {
// Waits in the kernel from a destructor, while an exception unwinds its thread.
struct SleepsOnUnwind {
    ~SleepsOnUnwind() { lt::sleep_ms(50); }
};
}  // namespace

// The C++ runtime counts exceptions in flight per host thread, and every task
// thread is a fiber of the one host thread: unless each keeps its own count, a
// task waiting in a destructor during unwinding makes every other task look as if
// it unwinds, and a terminated task is then not unwound (it runs on).
TEST_CASE("a task waiting in a destructor while an exception unwinds it does not delay another task's termination") {
    bool terminated = false, dead_at_once = false;
    int loops_after = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("unwinder", [] {
            try {
                SleepsOnUnwind s;
                throw std::runtime_error("unwinds through a destructor that waits");
            } catch (const std::exception&) {
            }
        });
        k.spawn("controller", [&] {
            mach_port_t p = mt::new_receive_right();
            mach_port_t victim = machsim::task_spawn(
                "victim",
                [&](mach_port_t rcv) {
                    for (;;) {
                        if (terminated) ++loops_after;
                        mt::SimpleReceived in;
                        (void)mt::receive_simple(rcv, in, MACH_RCV_TIMEOUT, 1);
                    }
                },
                p, MACH_MSG_TYPE_MOVE_RECEIVE);
            lt::sleep_ms(3);  // the unwinder waits in its destructor meanwhile
            terminated = true;
            CHECK_KR(task_terminate(victim), KERN_SUCCESS);
            lt::sleep_ms(2);
            dead_at_once = mt::type_of(victim) == MACH_PORT_TYPE_DEAD_NAME;
        });
    });
    INFO(r.summary());
    CHECK(dead_at_once);
    CHECK(loops_after == 0);
    CHECK(r.task("victim")->end == machsim::TaskEnd::Terminated);
    CHECK(r.task("unwinder")->end == machsim::TaskEnd::Exited);
    lt::check_sound(r);
}

// What a child spawned with `give` under `disposition` finds under the name it
// got; filled in when the child runs.
struct GivenRight {
    mach_port_type_t type = 0;
    mach_port_urefs_t urefs = 0;
};
std::shared_ptr<GivenRight> spawn_given(mach_port_t give, mach_msg_type_name_t disposition) {
    auto seen = std::make_shared<GivenRight>();
    machsim::task_spawn(
        "child",
        [seen](mach_port_t g) {
            seen->type = mt::type_of(g);
            seen->urefs = mt::refs(g, MACH_PORT_RIGHT_SEND);
        },
        give, disposition);
    return seen;
}

TEST_CASE("a task spawned with COPY_SEND gets a send right with one uref; the parent's urefs are unchanged") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        auto seen = spawn_given(p, MACH_MSG_TYPE_COPY_SEND);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::status_of(p).mps_mscount == 1);
        lt::sleep_ms(1);
        CHECK(seen->type == MACH_PORT_TYPE_SEND);
        CHECK(seen->urefs == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a task spawned with MAKE_SEND gets a send right; the parent's mscount goes up by one") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        auto seen = spawn_given(p, MACH_MSG_TYPE_MAKE_SEND);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(p).mps_mscount == 1);
        CHECK(mt::status_of(p).mps_srights);
        lt::sleep_ms(1);
        CHECK(seen->type == MACH_PORT_TYPE_SEND);
        CHECK(seen->urefs == 1);
        CHECK_FALSE(mt::status_of(p).mps_srights);  // gone with the child
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a task spawned with MOVE_SEND gets a send right; the parent loses one uref") {
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        auto seen = spawn_given(p, MACH_MSG_TYPE_MOVE_SEND);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::status_of(p).mps_mscount == 1);
        lt::sleep_ms(1);
        CHECK(seen->type == MACH_PORT_TYPE_SEND);
        CHECK(seen->urefs == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a task spawned with MAKE_SEND_ONCE gets a send-once right whose one message reaches the parent") {
    mach_port_type_t type = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        machsim::task_spawn(
            "child",
            [&](mach_port_t g) {
                type = mt::type_of(g);
                CHECK_KR(mt::send_simple(g, MACH_MSG_TYPE_MOVE_SEND_ONCE, 55, 0, 0, MACH_PORT_NULL, 0, 55),
                         MACH_MSG_SUCCESS);
            },
            p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        CHECK(mt::status_of(p).mps_sorights == 1);
        CHECK(mt::status_of(p).mps_mscount == 0);
        lt::sleep_ms(1);
        CHECK(type == MACH_PORT_TYPE_SEND_ONCE);
        CHECK(lt::drain_ids(p) == std::vector<mach_msg_id_t>{55});
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a task spawned with MOVE_RECEIVE gets the receive right with its queue; the parent's name is gone") {
    mach_port_type_t type = 0;
    int payload = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 31), MACH_MSG_SUCCESS);
        machsim::task_spawn(
            "child",
            [&](mach_port_t g) {
                type = mt::type_of(g);
                mt::SimpleReceived in;
                CHECK_KR(mt::receive_simple(g, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
                payload = in.msg.payload;
            },
            p, MACH_MSG_TYPE_MOVE_RECEIVE);
        CHECK(mt::type_of(p) == 0xdead);
        lt::sleep_ms(1);
        CHECK(type == MACH_PORT_TYPE_RECEIVE);
        CHECK(payload == 31);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a task spawned with a right the caller lacks fails with MACH_SEND_INVALID_RIGHT and creates nothing") {
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [](machsim::Kernel& k) {
            k.spawn("test", [] {
                mach_port_t p = mt::new_receive_right();
                CHECK(mt::type_of(0x4242) == 0xdead);
                CHECK(machsim::task_spawn("never1", [](mach_port_t) {}, 0x4242, MACH_MSG_TYPE_COPY_SEND) ==
                      MACH_PORT_NULL);
                CHECK(machsim::task_spawn("never2", [](mach_port_t) {}, p, MACH_MSG_TYPE_COPY_SEND) == MACH_PORT_NULL);
                CHECK(machsim::task_spawn("never3", [](mach_port_t) {}, p, MACH_MSG_TYPE_MOVE_SEND_ONCE) ==
                      MACH_PORT_NULL);
                CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);  // nothing moved
                CHECK(mt::status_of(p).mps_mscount == 0);
                CHECK(lt::invariants_ok());
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(r.tasks.size() == 2);  // bootstrap and test
    int refused = 0;
    for (const auto& e : log.of_kind(machsim::EventKind::SyscallLeave))
        if (e.text == "task_spawn" && e.event.code == MACH_SEND_INVALID_RIGHT) ++refused;
    CHECK(refused == 3);
    for (const auto& e : log.of_kind(machsim::EventKind::TaskCreate)) CHECK(e.text.rfind("never", 0) != 0);
}

TEST_CASE("program_spawn of an unknown program returns false and spawns nothing") {
    bool ok = true;
    machsim::RunReport r = mt::run_task([&] { ok = machsim::program_spawn("no-such-program-anywhere"); });
    INFO(r.summary());
    CHECK_FALSE(ok);
    CHECK(r.clean());
    CHECK(r.tasks.size() == 2);
}

// exit() is how textbook task code gives up (`if (kr != KERN_SUCCESS) exit(1);`).
// In a task it ends that task, as in a process; the run goes on.
TEST_CASE("exit() in a task ends that task with its status, not the run: the caller stops where it is, the other "
          "threads unwind, its rights go") {
    bool after = false, main_unwound = false, helper_unwound = false;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.attach(log);
        k.spawn("test", [&] {
            mach_port_t p = mt::new_port_with_send();
            mach_port_t child = machsim::task_spawn(
                "quitter",
                [&](mach_port_t) {
                    lt::Guard g{&main_unwound};
                    machsim::thread_start([&helper_unwound] {
                        lt::Guard h{&helper_unwound};
                        lt::sleep_ms(1000);
                    });
                    lt::yield();
                    std::exit(3);
                    after = true;
                },
                p, MACH_MSG_TYPE_MOVE_RECEIVE);
            lt::sleep_ms(2);
            CHECK_FALSE(main_unwound);  // as a process's exit() unwinds nothing
            CHECK(helper_unwound);      // as after task_terminate
            CHECK_FALSE(after);
            CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
            CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);  // its receive right died with it
            CHECK(lt::invariants_ok());
        });
    });
    INFO(r.summary());
    REQUIRE(r.task("quitter") != nullptr);
    CHECK(r.task("quitter")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("quitter")->exit_code == 3);
    CHECK(r.task("test")->end == machsim::TaskEnd::Exited);
    CHECK(r.clean());
    lt::check_sound(r);
    int calls = 0;
    for (const auto& e : log.of_kind(machsim::EventKind::SyscallEnter)) calls += e.text == "exit";
    CHECK(calls == 1);  // traced as a call named exit
    auto exits = log.of_kind(machsim::EventKind::TaskExit);
    CHECK(std::any_of(exits.begin(), exits.end(), [](const auto& e) { return e.event.code == 3; }));
}

TEST_CASE("exit() in a secondary thread ends the whole task with its status; the main thread unwinds") {
    bool main_unwound = false, main_after = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("quitter", [&] {
            lt::Guard g{&main_unwound};
            mach_port_t p = mt::new_receive_right();
            machsim::thread_start([] { std::exit(5); });
            mt::SimpleReceived in;
            (void)mt::receive_simple(p, in);  // blocks; the exit ends the task
            main_after = true;
        });
        k.spawn("bystander", [] { lt::sleep_ms(2); });
    });
    INFO(r.summary());
    CHECK(r.task("quitter")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("quitter")->exit_code == 5);
    CHECK(main_unwound);
    CHECK_FALSE(main_after);
    CHECK(r.task("bystander")->end == machsim::TaskEnd::Exited);
    CHECK(r.clean());
}

TEST_CASE("_exit, _Exit and quick_exit in a task end it as exit() does") {
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("a", [] { _exit(11); });
        k.spawn("b", [] { std::_Exit(12); });
        k.spawn("c", [] { std::quick_exit(13); });
        k.spawn("d", [] { return 14; });
    });
    INFO(r.summary());
    CHECK(r.clean());
    int code = 11;
    for (const char* name : {"a", "b", "c", "d"}) {
        REQUIRE(r.task(name) != nullptr);
        CHECK(r.task(name)->end == machsim::TaskEnd::Exited);
        CHECK(r.task(name)->exit_code == code++);
    }
}

namespace {
// A sink that ends the process at the first thread exit it sees, as a grader's sink might.
struct ExitingSink : machsim::TraceSink {
    bool called = false;  // once: a second call would only hide what the first one did
    void on_event(const machsim::Event& e) override {
        if (e.kind != machsim::EventKind::ThreadExit || called) return;
        called = true;
        std::exit(42);
    }
};
}  // namespace

// A sink runs on whatever thread emitted the event, a task's thread included: its
// exit() is host code's, and ends the process (here a child process).
TEST_CASE("exit() in a trace sink ends the process, not the task whose thread emitted the event") {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // Only the process's exit runs atexit handlers. This one ends the child at once:
        // under LeakSanitizer the rest of exit() would report what the test framework
        // still holds, and change the status.
        std::atexit([] { _exit(42); });
        ExitingSink sink;
        machsim::Kernel k;
        k.attach(sink);
        k.spawn("a", [] { return 0; });
        (void)k.run();
        _exit(5);  // the sink's exit() did not end the process
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 42);
}

namespace {
// Calls exit() from a destructor, which runs while something else unwinds the thread.
struct ExitsOnUnwind {
    ~ExitsOnUnwind() { std::exit(9); }
};
}  // namespace

TEST_CASE("exit() from a destructor: task_terminate's unwinding keeps the task Terminated; an escaping exception's "
          "gives exit's status") {
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("terminated", [] {
            ExitsOnUnwind e;
            (void)task_terminate(mach_task_self());
        });
        k.spawn("thrower", [] {
            ExitsOnUnwind e;
            throw std::runtime_error("unwinding");
        });
        k.spawn("bystander", [] { lt::sleep_ms(2); });
    });
    INFO(r.summary());
    CHECK(r.task("terminated")->end == machsim::TaskEnd::Terminated);
    CHECK(r.task("thrower")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("thrower")->exit_code == 9);
    CHECK(r.task("bystander")->end == machsim::TaskEnd::Exited);
    lt::check_sound(r);
}

}  // TEST_SUITE("tasks 2")

TEST_SUITE("teardown") {

namespace {

struct TeardownRun {
    std::vector<mach_msg_id_t> ids;  // notifications in the order the watcher got them
    mach_port_name_t notify = MACH_PORT_NULL;
    uint32_t watcher = 0;
};

// A victim task holds several rights with requests on them and is terminated; the watcher collects the notifications.
void teardown_setup(machsim::Kernel& k, TeardownRun& out) {
    out.watcher = k.spawn("watcher", [&out] {
        mach_port_t notify = mt::new_receive_right();
        out.notify = notify;
        mach_port_t inbox = mt::new_port_with_send();
        mach_port_t x = mt::new_receive_right();   // the victim watches a send right to it (port-deleted)
        mach_port_t z = mt::new_port_with_send();  // goes to the victim; we watch our send right (dead-name)
        mach_port_t q = mt::new_receive_right();   // goes to the victim with our port-destroyed request
        CHECK_KR(lt::request(z, MACH_NOTIFY_DEAD_NAME, 0, notify), KERN_SUCCESS);
        CHECK_KR(lt::request(z, MACH_NOTIFY_NO_SENDERS, 0, notify), KERN_SUCCESS);  // dies unfired: send-once
        CHECK_KR(lt::request(q, MACH_NOTIFY_PORT_DESTROYED, 0, notify), KERN_SUCCESS);
        CHECK_KR(lt::send_ports(inbox, MACH_MSG_TYPE_COPY_SEND,
                                {{x, MACH_MSG_TYPE_MAKE_SEND},
                                 {notify, MACH_MSG_TYPE_MAKE_SEND_ONCE},
                                 {notify, MACH_MSG_TYPE_MAKE_SEND_ONCE},
                                 {z, MACH_MSG_TYPE_MOVE_RECEIVE},
                                 {q, MACH_MSG_TYPE_MOVE_RECEIVE}}),
                 MACH_MSG_SUCCESS);
        mach_port_t victim = machsim::task_spawn(
            "victim",
            [](mach_port_t in) {
                Rcv b;
                CHECK_KR(lt::poll(in, b), MACH_MSG_SUCCESS);
                mach_port_t x_send = lt::port_desc(b, 0).name;
                mach_port_t to_notify = lt::port_desc(b, 1).name;
                CHECK(mt::type_of(x_send) == MACH_PORT_TYPE_SEND);
                CHECK_KR(lt::request(x_send, MACH_NOTIFY_DEAD_NAME, 0, to_notify, nullptr, MACH_MSG_TYPE_MOVE_SEND_ONCE),
                         KERN_SUCCESS);
                CHECK(lt::invariants_ok());
                Rcv forever;
                (void)mach_msg(&forever.head, MACH_RCV_MSG, 0, sizeof forever, in, 0, MACH_PORT_NULL);
            },
            inbox, MACH_MSG_TYPE_MOVE_RECEIVE);
        lt::sleep_ms(2);  // the victim sets up and waits
        CHECK(mt::status_of(notify).mps_sorights == 5);
        CHECK(mt::refs(z, MACH_PORT_RIGHT_SEND) == 1);
        CHECK_KR(task_terminate(victim), KERN_SUCCESS);
        lt::sleep_ms(1);
        Rcv b;
        while (lt::poll(notify, b) == MACH_MSG_SUCCESS) {
            out.ids.push_back(b.head.msgh_id);
            if (b.head.msgh_id == MACH_NOTIFY_DEAD_NAME) CHECK(lt::word_of(b) == z);
            if (b.head.msgh_id == MACH_NOTIFY_PORT_DESTROYED) {
                mach_port_t back = lt::port_desc(b).name;
                CHECK(mt::type_of(back) == MACH_PORT_TYPE_RECEIVE);
                CHECK_KR(mach_port_mod_refs(mach_task_self(), back, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
            }
        }
        std::vector<mach_msg_id_t> sorted = out.ids;
        std::sort(sorted.begin(), sorted.end());
        CHECK(sorted == std::vector<mach_msg_id_t>{MACH_NOTIFY_PORT_DELETED, MACH_NOTIFY_PORT_DESTROYED,
                                                   MACH_NOTIFY_SEND_ONCE, MACH_NOTIFY_SEND_ONCE,
                                                   MACH_NOTIFY_DEAD_NAME});
        CHECK(mt::type_of(z) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(z, MACH_PORT_RIGHT_DEAD_NAME) == 2);
        CHECK(mt::status_of(notify).mps_sorights == 0);
        CHECK(lt::invariants_ok());
    });
}

}  // namespace

TEST_CASE("a dying task's notifications go out in the same order on every run, each traced as a kernel-composed "
          "send") {
    TeardownRun a, b;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) { teardown_setup(k, a); }, {}, &log);
    INFO(r.summary());
    CHECK(r.task("watcher")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("victim")->end == machsim::TaskEnd::Terminated);
    lt::check_sound(r);
    CHECK(a.ids.size() == 5);
    machsim::RunReport r2 = mt::run_kernel([&](machsim::Kernel& k) { teardown_setup(k, b); });
    CHECK(b.ids == a.ids);

    TeardownRun c, d;
    std::string t1 = mt::trace_text([&](machsim::Kernel& k) { teardown_setup(k, c); });
    std::string t2 = mt::trace_text([&](machsim::Kernel& k) { teardown_setup(k, d); });
    bool same_trace = t1 == t2;
    CHECK(same_trace);
    CHECK(c.ids == a.ids);

    // Every notification the watcher received was sent by the kernel (Send, extra == 1), in the order received.
    std::map<uint32_t, machsim::TraceLog::Entry> sends;
    for (const auto& e : log.of_kind(machsim::EventKind::Send)) sends[e.event.msg] = e;
    std::vector<mach_msg_id_t> traced;
    for (const auto& e : log.of_kind(machsim::EventKind::Receive)) {
        if (e.event.space != a.watcher || e.event.name != a.notify) continue;
        auto it = sends.find(e.event.msg);
        REQUIRE(it != sends.end());
        CHECK(it->second.event.extra == 1);
        CHECK(it->second.event.code == e.event.code);
        traced.push_back(it->second.event.code);
    }
    CHECK(traced == a.ids);
}

}  // TEST_SUITE("teardown")

TEST_SUITE("semaphores 2") {

TEST_CASE("semaphore calls on a name that is not a semaphore are KERN_INVALID_ARGUMENT") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t dead = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &dead), KERN_SUCCESS);
        for (mach_port_t name : {p, dead, mach_task_self(), mach_port_t{MACH_PORT_NULL}, mach_port_t{0x4242}}) {
            CAPTURE(name);
            CHECK_KR(semaphore_signal(name), KERN_INVALID_ARGUMENT);
            CHECK_KR(semaphore_signal_all(name), KERN_INVALID_ARGUMENT);
            CHECK_KR(semaphore_wait(name), KERN_INVALID_ARGUMENT);
            CHECK_KR(semaphore_timedwait(name, mach_timespec_t{0, 1000000}), KERN_INVALID_ARGUMENT);
            CHECK_KR(semaphore_destroy(mach_task_self(), name), KERN_INVALID_ARGUMENT);
        }
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(mt::refs(dead, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphore_create with a negative value is KERN_INVALID_ARGUMENT and creates nothing; a bad task is "
          "MACH_SEND_INVALID_DEST") {
    machsim::RunReport r = mt::run_task([] {
        auto count_names = [] {
            mach_port_name_array_t names = nullptr;
            mach_port_type_array_t types = nullptr;
            mach_msg_type_number_t n = 0, nt = 0;
            if (mach_port_names(mach_task_self(), &names, &n, &types, &nt) != KERN_SUCCESS) return -1;
            (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(names), n * sizeof *names);
            (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(types), nt * sizeof *types);
            return static_cast<int>(n);
        };
        int before = count_names();
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, -1), KERN_INVALID_ARGUMENT);
        CHECK(s == MACH_PORT_NULL);
        CHECK_KR(semaphore_create(MACH_PORT_NULL, &s, SYNC_POLICY_FIFO, 0), MACH_SEND_INVALID_DEST);
        CHECK(count_names() == before);
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 2), KERN_SUCCESS);
        CHECK(mt::type_of(s) == MACH_PORT_TYPE_SEND);
        CHECK(count_names() == before + 1);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_SUCCESS);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_SUCCESS);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_OPERATION_TIMED_OUT);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("after semaphore_destroy every operation through a remaining right is KERN_TERMINATED, even with signals "
          "stored") {
    machsim::RunReport r = mt::run_task([] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 1), KERN_SUCCESS);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), s, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
        CHECK(mt::type_of(s) == MACH_PORT_TYPE_SEND);
        CHECK_KR(semaphore_wait(s), KERN_TERMINATED);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 1000000}), KERN_TERMINATED);
        CHECK_KR(semaphore_signal(s), KERN_TERMINATED);
        CHECK_KR(semaphore_signal_all(s), KERN_TERMINATED);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphore_signal_all wakes every waiter, in the order they began to wait") {
    std::vector<int> order;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        for (int i = 1; i <= 3; ++i)
            machsim::thread_start([&order, s, i] {
                kern_return_t kr = semaphore_wait(s);
                CHECK_KR(kr, KERN_SUCCESS);
                order.push_back(i);
            });
        lt::yield();  // all three wait, in order
        CHECK(order.empty());
        CHECK_KR(semaphore_signal_all(s), KERN_SUCCESS);
        lt::yield(2);
        CHECK(order == std::vector<int>{1, 2, 3});
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphore_signal_all with nobody waiting stores no signal") {
    machsim::RunReport r = mt::run_task([] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        CHECK_KR(semaphore_signal_all(s), KERN_SUCCESS);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_OPERATION_TIMED_OUT);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphore_signal wakes one waiter at a time in FIFO order") {
    std::vector<int> order;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        for (int i = 1; i <= 3; ++i)
            machsim::thread_start([&order, s, i] {
                kern_return_t kr = semaphore_wait(s);
                CHECK_KR(kr, KERN_SUCCESS);
                order.push_back(i);
            });
        lt::yield();
        for (int i = 1; i <= 3; ++i) {
            CHECK_KR(semaphore_signal(s), KERN_SUCCESS);
            lt::yield(2);
            CHECK(order.size() == static_cast<std::size_t>(i));
        }
        CHECK(order == std::vector<int>{1, 2, 3});
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a semaphore passed to another task in a message works there, though only its owner may destroy it") {
    machsim::RunReport r = mt::run_task([] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        mach_port_t c = mt::new_receive_right();
        CHECK_KR(lt::send_port(c, MACH_MSG_TYPE_MAKE_SEND, s, MACH_MSG_TYPE_COPY_SEND), MACH_MSG_SUCCESS);
        CHECK(mt::refs(s, MACH_PORT_RIGHT_SEND) == 1);
        machsim::task_spawn(
            "user",
            [](mach_port_t in) {
                Rcv b;
                CHECK_KR(lt::poll(in, b), MACH_MSG_SUCCESS);
                semaphore_t sem = lt::port_desc(b).name;
                CHECK(mt::type_of(sem) == MACH_PORT_TYPE_SEND);
                CHECK_KR(mach_port_mod_refs(mach_task_self(), sem, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
                CHECK_KR(semaphore_destroy(mach_task_self(), sem), KERN_INVALID_RIGHT);  // not the owner
                CHECK(mt::refs(sem, MACH_PORT_RIGHT_SEND) == 1);  // the failed call used up a uref
                kern_return_t kr = semaphore_wait(sem);
                CHECK_KR(kr, KERN_SUCCESS);
                CHECK_KR(semaphore_signal(sem), KERN_SUCCESS);
                CHECK(lt::invariants_ok());
            },
            c, MACH_MSG_TYPE_MOVE_RECEIVE);
        lt::sleep_ms(1);  // the user waits
        CHECK_KR(semaphore_signal(s), KERN_SUCCESS);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 50000000}), KERN_SUCCESS);  // its signal back
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_abort of a semaphore waiter gives KERN_ABORTED and leaves the count alone") {
    kern_return_t got = -1;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        mach_port_t t = machsim::thread_start([&got, s] { got = semaphore_wait(s); });
        lt::yield();
        CHECK(got == -1);
        CHECK_KR(thread_abort(t), KERN_SUCCESS);
        lt::yield();
        CHECK_KR(got, KERN_ABORTED);
        CHECK_KR(semaphore_signal(s), KERN_SUCCESS);  // nobody waits now: the signal is stored
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_SUCCESS);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("semaphores die with their owner task: waiters in other tasks get KERN_TERMINATED") {
    kern_return_t second = -1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t m = mt::new_receive_right();
        machsim::task_spawn(
            "owner",
            [](mach_port_t to_main) {
                semaphore_t s = MACH_PORT_NULL;
                CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
                CHECK_KR(lt::send_port(to_main, MACH_MSG_TYPE_MOVE_SEND, s, MACH_MSG_TYPE_COPY_SEND), MACH_MSG_SUCCESS);
                lt::sleep_ms(3);  // then exits with its semaphore
            },
            m, MACH_MSG_TYPE_MAKE_SEND);
        Rcv b;
        CHECK_KR(lt::wait_for(m, b, 10), MACH_MSG_SUCCESS);
        semaphore_t sem = lt::port_desc(b).name;
        CHECK(mt::type_of(sem) == MACH_PORT_TYPE_SEND);
        machsim::thread_start([&second, sem] { second = semaphore_wait(sem); });
        kern_return_t kr = semaphore_wait(sem);
        CHECK_KR(kr, KERN_TERMINATED);
        lt::yield();
        CHECK_KR(second, KERN_TERMINATED);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("after its owner task dies, operations on a semaphore are KERN_TERMINATED (R26)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t m = mt::new_receive_right();
        machsim::task_spawn(
            "owner",
            [](mach_port_t to_main) {
                semaphore_t s = MACH_PORT_NULL;
                CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 1), KERN_SUCCESS);
                CHECK_KR(lt::send_port(to_main, MACH_MSG_TYPE_MOVE_SEND, s, MACH_MSG_TYPE_COPY_SEND), MACH_MSG_SUCCESS);
            },
            m, MACH_MSG_TYPE_MAKE_SEND);
        Rcv b;
        CHECK_KR(lt::wait_for(m, b, 10), MACH_MSG_SUCCESS);
        semaphore_t sem = lt::port_desc(b).name;
        lt::sleep_ms(1);  // the owner has exited
        CHECK_KR(semaphore_signal(sem), KERN_TERMINATED);
        CHECK_KR(semaphore_wait(sem), KERN_TERMINATED);
        CHECK(lt::invariants_ok());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("semaphores 2")
