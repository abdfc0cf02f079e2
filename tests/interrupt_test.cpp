// Interrupts delivered as messages (R25, GNU Mach's irq device): a privileged driver
// registers a port for a line; each interrupt masks the line and sends one
// device_intr_notify until the driver acknowledges it.
#include <device/device.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support.h"

namespace {

struct Notification {
    device_intr_notification_t n;
    mach_msg_audit_trailer_t trailer;
};

// The irq device, opened as a GNU Mach driver does: master device port, then "irq".
mach_port_t open_irq() {
    mach_port_t master = MACH_PORT_NULL, irq = MACH_PORT_NULL;
    REQUIRE_KR(get_privileged_ports(nullptr, &master), KERN_SUCCESS);
    REQUIRE_KR(device_open(master, D_READ | D_WRITE, "irq", &irq), D_SUCCESS);
    REQUIRE_KR(mach_port_deallocate(mach_task_self(), master), KERN_SUCCESS);
    return irq;
}

// A receive right registered for `line` (given with MAKE_SEND, as libirqhelp does).
mach_port_t register_line(mach_port_t irq, int line) {
    mach_port_t port = mt::new_receive_right();
    REQUIRE_KR(device_intr_register(irq, line, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
    return port;
}

mach_msg_return_t wait_intr(mach_port_t port, Notification& out, mach_msg_option_t extra = 0) {
    out = Notification{};
    return mach_msg(&out.n.intr_header, MACH_RCV_MSG | extra, 0, sizeof out, port, 0, MACH_PORT_NULL);
}

// A receive that does not wait (MACH_RCV_TIMEOUT with 0).
mach_msg_return_t poll_intr(mach_port_t port, Notification& out) { return wait_intr(port, out, MACH_RCV_TIMEOUT); }

machsim::SpawnOptions privileged() { return machsim::SpawnOptions{.privileged = true}; }

std::vector<machsim::TraceLog::Entry> kind(const machsim::TraceLog& log, machsim::EventKind k) { return log.of_kind(k); }

}  // namespace

TEST_SUITE("interrupts") {

TEST_CASE("each interrupt arrives as one device_intr_notify (id 100) on the registered port") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    REQUIRE(k.raise_irq(3, 100));
    REQUIRE(k.raise_irq(3, 300));
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 3);
        for (int i = 0; i < 2; ++i) {
            Notification in;
            REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
            CHECK(in.n.intr_header.msgh_id == DEVICE_INTR_NOTIFY);
            CHECK(in.n.intr_header.msgh_size == sizeof(device_intr_notification_t));
            CHECK(in.n.intr_header.msgh_local_port == port);
            CHECK(in.n.intr_header.msgh_remote_port == MACH_PORT_NULL);
            CHECK(MACH_MSGH_BITS_LOCAL(in.n.intr_header.msgh_bits) == MACH_MSG_TYPE_PORT_SEND);
            CHECK(unsigned{in.n.intr_type.msgt_name} == 2);  // MACH_MSG_TYPE_INTEGER_32, GNU Mach's descriptor
            CHECK(unsigned{in.n.intr_type.msgt_size} == 32);
            CHECK(unsigned{in.n.intr_type.msgt_number} == 1);
            CHECK(in.n.id == 3);
            CHECK(in.trailer.msgh_sender.val[0] == 0);  // from the kernel
            CHECK(machsim::now() >= (i == 0 ? 100u : 300u));
            CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
        }
        CHECK(machsim::check_invariants().empty());
        // The kernel's own send right to the port is the registration's: none was left in the space.
        CHECK(mt::refs(port, MACH_PORT_RIGHT_SEND) == 0);
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(kind(log, machsim::EventKind::IrqRegister).size() == 1);
    CHECK(kind(log, machsim::EventKind::IrqRaise).size() == 2);
    CHECK(kind(log, machsim::EventKind::IrqDeliver).size() == 2);
    CHECK(kind(log, machsim::EventKind::IrqAck).size() == 2);
    machsim::IrqLine l = k.irq_line(3);
    CHECK(l.raised == 2);
    CHECK(l.delivered == 2);
}

TEST_CASE("the line stays masked until the ack; raises meanwhile coalesce into one, delivered at the ack") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    REQUIRE(k.raise_irq(5, 100));
    REQUIRE(k.raise_irq(5, 200));
    REQUIRE(k.raise_irq(5, 300, 4));  // four at once
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 5);
        Notification in;
        REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
        machsim::compute(1000);  // handling it; tick 200 and 300 pass
        CHECK_KR(poll_intr(port, in), MACH_RCV_TIMED_OUT);  // masked: no second message
        CHECK(mt::status_of(port).mps_msgcount == 0);
        CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
        // The remembered interrupt is delivered by the ack itself, once.
        CHECK(mt::status_of(port).mps_msgcount == 1);
        REQUIRE_KR(poll_intr(port, in), MACH_MSG_SUCCESS);
        CHECK(in.n.id == 5);
        CHECK_KR(poll_intr(port, in), MACH_RCV_TIMED_OUT);
        CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
        CHECK_KR(poll_intr(port, in), MACH_RCV_TIMED_OUT);  // nothing else was remembered
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    machsim::IrqLine l = k.irq_line(5);
    CHECK(l.raised == 6);
    CHECK(l.delivered == 2);
    CHECK(l.coalesced == 4);
    CHECK(l.lost == 0);
    auto acks = kind(log, machsim::EventKind::IrqAck);
    REQUIRE(acks.size() == 2);
    CHECK(acks[0].event.after == 1);  // a remembered interrupt followed the first ack
    CHECK(acks[1].event.after == 0);
}

TEST_CASE("device calls with bad arguments return GNU Mach's codes and change nothing") {
    machsim::Kernel k;
    k.spawn("driver", [] {
        mach_port_t master = MACH_PORT_NULL, irq = MACH_PORT_NULL, host = 7;
        REQUIRE_KR(get_privileged_ports(&host, &master), KERN_SUCCESS);
        CHECK(host == MACH_PORT_NULL);  // no host ports in machsim
        CHECK_KR(device_open(master, D_READ, "disk0", &irq), D_NO_SUCH_DEVICE);
        CHECK_KR(device_open(master, D_READ, "irq0", &irq), D_NO_SUCH_DEVICE);
        CHECK_KR(device_open(master, D_READ, nullptr, &irq), KERN_INVALID_ADDRESS);
        CHECK_KR(device_open(master, D_READ, "irq", nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(device_open(MACH_PORT_NULL, D_READ, "irq", &irq), MACH_SEND_INVALID_DEST);
        mach_port_t plain = mt::new_port_with_send();
        CHECK_KR(device_open(plain, D_READ, "irq", &irq), D_INVALID_OPERATION);
        REQUIRE_KR(device_open(master, D_READ | D_WRITE, "irq", &irq), D_SUCCESS);
        mach_port_t other = MACH_PORT_NULL;
        CHECK_KR(device_open(irq, D_READ, "irq", &other), D_INVALID_OPERATION);  // not the master port
        CHECK(other == MACH_PORT_NULL);

        mach_port_t port = mt::new_receive_right();
        // The device argument.
        CHECK_KR(device_intr_register(MACH_PORT_NULL, 1, 0, port, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_DEST);
        CHECK_KR(device_intr_register(port, 1, 0, port, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_DEST);  // receive only
        CHECK_KR(device_intr_register(plain, 1, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_NO_SUCH_DEVICE);
        CHECK_KR(device_intr_register(master, 1, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_NO_SUCH_DEVICE);
        CHECK_KR(device_intr_register(mach_task_self(), 1, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_NO_SUCH_DEVICE);
        // The line and the flags.
        CHECK_KR(device_intr_register(irq, -1, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_INVALID_OPERATION);
        CHECK_KR(device_intr_register(irq, 16, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_INVALID_OPERATION);
        CHECK_KR(device_intr_register(irq, 1, 0x04000000, port, MACH_MSG_TYPE_MAKE_SEND), D_INVALID_OPERATION);
        // The port argument.
        CHECK_KR(device_intr_register(irq, 1, 0, port, MACH_MSG_TYPE_MAKE_SEND_ONCE), MACH_SEND_INVALID_TYPE);
        CHECK_KR(device_intr_register(irq, 1, 0, port, MACH_MSG_TYPE_COPY_SEND), MACH_SEND_INVALID_RIGHT);
        CHECK_KR(device_intr_register(irq, 1, 0, 0x4242, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_RIGHT);
        CHECK_KR(device_intr_register(irq, 1, 0, MACH_PORT_NULL, MACH_MSG_TYPE_MAKE_SEND), KERN_INVALID_CAPABILITY);
        CHECK_KR(device_intr_register(irq, 1, 0, mach_task_self(), MACH_MSG_TYPE_COPY_SEND), KERN_INVALID_CAPABILITY);
        CHECK(mt::refs(mach_task_self(), MACH_PORT_RIGHT_SEND) >= 1);  // a failed call's COPY_SEND took no uref

        // Acks before any registration, with the wrong port, before any delivery.
        CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), KERN_INVALID_ARGUMENT);
        REQUIRE_KR(device_intr_register(irq, 1, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
        CHECK_KR(device_intr_register(irq, 1, 0, plain, MACH_MSG_TYPE_MAKE_SEND), D_ALREADY_OPEN);  // line taken
        CHECK_KR(device_intr_register(irq, 2, 0, port, MACH_MSG_TYPE_MAKE_SEND), D_ALREADY_OPEN);   // port taken
        CHECK_KR(device_intr_ack(irq, plain, MACH_MSG_TYPE_MAKE_SEND), KERN_INVALID_ARGUMENT);      // wrong port
        CHECK_KR(device_intr_ack(irq, MACH_PORT_NULL, MACH_MSG_TYPE_MAKE_SEND), KERN_INVALID_ARGUMENT);
        CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_INVALID_OPERATION);  // nothing delivered
        CHECK_KR(device_intr_ack(master, port, MACH_MSG_TYPE_MAKE_SEND), D_NO_SUCH_DEVICE);
        CHECK_KR(device_intr_ack(MACH_PORT_DEAD, port, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_DEST);
        CHECK_KR(device_intr_ack(irq, port, 0), MACH_SEND_INVALID_TYPE);
        // An ack given a COPY_SEND spends that right, failed or not (MIG destroys a failed request's rights).
        REQUIRE_KR(mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS);
        REQUIRE_KR(mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
        CHECK(mt::refs(port, MACH_PORT_RIGHT_SEND) == 2);
        CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MOVE_SEND), D_INVALID_OPERATION);
        CHECK(mt::refs(port, MACH_PORT_RIGHT_SEND) == 1);
        CHECK(machsim::check_invariants().empty());
    }, privileged());
    k.spawn("user", [] {
        mach_port_t master = 7;
        CHECK_KR(get_privileged_ports(nullptr, &master), KERN_NO_ACCESS);
        CHECK(master == MACH_PORT_NULL);
        CHECK_KR(get_privileged_ports(nullptr, reinterpret_cast<mach_port_t*>(8)), KERN_INVALID_ADDRESS);
        // Nor can it have a privileged child.
        mach_port_t child = machsim::task_spawn("child", [](mach_port_t) {
            mach_port_t m = MACH_PORT_NULL;
            return get_privileged_ports(nullptr, &m) == KERN_NO_ACCESS ? 0 : 1;
        }, MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, privileged());
        CHECK(child != MACH_PORT_NULL);
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    const machsim::TaskReport* child = r.task("child");
    REQUIRE(child != nullptr);
    CHECK(child->exit_code == 0);
    CHECK_FALSE(k.raise_irq(16, 10));
    CHECK_FALSE(k.timer_device(1, 0));
    CHECK_FALSE(k.set_irq_priority(99, 1));
    CHECK(k.irq_line(99).raised == 0);
}

TEST_CASE("a dead delivery port drops the registration at the next interrupt; the line can be taken again") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    REQUIRE(k.raise_irq(7, 100));
    REQUIRE(k.raise_irq(7, 300));
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 7);
        REQUIRE_KR(mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
        machsim::compute(150);  // the raise at 100 finds the port dead
        mach_port_t again = register_line(irq, 7);
        Notification in;
        REQUIRE_KR(wait_intr(again, in), MACH_MSG_SUCCESS);
        CHECK(machsim::now() >= 300);
        CHECK_KR(device_intr_ack(irq, again, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    auto drops = kind(log, machsim::EventKind::IrqDrop);
    REQUIRE(drops.size() == 2);  // the first port at the raise; the second when its task ended
    CHECK(drops[0].event.extra == 7);
    CHECK(drops[0].event.tick >= 100);
    CHECK(drops[0].event.tick < 300);
    CHECK(drops[0].text == "delivery port died");
    CHECK(drops[1].text == "delivery port died with its task");
    CHECK(k.irq_line(7).lost == 1);
    CHECK(k.irq_line(7).delivered == 1);
}

TEST_CASE("a driver that crashes while handling an interrupt loses its line; nothing leaks; others run on") {
    machsim::TraceLog log;
    machsim::Kernel k;
    k.attach(log);
    REQUIRE(k.timer_device(2, 100, 0, 5));
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 2);
        Notification in;
        REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
        throw std::runtime_error("driver bug");  // never acknowledges
    }, privileged());
    k.spawn("bystander", [] {
        machsim::compute(1000);
        return 7;
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    mt::check_sound(r);
    const machsim::TaskReport* d = r.task("driver");
    REQUIRE(d != nullptr);
    CHECK(d->end == machsim::TaskEnd::Crashed);
    const machsim::TaskReport* b = r.task("bystander");
    REQUIRE(b != nullptr);
    CHECK(b->end == machsim::TaskEnd::Exited);
    CHECK(b->exit_code == 7);
    auto drops = kind(log, machsim::EventKind::IrqDrop);
    REQUIRE(drops.size() == 1);
    CHECK(drops[0].event.extra == 2);
    CHECK(drops[0].text == "delivery port died with its task");  // at its end, not at the next raise
    machsim::IrqLine l = k.irq_line(2);
    CHECK_FALSE(l.registered);
    CHECK_FALSE(l.masked);  // unmasked with its registration, as GNU Mach does
    CHECK(l.delivered == 1);
    CHECK(l.raised == 5);
}

TEST_CASE("an interrupt storm on a masked line queues at most one message and costs no time per raise") {
    machsim::Kernel k;
    REQUIRE(k.raise_irq(9, 50, 1'000'000));  // a million raises at one tick
    REQUIRE(k.timer_device(9, 1));            // and one every tick, for as long as the run lasts
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 9);
        for (int round = 0; round < 3; ++round) {
            Notification in;
            REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
            machsim::compute(100'000);  // slow handling while the line keeps firing
            CHECK(mt::status_of(port).mps_msgcount == 0);
            CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
            CHECK(mt::status_of(port).mps_msgcount == 1);  // the remembered one, only
        }
        return 0;
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    machsim::IrqLine l = k.irq_line(9);
    CHECK(l.delivered == 4);  // three handled, the fourth destroyed with the port at the driver's end
    CHECK(l.raised > 1'000'000);
    CHECK(l.raised == l.delivered + l.coalesced + l.lost + (l.pending ? 1 : 0));
}

TEST_CASE("lines pending at one instant are delivered by priority, then by line number") {
    auto order = [](int prio_of_6) {
        machsim::TraceLog log;
        machsim::Kernel k;
        k.attach(log);
        REQUIRE(k.set_irq_priority(6, prio_of_6));
        REQUIRE(k.raise_irq(6, 100));
        REQUIRE(k.raise_irq(4, 100));
        REQUIRE(k.raise_irq(11, 100));
        k.spawn("driver", [] {
            mach_port_t irq = open_irq();
            mach_port_t set = MACH_PORT_NULL;
            REQUIRE_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set), KERN_SUCCESS);
            for (int line : {11, 6, 4}) {
                mach_port_t p = register_line(irq, line);
                REQUIRE_KR(mach_port_move_member(mach_task_self(), p, set), KERN_SUCCESS);
            }
            for (int i = 0; i < 3; ++i) {
                Notification in;
                REQUIRE_KR(wait_intr(set, in), MACH_MSG_SUCCESS);
                CHECK_KR(device_intr_ack(irq, in.n.intr_header.msgh_local_port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
            }
        }, privileged());
        machsim::RunReport r = k.run();
        INFO(r.summary());
        CHECK(r.clean());
        std::vector<uint32_t> lines;
        for (const auto& e : log.of_kind(machsim::EventKind::IrqDeliver)) lines.push_back(e.event.extra);
        return lines;
    };
    CHECK(order(0) == std::vector<uint32_t>{4, 6, 11});
    CHECK(order(5) == std::vector<uint32_t>{6, 4, 11});
    CHECK(order(-1) == std::vector<uint32_t>{4, 11, 6});
}

TEST_CASE("a timer device interrupts every period; a run with interrupts replays byte-identically") {
    auto setup = [](machsim::Kernel& k) {
        REQUIRE(k.timer_device(0, 1000, 0, 4));
        REQUIRE(k.raise_irq(12, 1500));  // nobody registered: lost
        k.spawn("driver", [] {
            mach_port_t irq = open_irq();
            mach_port_t port = register_line(irq, 0);
            for (uint64_t i = 1; i <= 4; ++i) {
                Notification in;
                REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
                CHECK(machsim::now() >= i * 1000);
                CHECK(machsim::now() < i * 1000 + 100);
                CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
            }
        }, privileged());
    };
    std::string first = mt::trace_text(setup);
    CHECK(first == mt::trace_text(setup));
    CHECK(first.find("irq-send") != std::string::npos);
    CHECK(first.find("line 12 raised: lost: no driver registered") != std::string::npos);
    CHECK(first.find("all tasks finished") != std::string::npos);
}

TEST_CASE("a daemon driver still registered when the run ends leaves no port, right or message behind") {
    machsim::Kernel k;
    REQUIRE(k.raise_irq(8, 10));
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 8);
        for (;;) {
            Notification in;
            if (wait_intr(port, in) != MACH_MSG_SUCCESS) return;
            (void)device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND);
        }
    }, machsim::SpawnOptions{.daemon = true, .privileged = true});
    k.spawn("user", [] { machsim::compute(100); });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(k.irq_line(8).delivered == 1);
}

TEST_CASE("console: scripted bytes raise line 4 and the driver reads them with device_read_inband") {
    machsim::Kernel k;
    REQUIRE(k.console_input(100, "hello"));
    REQUIRE(k.console_input(150, " world"));  // arrives while the first interrupt is being handled
    REQUIRE(k.console_input(1000, "!\n"));
    CHECK_FALSE(k.console_input(2000, ""));
    k.spawn("tty", [] {
        mach_port_t master = MACH_PORT_NULL, con = MACH_PORT_NULL;
        REQUIRE_KR(get_privileged_ports(nullptr, &master), KERN_SUCCESS);
        REQUIRE_KR(device_open(master, D_READ, "console", &con), D_SUCCESS);
        mach_port_t irq = open_irq();
        CHECK_KR(device_intr_register(con, 4, 0, irq, MACH_MSG_TYPE_COPY_SEND), D_INVALID_OPERATION);  // irq only
        mach_port_t port = register_line(irq, 4);
        io_buf_ptr_inband_t buf;
        mach_msg_type_number_t n = 99;
        CHECK_KR(device_read_inband(con, D_READ, 0, sizeof buf, buf, &n), D_WOULD_BLOCK);  // nothing yet
        CHECK(n == 0);
        std::string text;
        int interrupts = 0;
        while (text != "hello world!\n") {
            Notification in;
            REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
            CHECK(in.n.id == 4);
            ++interrupts;
            machsim::compute(100);  // the second chunk arrives meanwhile: one interrupt for both
            if (interrupts == 1) {
                CHECK_KR(device_read_inband(con, D_READ, 0, 3, buf, &n), D_SUCCESS);  // at most bytes_wanted
                CHECK(n == 3);
                text.append(buf, n);
                CHECK_KR(device_read_inband(con, D_READ, 0, 4, nullptr, &n), KERN_INVALID_ADDRESS);  // none lost
            }
            kern_return_t kr;
            while ((kr = device_read_inband(con, D_READ, 0, sizeof buf, buf, &n)) == D_SUCCESS) text.append(buf, n);
            CHECK_KR(kr, D_WOULD_BLOCK);
            CHECK_KR(device_intr_ack(irq, port, MACH_MSG_TYPE_MAKE_SEND), D_SUCCESS);
            if (interrupts == 1) CHECK(text == "hello world");
        }
        CHECK(interrupts == 3);  // hello + world (one, coalesced), the one remembered meanwhile (nothing left), !
        CHECK_KR(device_read_inband(irq, D_READ, 0, 8, buf, &n), D_INVALID_OPERATION);
        CHECK_KR(device_read_inband(master, D_READ, 0, 8, buf, &n), D_NO_SUCH_DEVICE);
        CHECK_KR(device_read_inband(MACH_PORT_NULL, D_READ, 0, 8, buf, &n), MACH_SEND_INVALID_DEST);
        CHECK_KR(device_read_inband(con, D_READ, 0, 8, buf, nullptr), KERN_INVALID_ADDRESS);
        CHECK(machsim::check_invariants().empty());
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(k.irq_line(4).coalesced == 0);
    CHECK(k.irq_line(4).delivered == 3);
}

TEST_CASE("a driver that never acknowledges, with a timer still running, ends the run as a deadlock") {
    machsim::Kernel k;
    REQUIRE(k.timer_device(1, 10));  // forever
    k.spawn("driver", [] {
        mach_port_t irq = open_irq();
        mach_port_t port = register_line(irq, 1);
        Notification in;
        REQUIRE_KR(wait_intr(port, in), MACH_MSG_SUCCESS);
        (void)wait_intr(port, in);  // masked: never comes (the run's end unwinds it: no REQUIRE around it)
    }, privileged());
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.deadlock);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

}  // TEST_SUITE("interrupts")
