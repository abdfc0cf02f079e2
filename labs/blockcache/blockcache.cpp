// Lab: a block server with a cache, over a slow disk. README.md says what to write;
// blockcache.h has the constants and the messages.
#include "labs/blockcache/blockcache.h"

#include <cstdio>
#include <cstring>

#include <machsim.h>
#include <servers/bootstrap.h>

int block_server() {
    // TODO: open "hd0", check in "block", then serve BLOCK_READ, BLOCK_WRITE and BLOCK_SYNC
    // requests from a cache of at most CACHE_BLOCKS blocks (README.md).
    return 1;
}

// Your own try-out program: a client that writes a block, reads it back and syncs.
namespace {

kern_return_t ask(mach_port_t server, mach_msg_id_t id, uint32_t block, const char* data, block_reply& out) {
    union {
        block_request req;
        struct {
            block_reply rep;
            mach_msg_trailer_t trailer;
        } in;
    } m{};
    m.req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    m.req.head.msgh_size = sizeof m.req;
    m.req.head.msgh_remote_port = server;
    m.req.head.msgh_local_port = mig_get_reply_port();
    m.req.head.msgh_id = id;
    m.req.block = block;
    if (data) std::memcpy(m.req.data, data, BLOCK_SIZE);
    mach_msg_return_t mr = mach_msg(&m.req.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof m.req, sizeof m.in,
                                    m.req.head.msgh_local_port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) return mr;
    out = m.in.rep;
    return out.result;
}

int client() {
    mach_port_t server = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, "block", &server);
    for (int tries = 0; kr == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, "block", &server);
    }
    if (kr != KERN_SUCCESS) return 1;
    char data[BLOCK_SIZE];
    std::snprintf(data, sizeof data, "hello, block 3");
    block_reply rep{};
    if (ask(server, BLOCK_WRITE, 3, data, rep) != KERN_SUCCESS) return 1;
    uint64_t t0 = machsim::now();
    if (ask(server, BLOCK_READ, 3, nullptr, rep) != KERN_SUCCESS) return 1;
    std::printf("client: block 3 says \"%s\" (%llu ticks)\n", rep.data, (unsigned long long)(machsim::now() - t0));
    return ask(server, BLOCK_SYNC, 0, nullptr, rep) == KERN_SUCCESS ? 0 : 1;
}

}  // namespace

MACHSIM_PROGRAM(blockcache, "lab: a block server caches a slow disk's blocks for its client") {
    k.add_disk(machsim::DiskOptions{.records = 64, .seek_ticks = 1000, .record_ticks = 20});
    k.spawn("blockd", block_server, machsim::SpawnOptions{.daemon = true, .privileged = true});
    k.spawn("client", client);
}
