// Property test: seeded random sequences of IPC calls from several tasks, with the kernel's census of rights
// (machsim::check_invariants) after every step, and leaks, accounting, deadlock and crashes checked at the end of
// each run. Each task keeps a model of the names it holds (rights, send/dead urefs, set membership), checks it
// against the kernel after every call, and checks every return code against what MACH-REFERENCE.md §3 and
// docs/api.md allow in that situation.
//
//   MACHSIM_PROPERTY_SEEDS=A-B (or N: 1-N)  the seeds            (default 1-64)
//   MACHSIM_PROPERTY_STEPS=S                steps per seed       (default 3000, shared by the tasks)
//   MACHSIM_PROPERTY_VERBOSE=1              print the time taken and what happened
//   MACHSIM_PROPERTY_TRACE=1                print the kernel's trace of each run
// Replay a failure at seed S, step N: MACHSIM_PROPERTY_SEEDS=S-S MACHSIM_PROPERTY_STEPS=N [MACHSIM_PROPERTY_TRACE=1]
// build/machsim-tests -ts=property. No decision depends on the step limit: a shorter run is a prefix of a longer one.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mach/notify.h"
#include "tests/property_support.h"

namespace {

using Name = mach_port_name_t;
constexpr int kTasks = 4;
constexpr mach_msg_id_t kSimpleId = 1000, kComplexId = 1001;
constexpr uint32_t kMagic = 0x50524f50;
constexpr mach_port_type_t kRights = MACH_PORT_TYPE_ALL_RIGHTS;
constexpr mach_port_type_t kSendish = MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_DEAD_NAME;

enum Count {
    kSteps, kCensus, kSends, kTimedOut, kRightsSent, kReceiveSent, kReceives, kRightsReceived, kReceiveReceived,
    kDeadReceived, kOolReceived, kDestroyed, kTooLarge, kInSet, kBodyErrors, kRequests, kSetMoves, kKills, kDeaths,
    kEarlyEnds, kThreads, kLookups, kDeadNameN, kPortDeletedN, kPortDestroyedN, kNoSendersN, kSendOnceN, kCounts
};
const char* const kCountNames[kCounts] = {
    "steps", "census checks", "sends", "sends timed out (pseudo-received)", "rights sent in bodies",
    "receive rights sent", "messages received", "rights received", "receive rights received", "dead rights received",
    "OOL regions received", "received messages destroyed", "MACH_RCV_TOO_LARGE", "MACH_RCV_IN_SET",
    "body errors", "notification requests", "move_member", "ports killed", "dead names seen", "early task ends",
    "threads started", "look-ups", "dead-name notifications", "port-deleted notifications",
    "port-destroyed notifications", "no-senders notifications", "send-once notifications"};
using Totals = std::array<long, kCounts>;

using prop::format;
std::string code(int c) { return machsim::code_name(c); }

using prop::g_seed;
using prop::g_step;

// What the tasks of one run share (one host thread; tasks interleave only at kernel entries).
struct Shared {
    uint64_t seed = 0;
    int steps = 0, step = 0;
    bool alive[kTasks] = {true, true, true, true};
    std::vector<std::string> failures;
    bool census_failed = false;
    std::deque<std::string> recent;  // the last steps, printed with the first failure
    Totals* totals = nullptr;

    void fail(const std::string& who, const std::string& what) {
        if (failures.size() >= 12) return;
        std::string f = format("seed %llu step %d %s: ", (unsigned long long)seed, step, who.c_str()) + what;
        if (failures.empty()) {
            f += "\n  the steps before it:";
            for (const std::string& r : recent) f += "\n    " + r;
        }
        failures.push_back(std::move(f));
    }
    void census(const std::string& who) {
        ++(*totals)[kCensus];
        std::vector<std::string> problems = machsim::check_invariants();
        if (problems.empty() || census_failed) return;
        census_failed = true;  // the first disagreement is the one to reduce; later ones follow from it
        std::string s = "the census disagrees:";
        for (size_t i = 0; i < problems.size() && i < 20; ++i) s += "\n    census: " + problems[i];
        fail(who, s);
    }
};

mach_port_type_t type_of(Name n) {
    mach_port_type_t t = 0;
    return mach_port_type(mach_task_self(), n, &t) == KERN_SUCCESS ? (t & kRights) : 0;
}

// What a task believes one of its names holds.
struct Rights {
    bool recv = false, pset = false, sonce = false, service = false;
    bool loose = false;  // a dead-name request was made on it: its urefs are read back, not predicted
    bool dead_seen = false;
    uint32_t urefs = 0;  // send or dead-name urefs
    Name set = MACH_PORT_NULL;
    bool empty() const { return !recv && !pset && !sonce && urefs == 0; }
};

using RightList = std::vector<std::pair<Name, mach_msg_type_name_t>>;

// What a received (or pseudo-received) message carries: its rights, its OOL region (freed if asked), its payload.
struct Parsed {
    RightList rights;
    mach_msg_ool_descriptor_t ool{};
    bool has_ool = false;
    uint32_t payload[3] = {};  // a complex message of ours: magic, the OOL region's byte, its size
};
Parsed parse(mach_msg_header_t* h, bool pseudo, bool free_ool) {
    Parsed m;
    m.rights.push_back({h->msgh_remote_port, MACH_MSGH_BITS_REMOTE(h->msgh_bits)});
    if (pseudo) m.rights.push_back({h->msgh_local_port, MACH_MSGH_BITS_LOCAL(h->msgh_bits)});
    if (!(h->msgh_bits & MACH_MSGH_BITS_COMPLEX)) return m;
    auto* d = reinterpret_cast<unsigned char*>(h) + sizeof *h;
    mach_msg_body_t body;
    std::memcpy(&body, d, sizeof body);
    d += sizeof body;
    for (mach_msg_size_t i = 0; i < body.msgh_descriptor_count && i < 4; ++i) {
        if (d[11] == MACH_MSG_PORT_DESCRIPTOR) {
            mach_msg_port_descriptor_t p;
            std::memcpy(&p, d, sizeof p);
            m.rights.push_back({p.name, mach_msg_type_name_t(p.disposition)});
            d += sizeof p;
        } else {
            std::memcpy(&m.ool, d, sizeof m.ool);
            m.has_ool = true;
            d += sizeof m.ool;
        }
    }
    std::memcpy(m.payload, d, sizeof m.payload);
    if (m.has_ool && m.ool.address && free_ool)
        (void)vm_deallocate(mach_task_self(), vm_address_t(m.ool.address), m.ool.size);
    return m;
}

// A short-lived second thread: its own port, messages to it carrying send-once rights, then gone.
void helper(Shared& sh, int task, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string who = format("t%d's helper thread", task);
    mach_port_t p = mt::new_port_with_send();
    for (int i = 0, n = 1 + int(rng() % 4); i < n; ++i) {
        mach_msg_return_t mr = mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, i, MACH_SEND_TIMEOUT, 0, p,
                                               MACH_MSG_TYPE_MAKE_SEND_ONCE, kSimpleId);
        if (mr != MACH_MSG_SUCCESS) sh.fail(who, "a send to its own port returned " + code(mr));
        sh.census(who);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    mt::SimpleReceived in;
    mach_msg_return_t mr = mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0);
    if (mr != MACH_MSG_SUCCESS) sh.fail(who, "a receive on its own port returned " + code(mr));
    else mach_msg_destroy(&in.msg.head);
    if (rng() % 2) (void)mach_port_destroy(mach_task_self(), p);  // else the task's death releases it
    sh.census(who);
}

class Actor {
public:
    Actor(Shared& sh, int idx) : sh_(sh), idx_(idx), rng_(sh.seed * 1000003ull + idx), who_(format("t%d", idx)) {
        ool_.resize(20000);
    }
    int run();

private:
    Shared& sh_;
    int idx_;
    std::mt19937_64 rng_;
    std::string who_, op_;
    std::map<Name, Rights> model_;
    std::vector<Name> touched_;  // verified after the step
    std::vector<unsigned char> ool_;
    Name service_ = MACH_PORT_NULL;  // its bootstrap service port: never destroyed or moved

    uint32_t below(size_t n) { return n ? uint32_t(rng_() % n) : 0; }
    bool chance(int pct) { return below(100) < uint32_t(pct); }
    long& count(Count c) { return (*sh_.totals)[c]; }
    void fail(const std::string& what) { sh_.fail(who_ + " [" + op_ + "]", what); }
    kern_return_t expect(kern_return_t kr, std::initializer_list<kern_return_t> ok) {
        if (std::string u = prop::unexpected(kr, ok); !u.empty()) fail(u);
        return kr;
    }
    template <class P>
    Name pick(P pred) {
        std::vector<Name> c;
        for (auto& [n, r] : model_)
            if (pred(r)) c.push_back(n);
        return c.empty() ? MACH_PORT_NULL : c[below(c.size())];
    }
    Name pick_recv() { return chance(30) ? service_ : pick([](const Rights& r) { return r.recv; }); }
    Name pick_any() { return pick([](const Rights&) { return true; }); }
    void touch(Name n) { MACH_PORT_VALID(n) ? touched_.push_back(n) : void(); }
    // The kernel's type of n; a send-once right found dead is a dead name with 1 uref from now on (R16).
    mach_port_type_t type(Name n) {
        mach_port_type_t t = type_of(n);
        auto it = model_.find(n);
        if (it != model_.end() && it->second.sonce && (t & MACH_PORT_TYPE_DEAD_NAME))
            it->second.sonce = false, it->second.urefs = 1;
        return t;
    }

    // Compares the model of n with the kernel; a loose name is read back instead.
    void verify(Name n) {
        mach_port_type_t t = 0;
        kern_return_t kr = mach_port_type(mach_task_self(), n, &t);
        t &= kRights;
        auto it = model_.find(n);
        if (it == model_.end()) {
            if (kr == KERN_SUCCESS) fail(format("name %#x should be gone but holds type %#x", n, t));
            return;
        }
        Rights& r = it->second;
        if (kr != KERN_SUCCESS) {
            if (kr != KERN_INVALID_NAME || (!r.loose && !r.empty()))
                fail(format("mach_port_type(%#x) returned %s; the model has recv %d pset %d sonce %d urefs %u", n,
                            code(kr).c_str(), r.recv, r.pset, r.sonce, r.urefs));
            model_.erase(it);
            return;
        }
        mach_port_urefs_t send = mt::refs(n, MACH_PORT_RIGHT_SEND), dead = mt::refs(n, MACH_PORT_RIGHT_DEAD_NAME);
        if ((t & MACH_PORT_TYPE_DEAD_NAME) && !r.dead_seen) r.dead_seen = true, ++count(kDeaths);
        if (r.loose) {
            r.recv = t & MACH_PORT_TYPE_RECEIVE, r.pset = t & MACH_PORT_TYPE_PORT_SET;
            r.sonce = t & MACH_PORT_TYPE_SEND_ONCE, r.urefs = send + dead;
            if (!r.recv) r.set = MACH_PORT_NULL;
            return;
        }
        if (r.sonce && (t & MACH_PORT_TYPE_DEAD_NAME) && dead == 1) r.sonce = false, r.urefs = 1;
        if (bool(t & MACH_PORT_TYPE_RECEIVE) != r.recv || bool(t & MACH_PORT_TYPE_PORT_SET) != r.pset ||
            bool(t & MACH_PORT_TYPE_SEND_ONCE) != r.sonce || send + dead != r.urefs || (send && dead))
            fail(format("name %#x: the kernel says type %#x send %u dead %u; the model has recv %d pset %d sonce %d "
                        "urefs %u", n, t, send, dead, r.recv, r.pset, r.sonce, r.urefs));
        if (r.empty()) model_.erase(it);
    }

    // A right arrived (received, pseudo-received, looked up); R1 says under which name.
    void absorb(Name n, mach_msg_type_name_t type) {
        if (n == MACH_PORT_DEAD) return (void)++count(kDeadReceived);
        if (n == MACH_PORT_NULL) return;
        ++count(kRightsReceived);
        Rights& r = model_[n];
        touch(n);
        if (type == MACH_MSG_TYPE_PORT_SEND) {
            ++r.urefs;
        } else if (type == MACH_MSG_TYPE_PORT_SEND_ONCE) {
            if (!r.empty() && !r.loose) fail(format("a send-once right arrived under %#x, a name in use (R1)", n));
            r.sonce = true;
        } else if (type == MACH_MSG_TYPE_PORT_RECEIVE) {
            if (r.recv && !r.loose) fail(format("a receive right arrived under %#x, which already held one", n));
            r.recv = true, r.set = MACH_PORT_NULL;
            ++count(kReceiveReceived);
        } else {
            fail(format("name %#x arrived with type %u", n, type));
        }
    }
    void absorb_message(mach_msg_header_t* h, bool pseudo) {
        for (auto [n, type] : parse(h, pseudo, true).rights) absorb(n, type);
    }

    // The sender's side of a disposition that was copied in (R5).
    void consume(Name n, mach_msg_type_name_t disp) {
        auto it = model_.find(n);
        if (it == model_.end()) return;
        Rights& r = it->second;
        if (disp == MACH_MSG_TYPE_MOVE_SEND || disp == MACH_MSG_TYPE_MOVE_SEND_ONCE)
            r.sonce ? void(r.sonce = false) : void(r.urefs -= r.urefs > 0);
        if (disp == MACH_MSG_TYPE_MOVE_RECEIVE) r.recv = false, r.set = MACH_PORT_NULL;
        touch(n);
    }

    bool lookup(int j, bool strict) {
        mach_port_t p = MACH_PORT_NULL;
        kern_return_t kr = bootstrap_look_up(bootstrap_port, format("prop.%d", j).c_str(), &p);
        ++count(kLookups);
        if (kr == BOOTSTRAP_UNKNOWN_SERVICE && (!strict || !sh_.alive[j])) return false;
        if (expect(kr, {KERN_SUCCESS}) != KERN_SUCCESS) return false;
        absorb(p, MACH_MSG_TYPE_PORT_SEND);
        return true;
    }

    void one_op();
    void op_allocate();
    void op_insert();
    void op_mod_refs();
    void op_release(bool destroy);
    void op_send(bool complex, bool body_error);
    void op_receive(bool small);
    void handle(mach_msg_header_t* h, Name rcv_name, mach_port_type_t rcv_type);
    void op_request();
    void op_move_member();
};

int Actor::run() {
    op_ = "bootstrap_check_in";
    if (expect(bootstrap_check_in(bootstrap_port, format("prop.%d", idx_).c_str(), &service_), {KERN_SUCCESS}))
        return 1;
    model_[service_] = Rights{.recv = true, .service = true};
    for (int j = 0; j < kTasks; ++j) {
        op_ = format("bootstrap_look_up prop.%d", j);
        for (int tries = 0; j != idx_ && tries < 200 && !lookup(j, false); ++tries)
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    while (sh_.step < sh_.steps) {
        g_step = ++sh_.step;
        ++count(kSteps);
        int alive = 0;
        for (bool a : sh_.alive) alive += a;
        if (sh_.step > 200 && alive >= 3 && below(800) == 0) {  // end early, holding everything
            ++count(kEarlyEnds);
            sh_.recent.push_back(format("%d t%d: returns early", sh_.step, idx_));
            break;
        }
        one_op();
        for (Name n : touched_) verify(n);
        touched_.clear();
        sh_.recent.push_back(format("%d t%d: ", sh_.step, idx_) + op_);
        if (sh_.recent.size() > 16) sh_.recent.pop_front();
        sh_.census(who_ + " [" + op_ + "]");
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    sh_.alive[idx_] = false;
    return 0;
}

void Actor::one_op() {
    int w[] = {8, 4, 5, 4, 2, 12, 12, 16, 6, 4, 2, 1, 2, 1, 1, 1};
    if (model_.size() > 40) w[3] *= 4, w[4] *= 4;  // keep the space small
    int total = 0, k = 0;
    for (int x : w) total += x;
    for (int r = int(below(total)); r >= w[k]; r -= w[k++]) {}
    switch (k) {
    case 0: return op_allocate();
    case 1: return op_insert();
    case 2: return op_mod_refs();
    case 3: return op_release(false);
    case 4: return op_release(true);
    case 5: return op_send(false, false);
    case 6: return op_send(true, false);
    case 7: return op_receive(false);
    case 8: return op_request();
    case 9: return op_move_member();
    case 10: {
        Name n = pick_recv();
        static const mach_port_msgcount_t limits[] = {0, 1, 2, 3, 5, 16, 17};
        mach_port_msgcount_t limit = limits[below(7)];
        if (!n) return;
        if (n == service_ && limit == 0) limit = 1;
        kern_return_t kr = mt::set_qlimit(n, limit);
        op_ = format("set qlimit of %#x to %u -> %s", n, limit, code(kr).c_str());
        expect(kr, {limit > 16 ? KERN_INVALID_VALUE : KERN_SUCCESS});
        return;
    }
    case 11: {
        Shared* sh = &sh_;
        int idx = idx_;
        uint64_t seed = rng_();
        mach_port_t t = machsim::thread_start([sh, idx, seed] { helper(*sh, idx, seed); });
        op_ = format("thread_start -> %#x", t);
        ++count(kThreads);
        if (!MACH_PORT_VALID(t)) return fail("thread_start gave no thread port");
        if (model_.count(t) && !model_[t].loose) fail(format("the thread port arrived under %#x, a name in use", t));
        ++model_[t].urefs;  // a send right to the thread's port: a dead name once it ends
        return touch(t);
    }
    case 12: {
        int j = int(below(kTasks));
        op_ = format("bootstrap_look_up prop.%d", j);
        lookup(j, true);
        return;
    }
    case 13: return op_send(true, true);
    case 14: return op_receive(true);
    default:
        op_ = "verify every name";
        for (auto& [n, rights] : model_) touch(n);
    }
}

void Actor::op_allocate() {
    static const mach_port_right_t kinds[] = {MACH_PORT_RIGHT_RECEIVE, MACH_PORT_RIGHT_RECEIVE, MACH_PORT_RIGHT_RECEIVE,
                                              MACH_PORT_RIGHT_PORT_SET, MACH_PORT_RIGHT_DEAD_NAME};
    mach_port_right_t right = kinds[below(5)];
    Name n = MACH_PORT_NULL;
    kern_return_t kr = mach_port_allocate(mach_task_self(), right, &n);
    op_ = format("mach_port_allocate right %u -> %#x %s", right, n, code(kr).c_str());
    if (expect(kr, {KERN_SUCCESS})) return;
    if (model_.count(n)) fail(format("the fresh name %#x is already in the model", n));
    model_[n] = Rights{.recv = right == MACH_PORT_RIGHT_RECEIVE, .pset = right == MACH_PORT_RIGHT_PORT_SET,
                       .urefs = right == MACH_PORT_RIGHT_DEAD_NAME ? 1u : 0u};
    touch(n);
}

void Actor::op_insert() {
    Name n = pick_recv();
    uint32_t v = below(10);
    if (v >= 8) {  // under a name in use: COPY_SEND joins its send right, MAKE_SEND_ONCE cannot (R28)
        Name s = pick([](const Rights& r) { return r.urefs > 0; });
        mach_port_type_t t = s ? type(s) : 0;
        bool once = v == 9 && (t & MACH_PORT_TYPE_RECEIVE);
        if (!once && !(t & MACH_PORT_TYPE_SEND)) return;
        mach_msg_type_name_t d = once ? MACH_MSG_TYPE_MAKE_SEND_ONCE : MACH_MSG_TYPE_COPY_SEND;
        kern_return_t kr = mach_port_insert_right(mach_task_self(), s, s, d);
        op_ = format("insert_right %#x <- %#x/%u -> %s", s, s, d, code(kr).c_str());
        if (expect(kr, {once ? KERN_NAME_EXISTS : KERN_SUCCESS}) == KERN_SUCCESS) ++model_[s].urefs;
        return touch(s);
    }
    Name other = v == 7 ? pick_any() : n;  // v == 7: the port under another name gives KERN_RIGHT_EXISTS
    if (!n || !other || (v == 7 && other == n)) return;
    kern_return_t kr = mach_port_insert_right(mach_task_self(), other, n, MACH_MSG_TYPE_MAKE_SEND);
    op_ = format("insert_right %#x <- %#x/MAKE_SEND -> %s", other, n, code(kr).c_str());
    if (expect(kr, {v == 7 ? KERN_RIGHT_EXISTS : KERN_SUCCESS}) == KERN_SUCCESS && v != 7) ++model_[n].urefs;
    touch(other);
    touch(n);
}

void Actor::op_mod_refs() {
    Name n = pick_any();
    if (!n) return;
    Rights& r = model_[n];
    mach_port_type_t t = type(n);
    mach_port_right_t right;
    mach_port_delta_t delta = chance(50) ? 1 : -1;
    kern_return_t want = KERN_SUCCESS;
    if (chance(10)) {  // a right the name does not hold
        right = (t & MACH_PORT_TYPE_DEAD_NAME) ? MACH_PORT_RIGHT_SEND : MACH_PORT_RIGHT_DEAD_NAME;
        want = KERN_INVALID_RIGHT;
    } else if (t & MACH_PORT_TYPE_SEND) {
        right = MACH_PORT_RIGHT_SEND;
    } else if (t & MACH_PORT_TYPE_DEAD_NAME) {
        right = MACH_PORT_RIGHT_DEAD_NAME;
    } else if (t & (MACH_PORT_TYPE_SEND_ONCE | MACH_PORT_TYPE_PORT_SET)) {
        right = (t & MACH_PORT_TYPE_SEND_ONCE) ? MACH_PORT_RIGHT_SEND_ONCE : MACH_PORT_RIGHT_PORT_SET;
        delta = -1;
    } else if ((t & MACH_PORT_TYPE_RECEIVE) && !r.service) {
        right = MACH_PORT_RIGHT_RECEIVE;
        want = chance(20) ? KERN_INVALID_VALUE : KERN_SUCCESS;  // +1 on a receive right (R4)
        delta = want ? 1 : -1;
    } else {
        return;
    }
    kern_return_t kr = mach_port_mod_refs(mach_task_self(), n, right, delta);
    op_ = format("mod_refs %#x right %u delta %d -> %s", n, right, delta, code(kr).c_str());
    touch(n);
    if (expect(kr, {want}) != KERN_SUCCESS || want != KERN_SUCCESS) return;
    if (right == MACH_PORT_RIGHT_SEND || right == MACH_PORT_RIGHT_DEAD_NAME) r.urefs += delta;
    if (right == MACH_PORT_RIGHT_SEND_ONCE) r.sonce = false;
    if (right == MACH_PORT_RIGHT_RECEIVE) r.recv = false, r.set = MACH_PORT_NULL, ++count(kKills);
    if (right == MACH_PORT_RIGHT_PORT_SET) {
        r.pset = false;
        for (auto& [m, mr] : model_)
            if (mr.set == n) mr.set = MACH_PORT_NULL;  // the members keep their receive rights
    }
}

void Actor::op_release(bool destroy) {
    Name n = pick_any();
    if (!n || (destroy && model_[n].service)) return;
    Rights& r = model_[n];
    mach_port_type_t t = type(n);
    kern_return_t kr = destroy ? mach_port_destroy(mach_task_self(), n) : mach_port_deallocate(mach_task_self(), n);
    op_ = format("%s %#x (type %#x) -> %s", destroy ? "destroy" : "deallocate", n, t, code(kr).c_str());
    touch(n);
    if (destroy) {
        if (expect(kr, {KERN_SUCCESS})) return;
        count(kKills) += r.recv;
        for (auto& [m, mr] : model_)
            if (r.pset && mr.set == n) mr.set = MACH_PORT_NULL;
        r = Rights{.loose = r.loose};
        return;
    }
    bool sendish = t & (kSendish | MACH_PORT_TYPE_SEND_ONCE);  // receive-only and port sets: R3
    if (expect(kr, {sendish ? KERN_SUCCESS : KERN_INVALID_RIGHT}) || !sendish) return;
    if (t & MACH_PORT_TYPE_SEND_ONCE) r.sonce = false;
    else r.urefs -= r.urefs > 0;
}

// A message to a peer's service port (or any name it can send to), simple or complex: port rights of every
// disposition in the body, an OOL region; with a reply right. Always MACH_SEND_TIMEOUT: nothing blocks for long.
void Actor::op_send(bool complex, bool body_error) {
    Name dest = chance(60) ? pick([](const Rights& r) { return r.urefs > 0 && !r.recv && !r.sonce; }) : 0;
    if (!dest) dest = pick([](const Rights& r) { return r.urefs > 0 || r.sonce || r.recv; });
    mach_port_type_t dt = dest ? type(dest) : 0;
    mach_msg_type_name_t dd;
    if (dt & MACH_PORT_TYPE_SEND_ONCE) dd = MACH_MSG_TYPE_MOVE_SEND_ONCE;
    else if ((dt & MACH_PORT_TYPE_RECEIVE) && (chance(50) || !(dt & MACH_PORT_TYPE_SEND)))
        dd = chance(50) ? MACH_MSG_TYPE_MAKE_SEND : MACH_MSG_TYPE_MAKE_SEND_ONCE;
    else if (dt & kSendish) dd = chance(15) ? MACH_MSG_TYPE_MOVE_SEND : MACH_MSG_TYPE_COPY_SEND;
    else return;
    bool once_dest = dd == MACH_MSG_TYPE_MOVE_SEND_ONCE || dd == MACH_MSG_TYPE_MAKE_SEND_ONCE;
    bool moves_dest = dd == MACH_MSG_TYPE_MOVE_SEND || dd == MACH_MSG_TYPE_MOVE_SEND_ONCE;
    Name reply = MACH_PORT_NULL;
    mach_msg_type_name_t rd = 0;
    if (uint32_t c = below(10); c >= 4 && c <= 7) {
        reply = pick_recv();
        rd = c == 7 ? MACH_MSG_TYPE_MAKE_SEND : MACH_MSG_TYPE_MAKE_SEND_ONCE;
    } else if (c >= 8) {
        reply = pick([](const Rights& r) { return r.urefs > 0; });
        if (reply != dest && (type(reply) & kSendish)) rd = MACH_MSG_TYPE_COPY_SEND;  // a dead name is legal (R5)
    }
    if (!rd || !reply) reply = MACH_PORT_NULL, rd = 0;
    alignas(16) unsigned char buf[512] = {};
    auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
    *h = mach_msg_header_t{MACH_MSGH_BITS(dd, rd), 0, dest, reply, 0, complex ? kComplexId : kSimpleId};
    unsigned char* d = buf + sizeof *h;
    std::pair<Name, mach_msg_type_name_t> rights[3] = {};
    int nrights = 0;
    vm_address_t region = 0;
    uint32_t payload[3] = {kMagic, below(256), 0};  // magic, OOL byte, OOL size
    std::string desc;
    if (complex) {
        h->msgh_bits |= MACH_MSGH_BITS_COMPLEX;
        d += sizeof(mach_msg_body_t);
        if (body_error) {  // a port-set name or a dead MOVE_RECEIVE in a body is refused; the header is consumed
            Name set = pick([](const Rights& r) { return r.pset; });
            rights[nrights++] = set ? std::pair{set, MACH_MSG_TYPE_COPY_SEND} : std::pair{MACH_PORT_DEAD, MACH_MSG_TYPE_MOVE_RECEIVE};
        }
        for (int tries = 0, want = nrights + 1 + int(below(2)); nrights < want && tries < 4; ++tries) {
            Name n = chance(8) ? MACH_PORT_NULL : pick_any();
            bool again = n && n == dest && moves_dest;  // distinct names, so that no uref runs out midway
            for (int i = 0; i < nrights; ++i) again |= n && rights[i].first == n;
            if (again) continue;
            mach_port_type_t t = n ? type(n) : 0;
            std::vector<mach_msg_type_name_t> opts;
            if (!n) opts = {MACH_MSG_TYPE_COPY_SEND};
            if (t & MACH_PORT_TYPE_RECEIVE) {
                opts.insert(opts.end(), {MACH_MSG_TYPE_MAKE_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE});
                if (!model_[n].service) opts.push_back(MACH_MSG_TYPE_MOVE_RECEIVE);
            }
            if (t & kSendish) opts.insert(opts.end(), {MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MOVE_SEND});
            if (t & MACH_PORT_TYPE_SEND_ONCE) opts.push_back(MACH_MSG_TYPE_MOVE_SEND_ONCE);
            if (!opts.empty()) rights[nrights++] = {n, opts[below(opts.size())]};
        }
        for (int i = 0; i < nrights; ++i) {
            mach_msg_port_descriptor_t p{rights[i].first, 0, 0, rights[i].second, MACH_MSG_PORT_DESCRIPTOR};
            std::memcpy(d, &p, sizeof p);
            d += sizeof p;
            desc += format(" %#x/%u", rights[i].first, rights[i].second);
        }
        mach_msg_body_t body{mach_msg_size_t(nrights)};
        if (chance(70)) {
            static const uint32_t sizes[] = {0, 1, 100, 4096, 5000, 20000};
            uint32_t size = payload[2] = sizes[below(6)];
            void* src = ool_.data();
            bool dealloc = size && chance(30) && vm_allocate(mach_task_self(), &region, size, VM_FLAGS_ANYWHERE) == 0;
            if (dealloc) src = reinterpret_cast<void*>(region);  // deallocate = TRUE: the pages leave the sender
            std::memset(src, int(payload[1]), size);
            mach_msg_ool_descriptor_t o{size ? src : nullptr, dealloc, MACH_MSG_VIRTUAL_COPY, 0,
                                        MACH_MSG_OOL_DESCRIPTOR, size};
            std::memcpy(d, &o, sizeof o);
            d += sizeof o;
            ++body.msgh_descriptor_count;
            desc += format(" ool %u%s", size, dealloc ? " dealloc" : "");
        }
        std::memcpy(buf + sizeof *h, &body, sizeof body);
    }
    std::memcpy(d, payload, complex ? sizeof payload : sizeof payload[0]);
    mach_msg_size_t size = mach_msg_size_t(d - buf) + (complex ? sizeof payload : sizeof payload[0]);
    mach_msg_timeout_t timeout = chance(5) ? 1 : 0;
    mach_msg_return_t mr = mach_msg(h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, size, 0, MACH_PORT_NULL, timeout, 0);
    op_ = format("send%s to %#x/%u reply %#x/%u%s timeout %u -> %s", body_error ? " (bad body)" : complex ? " complex" : "",
                 dest, dd, reply, rd, desc.c_str(), timeout, code(mr).c_str());
    if (region) (void)vm_deallocate(mach_task_self(), region, payload[2]);
    touch(dest);
    touch(reply);
    for (int i = 0; i < nrights; ++i) touch(rights[i].first);
    ++count(kSends);
    if (dt & MACH_PORT_TYPE_DEAD_NAME) return (void)expect(mr, {MACH_SEND_INVALID_DEST});  // R8
    if (body_error) {
        if (expect(mr, {MACH_SEND_INVALID_RIGHT}) == MACH_SEND_INVALID_RIGHT) ++count(kBodyErrors);
        if (moves_dest) consume(dest, dd);  // the header rights went with the destroyed message
        return;
    }
    if (once_dest) expect(mr, {MACH_MSG_SUCCESS});  // a send-once destination ignores qlimit (R16, R18)
    else expect(mr, {MACH_MSG_SUCCESS, MACH_SEND_TIMED_OUT});
    if (mr != MACH_MSG_SUCCESS && mr != MACH_SEND_TIMED_OUT) return;
    consume(dest, dd);
    for (int i = 0; i < nrights; ++i) {
        consume(rights[i].first, rights[i].second);
        count(kRightsSent) += mr == MACH_MSG_SUCCESS && MACH_PORT_VALID(rights[i].first);
        count(kReceiveSent) += mr == MACH_MSG_SUCCESS && rights[i].second == MACH_MSG_TYPE_MOVE_RECEIVE;
    }
    if (mr == MACH_SEND_TIMED_OUT) {  // pseudo-received back into the buffer, header not reversed (R18)
        ++count(kTimedOut);
        auto it = model_.find(dest);  // a right to a port it still names joins that name (R1)
        if (dd == MACH_MSG_TYPE_COPY_SEND && it != model_.end() && it->second.urefs && h->msgh_remote_port != dest &&
            h->msgh_remote_port != MACH_PORT_DEAD)  // it may die between the time-out and the copyout
            fail(format("the pseudo-received destination came back as %#x", h->msgh_remote_port));
        absorb_message(h, true);
    }
}

// Polls a receive right or port set (MACH_RCV_TIMEOUT 0, sometimes 1 ms); `small` uses a 28-byte buffer.
void Actor::op_receive(bool small) {
    Name n = chance(25) ? pick([](const Rights& r) { return r.pset; }) : MACH_PORT_NULL;
    if (!n) n = pick_recv();
    mach_port_type_t t = n ? type(n) : 0;
    if (!t) return;
    bool member = (t & MACH_PORT_TYPE_RECEIVE) && model_[n].set;
    for (int i = 0, polls = small ? 1 : 1 + int(below(3)); i < polls; ++i) {
        alignas(16) unsigned char buf[512] = {};
        auto* h = reinterpret_cast<mach_msg_header_t*>(buf);
        mach_msg_option_t opt = MACH_RCV_MSG | MACH_RCV_TIMEOUT | MACH_RCV_TRAILER_ELEMENTS(below(4));
        if (small && chance(50)) opt |= MACH_RCV_LARGE;
        mach_msg_timeout_t timeout = chance(3) ? 1 : 0;
        mach_msg_return_t mr = mach_msg(h, opt, 0, small ? 28 : sizeof buf, n, timeout, 0);
        op_ = format("receive%s on %#x (type %#x) -> %s", small ? " into 28 bytes" : "", n, t, code(mr).c_str());
        touch(n);
        if (member) {  // R21 (GNU Mach): receive from the set
            count(kInSet) += expect(mr, {MACH_RCV_IN_SET}) == MACH_RCV_IN_SET;
            return;
        }
        if (small) {
            count(kTooLarge) += expect(mr, {MACH_RCV_TIMED_OUT, MACH_RCV_TOO_LARGE}) == MACH_RCV_TOO_LARGE;
            return;
        }
        if (expect(mr, {MACH_MSG_SUCCESS, MACH_RCV_TIMED_OUT}) != MACH_MSG_SUCCESS) return;
        op_ += format(" id %d on %#x", h->msgh_id, h->msgh_local_port);
        handle(h, n, t);
    }
}

void Actor::handle(mach_msg_header_t* h, Name rcv_name, mach_port_type_t rcv_type) {
    ++count(kReceives);
    auto it = model_.find(h->msgh_local_port);  // R20/R21: the receiver's name for the port (the set's member)
    bool via_set = rcv_type & MACH_PORT_TYPE_PORT_SET;
    if (it == model_.end() || (!it->second.loose && (!it->second.recv || (via_set ? it->second.set != rcv_name
                                                                                   : h->msgh_local_port != rcv_name))))
        fail(format("message %d arrived for %#x, not a receive right received on", h->msgh_id, h->msgh_local_port));
    static const std::pair<mach_msg_id_t, Count> kNotes[] = {
        {MACH_NOTIFY_DEAD_NAME, kDeadNameN}, {MACH_NOTIFY_PORT_DELETED, kPortDeletedN},
        {MACH_NOTIFY_PORT_DESTROYED, kPortDestroyedN}, {MACH_NOTIFY_NO_SENDERS, kNoSendersN},
        {MACH_NOTIFY_SEND_ONCE, kSendOnceN}};
    for (auto [id, c] : kNotes) count(c) += h->msgh_id == id;
    Parsed m = parse(h, false, false);
    auto* bytes = static_cast<unsigned char*>(m.ool.address);
    if (h->msgh_id == kComplexId && m.payload[0] != kMagic) fail("the payload is not where the descriptors end");
    if (h->msgh_id == kComplexId && m.has_ool && ++count(kOolReceived) &&
        (m.ool.size != m.payload[2] ||
         (m.ool.size ? bytes[0] != m.payload[1] || bytes[m.ool.size - 1] != m.payload[1] : bytes != nullptr)))
        fail(format("an OOL region of %u bytes (sent %u) does not hold byte %u", m.ool.size, m.payload[2], m.payload[1]));
    if (chance(35)) {  // give back everything it carries
        ++count(kDestroyed);
        mach_msg_destroy(h);
        for (auto [n, type] : m.rights) {
            touch(n);
            count(kRightsReceived) += MACH_PORT_VALID(n);
            count(kDeadReceived) += n == MACH_PORT_DEAD;
        }
        return;
    }
    absorb_message(h, false);
}

// Dead-name (R9, R10), no-senders (R14) or port-destroyed (R11) requests, with a send-once right to its own port.
void Actor::op_request() {
    uint32_t kind = below(10);
    mach_msg_id_t id = kind < 4 ? MACH_NOTIFY_DEAD_NAME : kind < 7 ? MACH_NOTIFY_NO_SENDERS : MACH_NOTIFY_PORT_DESTROYED;
    Name target = id == MACH_NOTIFY_DEAD_NAME && chance(85) ? pick([](const Rights& r) { return r.urefs || r.sonce; })
                                                             : pick_recv();
    mach_port_type_t t = target ? type(target) : 0;
    if (!t) return;
    Name notify = MACH_PORT_NULL;
    mach_msg_type_name_t poly = MACH_MSG_TYPE_MAKE_SEND_ONCE;
    uint32_t c = below(20);
    if (c >= 1 && c <= 4) {  // a send-once right it holds (perhaps to another task's port), moved
        notify = pick([](const Rights& r) { return r.sonce; });
        if (notify && notify != target && type(notify) == MACH_PORT_TYPE_SEND_ONCE) poly = MACH_MSG_TYPE_MOVE_SEND_ONCE;
        else notify = MACH_PORT_NULL;
    }
    if (c != 0 && !notify) notify = pick_recv();
    mach_port_mscount_t sync = id == MACH_NOTIFY_DEAD_NAME    ? below(2)
                               : id == MACH_NOTIFY_NO_SENDERS ? below(3)
                                                              : (chance(5) ? 1 : 0);
    Name previous = MACH_PORT_NULL;
    kern_return_t kr = mach_port_request_notification(mach_task_self(), target, id, sync, notify, poly, &previous);
    op_ = format("request_notification %d on %#x (type %#x) sync %u notify %#x/%u -> %s previous %#x", id, target, t,
                 sync, notify, poly, code(kr).c_str(), previous);
    ++count(kRequests);
    kern_return_t want = KERN_SUCCESS;
    if (id == MACH_NOTIFY_PORT_DESTROYED && sync) want = KERN_INVALID_VALUE;
    if (id == MACH_NOTIFY_DEAD_NAME && (t & MACH_PORT_TYPE_DEAD_NAME) && notify && !sync) want = KERN_INVALID_ARGUMENT;
    expect(kr, {want});
    if (poly == MACH_MSG_TYPE_MOVE_SEND_ONCE) consume(notify, poly);  // copied in first, released if it failed
    if (id == MACH_NOTIFY_DEAD_NAME) model_[target].loose = true;
    touch(target);
    touch(notify);
    if (MACH_PORT_VALID(previous)) absorb(previous, MACH_MSG_TYPE_PORT_SEND_ONCE);
}

void Actor::op_move_member() {
    Name n = pick_recv();
    if (!n) return;
    Rights& r = model_[n];
    Name set = chance(50) ? pick([](const Rights& x) { return x.pset; }) : MACH_PORT_NULL;
    kern_return_t want = set || r.set ? KERN_SUCCESS : KERN_NOT_IN_SET;
    if (chance(8)) {  // `after` is not a port set
        set = pick([](const Rights& x) { return x.urefs > 0 && !x.recv; });
        if (!set) return;
        want = KERN_INVALID_RIGHT;
    }
    kern_return_t kr = mach_port_move_member(mach_task_self(), n, set);
    op_ = format("move_member %#x (in %#x) to %#x -> %s", n, r.set, set, code(kr).c_str());
    touch(n);
    if (expect(kr, {want}) != KERN_SUCCESS || want != KERN_SUCCESS) return;
    r.set = set;
    ++count(kSetMoves);
    mach_port_name_t reported = mt::status_of(n).mps_pset;
    if (!r.loose && reported != set) fail(format("MACH_PORT_RECEIVE_STATUS says %#x is in set %#x", n, reported));
}

using prop::SeedResult;

SeedResult run_seed(uint64_t seed, int steps, Totals& totals) {
    Shared sh;
    sh.seed = seed;
    sh.steps = steps;
    sh.totals = &totals;
    machsim::Config cfg;
    cfg.seed = seed;
    machsim::Kernel k(cfg);
    machsim::TextSink sink(std::cout, true);
    if (std::getenv("MACHSIM_PROPERTY_TRACE")) k.attach(sink);  // straight out, so that a hang shows too
    for (int i = 0; i < kTasks; ++i)
        k.spawn(format("t%d", i), [&sh, i] { return std::make_unique<Actor>(sh, i)->run(); });
    machsim::RunReport r = k.run();
    return prop::seed_result(seed, std::move(sh.failures), r);
}

prop::Runs<kCounts> g_runs{{"property test", "MACHSIM_PROPERTY", "property", 64, 3000}, kCountNames, run_seed};

}  // namespace

TEST_SUITE("property") {

TEST_CASE("random IPC sequences from several tasks keep the census of rights balanced after every step") {
    g_runs.totals(true);
}

TEST_CASE("the property test is not vacuous: every kind of operation it mixes happened") {
    g_runs.check_not_vacuous();
    const Totals& t = g_runs.totals(false);
    CHECK(t[kCensus] >= t[kSteps]);
}

}  // TEST_SUITE("property")
