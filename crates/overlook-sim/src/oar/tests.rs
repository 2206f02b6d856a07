//! Tests of the OAR reader: the project's real archives, archives built here, hostile input.

use std::io::{Read, Write};

use overlook_protocol::message::object::{ExtraParams, PCode, PrimShape};
use overlook_protocol::types::{Quat, Uuid, Vec3};
use proptest::prelude::*;

use super::*;

// ---- archive builders -------------------------------------------------------------------------

/// A ustar / GNU header block with a correct checksum.
fn header(name: &[u8], size: u64, flag: u8, gnu: bool) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    if size < 0o77777777777 {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..148].copy_from_slice(b"15000000000\0");
    h[156] = flag;
    if gnu {
        h[257..265].copy_from_slice(b"ustar  \0");
    } else {
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
    }
    set_checksum(&mut h);
    h
}

fn set_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A tar stream built entry by entry.
#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn raw(&mut self, header: [u8; 512], data: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&header);
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// A file; names over 100 bytes go through a GNU `L` entry, as Python and GNU tar write.
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        if name.len() > 100 {
            let mut long = name.as_bytes().to_vec();
            long.push(0);
            let h = header(b"././@LongLink", long.len() as u64, b'L', true);
            self.raw(h, &long);
        }
        self.raw(header(name.as_bytes(), data.len() as u64, b'0', true), data)
    }

    /// A file whose path is given by a pax `x` header (the ustar name is a stand-in).
    fn pax_file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        let body = format!(" path={path}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        let record = format!("{len}{body}");
        self.raw(
            header(b"PaxHeaders/x", record.len() as u64, b'x', false),
            record.as_bytes(),
        );
        self.raw(header(b"stand-in", data.len() as u64, b'0', false), data)
    }

    fn dir(&mut self, name: &str) -> &mut Self {
        self.raw(header(name.as_bytes(), 0, b'5', true), &[])
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.0);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

const CONTROL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<archive major_version=\"0\" \
    minor_version=\"8\"><creation_info><datetime>0</datetime><id>11111111-2222-3333-4444-\
    555555555555</id></creation_info><assets_included>True</assets_included><region_info>\
    <is_megaregion>False</is_megaregion><size_in_meters>256,256</size_in_meters></region_info>\
    </archive>";

fn uuid(n: u8) -> Uuid {
    Uuid([n; 16])
}

/// One xml2 `SceneObjectPart` with the fields the reader uses, written as OpenSim and
/// `make_oar.py` write them; `shape_tail` goes at the end of `Shape`.
fn part_xml(id: Uuid, name: &str, group: [f32; 3], offset: [f32; 3], shape_tail: &str) -> String {
    let v =
        |n: &str, p: [f32; 3]| format!("<{n}><X>{}</X><Y>{}</Y><Z>{}</Z></{n}>", p[0], p[1], p[2]);
    format!(
        "<SceneObjectPart xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <CreatorID><UUID>{zero}</UUID></CreatorID><UUID><UUID>{id}</UUID></UUID>\
         <LocalId>12345</LocalId><Name>{name}</Name><Material>3</Material>\
         {gp}{op}<RotationOffset><X>0</X><Y>0</Y><Z>0.7071068</Z><W>0.7071068</W></RotationOffset>\
         <Shape><ProfileCurve>1</ProfileCurve><TextureEntry>AQID</TextureEntry>{tail}\
         <PathBegin>0</PathBegin><PathCurve>16</PathCurve><PathEnd>0</PathEnd>\
         <PathScaleX>100</PathScaleX><PathScaleY>100</PathScaleY><PathTwistBegin>-50</PathTwistBegin>\
         <PCode>9</PCode><State>0</State></Shape>\
         <Scale><X>1</X><Y>2</Y><Z>3</Z></Scale><ParentID>0</ParentID></SceneObjectPart>",
        zero = Uuid::NIL,
        gp = v("GroupPosition", group),
        op = v("OffsetPosition", offset),
        tail = shape_tail,
    )
}

fn group_xml(parts: &[String]) -> String {
    let (root, rest) = parts.split_first().unwrap();
    format!(
        "<SceneObjectGroup>{root}<OtherParts>{}</OtherParts></SceneObjectGroup>",
        rest.concat()
    )
}

/// A simple one-part object.
fn simple_object(n: u8) -> String {
    group_xml(&[part_xml(
        uuid(n),
        &format!("obj{n}"),
        [10.0 * f32::from(n), 20.0, 30.0],
        [0.0; 3],
        "<ExtraParams>AA==</ExtraParams>",
    )])
}

fn read(bytes: &[u8]) -> Result<Oar, OarError> {
    read_oar(bytes, &OarLimits::default())
}

fn real(name: &str) -> Vec<u8> {
    std::fs::read(overlook_testdata::data_dir().join("oar").join(name)).unwrap()
}

// ---- the project's archives (make_oar.py) ------------------------------------------------------

#[test]
fn reads_the_test_region_archive() {
    let oar = read(&real("test-region.oar")).unwrap();
    assert_eq!(oar.problems, Vec::<String>::new());
    assert_eq!(oar.region_size, Some((256, 256)));
    assert_eq!(oar.version, Some((0, 8)));
    assert_eq!(oar.region_name, None);
    assert!(oar.terrain.is_none() && oar.settings.is_none() && oar.assets.is_empty());
    // scene.json's Test Region: 32 objects, 33 parts (one 2-prim linkset).
    assert_eq!(oar.stats.groups, 32);
    assert_eq!(oar.objects.len(), 33);
    assert_eq!(oar.stats.parts, 33);
    for (i, o) in oar.objects.iter().enumerate() {
        assert_eq!(o.local_id, SCENE_FIRST_ID + i as u32);
        assert!(o.motion.is_none() && o.blink.is_none());
    }

    let by_name = |n: &str| oar.objects.iter().find(|o| o.name == n).unwrap();
    let bx = by_name("box");
    assert_eq!(
        bx.full_id.to_string(),
        "9e01d0ce-caa8-5e3e-b09f-683f59c71dc9"
    );
    assert_eq!(bx.position, Vec3::new(116.0, 116.0, 22.64));
    assert_eq!(bx.scale, Vec3::new(1.0, 1.0, 1.0));
    assert_eq!(bx.shape, PrimShape::BOX);
    assert_eq!((bx.pcode, bx.material, bx.parent_id), (PCode::Prim, 3, 0));
    assert_eq!(bx.update_flags, PRIM_FLAGS);
    assert_eq!(bx.texture_entry.len(), 79);
    assert_eq!(bx.texture_entry[..16], crate::scene::PLYWOOD.0);
    // make_oar.py writes ExtraParams "AA==" (a lone count byte of 0): none.
    assert!(bx.extra_params.is_empty());

    let shear = by_name("box top shear 0.25,-0.25");
    assert_eq!(
        (shear.shape.path_shear_x, shear.shape.path_shear_y),
        (25, 231)
    );
    let twist = by_name("box twist begin -90 end 90");
    assert_eq!(
        (twist.shape.path_twist, twist.shape.path_twist_begin),
        (50, -50)
    );
    assert_eq!(twist.scale, Vec3::new(1.0, 1.0, 2.0));
    let torus = by_name("torus taper 0.5, 2 revolutions, radius offset 0.2, skew 0.1");
    let s = torus.shape;
    assert_eq!(
        (
            s.path_curve,
            s.path_scale_y,
            s.path_radius_offset,
            s.path_taper_x
        ),
        (32, 175, 20, 50)
    );
    assert_eq!((s.path_revolutions, s.path_skew), (67, 10));
    let hollow = by_name("tube hollow 30% triangle hole");
    assert_eq!(
        (hollow.shape.profile_curve, hollow.shape.profile_hollow),
        (49, 15000)
    );
    let platform = by_name("platform 4x4x0.2 rotated 30 deg");
    assert_eq!(platform.scale, Vec3::new(4.0, 4.0, 0.2));
    assert_eq!(
        platform.rotation,
        Quat {
            x: 0.0,
            y: 0.0,
            z: 0.258_819_04,
            w: 0.965_925_8
        }
    );

    // The linkset: root at its region position, the child after it with the root's id and a
    // root-relative offset.
    let root = by_name("linkset root box");
    let child = by_name("linkset child sphere");
    assert_eq!(root.parent_id, 0);
    assert_eq!(root.position, Vec3::new(134.0, 122.0, 24.55));
    assert_eq!(child.parent_id, root.local_id);
    assert_eq!(child.local_id, root.local_id + 1);
    assert_eq!(child.position, Vec3::new(0.0, 0.0, 0.650_001_5));
    assert_eq!(child.scale, Vec3::new(0.8, 0.8, 0.8));
    assert_eq!(oar.objects.iter().filter(|o| o.parent_id != 0).count(), 1);

    // Plants: species in the state byte, phantom flags.
    let tree = by_name("tree (pcode 255, oak)");
    assert_eq!(
        (tree.pcode, tree.state, tree.update_flags),
        (PCode::Tree, 1, TREE_FLAGS)
    );
    let new_tree = by_name("new tree (pcode 111, state 3)");
    assert_eq!((new_tree.pcode, new_tree.state), (PCode::NewTree, 3));
    let grass = by_name("grass (pcode 95, state 2)");
    assert_eq!(
        (grass.pcode, grass.state, grass.update_flags),
        (PCode::Grass, 2, TREE_FLAGS)
    );
    assert_eq!(grass.position, Vec3::new(138.0, 146.0, 20.76));

    assert_eq!(oar.stats.entries, 33);
    assert!(oar.stats.bytes_uncompressed > oar.stats.bytes_compressed);
    assert_eq!(
        oar.stats.bytes_compressed,
        real("test-region.oar").len() as u64
    );
}

#[test]
fn reads_the_var_region_archive() {
    let oar = read(&real("var-region.oar")).unwrap();
    assert_eq!(oar.problems, Vec::<String>::new());
    assert_eq!(oar.region_size, Some((512, 512)));
    assert_eq!(oar.objects.len(), 7);
    let tube = oar
        .objects
        .iter()
        .find(|o| o.name == "var tube underwater (500,500)")
        .unwrap();
    assert_eq!(tube.position, Vec3::new(500.0, 500.0, 0.52));
    let tall = oar.objects.last().unwrap();
    assert_eq!(tall.name, "var tall box near spawn (132,128)");
    assert_eq!(tall.scale, Vec3::new(0.5, 0.5, 4.0));
}

// ---- archives built here -----------------------------------------------------------------------

#[test]
fn terrain_settings_and_assets() {
    let heights: Vec<f32> = (0..256 * 256)
        .map(|i| (i % 1000) as f32 * 0.25 - 10.0)
        .collect();
    let r32: Vec<u8> = heights.iter().flat_map(|h| h.to_le_bytes()).collect();
    let settings = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<RegionSettings><General>\
        <AllowDamage>False</AllowDamage><MaturityRating>1</MaturityRating><AgentLimit>100</AgentLimit>\
        </General><GroundTextures><Texture1>01010101-0101-0101-0101-010101010101</Texture1>\
        <Texture2>00000000-0000-0000-0000-000000000000</Texture2>\
        <Texture3>03030303-0303-0303-0303-030303030303</Texture3>\
        <Texture4>04040404-0404-0404-0404-040404040404</Texture4>\
        <ElevationLowSW>5</ElevationLowSW><ElevationLowNE>7.5</ElevationLowNE>\
        <ElevationHighNW>80</ElevationHighNW></GroundTextures><Terrain>\
        <WaterHeight>21.5</WaterHeight><TerrainRaiseLimit>100</TerrainRaiseLimit>\
        <TerrainLowerLimit>-100</TerrainLowerLimit><UseEstateSun>True</UseEstateSun></Terrain>\
        </RegionSettings>";
    let texture: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mesh: Vec<u8> = (0..777u32).map(|i| (i * 13 % 256) as u8).collect();
    let tex_id: Uuid = "a1a2a3a4-b1b2-c1c2-d1d2-e1e2e3e4e5e6".parse().unwrap();
    let mesh_id: Uuid = "f1f2f3f4-b1b2-c1c2-d1d2-e1e2e3e4e5e6".parse().unwrap();
    let archive = gz(&Tar::default()
        .file("archive.xml", CONTROL.as_bytes())
        .dir("assets/")
        .file(&format!("assets/{tex_id}_texture.jp2"), &texture)
        .file(&format!("assets/{mesh_id}_mesh.llmesh"), &mesh)
        .file("assets/not-a-uuid_texture.jp2", b"x")
        .file(&format!("assets/{}_thing.bin", uuid(9)), b"odd")
        .file("landdata/0000.xml", b"<LandData/>")
        .file("settings/My Region.xml", settings.as_bytes())
        .file("terrains/My Region.r32", &r32)
        .file("objects/a.xml", simple_object(1).as_bytes())
        .finish());
    let oar = read(&archive).unwrap();
    assert_eq!(oar.region_name.as_deref(), Some("My Region"));
    let map = oar.terrain.as_ref().unwrap();
    assert_eq!((map.size_x(), map.size_y()), (256, 256));
    assert_eq!(map.heights(), &heights[..]);
    assert_eq!(map.height(3, 0), Some(heights[3]));
    assert_eq!(map.height(0, 1), Some(heights[256]));

    let s = oar.settings.as_ref().unwrap();
    assert_eq!(
        s.terrain_textures,
        [uuid(1), DEFAULT_TERRAIN_TEXTURES[1], uuid(3), uuid(4)]
    );
    assert_eq!(s.elevation_low, [5.0, 10.0, 10.0, 7.5]);
    assert_eq!(s.elevation_high, [60.0, 80.0, 60.0, 60.0]);
    assert_eq!((s.water_height, s.maturity, s.agent_limit), (21.5, 1, 100));

    assert_eq!(oar.assets.len(), 3);
    assert_eq!(
        oar.assets[&tex_id],
        OarAsset {
            kind: OarAssetKind::Texture,
            bytes: texture
        }
    );
    assert_eq!(
        oar.assets[&mesh_id],
        OarAsset {
            kind: OarAssetKind::Mesh,
            bytes: mesh
        }
    );
    assert_eq!(
        oar.assets[&uuid(9)].kind,
        OarAssetKind::Other("_thing.bin".into())
    );
    assert_eq!(oar.stats.assets[&OarAssetKind::Texture], 1);
    assert_eq!(oar.stats.ignored["landdata"], 1);
    assert_eq!(oar.stats.ignored["(non-file)"], 1);
    assert_eq!(oar.problems.len(), 2, "{:?}", oar.problems);
    assert!(oar.problems[0].contains("not-a-uuid"));
    assert!(oar.problems[1].contains("_thing.bin"));
    assert_eq!(oar.objects.len(), 1);
}

#[test]
fn asset_kinds_round_trip_their_suffixes() {
    for (suffix, kind) in &ASSET_SUFFIXES {
        assert_eq!(OarAssetKind::from_suffix(suffix), *kind);
        assert_eq!(kind.suffix(), *suffix);
    }
    assert_eq!(OarAssetKind::Other("_x.y".into()).suffix(), "_x.y");
}

#[test]
fn a_var_region_terrain_and_unsupported_formats() {
    let control = CONTROL.replace("256,256", "512,256");
    let r32 = vec![0u8; 512 * 256 * 4];
    let oar = read(&gz(&Tar::default()
        .file("archive.xml", control.as_bytes())
        .file("terrains/wide.r32", &r32)
        .file("terrains/other.png", b"png")
        .finish()))
    .unwrap();
    let map = oar.terrain.unwrap();
    assert_eq!((map.size_x(), map.size_y()), (512, 256));
    assert_eq!(oar.region_name.as_deref(), Some("wide"));
    assert_eq!(oar.problems.len(), 1);
    assert!(oar.problems[0].contains("other.png"));

    // A terrain that fits no size is a problem, not an error.
    let oar = read(&gz(&Tar::default()
        .file("terrains/odd.r32", &[0u8; 1000])
        .finish()))
    .unwrap();
    assert!(oar.terrain.is_none());
    assert_eq!(oar.region_size, None);
    assert!(oar.problems[0].contains("fit no region size"));
}

#[test]
fn a_sculpt_part_gets_its_extra_params_from_the_shape() {
    let sculpt_tex: Uuid = "0b0b0b0b-0000-1111-2222-333333333333".parse().unwrap();
    let tail = format!(
        "<ExtraParams></ExtraParams><SculptTexture><UUID>{sculpt_tex}</UUID></SculptTexture>\
         <SculptType>65</SculptType><SculptEntry>true</SculptEntry>"
    );
    let xml = group_xml(&[part_xml(
        uuid(5),
        "sculpty",
        [1.0, 2.0, 3.0],
        [0.0; 3],
        &tail,
    )]);
    let oar = read(&gz(&Tar::default()
        .file("objects/s.xml", xml.as_bytes())
        .finish()))
    .unwrap();
    assert_eq!(oar.problems, Vec::<String>::new());
    let o = &oar.objects[0];
    let params = ExtraParams::parse(&o.extra_params).unwrap();
    let s = params.sculpt().unwrap();
    assert_eq!(s.texture, sculpt_tex);
    assert_eq!(s.kind_byte, 65);
    assert!(s.inverted());
    // And the rest of the part.
    assert_eq!(o.texture_entry, [1, 2, 3]);
    assert_eq!(o.scale, Vec3::new(1.0, 2.0, 3.0));
    assert_eq!(o.shape.path_twist_begin, -50);
    assert_eq!(o.full_id, uuid(5));
}

#[test]
fn a_linkset_child_is_root_relative() {
    let xml = group_xml(&[
        part_xml(uuid(1), "root", [100.0, 50.0, 20.0], [0.0; 3], ""),
        part_xml(uuid(2), "child a", [100.0, 50.0, 20.0], [1.0, 0.0, 0.5], ""),
        part_xml(
            uuid(3),
            "child b",
            [100.0, 50.0, 20.0],
            [-1.0, 0.0, 0.5],
            "",
        ),
    ]);
    let oar = read(&gz(&Tar::default()
        .file("objects/before.xml", simple_object(9).as_bytes())
        .file("objects/l.xml", xml.as_bytes())
        .finish()))
    .unwrap();
    let o = &oar.objects;
    assert_eq!(o.len(), 4);
    assert_eq!(oar.stats.groups, 2);
    assert_eq!((o[1].name.as_str(), o[1].parent_id), ("root", 0));
    assert_eq!(o[1].position, Vec3::new(100.0, 50.0, 20.0));
    assert_eq!(o[2].parent_id, o[1].local_id);
    assert_eq!(o[3].parent_id, o[1].local_id);
    assert_eq!(o[3].position, Vec3::new(-1.0, 0.0, 0.5));
    assert!((o[2].rotation.z - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
}

#[test]
fn long_names_and_pax_paths() {
    let long = format!("objects/{}__{}.xml", "n".repeat(150), uuid(1));
    let oar = read(&gz(&Tar::default()
        .file(&long, simple_object(1).as_bytes())
        .pax_file(
            &format!("objects/{}.xml", "p".repeat(200)),
            simple_object(2).as_bytes(),
        )
        .pax_file(&format!("assets/{}_texture.jp2", uuid(7)), b"jp2 bytes")
        .finish()))
    .unwrap();
    assert_eq!(oar.problems, Vec::<String>::new());
    assert_eq!(oar.objects.len(), 2);
    assert_eq!(oar.objects[1].name, "obj2");
    assert_eq!(oar.assets[&uuid(7)].bytes, b"jp2 bytes");
}

#[test]
fn a_posix_prefix_joins_the_name() {
    let data = simple_object(4);
    let mut h = header(b"a.xml", data.len() as u64, b'0', false);
    h[345..352].copy_from_slice(b"objects");
    set_checksum(&mut h);
    let oar = read(&gz(&Tar::default().raw(h, data.as_bytes()).finish())).unwrap();
    assert_eq!(oar.objects.len(), 1);
    assert_eq!(oar.stats.ignored.len(), 0);
}

#[test]
fn one_bad_object_does_not_lose_the_others() {
    let deep = format!("<SceneObjectGroup>{}</SceneObjectGroup>", "<a>".repeat(500));
    let no_uuid = simple_object(3)
        .replace("<UUID><UUID>", "<X><UUID>")
        .replace("</UUID></UUID>", "</UUID></X>");
    let bad_te = simple_object(6).replace("<TextureEntry>AQID<", "<TextureEntry>!!<");
    let bad_number = simple_object(7).replace("<PathCurve>16<", "<PathCurve>300<");
    let oar = read(&gz(&Tar::default()
        .file("objects/1.xml", simple_object(1).as_bytes())
        .file("objects/broken.xml", b"<SceneObjectGroup><SceneObjectPart>")
        .file("objects/2.xml", simple_object(2).as_bytes())
        .file("objects/deep.xml", deep.as_bytes())
        .file("objects/notxml.xml", b"\xff\xfe hello")
        .file("objects/nouuid.xml", no_uuid.as_bytes())
        .file("objects/dup.xml", simple_object(1).as_bytes())
        .file("objects/badte.xml", bad_te.as_bytes())
        .file("objects/badnumber.xml", bad_number.as_bytes())
        .file("objects/empty.xml", b"<SceneObjectGroup/>")
        .finish()))
    .unwrap();
    let names: Vec<&str> = oar.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["obj1", "obj2", "obj6"]);
    assert!(oar.objects[2].texture_entry.is_empty());
    let problems = oar.problems.join("\n");
    for what in [
        "broken.xml",
        "deep.xml: elements nested deeper than 64",
        "notxml.xml: not UTF-8",
        "nouuid.xml: part 0",
        "dup.xml: part 01010101",
        "badte.xml: part 06060606-0606-0606-0606-060606060606: TextureEntry",
        "badnumber.xml: PathCurve",
        "empty.xml: no SceneObjectPart",
    ] {
        assert!(problems.contains(what), "{what} not in {problems}");
    }
    assert_eq!(oar.problems.len(), 8, "{problems}");
}

#[test]
fn multi_region_archives_read_the_first_region() {
    let control = "<archive major_version=\"1\" minor_version=\"0\"><region_info><is_megaregion>\
        True</is_megaregion></region_info><regions><row><region><id>1</id><dir>r1</dir>\
        <size_in_meters>512,512</size_in_meters></region><region><id>2</id><dir>r2</dir>\
        <size_in_meters>256,256</size_in_meters></region></row></regions></archive>";
    let oar = read(&gz(&Tar::default()
        .file("archive.xml", control.as_bytes())
        .file("regions/r1/objects/a.xml", simple_object(1).as_bytes())
        .file("regions/r2/objects/b.xml", simple_object(2).as_bytes())
        .file("regions/r2/objects/c.xml", simple_object(3).as_bytes())
        .finish()))
    .unwrap();
    assert_eq!(oar.version, Some((1, 0)));
    assert_eq!(oar.region_size, Some((512, 512)));
    assert_eq!(oar.objects.len(), 1);
    assert_eq!(oar.stats.ignored["regions/r2"], 2);
    assert_eq!(oar.problems.len(), 1);
}

// ---- hostile input -----------------------------------------------------------------------------

#[test]
fn unsafe_paths_are_refused() {
    for path in [
        "../x",
        "objects/../../x.xml",
        "/etc/passwd",
        "\\windows\\x",
        "C:/x",
        "./../x",
        "objects\\..\\x",
    ] {
        let archive = gz(&Tar::default().file(path, b"data").finish());
        match read(&archive) {
            Err(OarError::UnsafePath { path: p }) => assert_eq!(p, path),
            other => panic!("{path}: {other:?}"),
        }
    }
    // Through a pax header and a GNU long name too.
    let archive = gz(&Tar::default()
        .pax_file("assets/../../../etc/x", b"d")
        .finish());
    assert!(matches!(read(&archive), Err(OarError::UnsafePath { .. })));
    let long = format!("objects/{}/../../../../x", "d".repeat(120));
    let archive = gz(&Tar::default().file(&long, b"d").finish());
    assert!(matches!(read(&archive), Err(OarError::UnsafePath { .. })));
    // A name that only looks like one is fine.
    let archive = gz(&Tar::default()
        .file("objects/a..b.xml", simple_object(1).as_bytes())
        .finish());
    assert_eq!(read(&archive).unwrap().objects.len(), 1);
}

#[test]
fn huge_entries_are_refused_before_reading() {
    // An entry claiming 1 TB (base-256 size) with nothing behind it.
    let mut tar = Tar::default();
    tar.0
        .extend_from_slice(&header(b"objects/huge.xml", 1 << 40, b'0', true));
    let err = read(&gz(&tar.0)).unwrap_err();
    assert!(
        matches!(&err, OarError::EntryTooLarge { path, size, .. }
            if path == "objects/huge.xml" && *size == 1 << 40),
        "{err:?}"
    );
    assert!(err.to_string().contains("objects/huge.xml"));

    // A real entry over a small per-entry limit.
    let limits = OarLimits {
        max_entry_bytes: 100,
        ..OarLimits::default()
    };
    let archive = gz(&Tar::default().file("objects/a.xml", &[b' '; 101]).finish());
    assert!(matches!(
        read_oar(&archive[..], &limits),
        Err(OarError::EntryTooLarge {
            size: 101,
            limit: 100,
            ..
        })
    ));
}

/// A gzip stream of `tar_header` then `zeros` zero bytes, deflated by hand with fixed Huffman
/// codes (length 258 at distance 1 over and over): about 1.6 bytes per KiB, so hundreds of MB
/// cost nothing to build. The trailer's CRC is wrong; the reader must stop long before it.
fn zero_bomb(tar_header: &[u8], zeros: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `len` bits of `v`, least significant first (deflate's packing order).
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            for i in (0..len).rev() {
                self.put((code >> i) & 1, 1);
            }
        }
        fn literal(&mut self, b: u8) {
            if b < 144 {
                self.code(0x30 + u64::from(b), 8);
            } else {
                self.code(0x190 + u64::from(b - 144), 9);
            }
        }
    }
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // fixed Huffman
    for &b in tar_header {
        bits.literal(b);
    }
    bits.literal(0);
    for _ in 0..zeros / 258 {
        bits.code(0xC5, 8); // length symbol 285: 258 bytes
        bits.code(0, 5); // distance code 0: distance 1
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7);
    bits.out.extend_from_slice(&[0; 8]);
    bits.out
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    // 300 MB of zeros in about 2 MB, inside an entry the reader skips (landdata).
    let head = header(b"landdata/bomb.xml", 300_000_000, b'0', true);
    let bomb = zero_bomb(&head, 300_000_000);
    assert!(bomb.len() < 2_500_000);
    let limits = OarLimits {
        max_uncompressed_bytes: 8 << 20,
        max_entry_bytes: u64::MAX,
        ..OarLimits::default()
    };
    match read_oar(&bomb[..], &limits) {
        Err(OarError::TooMuchData { what, limit }) => {
            assert_eq!((what, limit), ("uncompressed", 8 << 20));
        }
        other => panic!("{other:?}"),
    }
    // And one the reader keeps (an asset): refused by size before any byte is read.
    let head = header(
        format!("assets/{}_texture.jp2", uuid(1)).as_bytes(),
        300_000_000,
        b'0',
        true,
    );
    let bomb = zero_bomb(&head, 300_000_000);
    assert!(matches!(
        read_oar(&bomb[..], &OarLimits::default()),
        Err(OarError::EntryTooLarge { .. })
    ));
    // The compressed side is bounded too.
    let limits = OarLimits {
        max_compressed_bytes: 1000,
        ..OarLimits::default()
    };
    assert!(matches!(
        read_oar(&real("test-region.oar")[..], &limits),
        Err(OarError::TooMuchData {
            what: "compressed",
            ..
        })
    ));
}

#[test]
fn the_bomb_builder_makes_valid_deflate() {
    // The same construction, small, decodes to what it claims (the CRC aside).
    let head = header(b"landdata/x", 2580, b'0', true);
    let bomb = zero_bomb(&head, 2580);
    let mut out = Vec::new();
    let mut d = flate2::read::DeflateDecoder::new(&bomb[10..]);
    d.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 512 + 1 + 2580);
    assert_eq!(&out[..512], &head[..]);
    assert!(out[512..].iter().all(|&b| b == 0));
}

#[test]
fn truncated_archives_fail_cleanly_at_every_cut() {
    let full = real("test-region.oar");
    assert!(read(&full).is_ok());
    let mut cuts: Vec<usize> = (0..full.len()).step_by(37).collect();
    cuts.extend(full.len().saturating_sub(64)..full.len());
    for cut in cuts {
        match read(&full[..cut]) {
            Err(OarError::NotGzip | OarError::Truncated { .. } | OarError::Gzip { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // A tar cut inside an entry, in a complete gzip stream.
    let tar = gunzip(&full);
    for cut in [100, 512, 700, 1500, 5000, 20_000] {
        match read(&gz(&tar[..cut])) {
            Err(OarError::Truncated { .. }) => {}
            other => panic!("tar cut at {cut}: {other:?}"),
        }
    }
    // A tar that ends cleanly between entries without its zero blocks is complete.
    let cut = 512 + 512; // archive.xml's header and data
    let oar = read(&gz(&tar[..cut])).unwrap();
    assert_eq!(oar.region_size, Some((256, 256)));
}

#[test]
fn bad_checksums_and_headers_are_refused() {
    let mut tar = gunzip(&real("test-region.oar"));
    tar[0] ^= 0x20; // a letter of "archive.xml" changes, the stored checksum does not
    match read(&gz(&tar)) {
        Err(OarError::BadTar { reason }) => assert!(reason.contains("checksum")),
        other => panic!("{other:?}"),
    }
    // A size field that is not octal.
    let mut h = header(b"objects/a.xml", 10, b'0', true);
    h[124..136].copy_from_slice(b"12345678z90\0");
    set_checksum(&mut h);
    assert!(matches!(
        read(&gz(&Tar::default().raw(h, &[0; 10]).finish())),
        Err(OarError::BadTar { .. })
    ));
    // A GNU long name longer than 64 KiB.
    let h = header(b"././@LongLink", 100_000, b'L', true);
    assert!(matches!(
        read(&gz(&Tar::default().raw(h, &vec![b'a'; 100_000]).finish())),
        Err(OarError::BadTar { .. })
    ));
}

#[test]
fn non_gzip_input_is_refused() {
    let tar = gunzip(&real("test-region.oar"));
    for input in [&b""[..], &b"h"[..], &b"hello world"[..], &tar[..]] {
        assert!(matches!(read(input), Err(OarError::NotGzip)));
    }
    // Gzip magic, then garbage.
    assert!(matches!(
        read(b"\x1f\x8b\x08\x00garbage garbage garbage"),
        Err(OarError::Gzip { .. } | OarError::Truncated { .. })
    ));
    // A gzip stream of something that is not tar.
    assert!(matches!(
        read(&gz(&[b'x'; 2000])),
        Err(OarError::BadTar { .. })
    ));
    // A corrupt CRC in the trailer.
    let mut full = real("test-region.oar");
    let n = full.len();
    full[n - 6] ^= 1;
    assert!(matches!(read(&full), Err(OarError::Gzip { .. })));
}

#[test]
fn reader_errors_come_back_as_io() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "no",
                ));
            }
            let data = real("test-region.oar");
            let n = buf.len().min(self.0).min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            self.0 = 0;
            Ok(n)
        }
    }
    match read_oar(Failing(100), &OarLimits::default()) {
        Err(OarError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied),
        other => panic!("{other:?}"),
    }
}

#[test]
fn count_limits() {
    let archive = gz(&Tar::default()
        .file("objects/1.xml", simple_object(1).as_bytes())
        .file("objects/2.xml", simple_object(2).as_bytes())
        .file("objects/3.xml", simple_object(3).as_bytes())
        .file(&format!("assets/{}_texture.jp2", uuid(1)), b"a")
        .file(&format!("assets/{}_texture.jp2", uuid(2)), b"b")
        .finish());
    let with = |f: fn(&mut OarLimits)| {
        let mut l = OarLimits::default();
        f(&mut l);
        read_oar(&archive[..], &l)
    };
    assert!(matches!(
        with(|l| l.max_groups = 2),
        Err(OarError::TooMany { what: "objects", limit: 2, path }) if path == "objects/3.xml"
    ));
    assert!(matches!(
        with(|l| l.max_parts = 2),
        Err(OarError::TooMany { what: "parts", .. })
    ));
    assert!(matches!(
        with(|l| l.max_assets = 1),
        Err(OarError::TooMany { what: "assets", .. })
    ));
    assert!(matches!(
        with(|l| l.max_asset_bytes = 1),
        Err(OarError::TooMany {
            what: "asset bytes",
            ..
        })
    ));
    assert!(matches!(
        with(|l| l.max_entries = 4),
        Err(OarError::TooMany {
            what: "entries",
            ..
        })
    ));
    // Too many parts in one object only skips it.
    let big = group_xml(
        &(1..=5)
            .map(|n| part_xml(uuid(n), "p", [1.0; 3], [0.0; 3], ""))
            .collect::<Vec<_>>(),
    );
    let archive = gz(&Tar::default()
        .file("objects/big.xml", big.as_bytes())
        .file("objects/small.xml", simple_object(9).as_bytes())
        .finish());
    let limits = OarLimits {
        max_parts_per_group: 4,
        ..OarLimits::default()
    };
    let oar = read_oar(&archive[..], &limits).unwrap();
    assert_eq!(oar.objects.len(), 1);
    assert!(oar.problems[0].contains("more than 4 parts"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random bytes flipped in the real archive's tar (then compressed again, so the flips
    /// reach the tar and XML readers): never a panic, and whatever loads stays bounded.
    #[test]
    fn flipped_tar_bytes_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut tar = gunzip(&real("test-region.oar"));
        let n = tar.len();
        for (at, x) in flips {
            tar[at % n] ^= x | 1;
        }
        if let Ok(oar) = read(&gz(&tar)) {
            prop_assert!(oar.objects.len() <= 33);
        }
    }

    /// The same on the compressed bytes.
    #[test]
    fn flipped_gzip_bytes_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut gz = real("test-region.oar");
        let n = gz.len();
        for (at, x) in flips {
            gz[at % n] ^= x | 1;
        }
        let _ = read(&gz);
    }

    /// Arbitrary XML-ish text as an object file.
    #[test]
    fn arbitrary_object_text_never_panics(text in "[<>/a-zA-Z0-9 =\"&;#.-]{0,300}") {
        let archive = gz(&Tar::default().file("objects/x.xml", text.as_bytes()).finish());
        let oar = read(&archive).unwrap();
        prop_assert!(oar.objects.len() <= 1);
    }
}

#[test]
fn the_default_scene_goes_through_an_archive_and_back_unchanged() {
    use crate::scene::default_scene;
    use crate::store::{AssetKind, AssetStore};
    let map = crate::terrain::island(256, 256, 1).unwrap();
    let scene = default_scene(&map, 1);
    let store = AssetStore::builtin();
    let ids = [crate::textures::ORIENTED, crate::meshes::GEM];
    let assets: Vec<(Uuid, AssetKind, &[u8])> = ids
        .iter()
        .map(|id| {
            let a = store.get(*id).unwrap();
            (*id, a.kind, &a.bytes[..])
        })
        .collect();
    let mut bytes = Vec::new();
    write_oar(
        &mut bytes,
        &ArchiveContent {
            region_name: "Overlook Region",
            size: (256, 256),
            terrain: Some(&map),
            settings: Some((crate::textures::TERRAIN_DETAIL, 20.0)),
            objects: &scene,
            assets: &assets,
            owner: Uuid([7; 16]),
        },
    )
    .unwrap();
    let oar = read_oar(&bytes[..], &OarLimits::default()).unwrap();
    assert!(oar.problems.is_empty(), "{:?}", oar.problems);
    assert_eq!(oar.region_size, Some((256, 256)));
    assert_eq!(oar.terrain.as_ref().unwrap().heights(), map.heights());
    let settings = oar.settings.clone().unwrap();
    assert_eq!(settings.terrain_textures, crate::textures::TERRAIN_DETAIL);
    assert_eq!(settings.water_height, 20.0);
    assert_eq!(oar.assets.len(), 2);
    assert_eq!(oar.assets[&crate::meshes::GEM].kind, OarAssetKind::Mesh);
    assert_eq!(
        oar.assets[&crate::textures::ORIENTED].bytes,
        store.get(crate::textures::ORIENTED).unwrap().bytes.to_vec()
    );
    // Every part as the region streams it: roots before children, the same ids, shapes,
    // texture entries and extra parameters (sculpties and meshes included); local ids are the
    // reader's own, in the same order.
    assert_eq!(oar.objects.len(), scene.len());
    for (a, b) in oar.objects.iter().zip(&scene) {
        assert_eq!(a.full_id, b.full_id, "{}", b.name);
        assert_eq!(a.name, b.name);
        assert_eq!(
            (a.pcode, a.state, a.material),
            (b.pcode, b.state, b.material)
        );
        assert_eq!(a.shape, b.shape, "{}", b.name);
        assert_eq!(a.scale, b.scale, "{}", b.name);
        assert_eq!(a.position, b.position, "{}", b.name);
        assert_eq!(a.rotation, b.rotation, "{}", b.name);
        assert_eq!(a.texture_entry, b.texture_entry, "{}", b.name);
        assert_eq!(a.extra_params, b.extra_params, "{}", b.name);
        assert_eq!(a.parent_id != 0, b.parent_id != 0, "{}", b.name);
    }
    // The assets its objects name and it lacks: the other textures and meshes of the region
    // are the region's own, so only the one it never serves.
    assert_eq!(
        oar.missing_assets(),
        [(crate::textures::MISSING, AssetKind::Texture)]
    );
}
