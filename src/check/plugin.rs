//! The check's own systems inside the headless app: progress lines on stderr, failing fast when
//! the login is refused (the network thread retries a `presence` refusal once), giving up when no circuit opens
//! within the timeout.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::net::plugin::{PhaseReached, Session, SessionState};
use crate::objects::plugin::ObjectIndex;
use crate::viewer::capture::{CapturedFrames, ObjectsQuiet};
use overlook_protocol::circuit::Phase;

/// What the check's systems saw.
#[derive(Resource, Debug, Default)]
pub struct CheckProgress {
    /// The login was refused (after any retry) or the circuit closed: the app exited early.
    pub gave_up: Option<String>,
    started: Option<Instant>,
}

/// The check's systems (see the module docs).
#[derive(Debug)]
pub struct CheckPlugin {
    /// Give up when no `RegionHandshake` arrived within this long.
    pub timeout: Duration,
    /// The settle rule's quiet time (for the progress line).
    pub settle: Duration,
}

#[derive(Resource, Debug)]
struct CheckTimeout(Duration);

#[derive(Resource, Debug)]
struct SettleNotice {
    settle: Duration,
    said: bool,
}

impl Plugin for CheckPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CheckProgress>()
            .insert_resource(CheckTimeout(self.timeout))
            .insert_resource(SettleNotice {
                settle: self.settle,
                said: false,
            })
            .add_systems(Update, (print_phases, print_settled, print_frames))
            .add_systems(Last, give_up_without_circuit);
    }
}

fn print_phases(mut phases: MessageReader<PhaseReached>) {
    for p in phases.read() {
        eprintln!("check: {:<18} {:>6} ms", p.phase.id(), p.ms);
    }
}

fn print_settled(
    quiet: Res<ObjectsQuiet>,
    index: Res<ObjectIndex>,
    mut notice: ResMut<SettleNotice>,
    progress: Res<CheckProgress>,
) {
    let now = Instant::now();
    if !notice.said && quiet.settled(notice.settle, now) {
        notice.said = true;
        let secs = progress
            .started
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        eprintln!(
            "check: objects settled at {secs:.1} s ({} objects, no new local id for {} ms); \
             rendering",
            index.by_local.len(),
            notice.settle.as_millis()
        );
    }
}

fn print_frames(frames: Res<CapturedFrames>, progress: Res<CheckProgress>, mut said: Local<usize>) {
    if frames.frames.len() > *said {
        let secs = progress.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        for f in frames.frames.iter().skip(*said) {
            eprintln!(
                "check: {:?} frame captured at {secs:.1} s ({}×{})",
                f.view, f.width, f.height
            );
        }
        *said = frames.frames.len();
    }
}

/// Exits at once on a refused login (the network thread has retried `presence` once) or a closed
/// circuit, and when no
/// `RegionHandshake` came within the timeout.
fn give_up_without_circuit(
    session: Res<Session>,
    timeout: Res<CheckTimeout>,
    mut progress: ResMut<CheckProgress>,
    mut exit: MessageWriter<AppExit>,
) {
    let now = Instant::now();
    let started = *progress.started.get_or_insert(now);
    if progress.gave_up.is_some() {
        return;
    }
    let reason = match &session.state {
        // A `presence` refusal has already been retried once by the network thread.
        SessionState::Failed(text) => Some(format!("login failed: {text}")),
        SessionState::Disconnected(reason) => Some(format!("disconnected: {reason}")),
        _ if now.saturating_duration_since(started) >= timeout.0
            && !session.reached(Phase::RegionHandshake) =>
        {
            Some(if !session.reached(Phase::LoginReplied) {
                format!("no login reply within {:?}", timeout.0)
            } else if !session.reached(Phase::CircuitAcked) {
                format!(
                    "the region never acked UseCircuitCode within {:?}",
                    timeout.0
                )
            } else {
                format!("no RegionHandshake within {:?}", timeout.0)
            })
        }
        _ => None,
    };
    if let Some(reason) = reason {
        eprintln!("check: {reason}");
        progress.gave_up = Some(reason);
        exit.write(AppExit::Success);
    }
}
