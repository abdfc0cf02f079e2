// Virtual memory as a Mach user sees it: vm_allocate, vm_deallocate, vm_protect,
// vm_inherit, vm_read, vm_write, vm_copy, vm_region_64, memory entries and vm_map,
// the mach_vm_* spellings, inheritance into tasks made with task_spawn, shared
// regions between tasks, and the faults that raw pointers take.
// Expectations come from /work/shared/MACH-REFERENCE.md (§2.1 codes, R24, R27) and,
// where it is silent, from GNU Mach and XNU (named in the test).
// Out-of-line memory in messages is covered by msg_complex_test.cpp, not here.
// No VM call has KERN_INVALID_VALUE among its codes in the reference, so none is tested for it.
// Every run also checks that no memory object (memfd) outlives its kernel (run_vm).
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tests/support.h"

namespace {

constexpr vm_prot_t kRW = VM_PROT_READ | VM_PROT_WRITE;

// A child task with nothing of its parent's memory (Mach's task_create(inherit_memory = FALSE)).
const machsim::SpawnOptions kNoMemory{.daemon = false, .inherit_memory = false};

mach_port_t self() { return mach_task_self(); }
vm_size_t page() { return vm_page_size; }

// --- memory through raw pointers ---------------------------------------------

using mt::peek;
using mt::poke;

void fill(vm_address_t a, vm_size_t n, uint8_t v) { std::memset(reinterpret_cast<void*>(a), v, n); }

// True when every byte of [a, a + n) is v.
bool all_bytes(vm_address_t a, vm_size_t n, uint8_t v) {
    const volatile uint8_t* p = reinterpret_cast<const volatile uint8_t*>(a);
    for (vm_size_t i = 0; i < n; ++i)
        if (p[i] != v) return false;
    return true;
}

vm_address_t allocate(vm_size_t size, mach_port_t task = mach_task_self()) {
    vm_address_t a = 0;
    CHECK_KR(vm_allocate(task, &a, size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
    return a;
}

// A page with protection `prot` holding the word `value` (for "pointer into read-only memory" cases).
vm_address_t page_holding(uint64_t value, vm_prot_t prot) {
    vm_address_t a = allocate(page());
    std::memcpy(reinterpret_cast<void*>(a), &value, sizeof value);
    CHECK_KR(vm_protect(self(), a, page(), FALSE, prot), KERN_SUCCESS);
    return a;
}

// --- regions -------------------------------------------------------------------

// What vm_region_64 says, with the packed info fields copied out.
struct Region {
    kern_return_t kr = KERN_FAILURE;
    vm_address_t start = 0;
    vm_size_t size = 0;
    vm_prot_t prot = -1;
    vm_prot_t max = -1;
    vm_inherit_t inherit = 99;
    uint64_t offset = ~uint64_t{0};
    boolean_t shared = 99;
    mach_msg_type_number_t count = 0;
    mach_port_t object = 0xdead;
};

// vm_region_64 from `addr`: the region holding it, else the next one above it.
Region region_from(vm_address_t addr, mach_port_t task = mach_task_self()) {
    Region r;
    vm_region_basic_info_data_64_t info{};
    r.start = addr;
    r.count = VM_REGION_BASIC_INFO_COUNT_64;
    r.kr = vm_region_64(task, &r.start, &r.size, VM_REGION_BASIC_INFO_64, reinterpret_cast<vm_region_info_t>(&info),
                        &r.count, &r.object);
    r.prot = info.protection;
    r.max = info.max_protection;
    r.inherit = info.inheritance;
    r.offset = info.offset;
    r.shared = info.shared;
    return r;
}

// True when a region of `task` holds addr.
bool is_mapped(vm_address_t addr, mach_port_t task = mach_task_self()) {
    Region r = region_from(addr, task);
    return r.kr == KERN_SUCCESS && r.start <= addr && addr - r.start < r.size;
}

// Every region of `task`, lowest first.
std::vector<Region> regions(mach_port_t task = mach_task_self()) {
    std::vector<Region> out;
    vm_address_t at = 0;
    for (int i = 0; i < 10000; ++i) {
        Region r = region_from(at, task);
        if (r.kr != KERN_SUCCESS) break;
        out.push_back(r);
        at = r.start + r.size;
    }
    return out;
}

// The regions of `task` that lie in [lo, hi).
std::vector<Region> regions_in(vm_address_t lo, vm_address_t hi, mach_port_t task = mach_task_self()) {
    std::vector<Region> out;
    for (const Region& r : regions(task))
        if (r.start < hi && r.start + r.size > lo) out.push_back(r);
    return out;
}

// --- time, ports and messages ---------------------------------------------------

void sleep_ms(mach_msg_timeout_t ms) { (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, ms); }

// Waits (in virtual time) until `name`, a send right to a task or port, has become a dead name.
bool wait_dead(mach_port_t name) {
    for (int i = 0; i < 2000; ++i) {
        if (mt::type_of(name) == MACH_PORT_TYPE_DEAD_NAME) return true;
        sleep_ms(1);
    }
    return false;
}

// A name that is not in the caller's space: allocated, then destroyed.
mach_port_name_t absent_name() {
    mach_port_t p = mt::new_receive_right();
    CHECK_KR(mach_port_mod_refs(self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
    return p;
}

// Two 64-bit words: enough for an address and a size.
struct WordMsg {
    mach_msg_header_t head;
    uint64_t word[2];
};
struct WordIn {
    WordMsg msg;
    mach_msg_max_trailer_t trailer;
};

mach_msg_return_t tell(mach_port_t to, uint64_t w0, uint64_t w1 = 0, mach_port_t reply = MACH_PORT_NULL,
                       mach_msg_type_name_t reply_disp = 0) {
    WordMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, reply_disp);
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = to;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = 500;
    m.word[0] = w0;
    m.word[1] = w1;
    return mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

mach_msg_return_t wait_words(mach_port_t on, WordIn& in, mach_msg_timeout_t ms) {
    std::memset(&in, 0, sizeof in);
    return mach_msg(&in.msg.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof in, on, ms, MACH_PORT_NULL);
}

// Waits up to a virtual second for a word message.
WordMsg hear(mach_port_t on) {
    WordIn in;
    CHECK_KR(wait_words(on, in, 1000), MACH_MSG_SUCCESS);
    return in.msg;
}

// Child side: makes the child's inbox and sends the parent a send right to it, with two words.
mach_port_t connect_parent(mach_port_t parent, uint64_t w0 = 0, uint64_t w1 = 0) {
    mach_port_t inbox = mt::new_receive_right();
    CHECK_KR(tell(parent, w0, w1, inbox, MACH_MSG_TYPE_MAKE_SEND), MACH_MSG_SUCCESS);
    return inbox;
}

// Parent side: the child's connect_parent(): its inbox (a send right) and its words.
struct Hello {
    mach_port_t down = MACH_PORT_NULL;
    uint64_t word[2] = {0, 0};
};
Hello accept_child(mach_port_t up) {
    WordMsg m = hear(up);
    Hello h;
    h.down = m.head.msgh_remote_port;
    h.word[0] = m.word[0];
    h.word[1] = m.word[1];
    CHECK(mt::type_of(h.down) == MACH_PORT_TYPE_SEND);
    return h;
}

// A memory entry in a port descriptor, and two words (an address and a size).
struct EntryMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t entry;
    uint64_t word[2];
};
struct EntryIn {
    EntryMsg msg;
    mach_msg_max_trailer_t trailer;
};

mach_msg_return_t send_entry(mach_port_t to, mach_port_t entry, uint64_t w0, uint64_t w1) {
    EntryMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = to;
    m.head.msgh_id = 600;
    m.body.msgh_descriptor_count = 1;
    m.entry.name = entry;
    m.entry.disposition = MACH_MSG_TYPE_COPY_SEND;
    m.entry.type = MACH_MSG_PORT_DESCRIPTOR;
    m.word[0] = w0;
    m.word[1] = w1;
    return mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

// Receives an EntryMsg; returns the entry's name in our space (MACH_PORT_NULL on failure).
mach_port_t receive_entry(mach_port_t on, uint64_t& w0, uint64_t& w1) {
    EntryIn in{};
    CHECK_KR(mach_msg(&in.msg.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof in, on, 1000, MACH_PORT_NULL),
             MACH_MSG_SUCCESS);
    CHECK(MACH_MSGH_BITS_IS_COMPLEX(in.msg.head.msgh_bits));
    CHECK(unsigned(in.msg.entry.disposition) == MACH_MSG_TYPE_PORT_SEND);
    w0 = in.msg.word[0];
    w1 = in.msg.word[1];
    return in.msg.entry.name;
}

// A memory entry for [addr, addr + size) of `task` with `prot`.
mach_port_t entry_for(vm_address_t addr, vm_size_t size, vm_prot_t prot, mach_port_t task = mach_task_self()) {
    memory_object_size_t s = size;
    mach_port_t e = MACH_PORT_NULL;
    CHECK_KR(mach_make_memory_entry_64(task, &s, addr, prot, &e, MACH_PORT_NULL), KERN_SUCCESS);
    return e;
}

kern_return_t map_entry(vm_address_t& at, vm_size_t size, mach_port_t entry, vm_offset_t offset, vm_prot_t cur,
                        vm_prot_t max, int flags = VM_FLAGS_ANYWHERE, boolean_t copy = FALSE,
                        vm_inherit_t inherit = VM_INHERIT_DEFAULT) {
    return vm_map(self(), &at, size, 0, flags, entry, offset, copy, cur, max, inherit);
}

// --- runs ------------------------------------------------------------------------

using mt::memory_objects;

// Runs the tasks `setup` spawns in a fresh kernel; checks that no memory object outlives it.
machsim::RunReport run_vm(const std::function<void(machsim::Kernel&)>& setup) {
    std::size_t before = memory_objects();
    machsim::RunReport r = mt::run_kernel(setup);
    CHECK_MESSAGE(memory_objects() == before, "memory objects outlived the kernel");
    return r;
}

machsim::RunReport run_one(std::function<void()> body) {
    return run_vm([&](machsim::Kernel& k) { k.spawn("test", body); });
}

const machsim::TaskReport& report_of(const machsim::RunReport& r, const char* name) {
    const machsim::TaskReport* t = r.task(name);
    REQUIRE(t);
    return *t;
}

// Runs `scenario` in a forked process, so that a kernel that throws or crashes on it
// fails this test instead of ending the test binary. The scenario fills `out`.
template <class F>
bool run_forked(F&& scenario, int (&out)[8]) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        int o[8];
        for (int& x : o) x = -1;
        scenario(o);
        ssize_t n = write(fds[1], o, sizeof o);
        _exit(n == static_cast<ssize_t>(sizeof o) ? 0 : 3);
    }
    close(fds[1]);
    ssize_t n = pid > 0 ? read(fds[0], out, sizeof out) : -1;
    close(fds[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    if (pid < 0) {
        FAIL_CHECK("fork failed");
        return false;
    }
    if (WIFSIGNALED(status)) {
        FAIL_CHECK("the scenario killed the process with signal " << WTERMSIG(status));
        return false;
    }
    CHECK(n == static_cast<ssize_t>(sizeof out));
    return n == static_cast<ssize_t>(sizeof out);
}

}  // namespace

TEST_SUITE("vm") {

// ================================================================================
// vm_allocate
// ================================================================================

TEST_CASE("vm_allocate ANYWHERE gives page-aligned, zero-filled, read-write memory usable as a pointer") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = 0xdead;
        CHECK_KR(vm_allocate(self(), &a, 3 * p + 1, VM_FLAGS_ANYWHERE), KERN_SUCCESS);  // rounds up to 4 pages
        REQUIRE(a != 0);
        CHECK(a % p == 0);
        CHECK(all_bytes(a, 4 * p, 0));
        Region g = region_from(a);
        CHECK_KR(g.kr, KERN_SUCCESS);
        CHECK(g.start == a);
        CHECK(g.size == 4 * p);
        CHECK(g.prot == kRW);
        CHECK(g.max == VM_PROT_ALL);
        CHECK(g.inherit == VM_INHERIT_COPY);  // VM_INHERIT_DEFAULT
        CHECK(g.offset == 0);
        CHECK(g.count == VM_REGION_BASIC_INFO_COUNT_64);
        CHECK(g.object == MACH_PORT_NULL);
        // The pointer and the kernel agree on the contents.
        auto* bytes = reinterpret_cast<uint8_t*>(a);
        for (vm_size_t i = 0; i < 4 * p; ++i) bytes[i] = static_cast<uint8_t>(i * 7);
        vm_offset_t data = 0;
        mach_msg_type_number_t n = 0;
        CHECK_KR(vm_read(self(), a, 4 * p, &data, &n), KERN_SUCCESS);
        CHECK(n == 4 * p);
        CHECK(std::memcmp(reinterpret_cast<void*>(data), bytes, 4 * p) == 0);
        CHECK_KR(vm_deallocate(self(), data, n), KERN_SUCCESS);
        CHECK_KR(vm_deallocate(self(), a, 4 * p), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("ANYWHERE allocations never overlap; memory given back and allocated again is zero-filled again") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        vm_address_t b = allocate(3 * p);
        vm_address_t c = allocate(p);
        CHECK((a + 2 * p <= b || b + 3 * p <= a));
        CHECK((a + 2 * p <= c || c + p <= a));
        CHECK((b + 3 * p <= c || c + p <= b));
        fill(a, 2 * p, 0xaa);
        fill(b, 3 * p, 0xbb);
        fill(c, p, 0xcc);
        CHECK(all_bytes(a, 2 * p, 0xaa));
        CHECK(all_bytes(b, 3 * p, 0xbb));
        CHECK_KR(vm_deallocate(self(), a, 2 * p), KERN_SUCCESS);
        vm_address_t again = a;
        CHECK_KR(vm_allocate(self(), &again, 2 * p, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(again == a);
        CHECK(all_bytes(a, 2 * p, 0));  // new pages, not the old contents
        CHECK(all_bytes(c, p, 0xcc));   // neighbours untouched
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_allocate FIXED at a free page-aligned address maps exactly there") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t hole = allocate(8 * p);  // a range we know is free once given back
        CHECK_KR(vm_deallocate(self(), hole, 8 * p), KERN_SUCCESS);
        vm_address_t a = hole + 2 * p;
        CHECK_KR(vm_allocate(self(), &a, 3 * p, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(a == hole + 2 * p);
        std::vector<Region> in = regions_in(hole, hole + 8 * p);
        REQUIRE(in.size() == 1);
        CHECK(in[0].start == hole + 2 * p);
        CHECK(in[0].size == 3 * p);
        CHECK(all_bytes(a, 3 * p, 0));
        poke(a + 3 * p - sizeof(int), 5);
        CHECK(peek(a + 3 * p - sizeof(int)) == 5);
        // The pages right next to it stay free: FIXED again just before and after works.
        vm_address_t before = hole + p, after = hole + 5 * p;
        CHECK_KR(vm_allocate(self(), &before, p, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK_KR(vm_allocate(self(), &after, p, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(regions_in(hole, hole + 8 * p).size() == 3);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// GNU Mach (vm_user.c) and XNU (mach_vm_allocate) truncate the address and round the
// size up on its own; docs/api.md says the same. One page asked for is one page mapped.
TEST_CASE("vm_allocate FIXED at an unaligned address rounds the address down and the size up on its own") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t hole = allocate(4 * p);
        CHECK_KR(vm_deallocate(self(), hole, 4 * p), KERN_SUCCESS);
        vm_address_t a = hole + p + 100;
        CHECK_KR(vm_allocate(self(), &a, p, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(a == hole + p);
        std::vector<Region> in = regions_in(hole, hole + 4 * p);
        REQUIRE(in.size() == 1);
        CHECK(in[0].start == hole + p);
        CHECK(in[0].size == p);  // not 2 pages: the size is rounded by itself
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_allocate FIXED over an existing mapping fails with KERN_NO_SPACE and leaves that mapping alone (R24)") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t hole = allocate(8 * p);
        CHECK_KR(vm_deallocate(self(), hole, 8 * p), KERN_SUCCESS);
        vm_address_t a = hole + 2 * p;
        CHECK_KR(vm_allocate(self(), &a, 3 * p, VM_FLAGS_FIXED), KERN_SUCCESS);
        fill(a, 3 * p, 0x5a);
        struct Try {
            vm_address_t at;
            vm_size_t size;
        } tries[] = {
            {a, 3 * p},              // exactly the same range
            {a + p, p},              // inside it
            {hole + p, 2 * p},       // overlapping its start
            {a + 2 * p, 2 * p},      // overlapping its end
            {hole, 8 * p},           // around it
            {a + 3 * p - 1, 1},      // its last byte, unaligned
        };
        for (const Try& t : tries) {
            CAPTURE(t.at - hole);
            CAPTURE(t.size);
            vm_address_t at = t.at;
            CHECK_KR(vm_allocate(self(), &at, t.size, VM_FLAGS_FIXED), KERN_NO_SPACE);
        }
        std::vector<Region> in = regions_in(hole, hole + 8 * p);
        REQUIRE(in.size() == 1);
        CHECK(in[0].start == a);
        CHECK(in[0].size == 3 * p);
        CHECK(all_bytes(a, 3 * p, 0x5a));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_allocate refuses bad flags, overflowing sizes, sizes beyond the address space and FIXED addresses "
          "outside it, and maps nothing") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t keep = allocate(p);
        std::size_t before = regions().size();
        vm_address_t a = 0;
        CHECK_KR(vm_allocate(self(), &a, p, 0x8), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_allocate(self(), &a, p, VM_FLAGS_ANYWHERE | 0x100), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_allocate(self(), &a, ~vm_size_t{0}, VM_FLAGS_ANYWHERE), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_allocate(self(), &a, ~vm_size_t{0} - 10, VM_FLAGS_ANYWHERE), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_allocate(self(), &a, vm_size_t{1} << 46, VM_FLAGS_ANYWHERE), KERN_NO_SPACE);  // 64 TiB
        a = 0x10000;  // far below the task's addresses
        CHECK_KR(vm_allocate(self(), &a, p, VM_FLAGS_FIXED), KERN_INVALID_ADDRESS);
        a = 0;
        CHECK_KR(vm_allocate(self(), &a, p, VM_FLAGS_FIXED), KERN_INVALID_ADDRESS);
        a = vm_address_t{1} << 62;  // far above them
        CHECK_KR(vm_allocate(self(), &a, p, VM_FLAGS_FIXED), KERN_INVALID_ADDRESS);
        // A FIXED range that wraps around the top of the address space.
        a = keep + 2 * p;
        kern_return_t kr = vm_allocate(self(), &a, ~vm_size_t{0} - 4 * p, VM_FLAGS_FIXED);
        CHECK((kr == KERN_INVALID_ADDRESS || kr == KERN_INVALID_ARGUMENT));
        CHECK(regions().size() == before);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_allocate ANYWHERE of size 0 succeeds, maps nothing and returns address 0 (R24)") {
    machsim::RunReport r = run_one([] {
        std::size_t before = regions().size();
        vm_address_t a = 0x1234;
        CHECK_KR(vm_allocate(self(), &a, 0, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        CHECK(a == 0);
        CHECK(regions().size() == before);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// R24: "vm_allocate(size 0) succeeds with address 0". GNU Mach and XNU both set
// *address = 0 before looking at the flags.
TEST_CASE("vm_allocate FIXED of size 0 succeeds, maps nothing and returns address 0 (R24)") {
    machsim::RunReport r = run_one([] {
        vm_address_t free_page = allocate(page());
        CHECK_KR(vm_deallocate(self(), free_page, page()), KERN_SUCCESS);
        std::size_t before = regions().size();
        vm_address_t a = free_page;
        CHECK_KR(vm_allocate(self(), &a, 0, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(regions().size() == before);
        CHECK_FALSE(is_mapped(free_page));
        CHECK(a == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_allocate with an unreadable or unwritable address pointer fails with KERN_INVALID_ADDRESS and maps "
          "nothing") {
    machsim::RunReport r = run_one([] {
        vm_address_t ro = page_holding(0, VM_PROT_READ);  // readable, not writable
        vm_address_t gone = allocate(page());
        CHECK_KR(vm_deallocate(self(), gone, page()), KERN_SUCCESS);
        std::size_t before = regions().size();
        CHECK_KR(vm_allocate(self(), nullptr, page(), VM_FLAGS_ANYWHERE), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_allocate(self(), reinterpret_cast<vm_address_t*>(gone), page(), VM_FLAGS_ANYWHERE),
                 KERN_INVALID_ADDRESS);
        CHECK_KR(vm_allocate(self(), reinterpret_cast<vm_address_t*>(ro), page(), VM_FLAGS_ANYWHERE),
                 KERN_INVALID_ADDRESS);
        CHECK(regions().size() == before);
        CHECK(peek(ro) == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// vm_deallocate
// ================================================================================

TEST_CASE("vm_deallocate removes the pages: vm_region_64 and vm_read no longer find them and a raw read ends the "
          "task with SIGSEGV") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        poke(a, 1);  // touched, so the pages are really in place before they go
        CHECK_KR(vm_deallocate(self(), a, 2 * p), KERN_SUCCESS);
        CHECK_FALSE(is_mapped(a));
        CHECK_FALSE(is_mapped(a + p));
        vm_offset_t data = 0;
        mach_msg_type_number_t n = 0;
        CHECK_KR(vm_read(self(), a, 4, &data, &n), KERN_INVALID_ADDRESS);
        int v = 7;
        CHECK_KR(vm_write(self(), a, reinterpret_cast<vm_offset_t>(&v), sizeof v), KERN_INVALID_ADDRESS);
        (void)peek(a + p);
        FAIL("a read of a deallocated page returned");
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(t.end == machsim::TaskEnd::Signaled);
    CHECK(t.exit_code == machsim::sig::SEGV);
    CHECK(t.detail.find("no region of this task there") != std::string::npos);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("vm_deallocate twice, of size 0, of a never-mapped range, or far outside the task's addresses all succeed "
          "(R24)") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t keep = allocate(p);
        fill(keep, p, 0x11);
        vm_address_t a = allocate(2 * p);
        CHECK_KR(vm_deallocate(self(), a, 2 * p), KERN_SUCCESS);
        CHECK_KR(vm_deallocate(self(), a, 2 * p), KERN_SUCCESS);       // twice
        CHECK_KR(vm_deallocate(self(), keep, 0), KERN_SUCCESS);        // size 0: nothing happens
        CHECK_KR(vm_deallocate(self(), a + 64 * p, 8 * p), KERN_SUCCESS);  // never mapped
        CHECK_KR(vm_deallocate(self(), 0x1000, p), KERN_SUCCESS);        // below the task's range
        CHECK_KR(vm_deallocate(self(), 0, 0), KERN_SUCCESS);
        CHECK(is_mapped(keep));
        CHECK(all_bytes(keep, p, 0x11));
        CHECK_FALSE(is_mapped(a));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_deallocate of the middle of a region (unaligned, rounded out to pages) splits it; both ends stay "
          "usable") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(5 * p);
        for (vm_size_t i = 0; i < 5; ++i) fill(a + i * p, p, static_cast<uint8_t>('0' + i));
        // [a + p + 10, a + 3p - 10) rounds out to the pages [a + p, a + 3p).
        CHECK_KR(vm_deallocate(self(), a + p + 10, 2 * p - 20), KERN_SUCCESS);
        std::vector<Region> in = regions_in(a, a + 5 * p);
        REQUIRE(in.size() == 2);
        CHECK(in[0].start == a);
        CHECK(in[0].size == p);
        CHECK(in[0].offset == 0);
        CHECK(in[1].start == a + 3 * p);
        CHECK(in[1].size == 2 * p);
        CHECK(in[1].offset == 3 * p);  // the tail is still the same memory, further in
        CHECK(in[1].prot == kRW);
        CHECK(all_bytes(a, p, '0'));
        CHECK(all_bytes(a + 3 * p, p, '3'));
        CHECK(all_bytes(a + 4 * p, p, '4'));
        fill(a, p, 'x');
        fill(a + 4 * p, p, 'y');
        CHECK(all_bytes(a, p, 'x'));
        CHECK(all_bytes(a + 4 * p, p, 'y'));
        vm_offset_t data = 0;
        mach_msg_type_number_t n = 0;
        CHECK_KR(vm_read(self(), a, 4 * p, &data, &n), KERN_INVALID_ADDRESS);  // across the new hole
        // The hole is free again: a FIXED allocation there gets fresh zero pages.
        vm_address_t mid = a + p;
        CHECK_KR(vm_allocate(self(), &mid, 2 * p, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(all_bytes(mid, 2 * p, 0));
        // A memory entry made from the tail names the tail's own pages.
        mach_port_t e = entry_for(a + 3 * p, p, kRW);
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, p, e, 0, kRW, kRW), KERN_SUCCESS);
        CHECK(all_bytes(m, p, '3'));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_deallocate of a range spanning holes removes every region in it and nothing outside it") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(10 * p);
        fill(a, 10 * p, 'k');
        // Make holes at pages 1 and 4: regions [0,1) [2,4) [5,10).
        CHECK_KR(vm_deallocate(self(), a + p, p), KERN_SUCCESS);
        CHECK_KR(vm_deallocate(self(), a + 4 * p, p), KERN_SUCCESS);
        REQUIRE(regions_in(a, a + 10 * p).size() == 3);
        // Pages [2, 7): the whole second region, the hole, and part of the third.
        CHECK_KR(vm_deallocate(self(), a + 2 * p + 1, 5 * p - 1), KERN_SUCCESS);
        std::vector<Region> in = regions_in(a, a + 10 * p);
        REQUIRE(in.size() == 2);
        CHECK(in[0].start == a);
        CHECK(in[0].size == p);
        CHECK(in[1].start == a + 7 * p);
        CHECK(in[1].size == 3 * p);
        CHECK(all_bytes(a, p, 'k'));
        CHECK(all_bytes(a + 7 * p, 3 * p, 'k'));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// XNU (mach_vm_deallocate): a range whose end wraps is KERN_INVALID_ARGUMENT, checked
// before anything else; MACH-REFERENCE §2.1 lists "wrapped address range" for it.
TEST_CASE("vm_deallocate of a wrapped range fails with KERN_INVALID_ARGUMENT, with or without regions") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        const vm_size_t wrapping = ~vm_size_t{0} - 0x8000;  // 0x10000 + this wraps past 2^64, to 0x7fff
        CHECK(regions().empty());
        CHECK_KR(vm_deallocate(self(), 0x10000, wrapping), KERN_INVALID_ARGUMENT);  // a task with no regions yet
        vm_address_t a = allocate(p);
        CHECK_KR(vm_deallocate(self(), 0x10000, wrapping), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_deallocate(self(), a, ~vm_size_t{0}), KERN_INVALID_ARGUMENT);
        CHECK(is_mapped(a));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// vm_protect
// ================================================================================

TEST_CASE("vm_protect of part of a region splits it; vm_write and raw writes obey the new protection; it can be "
          "raised again up to the maximum") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(3 * p);
        poke(a + p, 42);
        CHECK_KR(vm_protect(self(), a + p + 5, p - 10, FALSE, VM_PROT_READ), KERN_SUCCESS);  // rounds to page 1
        std::vector<Region> in = regions_in(a, a + 3 * p);
        REQUIRE(in.size() == 3);
        CHECK(in[0].prot == kRW);
        CHECK(in[1].start == a + p);
        CHECK(in[1].size == p);
        CHECK(in[1].prot == VM_PROT_READ);
        CHECK(in[1].max == VM_PROT_ALL);  // set_maximum FALSE leaves the maximum
        CHECK(in[2].prot == kRW);
        int v = 9;
        CHECK_KR(vm_write(self(), a + p, reinterpret_cast<vm_offset_t>(&v), sizeof v), KERN_PROTECTION_FAILURE);
        CHECK_KR(vm_write(self(), a, reinterpret_cast<vm_offset_t>(&v), sizeof v), KERN_SUCCESS);
        CHECK(peek(a) == 9);
        CHECK(peek(a + p) == 42);  // still readable
        poke(a + 2 * p, 3);        // the other pieces stay writable
        CHECK_KR(vm_protect(self(), a + p, p, FALSE, kRW), KERN_SUCCESS);
        poke(a + p, 43);
        CHECK(peek(a + p) == 43);
        CHECK_KR(vm_protect(self(), a, 3 * p, FALSE, VM_PROT_ALL), KERN_SUCCESS);  // up to the maximum is fine
        CHECK(region_from(a + p).prot == VM_PROT_ALL);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("VM_PROT_NONE: vm_read is KERN_PROTECTION_FAILURE and a raw read ends the task with SIGBUS, touched "
          "before or not") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        for (const char* name : {"touched", "untouched"}) {
            bool touch = std::string(name) == "touched";
            k.spawn(name, [touch] {
                vm_address_t a = allocate(page());
                if (touch) poke(a, 1);
                CHECK_KR(vm_protect(self(), a, page(), FALSE, VM_PROT_NONE), KERN_SUCCESS);
                CHECK(region_from(a).prot == VM_PROT_NONE);
                vm_offset_t data = 0;
                mach_msg_type_number_t n = 0;
                CHECK_KR(vm_read(self(), a, 4, &data, &n), KERN_PROTECTION_FAILURE);
                (void)peek(a);
                FAIL("a read of a VM_PROT_NONE page returned");
            });
        }
    });
    for (const char* name : {"touched", "untouched"}) {
        CAPTURE(name);
        const machsim::TaskReport& t = report_of(r, name);
        CHECK(t.end == machsim::TaskEnd::Signaled);
        CHECK(t.exit_code == machsim::sig::BUS);
        CHECK(t.detail.find("---") != std::string::npos);
    }
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("the maximum protection only shrinks: lowering it clips the current one; going above it is "
          "KERN_PROTECTION_FAILURE (R24)") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        CHECK_KR(vm_protect(self(), a, p, TRUE, VM_PROT_READ), KERN_SUCCESS);
        Region g = region_from(a);
        CHECK(g.max == VM_PROT_READ);
        CHECK(g.prot == VM_PROT_READ);  // RW clipped to the new maximum
        CHECK_KR(vm_protect(self(), a, p, FALSE, kRW), KERN_PROTECTION_FAILURE);
        CHECK_KR(vm_protect(self(), a, p, TRUE, kRW), KERN_PROTECTION_FAILURE);  // the maximum cannot grow back
        CHECK_KR(vm_protect(self(), a, p, TRUE, VM_PROT_ALL), KERN_PROTECTION_FAILURE);
        g = region_from(a);
        CHECK(g.max == VM_PROT_READ);
        CHECK(g.prot == VM_PROT_READ);
        CHECK_KR(vm_protect(self(), a, p, TRUE, VM_PROT_READ), KERN_SUCCESS);  // the same maximum again is fine
        CHECK_KR(vm_protect(self(), a, p, FALSE, VM_PROT_NONE), KERN_SUCCESS);
        CHECK_KR(vm_protect(self(), a, p, FALSE, VM_PROT_READ), KERN_SUCCESS);  // back up to the maximum
        CHECK_KR(vm_protect(self(), a, p, TRUE, VM_PROT_NONE), KERN_SUCCESS);
        CHECK_KR(vm_protect(self(), a, p, FALSE, VM_PROT_READ), KERN_PROTECTION_FAILURE);
        g = region_from(a);
        CHECK(g.max == VM_PROT_NONE);
        CHECK(g.prot == VM_PROT_NONE);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_protect over a range with a hole is KERN_INVALID_ADDRESS and changes nothing, not even the mapped "
          "part") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(4 * p);
        CHECK_KR(vm_deallocate(self(), a + 2 * p, 2 * p), KERN_SUCCESS);  // [a, a+2p) mapped, then a hole
        CHECK_FALSE(is_mapped(a + 2 * p));
        CHECK_KR(vm_protect(self(), a, 4 * p, FALSE, VM_PROT_READ), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_protect(self(), a + 2 * p, p, FALSE, VM_PROT_READ), KERN_INVALID_ADDRESS);  // only the hole
        CHECK_KR(vm_protect(self(), a, 4 * p, TRUE, VM_PROT_READ), KERN_INVALID_ADDRESS);
        std::vector<Region> in = regions_in(a, a + 4 * p);
        REQUIRE(in.size() == 1);  // not split
        CHECK(in[0].size == 2 * p);
        CHECK(in[0].prot == kRW);
        CHECK(in[0].max == VM_PROT_ALL);
        poke(a + p, 1);  // still writable
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_protect with bits outside VM_PROT_ALL is KERN_INVALID_ARGUMENT; size 0 succeeds and changes nothing") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        CHECK_KR(vm_protect(self(), a, p, FALSE, 0x1000), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_protect(self(), a, p, TRUE, 0x1000 | VM_PROT_READ), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_protect(self(), a, 0, FALSE, VM_PROT_NONE), KERN_SUCCESS);
        CHECK_KR(vm_protect(self(), a, 0, TRUE, VM_PROT_NONE), KERN_SUCCESS);
        Region g = region_from(a);
        CHECK(g.prot == kRW);
        CHECK(g.max == VM_PROT_ALL);
        CHECK(g.size == p);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// MACH-REFERENCE §2.1: KERN_INVALID_ARGUMENT for a "wrapped address range (XNU)";
// XNU's mach_vm_protect and mach_vm_inherit check start + size < start first.
TEST_CASE("vm_protect and vm_inherit of a wrapped range fail with KERN_INVALID_ARGUMENT") {
    machsim::RunReport r = run_one([] {
        vm_address_t a = allocate(page());
        const vm_size_t wrapping = ~vm_size_t{0} - 4 * page();  // a + this wraps past 2^64, below a
        CHECK_KR(vm_protect(self(), a, wrapping, FALSE, VM_PROT_READ), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_inherit(self(), a, wrapping, VM_INHERIT_SHARE), KERN_INVALID_ARGUMENT);
        Region g = region_from(a);
        CHECK(g.prot == kRW);
        CHECK(g.inherit == VM_INHERIT_COPY);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// vm_inherit
// ================================================================================

TEST_CASE("vm_inherit sets the inheritance vm_region_64 reports, splitting regions; the default is COPY") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(4 * p);
        CHECK(region_from(a).inherit == VM_INHERIT_COPY);
        CHECK_KR(vm_inherit(self(), a + p, p, VM_INHERIT_SHARE), KERN_SUCCESS);
        CHECK_KR(vm_inherit(self(), a + 2 * p + 1, 1, VM_INHERIT_NONE), KERN_SUCCESS);  // rounds to page 2
        std::vector<Region> in = regions_in(a, a + 4 * p);
        REQUIRE(in.size() == 4);
        CHECK(in[0].inherit == VM_INHERIT_COPY);
        CHECK(in[1].inherit == VM_INHERIT_SHARE);
        CHECK(in[2].inherit == VM_INHERIT_NONE);
        CHECK(in[3].inherit == VM_INHERIT_COPY);
        for (const Region& g : in) CHECK(g.size == p);
        CHECK_KR(vm_inherit(self(), a, 4 * p, VM_INHERIT_SHARE), KERN_SUCCESS);
        for (const Region& g : regions_in(a, a + 4 * p)) CHECK(g.inherit == VM_INHERIT_SHARE);
        fill(a, 4 * p, 1);  // inheritance does not touch the memory
        CHECK(all_bytes(a, 4 * p, 1));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_inherit: an unknown value is KERN_INVALID_ARGUMENT, a hole KERN_INVALID_ADDRESS (nothing changed), "
          "size 0 succeeds") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        CHECK_KR(vm_deallocate(self(), a + p, p), KERN_SUCCESS);
        CHECK_KR(vm_inherit(self(), a, p, 3), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_inherit(self(), a, p, 0xffffffffu), KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_inherit(self(), a, 2 * p, VM_INHERIT_SHARE), KERN_INVALID_ADDRESS);  // runs into the hole
        CHECK_KR(vm_inherit(self(), a + p, p, VM_INHERIT_SHARE), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_inherit(self(), a, 0, VM_INHERIT_NONE), KERN_SUCCESS);
        std::vector<Region> in = regions_in(a, a + 2 * p);
        REQUIRE(in.size() == 1);
        CHECK(in[0].size == p);
        CHECK(in[0].inherit == VM_INHERIT_COPY);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// vm_read, vm_write, vm_copy
// ================================================================================

TEST_CASE("vm_read returns exactly the bytes asked for, from an unaligned address, in a new page-aligned region of "
          "the caller that is a copy") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(3 * p);
        auto* src = reinterpret_cast<uint8_t*>(a);
        for (vm_size_t i = 0; i < 3 * p; ++i) src[i] = static_cast<uint8_t>(i % 251);
        const vm_size_t size = 2 * p - 50;
        vm_offset_t data = 0;
        mach_msg_type_number_t n = 0;
        CHECK_KR(vm_read(self(), a + 100, size, &data, &n), KERN_SUCCESS);
        REQUIRE(data != 0);
        CHECK(n == size);
        CHECK(data % p == 0);
        CHECK(std::memcmp(reinterpret_cast<void*>(data), src + 100, size) == 0);
        Region g = region_from(data);
        CHECK(g.start == data);
        CHECK(g.size == 2 * p);  // whole pages
        CHECK(g.prot == kRW);
        CHECK((data + g.size <= a || a + 3 * p <= data));  // not the source
        fill(data, size, 0xee);  // a copy: the source does not change
        CHECK(src[100] == 100 % 251);
        CHECK_KR(vm_deallocate(self(), data, n), KERN_SUCCESS);
        // Two adjacent regions (no hole between them) read as one range.
        CHECK_KR(vm_protect(self(), a + 2 * p, p, FALSE, VM_PROT_READ), KERN_SUCCESS);
        CHECK_KR(vm_read(self(), a + p, 2 * p, &data, &n), KERN_SUCCESS);
        CHECK(n == 2 * p);
        CHECK(std::memcmp(reinterpret_cast<void*>(data), src + p, 2 * p) == 0);
        CHECK_KR(vm_deallocate(self(), data, n), KERN_SUCCESS);
        // Size 0 reads nothing.
        n = 77;
        CHECK_KR(vm_read(self(), a, 0, &data, &n), KERN_SUCCESS);
        CHECK(n == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_read: a hole is KERN_INVALID_ADDRESS, unreadable memory KERN_PROTECTION_FAILURE, unwritable out "
          "pointers KERN_INVALID_ADDRESS; nothing is mapped") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t ro = page_holding(0, VM_PROT_READ);  // first, so that it cannot fill the hole below
        vm_address_t a = allocate(3 * p);
        CHECK_KR(vm_deallocate(self(), a + p, p), KERN_SUCCESS);
        CHECK_KR(vm_protect(self(), a + 2 * p, p, FALSE, VM_PROT_WRITE), KERN_SUCCESS);  // write-only: not readable
        std::size_t before = regions().size();
        vm_offset_t data = 0;
        mach_msg_type_number_t n = 0;
        CHECK_KR(vm_read(self(), a + p, 8, &data, &n), KERN_INVALID_ADDRESS);           // in the hole
        CHECK_KR(vm_read(self(), a + p - 4, 8, &data, &n), KERN_INVALID_ADDRESS);       // into it
        CHECK_KR(vm_read(self(), a, 3 * p, &data, &n), KERN_INVALID_ADDRESS);           // across it
        CHECK_KR(vm_read(self(), a + 2 * p, 8, &data, &n), KERN_PROTECTION_FAILURE);    // not readable
        CHECK_KR(vm_read(self(), 0x1000, 8, &data, &n), KERN_INVALID_ADDRESS);          // outside the task's range
        CHECK_KR(vm_read(self(), a, 8, nullptr, &n), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_read(self(), a, 8, &data, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_read(self(), a, 8, reinterpret_cast<vm_offset_t*>(ro), &n), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_read(self(), a, 8, &data, reinterpret_cast<mach_msg_type_number_t*>(ro)), KERN_INVALID_ADDRESS);
        CHECK(regions().size() == before);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_write copies the caller's bytes into the range, at unaligned addresses and across regions; count 0 "
          "succeeds") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        CHECK_KR(vm_inherit(self(), a + p, p, VM_INHERIT_SHARE), KERN_SUCCESS);  // two regions, both writable
        std::vector<uint8_t> text(300);
        for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>(i + 1);
        vm_address_t at = a + p - 150;  // straddles the boundary
        CHECK_KR(vm_write(self(), at, reinterpret_cast<vm_offset_t>(text.data()),
                          static_cast<mach_msg_type_number_t>(text.size())),
                 KERN_SUCCESS);
        CHECK(std::memcmp(reinterpret_cast<void*>(at), text.data(), text.size()) == 0);
        CHECK(all_bytes(a, p - 150, 0));
        CHECK(all_bytes(at + 300, p - 150, 0));
        // The source may itself be VM memory of the caller.
        CHECK_KR(vm_write(self(), a, at, 300), KERN_SUCCESS);
        CHECK(std::memcmp(reinterpret_cast<void*>(a), text.data(), text.size()) == 0);
        CHECK_KR(vm_write(self(), a + 7, reinterpret_cast<vm_offset_t>(text.data()), 0), KERN_SUCCESS);
        CHECK(std::memcmp(reinterpret_cast<void*>(a), text.data(), text.size()) == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_write: read-only memory is KERN_PROTECTION_FAILURE and nothing is written, not even the writable "
          "part; a hole or unreadable data is KERN_INVALID_ADDRESS") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(3 * p);
        vm_address_t gone = allocate(p);  // (allocated before the hole below exists, so not in it)
        CHECK_KR(vm_deallocate(self(), gone, p), KERN_SUCCESS);
        CHECK_KR(vm_protect(self(), a + p, p, FALSE, VM_PROT_READ), KERN_SUCCESS);
        CHECK_KR(vm_deallocate(self(), a + 2 * p, p), KERN_SUCCESS);
        std::vector<uint8_t> ones(2 * p, 1);
        auto data = reinterpret_cast<vm_offset_t>(ones.data());
        CHECK_KR(vm_write(self(), a + p, data, 4), KERN_PROTECTION_FAILURE);
        CHECK_KR(vm_write(self(), a + p - 8, data, 16), KERN_PROTECTION_FAILURE);  // starts in the writable page
        CHECK(all_bytes(a, 2 * p, 0));
        CHECK_KR(vm_write(self(), a + 2 * p, data, 4), KERN_INVALID_ADDRESS);  // the hole
        CHECK_KR(vm_write(self(), 0x1000, data, 4), KERN_INVALID_ADDRESS);     // outside the task's range
        CHECK_KR(vm_write(self(), a, gone, 4), KERN_INVALID_ADDRESS);  // the data is not readable
        CHECK_KR(vm_write(self(), a, 0, 4), KERN_INVALID_ADDRESS);
        CHECK(all_bytes(a, 2 * p, 0));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_copy copies within the task, overlapping ranges included") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(4 * p);
        auto* b = reinterpret_cast<uint8_t*>(a);
        for (vm_size_t i = 0; i < p; ++i) b[i] = static_cast<uint8_t>(i % 253);
        CHECK_KR(vm_copy(self(), a, p, a + 2 * p), KERN_SUCCESS);
        CHECK(std::memcmp(b + 2 * p, b, p) == 0);
        // Overlapping, forwards by 10 bytes: the result is as if read whole before writing.
        std::vector<uint8_t> expect(b, b + p);
        CHECK_KR(vm_copy(self(), a, p, a + 10), KERN_SUCCESS);
        CHECK(std::memcmp(b + 10, expect.data(), p) == 0);
        CHECK_KR(vm_copy(self(), a + 2 * p, 100, a + 3 * p - 50), KERN_SUCCESS);  // unaligned, across a page
        CHECK(std::memcmp(b + 3 * p - 50, b + 2 * p, 100) == 0);
        CHECK_KR(vm_copy(self(), a, 0, a + p), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_copy: a hole at either end is KERN_INVALID_ADDRESS; an unreadable source or a read-only destination "
          "KERN_PROTECTION_FAILURE; nothing is written") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(4 * p);
        fill(a, p, 's');
        CHECK_KR(vm_deallocate(self(), a + p, p), KERN_SUCCESS);                       // page 1: hole
        CHECK_KR(vm_protect(self(), a + 2 * p, p, FALSE, VM_PROT_READ), KERN_SUCCESS);  // page 2: read-only
        CHECK_KR(vm_protect(self(), a + 3 * p, p, FALSE, VM_PROT_NONE), KERN_SUCCESS);  // page 3: no access
        CHECK_KR(vm_copy(self(), a + p, 8, a), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_copy(self(), a, 8, a + p), KERN_INVALID_ADDRESS);
        CHECK_KR(vm_copy(self(), a, p + 8, a + 2 * p), KERN_INVALID_ADDRESS);  // source runs into the hole
        CHECK_KR(vm_copy(self(), a, 8, a + 2 * p), KERN_PROTECTION_FAILURE);
        CHECK_KR(vm_copy(self(), a + 3 * p, 8, a), KERN_PROTECTION_FAILURE);
        CHECK(all_bytes(a, p, 's'));
        CHECK(all_bytes(a + 2 * p, p, 0));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// The source range is not mapped, so Mach answers KERN_INVALID_ADDRESS (XNU's
// vm_map_copyin). A kernel that sizes a buffer from `size` before checking the range
// throws or runs out of memory instead; the run is forked so that cannot take the
// test binary down.
TEST_CASE("vm_copy of a size far beyond the task's memory fails with an error code, not a crash") {
    int o[8];
    bool ran = run_forked(
        [](int (&out)[8]) {
            machsim::RunReport r = mt::run_task([&out] {
                vm_address_t a = 0;
                out[0] = vm_allocate(self(), &a, vm_page_size, VM_FLAGS_ANYWHERE);
                out[1] = vm_copy(self(), a, vm_size_t{1} << 62, a);  // no wrap, just far too big
                out[2] = vm_copy(self(), a, ~vm_size_t{0}, a);       // wraps
                out[3] = vm_deallocate(self(), a, vm_page_size);     // the kernel still answers
            });
            const machsim::TaskReport* t = r.task("test");
            out[4] = t && t->end == machsim::TaskEnd::Exited;
            out[5] = r.leaks.empty() && r.accounting.empty();
        },
        o);
    if (!ran) return;
    CHECK_KR(o[0], KERN_SUCCESS);
    CHECK_KR(o[1], KERN_INVALID_ADDRESS);
    CHECK((o[2] == KERN_INVALID_ADDRESS || o[2] == KERN_INVALID_ARGUMENT));
    CHECK_KR(o[3], KERN_SUCCESS);
    CHECK(o[4] == 1);
    CHECK(o[5] == 1);
}

// ================================================================================
// vm_region_64
// ================================================================================

TEST_CASE("vm_write takes its data whole before writing: data overlapping the target from below arrives intact") {
    machsim::RunReport r = run_one([] {
        const vm_size_t n = 32 * page();  // more than one 64 KiB piece
        vm_address_t a = allocate(n + page());
        auto* w = reinterpret_cast<uint32_t*>(a);
        for (std::size_t i = 0; i < (n + page()) / 4; ++i) w[i] = static_cast<uint32_t>(i);
        CHECK_KR(vm_write(self(), a + page(), a, static_cast<mach_msg_type_number_t>(n)), KERN_SUCCESS);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < n / 4; ++i) wrong += w[page() / 4 + i] != i;
        CHECK(wrong == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_copy between two mappings of one memory entry copies a snapshot of the source") {
    machsim::RunReport r = run_one([] {
        const vm_size_t n = 64 * page();
        memory_object_size_t s = n + page();
        mach_port_t e = MACH_PORT_NULL;
        REQUIRE_KR(mach_make_memory_entry_64(self(), &s, 0, VM_PROT_DEFAULT | MAP_MEM_NAMED_CREATE, &e, MACH_PORT_NULL),
                   KERN_SUCCESS);
        vm_address_t m1 = 0, m2 = 0;
        REQUIRE_KR(map_entry(m1, s, e, 0, VM_PROT_DEFAULT, VM_PROT_ALL), KERN_SUCCESS);
        REQUIRE_KR(map_entry(m2, s, e, 0, VM_PROT_DEFAULT, VM_PROT_ALL), KERN_SUCCESS);
        auto* w1 = reinterpret_cast<uint32_t*>(m1);
        for (std::size_t i = 0; i < s / 4; ++i) w1[i] = static_cast<uint32_t>(i);
        // The target, one page on in the second mapping, overlaps the source in the entry.
        CHECK_KR(vm_copy(self(), m1, n, m2 + page()), KERN_SUCCESS);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < n / 4; ++i) wrong += w1[page() / 4 + i] != i;
        CHECK(wrong == 0);
        CHECK_KR(vm_deallocate(self(), m1, s), KERN_SUCCESS);
        CHECK_KR(vm_deallocate(self(), m2, s), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(self(), e), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("memory without VM_PROT_READ is not taken as out-of-line data (an OOL region, vm_write's data), though a "
          "pointer still reads it, as x86 does") {
    struct OolMsg {
        mach_msg_header_t head;
        mach_msg_body_t body;
        mach_msg_ool_descriptor_t ool;
    };
    for (vm_prot_t prot : {VM_PROT_WRITE, VM_PROT_EXECUTE}) {
        CAPTURE(prot);
        machsim::RunReport r = run_one([prot] {
            vm_address_t a = page_holding(42, prot);
            vm_address_t b = allocate(page());
            CHECK(*reinterpret_cast<volatile uint64_t*>(a) == 42);  // the hardware reads it
            vm_offset_t data = 0;
            mach_msg_type_number_t count = 0;
            CHECK_KR(vm_read(self(), a, 8, &data, &count), KERN_PROTECTION_FAILURE);
            CHECK_KR(vm_write(self(), b, a, 8), KERN_INVALID_ADDRESS);
            CHECK(*reinterpret_cast<uint64_t*>(b) == 0);
            mach_port_t p = mt::new_port_with_send();
            OolMsg m{};
            m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
            m.head.msgh_size = sizeof m;
            m.head.msgh_remote_port = p;
            m.body.msgh_descriptor_count = 1;
            m.ool.address = reinterpret_cast<void*>(a);
            m.ool.size = 8;
            m.ool.copy = MACH_MSG_VIRTUAL_COPY;
            m.ool.type = MACH_MSG_OOL_DESCRIPTOR;
            CHECK_KR(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                     MACH_SEND_INVALID_MEMORY);
            CHECK(mt::status_of(p).mps_msgcount == 0);
            CHECK_KR(mach_port_destroy(self(), p), KERN_SUCCESS);
        });
        INFO(r.summary());
        CHECK(r.clean());
    }
}

TEST_CASE("vm_map of new memory with a size whose rounding wraps: ANYWHERE is KERN_INVALID_ARGUMENT, FIXED past the "
          "range KERN_INVALID_ADDRESS") {
    machsim::RunReport r = run_one([] {
        vm_address_t a = 0;
        CHECK_KR(vm_map(self(), &a, vm_size_t(-1), 0, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, VM_PROT_DEFAULT,
                        VM_PROT_ALL, VM_INHERIT_COPY),
                 KERN_INVALID_ARGUMENT);
        a = allocate(page());  // an address in the range, then free again
        CHECK_KR(vm_deallocate(self(), a, page()), KERN_SUCCESS);
        CHECK_KR(vm_map(self(), &a, vm_size_t(0) - page(), 0, VM_FLAGS_FIXED, MACH_PORT_NULL, 0, FALSE,
                        VM_PROT_DEFAULT, VM_PROT_ALL, VM_INHERIT_COPY),
                 KERN_INVALID_ADDRESS);
        vm_address_t v = 0;
        CHECK_KR(vm_allocate(self(), &v, vm_size_t(-1), VM_FLAGS_ANYWHERE), KERN_INVALID_ARGUMENT);  // the same rule
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_read, vm_write and vm_copy move at most 64 x Config::max_message bytes in one call") {
    machsim::Config cfg;
    cfg.max_message = 1024;  // a limit of 64 KiB
    machsim::RunReport r = mt::run_task(
        [] {
            const vm_size_t limit = 64 * 1024;
            vm_address_t a = allocate(2 * limit + page());
            vm_offset_t data = 0;
            mach_msg_type_number_t count = 0;
            CHECK_KR(vm_read(self(), a, limit + 1, &data, &count), KERN_RESOURCE_SHORTAGE);
            CHECK_KR(vm_write(self(), a, a + limit, limit + 1), KERN_RESOURCE_SHORTAGE);
            CHECK_KR(vm_copy(self(), a, limit + 1, a + limit), KERN_RESOURCE_SHORTAGE);
            CHECK_KR(vm_read(self(), a, limit, &data, &count), KERN_SUCCESS);
            CHECK_KR(vm_deallocate(self(), data, count), KERN_SUCCESS);
            CHECK_KR(vm_write(self(), a, a + limit, limit), KERN_SUCCESS);
            CHECK_KR(vm_copy(self(), a, limit, a + limit), KERN_SUCCESS);
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_region_64 from below, inside or between regions reports the next region; beyond the last it is "
          "KERN_INVALID_ADDRESS") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(6 * p);
        CHECK_KR(vm_deallocate(self(), a + 2 * p, 2 * p), KERN_SUCCESS);  // [a, a+2p) and [a+4p, a+6p)
        CHECK_KR(vm_protect(self(), a + 4 * p, 2 * p, FALSE, VM_PROT_READ), KERN_SUCCESS);
        CHECK(regions().size() == 2);  // this task has nothing else
        Region g = region_from(0);
        CHECK_KR(g.kr, KERN_SUCCESS);
        CHECK(g.start == a);
        CHECK(g.size == 2 * p);
        g = region_from(a + p + 123);  // inside: the region holding it
        CHECK(g.start == a);
        CHECK(g.size == 2 * p);
        g = region_from(a + 2 * p);  // in the gap: the next region
        CHECK(g.start == a + 4 * p);
        CHECK(g.size == 2 * p);
        CHECK(g.prot == VM_PROT_READ);
        CHECK(g.offset == 4 * p);
        g = region_from(a + 6 * p);  // past the last
        CHECK_KR(g.kr, KERN_INVALID_ADDRESS);
        g = region_from(~vm_address_t{0});
        CHECK_KR(g.kr, KERN_INVALID_ADDRESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_region_64: an unknown flavor or too small a count is KERN_INVALID_ARGUMENT; unusable pointers are "
          "KERN_INVALID_ADDRESS") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        vm_address_t ro = page_holding(a, VM_PROT_READ);  // holds a valid address, cannot be written
        vm_region_basic_info_data_64_t info{};
        auto* out = reinterpret_cast<vm_region_info_t>(&info);
        vm_address_t at = a;
        vm_size_t size = 0;
        mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
        mach_port_t object = MACH_PORT_NULL;
        CHECK_KR(vm_region_64(self(), &at, &size, 12345, out, &count, &object), KERN_INVALID_ARGUMENT);
        count = VM_REGION_BASIC_INFO_COUNT_64 - 1;
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO_64, out, &count, &object),
                 KERN_INVALID_ARGUMENT);
        count = VM_REGION_BASIC_INFO_COUNT_64;
        CHECK_KR(vm_region_64(self(), nullptr, &size, VM_REGION_BASIC_INFO_64, out, &count, &object),
                 KERN_INVALID_ADDRESS);
        CHECK_KR(vm_region_64(self(), reinterpret_cast<vm_address_t*>(ro), &size, VM_REGION_BASIC_INFO_64, out,
                              &count, &object),
                 KERN_INVALID_ADDRESS);
        count = VM_REGION_BASIC_INFO_COUNT_64;
        CHECK_KR(vm_region_64(self(), &at, nullptr, VM_REGION_BASIC_INFO_64, out, &count, &object),
                 KERN_INVALID_ADDRESS);
        count = VM_REGION_BASIC_INFO_COUNT_64;
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO_64, nullptr, &count, &object),
                 KERN_INVALID_ADDRESS);
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO_64, out, nullptr, &object),
                 KERN_INVALID_ADDRESS);
        count = VM_REGION_BASIC_INFO_COUNT_64;
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO_64, out, &count, nullptr),
                 KERN_INVALID_ADDRESS);
        CHECK(peek(ro) == static_cast<int>(a));  // untouched
        // A larger count than needed is fine and comes back as the real count.
        at = a;
        count = VM_REGION_BASIC_INFO_COUNT_64 + 4;
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO_64, out, &count, &object), KERN_SUCCESS);
        CHECK(count == VM_REGION_BASIC_INFO_COUNT_64);
        CHECK(at == a);
        CHECK(size == p);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_region_64 reports shared only when a memory entry or another mapping holds the memory, not for "
          "the pieces of a split region") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        CHECK(region_from(a).shared == FALSE);
        CHECK_KR(vm_protect(self(), a + p, p, FALSE, VM_PROT_READ), KERN_SUCCESS);  // two pieces, one object
        CHECK(region_from(a).shared == FALSE);
        CHECK(region_from(a + p).shared == FALSE);
        mach_port_t e = entry_for(a, p, VM_PROT_READ);
        CHECK(region_from(a).shared == TRUE);
        CHECK(region_from(a + p).shared == TRUE);  // the entry names the object both pieces use
        CHECK_KR(mach_port_deallocate(self(), e), KERN_SUCCESS);
        CHECK(region_from(a).shared == FALSE);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_region_64 with VM_REGION_BASIC_INFO fills XNU's 32-bit layout: 8 ints, a 32-bit offset") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(3 * p);
        CHECK_KR(vm_protect(self(), a + 2 * p, p, FALSE, VM_PROT_READ), KERN_SUCCESS);
        CHECK(VM_REGION_BASIC_INFO_COUNT == 8);
        CHECK(VM_REGION_BASIC_INFO_COUNT_64 == 9);
        struct {
            vm_region_basic_info_data_t info;
            int after;  // must not be written
        } out{};
        out.after = 0x5a5a5a5a;
        vm_address_t at = a + 2 * p;
        vm_size_t size = 0;
        mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT - 1;
        mach_port_t object = MACH_PORT_NULL;
        auto* info = reinterpret_cast<vm_region_info_t>(&out.info);
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO, info, &count, &object), KERN_INVALID_ARGUMENT);
        count = VM_REGION_BASIC_INFO_COUNT;
        CHECK_KR(vm_region_64(self(), &at, &size, VM_REGION_BASIC_INFO, info, &count, &object), KERN_SUCCESS);
        CHECK(count == VM_REGION_BASIC_INFO_COUNT);
        CHECK(at == a + 2 * p);
        CHECK(size == p);
        CHECK(out.info.protection == VM_PROT_READ);
        CHECK(out.info.max_protection == VM_PROT_ALL);
        CHECK(out.info.inheritance == VM_INHERIT_COPY);
        CHECK(out.info.offset == 2 * p);
        CHECK(out.after == 0x5a5a5a5a);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// The mach_vm_* spellings
// ================================================================================

TEST_CASE("the mach_vm_* calls behave as their vm_* counterparts") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        mach_vm_address_t a = 0;
        CHECK_KR(mach_vm_allocate(self(), &a, 2 * p, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        REQUIRE(a != 0);
        CHECK(all_bytes(a, 2 * p, 0));
        mach_vm_address_t same = a;
        CHECK_KR(mach_vm_allocate(self(), &same, p, VM_FLAGS_FIXED), KERN_NO_SPACE);
        int v = 31;
        CHECK_KR(mach_vm_write(self(), a, reinterpret_cast<vm_offset_t>(&v), sizeof v), KERN_SUCCESS);
        CHECK_KR(mach_vm_copy(self(), a, sizeof v, a + p), KERN_SUCCESS);
        CHECK(peek(a + p) == 31);
        vm_offset_t data = 0;
        mach_msg_type_number_t n = 0;
        CHECK_KR(mach_vm_read(self(), a + p, sizeof v, &data, &n), KERN_SUCCESS);
        CHECK(n == sizeof v);
        CHECK(peek(data) == 31);
        CHECK_KR(mach_vm_deallocate(self(), data, n), KERN_SUCCESS);
        CHECK_KR(mach_vm_protect(self(), a + p, p, FALSE, VM_PROT_READ), KERN_SUCCESS);
        CHECK_KR(mach_vm_protect(self(), a + p, p, FALSE, VM_PROT_ALL | 0x1000), KERN_INVALID_ARGUMENT);
        CHECK_KR(mach_vm_inherit(self(), a + p, p, VM_INHERIT_NONE), KERN_SUCCESS);
        mach_vm_address_t at = a + p;
        mach_vm_size_t size = 0;
        vm_region_basic_info_data_64_t info{};
        mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
        mach_port_t object = MACH_PORT_NULL;
        CHECK_KR(mach_vm_region(self(), &at, &size, VM_REGION_BASIC_INFO_64, reinterpret_cast<vm_region_info_t>(&info),
                                &count, &object),
                 KERN_SUCCESS);
        CHECK(at == a + p);
        CHECK(size == p);
        CHECK(int(info.protection) == VM_PROT_READ);
        CHECK(unsigned(info.inheritance) == VM_INHERIT_NONE);
        mach_port_t e = entry_for(a, p, kRW);
        mach_vm_address_t m = 0;
        CHECK_KR(mach_vm_map(self(), &m, p, 0, VM_FLAGS_ANYWHERE, e, 0, FALSE, kRW, kRW, VM_INHERIT_COPY),
                 KERN_SUCCESS);
        CHECK(peek(m) == 31);
        CHECK_KR(mach_vm_deallocate(self(), a, 2 * p), KERN_SUCCESS);
        CHECK_FALSE(is_mapped(a));
        CHECK(peek(m) == 31);  // the mapping keeps the memory
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// Memory entries and vm_map in one task
// ================================================================================

TEST_CASE("mach_make_memory_entry_64 names existing memory (size rounded up); vm_map of it aliases that memory "
          "both ways") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        poke(a, 1);
        memory_object_size_t size = 100;
        mach_port_t e = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, kRW, &e, MACH_PORT_NULL), KERN_SUCCESS);
        CHECK(size == p);
        CHECK(MACH_PORT_VALID(e));
        CHECK(mt::type_of(e) == MACH_PORT_TYPE_SEND);
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, p, e, 0, kRW, kRW), KERN_SUCCESS);
        CHECK(m != a);
        CHECK(m % p == 0);
        CHECK(peek(m) == 1);  // what was there
        poke(a + 8, 2);
        CHECK(peek(m + 8) == 2);  // original -> mapping
        poke(m + p - 4, 3);
        CHECK(peek(a + p - 4) == 3);  // mapping -> original
        Region g = region_from(m);
        CHECK(g.start == m);
        CHECK(g.size == p);
        CHECK(g.prot == kRW);
        CHECK(g.max == kRW);
        // A second entry for the whole region, mapped with a different inheritance.
        mach_port_t whole = entry_for(a, 2 * p, VM_PROT_READ);
        vm_address_t m2 = 0;
        CHECK_KR(map_entry(m2, 2 * p, whole, 0, VM_PROT_READ, VM_PROT_READ, VM_FLAGS_ANYWHERE, FALSE,
                           VM_INHERIT_SHARE),
                 KERN_SUCCESS);
        CHECK(peek(m2 + p - 4) == 3);
        CHECK(region_from(m2).inherit == VM_INHERIT_SHARE);
        CHECK_KR(mach_port_deallocate(self(), e), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(self(), whole), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("MAP_MEM_NAMED_CREATE makes a fresh zero-filled object; two mappings of it share pages and outlive the "
          "entry's port") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        memory_object_size_t size = 3 * p - 1;
        mach_port_t e = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, 0, kRW | MAP_MEM_NAMED_CREATE, &e, MACH_PORT_NULL),
                 KERN_SUCCESS);
        CHECK(size == 3 * p);
        vm_address_t m1 = 0, m2 = 0;
        CHECK_KR(map_entry(m1, 3 * p, e, 0, kRW, kRW), KERN_SUCCESS);
        CHECK_KR(map_entry(m2, 3 * p, e, 0, kRW, kRW), KERN_SUCCESS);
        CHECK(m1 != m2);
        CHECK(all_bytes(m1, 3 * p, 0));
        fill(m1 + p, p, 'n');
        CHECK(all_bytes(m2 + p, p, 'n'));
        CHECK_KR(mach_port_deallocate(self(), e), KERN_SUCCESS);  // the mappings hold the memory now
        CHECK(mt::type_of(e) == 0xdead);
        fill(m2, p, 'o');
        CHECK(all_bytes(m1, p, 'o'));
        CHECK_KR(vm_deallocate(self(), m1, 3 * p), KERN_SUCCESS);
        CHECK(all_bytes(m2 + p, p, 'n'));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map with copy=TRUE maps a private snapshot of the entry's memory") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        poke(a, 10);
        mach_port_t e = entry_for(a, p, kRW);
        vm_address_t c = 0;
        CHECK_KR(map_entry(c, p, e, 0, kRW, kRW, VM_FLAGS_ANYWHERE, TRUE), KERN_SUCCESS);
        CHECK(peek(c) == 10);
        poke(a, 11);  // later writes to the original are not seen in the copy
        CHECK(peek(c) == 10);
        poke(c + 4, 12);  // nor the other way round
        CHECK(peek(a + 4) == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map offsets and sizes: a page offset maps from there; past the entry, unaligned, size 0, a bad mask "
          "or flag (and an entry that wraps) is KERN_INVALID_ARGUMENT") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(4 * p);
        for (vm_size_t i = 0; i < 4; ++i) poke(a + i * p, static_cast<int>(100 + i));
        mach_port_t e = entry_for(a, 4 * p, kRW);
        std::size_t before = regions().size();
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, 2 * p, e, 2 * p, kRW, kRW), KERN_SUCCESS);
        CHECK(peek(m) == 102);
        CHECK(peek(m + p) == 103);
        CHECK(region_from(m).size == 2 * p);
        vm_address_t bad = 0;
        CHECK_KR(map_entry(bad, 2 * p, e, 3 * p, kRW, kRW), KERN_INVALID_ARGUMENT);  // runs past the end
        CHECK_KR(map_entry(bad, 5 * p, e, 0, kRW, kRW), KERN_INVALID_ARGUMENT);
        CHECK_KR(map_entry(bad, p, e, 100, kRW, kRW), KERN_INVALID_ARGUMENT);  // not a page offset
        CHECK_KR(map_entry(bad, 0, e, 0, kRW, kRW), KERN_INVALID_ARGUMENT);
        CHECK_KR(map_entry(bad, p, e, ~vm_offset_t{0} - p + 1, kRW, kRW), KERN_INVALID_ARGUMENT);  // wraps
        // A mask that is not 2^n - 1, and a flag vm_map does not take.
        CHECK_KR(vm_map(self(), &bad, p, 0x1000, VM_FLAGS_ANYWHERE, e, 0, FALSE, kRW, kRW, VM_INHERIT_DEFAULT),
                 KERN_INVALID_ARGUMENT);
        CHECK_KR(vm_map(self(), &bad, p, 0, VM_FLAGS_ANYWHERE | 0x100, e, 0, FALSE, kRW, kRW, VM_INHERIT_DEFAULT),
                 KERN_INVALID_ARGUMENT);
        // An entry whose range wraps past the end of the address space.
        memory_object_size_t huge = ~memory_object_size_t{0} - 10;
        mach_port_t none = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry_64(self(), &huge, a, kRW, &none, MACH_PORT_NULL), KERN_INVALID_ARGUMENT);
        CHECK(none == MACH_PORT_NULL);
        CHECK(regions().size() == before + 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map protections: wider than the entry is KERN_PROTECTION_FAILURE; cur above max "
          "KERN_INVALID_ARGUMENT; max is clipped to the entry") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        poke(a, 5);
        mach_port_t ro = entry_for(a, p, VM_PROT_READ);
        std::size_t before = regions().size();
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, p, ro, 0, kRW, kRW), KERN_PROTECTION_FAILURE);
        CHECK_KR(map_entry(m, p, ro, 0, VM_PROT_READ | VM_PROT_EXECUTE, VM_PROT_ALL), KERN_PROTECTION_FAILURE);
        CHECK_KR(map_entry(m, p, ro, 0, VM_PROT_READ, VM_PROT_NONE), KERN_INVALID_ARGUMENT);  // cur above max
        CHECK_KR(map_entry(m, p, ro, 0, VM_PROT_READ, 0x1000), KERN_INVALID_ARGUMENT);
        CHECK_KR(map_entry(m, p, ro, 0, VM_PROT_READ, VM_PROT_READ, VM_FLAGS_ANYWHERE, FALSE, 7),
                 KERN_INVALID_ARGUMENT);  // no such inheritance
        CHECK(regions().size() == before);
        CHECK_KR(map_entry(m, p, ro, 0, VM_PROT_READ, VM_PROT_ALL), KERN_SUCCESS);
        Region g = region_from(m);
        CHECK(g.prot == VM_PROT_READ);
        CHECK(g.max == VM_PROT_READ);  // no more than the entry allows
        CHECK(peek(m) == 5);
        CHECK_KR(vm_protect(self(), m, p, FALSE, kRW), KERN_PROTECTION_FAILURE);
        int v = 1;
        CHECK_KR(vm_write(self(), m, reinterpret_cast<vm_offset_t>(&v), sizeof v), KERN_PROTECTION_FAILURE);
        CHECK(peek(a) == 5);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// Found by tests/vm_property_test.cpp: the entry's protection was applied to max before max was checked, so stray
// bits in max vanished and the call succeeded. GNU Mach and XNU (vm_map_enter_mem_object) check max first.
TEST_CASE("vm_map of a memory entry with bits outside VM_PROT_ALL in max is KERN_INVALID_ARGUMENT, even when cur "
          "fits, and maps nothing") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        mach_port_t rw = entry_for(a, p, kRW);
        std::size_t before = regions().size();
        for (vm_prot_t stray : {0x8, 0x10, 0x1000}) {
            for (boolean_t copy : {FALSE, TRUE}) {
                INFO("max " << (kRW | stray) << " copy " << copy);
                vm_address_t m = 0;
                CHECK_KR(map_entry(m, p, rw, 0, kRW, kRW | stray, VM_FLAGS_ANYWHERE, copy), KERN_INVALID_ARGUMENT);
                CHECK(m == 0);
            }
        }
        CHECK(regions().size() == before);
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, p, rw, 0, kRW, kRW), KERN_SUCCESS);  // the same call with a valid max
        CHECK(regions().size() == before + 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map FIXED maps at a free address; over an existing mapping it is KERN_NO_SPACE; unaligned or not clear "
          "of the mask it is KERN_INVALID_ADDRESS") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        poke(a, 77);
        mach_port_t e = entry_for(a, p, kRW);
        vm_address_t hole = allocate(4 * p);
        CHECK_KR(vm_deallocate(self(), hole + 2 * p, 2 * p), KERN_SUCCESS);
        vm_address_t m = hole + 2 * p;
        CHECK_KR(map_entry(m, p, e, 0, kRW, kRW, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(m == hole + 2 * p);
        CHECK(peek(m) == 77);
        vm_address_t over = hole + p;
        CHECK_KR(map_entry(over, p, e, 0, kRW, kRW, VM_FLAGS_FIXED), KERN_NO_SPACE);
        over = m;
        CHECK_KR(map_entry(over, p, e, 0, kRW, kRW, VM_FLAGS_FIXED), KERN_NO_SPACE);
        CHECK(regions_in(hole, hole + 4 * p).size() == 2);
        CHECK(peek(hole + p) == 0);
        vm_address_t wrong = 0;
        CHECK_KR(map_entry(wrong, p, e, 0, kRW, kRW, 0x8), KERN_INVALID_ARGUMENT);  // unknown flag
        // A free page, asked for at an address that is not page-aligned, or not clear of the mask.
        const vm_address_t free_page = hole + 3 * p;
        vm_address_t odd = free_page + 1;
        CHECK_KR(map_entry(odd, p, e, 0, kRW, kRW, VM_FLAGS_FIXED), KERN_INVALID_ADDRESS);
        const vm_address_t mask = ((free_page & (0 - free_page)) << 1) - 1;  // one bit wider than its alignment
        vm_address_t at = free_page;
        CHECK_KR(vm_map(self(), &at, p, mask, VM_FLAGS_FIXED, e, 0, FALSE, kRW, kRW, VM_INHERIT_DEFAULT),
                 KERN_INVALID_ADDRESS);
        CHECK(regions_in(hole, hole + 4 * p).size() == 2);
        at = free_page;  // the same page, asked for properly
        CHECK_KR(map_entry(at, p, e, 0, kRW, kRW, VM_FLAGS_FIXED), KERN_SUCCESS);
        CHECK(peek(at) == 77);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map of a name that is not a memory entry is KERN_INVALID_ARGUMENT; a bad address pointer "
          "KERN_INVALID_ADDRESS") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        mach_port_t e = entry_for(a, p, kRW);
        mach_port_t plain = mt::new_port_with_send();
        mach_port_t recv_only = mt::new_receive_right();
        std::size_t before = regions().size();
        for (mach_port_t name : {plain, recv_only, self(), absent_name(), mach_port_t{MACH_PORT_DEAD}}) {
            CAPTURE(name);
            vm_address_t m = 0;
            CHECK_KR(map_entry(m, p, name, 0, kRW, kRW), KERN_INVALID_ARGUMENT);
        }
        CHECK_KR(vm_map(self(), nullptr, p, 0, VM_FLAGS_ANYWHERE, e, 0, FALSE, kRW, kRW, VM_INHERIT_COPY),
                 KERN_INVALID_ADDRESS);
        vm_address_t ro = page_holding(0, VM_PROT_READ);
        before += 1;
        CHECK_KR(vm_map(self(), reinterpret_cast<vm_address_t*>(ro), p, 0, VM_FLAGS_ANYWHERE, e, 0, FALSE, kRW, kRW,
                        VM_INHERIT_COPY),
                 KERN_INVALID_ADDRESS);
        CHECK(regions().size() == before);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("mach_make_memory_entry_64 at an unaligned offset covers every page the range touches") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        poke(a + p + 16, 7);
        memory_object_size_t size = p;  // from the middle of page 0 into page 1
        mach_port_t e = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a + p / 2, kRW, &e, MACH_PORT_NULL), KERN_SUCCESS);
        CHECK(size == 2 * p);
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, 2 * p, e, 0, kRW, kRW), KERN_SUCCESS);
        CHECK(peek(m + p + 16) == 7);  // the second page is the original's second page
        CHECK_KR(mach_port_deallocate(self(), e), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("mach_make_memory_entry_64 errors: a hole, two regions, more than the maximum protection, size 0, a "
          "parent entry, unusable pointers") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t ro = page_holding(0, VM_PROT_READ);
        vm_address_t a = allocate(3 * p);
        CHECK_KR(vm_deallocate(self(), a + 2 * p, p), KERN_SUCCESS);
        CHECK_KR(vm_protect(self(), a + p, p, TRUE, VM_PROT_READ), KERN_SUCCESS);  // [a, a+p) RW, [a+p, a+2p) max R
        mach_port_t parent = entry_for(a, p, kRW);
        mach_port_name_t before_names = 0;
        {
            mach_port_name_array_t names = nullptr;
            mach_msg_type_number_t n = 0;
            mach_port_type_array_t types = nullptr;
            mach_msg_type_number_t nt = 0;
            CHECK_KR(mach_port_names(self(), &names, &n, &types, &nt), KERN_SUCCESS);
            before_names = n;
            (void)vm_deallocate(self(), reinterpret_cast<vm_address_t>(names), n * sizeof *names);
            (void)vm_deallocate(self(), reinterpret_cast<vm_address_t>(types), nt * sizeof *types);
        }
        memory_object_size_t size = p;
        mach_port_t e = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a + 2 * p, kRW, &e, MACH_PORT_NULL), KERN_INVALID_ADDRESS);
        CHECK(e == MACH_PORT_NULL);
        size = 2 * p;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, VM_PROT_READ, &e, MACH_PORT_NULL),
                 KERN_INVALID_ARGUMENT);  // spans two regions
        size = p;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a + p, kRW, &e, MACH_PORT_NULL), KERN_PROTECTION_FAILURE);
        size = 0;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, kRW, &e, MACH_PORT_NULL), KERN_INVALID_ARGUMENT);
        size = p;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, kRW, &e, parent), KERN_INVALID_ARGUMENT);
        CHECK_KR(mach_make_memory_entry_64(self(), nullptr, a, kRW, &e, MACH_PORT_NULL), KERN_INVALID_ADDRESS);
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, kRW, nullptr, MACH_PORT_NULL), KERN_INVALID_ADDRESS);
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, kRW, reinterpret_cast<mach_port_t*>(ro), MACH_PORT_NULL),
                 KERN_INVALID_ADDRESS);
        // Within the maximum it works.
        size = p;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a + p, VM_PROT_READ, &e, MACH_PORT_NULL), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(self(), e), KERN_SUCCESS);
        // None of the failures left a name behind.
        mach_port_name_array_t names = nullptr;
        mach_msg_type_number_t n = 0;
        mach_port_type_array_t types = nullptr;
        mach_msg_type_number_t nt = 0;
        CHECK_KR(mach_port_names(self(), &names, &n, &types, &nt), KERN_SUCCESS);
        CHECK(n == before_names);
        (void)vm_deallocate(self(), reinterpret_cast<vm_address_t>(names), n * sizeof *names);
        (void)vm_deallocate(self(), reinterpret_cast<vm_address_t>(types), nt * sizeof *types);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// XNU (mach_make_memory_entry_share): the entry may allow no more than the memory's
// current protection (KERN_PROTECTION_FAILURE otherwise). Else a task given the entry
// could write pages their owner has made read-only.
TEST_CASE("mach_make_memory_entry_64 asking more than the memory's current protection is KERN_PROTECTION_FAILURE") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(p);
        poke(a, 3);
        CHECK_KR(vm_protect(self(), a, p, FALSE, VM_PROT_READ), KERN_SUCCESS);  // current R, maximum still ALL
        memory_object_size_t size = p;
        mach_port_t e = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry_64(self(), &size, a, kRW, &e, MACH_PORT_NULL), KERN_PROTECTION_FAILURE);
        if (e != MACH_PORT_NULL) {  // it was made: show what it allows
            vm_address_t m = 0;
            CHECK_KR(map_entry(m, p, e, 0, kRW, kRW), KERN_SUCCESS);
            poke(m, 4);
            CHECK_MESSAGE(peek(a) == 3, "a writable mapping of read-only memory changed it");
        }
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("mach_make_memory_entry (the vm_size_t spelling) works as the 64-bit call") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        poke(a + p, 61);
        vm_size_t size = p + 1;
        mach_port_t e = MACH_PORT_NULL;
        CHECK_KR(mach_make_memory_entry(self(), &size, a, kRW, &e, MACH_PORT_NULL), KERN_SUCCESS);
        CHECK(size == 2 * p);
        vm_address_t m = 0;
        CHECK_KR(map_entry(m, 2 * p, e, 0, kRW, kRW), KERN_SUCCESS);
        CHECK(peek(m + p) == 61);
        mach_port_t other = MACH_PORT_NULL;
        size = p;
        CHECK_KR(mach_make_memory_entry(self(), &size, a + 8 * p, kRW, &other, MACH_PORT_NULL), KERN_INVALID_ADDRESS);
        size = p;
        CHECK_KR(mach_make_memory_entry(self(), &size, a, kRW, &other, e), KERN_INVALID_ARGUMENT);  // a parent entry
        CHECK(other == MACH_PORT_NULL);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// docs/api.md §10: an unwritable out-pointer is KERN_INVALID_ADDRESS. `size` is in/out.
TEST_CASE("mach_make_memory_entry with a null or readable-but-unwritable size pointer fails with "
          "KERN_INVALID_ADDRESS (both spellings), without killing the task") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("wide", [] {
            vm_address_t a = allocate(page());
            vm_address_t ro = page_holding(page(), VM_PROT_READ);  // holds a valid size
            mach_port_t e = MACH_PORT_NULL;
            CHECK_KR(mach_make_memory_entry_64(self(), reinterpret_cast<memory_object_size_t*>(ro), a, kRW, &e,
                                               MACH_PORT_NULL),
                     KERN_INVALID_ADDRESS);
        });
        k.spawn("narrow", [] {
            vm_address_t a = allocate(page());
            vm_address_t ro = page_holding(page(), VM_PROT_READ);
            mach_port_t e = MACH_PORT_NULL;
            CHECK_KR(mach_make_memory_entry(self(), nullptr, a, kRW, &e, MACH_PORT_NULL), KERN_INVALID_ADDRESS);
            CHECK_KR(mach_make_memory_entry(self(), reinterpret_cast<vm_size_t*>(ro), a, kRW, &e, MACH_PORT_NULL),
                     KERN_INVALID_ADDRESS);
        });
    });
    INFO(r.summary());
    CHECK(report_of(r, "wide").end == machsim::TaskEnd::Exited);
    CHECK(report_of(r, "narrow").end == machsim::TaskEnd::Exited);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

// vm_map with MACH_PORT_NULL is anonymous memory (as vm_allocate) with the given
// protections and inheritance (XNU vm_map_enter_mem_object).
TEST_CASE("vm_map with no memory object allocates zero-filled memory with the given protections and inheritance") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t m = 0;
        CHECK_KR(vm_map(self(), &m, 2 * p, 0, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, VM_PROT_READ, kRW,
                        VM_INHERIT_SHARE),
                 KERN_SUCCESS);
        REQUIRE(m != 0);
        Region g = region_from(m);
        CHECK(g.start == m);
        CHECK(g.size == 2 * p);
        CHECK(g.prot == VM_PROT_READ);
        CHECK(g.max == kRW);
        CHECK(g.inherit == VM_INHERIT_SHARE);
        CHECK(all_bytes(m, 2 * p, 0));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map ANYWHERE with mask 2^n - 1 gives a 2^n-aligned address in the task's range; a mask no address "
          "there satisfies is KERN_NO_SPACE") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t m = 0;
        const vm_address_t mask = (vm_address_t{1} << 20) - 1;  // 1 MiB alignment
        CHECK_KR(vm_map(self(), &m, p, mask, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, kRW, kRW, VM_INHERIT_COPY),
                 KERN_SUCCESS);
        CHECK(m != 0);
        CHECK((m & mask) == 0);
        CHECK(region_from(m).start == m);
        poke(m, 7);
        CHECK(peek(m) == 7);
        // ~0 aligns every address to 0, and 2^44 - 1 to 16 TiB multiples the range has none of:
        // no address of the task's range fits.
        for (vm_address_t wide : {~vm_address_t{0}, (vm_address_t{1} << 44) - 1}) {
            CAPTURE(wide);
            vm_address_t at = 0x1234;
            CHECK_KR(vm_map(self(), &at, p, wide, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, kRW, kRW,
                            VM_INHERIT_COPY),
                     KERN_NO_SPACE);
            CHECK(at == 0x1234);
        }
        CHECK_FALSE(is_mapped(0));
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("vm_map with no memory object and invalid protections fails and maps nothing") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        std::size_t before = regions().size();
        vm_address_t m = 0;
        kern_return_t kr = vm_map(self(), &m, p, 0, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, kRW, VM_PROT_READ,
                                  VM_INHERIT_COPY);  // cur above max
        CHECK(kr != KERN_SUCCESS);
        CHECK(regions().size() == before);
        m = 0;
        kr = vm_map(self(), &m, p, 0, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, 0x1000, 0x1000, VM_INHERIT_COPY);
        CHECK(kr != KERN_SUCCESS);
        CHECK(regions().size() == before);
        m = 0;
        kr = vm_map(self(), &m, p, 0, VM_FLAGS_ANYWHERE, MACH_PORT_NULL, 0, FALSE, VM_PROT_READ, VM_PROT_READ, 7);
        CHECK(kr != KERN_SUCCESS);
        CHECK(regions().size() == before);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// Memory shared between tasks (R27: "mapping a memory object")
// ================================================================================

TEST_CASE("a memory entry sent in a message lets another task map the same pages; writes are seen both ways") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("owner", [] {
            const vm_size_t size = 2 * page();
            vm_address_t a = allocate(size);
            poke(a, 11);  // before the entry exists
            mach_port_t e = entry_for(a, size, kRW);
            mach_port_t up = mt::new_port_with_send();
            machsim::task_spawn(
                "mapper",
                [](mach_port_t parent) {
                    mach_port_t inbox = connect_parent(parent);
                    vm_address_t decoy = allocate(3 * page());  // so our mapping cannot land at the owner's address
                    uint64_t owner_at = 0, size = 0;
                    mach_port_t entry = receive_entry(inbox, owner_at, size);
                    CHECK(mt::type_of(entry) == MACH_PORT_TYPE_SEND);
                    vm_address_t m = 0;
                    CHECK_KR(map_entry(m, size, entry, 0, kRW, kRW), KERN_SUCCESS);
                    CHECK(m != owner_at);
                    CHECK((m >= decoy + 3 * page() || m + size <= decoy));
                    CHECK(peek(m) == 11);            // written by the owner before
                    poke(m + size - sizeof(int), 22);  // seen by the owner
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                    hear(inbox);
                    CHECK(peek(m + 64) == 33);  // written by the owner after we mapped
                    CHECK_KR(tell(parent, 2), MACH_MSG_SUCCESS);
                },
                up, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            Hello h = accept_child(up);
            CHECK_KR(send_entry(h.down, e, a, size), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
            CHECK(peek(a + size - sizeof(int)) == 22);
            poke(a + 64, 33);
            CHECK_KR(tell(h.down, 0), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 2);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(report_of(r, "mapper").end == machsim::TaskEnd::Exited);
}

TEST_CASE("a read-only entry: mapping it writable is KERN_PROTECTION_FAILURE; a raw write through the read-only "
          "mapping ends that task with SIGBUS while the owner runs on") {
    int owner_steps = 0;
    machsim::RunReport r = run_vm([&owner_steps](machsim::Kernel& k) {
        k.spawn("owner", [&owner_steps] {
            const vm_size_t p = page();
            vm_address_t a = allocate(p);
            poke(a, 5);
            mach_port_t ro = entry_for(a, p, VM_PROT_READ);
            mach_port_t up = mt::new_port_with_send();
            mach_port_t child = machsim::task_spawn(
                "reader",
                [](mach_port_t parent) {
                    const vm_size_t p = page();
                    mach_port_t inbox = connect_parent(parent);
                    (void)allocate(2 * p);  // move our mapping off the owner's address
                    uint64_t owner_at = 0, size = 0;
                    mach_port_t entry = receive_entry(inbox, owner_at, size);
                    vm_address_t m = 0;
                    CHECK_KR(map_entry(m, p, entry, 0, kRW, kRW), KERN_PROTECTION_FAILURE);
                    CHECK_KR(map_entry(m, p, entry, 0, VM_PROT_READ, kRW), KERN_SUCCESS);
                    CHECK(m != owner_at);
                    CHECK(region_from(m).max == VM_PROT_READ);
                    CHECK(peek(m) == 5);
                    CHECK_KR(vm_protect(self(), m, p, FALSE, kRW), KERN_PROTECTION_FAILURE);
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                    poke(m, 6);
                    CHECK_KR(tell(parent, 2), MACH_MSG_SUCCESS);  // never sent
                },
                up, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            Hello h = accept_child(up);
            CHECK_KR(send_entry(h.down, ro, a, p), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
            CHECK(wait_dead(child));
            WordIn in;
            CHECK_KR(wait_words(up, in, 0), MACH_RCV_TIMED_OUT);  // the reader never got past its write
            CHECK(peek(a) == 5);
            for (int i = 0; i < 5; ++i) {  // the owner goes on using its memory
                poke(a + 4, i);
                CHECK(peek(a + 4) == i);
                sleep_ms(1);
                ++owner_steps;
            }
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& reader = report_of(r, "reader");
    CHECK(reader.end == machsim::TaskEnd::Signaled);
    CHECK(reader.exit_code == machsim::sig::BUS);
    CHECK(reader.detail.find("r--") != std::string::npos);
    CHECK(report_of(r, "owner").end == machsim::TaskEnd::Exited);
    CHECK(owner_steps == 5);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("a memory entry keeps its memory after the region it was made from is gone and its maker has ended") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("maker", [] {
            const vm_size_t p = page();
            vm_address_t a = allocate(p);
            poke(a + 12, 4242);
            mach_port_t e = entry_for(a, p, kRW);
            CHECK_KR(vm_deallocate(self(), a, p), KERN_SUCCESS);  // the entry still names the pages
            mach_port_t up = mt::new_port_with_send();
            machsim::task_spawn(
                "heir",
                [](mach_port_t parent) {
                    mach_port_t inbox = connect_parent(parent);
                    uint64_t at = 0, size = 0;
                    mach_port_t entry = receive_entry(inbox, at, size);
                    CHECK(wait_dead(parent));  // the maker has ended
                    vm_address_t m = 0;
                    CHECK_KR(map_entry(m, size, entry, 0, kRW, kRW), KERN_SUCCESS);
                    CHECK(peek(m + 12) == 4242);
                    poke(m, 1);
                    CHECK_KR(mach_port_deallocate(self(), entry), KERN_SUCCESS);
                    CHECK(peek(m + 12) == 4242);
                    CHECK_KR(vm_deallocate(self(), m, size), KERN_SUCCESS);
                },
                up, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            Hello h = accept_child(up);
            CHECK_KR(send_entry(h.down, e, 0, p), MACH_MSG_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("isolation: a message for a receiver waiting with its buffer in its own region lands there, not in the "
          "sender's region at the same address") {
    vm_address_t buffer = 0, senders = 0;
    int received = -1, senders_word = -1;
    machsim::RunReport r = run_vm([&](machsim::Kernel& k) {
        k.spawn("receiver", [&] {
            mach_port_t p = mt::new_receive_right();
            buffer = allocate(page());
            machsim::task_spawn(
                "sender",
                [&](mach_port_t dest) {
                    senders = allocate(page());  // its lowest free address: the receiver's buffer's address
                    poke(senders + offsetof(mt::SimpleMsg, payload), 0x5a5a);
                    CHECK_KR(mt::send_simple(dest, MACH_MSG_TYPE_COPY_SEND, 4242), MACH_MSG_SUCCESS);
                    senders_word = peek(senders + offsetof(mt::SimpleMsg, payload));
                },
                p, MACH_MSG_TYPE_MAKE_SEND, kNoMemory);
            // Waits (nothing is queued yet): the send finds this receiver waiting.
            CHECK_KR(mach_msg(reinterpret_cast<mach_msg_header_t*>(buffer), MACH_RCV_MSG, 0, page(), p,
                              MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL),
                     MACH_MSG_SUCCESS);
            received = peek(buffer + offsetof(mt::SimpleMsg, payload));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(senders == buffer);  // the case that matters: one address, two tasks' memory
    CHECK(received == 4242);
    CHECK(senders_word == 0x5a5a);
}

TEST_CASE("isolation (R27): a task that reads, through a raw pointer, an address where only another task has "
          "memory ends with SIGSEGV; the owner is untouched") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("owner", [] {
            const vm_size_t p = page();
            vm_address_t a = allocate(8 * p);
            vm_address_t target = a + 6 * p;
            poke(target, 1234);
            mach_port_t up = mt::new_port_with_send();
            mach_port_t reader = machsim::task_spawn(
                "reader",
                [](mach_port_t parent) {
                    vm_address_t mine = allocate(page());  // the reader's own memory, at its lowest free address
                    poke(mine, 1);
                    mach_port_t inbox = connect_parent(parent);
                    vm_address_t there = hear(inbox).word[0];
                    CHECK(there != 0);
                    CHECK(there != mine);
                    CHECK_FALSE(is_mapped(there));  // nothing of ours is there...
                    vm_offset_t data = 0;
                    mach_msg_type_number_t n = 0;
                    // ...and the kernel agrees.
                    CHECK_KR(vm_read(self(), there, sizeof(int), &data, &n), KERN_INVALID_ADDRESS);
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                    int seen = peek(there);
                    CHECK_KR(tell(parent, 2, static_cast<uint64_t>(seen)), MACH_MSG_SUCCESS);  // never sent
                },
                up, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            Hello h = accept_child(up);
            CHECK_KR(tell(h.down, target), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
            CHECK(wait_dead(reader));
            WordIn in;
            CHECK_KR(wait_words(up, in, 0), MACH_RCV_TIMED_OUT);
            CHECK(peek(target) == 1234);
            poke(target, 4321);
            CHECK(peek(target) == 4321);
            Region g = region_from(a);
            CHECK(g.start == a);
            CHECK(g.size == 8 * p);
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& reader = report_of(r, "reader");
    CHECK(reader.end == machsim::TaskEnd::Signaled);
    CHECK(reader.exit_code == machsim::sig::SEGV);
    CHECK(reader.detail.find("no region of this task there") != std::string::npos);
    CHECK(report_of(r, "owner").end == machsim::TaskEnd::Exited);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

// ================================================================================
// Another task's memory through its task port
// ================================================================================

TEST_CASE("vm_read, vm_write, vm_copy, vm_allocate, vm_protect, vm_inherit, vm_region_64 and vm_deallocate act on "
          "another task through its task port") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            const vm_size_t p = page();
            mach_port_t up = mt::new_port_with_send();
            mach_port_t child = machsim::task_spawn(
                "child",
                [](mach_port_t parent) {
                    const vm_size_t p = page();
                    vm_address_t c = allocate(2 * p);
                    fill(c, 2 * p, 'c');
                    vm_address_t d = allocate(p);
                    poke(d, 3);
                    mach_port_t inbox = connect_parent(parent, c, d);
                    WordMsg m = hear(inbox);
                    vm_address_t n = m.word[0];
                    CHECK(std::memcmp(reinterpret_cast<void*>(c + 100), "hello", 6) == 0);      // vm_write
                    CHECK(std::memcmp(reinterpret_cast<void*>(c + p + 200), "hello", 6) == 0);  // vm_copy
                    CHECK(all_bytes(c, 100, 'c'));
                    Region g = region_from(n);  // vm_allocate'd, vm_write'n, vm_protect'ed and vm_inherit'ed for us
                    CHECK(g.start == n);
                    CHECK(g.size == p);
                    CHECK(g.prot == VM_PROT_READ);
                    CHECK(g.inherit == VM_INHERIT_NONE);
                    CHECK(peek(n) == 'x');
                    CHECK_FALSE(is_mapped(d));  // vm_deallocate'd for us
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                },
                up, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            Hello h = accept_child(up);
            vm_address_t c = h.word[0], d = h.word[1];
            std::size_t mine = regions().size();
            // Reading: the bytes arrive in a new region of ours.
            vm_offset_t data = 0;
            mach_msg_type_number_t n = 0;
            CHECK_KR(vm_read(child, c, 2 * p, &data, &n), KERN_SUCCESS);
            CHECK(n == 2 * p);
            CHECK(all_bytes(data, 2 * p, 'c'));
            CHECK(regions().size() == mine + 1);
            CHECK_KR(vm_deallocate(self(), data, n), KERN_SUCCESS);
            // Its regions, seen from here.
            Region g = region_from(c, child);
            CHECK_KR(g.kr, KERN_SUCCESS);
            CHECK(g.start == c);
            CHECK(g.size == 2 * p);
            CHECK(regions(child).size() == 2);
            // Writing and copying inside it.
            CHECK_KR(vm_write(child, c + 100, reinterpret_cast<vm_offset_t>("hello"), 6), KERN_SUCCESS);
            CHECK_KR(vm_copy(child, c + 100, 6, c + p + 200), KERN_SUCCESS);
            // Its holes and protections answer as ours would.
            vm_address_t past = std::max(c + 2 * p, d + p);
            CHECK_KR(region_from(past, child).kr, KERN_INVALID_ADDRESS);
            CHECK_KR(vm_read(child, past, 4, &data, &n), KERN_INVALID_ADDRESS);
            CHECK_KR(vm_write(child, past, reinterpret_cast<vm_offset_t>("x"), 1), KERN_INVALID_ADDRESS);
            // Allocating, writing, protecting and inheriting for it.
            vm_address_t fresh = 0;
            CHECK_KR(vm_allocate(child, &fresh, p, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
            CHECK(is_mapped(fresh, child));
            int x = 'x';
            CHECK_KR(vm_write(child, fresh, reinterpret_cast<vm_offset_t>(&x), sizeof x), KERN_SUCCESS);
            CHECK_KR(vm_protect(child, fresh, p, FALSE, VM_PROT_READ), KERN_SUCCESS);
            CHECK_KR(vm_write(child, fresh, reinterpret_cast<vm_offset_t>(&x), sizeof x), KERN_PROTECTION_FAILURE);
            CHECK_KR(vm_protect(child, fresh, p, TRUE, VM_PROT_READ), KERN_SUCCESS);
            CHECK_KR(vm_protect(child, fresh, p, FALSE, kRW), KERN_PROTECTION_FAILURE);
            CHECK_KR(vm_inherit(child, fresh, p, VM_INHERIT_NONE), KERN_SUCCESS);
            vm_address_t taken = c;
            CHECK_KR(vm_allocate(child, &taken, p, VM_FLAGS_FIXED), KERN_NO_SPACE);
            CHECK_KR(vm_deallocate(child, d, p), KERN_SUCCESS);
            CHECK(regions().size() == mine);  // none of this touched our own space
            CHECK_KR(tell(h.down, fresh), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("mach_make_memory_entry_64 on another task's port shares that task's memory with the caller") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            const vm_size_t p = page();
            mach_port_t up = mt::new_port_with_send();
            mach_port_t child = machsim::task_spawn(
                "child",
                [](mach_port_t parent) {
                    vm_address_t c = allocate(page());
                    poke(c, 7);
                    mach_port_t inbox = connect_parent(parent, c);
                    hear(inbox);
                    CHECK(peek(c + 8) == 8);  // the parent wrote it through its own mapping
                    poke(c + 16, 9);
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                    hear(inbox);  // keep our memory until the parent has looked
                },
                up, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            Hello h = accept_child(up);
            vm_address_t c = h.word[0];
            (void)allocate(3 * p);  // our mapping must not land at c
            mach_port_t e = entry_for(c, p, kRW, child);
            vm_address_t m = 0;
            CHECK_KR(map_entry(m, p, e, 0, kRW, kRW), KERN_SUCCESS);
            CHECK(m != c);
            CHECK(peek(m) == 7);
            poke(m + 8, 8);
            CHECK_KR(tell(h.down, 0), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
            CHECK(peek(m + 16) == 9);
            CHECK_KR(tell(h.down, 0), MACH_MSG_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("every VM call aimed at a name that is not a live task's port fails with MACH_SEND_INVALID_DEST and "
          "changes nothing") {
    machsim::RunReport r = run_one([] {
        const vm_size_t p = page();
        vm_address_t a = allocate(2 * p);
        poke(a, 1);
        mach_port_t entry = entry_for(a, p, kRW);
        mach_port_t dead = machsim::task_spawn("brief", [](mach_port_t) {}, MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND,
                                               kNoMemory);
        CHECK(wait_dead(dead));
        mach_port_t recv_only = mt::new_receive_right();
        mach_port_t plain = mt::new_port_with_send();
        mach_port_t thread = mach_thread_self();
        std::size_t before = regions().size();
        const mach_port_t names[] = {MACH_PORT_NULL, MACH_PORT_DEAD, absent_name(), recv_only, plain,
                                     dead,           entry,          thread};
        for (mach_port_t t : names) {
            CAPTURE(t);
            vm_address_t at = 0;
            mach_vm_address_t at64 = 0;
            vm_offset_t data = 0;
            mach_msg_type_number_t n = 0;
            vm_size_t size = 0;
            vm_region_basic_info_data_64_t info{};
            mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
            mach_port_t object = MACH_PORT_NULL;
            memory_object_size_t esize = p;
            vm_size_t esize32 = p;
            mach_port_t handle = MACH_PORT_NULL;
            int v = 2;
            CHECK_KR(vm_allocate(t, &at, p, VM_FLAGS_ANYWHERE), MACH_SEND_INVALID_DEST);
            CHECK_KR(vm_deallocate(t, a, p), MACH_SEND_INVALID_DEST);
            CHECK_KR(vm_protect(t, a, p, FALSE, VM_PROT_NONE), MACH_SEND_INVALID_DEST);
            CHECK_KR(vm_inherit(t, a, p, VM_INHERIT_NONE), MACH_SEND_INVALID_DEST);
            CHECK_KR(vm_read(t, a, 4, &data, &n), MACH_SEND_INVALID_DEST);
            CHECK_KR(vm_write(t, a, reinterpret_cast<vm_offset_t>(&v), sizeof v), MACH_SEND_INVALID_DEST);
            CHECK_KR(vm_copy(t, a + 4, 4, a), MACH_SEND_INVALID_DEST);
            at = a;
            CHECK_KR(vm_region_64(t, &at, &size, VM_REGION_BASIC_INFO_64, reinterpret_cast<vm_region_info_t>(&info),
                                  &count, &object),
                     MACH_SEND_INVALID_DEST);
            CHECK_KR(mach_make_memory_entry_64(t, &esize, a, kRW, &handle, MACH_PORT_NULL), MACH_SEND_INVALID_DEST);
            CHECK_KR(mach_make_memory_entry(t, &esize32, a, kRW, &handle, MACH_PORT_NULL), MACH_SEND_INVALID_DEST);
            at = 0;
            CHECK_KR(vm_map(t, &at, p, 0, VM_FLAGS_ANYWHERE, entry, 0, FALSE, kRW, kRW, VM_INHERIT_COPY),
                     MACH_SEND_INVALID_DEST);
            CHECK_KR(mach_vm_allocate(t, &at64, p, VM_FLAGS_ANYWHERE), MACH_SEND_INVALID_DEST);
            CHECK_KR(mach_vm_deallocate(t, a, p), MACH_SEND_INVALID_DEST);
            CHECK_KR(mach_vm_protect(t, a, p, FALSE, VM_PROT_NONE), MACH_SEND_INVALID_DEST);
            CHECK_KR(mach_vm_read(t, a, 4, &data, &n), MACH_SEND_INVALID_DEST);
            CHECK(handle == MACH_PORT_NULL);
        }
        CHECK(regions().size() == before);
        Region g = region_from(a);
        CHECK(g.start == a);
        CHECK(g.size == 2 * p);
        CHECK(g.prot == kRW);
        CHECK(g.inherit == VM_INHERIT_COPY);
        CHECK(peek(a) == 1);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

// ================================================================================
// Inheritance into tasks made with task_spawn (R24)
// ================================================================================

TEST_CASE("VM_INHERIT_SHARE: the child sees the parent's writes made after the spawn, and the parent sees the "
          "child's") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            const vm_size_t p = page();
            vm_address_t whole = allocate(3 * p);
            poke(whole + p, 1);
            CHECK_KR(vm_deallocate(self(), whole, p), KERN_SUCCESS);  // the region left starts a page into its object
            vm_address_t a = whole + p;
            CHECK_KR(vm_inherit(self(), a, 2 * p, VM_INHERIT_SHARE), KERN_SUCCESS);
            mach_port_t up = mt::new_port_with_send();
            machsim::task_spawn(
                "child",
                [a](mach_port_t parent) {
                    Region g = region_from(a);
                    CHECK(g.start == a);
                    CHECK(g.size == 2 * page());
                    CHECK(g.inherit == VM_INHERIT_SHARE);
                    CHECK(g.offset == page());
                    CHECK_FALSE(is_mapped(a - page()));
                    CHECK(peek(a) == 1);
                    mach_port_t inbox = connect_parent(parent);
                    hear(inbox);
                    CHECK(peek(a + 8) == 2);  // written by the parent after the spawn
                    poke(a + page() + 16, 3);
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                },
                up);
            Hello h = accept_child(up);
            poke(a + 8, 2);
            CHECK_KR(tell(h.down, 0), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
            CHECK(peek(a + p + 16) == 3);  // written by the child
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("VM_INHERIT_COPY (the default): the child starts with a copy, later writes on either side stay private, "
          "protections come along") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            const vm_size_t p = page();
            vm_address_t whole = allocate(2 * p);
            poke(whole + p, 1);
            CHECK_KR(vm_deallocate(self(), whole, p), KERN_SUCCESS);  // the region left starts a page into its object
            vm_address_t a = whole + p;
            vm_address_t b = allocate(p);
            poke(b, 4);
            CHECK_KR(vm_protect(self(), b, p, TRUE, VM_PROT_READ), KERN_SUCCESS);
            mach_port_t up = mt::new_port_with_send();
            machsim::task_spawn(
                "child",
                [a, b](mach_port_t parent) {
                    Region g = region_from(a);
                    CHECK(g.start == a);
                    CHECK(g.inherit == VM_INHERIT_COPY);
                    CHECK(peek(a) == 1);  // the contents at the spawn
                    g = region_from(b);
                    CHECK(g.start == b);
                    CHECK(g.prot == VM_PROT_READ);
                    CHECK(g.max == VM_PROT_READ);
                    CHECK(peek(b) == 4);
                    mach_port_t inbox = connect_parent(parent);
                    hear(inbox);
                    CHECK(peek(a + 8) == 0);  // the parent's later write is not ours
                    poke(a, 9);
                    poke(a + 16, 3);
                    CHECK_KR(tell(parent, 1), MACH_MSG_SUCCESS);
                },
                up);
            Hello h = accept_child(up);
            poke(a + 8, 2);
            CHECK_KR(tell(h.down, 0), MACH_MSG_SUCCESS);
            CHECK(hear(up).word[0] == 1);
            CHECK(peek(a) == 1);  // the child's writes are not ours
            CHECK(peek(a + 16) == 0);
            CHECK(peek(a + 8) == 2);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("VM_INHERIT_NONE: the child has a hole there (vm_region_64, vm_read), a raw read ends it with SIGSEGV, "
          "and it may allocate there itself") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            const vm_size_t p = page();
            vm_address_t a = allocate(2 * p);
            vm_address_t b = allocate(p);  // inherited as a copy, for contrast
            poke(a, 1);
            poke(b, 2);
            CHECK_KR(vm_inherit(self(), a, 2 * p, VM_INHERIT_NONE), KERN_SUCCESS);
            mach_port_t prober = machsim::task_spawn("prober", [a, b](mach_port_t) {
                CHECK_FALSE(is_mapped(a));
                CHECK_FALSE(is_mapped(a + page()));
                CHECK(is_mapped(b));
                CHECK(peek(b) == 2);
                vm_offset_t data = 0;
                mach_msg_type_number_t n = 0;
                CHECK_KR(vm_read(self(), a, 4, &data, &n), KERN_INVALID_ADDRESS);
                (void)peek(a);
                FAIL("a read in the hole returned");
            });
            mach_port_t settler = machsim::task_spawn("settler", [a](mach_port_t) {
                vm_address_t at = a;
                CHECK_KR(vm_allocate(self(), &at, 2 * page(), VM_FLAGS_FIXED), KERN_SUCCESS);  // the range is free
                CHECK(at == a);
                CHECK(all_bytes(a, 2 * page(), 0));
                poke(a, 77);
            });
            CHECK(wait_dead(prober));
            CHECK(wait_dead(settler));
            CHECK(peek(a) == 1);  // neither child reached our pages
            CHECK(region_from(a).inherit == VM_INHERIT_NONE);
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& prober = report_of(r, "prober");
    CHECK(prober.end == machsim::TaskEnd::Signaled);
    CHECK(prober.exit_code == machsim::sig::SEGV);
    CHECK(report_of(r, "settler").end == machsim::TaskEnd::Exited);
    CHECK(report_of(r, "parent").end == machsim::TaskEnd::Exited);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("SpawnOptions{.inherit_memory = false}: the child starts with no regions at all, whatever vm_inherit says") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            const vm_size_t p = page();
            vm_address_t shared = allocate(p);
            vm_address_t copied = allocate(p);
            CHECK_KR(vm_inherit(self(), shared, p, VM_INHERIT_SHARE), KERN_SUCCESS);
            poke(shared, 1);
            poke(copied, 2);
            mach_port_t child = machsim::task_spawn(
                "bare",
                [shared, copied](mach_port_t) {
                    CHECK_KR(region_from(0).kr, KERN_INVALID_ADDRESS);  // nothing anywhere
                    CHECK(regions().empty());
                    vm_offset_t data = 0;
                    mach_msg_type_number_t n = 0;
                    CHECK_KR(vm_read(self(), shared, 4, &data, &n), KERN_INVALID_ADDRESS);
                    CHECK_KR(vm_read(self(), copied, 4, &data, &n), KERN_INVALID_ADDRESS);
                },
                MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            CHECK(wait_dead(child));
            CHECK(peek(shared) == 1);
            CHECK(peek(copied) == 2);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a task's regions, mappings and memory entries are freed when it ends") {
    machsim::RunReport r = run_vm([](machsim::Kernel& k) {
        k.spawn("parent", [] {
            std::size_t before = memory_objects();
            vm_address_t probe = allocate(page());  // the count does see our memory objects
            CHECK(memory_objects() == before + 1);
            CHECK_KR(vm_deallocate(self(), probe, page()), KERN_SUCCESS);
            CHECK(memory_objects() == before);
            mach_port_t child = machsim::task_spawn(
                "spender",
                [](mach_port_t) {
                    const vm_size_t p = page();
                    vm_address_t a = allocate(3 * p);
                    (void)allocate(p);
                    (void)allocate(5 * p);
                    CHECK_KR(vm_deallocate(self(), a + p, p), KERN_SUCCESS);  // a split region
                    memory_object_size_t size = 2 * p;
                    mach_port_t e = MACH_PORT_NULL;
                    CHECK_KR(mach_make_memory_entry_64(self(), &size, 0, kRW | MAP_MEM_NAMED_CREATE, &e,
                                                       MACH_PORT_NULL),
                             KERN_SUCCESS);
                    vm_address_t m = 0;
                    CHECK_KR(map_entry(m, 2 * p, e, 0, kRW, kRW), KERN_SUCCESS);
                    CHECK_KR(map_entry(m, 2 * p, e, 0, kRW, kRW, VM_FLAGS_ANYWHERE, TRUE), KERN_SUCCESS);
                    vm_offset_t data = 0;
                    mach_msg_type_number_t n = 0;
                    CHECK_KR(vm_read(self(), a, p, &data, &n), KERN_SUCCESS);
                    poke(a, 1);
                },  // ends without giving anything back
                MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND, kNoMemory);
            CHECK(wait_dead(child));
            CHECK(memory_objects() == before);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("vm")
