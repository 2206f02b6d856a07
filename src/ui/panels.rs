//! The egui panels, drawn each frame by [`draw_ui`].

use bevy::camera::Viewport;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, egui};

use super::{ChatLog, FrameRate, LoginForm, PacketLog, UiPanels};
use crate::assets::{RegionTextures, TextureState};
use crate::camera::ChaseCamera;
use crate::net::plugin::{Outgoing, Session, SessionState};
use crate::net::{Direction, NetCommand};
use crate::objects::plugin::{AvatarName, ObjectIndex};
use crate::scene::{RegionInfo, SceneCounts};
use crate::terrain::Terrain;
use overlook_protocol::circuit::Phase;
use overlook_protocol::types::Uuid;

/// Everything the panels read and write.
#[derive(bevy::ecs::system::SystemParam)]
pub struct UiState<'w, 's> {
    cameras: Query<'w, 's, (&'static mut Camera, &'static GlobalTransform), With<ChaseCamera>>,
    window: Query<'w, 's, &'static Window, With<PrimaryWindow>>,
    names: Query<'w, 's, (&'static AvatarName, &'static GlobalTransform)>,
    session: ResMut<'w, Session>,
    region: Res<'w, RegionInfo>,
    counts: Res<'w, SceneCounts>,
    form: ResMut<'w, LoginForm>,
    chat: ResMut<'w, ChatLog>,
    packets: ResMut<'w, PacketLog>,
    fps: Res<'w, FrameRate>,
    panels: ResMut<'w, UiPanels>,
    outgoing: MessageWriter<'w, Outgoing>,
    objects: Option<Res<'w, ObjectIndex>>,
    terrain: Option<Res<'w, Terrain>>,
    textures: Option<Res<'w, RegionTextures>>,
    shapes: Option<Res<'w, crate::shapes::ShapeAssets>>,
    shaped: Option<Res<'w, crate::objects::plugin::ShapeCounts>>,
}

/// What the region sent that could not be real, counted: objects with an impossible place,
/// rotation or size (not drawn), objects in parent cycles (shown as roots), terrain patches
/// with impossible heights, and ignored region values (an impossible `AgentMovementComplete`
/// or water height). `None` when there is nothing to say.
pub fn problem_summary(
    invalid_objects: usize,
    cycles: usize,
    impossible_patches: usize,
    region_values: usize,
) -> Option<String> {
    let parts: Vec<String> = [
        (invalid_objects, "impossible objects"),
        (cycles, "parent cycles"),
        (impossible_patches, "impossible terrain patches"),
        (region_values, "impossible region values"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The status bar's sculpt and mesh entry: `meshes F/N (K failed), shaped D/T`, or `None` when
/// the region has neither.
pub fn shapes_label(
    fetched: usize,
    referenced: usize,
    failed: usize,
    counts: crate::objects::plugin::ShapeCounts,
) -> Option<String> {
    let drawn = counts.sculpts_drawn + counts.meshes_drawn;
    let total = drawn + counts.sculpts_boxed + counts.meshes_boxed;
    if referenced == 0 && total == 0 {
        return None;
    }
    let mut label = format!("meshes {fetched}/{referenced}");
    if failed > 0 {
        label.push_str(&format!(" ({failed} failed)"));
    }
    label.push_str(&format!(", shaped {drawn}/{total}"));
    Some(label)
}

impl UiState<'_, '_> {
    fn shapes_label(&self) -> Option<String> {
        let shapes = self.shapes.as_deref()?;
        shapes_label(
            shapes.meshes_fetched(),
            shapes.meshes.len(),
            shapes.mesh_failures().len(),
            self.shaped.as_deref().copied().unwrap_or_default(),
        )
    }

    fn problem_summary(&self) -> Option<String> {
        problem_summary(
            self.objects.as_ref().map_or(0, |o| o.invalid_count()),
            self.objects.as_ref().map_or(0, |o| o.cycles.len()),
            self.terrain.as_ref().map_or(0, |t| t.impossible.len()),
            self.region.problems.len(),
        )
    }

    /// The newest problem lines (terrain, objects, region), newest last.
    fn problem_lines(&self) -> Vec<&str> {
        let mut lines: Vec<&str> = Vec::new();
        if let Some(t) = &self.terrain {
            lines.extend(t.problems.iter().map(String::as_str));
        }
        if let Some(o) = &self.objects {
            lines.extend(o.problems.iter().map(String::as_str));
        }
        lines.extend(self.region.problems.iter().map(String::as_str));
        lines
    }
}

/// Draws the status bar, the side panel and, when not connected, the login dialog.
pub fn draw_ui(mut contexts: EguiContexts, mut ui: UiState) -> Result {
    let ctx = contexts.ctx_mut()?;
    // Panels are laid out inside a root Ui covering the viewport (egui 0.36).
    let mut root = egui::Ui::new(
        ctx.clone(),
        "viewport".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    name_labels(ctx, &ui);
    status_bar(&mut root, &mut ui);
    if ui.panels.side {
        side_panel(&mut root, &mut ui);
    }
    fit_camera_to(
        &mut ui,
        root.available_rect_before_wrap(),
        ctx.pixels_per_point(),
    );
    if !matches!(
        ui.session.state,
        SessionState::Connected | SessionState::LoggingIn { .. }
    ) {
        login_dialog(ctx, &mut ui);
    }
    Ok(())
}

/// The 3D view's viewport: the part of the window the panels leave free (`free`, in egui
/// points), in physical pixels inside the window, or `None` (the whole window) when that part is
/// empty.
pub fn free_viewport(free: egui::Rect, pixels_per_point: f32, window: UVec2) -> Option<Viewport> {
    // Float → pixel: rounded and clamped to the window, so the cast cannot truncate or wrap.
    #[allow(
        clippy::as_conversions,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let px = |v: f32, max: u32| (v * pixels_per_point).round().clamp(0.0, max as f32) as u32;
    let min = UVec2::new(px(free.min.x, window.x), px(free.min.y, window.y));
    let max = UVec2::new(px(free.max.x, window.x), px(free.max.y, window.y));
    let size = max.saturating_sub(min);
    (size.x > 0 && size.y > 0).then_some(Viewport {
        physical_position: min,
        physical_size: size,
        ..default()
    })
}

/// Renders the 3D view only where the panels leave the window free, so the avatar sits in the
/// middle of what is visible and no pixel is shaded under a panel.
fn fit_camera_to(ui: &mut UiState, free: egui::Rect, pixels_per_point: f32) {
    let Some(window) = ui.window.iter().next() else {
        return;
    };
    let viewport = free_viewport(free, pixels_per_point, window.physical_size());
    for (mut camera, _) in &mut ui.cameras {
        let same = match (&camera.viewport, &viewport) {
            (Some(a), Some(b)) => {
                a.physical_position == b.physical_position && a.physical_size == b.physical_size
            }
            (None, None) => true,
            _ => false,
        };
        if !same {
            camera.viewport = viewport.clone();
        }
    }
}

/// Avatar names above their heads, drawn behind the panels.
fn name_labels(ctx: &egui::Context, ui: &UiState) {
    let Some((camera, eye)) = ui.cameras.iter().next() else {
        return;
    };
    // `world_to_viewport` counts from the viewport's corner.
    let corner = camera.logical_viewport_rect().map_or(Vec2::ZERO, |r| r.min);
    let painter = ctx.layer_painter(egui::LayerId::background());
    for (AvatarName(name), at) in &ui.names {
        let head = at.translation() + Vec3::Y * 1.15;
        if let Ok(p) = camera.world_to_viewport(eye, head) {
            painter.text(
                egui::pos2(p.x + corner.x, p.y + corner.y),
                egui::Align2::CENTER_BOTTOM,
                name,
                egui::FontId::proportional(14.0),
                egui::Color32::WHITE,
            );
        }
    }
}

fn latest_phase(session: &Session) -> &'static str {
    Phase::ALL
        .iter()
        .rev()
        .find(|p| session.reached(**p))
        .map_or("—", |p| p.id())
}

fn status_bar(root: &mut egui::Ui, ui: &mut UiState) {
    egui::Panel::bottom("status").show(root, |bar| {
        bar.horizontal_wrapped(|bar| {
            let state = match &ui.session.state {
                SessionState::Idle => "not connected".to_owned(),
                SessionState::LoggingIn { uri } => format!("logging in to {uri}"),
                SessionState::Connected => format!("phase {}", latest_phase(&ui.session)),
                SessionState::Failed(why) => format!("login failed: {why}"),
                SessionState::Disconnected(why) => format!("disconnected: {why}"),
            };
            let region = if ui.region.name.is_empty() {
                "—"
            } else {
                ui.region.name.as_str()
            };
            let s = ui.session.stats;
            let rtt = s.rtt.map_or_else(
                || "—".to_owned(),
                |r| format!("{:.1} ms", r.as_secs_f64() * 1000.0),
            );
            bar.label(format!("Region {region}"));
            bar.separator();
            bar.label(state);
            bar.separator();
            bar.label(format!("RTT {rtt}"));
            bar.separator();
            bar.label(format!(
                "packets in {} / out {} / resent {} / lost {}",
                s.packets_in, s.packets_out, s.reliable.resent, s.lost_in
            ));
            bar.separator();
            bar.label(format!(
                "terrain {}/{}",
                ui.counts.patches_received, ui.counts.patches_total
            ));
            bar.separator();
            bar.label(format!("objects {}", ui.counts.objects));
            bar.separator();
            if let Some(t) = ui.textures.as_ref().filter(|t| !t.referenced.is_empty()) {
                let failed = t.failures().len();
                let label = format!("textures {}/{}", t.fetched(), t.referenced.len());
                if failed > 0 {
                    bar.label(format!("{label} ({failed} failed)"))
                        .on_hover_text("see the log for which and why");
                } else {
                    bar.label(label);
                }
                bar.separator();
            }
            if let Some(label) = ui.shapes_label() {
                bar.label(label).on_hover_text(
                    "mesh assets fetched / named; sculpties and mesh objects drawn in their \
                     own shape (the rest stand as boxes until their asset arrives)",
                );
                bar.separator();
            }
            if let Some(problems) = ui.problem_summary() {
                bar.colored_label(
                    egui::Color32::from_rgb(230, 80, 60),
                    format!("⚠ {problems}"),
                )
                .on_hover_text("impossible data the region sent: not drawn, see Problems");
                bar.separator();
            }
            bar.label(format!("{:.0} fps", ui.fps.0));
            bar.separator();
            let label = if ui.panels.side {
                "hide panel"
            } else {
                "show panel"
            };
            if bar.small_button(label).clicked() {
                ui.panels.side = !ui.panels.side;
            }
        });
    });
}

fn side_panel(root: &mut egui::Ui, ui: &mut UiState) {
    egui::Panel::right("side")
        .default_size(360.0)
        .show(root, |panel| {
            egui::ScrollArea::vertical().show(panel, |panel| {
                egui::CollapsingHeader::new("Connection timeline")
                    .default_open(true)
                    .show(panel, |p| timeline(p, &ui.session));
                egui::CollapsingHeader::new("Region")
                    .default_open(true)
                    .show(panel, |p| region_info(p, &ui.region, &ui.session));
                if let Some(summary) = ui.problem_summary() {
                    egui::CollapsingHeader::new("Problems")
                        .default_open(true)
                        .show(panel, |p| {
                            p.label(summary);
                            for line in ui.problem_lines().iter().rev().take(50) {
                                p.weak(*line);
                            }
                        });
                }
                egui::CollapsingHeader::new("Chat")
                    .default_open(true)
                    .show(panel, |p| chat(p, ui));
                egui::CollapsingHeader::new("Packet inspector")
                    .default_open(false)
                    .show(panel, |p| inspector(p, &mut ui.packets));
                if let Some(t) = ui.textures.as_deref() {
                    egui::CollapsingHeader::new("Textures")
                        .default_open(false)
                        .show(panel, |p| texture_list(p, t));
                }
                if let Some(m) = ui
                    .shapes
                    .as_deref()
                    .filter(|m| !m.meshes.is_empty() || !m.sculpt_maps.is_empty())
                {
                    egui::CollapsingHeader::new("Meshes")
                        .default_open(false)
                        .show(panel, |p| mesh_list(p, m));
                }
                egui::CollapsingHeader::new("Log")
                    .default_open(false)
                    .show(panel, |p| {
                        for line in ui.session.log.iter().rev().take(50) {
                            p.label(line);
                        }
                    });
            });
        });
}

/// One row of the Meshes panel: the id, and its state (fetching, its LODs' triangles, or why it
/// failed).
pub fn mesh_row(id: Uuid, state: &crate::shapes::MeshState, cached: bool) -> (String, String) {
    use crate::shapes::MeshState;
    use overlook_geometry::llmesh::Lod;
    let what = match state {
        MeshState::Fetching => "fetching".to_owned(),
        MeshState::Decoding(bytes) => format!("decoding ({bytes} B)"),
        MeshState::Ready(m) => {
            let lods: Vec<String> = m
                .lod_sizes()
                .iter()
                .map(|(_, _, tris)| tris.to_string())
                .collect();
            let mut s = format!(
                "triangles by LOD {}, {} faces",
                lods.join(" / "),
                m.best(Lod::High).map_or(0, |(_, f)| f.len())
            );
            if !m.problems.is_empty() {
                s.push_str(&format!(" ({} LODs broken)", m.problems.len()));
            }
            if cached {
                s.push_str(", from the disk cache");
            }
            s
        }
        MeshState::Failed(why) => why.clone(),
    };
    (id.to_string(), what)
}

fn mesh_list(p: &mut egui::Ui, m: &crate::shapes::ShapeAssets) {
    use crate::shapes::MeshState;
    p.label(format!(
        "{} meshes, {} decoded, {} failed, {} B; {} sculpt maps, {} ready",
        m.meshes.len(),
        m.meshes_decoded(),
        m.mesh_failures().len(),
        m.mesh_bytes,
        m.sculpt_maps.len(),
        m.pixels.len()
    ));
    egui::ScrollArea::vertical()
        .id_salt("meshes")
        .max_height(160.0)
        .show(p, |p| {
            egui::Grid::new("meshes").striped(true).show(p, |g| {
                for id in &m.meshes {
                    if let Some(state) = m.mesh_states.get(id) {
                        let (id, what) = mesh_row(*id, state, m.meshes_from_cache.contains(id));
                        g.monospace(id);
                        if matches!(state, MeshState::Failed(_)) {
                            g.colored_label(egui::Color32::from_rgb(230, 80, 60), what);
                        } else {
                            g.label(what);
                        }
                        g.end_row();
                    }
                }
            });
        });
}

/// One line of the texture list: id, state and what it decoded to.
pub fn texture_row(id: Uuid, state: &TextureState, cached: bool) -> (String, String) {
    let what = match state {
        TextureState::Fetching => "fetching".to_owned(),
        TextureState::Decoding(bytes) => format!("decoding ({} B)", bytes.len()),
        TextureState::Decoded(bytes, d) => format!(
            "{} × {}{}, {} component{}{}, {}",
            d.width,
            d.height,
            if d.reduce > 0 {
                format!(" (1/{} size)", 1u32 << d.reduce.min(31))
            } else {
                String::new()
            },
            d.components,
            if d.components == 1 { "" } else { "s" },
            if d.has_alpha { ", alpha" } else { "" },
            match d.partial_of {
                Some(total) => format!("first {} of {total} B", bytes.len()),
                None => format!("{} B", bytes.len()),
            }
        ),
        TextureState::Failed(why) => format!("failed: {why}"),
    };
    let what = if cached {
        format!("{what}, from the disk cache")
    } else {
        what
    };
    (id.to_string(), what)
}

fn texture_list(p: &mut egui::Ui, t: &RegionTextures) {
    if let Some(why) = &t.unavailable {
        p.weak(why);
        return;
    }
    p.label(format!(
        "{} referenced, {} decoded, {} failed, {} B (ViewerAsset / GetTexture)",
        t.referenced.len(),
        t.decoded(),
        t.failures().len(),
        t.bytes
    ));
    egui::ScrollArea::vertical()
        .id_salt("textures")
        .max_height(200.0)
        .show(p, |p| {
            egui::Grid::new("textures").striped(true).show(p, |g| {
                for id in &t.referenced {
                    if let Some(state) = t.states.get(id) {
                        let (id, what) = texture_row(*id, state, t.from_cache.contains(id));
                        g.monospace(id);
                        if matches!(state, TextureState::Failed(_)) {
                            g.colored_label(egui::Color32::from_rgb(230, 80, 60), what);
                        } else {
                            g.label(what);
                        }
                        g.end_row();
                    }
                }
            });
        });
}

fn timeline(p: &mut egui::Ui, session: &Session) {
    egui::Grid::new("timeline").striped(true).show(p, |g| {
        for phase in Phase::ALL {
            g.label(phase.id());
            match session.phases.get(phase) {
                Some(ms) => g.label(format!("{ms} ms")),
                None => g.weak("—"),
            };
            g.end_row();
        }
    });
}

fn region_info(p: &mut egui::Ui, r: &RegionInfo, session: &Session) {
    egui::Grid::new("region").show(p, |g| {
        let mut row = |k: &str, v: String| {
            g.label(k);
            g.label(v);
            g.end_row();
        };
        row("name", r.name.clone());
        row("size", format!("{} × {} m", r.size.0, r.size.1));
        row("origin", format!("{}, {}", r.origin.0, r.origin.1));
        row("flags", format!("0x{:08X}", r.flags));
        row("water", format!("{:.2} m", r.water_height));
        row("terrain start", format!("{:.1?}", r.terrain_start_height));
        row("terrain range", format!("{:.1?}", r.terrain_height_range));
        if let Some(pos) = r.agent_position {
            row("agent", pos.to_string());
        }
        if let Some(look) = r.agent_look_at {
            row("look at", look.to_string());
        }
        if let Some(n) = session.seed_caps {
            row("capabilities", n.to_string());
        }
    });
}

fn chat(p: &mut egui::Ui, ui: &mut UiState) {
    egui::ScrollArea::vertical()
        .id_salt("chat")
        .max_height(160.0)
        .stick_to_bottom(true)
        .show(p, |p| {
            for (who, text) in &ui.chat.lines {
                p.label(format!("{who}: {text}"));
            }
        });
    let connected = ui.session.state == SessionState::Connected;
    p.horizontal(|p| {
        let edit = p.add_enabled(
            connected,
            egui::TextEdit::singleline(&mut ui.chat.draft).hint_text("say something"),
        );
        let enter = edit.lost_focus() && p.input(|i| i.key_pressed(egui::Key::Enter));
        if (p.add_enabled(connected, egui::Button::new("Say")).clicked() || enter)
            && !ui.chat.draft.trim().is_empty()
        {
            let text = std::mem::take(&mut ui.chat.draft);
            ui.outgoing.write(Outgoing(NetCommand::Chat(text)));
        }
    });
}

fn inspector(p: &mut egui::Ui, log: &mut PacketLog) {
    p.horizontal(|p| {
        p.label("filter");
        p.text_edit_singleline(&mut log.filter);
        p.checkbox(&mut log.paused, "pause");
    });
    let visible = log.visible();
    p.label(format!(
        "{} shown of {} kept ({} seen)",
        visible.len(),
        log.rows.len(),
        log.total
    ));
    let mut clicked = None;
    egui::ScrollArea::vertical()
        .id_salt("packets")
        .max_height(240.0)
        .stick_to_bottom(true)
        .show_rows(p, 16.0, visible.len(), |p, range| {
            for &i in visible.get(range).unwrap_or_default() {
                let Some(row) = log.rows.get(i) else { continue };
                let arrow = match row.direction {
                    Direction::In => "←",
                    Direction::Out => "→",
                };
                let text = format!(
                    "{:>7} {arrow} #{:<5} [{}] {} ({} B)",
                    row.ms, row.sequence, row.flags, row.name, row.len
                );
                if p.selectable_label(
                    log.selected == Some(i),
                    egui::RichText::new(text).monospace(),
                )
                .clicked()
                {
                    clicked = Some(i);
                }
            }
        });
    if clicked.is_some() {
        log.selected = clicked;
    }
    if let Some(row) = log.selected.and_then(|i| log.rows.get(i)) {
        p.separator();
        egui::ScrollArea::vertical()
            .id_salt("decoded")
            .max_height(240.0)
            .show(p, |p| {
                p.label(egui::RichText::new(row.decoded()).monospace().small());
            });
    }
}

fn login_dialog(ctx: &egui::Context, ui: &mut UiState) {
    egui::Window::new("Log in")
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |w| {
            match &ui.session.state {
                SessionState::Failed(why) => {
                    w.colored_label(egui::Color32::LIGHT_RED, why);
                }
                SessionState::Disconnected(why) => {
                    w.label(format!("Disconnected: {why}"));
                }
                _ => {}
            }
            egui::Grid::new("login").show(w, |g| {
                g.label("Grid (login URI or get_grid_info URL)");
                g.text_edit_singleline(&mut ui.form.grid);
                g.end_row();
                g.label("First name");
                g.text_edit_singleline(&mut ui.form.first);
                g.end_row();
                g.label("Last name");
                g.text_edit_singleline(&mut ui.form.last);
                g.end_row();
                g.label("Password");
                g.add(egui::TextEdit::singleline(&mut ui.form.password).password(true));
                g.end_row();
                g.label("Start");
                g.text_edit_singleline(&mut ui.form.start);
                g.end_row();
            });
            let ready = !ui.form.grid.trim().is_empty()
                && !ui.form.first.trim().is_empty()
                && !ui.form.last.trim().is_empty();
            if w.add_enabled(ready, egui::Button::new("Log in")).clicked() {
                let params = ui.form.params();
                ui.outgoing.write(Outgoing(NetCommand::Login(params)));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_rows_say_their_lods_or_why_they_failed() {
        use crate::shapes::{MeshState, decode_mesh};
        let id = Uuid([4; 16]);
        let gem = overlook_sim::meshes::MESHES[1];
        let ready = MeshState::Ready(std::sync::Arc::new(decode_mesh(gem.bytes).unwrap()));
        assert_eq!(
            mesh_row(id, &ready, true).1,
            "triangles by LOD 64 / 40 / 28 / 20, 3 faces, from the disk cache"
        );
        assert_eq!(mesh_row(id, &MeshState::Fetching, false).1, "fetching");
        assert_eq!(
            mesh_row(id, &MeshState::Failed("HTTP 404".into()), false),
            (id.to_string(), "HTTP 404".to_owned())
        );
    }

    #[test]
    fn the_shapes_entry_counts_meshes_and_shaped_objects() {
        use crate::objects::plugin::ShapeCounts;
        assert_eq!(shapes_label(0, 0, 0, ShapeCounts::default()), None);
        let counts = ShapeCounts {
            sculpts_drawn: 4,
            sculpts_boxed: 0,
            meshes_drawn: 1,
            meshes_boxed: 1,
        };
        assert_eq!(
            shapes_label(2, 2, 1, counts).as_deref(),
            Some("meshes 2/2 (1 failed), shaped 5/6")
        );
        let sculpts_only = ShapeCounts {
            sculpts_boxed: 3,
            ..ShapeCounts::default()
        };
        assert_eq!(
            shapes_label(0, 0, 0, sculpts_only).as_deref(),
            Some("meshes 0/0, shaped 0/3")
        );
    }

    #[test]
    fn the_viewport_is_what_the_panels_leave_free() {
        // 1280×720 window at 1 point per pixel, a 350-point side panel and a 23-point status bar.
        let free = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(930.0, 697.0));
        let v = free_viewport(free, 1.0, UVec2::new(1280, 720)).expect("not empty");
        assert_eq!(v.physical_position, UVec2::ZERO);
        assert_eq!(v.physical_size, UVec2::new(930, 697));
        // At 2 pixels per point (HiDPI) the same layout covers twice the pixels.
        let v = free_viewport(free, 2.0, UVec2::new(2560, 1440)).expect("not empty");
        assert_eq!(v.physical_size, UVec2::new(1860, 1394));
    }

    #[test]
    fn the_viewport_stays_inside_the_window() {
        let free = egui::Rect::from_min_max(egui::pos2(100.0, -5.0), egui::pos2(1400.0, 800.0));
        let v = free_viewport(free, 1.0, UVec2::new(1280, 720)).expect("not empty");
        assert_eq!(v.physical_position, UVec2::new(100, 0));
        assert_eq!(v.physical_size, UVec2::new(1180, 720));
        // Panels covering everything (or a minimised window) leave no viewport.
        let none = egui::Rect::from_min_max(egui::pos2(500.0, 0.0), egui::pos2(500.0, 720.0));
        assert!(free_viewport(none, 1.0, UVec2::new(1280, 720)).is_none());
        assert!(free_viewport(free, 1.0, UVec2::ZERO).is_none());
    }

    #[test]
    fn the_problem_summary_names_what_is_there_and_only_that() {
        assert_eq!(problem_summary(0, 0, 0, 0), None);
        assert_eq!(
            problem_summary(3, 0, 2, 0).as_deref(),
            Some("3 impossible objects, 2 impossible terrain patches")
        );
        assert_eq!(
            problem_summary(0, 1, 0, 1).as_deref(),
            Some("1 parent cycles, 1 impossible region values")
        );
    }

    #[test]
    fn a_texture_row_says_what_it_decoded_to_or_why_not() {
        use crate::assets::DecodedInfo;
        let id = Uuid([0xab; 16]);
        let bytes: std::sync::Arc<[u8]> = std::sync::Arc::from(vec![0u8; 7213]);
        let decoded = TextureState::Decoded(
            bytes,
            DecodedInfo {
                width: 128,
                height: 128,
                components: 4,
                has_alpha: true,
                reduce: 0,
                image_bytes: overlook_texture::mip_chain_bytes(128, 128),
                partial_of: None,
            },
        );
        assert_eq!(
            texture_row(id, &decoded, false).1,
            "128 × 128, 4 components, alpha, 7213 B"
        );
        assert_eq!(
            texture_row(id, &decoded, true).1,
            "128 × 128, 4 components, alpha, 7213 B, from the disk cache"
        );
        // A first part, decoded small for a distant face.
        let partial = TextureState::Decoded(
            std::sync::Arc::from(vec![0u8; 8192]),
            DecodedInfo {
                width: 64,
                height: 64,
                components: 3,
                has_alpha: false,
                reduce: 3,
                image_bytes: overlook_texture::mip_chain_bytes(64, 64),
                partial_of: Some(79234),
            },
        );
        assert_eq!(
            texture_row(id, &partial, false).1,
            "64 × 64 (1/8 size), 3 components, first 8192 of 79234 B"
        );
        assert_eq!(
            texture_row(id, &TextureState::Failed("HTTP 404".into()), false).1,
            "failed: HTTP 404"
        );
        assert_eq!(
            texture_row(id, &TextureState::Fetching, false).0,
            id.to_string()
        );
    }
}
