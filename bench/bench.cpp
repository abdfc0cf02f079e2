// machsim-bench: wall-clock figures for machsim's IPC, with Boost.Context and
// Boost.Fiber as reference points. One binary, one run:
//
//   machsim-bench [out.json]      (default build/bench.json)
//
// Each figure is the median of kReps repetitions; each repetition times only its
// steady-state loop (after a warm-up) with std::chrono::steady_clock. Every
// benchmark also checks its own results (echoed counters, in-order delivery,
// clean kernel reports); the exit status is non-zero if any check fails.
// Missing a performance target is reported as MISS but is not a failure.
// bench/README.md says what each figure means.
#include <algorithm>
#include <boost/context/fiber.hpp>
#include <boost/fiber/all.hpp>
#include <boost/version.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bench/floor.h"
#include "mach/mach.h"
#include "machsim.h"
#include "servers/bootstrap.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReps = 7;

// Iterations per repetition (timed), and untimed warm-up iterations before them.
constexpr uint64_t kRpcIters = 1'000'000, kRpcTouchIters = 50'000;
constexpr uint64_t kOnewayMsgs = 4'000'000, kOnewayWarmup = 50'000;
constexpr uint64_t kRawIters = 20'000'000, kRawWarmup = 100'000;
constexpr uint64_t kFiberRtIters = 1'000'000, kFiberRtWarmup = 20'000;
constexpr uint64_t kFiberMsgs = 8'000'000, kFiberWarmup = 50'000;

constexpr mach_port_msgcount_t kQlimit = 16;
constexpr mach_port_msgcount_t kLargeQlimit = MACH_PORT_QLIMIT_LARGE;  // informational figure: senders rarely block
constexpr std::size_t kFiberChannelCapacity = 16;  // Boost 1.74: a power of two >= 2; holds capacity-1

// Message ids.
constexpr mach_msg_id_t kRequest = 1000, kReply = 1100, kQuit = 1001, kHello = 1002, kData = 1003;

// A small message: the header plus 8 bytes of payload.
struct SmallMsg {
    mach_msg_header_t head;
    uint64_t value;
};
static_assert(sizeof(SmallMsg) == sizeof(mach_msg_header_t) + 8, "header + 8 bytes");

struct SmallRcv {
    SmallMsg msg;
    mach_msg_max_trailer_t trailer;
};

// --- results and checks -------------------------------------------------------------

int g_failures = 0;

void fail(const std::string& what) {
    std::fprintf(stderr, "\nmachsim-bench: CHECK FAILED: %s\n", what.c_str());
    ++g_failures;
}

struct Figure {
    std::string key;
    std::string unit;
    uint64_t iters = 0;
    std::vector<double> samples;
    double median = 0, min = 0, max = 0;

    void finish() {
        std::vector<double> s = samples;
        std::sort(s.begin(), s.end());
        min = s.front();
        max = s.back();
        std::size_t n = s.size();
        median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
};

double ns_between(Clock::time_point a, Clock::time_point b) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// Checks a machsim run ended cleanly: every ordinary task exited with 0, no deadlock, no leak.
void check_report(const char* bench, const machsim::RunReport& r) {
    bool ok = r.clean() && !r.deadlock && !r.time_limit;
    for (const auto& t : r.tasks)
        if (!t.daemon && (t.end != machsim::TaskEnd::Exited || t.exit_code != 0)) ok = false;
    if (!ok) fail(fmt::format("{}: kernel run not clean:\n{}", bench, r.summary()));
}

// A send right to a service; retries while its server has not checked in yet.
mach_port_t look_up(const char* name, std::string& err) {
    for (int tries = 0; tries < 1000; ++tries) {
        mach_port_t port = MACH_PORT_NULL;
        kern_return_t kr = bootstrap_look_up(bootstrap_port, name, &port);
        if (kr == KERN_SUCCESS) return port;
        if (kr != BOOTSTRAP_UNKNOWN_SERVICE) {
            err = fmt::format("bootstrap_look_up({}): {}", name, mach_error_string(kr));
            return MACH_PORT_NULL;
        }
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    err = fmt::format("bootstrap_look_up({}): service never appeared", name);
    return MACH_PORT_NULL;
}

// --- 1. machsim RPC round trip ------------------------------------------------------------

// How the two tasks of an RPC benchmark use memory of their own.
enum class Regions {
    None,   // no regions at all
    Hold,   // each holds kRegions mapped regions (written once before the timed loop)
    Touch,  // each also writes one word of its regions per message
};
constexpr int kRegions = 8;
constexpr std::size_t kRegionPages = 4;

// The regions of one task, allocated and written once; null when `use` is None.
struct TaskRegions {
    volatile uint64_t* words[kRegions] = {};
    std::string err;
    explicit TaskRegions(Regions use) {
        if (use == Regions::None) return;
        for (volatile uint64_t*& w : words) {
            vm_address_t a = 0;
            kern_return_t kr = vm_allocate(mach_task_self(), &a, kRegionPages * vm_page_size, VM_FLAGS_ANYWHERE);
            if (kr != KERN_SUCCESS) {
                err = fmt::format("vm_allocate: {}", mach_error_string(kr));
                return;
            }
            w = reinterpret_cast<volatile uint64_t*>(a);
            for (std::size_t p = 0; p < kRegionPages; ++p) w[p * vm_page_size / sizeof(uint64_t)] = p;
        }
    }
    void touch(uint64_t i) {
        volatile uint64_t* w = words[i % kRegions];
        *w = *w + 1;
    }
};

// Client: mach_msg(SEND|RCV) to the server with a MAKE_SEND_ONCE reply right.
// Server: one plain receive, then MIG-style combined reply(MOVE_SEND_ONCE)+receive-next.
// Returns ns per round trip over the client's timed loop.
double rpc_once(Regions use = Regions::None, uint64_t iters = kRpcIters) {
    machsim::Kernel k;  // no trace sink attached
    double elapsed_ns = -1;
    std::string server_err, client_err;

    k.spawn("rpc-server", [&]() -> int {
        mach_port_t port = MACH_PORT_NULL;
        kern_return_t kr = bootstrap_check_in(bootstrap_port, "bench.rpc", &port);
        if (kr != KERN_SUCCESS) {
            server_err = fmt::format("bootstrap_check_in: {}", mach_error_string(kr));
            return 1;
        }
        TaskRegions mine(use);
        if (!mine.err.empty()) {
            server_err = mine.err;
            return 1;
        }
        SmallRcv buf{};
        mach_msg_return_t mr =
            mach_msg(&buf.msg.head, MACH_RCV_MSG, 0, sizeof buf, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        for (;;) {
            if (use == Regions::Touch) mine.touch(buf.msg.value);
            if (mr != MACH_MSG_SUCCESS) {
                server_err = fmt::format("server mach_msg: {}", mach_error_string(mr));
                return 1;
            }
            if (buf.msg.head.msgh_id == kQuit) return 0;
            if (buf.msg.head.msgh_id != kRequest || buf.msg.head.msgh_size != sizeof(SmallMsg)) {
                server_err = fmt::format("server got id {} size {}", buf.msg.head.msgh_id, buf.msg.head.msgh_size);
                return 1;
            }
            mach_port_t reply = buf.msg.head.msgh_remote_port;
            buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
            buf.msg.head.msgh_size = sizeof(SmallMsg);
            buf.msg.head.msgh_remote_port = reply;
            buf.msg.head.msgh_local_port = MACH_PORT_NULL;
            buf.msg.head.msgh_voucher_port = MACH_PORT_NULL;
            buf.msg.head.msgh_id = kReply;
            buf.msg.value += 1;
            mr = mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(SmallMsg), sizeof buf, port,
                          MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        }
    });

    k.spawn("rpc-client", [&]() -> int {
        mach_port_t server = look_up("bench.rpc", client_err);
        if (server == MACH_PORT_NULL) return 1;
        mach_port_t reply = mach_reply_port();
        TaskRegions mine(use);
        if (!mine.err.empty()) {
            client_err = mine.err;
            return 1;
        }
        SmallRcv buf{};
        Clock::time_point t0{};
        const uint64_t warmup = iters / 50;
        const uint64_t total = warmup + iters;
        uint64_t i = 0;
        for (; i < total; ++i) {
            if (i == warmup) t0 = Clock::now();
            if (use == Regions::Touch) mine.touch(i);
            buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
            buf.msg.head.msgh_size = sizeof(SmallMsg);
            buf.msg.head.msgh_remote_port = server;
            buf.msg.head.msgh_local_port = reply;
            buf.msg.head.msgh_voucher_port = MACH_PORT_NULL;
            buf.msg.head.msgh_id = kRequest;
            buf.msg.value = i;
            mach_msg_return_t mr = mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(SmallMsg),
                                            sizeof buf, reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS) {
                client_err = fmt::format("rpc {}: {}", i, mach_error_string(mr));
                break;
            }
            if (buf.msg.head.msgh_id != kReply || buf.msg.value != i + 1 ||
                buf.msg.head.msgh_size != sizeof(SmallMsg)) {
                client_err = fmt::format("rpc {}: reply id {} value {} size {}", i, buf.msg.head.msgh_id,
                                         buf.msg.value, buf.msg.head.msgh_size);
                break;
            }
        }
        Clock::time_point t1 = Clock::now();
        if (i == total) elapsed_ns = ns_between(t0, t1);
        mach_msg_header_t quit{};
        quit.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        quit.msgh_size = sizeof quit;
        quit.msgh_remote_port = server;
        quit.msgh_id = kQuit;
        mach_msg_return_t mr =
            mach_msg(&quit, MACH_SEND_MSG, sizeof quit, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS && client_err.empty()) client_err = fmt::format("quit: {}", mach_error_string(mr));
        return client_err.empty() ? 0 : 1;
    });

    machsim::RunReport r = k.run();
    if (!server_err.empty()) fail("rpc server: " + server_err);
    if (!client_err.empty()) fail("rpc client: " + client_err);
    check_report("rpc", r);
    return elapsed_ns / static_cast<double>(iters);
}

// --- 2. machsim one-way throughput --------------------------------------------------------

// Consumer checks in a port, sets its qlimit (16), answers the producer's hello (so
// the limit is in place before any data), then receives every message and checks
// order. Producer sends COPY_SEND messages; timed from the producer's first timed
// send to the consumer's last receive. Returns messages per second.
double oneway_once(mach_port_msgcount_t qlimit = kQlimit) {
    machsim::Config cfg;
    cfg.qlimit_max = std::max<uint32_t>(cfg.qlimit_max, qlimit);
    machsim::Kernel k(cfg);  // no trace sink attached
    Clock::time_point t0{}, t1{};
    bool timed = false;
    std::string consumer_err, producer_err;
    const uint64_t total = kOnewayWarmup + kOnewayMsgs;

    k.spawn("oneway-consumer", [&]() -> int {
        mach_port_t port = MACH_PORT_NULL;
        kern_return_t kr = bootstrap_check_in(bootstrap_port, "bench.oneway", &port);
        if (kr != KERN_SUCCESS) {
            consumer_err = fmt::format("bootstrap_check_in: {}", mach_error_string(kr));
            return 1;
        }
        mach_port_limits_t limits{qlimit};
        kr = mach_port_set_attributes(mach_task_self(), port, MACH_PORT_LIMITS_INFO,
                                      reinterpret_cast<mach_port_info_t>(&limits), MACH_PORT_LIMITS_INFO_COUNT);
        if (kr != KERN_SUCCESS) {
            consumer_err = fmt::format("set qlimit: {}", mach_error_string(kr));
            return 1;
        }
        mach_port_status_t st{};
        mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
        kr = mach_port_get_attributes(mach_task_self(), port, MACH_PORT_RECEIVE_STATUS,
                                      reinterpret_cast<mach_port_info_t>(&st), &count);
        if (kr != KERN_SUCCESS || st.mps_qlimit != qlimit) {
            consumer_err = fmt::format("qlimit is {} ({})", st.mps_qlimit, mach_error_string(kr));
            return 1;
        }
        SmallRcv buf{};
        mach_msg_return_t mr =
            mach_msg(&buf.msg.head, MACH_RCV_MSG, 0, sizeof buf, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS || buf.msg.head.msgh_id != kHello) {
            consumer_err = fmt::format("hello: {} id {}", mach_error_string(mr), buf.msg.head.msgh_id);
            return 1;
        }
        mach_msg_header_t ack{};
        ack.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        ack.msgh_size = sizeof ack;
        ack.msgh_remote_port = buf.msg.head.msgh_remote_port;
        ack.msgh_id = kHello + 100;
        mr = mach_msg(&ack, MACH_SEND_MSG, sizeof ack, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            consumer_err = fmt::format("ack: {}", mach_error_string(mr));
            return 1;
        }
        for (uint64_t i = 0; i < total; ++i) {
            mr = mach_msg(&buf.msg.head, MACH_RCV_MSG, 0, sizeof buf, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS) {
                consumer_err = fmt::format("receive {}: {}", i, mach_error_string(mr));
                return 1;
            }
            if (buf.msg.head.msgh_id != kData || buf.msg.value != i || buf.msg.head.msgh_size != sizeof(SmallMsg)) {
                consumer_err = fmt::format("message {}: id {} value {} size {}", i, buf.msg.head.msgh_id,
                                           buf.msg.value, buf.msg.head.msgh_size);
                return 1;
            }
        }
        t1 = Clock::now();
        timed = true;
        return 0;
    });

    k.spawn("oneway-producer", [&]() -> int {
        mach_port_t port = look_up("bench.oneway", producer_err);
        if (port == MACH_PORT_NULL) return 1;
        // Handshake: wait until the consumer has set its qlimit.
        mach_port_t reply = mach_reply_port();
        SmallRcv hs{};
        hs.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        hs.msg.head.msgh_size = sizeof(SmallMsg);
        hs.msg.head.msgh_remote_port = port;
        hs.msg.head.msgh_local_port = reply;
        hs.msg.head.msgh_id = kHello;
        mach_msg_return_t mr = mach_msg(&hs.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(SmallMsg), sizeof hs,
                                        reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS || hs.msg.head.msgh_id != kHello + 100) {
            producer_err = fmt::format("hello: {} id {}", mach_error_string(mr), hs.msg.head.msgh_id);
            return 1;
        }
        SmallMsg m{};
        for (uint64_t i = 0; i < total; ++i) {
            if (i == kOnewayWarmup) t0 = Clock::now();
            m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
            m.head.msgh_size = sizeof m;
            m.head.msgh_remote_port = port;
            m.head.msgh_local_port = MACH_PORT_NULL;
            m.head.msgh_voucher_port = MACH_PORT_NULL;
            m.head.msgh_id = kData;
            m.value = i;
            mr = mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS) {
                producer_err = fmt::format("send {}: {}", i, mach_error_string(mr));
                return 1;
            }
        }
        return 0;
    });

    machsim::RunReport r = k.run();
    if (!consumer_err.empty()) fail("oneway consumer: " + consumer_err);
    if (!producer_err.empty()) fail("oneway producer: " + producer_err);
    check_report("oneway", r);
    if (!timed) return 0;
    return static_cast<double>(kOnewayMsgs) / (ns_between(t0, t1) * 1e-9);
}

// The same loop against the model kernel of floor.cpp: what the semantics alone
// cost (no parts), or they and the least kernel issue 2 asks for (kFloorAll).
double oneway_floor_run(unsigned parts) {
    std::string err;
    double v = bench::oneway_floor_once(parts, kOnewayWarmup, kOnewayMsgs, kQlimit, err);
    if (!err.empty()) fail(err);
    return v;
}

// --- 3. raw Boost.Context switch round trip ---------------------------------------------

// main resumes a fiber that immediately resumes main: two context switches.
double raw_switch_once() {
    namespace ctx = boost::context;
    bool stop = false;
    uint64_t entries = 0;
    ctx::fiber f{[&](ctx::fiber&& back) {
        while (!stop) {
            ++entries;
            back = std::move(back).resume();
        }
        return std::move(back);
    }};
    for (uint64_t i = 0; i < kRawWarmup; ++i) f = std::move(f).resume();
    Clock::time_point t0 = Clock::now();
    for (uint64_t i = 0; i < kRawIters; ++i) f = std::move(f).resume();
    Clock::time_point t1 = Clock::now();
    stop = true;
    f = std::move(f).resume();
    if (f) fail("raw switch: the fiber did not finish");
    if (entries != kRawWarmup + kRawIters)
        fail(fmt::format("raw switch: {} round trips, expected {}", entries, kRawWarmup + kRawIters));
    return ns_between(t0, t1) / static_cast<double>(kRawIters);
}

// --- 4. Boost.Fiber ping-pong round trip ------------------------------------------------

// Two fibers on this thread; ping pushes i on `a` and pops i+1 from `b`; pong echoes.
// `Channel` is unbuffered_channel<int>, or buffered_channel<int> of capacity 2 (one slot).
template <class Channel, class... Args>
double fiber_roundtrip_once(Args... args) {
    Channel a(args...), b(args...);
    Clock::time_point t0{}, t1{};
    std::string err;
    const int total = static_cast<int>(kFiberRtWarmup + kFiberRtIters);
    boost::fibers::fiber pong([&] {
        int v = 0;
        while (a.pop(v) == boost::fibers::channel_op_status::success) b.push(v + 1);
    });
    boost::fibers::fiber ping([&] {
        for (int i = 0; i < total; ++i) {
            if (i == static_cast<int>(kFiberRtWarmup)) t0 = Clock::now();
            a.push(i);
            int v = -1;
            if (b.pop(v) != boost::fibers::channel_op_status::success || v != i + 1) {
                err = fmt::format("round trip {}: got {}", i, v);
                break;
            }
        }
        t1 = Clock::now();
        a.close();
    });
    ping.join();
    pong.join();
    if (!err.empty()) fail("boost fiber ping-pong: " + err);
    return ns_between(t0, t1) / static_cast<double>(kFiberRtIters);
}

// --- 5. Boost.Fiber one-way throughput --------------------------------------------------

double fiber_oneway_once() {
    boost::fibers::buffered_channel<int> ch(kFiberChannelCapacity);
    Clock::time_point t0{}, t1{};
    const int total = static_cast<int>(kFiberWarmup + kFiberMsgs);
    int received = 0;
    bool in_order = true;
    boost::fibers::fiber consumer([&] {
        int v = 0;
        while (ch.pop(v) == boost::fibers::channel_op_status::success) {
            if (v != received) in_order = false;
            ++received;
        }
        t1 = Clock::now();  // after the last message (close() is seen on the next pop, no switch)
    });
    boost::fibers::fiber producer([&] {
        for (int i = 0; i < total; ++i) {
            if (i == static_cast<int>(kFiberWarmup)) t0 = Clock::now();
            ch.push(i);
        }
        ch.close();
    });
    producer.join();
    consumer.join();
    if (received != total || !in_order)
        fail(fmt::format("boost fiber one-way: got {} of {} messages, in order: {}", received, total, in_order));
    return static_cast<double>(kFiberMsgs) / (ns_between(t0, t1) * 1e-9);
}

// --- driver -------------------------------------------------------------------------

// One benchmark: how to run a repetition, and its figure.
struct Bench {
    Figure figure;
    const char* what;
    std::function<double()> once;
};

// Runs the repetitions of all benchmarks in turn (round 1 of each, then round 2, ...),
// so that a change in the machine's load touches every figure alike and the
// ratios, taken between figures of one run, stay fair.
void measure_interleaved(std::vector<Bench>& benches) {
    for (const Bench& b : benches)
        std::printf("  %-36s %llu %s per repetition\n", b.figure.key.c_str(),
                    static_cast<unsigned long long>(b.figure.iters), b.what);
    Clock::time_point start = Clock::now();
    for (int r = 0; r < kReps; ++r) {
        std::printf("round %d/%d:", r + 1, kReps);
        for (Bench& b : benches) {
            b.figure.samples.push_back(b.once());
            std::printf(" %.4g", b.figure.samples.back());
            std::fflush(stdout);
        }
        std::printf("  (%.1f s)\n", ns_between(start, Clock::now()) * 1e-9);
    }
    for (Bench& b : benches) b.figure.finish();
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : "";
}

std::string json_array(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.6g}", i ? ", " : "", v[i]);
    return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
    const std::string out_path = argc > 1 ? argv[1] : "build/bench.json";
    const std::string load_before = loadavg();
    std::printf("machsim-bench: %d interleaved repetitions per figure, median reported; Boost %d.%d; loadavg %s\n", kReps,
                BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, load_before.c_str());

    auto figure = [](const char* key, const char* unit, uint64_t iters) {
        Figure f;
        f.key = key;
        f.unit = unit;
        f.iters = iters;
        return f;
    };
    std::vector<Bench> benches = {
        {figure("rpc_roundtrip_ns", "ns", kRpcIters), "RPCs", [] { return rpc_once(); }},
        {figure("rpc_with_regions_roundtrip_ns", "ns", kRpcIters), "RPCs", [] { return rpc_once(Regions::Hold); }},
        {figure("rpc_touching_regions_roundtrip_ns", "ns", kRpcTouchIters), "RPCs",
         [] { return rpc_once(Regions::Touch, kRpcTouchIters); }},
        {figure("oneway_msgs_per_s", "msg/s", kOnewayMsgs), "messages", [] { return oneway_once(); }},
        {figure("oneway_qlimit_large_msgs_per_s", "msg/s", kOnewayMsgs), "messages",
         [] { return oneway_once(kLargeQlimit); }},
        {figure("oneway_floor_msgs_per_s", "msg/s", kOnewayMsgs), "messages", [] { return oneway_floor_run(0); }},
        {figure("oneway_kernel_floor_msgs_per_s", "msg/s", kOnewayMsgs), "messages",
         [] { return oneway_floor_run(bench::kFloorAll); }},
        {figure("raw_switch_roundtrip_ns", "ns", kRawIters), "round trips", raw_switch_once},
        {figure("boost_fiber_roundtrip_ns", "ns", kFiberRtIters), "round trips",
         fiber_roundtrip_once<boost::fibers::unbuffered_channel<int>>},
        {figure("boost_fiber_buffered2_roundtrip_ns", "ns", kFiberRtIters), "round trips",
         [] { return fiber_roundtrip_once<boost::fibers::buffered_channel<int>>(2); }},
        {figure("boost_fiber_msgs_per_s", "msg/s", kFiberMsgs), "messages", fiber_oneway_once},
    };
    measure_interleaved(benches);
    const Figure& rpc = benches[0].figure;
    const Figure& rpc_regions = benches[1].figure;
    const Figure& rpc_touching = benches[2].figure;
    const Figure& oneway = benches[3].figure;
    const Figure& oneway_large = benches[4].figure;
    const Figure& oneway_floor = benches[5].figure;
    const Figure& kernel_floor = benches[6].figure;
    const Figure& raw = benches[7].figure;
    const Figure& fiber_rt = benches[8].figure;
    const Figure& fiber_rt_buf = benches[9].figure;
    const Figure& fiber_msgs = benches[10].figure;
    const std::string load_after = loadavg();

    struct Ratio {
        const char* key;
        double value;
        const char* op;
        double target;
        bool pass;
    };
    const double r1 = rpc.median / fiber_rt.median, r2 = rpc.median / raw.median,
                 r3 = oneway.median / fiber_msgs.median, r4 = rpc_regions.median / rpc.median;
    const Ratio ratios[] = {
        {"rpc_vs_boost_fiber", r1, "<=", 0.5, r1 <= 0.5},
        {"rpc_vs_raw_switch", r2, "<=", 12, r2 <= 12},
        {"oneway_vs_boost_fiber", r3, ">=", 1.5, r3 >= 1.5},
        {"rpc_with_regions_vs_rpc", r4, "<=", 3, r4 <= 3},
    };
    const double touching_vs_rpc = rpc_touching.median / rpc.median;  // informational: no target
    const double oneway_large_vs_fiber = oneway_large.median / fiber_msgs.median;  // informational
    const double floor_vs_fiber = oneway_floor.median / fiber_msgs.median;         // informational
    const double kernel_floor_vs_fiber = kernel_floor.median / fiber_msgs.median;  // informational

    std::printf("\n%-36s %14s %14s %14s  %s\n", "figure", "median", "min", "max", "unit");
    const Figure* all[] = {&rpc,          &rpc_regions,  &rpc_touching, &oneway,       &oneway_large, &oneway_floor,
                           &kernel_floor, &raw,          &fiber_rt,     &fiber_rt_buf, &fiber_msgs};
    for (const Figure* f : all)
        std::printf("%-36s %14.5g %14.5g %14.5g  %s\n", f->key.c_str(), f->median, f->min, f->max, f->unit.c_str());
    std::printf("\n%-36s %14s %14s  %s\n", "ratio", "value", "target", "");
    for (const Ratio& r : ratios)
        std::printf("%-36s %14.4g %11s %-4g  %s\n", r.key, r.value, r.op, r.target, r.pass ? "PASS" : "MISS");
    std::printf("%-36s %14.4g %11s %-4s  %s\n", "rpc_touching_regions_vs_rpc", touching_vs_rpc, "", "", "(informational)");
    std::printf("%-36s %14.4g %11s %-4s  %s\n", "oneway_qlimit_large_vs_boost_fiber", oneway_large_vs_fiber, "", "",
                "(informational)");
    std::printf("%-36s %14.4g %11s %-4s  %s\n", "oneway_floor_vs_boost_fiber", floor_vs_fiber, "", "", "(informational)");
    std::printf("%-36s %14.4g %11s %-4s  %s\n", "oneway_kernel_floor_vs_boost_fiber", kernel_floor_vs_fiber, "", "",
                "(informational)");
    std::printf("(boost_fiber_buffered2_roundtrip_ns is informational: the same ping-pong over buffered_channel(2))\n");
    std::printf("(oneway_qlimit_large: the one-way run with qlimit %u, so the producer rarely blocks and the two\n"
                " tasks rarely switch; the difference from oneway_msgs_per_s is what blocking at qlimit %u costs)\n",
                kLargeQlimit, kQlimit);
    std::printf("(oneway_floor: the one-way loop against bench/floor.cpp's model kernel, which does only what\n"
                " Mach's semantics ask of a send and a receive: how far any kernel could go, not machsim;\n"
                " oneway_kernel_floor: the same model with the least kernel issue 2 asks for around it: an entry with\n"
                " its virtual clock, a trap apart from the library, a scheduler, and mach_msg's other checks)\n");
    std::printf("(rpc_touching_regions: each task writes its own memory on every message, so every switch remaps it;\n"
                " docs/memory.md explains the cost)\n");

    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    std::ofstream out(out_path);
    out << "{\n";
    for (const Figure* f : {&rpc, &rpc_regions, &rpc_touching, &raw, &fiber_rt, &oneway, &oneway_large, &oneway_floor, &kernel_floor,
                            &fiber_msgs})
        out << fmt::format("  \"{}\": {:.6g},\n", f->key, f->median);
    for (const Ratio& r : ratios) out << fmt::format("  \"{}\": {:.6g},\n", r.key, r.value);
    out << fmt::format("  \"rpc_touching_regions_vs_rpc\": {:.6g},\n", touching_vs_rpc);
    out << fmt::format("  \"oneway_qlimit_large_vs_boost_fiber\": {:.6g},\n", oneway_large_vs_fiber);
    out << fmt::format("  \"oneway_floor_vs_boost_fiber\": {:.6g},\n", floor_vs_fiber);
    out << fmt::format("  \"oneway_kernel_floor_vs_boost_fiber\": {:.6g},\n", kernel_floor_vs_fiber);
    out << fmt::format("  \"{}\": {:.6g},\n", fiber_rt_buf.key, fiber_rt_buf.median);
    out << "  \"targets\": {";
    for (std::size_t i = 0; i < std::size(ratios); ++i)
        out << fmt::format("{}\"{}\": {{\"op\": \"{}\", \"target\": {}, \"pass\": {}}}", i ? ", " : "",
                           ratios[i].key, ratios[i].op, ratios[i].target, ratios[i].pass ? "true" : "false");
    out << "},\n  \"figures\": {\n";
    for (std::size_t i = 0; i < std::size(all); ++i) {
        const Figure& f = *all[i];
        out << fmt::format(
            "    \"{}\": {{\"unit\": \"{}\", \"iterations_per_rep\": {}, \"median\": {:.6g}, \"min\": {:.6g}, "
            "\"max\": {:.6g}, \"samples\": {}}}{}\n",
            f.key, f.unit, f.iters, f.median, f.min, f.max, json_array(f.samples), i + 1 < std::size(all) ? "," : "");
    }
    out << "  },\n";
    out << fmt::format("  \"repetitions\": {},\n  \"qlimit\": {},\n  \"qlimit_large\": {},\n  \"boost_fiber_channel_capacity\": {},\n",
                       kReps, kQlimit, kLargeQlimit, kFiberChannelCapacity);
    out << fmt::format("  \"boost_version\": \"{}.{}.{}\",\n", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                       BOOST_VERSION % 100);
    out << fmt::format("  \"loadavg_before\": \"{}\",\n  \"loadavg_after\": \"{}\",\n", load_before, load_after);
    out << fmt::format("  \"checks_failed\": {}\n}}\n", g_failures);
    out.close();
    if (!out) {
        std::fprintf(stderr, "machsim-bench: cannot write %s\n", out_path.c_str());
        return 2;
    }
    std::printf("\nwrote %s\n", out_path.c_str());
    if (g_failures) {
        std::fprintf(stderr, "machsim-bench: %d check(s) failed\n", g_failures);
        return 1;
    }
    return 0;
}
