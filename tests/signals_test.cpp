// Signals (machsim.h, "Signals"): handlers, the blocked and pending sets,
// default actions (terminate, ignore, stop, continue), SIGKILL and SIGSTOP,
// interrupted waits, faults that become signals, and their trace.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/lifecycle_support.h"  // also prints std::vector<int> in failures
#include "tests/support.h"

namespace {

using machsim::EventKind;
using machsim::MaskHow;
using machsim::SignalAction;
using machsim::SignalSet;
using machsim::signal_bit;
using machsim::TaskEnd;
namespace sig = machsim::sig;

constexpr SignalSet kAllSignals = 0x7fffffffu;  // numbers 1..31
constexpr mach_msg_return_t kNotYet = -12345;  // a result not returned yet

// What the handlers saw, in order. Handlers are plain functions, so they
// report through globals; every test clears them first.
std::vector<int> seen;
void record(int s) { seen.push_back(s); }

void reset() { seen.clear(); }

kern_return_t catch_with(int s, void (*handler)(int) = record, SignalSet mask = 0) {
    SignalAction a{SignalAction::Handle, handler, mask};
    return machsim::signal_action(s, &a, nullptr);
}

kern_return_t set_kind(int s, SignalAction::Kind kind) {
    SignalAction a{kind, nullptr, 0};
    return machsim::signal_action(s, &a, nullptr);
}

SignalSet current_mask() {
    SignalSet m = 0xdeadbeef;
    (void)machsim::signal_mask(MaskHow::Block, 0, &m);
    return m;
}

void yield(int times = 1) {
    for (int i = 0; i < times; ++i) (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
}

// Yields until pred() holds, at most `rounds` times; says whether it held.
template <class P>
bool yield_until(P&& pred, int rounds = 200) {
    for (int i = 0; i < rounds && !pred(); ++i) yield();
    return pred();
}

const machsim::TaskReport& report_of(const machsim::RunReport& r, const char* name) {
    const machsim::TaskReport* t = r.task(name);
    REQUIRE(t);
    return *t;
}

// Whether the task ended by signal s's default action.
bool signaled_by(const machsim::TaskReport& t, int s) { return t.end == TaskEnd::Signaled && t.exit_code == s; }

uint32_t task_id(const machsim::TraceLog& log, const std::string& name) {
    for (const auto& e : log.of_kind(EventKind::TaskCreate))
        if (e.text == name) return e.event.task;
    return 0;
}

struct Post {
    uint32_t by;      // acting task
    uint32_t target;  // space
    int signal;
    bool operator==(const Post&) const = default;
};
std::vector<Post> posts_of(const machsim::TraceLog& log) {
    std::vector<Post> out;
    for (const auto& e : log.of_kind(EventKind::SignalPost)) out.push_back({e.event.task, e.event.space, e.event.code});
    return out;
}

struct Act {
    uint32_t by;
    int signal;
    std::string what;
    bool operator==(const Act&) const = default;
};
std::vector<Act> actions_of(const machsim::TraceLog& log) {
    std::vector<Act> out;
    for (const auto& e : log.of_kind(EventKind::SignalAction)) out.push_back({e.event.task, e.event.code, e.text});
    return out;
}

using mt::page_with;
using mt::peek;
using mt::poke;

}  // namespace

namespace doctest {
template <>
struct StringMaker<Post> {
    static String convert(const Post& p) {
        return ("{by " + std::to_string(p.by) + " to " + std::to_string(p.target) + " " +
                machsim::signal_name(p.signal) + "}")
            .c_str();
    }
};
template <>
struct StringMaker<Act> {
    static String convert(const Act& a) {
        return ("{by " + std::to_string(a.by) + " " + machsim::signal_name(a.signal) + " " + a.what + "}").c_str();
    }
};
template <class T>
String list_of(const std::vector<T>& v) {
    String out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + StringMaker<T>::convert(v[i]);
    return out + "]";
}
template <>
struct StringMaker<std::vector<Post>> {
    static String convert(const std::vector<Post>& v) { return list_of(v); }
};
template <>
struct StringMaker<std::vector<Act>> {
    static String convert(const std::vector<Act>& v) { return list_of(v); }
};
}  // namespace doctest

TEST_SUITE("signals") {

// --- handlers ----------------------------------------------------------------

TEST_CASE("a signal from another task runs the target's handler, with that signal's number, in the target") {
    reset();
    bool armed = false;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("sender", [&] {
                mach_port_t target = machsim::task_spawn("target", [&](mach_port_t) {
                    CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
                    armed = true;
                    CHECK(yield_until([] { return !seen.empty(); }));
                });
                REQUIRE(MACH_PORT_VALID(target));
                REQUIRE(yield_until([&] { return armed; }));
                CHECK_KR(machsim::task_signal(target, sig::USR1), KERN_SUCCESS);
                CHECK(seen.empty());  // delivered when the target leaves the kernel, not in the sender's call
                CHECK(yield_until([] { return !seen.empty(); }));
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen == std::vector<int>{sig::USR1});
    uint32_t sender = task_id(log, "sender"), target = task_id(log, "target");
    CHECK(posts_of(log) == std::vector<Post>{{sender, target, sig::USR1}});
    CHECK(actions_of(log) == std::vector<Act>{{target, sig::USR1, "handler"}});  // run by the target
}

TEST_CASE("a task signalling itself runs the handler before task_signal returns") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(catch_with(sig::USR2), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR2), KERN_SUCCESS);
        CHECK(seen == std::vector<int>{sig::USR2});
        CHECK(machsim::signal_pending() == 0);
        CHECK(current_mask() == 0);  // the handler's blocking is undone
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("signal_action returns the previous action; the handler gets the number of the signal it was installed for") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        SignalAction old{SignalAction::Handle, record, 123};
        CHECK_KR(machsim::signal_action(sig::HUP, nullptr, &old), KERN_SUCCESS);
        CHECK(old.kind == SignalAction::Default);
        CHECK((old.handler == nullptr));
        CHECK(old.mask == 0);
        CHECK_KR(catch_with(sig::HUP, record, signal_bit(sig::INT)), KERN_SUCCESS);
        CHECK_KR(catch_with(sig::INT), KERN_SUCCESS);
        CHECK_KR(machsim::signal_action(sig::HUP, nullptr, &old), KERN_SUCCESS);
        CHECK(old.kind == SignalAction::Handle);
        CHECK((old.handler == &record));
        CHECK(old.mask == signal_bit(sig::INT));
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::INT), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::HUP), KERN_SUCCESS);
        CHECK(seen == std::vector<int>{sig::INT, sig::HUP});
    });
    CHECK(r.clean());
}

TEST_CASE("during a handler its signal and the action's mask are blocked; they are delivered after it returns") {
    reset();
    static SignalSet mask_inside = 0, pending_inside = 0;
    mask_inside = pending_inside = 0;
    struct H {
        static void usr1(int s) {
            seen.push_back(s);
            if (seen.size() > 1) return;
            mask_inside = current_mask();
            // Both stay pending: USR1 is the running handler's, USR2 is in its mask.
            CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR1), KERN_SUCCESS);
            CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR2), KERN_SUCCESS);
            pending_inside = machsim::signal_pending();
            seen.push_back(-1);  // the handler's end
        }
    };
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(catch_with(sig::USR1, H::usr1, signal_bit(sig::USR2)), KERN_SUCCESS);
        CHECK_KR(catch_with(sig::USR2), KERN_SUCCESS);
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, signal_bit(sig::HUP), nullptr), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR1), KERN_SUCCESS);
        // Lowest number first once the handler is over: USR1 again, then USR2.
        CHECK(seen == std::vector<int>{sig::USR1, -1, sig::USR1, sig::USR2});
        CHECK(current_mask() == signal_bit(sig::HUP));  // what it was before the handler
        CHECK(machsim::signal_pending() == 0);
    });
    CHECK(r.clean());
    CHECK(mask_inside == (signal_bit(sig::HUP) | signal_bit(sig::USR1) | signal_bit(sig::USR2)));
    CHECK(pending_inside == (signal_bit(sig::USR1) | signal_bit(sig::USR2)));
}

TEST_CASE("a signal is delivered once, to one thread, however many threads the task has") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
        int done = 0;
        for (int i = 0; i < 3; ++i)
            machsim::thread_start([&done] {
                yield(20);
                ++done;
            });
        yield();
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR1), KERN_SUCCESS);
        CHECK(yield_until([&] { return done == 3; }));
        CHECK(seen == std::vector<int>{sig::USR1});
    });
    CHECK(r.clean());
}

TEST_CASE("once one thread has taken the signal, the task's other threads' waits are not interrupted") {
    reset();
    kern_return_t waited = kNotYet;
    machsim::RunReport r = mt::run_task([&waited] {
        CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        bool done = false;
        machsim::thread_start([&waited, &done, s] {  // has not run yet when the signal comes
            waited = semaphore_timedwait(s, mach_timespec_t{0, 50'000});
            done = true;
        });
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR1), KERN_SUCCESS);  // taken by this thread
        CHECK(seen == std::vector<int>{sig::USR1});
        CHECK(yield_until([&] { return done; }, 1000));
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(waited, KERN_OPERATION_TIMED_OUT);
}

namespace {
kern_return_t handler_waited = kNotYet;
semaphore_t handler_semaphore = MACH_PORT_NULL;
void wait_in_handler(int s) {
    record(s);
    handler_waited = semaphore_timedwait(handler_semaphore, mach_timespec_t{0, 50'000});
}
}  // namespace

TEST_CASE("a handler's own first wait is not interrupted by the signal it is handling") {
    reset();
    handler_waited = kNotYet;
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(semaphore_create(mach_task_self(), &handler_semaphore, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        CHECK_KR(catch_with(sig::USR1, wait_in_handler), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR1), KERN_SUCCESS);
        CHECK(seen == std::vector<int>{sig::USR1});
        CHECK_KR(semaphore_destroy(mach_task_self(), handler_semaphore), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(handler_waited, KERN_OPERATION_TIMED_OUT);
}

// --- the blocked and pending sets ----------------------------------------------

TEST_CASE("a blocked signal stays pending (signal_pending shows it) and is delivered as the unblocking call returns") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        mach_port_t self = mach_task_self();
        CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
        SignalSet old = 0xdead;
        CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::USR1), &old), KERN_SUCCESS);
        CHECK(old == 0);
        CHECK(machsim::signal_pending() == 0);
        CHECK_KR(machsim::task_signal(self, sig::USR1), KERN_SUCCESS);
        CHECK(seen.empty());
        CHECK(machsim::signal_pending() == signal_bit(sig::USR1));
        yield(3);
        CHECK(seen.empty());
        CHECK_KR(machsim::task_signal(self, sig::USR1), KERN_SUCCESS);  // signals do not queue: still one
        CHECK(machsim::signal_pending() == signal_bit(sig::USR1));
        old = 0xdead;
        CHECK_KR(machsim::signal_mask(MaskHow::Unblock, signal_bit(sig::USR1), &old), KERN_SUCCESS);
        CHECK(old == signal_bit(sig::USR1));
        CHECK(seen == std::vector<int>{sig::USR1});  // exactly once, before signal_mask returned
        CHECK(machsim::signal_pending() == 0);

        // SetMask replaces the set, and unblocking through it delivers too.
        CHECK_KR(catch_with(sig::USR2), KERN_SUCCESS);
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, signal_bit(sig::USR2) | signal_bit(sig::HUP), &old),
                 KERN_SUCCESS);
        CHECK(old == 0);
        CHECK(current_mask() == (signal_bit(sig::USR2) | signal_bit(sig::HUP)));
        CHECK_KR(machsim::task_signal(self, sig::USR2), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == signal_bit(sig::USR2));
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, signal_bit(sig::HUP), nullptr), KERN_SUCCESS);
        CHECK(seen == std::vector<int>{sig::USR1, sig::USR2});
        CHECK(current_mask() == signal_bit(sig::HUP));
    });
    CHECK(r.clean());
}

TEST_CASE("a blocked signal sent by another task waits until the target unblocks it") {
    reset();
    bool armed = false, unblock = false, unblocked = false;
    SignalSet pending = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("sender", [&] {
            mach_port_t target = machsim::task_spawn("target", [&](mach_port_t) {
                CHECK_KR(catch_with(sig::TERM), KERN_SUCCESS);
                CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::TERM), nullptr), KERN_SUCCESS);
                armed = true;
                CHECK(yield_until([&] { return unblock; }));
                pending = machsim::signal_pending();
                CHECK(seen.empty());
                CHECK_KR(machsim::signal_mask(MaskHow::Unblock, signal_bit(sig::TERM), nullptr), KERN_SUCCESS);
                unblocked = true;
                CHECK(seen == std::vector<int>{sig::TERM});
            });
            REQUIRE(yield_until([&] { return armed; }));
            CHECK_KR(machsim::task_signal(target, sig::TERM), KERN_SUCCESS);
            yield(5);
            CHECK(seen.empty());
            unblock = true;
            CHECK(yield_until([&] { return unblocked; }));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(pending == signal_bit(sig::TERM));
    CHECK(seen == std::vector<int>{sig::TERM});
}

TEST_CASE("a blocked SIGTERM with the default action ends the task only when unblocked") {
    bool before = false, after = false;
    machsim::RunReport r = mt::run_task([&] {
        CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::TERM), nullptr), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::TERM), KERN_SUCCESS);
        yield(2);
        before = true;
        (void)machsim::signal_mask(MaskHow::Unblock, signal_bit(sig::TERM), nullptr);
        after = true;  // never: the task ends as that call returns
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(before);
    CHECK_FALSE(after);
    CHECK(signaled_by(t, sig::TERM));
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("setting Ignore discards a pending signal, and an ignored signal is not made pending") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        mach_port_t self = mach_task_self();
        CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
        CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::USR1), nullptr), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(self, sig::USR1), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == signal_bit(sig::USR1));
        CHECK_KR(set_kind(sig::USR1, SignalAction::Ignore), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == 0);
        CHECK_KR(machsim::task_signal(self, sig::USR1), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == 0);
        CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
        CHECK_KR(machsim::signal_mask(MaskHow::Unblock, signal_bit(sig::USR1), nullptr), KERN_SUCCESS);
        CHECK(seen.empty());  // nothing was left to deliver

        // An ignored, unblocked SIGTERM does not end the task.
        CHECK_KR(set_kind(sig::TERM, SignalAction::Ignore), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(self, sig::TERM), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == 0);

        // Back to Default for a signal whose default is to ignore also discards it (POSIX).
        CHECK_KR(catch_with(sig::WINCH), KERN_SUCCESS);
        CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::WINCH), nullptr), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(self, sig::WINCH), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == signal_bit(sig::WINCH));
        CHECK_KR(set_kind(sig::WINCH, SignalAction::Default), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == 0);
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, 0, nullptr), KERN_SUCCESS);
        CHECK(seen.empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("URG, CHLD, IO, WINCH and INFO are ignored by default; the task runs on") {
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [](machsim::Kernel& k) {
            k.spawn("test", [] {
                for (int s : {sig::URG, sig::CHLD, sig::IO, sig::WINCH, sig::INFO}) {
                    CHECK_KR(machsim::task_signal(mach_task_self(), s), KERN_SUCCESS);
                    CHECK(machsim::signal_pending() == 0);
                }
                yield(2);
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(report_of(r, "test").end == TaskEnd::Exited);
    std::vector<Act> acts = actions_of(log);
    REQUIRE(acts.size() == 5);
    for (const Act& a : acts) CHECK(a.what == "ignore");
}

// --- arguments -----------------------------------------------------------------

TEST_CASE("bad signal numbers, Handle without a handler, a bad kind and a bad MaskHow are KERN_INVALID_ARGUMENT") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        SignalAction h{SignalAction::Handle, record, 0};
        SignalAction old{};
        for (int bad : {0, 32, -1, 64}) {
            CAPTURE(bad);
            CHECK_KR(machsim::signal_action(bad, &h, nullptr), KERN_INVALID_ARGUMENT);
            CHECK_KR(machsim::signal_action(bad, nullptr, &old), KERN_INVALID_ARGUMENT);
            CHECK_KR(machsim::task_signal(mach_task_self(), bad == 0 ? 33 : bad), KERN_INVALID_ARGUMENT);
        }
        CHECK_KR(catch_with(sig::USR1, record, signal_bit(sig::HUP)), KERN_SUCCESS);
        SignalAction null_handler{SignalAction::Handle, nullptr, 0};
        CHECK_KR(machsim::signal_action(sig::USR1, &null_handler, nullptr), KERN_INVALID_ARGUMENT);
        SignalAction bad_kind{static_cast<SignalAction::Kind>(7), record, 0};
        CHECK_KR(machsim::signal_action(sig::USR1, &bad_kind, nullptr), KERN_INVALID_ARGUMENT);
        // A refused action leaves the old one in place.
        CHECK_KR(machsim::signal_action(sig::USR1, nullptr, &old), KERN_SUCCESS);
        CHECK(old.kind == SignalAction::Handle);
        CHECK((old.handler == &record));
        CHECK(old.mask == signal_bit(sig::HUP));

        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, signal_bit(sig::HUP), nullptr), KERN_SUCCESS);
        SignalSet was = 0xdead;
        CHECK_KR(machsim::signal_mask(static_cast<MaskHow>(3), signal_bit(sig::USR1), &was), KERN_INVALID_ARGUMENT);
        CHECK_KR(machsim::signal_mask(static_cast<MaskHow>(200), 0, nullptr), KERN_INVALID_ARGUMENT);
        CHECK(current_mask() == signal_bit(sig::HUP));  // unchanged
        CHECK(machsim::signal_pending() == 0);          // no bad call posted anything
        CHECK(seen.empty());
    });
    CHECK(r.clean());
}

TEST_CASE("an act signal_action cannot read, or an old it cannot write, is KERN_INVALID_ADDRESS and changes nothing") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        static const SignalAction kReadOnly{};  // in the host's read-only data
        auto* unwritable = const_cast<SignalAction*>(&kReadOnly);
        auto* unreadable = reinterpret_cast<const SignalAction*>(uintptr_t{8});
        CHECK_KR(catch_with(sig::USR1, record, signal_bit(sig::HUP)), KERN_SUCCESS);
        SignalAction ignore{SignalAction::Ignore, nullptr, 0};
        CHECK_KR(machsim::signal_action(sig::USR1, unreadable, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(machsim::signal_action(sig::USR1, &ignore, unwritable), KERN_INVALID_ADDRESS);
        SignalAction old{};
        CHECK_KR(machsim::signal_action(sig::USR1, nullptr, &old), KERN_SUCCESS);
        CHECK(old.kind == SignalAction::Handle);  // neither call set Ignore
        CHECK((old.handler == &record));

        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, signal_bit(sig::HUP), nullptr), KERN_SUCCESS);
        CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::USR1), reinterpret_cast<SignalSet*>(unwritable)),
                 KERN_INVALID_ADDRESS);
        CHECK(current_mask() == signal_bit(sig::HUP));  // USR1 was not blocked
        CHECK(kReadOnly.kind == SignalAction::Default);
        CHECK(seen.empty());
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("SIGKILL and SIGSTOP cannot be caught or ignored, and signal_mask silently drops them") {
    machsim::RunReport r = mt::run_task([] {
        SignalAction handle{SignalAction::Handle, record, 0};
        SignalAction ignore{SignalAction::Ignore, nullptr, 0};
        SignalAction dflt{SignalAction::Default, nullptr, 0};
        for (int s : {sig::KILL, sig::STOP}) {
            CAPTURE(s);
            CHECK_KR(machsim::signal_action(s, &handle, nullptr), KERN_INVALID_ARGUMENT);
            CHECK_KR(machsim::signal_action(s, &ignore, nullptr), KERN_INVALID_ARGUMENT);
            CHECK_KR(machsim::signal_action(s, &dflt, nullptr), KERN_SUCCESS);
            SignalAction old{SignalAction::Ignore, record, 1};
            CHECK_KR(machsim::signal_action(s, nullptr, &old), KERN_SUCCESS);
            CHECK(old.kind == SignalAction::Default);
        }
        SignalSet uncatchable = signal_bit(sig::KILL) | signal_bit(sig::STOP);
        CHECK_KR(machsim::signal_mask(MaskHow::Block, uncatchable | signal_bit(sig::USR1), nullptr), KERN_SUCCESS);
        CHECK(current_mask() == signal_bit(sig::USR1));
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, kAllSignals, nullptr), KERN_SUCCESS);
        CHECK(current_mask() == (kAllSignals & ~uncatchable));
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, 0, nullptr), KERN_SUCCESS);
    });
    CHECK(r.clean());
}

TEST_CASE("task_signal needs a send right to a live task's port: other names are MACH_SEND_INVALID_DEST; 0 only checks") {
    machsim::TraceLog log;
    bool child_ran_on = false;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("test", [&] {
                mach_port_t port = mt::new_port_with_send();
                mach_port_t recv_only = mt::new_receive_right();
                mach_port_t thread = mach_thread_self();
                semaphore_t sem = MACH_PORT_NULL;
                CHECK_KR(semaphore_create(mach_task_self(), &sem, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
                for (mach_port_t bad : {mach_port_t{MACH_PORT_NULL}, mach_port_t{MACH_PORT_DEAD}, port, recv_only,
                                        thread, sem, mach_port_t{0x4242}}) {
                    CAPTURE(bad);
                    CHECK_KR(machsim::task_signal(bad, sig::TERM), MACH_SEND_INVALID_DEST);
                    CHECK_KR(machsim::task_signal(bad, 0), MACH_SEND_INVALID_DEST);
                }
                CHECK_KR(machsim::task_signal(port, 99), MACH_SEND_INVALID_DEST);  // the name is checked first
                CHECK_KR(machsim::task_signal(mach_task_self(), 0), KERN_SUCCESS);

                mach_port_t child = machsim::task_spawn("child", [&](mach_port_t) {
                    yield(5);
                    child_ran_on = true;
                });
                REQUIRE(MACH_PORT_VALID(child));
                CHECK_KR(machsim::task_signal(child, 0), KERN_SUCCESS);  // default action TERM, but 0 posts nothing
                CHECK(yield_until([&] { return mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME; }));
                CHECK_KR(machsim::task_signal(child, 0), MACH_SEND_INVALID_DEST);  // it has ended
                CHECK_KR(machsim::task_signal(child, sig::TERM), MACH_SEND_INVALID_DEST);
                CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
                CHECK_KR(mach_port_deallocate(mach_task_self(), thread), KERN_SUCCESS);
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(child_ran_on);
    CHECK(report_of(r, "child").end == TaskEnd::Exited);
    CHECK(log.of_kind(EventKind::SignalPost).empty());
    CHECK(log.of_kind(EventKind::SignalAction).empty());
}

// --- default actions -----------------------------------------------------------

TEST_CASE("a terminating default action ends only the target: Signaled, exit_code = the signal; others run on") {
    for (int s : {sig::HUP, sig::INT, sig::QUIT, sig::PIPE, sig::ALRM, sig::TERM, sig::XCPU, sig::PROF, sig::USR1,
                  sig::USR2}) {
        CAPTURE(machsim::signal_name(s));
        int victim_steps = 0, bystander_steps = 0;
        bool victim_dead = false;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            k.spawn("killer", [&] {
                mach_port_t victim = machsim::task_spawn("victim", [&](mach_port_t) {
                    for (int i = 0; i < 100; ++i) {
                        ++victim_steps;
                        yield();
                    }
                });
                REQUIRE(yield_until([&] { return victim_steps >= 3; }));
                CHECK_KR(machsim::task_signal(victim, s), KERN_SUCCESS);
                victim_dead = yield_until([&] { return mt::type_of(victim) == MACH_PORT_TYPE_DEAD_NAME; });
            });
            k.spawn("bystander", [&] {
                for (int i = 0; i < 30; ++i) {
                    ++bystander_steps;
                    yield();
                }
            });
        });
        INFO(r.summary());
        const machsim::TaskReport& v = report_of(r, "victim");
        CHECK(signaled_by(v, s));
        CHECK(v.detail.find(machsim::signal_name(s)) != std::string::npos);
        CHECK(victim_dead);
        CHECK(victim_steps < 10);  // it ended at its next kernel exit, not at the end of its loop
        CHECK(report_of(r, "killer").end == TaskEnd::Exited);
        CHECK(report_of(r, "bystander").end == TaskEnd::Exited);
        CHECK(bystander_steps == 30);
        mt::check_sound(r);
    }
}

TEST_CASE("SIGKILL cannot be caught and kills a task blocked forever in mach_msg receive, unwinding it") {
    bool blocked = false, unwound = false, returned = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("killer", [&] {
            mach_port_t victim = machsim::task_spawn("victim", [&](mach_port_t) {
                SignalAction h{SignalAction::Handle, record, 0};
                CHECK_KR(machsim::signal_action(sig::KILL, &h, nullptr), KERN_INVALID_ARGUMENT);
                CHECK_KR(machsim::signal_mask(MaskHow::SetMask, kAllSignals, nullptr), KERN_SUCCESS);
                struct Guard {
                    bool* flag;
                    ~Guard() { *flag = true; }
                } g{&unwound};
                mach_port_t p = mt::new_receive_right();
                blocked = true;
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);  // nobody else can send here
                returned = true;
            });
            REQUIRE(yield_until([&] { return blocked; }));
            yield(2);
            CHECK_KR(machsim::task_signal(victim, sig::KILL), KERN_SUCCESS);
            CHECK(yield_until([&] { return mt::type_of(victim) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& v = report_of(r, "victim");
    CHECK(signaled_by(v, sig::KILL));
    CHECK(v.detail.find("SIGKILL") != std::string::npos);
    CHECK(unwound);
    CHECK_FALSE(returned);
    CHECK_FALSE(r.deadlock);
    CHECK(report_of(r, "killer").end == TaskEnd::Exited);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("a task sending SIGKILL to itself ends in that call, even with every signal blocked") {
    bool after = false;
    machsim::RunReport r = mt::run_task([&] {
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, kAllSignals, nullptr), KERN_SUCCESS);
        (void)machsim::task_signal(mach_task_self(), sig::KILL);
        after = true;
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(signaled_by(t, sig::KILL));
    CHECK_FALSE(after);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("a task blocked in mach_msg receive is ended by a SIGTERM with the default action") {
    bool blocked = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("killer", [&] {
            mach_port_t victim = machsim::task_spawn("victim", [&](mach_port_t) {
                mach_port_t p = mt::new_receive_right();
                blocked = true;
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);
            });
            REQUIRE(yield_until([&] { return blocked; }));
            yield(2);
            CHECK_KR(machsim::task_signal(victim, sig::TERM), KERN_SUCCESS);
            CHECK(yield_until([&] { return mt::type_of(victim) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& v = report_of(r, "victim");
    CHECK(signaled_by(v, sig::TERM));
    mt::check_sound(r);
}

// --- stop and continue ---------------------------------------------------------

// A task counting in a loop of thread_switch calls, and its task port.
namespace {
struct Counter {
    int steps = 0;
    int limit = 200;
    mach_port_t port = MACH_PORT_NULL;
    void start(const char* name) {
        port = machsim::task_spawn(name, [this](mach_port_t) {
            for (int i = 0; i < limit; ++i) {
                ++steps;
                yield();
            }
        });
    }
};
}  // namespace

TEST_CASE("SIGSTOP stops a task (no progress while others run) and SIGCONT continues it") {
    Counter c;
    int at_stop = -1, after_wait = -1;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("controller", [&] {
                c.start("counter");
                REQUIRE(yield_until([&] { return c.steps >= 3; }));
                CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
                at_stop = c.steps;  // it is in thread_switch: it stops on its way out
                yield(20);
                after_wait = c.steps;
                CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
                CHECK(yield_until([&] { return c.steps == c.limit; }, 1000));
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(at_stop == after_wait);
    CHECK(c.steps == c.limit);
    uint32_t controller = task_id(log, "controller"), counter = task_id(log, "counter");
    CHECK(actions_of(log) == std::vector<Act>{{counter, sig::STOP, "stop"}, {controller, sig::CONT, "continue"}});
}

TEST_CASE("task_resume ends a stop; a later SIGSTOP stops the task again") {
    Counter c;
    int stopped_at = -1, second_stop = -1;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("controller", [&] {
            c.start("counter");
            REQUIRE(yield_until([&] { return c.steps >= 3; }));
            CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
            yield(5);
            stopped_at = c.steps;
            CHECK_KR(task_resume(c.port), KERN_SUCCESS);  // not SIGCONT: the stop ends all the same
            REQUIRE(yield_until([&] { return c.steps >= stopped_at + 3; }));
            CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
            yield(5);
            second_stop = c.steps;
            yield(20);
            CHECK(c.steps == second_stop);  // stopped again
            CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
            CHECK(yield_until([&] { return c.steps == c.limit; }, 1000));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(second_stop > stopped_at);
}

TEST_CASE("TSTP, TTIN and TTOU stop by default too; SIGCONT continues") {
    for (int s : {sig::TSTP, sig::TTIN, sig::TTOU}) {
        CAPTURE(machsim::signal_name(s));
        Counter c;
        int at_stop = -1, after_wait = -1;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            k.spawn("controller", [&] {
                c.start("counter");
                REQUIRE(yield_until([&] { return c.steps >= 3; }));
                CHECK_KR(machsim::task_signal(c.port, s), KERN_SUCCESS);
                at_stop = c.steps;
                yield(20);
                after_wait = c.steps;
                CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
                CHECK(yield_until([&] { return c.steps == c.limit; }, 1000));
            });
        });
        INFO(r.summary());
        CHECK(r.clean());
        CHECK(at_stop == after_wait);
        CHECK(c.steps == c.limit);
    }
}

TEST_CASE("a task stopping itself stays in task_signal until another task continues it") {
    bool stopping = false, back = false;
    kern_return_t kr = KERN_FAILURE;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("controller", [&] {
            mach_port_t child = machsim::task_spawn("child", [&](mach_port_t) {
                stopping = true;
                kr = machsim::task_signal(mach_task_self(), sig::STOP);
                back = true;
            });
            REQUIRE(yield_until([&] { return stopping; }));
            yield(10);
            CHECK_FALSE(back);
            CHECK_KR(machsim::task_signal(child, sig::CONT), KERN_SUCCESS);
            CHECK(yield_until([&] { return back; }));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(kr, KERN_SUCCESS);
}

TEST_CASE("SIGSTOP stops every thread of the task, even with every signal blocked; SIGCONT continues them all") {
    int a = 0, b = 0;
    bool armed = false;
    int a_stop = -1, b_stop = -1, a_later = -1, b_later = -1;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("controller", [&] {
            mach_port_t child = machsim::task_spawn("two-threads", [&](mach_port_t) {
                CHECK_KR(machsim::signal_mask(MaskHow::SetMask, kAllSignals, nullptr), KERN_SUCCESS);
                machsim::thread_start([&] {
                    for (int i = 0; i < 100; ++i, ++b) yield();
                });
                armed = true;
                for (int i = 0; i < 100; ++i, ++a) yield();
                CHECK(yield_until([&] { return b == 100; }));
            });
            REQUIRE(yield_until([&] { return armed && a >= 3 && b >= 3; }));
            CHECK_KR(machsim::task_signal(child, sig::STOP), KERN_SUCCESS);
            a_stop = a;
            b_stop = b;
            yield(20);
            a_later = a;
            b_later = b;
            CHECK_KR(machsim::task_signal(child, sig::CONT), KERN_SUCCESS);
            CHECK(yield_until([&] { return a == 100 && b == 100; }, 1000));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(a_stop == a_later);
    CHECK(b_stop == b_later);
}

TEST_CASE("SIGCONT continues a stopped task even when ignored or blocked; a blocked one's handler runs when unblocked") {
    for (bool blocked : {false, true}) {
        CAPTURE(blocked);
        reset();
        Counter c;
        bool armed = false;
        int at_stop = -1, after_wait = -1;
        std::size_t handled_before_unblock = 99;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            k.spawn("controller", [&] {
                c.port = machsim::task_spawn("counter", [&](mach_port_t) {
                    if (blocked) {
                        CHECK_KR(catch_with(sig::CONT), KERN_SUCCESS);
                        CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::CONT), nullptr), KERN_SUCCESS);
                    } else {
                        CHECK_KR(set_kind(sig::CONT, SignalAction::Ignore), KERN_SUCCESS);
                    }
                    armed = true;
                    for (int i = 0; i < c.limit; ++i) {
                        ++c.steps;
                        yield();
                    }
                    handled_before_unblock = seen.size();
                    CHECK_KR(machsim::signal_mask(MaskHow::SetMask, 0, nullptr), KERN_SUCCESS);
                });
                REQUIRE(yield_until([&] { return armed && c.steps >= 3; }));
                CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
                at_stop = c.steps;
                yield(20);
                after_wait = c.steps;
                CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
                CHECK(yield_until([&] { return c.steps == c.limit; }, 1000));
            });
        });
        INFO(r.summary());
        CHECK(r.clean());
        CHECK(at_stop == after_wait);
        CHECK(c.steps == c.limit);
        CHECK(handled_before_unblock == 0);
        CHECK(seen == (blocked ? std::vector<int>{sig::CONT} : std::vector<int>{}));
    }
}

TEST_CASE("SIGCONT with a handler continues a stopped task and then runs the handler; unstopped, it only runs it") {
    reset();
    Counter c;
    bool armed = false;
    int at_stop = -1, after_wait = -1;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("controller", [&] {
            c.port = machsim::task_spawn("counter", [&](mach_port_t) {
                CHECK_KR(catch_with(sig::CONT), KERN_SUCCESS);
                armed = true;
                for (int i = 0; i < c.limit; ++i) {
                    ++c.steps;
                    yield();
                }
            });
            REQUIRE(yield_until([&] { return armed && c.steps >= 3; }));
            CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);  // not stopped: just the handler
            CHECK(yield_until([] { return seen.size() == 1; }));
            CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
            at_stop = c.steps;
            yield(20);
            after_wait = c.steps;
            CHECK(seen.size() == 1);
            CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
            CHECK(yield_until([] { return seen.size() == 2; }));
            CHECK(yield_until([&] { return c.steps == c.limit; }, 1000));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(at_stop == after_wait);
    CHECK(seen == std::vector<int>{sig::CONT, sig::CONT});
}

TEST_CASE("a stop signal cancels a pending SIGCONT and SIGCONT cancels pending stop signals") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        mach_port_t self = mach_task_self();
        CHECK_KR(catch_with(sig::CONT), KERN_SUCCESS);
        SignalSet blocked = signal_bit(sig::CONT) | signal_bit(sig::TSTP) | signal_bit(sig::TTIN) |
                            signal_bit(sig::TTOU);
        CHECK_KR(machsim::signal_mask(MaskHow::Block, blocked, nullptr), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(self, sig::CONT), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == signal_bit(sig::CONT));
        CHECK_KR(machsim::task_signal(self, sig::TSTP), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == signal_bit(sig::TSTP));
        CHECK_KR(machsim::task_signal(self, sig::TTIN), KERN_SUCCESS);
        CHECK_KR(machsim::task_signal(self, sig::TTOU), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == (signal_bit(sig::TSTP) | signal_bit(sig::TTIN) | signal_bit(sig::TTOU)));
        CHECK_KR(machsim::task_signal(self, sig::CONT), KERN_SUCCESS);
        CHECK(machsim::signal_pending() == signal_bit(sig::CONT));
        // Unblocked, only the continue is left: the handler runs and the task never stops.
        CHECK_KR(machsim::signal_mask(MaskHow::SetMask, 0, nullptr), KERN_SUCCESS);
        CHECK(seen == std::vector<int>{sig::CONT});
        CHECK(machsim::signal_pending() == 0);
    });
    INFO(r.summary());
    CHECK(r.clean());  // a stopped task would never have finished (deadlock)
}

TEST_CASE("SIGSTOP then SIGCONT before the target runs: the stop is cancelled and the target never stops") {
    Counter c;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("controller", [&] {
                c.limit = 30;
                c.start("counter");
                REQUIRE(yield_until([&] { return c.steps >= 3; }));
                CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
                CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
                int before = c.steps;
                yield(3);
                CHECK(c.steps > before);
                CHECK(yield_until([&] { return c.steps == c.limit; }));
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    for (const Act& a : actions_of(log)) CHECK(a.what != "stop");
}

TEST_CASE("signals sent to a stopped task wait for SIGCONT; SIGKILL does not") {
    reset();
    Counter c;
    bool armed = false;
    bool alive_while_stopped = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("controller", [&] {
            c.port = machsim::task_spawn("counter", [&](mach_port_t) {
                CHECK_KR(catch_with(sig::HUP), KERN_SUCCESS);
                armed = true;
                for (int i = 0; i < c.limit; ++i) {
                    ++c.steps;
                    yield();
                }
            });
            REQUIRE(yield_until([&] { return armed; }));
            CHECK_KR(machsim::task_signal(c.port, sig::STOP), KERN_SUCCESS);
            yield(3);
            int stopped_at = c.steps;
            CHECK_KR(machsim::task_signal(c.port, sig::HUP), KERN_SUCCESS);
            CHECK_KR(machsim::task_signal(c.port, sig::TERM), KERN_SUCCESS);
            yield(10);
            CHECK(seen.empty());
            alive_while_stopped = mt::type_of(c.port) == MACH_PORT_TYPE_SEND;
            CHECK(c.steps == stopped_at);
            CHECK_KR(machsim::task_signal(c.port, sig::CONT), KERN_SUCCESS);
            // Continued, it takes HUP (its handler; lowest number first) and then TERM (the default: it ends).
            CHECK(yield_until([&] { return mt::type_of(c.port) == MACH_PORT_TYPE_DEAD_NAME; }));
            CHECK(seen == std::vector<int>{sig::HUP});
        });
    });
    INFO(r.summary());
    CHECK(alive_while_stopped);
    CHECK(signaled_by(report_of(r, "counter"), sig::TERM));
    CHECK(report_of(r, "controller").end == TaskEnd::Exited);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());

    // SIGKILL ends a stopped task at once.
    Counter d;
    machsim::RunReport r2 = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("controller", [&] {
            d.start("counter");
            REQUIRE(yield_until([&] { return d.steps >= 2; }));
            CHECK_KR(machsim::task_signal(d.port, sig::STOP), KERN_SUCCESS);
            yield(5);
            CHECK_KR(machsim::task_signal(d.port, sig::KILL), KERN_SUCCESS);
            CHECK(yield_until([&] { return mt::type_of(d.port) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r2.summary());
    CHECK(signaled_by(report_of(r2, "counter"), sig::KILL));
    CHECK_FALSE(r2.deadlock);
    CHECK(r2.leaks.empty());
    CHECK(r2.accounting.empty());
}

// --- interrupted waits ---------------------------------------------------------

// The target's one thread waits in mach_msg receive on a port whose send right
// the sender holds; the sender signals it, then (optionally) sends a message.
namespace {
struct ReceiveRun {
    mach_msg_return_t got = kNotYet;
    int payload = 0;
    std::size_t handled_before_return = 99;
    bool returned_early = false;
};

ReceiveRun interrupted_receive(mach_msg_option_t extra) {
    reset();
    ReceiveRun out;
    bool waiting = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("sender", [&] {
            mach_port_t p = mt::new_port_with_send();
            mach_port_t target = machsim::task_spawn(
                "target",
                [&](mach_port_t rcv) {
                    CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
                    waiting = true;
                    mt::SimpleReceived in;
                    out.got = mt::receive_simple(rcv, in, extra);
                    out.handled_before_return = seen.size();
                    out.payload = in.msg.payload;
                },
                p, MACH_MSG_TYPE_MOVE_RECEIVE);
            REQUIRE(MACH_PORT_VALID(target));
            REQUIRE(mt::type_of(p) == MACH_PORT_TYPE_SEND);  // the send right stays here
            REQUIRE(yield_until([&] { return waiting; }));
            yield(2);
            CHECK_KR(machsim::task_signal(target, sig::USR1), KERN_SUCCESS);
            CHECK(yield_until([] { return !seen.empty(); }));
            yield(3);
            out.returned_early = out.got != kNotYet;
            if (!out.returned_early) CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);
            CHECK(yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen == std::vector<int>{sig::USR1});
    return out;
}
}  // namespace

TEST_CASE("a thread blocked in mach_msg receive runs the handler, then its receive continues and gets a later message") {
    ReceiveRun run = interrupted_receive(0);
    CHECK_FALSE(run.returned_early);
    CHECK_KR(run.got, MACH_MSG_SUCCESS);
    CHECK(run.payload == 42);
    CHECK(run.handled_before_return == 1);
}

TEST_CASE("with MACH_RCV_INTERRUPT, a receive interrupted by a signal returns MACH_RCV_INTERRUPTED after the handler") {
    ReceiveRun run = interrupted_receive(MACH_RCV_INTERRUPT);
    CHECK(run.returned_early);
    CHECK_KR(run.got, MACH_RCV_INTERRUPTED);
    CHECK(run.handled_before_return == 1);
}

TEST_CASE("a semaphore_wait interrupted by a signal runs the handler and returns KERN_ABORTED") {
    reset();
    bool waiting = false;
    kern_return_t got = KERN_SUCCESS;
    std::size_t handled_before_return = 99;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("sender", [&] {
            mach_port_t target = machsim::task_spawn("target", [&](mach_port_t) {
                CHECK_KR(catch_with(sig::ALRM), KERN_SUCCESS);
                semaphore_t s = MACH_PORT_NULL;
                CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
                waiting = true;
                got = semaphore_wait(s);
                handled_before_return = seen.size();
                // The aborted wait left the semaphore: a signal now is kept, not given to a ghost waiter.
                CHECK_KR(semaphore_signal(s), KERN_SUCCESS);
                CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_SUCCESS);
                CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
            });
            REQUIRE(yield_until([&] { return waiting; }));
            yield(2);
            CHECK_KR(machsim::task_signal(target, sig::ALRM), KERN_SUCCESS);
            CHECK(yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(got, KERN_ABORTED);
    CHECK(handled_before_return == 1);
    CHECK(seen == std::vector<int>{sig::ALRM});
}

// The target sends twice to a port with qlimit 1 that nobody drains yet: the
// second send blocks. The receiver signals it, then drains the queue.
namespace {
struct SendRun {
    mach_msg_return_t first = kNotYet, second = kNotYet;
    std::vector<int> received;
    std::size_t handled_before_return = 99;
};

SendRun interrupted_send(mach_msg_option_t extra) {
    reset();
    SendRun out;
    bool sending = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("receiver", [&] {
            mach_port_t p = mt::new_receive_right();
            REQUIRE_KR(mt::set_qlimit(p, 1), KERN_SUCCESS);
            mach_port_t target = machsim::task_spawn(
                "target",
                [&](mach_port_t dest) {
                    CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
                    out.first = mt::send_simple(dest, MACH_MSG_TYPE_COPY_SEND, 1, extra);
                    sending = true;
                    out.second = mt::send_simple(dest, MACH_MSG_TYPE_COPY_SEND, 2, extra);  // the queue is full
                    out.handled_before_return = seen.size();
                },
                p, MACH_MSG_TYPE_MAKE_SEND);
            REQUIRE(MACH_PORT_VALID(target));
            REQUIRE(yield_until([&] { return sending; }));
            yield(2);
            CHECK(mt::status_of(p).mps_msgcount == 1);
            CHECK_KR(machsim::task_signal(target, sig::USR1), KERN_SUCCESS);
            CHECK(yield_until([] { return !seen.empty(); }));
            yield(3);
            for (;;) {
                mt::SimpleReceived in;
                mach_msg_return_t mr = mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 10);
                if (mr != MACH_MSG_SUCCESS) {
                    CHECK_KR(mr, MACH_RCV_TIMED_OUT);
                    break;
                }
                out.received.push_back(in.msg.payload);
            }
            CHECK(yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(seen == std::vector<int>{sig::USR1});
    return out;
}
}  // namespace

TEST_CASE("a send blocked on a full queue runs the handler, then is sent again whole and gets through") {
    SendRun run = interrupted_send(0);
    CHECK_KR(run.first, MACH_MSG_SUCCESS);
    CHECK_KR(run.second, MACH_MSG_SUCCESS);
    CHECK(run.received == std::vector<int>{1, 2});  // once each
    CHECK(run.handled_before_return == 1);
}

TEST_CASE("with MACH_SEND_INTERRUPT, a blocked send interrupted by a signal returns MACH_SEND_INTERRUPTED, unsent") {
    SendRun run = interrupted_send(MACH_SEND_INTERRUPT);
    CHECK_KR(run.first, MACH_MSG_SUCCESS);
    CHECK_KR(run.second, MACH_SEND_INTERRUPTED);
    CHECK(run.received == std::vector<int>{1});
    CHECK(run.handled_before_return == 1);
}

TEST_CASE("an RPC interrupted while it waits for the reply runs the handler and waits on; the request is sent once") {
    reset();
    mach_msg_return_t got = kNotYet;
    int reply_payload = 0;
    std::size_t handled_before_return = 99;
    int requests = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("server", [&] {
            mach_port_t p = mt::new_receive_right();
            mach_port_t client = machsim::task_spawn(
                "client",
                [&](mach_port_t server) {
                    CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
                    mach_port_t reply = mt::new_receive_right();
                    mt::SimpleReceived buf{};
                    buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
                    buf.msg.head.msgh_size = sizeof(mt::SimpleMsg);
                    buf.msg.head.msgh_remote_port = server;
                    buf.msg.head.msgh_local_port = reply;
                    buf.msg.head.msgh_id = 500;
                    buf.msg.payload = 1;
                    got = mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof(mt::SimpleMsg), sizeof buf,
                                   reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
                    handled_before_return = seen.size();
                    reply_payload = buf.msg.payload;
                },
                p, MACH_MSG_TYPE_MAKE_SEND);
            mt::SimpleReceived req;
            REQUIRE_KR(mt::receive_simple(p, req), MACH_MSG_SUCCESS);
            ++requests;
            yield(2);  // the client now waits for the reply
            CHECK_KR(machsim::task_signal(client, sig::USR1), KERN_SUCCESS);
            CHECK(yield_until([] { return !seen.empty(); }));
            yield(3);
            CHECK(got == kNotYet);
            CHECK_KR(mt::send_simple(req.msg.head.msgh_remote_port, MACH_MSG_TYPE_MOVE_SEND_ONCE, 99), MACH_MSG_SUCCESS);
            CHECK(yield_until([&] { return got != kNotYet; }));
            mt::SimpleReceived again;
            CHECK_KR(mt::receive_simple(p, again, MACH_RCV_TIMEOUT, 0), MACH_RCV_TIMED_OUT);  // not sent twice
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(requests == 1);
    CHECK_KR(got, MACH_MSG_SUCCESS);
    CHECK(reply_payload == 99);
    CHECK(handled_before_return == 1);
    CHECK(seen == std::vector<int>{sig::USR1});
}

TEST_CASE("SIGSTOP interrupts a task waiting in receive; after SIGCONT its receive continues and gets the message") {
    bool waiting = false;
    mach_msg_return_t got = kNotYet;
    int payload = 0;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("controller", [&] {
                mach_port_t p = mt::new_port_with_send();
                mach_port_t target = machsim::task_spawn(
                    "target",
                    [&](mach_port_t rcv) {
                        waiting = true;
                        mt::SimpleReceived in;
                        got = mt::receive_simple(rcv, in);
                        payload = in.msg.payload;
                    },
                    p, MACH_MSG_TYPE_MOVE_RECEIVE);
                REQUIRE(yield_until([&] { return waiting; }));
                yield(2);
                CHECK_KR(machsim::task_signal(target, sig::STOP), KERN_SUCCESS);
                yield(3);
                CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 7), MACH_MSG_SUCCESS);  // queued: it is stopped
                yield(5);
                CHECK(got == kNotYet);
                CHECK_KR(machsim::task_signal(target, sig::CONT), KERN_SUCCESS);
                CHECK(yield_until([&] { return got != kNotYet; }));
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(got, MACH_MSG_SUCCESS);
    CHECK(payload == 7);
    std::string what;
    for (const Act& a : actions_of(log)) what += a.what + " ";
    CHECK(what == "stop continue ");
}

// A signal posted while every thread of the target is held (task_suspend,
// thread_suspend) interrupts no wait then; once resumed, a thread waiting in the
// kernel must be interrupted for it, or the signal waits for a message that may
// never come.
TEST_CASE("a signal posted to a suspended task waiting in receive is delivered once task_resume or thread_resume "
          "lets it run") {
    for (bool whole_task : {true, false}) {
        CAPTURE(whole_task);
        bool waiting = false;
        bool ended_before_message = false;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            k.spawn("controller", [&] {
                mach_port_t p = mt::new_port_with_send();
                mach_port_t target = machsim::task_spawn(
                    "target",
                    [&](mach_port_t rcv) {
                        waiting = true;
                        mt::SimpleReceived in;
                        (void)mt::receive_simple(rcv, in);
                    },
                    p, MACH_MSG_TYPE_MOVE_RECEIVE);
                REQUIRE(yield_until([&] { return waiting; }));
                yield(2);
                thread_act_array_t threads = nullptr;
                mach_msg_type_number_t count = 0;
                REQUIRE_KR(task_threads(target, &threads, &count), KERN_SUCCESS);
                REQUIRE(count == 1);
                mach_port_t thread = threads[0];
                CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(threads), sizeof *threads),
                         KERN_SUCCESS);
                CHECK_KR(whole_task ? task_suspend(target) : thread_suspend(thread), KERN_SUCCESS);
                CHECK_KR(machsim::task_signal(target, sig::TERM), KERN_SUCCESS);
                yield(3);
                CHECK(mt::type_of(target) == MACH_PORT_TYPE_SEND);  // held: not yet
                CHECK_KR(whole_task ? task_resume(target) : thread_resume(thread), KERN_SUCCESS);
                ended_before_message = yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; });
                (void)mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1, MACH_SEND_TIMEOUT, 0);  // unblocks it if not
                CHECK(yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; }));
                (void)mach_port_deallocate(mach_task_self(), thread);
                (void)mach_port_deallocate(mach_task_self(), target);
            });
        });
        INFO(r.summary());
        CHECK(ended_before_message);
        CHECK(signaled_by(report_of(r, "target"), sig::TERM));
        CHECK(report_of(r, "controller").end == TaskEnd::Exited);
        CHECK(r.leaks.empty());
        CHECK(r.accounting.empty());
    }
}

// When a signal is posted while one thread of the target waits in the kernel and
// another is about to start (it counts as running), that second thread may then
// block without ever leaving the kernel. Then all the task's threads wait in the
// kernel and, as documented, one of them must be interrupted to run the handler.
TEST_CASE("a signal posted while the target's other thread has not yet run is still delivered once all threads wait") {
    reset();
    bool main_waiting = false, second_waiting = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("sender", [&] {
            mach_port_t target = machsim::task_spawn("target", [&](mach_port_t) {
                CHECK_KR(catch_with(sig::USR1), KERN_SUCCESS);
                mach_port_t p = mt::new_receive_right();
                machsim::thread_start([&, p] {
                    second_waiting = true;
                    mt::SimpleReceived in;
                    (void)mt::receive_simple(p, in);
                });
                main_waiting = true;
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);
            });
            REQUIRE(yield_until([&] { return main_waiting; }, 1));  // not more: the second thread must not have run
            CHECK_FALSE(second_waiting);
            CHECK_KR(machsim::task_signal(target, sig::USR1), KERN_SUCCESS);
            CHECK(yield_until([&] { return second_waiting; }));
            CHECK(yield_until([] { return !seen.empty(); }));  // BSD: the handler runs
            (void)machsim::task_signal(target, sig::KILL);  // the end of the test either way
            CHECK(yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    CHECK(seen == std::vector<int>{sig::USR1});
    mt::check_sound(r);
}

// The same gap with one thread: a task signalled before it first runs starts
// without leaving the kernel, and its first call blocks.
TEST_CASE("a signal posted before the target first runs is delivered even though its first call blocks") {
    machsim::RunReport r = mt::run_kernel([](machsim::Kernel& k) {
        k.spawn("sender", [] {
            mach_port_t p = mt::new_receive_right();
            mach_port_t target = machsim::task_spawn(
                "target",
                [](mach_port_t rcv) {
                    mt::SimpleReceived in;
                    (void)mt::receive_simple(rcv, in);  // its first system call; nobody sends
                },
                p, MACH_MSG_TYPE_MOVE_RECEIVE);
            CHECK_KR(machsim::task_signal(target, sig::TERM), KERN_SUCCESS);  // default action: terminate
            (void)yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; });
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& t = report_of(r, "target");
    CHECK(signaled_by(t, sig::TERM));
    mt::check_sound(r);
}

// --- faults --------------------------------------------------------------------

namespace {
vm_address_t fault_page = 0;
int fault_calls = 0;

void unprotect(int s) {
    seen.push_back(s);
    (void)vm_protect(mach_task_self(), fault_page, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE);
}
}  // namespace

TEST_CASE("a SIGBUS handler that fixes the protection with vm_protect lets the faulting write complete") {
    // XNU maps a protection failure (KERN_PROTECTION_FAILURE) to SIGBUS, not SIGSEGV.
    reset();
    int read_back = 0;
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("test", [&] {
                fault_page = page_with(VM_PROT_READ);
                REQUIRE(fault_page != 0);
                CHECK_KR(catch_with(sig::BUS, unprotect), KERN_SUCCESS);
                CHECK_KR(catch_with(sig::SEGV, unprotect), KERN_SUCCESS);
                poke(fault_page + 16, 42);  // faults once; the handler opens the page; the write runs again
                read_back = peek(fault_page + 16);
                CHECK(current_mask() == 0);
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(read_back == 42);
    CHECK(seen == std::vector<int>{sig::BUS});
    uint32_t test = task_id(log, "test");
    CHECK(log.of_kind(EventKind::Fault).size() == 1);
    std::vector<Post> posts = posts_of(log);
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].target == test);
    CHECK(posts[0].signal == sig::BUS);
    CHECK(actions_of(log) == std::vector<Act>{{test, sig::BUS, "handler"}});
}

TEST_CASE("a SIGSEGV handler that maps the missing page lets the faulting write complete") {
    reset();
    int read_back = 0;
    struct H {
        static void remap(int s) {
            seen.push_back(s);
            vm_address_t a = fault_page;
            CHECK_KR(vm_allocate(mach_task_self(), &a, vm_page_size, VM_FLAGS_FIXED), KERN_SUCCESS);
        }
    };
    machsim::RunReport r = mt::run_task([&] {
        fault_page = page_with(VM_PROT_READ | VM_PROT_WRITE);
        REQUIRE(fault_page != 0);
        CHECK_KR(vm_deallocate(mach_task_self(), fault_page, vm_page_size), KERN_SUCCESS);
        CHECK_KR(catch_with(sig::SEGV, H::remap), KERN_SUCCESS);
        poke(fault_page + 8, 7);  // no region there: SIGSEGV; the handler maps one
        read_back = peek(fault_page + 8);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(read_back == 7);
    CHECK(seen == std::vector<int>{sig::SEGV});
}

TEST_CASE("a fault handler that does not fix the cause runs again at each retry of the instruction") {
    reset();
    fault_calls = 0;
    struct H {
        static void third_time(int s) {
            seen.push_back(s);
            if (++fault_calls == 3) unprotect(s);
        }
    };
    int read_back = 0;
    machsim::RunReport r = mt::run_task([&] {
        fault_page = page_with(VM_PROT_READ);
        REQUIRE(fault_page != 0);
        CHECK_KR(catch_with(sig::BUS, H::third_time), KERN_SUCCESS);
        poke(fault_page, 5);
        read_back = peek(fault_page);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(fault_calls == 3);
    CHECK(read_back == 5);
}

namespace {
vm_address_t hole_page = 0;

void map_hole(int s) {
    seen.push_back(s);
    vm_address_t a = hole_page;
    (void)vm_allocate(mach_task_self(), &a, vm_page_size, VM_FLAGS_FIXED);
}

void unprotect_after_touching_hole(int s) {
    seen.push_back(s);
    poke(hole_page, 5);  // a fault in this handler: SIGSEGV, whose handler maps the page
    (void)vm_protect(mach_task_self(), fault_page, vm_page_size, FALSE, VM_PROT_READ | VM_PROT_WRITE);
}

void touch_near_null(int s) {
    seen.push_back(s);
    volatile vm_address_t near_null = 64;
    poke(near_null, 1);  // SIGSEGV, default action: the task ends inside this handler
}
}  // namespace

// A fault handler runs on the fault's own kernel stack; a fault in it takes one
// more stack. Whether the inner fault is resumed or ends the task, no stack may stay in use.
TEST_CASE("a fault inside a fault's signal handler nests: resumed, both writes complete; fatal, no stack leaks") {
    reset();
    int ro = 0, hole = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("nested", [&] {
            fault_page = page_with(VM_PROT_READ);
            hole_page = page_with(VM_PROT_READ);
            REQUIRE(hole_page != 0);
            REQUIRE_KR(vm_deallocate(mach_task_self(), hole_page, vm_page_size), KERN_SUCCESS);
            CHECK_KR(catch_with(sig::BUS, unprotect_after_touching_hole), KERN_SUCCESS);
            CHECK_KR(catch_with(sig::SEGV, map_hole), KERN_SUCCESS);
            poke(fault_page, 1);
            ro = peek(fault_page);
            hole = peek(hole_page);
        });
        k.spawn("fatal", [] {
            CHECK_KR(catch_with(sig::BUS, touch_near_null), KERN_SUCCESS);
            poke(page_with(VM_PROT_READ), 1);
        });
    });
    INFO(r.summary());
    CHECK(report_of(r, "nested").end == TaskEnd::Exited);
    CHECK(ro == 1);
    CHECK(hole == 5);
    CHECK(signaled_by(report_of(r, "fatal"), sig::SEGV));
    CHECK(seen == std::vector<int>{sig::BUS, sig::SEGV, sig::BUS});
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

namespace {
void exit_6(int s) {
    seen.push_back(s);
    std::exit(6);
}
void touch_hole(int s) {
    seen.push_back(s);
    poke(hole_page, 5);  // SIGSEGV, whose handler exits
}
void exit_7(int s) {
    seen.push_back(s);
    std::exit(7);
}
}  // namespace

// exit() in a handler ends the thread where it stands: on a fault stack, or two.
TEST_CASE("exit() in a fault's signal handler, nested or not, ends the task with exit's status; no stack leaks") {
    reset();
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("flat", [] {
            CHECK_KR(catch_with(sig::BUS, exit_6), KERN_SUCCESS);
            poke(page_with(VM_PROT_READ), 1);
            FAIL("exit() returned");
        });
        k.spawn("nested", [] {
            vm_address_t read_only = page_with(VM_PROT_READ);
            hole_page = page_with(VM_PROT_READ);
            REQUIRE(hole_page != 0);
            REQUIRE_KR(vm_deallocate(mach_task_self(), hole_page, vm_page_size), KERN_SUCCESS);
            CHECK_KR(catch_with(sig::BUS, touch_hole), KERN_SUCCESS);
            CHECK_KR(catch_with(sig::SEGV, exit_7), KERN_SUCCESS);
            poke(read_only, 1);
            FAIL("exit() returned");
        });
        k.spawn("bystander", [] { lt::sleep_ms(2); });
    });
    INFO(r.summary());
    CHECK(report_of(r, "flat").end == TaskEnd::Exited);
    CHECK(report_of(r, "flat").exit_code == 6);
    CHECK(report_of(r, "nested").end == TaskEnd::Exited);
    CHECK(report_of(r, "nested").exit_code == 7);
    CHECK(seen == std::vector<int>{sig::BUS, sig::BUS, sig::SEGV});
    CHECK(r.clean());
}

namespace {
vm_address_t victim_hole = 0;
bool in_inner_handler = false;
bool sleep_on_unwind = false;

// Sleeps as the unwinding of a terminated thread destroys it.
struct SleepsWhenDestroyed {
    ~SleepsWhenDestroyed() { lt::sleep_ms(50); }
};

// The inner fault's handler (SIGSEGV): says it is there, then waits for a message nobody sends.
void wait_in_inner_handler(int s) {
    seen.push_back(s);
    std::optional<SleepsWhenDestroyed> on_unwind;
    if (sleep_on_unwind) on_unwind.emplace();
    in_inner_handler = true;
    mt::SimpleReceived in;
    (void)mt::receive_simple(mt::new_receive_right(), in);
}

// The outer fault's handler (SIGBUS): touches a hole, a fault nested in this one.
void touch_victim_hole(int s) {
    seen.push_back(s);
    poke(victim_hole, 1);
}

void fault_twice_and_wait() {
    vm_address_t read_only = page_with(VM_PROT_READ);
    victim_hole = page_with(VM_PROT_READ);
    REQUIRE(victim_hole != 0);
    REQUIRE_KR(vm_deallocate(mach_task_self(), victim_hole, vm_page_size), KERN_SUCCESS);
    CHECK_KR(catch_with(sig::BUS, touch_victim_hole), KERN_SUCCESS);
    CHECK_KR(catch_with(sig::SEGV, wait_in_inner_handler), KERN_SUCCESS);
    poke(read_only, 1);
}

enum class Ender { TaskTerminate, ThreadTerminate, EndOfRun };
}  // namespace

// A thread in the handler of a fault that happened in a fault's handler stands on
// three stacks: its own and one per fault. Ended by another task or by the end of
// the run, it gives every one back; a destructor that sleeps while the ending unwinds
// the inner handler does not sleep (it would hold the thread, and at the end of a
// run, when no timer fires any more, keep it and its stacks for ever).
TEST_CASE("a thread ended inside a nested fault's signal handler gives back every stack; a destructor there does not "
          "sleep") {
    for (bool sleeps : {false, true}) {
        for (Ender how : {Ender::TaskTerminate, Ender::ThreadTerminate, Ender::EndOfRun}) {
            CAPTURE(sleeps);
            CAPTURE(static_cast<int>(how));
            reset();
            in_inner_handler = false;
            sleep_on_unwind = sleeps;
            bool gone_at_once = false;
            machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
                k.spawn("controller", [&] {
                    mach_port_t victim = machsim::task_spawn("victim", [](mach_port_t) { fault_twice_and_wait(); });
                    REQUIRE(yield_until([] { return in_inner_handler; }));
                    if (how == Ender::EndOfRun) return;  // the victim waits for ever: the run ends as a deadlock
                    if (how == Ender::TaskTerminate) {
                        CHECK_KR(task_terminate(victim), KERN_SUCCESS);
                    } else {
                        thread_act_array_t threads = nullptr;
                        mach_msg_type_number_t n = 0;
                        REQUIRE_KR(task_threads(victim, &threads, &n), KERN_SUCCESS);
                        REQUIRE(n == 1);
                        CHECK_KR(thread_terminate(threads[0]), KERN_SUCCESS);
                        CHECK_KR(mach_port_deallocate(mach_task_self(), threads[0]), KERN_SUCCESS);
                        CHECK_KR(vm_deallocate(mach_task_self(), (vm_address_t)threads, n * sizeof *threads),
                                 KERN_SUCCESS);
                    }
                    lt::sleep_ms(2);
                    gone_at_once = mt::type_of(victim) == MACH_PORT_TYPE_DEAD_NAME;
                });
            });
            INFO(r.summary());
            CHECK(seen == std::vector<int>{sig::BUS, sig::SEGV});
            if (how == Ender::EndOfRun) {
                CHECK(r.deadlock);
                CHECK(report_of(r, "victim").end == TaskEnd::Deadlocked);
            } else {
                CHECK(gone_at_once);
                CHECK(report_of(r, "victim").end == TaskEnd::Terminated);
            }
            CHECK(r.leaks.empty());  // among them "N thread stack(s) still in use"
            CHECK(r.accounting.empty());
        }
    }
}

namespace {
volatile unsigned spins = 0;  // wraps: no overflow
void spin_forever(int s) {
    seen.push_back(s);
    for (;;) spins = spins + 1;
}
}  // namespace

// The watchdog stops task code that never enters the kernel; a fault's signal
// handler is task code too, though it runs on the fault's stack.
TEST_CASE("an endless loop in a fault's signal handler is stopped with SIGXCPU; the host does not hang") {
    reset();
    machsim::Config cfg;
    cfg.runaway_ms = 100;
    bool other_ran = false;
    machsim::RunReport r = mt::run_kernel(
        [&](machsim::Kernel& k) {
            k.spawn("looper", [] {
                CHECK_KR(catch_with(sig::BUS, spin_forever), KERN_SUCCESS);
                poke(page_with(VM_PROT_READ), 1);
            });
            k.spawn("other", [&] { other_ran = true; });
        },
        cfg);
    INFO(r.summary());
    CHECK(signaled_by(report_of(r, "looper"), sig::XCPU));
    CHECK(seen == std::vector<int>{sig::BUS});
    CHECK(other_ran);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

TEST_CASE("a fault whose signal is blocked or ignored ends the task; the handler does not run") {
    for (bool ignore : {false, true}) {
        CAPTURE(ignore);
        reset();
        bool after = false;
        machsim::RunReport r = mt::run_task([&] {
            fault_page = page_with(VM_PROT_READ);
            REQUIRE(fault_page != 0);
            if (ignore) {
                CHECK_KR(set_kind(sig::BUS, SignalAction::Ignore), KERN_SUCCESS);
            } else {
                CHECK_KR(catch_with(sig::BUS, unprotect), KERN_SUCCESS);
                CHECK_KR(machsim::signal_mask(MaskHow::Block, signal_bit(sig::BUS), nullptr), KERN_SUCCESS);
            }
            poke(fault_page, 1);
            after = true;
        });
        const machsim::TaskReport& t = report_of(r, "test");
        CHECK(signaled_by(t, sig::BUS));
        CHECK(t.detail.find("SIGBUS") != std::string::npos);
        CHECK_FALSE(after);
        CHECK(seen.empty());
        CHECK(r.leaks.empty());
        CHECK(r.accounting.empty());
    }
}

TEST_CASE("abort() runs a SIGABRT handler and still ends the task with SIGABRT") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        CHECK_KR(catch_with(sig::ABRT), KERN_SUCCESS);
        std::abort();
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(seen == std::vector<int>{sig::ABRT});
    CHECK(signaled_by(t, sig::ABRT));
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

// --- handlers that throw ---------------------------------------------------------
// run_handler lets a C++ exception from the handler pass ("An exception the
// handler throws passes"), restoring the blocked set on the way. So, as with a
// siglongjmp out of a BSD handler, the exception leaves the interrupted call in
// the task's code: caught there, the task carries on; uncaught, it crashes the
// task like any other exception. A fault handler cannot unwind through the
// faulting instruction: the kernel ends the task as Crashed.

namespace {
void throw_first(int s) {
    seen.push_back(s);
    if (seen.size() == 1) throw std::runtime_error("boom");
}
}  // namespace

TEST_CASE("an exception thrown by a handler leaves the interrupted call; caught, the task carries on") {
    reset();
    bool caught = false;
    std::string what;
    machsim::RunReport r = mt::run_task([&] {
        CHECK_KR(catch_with(sig::USR1, throw_first), KERN_SUCCESS);
        try {
            (void)machsim::task_signal(mach_task_self(), sig::USR1);
        } catch (const std::runtime_error& e) {
            caught = true;
            what = e.what();
        }
        CHECK(current_mask() == 0);  // USR1 is not left blocked
        CHECK(machsim::signal_pending() == 0);
        CHECK_KR(machsim::task_signal(mach_task_self(), sig::USR1), KERN_SUCCESS);
        CHECK(seen.size() == 2);  // the handler runs again, normally
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(caught);
    CHECK(what == "boom");
}

TEST_CASE("an exception thrown by a handler and not caught crashes the task with its what()") {
    reset();
    bool waiting = false;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("sender", [&] {
            mach_port_t target = machsim::task_spawn("target", [&](mach_port_t) {
                CHECK_KR(catch_with(sig::USR1, throw_first), KERN_SUCCESS);
                mach_port_t p = mt::new_receive_right();
                waiting = true;
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);  // interrupted; the exception leaves mach_msg
            });
            REQUIRE(yield_until([&] { return waiting; }));
            yield(2);
            CHECK_KR(machsim::task_signal(target, sig::USR1), KERN_SUCCESS);
            CHECK(yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; }));
        });
    });
    INFO(r.summary());
    const machsim::TaskReport& t = report_of(r, "target");
    CHECK(t.end == TaskEnd::Crashed);
    CHECK(t.detail == "boom");
    CHECK(report_of(r, "sender").end == TaskEnd::Exited);
    mt::check_sound(r);
}

TEST_CASE("a fault signal handler that throws crashes the task") {
    reset();
    machsim::RunReport r = mt::run_task([] {
        fault_page = page_with(VM_PROT_READ);
        REQUIRE(fault_page != 0);
        CHECK_KR(catch_with(sig::BUS, throw_first), KERN_SUCCESS);
        poke(fault_page, 1);
    });
    const machsim::TaskReport& t = report_of(r, "test");
    CHECK(t.end == TaskEnd::Crashed);
    CHECK(t.detail.find("SIGBUS handler threw: boom") != std::string::npos);
    CHECK(seen == std::vector<int>{sig::BUS});
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

// After a handler's exception was caught, the task is running its own code
// again, so a fault there must be the task's (here: SIGBUS ends it). Run in a
// child process, because a fault the kernel takes for its own goes to the host.
TEST_CASE("after a handler's exception is caught, a fault in task code is still the task's fault") {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);  // the child's own crash report would only confuse
        dup2(devnull, 1);
        dup2(devnull, 2);
        reset();
        machsim::RunReport r = mt::run_task([] {
            vm_address_t page = page_with(VM_PROT_READ);
            if (catch_with(sig::USR1, throw_first) != KERN_SUCCESS) _exit(3);
            try {
                (void)machsim::task_signal(mach_task_self(), sig::USR1);
            } catch (const std::runtime_error&) {
            }
            poke(page, 1);  // no system call since the handler threw
        });
        const machsim::TaskReport* t = r.task("test");
        _exit(t && t->end == TaskEnd::Signaled && t->exit_code == sig::BUS ? 0 : 4);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    std::string how = WIFSIGNALED(status) ? "killed by host signal " + std::to_string(WTERMSIG(status))
                                          : "exit status " + std::to_string(WEXITSTATUS(status));
    INFO("the child process: " << how);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

// --- trace ---------------------------------------------------------------------

// Every kind of outcome, posted by another task and by the task itself.
namespace {
void signal_scenario(machsim::Kernel& k) {
    static bool armed;
    static bool stopped_seen;
    armed = stopped_seen = false;
    k.spawn("controller", [] {
        static int steps;
        steps = 0;
        mach_port_t target = machsim::task_spawn("target", [](mach_port_t) {
            (void)catch_with(sig::USR1);
            (void)machsim::signal_mask(MaskHow::Block, signal_bit(sig::USR2), nullptr);
            (void)catch_with(sig::USR2);
            armed = true;
            for (int i = 0; i < 400; ++i) {
                ++steps;
                yield();
            }
        });
        (void)yield_until([] { return armed; });
        (void)machsim::task_signal(target, 0);         // checks only: no event
        (void)machsim::task_signal(target, sig::USR1);  // handler
        (void)machsim::task_signal(target, sig::URG);   // ignored by default
        (void)machsim::task_signal(target, sig::USR2);  // blocked: pending, no action yet
        yield(3);
        (void)machsim::task_signal(target, sig::STOP);  // stop
        yield(3);
        (void)machsim::task_signal(target, sig::CONT);  // continue
        yield(3);
        (void)machsim::task_signal(target, sig::TERM);  // terminate
        (void)yield_until([&] { return mt::type_of(target) == MACH_PORT_TYPE_DEAD_NAME; });
        (void)catch_with(sig::HUP);
        (void)machsim::task_signal(mach_task_self(), sig::HUP);  // to itself: handler
    });
}
}  // namespace

TEST_CASE("every post is a SignalPost event and every outcome a SignalAction event, by the right actor") {
    reset();
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(signal_scenario, {}, &log);
    INFO(r.summary());
    CHECK(report_of(r, "controller").end == TaskEnd::Exited);
    CHECK(signaled_by(report_of(r, "target"), sig::TERM));
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
    uint32_t c = task_id(log, "controller"), t = task_id(log, "target");
    REQUIRE(c != 0);
    REQUIRE(t != 0);
    CHECK(posts_of(log) == std::vector<Post>{{c, t, sig::USR1},
                                             {c, t, sig::URG},
                                             {c, t, sig::USR2},
                                             {c, t, sig::STOP},
                                             {c, t, sig::CONT},
                                             {c, t, sig::TERM},
                                             {c, c, sig::HUP}});
    CHECK(actions_of(log) == std::vector<Act>{{c, sig::URG, "ignore"},
                                              {t, sig::USR1, "handler"},
                                              {t, sig::STOP, "stop"},
                                              {c, sig::CONT, "continue"},
                                              {t, sig::TERM, "terminate"},
                                              {c, sig::HUP, "handler"}});
    CHECK(seen == std::vector<int>{sig::USR1, sig::HUP});
    for (const auto& e : log.of_kind(EventKind::SignalAction))  // each names the task it applies to
        CHECK(e.event.space == (e.event.code == sig::HUP ? c : t));
    // Each action comes after its post.
    auto seq_of = [&](EventKind kind, int s) -> uint64_t {
        for (const auto& e : log.of_kind(kind))
            if (e.event.code == s) return e.event.seq;
        return 0;
    };
    for (int s : {sig::USR1, sig::URG, sig::STOP, sig::CONT, sig::TERM, sig::HUP})
        CHECK(seq_of(EventKind::SignalPost, s) < seq_of(EventKind::SignalAction, s));
}

// Every other post that changes nothing (URG by default, any signal set to
// Ignore) is traced as "ignore"; SIGCONT to a running task should be as well.
TEST_CASE("SIGCONT to a task that is not stopped, with the default action or Ignore, is traced as ignored") {
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(
        [](machsim::Kernel& k) {
            k.spawn("test", [] {
                (void)machsim::task_signal(mach_task_self(), sig::CONT);
                CHECK_KR(set_kind(sig::CONT, SignalAction::Ignore), KERN_SUCCESS);
                (void)machsim::task_signal(mach_task_self(), sig::CONT);
                CHECK_KR(set_kind(sig::USR1, SignalAction::Ignore), KERN_SUCCESS);
                (void)machsim::task_signal(mach_task_self(), sig::USR1);  // for comparison
            });
        },
        {}, &log);
    CHECK(r.clean());
    uint32_t t = task_id(log, "test");
    CHECK(posts_of(log) == std::vector<Post>{{t, t, sig::CONT}, {t, t, sig::CONT}, {t, t, sig::USR1}});
    CHECK(actions_of(log) ==
          std::vector<Act>{{t, sig::CONT, "ignore"}, {t, sig::CONT, "ignore"}, {t, sig::USR1, "ignore"}});
}

TEST_CASE("the trace of a signal scenario is byte-identical across two runs") {
    reset();
    std::string a = mt::trace_text(signal_scenario);
    reset();
    std::string b = mt::trace_text(signal_scenario);
    CHECK(a.find("SIGSTOP") != std::string::npos);  // signals are in it
    CHECK(a == b);
}

}  // TEST_SUITE("signals")
