# Sourced by scripts/install and scripts/build-release: how release binaries are
# linked. On Linux with glibc the tools are linked statically (static-pie: glibc and
# libgcc inside, address space randomisation kept). A dynamically linked tool spends
# about 0.6 ms more at every start, mapping its shared libraries and resolving their
# symbols, and that lay on the path of `p2p-pipe connect`'s first byte (docs/pipe.md,
# "Fourth round"). crt-static must not reach proc-macros and build scripts, so the
# build names its target: host artifacts then build without these flags.
#
# Sets RELEASE_TARGET (empty elsewhere) and, on Linux/glibc, adds to RUSTFLAGS.
RELEASE_TARGET=""
release_host=$(rustc -vV | sed -n 's/^host: //p')
case "$release_host" in
    *-linux-gnu)
        RELEASE_TARGET=$release_host
        export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
        ;;
esac
