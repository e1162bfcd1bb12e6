#!/usr/bin/env python3
"""Vault bytes per secret, what they are, and the cryptographic floor (issue 12 target 7).

    bench/bytes.py VAULT_DIR --secrets N [--label TEXT]

Reads an escrow-vault/2 vault (escrow.vault, escrow.journal, escrow.keys) and prints one JSON
document: the bytes per secret of each file, the keys file split into sealed bytes, their base64
expansion and the line names and JSON around them, the journal split into signatures, hashes,
writes, arguments and the rest, and the floor: what the cryptography itself needs per secret
(docs/PERFORMANCE.md "bytes per secret and git growth" explains each term). Nothing is written.
"""
import argparse
import base64
import collections
import json
import os

SEAL_OVERHEAD = 48  # crypto_box_seal: ephemeral X25519 public key (32) + Poly1305 tag (16)
AEAD_OVERHEAD = 16 + 24  # XChaCha20-Poly1305: tag + nonce
SIGNATURE = 64  # Ed25519
HASH = 32  # BLAKE2b-256 (entry hashes, parents, record hashes, line hashes K, commitments)


def line_kind(name):
    # ENV/NAME:g<G>:rk:<member>#K | ENV/NAME:<vid>:v#K | ...:sh:<member>#K | ...:gr:... | ...:ap:...
    parts = name.split(":")
    return parts[2].split("#")[0] if len(parts) > 2 else "?"


def compact(value):
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("vault")
    parser.add_argument("--secrets", type=int, required=True)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    n = args.secrets
    paths = {f: os.path.join(args.vault, f"escrow.{f}") for f in ("vault", "journal", "keys")}
    size = {f: os.path.getsize(p) for f, p in paths.items()}

    # --- keys file --------------------------------------------------------------------------------
    keys = json.load(open(paths["keys"]))
    lines = keys["lines"]
    kinds = collections.Counter()
    sealed = collections.Counter()
    b64 = 0
    names = 0
    generations = set()  # (secret, G) of every rk line
    for name, value in lines.items():
        raw = len(base64.b64decode(value))
        kind = line_kind(name)
        if kind == "rk":
            generations.add(tuple(name.split(":")[:2]))
        kinds[kind] += 1
        sealed[kind] += raw
        b64 += len(value)
        names += len(name.encode())
    sealed_total = sum(sealed.values())
    keys_doc = {
        "bytes_per_secret": size["keys"] / n,
        "lines_per_secret": len(lines) / n,
        "lines_by_kind_per_secret": {k: v / n for k, v in sorted(kinds.items())},
        "sealed_bytes_per_secret": sealed_total / n,
        "base64_expansion_per_secret": (b64 - sealed_total) / n,
        "line_names_per_secret": names / n,
        "json_and_layout_per_secret": (size["keys"] - b64 - names) / n,
    }

    # --- journal ----------------------------------------------------------------------------------
    parts = collections.Counter()
    entries = 0
    sigs = 0
    with open(paths["journal"], "rb") as f:
        for raw_line in f:
            line = raw_line.rstrip(b"\n")
            if not line:
                continue
            entries += 1
            e = json.loads(line)
            total = len(raw_line)
            sig = len(e.get("sig", "").encode()) + len('"sig":"",')
            sigs += 1 if e.get("sig") else 0
            hashes = len(e.get("hash", "")) + len('"hash":"",') + compact(e.get("parents", [])) + len('"parents":,')
            op = e.get("op") or {}
            writes = compact(op.get("writes", [])) if op else 0
            op_args = compact(op.get("args", {})) if op else 0
            detail = compact(e.get("detail")) if "detail" in e else 0
            parts["signatures"] += sig
            parts["entry_hashes_and_parents"] += hashes
            parts["op_writes"] += writes
            parts["op_args"] += op_args
            parts["event_detail"] += detail
            parts["rest"] += total - sig - hashes - writes - op_args - detail
    journal_doc = {"bytes_per_secret": size["journal"] / n, "entries": entries,
                   "entries_per_secret": entries / n}
    journal_doc.update({f"{k}_per_secret": v / n for k, v in sorted(parts.items())})

    # --- the floor ----------------------------------------------------------------------------------
    # What the cryptography needs for one secret, in binary: the sealed lines as they are (each
    # wrapped 32-byte key = 32 + 48; a value line = nonces, the boxed data key and the value's
    # AEAD), one commitment per generation (rk_commit) and per version (dk_commit), one line hash
    # K per key line (the signed state names each line: a writer cannot swap one), and the
    # signature, hash and parent of the one entry that created the secret (bulk entries'
    # are shared by all their items: ~0 per secret).
    versions = kinds.get("v", 0) / n
    floor = {
        "sealed_key_material": sealed_total / n,
        "commitments": HASH * (versions + len(generations) / n),  # dk_commit per version, rk_commit per generation
        "line_hashes": HASH * len(lines) / n,
        "one_signed_entry": SIGNATURE + 2 * HASH,
    }
    floor["total"] = sum(floor.values())
    floor["total_base64"] = floor["total"] * 4 / 3
    total = sum(size.values())
    print(json.dumps({
        "label": args.label,
        "secrets": n,
        "files_bytes": size,
        "bytes_per_secret": total / n,
        "keys": keys_doc,
        "journal": journal_doc,
        "floor_per_secret": floor,
        "ratio_to_floor": (total / n) / floor["total"],
        "ratio_to_floor_base64": (total / n) / floor["total_base64"],
        "generations_per_secret": len(generations) / n,
    }, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
