//! [`MeshData`] (SL axes) to a Bevy [`Mesh`] (Bevy axes).

use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;

use super::sl_array_to_bevy;
use overlook_geometry::mesh::MeshData;

/// Uploads a mesh built in SL coordinates: positions and normals are rotated into Bevy's axes
/// (a rotation, so the winding stays counter-clockwise from outside).
///
/// Every mesh gets vertex colours, white where `m` has none (prims, figures, water), and texture
/// coordinates, zero where it has none: one vertex layout means one opaque and one blended
/// pipeline for the whole scene instead of two each, and on a software renderer every pipeline
/// is a JIT compile whose state stays in memory. Texture coordinates keep SL's orientation
/// (`t` grows upwards); the shader flips them to the image's rows.
pub fn to_bevy_mesh(m: &MeshData) -> Mesh {
    let positions: Vec<[f32; 3]> = m.positions.iter().map(|p| sl_array_to_bevy(*p)).collect();
    let normals: Vec<[f32; 3]> = m.normals.iter().map(|n| sl_array_to_bevy(*n)).collect();
    // The vertices live only on the GPU once uploaded: nothing reads a mesh back, and Bevy keeps
    // the bounding box it needs for culling when it takes the data.
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
    .with_inserted_indices(Indices::U32(m.indices.clone()));
    let colors = if m.colors.len() == m.positions.len() {
        m.colors.clone()
    } else {
        vec![[1.0; 4]; m.positions.len()]
    };
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, colors);
    let uvs = if m.uvs.len() == m.positions.len() {
        m.uvs.clone()
    } else {
        vec![[0.0; 2]; m.positions.len()]
    };
    mesh.insert_attribute(Mesh::ATTRIBUTE_UV_0, uvs);
    mesh
}

/// An SL scale (x east, y north, z up) as a Bevy scale (sizes along x, y up, z).
pub fn sl_scale_to_bevy(s: overlook_protocol::types::Vec3) -> Vec3 {
    Vec3::new(s.x, s.z, s.y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One triangle in SL axes, with `colors` per vertex (or none).
    fn triangle(colors: Vec<[f32; 4]>) -> MeshData {
        MeshData {
            positions: vec![[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
            normals: vec![[0.0, 0.0, 1.0]; 3],
            uvs: vec![[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]],
            colors,
            indices: vec![0, 1, 2],
        }
    }

    fn colours(mesh: &Mesh) -> &[[f32; 4]] {
        let Some(bevy::mesh::VertexAttributeValues::Float32x4(c)) =
            mesh.attribute(Mesh::ATTRIBUTE_COLOR)
        else {
            panic!("colours")
        };
        c
    }

    #[test]
    fn keeps_counts_and_rotates_axes() {
        let mesh = to_bevy_mesh(&triangle(vec![[1.0, 0.0, 0.0, 1.0]; 3]));
        assert_eq!(mesh.count_vertices(), 3);
        let Some(bevy::mesh::VertexAttributeValues::Float32x3(p)) =
            mesh.attribute(Mesh::ATTRIBUTE_POSITION)
        else {
            panic!("positions")
        };
        assert_eq!(p[0], [1.0, 3.0, -2.0]);
        let Some(bevy::mesh::VertexAttributeValues::Float32x3(n)) =
            mesh.attribute(Mesh::ATTRIBUTE_NORMAL)
        else {
            panic!("normals")
        };
        assert_eq!(n[0], [0.0, 1.0, -0.0]);
        assert_eq!(colours(&mesh), &[[1.0, 0.0, 0.0, 1.0]; 3]);
        // Texture coordinates go as they are (SL's orientation).
        let Some(bevy::mesh::VertexAttributeValues::Float32x2(uv)) =
            mesh.attribute(Mesh::ATTRIBUTE_UV_0)
        else {
            panic!("uvs")
        };
        assert_eq!(uv, &[[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]]);
    }

    #[test]
    fn meshes_without_colours_get_white_ones_and_share_the_layout() {
        let a = to_bevy_mesh(&triangle(vec![[0.2, 0.4, 0.6, 1.0]; 3]));
        let b = to_bevy_mesh(&triangle(Vec::new()));
        assert_eq!(colours(&b), &[[1.0; 4]; 3]);
        assert_eq!(colours(&a)[0], [0.2, 0.4, 0.6, 1.0]);
        let mut layouts = bevy::mesh::MeshVertexBufferLayouts::default();
        assert_eq!(
            a.get_mesh_vertex_buffer_layout(&mut layouts),
            b.get_mesh_vertex_buffer_layout(&mut layouts)
        );
    }
}
