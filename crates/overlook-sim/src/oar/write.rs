//! Writes a region archive that OpenSim's `load oar` reads (and [`super::read_oar`] reads back):
//! `archive.xml` (version 0.8, the region's size), one `objects/<uuid>.xml` per linkset in
//! OpenSim's "xml2" form (`SceneObjectSerializer.SOGToXml2`: the root `SceneObjectPart`, its
//! children under `OtherParts`), `assets/<uuid>_texture.jp2` and `_mesh.llmesh`, and, when given,
//! `terrains/<name>.r32` and `settings/<name>.xml`. `overlook sim --save-oar` uses it to put the
//! embedded region's scene and assets into a real OpenSim (`load oar --merge`).
//!
//! The tar is plain ustar (every name here is under 100 bytes), gzip-compressed.

use std::fmt::Write as _;
use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;

use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::{Quat, Uuid, Vec3};

use crate::scene::SceneObject;
use crate::store::AssetKind;

/// What goes into an archive.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveContent<'a> {
    /// The region's name (the terrain's and settings' file names).
    pub region_name: &'a str,
    /// Its size in metres.
    pub size: (u32, u32),
    /// Its terrain, if the archive is to carry it.
    pub terrain: Option<&'a Heightmap>,
    /// Terrain textures and water height, if the archive is to carry settings.
    pub settings: Option<([Uuid; 4], f32)>,
    /// Every part, roots before their children (children name their root in `parent_id`, with
    /// root-relative positions and rotations), as the region streams them.
    pub objects: &'a [SceneObject],
    /// Textures and meshes to carry.
    pub assets: &'a [(Uuid, AssetKind, &'a [u8])],
    /// Owner and creator of every object (`load oar` gives objects of unknown owners to the
    /// estate owner).
    pub owner: Uuid,
}

/// Writes `content` to `out` as a gzip-compressed OAR.
///
/// # Errors
/// The writer's errors.
pub fn write_oar(out: impl Write, content: &ArchiveContent<'_>) -> io::Result<()> {
    let mut tar = GzEncoder::new(out, Compression::default());
    let (sx, sy) = content.size;
    let control = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<archive major_version=\"0\" \
         minor_version=\"8\">\n  <creation_info>\n    <datetime>0</datetime>\n    \
         <id>{}</id>\n  </creation_info>\n  <assets_included>{}</assets_included>\n  \
         <region_info>\n    <is_megaregion>False</is_megaregion>\n    \
         <size_in_meters>{sx},{sy}</size_in_meters>\n  </region_info>\n</archive>\n",
        Uuid::NIL,
        if content.assets.is_empty() {
            "False"
        } else {
            "True"
        }
    );
    entry(&mut tar, "archive.xml", control.as_bytes())?;
    let name = file_name(content.region_name);
    if let Some(map) = content.terrain {
        let r32: Vec<u8> = map.heights().iter().flat_map(|h| h.to_le_bytes()).collect();
        entry(&mut tar, &format!("terrains/{name}.r32"), &r32)?;
    }
    if let Some((textures, water)) = content.settings {
        // OpenSim's `RegionSettingsSerializer` reads its sections in this order, each present.
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-16\"?><RegionSettings><General>\
             <AllowDamage>False</AllowDamage><MaturityRating>0</MaturityRating>\
             <AgentLimit>40</AgentLimit></General><GroundTextures>",
        );
        for (i, t) in textures.iter().enumerate() {
            let _ = write!(xml, "<Texture{n}>{t}</Texture{n}>", n = i + 1);
        }
        for corner in ["SW", "NW", "SE", "NE"] {
            let _ = write!(xml, "<ElevationLow{corner}>10</ElevationLow{corner}>");
        }
        for corner in ["SW", "NW", "SE", "NE"] {
            let _ = write!(xml, "<ElevationHigh{corner}>60</ElevationHigh{corner}>");
        }
        let _ = write!(
            xml,
            "</GroundTextures><Terrain><WaterHeight>{water}</WaterHeight>\
             <TerrainRaiseLimit>100</TerrainRaiseLimit><TerrainLowerLimit>-100</TerrainLowerLimit>\
             <UseEstateSun>True</UseEstateSun><FixedSun>False</FixedSun>\
             <SunPosition>0</SunPosition></Terrain></RegionSettings>"
        );
        // Indented as OpenSim writes it: its reader steps over the whitespace between elements
        // and loses its place without it.
        let xml = xml.replace("><", ">\n<");
        entry(&mut tar, &format!("settings/{name}.xml"), xml.as_bytes())?;
    }
    for (root, group) in linksets(content.objects) {
        let mut xml = String::from("<SceneObjectGroup>");
        part(
            &mut xml,
            root,
            root,
            usize::from(!group.is_empty()),
            content.owner,
        );
        xml.push_str("<OtherParts>");
        for (n, child) in group.iter().enumerate() {
            part(&mut xml, child, root, n + 2, content.owner);
        }
        xml.push_str("</OtherParts></SceneObjectGroup>");
        entry(
            &mut tar,
            &format!("objects/{}.xml", root.full_id),
            xml.as_bytes(),
        )?;
    }
    for (id, kind, bytes) in content.assets {
        let suffix = match kind {
            AssetKind::Texture => "_texture.jp2",
            AssetKind::Mesh => "_mesh.llmesh",
        };
        entry(&mut tar, &format!("assets/{id}{suffix}"), bytes)?;
    }
    // The end of the archive: two empty blocks.
    tar.write_all(&[0; 1024])?;
    tar.finish()?.flush()
}

/// Each root with its children, in order.
fn linksets(objects: &[SceneObject]) -> Vec<(&SceneObject, Vec<&SceneObject>)> {
    objects
        .iter()
        .filter(|o| o.parent_id == 0)
        .map(|root| {
            let children = objects
                .iter()
                .filter(|o| o.parent_id == root.local_id)
                .collect();
            (root, children)
        })
        .collect()
}

/// A name safe as a file name.
fn file_name(region: &str) -> String {
    let name: String = region
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    if name.is_empty() {
        "region".to_owned()
    } else {
        name
    }
}

/// One tar entry: a ustar header, the data, padding to 512 bytes.
fn entry(out: &mut impl Write, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, bytes: &[u8]| {
        if let Some(slot) = h.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    };
    if name.len() >= 100 {
        return Err(io::Error::other(format!(
            "{name}: a name of 100 bytes or more"
        )));
    }
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, b"0000644\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{:011o}\0", data.len()).as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    put(&mut h, 156, b"0");
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    out.write_all(&h)?;
    out.write_all(data)?;
    let pad = (512 - data.len() % 512) % 512;
    out.write_all(&vec![0u8; pad])
}

fn vec3(xml: &mut String, name: &str, v: Vec3) {
    let _ = write!(
        xml,
        "<{name}><X>{}</X><Y>{}</Y><Z>{}</Z></{name}>",
        v.x, v.y, v.z
    );
}

fn quat(xml: &mut String, name: &str, q: Quat) {
    let _ = write!(
        xml,
        "<{name}><X>{}</X><Y>{}</Y><Z>{}</Z><W>{}</W></{name}>",
        q.x, q.y, q.z, q.w
    );
}

fn el(xml: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(xml, "<{name}>{value}</{name}>");
}

fn uid(xml: &mut String, name: &str, id: Uuid) {
    let _ = write!(xml, "<{name}><UUID>{id}</UUID></{name}>");
}

/// XML text with `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One `SceneObjectPart`: `link` 0 for a lone root, 1 for a root with children, 2… for them.
fn part(xml: &mut String, p: &SceneObject, root: &SceneObject, link: usize, owner: Uuid) {
    use overlook_protocol::message::object::ExtraParams;
    let is_root = core::ptr::eq(p, root);
    xml.push_str(
        "<SceneObjectPart xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">",
    );
    el(xml, "AllowedDrop", "false");
    uid(xml, "CreatorID", owner);
    uid(xml, "FolderID", p.full_id);
    el(xml, "InventorySerial", 0);
    uid(xml, "UUID", p.full_id);
    el(xml, "LocalId", p.local_id);
    el(xml, "Name", escape(&p.name));
    el(xml, "Material", p.material);
    el(xml, "PassTouches", "false");
    el(xml, "RegionHandle", 0);
    el(xml, "ScriptAccessPin", 0);
    vec3(xml, "GroupPosition", root.position);
    vec3(
        xml,
        "OffsetPosition",
        if is_root { Vec3::ZERO } else { p.position },
    );
    quat(xml, "RotationOffset", p.rotation);
    for name in ["Velocity", "AngularVelocity", "Acceleration"] {
        vec3(xml, name, Vec3::ZERO);
    }
    el(xml, "Description", "");
    xml.push_str("<Color><R>0</R><G>0</G><B>0</B><A>0</A></Color>");
    el(xml, "Text", "");
    el(xml, "SitName", "");
    el(xml, "TouchName", "");
    el(xml, "LinkNum", link);
    el(xml, "ClickAction", 0);
    // The shape.
    let s = &p.shape;
    let sculpt = ExtraParams::parse(&p.extra_params)
        .ok()
        .and_then(|e| e.sculpt().copied());
    let extra = if p.extra_params.is_empty() {
        vec![0]
    } else {
        p.extra_params.clone()
    };
    xml.push_str("<Shape>");
    el(xml, "ProfileCurve", s.profile_curve);
    el(xml, "TextureEntry", base64(&p.texture_entry));
    el(xml, "ExtraParams", base64(&extra));
    el(xml, "PathBegin", s.path_begin);
    el(xml, "PathCurve", s.path_curve);
    el(xml, "PathEnd", s.path_end);
    el(xml, "PathRadiusOffset", s.path_radius_offset);
    el(xml, "PathRevolutions", s.path_revolutions);
    el(xml, "PathScaleX", s.path_scale_x);
    el(xml, "PathScaleY", s.path_scale_y);
    el(xml, "PathShearX", s.path_shear_x);
    el(xml, "PathShearY", s.path_shear_y);
    el(xml, "PathSkew", s.path_skew);
    el(xml, "PathTaperX", s.path_taper_x);
    el(xml, "PathTaperY", s.path_taper_y);
    el(xml, "PathTwist", s.path_twist);
    el(xml, "PathTwistBegin", s.path_twist_begin);
    el(xml, "PCode", u8::from(p.pcode));
    el(xml, "ProfileBegin", s.profile_begin);
    el(xml, "ProfileEnd", s.profile_end);
    el(xml, "ProfileHollow", s.profile_hollow);
    el(xml, "State", p.state);
    el(xml, "LastAttachPoint", 0);
    uid(
        xml,
        "SculptTexture",
        sculpt.map_or(Uuid::NIL, |s| s.texture),
    );
    el(xml, "SculptType", sculpt.map_or(0, |s| s.kind_byte));
    el(xml, "FlexiEntry", "false");
    el(xml, "LightEntry", "false");
    el(
        xml,
        "SculptEntry",
        if sculpt.is_some() { "true" } else { "false" },
    );
    xml.push_str("</Shape>");
    vec3(xml, "Scale", p.scale);
    el(xml, "ParentID", if is_root { 0 } else { root.local_id });
    el(xml, "CreationDate", 0);
    el(xml, "Category", 0);
    el(xml, "SalePrice", 10);
    el(xml, "ObjectSaleType", 0);
    el(xml, "OwnershipCost", 0);
    uid(xml, "GroupID", Uuid::NIL);
    uid(xml, "OwnerID", owner);
    uid(xml, "LastOwnerID", owner);
    el(xml, "BaseMask", 2_147_483_647);
    el(xml, "OwnerMask", 2_147_483_647);
    el(xml, "GroupMask", 0);
    el(xml, "EveryoneMask", 0);
    el(xml, "NextOwnerMask", 2_147_483_647);
    el(xml, "Flags", "None");
    xml.push_str("</SceneObjectPart>");
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let at = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
                out.push(char::from(ABC.get(at).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}
