// The blockcache lab's grader (README.md has the assignment and the points). It runs the
// student's block_server over a disk of its own, with clients of its own that also read the
// disk directly (they run privileged) to see what has reached it.
#include "labs/grade.h"

#include <cstring>
#include <string>

#include "labs/blockcache/blockcache.h"

namespace {

using lab::give_up;

constexpr uint32_t kRecords = 64;
const machsim::DiskOptions kDisk{.records = kRecords, .seek_ticks = 1000, .record_ticks = 20};

// Block b as the disk starts, and as a client writes it (version v).
std::string original(uint32_t b) {
    std::string s(BLOCK_SIZE, static_cast<char>('a' + b % 26));
    std::string head = "block " + std::to_string(b) + ", as the disk came";
    s.replace(0, head.size(), head);
    return s;
}
std::string written(uint32_t b, int v) {
    std::string s(BLOCK_SIZE, static_cast<char>('A' + (b + v) % 26));
    std::string head = "block " + std::to_string(b) + ", version " + std::to_string(v);
    s.replace(0, head.size(), head);
    return s;
}
std::string disk_image() {
    std::string image;
    for (uint32_t b = 0; b < kRecords; ++b) image += original(b);
    return image;
}

// One request and its reply. Returns the reply's result (or the mach_msg error).
kern_return_t ask(mach_port_t server, mach_msg_id_t id, uint32_t block, const std::string* data, std::string* out) {
    union {
        block_request req;
        struct {
            block_reply rep;
            mach_msg_max_trailer_t trailer;
        } in;
    } m{};
    m.req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    m.req.head.msgh_size = sizeof m.req;
    m.req.head.msgh_remote_port = server;
    m.req.head.msgh_local_port = mig_get_reply_port();
    m.req.head.msgh_id = id;
    m.req.block = block;
    if (data) std::memcpy(m.req.data, data->data(), BLOCK_SIZE);
    mach_msg_return_t mr = mach_msg(&m.req.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof m.req, sizeof m.in,
                                    m.req.head.msgh_local_port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) return mr;
    if (m.in.rep.head.msgh_id != id + BLOCK_REPLY) {
        give_up("the reply to a request with id {} came with id {}, not {}", id, m.in.rep.head.msgh_id,
                id + BLOCK_REPLY);
        return KERN_FAILURE;
    }
    if (out) out->assign(m.in.rep.data, BLOCK_SIZE);
    return m.in.rep.result;
}

struct Client {
    mach_port_t server = MACH_PORT_NULL;
    mach_port_t disk = MACH_PORT_NULL;  // the grader's own look at the disk

    bool start() {
        server = lab::look_up("block");
        mach_port_t master = MACH_PORT_NULL;
        if (get_privileged_ports(nullptr, &master) != KERN_SUCCESS ||
            device_open(master, D_READ, "hd0", &disk) != D_SUCCESS)
            return give_up("the grader's client could not open hd0") == 0;
        return server != MACH_PORT_NULL;
    }
    bool read(uint32_t b, const std::string& want, const char* why) {
        std::string got;
        kern_return_t kr = ask(server, BLOCK_READ, b, nullptr, &got);
        if (kr != KERN_SUCCESS) return give_up("BLOCK_READ of block {} ({}): {}", b, why, mach_error_string(kr)) == 0;
        if (got != want)
            return give_up("BLOCK_READ of block {} ({}) gave \"{:.30}\", not \"{:.30}\"", b, why, got.c_str(),
                           want.c_str()) == 0;
        return true;
    }
    bool write(uint32_t b, int v) {
        std::string data = written(b, v);
        kern_return_t kr = ask(server, BLOCK_WRITE, b, &data, nullptr);
        return kr == KERN_SUCCESS || give_up("BLOCK_WRITE of block {}: {}", b, mach_error_string(kr)) == 0;
    }
    bool sync() {
        kern_return_t kr = ask(server, BLOCK_SYNC, 0, nullptr, nullptr);
        return kr == KERN_SUCCESS || give_up("BLOCK_SYNC: {}", mach_error_string(kr)) == 0;
    }
    // What the disk itself holds in block b now.
    std::string on_disk(uint32_t b) {
        io_buf_ptr_t data = nullptr;
        mach_msg_type_number_t n = 0;
        if (device_read(disk, D_READ, b, BLOCK_SIZE, &data, &n) != D_SUCCESS) return {};
        std::string s(data, n);
        (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(data), n);
        return s;
    }
};

int basic_client() {
    Client c;
    if (!c.start()) return 1;
    for (uint32_t b = 0; b < 6; ++b)
        if (!c.read(b, original(b), "as the disk came")) return 1;
    if (!c.write(20, 1) || !c.read(20, written(20, 1), "just written")) return 1;
    std::string data = written(64, 1);
    if (kern_return_t kr = ask(c.server, BLOCK_READ, kRecords, nullptr, nullptr); kr != D_INVALID_RECNUM)
        return give_up("BLOCK_READ of block {} (past the disk's end) answered {}, not D_INVALID_RECNUM", kRecords,
                       mach_error_string(kr));
    if (kern_return_t kr = ask(c.server, BLOCK_WRITE, kRecords, &data, nullptr); kr != D_INVALID_RECNUM)
        return give_up("BLOCK_WRITE of block {} (past the disk's end) answered {}, not D_INVALID_RECNUM", kRecords,
                       mach_error_string(kr));
    if (kern_return_t kr = ask(c.server, 999, 0, nullptr, nullptr); kr != MIG_BAD_ID)
        return give_up("a request with id 999 answered {}, not MIG_BAD_ID", mach_error_string(kr));
    if (!c.sync()) return 1;
    if (c.on_disk(20) != written(20, 1)) return give_up("after BLOCK_SYNC's reply, block 20 is not on the disk");
    return 0;
}

int hot_client() {
    Client c;
    if (!c.start()) return 1;
    for (int round = 0; round < 10; ++round)
        for (uint32_t b = 0; b < 4; ++b)
            if (!c.read(b, original(b), "read again and again")) return 1;
    return 0;
}

int sync_client() {
    Client c;
    if (!c.start()) return 1;
    for (int v = 1; v <= 10; ++v)
        if (!c.write(7, v)) return 1;
    if (!c.read(7, written(7, 10), "written ten times") || !c.sync()) return 1;
    if (c.on_disk(7) != written(7, 10)) return give_up("after BLOCK_SYNC's reply, block 7's last version is not on the disk");
    return 0;
}

int evict_client() {
    Client c;
    if (!c.start()) return 1;
    for (uint32_t b = 10; b < 22; ++b)
        if (!c.write(b, 1)) return 1;
    int there = 0;
    for (uint32_t b = 10; b < 22; ++b) there += c.on_disk(b) == written(b, 1);
    if (there < 4)
        return give_up("after 12 writes and no sync, {} of the 12 blocks are on the disk: a cache of {} blocks must "
                       "have written back the ones it evicted (at least 4)", there, CACHE_BLOCKS);
    for (uint32_t b = 10; b < 22; ++b)
        if (!c.read(b, written(b, 1), "written, then evicted or not")) return 1;
    return c.sync() ? 0 : 1;
}

// Two clients at once, each on blocks of its own.
int two_client(uint32_t first) {
    Client c;
    if (!c.start()) return 1;
    for (uint32_t b = first; b < first + 4; ++b)
        if (!c.read(b, original(b), "as the disk came") || !c.write(b, 2)) return 1;
    if (!c.sync()) return 1;
    for (uint32_t b = first; b < first + 4; ++b)
        if (!c.read(b, written(b, 2), "written by this client") || c.on_disk(b) != written(b, 2))
            return give_up("block {}, written and synced, is not on the disk", b);
    return 0;
}

void with_server(machsim::Kernel& k) {
    k.add_disk(kDisk, disk_image());
    k.spawn("blockd", block_server, machsim::SpawnOptions{.daemon = true, .privileged = true});
}
const machsim::SpawnOptions kPrivileged{.privileged = true};

// Whether the run's disk holds block b as `want`.
bool disk_has(const lab::Run& r, uint32_t b, const std::string& want) {
    return r.disk.size() >= (b + 1) * BLOCK_SIZE && r.disk.compare(b * BLOCK_SIZE, BLOCK_SIZE, want) == 0;
}

}  // namespace

MACHSIM_PROGRAM(bc_basic, "blockcache grader: reads, a write read back, bad requests, a sync") {
    with_server(k);
    k.spawn("client", basic_client, kPrivileged);
}
MACHSIM_PROGRAM(bc_hot, "blockcache grader: four blocks read ten times each") {
    with_server(k);
    k.spawn("client", hot_client, kPrivileged);
}
MACHSIM_PROGRAM(bc_sync, "blockcache grader: one block written ten times, then a sync") {
    with_server(k);
    k.spawn("client", sync_client, kPrivileged);
}
MACHSIM_PROGRAM(bc_evict, "blockcache grader: twelve blocks written, more than the cache holds") {
    with_server(k);
    k.spawn("client", evict_client, kPrivileged);
}
MACHSIM_PROGRAM(bc_two, "blockcache grader: two clients at once") {
    with_server(k);
    k.spawn("client-a", [] { return two_client(30); }, kPrivileged);
    k.spawn("client-b", [] { return two_client(40); }, kPrivileged);
}

LAB_TEST("reads give the disk's blocks, a write is read back, bad requests get their codes, a sync reaches the disk",
         30) {
    lab::Run r = lab::run("bc_basic");
    if (!t.expect_clean(r)) return;
    t.expect(disk_has(r, 20, written(20, 1)), "block 20 is not on the disk at the end of the run");
    for (uint32_t b = 0; b < kRecords; ++b)
        if (b != 20 && !t.expect(disk_has(r, b, original(b)), "block {} changed on the disk, but nobody wrote it", b))
            break;
}

LAB_TEST("a block read again comes from the cache: 40 reads of 4 blocks wait on the disk at most 4 times", 25) {
    lab::Run r = lab::run("bc_hot");
    if (!t.expect_clean(r)) return;
    int waits = r.disk_waits("blockd");
    t.expect(waits <= 4, "blockd waited on the disk {} times for 40 reads of 4 blocks (each wait is a seek: 1000 "
                         "ticks); a block it has read once should come from its cache", waits);
}

LAB_TEST("writes wait for no disk: 10 writes of a block and a sync wait on the disk once", 20) {
    lab::Run r = lab::run("bc_sync");
    if (!t.expect_clean(r)) return;
    int waits = r.disk_waits("blockd");
    t.expect(waits <= 1, "blockd waited on the disk {} times for 10 writes of block 7 and one sync: a write should "
                         "only change the cache (a whole block needs nothing from the disk), and the sync "
                         "writes block 7 once", waits);
    t.expect(disk_has(r, 7, written(7, 10)), "block 7's last version is not on the disk at the end of the run");
}

LAB_TEST("the cache holds at most 8 blocks, and a written block it evicts reaches the disk first", 15) {
    lab::Run r = lab::run("bc_evict");
    if (!t.expect_clean(r)) return;
    for (uint32_t b = 10; b < 22; ++b)
        if (!t.expect(disk_has(r, b, written(b, 1)), "block {} is not on the disk after the sync", b)) break;
}

LAB_TEST("correct under any schedule: two clients, 25 seeds of the PCT policy and 25 of the random one", 10) {
    lab::under_schedules(t, "bc_two", [&t](const lab::Run& r) {
        for (uint32_t b : {30u, 31u, 32u, 33u, 40u, 41u, 42u, 43u})
            if (!t.expect(disk_has(r, b, written(b, 2)), "block {} is not on the disk at the end of the run", b)) return;
    });
}

LAB_MAIN("blockcache")
