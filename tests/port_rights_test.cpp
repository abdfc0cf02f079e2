// Port names and rights as a Mach user sees them: mach_port_allocate[_name], deallocate, destroy,
// mod_refs, get_refs, type, names, insert/extract_right, get/set_attributes, move_member,
// mach_reply_port, task_get_special_port. Expected values come from /work/shared/MACH-REFERENCE.md
// (R1-R5, R8, R13, R16, R27, R28; the §2 codes; the §6 decisions), not from the implementation.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "tests/support.h"

namespace {

// Names mach_port_allocate does not hand out by chance in these small spaces (indices 0x100+).
constexpr mach_port_name_t kFreeA = MACH_PORT_MAKE(0x100u, 0x03000000u);
constexpr mach_port_name_t kFreeB = MACH_PORT_MAKE(0x101u, 0x05000000u);
constexpr mach_port_name_t kFreeC = MACH_PORT_MAKE(0x102u, 0x07000000u);
constexpr mach_port_urefs_t kMax = MACH_PORT_UREFS_MAX;
constexpr mach_msg_id_t kNotifySendOnce = 71;  // MACH_NOTIFY_SEND_ONCE (§2.3)

mach_port_t self() { return mach_task_self(); }

void check_clean(const machsim::RunReport& r) {
    INFO(r.summary());
    CHECK(r.clean());
}
void in_task(std::function<void()> body, machsim::Config cfg = {}) { check_clean(mt::run_task(std::move(body), cfg)); }

// TASK_TEST("sentence") { body }: the body runs as the only task of a fresh kernel, which must end clean.
#define TASK_TEST_IMPL(title, fn)     \
    static void fn();                 \
    TEST_CASE(title) { in_task(fn); } \
    static void fn()
#define TASK_TEST(title) TASK_TEST_IMPL(title, DOCTEST_ANONYMOUS(task_body_))

kern_return_t mod(mach_port_name_t n, mach_port_right_t right, mach_port_delta_t d) {
    return mach_port_mod_refs(self(), n, right, d);
}
kern_return_t dealloc(mach_port_name_t n) { return mach_port_deallocate(self(), n); }
kern_return_t destroy(mach_port_name_t n) { return mach_port_destroy(self(), n); }
kern_return_t insert(mach_port_name_t n, mach_port_t poly, mach_msg_type_name_t disp) {
    return mach_port_insert_right(self(), n, poly, disp);
}
kern_return_t move_member(mach_port_name_t member, mach_port_name_t after) {
    return mach_port_move_member(self(), member, after);
}
kern_return_t type_kr(mach_port_name_t n) {
    mach_port_type_t t = 0;
    return mach_port_type(self(), n, &t);
}
mach_port_status_t st(mach_port_name_t n) { return mt::status_of(n); }
mach_port_urefs_t send_refs(mach_port_name_t n) { return mt::refs(n, MACH_PORT_RIGHT_SEND); }
mach_port_urefs_t dead_refs(mach_port_name_t n) { return mt::refs(n, MACH_PORT_RIGHT_DEAD_NAME); }

kern_return_t attr_get(mach_port_name_t n, void* info, mach_msg_type_number_t* count,
                       mach_port_flavor_t flavor = MACH_PORT_LIMITS_INFO) {
    return mach_port_get_attributes(self(), n, flavor, static_cast<mach_port_info_t>(info), count);
}
kern_return_t attr_set(mach_port_name_t n, void* info, mach_msg_type_number_t count,
                       mach_port_flavor_t flavor = MACH_PORT_LIMITS_INFO) {
    return mach_port_set_attributes(self(), n, flavor, static_cast<mach_port_info_t>(info), count);
}

struct Extracted {
    kern_return_t kr;
    mach_port_name_t name;
    mach_msg_type_name_t type;
};
Extracted extract(mach_port_t task, mach_port_name_t n, mach_msg_type_name_t disp) {
    Extracted e{KERN_FAILURE, MACH_PORT_NULL, 0};
    e.kr = mach_port_extract_right(task, n, disp, &e.name, &e.type);
    return e;
}

mach_port_name_t allocated(mach_port_right_t right) {
    mach_port_name_t n = MACH_PORT_NULL;
    CHECK_KR(mach_port_allocate(self(), right, &n), KERN_SUCCESS);
    return n;
}
mach_port_name_t receive_right() { return allocated(MACH_PORT_RIGHT_RECEIVE); }
mach_port_name_t send_once_to(mach_port_name_t p) {
    Extracted e = extract(self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    CHECK_KR(e.kr, KERN_SUCCESS);
    return e.name;
}

// mach_port_names of `task`; the out-of-line arrays it returns are freed.
kern_return_t names_of(mach_port_t task, std::vector<mach_port_name_t>& names, std::vector<mach_port_type_t>& types) {
    mach_port_name_array_t n = nullptr;
    mach_port_type_array_t t = nullptr;
    mach_msg_type_number_t nc = 0, tc = 0;
    kern_return_t kr = mach_port_names(task, &n, &nc, &t, &tc);
    names.assign(n, n + (kr == KERN_SUCCESS ? nc : 0));
    types.assign(t, t + (kr == KERN_SUCCESS ? tc : 0));
    if (n) (void)vm_deallocate(self(), reinterpret_cast<vm_address_t>(n), nc * sizeof *n);
    if (t) (void)vm_deallocate(self(), reinterpret_cast<vm_address_t>(t), tc * sizeof *t);
    return kr;
}
std::size_t name_count() {
    std::vector<mach_port_name_t> n;
    std::vector<mach_port_type_t> t;
    CHECK_KR(names_of(self(), n, t), KERN_SUCCESS);
    return n.size();
}

// --- messages that carry a right, and two tasks that take turns ------------------------------------
struct Note {
    int value = 0;
    mach_port_t right = MACH_PORT_NULL;  // the right to send / the name it arrived under
    mach_msg_type_name_t disposition = MACH_MSG_TYPE_COPY_SEND;
};
struct NoteMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port[2];
    int value;
};
struct NoteIn {
    NoteMsg msg;
    mach_msg_audit_trailer_t trailer;
};

void put_port(mach_msg_port_descriptor_t& d, mach_port_t name, mach_msg_type_name_t disposition) {
    d = mach_msg_port_descriptor_t{};
    d.name = name;
    d.disposition = disposition;
    d.type = MACH_MSG_PORT_DESCRIPTOR;
}

// Sends `note` to `dest`; with `with_task`, a send right to the sender's task port goes first.
mach_msg_return_t send_note(mach_port_t dest, mach_msg_type_name_t dest_disp, mach_port_t reply, const Note& note,
                            bool with_task = false) {
    NoteMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(dest_disp, reply ? MACH_MSG_TYPE_MAKE_SEND_ONCE : 0) | MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = dest;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = 300;
    mach_msg_size_t n = 0;
    if (with_task) put_port(m.port[n++], self(), MACH_MSG_TYPE_COPY_SEND);
    if (note.right != MACH_PORT_NULL) put_port(m.port[n++], note.right, note.disposition);
    m.body.msgh_descriptor_count = n;
    m.value = note.value;
    return mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}
mach_msg_return_t receive_note(mach_port_t port, NoteIn& in) {
    in = NoteIn{};
    return mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, 0, MACH_PORT_NULL);
}
Note note_of(const NoteIn& in, bool with_task) {
    mach_msg_size_t count = in.msg.body.msgh_descriptor_count;
    if (count <= (with_task ? 1u : 0u)) return Note{in.msg.value};
    return Note{in.msg.value, in.msg.port[count - 1].name, in.msg.port[count - 1].disposition};
}

// The peer runs peer[0] and sends its Note, with a send right to its task port, to the owner (met
// through the bootstrap server); the owner runs owner[0](peer_task, note) and answers with a Note;
// the peer runs peer[1] on the answer, and so on. The owner lives until the peer's last step is
// done. Needs peer.size() == owner.size() + 1.
using OwnerStep = std::function<Note(mach_port_t peer_task, Note in)>;
using PeerStep = std::function<Note(Note in)>;

machsim::RunReport converse(std::vector<OwnerStep> owner, std::vector<PeerStep> peer) {
    REQUIRE(peer.size() == owner.size() + 1);
    return mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("owner", [&] {
            mach_port_t svc = MACH_PORT_NULL, task = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "rights-test", &svc), KERN_SUCCESS);
            for (std::size_t i = 0; i <= owner.size(); ++i) {
                NoteIn in;
                mach_msg_return_t mr = receive_note(svc, in);
                CHECK_KR(mr, MACH_MSG_SUCCESS);
                if (mr != MACH_MSG_SUCCESS || i == owner.size()) return;
                if (i == 0) task = in.msg.port[0].name;
                Note out = owner[i](task, note_of(in, i == 0));
                CHECK_KR(send_note(in.msg.head.msgh_remote_port, MACH_MSG_TYPE_MOVE_SEND_ONCE, MACH_PORT_NULL, out),
                         MACH_MSG_SUCCESS);
            }
        });
        k.spawn("peer", [&] {
            mach_port_t svc = MACH_PORT_NULL, reply = mach_reply_port();
            CHECK_KR(bootstrap_look_up(bootstrap_port, "rights-test", &svc), KERN_SUCCESS);
            Note in;
            for (std::size_t i = 0; i < peer.size(); ++i) {
                bool last = i + 1 == peer.size();
                mach_msg_return_t mr = send_note(svc, MACH_MSG_TYPE_COPY_SEND, last ? 0 : reply, peer[i](in), i == 0);
                CHECK_KR(mr, MACH_MSG_SUCCESS);
                if (mr != MACH_MSG_SUCCESS || last) return;
                NoteIn got;
                mr = receive_note(reply, got);
                CHECK_KR(mr, MACH_MSG_SUCCESS);
                if (mr != MACH_MSG_SUCCESS) return;
                in = note_of(got, false);
            }
        });
    });
}
Note nothing(Note) { return {}; }

// The owner gives the peer a send right, the peer raises it to 3 urefs, the owner destroys the
// receive right, and the peer runs `look` on its name.
void after_port_death(std::function<void(mach_port_t)> look) {
    mach_port_t mine = MACH_PORT_NULL, got = MACH_PORT_NULL;
    OwnerStep give = [&](mach_port_t, Note) {
        mine = receive_right();
        return Note{0, mine, MACH_MSG_TYPE_MAKE_SEND};
    };
    OwnerStep kill = [&](mach_port_t, Note) {
        CHECK_KR(destroy(mine), KERN_SUCCESS);
        return Note{};
    };
    PeerStep take = [&](Note in) {
        got = in.right;
        CHECK(mt::type_of(got) == MACH_PORT_TYPE_SEND);
        CHECK_KR(mod(got, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
        CHECK(send_refs(got) == 3);
        return Note{};
    };
    check_clean(converse({give, kill}, {nothing, take, [&](Note) { return look(got), Note{}; }}));
}

// Every call that takes a task, aimed at `task`, fails at the message layer and leaves the
// caller's own names alone.
void every_call_rejects_task(mach_port_t task) {
    const kern_return_t bad = MACH_SEND_INVALID_DEST;
    mach_port_t p = mt::new_port_with_send(), set = allocated(MACH_PORT_RIGHT_PORT_SET);
    mach_port_name_t n = MACH_PORT_NULL, *names = nullptr;
    mach_port_urefs_t u = 0;
    mach_port_type_t t = 0, *types = nullptr;
    mach_port_limits_t lim{3};
    mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT, nc = 0, tc = 0;
    auto info = reinterpret_cast<mach_port_info_t>(&lim);
    CHECK_KR(mach_port_allocate(task, MACH_PORT_RIGHT_RECEIVE, &n), bad);
    CHECK_KR(mach_port_allocate_name(task, MACH_PORT_RIGHT_RECEIVE, kFreeA), bad);
    CHECK_KR(mach_port_get_refs(task, p, MACH_PORT_RIGHT_SEND, &u), bad);
    CHECK_KR(mach_port_type(task, p, &t), bad);
    CHECK_KR(mach_port_names(task, &names, &nc, &types, &tc), bad);
    CHECK_KR(mach_port_insert_right(task, kFreeB, p, MACH_MSG_TYPE_MAKE_SEND), bad);
    CHECK_KR(extract(task, p, MACH_MSG_TYPE_MAKE_SEND).kr, bad);
    CHECK_KR(mach_port_get_attributes(task, p, MACH_PORT_LIMITS_INFO, info, &count), bad);
    CHECK_KR(mach_port_set_attributes(task, p, MACH_PORT_LIMITS_INFO, info, MACH_PORT_LIMITS_INFO_COUNT), bad);
    CHECK_KR(mach_port_move_member(task, p, set), bad);
    CHECK_KR(mach_port_mod_refs(task, p, MACH_PORT_RIGHT_SEND, 1), bad);
    CHECK_KR(mach_port_deallocate(task, p), bad);
    CHECK_KR(mach_port_destroy(task, p), bad);
    CHECK_KR(task_get_special_port(task, TASK_KERNEL_PORT, &n), bad);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE); CHECK(send_refs(p) == 1);
    CHECK(st(p).mps_qlimit == MACH_PORT_QLIMIT_DEFAULT); CHECK(st(p).mps_pset == MACH_PORT_NULL);
    CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
    CHECK_KR(type_kr(kFreeB), KERN_INVALID_NAME);
}

}  // namespace

TEST_SUITE("mach_port") {

// --- errors common to every call ---------------------------------------------------------------------
TASK_TEST("calls with MACH_PORT_NULL, MACH_PORT_DEAD, a dead name or an unknown name as the task return MACH_SEND_INVALID_DEST") {
    every_call_rejects_task(MACH_PORT_NULL);
    every_call_rejects_task(MACH_PORT_DEAD);
    every_call_rejects_task(allocated(MACH_PORT_RIGHT_DEAD_NAME));
    every_call_rejects_task(kFreeC);
}

TASK_TEST("calls with a plain port or a receive-only name as the task return MACH_SEND_INVALID_DEST") {
    every_call_rejects_task(mt::new_port_with_send());
    every_call_rejects_task(receive_right());
}

TASK_TEST("every call given a name not in the caller's space returns KERN_INVALID_NAME") {
    mach_port_t s = allocated(MACH_PORT_RIGHT_PORT_SET), p = receive_right(), freed = receive_right();
    CHECK_KR(destroy(freed), KERN_SUCCESS);
    mach_port_urefs_t u = 0;
    mach_port_limits_t lim{2};
    mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
    for (mach_port_name_t n : {kFreeA, freed}) {
        INFO("name " << n);
        CHECK_KR(dealloc(n), KERN_INVALID_NAME);
        CHECK_KR(destroy(n), KERN_INVALID_NAME);
        CHECK_KR(mod(n, MACH_PORT_RIGHT_SEND, 1), KERN_INVALID_NAME);
        CHECK_KR(mod(n, MACH_PORT_RIGHT_RECEIVE, -1), KERN_INVALID_NAME);
        CHECK_KR(mach_port_get_refs(self(), n, MACH_PORT_RIGHT_SEND, &u), KERN_INVALID_NAME);
        CHECK_KR(type_kr(n), KERN_INVALID_NAME);
        CHECK_KR(extract(self(), n, MACH_MSG_TYPE_COPY_SEND).kr, KERN_INVALID_NAME);
        CHECK_KR(attr_get(n, &lim, &count), KERN_INVALID_NAME);
        CHECK_KR(attr_set(n, &lim, MACH_PORT_LIMITS_INFO_COUNT), KERN_INVALID_NAME);
        CHECK_KR(move_member(n, s), KERN_INVALID_NAME);
        CHECK_KR(move_member(p, n), KERN_INVALID_NAME);
    }
    CHECK_KR(type_kr(MACH_PORT_NULL), KERN_INVALID_NAME); CHECK(st(p).mps_pset == MACH_PORT_NULL);
}

TASK_TEST("every call given a right >= MACH_PORT_RIGHT_NUMBER returns KERN_INVALID_VALUE") {
    mach_port_t p = mt::new_port_with_send();
    mach_port_name_t n = MACH_PORT_NULL;
    mach_port_urefs_t u = 0;
    std::size_t before = name_count();
    for (mach_port_right_t r : {MACH_PORT_RIGHT_NUMBER, 99u}) {
        INFO("right " << r);
        CHECK_KR(mach_port_allocate(self(), r, &n), KERN_INVALID_VALUE);
        CHECK_KR(mach_port_allocate_name(self(), r, kFreeA), KERN_INVALID_VALUE);
        CHECK_KR(mod(p, r, 1), KERN_INVALID_VALUE);
        CHECK_KR(mach_port_get_refs(self(), p, r, &u), KERN_INVALID_VALUE);
    }
    CHECK(name_count() == before); CHECK(send_refs(p) == 1);
}

TASK_TEST("MACH_PORT_RIGHT_LABELH, the obsolete right: mod_refs is KERN_INVALID_VALUE after the name check, get_refs "
          "is 0") {
    mach_port_t p = mt::new_port_with_send();
    mach_port_urefs_t u = 7;
    CHECK_KR(mod(p, MACH_PORT_RIGHT_LABELH, 1), KERN_INVALID_VALUE);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_LABELH, -1), KERN_INVALID_VALUE);
    CHECK_KR(mod(kFreeA, MACH_PORT_RIGHT_LABELH, 1), KERN_INVALID_NAME);
    CHECK_KR(mach_port_get_refs(self(), p, MACH_PORT_RIGHT_LABELH, &u), KERN_SUCCESS);
    CHECK(u == 0);
    CHECK(send_refs(p) == 1); CHECK(mt::type_of(p) == (MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND));
}

// machsim's documented choice; a bad pointer must never crash the host.
TASK_TEST("every call given a NULL out-pointer returns KERN_INVALID_ADDRESS and changes nothing") {
    mach_port_t p = mt::new_port_with_send();
    mach_port_name_t n = MACH_PORT_NULL;
    mach_msg_type_name_t t = 0;
    mach_port_limits_t lim{2};
    mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT, nc = 0, tc = 0;
    mach_port_name_array_t names = nullptr;
    mach_port_type_array_t types = nullptr;
    std::size_t before = name_count();
    mach_port_urefs_t task_refs = send_refs(self());
    CHECK_KR(mach_port_allocate(self(), MACH_PORT_RIGHT_RECEIVE, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_get_refs(self(), p, MACH_PORT_RIGHT_SEND, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_type(self(), p, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_names(self(), nullptr, &nc, &types, &tc), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_names(self(), &names, nullptr, &types, &tc), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_names(self(), &names, &nc, nullptr, &tc), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_names(self(), &names, &nc, &types, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_extract_right(self(), p, MACH_MSG_TYPE_COPY_SEND, nullptr, &t), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_extract_right(self(), p, MACH_MSG_TYPE_COPY_SEND, &n, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(attr_get(p, nullptr, &count), KERN_INVALID_ADDRESS);
    CHECK_KR(attr_get(p, &lim, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(attr_set(p, nullptr, MACH_PORT_LIMITS_INFO_COUNT), KERN_INVALID_ADDRESS);
    CHECK_KR(task_get_special_port(self(), TASK_KERNEL_PORT, nullptr), KERN_INVALID_ADDRESS);
    CHECK_KR(mach_port_request_notification(self(), p, MACH_NOTIFY_NO_SENDERS, 0, p, MACH_MSG_TYPE_MAKE_SEND_ONCE,
                                            nullptr),
             KERN_INVALID_ADDRESS);
    CHECK(name_count() == before); CHECK(send_refs(p) == 1); CHECK(send_refs(self()) == task_refs);
    CHECK(st(p).mps_qlimit == MACH_PORT_QLIMIT_DEFAULT);
    CHECK(st(p).mps_nsrequest == FALSE);
    CHECK(st(p).mps_sorights == 0);  // the notify right was not made
}

// --- mach_port_allocate, mach_port_allocate_name, mach_reply_port -----------------------------------
TASK_TEST("mach_port_allocate RECEIVE returns a fresh name holding only a new port's receive right") {
    mach_port_name_t p = receive_right(), b = receive_right();
    CHECK(MACH_PORT_VALID(p)); CHECK(MACH_PORT_VALID(b)); CHECK(p != b);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(mt::refs(p, MACH_PORT_RIGHT_RECEIVE) == 1);
    CHECK(send_refs(p) == 0);
    mach_port_status_t s{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    CHECK_KR(attr_get(p, &s, &count, MACH_PORT_RECEIVE_STATUS), KERN_SUCCESS);
    CHECK(count == MACH_PORT_RECEIVE_STATUS_COUNT); CHECK(s.mps_pset == MACH_PORT_NULL); CHECK(s.mps_seqno == 0);
    CHECK(s.mps_mscount == 0); CHECK(s.mps_qlimit == MACH_PORT_QLIMIT_DEFAULT); CHECK(s.mps_msgcount == 0);
    CHECK(s.mps_sorights == 0); CHECK(!s.mps_srights); CHECK(!s.mps_pdrequest); CHECK(!s.mps_nsrequest);
}

TASK_TEST("mach_port_allocate PORT_SET and DEAD_NAME return a port set and a dead name with one reference") {
    mach_port_name_t s = allocated(MACH_PORT_RIGHT_PORT_SET), d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK(mt::type_of(s) == MACH_PORT_TYPE_PORT_SET); CHECK(mt::refs(s, MACH_PORT_RIGHT_PORT_SET) == 1);
    CHECK(mt::type_of(d) == MACH_PORT_TYPE_DEAD_NAME); CHECK(dead_refs(d) == 1); CHECK(s != d);
}

TASK_TEST("mach_port_allocate and allocate_name of a SEND or SEND_ONCE right return KERN_INVALID_VALUE") {
    std::size_t before = name_count();
    mach_port_name_t n = MACH_PORT_NULL;
    for (mach_port_right_t r : {MACH_PORT_RIGHT_SEND, MACH_PORT_RIGHT_SEND_ONCE}) {
        INFO("right " << r);
        CHECK_KR(mach_port_allocate(self(), r, &n), KERN_INVALID_VALUE);
        CHECK_KR(mach_port_allocate_name(self(), r, kFreeA), KERN_INVALID_VALUE);
    }
    CHECK(name_count() == before);
}

TEST_CASE("mach_port_allocate, allocate_name and mach_reply_port in a full name space fail with KERN_NO_SPACE") {
    machsim::Config cfg;
    cfg.max_names = 8;
    in_task(
        [] {
            kern_return_t kr = KERN_SUCCESS;
            mach_port_name_t last = MACH_PORT_NULL, n = MACH_PORT_NULL;
            for (int i = 0; i < 64 && kr == KERN_SUCCESS; ++i) {
                kr = mach_port_allocate(self(), MACH_PORT_RIGHT_RECEIVE, &n);
                if (kr == KERN_SUCCESS) last = n;
            }
            CHECK_KR(kr, KERN_NO_SPACE); CHECK(name_count() == 8);
            CHECK_KR(mach_port_allocate(self(), MACH_PORT_RIGHT_DEAD_NAME, &n), KERN_NO_SPACE);
            CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, kFreeA), KERN_NO_SPACE);
            CHECK(mach_reply_port() == MACH_PORT_NULL);
            CHECK_KR(mod(last, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);  // one name free again
            CHECK_KR(mach_port_allocate(self(), MACH_PORT_RIGHT_RECEIVE, &n), KERN_SUCCESS);
        },
        cfg);
}

TASK_TEST("mach_port_allocate_name creates the right under exactly the requested name") {
    CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, kFreeA), KERN_SUCCESS);
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_PORT_SET, kFreeB), KERN_SUCCESS);
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_DEAD_NAME, kFreeC), KERN_SUCCESS);
    CHECK(mt::type_of(kFreeA) == MACH_PORT_TYPE_RECEIVE); CHECK(mt::type_of(kFreeB) == MACH_PORT_TYPE_PORT_SET);
    CHECK(mt::type_of(kFreeC) == MACH_PORT_TYPE_DEAD_NAME);
    CHECK_KR(mt::send_simple(kFreeA, MACH_MSG_TYPE_MAKE_SEND, 5), MACH_MSG_SUCCESS);  // a working port
    CHECK(st(kFreeA).mps_msgcount == 1);
}

TASK_TEST("a name chosen with allocate_name for another generation of a slot in use is never handed out again by "
          "the kernel") {
    mach_port_t p = mt::new_receive_right();                                  // e.g. 0x303
    mach_port_t chosen = (p & ~0xffu) | ((p + 4) & 0xffu);                      // 0x307: the slot's next name
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, chosen), KERN_SUCCESS);
    CHECK_KR(mt::send_simple(chosen, MACH_MSG_TYPE_MAKE_SEND, 7), MACH_MSG_SUCCESS);
    CHECK_KR(mach_port_destroy(self(), p), KERN_SUCCESS);  // the slot is free again
    std::vector<mach_port_t> fresh = {mach_reply_port(), mt::new_receive_right(), allocated(MACH_PORT_RIGHT_PORT_SET)};
    for (mach_port_t n : fresh) CHECK(n != chosen);
    CHECK(mt::type_of(chosen) == MACH_PORT_TYPE_RECEIVE);
    CHECK(st(chosen).mps_msgcount == 1);  // the chosen port and its queue are intact
    CHECK(machsim::check_invariants().empty());
}

TASK_TEST("mach_port_allocate_name on a name already in use returns KERN_NAME_EXISTS and keeps the old right") {
    mach_port_t p = mt::new_port_with_send(), d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, p), KERN_NAME_EXISTS);
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_DEAD_NAME, d), KERN_NAME_EXISTS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE); CHECK(send_refs(p) == 1); CHECK(dead_refs(d) == 1);
}

TASK_TEST("mach_port_allocate_name of MACH_PORT_NULL or MACH_PORT_DEAD returns KERN_INVALID_VALUE") {
    std::size_t before = name_count();
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, MACH_PORT_NULL), KERN_INVALID_VALUE);
    CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, MACH_PORT_DEAD), KERN_INVALID_VALUE);
    CHECK(name_count() == before);
}

TASK_TEST("mach_reply_port returns a distinct fresh receive right each call") {
    mach_port_t a = mach_reply_port(), b = mach_reply_port();
    CHECK(MACH_PORT_VALID(a)); CHECK(MACH_PORT_VALID(b)); CHECK(a != b);
    CHECK(mt::type_of(a) == MACH_PORT_TYPE_RECEIVE); CHECK(st(a).mps_mscount == 0);
}

// --- mach_port_deallocate, mach_port_destroy --------------------------------------------------------
TASK_TEST("mach_port_deallocate removes one send uref and the send-only name goes at zero") {
    mach_port_t bp = bootstrap_port;  // a send right to a port another task receives on
    CHECK_KR(mod(bp, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
    mach_port_urefs_t u = send_refs(bp);
    CHECK(u >= 3);
    CHECK_KR(dealloc(bp), KERN_SUCCESS); CHECK(send_refs(bp) == u - 1);
    for (mach_port_urefs_t i = 1; i < u; ++i) CHECK_KR(dealloc(bp), KERN_SUCCESS);
    CHECK_KR(type_kr(bp), KERN_INVALID_NAME);
}

TASK_TEST("mach_port_deallocate of the last send uref on a receive right's name leaves the receive right") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(dealloc(p), KERN_SUCCESS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(send_refs(p) == 0); CHECK(!st(p).mps_srights);
}

TASK_TEST("mach_port_deallocate on a receive-only name or a port set returns KERN_INVALID_RIGHT") {
    mach_port_t p = receive_right(), s = allocated(MACH_PORT_RIGHT_PORT_SET);
    CHECK_KR(dealloc(p), KERN_INVALID_RIGHT);
    CHECK_KR(dealloc(s), KERN_INVALID_RIGHT);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(mt::type_of(s) == MACH_PORT_TYPE_PORT_SET);
}

TASK_TEST("mach_port_deallocate of MACH_PORT_NULL or MACH_PORT_DEAD returns KERN_INVALID_NAME") {
    CHECK_KR(dealloc(MACH_PORT_NULL), KERN_INVALID_NAME);
    CHECK_KR(dealloc(MACH_PORT_DEAD), KERN_INVALID_NAME);
}

TASK_TEST("mach_port_deallocate of a send-once right removes its name and sends a send-once notification") {
    mach_port_t p = receive_right(), so = send_once_to(p);
    CHECK(st(p).mps_sorights == 1);
    CHECK_KR(dealloc(so), KERN_SUCCESS);
    CHECK_KR(type_kr(so), KERN_INVALID_NAME);
    mt::SimpleReceived in;
    CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);  // R16
    CHECK(in.msg.head.msgh_id == kNotifySendOnce); CHECK(st(p).mps_sorights == 0);
}

TASK_TEST("mach_port_deallocate of a dead name removes one uref and the name goes at zero") {
    mach_port_t d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK_KR(mod(d, MACH_PORT_RIGHT_DEAD_NAME, 1), KERN_SUCCESS);
    CHECK_KR(dealloc(d), KERN_SUCCESS); CHECK(dead_refs(d) == 1);
    CHECK_KR(dealloc(d), KERN_SUCCESS);
    CHECK_KR(type_kr(d), KERN_INVALID_NAME);
}

TASK_TEST("mach_port_destroy removes every right under a name at once") {
    mach_port_t p = mt::new_port_with_send(), d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    mach_port_t so = send_once_to(receive_right());
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);
    CHECK_KR(mod(d, MACH_PORT_RIGHT_DEAD_NAME, 4), KERN_SUCCESS);
    for (mach_port_t n : {p, d, so}) {
        INFO("name " << n);
        CHECK_KR(destroy(n), KERN_SUCCESS);
        CHECK_KR(type_kr(n), KERN_INVALID_NAME);
    }
}

TASK_TEST("mach_port_destroy of a port set leaves its members' receive rights") {
    mach_port_t s = allocated(MACH_PORT_RIGHT_PORT_SET), p = receive_right();
    CHECK_KR(move_member(p, s), KERN_SUCCESS);
    CHECK_KR(destroy(s), KERN_SUCCESS);
    CHECK_KR(type_kr(s), KERN_INVALID_NAME);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(st(p).mps_pset == MACH_PORT_NULL);
}

TASK_TEST("mach_port_destroy, mod_refs, get_refs and get/set_attributes of MACH_PORT_NULL or MACH_PORT_DEAD return "
          "KERN_INVALID_NAME") {
    std::size_t before = name_count();
    mach_port_limits_t lim{2};
    mach_port_status_t s{};
    for (mach_port_name_t n : {MACH_PORT_NULL, MACH_PORT_DEAD}) {
        INFO("name " << n);
        mach_port_urefs_t u = 0;
        mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
        CHECK_KR(destroy(n), KERN_INVALID_NAME);
        CHECK_KR(mod(n, MACH_PORT_RIGHT_SEND, 1), KERN_INVALID_NAME);
        CHECK_KR(mod(n, MACH_PORT_RIGHT_DEAD_NAME, 1), KERN_INVALID_NAME);
        CHECK_KR(mach_port_get_refs(self(), n, MACH_PORT_RIGHT_SEND, &u), KERN_INVALID_NAME);
        CHECK_KR(attr_get(n, &lim, &count), KERN_INVALID_NAME);
        count = MACH_PORT_RECEIVE_STATUS_COUNT;
        CHECK_KR(attr_get(n, &s, &count, MACH_PORT_RECEIVE_STATUS), KERN_INVALID_NAME);
        CHECK_KR(attr_set(n, &lim, MACH_PORT_LIMITS_INFO_COUNT), KERN_INVALID_NAME);
    }
    CHECK(name_count() == before);  // nothing was created under either name
}

// --- mach_port_mod_refs, mach_port_get_refs, mach_port_type, mach_port_names ----------------------------
TASK_TEST("mach_port_mod_refs SEND adds and removes urefs by any delta, and delta 0 is a no-op") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS); CHECK(send_refs(p) == 2);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 5), KERN_SUCCESS); CHECK(send_refs(p) == 7);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, -3), KERN_SUCCESS); CHECK(send_refs(p) == 4);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 0), KERN_SUCCESS); CHECK(send_refs(p) == 4);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, -4), KERN_SUCCESS); CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_mod_refs below zero returns KERN_INVALID_VALUE and leaves the urefs") {
    mach_port_t p = mt::new_port_with_send(), d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, -2), KERN_INVALID_VALUE); CHECK(send_refs(p) == 1);
    CHECK_KR(mod(d, MACH_PORT_RIGHT_DEAD_NAME, -2), KERN_INVALID_VALUE); CHECK(dead_refs(d) == 1);
}

TASK_TEST("send and dead-name urefs reach MACH_PORT_UREFS_MAX and no further: KERN_UREFS_OVERFLOW") {
    mach_port_t p = mt::new_port_with_send(), d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, static_cast<mach_port_delta_t>(kMax)), KERN_UREFS_OVERFLOW);
    CHECK(send_refs(p) == 1);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, static_cast<mach_port_delta_t>(kMax - 1)), KERN_SUCCESS);
    CHECK(send_refs(p) == kMax);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 1), KERN_UREFS_OVERFLOW); CHECK(send_refs(p) == kMax);
    CHECK_KR(mod(d, MACH_PORT_RIGHT_DEAD_NAME, static_cast<mach_port_delta_t>(kMax)), KERN_UREFS_OVERFLOW);
    CHECK(dead_refs(d) == 1);
    CHECK_KR(mod(d, MACH_PORT_RIGHT_DEAD_NAME, static_cast<mach_port_delta_t>(kMax - 1)), KERN_SUCCESS);
    CHECK(dead_refs(d) == kMax);
}

TASK_TEST("destroying a receive right with mach_port_mod_refs turns the same name's send urefs into a dead name") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME); CHECK(dead_refs(p) == 2); CHECK(send_refs(p) == 0);
}

TASK_TEST("mach_port_mod_refs on receive, send-once and port-set rights accepts only 0 and -1, which removes them") {
    mach_port_t p = receive_right(), so = send_once_to(p), s = allocated(MACH_PORT_RIGHT_PORT_SET);
    for (auto [name, right] : {std::pair{so, MACH_PORT_RIGHT_SEND_ONCE}, std::pair{s, MACH_PORT_RIGHT_PORT_SET},
                               std::pair{p, MACH_PORT_RIGHT_RECEIVE}}) {
        INFO("right " << right);
        CHECK_KR(mod(name, right, 1), KERN_INVALID_VALUE);
        CHECK_KR(mod(name, right, -2), KERN_INVALID_VALUE);
        CHECK_KR(mod(name, right, 0), KERN_SUCCESS); CHECK(mt::refs(name, right) == 1);
        CHECK_KR(mod(name, right, -1), KERN_SUCCESS);
        CHECK_KR(type_kr(name), KERN_INVALID_NAME);
    }
}

TASK_TEST("mach_port_mod_refs for a right the name does not hold returns KERN_INVALID_RIGHT") {
    mach_port_t p = receive_right(), bp = bootstrap_port, d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 1), KERN_INVALID_RIGHT);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND_ONCE, -1), KERN_INVALID_RIGHT);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_PORT_SET, -1), KERN_INVALID_RIGHT);
    CHECK_KR(mod(p, MACH_PORT_RIGHT_DEAD_NAME, 1), KERN_INVALID_RIGHT);
    CHECK_KR(mod(bp, MACH_PORT_RIGHT_RECEIVE, -1), KERN_INVALID_RIGHT);
    CHECK_KR(mod(bp, MACH_PORT_RIGHT_DEAD_NAME, 1), KERN_INVALID_RIGHT);
    CHECK_KR(mod(d, MACH_PORT_RIGHT_SEND, 1), KERN_INVALID_RIGHT);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(mt::type_of(bp) == MACH_PORT_TYPE_SEND);
}

TASK_TEST("mach_port_get_refs reports 1 for receive, send-once and port-set rights and the urefs for send") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 3), KERN_SUCCESS);
    CHECK(mt::refs(p, MACH_PORT_RIGHT_RECEIVE) == 1); CHECK(send_refs(p) == 4);
    CHECK(mt::refs(send_once_to(p), MACH_PORT_RIGHT_SEND_ONCE) == 1);
    CHECK(mt::refs(allocated(MACH_PORT_RIGHT_PORT_SET), MACH_PORT_RIGHT_PORT_SET) == 1);
}

TASK_TEST("mach_port_get_refs for a right the name does not hold returns KERN_SUCCESS with 0") {
    mach_port_t p = receive_right(), s = allocated(MACH_PORT_RIGHT_PORT_SET), d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    mach_port_urefs_t u = 77;
    CHECK_KR(mach_port_get_refs(self(), p, MACH_PORT_RIGHT_SEND, &u), KERN_SUCCESS);
    CHECK(u == 0); CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND_ONCE) == 0); CHECK(dead_refs(p) == 0);
    CHECK(mt::refs(s, MACH_PORT_RIGHT_RECEIVE) == 0); CHECK(send_refs(d) == 0);
    CHECK(mt::refs(bootstrap_port, MACH_PORT_RIGHT_RECEIVE) == 0);
}

TASK_TEST("mach_port_type reports each kind of right by its type bits") {
    mach_port_t p = receive_right();
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
    CHECK(mt::type_of(send_once_to(p)) == MACH_PORT_TYPE_SEND_ONCE);
    CHECK(mt::type_of(mt::new_port_with_send()) == MACH_PORT_TYPE_SEND_RECEIVE);
    CHECK(mt::type_of(bootstrap_port) == MACH_PORT_TYPE_SEND);
    CHECK(mt::type_of(mach_task_self()) == MACH_PORT_TYPE_SEND);
    CHECK(mt::type_of(allocated(MACH_PORT_RIGHT_PORT_SET)) == MACH_PORT_TYPE_PORT_SET);
    CHECK(mt::type_of(allocated(MACH_PORT_RIGHT_DEAD_NAME)) == MACH_PORT_TYPE_DEAD_NAME);
}

TASK_TEST("mach_port_names lists every name once with the type mach_port_type reports") {
    mach_port_t p = mt::new_port_with_send(), s = allocated(MACH_PORT_RIGHT_PORT_SET);
    mach_port_t d = allocated(MACH_PORT_RIGHT_DEAD_NAME), gone = receive_right();
    CHECK_KR(destroy(gone), KERN_SUCCESS);
    std::vector<mach_port_name_t> names;
    std::vector<mach_port_type_t> types;
    CHECK_KR(names_of(self(), names, types), KERN_SUCCESS);
    REQUIRE(names.size() == types.size());
    for (std::size_t i = 0; i < names.size(); ++i) CHECK(types[i] == mt::type_of(names[i]));
    for (mach_port_t n : {p, s, d, self()}) CHECK(std::count(names.begin(), names.end(), n) == 1);
    CHECK(std::count(names.begin(), names.end(), gone) == 0);
}

// --- rights in messages: names, urefs, mscount (R1, R5, R13) ------------------------------------------
TASK_TEST("a received send right for a port whose receive right the task holds lands on the receive right's name") {
    mach_port_t p = receive_right();
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 1, 0, 0, p, MACH_MSG_TYPE_MAKE_SEND), MACH_MSG_SUCCESS);
    mt::SimpleReceived in;
    CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
    CHECK(in.msg.head.msgh_remote_port == p); CHECK(in.msg.head.msgh_local_port == p);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
    CHECK(send_refs(p) == 1);  // the destination right was consumed
}

TASK_TEST("a received send right for a port the task already sends to arrives under that name with one more uref") {
    mach_port_t q = receive_right(), bp = bootstrap_port;
    mach_port_urefs_t u = send_refs(bp);
    CHECK_KR(send_note(q, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_NULL, Note{0, bp, MACH_MSG_TYPE_COPY_SEND}),
             MACH_MSG_SUCCESS);
    CHECK(send_refs(bp) == u);
    NoteIn in;
    CHECK_KR(receive_note(q, in), MACH_MSG_SUCCESS);
    CHECK(note_of(in, false).right == bp); CHECK(send_refs(bp) == u + 1);
}

TASK_TEST("sending with COPY_SEND leaves the sender's urefs and MOVE_SEND takes one; neither changes mscount") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS); CHECK(send_refs(p) == 2);
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 2), MACH_MSG_SUCCESS); CHECK(send_refs(p) == 1);
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 3), MACH_MSG_SUCCESS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(st(p).mps_mscount == 1); CHECK(st(p).mps_msgcount == 3);
}

TASK_TEST("sending with MAKE_SEND increments mscount and MAKE_SEND_ONCE does not") {
    mach_port_t p = receive_right();
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 1), MACH_MSG_SUCCESS); CHECK(st(p).mps_mscount == 1);
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND, 2), MACH_MSG_SUCCESS); CHECK(st(p).mps_mscount == 2);
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MAKE_SEND_ONCE, 3), MACH_MSG_SUCCESS); CHECK(st(p).mps_mscount == 2);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);  // MAKE_* leave no right with the sender
}

TASK_TEST("MAKE_SEND(_ONCE) without the receive right, or COPY_SEND without a send right, is MACH_SEND_INVALID_DEST") {
    CHECK_KR(mt::send_simple(bootstrap_port, MACH_MSG_TYPE_MAKE_SEND, 1), MACH_SEND_INVALID_DEST);
    CHECK_KR(mt::send_simple(bootstrap_port, MACH_MSG_TYPE_MAKE_SEND_ONCE, 1), MACH_SEND_INVALID_DEST);
    mach_port_t p = receive_right();
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_SEND_INVALID_DEST);
    CHECK(st(p).mps_msgcount == 0);
}

TASK_TEST("MOVE_SEND_ONCE consumes the send-once right and its name") {
    mach_port_t p = receive_right(), so = send_once_to(p);
    CHECK_KR(mt::send_simple(so, MACH_MSG_TYPE_MOVE_SEND_ONCE, 1), MACH_MSG_SUCCESS);
    CHECK_KR(type_kr(so), KERN_INVALID_NAME);
    mt::SimpleReceived in;
    CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
    CHECK(in.msg.payload == 1); CHECK(st(p).mps_sorights == 0);
}

TASK_TEST("a receive right sent away keeps its send urefs under the name and comes back to it with mscount reset") {
    mach_port_t p = mt::new_port_with_send(), q = receive_right();
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS); CHECK(st(p).mps_mscount == 1);
    CHECK_KR(send_note(q, MACH_MSG_TYPE_MAKE_SEND, MACH_PORT_NULL, Note{0, p, MACH_MSG_TYPE_MOVE_RECEIVE}),
             MACH_MSG_SUCCESS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND); CHECK(send_refs(p) == 2);
    NoteIn in;
    CHECK_KR(receive_note(q, in), MACH_MSG_SUCCESS);
    Note n = note_of(in, false);
    CHECK(n.right == p); CHECK(n.disposition == MACH_MSG_TYPE_PORT_RECEIVE);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE); CHECK(send_refs(p) == 2);
    CHECK(st(p).mps_mscount == 0);  // R13
}

// --- mach_port_insert_right (R1, R13, R28) ---------------------------------------------------------
TASK_TEST("mach_port_insert_right MAKE_SEND adds a send uref under the receive right's name and increments mscount") {
    mach_port_t p = receive_right();
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE); CHECK(send_refs(p) == 1); CHECK(st(p).mps_mscount == 1);
    CHECK(st(p).mps_srights);
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS);
    CHECK(send_refs(p) == 2); CHECK(st(p).mps_mscount == 2);
}

TASK_TEST("mach_port_insert_right COPY_SEND adds a uref without changing mscount; MOVE_SEND leaves the urefs") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_COPY_SEND), KERN_SUCCESS);
    CHECK(send_refs(p) == 2); CHECK(st(p).mps_mscount == 1);
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_MOVE_SEND), KERN_SUCCESS);
    CHECK(send_refs(p) == 2); CHECK(st(p).mps_mscount == 1);
}

TASK_TEST("mach_port_insert_right of a send-once right takes the given fresh name although the port is named") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(insert(kFreeA, p, MACH_MSG_TYPE_MAKE_SEND_ONCE), KERN_SUCCESS);
    CHECK(mt::type_of(kFreeA) == MACH_PORT_TYPE_SEND_ONCE); CHECK(st(p).mps_sorights == 1);
    CHECK(st(p).mps_mscount == 1);
    CHECK_KR(mt::send_simple(kFreeA, MACH_MSG_TYPE_MOVE_SEND_ONCE, 4), MACH_MSG_SUCCESS);
    CHECK(st(p).mps_msgcount == 1);
}

TASK_TEST("mach_port_insert_right of a send-once right under a name in use returns KERN_NAME_EXISTS") {
    mach_port_t p = receive_right(), q = receive_right();
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_MAKE_SEND_ONCE), KERN_NAME_EXISTS);
    CHECK_KR(insert(q, p, MACH_MSG_TYPE_MAKE_SEND_ONCE), KERN_NAME_EXISTS);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_insert_right under another name for a port the space already names returns KERN_RIGHT_EXISTS") {
    mach_port_t p = receive_right();
    CHECK_KR(insert(kFreeA, p, MACH_MSG_TYPE_MAKE_SEND), KERN_RIGHT_EXISTS);
    CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME); CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_insert_right returns KERN_RIGHT_EXISTS rather than KERN_NAME_EXISTS when both apply") {
    mach_port_t p = mt::new_port_with_send(), q = receive_right();
    CHECK_KR(insert(q, p, MACH_MSG_TYPE_MAKE_SEND), KERN_RIGHT_EXISTS);
    CHECK_KR(insert(q, p, MACH_MSG_TYPE_COPY_SEND), KERN_RIGHT_EXISTS);
    CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_insert_right with MACH_PORT_NULL or MACH_PORT_DEAD as the name returns KERN_INVALID_VALUE") {
    mach_port_t p = receive_right();
    CHECK_KR(insert(MACH_PORT_NULL, p, MACH_MSG_TYPE_MAKE_SEND), KERN_INVALID_VALUE);
    CHECK_KR(insert(MACH_PORT_DEAD, p, MACH_MSG_TYPE_MAKE_SEND), KERN_INVALID_VALUE);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_insert_right of MACH_PORT_NULL, MACH_PORT_DEAD or a dead name returns KERN_INVALID_CAPABILITY") {
    mach_port_t d = allocated(MACH_PORT_RIGHT_DEAD_NAME);
    CHECK_KR(insert(kFreeA, MACH_PORT_NULL, MACH_MSG_TYPE_COPY_SEND), KERN_INVALID_CAPABILITY);
    CHECK_KR(insert(kFreeA, MACH_PORT_DEAD, MACH_MSG_TYPE_COPY_SEND), KERN_INVALID_CAPABILITY);
    CHECK_KR(insert(kFreeA, d, MACH_MSG_TYPE_COPY_SEND), KERN_INVALID_CAPABILITY);
    CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME); CHECK(dead_refs(d) == 1);
}

TASK_TEST("mach_port_insert_right of a right the caller does not hold fails with MACH_SEND_INVALID_RIGHT") {
    CHECK_KR(insert(kFreeA, kFreeB, MACH_MSG_TYPE_COPY_SEND), MACH_SEND_INVALID_RIGHT);
    CHECK_KR(insert(kFreeA, bootstrap_port, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_RIGHT);
    // A port set is no port: poly is copied in as a message would carry it (docs/api.md §5.10, as with
    // GNU Mach's MIG call; XNU's insert_right trap gives KERN_INVALID_RIGHT).
    mach_port_t set = MACH_PORT_NULL;
    CHECK_KR(mach_port_allocate(self(), MACH_PORT_RIGHT_PORT_SET, &set), KERN_SUCCESS);
    CHECK_KR(insert(kFreeA, set, MACH_MSG_TYPE_MAKE_SEND), MACH_SEND_INVALID_RIGHT);
    CHECK(mt::type_of(set) == MACH_PORT_TYPE_PORT_SET);
    CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
}

// docs/api.md §5.10: poly is copied in first, as a MIG request carries it.
TASK_TEST("mach_port_insert_right with a polyPoly that is not 16-21 returns MACH_SEND_INVALID_TYPE and inserts "
          "nothing") {
    mach_port_t p = mt::new_port_with_send();
    for (mach_msg_type_name_t d : {0u, 15u, 22u, 99u}) {
        INFO("disposition " << d);
        CHECK_KR(insert(kFreeA, p, d), MACH_SEND_INVALID_TYPE);
        CHECK_KR(insert(p, p, d), MACH_SEND_INVALID_TYPE);
    }
    CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE); CHECK(send_refs(p) == 1); CHECK(st(p).mps_mscount == 1);
}

TASK_TEST("mach_port_insert_right at MACH_PORT_UREFS_MAX send urefs returns KERN_UREFS_OVERFLOW and leaves the urefs") {
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(mod(p, MACH_PORT_RIGHT_SEND, static_cast<mach_port_delta_t>(kMax - 1)), KERN_SUCCESS);
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_COPY_SEND), KERN_UREFS_OVERFLOW);
    CHECK(send_refs(p) == kMax); CHECK(st(p).mps_mscount == 1);
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_MAKE_SEND), KERN_UREFS_OVERFLOW);
    CHECK(send_refs(p) == kMax); CHECK(mt::type_of(p) == MACH_PORT_TYPE_SEND_RECEIVE);
    CHECK(st(p).mps_mscount == 2);  // the make-send was counted before the insert failed (docs/api.md §5.10)
    CHECK_KR(dealloc(p), KERN_SUCCESS);
    CHECK_KR(insert(p, p, MACH_MSG_TYPE_COPY_SEND), KERN_SUCCESS); CHECK(send_refs(p) == kMax);
}

// Runs `refused` in a task whose name space is full, with p a receive right (and
// its name); `refused` makes a send-once right to p that cannot be named, so
// it is destroyed: its notification must be on p's queue afterwards (R16).
static void with_full_space(void (*refused)(mach_port_t p)) {
    machsim::Config cfg;
    cfg.max_names = 4;
    in_task(
        [refused] {
            mach_port_t p = receive_right();
            CHECK(mt::fill_name_space() > 0);
            std::size_t before = name_count();
            refused(p);
            CHECK(name_count() == before);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
            CHECK(in.msg.head.msgh_id == kNotifySendOnce); CHECK(st(p).mps_sorights == 0);
            // A send right joins the receive right's name (R1): no new name needed.
            CHECK_KR(insert(p, p, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS); CHECK(send_refs(p) == 1);
        },
        cfg);
}

TEST_CASE("mach_port_insert_right into a full name space returns KERN_NO_SPACE and the made send-once right notifies") {
    with_full_space([](mach_port_t p) {
        CHECK_KR(insert(kFreeA, p, MACH_MSG_TYPE_MAKE_SEND_ONCE), KERN_NO_SPACE);
        CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
    });
}

TEST_CASE("mach_port_insert_right MAKE_SEND into another task's space names the right there and increments mscount") {
    mach_port_t mine = MACH_PORT_NULL;
    OwnerStep give = [&](mach_port_t peer, Note) {
        mine = receive_right();
        CHECK_KR(mach_port_insert_right(peer, kFreeA, mine, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS);
        CHECK(st(mine).mps_mscount == 1);
        CHECK_KR(mach_port_insert_right(peer, kFreeA, mine, MACH_MSG_TYPE_MAKE_SEND), KERN_SUCCESS);
        CHECK(st(mine).mps_mscount == 2);
        CHECK_KR(mach_port_insert_right(peer, kFreeB, mine, MACH_MSG_TYPE_MAKE_SEND), KERN_RIGHT_EXISTS);
        CHECK(mt::type_of(mine) == MACH_PORT_TYPE_RECEIVE);  // nothing added to the caller's space
        return Note{};
    };
    OwnerStep check = [&](mach_port_t, Note) {
        CHECK(st(mine).mps_msgcount == 1);  // sent by the peer through its new right
        return Note{};
    };
    PeerStep use = [](Note) {
        CHECK(mt::type_of(kFreeA) == MACH_PORT_TYPE_SEND); CHECK(send_refs(kFreeA) == 2);
        CHECK_KR(type_kr(kFreeB), KERN_INVALID_NAME);
        CHECK_KR(mt::send_simple(kFreeA, MACH_MSG_TYPE_COPY_SEND, 7), MACH_MSG_SUCCESS);
        return Note{};
    };
    check_clean(converse({give, check}, {nothing, use, nothing}));
}

TEST_CASE("mach_port_insert_right into another task's space under a name that task uses returns KERN_NAME_EXISTS") {
    mach_port_t q = MACH_PORT_NULL;
    OwnerStep give = [](mach_port_t peer, Note in) {
        auto name = static_cast<mach_port_name_t>(in.value);
        CHECK_KR(mach_port_insert_right(peer, name, receive_right(), MACH_MSG_TYPE_MAKE_SEND), KERN_NAME_EXISTS);
        return Note{};
    };
    PeerStep tell = [&](Note) {
        q = receive_right();
        return Note{static_cast<int>(q)};
    };
    PeerStep look = [&](Note) {
        CHECK(mt::type_of(q) == MACH_PORT_TYPE_RECEIVE); CHECK(send_refs(q) == 0);
        return Note{};
    };
    check_clean(converse({give}, {tell, look}));
}

TEST_CASE("mach_port_insert_right MOVE_RECEIVE into another task's space moves the receive right and resets mscount") {
    OwnerStep give = [](mach_port_t peer, Note) {
        mach_port_t mine = mt::new_port_with_send();
        CHECK_KR(dealloc(mine), KERN_SUCCESS); CHECK(st(mine).mps_mscount == 1);
        CHECK_KR(mach_port_insert_right(peer, kFreeA, mine, MACH_MSG_TYPE_MOVE_RECEIVE), KERN_SUCCESS);
        CHECK_KR(type_kr(mine), KERN_INVALID_NAME);
        return Note{};
    };
    PeerStep look = [](Note) {
        CHECK(mt::type_of(kFreeA) == MACH_PORT_TYPE_RECEIVE); CHECK(st(kFreeA).mps_mscount == 0);
        return Note{};
    };
    check_clean(converse({give}, {nothing, look}));
}

// --- mach_port_extract_right ------------------------------------------------------------------------
TASK_TEST("mach_port_extract_right of a send right for the caller's own port returns its name; only MAKE_SEND bumps mscount") {
    mach_port_t p = mt::new_port_with_send();
    Extracted e = extract(self(), p, MACH_MSG_TYPE_MAKE_SEND);
    CHECK_KR(e.kr, KERN_SUCCESS);
    CHECK(e.name == p); CHECK(e.type == MACH_MSG_TYPE_PORT_SEND); CHECK(send_refs(p) == 2);
    CHECK(st(p).mps_mscount == 2);
    e = extract(self(), p, MACH_MSG_TYPE_COPY_SEND);
    CHECK_KR(e.kr, KERN_SUCCESS); CHECK(e.name == p); CHECK(send_refs(p) == 3); CHECK(st(p).mps_mscount == 2);
}

TASK_TEST("mach_port_extract_right MAKE_SEND_ONCE returns a fresh send-once name each time") {
    mach_port_t p = mt::new_port_with_send();
    Extracted a = extract(self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    Extracted b = extract(self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    CHECK_KR(a.kr, KERN_SUCCESS);
    CHECK_KR(b.kr, KERN_SUCCESS);
    CHECK(a.type == MACH_MSG_TYPE_PORT_SEND_ONCE); CHECK(a.name != p); CHECK(b.name != p); CHECK(a.name != b.name);
    CHECK(mt::type_of(a.name) == MACH_PORT_TYPE_SEND_ONCE); CHECK(st(p).mps_sorights == 2);
    CHECK(st(p).mps_mscount == 1);
}

TEST_CASE("mach_port_extract_right MOVE_RECEIVE from another task takes its receive right and queue") {
    OwnerStep take = [](mach_port_t peer, Note) {
        Extracted e = extract(peer, kFreeA, MACH_MSG_TYPE_MOVE_RECEIVE);
        CHECK_KR(e.kr, KERN_SUCCESS);
        CHECK(e.type == MACH_MSG_TYPE_PORT_RECEIVE); CHECK(mt::type_of(e.name) == MACH_PORT_TYPE_RECEIVE);
        CHECK(st(e.name).mps_msgcount == 1);
        return Note{};
    };
    PeerStep make = [](Note) {
        CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, kFreeA), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(kFreeA, MACH_MSG_TYPE_MAKE_SEND, 9), MACH_MSG_SUCCESS);
        return Note{};
    };
    PeerStep look = [](Note) {
        CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
        return Note{};
    };
    check_clean(converse({take}, {make, look}));
}

TASK_TEST("mach_port_extract_right of a right the name does not hold returns KERN_INVALID_RIGHT") {
    mach_port_t p = receive_right(), bp = bootstrap_port;
    CHECK_KR(extract(self(), p, MACH_MSG_TYPE_COPY_SEND).kr, KERN_INVALID_RIGHT);
    CHECK_KR(extract(self(), p, MACH_MSG_TYPE_MOVE_SEND).kr, KERN_INVALID_RIGHT);
    CHECK_KR(extract(self(), p, MACH_MSG_TYPE_MOVE_SEND_ONCE).kr, KERN_INVALID_RIGHT);
    CHECK_KR(extract(self(), bp, MACH_MSG_TYPE_MAKE_SEND).kr, KERN_INVALID_RIGHT);
    CHECK_KR(extract(self(), bp, MACH_MSG_TYPE_MOVE_RECEIVE).kr, KERN_INVALID_RIGHT);
    CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE); CHECK(st(p).mps_mscount == 0);
}

TASK_TEST("mach_port_extract_right with a value that is not a port disposition returns KERN_INVALID_VALUE") {
    mach_port_t p = mt::new_port_with_send();
    for (mach_msg_type_name_t d : {0u, 15u, 22u, 99u}) {
        INFO("disposition " << d);
        CHECK_KR(extract(self(), p, d).kr, KERN_INVALID_VALUE);
    }
    CHECK(send_refs(p) == 1);
}

// docs/api.md §5.10: the extracted right cannot be named in the caller's space, so it is destroyed.
TEST_CASE("mach_port_extract_right into the caller's full name space returns KERN_RESOURCE_SHORTAGE and destroys the "
          "right") {
    with_full_space([](mach_port_t p) {
        Extracted e = extract(self(), p, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        CHECK_KR(e.kr, KERN_RESOURCE_SHORTAGE);
        CHECK(e.name == MACH_PORT_NULL);
    });
}

// --- mach_port_get_attributes, mach_port_set_attributes -----------------------------------------------
TASK_TEST("MACH_PORT_LIMITS_INFO reports the queue limit and mach_port_set_attributes changes it up to the maximum") {
    mach_port_t p = receive_right();
    mach_port_limits_t lim{0};
    mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
    CHECK_KR(attr_get(p, &lim, &count), KERN_SUCCESS);
    CHECK(count == MACH_PORT_LIMITS_INFO_COUNT); CHECK(lim.mpl_qlimit == MACH_PORT_QLIMIT_DEFAULT);
    CHECK_KR(mt::set_qlimit(p, 3), KERN_SUCCESS);
    CHECK_KR(attr_get(p, &lim, &count), KERN_SUCCESS); CHECK(lim.mpl_qlimit == 3);
    CHECK_KR(mt::set_qlimit(p, 16), KERN_SUCCESS);  // the default maximum (§6)
    CHECK(st(p).mps_qlimit == 16);
}

TASK_TEST("mach_port_set_attributes with a qlimit above the maximum returns KERN_INVALID_VALUE") {
    mach_port_t p = receive_right();
    CHECK_KR(mt::set_qlimit(p, 17), KERN_INVALID_VALUE); CHECK(st(p).mps_qlimit == MACH_PORT_QLIMIT_DEFAULT);
}

TASK_TEST("mach_port_get_attributes and set_attributes with a count smaller than the flavor's return KERN_FAILURE") {
    mach_port_t p = receive_right();
    mach_port_status_t s{};
    mach_msg_type_number_t count = 0;
    CHECK_KR(attr_get(p, &s, &count), KERN_FAILURE);
    count = MACH_PORT_RECEIVE_STATUS_COUNT - 1;
    CHECK_KR(attr_get(p, &s, &count, MACH_PORT_RECEIVE_STATUS), KERN_FAILURE);
    mach_port_limits_t lim{2};
    CHECK_KR(attr_set(p, &lim, 0), KERN_FAILURE); CHECK(st(p).mps_qlimit == MACH_PORT_QLIMIT_DEFAULT);
}

TASK_TEST("an unknown or read-only attribute flavor returns KERN_INVALID_ARGUMENT") {
    mach_port_t p = receive_right();
    mach_port_status_t s{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    CHECK_KR(attr_get(p, &s, &count, 99), KERN_INVALID_ARGUMENT);
    CHECK_KR(attr_set(p, &s, MACH_PORT_RECEIVE_STATUS_COUNT, 99), KERN_INVALID_ARGUMENT);
    CHECK_KR(attr_set(p, &s, MACH_PORT_RECEIVE_STATUS_COUNT, MACH_PORT_RECEIVE_STATUS), KERN_INVALID_ARGUMENT);
}

TASK_TEST("port attributes of a name without a receive right return KERN_INVALID_RIGHT") {
    mach_port_limits_t lim{2};
    mach_port_t bp = bootstrap_port;
    for (mach_port_t n : {bp, allocated(MACH_PORT_RIGHT_PORT_SET), allocated(MACH_PORT_RIGHT_DEAD_NAME)}) {
        INFO("name " << n);
        mach_msg_type_number_t count = MACH_PORT_LIMITS_INFO_COUNT;
        CHECK_KR(attr_get(n, &lim, &count), KERN_INVALID_RIGHT);
        CHECK_KR(attr_set(n, &lim, MACH_PORT_LIMITS_INFO_COUNT), KERN_INVALID_RIGHT);
    }
}

TASK_TEST("MACH_PORT_RECEIVE_STATUS of a name without a receive right returns KERN_INVALID_RIGHT") {
    mach_port_t bp = bootstrap_port, set = allocated(MACH_PORT_RIGHT_PORT_SET);
    mach_port_t dead = allocated(MACH_PORT_RIGHT_DEAD_NAME), so = send_once_to(receive_right());
    for (mach_port_t n : {bp, set, dead, so}) {
        INFO("name " << n);
        mach_port_status_t s{};
        mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
        CHECK_KR(attr_get(n, &s, &count, MACH_PORT_RECEIVE_STATUS), KERN_INVALID_RIGHT);
    }
    CHECK(mt::type_of(bp) == MACH_PORT_TYPE_SEND); CHECK(mt::type_of(set) == MACH_PORT_TYPE_PORT_SET);
    CHECK(dead_refs(dead) == 1); CHECK(mt::type_of(so) == MACH_PORT_TYPE_SEND_ONCE);
}

// --- mach_port_move_member ----------------------------------------------------------------------------
TASK_TEST("mach_port_move_member puts a port in a set and MACH_PORT_NULL takes it out") {
    mach_port_t s = allocated(MACH_PORT_RIGHT_PORT_SET), p = receive_right();
    CHECK_KR(move_member(p, s), KERN_SUCCESS); CHECK(st(p).mps_pset == s);
    CHECK_KR(move_member(p, MACH_PORT_NULL), KERN_SUCCESS);
    CHECK(st(p).mps_pset == MACH_PORT_NULL); CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_move_member into a second set takes the port out of the first") {
    mach_port_t s1 = allocated(MACH_PORT_RIGHT_PORT_SET), s2 = allocated(MACH_PORT_RIGHT_PORT_SET);
    mach_port_t p = mt::new_port_with_send();
    CHECK_KR(move_member(p, s1), KERN_SUCCESS);
    CHECK_KR(move_member(p, s2), KERN_SUCCESS); CHECK(st(p).mps_pset == s2);
    CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 6), MACH_MSG_SUCCESS);
    mt::SimpleReceived in;
    CHECK_KR(mt::receive_simple(s1, in, MACH_RCV_TIMEOUT, 0), MACH_RCV_TIMED_OUT);
    CHECK_KR(mt::receive_simple(s2, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
    CHECK(in.msg.head.msgh_local_port == p);
}

TASK_TEST("mach_port_move_member to MACH_PORT_NULL of a port in no set returns KERN_NOT_IN_SET") {
    mach_port_t p = receive_right();
    CHECK_KR(move_member(p, MACH_PORT_NULL), KERN_NOT_IN_SET); CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
}

TASK_TEST("mach_port_move_member of a member without a receive right returns KERN_INVALID_RIGHT") {
    mach_port_t s = allocated(MACH_PORT_RIGHT_PORT_SET);
    CHECK_KR(move_member(bootstrap_port, s), KERN_INVALID_RIGHT);
    CHECK_KR(move_member(allocated(MACH_PORT_RIGHT_PORT_SET), s), KERN_INVALID_RIGHT);
    CHECK_KR(move_member(allocated(MACH_PORT_RIGHT_DEAD_NAME), s), KERN_INVALID_RIGHT);
    CHECK_KR(move_member(send_once_to(receive_right()), s), KERN_INVALID_RIGHT);
}

TASK_TEST("mach_port_move_member into a name that is not a port set returns KERN_INVALID_RIGHT") {
    mach_port_t p = receive_right();
    CHECK_KR(move_member(p, mt::new_port_with_send()), KERN_INVALID_RIGHT);
    CHECK_KR(move_member(p, allocated(MACH_PORT_RIGHT_DEAD_NAME)), KERN_INVALID_RIGHT);
    CHECK(st(p).mps_pset == MACH_PORT_NULL);
}

// --- task_get_special_port ------------------------------------------------------------------------------
TASK_TEST("task_get_special_port returns the task and bootstrap ports under their existing names with one more uref") {
    mach_port_t task = self(), bp = bootstrap_port, got = MACH_PORT_NULL;
    mach_port_urefs_t task_before = send_refs(task), bp_before = send_refs(bp);
    CHECK_KR(task_get_special_port(self(), TASK_KERNEL_PORT, &got), KERN_SUCCESS);
    CHECK(got == task); CHECK(send_refs(task) == task_before + 1);
    CHECK_KR(task_get_bootstrap_port(self(), &got), KERN_SUCCESS);
    CHECK(got == bp); CHECK(send_refs(bp) == bp_before + 1);
}

TASK_TEST("task_get_special_port with an unknown port id returns KERN_INVALID_ARGUMENT") {
    mach_port_t got = MACH_PORT_NULL;
    CHECK_KR(task_get_special_port(self(), 99, &got), KERN_INVALID_ARGUMENT);
    CHECK_KR(task_get_special_port(self(), 0, &got), KERN_INVALID_ARGUMENT);
}

// --- several tasks: dead names, isolation (R8, R16, R27) ----------------------------------------------
TEST_CASE("a send right becomes a dead name keeping its urefs when the receiver calls mach_port_destroy") {
    after_port_death([](mach_port_t got) {
        CHECK(mt::type_of(got) == MACH_PORT_TYPE_DEAD_NAME); CHECK(dead_refs(got) == 3); CHECK(send_refs(got) == 0);
    });
}

TEST_CASE("a dead name refuses sends and SEND operations while DEAD_NAME urefs and deallocate work on it") {
    after_port_death([](mach_port_t got) {
        CHECK_KR(mt::send_simple(got, MACH_MSG_TYPE_COPY_SEND, 1), MACH_SEND_INVALID_DEST);
        CHECK_KR(mod(got, MACH_PORT_RIGHT_SEND, -1), KERN_INVALID_RIGHT);
        CHECK_KR(insert(kFreeA, got, MACH_MSG_TYPE_COPY_SEND), KERN_INVALID_CAPABILITY);
        CHECK_KR(dealloc(got), KERN_SUCCESS); CHECK(dead_refs(got) == 2);
        CHECK_KR(mod(got, MACH_PORT_RIGHT_DEAD_NAME, 1), KERN_SUCCESS);
        CHECK_KR(mod(got, MACH_PORT_RIGHT_DEAD_NAME, -3), KERN_SUCCESS);
        CHECK_KR(type_kr(got), KERN_INVALID_NAME);
    });
}

// The owner checks in "dying", takes one request carrying a send-once reply right and ends without
// answering. The peer yields (a bounded number of times) until the owner is gone, then runs
// look(its send right's name, the send urefs it had, its reply port).
static void after_owner_exits(std::function<void(mach_port_t, mach_port_urefs_t, mach_port_t)> look) {
    check_clean(mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("owner", [] {
            mach_port_t svc = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "dying", &svc), KERN_SUCCESS);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(svc, in), MACH_MSG_SUCCESS);
        });
        k.spawn("peer", [&] {
            mach_port_t svc = MACH_PORT_NULL, reply = mach_reply_port();
            CHECK_KR(bootstrap_look_up(bootstrap_port, "dying", &svc), KERN_SUCCESS);
            CHECK_KR(mod(svc, MACH_PORT_RIGHT_SEND, 1), KERN_SUCCESS);
            mach_port_urefs_t before = send_refs(svc);
            CHECK_KR(mt::send_simple(svc, MACH_MSG_TYPE_COPY_SEND, 1, 0, 0, reply, MACH_MSG_TYPE_MAKE_SEND_ONCE),
                     MACH_MSG_SUCCESS);
            for (int i = 0; i < 100 && mt::type_of(svc) == MACH_PORT_TYPE_SEND; ++i)
                (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            look(svc, before, reply);
        });
    }));
}

TEST_CASE("a send right becomes a dead name keeping its urefs when the receiver's task exits") {
    after_owner_exits([](mach_port_t svc, mach_port_urefs_t before, mach_port_t) {
        CHECK(mt::type_of(svc) == MACH_PORT_TYPE_DEAD_NAME); CHECK(dead_refs(svc) == before);
    });
}

TEST_CASE("a send-once right whose holder's task exits produces a send-once notification") {
    after_owner_exits([](mach_port_t, mach_port_urefs_t, mach_port_t reply) {
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(reply, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);  // R16
        CHECK(in.msg.head.msgh_id == kNotifySendOnce);
    });
}

TEST_CASE("the same integer name in another task names nothing there") {
    OwnerStep make = [](mach_port_t, Note) {
        CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_RECEIVE, kFreeA), KERN_SUCCESS);
        return Note{static_cast<int>(kFreeA)};
    };
    OwnerStep look = [](mach_port_t, Note) {
        CHECK(mt::type_of(kFreeA) == MACH_PORT_TYPE_RECEIVE);  // the peer could not touch it
        return Note{};
    };
    PeerStep try_it = [](Note in) {
        auto n = static_cast<mach_port_name_t>(in.value);
        CHECK_KR(type_kr(n), KERN_INVALID_NAME);
        CHECK_KR(destroy(n), KERN_INVALID_NAME);
        CHECK_KR(mod(n, MACH_PORT_RIGHT_RECEIVE, -1), KERN_INVALID_NAME);
        CHECK_KR(mt::send_simple(n, MACH_MSG_TYPE_MAKE_SEND, 1), MACH_SEND_INVALID_DEST);
        return Note{};
    };
    check_clean(converse({make, look}, {nothing, try_it, nothing}));
}

TEST_CASE("mach_port calls on another task's port act on that task's space, not the caller's") {
    OwnerStep act = [](mach_port_t peer, Note) {
        mach_port_type_t t = 0;
        CHECK_KR(mach_port_type(peer, kFreeA, &t), KERN_SUCCESS); CHECK(t == MACH_PORT_TYPE_PORT_SET);
        CHECK_KR(type_kr(kFreeA), KERN_INVALID_NAME);
        std::vector<mach_port_name_t> names;
        std::vector<mach_port_type_t> types;
        CHECK_KR(names_of(peer, names, types), KERN_SUCCESS);
        CHECK(std::count(names.begin(), names.end(), kFreeA) == 1);
        CHECK_KR(mach_port_allocate_name(peer, MACH_PORT_RIGHT_RECEIVE, kFreeB), KERN_SUCCESS);
        CHECK_KR(type_kr(kFreeB), KERN_INVALID_NAME);
        mach_port_t got = MACH_PORT_NULL;
        CHECK_KR(task_get_special_port(peer, TASK_KERNEL_PORT, &got), KERN_SUCCESS);
        CHECK(got == peer);  // R1: the caller's existing name for that port
        return Note{};
    };
    PeerStep make = [](Note) {
        CHECK_KR(mach_port_allocate_name(self(), MACH_PORT_RIGHT_PORT_SET, kFreeA), KERN_SUCCESS);
        return Note{};
    };
    PeerStep look = [](Note) {
        CHECK(mt::type_of(kFreeB) == MACH_PORT_TYPE_RECEIVE);
        return Note{};
    };
    check_clean(converse({act}, {make, look}));
}

}  // TEST_SUITE
