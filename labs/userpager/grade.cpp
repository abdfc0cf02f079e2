// The userpager lab's grader (README.md has the assignment and the points). It runs the student's
// pager with clients of its own, in programs registered here; a client checks every word it reads.
#include "labs/grade.h"

#include <csignal>

#include "labs/userpager/userpager.h"

namespace {

using lab::give_up;

uint64_t words_per_page() { return vm_page_size / sizeof(uint64_t); }

// Reserves `pages` pages, every one VM_PROT_NONE ("not paged in"): 0 if it cannot.
vm_address_t reserve(vm_size_t pages) {
    vm_address_t a = 0;
    if (vm_allocate(mach_task_self(), &a, pages * vm_page_size, VM_FLAGS_ANYWHERE) != KERN_SUCCESS ||
        vm_protect(mach_task_self(), a, pages * vm_page_size, FALSE, VM_PROT_NONE) != KERN_SUCCESS)
        return 0;
    return a;
}

// PAGER_MANAGE of [address, address + size): the answer's RetCode, or mach_msg's error.
kern_return_t manage(mach_port_t pager, uint64_t address, uint64_t size) {
    union {
        pager_manage_request req;
        struct {
            mig_reply_error_t err;
            mach_msg_max_trailer_t trailer;
        } in;
    } buf{};
    buf.req.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.req.head.msgh_size = sizeof buf.req;
    buf.req.head.msgh_remote_port = pager;
    buf.req.head.msgh_local_port = mig_get_reply_port();
    buf.req.head.msgh_id = PAGER_MANAGE;
    buf.req.address = address;
    buf.req.size = size;
    mach_msg_return_t mr = mach_msg(&buf.req.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.req, sizeof buf.in,
                                    buf.req.head.msgh_local_port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) return mr;
    if (buf.in.err.Head.msgh_id != PAGER_MANAGE + PAGER_REPLY_OFFSET) return MIG_REPLY_MISMATCH;
    return buf.in.err.RetCode;
}

bool managed(mach_port_t pager, vm_address_t a, vm_size_t pages) {
    if (!a) return give_up("the client could not reserve {} pages", pages) == 0;
    kern_return_t kr = manage(pager, a, pages * vm_page_size);
    if (kr != KERN_SUCCESS) give_up("PAGER_MANAGE of {} fresh pages: {}, not KERN_SUCCESS", pages, mach_error_string(kr));
    return kr == KERN_SUCCESS;
}

// Whether page `page` of the region at `base` holds what the pager must put there (plain loads:
// the first one faults). Says which word is wrong if not.
bool page_holds(vm_address_t base, uint64_t page) {
    const volatile uint64_t* w = reinterpret_cast<const volatile uint64_t*>(base + page * vm_page_size);
    for (uint64_t i = 0; i < words_per_page(); ++i)
        if (w[i] != pager_word(page, i))
            return give_up("page {} word {} holds {}, not {}", page, i, static_cast<uint64_t>(w[i]),
                           pager_word(page, i)) == 0;
    return true;
}

// Two regions; pages read in an order of their own, some twice: 7 distinct pages.
int client_read(mach_port_t pager) {
    vm_address_t a = reserve(64), b = reserve(8);
    if (!managed(pager, a, 64) || !managed(pager, b, 8)) return 1;
    for (uint64_t p : {3, 0, 40, 17, 63, 17, 3})
        if (!page_holds(a, p)) return 1;
    for (uint64_t p : {7, 0, 7})
        if (!page_holds(b, p)) return 1;
    return 0;
}

// The first touch of a page is a store: the page must come in writable, and keep what is stored.
int client_write(mach_port_t pager) {
    vm_address_t a = reserve(8);
    if (!managed(pager, a, 8)) return 1;
    volatile uint64_t* w = reinterpret_cast<volatile uint64_t*>(a + 2 * vm_page_size);
    w[5] = 42;
    if (w[5] != 42) return give_up("page 2 word 5 holds {} after the client stored 42 in it", static_cast<uint64_t>(w[5]));
    if (w[4] != pager_word(2, 4) || w[6] != pager_word(2, 6))
        return give_up("the words around the store in page 2 do not hold what the pager must put there");
    w[5] = pager_word(2, 5);
    return page_holds(a, 2) ? 0 : 1;  // no second fault: the page is in
}

// The page a refused load touched; the signal handler makes it readable (zero-filled), so the
// load runs again and reads 0. volatile sig_atomic_t: a signal handler sets it.
vm_address_t g_stray = 0;
volatile std::sig_atomic_t g_refused = 0;

void open_stray_page(int) {
    g_refused = g_refused + 1;
    if (g_refused > 1) {  // a second refusal is not the stray load's: let the retried load end the client
        machsim::SignalAction dfl{};
        (void)machsim::signal_action(machsim::sig::BUS, &dfl, nullptr);
        return;
    }
    (void)vm_protect(mach_task_self(), g_stray & ~(vm_page_size - 1), vm_page_size, FALSE, VM_PROT_READ);
}

int client_outside(mach_port_t pager) {
    g_refused = 0;  // the grader runs this client many times in one process
    vm_address_t a = reserve(4), other = reserve(1);
    if (!managed(pager, a, 4) || !other) return 1;
    if (kern_return_t kr = manage(pager, a + 8, vm_page_size); kr != KERN_INVALID_ARGUMENT)
        return give_up("PAGER_MANAGE of an address that is not page-aligned: {}, not KERN_INVALID_ARGUMENT",
                       mach_error_string(kr));
    if (kern_return_t kr = manage(pager, a, 0); kr != KERN_INVALID_ARGUMENT)
        return give_up("PAGER_MANAGE of 0 bytes: {}, not KERN_INVALID_ARGUMENT", mach_error_string(kr));
    machsim::SignalAction act{};
    act.kind = machsim::SignalAction::Handle;
    act.handler = open_stray_page;
    // A refused fault on an allocated page is SIGBUS, as on macOS (SIGSEGV where nothing is mapped).
    if (machsim::signal_action(machsim::sig::BUS, &act, nullptr) != KERN_SUCCESS)
        return give_up("the client could not catch SIGBUS");
    g_stray = other;  // a region the client never asked the pager to manage
    uint64_t got = *reinterpret_cast<const volatile uint64_t*>(g_stray);
    if (g_refused != 1 || got != 0)
        return give_up("a load in a region the pager does not manage read {} and was {}refused: the pager must "
                       "answer KERN_FAILURE, so that the fault becomes a signal (SIGBUS)",
                       got, g_refused ? "" : "not ");
    return page_holds(a, 1) ? 0 : 1;  // and the pager still serves its own
}

void spawn_pager(machsim::Kernel& k, client_fn client) {
    k.spawn("pager", [client] { return pager(client); });
}

// Exception messages the pager received: one per page fault it was asked to serve.
int faults(const lab::Run& r) { return r.received("pager", MACH_EXCEPTION_RAISE_ID); }

}  // namespace

MACHSIM_PROGRAM(up_read, "userpager grader: a client reads pages of two regions, some twice") {
    spawn_pager(k, client_read);
}
MACHSIM_PROGRAM(up_write, "userpager grader: a client's first touch of a page is a store") {
    spawn_pager(k, client_write);
}
MACHSIM_PROGRAM(up_outside, "userpager grader: bad requests, and a load outside the managed regions") {
    spawn_pager(k, client_outside);
}
MACHSIM_PROGRAM(up_quick, "userpager grader: a client that ends at once") {
    spawn_pager(k, [](mach_port_t) { return 0; });
}

LAB_TEST("pages come in with their contents when first touched, each once", 25) {
    lab::Run r = lab::run("up_read");
    t.expect_clean(r);
    t.expect(faults(r) == 7, "the pager received {} page faults for 7 distinct pages: each page faults once, "
                             "when it is first touched",
             faults(r));
}

LAB_TEST("a page whose first touch is a store comes in writable and keeps what is stored", 15) {
    lab::Run r = lab::run("up_write");
    t.expect_clean(r);
    t.expect(faults(r) == 1, "the pager received {} page faults for one page", faults(r));
}

LAB_TEST("bad requests get KERN_INVALID_ARGUMENT; a fault outside the regions is refused and becomes SIGBUS", 25) {
    t.expect_clean(lab::run("up_outside"));
}

LAB_TEST("the pager returns once its client has ended, even one that ends at once", 15) {
    t.expect_clean(lab::run("up_quick"));
}

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one, four programs", 20) {
    for (const char* program : {"up_read", "up_write", "up_outside", "up_quick"}) {
        lab::under_schedules(t, program);
        if (t.failed()) return;
    }
}

LAB_MAIN("userpager")
