#!/usr/bin/env python3
"""Derives the Shamir known-answer vectors in this folder, independently of lib/escrow/shamir.cpp.

The arithmetic here is deliberately different from the C++ code: products are a carry-less
multiplication followed by long division by 0x11B, inverses are found by exhaustive search,
polynomials are evaluated as a sum of c_j * x^j (not Horner) and the secret is recovered by
Lagrange interpolation. Before writing anything the script checks its field against FIPS-197
(section 4.2) and against the published test data of two Shamir-over-GF(256) implementations:

  - codahale/shamir, src/test/java/com/codahale/shamir/GF256Test.java (field 0x11B);
  - hashicorp/vault, shamir/shamir_test.go (TestField_Mult, TestField_Divide).

Run from anywhere with Python 3.8+ (standard library only); it rewrites the JSON files.
"""

import hashlib
import itertools
import json
import os

POLY = 0x11B


def clmul(a, b):
    product = 0
    for bit in range(8):
        if (b >> bit) & 1:
            product ^= a << bit
    return product


def reduce(value):
    for bit in range(14, 7, -1):
        if (value >> bit) & 1:
            value ^= POLY << (bit - 8)
    return value


def mul(a, b):
    return reduce(clmul(a, b))


INV = [0] * 256
for a in range(1, 256):
    matches = [b for b in range(1, 256) if mul(a, b) == 1]
    assert len(matches) == 1
    INV[a] = matches[0]


def div(a, b):
    return mul(a, INV[b])


def power(x, n):
    result = 1
    for _ in range(n):
        result = mul(result, x)
    return result


def evaluate(coefficients, x):
    """coefficients[0] is the constant term."""
    total = 0
    for degree, c in enumerate(coefficients):
        total ^= mul(c, power(x, degree))
    return total


def interpolate_at_zero(points):
    total = 0
    for i, (xi, yi) in enumerate(points):
        basis = 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                basis = mul(basis, div(xj, xi ^ xj))
        total ^= mul(basis, yi)
    return total


# --- the reference field agrees with published facts ------------------------------------------
# FIPS-197 section 4.2 and 4.2.1.
assert mul(0x57, 0x83) == 0xC1
assert mul(0x57, 0x13) == 0xFE
assert [mul(0x57, m) for m in (0x02, 0x04, 0x08, 0x10)] == [0xAE, 0x47, 0x8E, 0x07]
assert INV[0x53] == 0xCA


def sbox(a):
    """The AES S-box: the affine map of FIPS-197 (5.1) applied to the field inverse."""
    b = INV[a]
    out = 0
    for i in range(8):
        bit = (b >> i) ^ (b >> ((i + 4) % 8)) ^ (b >> ((i + 5) % 8)) ^ (b >> ((i + 6) % 8)) \
            ^ (b >> ((i + 7) % 8)) ^ (0x63 >> i)
        out |= (bit & 1) << i
    return out


# FIPS-197 5.1.1 ({53} -> {ed}) and the first row of its Figure 7.
assert sbox(0x53) == 0xED
assert [sbox(a) for a in range(8)] == [0x63, 0x7C, 0x77, 0x7B, 0xF2, 0x6B, 0x6F, 0xC5]
# codahale/shamir GF256Test.
assert mul(90, 21) == 254 and mul(133, 5) == 167 and mul(0, 21) == 0 and mul(0xB6, 0x53) == 0x36
assert div(90, 21) == 189 and div(6, 55) == 151 and div(22, 192) == 138 and div(0, 192) == 0
assert evaluate([1, 0, 2, 3], 2) == 17
assert interpolate_at_zero([(1, 1), (2, 2), (3, 3)]) == 0
assert interpolate_at_zero([(1, 80), (2, 90), (3, 20)]) == 30
assert interpolate_at_zero([(1, 43), (2, 22), (3, 86)]) == 107
# hashicorp/vault shamir_test.go.
assert mul(3, 7) == 9 and mul(3, 0) == 0 and div(0, 7) == 0 and div(3, 3) == 1 and div(6, 3) == 2


def solve_coefficients(points):
    """The unique polynomial of degree < len(points) through points, constant term first."""
    k = len(points)
    # Gaussian elimination on the Vandermonde system over GF(2^8).
    rows = [[power(x, d) for d in range(k)] + [y] for x, y in points]
    for col in range(k):
        pivot = next(r for r in range(col, k) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        scale = INV[rows[col][col]]
        rows[col] = [mul(v, scale) for v in rows[col]]
        for r in range(k):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [v ^ mul(factor, p) for v, p in zip(rows[r], rows[col])]
    return [rows[d][k] for d in range(k)]


def hexs(data):
    return bytes(data).hex()


def split_vector(name, source, secret, rows, count):
    """rows[d-1] holds the degree-d coefficient of every secret byte."""
    shares = []
    for x in range(1, count + 1):
        y = [evaluate([secret[b]] + [row[b] for row in rows], x) for b in range(len(secret))]
        shares.append({"x": x, "y": hexs(y)})
    return {
        "name": name,
        "source": source,
        "secret": hexs(secret),
        "threshold": len(rows) + 1,
        "count": count,
        "coefficients": [hexs(row) for row in rows],
        "shares": shares,
    }


def pattern(length, seed):
    """A fixed, non-random byte pattern (a labelled BLAKE2b stream) for coefficients."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.blake2b(f"escrow/test/shamir/{seed}/{counter}".encode(), digest_size=64).digest()
        counter += 1
    return list(out[:length])


def main():
    here = os.path.dirname(os.path.abspath(__file__))

    def write(name, document):
        with open(os.path.join(here, name), "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")

    # --- gf256.json -------------------------------------------------------------------------
    table = bytes(mul(a, b) for a in range(256) for b in range(256))
    write("gf256.json", {
        "format": "escrow-test-vectors/shamir-gf256/1",
        "field": "GF(2^8) modulo x^8+x^4+x^3+x+1 (0x11B), the AES field",
        "mul": [
            {"a": "57", "b": "83", "product": "c1", "source": "FIPS-197 4.2"},
            {"a": "57", "b": "13", "product": "fe", "source": "FIPS-197 4.2.1"},
            {"a": "57", "b": "02", "product": "ae", "source": "FIPS-197 4.2.1"},
            {"a": "57", "b": "04", "product": "47", "source": "FIPS-197 4.2.1"},
            {"a": "57", "b": "08", "product": "8e", "source": "FIPS-197 4.2.1"},
            {"a": "57", "b": "10", "product": "07", "source": "FIPS-197 4.2.1"},
            {"a": "53", "b": "ca", "product": "01", "source": "FIPS-197 5.1.1: S({53}) = {ed} = affine({ca})"},
            {"a": "5a", "b": "15", "product": "fe", "source": "codahale/shamir GF256Test mul(90, 21)"},
            {"a": "85", "b": "05", "product": "a7", "source": "codahale/shamir GF256Test mul(133, 5)"},
            {"a": "00", "b": "15", "product": "00", "source": "codahale/shamir GF256Test mul(0, 21)"},
            {"a": "b6", "b": "53", "product": "36", "source": "codahale/shamir GF256Test mul(0xb6, 0x53)"},
            {"a": "03", "b": "07", "product": "09", "source": "hashicorp/vault shamir_test.go mult(3, 7)"},
            {"a": "03", "b": "00", "product": "00", "source": "hashicorp/vault shamir_test.go mult(3, 0)"},
            {"a": "80", "b": "02", "product": "1b", "source": "derived: x^8 reduces to 0x1B"},
            {"a": "ff", "b": "ff", "product": f"{mul(0xFF, 0xFF):02x}", "source": "derived"},
        ],
        "div": [
            {"a": "5a", "b": "15", "quotient": "bd", "source": "codahale/shamir GF256Test div(90, 21)"},
            {"a": "06", "b": "37", "quotient": "97", "source": "codahale/shamir GF256Test div(6, 55)"},
            {"a": "16", "b": "c0", "quotient": "8a", "source": "codahale/shamir GF256Test div(22, 192)"},
            {"a": "00", "b": "c0", "quotient": "00", "source": "codahale/shamir GF256Test div(0, 192)"},
            {"a": "06", "b": "03", "quotient": "02", "source": "hashicorp/vault shamir_test.go div(6, 3)"},
            {"a": "03", "b": "03", "quotient": "01", "source": "hashicorp/vault shamir_test.go div(3, 3)"},
        ],
        "inverse_table": {
            "source": "derived by exhaustive search in generate.py; inverse_table[0] is 0 by convention",
            "hex": hexs(INV),
        },
        "mul_table_blake2b256": {
            "source": "BLAKE2b-256 (unkeyed) of the 65536 products a*b, in order a*256+b",
            "hex": hashlib.blake2b(table, digest_size=32).hexdigest(),
        },
    })

    # --- split.json -------------------------------------------------------------------------
    vectors = []
    vectors.append(split_vector(
        "threshold 1: every share is the secret", "derived",
        list(b"escrow"), [], 3))
    vectors.append(split_vector(
        "codahale eval({1,0,2,3}, 2) = 17 as a 4-of-4 split", "codahale/shamir GF256Test eval",
        [1], [[0], [2], [3]], 4))
    # codahale's three interpolation examples, as one 3-byte secret split 3-of-3 (byte-wise).
    points = [[(1, 80), (2, 90), (3, 20)], [(1, 43), (2, 22), (3, 86)], [(1, 1), (2, 2), (3, 3)]]
    polys = [solve_coefficients(p) for p in points]
    assert [p[0] for p in polys] == [30, 107, 0]
    vectors.append(split_vector(
        "codahale interpolate vectors as a 3-of-5 split (shares 1..3 are the published points)",
        "codahale/shamir GF256Test interpolate; coefficients solved in generate.py",
        [p[0] for p in polys], [[p[1] for p in polys], [p[2] for p in polys]], 5))
    key = pattern(32, "key")
    vectors.append(split_vector(
        "32-byte data key, 3-of-5", "derived", key,
        [pattern(32, "c1"), pattern(32, "c2")], 5))
    vectors.append(split_vector(
        "2-of-255, x reaches 255", "derived", [0xA5, 0x00],
        [pattern(2, "c255")], 255))
    vectors.append(split_vector(
        "7-of-7 with zero leading coefficient (degree drops, still correct)", "derived",
        pattern(4, "s7"), [pattern(4, f"d{d}") for d in range(1, 6)] + [[0, 0, 0, 0]], 7))
    for v in vectors:
        check_points = [(s["x"], bytes.fromhex(s["y"])) for s in v["shares"]][: v["threshold"]]
        for b, expected in enumerate(bytes.fromhex(v["secret"])):
            assert interpolate_at_zero([(x, y[b]) for x, y in check_points]) == expected
    published = vectors[2]["shares"]
    assert [bytes.fromhex(s["y"]) for s in published[:3]] == [bytes([80, 43, 1]),
                                                             bytes([90, 22, 2]),
                                                             bytes([20, 86, 3])]
    write("split.json", {
        "format": "escrow-test-vectors/shamir-split/1",
        "note": "coefficients[d-1] holds the degree-d coefficient of every secret byte",
        "vectors": vectors,
    })

    # --- combine.json -----------------------------------------------------------------------
    key_shares = vectors[3]["shares"]

    def pick(shares, xs):
        return [s for s in shares if s["x"] in xs]

    def interpolate_bytes(shares):
        ys = [bytes.fromhex(s["y"]) for s in shares]
        return hexs(interpolate_at_zero([(s["x"], y[b]) for s, y in zip(shares, ys)])
                    for b in range(len(ys[0])))

    below = pick(key_shares, {2, 5})
    below_value = interpolate_bytes(below)
    assert below_value != hexs(key)
    cases = [
        {"name": "codahale interpolate vectors", "source": "codahale/shamir GF256Test interpolate",
         "shares": [{"x": 1, "y": "502b01"}, {"x": 2, "y": "5a1602"}, {"x": 3, "y": "145603"}],
         "expect": "ok", "secret": hexs([30, 107, 0])},
        {"name": "same, shares in another order", "source": "codahale/shamir GF256Test interpolate",
         "shares": [{"x": 3, "y": "145603"}, {"x": 1, "y": "502b01"}, {"x": 2, "y": "5a1602"}],
         "expect": "ok", "secret": hexs([30, 107, 0])},
        {"name": "32-byte key from shares 2, 4, 5", "source": "derived",
         "shares": pick(key_shares, {2, 4, 5}), "expect": "ok", "secret": hexs(key)},
        {"name": "32-byte key from all five shares", "source": "derived",
         "shares": key_shares, "expect": "ok", "secret": hexs(key)},
        {"name": "below threshold: 2 of a 3-of-5 give a wrong value", "source": "derived",
         "shares": below, "expect": "ok", "secret": below_value, "below_threshold": True},
        {"name": "shares 200 and 255 of the 2-of-255 split", "source": "derived",
         "shares": pick(vectors[4]["shares"], {200, 255}), "expect": "ok", "secret": "a500"},
        {"name": "no shares", "shares": [], "expect": "integrity"},
        {"name": "x is zero", "shares": [{"x": 0, "y": "01"}, {"x": 1, "y": "02"}],
         "expect": "integrity"},
        {"name": "duplicate x", "shares": [{"x": 1, "y": "502b01"}, {"x": 1, "y": "502b01"}],
         "expect": "integrity"},
        {"name": "duplicate x, different y", "shares": [{"x": 7, "y": "01"}, {"x": 7, "y": "02"}],
         "expect": "integrity"},
        {"name": "different lengths", "shares": [{"x": 1, "y": "0102"}, {"x": 2, "y": "01"}],
         "expect": "integrity"},
        {"name": "empty y", "shares": [{"x": 1, "y": ""}, {"x": 2, "y": ""}],
         "expect": "integrity"},
    ]
    write("combine.json", {"format": "escrow-test-vectors/shamir-combine/1", "cases": cases})

    # --- wire.json --------------------------------------------------------------------------
    write("wire.json", {
        "format": "escrow-test-vectors/shamir-wire/1",
        "note": "wire form of a share: one byte x, then y",
        "cases": [
            {"wire": "01502b01", "expect": "ok", "x": 1, "y": "502b01"},
            {"wire": "ffa5", "expect": "ok", "x": 255, "y": "a5"},
            {"wire": "", "expect": "integrity"},
            {"wire": "01", "expect": "integrity"},
            {"wire": "00", "expect": "integrity"},
            {"wire": "00a5", "expect": "integrity"},
        ],
    })


if __name__ == "__main__":
    main()
