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

    # --- targets (issue 6, item 5) ------------------------------------------------------------------
    targets = []

    def target(name, measured, goal, met, why=""):
        targets.append([name, measured, goal,
                        "met" if met is True else ("**missed**" if met is False else (why or "n/a"))])
        results["targets"].append({"target": name, "measured": measured, "goal": goal,
                                   "met": met, "note": why})

    if startup and trivial:
        r = startup / trivial
        target("start-up: `escrow --version` vs a trivial C++ program", f"{r:.2f}× ({fmt_ms(startup)} vs {fmt_ms(trivial)})", "≤ 1.1×", r <= 1.1)
    get_large, get_small = d.t(f"read.{large}.escrow"), d.t(f"read.{small}.escrow")
    age_large = d.t(f"read.{large}.age-file")
    if get_large and age_large:
        target(f"read one secret, {fmt_n(large)}: escrow vs age (one file)", f"{get_large / age_large:.2f}× ({fmt_ms(get_large)} vs {fmt_ms(age_large)})", "≤ 1.0×", get_large <= age_large)
    else:
        target(f"read one secret, {fmt_n(large)}: escrow vs age (one file)", "—", "≤ 1.0×", None, "no peers")
    if get_large and get_small and large != small:
        r = get_large / get_small
        target(f"read one secret: {fmt_n(large)} vs {fmt_n(small)} secrets", f"{r:.2f}× ({fmt_ms(get_large)} vs {fmt_ms(get_small)})", "≤ 1.2×", r <= 1.2)
    else:
        target("read one secret: largest vs smallest vault", "—", "≤ 1.2×", None, "one size only (--quick)")
    if args.extra_members and get_small:
        k = max(args.extra_members)
        many = d.t(f"read-members.{k + 9}.escrow")
        if many:
            r = many / get_small
            target(f"read one secret, {fmt_n(small)} secrets: {fmt_n(k + 9)} vs 9 members", f"{r:.2f}× ({fmt_ms(many)} vs {fmt_ms(get_small)})", "≤ 1.5×", r <= 1.5)
    add_e, add_age = d.t(f"add.{bulk}.escrow"), d.t(f"add.{bulk}.age-file")
    if add_e and add_age:
        target(f"add one secret to {fmt_n(bulk)}: escrow vs age (one file)", f"{add_e / add_age:.2f}× ({fmt_ms(add_e)} vs {fmt_ms(add_age)})", "≤ 1.0×", add_e <= add_age)
    else:
        target(f"add one secret to {fmt_n(bulk)}: escrow vs age (one file)", "—", "≤ 1.0×", None, "missing")
    acc = d.t(f"access.{access}.escrow")
    pass_init = [v for v in (d.t(f"access.{access}.pass"), d.t(f"access.{access}.gopass")) if v]
    if acc and pass_init:
        best = min(pass_init)
        target(f"one more member for {fmt_n(access)} secrets: speed-up over pass/gopass init", f"{best / acc:.1f}× faster ({fmt_ms(acc)} vs {fmt_ms(best)})", "≥ 100×", best / acc >= 100)
    else:
        target(f"one more member for {fmt_n(access)} secrets: speed-up over pass/gopass init", fmt_ms(acc), "≥ 100×", None, "missing")
    if acc and sodium:
        floor_ms = 2 * access * (1 / sodium["seal_per_s"] + 1 / sodium["seal_open_per_s"]) * 1000
        target(f"one more member for {fmt_n(access)} secrets: fraction of the open+seal limit", f"{floor_ms / acc:.0%} (limit {fmt_ms(floor_ms)} for {fmt_n(2 * access)} keys)", "≥ 80%", floor_ms / acc >= 0.8)
    if verify_rates and verify_2t:
        n = max(verify_rates)
        target(f"`verify`, {fmt_n(n)} secrets: fraction of the 2-thread Ed25519 limit", f"{verify_rates[n] / verify_2t:.0%}", "≥ 80%", verify_rates[n] / verify_2t >= 0.8)
    if audit_rates and verify_2t:
        m = max(audit_rates)
        target(f"`audit verify`, {fmt_n(m)} entries: fraction of the 2-thread Ed25519 limit", f"{audit_rates[m] / verify_2t:.0%}", "≥ 80%", audit_rates[m] / verify_2t >= 0.8)
    else:
        why = next((d.status[f"audit.{m}.escrow"] for m in args.journals if f"audit.{m}.escrow" in d.status),
                   "pending: `audit verify` not implemented yet")
        target("`audit verify`: fraction of the 2-thread Ed25519 limit", "—", "≥ 80%", None, why)
    if append:
        target("one journal append vs sign + hash + one fdatasync", f"{append['ratio']:.2f}×", "≤ 1.3×", append["ratio"] <= 1.3)
    rss_e, rss_age = d.rss.get(f"read.{large}.escrow"), d.rss.get(f"read.{large}.age-file")
    if rss_e and rss_age:
        target(f"peak memory, read from {fmt_n(large)} secrets, no KDF: escrow vs age", f"{rss_e / rss_age:.2f}× ({rss_e / 1024:.1f} vs {rss_age / 1024:.1f} MiB)", "≤ 2×", rss_e <= 2 * rss_age)
    rss_kdf = d.rss.get(f"read-kdf.{large}.escrow")
    if rss_kdf:
        limit = 64 * 1024 + 16 * 1024  # INTERACTIVE memlimit (64 MiB) + 16 MiB
        target(f"peak memory, read from {fmt_n(large)} secrets, Argon2id INTERACTIVE", f"{rss_kdf / 1024:.1f} MiB", "≤ 64 + 16 MiB", rss_kdf <= limit)
    target_table = table(["target", "measured", "goal", ""], targets)

    text = "\n\n".join([
        "### escrow and its peers (median wall time; escrow's CPU time in brackets; ratio = escrow ÷ the fastest peer)", peers_table,
        "### escrow only", only_table,
        "### reference limits", ref_table,
        "### targets", target_table])
    results["markdown"] = text
    print(text)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
