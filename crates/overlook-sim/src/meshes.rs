//! The mesh assets the embedded region serves (`application/vnd.ll.mesh`, PROTOCOL §12): made
//! by `overlook_geometry::llmesh::demo` and written with its encoder to
//! `crates/overlook-sim/assets/meshes/` (`cargo run -p overlook-geometry --example
//! demo_meshes`; a test in that crate keeps the files current), compiled in here with
//! `include_bytes!`. The sim crate only serves the bytes; it does not decode them.
//!
//! The UUIDs are the version-5 UUID of `overlook:sim/meshes/<name>` in the URL namespace.

use overlook_protocol::types::Uuid;

/// A (2, 3) torus knot, two faces (each half of the tube), four LODs.
pub const KNOT: Uuid = Uuid(0xd0bb_5548_d3d7_5fbf_b435_4921_f108_3c7d_u128.to_be_bytes());
/// A faceted gem, three faces (table, crown, pavilion), four LODs.
pub const GEM: Uuid = Uuid(0x5955_8343_b170_51ab_9cfc_a9ac_157a_3953_u128.to_be_bytes());

/// One served mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mesh {
    /// Its asset id.
    pub id: Uuid,
    /// Its name (the file is `assets/meshes/<name>.llmesh`).
    pub name: &'static str,
    /// Faces per LOD.
    pub faces: u8,
    /// The asset, as served.
    pub bytes: &'static [u8],
}

/// Every mesh the region serves.
pub const MESHES: [Mesh; 2] = [
    Mesh {
        id: KNOT,
        name: "knot",
        faces: 2,
        bytes: include_bytes!("../assets/meshes/knot.llmesh"),
    },
    Mesh {
        id: GEM,
        name: "gem",
        faces: 3,
        bytes: include_bytes!("../assets/meshes/gem.llmesh"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meshes_start_with_their_binary_llsd_header_and_ids_are_fixed() {
        for m in &MESHES {
            // A binary LLSD map (`{`), with a `high_lod` block among its keys.
            assert_eq!(m.bytes[0], b'{', "{}", m.name);
            let head = &m.bytes[..200.min(m.bytes.len())];
            assert!(head.windows(8).any(|w| w == b"high_lod"), "{}", m.name);
        }
        assert_eq!(KNOT.to_string(), "d0bb5548-d3d7-5fbf-b435-4921f1083c7d");
        assert_eq!(GEM.to_string(), "59558343-b170-51ab-9cfc-a9ac157a3953");
    }
}
