// The XNU port calls macOS examples use: mach_port_insert_member,
// mach_port_extract_member, mach_port_get_set_status, mach_port_construct,
// mach_port_destruct, mach_port_get_context and mach_port_set_context.
// Codes as XNU's osfmk/ipc/mach_port.c gives them; docs/api.md §4 and §5.14.
#include <vector>

#include "tests/support.h"

namespace {

mach_port_t new_set() {
    mach_port_t s = MACH_PORT_NULL;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &s) != KERN_SUCCESS) return MACH_PORT_NULL;
    return s;
}

// The set's members as mach_port_get_set_status reports them (the array is given back).
std::vector<mach_port_name_t> members_of(mach_port_t set, kern_return_t* kr_out = nullptr) {
    mach_port_name_array_t names = nullptr;
    mach_msg_type_number_t n = 0;
    kern_return_t kr = mach_port_get_set_status(mach_task_self(), set, &names, &n);
    if (kr_out) *kr_out = kr;
    std::vector<mach_port_name_t> out(names, names + n);
    if (n) (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(names), n * sizeof *names);
    return out;
}

mach_port_t construct(uint32_t flags, mach_port_msgcount_t qlimit = 0, mach_port_context_t context = 0,
                      kern_return_t* kr_out = nullptr) {
    mach_port_options_t opts{};
    opts.flags = flags;
    opts.mpl.mpl_qlimit = qlimit;
    mach_port_t name = 0xdead;
    kern_return_t kr = mach_port_construct(mach_task_self(), &opts, context, &name);
    if (kr_out) *kr_out = kr;
    return name;
}


}  // namespace

TEST_SUITE("XNU port set calls") {

TEST_CASE("the macOS port set idiom: insert_member, receive on the set, get_set_status, extract_member") {
    std::vector<mach_port_name_t> both, after;
    mach_port_t a = 0, b = 0;
    mach_port_name_t from = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t set = new_set();
        a = mt::new_port_with_send();
        b = mt::new_port_with_send();
        CHECK_KR(mach_port_insert_member(mach_task_self(), a, set), KERN_SUCCESS);
        CHECK_KR(mach_port_insert_member(mach_task_self(), b, set), KERN_SUCCESS);
        both = members_of(set);
        CHECK(mt::status_of(b).mps_pset == set);
        CHECK_KR(mt::send_simple(b, MACH_MSG_TYPE_COPY_SEND, 7), MACH_MSG_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(set, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        from = in.msg.head.msgh_local_port;
        CHECK_KR(mach_port_extract_member(mach_task_self(), a, set), KERN_SUCCESS);
        after = members_of(set);
        CHECK(mt::status_of(a).mps_pset == MACH_PORT_NULL);
        // Out of the set, a is received from directly again.
        CHECK_KR(mt::send_simple(a, MACH_MSG_TYPE_COPY_SEND, 8), MACH_MSG_SUCCESS);
        CHECK_KR(mt::receive_simple(a, in, MACH_RCV_TIMEOUT, 0), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 8);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(both == std::vector<mach_port_name_t>{a, b});  // in the order they joined
    CHECK(from == b);
    CHECK(after == std::vector<mach_port_name_t>{b});
}

TEST_CASE("insert_member: KERN_ALREADY_IN_SET for a member, and for a port in another set (one set per port)") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t s1 = new_set();
        mach_port_t s2 = new_set();
        mach_port_t p = mt::new_receive_right();
        CHECK_KR(mach_port_insert_member(mach_task_self(), p, s1), KERN_SUCCESS);
        CHECK_KR(mach_port_insert_member(mach_task_self(), p, s1), KERN_ALREADY_IN_SET);
        CHECK_KR(mach_port_insert_member(mach_task_self(), p, s2), KERN_ALREADY_IN_SET);
        CHECK(mt::status_of(p).mps_pset == s1);  // nothing changed
        CHECK(members_of(s2).empty());
        // move_member still moves it.
        CHECK_KR(mach_port_move_member(mach_task_self(), p, s2), KERN_SUCCESS);
        CHECK(mt::status_of(p).mps_pset == s2);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("insert_member and extract_member codes: bad names, wrong rights, not a member") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t set = new_set();
        mach_port_t other = new_set();
        mach_port_t p = mt::new_port_with_send();
        mach_port_t dead = MACH_PORT_NULL;
        REQUIRE(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &dead) == KERN_SUCCESS);
        for (auto call : {mach_port_insert_member, mach_port_extract_member}) {
            CHECK_KR(call(mach_task_self(), MACH_PORT_NULL, set), KERN_INVALID_RIGHT);
            CHECK_KR(call(mach_task_self(), p, MACH_PORT_DEAD), KERN_INVALID_RIGHT);
            CHECK_KR(call(mach_task_self(), 0x9903, set), KERN_INVALID_NAME);
            CHECK_KR(call(mach_task_self(), p, 0x9903), KERN_INVALID_NAME);
            CHECK_KR(call(mach_task_self(), dead, set), KERN_INVALID_RIGHT);  // no receive right
            CHECK_KR(call(mach_task_self(), p, p), KERN_INVALID_RIGHT);       // not a set
            CHECK_KR(call(mach_task_self(), set, set), KERN_INVALID_RIGHT);   // a set is not a member
            CHECK_KR(call(MACH_PORT_NULL, p, set), MACH_SEND_INVALID_DEST);   // bad task (§2)
        }
        CHECK_KR(mach_port_extract_member(mach_task_self(), p, set), KERN_NOT_IN_SET);
        CHECK_KR(mach_port_insert_member(mach_task_self(), p, other), KERN_SUCCESS);
        CHECK_KR(mach_port_extract_member(mach_task_self(), p, set), KERN_NOT_IN_SET);  // in another set
        CHECK(mt::status_of(p).mps_pset == other);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("get_set_status: an empty set has no members and no array; codes for names that are not sets") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t set = new_set();
        mach_port_t p = mt::new_receive_right();
        kern_return_t kr = KERN_FAILURE;
        CHECK(members_of(set, &kr).empty());
        CHECK_KR(kr, KERN_SUCCESS);
        (void)members_of(p, &kr);
        CHECK_KR(kr, KERN_INVALID_RIGHT);
        (void)members_of(0x9903, &kr);
        CHECK_KR(kr, KERN_INVALID_NAME);
        (void)members_of(MACH_PORT_NULL, &kr);
        CHECK_KR(kr, KERN_INVALID_RIGHT);
        mach_msg_type_number_t n = 0;
        CHECK_KR(mach_port_get_set_status(mach_task_self(), set, nullptr, &n), KERN_INVALID_ADDRESS);
        // A destroyed member leaves the set.
        CHECK_KR(mach_port_insert_member(mach_task_self(), p, set), KERN_SUCCESS);
        CHECK(members_of(set).size() == 1);
        CHECK_KR(mach_port_destroy(mach_task_self(), p), KERN_SUCCESS);
        CHECK(members_of(set).empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("XNU port set calls")

TEST_SUITE("mach_port_construct") {

TEST_CASE("construct with MPO_INSERT_SEND_RIGHT | MPO_QLIMIT: a receive and a send right under one name, and the limit") {
    mach_port_type_t type = 0;
    mach_port_status_t st{};
    mach_port_context_t ctx = 0;
    mach_msg_return_t third = 0;
    machsim::RunReport r = mt::run_task([&] {
        kern_return_t kr = KERN_FAILURE;
        mach_port_t p = construct(MPO_INSERT_SEND_RIGHT | MPO_QLIMIT, 2, 0x5eed, &kr);
        CHECK_KR(kr, KERN_SUCCESS);
        type = mt::type_of(p);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
        st = mt::status_of(p);
        CHECK_KR(mach_port_get_context(mach_task_self(), p, &ctx), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2), MACH_MSG_SUCCESS);
        third = mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 3, MACH_SEND_TIMEOUT, 0);
        CHECK_KR(mach_port_destruct(mach_task_self(), p, -1, 0x5eed), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(type == (MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND));
    CHECK(st.mps_qlimit == 2);
    CHECK(st.mps_mscount == 1);
    CHECK(ctx == 0x5eed);
    CHECK_KR(third, MACH_SEND_TIMED_OUT);  // the queue holds two
}

TEST_CASE("construct with no flags is mach_port_allocate's receive right, with the default limit") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = construct(0);
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_RECEIVE);
        CHECK(mt::status_of(p).mps_qlimit == MACH_PORT_QLIMIT_DEFAULT);
        CHECK_KR(mach_port_destruct(mach_task_self(), p, 0, 0), KERN_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);  // the name is gone
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("construct refuses guard flags and a qlimit above the maximum, and leaves nothing behind") {
    machsim::RunReport r = mt::run_task([] {
        mach_msg_type_number_t before = mt::name_count();
        kern_return_t kr = KERN_SUCCESS;
        for (uint32_t flag : {MPO_CONTEXT_AS_GUARD, MPO_STRICT, MPO_IMMOVABLE_RECEIVE, MPO_FILTER_MSG, 0x10000}) {
            mach_port_t p = construct(flag | MPO_INSERT_SEND_RIGHT, 0, 0, &kr);
            CHECK_KR(kr, KERN_INVALID_ARGUMENT);
            CHECK(p == MACH_PORT_NULL);
        }
        (void)construct(MPO_QLIMIT, MACH_PORT_QLIMIT_LARGE + 1, 0, &kr);
        CHECK_KR(kr, KERN_INVALID_VALUE);
        // Scheduling hints are accepted and change nothing here.
        mach_port_t hinted = construct(MPO_TEMPOWNER | MPO_IMPORTANCE_RECEIVER | MPO_DENAP_RECEIVER, 0, 0, &kr);
        CHECK_KR(kr, KERN_SUCCESS);
        CHECK(mt::type_of(hinted) == MACH_PORT_TYPE_RECEIVE);
        CHECK_KR(mach_port_destruct(mach_task_self(), hinted, 0, 0), KERN_SUCCESS);
        CHECK(mt::name_count() == before);
        mach_port_options_t opts{};
        mach_port_name_t name = 0;
        CHECK_KR(mach_port_construct(mach_task_self(), nullptr, 0, &name), KERN_INVALID_ADDRESS);
        CHECK_KR(mach_port_construct(mach_task_self(), &opts, 0, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(mach_port_construct(MACH_PORT_NULL, &opts, 0, &name), MACH_SEND_INVALID_DEST);
        CHECK(mt::name_count() == before);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("destruct: srdelta drops send urefs first; send rights left over become a dead name") {
    mach_port_type_t left = 0;
    mach_port_urefs_t dead_refs = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = construct(MPO_INSERT_SEND_RIGHT);
        CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_SEND, 2), KERN_SUCCESS);  // 3 urefs
        CHECK_KR(mach_port_destruct(mach_task_self(), p, -1, 0), KERN_SUCCESS);
        left = mt::type_of(p);
        dead_refs = mt::refs(p, MACH_PORT_RIGHT_DEAD_NAME);
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), p), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(left == MACH_PORT_TYPE_DEAD_NAME);
    CHECK(dead_refs == 2);
}

TEST_CASE("destruct codes, each leaving the rights as they were") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = construct(MPO_INSERT_SEND_RIGHT);
        mach_port_t bare = construct(0);
        mach_port_t send_only = MACH_PORT_NULL;
        {
            mach_msg_type_name_t t = 0;
            REQUIRE(mach_port_extract_right(mach_task_self(), p, MACH_MSG_TYPE_MAKE_SEND, &send_only, &t) ==
                    KERN_SUCCESS);
        }
        CHECK_KR(mach_port_destruct(mach_task_self(), MACH_PORT_NULL, 0, 0), KERN_INVALID_NAME);
        CHECK_KR(mach_port_destruct(mach_task_self(), MACH_PORT_DEAD, 0, 0), KERN_INVALID_NAME);
        CHECK_KR(mach_port_destruct(mach_task_self(), 0x9903, 0, 0), KERN_INVALID_NAME);
        CHECK_KR(mach_port_destruct(mach_task_self(), bare, -1, 0), KERN_INVALID_RIGHT);  // no send right
        CHECK_KR(mach_port_destruct(mach_task_self(), p, 1, 0), KERN_INVALID_VALUE);      // srdelta > 0
        CHECK_KR(mach_port_destruct(mach_task_self(), p, -5, 0), KERN_INVALID_VALUE);     // more than it holds
        CHECK(mt::type_of(p) == (MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND));
        CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 2);  // its own, and the one extract_right made
        CHECK(send_only == p);                          // (send rights share the receive right's name)
        CHECK_KR(mach_port_destruct(mach_task_self(), p, -2, 0), KERN_SUCCESS);
        CHECK(mt::type_of(p) == 0xdead);
        CHECK_KR(mach_port_destruct(mach_task_self(), bare, 0, 0), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a send right alone cannot be destructed (KERN_INVALID_RIGHT)") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("owner", [] {
            mach_port_t p = construct(MPO_INSERT_SEND_RIGHT);
            CHECK_KR(bootstrap_register(bootstrap_port, "xnu.calls", p), KERN_SUCCESS);
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        });
        k.spawn("user", [] {
            mach_port_t p = MACH_PORT_NULL;
            while (bootstrap_look_up(bootstrap_port, "xnu.calls", &p) != KERN_SUCCESS)
                thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            CHECK_KR(mach_port_destruct(mach_task_self(), p, -1, 0), KERN_INVALID_RIGHT);
            CHECK(mt::refs(p, MACH_PORT_RIGHT_SEND) == 1);
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_MOVE_SEND, 1), MACH_MSG_SUCCESS);
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("get_context and set_context keep the receiver's value; a moved receive right arrives with none") {
    mach_port_context_t mine = 0, arrived = 1;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        mach_port_context_t c = 7;
        CHECK_KR(mach_port_get_context(mach_task_self(), p, &c), KERN_SUCCESS);
        CHECK(c == 0);
        CHECK_KR(mach_port_set_context(mach_task_self(), p, 0xfeedface12345678ull), KERN_SUCCESS);
        CHECK_KR(mach_port_get_context(mach_task_self(), p, &mine), KERN_SUCCESS);
        // Send p's receive right to ourselves through another port.
        mach_port_t carrier = mt::new_port_with_send();
        struct {
            mach_msg_header_t head;
            mach_msg_body_t body;
            mach_msg_port_descriptor_t port;
        } msg{};
        msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0) | MACH_MSGH_BITS_COMPLEX;
        msg.head.msgh_size = sizeof msg;
        msg.head.msgh_remote_port = carrier;
        msg.body.msgh_descriptor_count = 1;
        msg.port.name = p;
        msg.port.disposition = MACH_MSG_TYPE_MOVE_RECEIVE;
        msg.port.type = MACH_MSG_PORT_DESCRIPTOR;
        CHECK_KR(mach_msg(&msg.head, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL),
                 MACH_MSG_SUCCESS);
        struct {
            decltype(msg) m;
            mach_msg_trailer_t trailer;
        } in{};
        CHECK_KR(mach_msg(&in.m.head, MACH_RCV_MSG, 0, sizeof in, carrier, 0, MACH_PORT_NULL), MACH_MSG_SUCCESS);
        CHECK_KR(mach_port_get_context(mach_task_self(), in.m.port.name, &arrived), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(mine == 0xfeedface12345678ull);
    CHECK(arrived == 0);
}

TEST_CASE("context codes: a name without a receive right, a bad name, a bad pointer") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t set = new_set();
        mach_port_context_t c = 0;
        CHECK_KR(mach_port_get_context(mach_task_self(), MACH_PORT_NULL, &c), KERN_INVALID_RIGHT);
        CHECK_KR(mach_port_get_context(mach_task_self(), 0x9903, &c), KERN_INVALID_NAME);
        CHECK_KR(mach_port_get_context(mach_task_self(), set, &c), KERN_INVALID_RIGHT);
        CHECK_KR(mach_port_set_context(mach_task_self(), set, 1), KERN_INVALID_RIGHT);
        CHECK_KR(mach_port_set_context(mach_task_self(), 0x9903, 1), KERN_INVALID_NAME);
        mach_port_t p = mt::new_receive_right();
        CHECK_KR(mach_port_get_context(mach_task_self(), p, nullptr), KERN_INVALID_ADDRESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("mach_port_construct")
