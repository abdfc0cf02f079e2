// disklog: a log server on a disk with latency (GNU Mach's device_write on "hd0").
//
//   alice, bob                     logd (privileged)                   hd0
//   append "text" (id 700) ----->  device_write_inband, record n --->  seek + record time
//        (waits for the reply)         (waits for the disk)       <---  served, in arrival order
//   <----- record n, durable at T  device_write_inband on the console: "logd: record n <- text"
//
// A reply means the line is on the disk. Requests that arrive while logd waits on the
// disk queue on its port, so the two clients' lines take turns; the trace shows each
// disk wait as `block disk` and its end as a `wake` one seek later.
#include <cstdio>
#include <cstring>
#include <string>

#include "device/device.h"
#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr mach_msg_id_t kAppend = 700;
constexpr int kLines = 3;
constexpr std::size_t kText = 100;

struct AppendMsg {
    mach_msg_header_t head;
    uint32_t len;
    char text[kText];
};

struct AppendReceived {
    AppendMsg msg;
    mach_msg_trailer_t trailer;
};

struct AppendReply {
    mach_msg_header_t head;
    kern_return_t result;
    int record;
    uint64_t durable_at;
};

struct ReplyReceived {
    AppendReply msg;
    mach_msg_trailer_t trailer;
};

DiskLogStats g_stats;

int fail(const char* what, kern_return_t kr) {
    mach_error(what, kr);
    return 1;
}

mach_port_t open_device(mach_port_t master, const char* name) {
    mach_port_t dev = MACH_PORT_NULL;
    kern_return_t kr = device_open(master, D_READ | D_WRITE, name, &dev);
    if (kr != D_SUCCESS) mach_error("logd: device_open:", kr);
    return dev;
}

int logd() {
    mach_port_t master = MACH_PORT_NULL;
    kern_return_t kr = get_privileged_ports(nullptr, &master);
    if (kr != KERN_SUCCESS) return fail("logd: get_privileged_ports:", kr);
    mach_port_t disk = open_device(master, "hd0"), console = open_device(master, "console");
    if (disk == MACH_PORT_NULL || console == MACH_PORT_NULL) return 1;
    mach_port_t port = MACH_PORT_NULL;
    kr = bootstrap_check_in(bootstrap_port, "log", &port);
    if (kr != KERN_SUCCESS) return fail("logd: bootstrap_check_in:", kr);
    // Record 0 is the log's header; lines go to records 1, 2, ...
    int next = 1;
    for (;;) {
        AppendReceived in{};
        mach_msg_return_t mr =
            mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return fail("logd: receive:", mr);
        AppendReply reply{};
        reply.head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in.msg.head.msgh_bits), 0);
        reply.head.msgh_size = sizeof reply;
        reply.head.msgh_remote_port = in.msg.head.msgh_remote_port;
        reply.head.msgh_id = in.msg.head.msgh_id + 100;
        uint32_t len = in.msg.len < kText ? in.msg.len : kText;
        int written = 0;
        reply.result = in.msg.head.msgh_id == kAppend
                           ? device_write_inband(disk, D_WRITE, next, in.msg.text, len, &written)
                           : MIG_BAD_ID;
        if (reply.result == D_SUCCESS) {
            reply.record = next++;
            reply.durable_at = machsim::now();
            ++g_stats.appended;
            char line[160];
            int n = std::snprintf(line, sizeof line, "logd: record %d <- \"%.*s\"\n", reply.record,
                                  static_cast<int>(len), in.msg.text);
            (void)device_write_inband(console, D_WRITE, 0, line, static_cast<mach_msg_type_number_t>(n), &written);
        }
        mr = mach_msg(&reply.head, MACH_SEND_MSG, sizeof reply, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                      MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return fail("logd: reply:", mr);
    }
}

int client(const char* who) {
    mach_port_t log = MACH_PORT_NULL;
    kern_return_t kr = look_up_service("log", &log);
    if (kr != KERN_SUCCESS) return fail("disklog client: bootstrap_look_up:", kr);
    mach_port_t reply_port = mach_reply_port();
    for (int i = 1; i <= kLines; ++i) {
        union {
            AppendMsg req;
            ReplyReceived rep;
        } m{};
        std::string text = std::string(who) + " line " + std::to_string(i);
        m.req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        m.req.head.msgh_size = sizeof m.req;
        m.req.head.msgh_remote_port = log;
        m.req.head.msgh_local_port = reply_port;
        m.req.head.msgh_id = kAppend;
        m.req.len = static_cast<uint32_t>(text.size());
        std::memcpy(m.req.text, text.data(), text.size());
        uint64_t asked = machsim::now();
        mach_msg_return_t mr = mach_msg(&m.req.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof m.req, sizeof m.rep,
                                        reply_port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) return fail("disklog client: append:", mr);
        if (m.rep.msg.result != D_SUCCESS) return fail("disklog client: append answered", m.rep.msg.result);
        ++g_stats.acknowledged;
        std::printf("%s: \"%s\" is record %d, on the disk at tick %llu (asked at tick %llu)\n", who, text.c_str(),
                    m.rep.msg.record, (unsigned long long)m.rep.msg.durable_at, (unsigned long long)asked);
    }
    return 0;
}

}  // namespace

DiskLogStats disklog_stats() { return g_stats; }

Program disklog_program() {
    return {"disklog", "a log server writes each client's lines to a disk with latency (device_write on hd0)",
            [](Kernel& k) {
                g_stats = {};
                k.add_disk(DiskOptions{.records = 64, .seek_ticks = 1000, .record_ticks = 20}, "disklog v1\n");
                k.spawn("logd", logd, SpawnOptions{.daemon = true, .privileged = true});
                k.spawn("alice", [] { return client("alice"); });
                k.spawn("bob", [] { return client("bob"); });
            }};
}

}  // namespace machsim::demos
