//! Tests of the mesh asset decoder and encoder.

use super::llsd::{self, Llsd};
use super::*;
use proptest::prelude::*;

/// A bumpy `n × n` grid face: positions within −0.5…0.5 (offset by `shift`), unit normals,
/// uvs over a domain other than 0…1.
fn grid(n: u32, shift: f32) -> MeshData {
    let mut m = MeshData::default();
    for j in 0..=n {
        for i in 0..=n {
            let (s, t) = (i as f32 / n as f32, j as f32 / n as f32);
            let z = 0.1 * (s * 7.0).sin() * (t * 5.0).cos();
            m.positions
                .push([s - 0.5 + shift, t - 0.5, z.clamp(-0.5, 0.5)]);
            let len = (1.0 + z * z).sqrt();
            m.normals.push([z / len * 0.6, -z / len * 0.8, 1.0 / len]);
            m.uvs.push([2.0 * s - 0.25, 3.0 * t]);
        }
    }
    let w = n + 1;
    for j in 0..n {
        for i in 0..n {
            let a = j * w + i;
            m.indices.extend([a, a + 1, a + w + 1, a, a + w + 1, a + w]);
        }
    }
    for nrm in &mut m.normals {
        let l = (nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]).sqrt();
        *nrm = nrm.map(|v| v / l);
    }
    m.validate().unwrap();
    m
}

/// Every LOD, with a `NoGeometry` face in the middle of the high one.
fn sample_lods() -> Vec<(Lod, Vec<MeshData>)> {
    vec![
        (
            Lod::High,
            vec![grid(12, 0.0), MeshData::default(), grid(9, -0.1)],
        ),
        (
            Lod::Medium,
            vec![grid(6, 0.0), MeshData::default(), grid(5, 0.05)],
        ),
        (Lod::Low, vec![grid(3, 0.0)]),
        (Lod::Lowest, vec![grid(1, 0.0)]),
    ]
}

fn sample_asset() -> Vec<u8> {
    encode(&sample_lods()).unwrap()
}

/// Every LOD and a `NoGeometry` face, small enough to mutate at every byte.
fn small_asset() -> Vec<u8> {
    encode(&[
        (
            Lod::High,
            vec![grid(3, 0.0), MeshData::default(), grid(2, 0.1)],
        ),
        (Lod::Medium, vec![grid(2, 0.0)]),
        (Lod::Low, vec![grid(1, 0.0)]),
        (Lod::Lowest, vec![grid(1, 0.0)]),
    ])
    .unwrap()
}

/// Largest per-component difference.
fn max_diff<const N: usize>(a: &[[f32; N]], b: &[[f32; N]]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}

/// Largest component range of `items`.
fn span<const N: usize>(items: &[[f32; N]]) -> f32 {
    let (lo, hi) = bounds(items);
    lo.iter().zip(hi).map(|(l, h)| h - l).fold(0.0, f32::max)
}

/// An asset whose only LOD (`lod`) is `faces`, written as given.
fn asset_of(lod: Lod, faces: &Llsd) -> Vec<u8> {
    asset_of_block(
        lod,
        &miniz_oxide::deflate::compress_to_vec_zlib(&llsd::to_vec(faces).unwrap(), 6),
    )
}

/// An asset whose only LOD (`lod`) is the raw `block`.
fn asset_of_block(lod: Lod, block: &[u8]) -> Vec<u8> {
    let header = Llsd::Map(vec![(
        lod.key().into(),
        Llsd::Map(vec![
            ("offset".into(), Llsd::Integer(0)),
            ("size".into(), Llsd::Integer(block.len() as i32)),
        ]),
    )]);
    let mut out = llsd::to_vec(&header).unwrap();
    out.extend_from_slice(block);
    out
}

/// One triangle face as raw LLSD with the given extra/overriding entries.
fn raw_face(entries: Vec<(&str, Llsd)>) -> Llsd {
    let u16s = |v: &[u16]| Llsd::Binary(v.iter().flat_map(|x| x.to_le_bytes()).collect());
    let mut m: Vec<(String, Llsd)> = vec![
        (
            "Position".into(),
            u16s(&[0, 0, 0, 65535, 0, 0, 0, 65535, 0]),
        ),
        ("TriangleList".into(), u16s(&[0, 1, 2])),
    ];
    for (k, v) in entries {
        m.retain(|(key, _)| key != k);
        m.push((k.into(), v));
    }
    Llsd::Map(m)
}

fn u16_bin(v: &[u16]) -> Llsd {
    Llsd::Binary(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

fn decode_only(bytes: &[u8], lod: Lod) -> Result<Vec<MeshData>, MeshError> {
    let h = parse_header(bytes)?;
    decode_lod(bytes, &h, lod)
}

/// Parses and decodes every LOD; whatever decodes keeps the invariants.
fn decode_everything(bytes: &[u8]) -> Vec<Result<Vec<MeshData>, MeshError>> {
    let Ok(h) = parse_header(bytes) else {
        return Vec::new();
    };
    assert!(h.len <= bytes.len());
    Lod::ALL
        .iter()
        .map(|&lod| {
            let r = decode_lod(bytes, &h, lod);
            if let Ok(faces) = &r {
                for f in faces {
                    f.validate().unwrap();
                    assert!(f.colors.is_empty());
                    for n in &f.normals {
                        let l = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                        assert!((l - 1.0).abs() < 1e-4, "normal of length {l}");
                    }
                }
            }
            r
        })
        .collect()
}

#[test]
fn every_lod_round_trips_within_quantization() {
    let lods = sample_lods();
    let bytes = encode(&lods).unwrap();
    let asset = MeshAsset::parse(&bytes).unwrap();
    assert!(asset.header.len < bytes.len());
    assert_eq!(asset.header.version, Some(1));
    assert!(!asset.header.not_found);
    assert_eq!(asset.header.skin, None);
    for (lod, faces) in &lods {
        let back = asset.decode(*lod).unwrap();
        assert_eq!(back.len(), faces.len(), "{lod}");
        for (orig, got) in faces.iter().zip(&back) {
            got.validate().unwrap();
            assert_eq!(got.indices, orig.indices);
            assert!(got.colors.is_empty());
            if orig.positions.is_empty() {
                assert_eq!(*got, MeshData::default());
                continue;
            }
            // Half a step of rounding plus f32 arithmetic; within one step.
            let step = span(&orig.positions) / 65535.0;
            assert!(max_diff(&orig.positions, &got.positions) <= step + 1e-6);
            let step = span(&orig.uvs) / 65535.0;
            assert!(max_diff(&orig.uvs, &got.uvs) <= step + 1e-6);
            // 2/65535 per component before renormalizing; a little more after.
            assert!(max_diff(&orig.normals, &got.normals) <= 4.0 / 65535.0);
        }
    }
}

#[test]
fn known_header_layout() {
    let bytes = encode(&[(Lod::Low, vec![grid(1, 0.0)])]).unwrap();
    // A raw binary LLSD map: no `<? LLSD/Binary ?>` line.
    assert_eq!(bytes[0], b'{');
    let h = parse_header(&bytes).unwrap();
    let block = h.lod(Lod::Low).unwrap();
    assert_eq!(block.offset, 0);
    assert_eq!(h.len + block.size, bytes.len());
    assert_eq!(h.lods.iter().flatten().count(), 1);
    // zlib stream header.
    assert_eq!(bytes[h.len], 0x78);
}

#[test]
fn deprecated_prefix_is_accepted() {
    let bytes = sample_asset();
    let mut prefixed = b"<? LLSD/Binary ?>\n".to_vec();
    prefixed.extend_from_slice(&bytes);
    let plain = parse_header(&bytes).unwrap();
    let h = parse_header(&prefixed).unwrap();
    assert_eq!(h.len, plain.len + 18);
    assert_eq!(
        decode_lod(&prefixed, &h, Lod::High).unwrap(),
        decode_lod(&bytes, &plain, Lod::High).unwrap()
    );
}

#[test]
fn best_available_follows_slv() {
    let b = Some(Block { offset: 0, size: 1 });
    let header = |lods: [bool; 4]| MeshHeader {
        lods: lods.map(|p| p.then_some(b).flatten()),
        ..MeshHeader::default()
    };
    use Lod::*;
    let h = header([true, true, true, true]);
    for l in Lod::ALL {
        assert_eq!(best_available(&h, l), Some(l));
    }
    // Lower first, then higher.
    let h = header([true, false, false, true]);
    assert_eq!(best_available(&h, Medium), Some(Lowest));
    assert_eq!(best_available(&h, Low), Some(Lowest));
    assert_eq!(h.best_available(High), Some(High));
    let h = header([false, false, true, false]);
    assert_eq!(best_available(&h, Lowest), Some(Medium));
    assert_eq!(best_available(&h, High), Some(Medium));
    let h = header([false, true, false, true]);
    assert_eq!(best_available(&h, Lowest), Some(Low));
    assert_eq!(best_available(&h, Medium), Some(Low));
    assert_eq!(best_available(&header([false; 4]), High), None);
    // 404 and versions SLV refuses.
    let mut h = header([true; 4]);
    h.not_found = true;
    assert_eq!(best_available(&h, High), None);
    let mut h = header([true; 4]);
    h.version = Some(MAX_MESH_VERSION + 1);
    assert_eq!(best_available(&h, High), None);
    h.version = Some(MAX_MESH_VERSION);
    assert_eq!(best_available(&h, High), Some(High));

    let bytes = encode(&[(Lod::Medium, vec![grid(2, 0.0)])]).unwrap();
    let asset = MeshAsset::parse(&bytes).unwrap();
    let (lod, faces) = asset.decode_best(Lod::High).unwrap();
    assert_eq!((lod, faces.len()), (Lod::Medium, 1));
    assert_eq!(
        asset.decode(Lod::High),
        Err(MeshError::MissingLod(Lod::High))
    );
}

#[test]
fn header_blocks_and_extra_keys() {
    let block = |offset: Llsd, size: Llsd| {
        Llsd::Map(vec![("offset".into(), offset), ("size".into(), size)])
    };
    let header = Llsd::Map(vec![
        ("creator".into(), Llsd::Uuid([7; 16])),
        ("date".into(), Llsd::Date(1.5e9)),
        ("version".into(), Llsd::Integer(1)),
        (
            "high_lod".into(),
            block(Llsd::Integer(10), Llsd::Integer(20)),
        ),
        ("medium_lod".into(), block(Llsd::Real(3.0), Llsd::Real(4.9))),
        ("low_lod".into(), block(Llsd::Integer(-1), Llsd::Integer(0))),
        ("lowest_lod".into(), Llsd::String("nonsense".into())),
        ("skin".into(), block(Llsd::Integer(1), Llsd::Integer(2))),
        (
            "physics_convex".into(),
            block(Llsd::Integer(3), Llsd::Integer(4)),
        ),
        (
            "physics_mesh".into(),
            block(Llsd::Integer(5), Llsd::Integer(6)),
        ),
    ]);
    let bytes = llsd::to_vec(&header).unwrap();
    let h = parse_header(&bytes).unwrap();
    assert_eq!(h.len, bytes.len());
    assert_eq!(
        h.lod(Lod::High),
        Some(Block {
            offset: 10,
            size: 20
        })
    );
    assert_eq!(h.lod(Lod::Medium), Some(Block { offset: 3, size: 4 }));
    assert_eq!(h.lod(Lod::Low), None);
    assert_eq!(h.lod(Lod::Lowest), None);
    assert_eq!(h.skin, Some(Block { offset: 1, size: 2 }));
    assert_eq!(h.physics_convex, Some(Block { offset: 3, size: 4 }));
    assert_eq!(h.physics_mesh, Some(Block { offset: 5, size: 6 }));
    // Blocks past the end of these header-only bytes.
    assert!(matches!(
        decode_lod(&bytes, &h, Lod::High),
        Err(MeshError::OutOfRange { lod: Lod::High, .. })
    ));

    let bad = Llsd::Map(vec![(
        "high_lod".into(),
        block(Llsd::Integer(-5), Llsd::Integer(5)),
    )]);
    assert_eq!(
        parse_header(&llsd::to_vec(&bad).unwrap()),
        Err(MeshError::BadBlock("high_lod"))
    );
    let with_404 = Llsd::Map(vec![("404".into(), Llsd::Undefined)]);
    assert!(
        parse_header(&llsd::to_vec(&with_404).unwrap())
            .unwrap()
            .not_found
    );
    assert_eq!(
        parse_header(&llsd::to_vec(&Llsd::Array(vec![])).unwrap()),
        Err(MeshError::HeaderNotMap)
    );
    assert!(matches!(parse_header(b""), Err(MeshError::Header(_))));
    // Offsets beyond usize arithmetic do not wrap.
    let h = MeshHeader {
        len: usize::MAX,
        lods: [
            None,
            None,
            None,
            Some(Block {
                offset: usize::MAX,
                size: usize::MAX,
            }),
        ],
        ..MeshHeader::default()
    };
    assert!(matches!(
        decode_lod(&bytes, &h, Lod::High),
        Err(MeshError::OutOfRange { .. })
    ));
}

#[test]
fn no_geometry_faces_are_empty() {
    let faces = Llsd::Array(vec![
        Llsd::Map(vec![("NoGeometry".into(), Llsd::Boolean(true))]),
        raw_face(vec![]),
        // SLV only asks whether the key is there.
        raw_face(vec![("NoGeometry", Llsd::Undefined)]),
    ]);
    let got = decode_only(&asset_of(Lod::High, &faces), Lod::High).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], MeshData::default());
    assert_eq!(got[1].triangle_count(), 1);
    assert_eq!(got[2], MeshData::default());
}

#[test]
fn defaults_for_absent_attributes() {
    let got = decode_only(
        &asset_of(Lod::Low, &Llsd::Array(vec![raw_face(vec![])])),
        Lod::Low,
    )
    .unwrap();
    let f = &got[0];
    f.validate().unwrap();
    // Default domain −0.5…0.5.
    assert_eq!(
        f.positions,
        vec![[-0.5, -0.5, -0.5], [0.5, -0.5, -0.5], [-0.5, 0.5, -0.5]]
    );
    // Smooth normals from the (counter-clockwise seen from +z) triangle; zero uvs.
    assert_eq!(f.normals, vec![[0.0, 0.0, 1.0]; 3]);
    assert_eq!(f.uvs, vec![[0.0, 0.0]; 3]);

    // Explicit domains, and a zero normal replaced by the smooth one.
    let dom = |min: &[f64], max: &[f64]| {
        Llsd::Map(vec![
            (
                "Min".into(),
                Llsd::Array(min.iter().map(|&v| Llsd::Real(v)).collect()),
            ),
            (
                "Max".into(),
                Llsd::Array(max.iter().map(|&v| Llsd::Real(v)).collect()),
            ),
        ])
    };
    let face = raw_face(vec![
        ("PositionDomain", dom(&[0.0, 0.0, 1.0], &[2.0, 4.0, 1.0])),
        ("TexCoord0Domain", dom(&[-1.0, 0.0], &[1.0, 8.0])),
        ("TexCoord0", u16_bin(&[0, 0, 65535, 0, 0, 65535])),
        (
            "Normal",
            u16_bin(&[
                32768, 32768, 65535, 32767, 32768, 32768, 65535, 32768, 32768,
            ]),
        ),
        ("Weights", Llsd::Binary(vec![1, 2, 3])),
    ]);
    let got = decode_only(&asset_of(Lod::Low, &Llsd::Array(vec![face])), Lod::Low).unwrap();
    let f = &got[0];
    assert_eq!(
        f.positions,
        vec![[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [0.0, 4.0, 1.0]]
    );
    assert_eq!(f.uvs, vec![[-1.0, 0.0], [1.0, 0.0], [-1.0, 8.0]]);
    // 32768 is half a step above the middle: 1.5e-5, not 0.
    let near = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 2e-5);
    assert!(near(f.normals[0], [0.0, 0.0, 1.0]), "{:?}", f.normals[0]);
    assert!(near(f.normals[2], [1.0, 0.0, 0.0]), "{:?}", f.normals[2]);
    // (32767, 32768, 32768) has no direction: the smooth normal instead.
    assert_eq!(f.normals[1], [0.0, 0.0, 1.0]);
}

#[test]
fn incomplete_triangle_is_dropped() {
    let face = raw_face(vec![("TriangleList", u16_bin(&[0, 1, 2, 2, 1]))]);
    let got = decode_only(&asset_of(Lod::High, &Llsd::Array(vec![face])), Lod::High).unwrap();
    assert_eq!(got[0].indices, vec![0, 1, 2]);
}

fn face_error(face: Llsd) -> FaceProblem {
    match decode_only(
        &asset_of(Lod::High, &Llsd::Array(vec![raw_face(vec![]), face])),
        Lod::High,
    ) {
        Err(MeshError::Face {
            lod: Lod::High,
            face: 1,
            problem,
        }) => problem,
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_faces_are_errors() {
    assert_eq!(
        face_error(raw_face(vec![("TriangleList", u16_bin(&[0, 1, 3]))])),
        FaceProblem::IndexOutOfRange {
            index: 3,
            vertices: 3
        }
    );
    assert_eq!(
        face_error(raw_face(vec![("Position", Llsd::Binary(vec![0; 7]))])),
        FaceProblem::BadLength("Position")
    );
    assert_eq!(
        face_error(raw_face(vec![("TriangleList", Llsd::Binary(vec![0; 5]))])),
        FaceProblem::BadLength("TriangleList")
    );
    assert_eq!(
        face_error(raw_face(vec![("Normal", Llsd::Binary(vec![0; 8]))])),
        FaceProblem::BadLength("Normal")
    );
    assert_eq!(
        face_error(raw_face(vec![("TexCoord0", Llsd::Binary(vec![0; 6]))])),
        FaceProblem::BadLength("TexCoord0")
    );
    assert_eq!(
        face_error(raw_face(vec![("Position", Llsd::String("x".into()))])),
        FaceProblem::BadLength("Position")
    );
    assert_eq!(
        face_error(raw_face(vec![("Normal", u16_bin(&[0; 6]))])),
        FaceProblem::TooFew("Normal")
    );
    assert_eq!(
        face_error(raw_face(vec![("TexCoord0", u16_bin(&[0; 4]))])),
        FaceProblem::TooFew("TexCoord0")
    );
    // Indices but no positions.
    assert_eq!(
        face_error(raw_face(vec![("Position", Llsd::Binary(vec![]))])),
        FaceProblem::IndexOutOfRange {
            index: 0,
            vertices: 0
        }
    );
    let dom = |min: Llsd| {
        Llsd::Map(vec![
            ("Min".into(), min),
            ("Max".into(), Llsd::Array(vec![Llsd::Real(1.0); 3])),
        ])
    };
    assert_eq!(
        face_error(raw_face(vec![(
            "PositionDomain",
            dom(Llsd::Array(vec![Llsd::Real(0.0); 2]))
        )])),
        FaceProblem::BadDomain("PositionDomain")
    );
    assert_eq!(
        face_error(raw_face(vec![(
            "PositionDomain",
            dom(Llsd::Array(vec![Llsd::Real(f64::NAN); 3]))
        )])),
        FaceProblem::BadDomain("PositionDomain")
    );
    assert_eq!(
        face_error(raw_face(vec![(
            "PositionDomain",
            dom(Llsd::Array(vec![Llsd::Real(1e300); 3]))
        )])),
        FaceProblem::BadDomain("PositionDomain")
    );
    assert_eq!(
        face_error(raw_face(vec![(
            "PositionDomain",
            dom(Llsd::Array(vec![Llsd::String("0".into()); 3]))
        )])),
        FaceProblem::BadDomain("PositionDomain")
    );
    // Finite ends whose difference overflows f32.
    assert_eq!(
        face_error(raw_face(vec![(
            "PositionDomain",
            Llsd::Map(vec![
                ("Min".into(), Llsd::Array(vec![Llsd::Real(-3e38); 3])),
                ("Max".into(), Llsd::Array(vec![Llsd::Real(3e38); 3])),
            ])
        )])),
        FaceProblem::NonFinite
    );
    assert_eq!(face_error(Llsd::Integer(3)), FaceProblem::NotMap);
    assert_eq!(
        face_error(raw_face(vec![(
            "Position",
            Llsd::Binary(vec![0; 6 * (MAX_FACE_VERTICES + 1)])
        )])),
        FaceProblem::TooManyVertices(MAX_FACE_VERTICES + 1)
    );
}

#[test]
fn malformed_blocks_are_errors() {
    assert_eq!(
        decode_only(&asset_of_block(Lod::Low, b"not zlib at all"), Lod::Low),
        Err(MeshError::Inflate(Lod::Low))
    );
    // A valid zlib stream cut short.
    let z = miniz_oxide::deflate::compress_to_vec_zlib(
        &llsd::to_vec(&Llsd::Array(vec![raw_face(vec![])])).unwrap(),
        6,
    );
    assert_eq!(
        decode_only(&asset_of_block(Lod::Low, &z[..z.len() - 5]), Lod::Low),
        Err(MeshError::Inflate(Lod::Low))
    );
    assert_eq!(
        decode_only(&asset_of(Lod::Low, &Llsd::Array(vec![])), Lod::Low),
        Err(MeshError::NoFaces(Lod::Low))
    );
    assert_eq!(
        decode_only(&asset_of(Lod::Low, &Llsd::Map(vec![])), Lod::Low),
        Err(MeshError::NoFaces(Lod::Low))
    );
    // Not LLSD once inflated.
    let z = miniz_oxide::deflate::compress_to_vec_zlib(b"<llsd><array/></llsd>", 6);
    assert!(matches!(
        decode_only(&asset_of_block(Lod::Low, &z), Lod::Low),
        Err(MeshError::Llsd { lod: Lod::Low, .. })
    ));
}

#[test]
fn huge_counts_and_bombs_are_errors() {
    // An array claiming 2³² − 1 faces in a few bytes.
    let z = miniz_oxide::deflate::compress_to_vec_zlib(b"[\xff\xff\xff\xff{\0\0\0\0}", 6);
    assert!(matches!(
        decode_only(&asset_of_block(Lod::High, &z), Lod::High),
        Err(MeshError::Llsd { .. })
    ));
    // A binary claiming 4 GiB.
    let z = miniz_oxide::deflate::compress_to_vec_zlib(
        b"[\0\0\0\x01{\0\0\0\x01k\0\0\0\x08Positionb\xff\xff\xff\xff}]",
        6,
    );
    assert!(matches!(
        decode_only(&asset_of_block(Lod::High, &z), Lod::High),
        Err(MeshError::Llsd { .. })
    ));
    // A header claiming a huge map.
    assert!(matches!(
        parse_header(b"{\xff\xff\xff\xffk"),
        Err(MeshError::Header(_))
    ));
    // A zlib bomb: 64 MiB + 1 of zeros.
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; MAX_INFLATED + 1], 6);
    assert!(z.len() < MAX_INFLATED / 500);
    assert_eq!(
        decode_only(&asset_of_block(Lod::High, &z), Lod::High),
        Err(MeshError::TooLarge(Lod::High))
    );
    // Too many one-byte values.
    let mut many = b"[\0\x10\0\0".to_vec();
    many.extend(std::iter::repeat_n(b'!', 1 << 20));
    many.push(b']');
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&many, 6);
    assert!(matches!(
        decode_only(&asset_of_block(Lod::High, &z), Lod::High),
        Err(MeshError::Llsd {
            error: llsd::LlsdError::TooMany { .. },
            ..
        })
    ));
    // Too many vertices in all: 17 full faces.
    let full = raw_face(vec![
        ("Position", Llsd::Binary(vec![0; 6 * MAX_FACE_VERTICES])),
        ("TriangleList", u16_bin(&[])),
    ]);
    let faces = Llsd::Array(vec![full; MAX_LOD_VERTICES / MAX_FACE_VERTICES + 1]);
    assert_eq!(
        decode_only(&asset_of(Lod::High, &faces), Lod::High),
        Err(MeshError::TooMuchGeometry(Lod::High))
    );
}

#[test]
fn deep_nesting_is_an_error() {
    let mut deep = b"[\0\0\0\x01".repeat(10_000);
    deep.push(b'!');
    deep.extend(std::iter::repeat_n(b']', 10_000));
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&deep, 6);
    assert!(matches!(
        decode_only(&asset_of_block(Lod::High, &z), Lod::High),
        Err(MeshError::Llsd {
            error: llsd::LlsdError::TooDeep { .. },
            ..
        })
    ));
    assert!(matches!(
        parse_header(&b"{\0\0\0\x01k\0\0\0\x01a".repeat(10_000)),
        Err(MeshError::Header(llsd::LlsdError::TooDeep { .. }))
    ));
}

#[test]
fn every_truncation_fails_without_panicking() {
    let bytes = small_asset();
    let last = Lod::ALL
        .iter()
        .max_by_key(|&&l| parse_header(&bytes).unwrap().lod(l).unwrap().offset)
        .copied()
        .unwrap();
    for n in 0..bytes.len() {
        let cut = &bytes[..n];
        let results = decode_everything(cut);
        // Either the header fails or at least the last block does.
        let last_result = results.get(last.index());
        assert!(
            last_result.is_none_or(|r| r.is_err()),
            "a prefix of {n} of {} bytes decoded",
            bytes.len()
        );
    }
    assert!(decode_everything(&bytes).iter().all(Result::is_ok));
}

#[test]
fn flipped_bytes_never_panic() {
    let bytes = small_asset();
    let mut rejected = 0;
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= [0x01u8, 0x80, 0xff][i % 3];
        let results = decode_everything(&b);
        if results.is_empty() || results.iter().any(Result::is_err) {
            rejected += 1;
        }
    }
    // zlib's Adler-32 catches nearly every flip in the blocks.
    eprintln!("{rejected} of {} flips rejected", bytes.len());
    assert!(rejected * 10 >= bytes.len() * 9);
}

#[test]
fn encode_rejects_what_it_cannot_write() {
    let enc = |lods: &[(Lod, Vec<MeshData>)]| match encode(lods) {
        Err(MeshError::Encode { problem, .. }) => problem,
        other => panic!("{other:?}"),
    };
    enc(&[
        (Lod::High, vec![grid(1, 0.0)]),
        (Lod::High, vec![grid(1, 0.0)]),
    ]);
    enc(&[(Lod::High, vec![])]);
    let mut bad = grid(1, 0.0);
    bad.indices[0] = 99;
    assert!(enc(&[(Lod::Low, vec![bad])]).contains("index 99"));
    let mut bad = grid(1, 0.0);
    bad.uvs[0][0] = f32::NAN;
    enc(&[(Lod::Low, vec![bad])]);
    let big = MeshData {
        positions: vec![[0.0; 3]; MAX_FACE_VERTICES + 1],
        normals: vec![[0.0, 0.0, 1.0]; MAX_FACE_VERTICES + 1],
        uvs: vec![[0.0; 2]; MAX_FACE_VERTICES + 1],
        ..MeshData::default()
    };
    enc(&[(Lod::Low, vec![big])]);
    // Flat, degenerate domains still round trip (a zero range quantizes to 0).
    let mut flat = grid(2, 0.0);
    for p in &mut flat.positions {
        p[2] = 0.25;
    }
    for t in &mut flat.uvs {
        *t = [0.5, 0.5];
    }
    let bytes = encode(&[(Lod::Low, vec![flat.clone()])]).unwrap();
    let back = decode_only(&bytes, Lod::Low).unwrap();
    assert!(back[0].positions.iter().all(|p| p[2] == 0.25));
    assert!(back[0].uvs.iter().all(|t| *t == [0.5, 0.5]));
    // The largest face encodes and decodes.
    let n = MAX_FACE_VERTICES;
    let max = MeshData {
        positions: (0..n).map(|i| [i as f32, 0.0, 0.0]).collect(),
        normals: vec![[0.0, 0.0, 1.0]; n],
        uvs: vec![[0.0; 2]; n],
        colors: vec![],
        indices: vec![0, 1, n as u32 - 1],
    };
    let back = decode_only(&encode(&[(Lod::High, vec![max])]).unwrap(), Lod::High).unwrap();
    assert_eq!(back[0].positions.len(), n);
    assert_eq!(back[0].positions[n - 1], [(n - 1) as f32, 0.0, 0.0]);
}

#[test]
fn errors_display() {
    let block = Block { offset: 1, size: 2 };
    let errors = [
        MeshError::Header(llsd::LlsdError::TooLong),
        MeshError::HeaderNotMap,
        MeshError::BadBlock("skin"),
        MeshError::MissingLod(Lod::High),
        MeshError::NoLod,
        MeshError::OutOfRange {
            lod: Lod::Low,
            block,
            header_len: 3,
            asset_len: 4,
        },
        MeshError::Inflate(Lod::Low),
        MeshError::TooLarge(Lod::Low),
        MeshError::Llsd {
            lod: Lod::Low,
            error: llsd::LlsdError::TooDeep { at: 1 },
        },
        MeshError::NoFaces(Lod::Lowest),
        MeshError::TooMuchGeometry(Lod::Medium),
        MeshError::Face {
            lod: Lod::Low,
            face: 2,
            problem: FaceProblem::NotMap,
        },
        MeshError::Encode {
            lod: Lod::Low,
            face: Some(1),
            problem: "x".into(),
        },
        MeshError::Encode {
            lod: Lod::Low,
            face: None,
            problem: "x".into(),
        },
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
    }
    for p in [
        FaceProblem::NotMap,
        FaceProblem::BadLength("Normal"),
        FaceProblem::TooFew("Normal"),
        FaceProblem::BadDomain("PositionDomain"),
        FaceProblem::IndexOutOfRange {
            index: 1,
            vertices: 1,
        },
        FaceProblem::TooManyVertices(1),
        FaceProblem::NonFinite,
    ] {
        assert!(!p.to_string().is_empty());
    }
    assert_eq!(Lod::Medium.to_string(), "medium_lod");
    assert_eq!(Lod::ALL.map(Lod::index), [0, 1, 2, 3]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
        // The same bytes as a whole asset's block, past zlib.
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&bytes, 1);
        for lod in Lod::ALL {
            decode_everything(&asset_of_block(lod, &z));
        }
    }

    #[test]
    fn random_edits_of_a_valid_asset_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = small_asset();
        let n = bytes.len();
        for (at, v) in edits {
            bytes[at % n] = v;
        }
        decode_everything(&bytes);
    }

    #[test]
    fn random_faces_round_trip(
        points in prop::collection::vec(
            (prop::array::uniform3(-100.0f32..100.0), prop::array::uniform3(-1.0f32..1.0), prop::array::uniform2(-4.0f32..4.0)),
            3..40,
        ),
        tris in prop::collection::vec(prop::array::uniform3(any::<u32>()), 0..40),
    ) {
        let n = points.len() as u32;
        let mut m = MeshData::default();
        for (p, nrm, uv) in &points {
            m.positions.push(*p);
            let l = (nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]).sqrt().max(1e-3);
            m.normals.push(if l > 0.1 { nrm.map(|v| v / l) } else { [0.0, 0.0, 1.0] });
            m.uvs.push(*uv);
        }
        m.indices = tris.iter().flat_map(|t| t.map(|i| i % n)).collect();
        let back = decode_only(&encode(&[(Lod::Medium, vec![m.clone()])]).unwrap(), Lod::Medium).unwrap();
        let got = &back[0];
        got.validate().unwrap();
        prop_assert_eq!(&got.indices, &m.indices);
        prop_assert!(max_diff(&m.positions, &got.positions) <= span(&m.positions) / 65535.0 * 1.01 + 1e-5);
        prop_assert!(max_diff(&m.uvs, &got.uvs) <= span(&m.uvs) / 65535.0 * 1.01 + 1e-6);
        prop_assert!(max_diff(&m.normals, &got.normals) <= 4.0 / 65535.0);
    }
}
