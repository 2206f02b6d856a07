//! Triangle meshes as plain data, built by pure functions (no Bevy, no GPU).
//!
//! The terrain and prim mesh builders ([`crate::terrain`], [`crate::prim`]) return
//! [`MeshData`]; the viewer turns it into a Bevy `Mesh` and nothing else. Keeping the geometry
//! here means it is tested, fuzzed and benchmarked without compiling Bevy.
//!
//! Coordinates are SL's: x east, y north, z up, in metres. The viewer swaps axes once, when it
//! uploads the mesh.

/// An indexed triangle list with per-vertex attributes.
///
/// Invariants kept by every builder: `normals`, `uvs` and (when not empty) `colors` have one entry
/// per position; `indices.len()` is a multiple of 3 and every index is `< positions.len()`;
/// triangles wind counter-clockwise seen from outside.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeshData {
    /// Vertex positions.
    pub positions: Vec<[f32; 3]>,
    /// Unit vertex normals.
    pub normals: Vec<[f32; 3]>,
    /// Texture coordinates.
    pub uvs: Vec<[f32; 2]>,
    /// Linear RGBA vertex colours; empty when the mesh has none.
    pub colors: Vec<[f32; 4]>,
    /// Triangle list, three indices per triangle.
    pub indices: Vec<u32>,
}

impl MeshData {
    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }

    /// Axis-aligned bounds `(min, max)` of the positions, or `None` for an empty mesh.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        let mut it = self.positions.iter();
        let first = *it.next()?;
        Some(it.fold((first, first), |(mut lo, mut hi), p| {
            for ((l, h), v) in lo.iter_mut().zip(hi.iter_mut()).zip(p) {
                *l = l.min(*v);
                *h = h.max(*v);
            }
            (lo, hi)
        }))
    }

    /// Checks the invariants listed on the type; returns a description of the first one broken.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.positions.len();
        if self.normals.len() != n || self.uvs.len() != n {
            return Err(format!(
                "{} positions, {} normals, {} uvs",
                n,
                self.normals.len(),
                self.uvs.len()
            ));
        }
        if !self.colors.is_empty() && self.colors.len() != n {
            return Err(format!("{} positions but {} colours", n, self.colors.len()));
        }
        if !self.indices.len().is_multiple_of(3) {
            return Err(format!(
                "{} indices is not a multiple of 3",
                self.indices.len()
            ));
        }
        if let Some(bad) = self
            .indices
            .iter()
            .find(|&&i| usize::try_from(i).map_or(true, |i| i >= n))
        {
            return Err(format!("index {bad} out of {n} vertices"));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !self.positions.iter().all(|p| finite(p)) || !self.normals.iter().all(|p| finite(p)) {
            return Err("non-finite position or normal".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_validation_of_a_triangle() {
        let m = MeshData {
            positions: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 2.0], [0.0, -1.0, 0.0]],
            normals: vec![[0.0, 0.0, 1.0]; 3],
            uvs: vec![[0.0, 0.0]; 3],
            colors: vec![],
            indices: vec![0, 1, 2],
        };
        assert_eq!(m.bounds(), Some(([0.0, -1.0, 0.0], [1.0, 0.0, 2.0])));
        assert_eq!(m.triangle_count(), 1);
        assert!(m.validate().is_ok());
        let mut bad = m.clone();
        bad.indices[2] = 3;
        assert!(bad.validate().unwrap_err().contains("index 3"));
        let mut bad = m;
        bad.normals.pop();
        assert!(bad.validate().is_err());
    }
}
