// Reading and writing devices (GNU Mach's device interface, docs/api.md 17.8, 17.11-17.13):
// the console's output, and the disk "hd0" with its latency on the virtual clock.
#include <device/device.h>
#include <mach/mach.h>
#include <mach/mach_time.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>

#include "tests/support.h"

TEST_SUITE("devices") {

namespace {

machsim::SpawnOptions privileged() { return machsim::SpawnOptions{.privileged = true}; }

machsim::Config quiet_console() {
    machsim::Config cfg;
    cfg.console_echo = false;  // keep the test run's output clean
    return cfg;
}

// A device opened as a GNU Mach program opens it: the master device port, then the name.
mach_port_t open_device(const char* name) {
    mach_port_t master = MACH_PORT_NULL, dev = MACH_PORT_NULL;
    REQUIRE_KR(get_privileged_ports(nullptr, &master), KERN_SUCCESS);
    REQUIRE_KR(device_open(master, D_READ | D_WRITE, name, &dev), D_SUCCESS);
    REQUIRE_KR(mach_port_deallocate(mach_task_self(), master), KERN_SUCCESS);
    return dev;
}

std::string pattern(std::size_t n, char seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i % 23);
    return s;
}

machsim::DiskOptions small_disk() { return machsim::DiskOptions{.records = 16, .seek_ticks = 1000, .record_ticks = 20}; }

}  // namespace

TEST_CASE("console: hello, world with device_write_inband and device_write; the host keeps the text") {
    machsim::Kernel k(quiet_console());
    k.spawn("hello", [] {
        mach_port_t con = open_device("console");
        int written = -1;
        CHECK_KR(device_write_inband(con, D_WRITE, 0, "hello, ", 7, &written), D_SUCCESS);
        CHECK(written == 7);
        char text[] = "world\n";
        CHECK_KR(device_write(con, D_WRITE, 0, text, 6, &written), D_SUCCESS);
        CHECK(written == 6);
        CHECK_KR(device_write(con, D_WRITE, 0, text, 0, &written), D_SUCCESS);  // nothing: fine
        CHECK(written == 0);
        int status[DEV_STATUS_MAX];
        mach_msg_type_number_t n = DEV_STATUS_MAX;
        CHECK_KR(device_get_status(con, DEV_GET_SIZE, status, &n), D_SUCCESS);
        CHECK(n == DEV_GET_SIZE_COUNT);
        CHECK(status[DEV_GET_SIZE_DEVICE_SIZE] == 0);  // unknown
        CHECK(status[DEV_GET_SIZE_RECORD_SIZE] == 1);  // sequential
        CHECK_KR(device_close(con), D_SUCCESS);
        CHECK(mt::refs(con, MACH_PORT_RIGHT_SEND) == 1);  // closing leaves the right
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(k.console_output() == "hello, world\n");
}

TEST_CASE("console: each wrong write answers its code and prints nothing") {
    machsim::Config cfg = quiet_console();
    cfg.max_message = 1024;
    machsim::Kernel k(cfg);
    k.spawn("bad", [] {
        mach_port_t con = open_device("console");
        mach_port_t irq = open_device("irq");
        mach_port_t master = MACH_PORT_NULL;
        REQUIRE_KR(get_privileged_ports(nullptr, &master), KERN_SUCCESS);
        std::string big(IO_INBAND_MAX + 1, 'x');
        int written = -1;
        CHECK_KR(device_write_inband(con, D_WRITE, 0, big.data(), IO_INBAND_MAX + 1, &written),
                 MIG_ARRAY_TOO_LARGE);
        CHECK(written == -1);  // the stub sent nothing
        CHECK_KR(device_write_inband(con, D_WRITE, 0, big.data(), IO_INBAND_MAX, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(device_write_inband(con, D_WRITE, 0, nullptr, 4, &written), KERN_INVALID_ADDRESS);
        CHECK(written == 0);
        CHECK_KR(device_write(con, D_WRITE, 0, reinterpret_cast<char*>(16), 4, &written), MACH_SEND_INVALID_MEMORY);
        std::string huge(1025, 'y');
        CHECK_KR(device_write(con, D_WRITE, 0, huge.data(), 1025, &written), D_INVALID_SIZE);  // > max_message
        CHECK_KR(device_write(irq, D_WRITE, 0, big.data(), 4, &written), D_INVALID_OPERATION);
        CHECK_KR(device_write(master, D_WRITE, 0, big.data(), 4, &written), D_NO_SUCH_DEVICE);
        CHECK_KR(device_write(MACH_PORT_NULL, D_WRITE, 0, big.data(), 4, &written), MACH_SEND_INVALID_DEST);
        int status[2];
        mach_msg_type_number_t n = 2;
        CHECK_KR(device_get_status(irq, DEV_GET_SIZE, status, &n), D_INVALID_OPERATION);
        CHECK_KR(device_get_status(con, 7, status, &n), D_INVALID_OPERATION);
        n = 1;
        CHECK_KR(device_get_status(con, DEV_GET_SIZE, status, &n), D_INVALID_SIZE);
        CHECK_KR(device_get_status(con, DEV_GET_SIZE, status, nullptr), KERN_INVALID_ADDRESS);
        n = 2;
        CHECK_KR(device_get_status(con, DEV_GET_SIZE, nullptr, &n), KERN_INVALID_ADDRESS);
        CHECK_KR(device_close(master), D_NO_SUCH_DEVICE);
        CHECK_KR(device_close(MACH_PORT_NULL), MACH_SEND_INVALID_DEST);
        CHECK_KR(device_write(con, D_WRITE, 0, big.data(), 2, &written), D_SUCCESS);  // still works
        CHECK(machsim::check_invariants().empty());
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(k.console_output() == "xx");
}

TEST_CASE("disk: what a task writes it reads back, each request waiting a seek plus a time per record") {
    machsim::Kernel k(quiet_console());
    REQUIRE(k.add_disk(small_disk(), "boot block"));
    CHECK_FALSE(k.add_disk(small_disk()));  // one disk
    static const std::string data = pattern(1024, 'a');
    k.spawn("fs", [] {
        mach_port_t hd = open_device("hd0");
        int status[DEV_STATUS_MAX];
        mach_msg_type_number_t n = DEV_STATUS_MAX;
        CHECK_KR(device_get_status(hd, DEV_GET_SIZE, status, &n), D_SUCCESS);
        CHECK(n == 2);
        CHECK(status[DEV_GET_SIZE_DEVICE_SIZE] == 16 * 512);
        CHECK(status[DEV_GET_SIZE_RECORD_SIZE] == 512);
        CHECK_KR(device_get_status(hd, DEV_GET_RECORDS, status, &n), D_SUCCESS);
        CHECK(status[DEV_GET_RECORDS_DEVICE_RECORDS] == 16);
        CHECK(status[DEV_GET_RECORDS_RECORD_SIZE] == 512);

        io_buf_ptr_inband_t buf;
        n = 0;
        uint64_t t0 = machsim::now();
        CHECK_KR(device_read_inband(hd, D_READ, 0, 12, buf, &n), D_SUCCESS);
        uint64_t waited = machsim::now() - t0;
        CHECK(waited >= 1000 + 20);  // a seek and one record
        CHECK(waited < 1000 + 20 + 10);
        REQUIRE(n == 12);
        CHECK(std::string(buf, 12) == std::string("boot block\0\0", 12));

        int written = 0;
        t0 = machsim::now();
        CHECK_KR(device_write(hd, D_WRITE, 2, const_cast<char*>(data.data()), 1024, &written), D_SUCCESS);
        waited = machsim::now() - t0;
        CHECK(written == 1024);
        CHECK(waited >= 1000 + 2 * 20);
        CHECK(waited < 1000 + 2 * 20 + 10);

        io_buf_ptr_t got = nullptr;
        mach_msg_type_number_t count = 0;
        CHECK_KR(device_read(hd, D_READ, 2, 1024, &got, &count), D_SUCCESS);
        REQUIRE(count == 1024);
        REQUIRE(got != nullptr);
        CHECK(std::string(got, count) == data);
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(got), count), KERN_SUCCESS);
        CHECK_KR(device_close(hd), D_SUCCESS);
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    const std::string& disk = k.disk_contents();
    REQUIRE(disk.size() == 16 * 512);
    CHECK(disk.substr(0, 10) == "boot block");
    CHECK(disk.substr(1024, 1024) == data);
    CHECK(disk.substr(2048) == std::string(16 * 512 - 2048, '\0'));
}

TEST_CASE("disk: requests are served one at a time, in the order they arrive; other tasks run meanwhile") {
    machsim::Kernel k(quiet_console());
    REQUIRE(k.add_disk(small_disk()));
    static uint64_t done[2];
    static uint64_t started[2];
    static int ran_meanwhile = 0;
    for (int i = 0; i < 2; ++i) {
        k.spawn("writer" + std::to_string(i), [i] {
            mach_port_t hd = open_device("hd0");
            std::string block(512, static_cast<char>('0' + i));
            int written = 0;
            started[i] = machsim::now();
            CHECK_KR(device_write_inband(hd, D_WRITE, i, block.data(), 100, &written), D_SUCCESS);
            CHECK(written == 100);
            done[i] = machsim::now();
        }, privileged());
    }
    k.spawn("busy", [] {
        for (int i = 0; i < 10; ++i) {
            (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            ++ran_meanwhile;
        }
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(started[1] < started[0] + 1000);  // the second request arrived while the first was served
    CHECK(done[0] >= started[0] + 1020);
    CHECK(done[1] >= done[0] + 1020);        // then it waited its own turn
    CHECK(done[1] < done[0] + 1020 + 10);
    CHECK(ran_meanwhile == 10);
    CHECK(r.ticks >= done[1]);
    CHECK(k.disk_contents().substr(0, 100) == std::string(100, '0'));
    CHECK(k.disk_contents().substr(512, 100) == std::string(100, '1'));
}

TEST_CASE("disk: record numbers past the end, transfers cut at the end, bad pointers") {
    machsim::Kernel k(quiet_console());
    REQUIRE(k.add_disk(small_disk(), std::string(16 * 512, 'd')));
    k.spawn("edges", [] {
        mach_port_t hd = open_device("hd0");
        io_buf_ptr_inband_t buf;
        mach_msg_type_number_t n = 7;
        io_buf_ptr_t got = reinterpret_cast<io_buf_ptr_t>(1);
        int written = -1;
        std::string two(1024, 'w');
        CHECK_KR(device_read_inband(hd, D_READ, 16, 8, buf, &n), D_INVALID_RECNUM);
        CHECK(n == 0);
        CHECK_KR(device_read(hd, D_READ, 16, 8, &got, &n), D_INVALID_RECNUM);
        CHECK(got == nullptr);
        CHECK_KR(device_write(hd, D_WRITE, 99, two.data(), 8, &written), D_INVALID_RECNUM);
        CHECK(written == 0);
        // The last record: a transfer of two stops at the disk's end.
        CHECK_KR(device_write(hd, D_WRITE, 15, two.data(), 1024, &written), D_SUCCESS);
        CHECK(written == 512);
        CHECK_KR(device_read(hd, D_READ, 15, 1024, &got, &n), D_SUCCESS);
        REQUIRE(n == 512);
        CHECK(std::string(got, n) == std::string(512, 'w'));
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(got), n), KERN_SUCCESS);
        CHECK_KR(device_read(hd, D_READ, 3, 0, &got, &n), D_SUCCESS);  // nothing wanted: nothing given
        CHECK(n == 0);
        CHECK(got == nullptr);
        // Bad pointers: the disk is left as it was.
        CHECK_KR(device_write(hd, D_WRITE, 4, reinterpret_cast<char*>(64), 512, &written), MACH_SEND_INVALID_MEMORY);
        CHECK_KR(device_write_inband(hd, D_WRITE, 4, nullptr, 64, &written), KERN_INVALID_ADDRESS);
        CHECK_KR(device_read_inband(hd, D_READ, 4, 8, nullptr, &n), KERN_INVALID_ADDRESS);
        CHECK_KR(device_read(hd, D_READ, 4, 8, nullptr, &n), KERN_INVALID_ADDRESS);
        CHECK_KR(device_read(hd, D_READ, 4, 8, &got, nullptr), KERN_INVALID_ADDRESS);
        CHECK(machsim::check_invariants().empty());
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(k.disk_contents().substr(0, 15 * 512) == std::string(15 * 512, 'd'));
    CHECK(k.disk_contents().substr(15 * 512) == std::string(512, 'w'));
}

TEST_CASE("disk: no disk, no hd0; the host's add_disk checks its options") {
    machsim::Kernel k(quiet_console());
    CHECK_FALSE(k.add_disk(machsim::DiskOptions{.records = 0}));
    CHECK_FALSE(k.add_disk(machsim::DiskOptions{.records = 1}, std::string(513, 'x')));  // larger than the disk
    CHECK_FALSE(k.add_disk(machsim::DiskOptions{.records = (1u << 16) + 1}));
    CHECK(k.disk_contents().empty());
    k.spawn("look", [] {
        mach_port_t master = MACH_PORT_NULL, dev = MACH_PORT_NULL;
        REQUIRE_KR(get_privileged_ports(nullptr, &master), KERN_SUCCESS);
        CHECK_KR(device_open(master, D_READ, "hd0", &dev), D_NO_SUCH_DEVICE);
        CHECK(dev == MACH_PORT_NULL);
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("disk: 300 random reads and writes, inband and out of line, agree with a model of the disk") {
    machsim::Kernel k(quiet_console());
    const machsim::DiskOptions opts{.records = 8, .seek_ticks = 300, .record_ticks = 7};
    static std::string model;
    model = pattern(8 * 512, '!');
    REQUIRE(k.add_disk(opts, model));
    k.spawn("random", [opts] {
        mach_port_t hd = open_device("hd0");
        std::mt19937 rng(2026);
        for (int op = 0; op < 300; ++op) {
            INFO("operation " << op);
            const bool write = rng() % 2, inband = rng() % 3 == 0;
            const uint32_t recnum = rng() % (opts.records + 2);  // now and then past the end
            const std::size_t size = inband ? rng() % (IO_INBAND_MAX + 1) : rng() % (3 * 512 + 100);
            const uint64_t start = recnum * 512ull;
            const std::size_t n = recnum < opts.records ? std::min<std::size_t>(size, model.size() - start) : 0;
            const int expected = recnum < opts.records ? D_SUCCESS : D_INVALID_RECNUM;
            const uint64_t t0 = machsim::now();
            if (write) {
                std::string data = pattern(size, static_cast<char>('A' + op % 26));
                int written = -1;
                kern_return_t kr = inband ? device_write_inband(hd, D_WRITE, recnum, data.data(), size, &written)
                                          : device_write(hd, D_WRITE, recnum, data.data(), size, &written);
                REQUIRE_KR(kr, expected);
                CHECK(written == static_cast<int>(n));
                if (kr == D_SUCCESS) model.replace(start, n, data, 0, n);
            } else if (inband) {
                io_buf_ptr_inband_t buf;
                mach_msg_type_number_t count = 0;
                REQUIRE_KR(device_read_inband(hd, D_READ, recnum, size, buf, &count), expected);
                REQUIRE(count == n);
                if (n > 0) CHECK(std::string(buf, count) == model.substr(start, n));
            } else {
                io_buf_ptr_t data = nullptr;
                mach_msg_type_number_t count = 0;
                REQUIRE_KR(device_read(hd, D_READ, recnum, size, &data, &count), expected);
                REQUIRE(count == n);
                if (n > 0) {
                    CHECK(std::string(data, count) == model.substr(start, n));
                    CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(data), count),
                             KERN_SUCCESS);
                }
            }
            // A request waits a seek and its records, alone on the disk; a refused one not at all.
            const uint64_t waited = machsim::now() - t0;
            const uint64_t latency = expected == D_SUCCESS ? opts.seek_ticks + (n + 511) / 512 * opts.record_ticks : 0;
            CHECK(waited >= latency);
            CHECK(waited < latency + 10);
        }
        CHECK(machsim::check_invariants().empty());
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(k.disk_contents() == model);
}

TEST_CASE("disk: a signal does not cut a disk wait short; the handler runs when the wait ends") {
    machsim::Kernel k(quiet_console());
    REQUIRE(k.add_disk(small_disk()));
    static uint64_t handled_at = 0, write_done = 0;
    static int write_result = -1, written = 0;
    k.spawn("parent", [] {
        mach_port_t child = machsim::task_spawn(
            "child",
            [](mach_port_t) {
                machsim::SignalAction a{.kind = machsim::SignalAction::Handle,
                                        .handler = [](int) { handled_at = machsim::now(); }};
                REQUIRE_KR(machsim::signal_action(machsim::sig::USR1, &a, nullptr), KERN_SUCCESS);
                mach_port_t hd = open_device("hd0");
                std::string block(512, 's');
                write_result = device_write(hd, D_WRITE, 1, block.data(), 512, &written);
                write_done = machsim::now();
            },
            MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, privileged());
        REQUIRE(child != MACH_PORT_NULL);
        CHECK_KR(mach_wait_until(machsim::now() + 300), KERN_SUCCESS);  // the child is waiting on the disk now
        CHECK_KR(machsim::task_signal(child, machsim::sig::USR1), KERN_SUCCESS);
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(write_result, D_SUCCESS);
    CHECK(written == 512);
    CHECK(handled_at >= 1000 + 20);  // not before the disk had served the write
    CHECK(handled_at <= write_done);
    CHECK(k.disk_contents().substr(512, 512) == std::string(512, 's'));
}

TEST_CASE("disk: a task terminated while it waits on the disk ends; the write stands and nothing leaks") {
    machsim::Kernel k(quiet_console());
    REQUIRE(k.add_disk(small_disk()));
    static bool returned = false;
    k.spawn("parent", [] {
        mach_port_t child = machsim::task_spawn(
            "child",
            [](mach_port_t) {
                mach_port_t hd = open_device("hd0");
                std::string block(512, 'k');
                int written = 0;
                (void)device_write(hd, D_WRITE, 3, block.data(), 512, &written);
                returned = true;  // never: the task ends in the wait
            },
            MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, privileged());
        REQUIRE(child != MACH_PORT_NULL);
        CHECK_KR(mach_wait_until(machsim::now() + 300), KERN_SUCCESS);
        CHECK_KR(task_terminate(child), KERN_SUCCESS);
        CHECK(machsim::check_invariants().empty());
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    mt::check_sound(r);
    REQUIRE(r.task("child") != nullptr);
    CHECK(r.task("child")->end == machsim::TaskEnd::Terminated);
    CHECK_FALSE(returned);
    CHECK(k.disk_contents().substr(3 * 512, 512) == std::string(512, 'k'));
}

TEST_CASE("disk: the trace shows the wait as a block on the disk and the wake when it is served") {
    machsim::TraceLog log;
    machsim::Kernel k(quiet_console());
    k.attach(log);
    REQUIRE(k.add_disk(small_disk()));
    k.spawn("reader", [] {
        mach_port_t hd = open_device("hd0");
        io_buf_ptr_inband_t buf;
        mach_msg_type_number_t n = 0;
        CHECK_KR(device_read_inband(hd, D_READ, 1, 100, buf, &n), D_SUCCESS);
    }, privileged());
    machsim::RunReport r = k.run();
    CHECK(r.clean());
    int disk_blocks = 0;
    uint64_t blocked_at = 0;
    for (const auto& e : log.of_kind(machsim::EventKind::Block)) {
        if (e.text != "disk") continue;
        ++disk_blocks;
        blocked_at = e.event.tick;
    }
    CHECK(disk_blocks == 1);
    bool woke = false;
    for (const auto& e : log.of_kind(machsim::EventKind::Wake))
        if (e.event.tick == blocked_at + 1020 && e.event.code == KERN_SUCCESS) woke = true;
    CHECK(woke);
}

TEST_CASE("disk: the Mermaid diagram notes each disk wait, and one cut short by the thread's end") {
    std::ostringstream out;
    machsim::MermaidSink mermaid(out);
    machsim::Kernel k(quiet_console());
    k.attach(mermaid);
    REQUIRE(k.add_disk(small_disk()));
    k.spawn("parent", [] {
        mach_port_t hd = open_device("hd0");
        io_buf_ptr_inband_t buf;
        mach_msg_type_number_t n = 0;
        CHECK_KR(device_read_inband(hd, D_READ, 0, 100, buf, &n), D_SUCCESS);
        mach_port_t child = machsim::task_spawn(
            "child",
            [](mach_port_t) {
                mach_port_t disk = open_device("hd0");
                std::string two(1024, 'c');
                int written = 0;
                (void)device_write(disk, D_WRITE, 4, two.data(), 1024, &written);
            },
            MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, privileged());
        CHECK_KR(mach_wait_until(machsim::now() + 100), KERN_SUCCESS);
        CHECK_KR(task_terminate(child), KERN_SUCCESS);
    }, privileged());
    machsim::RunReport r = k.run();
    mermaid.finish();
    const std::string diagram = out.str();
    INFO(diagram);
    CHECK(diagram.find("Note over T2: thread 2 waited 1020 ticks for the disk") != std::string::npos);
    CHECK(diagram.find("stopped waiting for the disk: it is ending") != std::string::npos);
}

}  // TEST_SUITE("devices")
