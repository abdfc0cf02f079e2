#!/usr/bin/env bash
# Checks for, and installs, the Debian packages machsim builds with.
#   deps.sh check | install | check-test | install-test | check-bench | install-bench
set -u

# A library's marker is the library the linker will look for, not a header: Boost's headers all
# come with libboost1.74-dev, which can be installed without libboost_context.so or libboost_fiber.so.
# It is written "lib:NAME" and looked up each time it is checked, so that a check after apt-get
# sees what apt-get installed.
build_pkgs=(libboost-context-dev libfmt-dev doctest-dev libcli11-dev pkgconf)
build_files=(lib:libboost_context.so /usr/include/fmt/format.h
             /usr/include/doctest/doctest.h /usr/include/CLI/CLI.hpp /usr/bin/pkg-config)
test_pkgs=(nlohmann-json3-dev)  # the tests parse the Perfetto export back; the library writes JSON itself
test_files=(/usr/include/nlohmann/json.hpp)
bench_pkgs=(libboost-fiber-dev)
bench_files=(lib:libboost_fiber.so)

present() {  # is this marker there? A path, or lib:NAME for a library the compiler's linker would find
    case $1 in
        lib:*)
            local found
            found=$("${CXX:-g++}" -print-file-name="${1#lib:}" 2>/dev/null)
            case $found in /*) [ -e "$found" ] ;; *) return 1 ;; esac ;;
        *) [ -e "$1" ] ;;
    esac
}

missing() {  # prints the packages whose marker file is absent
    local -n pkgs=$1 files=$2
    for i in "${!pkgs[@]}"; do present "${files[$i]}" || printf '%s ' "${pkgs[$i]}"; done
}

install() {
    local want
    want=$(missing "$1" "$2")
    [ -z "$want" ] && return 0
    echo "machsim: installing missing Debian packages: $want"
    local run=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            run=(sudo -n)
        else
            echo "machsim: cannot install them without root. Run:" >&2
            echo "  sudo apt-get install -y $want" >&2
            exit 1
        fi
    fi
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y --no-install-recommends $want; then
        "${run[@]}" apt-get update -q && DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y --no-install-recommends $want || {
            echo "machsim: apt-get could not install: $want" >&2
            echo "  install them by hand (Debian 12: apt-get install $want) and run make again" >&2
            exit 1
        }
    fi
    want=$(missing "$1" "$2")
    if [ -n "$want" ]; then
        echo "machsim: still missing after apt-get: $want" >&2
        exit 1
    fi
}

case "${1:-check}" in
    check) [ -z "$(missing build_pkgs build_files)" ] ;;
    install) install build_pkgs build_files ;;
    check-test) [ -z "$(missing test_pkgs test_files)" ] ;;
    install-test) install test_pkgs test_files ;;
    check-bench) [ -z "$(missing bench_pkgs bench_files)" ] ;;
    install-bench) install bench_pkgs bench_files ;;
    *) echo "usage: $0 check|install|check-test|install-test|check-bench|install-bench" >&2; exit 2 ;;
esac
