//! One shape for every full object update: [`ObjectState`] from an `ObjectUpdate` block or an
//! `ObjectUpdateCompressed` object, with the sub-blobs decoded once. A blob that does not decode
//! leaves its field empty and is reported in `problems`; the object is still shown.

use overlook_protocol::message::object::{
    CompressedObject, ObjectData, PCode, PrimShape, ShapeKind, TextureEntry,
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
    /// Trees and grass: species.
    pub species: u8,
    /// `FirstName LastName` from the name values (avatars), when present.
    pub name: Option<String>,
    /// Blobs that did not decode.
    pub problems: Vec<String>,
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

    /// A face's glow, 0..1.
    pub fn glow(&self, face: u8) -> f32 {
        self.texture_entry
            .as_ref()
            .map_or(0.0, |te| te.glow(usize::from(face)))
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
}
