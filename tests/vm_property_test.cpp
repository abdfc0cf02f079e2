// Property test of the VM and memory-isolation layer: seeded random sequences of VM calls from several tasks, each
// keeping a byte-exact model of its address space (regions with start, size, protection, maximum, inheritance,
// offset and shared flag, over model memory objects holding the bytes), and of the memory entries it names.
// Operations: vm_allocate (ANYWHERE, FIXED, size 0, over existing mappings), vm_deallocate (holes, partial ranges
// that split regions), vm_protect (set_maximum, above the maximum), vm_inherit, vm_read, vm_write, vm_copy (holes,
// read-only targets, overlaps), vm_region_64 probes, reads and writes through pointers (only where the protection
// allows: a fault here would be a failure), mach_make_memory_entry_64 and vm_map (shared and copy = TRUE), OOL
// memory sent between the tasks (copy and deallocate = TRUE, to a full queue: pseudo-received back), memory entries
// sent in messages, messages sent from and received into the tasks' own regions, the same calls on another task's
// memory through its task port, and task_spawn children that check what vm_inherit gave them. Half of the calls use
// the mach_vm_* spellings.
// After every step: each return code is checked against what docs/api.md §11 (and §3.7, MACH-REFERENCE R24, R27)
// allows in that situation; the stepping task's regions are compared with vm_region_64 and its bytes with its
// memory, the memory of the other tasks it touched likewise (through their task ports), every memory entry name
// with the kernel's urefs, the number of live memory objects (memfds) with the model's, and the census of rights.
// At the end of each run: no leak, no accounting problem, no deadlock, every task exited 0.
//
//   MACHSIM_VMPROP_SEEDS=A-B (or N: 1-N)  the seeds            (default 1-16)
//   MACHSIM_VMPROP_STEPS=S                steps per seed       (default 500, shared by the tasks)
//   MACHSIM_VMPROP_VERBOSE=1              print the time taken and what happened
//   MACHSIM_VMPROP_TRACE=1                print the kernel's trace of each run
//   MACHSIM_VMPROP_LOG=1                  print each step as it is taken
// Replay a failure at seed S, step N: MACHSIM_VMPROP_SEEDS=S-S MACHSIM_VMPROP_STEPS=N [MACHSIM_VMPROP_TRACE=1]
// build/machsim-tests -ts=vm-property. No decision depends on the step limit: a shorter run is a prefix of a longer
// one. The first failure of a run ends its random part (the model is wrong from there on).
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/property_support.h"

namespace {

using Name = mach_port_name_t;
using Addr = uint64_t;
using Bytes = std::vector<uint8_t>;

constexpr int kActors = 3;
constexpr Addr kBase = 0x300000000000ull;  // the task range (docs/api.md 11.1)
constexpr Addr kEnd = kBase + (uint64_t{16} << 30);
constexpr uint64_t kArenaPages = 40;  // where FIXED calls and probes aim
constexpr uint32_t kMagic = 0x564d5052;
constexpr mach_msg_id_t kHelloId = 2000, kDataId = 2001;
constexpr size_t kQlimit = 5;  // MACH_PORT_QLIMIT_DEFAULT
constexpr int kCourier = kActors;  // the sender of a message a courier task brings
constexpr vm_prot_t kR = VM_PROT_READ, kW = VM_PROT_WRITE, kX = VM_PROT_EXECUTE, kRW = kR | kW;

enum Count {
    kSteps, kCensus, kRegionWalks, kByteChecks, kMemfdChecks, kAllocAnywhere, kAllocFixed, kAllocZero, kAllocNoSpace,
    kAllocRefused, kDealloc, kDeallocSplit, kDeallocHole, kProtect, kProtectMax, kProtectAboveMax, kProtectHole,
    kInherit, kInheritRefused, kRead, kReadRefused, kWrite, kWriteReadOnly, kWriteOwnData, kCopy, kCopyOverlap,
    kCopyRefused, kHoleAndProt, kProbes, kPointerReads, kPointerWrites, kSharedWrites, kEntryNamed, kEntryCreated, kEntryRefused,
    kMapShared, kMapCopy, kMapFresh, kMapRefused, kEntryReleased, kOolSent, kOolDealloc, kOolHost, kOolRefused,
    kOolReceived, kWroteAfterSend, kWroteAfterReceive, kPseudoReceived, kEntriesSent, kEntriesReceived, kSentFromRegion,
    kReceivedIntoRegion, kWaitedReceives, kWaitedIntoRegion, kPeerCalls, kSpawns, kChildShared, kChildCopied,
    kChildHoles, kCounts
};
const char* const kCountNames[kCounts] = {
    "steps", "census checks", "vm_region_64 walks", "byte comparisons", "memory object counts",
    "vm_allocate ANYWHERE", "vm_allocate FIXED", "vm_allocate size 0", "vm_allocate KERN_NO_SPACE",
    "vm_allocate refused otherwise", "vm_deallocate", "vm_deallocate splitting a region",
    "vm_deallocate over a hole", "vm_protect", "vm_protect set_maximum", "vm_protect above the maximum",
    "vm_protect over a hole", "vm_inherit", "vm_inherit refused", "vm_read", "vm_read refused", "vm_write",
    "vm_write into read-only memory", "vm_write of the caller's own region", "vm_copy", "vm_copy overlapping",
    "vm_copy refused", "vm_read/write/copy ranges with a hole and a protection problem", "vm_region_64 probes", "reads through pointers", "writes through pointers",
    "writes to memory mapped twice", "memory entries of existing memory", "MAP_MEM_NAMED_CREATE entries",
    "memory entries refused", "vm_map shared", "vm_map copy", "vm_map of fresh memory", "vm_map refused",
    "memory entry names released", "OOL regions sent", "OOL regions sent with deallocate", "OOL regions of host memory",
    "OOL sends refused (MACH_SEND_INVALID_MEMORY)", "OOL regions received", "sender writes after a send",
    "receiver writes after a receive", "messages pseudo-received (queue full)", "memory entries sent",
    "memory entries received", "messages sent from a region", "messages received into a region",
    "messages a blocked receiver got from a courier", "... into a region",
    "calls on another task's memory", "task_spawn children", "regions inherited shared",
    "regions inherited copied", "regions not inherited"};
using Totals = std::array<long, kCounts>;

using prop::format;
std::string code(int c) { return machsim::code_name(c); }
unsigned long long ull(uint64_t x) { return x; }

using prop::g_seed;
using prop::g_step;

// --- the model -------------------------------------------------------------------------------------------------------

uint64_t pg() { return vm_page_size; }
Addr trunc_pg(Addr a) { return a & ~(pg() - 1); }
Addr round_pg(Addr a) { return (a + pg() - 1) & ~(pg() - 1); }

struct Obj {  // a memory object: what its pages hold
    uint32_t id;
    Bytes bytes;
};
using ObjP = std::shared_ptr<Obj>;

struct MRegion {
    uint64_t size;
    vm_prot_t prot, max;
    vm_inherit_t inh;
    ObjP obj;
    uint64_t off;  // of the region's first byte in obj
};
using Map = std::map<Addr, MRegion>;

struct Entry {  // a memory entry: part of an object; alive while a send right to it exists anywhere
    uint32_t id;
    ObjP obj;
    uint64_t off, size;
    vm_prot_t prot;
    uint32_t rights = 0;  // send rights: urefs under every name, plus one per message carrying it
};
using EntryP = std::shared_ptr<Entry>;

struct EntryName {
    EntryP e;
    uint32_t urefs;
};

struct Space {  // one task's model
    std::string who;
    Map regions;
    std::map<Name, EntryName> entries;
};

std::string prot_str(vm_prot_t p) {
    std::string s = (p & kR) ? "r" : "-";
    s += (p & kW) ? "w" : "-";
    s += (p & kX) ? "x" : "-";
    if (p & ~VM_PROT_ALL) s += format("+%#x", p & ~VM_PROT_ALL);
    return s;
}
std::string region_str(Addr a, const MRegion& r) {
    return format("[%#llx+%#llx %s/%s inh %d off %#llx obj %u]", ull(a), ull(r.size), prot_str(r.prot).c_str(),
                  prot_str(r.max).c_str(), r.inh, ull(r.off), r.obj ? r.obj->id : 0);
}

Map::const_iterator region_at(const Map& m, Addr a) {
    auto it = m.upper_bound(a);
    if (it == m.begin()) return m.end();
    --it;
    return a - it->first < it->second.size ? it : m.end();
}

void split_at(Map& m, Addr a) {
    auto c = region_at(m, a);
    if (c == m.end() || c->first == a) return;
    auto it = m.find(c->first);
    MRegion tail = it->second;
    uint64_t head = a - it->first;
    tail.size -= head;
    tail.off += head;
    it->second.size = head;
    m[a] = tail;
}

// Removes every page of [s, e), splitting the regions that reach past either end.
void remove_range(Map& m, Addr s, Addr e) {
    split_at(m, s);
    split_at(m, e);
    m.erase(m.lower_bound(s), m.lower_bound(e));
}

bool covers(const Map& m, Addr s, Addr e) {
    for (Addr c = s; c < e;) {
        auto it = region_at(m, c);
        if (it == m.end()) return false;
        c = it->first + it->second.size;
    }
    return true;
}

bool is_free(const Map& m, Addr s, uint64_t len) {
    for (const auto& [a, r] : m)
        if (a < s + len && s < a + r.size) return false;
    return true;
}

// The lowest free range of len bytes whose address has the bits of mask clear, never in the first page of the
// task range (docs/api.md 11.2, 11.7). It starts at the first such address or at the first such address after
// the end of some region.
bool lowest_free(const Map& m, uint64_t len, Addr mask, Addr& out) {
    mask |= pg() - 1;
    auto align = [mask](Addr a) { return (a + mask) & ~mask; };
    std::vector<Addr> candidates{align(kBase + pg())};
    for (const auto& [a, r] : m) candidates.push_back(align(a + r.size));
    std::sort(candidates.begin(), candidates.end());
    for (Addr c : candidates)
        if (c >= kBase && c + len <= kEnd && c + len > c && is_free(m, c, len)) return out = c, true;
    return false;
}

struct Hit {
    bool hole = false, prot = false;
    kern_return_t first = KERN_SUCCESS;  // the code of the problem at the lowest address (docs/api.md §11.4)
    bool any() const { return hole || prot; }
};
// Whether [a, a + n) has a byte in no region, or in a region without all of `need`.
Hit scan(const Map& m, Addr a, uint64_t n, vm_prot_t need) {
    Hit h;
    if (a + n < a) return h.hole = true, h.first = KERN_INVALID_ADDRESS, h;
    for (Addr c = a, e = a + n; c < e;) {
        auto it = region_at(m, c);
        if (it == m.end()) {
            if (!h.any()) h.first = KERN_INVALID_ADDRESS;
            h.hole = true;
            auto next = m.upper_bound(c);
            if (next == m.end() || next->first >= e) break;
            c = next->first;
            continue;
        }
        if ((it->second.prot & need) != need) {
            if (!h.any()) h.first = KERN_PROTECTION_FAILURE;
            h.prot = true;
        }
        c = it->first + it->second.size;
    }
    return h;
}

// The bytes of [a, a + n), which must be mapped.
Bytes model_read(const Map& m, Addr a, uint64_t n) {
    Bytes out(n);
    for (Addr c = a, e = a + n; c < e;) {
        auto it = region_at(m, c);
        uint64_t k = std::min(e, it->first + it->second.size) - c;
        std::memcpy(out.data() + (c - a), it->second.obj->bytes.data() + it->second.off + (c - it->first), k);
        c += k;
    }
    return out;
}

void model_write(const Map& m, Addr a, const uint8_t* data, uint64_t n) {
    for (Addr c = a, e = a + n; c < e;) {
        auto it = region_at(m, c);
        uint64_t k = std::min(e, it->first + it->second.size) - c;
        std::memcpy(it->second.obj->bytes.data() + it->second.off + (c - it->first), data + (c - a), k);
        c += k;
    }
}

// Messages in flight to one task, in the order they were queued.
struct Letter {
    uint32_t seq;
    int from;
    std::vector<Bytes> ools;  // what each OOL region held when it was sent
    EntryP entry;
};

// What the tasks of one run share (one host thread; tasks interleave only where they yield: Config::quantum is
// set so high that no quantum ends inside a step).
struct Shared {
    uint64_t seed = 0;
    int steps = 0, step = 0;
    bool broken = false;  // a failure: the model is wrong from here on
    std::vector<std::string> failures;
    std::deque<std::string> recent;
    Totals* totals = nullptr;
    uint32_t next_obj = 0, next_entry = 0, next_seq = 0;
    Space actor[kActors];
    std::vector<Space*> spaces;  // every live task's model: the actors, and a child while one lives
    std::set<EntryP> entries;    // the entries alive (rights > 0)
    std::deque<Letter> inbox[kActors];
    Name task_port[kActors][kActors] = {};  // [i][j]: i's name for j's task port
    Name inbox_port[kActors][kActors] = {};  // [i][j]: i's name for j's inbox (a send right)
    bool waiting[kActors] = {};  // blocked in a receive: the others leave its memory and its inbox alone
    int arrived[5] = {};
    std::list<Space> children;  // kept to the end of the run: a child may outlive a failed wait for it
    std::list<bool> child_done;
    std::size_t memfd_base = 0;

    ObjP new_obj(uint64_t size) { return std::make_shared<Obj>(Obj{++next_obj, Bytes(size)}); }

    void fail(const std::string& who, const std::string& what) {
        broken = true;
        if (failures.size() >= 8) return;
        std::string f = format("seed %llu step %d %s: ", ull(seed), step, who.c_str()) + what;
        if (failures.empty()) {
            f += "\n  the steps before it:";
            for (const std::string& r : recent) f += "\n    " + r;
        }
        failures.push_back(std::move(f));
    }

    // vm_region_64's shared: another task's region or a live memory entry uses the object too.
    bool shared(const Space& s, const ObjP& obj) const {
        for (const Space* o : spaces)
            if (o != &s)
                for (const auto& [a, r] : o->regions)
                    if (r.obj == obj) return true;
        for (const EntryP& e : entries)
            if (e->obj == obj) return true;
        return false;
    }
    // Whether obj is mapped more than once or named by an entry (a write is seen elsewhere).
    bool aliased(const ObjP& obj) const {
        int n = 0;
        for (const Space* o : spaces)
            for (const auto& [a, r] : o->regions) n += r.obj == obj;
        for (const EntryP& e : entries) n += e->obj == obj;
        return n > 1;
    }
    std::size_t live_objects() const {
        std::set<Obj*> live;
        for (const Space* o : spaces)
            for (const auto& [a, r] : o->regions) live.insert(r.obj.get());
        for (const EntryP& e : entries) live.insert(e->obj.get());
        return live.size();
    }
    void drop_right(const EntryP& e) {
        if (--e->rights == 0) entries.erase(e);
    }
};


// --- messages --------------------------------------------------------------------------------------------------------

struct Payload {
    uint32_t magic, seq, from;
};

struct Parsed {
    std::vector<mach_msg_ool_descriptor_t> ools;
    std::vector<mach_msg_port_descriptor_t> ports;
    Payload payload{};
};

Parsed parse(const mach_msg_header_t* h) {
    Parsed m;
    auto* d = reinterpret_cast<const unsigned char*>(h) + sizeof *h;
    if (h->msgh_bits & MACH_MSGH_BITS_COMPLEX) {
        mach_msg_body_t body;
        std::memcpy(&body, d, sizeof body);
        d += sizeof body;
        for (mach_msg_size_t i = 0; i < body.msgh_descriptor_count && i < 4; ++i) {
            if (d[11] == MACH_MSG_PORT_DESCRIPTOR) {
                mach_msg_port_descriptor_t p;
                std::memcpy(&p, d, sizeof p);
                m.ports.push_back(p);
                d += sizeof p;
            } else {
                mach_msg_ool_descriptor_t o;
                std::memcpy(&o, d, sizeof o);
                m.ools.push_back(o);
                d += sizeof o;
            }
        }
    }
    std::memcpy(&m.payload, d, sizeof m.payload);
    return m;
}

// --- checks shared by the actors and their children ------------------------------------------------------------------

class Checker {
public:
    Checker(Shared& sh, Space& me, uint64_t seed, std::string who)
        : sh_(sh), me_(me), rng_(seed), who_(std::move(who)) {}

protected:
    Shared& sh_;
    Space& me_;
    std::mt19937_64 rng_;
    std::string who_, op_;

    uint64_t below(uint64_t n) { return n ? rng_() % n : 0; }
    bool chance(int pct) { return below(100) < uint64_t(pct); }
    long& count(Count c) { return (*sh_.totals)[c]; }
    void fail(const std::string& what) { sh_.fail(who_ + " [" + op_ + "]", what); }
    bool expect(kern_return_t kr, std::initializer_list<kern_return_t> ok) {
        std::string u = prop::unexpected(kr, ok);
        if (!u.empty()) fail(u);
        return u.empty();
    }
    Bytes random_bytes(uint64_t n) {
        Bytes b(n);
        for (uint64_t i = 0; i < n; i += 8) {
            uint64_t v = rng_();
            std::memcpy(b.data() + i, &v, std::min<uint64_t>(8, n - i));
        }
        return b;
    }
    void log_step(int step) {
        static const bool print = std::getenv("MACHSIM_VMPROP_LOG") != nullptr;
        if (print) std::printf("%d %s: %s\n", step, who_.c_str(), op_.c_str());
        sh_.recent.push_back(format("%d %s: ", step, who_.c_str()) + op_);
        if (sh_.recent.size() > 24) sh_.recent.pop_front();
    }
    void census() {
        ++count(kCensus);
        std::vector<std::string> problems = machsim::check_invariants();
        if (problems.empty()) return;
        std::string s = "the census disagrees:";
        for (size_t i = 0; i < problems.size() && i < 20; ++i) s += "\n    census: " + problems[i];
        fail(s);
    }

    // Compares s's regions with vm_region_64 through `port` (s's task port in our space).
    bool check_regions(const Space& s, Name port) {
        ++count(kRegionWalks);
        Addr at = 0;
        auto it = s.regions.begin();
        for (;;) {
            vm_address_t a = at;
            vm_size_t size = 0;
            vm_region_basic_info_data_64_t info{};
            mach_msg_type_number_t cnt = VM_REGION_BASIC_INFO_COUNT_64;
            Name object = 0xdead;
            kern_return_t kr;
            if (chance(50)) {
                kr = vm_region_64(port, &a, &size, VM_REGION_BASIC_INFO_64, reinterpret_cast<vm_region_info_t>(&info),
                                  &cnt, &object);
            } else {
                mach_vm_address_t a64 = a;
                mach_vm_size_t s64 = 0;
                kr = mach_vm_region(port, &a64, &s64, VM_REGION_BASIC_INFO_64,
                                    reinterpret_cast<vm_region_info_t>(&info), &cnt, &object);
                a = a64, size = s64;
            }
            if (it == s.regions.end()) {
                if (kr == KERN_INVALID_ADDRESS) return true;
                fail(format("%s's vm_region_64 from %#llx returned %s [%#llx+%#llx]; the model has no region there",
                            s.who.c_str(), ull(at), code(kr).c_str(), ull(a), ull(size)));
                return false;
            }
            const MRegion& r = it->second;
            bool shared = sh_.shared(s, r.obj);
            if (kr != KERN_SUCCESS || a != it->first || size != r.size || info.protection != r.prot ||
                info.max_protection != r.max || info.inheritance != r.inh || info.offset != r.off ||
                bool(info.shared) != shared || cnt != VM_REGION_BASIC_INFO_COUNT_64 || object != MACH_PORT_NULL ||
                info.reserved || info.behavior || info.user_wired_count) {
                fail(format("%s's vm_region_64 from %#llx returned %s [%#llx+%#llx %s/%s inh %d off %#llx shared %d "
                            "count %u object %#x]; the model has %s shared %d",
                            s.who.c_str(), ull(at), code(kr).c_str(), ull(a), ull(size),
                            prot_str(info.protection).c_str(), prot_str(info.max_protection).c_str(),
                            info.inheritance, ull(info.offset), info.shared, cnt, object,
                            region_str(it->first, r).c_str(), shared));
                return false;
            }
            at = a + size;
            ++it;
        }
    }

    // Compares the bytes of every region of our own space we may read through a pointer with the model (x86 reads
    // what is writable: docs/api.md 11.1). Execute-only regions are left out: whether the host can read them
    // depends on the CPU (protection keys make them execute-only).
    bool check_own_bytes() {
        for (const auto& [a, r] : me_.regions) {
            if (!(r.prot & kRW)) continue;
            ++count(kByteChecks);
            const uint8_t* want = r.obj->bytes.data() + r.off;
            if (std::memcmp(reinterpret_cast<const void*>(a), want, r.size) == 0) continue;
            uint64_t i = 0;
            while (reinterpret_cast<const uint8_t*>(a)[i] == want[i]) ++i;
            fail(format("%s: byte %#llx of %s holds %#x, the model %#x", me_.who.c_str(), ull(a + i),
                        region_str(a, r).c_str(), reinterpret_cast<const uint8_t*>(a)[i], want[i]));
            return false;
        }
        return true;
    }

    // Compares the bytes of s's readable regions, read with vm_read through `port` (one call for each run of
    // adjacent readable regions), with the model.
    bool check_bytes_via_read(const Space& s, Name port) {
        for (auto it = s.regions.begin(); it != s.regions.end();) {
            if (!(it->second.prot & kR)) {
                ++it;
                continue;
            }
            Addr start = it->first, end = start;
            for (; it != s.regions.end() && it->first == end && (it->second.prot & kR); ++it) end += it->second.size;
            ++count(kByteChecks);
            vm_offset_t data = 0;
            mach_msg_type_number_t cnt = 0;
            kern_return_t kr = vm_read(port, start, end - start, &data, &cnt);
            if (kr != KERN_SUCCESS || cnt != end - start) {
                fail(format("vm_read of %s's [%#llx, %#llx) returned %s, %u bytes", s.who.c_str(), ull(start),
                            ull(end), code(kr).c_str(), cnt));
                return false;
            }
            Bytes want = model_read(s.regions, start, end - start);
            bool same = std::memcmp(reinterpret_cast<const void*>(data), want.data(), want.size()) == 0;
            uint64_t i = 0;
            while (!same && reinterpret_cast<const uint8_t*>(data)[i] == want[i]) ++i;
            uint8_t got = same ? 0 : reinterpret_cast<const uint8_t*>(data)[i];
            kern_return_t dk = vm_deallocate(mach_task_self(), data, cnt);
            if (!same) {
                fail(format("vm_read: byte %#llx of %s's %s holds %#x, the model %#x", ull(start + i), s.who.c_str(),
                            region_str(region_at(s.regions, start + i)->first,
                                       region_at(s.regions, start + i)->second).c_str(), got, want[i]));
                return false;
            }
            if (dk != KERN_SUCCESS) return fail("vm_deallocate of vm_read's data returned " + code(dk)), false;
        }
        return true;
    }

    // The memory objects alive (memfds) against the model's count.
    bool check_memfds() {
        ++count(kMemfdChecks);
        std::size_t have = mt::memory_objects(), want = sh_.memfd_base + sh_.live_objects();
        if (have == want) return true;
        fail(format("%zu memory objects are alive, the model has %zu", have - sh_.memfd_base, want - sh_.memfd_base));
        return false;
    }

    // Our own regions, and our bytes through pointers or (via_read) through vm_read, the kernel's own path.
    bool check_own(bool via_read) {
        return check_regions(me_, mach_task_self()) &&
               (via_read ? check_bytes_via_read(me_, mach_task_self()) : check_own_bytes());
    }
};

// A task made by task_spawn from an actor: checks what vm_inherit gave it, writes through its pointers, checks
// again, and ends. Its parent waits for it.
class Child : public Checker {
public:
    Child(Shared& sh, Space& me, uint64_t seed, bool* done) : Checker(sh, me, seed, me.who), done_(done) {}
    int run() {
        op_ = "check the inherited memory";
        if (!sh_.broken) check_own(chance(30));
        for (int i = 0, n = int(below(4)); i < n && !sh_.broken; ++i) {
            std::vector<Addr> writable;
            for (const auto& [a, r] : me_.regions)
                if (r.prot & kW) writable.push_back(a);
            if (writable.empty()) break;
            Addr a = writable[below(writable.size())];
            const MRegion& r = me_.regions.at(a);
            uint64_t off = below(r.size), n2 = 1 + below(std::min<uint64_t>(r.size - off, 300));
            Bytes b = random_bytes(n2);
            std::memcpy(reinterpret_cast<void*>(a + off), b.data(), n2);
            model_write(me_.regions, a + off, b.data(), n2);
            op_ = format("wrote %llu bytes at %#llx through a pointer", ull(n2), ull(a + off));
            ++count(kPointerWrites);
        }
        if (!sh_.broken) check_own(false);
        if (!sh_.broken) census();
        log_step(sh_.step);
        // The task's regions go when it returns, before any other task runs.
        sh_.spaces.erase(std::find(sh_.spaces.begin(), sh_.spaces.end(), &me_));
        *done_ = true;
        return 0;
    }

private:
    bool* done_;
};

// --- the actors ------------------------------------------------------------------------------------------------------

class Actor : public Checker {
public:
    Actor(Shared& sh, int idx)
        : Checker(sh, sh.actor[idx], sh.seed * 1000003ull + idx, format("t%d", idx)), idx_(idx) {
        host_.resize(8 * pg());
    }
    int run();

private:
    int idx_;
    Name inbox_ = MACH_PORT_NULL;
    Bytes host_;               // host memory (outside the model) for vm_write's data and OOL regions
    std::set<int> touched_;    // other actors whose memory this step touched: checked after the step
    bool check_bytes_ = false;  // the step changed bytes: compare them all
    int target_ = 0;
    std::string tname_;  // how the log names the target: "self" or "t<i>"

    Name port_for(int t) const { return t == idx_ ? mach_task_self() : sh_.task_port[idx_][t]; }
    Space& space(int t) { return sh_.actor[t]; }
    // The task a call acts on: ourselves mostly, another actor through its task port now and then.
    int pick_target() {
        target_ = chance(80) ? idx_ : int(below(kActors));
        if (sh_.waiting[target_]) target_ = idx_;
        tname_ = target_ == idx_ ? "self" : format("t%d", target_);
        if (target_ != idx_) touched_.insert(target_), ++count(kPeerCalls);
        return target_;
    }

    uint64_t mapped_pages(const Space& s) const {
        uint64_t n = 0;
        for (const auto& [a, r] : s.regions) n += r.size / pg();
        return n;
    }

    // An address for a call: in a region, at a region's edge, or anywhere in the arena (perhaps a hole).
    Addr pick_addr(const Space& s, bool aligned) {
        Addr a;
        uint64_t k = below(10);
        if (k < 5 && !s.regions.empty()) {
            auto it = std::next(s.regions.begin(), long(below(s.regions.size())));
            a = it->first + below(it->second.size);
        } else if (k < 7 && !s.regions.empty()) {
            auto it = std::next(s.regions.begin(), long(below(s.regions.size())));
            a = it->first + (chance(50) ? 0 : it->second.size);
        } else {
            a = kBase + below(kArenaPages) * pg() + below(pg());
        }
        return aligned ? trunc_pg(a) : a;
    }
    uint64_t pick_size(uint64_t most) {
        uint64_t k = below(10);
        if (k == 0) return 0;
        if (k < 4) return 1 + below(pg() / 2);
        if (k < 7) return pg() * (1 + below(most / pg()));
        return 1 + below(most);
    }
    // A range inside one region (or, rarely, anywhere).
    std::pair<Addr, uint64_t> pick_inside(const Space& s, uint64_t most) {
        if (s.regions.empty() || chance(10)) return {pick_addr(s, false), pick_size(most)};
        auto it = std::next(s.regions.begin(), long(below(s.regions.size())));
        uint64_t off = below(it->second.size);
        return {it->first + off, 1 + below(std::min(most, it->second.size - off))};
    }
    // An 8-aligned place for n bytes in one of our read-write regions, on no page of `avoid`; 0 if none.
    Addr pick_buffer(uint64_t n, const std::vector<std::pair<Addr, Addr>>& avoid = {}) {
        std::vector<Addr> fits;
        for (const auto& [a, r] : me_.regions) {
            if ((r.prot & kRW) != kRW || r.size < n + 8) continue;
            Addr b = a + (below(r.size - n) & ~Addr{7});
            bool clear = true;
            for (auto [lo, hi] : avoid) clear &= trunc_pg(b) >= hi || round_pg(b + n) <= lo;
            if (clear) fits.push_back(b);
        }
        return fits.empty() ? 0 : fits[below(fits.size())];
    }
    vm_prot_t pick_prot() {
        static const vm_prot_t prots[] = {kR, kRW, kRW, kRW, kR | kX, kW, VM_PROT_NONE, VM_PROT_ALL, kX, kRW | kX};
        if (chance(3)) return chance(50) ? 0x8 : 0x13;  // bits outside VM_PROT_ALL
        return prots[below(10)];
    }

    // Writes b at a through pointers, and into the model. One region at a time, in address order, as the model
    // does: two regions may map the same pages, and a single memcpy over both would leave whichever copy its
    // implementation happened to store last.
    void pointer_write(Addr a, const Bytes& b) {
        for (Addr c = a, e = a + b.size(); c < e;) {
            auto it = region_at(me_.regions, c);
            uint64_t k = std::min(e, it->first + it->second.size) - c;
            std::memcpy(reinterpret_cast<void*>(c), b.data() + (c - a), k);
            c += k;
        }
        model_write(me_.regions, a, b.data(), b.size());
    }
    // A new region in space t at a, as vm_allocate and the copyouts of OOL data and vm_read make it.
    void add_fresh(Space& s, Addr a, uint64_t size, const Bytes* content = nullptr) {
        ObjP obj = sh_.new_obj(round_pg(size));
        if (content) std::memcpy(obj->bytes.data(), content->data(), content->size());
        s.regions[a] = MRegion{round_pg(size), VM_PROT_DEFAULT, VM_PROT_ALL, VM_INHERIT_DEFAULT, obj, 0};
    }

    void one_op();
    void op_allocate();
    void op_deallocate();
    void op_protect();
    void op_inherit();
    void op_read();
    void op_write();
    void op_copy();
    void op_probe();
    void op_pointer_read();
    void op_pointer_write();
    void op_make_entry();
    void op_map();
    void op_release_entry();
    void op_send();
    enum class Rcv { kPoll, kDrain, kWait };
    void op_receive(Rcv mode);
    void op_courier();
    void op_spawn();
    bool check_entries();
    void check_step();
    void barrier(int phase);
    bool setup();
};

bool Actor::setup() {
    op_ = "bootstrap_check_in";
    kern_return_t kr = bootstrap_check_in(bootstrap_port, format("vmprop.%d", idx_).c_str(), &inbox_);
    if (!expect(kr, {KERN_SUCCESS})) return false;
    if (!expect(mach_port_insert_right(mach_task_self(), inbox_, inbox_, MACH_MSG_TYPE_MAKE_SEND), {KERN_SUCCESS}))
        return false;
    sh_.inbox_port[idx_][idx_] = inbox_;
    sh_.task_port[idx_][idx_] = mach_task_self();
    for (int j = 0; j < kActors; ++j) {
        if (j == idx_) continue;
        op_ = format("bootstrap_look_up vmprop.%d", j);
        mach_port_t p = MACH_PORT_NULL;
        for (int tries = 0; tries < 200; ++tries) {
            kr = bootstrap_look_up(bootstrap_port, format("vmprop.%d", j).c_str(), &p);
            if (kr != BOOTSTRAP_UNKNOWN_SERVICE) break;
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        }
        if (!expect(kr, {KERN_SUCCESS})) return false;
        sh_.inbox_port[idx_][j] = p;
        // Hello: a send right to our task port, so that j may act on our memory.
        struct {
            mach_msg_header_t head;
            mach_msg_body_t body;
            mach_msg_port_descriptor_t task;
            Payload payload;
        } m{};
        m.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
        m.head.msgh_size = sizeof m;
        m.head.msgh_remote_port = p;
        m.head.msgh_id = kHelloId;
        m.body.msgh_descriptor_count = 1;
        m.task = {mach_task_self(), 0, 0, MACH_MSG_TYPE_COPY_SEND, MACH_MSG_PORT_DESCRIPTOR};
        m.payload = {kMagic, 0, uint32_t(idx_)};
        op_ = format("hello to t%d", j);
        if (!expect(mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                    {MACH_MSG_SUCCESS}))
            return false;
    }
    for (int i = 0; i < kActors - 1; ++i) {
        alignas(16) unsigned char buf[512] = {};
        auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
        op_ = "receive a hello";
        kr = mach_msg(h, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof buf, inbox_, 10000, MACH_PORT_NULL);
        if (!expect(kr, {MACH_MSG_SUCCESS})) return false;
        Parsed m = parse(h);
        if (h->msgh_id != kHelloId || m.ports.size() != 1 || m.payload.from >= kActors)
            return fail("a hello that is not one"), false;
        sh_.task_port[idx_][m.payload.from] = m.ports[0].name;
    }
    return true;
}

void Actor::barrier(int phase) {
    ++sh_.arrived[phase];
    while (sh_.arrived[phase] < kActors) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
}

int Actor::run() {
    sh_.spaces.push_back(&me_);
    me_.who = who_;
    bool ok = setup();
    if (!ok) sh_.broken = true;
    barrier(0);
    // One to three steps per turn: each switch between tasks closes one address space and opens another, which
    // costs the host a mmap per region (docs/memory.md), the bulk of this test's time.
    for (int burst = 1; !sh_.broken && sh_.step < sh_.steps;) {
        g_step = ++sh_.step;
        ++count(kSteps);
        touched_.clear();
        check_bytes_ = false;
        target_ = idx_;
        one_op();
        log_step(sh_.step);
        if (!sh_.broken) check_step();
        if (--burst > 0) continue;
        burst = 1 + int(below(3));
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    barrier(1);
    // Every message sent is queued by now: take them all, then check everything once more.
    if (!sh_.broken) {
        while (!sh_.inbox[idx_].empty() && !sh_.broken) op_receive(Rcv::kDrain);
        op_ = "the final check";
        op_receive(Rcv::kDrain);  // nothing left: MACH_RCV_TIMED_OUT
        if (!sh_.broken) (void)(check_own(false) && check_own(true) && check_entries() && check_memfds());
    }
    barrier(2);
    // Half of the runs give everything back by hand; the others leave it to the end of the task.
    if (!sh_.broken && (sh_.seed + idx_) % 2 == 0) {
        op_ = "give everything back";
        for (auto& [n, en] : me_.entries) {
            if (!expect(mach_port_mod_refs(mach_task_self(), n, MACH_PORT_RIGHT_SEND, -int(en.urefs)),
                        {KERN_SUCCESS}))
                break;
            en.e->rights -= en.urefs - 1;
            sh_.drop_right(en.e);
        }
        me_.entries.clear();
        while (!me_.regions.empty() && !sh_.broken) {
            auto it = me_.regions.begin();
            Addr a = it->first, e = a + it->second.size;
            expect(vm_deallocate(mach_task_self(), a, e - a), {KERN_SUCCESS});
            remove_range(me_.regions, a, e);
        }
        if (!sh_.broken) check_own(false);
    }
    barrier(3);
    if (!sh_.broken) check_memfds();
    barrier(4);
    sh_.spaces.erase(std::find(sh_.spaces.begin(), sh_.spaces.end(), &me_));
    return 0;
}

// After every step: our own regions and bytes, the regions (and, when bytes changed, the bytes) of the other
// actors the step touched, our entry names, the memory objects alive, and the census of rights.
void Actor::check_step() {
    if (check_bytes_) {  // bytes written to memory another task maps too show there at once
        auto shares = [](const Space& a, const Space& b) {
            for (const auto& [x, r] : a.regions)
                for (const auto& [y, q] : b.regions)
                    if (r.obj == q.obj) return true;
            return false;
        };
        std::set<int> changed = touched_;
        changed.insert(idx_);
        for (int t = 0; t < kActors; ++t)
            for (int u : changed)
                if (t != u && shares(space(t), space(u))) touched_.insert(t);
    }
    bool ok = check_own(chance(5));
    for (int t : touched_)
        if (ok && t != idx_)
            ok = check_regions(space(t), port_for(t)) && (!check_bytes_ || check_bytes_via_read(space(t), port_for(t)));
    if (ok && check_bytes_ && chance(10))  // a write to shared memory shows in every task that maps it
        for (int t = 0; t < kActors && ok; ++t)
            if (t != idx_) ok = check_regions(space(t), port_for(t)) && check_bytes_via_read(space(t), port_for(t));
    if (ok) ok = check_entries();
    if (ok && sh_.step % 4 == 0) ok = check_memfds();  // reading /proc/self/fd is slow; a leak stays
    if (ok) census();
}

// Each memory entry name of ours: a send right with the urefs of the model.
bool Actor::check_entries() {
    for (const auto& [n, en] : me_.entries) {
        mach_port_type_t t = mt::type_of(n);
        mach_port_urefs_t u = mt::refs(n, MACH_PORT_RIGHT_SEND);
        if (t != MACH_PORT_TYPE_SEND || u != en.urefs) {
            fail(format("memory entry name %#x: type %#x urefs %u; the model has a send right with %u urefs (entry %u)",
                        n, t, u, en.urefs, en.e->id));
            return false;
        }
    }
    return true;
}

void Actor::one_op() {
    int w[] = {10, 8, 8, 4, 6, 6, 5, 3, 3, 9, 4, 6, 3, 9, 8, 1, 1};
    uint64_t pages = mapped_pages(me_);
    if (pages > 48 || me_.regions.size() > 20) w[1] *= 4;                // keep the space small
    if (me_.entries.size() > 6) w[12] *= 4;
    if (sh_.inbox[idx_].size() >= kQlimit) w[14] *= 2;
    int total = 0, k = 0;
    for (int x : w) total += x;
    for (int r = int(below(total)); r >= w[k]; r -= w[k++]) {}
    switch (k) {
    case 0: return op_allocate();
    case 1: return op_deallocate();
    case 2: return op_protect();
    case 3: return op_inherit();
    case 4: return op_read();
    case 5: return op_write();
    case 6: return op_copy();
    case 7: return op_probe();
    case 8: return op_pointer_read();
    case 9: return op_pointer_write();
    case 10: return op_make_entry();
    case 11: return op_map();
    case 12: return op_release_entry();
    case 13: return op_send();
    case 14: return op_receive(Rcv::kPoll);
    case 15: return op_spawn();
    default: return op_courier();
    }
}

// --- vm_allocate, vm_deallocate, vm_protect, vm_inherit --------------------------------------------------------------

void Actor::op_allocate() {
    int t = pick_target();
    Space& s = space(t);
    int flags = chance(50) ? VM_FLAGS_ANYWHERE : VM_FLAGS_FIXED;
    Addr addr = pick_addr(s, chance(70));
    uint64_t size = pick_size(3 * pg());
    uint64_t k = below(100);
    if (k < 2) flags |= 0x8;                            // a flag bit that is not VM_FLAGS_ANYWHERE
    else if (k < 4) size = ~uint64_t{0} - below(100);   // rounding it wraps
    else if (k < 6) size = uint64_t{1} << 40;           // larger than the task range
    else if (k < 8) addr = chance(50) ? kBase - pg() : kEnd - pg(), size = 2 * pg();  // FIXED: outside the range
    // What docs/api.md 11.2 says happens.
    kern_return_t want = KERN_SUCCESS;
    Addr at = 0;
    uint64_t len = round_pg(size);
    if (flags & ~VM_FLAGS_ANYWHERE) want = KERN_INVALID_ARGUMENT;
    else if (size == 0) at = 0;
    else if (len < size) want = KERN_INVALID_ARGUMENT;
    else if (flags & VM_FLAGS_ANYWHERE) want = lowest_free(s.regions, len, 0, at) ? KERN_SUCCESS : KERN_NO_SPACE;
    else if (at = trunc_pg(addr); at < kBase || at >= kEnd || at + len > kEnd || at + len < at)
        want = KERN_INVALID_ADDRESS;
    else if (!is_free(s.regions, at, len)) want = KERN_NO_SPACE;
    vm_address_t a = addr;
    kern_return_t kr;
    if (chance(50)) {
        kr = vm_allocate(port_for(t), &a, size, flags);
    } else {
        mach_vm_address_t a64 = addr;
        kr = mach_vm_allocate(port_for(t), &a64, size, flags);
        a = a64;
    }
    op_ = format("vm_allocate(%s, %#llx, %#llx, flags %#x) -> %s %#llx", tname_.c_str(), ull(addr), ull(size), flags,
                 code(kr).c_str(), ull(a));
    if (!expect(kr, {want})) return;
    if (kr != KERN_SUCCESS) {
        count(want == KERN_NO_SPACE ? kAllocNoSpace : kAllocRefused)++;
        if (a != addr) fail(format("the address changed to %#llx though the call failed", ull(a)));
        return;
    }
    count(size == 0 ? kAllocZero : (flags & VM_FLAGS_ANYWHERE) ? kAllocAnywhere : kAllocFixed)++;
    if (a != at) return fail(format("the region is at %#llx, the model expected %#llx", ull(a), ull(at)));
    if (size) add_fresh(s, at, len);
}

void Actor::op_deallocate() {
    int t = pick_target();
    Space& s = space(t);
    Addr addr = pick_addr(s, chance(50));
    uint64_t size = pick_size(4 * pg());
    if (chance(30) && !s.regions.empty()) {  // a whole region, or its middle
        auto it = std::next(s.regions.begin(), long(below(s.regions.size())));
        addr = it->first, size = it->second.size;
        if (chance(40) && size > 2 * pg()) addr += pg() + below(pg()), size -= 2 * pg() + below(pg());
    }
    if (chance(2)) size = ~uint64_t{0} - addr + 1 + below(pg());  // wraps around (or rounds to 0)
    kern_return_t want = KERN_SUCCESS;
    Addr start = trunc_pg(addr), end = round_pg(addr + size);
    if (size != 0 && (addr + size < addr || end <= start)) want = KERN_INVALID_ARGUMENT;
    kern_return_t kr =
        chance(50) ? vm_deallocate(port_for(t), addr, size) : mach_vm_deallocate(port_for(t), addr, size);
    op_ = format("vm_deallocate(%s, %#llx, %#llx) -> %s", tname_.c_str(), ull(addr), ull(size), code(kr).c_str());
    if (!expect(kr, {want}) || kr != KERN_SUCCESS || size == 0) return;
    ++count(kDealloc);
    if (!covers(s.regions, start, end)) ++count(kDeallocHole);
    auto a = region_at(s.regions, start), b = region_at(s.regions, end);
    if ((a != s.regions.end() && a->first < start) || (b != s.regions.end() && b->first < end)) ++count(kDeallocSplit);
    remove_range(s.regions, start, end);
}

void Actor::op_protect() {
    int t = pick_target();
    Space& s = space(t);
    auto [addr, size] = pick_inside(s, 3 * pg());
    if (chance(10)) addr = pick_addr(s, false), size = pick_size(6 * pg());
    bool set_max = chance(30);
    vm_prot_t prot = pick_prot();
    if (chance(2)) size = ~uint64_t{0} - addr + 1 + below(pg());
    // docs/api.md 11.3, in its order.
    kern_return_t want = KERN_SUCCESS;
    Addr start = trunc_pg(addr), end = round_pg(addr + size);
    bool above = false;
    if (prot & ~VM_PROT_ALL) want = KERN_INVALID_ARGUMENT;
    else if (size == 0) want = KERN_SUCCESS;
    else if (addr + size < addr || end <= start) want = KERN_INVALID_ARGUMENT;
    else if (!covers(s.regions, start, end)) want = KERN_INVALID_ADDRESS;
    else {
        for (auto it = region_at(s.regions, start); it != s.regions.end() && it->first < end; ++it)
            above |= (prot & it->second.max) != prot;
        if (above) want = KERN_PROTECTION_FAILURE;
    }
    kern_return_t kr = chance(50) ? vm_protect(port_for(t), addr, size, set_max, prot)
                                  : mach_vm_protect(port_for(t), addr, size, set_max, prot);
    op_ = format("vm_protect(%s, %#llx, %#llx, %s, %s) -> %s", tname_.c_str(), ull(addr), ull(size),
                 set_max ? "max" : "cur", prot_str(prot).c_str(), code(kr).c_str());
    if (!expect(kr, {want})) return;
    ++count(kProtect);
    if (want == KERN_PROTECTION_FAILURE) ++count(kProtectAboveMax);
    if (want == KERN_INVALID_ADDRESS) ++count(kProtectHole);
    if (kr != KERN_SUCCESS || size == 0) return;
    count(kProtectMax) += set_max;
    split_at(s.regions, start);
    split_at(s.regions, end);
    for (auto it = s.regions.lower_bound(start); it != s.regions.end() && it->first < end; ++it) {
        if (set_max) it->second.max = prot, it->second.prot &= prot;
        else it->second.prot = prot;
    }
}

void Actor::op_inherit() {
    int t = pick_target();
    Space& s = space(t);
    auto [addr, size] = pick_inside(s, 3 * pg());
    static const vm_inherit_t values[] = {VM_INHERIT_SHARE, VM_INHERIT_COPY, VM_INHERIT_NONE};
    vm_inherit_t how = chance(4) ? vm_inherit_t(3 + below(5)) : values[below(3)];
    if (chance(2)) size = ~uint64_t{0} - addr + 1 + below(pg());
    kern_return_t want = KERN_SUCCESS;
    Addr start = trunc_pg(addr), end = round_pg(addr + size);
    if (how > VM_INHERIT_NONE) want = KERN_INVALID_ARGUMENT;
    else if (size == 0) want = KERN_SUCCESS;
    else if (addr + size < addr || end <= start) want = KERN_INVALID_ARGUMENT;
    else if (!covers(s.regions, start, end)) want = KERN_INVALID_ADDRESS;
    kern_return_t kr =
        chance(50) ? vm_inherit(port_for(t), addr, size, how) : mach_vm_inherit(port_for(t), addr, size, how);
    op_ = format("vm_inherit(%s, %#llx, %#llx, %d) -> %s", tname_.c_str(), ull(addr), ull(size), how, code(kr).c_str());
    if (!expect(kr, {want})) return;
    ++count(kr == KERN_SUCCESS ? kInherit : kInheritRefused);
    if (kr != KERN_SUCCESS || size == 0) return;
    split_at(s.regions, start);
    split_at(s.regions, end);
    for (auto it = s.regions.lower_bound(start); it != s.regions.end() && it->first < end; ++it) it->second.inh = how;
}

// --- vm_read, vm_write, vm_copy --------------------------------------------------------------------------------------

void Actor::op_read() {
    int t = pick_target();
    Space& s = space(t);
    auto [addr, size] = chance(70) ? pick_inside(s, 2 * pg()) : std::pair{pick_addr(s, false), pick_size(3 * pg())};
    Hit h = scan(s.regions, addr, size, kR);
    vm_offset_t data = 0xdead;
    mach_msg_type_number_t cnt = 0xdead;
    kern_return_t kr;
    if (chance(50)) {
        kr = vm_read(port_for(t), addr, size, &data, &cnt);
    } else {
        kr = mach_vm_read(port_for(t), addr, size, &data, &cnt);
    }
    op_ = format("vm_read(%s, %#llx, %#llx) -> %s %#llx %u", tname_.c_str(), ull(addr), ull(size), code(kr).c_str(),
                 ull(data), cnt);
    if (size == 0 || !h.any()) {
        if (!expect(kr, {KERN_SUCCESS})) return;
    } else {
        if (!expect(kr, {h.first})) return;
        ++count(kReadRefused);
        count(kHoleAndProt) += h.hole && h.prot;
        return;
    }
    ++count(kRead);
    if (size == 0) {
        if (data != 0 || cnt != 0) fail("vm_read of 0 bytes did not give 0, 0");
        return;
    }
    Addr at = 0;
    if (!lowest_free(me_.regions, round_pg(size), 0, at) || data != at || cnt != size)
        return fail(format("the copy is at %#llx (%u bytes); the model expected %#llx (%llu bytes)", ull(data), cnt,
                           ull(at), ull(size)));
    // A new region of ours (whole pages, read-write) with the bytes, zeros after them.
    Bytes want = model_read(s.regions, addr, size);
    want.resize(round_pg(size));
    if (std::memcmp(reinterpret_cast<const void*>(data), want.data(), want.size()) != 0)
        return fail("the copy does not hold the bytes of the model");
    add_fresh(me_, at, size, &want);
    check_bytes_ = true;
    if (chance(60)) {  // give it back at once (vm_read's data is the caller's to free)
        op_ += " (freed)";
        if (!expect(vm_deallocate(mach_task_self(), data, cnt), {KERN_SUCCESS})) return;
        remove_range(me_.regions, at, at + round_pg(size));
    }
}

void Actor::op_write() {
    int t = pick_target();
    Space& s = space(t);
    auto [addr, size] = chance(75) ? pick_inside(s, 2 * pg()) : std::pair{pick_addr(s, false), pick_size(3 * pg())};
    size = std::min<uint64_t>(size, 4 * pg());
    // The data: host memory, or a range of our own regions (perhaps overlapping the target, perhaps unreadable).
    bool own = chance(35) && !me_.regions.empty();
    Addr from = 0;
    Bytes data;
    Hit src;
    if (own) {
        auto [f, n] = pick_inside(me_, size ? size : 1);
        from = f;
        if (chance(50) && t == idx_ && addr > pg()) from = addr - below(pg()) + below(2 * pg());  // overlapping
        src = scan(me_.regions, from, size, kR);
        if (!src.any()) data = model_read(me_.regions, from, size);
        (void)n;
    } else {
        data = random_bytes(size);
        if (size) std::memcpy(host_.data(), data.data(), size);
        from = reinterpret_cast<Addr>(host_.data());
    }
    Hit dst = scan(s.regions, addr, size, kW);
    kern_return_t kr = chance(50) ? vm_write(port_for(t), addr, from, mach_msg_type_number_t(size))
                                  : mach_vm_write(port_for(t), addr, from, mach_msg_type_number_t(size));
    op_ = format("vm_write(%s, %#llx, %s %#llx, %#llx) -> %s", tname_.c_str(), ull(addr), own ? "own" : "host",
                 ull(from), ull(size), code(kr).c_str());
    // The task's range is checked first, then the data (docs/api.md §11.4).
    kern_return_t want = size == 0 ? KERN_SUCCESS : dst.any() ? dst.first : src.any() ? KERN_INVALID_ADDRESS : KERN_SUCCESS;
    if (!expect(kr, {want})) return;
    if (dst.first == KERN_PROTECTION_FAILURE) ++count(kWriteReadOnly);
    count(kHoleAndProt) += size && dst.hole && dst.prot;
    if (kr != KERN_SUCCESS) return;
    ++count(kWrite);
    count(kWriteOwnData) += own;
    model_write(s.regions, addr, data.data(), size);
    check_bytes_ = true;
}

void Actor::op_copy() {
    int t = pick_target();
    Space& s = space(t);
    auto [src, size] = chance(80) ? pick_inside(s, 2 * pg()) : std::pair{pick_addr(s, false), pick_size(3 * pg())};
    Addr dst = chance(40) ? src - std::min<uint64_t>(src, below(pg())) + below(pg()) : pick_inside(s, 1).first;
    Hit hs = scan(s.regions, src, size, kR), hd = scan(s.regions, dst, size, kW);
    kern_return_t kr = chance(50) ? vm_copy(port_for(t), src, size, dst) : mach_vm_copy(port_for(t), src, size, dst);
    op_ = format("vm_copy(%s, %#llx, %#llx, to %#llx) -> %s", tname_.c_str(), ull(src), ull(size), ull(dst),
                 code(kr).c_str());
    // The source range is checked before the destination (docs/api.md §11.4).
    kern_return_t want = size == 0 ? KERN_SUCCESS : hs.any() ? hs.first : hd.first;
    if (!expect(kr, {want})) return;
    count(kHoleAndProt) += size && (hs.hole || hd.hole) && (hs.prot || hd.prot);
    if (kr != KERN_SUCCESS) return (void)++count(kCopyRefused);
    ++count(kCopy);
    count(kCopyOverlap) += size && src < dst + size && dst < src + size;
    Bytes snap = model_read(s.regions, src, size);
    model_write(s.regions, dst, snap.data(), size);
    check_bytes_ = true;
}

// --- vm_region_64 probes, pointers -----------------------------------------------------------------------------------

void Actor::op_probe() {
    int t = pick_target();
    Space& s = space(t);
    Addr addr = chance(10) ? kEnd + below(pg()) : pick_addr(s, false);
    int k = int(below(20));
    int flavor = k == 0 ? 11 : k < 7 ? VM_REGION_BASIC_INFO : VM_REGION_BASIC_INFO_64;
    mach_msg_type_number_t need =
        flavor == VM_REGION_BASIC_INFO ? VM_REGION_BASIC_INFO_COUNT : VM_REGION_BASIC_INFO_COUNT_64;
    mach_msg_type_number_t cnt = k == 1 ? need - 1 : VM_REGION_BASIC_INFO_COUNT_64;
    int info[16];
    std::memset(info, 0x5a, sizeof info);
    vm_address_t a = addr;
    vm_size_t size = 0;
    Name object = 0xdead;
    kern_return_t kr = vm_region_64(port_for(t), &a, &size, flavor, info, &cnt, &object);
    op_ = format("vm_region_64(%s, %#llx, flavor %d) -> %s [%#llx+%#llx]", tname_.c_str(), ull(addr), flavor,
                 code(kr).c_str(), ull(a), ull(size));
    ++count(kProbes);
    // docs/api.md 11.6: the region holding addr, else the next one above it.
    auto it = region_at(s.regions, addr);
    if (it == s.regions.end()) it = s.regions.upper_bound(addr);
    kern_return_t want = flavor == 11 || k == 1 ? KERN_INVALID_ARGUMENT
                         : it == s.regions.end() ? KERN_INVALID_ADDRESS
                                                 : KERN_SUCCESS;
    if (!expect(kr, {want}) || kr != KERN_SUCCESS) return;
    const MRegion& r = it->second;
    vm_region_basic_info_data_64_t i64{};
    vm_region_basic_info_data_t i32{};
    uint64_t offset;
    if (flavor == VM_REGION_BASIC_INFO) {
        std::memcpy(&i32, info, sizeof i32);
        i64.protection = i32.protection, i64.max_protection = i32.max_protection, i64.inheritance = i32.inheritance;
        i64.shared = i32.shared;
        offset = i32.offset;
        if (info[VM_REGION_BASIC_INFO_COUNT] != 0x5a5a5a5a) fail("VM_REGION_BASIC_INFO wrote past its 8 ints");
    } else {
        std::memcpy(&i64, info, sizeof i64);
        offset = i64.offset;
    }
    if (a != it->first || size != r.size || i64.protection != r.prot || i64.max_protection != r.max ||
        i64.inheritance != r.inh || offset != (flavor == VM_REGION_BASIC_INFO ? uint32_t(r.off) : r.off) ||
        bool(i64.shared) != sh_.shared(s, r.obj) || cnt != need || object != MACH_PORT_NULL)
        fail(format("it reported [%#llx+%#llx %s/%s inh %d off %#llx shared %d count %u]; the model has %s",
                    ull(a), ull(size), prot_str(i64.protection).c_str(), prot_str(i64.max_protection).c_str(),
                    i64.inheritance, ull(offset), i64.shared, cnt, region_str(it->first, r).c_str()));
}

void Actor::op_pointer_read() {
    std::vector<Addr> readable;
    for (const auto& [a, r] : me_.regions)
        if (r.prot & kRW) readable.push_back(a);
    if (readable.empty()) return;
    Addr a = readable[below(readable.size())];
    const MRegion& r = me_.regions.at(a);
    uint64_t off = below(r.size), n = 1 + below(r.size - off);
    Bytes got(n);
    std::memcpy(got.data(), reinterpret_cast<const void*>(a + off), n);
    op_ = format("read %llu bytes at %#llx through a pointer", ull(n), ull(a + off));
    ++count(kPointerReads);
    if (std::memcmp(got.data(), r.obj->bytes.data() + r.off + off, n) != 0)
        fail("the bytes differ from the model's " + region_str(a, r));
}

void Actor::op_pointer_write() {
    std::vector<Addr> writable;
    for (const auto& [a, r] : me_.regions)
        if (r.prot & kW) writable.push_back(a);
    if (writable.empty()) return;
    Addr a = writable[below(writable.size())];
    const MRegion& r = me_.regions.at(a);
    uint64_t off = below(r.size), n = 1 + below(std::min<uint64_t>(r.size - off, chance(20) ? r.size : 64));
    Bytes b = random_bytes(n);
    std::memcpy(reinterpret_cast<void*>(a + off), b.data(), n);
    model_write(me_.regions, a + off, b.data(), n);
    op_ = format("wrote %llu bytes at %#llx through a pointer%s", ull(n), ull(a + off),
                 sh_.aliased(r.obj) ? " (memory mapped elsewhere too)" : "");
    ++count(kPointerWrites);
    if (sh_.aliased(r.obj)) {
        ++count(kSharedWrites);
        check_bytes_ = true;
        for (int t = 0; t < kActors; ++t)
            for (const auto& [x, y] : space(t).regions)
                if (t != idx_ && y.obj == r.obj) touched_.insert(t);
    }
}

// --- memory entries and vm_map ---------------------------------------------------------------------------------------

void Actor::op_make_entry() {
    int t = pick_target();
    Space& s = space(t);
    bool create = chance(25);
    auto [addr, size] = pick_inside(s, 3 * pg());
    if (create) size = 1 + below(3 * pg());
    if (chance(5)) size = 0;
    vm_prot_t prot = chance(70) ? kRW : pick_prot() & VM_PROT_ALL;
    vm_prot_t permission = prot | (create ? MAP_MEM_NAMED_CREATE : 0) | (chance(10) ? MAP_MEM_VM_SHARE : 0);
    Name parent = chance(3) ? inbox_ : MACH_PORT_NULL;
    // docs/api.md 11.7, in its order.
    kern_return_t want = KERN_SUCCESS;
    auto it = region_at(s.regions, trunc_pg(addr));
    Addr first = trunc_pg(addr), last = round_pg(addr + size);
    if (parent) want = KERN_INVALID_ARGUMENT;
    else if (size == 0) want = KERN_INVALID_ARGUMENT;
    else if (create) want = KERN_SUCCESS;
    else if (it == s.regions.end()) want = KERN_INVALID_ADDRESS;
    else if (last > it->first + it->second.size) want = KERN_INVALID_ARGUMENT;
    else if ((prot & it->second.prot) != prot) want = KERN_PROTECTION_FAILURE;
    memory_object_size_t sz = size;
    Name handle = 0xdead;
    kern_return_t kr;
    if (chance(70)) {
        kr = mach_make_memory_entry_64(port_for(t), &sz, addr, permission, &handle, parent);
    } else {  // the vm_size_t spelling
        vm_size_t sz32 = size;
        kr = mach_make_memory_entry(port_for(t), &sz32, addr, permission, &handle, parent);
        sz = sz32;
    }
    op_ = format("mach_make_memory_entry_64(%s, %#llx, at %#llx, %s%s) -> %s %#x size %#llx", tname_.c_str(), ull(size),
                 ull(addr), prot_str(prot).c_str(), create ? " NAMED_CREATE" : "", code(kr).c_str(), handle, ull(sz));
    if (!expect(kr, {want})) return;
    if (kr != KERN_SUCCESS) {
        ++count(kEntryRefused);
        return;
    }
    auto e = std::make_shared<Entry>();
    e->id = ++sh_.next_entry;
    e->prot = prot;
    if (create) {
        e->size = round_pg(size);
        e->obj = sh_.new_obj(e->size);
        e->off = 0;
        ++count(kEntryCreated);
    } else {
        e->size = last - first;
        e->obj = it->second.obj;
        e->off = it->second.off + (first - it->first);
        ++count(kEntryNamed);
    }
    if (sz != e->size) fail(format("the entry's size is %#llx, the model's %#llx", ull(sz), ull(e->size)));
    if (me_.entries.count(handle) || !MACH_PORT_VALID(handle))
        return fail(format("handle %#x is not a new name", handle));
    e->rights = 1;
    sh_.entries.insert(e);
    me_.entries[handle] = EntryName{e, 1};
}

void Actor::op_map() {
    int t = pick_target();
    Space& s = space(t);
    // The object: one of our entries (mostly), none (fresh memory), or a name that is not an entry.
    Name object = MACH_PORT_NULL;
    EntryP e;
    uint64_t k = below(100);
    if (k < 80 && !me_.entries.empty()) {
        auto it = std::next(me_.entries.begin(), long(below(me_.entries.size())));
        object = it->first, e = it->second.e;
    } else if (k < 83) {
        object = inbox_;
    }
    bool copy = chance(35);
    uint64_t offset = e && chance(40) ? below(e->size / pg()) * pg() : 0;
    if (chance(4)) offset += 1 + below(pg() - 1);
    uint64_t size = e ? (chance(50) ? e->size - std::min(offset, e->size) : pg() * (1 + below(e->size / pg())))
                      : pick_size(3 * pg());
    if (e && chance(10)) size = e->size + pg() - offset;  // past the entry's end
    if (e && size == 0) size = chance(95) ? pg() : 0;
    vm_prot_t cur = chance(70) ? (e ? e->prot : kRW) : pick_prot();
    vm_prot_t max = chance(70) ? VM_PROT_ALL : pick_prot() | cur;
    if (chance(3)) max = cur & ~kR;
    static const vm_inherit_t values[] = {VM_INHERIT_SHARE, VM_INHERIT_COPY, VM_INHERIT_NONE};
    vm_inherit_t inh = chance(3) ? 5 : values[below(3)];
    int flags = chance(60) ? VM_FLAGS_ANYWHERE : VM_FLAGS_FIXED;
    if (chance(2)) flags |= 0x10;
    Addr mask = chance(70) ? 0 : chance(90) ? (pg() << below(4)) - 1 : pg() + 1;
    Addr addr = chance(80) ? pick_addr(s, true) : pick_addr(s, false);
    if (mask && chance(50)) addr &= ~mask;
    // docs/api.md 11.7, in its order.
    uint64_t len = round_pg(size);
    Addr at = addr;
    kern_return_t want = KERN_SUCCESS;
    if (flags & ~VM_FLAGS_ANYWHERE) want = KERN_INVALID_ARGUMENT;
    else if (mask & (mask + 1)) want = KERN_INVALID_ARGUMENT;
    else if (object && !e) want = KERN_INVALID_ARGUMENT;
    else if (e && (e->prot & cur) != cur) want = KERN_PROTECTION_FAILURE;
    else if (e && (offset + size > e->size || offset + size < offset)) want = KERN_INVALID_ARGUMENT;
    else if ((cur & ~VM_PROT_ALL) || (max & ~VM_PROT_ALL) || (cur & (e ? max & e->prot : max)) != cur ||
             inh > VM_INHERIT_NONE || size == 0 || len < size || (offset & (pg() - 1)))
        want = KERN_INVALID_ARGUMENT;
    else if (flags & VM_FLAGS_ANYWHERE) want = lowest_free(s.regions, len, mask, at) ? KERN_SUCCESS : KERN_NO_SPACE;
    else if (trunc_pg(addr) != addr || (addr & mask) || addr < kBase || addr + len > kEnd) want = KERN_INVALID_ADDRESS;
    else if (!is_free(s.regions, addr, len)) want = KERN_NO_SPACE;
    vm_address_t a = addr;
    kern_return_t kr;
    if (chance(50)) {
        kr = vm_map(port_for(t), &a, size, mask, flags, object, offset, copy, cur, max, inh);
    } else {
        mach_vm_address_t a64 = addr;
        kr = mach_vm_map(port_for(t), &a64, size, mask, flags, object, offset, copy, cur, max, inh);
        a = a64;
    }
    op_ = format("vm_map(%s, %#llx, %#llx, mask %#llx, flags %#x, %#x (entry %u), off %#llx, copy %d, %s/%s, inh %d) "
                 "-> %s %#llx", tname_.c_str(), ull(addr), ull(size), ull(mask), flags, object, e ? e->id : 0,
                 ull(offset), copy, prot_str(cur).c_str(), prot_str(max).c_str(), inh, code(kr).c_str(), ull(a));
    if (!expect(kr, {want})) return;
    if (kr != KERN_SUCCESS) return (void)++count(kMapRefused);
    if (a != at) return fail(format("mapped at %#llx; the model expected %#llx", ull(a), ull(at)));
    MRegion r{len, cur, e ? max & e->prot : max, inh, nullptr, 0};
    if (!e) {
        r.obj = sh_.new_obj(len);
        ++count(kMapFresh);
    } else if (copy) {
        r.obj = sh_.new_obj(len);
        std::memcpy(r.obj->bytes.data(), e->obj->bytes.data() + e->off + offset, len);
        ++count(kMapCopy);
    } else {
        r.obj = e->obj;
        r.off = e->off + offset;
        ++count(kMapShared);
    }
    s.regions[at] = r;
    check_bytes_ = true;
}

void Actor::op_release_entry() {
    if (me_.entries.empty()) return;
    auto it = std::next(me_.entries.begin(), long(below(me_.entries.size())));
    Name n = it->first;
    kern_return_t kr = mach_port_deallocate(mach_task_self(), n);
    op_ = format("mach_port_deallocate(entry %#x, entry %u, urefs %u) -> %s", n, it->second.e->id, it->second.urefs,
                 code(kr).c_str());
    if (!expect(kr, {KERN_SUCCESS})) return;
    ++count(kEntryReleased);
    EntryP e = it->second.e;
    if (--it->second.urefs == 0) me_.entries.erase(it);
    sh_.drop_right(e);
}

// --- messages: OOL memory and memory entries between the tasks -------------------------------------------------------

void Actor::op_send() {
    int to = chance(15) ? idx_ : int(below(kActors));
    for (int t = 0; t < kActors; ++t)  // now and then a full queue on purpose: the message comes back (R18)
        if (sh_.inbox[t].size() >= kQlimit && chance(25)) to = t;
    if (sh_.waiting[to]) to = idx_;  // a hand-off would switch to it in the middle of our step
    Name dest = sh_.inbox_port[idx_][to];
    struct Ool {
        Addr addr = 0;
        uint64_t size = 0;
        bool dealloc = false, host = false;
    };
    std::vector<Ool> ools(below(3));
    bool with_entry = !me_.entries.empty() && chance(40);
    if (ools.empty() && !with_entry) ools.resize(1);
    // Which descriptor the copy-in refuses (R22, docs/api.md 3.7: descriptor by descriptor, readable memory is
    // taken, deallocate = TRUE removes its whole pages, a hole or an unreadable page fails the send).
    Map sim = me_.regions;
    int bad = -1;
    std::string desc;
    for (size_t i = 0; i < ools.size(); ++i) {
        Ool& o = ools[i];
        uint64_t k = below(100);
        if (k < 15) {  // host memory (a heap buffer: its own half of it)
            o.host = true;
            o.size = 1 + below(4 * pg());
            Bytes b = random_bytes(o.size);
            std::memcpy(host_.data() + i * 4 * pg(), b.data(), o.size);
            o.addr = reinterpret_cast<Addr>(host_.data() + i * 4 * pg());
        } else if (k < 20) {
            o.size = 0;
            o.addr = chance(50) ? 0 : pick_addr(me_, false);
        } else {
            auto [a, n] =
                chance(85) ? pick_inside(me_, 3 * pg()) : std::pair{pick_addr(me_, false), pick_size(4 * pg())};
            if (n == 0) n = 1;
            o.addr = a, o.size = n;
        }
        o.dealloc = chance(35);
        desc += format(" ool %s%#llx+%#llx%s", o.host ? "host " : "", ull(o.addr), ull(o.size),
                       o.dealloc ? " dealloc" : "");
        if (o.size && !o.host) {
            if (scan(sim, o.addr, o.size, kR).any()) {
                bad = int(i);
                break;
            }
            if (o.dealloc) remove_range(sim, trunc_pg(o.addr), round_pg(o.addr + o.size));
        }
    }
    if (bad >= 0) with_entry = false, ools.resize(size_t(bad) + 1);  // nothing after the bad one matters
    Name entry_name = MACH_PORT_NULL;
    EntryP entry;
    mach_msg_type_name_t entry_disp = chance(50) ? MACH_MSG_TYPE_COPY_SEND : MACH_MSG_TYPE_MOVE_SEND;
    if (with_entry) {
        auto it = std::next(me_.entries.begin(), long(below(me_.entries.size())));
        entry_name = it->first, entry = it->second.e;
        desc += format(" entry %#x (entry %u) %s", entry_name, entry->id,
                       entry_disp == MACH_MSG_TYPE_COPY_SEND ? "copy" : "move");
    }
    // The message: header, body, the OOL descriptors, the entry's port descriptor, the payload.
    alignas(16) unsigned char buf[512] = {};
    auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
    h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
    h->msgh_remote_port = dest;
    h->msgh_id = kDataId;
    unsigned char* d = buf + sizeof *h + sizeof(mach_msg_body_t);
    for (const Ool& o : ools) {
        mach_msg_ool_descriptor_t od{reinterpret_cast<void*>(o.addr), o.dealloc, MACH_MSG_VIRTUAL_COPY, 0,
                                     MACH_MSG_OOL_DESCRIPTOR, mach_msg_size_t(o.size)};
        std::memcpy(d, &od, sizeof od);
        d += sizeof od;
    }
    if (with_entry) {
        mach_msg_port_descriptor_t pd{entry_name, 0, 0, entry_disp, MACH_MSG_PORT_DESCRIPTOR};
        std::memcpy(d, &pd, sizeof pd);
        d += sizeof pd;
    }
    mach_msg_body_t body{mach_msg_size_t(ools.size() + with_entry)};
    std::memcpy(buf + sizeof *h, &body, sizeof body);
    uint32_t seq = ++sh_.next_seq;
    Payload payload{kMagic, seq, uint32_t(idx_)};
    std::memcpy(d, &payload, sizeof payload);
    mach_msg_size_t size = mach_msg_size_t(d - buf + sizeof payload);
    h->msgh_size = size;
    // Now and then the message is sent from one of our regions (the kernel copies it in through our pointer, our
    // space perhaps not open yet), away from the pages the OOL regions deallocate. Not to a full queue: the
    // pseudo-receive would write it back.
    if (chance(25) && sh_.inbox[to].size() < kQlimit) {
        std::vector<std::pair<Addr, Addr>> avoid;
        for (const Ool& o : ools)
            if (o.dealloc && o.size && !o.host) avoid.emplace_back(trunc_pg(o.addr), round_pg(o.addr + o.size));
        if (Addr a = pick_buffer(size, avoid)) {
            std::memcpy(reinterpret_cast<void*>(a), buf, size);
            model_write(me_.regions, a, buf, size);
            h = reinterpret_cast<mach_msg_header_t*>(a);
            desc += format(" from %#llx", ull(a));
            ++count(kSentFromRegion);
        }
    }
    // What each OOL region holds as the copy-in takes it (after the message was written: they may overlap).
    std::vector<Bytes> snaps;
    sim = me_.regions;
    for (size_t i = 0; i < ools.size() && int(i) != bad; ++i) {
        const Ool& o = ools[i];
        if (o.size == 0) {
            snaps.emplace_back();
        } else if (o.host) {
            snaps.emplace_back(host_.begin() + long(i * 4 * pg()), host_.begin() + long(i * 4 * pg() + o.size));
        } else {
            snaps.push_back(model_read(sim, o.addr, o.size));
            if (o.dealloc) remove_range(sim, trunc_pg(o.addr), round_pg(o.addr + o.size));
        }
    }
    bool full = sh_.inbox[to].size() >= kQlimit;
    mach_msg_return_t want = bad >= 0 ? MACH_SEND_INVALID_MEMORY : full ? MACH_SEND_TIMED_OUT : MACH_MSG_SUCCESS;
    mach_msg_return_t mr = mach_msg(h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
    op_ = format("send #%u to t%d%s%s -> %s", seq, to, desc.c_str(), full ? " (queue full)" : "", code(mr).c_str());
    check_bytes_ = true;
    if (!expect(mr, {want})) return;
    // The copy-in happened: the deallocated pages are gone (also those of OOL regions before a bad one).
    if (bad >= 0) {
        ++count(kOolRefused);
        Map partial = me_.regions;
        for (int i = 0; i < bad; ++i)
            if (const Ool& o = ools[size_t(i)]; o.dealloc && !o.host && o.size)
                remove_range(partial, trunc_pg(o.addr), round_pg(o.addr + o.size));
        me_.regions = partial;
        return;
    }
    me_.regions = sim;
    for (const Ool& o : ools) {
        count(kOolSent) += o.size > 0;
        count(kOolDealloc) += o.dealloc && !o.host && o.size > 0;
        count(kOolHost) += o.host;
    }
    if (entry) {
        ++count(kEntriesSent);
        if (entry_disp == MACH_MSG_TYPE_MOVE_SEND) {
            auto it = me_.entries.find(entry_name);
            if (--it->second.urefs == 0) me_.entries.erase(it);
        } else {
            ++entry->rights;
        }
    }
    if (mr == MACH_SEND_TIMED_OUT) {
        // Pseudo-received back (R18): each OOL region lands in a new region of ours, the rights come back.
        ++count(kPseudoReceived);
        Parsed m = parse(h);
        if (m.ools.size() != ools.size() || m.ports.size() != size_t(with_entry))
            return fail("the pseudo-received message does not have the descriptors sent");
        if (h->msgh_remote_port == dest) (void)mach_port_deallocate(mach_task_self(), dest);  // the header's right
        for (size_t i = 0; i < ools.size(); ++i) {
            const mach_msg_ool_descriptor_t& o = m.ools[i];
            Addr at = 0;
            if (ools[i].size == 0) {
                if (o.address || o.size) fail(format("OOL %zu of size 0 came back as %p+%#x", i, o.address, o.size));
                continue;
            }
            if (o.size != ools[i].size || !lowest_free(me_.regions, round_pg(o.size), 0, at) ||
                reinterpret_cast<Addr>(o.address) != at)
                return fail(format("OOL %zu came back as %p+%#x; the model expected %#llx+%#llx", i, o.address,
                                   o.size, ull(at), ull(ools[i].size)));
            Bytes content = snaps[i];
            content.resize(round_pg(o.size));
            add_fresh(me_, at, o.size, &content);
        }
        if (entry) {
            Name n = m.ports[0].name;
            auto it = me_.entries.find(n);
            if (it != me_.entries.end() && it->second.e != entry)
                return fail(format("entry %u came back under %#x, the name of entry %u", entry->id, n,
                                   it->second.e->id));
            if (it == me_.entries.end()) me_.entries[n] = EntryName{entry, 1};
            else ++it->second.urefs;
        }
        return;
    }
    sh_.inbox[to].push_back(Letter{seq, idx_, snaps, entry});
    // R27: what we write now into the memory we sent is not what the receiver gets.
    if (chance(50)) {
        for (const Ool& o : ools) {
            if (o.host || !o.size) continue;
            if (scan(me_.regions, o.addr, o.size, kW).any() || scan(me_.regions, o.addr, o.size, kR).any()) continue;
            Bytes b = random_bytes(o.size);
            pointer_write(o.addr, b);
            ++count(kWroteAfterSend);
            op_ += format(" (then wrote it at %#llx)", ull(o.addr));
        }
    }
}

void Actor::op_receive(Rcv mode) {
    alignas(16) unsigned char buf[1024] = {};
    auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
    mach_msg_size_t limit = sizeof buf;
    // Now and then into one of our regions: the kernel writes the message and its trailer there, nothing else.
    Addr in_region = chance(mode == Rcv::kWait ? 70 : 25) ? pick_buffer(256) : 0;
    if (in_region) h = reinterpret_cast<mach_msg_header_t*>(in_region), limit = 256;
    // A wait blocks until the courier's message arrives: the others run meanwhile, away from our memory.
    sh_.waiting[idx_] = mode == Rcv::kWait;
    mach_msg_return_t mr = mach_msg(h, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, limit, inbox_,
                                    mode == Rcv::kWait ? 10000 : 0, MACH_PORT_NULL);
    sh_.waiting[idx_] = false;
    std::deque<Letter>& q = sh_.inbox[idx_];
    op_ = format("receive%s (%zu queued)%s -> %s", mode == Rcv::kWait ? " waiting" : "", q.size(),
                 in_region ? format(" at %#llx", ull(in_region)).c_str() : "", code(mr).c_str());
    if (q.empty()) return (void)expect(mr, {MACH_RCV_TIMED_OUT});
    if (!expect(mr, {MACH_MSG_SUCCESS})) return;
    if (in_region) {
        check_bytes_ = true;
        if (h->msgh_size > 200) return fail(format("a message of %u bytes", h->msgh_size));
        mach_msg_trailer_t trailer;
        std::memcpy(&trailer, reinterpret_cast<const uint8_t*>(in_region) + h->msgh_size, sizeof trailer);
        uint64_t n = uint64_t(h->msgh_size) + trailer.msgh_trailer_size;
        if (trailer.msgh_trailer_size > sizeof(mach_msg_max_trailer_t))
            return fail(format("a trailer of %u bytes", trailer.msgh_trailer_size));
        model_write(me_.regions, in_region, reinterpret_cast<const uint8_t*>(in_region), n);
        ++count(mode == Rcv::kWait ? kWaitedIntoRegion : kReceivedIntoRegion);
    }
    count(kWaitedReceives) += mode == Rcv::kWait;
    Letter l = std::move(q.front());
    q.pop_front();
    Parsed m = parse(h);
    op_ += format(" #%u from t%d", m.payload.seq, m.payload.from);
    if (h->msgh_id != kDataId || m.payload.magic != kMagic || m.payload.seq != l.seq ||
        m.payload.from != uint32_t(l.from) || m.ools.size() != l.ools.size() || m.ports.size() != size_t(bool(l.entry)))
        return fail(format("message #%u from t%d (%zu OOL, %zu ports) arrived; the model expected #%u from t%d (%zu "
                           "OOL, entry %d)", m.payload.seq, m.payload.from, m.ools.size(), m.ports.size(), l.seq,
                           l.from, l.ools.size(), bool(l.entry)));
    check_bytes_ = true;
    std::vector<Addr> got;
    for (size_t i = 0; i < l.ools.size(); ++i) {
        const mach_msg_ool_descriptor_t& o = m.ools[i];
        const Bytes& want = l.ools[i];
        if (want.empty()) {
            if (o.address || o.size) fail(format("OOL %zu of size 0 arrived as %p+%#x", i, o.address, o.size));
            continue;
        }
        Addr at = 0;
        // R27 and docs/api.md 3.7: a new region of ours (read-write, whole pages) holding the bytes as they were
        // when the message was sent, zeros after them.
        if (o.size != want.size() || o.deallocate || !lowest_free(me_.regions, round_pg(o.size), 0, at) ||
            reinterpret_cast<Addr>(o.address) != at)
            return fail(format("OOL %zu arrived as %p+%#x; the model expected %#llx+%#zx", i, o.address, o.size,
                               ull(at), want.size()));
        if (std::memcmp(o.address, want.data(), want.size()) != 0) {
            size_t j = 0;
            while (static_cast<const uint8_t*>(o.address)[j] == want[j]) ++j;
            return fail(format("OOL %zu at %p does not hold the bytes sent (R27: a copy as of the send): byte %zu of "
                               "%zu is %#x, sent %#x", i, o.address, j, want.size(),
                               static_cast<const uint8_t*>(o.address)[j], want[j]));
        }
        Bytes content = want;
        content.resize(round_pg(o.size));
        add_fresh(me_, at, o.size, &content);
        got.push_back(at);
        ++count(kOolReceived);
    }
    if (l.entry) {
        Name n = m.ports[0].name;
        if (m.ports[0].disposition != MACH_MSG_TYPE_PORT_SEND)
            return fail(format("the entry arrived with disposition %u", m.ports[0].disposition));
        auto it = me_.entries.find(n);
        if (it != me_.entries.end() && it->second.e != l.entry)
            return fail(format("entry %u arrived under %#x, the name of entry %u", l.entry->id, n, it->second.e->id));
        if (it == me_.entries.end()) me_.entries[n] = EntryName{l.entry, 1};  // R1: one name per port
        else ++it->second.urefs;
        ++count(kEntriesReceived);
        op_ += format(" entry %u as %#x", l.entry->id, n);
    }
    if (mode == Rcv::kDrain) return;
    // R27 the other way: what we write into what we received is not seen by the sender.
    if (!got.empty() && chance(50)) {
        Addr a = got[below(got.size())];
        const MRegion& r = me_.regions.at(a);
        Bytes b = random_bytes(r.size);
        std::memcpy(reinterpret_cast<void*>(a), b.data(), r.size);
        model_write(me_.regions, a, b.data(), r.size);
        ++count(kWroteAfterReceive);
        op_ += format(" (then wrote it at %#llx)", ull(a));
        if (l.from != idx_ && l.from != kCourier) touched_.insert(l.from);
    }
    if (!got.empty() && chance(30)) {  // or give it back at once
        Addr a = got[below(got.size())];
        uint64_t n = me_.regions.at(a).size;
        expect(vm_deallocate(mach_task_self(), a, n), {KERN_SUCCESS});
        remove_range(me_.regions, a, a + n);
        op_ += format(" (freed %#llx)", ull(a));
    }
}

// A courier: a task with none of our memory that sends us one message with an OOL region of its own while we wait
// for it in a receive, our buffer often in one of our regions. The kernel may hand the message over at once; into a
// buffer in our region it must copy on our side (docs/memory.md), never through the courier's pointers.
void Actor::op_courier() {
    if (!sh_.inbox[idx_].empty()) return op_receive(Rcv::kPoll);
    uint32_t seq = ++sh_.next_seq;
    Bytes ool = random_bytes(1 + below(2 * pg()));
    Shared* sh = &sh_;
    int me = idx_;
    mach_port_t port = machsim::task_spawn(
        who_ + ".courier",
        [sh, me, seq, ool](mach_port_t inbox) {
            alignas(16) unsigned char buf[128] = {};
            auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
            h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
            h->msgh_remote_port = inbox;
            h->msgh_id = kDataId;
            mach_msg_body_t body{1};
            mach_msg_ool_descriptor_t od{const_cast<uint8_t*>(ool.data()), FALSE, MACH_MSG_VIRTUAL_COPY, 0,
                                         MACH_MSG_OOL_DESCRIPTOR, mach_msg_size_t(ool.size())};
            Payload payload{kMagic, seq, uint32_t(kCourier)};
            unsigned char* d = buf + sizeof *h;
            std::memcpy(d, &body, sizeof body);
            std::memcpy(d += sizeof body, &od, sizeof od);
            std::memcpy(d += sizeof od, &payload, sizeof payload);
            h->msgh_size = mach_msg_size_t(d + sizeof payload - buf);
            sh->inbox[me].push_back(Letter{seq, kCourier, {ool}, nullptr});  // no switch before the send
            mach_msg_return_t mr = mach_msg(h, MACH_SEND_MSG, h->msgh_size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
            if (mr != MACH_MSG_SUCCESS) sh->fail(format("t%d.courier", me), "its send returned " + code(mr));
            return 0;
        },
        inbox_, MACH_MSG_TYPE_MAKE_SEND, machsim::SpawnOptions{.daemon = false, .inherit_memory = false});
    if (!MACH_PORT_VALID(port)) return fail("task_spawn of the courier failed");
    op_receive(Rcv::kWait);
    std::string op = op_;
    op_ = "wait for the courier to end";
    for (int i = 0; i < 1000 && mt::type_of(port) != MACH_PORT_TYPE_DEAD_NAME; ++i)
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
    if (mt::type_of(port) != MACH_PORT_TYPE_DEAD_NAME) return fail("the courier did not end");
    expect(mach_port_deallocate(mach_task_self(), port), {KERN_SUCCESS});
    op_ = op + " (courier)";
}

// --- task_spawn: what vm_inherit gives a child -----------------------------------------------------------------------

void Actor::op_spawn() {
    // The child's model (docs/api.md 11.5): each region at the same address with the same protections and
    // inheritance; SHARE: the same pages; COPY: a copy as they are now (a new object, offset 0); NONE: a hole.
    Space* cs = &sh_.children.emplace_back();
    bool* done = &sh_.child_done.emplace_back(false);
    cs->who = who_ + ".child";
    int shared = 0, copied = 0, holes = 0;
    for (const auto& [a, r] : me_.regions) {
        if (r.inh == VM_INHERIT_NONE) {
            ++holes;
            continue;
        }
        MRegion c = r;
        if (r.inh == VM_INHERIT_COPY) {
            c.obj = sh_.new_obj(r.size);
            std::memcpy(c.obj->bytes.data(), r.obj->bytes.data() + r.off, r.size);
            c.off = 0;
            ++copied;
        } else {
            ++shared;
        }
        cs->regions[a] = c;
    }
    sh_.spaces.push_back(cs);
    Shared* sh = &sh_;
    uint64_t seed = rng_();
    mach_port_t port = machsim::task_spawn(cs->who, [sh, cs, seed, done](mach_port_t) {
        return std::make_unique<Child>(*sh, *cs, seed, done)->run();
    });
    op_ = format("task_spawn (%d regions shared, %d copied, %d left out) -> %#x", shared, copied, holes, port);
    if (!MACH_PORT_VALID(port)) {
        sh_.spaces.erase(std::find(sh_.spaces.begin(), sh_.spaces.end(), cs));
        return fail("task_spawn failed");
    }
    ++count(kSpawns);
    count(kChildShared) += shared, count(kChildCopied) += copied, count(kChildHoles) += holes;
    check_bytes_ = true;
    // Wait for it to end (its writes to shared pages are ours to see); the others go on meanwhile.
    for (int i = 0; i < 100000 && !*done; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    for (int i = 0; i < 1000 && mt::type_of(port) != MACH_PORT_TYPE_DEAD_NAME; ++i)
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
    if (!*done || mt::type_of(port) != MACH_PORT_TYPE_DEAD_NAME) return fail("the child did not end");
    expect(mach_port_deallocate(mach_task_self(), port), {KERN_SUCCESS});
    op_ += " (ended)";
    for (int t = 0; t < kActors; ++t)
        if (t != idx_) touched_.insert(t);  // it may have written pages the others map
}

// --- runs ------------------------------------------------------------------------------------------------------------

using prop::SeedResult;

SeedResult run_seed(uint64_t seed, int steps, Totals& totals) {
    Shared sh;
    sh.seed = seed;
    sh.steps = steps;
    sh.totals = &totals;
    sh.memfd_base = mt::memory_objects();
    machsim::Config cfg;
    cfg.seed = seed;
    cfg.quantum = uint64_t{1} << 62;  // no time slicing: a step is never cut in two by another task's
    machsim::Kernel k(cfg);
    machsim::TextSink sink(std::cout, true);
    if (std::getenv("MACHSIM_VMPROP_TRACE")) k.attach(sink);
    for (int i = 0; i < kActors; ++i)
        k.spawn(format("t%d", i), [&sh, i] { return std::make_unique<Actor>(sh, i)->run(); });
    machsim::RunReport r = k.run();
    SeedResult res = prop::seed_result(seed, std::move(sh.failures), r);
    if (mt::memory_objects() != sh.memfd_base) res.leaks.push_back("memory objects (memfds) outlived the kernel");
    return res;
}

prop::Runs<kCounts> g_runs{{"vm property test", "MACHSIM_VMPROP", "vm-property", 16, 500}, kCountNames, run_seed};

}  // namespace

TEST_SUITE("vm-property") {

TEST_CASE("random VM calls from several tasks keep every address space equal to its byte-exact model") {
    g_runs.totals(true);
}

TEST_CASE("the VM property test is not vacuous: every kind of operation and outcome it mixes happened") {
    g_runs.check_not_vacuous();
    const Totals& t = g_runs.totals(false);
    CHECK(t[kCensus] >= t[kSteps]);
}

}  // TEST_SUITE("vm-property")
