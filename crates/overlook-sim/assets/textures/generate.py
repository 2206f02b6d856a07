#!/usr/bin/env python3
"""Generates the embedded region's textures (see README.md beside this script).

Pure Python 3 (no third-party modules): each texture is drawn procedurally (value noise and
simple shapes), written as an 8-bit PNG to a temporary folder, and encoded with OpenJPEG's
`opj_compress` (Debian: `apt-get install libopenjp2-tools`) to a raw JPEG 2000 codestream shaped
like OpenSim's library textures: one tile, 6 resolution levels, LRCP progression, 4 quality
layers, irreversible 9/7 wavelet with the colour transform. The `.j2c` files land beside this
script; nothing else is written here.

Usage: python3 generate.py [--keep-png DIR]
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# Compression ratios of the quality layers (the last is the whole stream).
RATES = "80,40,20,8"


# --- PNG -------------------------------------------------------------------------------------

def write_png(path: str, width: int, height: int, channels: int, pixels: list[int]) -> None:
    """Writes 8-bit RGB (channels 3) or RGBA (4) pixels, row-major from the top row."""
    colour_type = {3: 2, 4: 6}[channels]
    stride = width * channels
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        raw.extend(bytes(pixels[y * stride:(y + 1) * stride]))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", header))
        f.write(chunk(b"IDAT", zlib.compress(bytes(raw), 9)))
        f.write(chunk(b"IEND", b""))


# --- Noise -----------------------------------------------------------------------------------

def lattice(ix: int, iy: int, seed: int) -> float:
    """A deterministic pseudo-random value in [0, 1) for a lattice point."""
    h = (ix * 374761393 + iy * 668265263 + seed * 144665) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h ^= h >> 16
    return (h & 0xFFFFFF) / float(1 << 24)


def value_noise(x: float, y: float, period: int, seed: int) -> float:
    """Smooth value noise in [0, 1), periodic with `period` lattice cells in both directions."""
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)

    def v(ix: int, iy: int) -> float:
        return lattice(ix % period, iy % period, seed)

    top = v(x0, y0) + (v(x0 + 1, y0) - v(x0, y0)) * sx
    bottom = v(x0, y0 + 1) + (v(x0 + 1, y0 + 1) - v(x0, y0 + 1)) * sx
    return top + (bottom - top) * sy


def fractal(u: float, v: float, base: int, octaves: int, seed: int) -> float:
    """Octaves of value noise over the unit square, tileable; about [0, 1)."""
    total, amplitude, weight = 0.0, 1.0, 0.0
    cells = base
    for octave in range(octaves):
        total += amplitude * value_noise(u * cells, v * cells, cells, seed + octave * 101)
        weight += amplitude
        amplitude *= 0.5
        cells *= 2
    return total / weight


def clamp8(value: float) -> int:
    return max(0, min(255, int(round(value))))


def mix(a: tuple[float, ...], b: tuple[float, ...], t: float) -> tuple[float, ...]:
    return tuple(x + (y - x) * t for x, y in zip(a, b))


# --- Terrain ---------------------------------------------------------------------------------

def terrain(size: int, low: tuple, high: tuple, seed: int, speckle: float,
            streak: float = 0.0) -> list[int]:
    """A tileable noisy texture between two colours, with fine speckle and optional streaks."""
    out: list[int] = []
    for y in range(size):
        for x in range(size):
            u, v = x / size, y / size
            n = fractal(u, v, 4, 5, seed)
            fine = value_noise(u * 64, v * 64, 64, seed + 7) - 0.5
            t = n + fine * speckle
            if streak:
                # Short vertical blades: noise stretched along v.
                t += (value_noise(u * 64, v * 8, 8, seed + 17) - 0.5) * streak
            t = max(0.0, min(1.0, (t - 0.2) / 0.6))
            out.extend(clamp8(c) for c in mix(low, high, t))
    return out


def rock(size: int, seed: int) -> list[int]:
    """Grey stone with darker cracks where a second noise crosses its middle value."""
    out: list[int] = []
    for y in range(size):
        for x in range(size):
            u, v = x / size, y / size
            n = fractal(u, v, 4, 5, seed)
            crack = abs(fractal(u, v, 3, 3, seed + 50) - 0.5)
            shade = 70 + 110 * n
            if crack < 0.025:
                shade *= 0.55 + 0.45 * crack / 0.025
            out.extend(clamp8(c) for c in (shade * 1.0, shade * 0.97, shade * 0.92))
    return out


# --- The oriented face texture ---------------------------------------------------------------

# A 5×7 bitmap font for the few letters drawn (rows top to bottom, bit 4 = leftmost column).
FONT = {
    "U": [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
    "P": [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000],
    "L": [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111],
    "R": [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001],
    "F": [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000],
    "D": [0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110],
    "O": [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
    "W": [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b11011, 0b10001],
    "N": [0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b10001],
}


class Canvas:
    def __init__(self, width: int, height: int, channels: int, fill: tuple) -> None:
        self.width, self.height, self.channels = width, height, channels
        self.pixels = list(fill) * (width * height)

    def set(self, x: int, y: int, colour: tuple) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * self.channels
            self.pixels[i:i + self.channels] = list(colour)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: tuple) -> None:
        for y in range(y0, y1):
            for x in range(x0, x1):
                self.set(x, y, colour)

    def text(self, x: int, y: int, word: str, scale: int, colour: tuple) -> None:
        for k, letter in enumerate(word):
            rows = FONT[letter]
            for row, bits in enumerate(rows):
                for col in range(5):
                    if bits & (1 << (4 - col)):
                        left = x + (k * 6 + col) * scale
                        self.rect(left, y + row * scale, left + scale, y + (row + 1) * scale,
                                  colour)


def oriented(size: int) -> list[int]:
    """256×256: a light grid, a big arrow pointing to the image's top with UP above it, L and R
    at the left and right edges, DOWN at the bottom, and four differently coloured corners (red
    top-left, green top-right, blue bottom-left, yellow bottom-right)."""
    c = Canvas(size, size, 3, (232, 226, 210))
    step = size // 8
    for k in range(0, size, step):
        c.rect(k, 0, k + 1, size, (190, 184, 170))
        c.rect(0, k, size, k + 1, (190, 184, 170))
    corner = size // 8
    c.rect(0, 0, corner, corner, (220, 40, 40))
    c.rect(size - corner, 0, size, corner, (40, 170, 60))
    c.rect(0, size - corner, corner, size, (40, 70, 220))
    c.rect(size - corner, size - corner, size, size, (235, 200, 30))
    # The arrow: a shaft and a triangular head, pointing up.
    mid = size // 2
    c.rect(mid - size // 20, size * 3 // 8, mid + size // 20, size * 3 // 4, (30, 30, 30))
    head_top, head_bottom = size // 5, size * 3 // 8
    for y in range(head_top, head_bottom):
        half = (y - head_top) * (size // 6) // (head_bottom - head_top)
        c.rect(mid - half, y, mid + half + 1, y + 1, (30, 30, 30))
    scale = size // 64
    c.text(mid - 11 * scale // 2, size // 5 - 10 * scale, "UP", scale, (200, 30, 30))
    c.text(size // 16, mid - 7 * scale // 2, "L", scale, (30, 30, 160))
    c.text(size - size // 16 - 5 * scale, mid - 7 * scale // 2, "R", scale, (30, 120, 40))
    c.text(mid - 23 * scale // 2, size - size // 8 + scale, "DOWN", scale, (90, 60, 20))
    # An F (asymmetric under every flip and rotation) left of the arrow's foot.
    c.text(size // 4, size * 5 // 8, "F", scale * 2, (120, 40, 140))
    return c.pixels


def checker(size: int, cells: int) -> list[int]:
    """A checker of `cells` × `cells`, dark grey and white, with the top-left cell red so that
    repeats, offsets and rotations can be told apart."""
    c = Canvas(size, size, 3, (255, 255, 255))
    step = size // cells
    for j in range(cells):
        for i in range(cells):
            if (i + j) % 2:
                c.rect(i * step, j * step, (i + 1) * step, (j + 1) * step, (60, 60, 60))
    c.rect(0, 0, step, step, (220, 30, 30))
    return c.pixels


def leaf(size: int) -> list[int]:
    """128×128 RGBA: a green leaf pointing up with a pale middle vein, soft-edged alpha, fully
    transparent around it."""
    out: list[int] = []
    centre = (size - 1) / 2
    for y in range(size):
        for x in range(size):
            # Leaf coordinates: u across (−1..1), v along (−1 bottom .. 1 top).
            u = (x - centre) / (size * 0.30)
            v = (centre - y) / (size * 0.46)
            width = math.sqrt(max(0.0, 1 - v * v)) * (1 - 0.25 * v)
            inside = width - abs(u)
            stem = abs(u) < 0.06 and -1.08 < v < -0.8
            alpha = max(0.0, min(1.0, inside * size * 0.15)) if abs(v) <= 1 else 0.0
            if stem:
                alpha = 1.0
            n = fractal(x / size, y / size, 4, 3, 77)
            green = (40 + 40 * n, 120 + 70 * n, 30 + 20 * n)
            vein = abs(u) < 0.05 or (abs(abs(u) - (v + 1) * 0.3 % 0.3) < 0.02 and abs(u) < width)
            colour = (150, 200, 110) if (vein and alpha > 0) or stem else green
            out.extend([clamp8(colour[0]), clamp8(colour[1]), clamp8(colour[2]),
                        clamp8(255 * alpha)])
    return out


# --- Sculpt maps -----------------------------------------------------------------------------
# A sculpt map's pixel (r, g, b) is a vertex at (r, g, b) / 255 - 0.5 in the prim's unit box
# (PROTOCOL §12). Drawn as SL's tools draw them: longitude (or x) rising to the right, z (or y)
# rising upwards, so the image's top row is the top of the shape. Served losslessly (reversible
# 5/3 wavelet): a lossy codestream would move the vertices.

def sculpt_map(size: int, point) -> list[int]:
    """RGB pixels of a sculpt map whose pixel at (u, v) (u = column / (size - 1) rising to the
    right, v = row / (size - 1) rising upwards) is point(u, v), each coordinate in -0.5..0.5."""
    out = []
    for row in range(size):
        v = 1.0 - row / (size - 1)
        for col in range(size):
            u = col / (size - 1)
            out.extend(clamp8((c + 0.5) * 255) for c in point(u, v))
    return out


def pumpkin(u: float, v: float) -> tuple[float, float, float]:
    """A ribbed, squashed sphere (sphere type: the top and bottom rows are the poles)."""
    lon, lat = 2 * math.pi * u, math.pi * (v - 0.5)
    r = 0.5 * (0.84 + 0.16 * abs(math.cos(4 * lon)))
    return (r * math.cos(lat) * math.cos(lon), r * math.cos(lat) * math.sin(lon),
            0.4 * math.sin(lat))


def wavy_ring(u: float, v: float) -> tuple[float, float, float]:
    """A ring whose tube swells five times around (torus type: rows and columns wrap)."""
    major, minor = 2 * math.pi * u, 2 * math.pi * v
    tube = 0.1 + 0.05 * (0.5 + 0.5 * math.cos(5 * major))
    ring = 0.5 - 0.15 - tube + tube * math.cos(minor)
    return (ring * math.cos(major), ring * math.sin(major), tube * math.sin(minor) * 1.5)


def wave_sheet(u: float, v: float) -> tuple[float, float, float]:
    """A square sheet with two crests and a trough (plane type: nothing wraps)."""
    return (u - 0.5, v - 0.5,
            0.3 * math.sin(2 * math.pi * u) * math.cos(math.pi * (v - 0.5)))


def vase(u: float, v: float) -> tuple[float, float, float]:
    """A vase, wide at its belly and narrow at its neck (cylinder type: columns wrap)."""
    lon = 2 * math.pi * u
    r = 0.18 + 0.3 * math.sin(math.pi * (0.1 + 0.75 * v)) ** 2 + 0.06 * v ** 4
    r = min(r, 0.5)
    return (r * math.cos(lon), r * math.sin(lon), v - 0.5)


SCULPT_MAPS = [
    ("sculpt-sphere", pumpkin),
    ("sculpt-torus", wavy_ring),
    ("sculpt-plane", wave_sheet),
    ("sculpt-cylinder", vase),
]


# --- The set ---------------------------------------------------------------------------------

def asset_id(name: str) -> uuid.UUID:
    """A texture's fixed asset UUID: version-5 UUID of `overlook:sim/textures/<name>` in the URL
    namespace (the sim crate's `textures.rs` hard-codes the same values)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"overlook:sim/textures/{name}")


def textures() -> list[tuple[str, int, int, list[int]]]:
    """(name, size, channels, pixels) of every texture."""
    return [
        ("terrain-dirt", 128, 3, terrain(128, (88, 62, 40), (150, 112, 74), 1, 0.35)),
        ("terrain-grass", 128, 3, terrain(128, (48, 92, 30), (118, 170, 64), 2, 0.25, 0.5)),
        ("terrain-rock", 128, 3, rock(128, 3)),
        ("terrain-snow", 128, 3, terrain(128, (196, 206, 222), (250, 252, 255), 4, 0.2)),
        ("oriented", 256, 3, oriented(256)),
        ("checker", 128, 3, checker(128, 8)),
        ("leaf-alpha", 128, 4, leaf(128)),
    ] + [(name, 64, 3, sculpt_map(64, point)) for name, point in SCULPT_MAPS]


def main() -> int:
    keep = None
    if len(sys.argv) == 3 and sys.argv[1] == "--keep-png":
        keep = sys.argv[2]
        os.makedirs(keep, exist_ok=True)
    elif len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    opj = shutil.which("opj_compress")
    if opj is None:
        print("opj_compress not found (apt-get install libopenjp2-tools)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, size, channels, pixels in textures():
            png = os.path.join(keep or tmp, f"{name}.png")
            write_png(png, size, size, channels, pixels)
            j2k = os.path.join(tmp, f"{name}.j2k")
            # Sculpt maps lossless (5/3, one layer), the rest lossy like OpenSim's library.
            quality = [] if name.startswith("sculpt-") else ["-r", RATES, "-I"]
            levels = "5" if size <= 64 else "6"
            subprocess.run(
                [opj, "-i", png, "-o", j2k, "-n", levels, "-p", "LRCP", *quality],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            target = os.path.join(HERE, f"{name}.j2c")
            shutil.copyfile(j2k, target)
            print(f"{name}.j2c: {asset_id(name)}, {size}x{size}, {channels} components, "
                  f"{os.path.getsize(target)} bytes")
    print(f"missing (never served): {asset_id('missing')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
