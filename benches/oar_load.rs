//! Loading an OpenSim region archive (`overlook_sim::oar::read_oar`).
//!
//! Run: `cargo bench -p overlook-benches --bench oar_load` (no Bevy). The archives are built in
//! memory as OpenSim's `save oar` and the project's `make_oar.py` write them: `archive.xml`
//! (0.8, `size_in_meters`) and one `objects/*.xml` per object, each a single-prim
//! `SceneObjectGroup` in the "xml2" form with every field OpenSim writes (about 4.6 kB of XML),
//! a 79-byte TextureEntry and an ExtraParams blob (a lone count byte, or a sculpt entry on every
//! tenth object), in a GNU tar, gzip-compressed at the default level. 1,000 and 10,000 objects;
//! the sizes are printed once. Each iteration inflates, walks the tar, parses every object's
//! XML and builds the `SceneObject`s.

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use overlook_sim::oar::{OarLimits, read_oar};

/// The box's TextureEntry in the project's scene (plywood, 79 bytes).
const TE_HEX: &str = "8955674724cb43ed920b47caed15465f000000000004ffff000002ff00ff000100ffff0000\
    0000803f000000803f000000000000000000000000000000000000000000000000000000000000000000";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn uuid(n: u64, kind: u8) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
        n as u32,
        kind,
        (n >> 32) & 0xfff,
        n
    )
}

/// One object's XML, in the field order of OpenSim's `SOGToXml2` (as `make_oar.py`).
fn object_xml(i: u64, te: &str) -> String {
    let id = uuid(i, 1);
    let owner = "a0a0a0a0-0000-4000-8000-000000000001";
    let zero = "00000000-0000-0000-0000-000000000000";
    let (x, y, z) = (
        (i % 250) as f32 + 3.25,
        ((i / 250) % 250) as f32 + 3.5,
        20.0 + (i % 7) as f32 * 0.37,
    );
    let extra = if i.is_multiple_of(10) {
        let mut ep = vec![1u8, 0x30, 0, 17, 0, 0, 0];
        ep.extend_from_slice(&[0xAB; 16]);
        ep.push(1);
        base64(&ep)
    } else {
        "AA==".to_owned()
    };
    let v0 = |n: &str| format!("<{n}><X>0</X><Y>0</Y><Z>0</Z></{n}>");
    let mut s = String::with_capacity(5000);
    s.push_str("<SceneObjectGroup><SceneObjectPart xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">");
    let _ = write!(
        s,
        "<AllowedDrop>false</AllowedDrop><CreatorID><UUID>{owner}</UUID></CreatorID>\
         <FolderID><UUID>{id}</UUID></FolderID><InventorySerial>0</InventorySerial>\
         <UUID><UUID>{id}</UUID></UUID><LocalId>{lid}</LocalId><Name>object {i}</Name>\
         <Material>3</Material><PassTouches>false</PassTouches><PassCollisions>false</PassCollisions>\
         <RegionHandle>1099511628032000</RegionHandle><ScriptAccessPin>0</ScriptAccessPin>\
         <GroupPosition><X>{x}</X><Y>{y}</Y><Z>{z}</Z></GroupPosition>{op}\
         <RotationOffset><X>0</X><Y>0</Y><Z>0.258819</Z><W>0.9659258</W></RotationOffset>\
         {vel}{ang}{acc}<Description /><Color><R>0</R><G>0</G><B>0</B><A>0</A></Color>\
         <Text /><SitName /><TouchName /><LinkNum>0</LinkNum><ClickAction>0</ClickAction>",
        lid = 1000 + i,
        op = v0("OffsetPosition"),
        vel = v0("Velocity"),
        ang = v0("AngularVelocity"),
        acc = v0("Acceleration"),
    );
    let _ = write!(
        s,
        "<Shape><ProfileCurve>{pc}</ProfileCurve><TextureEntry>{te}</TextureEntry>\
         <ExtraParams>{extra}</ExtraParams><PathBegin>0</PathBegin><PathCurve>{path}</PathCurve>\
         <PathEnd>0</PathEnd><PathRadiusOffset>0</PathRadiusOffset><PathRevolutions>0</PathRevolutions>\
         <PathScaleX>100</PathScaleX><PathScaleY>100</PathScaleY><PathShearX>0</PathShearX>\
         <PathShearY>0</PathShearY><PathSkew>0</PathSkew><PathTaperX>0</PathTaperX>\
         <PathTaperY>0</PathTaperY><PathTwist>0</PathTwist><PathTwistBegin>0</PathTwistBegin>\
         <PCode>9</PCode><ProfileBegin>0</ProfileBegin><ProfileEnd>0</ProfileEnd>\
         <ProfileHollow>{hollow}</ProfileHollow><State>0</State><LastAttachPoint>0</LastAttachPoint>\
         <ProfileShape>Square</ProfileShape><HollowShape>Same</HollowShape>\
         <SculptTexture><UUID>{zero}</UUID></SculptTexture><SculptType>0</SculptType>\
         <FlexiSoftness>0</FlexiSoftness><FlexiTension>0</FlexiTension><FlexiDrag>0</FlexiDrag>\
         <FlexiGravity>0</FlexiGravity><FlexiWind>0</FlexiWind><FlexiForceX>0</FlexiForceX>\
         <FlexiForceY>0</FlexiForceY><FlexiForceZ>0</FlexiForceZ><LightColorR>0</LightColorR>\
         <LightColorG>0</LightColorG><LightColorB>0</LightColorB><LightColorA>0</LightColorA>\
         <LightRadius>0</LightRadius><LightCutoff>0</LightCutoff><LightFalloff>0</LightFalloff>\
         <LightIntensity>0</LightIntensity><FlexiEntry>false</FlexiEntry>\
         <LightEntry>false</LightEntry><SculptEntry>false</SculptEntry></Shape>",
        pc = [1, 0, 3, 5][(i % 4) as usize],
        path = [16, 32][(i % 2) as usize],
        hollow = (i % 5) * 5000,
    );
    let _ = write!(
        s,
        "<Scale><X>{sx}</X><Y>1</Y><Z>0.5</Z></Scale>\
         <SitTargetOrientation><X>0</X><Y>0</Y><Z>0</Z><W>1</W></SitTargetOrientation>\
         {stp}{stpll}<SitTargetOrientationLL><X>0</X><Y>0</Y><Z>0</Z><W>1</W></SitTargetOrientationLL>\
         <ParentID>0</ParentID><CreationDate>1795478400</CreationDate><Category>0</Category>\
         <SalePrice>10</SalePrice><ObjectSaleType>0</ObjectSaleType><OwnershipCost>0</OwnershipCost>\
         <GroupID><UUID>{zero}</UUID></GroupID><OwnerID><UUID>{owner}</UUID></OwnerID>\
         <LastOwnerID><UUID>{owner}</UUID></LastOwnerID><RezzerID><UUID>{owner}</UUID></RezzerID>\
         <BaseMask>2147483647</BaseMask><OwnerMask>2147483647</OwnerMask><GroupMask>0</GroupMask>\
         <EveryoneMask>0</EveryoneMask><NextOwnerMask>2147483647</NextOwnerMask><Flags>None</Flags>\
         <CollisionSound><UUID>{zero}</UUID></CollisionSound><CollisionSoundVolume>0</CollisionSoundVolume>\
         {ap}<TextureAnimation /><ParticleSystem /><PayPrice0>-2</PayPrice0><PayPrice1>-2</PayPrice1>\
         <PayPrice2>-2</PayPrice2><PayPrice3>-2</PayPrice3><PayPrice4>-2</PayPrice4><Buoyancy>0</Buoyancy>\
         {force}{torque}<VolumeDetectActive>false</VolumeDetectActive><PhysicsShapeType>0</PhysicsShapeType>\
         {ceo}{cao}<SoundID><UUID>{zero}</UUID></SoundID><SoundGain>0</SoundGain><SoundFlags>0</SoundFlags>\
         <SoundRadius>0</SoundRadius><SoundQueueing>false</SoundQueueing></SceneObjectPart>\
         <OtherParts /></SceneObjectGroup>",
        sx = 1.0 + (i % 3) as f32 * 0.5,
        stp = v0("SitTargetPosition"),
        stpll = v0("SitTargetPositionLL"),
        ap = v0("AttachedPos"),
        force = v0("Force"),
        torque = v0("Torque"),
        ceo = v0("CameraEyeOffset"),
        cao = v0("CameraAtOffset"),
    );
    s
}

/// A GNU tar entry (names here are all under 100 bytes).
fn tar_entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"15277143200\0");
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    h[257..265].copy_from_slice(b"ustar  \0");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// An OAR of `n` single-prim objects: (compressed, uncompressed tar length).
fn build_oar(n: u64) -> (Vec<u8>, usize) {
    let te = base64(&hex(TE_HEX));
    let mut tar = Vec::new();
    tar_entry(
        &mut tar,
        "archive.xml",
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<archive major_version=\"0\" minor_version=\"8\">\
          <creation_info><datetime>0</datetime><id>11111111-2222-3333-4444-555555555555</id>\
          </creation_info><assets_included>False</assets_included><region_info>\
          <is_megaregion>False</is_megaregion><size_in_meters>256,256</size_in_meters>\
          </region_info></archive>",
    );
    for i in 0..n {
        let xml = object_xml(i, &te);
        tar_entry(
            &mut tar,
            &format!("objects/object_{i}__{}.xml", uuid(i, 1)),
            xml.as_bytes(),
        );
    }
    tar.extend_from_slice(&[0; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("compresses");
    (gz.finish().expect("compresses"), tar.len())
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("oar_load");
    let limits = OarLimits::default();
    for n in [1_000u64, 10_000] {
        let (oar, tar_len) = build_oar(n);
        let check = read_oar(&oar[..], &limits).expect("the archive loads");
        assert_eq!(check.objects.len() as u64, n);
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        println!(
            "{n} objects: {} B compressed, {tar_len} B uncompressed ({:.1} kB of tar per object)",
            oar.len(),
            tar_len as f64 / n as f64 / 1000.0
        );
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("{n}_objects"), |b| {
            b.iter(|| read_oar(black_box(&oar[..]), &limits).expect("loads"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
