#!/usr/bin/env python3
"""A third-party client logs into `overlook sim`: hippolyzer's client session API.

Logs in over XML-RPC, lets hippolyzer complete the circuit its own way (UseCircuitCode,
CompleteAgentMovement, RegionHandshakeReply, AgentThrottle, one reliable AgentUpdate, and only
then the seed capability), stays until it holds every land patch and the whole scene (or
--max-seconds pass), logs out, and checks that everything the region sent decodes with
hippolyzer's own decoders (PROTOCOL §9): each ObjectUpdate / ObjectUpdateCompressed block's
TextureEntry, ExtraParams and NameValue, the terse updates, KillObject, SimStats. hippolyzer has
no terrain decoder, so LayerData is decoded here (PROTOCOL §4: patch headers, coefficient codes,
inverse DCT) and every patch of the region must arrive.

Exit status 0 when every check passed, 1 otherwise (each failure printed on stderr), 2 for bad
arguments. The last line on stdout is a JSON summary either way.

    python hippolyzer_client.py http://127.0.0.1:9000/ [--first Test --last User --password test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from hippolyzer.lib.base.message.message import Block, Message
from hippolyzer.lib.base.objects import (
    normalize_object_update,
    normalize_object_update_compressed_data,
    normalize_terse_object_update,
)
from hippolyzer.lib.base.templates import PCode
from hippolyzer.lib.client.hippo_client import (
    HippoClient,
    HippoClientProtocol,
    HippoClientSession,
)

# The default scene of `overlook sim`: the 33 prims of the OpenSim captures, the orbiting sphere,
# the blinking box, and our own avatar.
DEFAULT_MIN_OBJECTS = 33 + 2 + 1
# SimStats stat id of the region's prim count (LL_SIM_STAT_NUMTASKS / "Total Objects").
STAT_TOTAL_PRIMS = 11
LAND_LAYERS = {ord("L"): False, ord("M"): True}  # layer type -> 32-bit (extended) patch ids
END_OF_PATCHES = 97


# --- LayerData (PROTOCOL §4) -------------------------------------------------------------------


class BitReader:
    """LL's bit packing: MSB first; fields wider than 8 bits come as 8-bit chunks, low byte first."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        byte = self.pos >> 3
        if byte >= len(self.data):
            raise ValueError(f"LayerData truncated at bit {self.pos}")
        b = (self.data[byte] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return b

    def raw(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v

    def bits(self, n: int) -> int:
        value, shift = 0, 0
        while n > 0:
            k = min(n, 8)
            value |= self.raw(k) << shift
            shift += 8
            n -= k
        return value

    def f32(self) -> float:
        return float(np.array([self.bits(32)], dtype=np.uint32).view(np.float32)[0])


def _zigzag_positions() -> list[int]:
    """UNZIGZAG: transmission index -> row * 16 + col (OpenSim's BuildCopyMatrix16 walk)."""
    table = [0] * 256
    i = j = 0
    diag, right = False, True
    for count in range(256):
        table[j * 16 + i] = count
        if count == 255:
            break
        if not diag:
            if right:
                i, j = (i + 1, j) if i < 15 else (i, j + 1)
                right = False
            else:
                i, j = (i, j + 1) if j < 15 else (i + 1, j)
                right = True
            diag = True
        elif right:
            i, j = i + 1, j - 1
            diag = not (i == 15 or j == 0)
        else:
            i, j = i - 1, j + 1
            diag = not (j == 15 or i == 0)
    inverse = [0] * 256
    for k, c in enumerate(table):
        inverse[c] = k
    return inverse


UNZIGZAG = _zigzag_positions()
# IDCT basis: BASIS[u][n] = w(u) cos((2n + 1) u pi / 32), w(0) = 1/sqrt(2).
BASIS = np.array(
    [[(math.sqrt(0.5) if u == 0 else 1.0) * math.cos((2 * n + 1) * u * math.pi / 32)
      for n in range(16)] for u in range(16)]
)
DEQUANT = np.array([[1.0 + 2.0 * (u + v) for u in range(16)] for v in range(16)])


def decode_land_layer(data: bytes, extended: bool) -> list[tuple[int, int, np.ndarray]]:
    """Every patch of one land LayerData as (x, y, 16x16 heights[row = north][col = east])."""
    r = BitReader(data)
    r.bits(16)  # stride (ignored by viewers)
    patch_size = r.bits(8)
    r.bits(8)  # layer type, repeated
    if patch_size != 16:
        raise ValueError(f"patch size {patch_size}, expected 16")
    patches = []
    while True:
        quant_wbits = r.bits(8)
        if quant_wbits == END_OF_PATCHES:
            return patches
        dc_offset = r.f32()
        value_range = r.bits(16)
        if extended:
            pid = r.bits(32)
            x, y = pid >> 16, pid & 0xFFFF
        else:
            pid = r.bits(10)
            x, y = pid >> 5, pid & 0x1F
        prequant = (quant_wbits >> 4) + 2
        wbits = (quant_wbits & 0x0F) + 2
        block = np.zeros(256)
        for i in range(256):
            if not r.bit():
                continue
            if not r.bit():
                break  # end of block
            negative = r.bit()
            magnitude = r.bits(wbits)
            block[UNZIGZAG[i]] = -magnitude if negative else magnitude
        if not math.isfinite(dc_offset):
            raise ValueError(f"patch ({x}, {y}): dc offset {dc_offset}")
        mult = value_range / 2.0 ** prequant
        addval = mult * 2.0 ** (prequant - 1) + dc_offset
        coeffs = block.reshape(16, 16) * DEQUANT * mult
        heights = addval + BASIS.T @ coeffs @ BASIS / 8.0
        patches.append((x, y, heights))


# --- The run -----------------------------------------------------------------------------------


@dataclass
class SeenObject:
    local_id: int
    pcode: int
    full_id: Any
    via: str  # "ObjectUpdate" or "ObjectUpdateCompressed"
    position: Any
    names: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """Everything observed, and every failure."""

    first: str
    last: str
    started: float = field(default_factory=time.monotonic)
    failures: list[str] = field(default_factory=list)
    messages: Counter = field(default_factory=Counter)
    datagrams: int = 0
    region_name: Optional[str] = None
    region_size: tuple[int, int] = (256, 256)
    movement_complete: bool = False
    patches: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    duplicate_patches: int = 0
    objects: dict[int, SeenObject] = field(default_factory=dict)
    blocks_decoded: Counter = field(default_factory=Counter)
    terse_ids: set[int] = field(default_factory=set)
    killed_ids: set[int] = field(default_factory=set)
    region_prims: Optional[int] = None
    hippolyzer_objects: Optional[int] = None
    logout_reply: bool = False

    def fail(self, what: str) -> None:
        if what not in self.failures:
            self.failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr, flush=True)

    @property
    def expected_patches(self) -> int:
        return (self.region_size[0] // 16) * (self.region_size[1] // 16)

    def needed_objects(self, floor: int) -> int:
        # The region's prims plus our own avatar, and never fewer than the floor.
        return max(floor, (self.region_prims or 0) + 1)


class LogCollector(logging.Handler):
    """hippolyzer reports what it could not handle through `logging`: every warning is a finding."""

    def __init__(self, report: Report) -> None:
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {record.exc_info[1]!r}"
        self.report.fail(f"hippolyzer {record.levelname.lower()} ({record.name}): {text}")


def instrument_datagrams(report: Report) -> None:
    """Counts datagrams and turns a datagram hippolyzer cannot deserialize into a failure."""
    original: Callable[..., None] = HippoClientProtocol.datagram_received

    def datagram_received(self: HippoClientProtocol, data: bytes, addr: Any) -> None:
        report.datagrams += 1
        try:
            original(self, data, addr)
        except Exception as e:  # noqa: BLE001 - any failure here is the finding
            report.fail(f"datagram of {len(data)} bytes did not deserialize: {e!r}")

    HippoClientProtocol.datagram_received = datagram_received  # type: ignore[method-assign]


def explain_refused_logins() -> None:
    """hippolyzer reads a refused login reply as if it had succeeded (KeyError 'session_id');
    say what the region answered instead."""
    original = HippoClientSession.from_login_data.__func__  # type: ignore[attr-defined]

    def from_login_data(cls: type, login_data: dict[str, Any], session_manager: Any) -> Any:
        if login_data.get("login") != "true":
            raise RuntimeError(f"refused: reason {login_data.get('reason')!r}, "
                               f"message {login_data.get('message')!r}")
        return original(cls, login_data, session_manager)

    HippoClientSession.from_login_data = classmethod(from_login_data)  # type: ignore[assignment]


def decode_object_block(report: Report, block: Block, handle: int) -> None:
    """One ObjectUpdate block: every variable through its hippolyzer serializer, strictly."""
    for var in ("ObjectData", "TextureEntry", "ExtraParams", "NameValue", "TextureAnim",
                "PSBlock", "UpdateFlags", "State"):
        value = block.deserialize_var(var, make_copy=False)
        if var == "TextureEntry" and value is not None:
            value.unwrap().realize()  # TextureEntry decodes lazily; force it
    obj = normalize_object_update(block, handle)
    note_object(report, obj, "ObjectUpdate")


def decode_compressed_block(report: Report, block: Block) -> None:
    """One ObjectUpdateCompressed block: the template decoder (strict about trailing bytes) and
    the fast one hippolyzer's object manager uses."""
    strict = block.deserialize_var("Data", make_copy=False)
    te = strict.get("TextureEntry")
    if te is not None:
        te.unwrap().realize()
    obj = normalize_object_update_compressed_data(block["Data"])
    for key in ("TextureEntry", "ExtraParams", "NameValue"):
        if key not in obj:
            raise ValueError(f"decoded block has no {key}")
    obj["TextureEntry"].unwrap().realize()
    note_object(report, obj, "ObjectUpdateCompressed")


def note_object(report: Report, obj: dict[str, Any], via: str) -> None:
    local_id = obj["LocalID"]
    names = {nv.name: nv.deserialize() for nv in obj.get("NameValue") or ()}
    report.objects[local_id] = SeenObject(
        local_id, int(obj["PCode"]), obj["FullID"], via, obj.get("Position"), names)
    report.blocks_decoded[via] += 1


def on_message(report: Report, msg: Message) -> None:
    """The session's wildcard subscriber: decodes every message hippolyzer delivers."""
    report.messages[msg.name] += 1
    try:
        msg.ensure_parsed()
        if getattr(msg, "unknown_message", False):
            raise ValueError("not in hippolyzer's message template")
        handler = HANDLERS.get(msg.name)
        if handler is not None:
            handler(report, msg)
    except Exception as e:  # noqa: BLE001 - any failure here is the finding
        report.fail(f"{msg.name} did not decode: {e!r}")


def on_region_handshake(report: Report, msg: Message) -> None:
    report.region_name = str(msg["RegionInfo"][0]["SimName"])


def on_movement_complete(report: Report, msg: Message) -> None:
    report.movement_complete = True


def on_layer_data(report: Report, msg: Message) -> None:
    layer = msg["LayerID"][0]["Type"]
    if layer not in LAND_LAYERS:
        return  # wind, cloud, water: not required
    for x, y, heights in decode_land_layer(bytes(msg["LayerData"][0]["Data"]), LAND_LAYERS[layer]):
        if x >= report.region_size[0] // 16 or y >= report.region_size[1] // 16:
            raise ValueError(f"patch ({x}, {y}) outside the region")
        if not np.isfinite(heights).all():
            raise ValueError(f"patch ({x}, {y}) has non-finite heights")
        if (x, y) in report.patches:
            report.duplicate_patches += 1
        report.patches[(x, y)] = heights


def on_object_update(report: Report, msg: Message) -> None:
    handle = msg["RegionData"][0]["RegionHandle"]
    for block in msg["ObjectData"]:
        decode_object_block(report, block, handle)


def on_object_update_compressed(report: Report, msg: Message) -> None:
    for block in msg["ObjectData"]:
        decode_compressed_block(report, block)


def on_terse(report: Report, msg: Message) -> None:
    handle = msg["RegionData"][0]["RegionHandle"]
    for block in msg["ObjectData"]:
        block.deserialize_var("Data", make_copy=False)
        te = block.deserialize_var("TextureEntry", make_copy=False)
        if te is not None:
            te.unwrap().realize()
        report.terse_ids.add(normalize_terse_object_update(block, handle)["LocalID"])
        report.blocks_decoded["ImprovedTerseObjectUpdate"] += 1


def on_kill(report: Report, msg: Message) -> None:
    report.killed_ids.update(int(b["ID"]) for b in msg["ObjectData"])


def on_sim_stats(report: Report, msg: Message) -> None:
    for stat in msg["Stat"]:
        if stat["StatID"] == STAT_TOTAL_PRIMS:
            report.region_prims = round(stat["StatValue"])


def on_logout_reply(report: Report, msg: Message) -> None:
    report.logout_reply = True


HANDLERS: dict[str, Callable[[Report, Message], None]] = {
    "RegionHandshake": on_region_handshake,
    "AgentMovementComplete": on_movement_complete,
    "LayerData": on_layer_data,
    "ObjectUpdate": on_object_update,
    "ObjectUpdateCompressed": on_object_update_compressed,
    "ImprovedTerseObjectUpdate": on_terse,
    "KillObject": on_kill,
    "SimStats": on_sim_stats,
    "LogoutReply": on_logout_reply,
}


def complete(report: Report, client: HippoClient, floor: int) -> bool:
    """True once there is nothing more to wait for."""
    region = client.main_region
    return (
        report.movement_complete
        and len(report.patches) >= report.expected_patches
        and len(report.objects) >= report.needed_objects(floor)
        and region is not None
        and len(region.objects) >= report.needed_objects(floor) - len(report.killed_ids)
        and bool(report.terse_ids)
        and bool(report.killed_ids)
    )


async def run(args: argparse.Namespace, report: Report) -> None:
    client = HippoClient()
    # The region offers no RenderMaterials cap and no parcels; hippolyzer would ask regardless.
    client.settings.AUTO_REQUEST_MATERIALS = False
    client.settings.AUTO_REQUEST_PARCELS = False
    try:
        try:
            await asyncio.wait_for(client.login(
                f"{args.first} {args.last}", args.password, login_uri=args.login_uri,
                connect=False), args.step_timeout)
        except Exception as e:  # noqa: BLE001
            report.fail(f"login failed: {e!r}")
            return
        session = client.session
        assert session is not None
        report.region_size = (int(session.login_data.get("region_size_x", 256)),
                              int(session.login_data.get("region_size_y", 256)))
        session.message_handler.subscribe("*", lambda m: on_message(report, m))

        region = session.regions[-1]
        try:
            await asyncio.wait_for(region.connect(main_region=True), args.step_timeout)
        except Exception as e:  # noqa: BLE001
            report.fail(f"circuit not completed: {e!r}")
            return

        deadline = report.started + args.max_seconds
        while time.monotonic() < deadline and not complete(report, client, args.min_objects):
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.linger)
        report.hippolyzer_objects = len(region.objects)

        # Log out reliably and wait for the reply before hippolyzer closes the socket.
        reply = session.message_handler.wait_for(("LogoutReply",), timeout=args.step_timeout)
        region.circuit.send_reliable(Message(
            "LogoutRequest", Block("AgentData", AgentID=session.agent_id, SessionID=session.id)))
        try:
            await reply
        except Exception as e:  # noqa: BLE001
            report.fail(f"no LogoutReply: {e!r}")
    finally:
        await client.aclose()


def check(report: Report, args: argparse.Namespace) -> None:
    """The assertions over what was observed."""
    if report.region_name is None:
        report.fail("no RegionHandshake")
    if not report.movement_complete:
        report.fail("no AgentMovementComplete")
    if len(report.patches) < report.expected_patches:
        report.fail(f"{len(report.patches)} of {report.expected_patches} land patches "
                    f"({report.region_size[0]}x{report.region_size[1]} m region)")
    need = report.needed_objects(args.min_objects)
    if len(report.objects) < need:
        report.fail(f"{len(report.objects)} distinct objects, expected at least {need} "
                    f"(region reports {report.region_prims} prims, floor {args.min_objects})")
    held = report.hippolyzer_objects or 0
    if held + len(report.killed_ids) < need:
        report.fail(f"hippolyzer's object manager holds {held} objects, expected at least "
                    f"{need - len(report.killed_ids)}")
    avatars = [o for o in report.objects.values() if o.pcode == PCode.AVATAR]
    me = [o for o in avatars
          if o.names.get("FirstName") == args.first and o.names.get("LastName") == args.last]
    if not me:
        report.fail(f"no avatar whose NameValue says FirstName {args.first} LastName {args.last} "
                    f"(avatars: {[o.names for o in avatars]})")
    elif report.patches and me[0].position is not None:
        # Cross-check of the terrain decoder: the avatar stands on the ground it decoded.
        x, y, z = me[0].position
        patch = report.patches.get((int(x) // 16, int(y) // 16))
        if patch is not None:
            ground = float(patch[int(y) % 16][int(x) % 16])
            if not -0.5 <= z - ground <= 3.5:
                report.fail(f"avatar at z {z:.2f} but decoded ground {ground:.2f}")
    if not report.terse_ids:
        report.fail("no ImprovedTerseObjectUpdate")
    if not report.killed_ids:
        report.fail("no KillObject")
    if not report.logout_reply and not any("LogoutReply" in f for f in report.failures):
        report.fail("no LogoutReply")


def summary(report: Report) -> dict[str, Any]:
    heights = np.array(list(report.patches.values()))
    terrain = [round(float(heights.min()), 2), round(float(heights.max()), 2)] if report.patches else None
    return {
        "ok": not report.failures,
        "seconds": round(time.monotonic() - report.started, 2),
        "region": report.region_name,
        "region_size": list(report.region_size),
        "land_patches": len(report.patches),
        "land_patches_expected": report.expected_patches,
        "duplicate_patches": report.duplicate_patches,
        "terrain_m": terrain,
        "objects": len(report.objects),
        "objects_compressed": sum(o.via == "ObjectUpdateCompressed" for o in report.objects.values()),
        "avatars": sum(o.pcode == PCode.AVATAR for o in report.objects.values()),
        "region_prims": report.region_prims,
        "hippolyzer_objects": report.hippolyzer_objects,
        "terse_objects": len(report.terse_ids),
        "killed_objects": len(report.killed_ids),
        "blocks_decoded": dict(report.blocks_decoded),
        "datagrams": report.datagrams,
        "messages_decoded": sum(report.messages.values()),
        "messages": dict(sorted(report.messages.items())),
        "failures": report.failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("login_uri", help="the login URI `overlook sim` prints")
    parser.add_argument("--first", default="Test")
    parser.add_argument("--last", default="User")
    parser.add_argument("--password", default="test")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="stay at most this long waiting for terrain and scene (default 30)")
    parser.add_argument("--linger", type=float, default=0.5,
                        help="seconds to stay once everything arrived (default 0.5)")
    parser.add_argument("--step-timeout", type=float, default=15.0,
                        help="limit for login, circuit and logout each (default 15)")
    parser.add_argument("--min-objects", type=int, default=DEFAULT_MIN_OBJECTS,
                        help=f"distinct objects required at least (default {DEFAULT_MIN_OBJECTS})")
    args = parser.parse_args()
    # hippolyzer falls back to Second Life's own login server when given no URI: never let it.
    if not args.login_uri.startswith(("http://", "https://")):
        parser.error(f"login URI {args.login_uri!r} is not an http(s) URL")

    report = Report(args.first, args.last)
    # Warnings must reach the collector (the root level gates every handler); they also print.
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger().addHandler(LogCollector(report))
    instrument_datagrams(report)
    explain_refused_logins()
    asyncio.run(run(args, report))
    if not any(f.startswith("login") for f in report.failures):
        check(report, args)
    print(json.dumps(summary(report)), flush=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
