// The VM demos shmring and pager: each runs clean, at any quantum, does what it
// shows, and replays byte-identically.
#include <algorithm>
#include <string>

#include "tests/demos_support.h"

namespace {

using mt::all_exited_zero;
using mt::run_program;
using mt::task_id;

// What the pager's pattern puts in page p (word i holds p * 1000 + i), summed.
uint64_t page_sum(uint64_t p) {
    uint64_t s = 0;
    for (uint64_t i = 0; i < vm_page_size / sizeof(uint64_t); ++i) s += p * 1000 + i;
    return s;
}

constexpr uint64_t kQuanta[] = {1, 7, 100000};

}  // namespace

TEST_SUITE("demos vm") {

TEST_CASE("shmring: 16 items cross a shared ring; one message set it up, the checksums agree in the shared header") {
    machsim::TraceLog log;
    machsim::RunReport r = run_program("shmring", log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));
    machsim::demos::ShmRingStats s = machsim::demos::shmring_stats();
    CHECK(s.produced == 16);
    CHECK(s.consumed == 16);
    CHECK(s.producer_sum != 0);
    CHECK(s.consumer_sum == s.producer_sum);
    // Each side read the other's checksum out of the ring: the bytes are shared.
    CHECK(s.consumer_read_sum == s.producer_sum);
    CHECK(s.producer_read_sum == s.consumer_sum);
    // The only message of the run is the setup: entry + 2 semaphores, producer to consumer.
    uint32_t producer = task_id(r, "producer"), consumer = task_id(r, "consumer");
    auto sends = log.of_kind(machsim::EventKind::Send);
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].event.task == producer);
    CHECK(sends[0].event.code == 1100);
    auto receives = log.of_kind(machsim::EventKind::Receive);
    REQUIRE(receives.size() == 1);
    CHECK(receives[0].event.space == consumer);
    // The tasks kept in step on the semaphores: each of them waited at least once.
    bool producer_waited = false, consumer_waited = false;
    for (const auto& e : log.of_kind(machsim::EventKind::Block)) {
        if (e.text != "semaphore") continue;
        producer_waited |= e.event.task == producer;
        consumer_waited |= e.event.task == consumer;
    }
    CHECK(producer_waited);
    CHECK(consumer_waited);
}

TEST_CASE("pager: 5 pages faulted in by the pager, one refused address caught as SIGSEGV, the sums agree") {
    machsim::TraceLog log;
    machsim::RunReport r = run_program("pager", log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));
    machsim::demos::PagerStats s = machsim::demos::pager_stats();
    CHECK(s.faults == 5);  // pages 3, 0, 201, 17, 255; the re-reads of 17 and 3 do not fault
    CHECK(s.refused == 1);
    CHECK(s.reads == 7);
    uint64_t expected = 0;
    for (uint64_t p : {3, 0, 201, 17, 255, 17, 3}) expected += page_sum(p);
    CHECK(s.expected_sum == expected);
    CHECK(s.client_sum == expected);

    // The kernel's side: six faults of the client, each sent to its task exception port (the pager).
    uint32_t client = task_id(r, "client");
    auto faults = log.of_kind(machsim::EventKind::Fault);
    REQUIRE(faults.size() == 6);
    for (const auto& e : faults) {
        CHECK(e.event.task == client);
        CHECK(e.event.code == EXC_BAD_ACCESS);
    }
    for (std::size_t i = 0; i < 5; ++i) CHECK(faults[i].event.extra == static_cast<uint32_t>(KERN_PROTECTION_FAILURE));
    CHECK(faults[5].event.extra == static_cast<uint32_t>(KERN_INVALID_ADDRESS));  // past the region: no region there
    auto raised = log.of_kind(machsim::EventKind::ExceptionRaise);
    REQUIRE(raised.size() == 6);
    for (const auto& e : raised) CHECK(e.event.extra == 2);  // the task's port, set by the pager
    auto replies = log.of_kind(machsim::EventKind::ExceptionReply);
    REQUIRE(replies.size() == 6);
    for (std::size_t i = 0; i < 5; ++i) CHECK(replies[i].event.code == KERN_SUCCESS);
    CHECK(replies[5].event.code == KERN_FAILURE);
    // The refusal became SIGSEGV, which the client's handler caught.
    auto posted = log.of_kind(machsim::EventKind::SignalPost);
    REQUIRE(posted.size() == 1);
    CHECK(posted[0].event.code == machsim::sig::SEGV);
    auto actions = log.of_kind(machsim::EventKind::SignalAction);
    REQUIRE(actions.size() == 1);
    CHECK(actions[0].text == "handler");
}

TEST_CASE("shmring and pager run clean and give the same results at quantum 1, 7 and 100000") {
    for (uint64_t q : kQuanta) {
        INFO("quantum " << q);
        machsim::Config cfg;
        cfg.quantum = q;
        {
            machsim::TraceLog log;
            machsim::RunReport r = run_program("shmring", log, cfg);
            INFO(r.summary());
            CHECK(r.clean());
            CHECK(all_exited_zero(r));
            machsim::demos::ShmRingStats s = machsim::demos::shmring_stats();
            CHECK(s.consumed == 16);
            CHECK(s.consumer_read_sum == s.producer_sum);
            CHECK(s.producer_read_sum == s.consumer_sum);
        }
        {
            machsim::TraceLog log;
            machsim::RunReport r = run_program("pager", log, cfg);
            INFO(r.summary());
            CHECK(r.clean());
            CHECK(all_exited_zero(r));
            machsim::demos::PagerStats s = machsim::demos::pager_stats();
            CHECK(s.faults == 5);
            CHECK(s.refused == 1);
            CHECK(s.client_sum == s.expected_sum);
        }
    }
}

TEST_CASE("shmring and pager replay byte-identically") {
    for (const char* name : {"shmring", "pager"}) {
        for (uint64_t q : {machsim::Config{}.quantum, uint64_t{1}}) {
            INFO(name << " at quantum " << q);
            const machsim::Program* p = machsim::find_program(name);
            REQUIRE(p != nullptr);
            machsim::Config cfg;
            cfg.quantum = q;
            std::string first = mt::trace_text(p->setup, cfg);
            CHECK(first == mt::trace_text(p->setup, cfg));
        }
    }
}

}  // TEST_SUITE("demos vm")
