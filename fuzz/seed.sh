#!/usr/bin/env bash
# Seeds corpus/<target> from the real OpenSim captures in ../tests/data (idempotent).
# Datagram targets get every captured datagram; `login` gets the captured XML bodies; the stateful
# `*_session` targets read their input as a sequence of operations, which no capture holds (they
# replay the capture's handshake themselves), so their corpus starts empty and libFuzzer grows it;
# `mesh_asset` starts empty too; `j2c_decode` gets the texture corpus (tests/data/opensim-0.9.2.2/assets/);
# `oar` the archives of tests/data/oar/, compressed and not.
set -euo pipefail
cd "$(dirname "$0")"
target="$1"
captures="../tests/data/opensim-0.9.2.2"
mkdir -p "corpus/$target"
case "$target" in
    login)
        for f in "$captures"/*.xml; do cp "$f" "corpus/$target/$(basename "$f")"; done
        ;;
    *_session)
        ;;
    mesh_asset)
        # No captured mesh asset yet; libFuzzer grows the corpus (the target also feeds every
        # input through zlib as a LOD block, so the LLSD decoder is reached from the start).
        ;;
    oar)
        # The archives of tests/data/oar: made by the project's OpenSim setup and saved by a live
        # OpenSim (compressed: the target reads each input as it is and gzip-compressed again).
        for f in ../tests/data/oar/*.oar; do
            cp "$f" "corpus/$target/$(basename "$f")"
            gzip -dc "$f" >"corpus/$target/$(basename "$f" .oar).tar"
        done
        ;;
    j2c_decode)
        # Every codestream OpenSim served or ships (assets/README.md), whole and as the first
        # 600 and 2,048 bytes a range request returns.
        for f in "$captures"/assets/served/*.j2c "$captures"/assets/library/*.j2[ck]; do
            b=$(basename "$f")
            cp "$f" "corpus/$target/$b"
            head -c 600 "$f" >"corpus/$target/$b-600"
            head -c 2048 "$f" >"corpus/$target/$b-2048"
        done
        ;;
    *)
        python3 - "$captures" "corpus/$target" <<'PY'
import json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
n = 0
for f in sorted(src.glob("*.udp.jsonl")):
    for i, line in enumerate(f.read_text().splitlines()):
        if line.strip():
            (dst / f"{f.stem}-{i:04}").write_bytes(bytes.fromhex(json.loads(line)["hex"]))
            n += 1
print(f"seeded {n} datagrams into {dst}")
PY
        ;;
esac
