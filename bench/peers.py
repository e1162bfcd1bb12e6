#!/usr/bin/env python3
"""Builds the peers' stores for bench/run from the names escrow-bench-gen wrote.

For each size N (WORK/vN/names.txt):
  WORK/age/single-N.age   one age file holding every entry ("ENV/NAME value" lines), for 5 recipients
  WORK/age/files-N/...    one age file per secret (ENV/NAME.age), for the same 5 recipients
  WORK/pass-N/            a pass/gopass store (.gpg-id with 5 cv25519 keys, ENV/NAME.gpg)
  WORK/kp-N.kdbx          a KeePassXC database with N entries, key file only (no password)

The per-file stores are filled with copies of one real encrypted entry: the same size, format
and recipients as N separately encrypted ones, without N gpg/age processes at set-up. Reading,
listing and re-encrypting them does the same work as for distinct entries. The single age file
and the KeePassXC database hold N distinct values.
"""
import argparse
import base64
import os
import shutil
import subprocess
import sys
from xml.sax.saxutils import escape


def run(cmd, stdin=None):
    subprocess.run(cmd, input=stdin, check=True, stdout=subprocess.DEVNULL)


def names_of(work, n):
    with open(os.path.join(work, f"v{n}", "names.txt")) as f:
        return [line.strip() for line in f if line.strip()]


def copy_tree_of(blob, root, names, suffix):
    for name in names:
        path = os.path.join(root, name + suffix)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(blob, path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--sizes", nargs="+", type=int, required=True)
    parser.add_argument("--value-file", required=True)
    parser.add_argument("--gpg-ids", nargs="+", required=True)
    parser.add_argument("--kp-key", required=True)
    args = parser.parse_args()
    work = args.work
    age_dir = os.path.join(work, "age")
    recipients = os.path.join(age_dir, "recipients5.txt")
    value = open(args.value_file, "rb").read()

    # One encrypted entry of each kind, copied into the per-file stores.
    age_blob = os.path.join(work, "blob.age")
    run(["age", "-R", recipients, "-o", age_blob], stdin=value)
    gpg_blob = os.path.join(work, "blob.gpg")
    gpg = ["gpg", "--batch", "--yes", "--quiet", "--use-agent", "--no-encrypt-to", "-e"]
    for key in args.gpg_ids:
        gpg += ["-r", key]
    run(gpg + ["-o", gpg_blob], stdin=value + b"\n")

    for n in sorted(set(args.sizes)):
        names = names_of(work, n)
        print(f"bench: peers for {n} secrets", file=sys.stderr)
        lines = "".join(f"{name} v{i}-{os.urandom(16).hex()}\n" for i, name in enumerate(names))
        run(["age", "-R", recipients, "-o", os.path.join(age_dir, f"single-{n}.age")], stdin=lines.encode())
        copy_tree_of(age_blob, os.path.join(age_dir, f"files-{n}"), names, ".age")

        store = os.path.join(work, f"pass-{n}")
        os.makedirs(store, exist_ok=True)
        with open(os.path.join(store, ".gpg-id"), "w") as f:
            f.write("".join(key + "\n" for key in args.gpg_ids))
        copy_tree_of(gpg_blob, store, names, ".gpg")

        entries = []
        for i, name in enumerate(names):
            uuid = base64.b64encode((i + 1).to_bytes(16, "big")).decode()
            entries.append(
                f"<Entry><UUID>{uuid}</UUID>"
                f"<String><Key>Title</Key><Value>{escape(name)}</Value></String>"
                f"<String><Key>UserName</Key><Value>svc</Value></String>"
                f"<String><Key>Password</Key><Value ProtectInMemory=\"True\">v{i}-{os.urandom(16).hex()}</Value></String>"
                f"<String><Key>Notes</Key><Value>bench entry {i}</Value></String></Entry>")
        xml = ("<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n"
               "<KeePassFile><Meta><Generator>escrow-bench</Generator><DatabaseName>bench</DatabaseName></Meta>"
               "<Root><Group><UUID>AAAAAAAAAAAAAAAAAAAAAA==</UUID><Name>Root</Name>"
               + "".join(entries) + "</Group></Root></KeePassFile>\n")
        xml_path = os.path.join(work, f"kp-{n}.xml")
        with open(xml_path, "w") as f:
            f.write(xml)
        kdbx = os.path.join(work, f"kp-{n}.kdbx")
        if os.path.exists(kdbx):
            os.remove(kdbx)
        # -t 100: the lowest KDF time keepassxc-cli accepts (it refuses less than 100 ms).
        run(["keepassxc-cli", "import", "-q", "--set-key-file", args.kp_key, "-t", "100", xml_path, kdbx])
        os.remove(xml_path)


if __name__ == "__main__":
    main()
