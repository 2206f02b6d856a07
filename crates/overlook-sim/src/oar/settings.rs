//! `archive.xml` (the control file) and `settings/<region>.xml` (RegionSettingsSerializer).

use overlook_protocol::terrain::Heightmap;
use overlook_protocol::types::Uuid;

use super::xml::{Node, parse_num, walk};

/// What the control file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Control {
    /// `archive/@major_version`, `archive/@minor_version`.
    pub version: Option<(u32, u32)>,
    /// The single region's `size_in_meters` (single-region archives).
    pub size: Option<(u32, u32)>,
    /// Multi-region archives (major version 1): each region's `dir` and size, in order.
    pub regions: Vec<(String, Option<(u32, u32)>)>,
}

/// Reads the control file. Unreadable sizes are left `None` with a line in `problems`.
pub(crate) fn parse_control(
    xml: &str,
    max_depth: usize,
    problems: &mut Vec<String>,
) -> Result<Control, String> {
    let mut control = Control::default();
    let mut in_region = false;
    walk(xml, max_depth, |node| {
        match node {
            Node::Start { path, tag } => match path.last().map(String::as_str) {
                Some("archive") if path.len() == 1 => {
                    let attr = |name: &str| -> Option<u32> {
                        tag.try_get_attribute(name)
                            .ok()
                            .flatten()
                            .and_then(|a| a.value.trim().parse().ok())
                    };
                    if let (Some(major), Some(minor)) =
                        (attr("major_version"), attr("minor_version"))
                    {
                        control.version = Some((major, minor));
                    }
                }
                Some("region") => {
                    in_region = true;
                    control.regions.push((String::new(), None));
                }
                _ => {}
            },
            Node::End { path, text } => match path.last().map(String::as_str) {
                Some("region") => in_region = false,
                Some("dir") if in_region => {
                    if let Some(r) = control.regions.last_mut() {
                        text.clone_into(&mut r.0);
                    }
                }
                Some("size_in_meters") => {
                    let size = parse_size(text);
                    if size.is_none() {
                        problems.push(format!(
                            "archive.xml: size_in_meters {text:?} is not a region size; ignored"
                        ));
                    }
                    match control.regions.last_mut() {
                        Some(r) if in_region => r.1 = size,
                        _ => control.size = size,
                    }
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    Ok(control)
}

/// `"x,y"` (OpenSim writes whole metres; `"256,256,0"` and `"256.0, 256.0"` are taken too) as a
/// size a region may have ([`Heightmap::valid_side`]: a multiple of 256 m).
pub(crate) fn parse_size(text: &str) -> Option<(u32, u32)> {
    let mut it = text.split(',').map(str::trim);
    let metres = |s: Option<&str>| -> Option<u32> {
        let v: f64 = s?.parse().ok()?;
        if !(16.0..=16384.0).contains(&v) || v.fract() != 0.0 {
            return None;
        }
        // Exact: a whole number in range.
        let v = format!("{v:.0}").parse::<u32>().ok()?;
        Heightmap::valid_side(v).then_some(v)
    };
    let x = metres(it.next())?;
    let y = metres(it.next())?;
    match it.next() {
        None => Some((x, y)),
        Some(z) if z.parse::<f64>().is_ok_and(|z| z == 0.0) => Some((x, y)),
        Some(_) => None,
    }
}

/// The parts of a region's settings (`settings/<region>.xml`) a viewer draws with. Fields the
/// file leaves out keep OpenSim's defaults ([`OarSettings::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OarSettings {
    /// `GroundTextures/Texture1..4`: the terrain textures from low to high ground (a nil id in
    /// the file is OpenSim's default texture, as OpenSim reads it).
    pub terrain_textures: [Uuid; 4],
    /// `GroundTextures/ElevationLow{SW,NW,SE,NE}`: where each corner starts blending, metres.
    pub elevation_low: [f32; 4],
    /// `GroundTextures/ElevationHigh{SW,NW,SE,NE}`: where each corner ends blending, metres.
    pub elevation_high: [f32; 4],
    /// `Terrain/WaterHeight`, metres.
    pub water_height: f32,
    /// `Terrain/TerrainRaiseLimit`, metres.
    pub terrain_raise_limit: f32,
    /// `Terrain/TerrainLowerLimit`, metres.
    pub terrain_lower_limit: f32,
    /// `General/MaturityRating` (0 PG, 1 mature, 2 adult).
    pub maturity: u32,
    /// `General/AgentLimit`.
    pub agent_limit: u32,
}

/// OpenSim's default terrain textures (`RegionSettings.DEFAULT_TERRAIN_TEXTURE_1..4`).
pub const DEFAULT_TERRAIN_TEXTURES: [Uuid; 4] = [
    Uuid([
        0xb8, 0xd3, 0x96, 0x5a, 0xad, 0x78, 0xbf, 0x43, 0x69, 0x9b, 0xbf, 0xf8, 0xec, 0xa6, 0xc9,
        0x75,
    ]),
    Uuid([
        0xab, 0xb7, 0x83, 0xe6, 0x3e, 0x93, 0x26, 0xc0, 0x24, 0x8a, 0x24, 0x76, 0x66, 0x85, 0x5d,
        0xa3,
    ]),
    Uuid([
        0x17, 0x9c, 0xda, 0xbd, 0x39, 0x8a, 0x9b, 0x6b, 0x13, 0x91, 0x4d, 0xc3, 0x33, 0xba, 0x32,
        0x1f,
    ]),
    Uuid([
        0xbe, 0xb1, 0x69, 0xc7, 0x11, 0xea, 0xff, 0xf2, 0xef, 0xe5, 0x0f, 0x24, 0xdc, 0x88, 0x1d,
        0xf2,
    ]),
];

impl Default for OarSettings {
    /// OpenSim's `RegionSettings` defaults.
    fn default() -> Self {
        OarSettings {
            terrain_textures: DEFAULT_TERRAIN_TEXTURES,
            elevation_low: [10.0; 4],
            elevation_high: [60.0; 4],
            water_height: 20.0,
            terrain_raise_limit: 100.0,
            terrain_lower_limit: -100.0,
            maturity: 0,
            agent_limit: 40,
        }
    }
}

/// Reads a settings file. A field that does not parse is an error (the whole file is then
/// reported and ignored by the caller).
pub(crate) fn parse_settings(xml: &str, max_depth: usize) -> Result<OarSettings, String> {
    let mut s = OarSettings::default();
    let mut root_ok = false;
    walk(xml, max_depth, |node| {
        let Node::End { path, text } = node else {
            return Ok(());
        };
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        let corner = |c: &str| match c {
            "SW" => Some(0usize),
            "NW" => Some(1),
            "SE" => Some(2),
            "NE" => Some(3),
            _ => None,
        };
        let float = |field: &str| -> Result<f32, String> {
            let v: f32 = parse_num(field, text)?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("{field}: {text:?} is not finite"))
            }
        };
        match names.as_slice() {
            ["RegionSettings"] => root_ok = true,
            ["RegionSettings", "GroundTextures", field] => {
                if let Some(n) = field.strip_prefix("Texture") {
                    let slot = n
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|i| s.terrain_textures.get_mut(i));
                    if let (Some(slot), Some(default)) = (
                        slot,
                        n.parse::<usize>()
                            .ok()
                            .and_then(|n| n.checked_sub(1))
                            .and_then(|i| DEFAULT_TERRAIN_TEXTURES.get(i)),
                    ) {
                        let id: Uuid = text
                            .parse()
                            .map_err(|_| format!("{field}: {text:?} is not a UUID"))?;
                        *slot = if id.is_nil() { *default } else { id };
                    }
                } else if let Some(c) = field.strip_prefix("ElevationLow").and_then(corner) {
                    if let Some(slot) = s.elevation_low.get_mut(c) {
                        *slot = float(field)?;
                    }
                } else if let Some(c) = field.strip_prefix("ElevationHigh").and_then(corner)
                    && let Some(slot) = s.elevation_high.get_mut(c)
                {
                    *slot = float(field)?;
                }
            }
            ["RegionSettings", "Terrain", "WaterHeight"] => s.water_height = float("WaterHeight")?,
            ["RegionSettings", "Terrain", "TerrainRaiseLimit"] => {
                s.terrain_raise_limit = float("TerrainRaiseLimit")?;
            }
            ["RegionSettings", "Terrain", "TerrainLowerLimit"] => {
                s.terrain_lower_limit = float("TerrainLowerLimit")?;
            }
            ["RegionSettings", "General", "MaturityRating"] => {
                s.maturity = parse_num("MaturityRating", text)?;
            }
            ["RegionSettings", "General", "AgentLimit"] => {
                s.agent_limit = parse_num("AgentLimit", text)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    if root_ok {
        Ok(s)
    } else {
        Err("the root element is not RegionSettings".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256,256"), Some((256, 256)));
        assert_eq!(parse_size(" 512 , 768 "), Some((512, 768)));
        assert_eq!(parse_size("256,256,0"), Some((256, 256)));
        assert_eq!(parse_size("256.0,256"), Some((256, 256)));
        assert_eq!(parse_size("256"), None);
        assert_eq!(parse_size("250,256"), None);
        assert_eq!(parse_size("272,256"), None);
        assert_eq!(parse_size("0,0"), None);
        assert_eq!(parse_size("1e9,256"), None);
        assert_eq!(parse_size("NaN,256"), None);
    }

    #[test]
    fn default_textures_match_opensim() {
        assert_eq!(
            DEFAULT_TERRAIN_TEXTURES[0].to_string(),
            "b8d3965a-ad78-bf43-699b-bff8eca6c975"
        );
        assert_eq!(
            DEFAULT_TERRAIN_TEXTURES[3].to_string(),
            "beb169c7-11ea-fff2-efe5-0f24dc881df2"
        );
    }
}
