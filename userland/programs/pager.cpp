// pager: a user-level pager built from exception ports. The client's memory is
// "paged in" on demand by another task: every first touch of a page faults, the
// fault reaches the pager as an exception message, and the pager fills the page
// into the client's address space and lets the faulting load run again.
//
//   pager                                       kernel                          client
//   task_spawn client ------------------------------------------------------->  (send right to the pager's port)
//   task_set_exception_ports(client task, EXC_MASK_BAD_ACCESS, port)
//                                                                               vm_allocate 256 pages
//                                                                               vm_protect NONE: "not paged in"
//     <--------------------------------- "manage [a, a+1 MiB)" (RPC) ---------
//     --- "ok" ------------------------------------------------------------->  (the handler is in place by now)
//                                                                               x = *(page 3)   faults
//                                               EXC_BAD_ACCESS, page 3 <------
//     <---- mach_exception_raise (code[1] = address) --
//   vm_protect(client, page 3, RW)
//   vm_write(client, page 3, words 3000..3511)
//     ---- reply KERN_SUCCESS ------------------------>  resume --------------> the load runs again: 3000
//   ... one fault per page, the first time it is touched; re-reads cost nothing ...
//                                                                               x = *(end of region)  faults
//     <---- mach_exception_raise ----------------------
//     ---- reply KERN_FAILURE (not my region) -------->  SIGSEGV -------------> handler maps a zero page; 0
//     <--------------------------------- "done: sum, pages read" -------------
//   checks the sum against its own pattern
//
// The handler is the client's *task* exception port, set by the pager through
// the send right to the client's task port that task_spawn returned: the client
// itself never asks for paging. It only says which range the pager manages.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "mach/mach.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr vm_size_t kRegionPages = 256;  // 1 MiB reserved; only the pages touched are ever filled
constexpr uint32_t kReadOrder[] = {3, 0, 201, 17, 255, 17, 3};  // 5 distinct pages; 17 and 3 read twice
constexpr int kReads = sizeof kReadOrder / sizeof kReadOrder[0];
constexpr mach_msg_id_t kManage = 1200, kDone = 1201, kReplyOffset = 100;

// MIG's NDR record for this machine (little endian, ASCII, IEEE floats), as a MIG reply carries it.
constexpr NDR_record_t kNdr = {0, 0, 0, 0, 1, 0, 0, 0};

PagerStats g_stats;

struct ManageMsg {  // client -> pager: the range the pager pages in
    mach_msg_header_t head;
    uint64_t address;
    uint64_t size;
};

struct DoneMsg {  // client -> pager: what it read and what it added up
    mach_msg_header_t head;
    uint64_t sum;
    uint32_t reads;
    uint32_t page[kReads];
};

// Everything that arrives at the pager's one port: requests from the client
// and, through the same port, the kernel's exception messages about it.
struct PagerReceived {
    union {
        mach_msg_header_t head;
        ManageMsg manage;
        DoneMsg done;
        mach_exception_raise_request_t exc;
    } u;
    mach_msg_trailer_t trailer;
};

// What the pager puts in word `i` of page `p`: readable in a dump ("page 17 holds 17000..17511").
uint64_t pattern(uint64_t page, uint64_t i) { return page * 1000 + i; }
uint64_t words_per_page() { return vm_page_size / sizeof(uint64_t); }
uint64_t page_sum(uint64_t page) {
    uint64_t s = 0;
    for (uint64_t i = 0; i < words_per_page(); ++i) s += pattern(page, i);
    return s;
}

// --- the pager ---------------------------------------------------------------

// Fills one page of the client and opens it. The protection goes first:
// vm_write, like the client's own stores, needs the page writable.
kern_return_t page_in(mach_port_t client, vm_address_t page, uint64_t index) {
    kern_return_t kr = vm_protect(client, page, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE);
    if (kr != KERN_SUCCESS) return kr;
    std::vector<uint64_t> words(words_per_page());
    for (uint64_t i = 0; i < words.size(); ++i) words[i] = pattern(index, i);
    return vm_write(client, page, reinterpret_cast<vm_offset_t>(words.data()),
                    static_cast<mach_msg_type_number_t>(vm_page_size));
}

// Answers an exception message. The reply goes to the send-once right the
// kernel put in the request; KERN_SUCCESS resumes the faulting thread at the
// faulting load, anything else sends the fault on (here: to a signal).
void answer(const mach_exception_raise_request_t& req, kern_return_t ret) {
    exception_raise_reply_t out{};
    out.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(req.Head.msgh_bits), 0);
    out.Head.msgh_size = sizeof out;
    out.Head.msgh_remote_port = req.Head.msgh_remote_port;
    out.Head.msgh_id = req.Head.msgh_id + EXCEPTION_REPLY_ID_OFFSET;
    out.NDR = kNdr;
    out.RetCode = ret;
    mach_msg_return_t mr =
        mach_msg(&out.Head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) mach_error("pager: exception reply:", mr);
}

// One exception: page in if the address is ours, refuse otherwise.
void on_fault(mach_port_t client, const mach_exception_raise_request_t& req, vm_address_t base, vm_size_t size) {
    auto addr = static_cast<vm_address_t>(req.code[1]);  // code[0]: why (KERN_PROTECTION_FAILURE...), code[1]: where
    // The task in the message is a send right to the same port as `client`,
    // so it arrives under the same name: a fault of our client, not of a stranger.
    bool ours = req.task.name == client && req.exception == EXC_BAD_ACCESS;
    if (!ours || addr < base || addr - base >= size) {
        ++g_stats.refused;
        std::printf("pager: fault at %#lx (%s) is outside the %lu pages I manage: answering KERN_FAILURE\n",
                    static_cast<unsigned long>(addr), mach_error_string(static_cast<kern_return_t>(req.code[0])),
                    static_cast<unsigned long>(size / vm_page_size));
        answer(req, KERN_FAILURE);
        return;
    }
    vm_address_t page = addr & ~(vm_page_size - 1);
    uint64_t index = (page - base) / vm_page_size;
    kern_return_t kr = page_in(client, page, index);
    if (kr == KERN_SUCCESS) {
        ++g_stats.faults;
        std::printf("pager: fault %d: client touched %#lx, page %3llu of %lu: paged in (%llu..%llu), resuming it\n",
                    g_stats.faults, static_cast<unsigned long>(addr), static_cast<unsigned long long>(index),
                    static_cast<unsigned long>(size / vm_page_size), static_cast<unsigned long long>(pattern(index, 0)),
                    static_cast<unsigned long long>(pattern(index, words_per_page() - 1)));
    } else {
        mach_error("pager: page in:", kr);
    }
    answer(req, kr);
}

int client_main(mach_port_t pager);

int pager_main() {
    // One port for everything: the client's requests and its exceptions. We
    // hold a send right to it because task_set_exception_ports copies one.
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port);
    if (kr == KERN_SUCCESS) kr = mach_port_insert_right(mach_task_self(), port, port, MACH_MSG_TYPE_MAKE_SEND);
    if (kr != KERN_SUCCESS) {
        mach_error("pager: port:", kr);
        return 1;
    }
    mach_port_t client = machsim::task_spawn("client", client_main, port, MACH_MSG_TYPE_COPY_SEND);
    if (client == MACH_PORT_NULL) {
        std::fprintf(stderr, "pager: cannot start the client\n");
        return 1;
    }
    // The client may already be running: it faults only after our answer to
    // its "manage" request, and we answer that only after this call.
    kr = task_set_exception_ports(client, EXC_MASK_BAD_ACCESS, port, EXCEPTION_DEFAULT | MACH_EXCEPTION_CODES,
                                  THREAD_STATE_NONE);
    if (kr != KERN_SUCCESS) {
        mach_error("pager: task_set_exception_ports:", kr);
        return 1;
    }
    std::printf("pager: I am the client's EXC_BAD_ACCESS handler (port %#x)\n", port);

    vm_address_t base = 0;
    vm_size_t size = 0;
    for (bool done = false; !done;) {
        PagerReceived in{};
        mach_msg_return_t mr =
            mach_msg(&in.u.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("pager: receive:", mr);
            return 1;
        }
        switch (in.u.head.msgh_id) {
        case MACH_EXCEPTION_RAISE_ID:
            on_fault(client, in.u.exc, base, size);
            // The request carried a send right to the faulting thread and one to its task.
            (void)mach_port_deallocate(mach_task_self(), in.u.exc.thread.name);
            (void)mach_port_deallocate(mach_task_self(), in.u.exc.task.name);
            break;
        case kManage: {
            base = in.u.manage.address;
            size = in.u.manage.size;
            std::printf("pager: managing %#lx-%#lx for the client (%lu pages, none paged in)\n",
                        static_cast<unsigned long>(base), static_cast<unsigned long>(base + size),
                        static_cast<unsigned long>(size / vm_page_size));
            mach_msg_header_t ok{};
            ok.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
            ok.msgh_size = sizeof ok;
            ok.msgh_remote_port = in.u.head.msgh_remote_port;
            ok.msgh_id = kManage + kReplyOffset;
            mr = mach_msg(&ok, MACH_SEND_MSG, sizeof ok, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS) mach_error("pager: manage reply:", mr);
            break;
        }
        case kDone: {
            const DoneMsg& d = in.u.done;
            uint64_t expected = 0;
            for (uint32_t k = 0; k < d.reads && k < kReads; ++k) expected += page_sum(d.page[k]);
            g_stats.client_sum = d.sum;
            g_stats.expected_sum = expected;
            g_stats.reads = static_cast<int>(d.reads);
            std::printf("pager: the client read %u pages with %d faults; its sum %llu %s the %llu my pages hold\n",
                        d.reads, g_stats.faults, static_cast<unsigned long long>(d.sum),
                        d.sum == expected ? "is" : "is NOT", static_cast<unsigned long long>(expected));
            done = true;
            break;
        }
        default:
            mach_msg_destroy(&in.u.head);
            break;
        }
    }
    (void)mach_port_deallocate(mach_task_self(), client);
    (void)mach_port_deallocate(mach_task_self(), port);
    (void)mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_RECEIVE, -1);
    return g_stats.client_sum == g_stats.expected_sum ? 0 : 1;
}

// --- the client --------------------------------------------------------------

// The one load the pager refuses, and what the client's SIGSEGV handler did
// about it. volatile sig_atomic_t, as for any flag a signal handler sets: the
// compiler must not keep a copy read before the load that faulted.
vm_address_t g_stray = 0;
volatile std::sig_atomic_t g_stray_backed = 0;

// A refused fault becomes SIGSEGV; caught, the load runs again when the
// handler returns, so the handler must make the address readable: it backs the
// page with zero-filled memory of the client's own. If it cannot, it restores
// the default action so that the retry ends the task instead of faulting forever.
void back_with_zero_page(int) {
    vm_address_t page = g_stray & ~(vm_page_size - 1);
    if (vm_allocate(mach_task_self(), &page, vm_page_size, VM_FLAGS_FIXED) == KERN_SUCCESS) {
        g_stray_backed = 1;
        return;
    }
    SignalAction dfl{};
    (void)signal_action(sig::SEGV, &dfl, nullptr);
}

int client_main(mach_port_t pager) {
    vm_size_t size = kRegionPages * vm_page_size;
    vm_address_t base = 0;
    kern_return_t kr = vm_allocate(mach_task_self(), &base, size, VM_FLAGS_ANYWHERE);
    // VM_PROT_NONE marks every page "not paged in": the first touch of each faults.
    if (kr == KERN_SUCCESS) kr = vm_protect(mach_task_self(), base, size, FALSE, VM_PROT_NONE);
    if (kr != KERN_SUCCESS) {
        mach_error("client: reserve:", kr);
        return 1;
    }
    std::printf("client: reserved %lu pages at %#lx, all VM_PROT_NONE\n", static_cast<unsigned long>(kRegionPages),
                static_cast<unsigned long>(base));

    // Tell the pager its range and wait for the answer: by then it is our exception handler.
    union {
        ManageMsg out;
        struct {
            mach_msg_header_t head;
            mach_msg_trailer_t trailer;
        } in;
    } rpc{};
    mach_port_t reply = mig_get_reply_port();
    rpc.out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    rpc.out.head.msgh_size = sizeof rpc.out;
    rpc.out.head.msgh_remote_port = pager;
    rpc.out.head.msgh_local_port = reply;
    rpc.out.head.msgh_id = kManage;
    rpc.out.address = base;
    rpc.out.size = size;
    mach_msg_return_t mr = mach_msg(&rpc.out.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof rpc.out, sizeof rpc.in, reply,
                                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS || rpc.in.head.msgh_id != kManage + kReplyOffset) {
        mach_error("client: manage:", mr);
        return 1;
    }

    // Plain loads through a pointer: the client does not know or care which pages are in yet.
    DoneMsg done{};
    for (uint32_t p : kReadOrder) {
        const volatile uint64_t* words = reinterpret_cast<const volatile uint64_t*>(base + p * vm_page_size);
        uint64_t sum = 0;
        for (uint64_t i = 0; i < words_per_page(); ++i) sum += words[i];
        std::printf("client: page %3u holds %llu..%llu (sum %llu), tick %llu\n", p,
                    static_cast<unsigned long long>(words[0]),
                    static_cast<unsigned long long>(words[words_per_page() - 1]), static_cast<unsigned long long>(sum),
                    static_cast<unsigned long long>(machsim::now()));
        done.sum += sum;
        done.page[done.reads++] = p;
    }

    // One load the pager will not serve: the first word past the region.
    g_stray = base + size;
    SignalAction catch_segv{};
    catch_segv.kind = SignalAction::Handle;
    catch_segv.handler = back_with_zero_page;
    if ((kr = signal_action(sig::SEGV, &catch_segv, nullptr)) != KERN_SUCCESS) {
        mach_error("client: signal_action:", kr);
        return 1;
    }
    uint64_t stray = *reinterpret_cast<const volatile uint64_t*>(g_stray);
    bool backed = g_stray_backed;
    std::printf("client: %#lx, past the region, read %llu: %s\n", static_cast<unsigned long>(g_stray),
                static_cast<unsigned long long>(stray),
                backed ? "the pager refused it; SIGSEGV, and my handler mapped a zero page there"
                       : "the pager refused it, yet the load succeeded without my handler");
    (void)vm_deallocate(mach_task_self(), g_stray & ~(vm_page_size - 1), vm_page_size);

    std::printf("client: %u page reads, sum %llu\n", done.reads, static_cast<unsigned long long>(done.sum));
    done.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    done.head.msgh_size = sizeof done;
    done.head.msgh_remote_port = pager;
    done.head.msgh_id = kDone;
    mr = mach_msg(&done.head, MACH_SEND_MSG, sizeof done, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) {
        mach_error("client: done:", mr);
        return 1;
    }
    (void)mach_port_deallocate(mach_task_self(), pager);
    (void)vm_deallocate(mach_task_self(), base, size);
    return backed && stray == 0 ? 0 : 1;
}

}  // namespace

PagerStats pager_stats() { return g_stats; }

Program pager_program() {
    return {"pager",
            "a user-level pager: the client's page faults arrive as exception messages and are paged in by vm_write",
            [](Kernel& k) {
                g_stats = {};
                g_stray = 0;
                g_stray_backed = 0;
                k.spawn("pager", pager_main);
            }};
}

}  // namespace machsim::demos
