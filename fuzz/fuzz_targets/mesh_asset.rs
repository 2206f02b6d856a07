//! SL mesh assets: the header parser and the LOD decoder never panic on arbitrary bytes, and
//! every face they decode keeps `MeshData`'s invariants. The same bytes are also tried as the
//! inflated contents of a LOD block, to reach the LLSD and face decoders past zlib's checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlook_geometry::llmesh::{self, Lod};

fn decode_all(bytes: &[u8]) {
    let Ok(header) = llmesh::parse_header(bytes) else {
        return;
    };
    for lod in Lod::ALL {
        if let Ok(faces) = llmesh::decode_lod(bytes, &header, lod) {
            for face in &faces {
                if let Err(e) = face.validate() {
                    panic!("{lod} decoded to an invalid mesh: {e}");
                }
            }
        }
        let _ = llmesh::best_available(&header, lod);
    }
}

fuzz_target!(|data: &[u8]| {
    decode_all(data);
    // `data` as a high LOD's inflated block.
    let block = miniz_oxide::deflate::compress_to_vec_zlib(data, 1);
    let mut asset =
        b"{\0\0\0\x01k\0\0\0\x08high_lod{\0\0\0\x02k\0\0\0\x06offseti\0\0\0\0k\0\0\0\x04sizei"
            .to_vec();
    asset.extend_from_slice(&u32::try_from(block.len()).unwrap_or(u32::MAX).to_be_bytes());
    asset.extend_from_slice(b"}}");
    asset.extend_from_slice(&block);
    decode_all(&asset);
});
