//! One shape for every full object update: [`ObjectState`] from an `ObjectUpdate` block or an
//! `ObjectUpdateCompressed` object, with the sub-blobs decoded once. A blob that does not decode
//! leaves its field empty and is reported in `problems`; the object is still shown.

use overlook_protocol::message::MessageError;
use overlook_protocol::message::object::{
    CompressedObject, ExtraParams, ObjectData, PCode, PrimShape, ShapeKind, TextureEntry,
};
use overlook_protocol::types::{Quat, Uuid, Vec3};

/// What the viewer needs of a full object update.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectState {
    /// Region-local id.
    pub local_id: u32,
    /// The object's UUID (an avatar's is its agent id).
    pub full_id: Uuid,
    /// The parent's local id, 0 for a root.
    pub parent: u32,
    /// What it is.
    pub pcode: PCode,
    /// Position: region metres for a root, parent-relative for a child.
    pub position: Vec3,
    /// Rotation (parent-relative for a child).
    pub rotation: Quat,
    /// Size in metres.
    pub scale: Vec3,
    /// Shape parameters.
    pub shape: PrimShape,
    /// Geometry class, sculpt and mesh included.
    pub kind: ShapeKind,
    /// Per-face appearance, when it decoded.
    pub texture_entry: Option<TextureEntry>,
    /// A sculpty's map or a mesh object's asset with its sculpt type byte (ExtraParams
    /// `0x30`), when the object is one ([`ShapeKind::Sculpt`] / [`ShapeKind::Mesh`]).
    pub sculpt: Option<(Uuid, u8)>,
    /// Trees and grass: species.
    pub species: u8,
    /// `FirstName LastName` from the name values (avatars), when present.
    pub name: Option<String>,
    /// Blobs that did not decode.
    pub problems: Vec<String>,
}

/// The sculpt entry of a sculpty or mesh object; `None` for other shapes. Extra parameters
/// that do not decode are a problem (the object then is not a sculpty: the classifier agrees).
fn sculpt_of(
    kind: ShapeKind,
    params: Result<ExtraParams, MessageError>,
    id: u32,
    problems: &mut Vec<String>,
) -> Option<(Uuid, u8)> {
    match params {
        Ok(p) => p
            .sculpt()
            .filter(|_| matches!(kind, ShapeKind::Sculpt | ShapeKind::Mesh))
            .map(|s| (s.texture, s.kind_byte)),
        Err(e) => {
            problems.push(format!("object {id}: extra parameters: {e}"));
            None
        }
    }
}

fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.to_owned()),
        _ => None,
    }
}

impl ObjectState {
    /// From an `ObjectUpdate` block.
    pub fn from_update(o: &ObjectData) -> Self {
        let mut problems = Vec::new();
        let (position, rotation) = match o.motion() {
            Ok(m) => m
                .motion()
                .map_or((Vec3::ZERO, Quat::default()), |m| (m.position, m.rotation)),
            Err(e) => {
                problems.push(format!("object {}: motion: {e}", o.id));
                (Vec3::ZERO, Quat::default())
            }
        };
        let texture_entry = o
            .texture_entry()
            .map_err(|e| problems.push(format!("object {}: texture entry: {e}", o.id)))
            .ok();
        let sculpt = sculpt_of(o.shape_kind(), o.extra_params(), o.id, &mut problems);
        let names = o.name_values();
        let species = if matches!(o.pcode, PCode::Tree | PCode::NewTree | PCode::Grass) {
            o.data.first().copied().unwrap_or(o.state)
        } else {
            0
        };
        ObjectState {
            local_id: o.id,
            full_id: o.full_id,
            parent: o.parent_id,
            pcode: o.pcode,
            position,
            rotation,
            scale: o.scale,
            shape: o.shape,
            kind: o.shape_kind(),
            texture_entry,
            sculpt,
            species,
            name: full_name(names.first_name(), names.last_name()),
            problems,
        }
    }

    /// From an `ObjectUpdateCompressed` object.
    pub fn from_compressed(o: &CompressedObject) -> Self {
        let mut problems = Vec::new();
        let texture_entry = o
            .texture_entry()
            .map_err(|e| problems.push(format!("object {}: texture entry: {e}", o.local_id)))
            .ok();
        let sculpt = sculpt_of(o.shape_kind(), o.extra_params(), o.local_id, &mut problems);
        let names = o.name_value_list();
        ObjectState {
            local_id: o.local_id,
            full_id: o.full_id,
            parent: o.parent(),
            pcode: o.pcode,
            position: o.position,
            rotation: o.rotation,
            scale: o.scale,
            shape: o.shape,
            kind: o.shape_kind(),
            texture_entry,
            sculpt,
            species: o.tree_species.unwrap_or(0),
            name: full_name(names.first_name(), names.last_name()),
            problems,
        }
    }

    /// Linear RGBA of a face (TextureEntry colour, opaque white when absent).
    pub fn face_color(&self, face: u8) -> [u8; 4] {
        self.texture_entry
            .as_ref()
            .map_or([255; 4], |te| te.face_color(usize::from(face)))
    }

    /// Whether a face is full-bright (unlit).
    pub fn fullbright(&self, face: u8) -> bool {
        self.texture_entry
            .as_ref()
            .is_some_and(|te| te.fullbright(usize::from(face)))
    }

    /// A face's texture: `None` untextured (no TextureEntry, the null id or the blank texture).
    pub fn texture(&self, face: u8) -> Option<Uuid> {
        let id = self.texture_entry.as_ref()?.texture(usize::from(face));
        (id != Uuid::NIL && id != crate::assets::BLANK_TEXTURE).then_some(id)
    }

    /// A face's texture transform (SL's repeats, offset and rotation; the identity without a
    /// TextureEntry).
    pub fn uv_transform(&self, face: u8) -> [[f32; 3]; 2] {
        self.texture_entry
            .as_ref()
            .map_or(crate::scene::material::UV_IDENTITY, |te| {
                let f = usize::from(face);
                crate::scene::material::te_uv_transform(te.repeats(f), te.offset(f), te.rotation(f))
            })
    }

    /// A face's glow, 0..1.
    pub fn glow(&self, face: u8) -> f32 {
        self.texture_entry
            .as_ref()
            .map_or(0.0, |te| te.glow(usize::from(face)))
    }
}

/// OpenSim's lowest simulation height, metres (`Constants.MinSimulationHeight`): nothing of a
/// region is below it.
pub const MIN_HEIGHT: f32 = -100.0;
/// OpenSim's highest simulation height, metres (`Constants.MaxSimulationHeight`).
pub const MAX_HEIGHT: f32 = 50_000.0;
/// The largest size of an object on any axis, metres: twice the largest region side (4096 m).
/// OpenSim's own prim limit is 256 m by default (`NonPhysicalPrimMax`), raised on some grids
/// for megaprims, never to the size of two regions.
pub const MAX_SCALE: f32 = 8192.0;

/// Why an object's place, rotation or size cannot be real, or `None` when it can.
///
/// The bounds, and why:
/// - every number finite;
/// - a root (`parent` 0) within one region's width of the region on each side horizontally
///   (objects crossing a border are briefly outside; further out they are not in this region)
///   and between OpenSim's [`MIN_HEIGHT`] and [`MAX_HEIGHT`];
/// - a child's offset from its parent no longer than [`MAX_SCALE`] on any axis;
/// - a rotation whose length is not zero (it cannot be normalised) and whose squared length
///   is finite;
/// - a size, when given, from 0 to [`MAX_SCALE`] on each axis.
pub fn impossible_placement(
    parent: u32,
    position: Vec3,
    rotation: Quat,
    scale: Option<Vec3>,
    region_size: (u32, u32),
) -> Option<String> {
    let finite = |v: Vec3| v.x.is_finite() && v.y.is_finite() && v.z.is_finite();
    let show = |v: Vec3| format!("<{}, {}, {}>", v.x, v.y, v.z);
    if !finite(position) {
        return Some(format!("position {} is not finite", show(position)));
    }
    if parent == 0 {
        // Region sizes are at most 4096: exact in f32.
        #[allow(clippy::cast_precision_loss, clippy::as_conversions)]
        let (sx, sy) = (region_size.0.max(256) as f32, region_size.1.max(256) as f32);
        let inside = (-sx..=2.0 * sx).contains(&position.x)
            && (-sy..=2.0 * sy).contains(&position.y)
            && (MIN_HEIGHT..=MAX_HEIGHT).contains(&position.z);
        if !inside {
            return Some(format!(
                "position {} is outside the region's reach ({}..{} m east, {}..{} m north, {MIN_HEIGHT}..{MAX_HEIGHT} m up)",
                show(position),
                -sx,
                2.0 * sx,
                -sy,
                2.0 * sy
            ));
        }
    } else if [position.x, position.y, position.z]
        .iter()
        .any(|c| c.abs() > MAX_SCALE)
    {
        return Some(format!(
            "offset {} from its parent is over {MAX_SCALE} m",
            show(position)
        ));
    }
    let q = [rotation.x, rotation.y, rotation.z, rotation.w];
    let len2: f32 = q.iter().map(|c| c * c).sum();
    if !q.iter().all(|c| c.is_finite()) || !len2.is_finite() || len2 < 1e-6 {
        return Some(format!(
            "rotation <{}, {}, {}, {}> cannot be normalised",
            q[0], q[1], q[2], q[3]
        ));
    }
    if let Some(s) = scale
        && (!finite(s)
            || [s.x, s.y, s.z]
                .iter()
                .any(|c| !(0.0..=MAX_SCALE).contains(c)))
    {
        return Some(format!("size {} is outside 0..{MAX_SCALE} m", show(s)));
    }
    None
}

impl ObjectState {
    /// Why this object cannot be drawn as sent ([`impossible_placement`]), or `None`.
    pub fn impossible(&self, region_size: (u32, u32)) -> Option<String> {
        impossible_placement(
            self.parent,
            self.position,
            self.rotation,
            Some(self.scale),
            region_size,
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use overlook_protocol::capture::{inbound_bodies, read_udp_jsonl};
    use overlook_protocol::message::Message;
    use overlook_testdata::{SESSIONS, session_udp};

    /// The object messages of one captured session (each session has its own local ids).
    pub(crate) fn captured_messages() -> Vec<Message> {
        inbound_bodies(&read_udp_jsonl(&session_udp(SESSIONS[0])).unwrap())
            .unwrap()
            .into_iter()
            .map(|(id, body)| Message::parse(id, &body).unwrap())
            .filter(|m| {
                matches!(
                    m,
                    Message::ObjectUpdate(_)
                        | Message::ObjectUpdateCompressed(_)
                        | Message::ImprovedTerseObjectUpdate(_)
                        | Message::KillObject(_)
                )
            })
            .collect()
    }

    /// Every full object update of that session, in arrival order.
    pub(crate) fn captured_objects() -> Vec<ObjectState> {
        let mut out = Vec::new();
        for m in captured_messages() {
            match m {
                Message::ObjectUpdate(u) => {
                    out.extend(u.objects.iter().map(ObjectState::from_update));
                }
                Message::ObjectUpdateCompressed(u) => out.extend(
                    u.objects
                        .iter()
                        .map(|b| ObjectState::from_compressed(&b.object().unwrap())),
                ),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn every_captured_object_reads_without_problems() {
        let objects = captured_objects();
        assert!(objects.len() > 30, "{}", objects.len());
        for o in &objects {
            assert!(o.problems.is_empty(), "{:?}", o.problems);
            assert!(o.scale.x > 0.0 && o.scale.y > 0.0 && o.scale.z > 0.0);
        }
        // The coloured prims of PROTOCOL §9 and the avatar's name.
        let colors: Vec<[u8; 4]> = objects.iter().map(|o| o.face_color(0)).collect();
        assert!(
            colors.iter().any(|c| c[0] == 255 && c[1] == 0 && c[2] == 0),
            "a red face 0"
        );
        assert!(objects.iter().any(|o| o.fullbright(0)));
        assert!(objects.iter().any(|o| (o.glow(0) - 0.3).abs() < 0.01));
        let avatar = objects.iter().find(|o| o.pcode == PCode::Avatar).unwrap();
        assert!(
            avatar.name.as_deref().is_some_and(|n| n.contains(' ')),
            "{:?}",
            avatar.name
        );
        assert!(objects.iter().any(|o| o.parent != 0), "a linkset child");
    }

    #[test]
    fn impossible_placements_are_named_and_possible_ones_pass() {
        let q = Quat::default();
        let v = Vec3::new;
        let size = (256, 256);
        let ok = |parent, p, r, s| impossible_placement(parent, p, r, Some(s), size);
        let unit = v(1.0, 1.0, 1.0);
        // Possible: a region's corners, a border crossing, high up, a child's long offset, zero size.
        for p in [
            v(0.0, 0.0, 0.0),
            v(256.0, 256.0, 4000.0),
            v(-10.0, 300.0, 25.0),
        ] {
            assert_eq!(ok(0, p, q, unit), None, "{p:?}");
        }
        assert_eq!(ok(0, v(128.0, 128.0, MAX_HEIGHT), q, unit), None);
        assert_eq!(ok(7, v(-3000.0, 2.0, 1.0), q, unit), None);
        assert_eq!(ok(0, v(1.0, 1.0, 1.0), q, v(0.0, 0.0, 0.0)), None);
        assert_eq!(
            ok(
                0,
                v(1.0, 1.0, 1.0),
                Quat {
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    w: 3.0
                },
                unit
            ),
            None
        );
        // Impossible.
        let cases = [
            (0, v(f32::NAN, 1.0, 1.0), q, unit, "not finite"),
            (0, v(1.0, f32::INFINITY, 1.0), q, unit, "not finite"),
            (0, v(1e30, 1.0, 1.0), q, unit, "outside the region"),
            (0, v(600.0, 1.0, 1.0), q, unit, "outside the region"),
            (0, v(1.0, -300.0, 1.0), q, unit, "outside the region"),
            (0, v(1.0, 1.0, -101.0), q, unit, "outside the region"),
            (0, v(1.0, 1.0, 50_001.0), q, unit, "outside the region"),
            (9, v(9000.0, 0.0, 0.0), q, unit, "from its parent"),
            (
                0,
                v(1.0, 1.0, 1.0),
                Quat {
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    w: 0.0,
                },
                unit,
                "rotation",
            ),
            (
                0,
                v(1.0, 1.0, 1.0),
                Quat {
                    x: f32::NAN,
                    y: 0.0,
                    z: 0.0,
                    w: 1.0,
                },
                unit,
                "rotation",
            ),
            (
                0,
                v(1.0, 1.0, 1.0),
                Quat {
                    x: 1e30,
                    y: 0.0,
                    z: 0.0,
                    w: 1.0,
                },
                unit,
                "rotation",
            ),
            (0, v(1.0, 1.0, 1.0), q, v(1.0, -0.5, 1.0), "size"),
            (0, v(1.0, 1.0, 1.0), q, v(1.0, 1.0, 9000.0), "size"),
            (0, v(1.0, 1.0, 1.0), q, v(f32::NAN, 1.0, 1.0), "size"),
        ];
        for (parent, p, r, s, what) in cases {
            let why = ok(parent, p, r, s).unwrap_or_else(|| panic!("{p:?} {r:?} {s:?} passed"));
            assert!(why.contains(what), "{why}");
        }
        // A 512 m region reaches twice as far.
        assert_eq!(
            impossible_placement(0, v(600.0, 1.0, 1.0), q, None, (512, 512)),
            None
        );
    }
}
