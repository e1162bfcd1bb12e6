#!/usr/bin/env bash
# cmake --install gives another program escrow::core through find_package(escrow).
source "$(dirname "$0")/lib.sh"
setup
build_dir=$(cd "$(dirname "$ESCROW")/.." && pwd)
src=${ESCROW_SOURCE_DIR:?}
expect 0 "cmake --install into a prefix" -- cmake --install "$build_dir" --prefix "$WORK/prefix"
[ -x "$WORK/prefix/bin/escrow" ] && pass "binary installed" || die "no binary"
[ -f "$WORK/prefix/include/escrow/history/vault_session.hpp" ] && pass "headers installed" || die "no headers"
ls "$WORK"/prefix/lib*/libescrow_core.a >/dev/null 2>&1 && pass "static library installed" || die "no library"
# A sanitizer build's library needs the sanitizer runtime in whatever links it.
sanitize=()
if grep -q '^ESCROW_SANITIZE:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  sanitize=(-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined)
elif grep -q '^ESCROW_FUZZ:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
  # scripts/test's sanitizer build (clang, ASan + UBSan + coverage hooks): link as it does.
  sanitize=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=fuzzer-no-link,address,undefined)
fi
expect 0 "a consumer configures with find_package(escrow)" -- \
  cmake -S "$src/examples/library" -B "$WORK/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" \
  -DCMAKE_BUILD_TYPE=Release "${sanitize[@]}"
expect 0 "and builds against escrow::core" -- cmake --build "$WORK/consumer"
init_vault alice
printf 'v' | as alice add dev/api --purpose "consumer test" >/dev/null
export ESCROW_IDENTITY=$WORK/alice.id
expect 0 "the consumer reads the vault" -- "$WORK/consumer/escrow-inventory" "$WORK/escrow.vault"
printf '%s\n' "$OUT" | grep >/dev/null '^dev/api,dev,alice,"consumer test",1$' && pass "inventory row" || die "output: $OUT"
finish
