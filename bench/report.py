#!/usr/bin/env python3
"""bench/run's report: reads the work directory, prints the tables, writes the results JSON.

Inputs (all in --work): hf/KEY.json (hyperfine --export-json), rss/KEY.kb (peak RSS, KiB),
status/KEY (why a measurement is missing), sodium.json, append.json, verify.N.json,
NAME.gen.json, machine.json. KEY is WORKLOAD.SIZE.TOOL.
"""
import argparse
import glob
import json
import os

PEERS = ["age-file", "age-files", "pass", "gopass", "keepassxc"]
PEER_LABEL = {
    "age-file": "age (one file)",
    "age-files": "age (file per secret)",
    "pass": "pass",
    "gopass": "gopass",
    "keepassxc": "keepassxc-cli",
}


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


class Data:
    def __init__(self, work):
        self.work = work
        self.times = {}
        for path in glob.glob(os.path.join(work, "hf", "*.json")):
            key = os.path.basename(path)[:-5]
            doc = load_json(path)
            if not doc or not doc.get("results"):
                continue
            r = doc["results"][0]
            self.times[key] = {
                "median_ms": r["median"] * 1000,
                "mean_ms": r["mean"] * 1000,
                "stddev_ms": (r.get("stddev") or 0) * 1000,
                "min_ms": r["min"] * 1000,
                "max_ms": r["max"] * 1000,
                "runs": len(r.get("times", [])),
                # CPU time (user + system, mean): what is left when waits for the disk are not.
                "cpu_ms": ((r.get("user") or 0) + (r.get("system") or 0)) * 1000,
            }
        self.rss = {}
        for path in glob.glob(os.path.join(work, "rss", "*.kb")):
            key = os.path.basename(path)[:-3]
            try:
                self.rss[key] = int(open(path).read().strip())
            except ValueError:
                pass
        self.status = {}
        for path in glob.glob(os.path.join(work, "status", "*")):
            self.status[os.path.basename(path)] = open(path).read().strip()

    def t(self, key):
        return self.times.get(key, {}).get("median_ms")

    def cpu(self, key):
        return self.times.get(key, {}).get("cpu_ms")


def fmt_ms(ms):
    if ms is None:
        return "—"
    if ms >= 10000:
        return f"{ms / 1000:.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_n(n):
    return f"{n:,}"


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--bulk", type=int, required=True)
    parser.add_argument("--access", type=int, required=True)
    parser.add_argument("--sizes", nargs="+", type=int, required=True)
    parser.add_argument("--journals", nargs="+", type=int, required=True)
    parser.add_argument("--extra-members", nargs="+", type=int, required=True)
    args = parser.parse_args()
    d = Data(args.work)
    sodium = load_json(os.path.join(args.work, "sodium.json"), {})
    append = load_json(os.path.join(args.work, "append.json"), {})
    keys = load_json(os.path.join(args.work, "keys.json"), {})
    machine = load_json(os.path.join(args.work, "machine.json"), {})
    bulk = args.bulk
    access = args.access
    small, large = args.sizes[0], args.sizes[-1]
    results = {"machine": machine, "sodium": sodium, "append": append, "keys_file": keys, "measurements": d.times,
               "peak_rss_kib": d.rss, "status": d.status, "comparisons": [], "escrow_only": [], "targets": []}

    # --- escrow against its peers ---------------------------------------------------------------
    workloads = [("read", "read one secret", args.sizes), ("add", "add one secret", [bulk]),
                 ("access", "one more recipient for every secret", [access]), ("list", "list", args.sizes)]
    rows = []
    for workload, label, sizes in workloads:
        for n in sizes:
            escrow = d.t(f"{workload}.{n}.escrow")
            peers = {p: d.t(f"{workload}.{n}.{p}") for p in PEERS}
            present = {p: v for p, v in peers.items() if v is not None}
            fastest = min(present, key=present.get) if present else None
            ratio = escrow / present[fastest] if escrow is not None and fastest else None
            results["comparisons"].append({"workload": workload, "secrets": n, "escrow_ms": escrow,
                                           "peers_ms": peers, "fastest_peer": fastest, "ratio": ratio})
            note = ""
            if workload == "access":
                note = d.status.get(f"access.{n}.escrow.form", "")
            cpu = d.cpu(f"{workload}.{n}.escrow")
            cells = [f"{label}, {fmt_n(n)} secrets" + (f" ({note})" if note and "loop" in note else ""),
                     (fmt_ms(escrow) + (f" (CPU {fmt_ms(cpu)})" if cpu else "")) if escrow is not None
                     else d.status.get(f"{workload}.{n}.escrow", "—")]
            for p in PEERS:
                cells.append(fmt_ms(peers[p]) if peers[p] is not None else
                             ("n/a" if d.status.get(f"{workload}.{n}.{p}", "").startswith("n/a") else "—"))
            cells.append(f"**{ratio:.2f}×** {PEER_LABEL[fastest]}" if ratio is not None else "—")
            rows.append(cells)
    peers_table = table(["workload", "escrow (CPU)"] + [PEER_LABEL[p] for p in PEERS] + ["escrow ÷ fastest peer"], rows)

    # --- escrow only -----------------------------------------------------------------------------
    only = []

    def add_only(label, key, extra="", rss_key=None):
        ms = d.t(key)
        rss = d.rss.get(rss_key or key)
        cpu = d.cpu(key)
        only.append([label, (fmt_ms(ms) + (f" (CPU {fmt_ms(cpu)})" if cpu else "")) if ms is not None else d.status.get(key, "—"),
                     f"{rss / 1024:.1f} MiB" if rss else "—", extra])
        results["escrow_only"].append({"workload": label, "key": key, "median_ms": ms, "peak_rss_kib": rss,
                                       "note": extra})
        return ms

    verify_2t = sodium.get("ed25519_verify_per_s_2t")
    verify_1t = sodium.get("ed25519_verify_per_s_1t")
    trivial = d.t("startup.0.trivial")
    startup = add_only("`escrow --version` (start-up)", "startup.0.escrow",
                       f"trivial C++ + sodium_init: {fmt_ms(trivial)}")
    verify_rates = {}
    for n in args.sizes:
        doc = load_json(os.path.join(args.work, f"verify.{n}.json"), {}) or {}
        # escrow-vault/2: `verify` replays the journal once, one signature per entry ("signatures":
        # the replay's count of signatures it checked, its fallbacks included); the key lines are
        # hashed, not signed.
        sigs = doc.get("signatures") or 0
        ms = d.t(f"verify.{n}.escrow")
        extra = ""
        if sigs and ms:
            rate = sigs / (ms / 1000)
            verify_rates[n] = rate
            extra = f"{fmt_n(sigs)} entry signatures (the journal replayed), {rate:,.0f}/s = {rate / verify_2t:.0%} of the 2-thread Ed25519 limit" if verify_2t else ""
        add_only(f"`verify`, {fmt_n(n)} secrets", f"verify.{n}.escrow", extra)
    audit_rates = {}
    for m in args.journals:
        ms = d.t(f"audit.{m}.escrow")
        pending = d.status.get(f"audit.{m}.escrow.pending")
        extra = ""
        if ms and not pending:
            rate = m / (ms / 1000)
            audit_rates[m] = rate
            extra = f"{rate:,.0f} entries/s = {rate / verify_2t:.0%} of the 2-thread Ed25519 limit" if verify_2t else ""
        if pending:
            extra = pending
        add_only(f"`audit verify`, {fmt_n(m)} entries", f"audit.{m}.escrow", extra)
    for m in args.journals:
        ms = d.t(f"fresh.{m}.escrow")
        extra = ""
        if ms:
            rate = m / (ms / 1000)
            extra = (f"{rate:,.0f} entries/s = {rate / verify_2t:.0%} of the 2-thread Ed25519 limit"
                     if verify_2t else f"{rate:,.0f} entries/s")
        add_only(f"first open on a fresh clone (`list`, no cache: full replay), journal of {fmt_n(m)} entries",
                 f"fresh.{m}.escrow", extra)
    clone = load_json(os.path.join(args.work, "clone.json"), {})
    if clone:
        scale = f"{fmt_n(clone['secrets'])} secrets, journal of {fmt_n(clone['journal'])} entries"
        add_only(f"first `list` on a fresh clone (no cache: full replay), {scale}", "clone.list.escrow")
        add_only(f"first `verify` on a fresh clone (no cache: one full replay, every key line), {scale}",
                 "clone.verify.escrow")
        add_only(f"`get --reveal` after another member appended one entry (the cache continued), {scale}",
                 "clone.get-after-append.escrow", "one new entry verified, then the fast path")
    spawn = d.t("spawn.0.sh-true")
    rotate = d.t(f"rotate.{access}.escrow")
    rotate_extra = ""
    per_secret = None
    if rotate is not None and spawn is not None:
        per_secret = (rotate - 2 * access * spawn) / access
        rotate_extra = (f"{fmt_ms(rotate / access)} per secret; connector processes (2 × `sh -c true` = "
                        f"{fmt_ms(2 * spawn)}) excluded: escrow's own {fmt_ms(per_secret)} per secret")
    add_only(f"`rotate --due`, {fmt_n(access)} due secrets", f"rotate.{access}.escrow", rotate_extra)
    add_only(f"`request` + 2 × `approve` + `get`, {fmt_n(access)} secrets", f"flow.{access}.escrow", "4 commands")
    add_only(f"`get --reveal` with a passphrase (Argon2id INTERACTIVE), {fmt_n(large)} secrets",
             f"read-kdf.{large}.escrow", "the KDF is a deliberate cost")
    for k in args.extra_members:
        add_only(f"`get --reveal`, {fmt_n(small)} secrets, {fmt_n(k + 9)} members", f"read-members.{k + 9}.escrow")
    for m in args.journals:
        add_only(f"`get --reveal`, {fmt_n(small)} secrets, journal of {fmt_n(m)} entries", f"read-journal.{m}.escrow")
    if append:
        only.append(["one journal append (in-process, median)", fmt_ms(append.get("append_ms")), "—",
                     f"floor (hash + sign + write + fdatasync): {fmt_ms(append.get('floor_ms'))}, "
                     f"ratio {append.get('ratio', 0):.2f}"])
    if keys:
        scale = f"{fmt_n(keys.get('secrets', 0))} secrets × {keys.get('readers', 0)} readers, {fmt_n(keys.get('lines', 0))} lines"
        only.append([f"escrow-keys/2: open + 2 bisected lookups (a `get`'s key-file work), {scale}",
                     fmt_ms(keys.get("get_open_and_two_lookups_ms_median")), "—",
                     f"{keys.get('bytes_per_secret', 0):,.0f} bytes per secret; one lookup on an open file "
                     f"{keys.get('lookup_us_median', 0):.1f} µs (median)"])
        only.append([f"escrow-keys/2: rewrite for an added secret, {scale}",
                     fmt_ms(keys.get("rewrite_add_one_secret_ms_median"))
                     + (f" (CPU {fmt_ms(keys['rewrite_add_one_secret_cpu_ms_median'])})"
                        if keys.get("rewrite_add_one_secret_cpu_ms_median") is not None else ""), "—",
                     f"floor (one copy of the file): {fmt_ms(keys.get('copy_floor_ms_median'))}; "
                     f"full check (verify_all): {fmt_ms(keys.get('verify_all_ms'))}"])
    only_table = table(["workload", "median (CPU)", "peak RSS", "notes"], only)

    # --- reference limits ------------------------------------------------------------------------
    ref_rows = []
    if sodium:
        ref_rows = [
            ["Ed25519 verifications/s, 1 thread", f"{verify_1t:,.0f}"],
            ["Ed25519 verifications/s, 2 threads", f"{verify_2t:,.0f}"],
            ["Ed25519 signatures/s, 1 thread", f"{sodium['ed25519_sign_per_s']:,.0f}"],
            ["sealed-box seals/s, 1 thread", f"{sodium['seal_per_s']:,.0f}"],
            ["sealed-box opens/s, 1 thread", f"{sodium['seal_open_per_s']:,.0f}"],
            ["BLAKE2b-256 throughput", f"{sodium['blake2b_mib_per_s']:,.0f} MiB/s"],
        ]
        if append:
            ref_rows.append(["one durable journal append by hand (hash, sign, write, fdatasync): the disk's flush latency in this run",
                             fmt_ms(append.get("floor_ms"))])
        for n, rate in verify_rates.items():
            ref_rows.append([f"escrow `verify`, {fmt_n(n)} secrets", f"{rate:,.0f} signatures/s ({rate / verify_2t:.0%} of 2 threads, {rate / verify_1t:.0%} of 1)"])
        for m, rate in audit_rates.items():
            ref_rows.append([f"escrow `audit verify`, {fmt_n(m)} entries", f"{rate:,.0f} entries/s ({rate / verify_2t:.0%} of 2 threads, {rate / verify_1t:.0%} of 1)"])
    ref_table = table(["libsodium on this machine", "rate"], ref_rows)

    # --- issue 12's targets, as the issue states them -----------------------------------------------
    targets = []

    def target(number, name, measured, goal, met, stretch=None, why=""):
        """met: True / False / None (not measured: `why`); stretch: True when the stretch goal is met."""
        if met is None:
            verdict = why or "n/a"
        elif met and stretch:
            verdict = "stretch met"
        elif met:
            verdict = "met"
        else:
            verdict = "**missed**"
        targets.append([str(number), name, measured, goal, verdict])
        results["targets"].append({"issue": 12, "number": number, "target": name, "measured": measured, "goal": goal,
                                   "met": met, "stretch_met": bool(met and stretch), "verdict": verdict, "note": why})

    # 1. One new member for every secret, in bulk.
    acc = d.t(f"access.{access}.escrow")
    gopass = d.t(f"access.{access}.gopass")
    keys_sealed = None
    try:
        keys_sealed = int(open(os.path.join(args.work, "access.keys")).read().strip() or 0) or None
    except (OSError, ValueError):
        pass
    goal1 = "≤ 2× the open+seal limit and ≥ 30× faster than gopass; stretch ≥ 80 % of the limit"
    name1 = f"one new member for {fmt_n(access)} secrets (bulk `share`)"
    if acc and sodium and keys_sealed:
        # The limit of the work the command must do: each reader key it gives the member is opened
        # once (the owner's line) and sealed once (the member's), on one thread.
        limit = keys_sealed * (1 / sodium["seal_per_s"] + 1 / sodium["seal_open_per_s"]) * 1000
        speedup = gopass / acc if gopass else None
        measured = (f"{fmt_ms(acc)} = {acc / limit:.2f}× the limit ({limit / acc:.0%}; {fmt_ms(limit)} for "
                    f"{fmt_n(keys_sealed)} opens + {fmt_n(keys_sealed)} seals)"
                    + (f"; {speedup:.1f}× faster than gopass ({fmt_ms(gopass)})" if speedup else "; gopass not run"))
        if speedup is None:
            target(1, name1, measured, goal1, None,
                   why=f"no gopass in this run (≤ 2× the limit: {'yes' if acc <= 2 * limit else 'no'})")
        else:
            target(1, name1, measured, goal1, acc <= 2 * limit and speedup >= 30, stretch=limit / acc >= 0.8)
    else:
        target(1, name1, fmt_ms(acc), goal1, None, why="missing (share, sodium limits or the keys it sealed)")

    # 2. list at the largest size.
    lst = d.t(f"list.{large}.escrow")
    lst_peers = {p: d.t(f"list.{large}.{p}") for p in ("pass", "gopass", "age-file")}
    name2 = f"`list`, {fmt_n(large)} secrets"
    goal2 = "faster than pass and gopass; stretch ≤ 5× age (one file)"
    if lst and lst_peers["pass"] and lst_peers["gopass"]:
        best = min(lst_peers["pass"], lst_peers["gopass"])
        age = lst_peers["age-file"]
        target(2, name2, f"{fmt_ms(lst)} vs pass {fmt_ms(lst_peers['pass'])}, gopass {fmt_ms(lst_peers['gopass'])}"
               + (f", age {fmt_ms(age)} ({lst / age:.1f}×)" if age else ""), goal2, lst < best,
               stretch=bool(age and lst <= 5 * age))
    else:
        target(2, name2, fmt_ms(lst), goal2, None, why="no peers in this run")

    # 3. add one.
    add_e, add_age = d.t(f"add.{bulk}.escrow"), d.t(f"add.{bulk}.age-file")
    name3 = f"add one secret to {fmt_n(bulk)}"
    if add_e and add_age:
        target(3, name3, f"{fmt_ms(add_e)} vs age (one file) {fmt_ms(add_age)} ({add_e / add_age:.2f}×)",
               "≤ age (one file), wall time", add_e <= add_age)
    else:
        target(3, name3, fmt_ms(add_e), "≤ age (one file), wall time", None, why="no peers in this run")

    # 4. rotate --due.
    rotate_run = load_json(os.path.join(args.work, "rotate.json"), {}) or {}
    name4 = f"`rotate --due`, {fmt_n(access)} due secrets"
    goal4 = "≤ 5 ms of escrow's own time per secret, one revision per run"
    if per_secret is not None:
        ops = rotate_run.get("operations")
        revision = ops is not None and ops <= 2  # one rotate-start and one rotate-finish, one run
        target(4, name4, f"escrow's own {fmt_ms(per_secret)} per secret; "
               + (f"{ops} operation entries ({rotate_run.get('entries')} entries) per run" if ops is not None
                  else "entries per run not counted"), goal4, per_secret <= 5 and revision)
    else:
        target(4, name4, fmt_ms(rotate), goal4, None, why=d.status.get(f"rotate.{access}.escrow", "missing"))

    # 5. verify and audit verify against the 2-thread Ed25519 limit; audit verify's peak memory.
    name5 = f"`verify`, {fmt_n(large)} secrets; `audit verify`, {fmt_n(max(args.journals))} entries"
    goal5 = "each ≥ 80 % of the 2-thread Ed25519 limit; audit verify peak ≤ 64 MiB"
    m_max = max(args.journals)
    audit_rss = d.rss.get(f"audit.{m_max}.escrow")
    if verify_2t and large in verify_rates and m_max in audit_rates:
        v, a = verify_rates[large] / verify_2t, audit_rates[m_max] / verify_2t
        target(5, name5, f"verify {v:.0%}, audit verify {a:.0%}; audit verify peak "
               + (f"{audit_rss / 1024:.1f} MiB" if audit_rss else "not measured"), goal5,
               v >= 0.8 and a >= 0.8 and audit_rss is not None and audit_rss <= 64 * 1024)
    else:
        why = next((d.status[f"audit.{m}.escrow"] for m in args.journals if f"audit.{m}.escrow" in d.status),
                   "missing (verify or audit verify)")
        target(5, name5, "—", goal5, None, why=why)

    # 6. get.
    get_large, get_small = d.t(f"read.{large}.escrow"), d.t(f"read.{small}.escrow")
    age_large = d.t(f"read.{large}.age-file")
    k = max(args.extra_members) if args.extra_members else None
    many = d.t(f"read-members.{k + 9}.escrow") if k is not None else None
    name6 = f"`get`: {fmt_n(large)} secrets; {fmt_n(k + 9) if k is not None else '?'} members"
    goal6 = "≤ age (one file); ≤ 1.5× the 9-member time"
    if get_large and age_large and many and get_small:
        target(6, name6, f"{fmt_ms(get_large)} vs age {fmt_ms(age_large)} ({get_large / age_large:.2f}×); "
               f"{fmt_ms(many)} vs {fmt_ms(get_small)} ({many / get_small:.2f}×)", goal6,
               get_large <= age_large and many <= 1.5 * get_small)
    else:
        target(6, name6, fmt_ms(get_large), goal6, None, why="no peers in this run" if not age_large else "missing")

    # 7. Bytes per secret and git growth, reported.
    bytes_doc = load_json(os.path.join(args.work, "bytes.json"), {}) or {}
    growth = load_json(os.path.join(args.work, "git_growth.json"), {}) or {}
    results["bytes"] = bytes_doc
    results["git_growth"] = growth
    name7 = "vault bytes per secret; git growth per 1,000 changes"
    goal7 = "reported (and as small as the cryptography allows: the floor, docs/PERFORMANCE.md)"
    if bytes_doc and growth:
        floor = bytes_doc["floor_per_secret"]["total"]
        target(7, name7, f"{bytes_doc['bytes_per_secret']:,.0f} bytes per secret ({bytes_doc['secrets']:,} secrets, "
               f"{bytes_doc['bytes_per_secret'] / floor:.1f}× the {floor:,.0f}-byte floor); git "
               f"{growth['git_growth_per_1000_changes'] / 1e6:.2f} MB per 1,000 changes "
               f"({growth['changes']:,} rotations, after `git gc`)", goal7, True)
    else:
        target(7, name7, "—", goal7, False, why="bench/bytes.py or bench/git_growth.sh failed")
    target_table = table(["#", "issue 12 target", "measured", "goal", ""], targets)

    # --- earlier targets (issue 6) still measured -------------------------------------------------------
    earlier = []

    def earlier_target(name, measured, goal, met):
        earlier.append([name, measured, goal, "met" if met else "**missed**"])
        results["targets"].append({"issue": 6, "target": name, "measured": measured, "goal": goal, "met": met})

    if startup and trivial:
        r = startup / trivial
        earlier_target("start-up: `escrow --version` vs a trivial C++ program",
                       f"{r:.2f}× ({fmt_ms(startup)} vs {fmt_ms(trivial)})", "≤ 1.1×", r <= 1.1)
    if append:
        earlier_target("one journal append vs sign + hash + one fdatasync", f"{append['ratio']:.2f}×", "≤ 1.3×",
                       append["ratio"] <= 1.3)
    rss_e, rss_age = d.rss.get(f"read.{large}.escrow"), d.rss.get(f"read.{large}.age-file")
    if rss_e and rss_age:
        earlier_target(f"peak memory, read from {fmt_n(large)} secrets, no KDF: escrow vs age",
                       f"{rss_e / rss_age:.2f}× ({rss_e / 1024:.1f} vs {rss_age / 1024:.1f} MiB)", "≤ 2×",
                       rss_e <= 2 * rss_age)
    rss_kdf = d.rss.get(f"read-kdf.{large}.escrow")
    if rss_kdf:
        limit_kib = 64 * 1024 + 16 * 1024  # INTERACTIVE memlimit (64 MiB) + 16 MiB
        earlier_target(f"peak memory, read from {fmt_n(large)} secrets, Argon2id INTERACTIVE",
                       f"{rss_kdf / 1024:.1f} MiB", "≤ 64 + 16 MiB", rss_kdf <= limit_kib)
    earlier_table = table(["earlier target (issue 6)", "measured", "goal", ""], earlier)

    # --- bytes per secret and git growth ----------------------------------------------------------------
    bytes_rows = []
    if bytes_doc:
        kd, jd, fl = bytes_doc["keys"], bytes_doc["journal"], bytes_doc["floor_per_secret"]
        bytes_rows += [
            [f"vault bytes per secret: {bytes_doc.get('label') or fmt_n(bytes_doc['secrets']) + ' secrets'}",
             f"{bytes_doc['bytes_per_secret']:,.0f}"],
            ["  escrow.keys", f"{kd['bytes_per_secret']:,.0f} ({kd['lines_per_secret']:.0f} lines: sealed "
             f"{kd['sealed_bytes_per_secret']:,.0f}, base64 +{kd['base64_expansion_per_secret']:,.0f}, line names "
             f"{kd['line_names_per_secret']:,.0f}, JSON {kd['json_and_layout_per_secret']:,.0f})"],
            ["  escrow.journal", f"{jd['bytes_per_secret']:,.0f} (writes {jd['op_writes_per_secret']:,.0f}, args "
             f"{jd['op_args_per_secret']:,.0f}, signatures {jd['signatures_per_secret']:,.0f}, hashes and parents "
             f"{jd['entry_hashes_and_parents_per_secret']:,.0f}, other {jd['rest_per_secret']:,.0f})"],
            ["  the cryptographic floor (binary)", f"{fl['total']:,.0f} (sealed keys and values "
             f"{fl['sealed_key_material']:,.0f}, commitments {fl['commitments']:,.0f}, line hashes "
             f"{fl['line_hashes']:,.0f}, one signed entry {fl['one_signed_entry']:,.0f}); in base64 "
             f"{fl['total_base64']:,.0f}"],
        ]
    if growth:
        bytes_rows += [
            [f"git growth per 1,000 changes ({fmt_n(growth['changes'])} rotations of {growth['secrets']} secrets, "
             "one commit each, after `git gc`)", f"{growth['git_growth_per_1000_changes'] / 1e6:,.2f} MB "
             f"({growth['git_growth_per_change']:,.0f} bytes per change)"],
            ["  the vault files' own growth per change", f"{growth['files_growth_per_change']:,.0f} bytes"],
        ]
    bytes_table = table(["size", "bytes"], bytes_rows)

    text = "\n\n".join([
        "### escrow and its peers (median wall time; escrow's CPU time in brackets; ratio = escrow ÷ the fastest peer)", peers_table,
        "### escrow only", only_table,
        "### reference limits", ref_table,
        "### bytes per secret and git growth", bytes_table,
        "### targets (issue 12)", target_table,
        "### earlier targets (issue 6)", earlier_table])
    results["markdown"] = text
    print(text)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
