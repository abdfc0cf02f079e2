#!/usr/bin/env bash
# Runs every test of one build and ends with the line "N passed, N failed".
#   tests/run.sh BUILD_DIR     (SANFLAGS in the environment: extra flags for the contract build)
set -u
build=${1:-build}
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); printf 'FAILED: %s\n' "$1"; }
expect() {  # expect "what" command...: the command must succeed
    local what=$1; shift
    if "$@"; then pass; else fail "$what"; fi
}

# 1. The doctest suite: task programs against the real API.
log=$(mktemp)
trap 'rm -f "$log" "$log.a" "$log.b" "$log.c"' EXIT
"$build/machsim-tests" 2>&1 | tee "$log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ -n "$line" ]; then
    passed=$((passed + ${line%% passed*}))
    f=${line#*, }
    failed=$((failed + ${f%% failed}))
else
    fail "the doctest suite did not finish (crashed?)"
fi

# 1b. The same suite with the IPC fast path off: the general path alone must give the same results.
if MACHSIM_FASTPATH=0 "$build/machsim-tests" >"$log" 2>&1; then
    pass
else
    grep -E 'ERROR|FAILED|passed, ' "$log" | head -20
    fail "the doctest suite with MACHSIM_FASTPATH=0 (general path only)"
fi

# 2. The command line, as a user types it.
bin="$build/machsim"
status() { "$@" >/dev/null 2>&1; echo $?; }
expect "machsim --help exits 0" test "$(status "$bin" --help)" -eq 0
expect "machsim list names the demos" grep -q '^echo ' <("$bin" list)
expect "machsim with no command exits 2" test "$(status "$bin")" -eq 2
expect "an unknown command exits 2" test "$(status "$bin" frobnicate)" -eq 2
expect "an unknown command's error names it" grep -q "no command named 'frobnicate'" <("$bin" frobnicate 2>&1)
expect "an unknown option before the command is named" grep -q "no option named '-x'" <("$bin" -x 2>&1)
expect "no command: the error says a command is needed" grep -q "a command is needed" <("$bin" 2>&1)
expect "run without a program exits 2" test "$(status "$bin" run)" -eq 2
expect "run of an unknown program exits 2" test "$(status "$bin" run no-such-program)" -eq 2
expect "a bad --seed exits 2" test "$(status "$bin" run echo --seed banana)" -eq 2
# CLI11 alone read -1 as 2^64-1 and a too-big number as 2^64-1, and ran.
expect "a negative --seed exits 2" test "$(status "$bin" run echo --seed -1)" -eq 2
expect "a --seed past 64 bits exits 2" test "$(status "$bin" run echo --seed 99999999999999999999999)" -eq 2
expect "a negative --max-ticks exits 2" test "$(status "$bin" run echo --max-ticks -1)" -eq 2
expect "--quantum 0 exits 2" test "$(status "$bin" run echo --quantum 0)" -eq 2
expect "--quantum 0 says what it wants" grep -q "'0' is not a whole number from 1 to" <("$bin" run echo --quantum 0 2>&1)
expect "the largest --seed runs" test "$(status "$bin" run echo --seed 18446744073709551615)" -eq 0
expect "an unknown program's error names the programs" grep -q 'Programs: echo' <("$bin" run nope 2>&1)
expect "machsim run echo exits 0" test "$(status "$bin" run echo)" -eq 0
expect "echo's client gets its replies" grep -q 'got back "hello 3"' <("$bin" run echo)
expect "what a task writes to the console shows on the terminal" \
    grep -qx 'logd: record 6 <- "bob line 3"' <("$bin" run disklog)
"$bin" run echo --trace --seed 7 >"$log.a" 2>&1
"$bin" run echo --trace --seed 7 >"$log.b" 2>&1
expect "two runs with one seed print byte-identical traces" cmp -s "$log.a" "$log.b"
expect "the trace has the send and the handoff" grep -q 'handoff' "$log.a"
# The exports: files written whatever the trace options, usage errors before anything runs.
out=$(mktemp -d)
trap 'rm -f "$log" "$log.a" "$log.b"; rm -rf "$out"' EXIT
expect "run --help lists --perfetto and --mermaid" grep -q -- '--mermaid FILE' <("$bin" run --help)
expect "run --help lists --jsonl" grep -q -- '--jsonl FILE' <("$bin" run --help)
expect "run echo --perfetto FILE --mermaid FILE --trace exits 0" \
    test "$(status "$bin" run echo --perfetto "$out/echo.json" --mermaid "$out/echo.mmd" --trace)" -eq 0
expect "the Perfetto file is one JSON document, closed" \
    grep -qz '^{"traceEvents":\[.*"otherData":{"program":"echo","seed":1,.*}}$' <(tr -d '\n' <"$out/echo.json")
expect "the Mermaid file draws the echo request" grep -qx '    T3->>T2: msg 5 id=500 to P9' "$out/echo.mmd"
expect "a .md Mermaid file is fenced" grep -qx '```mermaid' <("$bin" run echo --mermaid "$out/echo.md" >/dev/null; cat "$out/echo.md")
expect "--mermaid - prints the diagram after the report" \
    grep -qzP 'run ended: [^\0]*\n\nsequenceDiagram\n' <("$bin" run echo --mermaid -)
expect "a file that cannot be written exits 2" test "$(status "$bin" run echo --perfetto "$out/no/such/dir.json")" -eq 2
expect "a file that cannot be written is named" grep -q "cannot write '$out/no/such/dir.json'" \
    <("$bin" run echo --perfetto "$out/no/such/dir.json" 2>&1)
expect "--from after --to exits 2" test "$(status "$bin" run echo --mermaid "$out/m" --from 9 --to 3)" -eq 2
expect "--from 0 exits 2" test "$(status "$bin" run echo --mermaid "$out/m" --from 0)" -eq 2
expect "--task without --mermaid exits 2" test "$(status "$bin" run echo --task echo-server)" -eq 2
expect "a --task no task of the run has exits 2" test "$(status "$bin" run echo --mermaid "$out/m" --task nobody)" -eq 2
# JSON lines: one line per event the report counts ("after N trace events"), each one object.
events=$("$bin" run echo --jsonl "$out/echo.jsonl" | sed -n 's/.* after \([0-9]*\) trace events.*/\1/p')
expect "run echo --jsonl FILE: one line per trace event the report counts" \
    test "$(wc -l <"$out/echo.jsonl")" -eq "${events:--1}"
expect "every JSON line is one object that starts with its seq" \
    test "$(grep -cv '^{"seq":[1-9][0-9]*,.*}$' "$out/echo.jsonl")" -eq 0
expect "--jsonl - prints the lines after the report" \
    grep -qzP 'trace events, [^\0]*\n\n\{"seq":1,' <("$bin" run echo --jsonl -)
expect "a --jsonl file that cannot be written exits 2" \
    test "$(status "$bin" run echo --jsonl "$out/no/such/dir.jsonl")" -eq 2
expect "a --jsonl file that cannot be written is named" grep -q "cannot write '$out/no/such/dir.jsonl'" \
    <("$bin" run echo --jsonl "$out/no/such/dir.jsonl" 2>&1)
expect "--jsonl - with --perfetto - exits 2" test "$(status "$bin" run echo --jsonl - --perfetto -)" -eq 2
expect "--jsonl and --mermaid on one file exits 2" test "$(status "$bin" run echo --jsonl "$out/x" --mermaid "$out/x")" -eq 2
expect "run echo --dot FILE exits 0" test "$(status "$bin" run echo --dot "$out/echo.dot")" -eq 0
expect "the dot file is one digraph" test "$(sed -n '2p;$p' "$out/echo.dot" | tr '\n' '|')" = 'digraph machsim {|}|'
expect "... with the echo requests" grep -qxF '  T3 -> T2 [label="4 messages, ids 500, 501"];' "$out/echo.dot"
expect "--dot and --jsonl on one file exits 2" test "$(status "$bin" run echo --dot "$out/x" --jsonl "$out/x")" -eq 2
"$bin" run sieve --perfetto "$out/a.json" --mermaid "$out/a.mmd" >/dev/null 2>&1
"$bin" run sieve --perfetto "$out/b.json" --mermaid "$out/b.mmd" >/dev/null 2>&1
expect "two exports of one run are byte-identical" cmp -s <(cat "$out/a.json" "$out/a.mmd") <(cat "$out/b.json" "$out/b.mmd")

# The stepper, fed a script as a pipe.
printf 'b kind handoff\nc\nps\nc\n' | "$bin" debug echo >"$log" 2>&1
expect "machsim debug echo with a script exits 0" test "${PIPESTATUS[1]}" -eq 0
expect "... stops at the breakpoint" grep -q '^breakpoint: kind handoff$' "$log"
expect "... answers ps" grep -q '^    thread 1: blocked: receive on 0x203 (P3)$' "$log"
expect "... and prints the report" grep -q 'task   3 echo-client  *exited with code 0' "$log"
printf 'n 3\nback\nq\n' | "$bin" debug echo >"$log" 2>&1
expect "debug: back runs the program again and stops one event earlier" \
    grep -qx 'back at event 3 (the program ran again from the start):' "$log"
expect "... and what the tasks print is not doubled" test "$(grep -c 'got back "hello 1"' "$log")" -eq 1
expect "machsim debug of an unknown program exits 2" test "$(status "$bin" debug no-such-program </dev/null)" -eq 2

# Seeded policies and explore: the bank demo loses a deposit only under some schedules.
expect "a bad --policy exits 2" test "$(status "$bin" run echo --policy fifo)" -eq 2
expect "a bad --policy says what it takes" grep -q "'fifo' is not a policy" <("$bin" run echo --policy fifo 2>&1)
expect "--policy pct:0 exits 2" test "$(status "$bin" run echo --policy pct:0)" -eq 2
expect "--policy pct:3:x exits 2" test "$(status "$bin" run echo --policy pct:3:x)" -eq 2
expect "run --policy random says so in the report" grep -q ', seed 5, policy random$' <("$bin" run echo --policy random --seed 5)
expect "bank under round robin keeps every deposit" grep -q '^bank: balance 60, as expected$' <("$bin" run bank)
"$bin" explore bank --runs 20 >"$log" 2>&1
expect "explore bank finds a lost deposit and exits 1" test "$?" -eq 1
expect "... says which runs failed" grep -qE '^20 runs: [0-9]+ clean, [1-9][0-9]* failed$' "$log"
replay=$(sed -n 's/^  replay: machsim //p' "$log" | head -n 1)
expect "... and how to replay one" grep -q '^run bank --seed [0-9]* --policy pct:3:[0-9]*$' <<<"$replay"
# shellcheck disable=SC2086
expect "... which loses the deposit again" grep -q 'deposit(s) lost' <("$bin" $replay 2>&1)
"$bin" explore bank --runs 20 --mermaid "$out/bank.md" --dot "$out/bank.dot" >"$log" 2>&1
expect "explore --mermaid --dot writes the first failing run" \
    grep -q "^the run of seed [0-9]* is in $out/bank.md, $out/bank.dot\$" "$log"
expect "... a diagram of it" grep -q '^sequenceDiagram$' "$out/bank.md"
expect "... and its graph" grep -q '^digraph machsim {$' "$out/bank.dot"
expect "explore --mermaid - exits 2" test "$(status "$bin" explore bank --mermaid -)" -eq 2
expect "explore echo finds nothing and exits 0" test "$(status "$bin" explore echo --runs 20 --policy random)" -eq 0
expect "explore under round robin exits 2" test "$(status "$bin" explore echo --policy round-robin)" -eq 2
"$bin" run echo --trace --policy pct:2:20 --seed 9 >"$log.a" 2>&1
"$bin" run echo --trace --policy pct:2:20 --seed 9 >"$log.b" 2>&1
expect "two runs with one seed and policy print byte-identical traces" cmp -s "$log.a" "$log.b"

# Every demo, with call lines: the same trace on a second run, and with the IPC fast path
# off (it never runs while a sink listens, so a traced run cannot tell).
for demo in $("$bin" list | cut -d' ' -f1); do
    "$bin" run "$demo" --syscalls --seed 3 >"$log.a" 2>&1
    "$bin" run "$demo" --syscalls --seed 3 >"$log.b" 2>&1
    expect "two traced runs of $demo are byte-identical" cmp -s "$log.a" "$log.b"
    MACHSIM_FASTPATH=0 "$bin" run "$demo" --syscalls --seed 3 >"$log.b" 2>&1
    expect "$demo's trace is the same with MACHSIM_FASTPATH=0" cmp -s "$log.a" "$log.b"
done

# 3. The lab kit: make grade builds a lab's grader with a student's file and grades it.
grade() { make -s --no-print-directory grade BUILD="$build" ${SANFLAGS:+SANITIZE=1} "$@" >"$log" 2>&1; }
grade
expect "make grade without LAB exits 2" test "$?" -eq 2
expect "... and names the labs" grep -q 'the labs: blockcache boundedbuffer clockdriver kvserver nameserver pingpong sandbox sharedring userpager' "$log"
grade LAB=pingpong
expect "the pingpong starter fails" test "$?" -ne 0
expect "... every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 4 failed\n' "$log"
grade LAB=pingpong SOLUTION=tests/labs/pingpong_reference.cpp
expect "a pingpong solution passes" test "$?" -eq 0
expect "... with every point" grep -qzP 'score 100/100\n4 passed, 0 failed\n' "$log"
grade LAB=pingpong SOLUTION=tests/labs/pingpong_reference.cpp CXXFLAGS="-O2 -DPINGPONG_NO_RETRY"
expect "a solution right only under round robin loses the schedule test" grep -qzP 'score 70/100\n3 passed, 1 failed\n' "$log"
replay=$(sed -n 's/^ *replay: //p' "$log")
expect "... which prints one replay command" test "$(wc -l <<<"$replay")" -eq 1
# shellcheck disable=SC2086
expect "... that shows the failure again" grep -q 'ping  *exited with code 1' <($replay 2>&1)
grade LAB=pingpong SOLUTION=tests/labs/pingpong_reference.cpp TEST=alternately
expect "make grade TEST=words grades only those tests" grep -qzP 'score 30/30\n1 passed, 0 failed\n' "$log"
grade LAB=kvserver
expect "the kvserver starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 6 failed\n' "$log"
grade LAB=kvserver SOLUTION=tests/labs/kvserver_reference.cpp
expect "a kvserver solution (mach_msg_server) passes with every point" grep -qzP 'score 100/100\n6 passed, 0 failed\n' "$log"
grade LAB=kvserver SOLUTION=tests/labs/kvserver_reference.cpp CXXFLAGS="-O2 -DKVSERVER_HAND_LOOP"
expect "a kvserver that gives up on an undeliverable answer loses the vanishing-client tests" \
    grep -qzP 'score 65/100\n4 passed, 2 failed\n' "$log"
expect "... and says which answer failed" grep -q 'put(9, 90) after two clients vanished: mach_msg returned MACH_SEND_INVALID_DEST' "$log"
replay=$(sed -n 's/^ *replay: //p' "$log" | head -1)
# shellcheck disable=SC2086
expect "... with a replay command that shows the client failing" grep -q 'client  *exited with code 1' <($replay 2>&1)
grade LAB=boundedbuffer
expect "the boundedbuffer starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 5 failed\n' "$log"
grade LAB=boundedbuffer SOLUTION=tests/labs/boundedbuffer_reference.cpp
expect "a boundedbuffer solution passes with every point" grep -qzP 'score 100/100\n5 passed, 0 failed\n' "$log"
grade LAB=boundedbuffer SOLUTION=tests/labs/boundedbuffer_reference.cpp CXXFLAGS="-O2 -DBOUNDEDBUFFER_POLL"
expect "a producer that polls the full buffer loses that test" grep -qzP 'score 80/100\n4 passed, 1 failed\n' "$log"
expect "... and the grader says how often it polled" grep -q 'the producer polled: [0-9]* of its sends returned MACH_SEND_TIMED_OUT' "$log"
grade LAB=nameserver
expect "the nameserver starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 5 failed\n' "$log"
grade LAB=nameserver SOLUTION=tests/labs/nameserver_reference.cpp
expect "a nameserver solution (mach_msg_server) passes with every point" grep -qzP 'score 100/100\n5 passed, 0 failed\n' "$log"
grade LAB=nameserver SOLUTION=tests/labs/nameserver_reference.cpp CXXFLAGS="-O2 -DNAMESERVER_HAND_LOOP"
expect "a name server that keeps a failed register's right loses that test" grep -qzP 'score 85/100\n4 passed, 1 failed\n' "$log"
grade LAB=clockdriver
expect "the clockdriver starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 3 failed\n' "$log"
grade LAB=clockdriver SOLUTION=tests/labs/clockdriver_reference.cpp
expect "a clockdriver solution passes with every point" grep -qzP 'score 100/100\n3 passed, 0 failed\n' "$log"
grade LAB=clockdriver SOLUTION=tests/labs/clockdriver_reference.cpp CXXFLAGS="-O2 -DCLOCKDRIVER_ACK_FIRST"
expect "a driver that acknowledges before handling loses that test" grep -qzP 'score 70/100\n2 passed, 1 failed\n' "$log"
grade LAB=sharedring
expect "the sharedring starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 5 failed\n' "$log"
grade LAB=sharedring SOLUTION=tests/labs/sharedring_reference.cpp
expect "a sharedring solution passes with every point" grep -qzP 'score 100/100\n5 passed, 0 failed\n' "$log"
grade LAB=sharedring SOLUTION=tests/labs/sharedring_reference.cpp CXXFLAGS="-O2 -DSHAREDRING_NO_DRAIN"
expect "a producer that leaves before the ring drains keeps only the consumer's points" \
    grep -qzP 'score 20/100\n1 passed, 4 failed\n' "$log"
expect "... and the grader's consumer says why" grep -q 'signalling slots_free after item [0-9]*: KERN_TERMINATED' "$log"
grade LAB=sandbox
expect "the sandbox starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 5 failed\n' "$log"
grade LAB=sandbox SOLUTION=tests/labs/sandbox_reference.cpp
expect "a sandbox solution passes with every point" grep -qzP 'score 100/100\n5 passed, 0 failed\n' "$log"
grade LAB=sandbox SOLUTION=tests/labs/sandbox_reference.cpp CXXFLAGS="-O2 -DSANDBOX_SET_LATE"
expect "a guard that sets the bootstrap port after spawning keeps only the points for its end" \
    grep -qzP 'score 20/100\n1 passed, 4 failed\n' "$log"
expect "... and the grader says where the look-ups went" grep -q 'the guard received 0 look-up requests' "$log"
grade LAB=sandbox SOLUTION=tests/labs/sandbox_reference.cpp CXXFLAGS="-O2 -DSANDBOX_NO_SYNC"
expect "a guard that can miss the end of a task that ends at once loses the schedule test" \
    grep -qzP 'score 80/100\n4 passed, 1 failed\n' "$log"
grade LAB=userpager
expect "the userpager starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 5 failed\n' "$log"
grade LAB=userpager SOLUTION=tests/labs/userpager_reference.cpp
expect "a userpager solution passes with every point" grep -qzP 'score 100/100\n5 passed, 0 failed\n' "$log"
grade LAB=userpager SOLUTION=tests/labs/userpager_reference.cpp CXXFLAGS="-O2 -DUSERPAGER_NO_PROTECT"
expect "a pager that writes a page before making it writable keeps only the points for its end" \
    grep -qzP 'score 15/100\n1 passed, 4 failed\n' "$log"
expect "... and the client's page fault becomes SIGBUS" grep -q 'task client killed by a signal: SIGBUS' "$log"
grade LAB=userpager SOLUTION=tests/labs/userpager_reference.cpp CXXFLAGS="-O2 -DUSERPAGER_SUCCESS_ONLY" TEST="each once"
expect "a pager that pages nothing in livelocks its client: the grader's time limit ends the run" \
    grep -qzP '(?s)the run hit its time limit\n.*replay: .*labs/userpager run up_read --seed 1 --max-ticks 500000 --trace\n' "$log"
expect "... and the test fails" grep -qzP 'score 0/25\n0 passed, 1 failed\n' "$log"
grade LAB=blockcache
expect "the blockcache starter fails every test, with 0 points" grep -qzP 'score 0/100\n0 passed, 5 failed\n' "$log"
grade LAB=blockcache SOLUTION=tests/labs/blockcache_reference.cpp
expect "a blockcache solution passes with every point" grep -qzP 'score 100/100\n5 passed, 0 failed\n' "$log"
grade LAB=blockcache SOLUTION=tests/labs/blockcache_reference.cpp CXXFLAGS="-O2 -DBLOCKCACHE_WRITE_THROUGH"
expect "a write-through cache loses the test of writes" grep -qzP 'score 80/100\n4 passed, 1 failed\n' "$log"
expect "... and the grader counts its disk waits" grep -q 'blockd waited on the disk 10 times for 10 writes' "$log"
grade LAB=blockcache SOLUTION=tests/labs/blockcache_reference.cpp CXXFLAGS="-O2 -DBLOCKCACHE_UNBOUNDED"
expect "a cache that never evicts loses the test of its size" grep -qzP 'score 85/100\n4 passed, 1 failed\n' "$log"
grade LAB=blockcache SOLUTION=tests/labs/blockcache_reference.cpp CXXFLAGS="-O2 -DBLOCKCACHE_DROP_DIRTY"
expect "a cache that drops written blocks it evicts loses it too" grep -qzP 'score 85/100\n4 passed, 1 failed\n' "$log"

# 4. The contract: an outside program built against build/machsim.pc, as a grader would.
cxx=${CXX:-g++}
if flags=$(pkg-config --cflags --libs "$build/machsim.pc" 2>&1) &&
    $cxx tests/contract/outside.cpp $flags ${SANFLAGS:-} -o "$build/outside" 2>"$log"; then
    pass
    expect "an outside program runs its own program through machsim::main" \
        grep -q 'pong 3' <("$build/outside" run pingpong)
    expect "an outside program's run exits 0" test "$(status "$build/outside" run pingpong)" -eq 0
    "$build/outside" run quitter >"$log" 2>&1
    expect "exit(3) in an outside program's task ends that task only" \
        grep -q 'quitter .*exited with code 3' "$log"
    expect "... and the other task runs on" grep -q 'stayer done' "$log"
    expect "exit() in an outside program's host code sets its status" \
        test "$(status "$build/outside" run no-such-program)" -eq 2
else
    cat "$log"
    fail "an outside program compiles and links with pkg-config --cflags --libs $build/machsim.pc"
fi

# 5. Every header a program may include compiles alone, as the first include: the Mach
# headers (XNU's split ones and GNU Mach's too) in C and in C++, machsim's own in C++.
bad=""
: >"$log"
for dir in kernel/include userland/include; do
    for h in $(cd "$dir" && find . -name '*.h' | sed 's|^\./||' | sort); do
        printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >"$log.c"
        case $h in machsim.h | machsim/*) langs="c++" ;; *) langs="c c++" ;; esac
        for lang in $langs; do
            if [ "$lang" = c ]; then compile="${CC:-gcc} -std=c11"; else compile="$cxx -std=c++20"; fi
            $compile -x "$lang" -Wall -Wextra -Werror -fsyntax-only -Ikernel/include -Iuserland/include "$log.c" \
                2>>"$log" || bad="$bad $h($lang)"
        done
    done
done
[ -z "$bad" ] || cat "$log"
expect "every header compiles alone (the Mach ones in C and in C++); these do not:$bad" test -z "$bad"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
