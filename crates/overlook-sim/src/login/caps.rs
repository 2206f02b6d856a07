//! The seed capability and the few capabilities it hands out (PROTOCOL §1.5).
//!
//! Each successful login issues a seed at `http://host:port/CAPS/<uuid>0000/` (OpenSim's
//! `CapsUtil.GetCapsSeedPath`). The seed follows OpenSim's `BunchOfCaps.SeedCapRequest`: only a
//! `POST` with `Content-Type: application/llsd+xml` is served (anything else: **404**; the
//! media type is compared without parameters or letter case, where OpenSim compares the header
//! exactly), the body
//! must be an LLSD array of names (else **400**, and objects stay withheld); the answer is an LLSD
//! map from each requested name this region supports to its URL, and the region is told
//! ([`crate::RegionGate::seeds_granted`]) so it may send the scene. Unknown seeds, and seeds
//! of agents no longer present, are 404. One deviation: OpenSim labels the answer
//! `text/html;charset=UTF-8` (see the captures' `meta.json`); this service says
//! `application/llsd+xml`, which is what the body is.
//!
//! The capabilities themselves are deliberately minimal: `EventQueueGet` holds the poll and then
//! answers 502 (OpenSim's and Second Life's "no events" reply, so viewers simply poll again;
//! an agent holds at most [`super::EVENT_POLLS_PER_AGENT`] polls, a newer one ends the oldest),
//! `SimulatorFeatures` a small map (meshes shown, not uploaded), the agent-information caps an
//! empty map, and `GetTexture` / `ViewerAsset` / `GetMesh` / `GetMesh2` serve the region's
//! textures and meshes (module `assets`). URLs
//! have OpenSim's shapes: `/CE/<uuid>` for the event queue, `/<uuid>` for the others; each is
//! drawn from the OS CSPRNG per session, and is the capability's only credential.

use std::collections::HashMap;

use overlook_protocol::types::Uuid;

use super::reply::escape;

/// The capabilities this region grants when asked for them.
pub const SUPPORTED_CAPS: [&str; 8] = [
    "EventQueueGet",
    "SimulatorFeatures",
    "UpdateAgentInformation",
    "UpdateAgentLanguage",
    "GetTexture",
    "ViewerAsset",
    "GetMesh",
    "GetMesh2",
];

/// What a capability URL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapKind {
    /// `EventQueueGet`: held, then 502 (no events).
    EventQueueGet,
    /// `SimulatorFeatures`: a small LLSD map.
    SimulatorFeatures,
    /// `UpdateAgentInformation` / `UpdateAgentLanguage`: an empty LLSD map.
    Acknowledge,
    /// `GetTexture` / `ViewerAsset` / `GetMesh` / `GetMesh2`: `GET <cap>/?texture_id=<uuid>`
    /// or `?mesh_id=<uuid>` (see module `assets`).
    Assets,
}

impl CapKind {
    /// The kind behind a supported capability name.
    pub fn for_name(name: &str) -> Option<Self> {
        match name {
            "EventQueueGet" => Some(CapKind::EventQueueGet),
            "SimulatorFeatures" => Some(CapKind::SimulatorFeatures),
            "UpdateAgentInformation" | "UpdateAgentLanguage" => Some(CapKind::Acknowledge),
            "GetTexture" | "ViewerAsset" | "GetMesh" | "GetMesh2" => Some(CapKind::Assets),
            _ => None,
        }
    }
}

/// One issued seed.
#[derive(Debug, Clone)]
struct Seed {
    agent: Uuid,
    /// Capability name → path, filled on the first grant and reused after.
    granted: Vec<(String, String)>,
}

/// The issued seeds and capability paths, by path.
#[derive(Debug, Default)]
pub(super) struct SeedTable {
    /// Seed path segment (`<uuid>0000`) → seed.
    seeds: HashMap<String, Seed>,
    /// Capability path (`/CE/<uuid>`, `/<uuid>`) → owner and kind.
    caps: HashMap<String, (Uuid, CapKind)>,
}

/// The path segment of a seed id: `<uuid>0000`, as OpenSim writes it.
pub(super) fn seed_segment(seed: Uuid) -> String {
    format!("{seed}0000")
}

impl SeedTable {
    /// Issues `seed` to `agent`, forgetting the agent's older seeds and capabilities.
    pub(super) fn issue(&mut self, seed: Uuid, agent: Uuid) {
        self.forget_agent(agent);
        self.seeds.insert(
            seed_segment(seed),
            Seed {
                agent,
                granted: Vec::new(),
            },
        );
    }

    /// Forgets every seed and capability of `agent`.
    pub(super) fn forget_agent(&mut self, agent: Uuid) {
        self.seeds.retain(|_, seed| seed.agent != agent);
        self.caps.retain(|_, (owner, _)| *owner != agent);
    }

    /// The agent a seed segment was issued to.
    pub(super) fn agent_of(&self, segment: &str) -> Option<Uuid> {
        self.seeds.get(segment).map(|seed| seed.agent)
    }

    /// The requested `names` this region supports, each with its path (created on first use
    /// from a `fresh` id, the same on later requests of the same seed), in request order,
    /// without repeats.
    ///
    /// # Errors
    /// The first error of `fresh`; capabilities granted before it stay granted.
    pub(super) fn grant<E>(
        &mut self,
        segment: &str,
        names: &[String],
        fresh: impl FnMut() -> Result<Uuid, E>,
    ) -> Result<Vec<(String, String)>, E> {
        let mut fresh = fresh;
        let Some(seed) = self.seeds.get_mut(segment) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for name in names {
            let Some(kind) = CapKind::for_name(name) else {
                continue;
            };
            if out.iter().any(|(n, _)| n == name) {
                continue;
            }
            let path = match seed.granted.iter().find(|(n, _)| n == name) {
                Some((_, path)) => path.clone(),
                None => {
                    let path = match kind {
                        CapKind::EventQueueGet => format!("/CE/{}", fresh()?),
                        _ => format!("/{}", fresh()?),
                    };
                    seed.granted.push((name.clone(), path.clone()));
                    self.caps.insert(path.clone(), (seed.agent, kind));
                    path
                }
            };
            out.push((name.clone(), path));
        }
        Ok(out)
    }

    /// The capability at `path` (a trailing `/` is ignored).
    pub(super) fn cap(&self, path: &str) -> Option<(Uuid, CapKind)> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        self.caps.get(path).copied()
    }
}

/// The seed segment of a request path `/CAPS/<segment>/` (the trailing `/` optional).
pub(super) fn seed_path_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/CAPS/")?;
    let segment = rest.strip_suffix('/').unwrap_or(rest);
    (!segment.is_empty() && !segment.contains('/')).then_some(segment)
}

/// True when a `Content-Type` header names `application/llsd+xml` (parameters such as
/// `charset` and letter case are ignored).
pub(super) fn is_llsd_xml(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/llsd+xml"))
}

/// The `SimulatorFeatures` answer: no mesh, no materials, and the grid's name in OpenSim's
/// `OpenSimExtras`.
pub(super) fn simulator_features_xml(grid_name: &str) -> String {
    format!(
        "<llsd><map><key>MeshRezEnabled</key><boolean>1</boolean>\
         <key>MeshUploadEnabled</key><boolean>0</boolean>\
         <key>MeshXferEnabled</key><boolean>1</boolean>\
         <key>PhysicsMaterialsEnabled</key><boolean>0</boolean>\
         <key>OpenSimExtras</key><map><key>GridName</key><string>{}</string>\
         <key>ExportSupported</key><boolean>0</boolean></map></map></llsd>",
        escape(grid_name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> Result<Uuid, &'static str> {
        let mut n = 0u8;
        move || {
            n += 1;
            Ok(Uuid([n; 16]))
        }
    }

    #[test]
    fn seeds_grant_supported_names_once_and_stably() {
        let mut table = SeedTable::default();
        let (agent, seed) = (Uuid([9; 16]), Uuid([1; 16]));
        table.issue(seed, agent);
        let segment = seed_segment(seed);
        assert!(segment.ends_with("0000") && segment.len() == 40);
        assert_eq!(table.agent_of(&segment), Some(agent));
        let names: Vec<String> = [
            "GetDisplayNames",
            "EventQueueGet",
            "SimulatorFeatures",
            "EventQueueGet",
        ]
        .map(String::from)
        .to_vec();
        let mut fresh = counter();
        let first = table.grant(&segment, &names, &mut fresh).unwrap();
        assert_eq!(first.len(), 2);
        assert!(first[0].1.starts_with("/CE/"));
        assert_eq!(
            table.cap(&first[0].1),
            Some((agent, CapKind::EventQueueGet))
        );
        assert_eq!(
            table.cap(&format!("{}/", first[1].1)),
            Some((agent, CapKind::SimulatorFeatures))
        );
        assert_eq!(table.grant(&segment, &names, &mut fresh).unwrap(), first);
        assert!(table.grant("nope", &names, &mut fresh).unwrap().is_empty());
        // Ids that cannot be drawn grant nothing new, and say why.
        let mut other = SeedTable::default();
        other.issue(seed, agent);
        assert_eq!(
            other.grant(&segment, &names, || Err::<Uuid, _>("no entropy")),
            Err("no entropy")
        );
        assert_eq!(other.cap(&first[0].1), None);
        // A new login of the agent replaces the seed and drops its capabilities.
        table.issue(Uuid([2; 16]), agent);
        assert_eq!(table.agent_of(&segment), None);
        assert_eq!(table.cap(&first[0].1), None);
        table.forget_agent(agent);
        assert_eq!(table.agent_of(&seed_segment(Uuid([2; 16]))), None);
        assert_eq!(table.cap("/"), None);
    }

    #[test]
    fn paths_and_content_types() {
        assert_eq!(seed_path_segment("/CAPS/abc0000/"), Some("abc0000"));
        assert_eq!(seed_path_segment("/CAPS/abc0000"), Some("abc0000"));
        assert_eq!(seed_path_segment("/CAPS/"), None);
        assert_eq!(seed_path_segment("/CAPS/a/b/"), None);
        assert_eq!(seed_path_segment("/caps/a/"), None);
        assert!(is_llsd_xml(Some("application/llsd+xml")));
        assert!(is_llsd_xml(Some("Application/LLSD+XML; charset=utf-8")));
        assert!(!is_llsd_xml(Some("text/xml")));
        assert!(!is_llsd_xml(Some("application/llsd+xml2")));
        assert!(!is_llsd_xml(None));
        assert!(simulator_features_xml("A&B").contains("<string>A&amp;B</string>"));
        assert_eq!(CapKind::for_name("GetDisplayNames"), None);
        assert_eq!(CapKind::for_name("GetMesh2"), Some(CapKind::Assets));
        assert_eq!(CapKind::for_name("GetTexture"), Some(CapKind::Assets));
        assert_eq!(CapKind::for_name("ViewerAsset"), Some(CapKind::Assets));
        assert!(
            SUPPORTED_CAPS
                .iter()
                .all(|n| CapKind::for_name(n).is_some())
        );
    }
}
