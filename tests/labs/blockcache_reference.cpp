// A solution of labs/blockcache, for the tests: `make grade LAB=blockcache SOLUTION=...` must
// give it every point. Flawed variants (tests/run.sh): -DBLOCKCACHE_WRITE_THROUGH writes every
// block to the disk at once; -DBLOCKCACHE_UNBOUNDED never evicts; -DBLOCKCACHE_DROP_DIRTY
// evicts a written block without writing it to the disk.
#include "labs/blockcache/blockcache.h"

#include <cstring>

#include <machsim.h>
#include <servers/bootstrap.h>

namespace {

struct Slot {
    bool used = false, dirty = false;
    uint32_t block = 0;
    uint64_t last_use = 0;
    char data[BLOCK_SIZE];
};

#ifdef BLOCKCACHE_UNBOUNDED
constexpr uint32_t kSlots = 64;
#else
constexpr uint32_t kSlots = CACHE_BLOCKS;
#endif

struct Cache {
    mach_port_t disk = MACH_PORT_NULL;
    Slot slots[kSlots];
    uint64_t clock = 0;

    kern_return_t write_back(Slot& s) {
        int written = 0;
        kern_return_t kr = device_write(disk, D_WRITE, s.block, s.data, BLOCK_SIZE, &written);
        if (kr == D_SUCCESS) s.dirty = false;
        return kr;
    }

    // The slot holding `block`, or a free one (the least recently used evicted) for it.
    Slot* find(uint32_t block, bool& hit) {
        Slot* victim = nullptr;
        for (Slot& s : slots) {
            if (s.used && s.block == block) {
                hit = true;
                s.last_use = ++clock;
                return &s;
            }
            if (!s.used) {
                if (!victim || victim->used) victim = &s;  // a free slot before any eviction
            } else if (!victim || (victim->used && s.last_use < victim->last_use)) {
                victim = &s;
            }
        }
        hit = false;
#ifndef BLOCKCACHE_DROP_DIRTY
        if (victim->used && victim->dirty && write_back(*victim) != D_SUCCESS) return nullptr;
#endif
        victim->used = true;
        victim->dirty = false;
        victim->block = block;
        victim->last_use = ++clock;
        return victim;
    }

    kern_return_t read(uint32_t block, char* out) {
        bool hit = false;
        Slot* s = find(block, hit);
        if (!s) return D_IO_ERROR;
        if (!hit) {
            io_buf_ptr_t data = nullptr;
            mach_msg_type_number_t n = 0;
            kern_return_t kr = device_read(disk, D_READ, block, BLOCK_SIZE, &data, &n);
            if (kr != D_SUCCESS || n != BLOCK_SIZE) {
                s->used = false;
                return kr != D_SUCCESS ? kr : D_IO_ERROR;
            }
            std::memcpy(s->data, data, BLOCK_SIZE);
            (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(data), n);
        }
        std::memcpy(out, s->data, BLOCK_SIZE);
        return KERN_SUCCESS;
    }

    kern_return_t write(uint32_t block, const char* in) {
        bool hit = false;
        Slot* s = find(block, hit);
        if (!s) return D_IO_ERROR;
        std::memcpy(s->data, in, BLOCK_SIZE);
        s->dirty = true;
#ifdef BLOCKCACHE_WRITE_THROUGH
        return write_back(*s);
#else
        return KERN_SUCCESS;
#endif
    }

    kern_return_t sync() {
        for (Slot& s : slots)
            if (s.used && s.dirty)
                if (kern_return_t kr = write_back(s); kr != D_SUCCESS) return kr;
        return KERN_SUCCESS;
    }
};

}  // namespace

int block_server() {
    static Cache cache;  // static: too big for comfort on the task's stack; reset for each run
    cache = Cache{};
    mach_port_t master = MACH_PORT_NULL, port = MACH_PORT_NULL;
    if (get_privileged_ports(nullptr, &master) != KERN_SUCCESS) return 1;
    if (device_open(master, D_READ | D_WRITE, "hd0", &cache.disk) != D_SUCCESS) return 1;
    (void)mach_port_deallocate(mach_task_self(), master);
    int status[DEV_GET_RECORDS_COUNT];
    mach_msg_type_number_t count = DEV_GET_RECORDS_COUNT;
    if (device_get_status(cache.disk, DEV_GET_RECORDS, status, &count) != D_SUCCESS) return 1;
    const uint32_t records = static_cast<uint32_t>(status[DEV_GET_RECORDS_DEVICE_RECORDS]);
    if (bootstrap_check_in(bootstrap_port, "block", &port) != KERN_SUCCESS) return 1;
    for (;;) {
        struct {
            block_request req;
            mach_msg_trailer_t trailer;
        } in{};
        if (mach_msg(&in.req.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
        block_reply out{};
        const mach_msg_id_t id = in.req.head.msgh_id;
        const uint32_t block = in.req.block;
        if (id != BLOCK_READ && id != BLOCK_WRITE && id != BLOCK_SYNC)
            out.result = MIG_BAD_ID;
        else if (id != BLOCK_SYNC && block >= records)
            out.result = D_INVALID_RECNUM;
        else if (id == BLOCK_READ)
            out.result = cache.read(block, out.data);
        else if (id == BLOCK_WRITE)
            out.result = cache.write(block, in.req.data);
        else
            out.result = cache.sync();
        if (!MACH_PORT_VALID(in.req.head.msgh_remote_port)) continue;  // nobody to answer
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(in.req.head.msgh_bits), 0);
        out.head.msgh_size = sizeof out;
        out.head.msgh_remote_port = in.req.head.msgh_remote_port;
        out.head.msgh_id = id + BLOCK_REPLY;
        (void)mach_msg(&out.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof out, 0, MACH_PORT_NULL, 0,
                       MACH_PORT_NULL);
    }
}

MACHSIM_PROGRAM(blockcache, "lab: a block server caches a slow disk's blocks for its client (reference)") {
    k.add_disk(machsim::DiskOptions{.records = 64, .seek_ticks = 1000, .record_ticks = 20});
    k.spawn("blockd", block_server, machsim::SpawnOptions{.daemon = true, .privileged = true});
}
