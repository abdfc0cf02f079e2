// The blockcache lab's constants and messages, shared by your server and the grader's tasks.
#pragma once

#include <device/device.h>
#include <mach/mach.h>

constexpr uint32_t BLOCK_SIZE = 512;    // one record of the disk "hd0"
constexpr uint32_t CACHE_BLOCKS = 8;    // the most blocks your server may keep in memory
enum : mach_msg_id_t {
    BLOCK_READ = 900,   // reply: the block's contents
    BLOCK_WRITE = 901,  // reply: at once (the block may reach the disk later)
    BLOCK_SYNC = 902,   // reply: once every block written so far is on the disk
};
constexpr mach_msg_id_t BLOCK_REPLY = 100;  // a reply's msgh_id is its request's + 100

struct block_request {
    mach_msg_header_t head;  // msgh_local_port: the client's send-once reply right
    uint32_t block;          // BLOCK_READ, BLOCK_WRITE: the block number
    char data[BLOCK_SIZE];   // BLOCK_WRITE: the block's new contents
};

struct block_reply {
    mach_msg_header_t head;
    kern_return_t result;    // KERN_SUCCESS; D_INVALID_RECNUM for a block past the disk's end; MIG_BAD_ID
    char data[BLOCK_SIZE];   // BLOCK_READ: the block's contents
};

// Yours (blockcache.cpp): the server task's body. It runs privileged (get_privileged_ports
// works) and as a daemon: it serves until the run ends.
int block_server();
