#!/usr/bin/env bash
# escrow git-setup: init runs it in a work tree; it is idempotent; a clone lacking the config is
# told once per command, with the exact fix; the merge driver is registered for the three files of
# escrow-vault/2 (head, journal, keys) with %P, and refuses escrow-vault/1 files clearly.
# (Adapted to escrow-vault/2: escrow.keys is the third file; the driver line gained %P.)
source "$(dirname "$0")/lib.sh"
setup
start_team

a=$WORK/alice
check "init wrote the .gitattributes lines" -- grep -qx '/escrow.vault merge=escrow diff=escrow' "$a/.gitattributes"
check "... for the journal too" -- grep -qx '/escrow.journal merge=escrow diff=escrow' "$a/.gitattributes"
check "... and for the keys file" -- grep -qx '/escrow.keys merge=escrow diff=escrow' "$a/.gitattributes"
check "the three files are committed" -- test "$(as alice git ls-files escrow.vault escrow.journal escrow.keys | wc -l)" -eq 3
check "init ignored the lock file" -- grep -qx '/escrow.vault.lock' "$a/.gitignore"
check "the textconv is configured in the clone" -- test "$(as alice git config --local diff.escrow.textconv)" = "escrow diff --textconv"
check "the merge driver is registered, with the path (%P)" -- test "$(as alice git config --local merge.escrow.driver)" = "escrow merge %O %A %B %P"
check "the lock file is not tracked" -- test -z "$(as alice git ls-files escrow.vault.lock)"

before=$(cd "$a" && sha256sum .gitattributes .gitignore .git/config)
expect 0 "git-setup again" -- e alice git-setup
check "git-setup again says all is in place" -- contains "$OUT" "already set up"
check "git-setup again changed no byte" -- test "$before" = "$(cd "$a" && sha256sum .gitattributes .gitignore .git/config)"
expect 0 "git-setup --json" -- e alice --json git-setup
check "git-setup --json lists nothing changed" -- contains "$OUT" '"changed": []'

# A fresh clone has .gitattributes (committed) but not .git/config: every command says so once.
clone bob
expect 0 "bob's first command in a clone without the set-up works" -- e bob list
check "... and says once on stderr how to fix it" -- test "$(printf '%s\n' "$ERR" | grep -c 'escrow git-setup')" -eq 1
check "... naming the missing config" -- contains "$ERR" "diff.escrow.textconv"
expect 0 "verify in that clone" -- e bob verify
check "... says it too" -- contains "$ERR" "fix: escrow git-setup"
expect 0 "bob runs git-setup" -- e bob git-setup
check "... which configures his clone" -- contains "$OUT" "diff.escrow.textconv"
check "... and leaves the committed files alone" -- test -z "$(as bob git status --porcelain)"
expect 0 "afterwards the hint is gone" -- e bob list
check "... no stderr" -- test -z "$ERR"

# A clone set up by an older escrow (driver without %P, no escrow.keys line) is told, and fixed.
as bob git config --local merge.escrow.driver "escrow merge %O %A %B"
expect 0 "a clone with the old driver line" -- e bob list
check "... is told to run git-setup" -- contains "$ERR" "merge.escrow.driver"
expect 0 "git-setup brings it up to date" -- e bob git-setup
check "... the driver line" -- test "$(as bob git config --local merge.escrow.driver)" = "escrow merge %O %A %B %P"
expect 0 "and the hint is gone" -- e bob list
check "... no stderr" -- test -z "$ERR"

# The merge driver on files that are not escrow-vault/2: a clear refusal, status 1, no file touched.
printf 'base' >"$WORK/o"; printf 'ours' >"$WORK/a"; printf 'theirs' >"$WORK/b"
expect 1 "escrow merge refuses escrow-vault/1 files (and anything not escrow-vault/2)" -- escrow merge "$WORK/o" "$WORK/a" "$WORK/b"
check "... saying what it merges and how to resolve" -- contains "$ERR" "the merge driver merges escrow-vault/2 files"
check "... with the resolution" -- contains "$ERR" "escrow: hint: resolve by"
check "... ours untouched" -- test "$(cat "$WORK/a")" = ours
expect 2 "escrow merge with a missing argument is a usage error" -- escrow merge "$WORK/o" "$WORK/a"

# Outside a work tree.
mkdir "$WORK/plain"
expect 2 "git-setup outside a work tree" -- bash -c "cd '$WORK/plain' && escrow --vault '$WORK/plain/escrow.vault' git-setup"
check "... says so in one error line" -- contains "$ERR" "escrow: error: $WORK/plain/escrow.vault: not inside a git work tree"
expect 2 "sync outside a work tree" -- bash -c "cd '$WORK/plain' && escrow --vault '$WORK/plain/escrow.vault' sync"

finish
