#!/usr/bin/env bash
# Packaging (docs/PACKAGING.md): completions and the man page are generated from the command
# definitions, load and complete in bash (commands, options, secret names, environments), the
# man page renders with man -l, cmake --install puts them in the standard places, cpack -G DEB
# builds a package that lists them, and --version names the commit.
source "$(dirname "$0")/lib.sh"
# grep that reads all of its input (grep -q may stop early and, under pipefail, fail the writer).
has() { grep "$@" >/dev/null; }
setup
build_dir=$(cd "$(dirname "$ESCROW")/.." && pwd)
generated=$build_dir/generated
export PATH=$(dirname "$ESCROW"):$PATH

expect 0 "--version" -- "$ESCROW" --version
printf '%s\n' "$OUT" | grep >/dev/null -E '^escrow [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}(-dirty)?|[A-Za-z0-9._-]+)\)$' \
  && pass "names the version and the commit: $OUT" || die "version line: $OUT"
expect 0 "version as a subcommand's option too" -- "$ESCROW" list --version 2>/dev/null || true

# Generated, not written by hand: the build's files are what the binary prints.
for pair in "bash escrow.bash" "zsh _escrow" "fish escrow.fish"; do
  set -- $pair
  "$ESCROW" completion "$1" >"$WORK/$2"
  cmp -s "$WORK/$2" "$generated/$2" && pass "$2 is the output of escrow completion $1" || die "$2 differs from the build's"
done
"$ESCROW" man >"$WORK/escrow.1"
cmp -s "$WORK/escrow.1" "$generated/escrow.1" && pass "escrow.1 is the output of escrow man" || die "escrow.1 differs"
expect 2 "an unknown shell is refused" -- "$ESCROW" completion tcsh
"$ESCROW" --help | grep >/dev/null -E '^ +(completion|man|__complete) ' && die "hidden commands shown in --help" \
  || pass "the generators are hidden from --help"
# Every visible command is in every script and in the man page.
for command in init member list get exec request approve rotate audit verify; do
  grep -q "$command" "$WORK/escrow.bash" && grep -q "complete -c escrow .* -a '$command'" "$WORK/escrow.fish" \
    && grep -q "$command" "$WORK/_escrow" && grep -q "^\.SS \"$command" "$WORK/escrow.1" \
    || die "$command missing from a generated file"
done
pass "every command is in the completions and the man page"

# A vault to complete names from.
init_vault alice
printf 'v1' | as alice add prod/db-password --purpose db >/dev/null
printf 'v2' | as alice add prod/api-token --purpose api >/dev/null
printf 'v3' | as alice add staging/db-password --purpose db >/dev/null
export ESCROW_IDENTITY=$WORK/alice.id

# complete WORDS...: what bash offers for the last word (the completion loaded as bash does).
complete_words() {
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _escrow escrow "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' complete "$generated/escrow.bash" "$@"
}
bash --norc --noprofile -c "source '$generated/escrow.bash' && complete -p escrow" | has '_escrow escrow' \
  && pass "the bash completion loads and registers" || die "complete -p"
[ "$(complete_words escrow li)" = "list" ] && pass "completes a command: li -> list" || die "li: $(complete_words escrow li)"
complete_words escrow member r | has -x remove && pass "completes a subcommand: member r -> remove" || die "member r"
complete_words escrow get --re | has -x -- --reveal && pass "completes an option: --re -> --reveal" || die "--re"
complete_words escrow --vault x get --ver | has -x -- --version && pass "skips a global option's value" || die "--vault x"
complete_words escrow list --js | has -x -- --json && pass "global options fall through" || die "--js"
got=$(complete_words escrow get prod/ | sort | tr '\n' ' ')
[ "$got" = "prod/api-token prod/db-password " ] && pass "completes secret names: $got" || die "secret names: $got"
complete_words escrow show stag | has -x staging/db-password && pass "for show too" || die "show stag"
[ "$(complete_words escrow list --env st)" = "staging" ] && pass "completes an environment" || die "--env st"
[ -z "$(complete_words escrow get prod/api-token --reveal x)" ] && pass "nothing after the one positional" || die "extra"
# __complete prints only names, reads no identity and writes nothing.
before=$(snapshot)
ESCROW_IDENTITY=$WORK/none.id expect 0 "__complete needs no identity" -- "$ESCROW" __complete secrets
[ "$(printf '%s\n' "$OUT" | wc -l)" -eq 3 ] && pass "three names" || die "names: $OUT"
expect 2 "__complete refuses an unknown kind" -- "$ESCROW" __complete values
[ "$(snapshot)" = "$before" ] && pass "completion changed no file" || die "files changed"

# The man page renders without warnings.
command -v man >/dev/null || die "man is missing (scripts/bootstrap installs man-db)"
{
  MANWIDTH=100 man -l "$generated/escrow.1" 2>"$WORK/man.err" | col -b >"$WORK/man.txt"
  grep -q '^NAME' "$WORK/man.txt" && grep -q 'escrow member add' "$WORK/man.txt" && grep -q -- '--vault' "$WORK/man.txt" \
    && tr -s ' \t\n' ' ' <"$WORK/man.txt" | has 'Exit codes: 0 ok' && pass "man -l renders the page" || die "man output: $(head -20 "$WORK/man.txt")"
  [ ! -s "$WORK/man.err" ] && pass "man printed no warning" || die "man: $(cat "$WORK/man.err")"
}
warnings=$(groff -man -ww -z "$generated/escrow.1" 2>&1 || true)
[ -z "$warnings" ] && pass "groff -ww finds nothing wrong" || die "groff: $warnings"

# cmake --install puts them in the standard places.
expect 0 "cmake --install" -- cmake --install "$build_dir" --prefix "$WORK/prefix"
for file in share/bash-completion/completions/escrow share/zsh/site-functions/_escrow \
            share/fish/vendor_completions.d/escrow.fish share/man/man1/escrow.1 bin/escrow; do
  [ -s "$WORK/prefix/$file" ] && pass "installed $file" || die "missing $file"
done

# A Debian package with its dependencies declared.
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || die "dpkg-deb or cpack is missing (scripts/bootstrap installs dpkg-dev)"
{
  expect 0 "cpack -G DEB" -- cpack -G DEB -B "$WORK/pkg" --config "$build_dir/CPackConfig.cmake"
  deb=$(ls "$WORK"/pkg/*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] && pass "a package: $(basename "$deb")" || die "no .deb: $OUT"
  contents=$(dpkg-deb -c "$deb")
  for file in ./usr/bin/escrow ./usr/share/bash-completion/completions/escrow ./usr/share/zsh/vendor-completions/_escrow \
              ./usr/share/fish/vendor_completions.d/escrow.fish ./usr/share/man/man1/escrow.1; do
    printf '%s\n' "$contents" | has " $file\$" && pass "the package holds $file" || die "not in the package: $file"
  done
  depends=$(dpkg-deb -f "$deb" Depends)
  printf '%s\n' "$depends" | has 'libsodium' && printf '%s\n' "$depends" | has 'git' \
    && pass "Depends: $depends" || die "Depends: $depends"
  if ldd "$ESCROW" | grep -q 'libmimalloc'; then
    printf '%s\n' "$depends" | has 'libmimalloc' && pass "Depends names libmimalloc, the binary's allocator" \
      || die "Depends: $depends"
  fi
  recommends=$(dpkg-deb -f "$deb" Recommends)
  for lib in libpq5 libcurl4 libmariadb3 libssl3; do
    printf '%s\n' "$recommends" | has "$lib" && pass "Recommends $lib (a connector library loaded on first use)" \
      || die "Recommends: $recommends"
  done
  [ "$(dpkg-deb -f "$deb" Package)" = escrow ] && pass "package name" || die "package name"
}
# The connector kinds' client libraries are loaded when a connector runs, never at start-up: a
# `get` does not pay for relocating libpq, libcurl, Connector/C and OpenSSL (connectors/dynlib.hpp).
if command -v ldd >/dev/null; then
  linked=$(ldd "$ESCROW")
  if printf '%s\n' "$linked" | grep -E 'libpq|libcurl|libmariadb|libcrypto|libssl' >/dev/null; then
    die "the binary links a connector library at start-up: $(printf '%s\n' "$linked" | grep -E 'libpq|libcurl|libmariadb|libcrypto|libssl' | tr '\n' ' ')"
  else
    pass "no connector library is loaded at start-up"
  fi
fi
finish
