//! `--frame-stats SECS`: once the story is done (terrain complete, objects settled), record
//! every frame's time for `SECS` seconds, print the mean, p99 and worst on stdout and exit.
//! The figures in `BENCHMARKS.md` come from it.

use std::time::Duration;

use bevy::app::AppExit;
use bevy::prelude::*;

use crate::net::plugin::Session;
use overlook_protocol::circuit::Phase;

/// Measures frame times after the scene is complete.
#[derive(Debug, Clone)]
pub struct FrameStatsPlugin {
    /// How long to measure.
    pub duration: Duration,
}

#[derive(Resource, Debug, Default)]
struct FrameTimes {
    started: Option<std::time::Instant>,
    last: Option<std::time::Instant>,
    frames: Vec<f64>,
    duration: Duration,
}

/// Mean, 99th percentile and worst of frame times in milliseconds.
pub fn summarise(frames_ms: &[f64]) -> Option<(f64, f64, f64)> {
    if frames_ms.is_empty() {
        return None;
    }
    let mut sorted = frames_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let p99_index = ((sorted.len() as f64) * 0.99).ceil() as usize;
    let p99 = sorted[p99_index.clamp(1, sorted.len()) - 1];
    Some((mean, p99, sorted[sorted.len() - 1]))
}

impl Plugin for FrameStatsPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(FrameTimes {
            duration: self.duration,
            ..FrameTimes::default()
        })
        .add_systems(Last, record_frame);
    }
}

fn record_frame(
    session: Res<Session>,
    mut times: ResMut<FrameTimes>,
    mut exit: MessageWriter<AppExit>,
) {
    let now = std::time::Instant::now();
    if !(session.reached(Phase::TerrainComplete) && session.reached(Phase::ObjectsSettled)) {
        return;
    }
    // Let the last meshes upload and pipelines compile before measuring.
    let started = *times.started.get_or_insert(now + Duration::from_secs(2));
    if now < started {
        return;
    }
    if let Some(last) = times.last.replace(now) {
        let ms = now.duration_since(last).as_secs_f64() * 1000.0;
        times.frames.push(ms);
    }
    if now.duration_since(started) >= times.duration {
        if let Some((mean, p99, worst)) = summarise(&times.frames) {
            println!(
                "frames {} over {:.1} s: mean {mean:.2} ms ({:.1} fps), p99 {p99:.2} ms, worst {worst:.2} ms",
                times.frames.len(),
                times.duration.as_secs_f64(),
                1000.0 / mean
            );
        }
        exit.write(AppExit::Success);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_mean_p99_and_worst() {
        let mut frames: Vec<f64> = vec![10.0; 99];
        frames.push(50.0);
        let (mean, p99, worst) = summarise(&frames).unwrap();
        assert!((mean - 10.4).abs() < 1e-9);
        assert_eq!(p99, 10.0);
        assert_eq!(worst, 50.0);
        assert_eq!(summarise(&[]), None);
    }
}
