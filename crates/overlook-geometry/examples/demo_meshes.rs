//! Writes the embedded region's mesh assets, `crates/overlook-sim/assets/meshes/<name>.llmesh`,
//! from `overlook_geometry::llmesh::demo` (a test checks the committed files are current).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../overlook-sim/assets/meshes");
    std::fs::create_dir_all(&dir)?;
    for (name, lods) in overlook_geometry::llmesh::demo::demo_meshes() {
        let bytes = overlook_geometry::llmesh::encode(&lods)?;
        let path = dir.join(format!("{name}.llmesh"));
        std::fs::write(&path, &bytes)?;
        println!("{}: {} bytes", path.display(), bytes.len());
    }
    Ok(())
}
