// A solution of labs/userpager, for the tests: `make grade LAB=userpager SOLUTION=...` must give it
// every point. Two flawed variants (tests/run.sh):
//   -DUSERPAGER_NO_PROTECT    it writes a page without making it writable first: vm_write fails as
//                             the client's own stores would, every fault is answered with that
//                             error, and only the test of the pager's end passes;
//   -DUSERPAGER_SUCCESS_ONLY  it answers every fault KERN_SUCCESS and pages nothing in: the load
//                             faults again, for ever, until the grader's time limit stops the run.
#include "labs/userpager/userpager.h"

#include <mach/notify.h>
#include <machsim.h>

#include <cstring>
#include <vector>

namespace {

struct Region {
    vm_address_t base;
    vm_size_t size;
};

// Fills page `page` of the region at `base` in the client's memory, and opens it to the client.
kern_return_t page_in(task_t client, vm_address_t base, uint64_t page) {
    vm_address_t at = base + page * vm_page_size;
#ifndef USERPAGER_NO_PROTECT
    // First: vm_write, like the client's own stores, needs the page writable.
    if (kern_return_t kr = vm_protect(client, at, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE);
        kr != KERN_SUCCESS)
        return kr;
#endif
    std::vector<uint64_t> words(vm_page_size / sizeof(uint64_t));
    for (uint64_t i = 0; i < words.size(); ++i) words[i] = pager_word(page, i);
    return vm_write(client, at, reinterpret_cast<vm_offset_t>(words.data()),
                    static_cast<mach_msg_type_number_t>(vm_page_size));
}

// An answer with only a code: a mig_reply_error_t to the request's reply right, id + 100.
void answer(const mach_msg_header_t& req, kern_return_t code) {
    mig_reply_error_t r{};
    r.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(req.msgh_bits), 0);
    r.Head.msgh_size = sizeof r;
    r.Head.msgh_remote_port = req.msgh_remote_port;
    r.Head.msgh_id = req.msgh_id + 100;
    NDR_record_t ndr = MACHSIM_NDR_NATIVE;
    std::memcpy(r.NDR, &ndr, sizeof ndr);
    r.RetCode = code;
    if (mach_msg(&r.Head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof r, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL) !=
        MACH_MSG_SUCCESS)
        mach_msg_destroy(&r.Head);  // the asker is gone; its reply right is a dead name now
}

// A page fault of the client: paged in if it falls in a region, refused otherwise.
kern_return_t on_fault(task_t client, const std::vector<Region>& regions, const mach_exception_raise_request_t& exc) {
#ifdef USERPAGER_SUCCESS_ONLY
    return KERN_SUCCESS;
#endif
    // The task arrives under our name for the client's task port only if it is the client's fault.
    if (exc.exception != EXC_BAD_ACCESS || exc.task.name != client) return KERN_FAILURE;
    auto addr = static_cast<vm_address_t>(exc.code[1]);
    for (const Region& r : regions)
        if (addr >= r.base && addr - r.base < r.size) return page_in(client, r.base, (addr - r.base) / vm_page_size);
    return KERN_FAILURE;
}

}  // namespace

int pager(client_fn client) {
    mach_port_t port = MACH_PORT_NULL, notify = MACH_PORT_NULL, set = MACH_PORT_NULL;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) != KERN_SUCCESS ||
        mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS ||
        mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &notify) != KERN_SUCCESS ||
        mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set) != KERN_SUCCESS ||
        mach_port_move_member(mach_task_self(), port, set) != KERN_SUCCESS ||
        mach_port_move_member(mach_task_self(), notify, set) != KERN_SUCCESS)
        return 1;
    task_t child = machsim::task_spawn("client", client, port, MACH_MSG_TYPE_COPY_SEND);
    if (!MACH_PORT_VALID(child)) return 1;
    // Before any PAGER_MANAGE is answered, so before the client can touch a page it asked about. It
    // fails (MACH_SEND_INVALID_DEST) only if the client has already ended: the dead-name
    // notification, asked for next, then comes at once.
    (void)task_set_exception_ports(child, EXC_MASK_BAD_ACCESS, port, EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES,
                                   THREAD_STATE_NONE);
    mach_port_t previous = MACH_PORT_NULL;
    if (mach_port_request_notification(mach_task_self(), child, MACH_NOTIFY_DEAD_NAME, 1, notify,
                                       MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous) != KERN_SUCCESS)
        return 1;
    std::vector<Region> regions;
    for (;;) {
        struct {
            union {
                mach_msg_header_t head;
                pager_manage_request manage;
                mach_exception_raise_request_t exc;
                mach_dead_name_notification_t dead;
            } msg;
            mach_msg_max_trailer_t trailer;
        } in{};
        if (mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, set, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
        if (in.msg.head.msgh_local_port == notify) return 0;  // the client has ended
        if (in.msg.head.msgh_id == MACH_EXCEPTION_RAISE_ID && in.msg.head.msgh_size == sizeof in.msg.exc) {
            answer(in.msg.head, on_fault(child, regions, in.msg.exc));
            // It carried send rights to the faulting thread and its task.
            (void)mach_port_deallocate(mach_task_self(), in.msg.exc.thread.name);
            (void)mach_port_deallocate(mach_task_self(), in.msg.exc.task.name);
        } else if (in.msg.head.msgh_id == PAGER_MANAGE && in.msg.head.msgh_size == sizeof in.msg.manage) {
            const pager_manage_request& m = in.msg.manage;
            bool ok = m.size != 0 && m.address % vm_page_size == 0 && m.size % vm_page_size == 0;
            if (ok) regions.push_back({static_cast<vm_address_t>(m.address), static_cast<vm_size_t>(m.size)});
            answer(in.msg.head, ok ? KERN_SUCCESS : KERN_INVALID_ARGUMENT);
        } else {
            mach_msg_destroy(&in.msg.head);
        }
    }
}
