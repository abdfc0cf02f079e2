// The userpager lab: what your pager and the grader's clients share.
#pragma once

#include <mach/mach.h>

#include <cstdint>

enum : mach_msg_id_t {
    PAGER_MANAGE = 7000,       // a client asks the pager to back one of its regions
    PAGER_REPLY_OFFSET = 100,  // the answer (a mig_reply_error_t) has the request's id + 100
};

#pragma pack(push, 4)
struct pager_manage_request {  // sent with a send-once reply right
    mach_msg_header_t head;
    uint64_t address;  // the region's start: page-aligned, in the client's address space
    uint64_t size;     // its size: a non-zero multiple of vm_page_size
};
#pragma pack(pop)

// What word i of page `page` (counted from the region's start) must hold when it is paged in.
inline uint64_t pager_word(uint64_t page, uint64_t i) { return (page + 1) * 100000 + i; }

// A client: the grader's. It runs as a task of its own; its argument is a send right to your port.
using client_fn = int (*)(mach_port_t pager);

// Yours (userpager.cpp): runs `client`, pages in the regions it asks you to manage when it first
// touches them, and returns 0 once it has ended.
int pager(client_fn client);
