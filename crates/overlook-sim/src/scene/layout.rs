//! The default scene's layout: what stands where, relative to the island centre.
//!
//! The first 33 entries are the objects of the OpenSim 0.9.2.2 captures (README "Scene
//! content"): names, offsets from (128, 128), scales, rotations, shape parameters and texture
//! entries as OpenSim sent them — colours, alpha, fullbright and glow exactly — except the
//! textures: where OpenSim's prims wear its plywood, ours wear the region's own oriented texture
//! ([`ORIENTED`]), and a few faces show the other textures the region serves (see
//! [`textured_faces`]). The last two entries are the orbiting sphere and the blinking box.

use crate::meshes::{GEM, KNOT};
use crate::textures::{
    CHECKER, LEAF_ALPHA, MISSING, ORIENTED, SCULPT_CYLINDER, SCULPT_PLANE, SCULPT_SPHERE,
    SCULPT_TORUS,
};
use overlook_protocol::message::object::{PCode, PrimShape, TeField, TextureEntry, te_material};
use overlook_protocol::types::{Uuid, Vec3};

/// What one entry is.
pub(super) enum Kind {
    /// A prim: shape and TextureEntry bytes.
    Prim(PrimShape, Vec<u8>),
    /// A sculpty or a mesh: TextureEntry bytes, and the ExtraParams `0x30` entry's asset
    /// (sculpt map or mesh) and type byte.
    Asset(Vec<u8>, Uuid, u8),
    /// A plant: PCode and species.
    Plant(PCode, u8),
}

/// One object of the layout.
pub(super) struct Entry {
    /// Its name.
    pub(super) name: &'static str,
    /// Offset from the island centre (east, north), metres; root-relative for the linkset child.
    pub(super) offset: (f32, f32),
    /// Size, metres.
    pub(super) scale: Vec3,
    /// Rotation about the vertical, degrees.
    pub(super) yaw_deg: f32,
    /// What it is.
    pub(super) kind: Kind,
}

/// Index of the linkset child; its root is the entry before it.
pub(super) const LINK_CHILD: usize = 29;
/// Index of the orbiting sphere.
pub(super) const MOVER: usize = 33;
/// Index of the blinking box.
pub(super) const BLINKER: usize = 34;

const LINE: u8 = 0x10;
const CIRCLE: u8 = 0x20;
const CIRCLE2: u8 = 0x30;
const WHITE: [u8; 4] = [255; 4];
const ONE: Vec3 = Vec3::new(1.0, 1.0, 1.0);

/// A shape with path `path` and profile `profile`, path scale 1 × 1 (`100`), nothing else set.
const fn shape(path: u8, profile: u8) -> PrimShape {
    PrimShape::with_curves(path, profile)
}

/// A circular-path shape with the default hole size (`PathScaleY` 175, 0.25), as OpenSim sent.
fn ring_shape(profile: u8) -> PrimShape {
    PrimShape {
        path_scale_y: 175,
        ..shape(CIRCLE, profile)
    }
}

/// A line-path shape tapered to `scale` at the top (`PathScaleX/Y`).
fn tapered(profile: u8, scale: u8) -> PrimShape {
    PrimShape {
        path_scale_x: scale,
        path_scale_y: scale,
        ..shape(LINE, profile)
    }
}

/// A TextureEntry of the oriented texture with the given colours (RGBA): a default and per-face
/// exceptions.
fn te(default: [u8; 4], faces: &[(u64, [u8; 4])]) -> TextureEntry {
    let wire = |[r, g, b, a]: [u8; 4]| [255 - r, 255 - g, 255 - b, 255 - a];
    TextureEntry {
        textures: TeField::new(ORIENTED),
        colors: TeField {
            default: wire(default),
            exceptions: faces.iter().map(|&(bits, c)| (bits, wire(c))).collect(),
        },
        ..TextureEntry::default()
    }
}

/// A prim entry: unit size, no rotation.
fn prim(name: &'static str, dx: f32, dy: f32, shape: PrimShape, te: TextureEntry) -> Entry {
    Entry {
        name,
        offset: (dx, dy),
        scale: ONE,
        yaw_deg: 0.0,
        kind: Kind::Prim(shape, te.to_bytes()),
    }
}

/// A plain white prim entry, or one of [`textured_faces`] when it names `name`.
fn plain(name: &'static str, dx: f32, dy: f32, shape: PrimShape) -> Entry {
    let te = textured_faces(name).unwrap_or_else(|| te(WHITE, &[]));
    prim(name, dx, dy, shape, te)
}

/// 45° in TextureEntry rotation units (32768 a full turn).
const EIGHTH_TURN: i16 = 4096;
/// TextureEntry offsets 0.25 and 0.5 (× 32767, rounded).
const OFFSET_QUARTER: i16 = 8192;
const OFFSET_HALF: i16 = 16384;

/// The white prims whose faces show the region's other textures (by name; all else white and
/// oriented):
/// - the platform's top (face 0) the checker repeated 4 × 4 (one cell pair per metre);
/// - the profile-cut box: face 1 the checker with offsets (0.25, 0.5) and a 45° rotation,
///   face 2 the checker repeated 2 × 1;
/// - the 50 % hollow box wears the leaf (alpha) on every face;
/// - the right-triangle prism's face 0 names [`MISSING`], a texture the region never serves.
pub(super) fn textured_faces(name: &str) -> Option<TextureEntry> {
    let white = te(WHITE, &[]);
    let with_textures = |faces: Vec<(u64, Uuid)>| TextureEntry {
        textures: TeField {
            default: ORIENTED,
            exceptions: faces,
        },
        ..te(WHITE, &[])
    };
    Some(match name {
        "platform 4x4x0.2 rotated 30 deg" => TextureEntry {
            repeats_u: TeField {
                default: 1.0,
                exceptions: vec![(1, 4.0)],
            },
            repeats_v: TeField {
                default: 1.0,
                exceptions: vec![(1, 4.0)],
            },
            ..with_textures(vec![(1, CHECKER)])
        },
        "box profile cut 0.25-0.75" => TextureEntry {
            repeats_u: TeField {
                default: 1.0,
                exceptions: vec![(1 << 2, 2.0)],
            },
            offsets_u: TeField {
                default: 0,
                exceptions: vec![(1 << 1, OFFSET_QUARTER)],
            },
            offsets_v: TeField {
                default: 0,
                exceptions: vec![(1 << 1, OFFSET_HALF)],
            },
            rotations: TeField {
                default: 0,
                exceptions: vec![(1 << 1, EIGHTH_TURN)],
            },
            ..with_textures(vec![(1 << 1 | 1 << 2, CHECKER)])
        },
        "box hollow 50%" => TextureEntry {
            textures: TeField::new(LEAF_ALPHA),
            ..white
        },
        "right-triangle prism" => with_textures(vec![(1, MISSING)]),
        _ => return None,
    })
}

/// `entry` with another scale.
fn sized(entry: Entry, x: f32, y: f32, z: f32) -> Entry {
    Entry {
        scale: Vec3::new(x, y, z),
        ..entry
    }
}

/// A plant entry.
fn plant(name: &'static str, dx: f32, dy: f32, pcode: PCode, species: u8, size: f32) -> Entry {
    Entry {
        name,
        offset: (dx, dy),
        scale: Vec3::new(size, size, size),
        yaw_deg: 0.0,
        kind: Kind::Plant(pcode, species),
    }
}

/// `shape` with `profile_hollow` set to `amount` (units of 0.002 %: 25000 is 50 %).
fn hollow(shape: PrimShape, amount: u16) -> PrimShape {
    PrimShape {
        profile_hollow: amount,
        ..shape
    }
}

/// The layout, in send order (roots before their children): the grid of test prims 3 m apart
/// (east −12 to 3 m, north −12 to 0 m of the centre, rows south to north), the platform, the
/// tall cylinder and the linkset, the plants, the two animated objects, and the sign.
pub(super) fn layout() -> Vec<Entry> {
    let mut entries = basic_shapes();
    entries.extend(single_parameter_shapes());
    entries.extend(combined_and_other_shapes());
    entries.extend(large_and_linked());
    entries.extend(plants());
    entries.extend(animated());
    entries.push(sign());
    entries.extend(sculpties_and_meshes());
    entries
}

/// Index of the first sculpty; the four sculpt types follow in order, then the two meshes.
#[cfg(test)]
pub(super) const FIRST_SCULPTY: usize = 36;

/// A sculpty or mesh entry.
fn asset(
    name: &'static str,
    (dx, dy): (f32, f32),
    scale: Vec3,
    te: TextureEntry,
    id: Uuid,
    kind_byte: u8,
) -> Entry {
    Entry {
        name,
        offset: (dx, dy),
        scale,
        yaw_deg: 0.0,
        kind: Kind::Asset(te.to_bytes(), id, kind_byte),
    }
}

/// Ahead of the arrival point, most to the left, in view of its camera, clear of the sign and
/// of the trees' crowns: a sculpty of
/// each type (sphere, torus, plane, cylinder; the checker on each, tinted) and the two meshes
/// the region serves (the knot: face 0 orange, face 1 the checker; the gem: the oriented
/// texture on its table, its crown and pavilion blue).
fn sculpties_and_meshes() -> Vec<Entry> {
    let checker = |colour: [u8; 4]| TextureEntry {
        textures: TeField::new(CHECKER),
        ..te(colour, &[])
    };
    let knot = TextureEntry {
        textures: TeField {
            default: ORIENTED,
            exceptions: vec![(2, CHECKER)],
        },
        ..te([255, 150, 40, 255], &[(2, WHITE)])
    };
    let gem = te([120, 170, 255, 255], &[(1, WHITE)]);
    vec![
        asset(
            "sculpty sphere (pumpkin)",
            (3.5, 3.5),
            Vec3::new(1.6, 1.6, 1.3),
            checker([255, 160, 60, 255]),
            SCULPT_SPHERE,
            1,
        ),
        asset(
            "sculpty torus (wavy ring)",
            (8.0, 7.0),
            Vec3::new(2.4, 2.4, 1.4),
            checker([240, 240, 120, 255]),
            SCULPT_TORUS,
            2,
        ),
        asset(
            "sculpty plane (wave sheet)",
            (15.5, 1.0),
            Vec3::new(3.0, 3.0, 1.0),
            checker([140, 220, 140, 255]),
            SCULPT_PLANE,
            3,
        ),
        asset(
            "sculpty cylinder (vase)",
            (5.0, 6.0),
            Vec3::new(1.0, 1.0, 2.0),
            checker([200, 140, 255, 255]),
            SCULPT_CYLINDER,
            4,
        ),
        asset(
            "mesh knot",
            (11.5, 6.5),
            Vec3::new(2.4, 2.4, 2.0),
            knot,
            KNOT,
            5,
        ),
        asset(
            "mesh gem",
            (18.5, -1.5),
            Vec3::new(1.5, 1.5, 1.8),
            gem,
            GEM,
            5,
        ),
    ]
}

/// The sign: a 4 × 4 m board (0.2 m thick, its faces to the east and west) 12 m east and 4 m
/// south of the centre, wearing the oriented texture on every face. From the arrival point,
/// looking east, its west face fills a good part of the view: whether textures are drawn the
/// right way round (upright, unmirrored, red corner top left) shows at a glance, and the
/// rendered-frame test reads its corners.
fn sign() -> Entry {
    sized(
        prim(
            "sign 0.2x4x4 (oriented texture)",
            12.0,
            -4.0,
            shape(LINE, 1),
            te(WHITE, &[]),
        ),
        0.2,
        4.0,
        4.0,
    )
}

/// The seven basic prims (box, cylinder, prism, sphere, torus, tube, ring): the grid's south
/// row and the first of the next. The first five carry the captures' special TextureEntries:
/// per-face colours, half alpha with face 0 fullbright, a colour, and glow.
fn basic_shapes() -> Vec<Entry> {
    let red_green_blue = te(
        WHITE,
        &[
            (4, [0, 0, 255, 255]),
            (2, [0, 255, 0, 255]),
            (1, [255, 0, 0, 255]),
        ],
    );
    let half_alpha_fullbright_face_0 = TextureEntry {
        materials: TeField {
            default: 0,
            exceptions: vec![(1, te_material::FULLBRIGHT)],
        },
        ..te([255, 255, 255, 128], &[])
    };
    let yellow_glow = TextureEntry {
        glows: TeField::new(76),
        ..te([255, 220, 0, 255], &[])
    };
    let blue = te([40, 90, 255, 255], &[]);
    vec![
        prim("box", -12.0, -12.0, shape(LINE, 1), red_green_blue),
        prim(
            "cylinder",
            -9.0,
            -12.0,
            shape(LINE, 0),
            half_alpha_fullbright_face_0,
        ),
        plain("prism", -6.0, -12.0, shape(LINE, 3)),
        prim("sphere", -3.0, -12.0, shape(CIRCLE, 5), blue),
        prim("torus", 0.0, -12.0, ring_shape(0), yellow_glow),
        plain("tube", 3.0, -12.0, ring_shape(1)),
        plain("ring", -12.0, -9.0, ring_shape(3)),
    ]
}

/// Basic prims with one path or profile parameter changed (taper, hollow, profile cut, path
/// cut, twist, shear, dimple): the rest of the grid's second and third rows.
fn single_parameter_shapes() -> Vec<Entry> {
    vec![
        plain("pyramid (box, taper 1,1)", -9.0, -9.0, tapered(1, 200)),
        plain("cone (cylinder, taper 1,1)", -6.0, -9.0, tapered(0, 200)),
        plain("box hollow 50%", -3.0, -9.0, hollow(shape(LINE, 1), 25000)),
        plain(
            "cylinder hollow 40% square hole",
            0.0,
            -9.0,
            hollow(shape(LINE, 0x20), 20000),
        ),
        plain(
            "box profile cut 0.25-0.75",
            3.0,
            -9.0,
            PrimShape {
                profile_begin: 12500,
                profile_end: 12500,
                ..shape(LINE, 1)
            },
        ),
        plain(
            "box path cut (slice) 0.2-0.8",
            -12.0,
            -6.0,
            PrimShape {
                path_begin: 10000,
                path_end: 10000,
                ..shape(LINE, 1)
            },
        ),
        sized(
            plain(
                "box twist 90",
                -9.0,
                -6.0,
                PrimShape {
                    path_twist: 50,
                    ..shape(LINE, 1)
                },
            ),
            1.0,
            1.0,
            2.0,
        ),
        sized(
            plain(
                "box twist begin -90 end 90",
                -6.0,
                -6.0,
                PrimShape {
                    path_twist: 50,
                    path_twist_begin: -50,
                    ..shape(LINE, 1)
                },
            ),
            1.0,
            1.0,
            2.0,
        ),
        plain(
            "cylinder taper 0.5 (scale 150)",
            -3.0,
            -6.0,
            tapered(0, 150),
        ),
        plain(
            "box top shear 0.25,-0.25",
            0.0,
            -6.0,
            PrimShape {
                path_shear_x: 25,
                path_shear_y: (-25i8).cast_unsigned(),
                ..shape(LINE, 1)
            },
        ),
        plain(
            "sphere dimple 0.2-0.8",
            3.0,
            -6.0,
            PrimShape {
                profile_begin: 10000,
                profile_end: 10000,
                ..shape(CIRCLE, 5)
            },
        ),
    ]
}

/// Several parameters at once, other hole shapes and the remaining profile and path kinds
/// (right triangle, half circle on a line, the circle2 path): the grid's two northern rows.
fn combined_and_other_shapes() -> Vec<Entry> {
    vec![
        plain(
            "sphere path cut 0-0.5 hollow 50%",
            -12.0,
            -3.0,
            PrimShape {
                path_end: 25000,
                ..hollow(shape(CIRCLE, 5), 25000)
            },
        ),
        plain(
            "torus taper 0.5, 2 revolutions, radius offset 0.2, skew 0.1",
            -9.0,
            -3.0,
            PrimShape {
                path_radius_offset: 20,
                path_taper_x: 50,
                path_revolutions: 67,
                path_skew: 10,
                ..ring_shape(0)
            },
        ),
        plain(
            "tube hollow 30% triangle hole",
            -6.0,
            -3.0,
            hollow(ring_shape(0x31), 15000),
        ),
        plain(
            "ring twist 45",
            -3.0,
            -3.0,
            PrimShape {
                path_twist: 25,
                ..ring_shape(3)
            },
        ),
        plain(
            "prism hollow circle 50%",
            0.0,
            -3.0,
            hollow(shape(LINE, 0x13), 25000),
        ),
        plain("right-triangle prism", 3.0, -3.0, shape(LINE, 4)),
        plain(
            "half-cylinder (half-circle profile, line path)",
            -12.0,
            0.0,
            shape(LINE, 5),
        ),
        plain("sphere circle2 path", -9.0, 0.0, shape(CIRCLE2, 5)),
    ]
}

/// Scaled and linked prims: a rotated 4 × 4 m platform, a tall thin cylinder, and the linkset
/// (root box, then its child sphere at [`LINK_CHILD`], offset relative to the root).
fn large_and_linked() -> Vec<Entry> {
    vec![
        Entry {
            yaw_deg: 30.0,
            ..sized(
                plain("platform 4x4x0.2 rotated 30 deg", 8.0, 2.0, shape(LINE, 1)),
                4.0,
                4.0,
                0.2,
            )
        },
        sized(
            plain("tall cylinder 0.3x0.3x3", -3.0, 0.0, shape(LINE, 0)),
            0.3,
            0.3,
            3.0,
        ),
        sized(
            plain("linkset root box", 6.0, -6.0, shape(LINE, 1)),
            1.0,
            1.0,
            0.5,
        ),
        sized(
            plain("linkset child sphere", 0.0, 0.0, shape(CIRCLE, 5)),
            0.8,
            0.8,
            0.8,
        ),
    ]
}

/// The plants, north-east of the centre: an old-style tree, a new tree and grass.
fn plants() -> Vec<Entry> {
    vec![
        plant("tree (pcode 255, oak)", 12.0, 12.0, PCode::Tree, 1, 8.0),
        plant(
            "new tree (pcode 111, state 3)",
            16.0,
            6.0,
            PCode::NewTree,
            3,
            8.0,
        ),
        plant(
            "grass (pcode 95, state 2)",
            10.0,
            18.0,
            PCode::Grass,
            2,
            1.0,
        ),
    ]
}

/// The objects the region animates, not in the captures: the orbiting sphere ([`MOVER`]) and
/// the blinking box ([`BLINKER`]).
fn animated() -> Vec<Entry> {
    vec![
        sized(
            prim(
                "orbiting sphere",
                -10.0,
                10.0,
                shape(CIRCLE, 5),
                te([0, 255, 255, 255], &[]),
            ),
            0.6,
            0.6,
            0.6,
        ),
        prim(
            "blinking box",
            -4.0,
            6.0,
            shape(LINE, 1),
            te([255, 0, 255, 255], &[]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_name_the_special_entries() {
        let l = layout();
        assert_eq!(l.len(), 42);
        assert_eq!(l[LINK_CHILD].name, "linkset child sphere");
        assert_eq!(l[LINK_CHILD - 1].name, "linkset root box");
        assert_eq!(l[MOVER].name, "orbiting sphere");
        assert_eq!(l[BLINKER].name, "blinking box");
        assert_eq!(l[35].name, "sign 0.2x4x4 (oriented texture)");
        assert_eq!(l[FIRST_SCULPTY].name, "sculpty sphere (pumpkin)");
        assert_eq!(l[FIRST_SCULPTY + 5].name, "mesh gem");
    }
}
