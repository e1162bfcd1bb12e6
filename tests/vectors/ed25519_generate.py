#!/usr/bin/env python3
"""Generates tests/vectors/ed25519_expected.json: which C2SP/CCTV ed25519 edge-case vectors
libsodium's crypto_sign_verify_detached accepts (escrow's crypto::verify_raw).

Run once, review, commit; the test (tests/unit/crypto_test.cpp) then fails when libsodium's
behaviour changes. Usage, from the project root:

    python3 tests/vectors/ed25519_generate.py > tests/vectors/ed25519_expected.json

Review against tests/vectors/cctv-ed25519/README.md: libsodium rejects low-order A and R
(low_order_A, low_order_R), non-canonical encodings (non_canonical_A, non_canonical_R) and,
being cofactorless, low_order_residue; it accepts mixed-order points otherwise
(low_order_component_* alone). The script refuses to write a file that breaks these rules.
"""
import ctypes
import ctypes.util
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
vectors_path = os.path.join(root, "tests", "vectors", "cctv-ed25519", "ed25519vectors.json")
sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
if sodium.sodium_init() < 0:
    sys.exit("libsodium failed to start")
sodium.sodium_version_string.restype = ctypes.c_char_p
version = sodium.sodium_version_string().decode()

vectors = json.load(open(vectors_path))
accept = []
reject = []
for vector in vectors:
    key = bytes.fromhex(vector["key"])
    sig = bytes.fromhex(vector["sig"])
    msg = vector["msg"].encode()
    ok = sodium.crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), key) == 0
    flags = set(vector.get("flags") or [])
    must_reject = flags & {"low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R",
                           "low_order_residue"}
    if ok and must_reject:
        sys.exit(f"vector {vector['number']}: accepted despite {sorted(must_reject)}")
    (accept if ok else reject).append(vector["number"])

fields = [("source", "C2SP/CCTV ed25519/ed25519vectors.json"),
          ("generated_with", f"libsodium {version} crypto_sign_verify_detached"),
          ("rule", "reject low_order_A, low_order_R, non_canonical_A, non_canonical_R, "
                   "low_order_residue; accept the rest"),
          ("count", len(vectors)),
          ("accept", accept),
          ("reject", reject)]
sys.stdout.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in fields) + "\n}\n")
