#!/usr/bin/env python3
"""Checks Lambda bootstraps against the template: CPU architecture and newest glibc symbol version.

    elf_check.py --arch x86_64|arm64 [--max-glibc 2.34] [--json] FILE...

FILE is a `bootstrap` or a `bootstrap.zip` holding one. Reads the ELF header (e_machine) and the
GNU version-needs section (.gnu.version_r: every GLIBC_x.y the binary asks the dynamic linker for)
itself, so it needs neither objdump, readelf nor unzip, and reads an arm64 binary on an x86_64 host.
provided.al2023 ships glibc 2.34: a binary that needs a newer GLIBC_ symbol fails to start there.
It also reads the shared libraries the file needs (DT_NEEDED) and fails a file that needs one the
provided.al2023 runtime lacks (libtesseract, libstdc++, ...): only glibc's own libraries and libgcc_s
are there. `--allow-lib NAME` adds one (e.g. a library the zip or a layer carries).
Exit status 1 when any file fails.
"""

import argparse
import json
import struct
import sys
import zipfile

MACHINES = {62: "x86_64", 183: "arm64"}  # EM_X86_64, EM_AARCH64
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_DYNAMIC = 6
DT_NEEDED = 1
# What a provided.al2023 function has without a layer: glibc's libraries and libgcc_s.
RUNTIME_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libutil.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}


def version_key(v):
    return tuple(int(p) for p in v.split("."))


def read_elf(data, name):
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{name}: not an ELF file")
    if data[4] != 2:
        raise ValueError(f"{name}: not a 64-bit ELF file")
    end = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    shoff = struct.unpack_from(end + "Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    if shoff == 0 or shnum == 0:
        raise ValueError(f"{name}: no section headers (cannot read its version needs)")
    sections = []
    for i in range(shnum):
        base = shoff + i * shentsize
        _name, sh_type, _flags, _addr, offset, size, link, info = struct.unpack_from(
            end + "IIQQQQII", data, base
        )
        sections.append((sh_type, offset, size, link, info))
    needs = set()
    libraries = set()
    for sh_type, offset, _size, link, count in sections:
        if sh_type != SHT_GNU_VERNEED:
            continue
        strtab = sections[link][1]

        def string(at):
            start = strtab + at
            return data[start : data.index(b"\0", start)].decode("ascii", "replace")

        entry = offset
        for _ in range(count):
            _version, cnt, file_off, aux, nxt = struct.unpack_from(end + "HHIII", data, entry)
            libraries.add(string(file_off))
            aux_at = entry + aux
            for _ in range(cnt):
                _hash, _flags, _other, name_off, aux_next = struct.unpack_from(end + "IHHII", data, aux_at)
                needs.add(string(name_off))
                if aux_next == 0:
                    break
                aux_at += aux_next
            if nxt == 0:
                break
            entry += nxt
    needed = []
    for sh_type, offset, size, link, _info in sections:
        if sh_type != SHT_DYNAMIC:
            continue
        strtab = sections[link][1]
        for at in range(offset, offset + size - 15, 16):
            tag, value = struct.unpack_from(end + "qQ", data, at)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                start = strtab + value
                needed.append(data[start : data.index(b"\0", start)].decode("ascii", "replace"))
    glibc = sorted((n[len("GLIBC_") :] for n in needs if n.startswith("GLIBC_2")), key=version_key)
    return {
        "machine": MACHINES.get(machine, f"e_machine {machine}"),
        "newest_glibc": glibc[-1] if glibc else None,
        "libraries": sorted(libraries),
        "needed": needed,
    }


def load(path):
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("bootstrap")
            mode = (info.external_attr >> 16) & 0o777
            if mode and not mode & 0o100:
                raise ValueError(f"{path}: bootstrap is not executable in the zip (mode {mode:o})")
            return z.read("bootstrap")
    with open(path, "rb") as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=sorted(set(MACHINES.values())))
    parser.add_argument("--max-glibc", default="2.34")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--allow-lib", action="append", default=[], metavar="NAME")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    failed = False
    results = []
    for path in args.files:
        try:
            elf = read_elf(load(path), path)
        except (OSError, ValueError, KeyError, struct.error, zipfile.BadZipFile) as e:
            results.append({"file": path, "ok": False, "problem": str(e)})
            failed = True
            continue
        problems = []
        if elf["machine"] != args.arch:
            problems.append(f"built for {elf['machine']}, the template's Architecture is {args.arch}")
        newest = elf["newest_glibc"]
        if newest and version_key(newest) > version_key(args.max_glibc):
            problems.append(f"needs GLIBC_{newest} (> {args.max_glibc}, provided.al2023)")
        missing = [lib for lib in elf["needed"] if lib not in RUNTIME_LIBS | set(args.allow_lib)]
        if missing:
            problems.append(f"needs {', '.join(missing)}, which provided.al2023 does not have")
        results.append({"file": path, "ok": not problems, "problem": "; ".join(problems), **elf})
        failed |= bool(problems)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for r in results:
            if r["ok"]:
                print(
                    f"ok   {r['file']}: {r['machine']}, newest GLIBC symbol "
                    f"{r['newest_glibc'] or 'none'} (<= {args.max_glibc}), needs {' '.join(r['needed']) or 'nothing'}"
                )
            else:
                print(f"FAIL {r['file']}: {r['problem']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
