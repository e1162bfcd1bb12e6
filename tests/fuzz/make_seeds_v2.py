#!/usr/bin/env python3
"""Seeds of the escrow-vault/2 parsers (keys_file, head_file): small files in the exact layouts of
docs/design/vault-2.md §3.1 and §3.3, with line keys hashed as escrow hashes them. Deterministic.

    python3 tests/fuzz/make_seeds_v2.py tests/fuzz/corpus
"""
import base64
import hashlib
import os
import sys

corpus = sys.argv[1]
vault_id = bytes(range(1, 17))


def b64(data):
    return base64.b64encode(data).decode()


def fake(size, seed):
    return bytes((seed + 7 * i) & 0xFF for i in range(size))


def key(logical, raw):
    h = hashlib.blake2b(b"escrow/v2/key\0" + logical.encode() + b"\0" + raw, digest_size=32).digest()
    return f"{logical}#{h[:12].hex()}"


def keys_file(lines):
    items = sorted((key(logical, raw), b64(raw)) for logical, raw in lines)
    out = '{\n  "format": "escrow-keys/2",\n  "lines": {'
    if not items:
        out += "},\n"
    else:
        out += "\n" + ",\n".join(f'    "{k}": "{v}"' for k, v in items) + "\n  },\n"
    return out + f'  "vault_id": "{b64(vault_id)}"\n}}\n'


def head_file(heads, entries):
    inner = ",\n".join(f'      "{b64(h)}"' for h in heads)
    return ('{\n  "format": "escrow-vault/2",\n  "journal": {\n'
            f'    "entries": {entries},\n    "heads": [\n{inner}\n    ]\n  }},\n'
            f'  "vault_id": "{b64(vault_id)}"\n}}\n')


def seed(target, name, text):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    with open(os.path.join(corpus, target, "seed-" + name), "w") as out:
        out.write(text)


vid = "5f3a9c0e12ab34cd"
every_kind = [
    ("prod/db:g1:rk:alice", fake(80, 1)),
    ("prod/db:g1:rk:ci", fake(80, 2)),
    (f"prod/db:{vid}:v", fake(112 + 12, 3)),
    (f"prod/db:{vid}:sh:bob", fake(81, 4)),
    (f"prod/db:{vid}:gr:dave", fake(80, 5)),
    (f"prod/db:{vid}:ap:0123456789abcdef:bob", fake(81, 6)),
]
seed("keys_file", "empty.keys", keys_file([]))
seed("keys_file", "every-kind.keys", keys_file(every_kind))
many = []
for s in range(6):
    for r in range(5):
        many.append((f"staging/svc-{s}:g{1 + s % 2}:rk:member{r}", fake(80, s * 5 + r)))
    many.append((f"staging/svc-{s}:{s:016x}:v", fake(112 + s, s)))
seed("keys_file", "six-secrets.keys", keys_file(many))
seed("head_file", "one-head.vault", head_file([fake(32, 1)], 1))
seed("head_file", "two-heads.vault", head_file([fake(32, 1), fake(32, 2)], 104213))
