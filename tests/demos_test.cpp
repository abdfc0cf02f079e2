// The demo programs failover, sieve, nosenders, driver and disklog: each runs clean and does what it shows.
#include <algorithm>
#include <string>
#include <vector>

#include "tests/demos_support.h"

namespace {

using mt::all_exited_zero;
using mt::run_program;
using mt::task_id;

// Notifications the kernel composed with this id, and how often a task received one.
struct Seen {
    int sent = 0, received = 0;
};
Seen notifications(const machsim::TraceLog& log, mach_msg_id_t id) {
    Seen s;
    for (const auto& e : log.of_kind(machsim::EventKind::Send)) s.sent += e.event.extra == 1 && e.event.code == id;
    for (const auto& e : log.of_kind(machsim::EventKind::Receive)) s.received += e.event.code == id;
    return s;
}

}  // namespace

TEST_SUITE("demos") {

TEST_CASE("failover: the backup inherits the service port with its queue through MACH_NOTIFY_PORT_DESTROYED") {
    machsim::TraceLog log;
    machsim::RunReport r = run_program("failover", log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));  // every client got every reply right
    Seen pd = notifications(log, MACH_NOTIFY_PORT_DESTROYED);
    CHECK(pd.sent == 1);
    CHECK(pd.received == 1);
    // The backup received it, after the primary ended.
    uint32_t backup = task_id(r, "backup"), primary = task_id(r, "primary");
    uint64_t primary_exit = 0, taken_over = 0;
    for (const auto& e : log.of_kind(machsim::EventKind::TaskExit))
        if (e.event.task == primary) primary_exit = e.event.seq;
    for (const auto& e : log.of_kind(machsim::EventKind::Receive))
        if (e.event.code == MACH_NOTIFY_PORT_DESTROYED) {
            CHECK(e.event.space == backup);
            taken_over = e.event.seq;
        }
    CHECK(primary_exit != 0);
    CHECK(primary_exit < taken_over);
    // 3 clients x 5 requests; the primary answered 4, the backup the rest.
    CHECK(machsim::demos::failover_backup_served() == 11);
}

TEST_CASE("sieve: a pipeline grown at run time finds the 25 primes below 100") {
    machsim::TraceLog log;
    machsim::RunReport r = run_program("sieve", log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));
    std::vector<int> expected = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                                 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
    CHECK(machsim::demos::sieve_primes() == expected);
    // One stage task per prime, each created by a task (the previous stage or the generator).
    int stages = 0;
    for (const machsim::TaskReport& t : r.tasks) stages += t.name.rfind("sieve-", 0) == 0;
    CHECK(stages == 25);
    CHECK(r.task("sieve-97") != nullptr);
}

TEST_CASE("nosenders: objects are freed on MACH_NOTIFY_NO_SENDERS and the in-flight race re-arms (R15)") {
    machsim::TraceLog log;
    machsim::RunReport r = run_program("nosenders", log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));
    machsim::demos::NoSendersStats s = machsim::demos::nosenders_stats();
    CHECK(s.created == 2);  // "log" twice: the second open after the first was freed
    CHECK(s.freed == 2);
    CHECK(s.rearmed == 1);  // the notification that lost the race to client-b's open
    Seen ns = notifications(log, MACH_NOTIFY_NO_SENDERS);
    CHECK(ns.sent == 3);
    CHECK(ns.received == 3);
}

TEST_CASE("driver: a timer's interrupts arrive as device_intr_notify, one per ack, and reach the client") {
    machsim::TraceLog log;
    machsim::RunReport r = run_program("driver", log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));
    machsim::demos::DriverStats s = machsim::demos::driver_stats();
    CHECK(s.interrupts == 5);
    CHECK(s.acks == 5);
    CHECK(s.received == 5);
    Seen intr = notifications(log, 100);  // DEVICE_INTR_NOTIFY
    CHECK(intr.sent == 5);
    CHECK(intr.received == 5);
    // The slow third interrupt: the two raises while it was handled coalesced into one,
    // delivered by its ack; the registration went with the driver.
    int remembered = 0;
    for (const auto& e : log.of_kind(machsim::EventKind::IrqRaise)) remembered += e.event.before == 2;
    CHECK(remembered == 1);
    CHECK(log.of_kind(machsim::EventKind::IrqDeliver).size() == 5);
    CHECK(log.of_kind(machsim::EventKind::IrqAck).size() == 5);
    CHECK(log.of_kind(machsim::EventKind::IrqDrop).size() == 1);
}

TEST_CASE("disklog: each line is on the disk, in arrival order, before its client hears so") {
    machsim::Config cfg;
    cfg.console_echo = false;
    machsim::Kernel k(cfg);
    machsim::TraceLog log;
    k.attach(log);
    machsim::find_program("disklog")->setup(k);
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(all_exited_zero(r));
    machsim::demos::DiskLogStats s = machsim::demos::disklog_stats();
    CHECK(s.appended == 6);
    CHECK(s.acknowledged == 6);
    // The clients' lines took turns: alice's first request arrived first.
    const std::string& disk = k.disk_contents();
    REQUIRE(disk.size() == 64 * 512);
    CHECK(disk.substr(0, 11) == "disklog v1\n");
    const char* order[] = {"alice line 1", "bob line 1", "alice line 2", "bob line 2", "alice line 3", "bob line 3"};
    std::string console;
    for (int i = 0; i < 6; ++i) {
        const std::string line = order[i];
        CHECK(disk.substr(512 * (i + 1), line.size() + 1) == line + std::string(1, '\0'));
        console += "logd: record " + std::to_string(i + 1) + " <- \"" + order[i] + "\"\n";
    }
    CHECK(k.console_output() == console);
    // One disk wait per line, each a seek and a record long.
    std::vector<uint64_t> blocked;
    for (const auto& e : log.of_kind(machsim::EventKind::Block))
        if (e.text == "disk") blocked.push_back(e.event.tick);
    CHECK(blocked.size() == 6);
    CHECK(r.ticks >= 6 * 1020);
}

TEST_CASE("the demos replay byte-identically") {
    for (const char* name : {"failover", "sieve", "nosenders", "driver", "disklog"}) {
        INFO(name);
        const machsim::Program* p = machsim::find_program(name);
        REQUIRE(p != nullptr);
        machsim::Config cfg;
        cfg.console_echo = false;  // disklog writes to the console; the trace is what is compared
        std::string first = mt::trace_text(p->setup, cfg);
        CHECK(first == mt::trace_text(p->setup, cfg));
    }
}

}  // TEST_SUITE("demos")
