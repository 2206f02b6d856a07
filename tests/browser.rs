//! The browser build in headless Chromium (issue 17): `overlook web` serves the bundle and the
//! relay on the embedded region; the page logs in through the relay, its title reaches
//! `overlook: objects_settled`, and its screenshot shows what the desktop's rendered-frame test
//! asserts: sky above, ground below, water, the scene's prims and textures. Then a capture is
//! replayed in the page (`?replay=`) with no network, to terrain complete.
//!
//! It needs a built bundle and Chromium, so it is ignored by a plain `cargo test`; `.ci/run`
//! builds the bundle (`web/build.sh`) and runs it:
//! `OVERLOOK_WEB_BUNDLE=web/dist cargo test --test browser -- --ignored`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `overlook web` in the background, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(bundle: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_overlook"))
        .args(["web", "--http", "127.0.0.1:0", "--bundle"])
        .arg(bundle)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("open ").map(str::to_owned))
        .expect("overlook web printed its URL");
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// What `web/drive.py` reported: whether the title got there, and the titles seen with their
/// times (seconds since navigation).
struct Drive {
    ok: bool,
    titles: Vec<(f64, String)>,
    output: String,
}

fn drive(url: &str, until: &str, screenshot: Option<&Path>, log: &Path, extra: &[&str]) -> Drive {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/drive.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(url)
        .args(["--until", until, "--timeout", "300", "--log"])
        .arg(log);
    if let Some(path) = screenshot {
        command.arg("--screenshot").arg(path);
    }
    command.args(extra);
    let out = command.output().unwrap();
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let titles = output
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v.get("titles").cloned())
        .and_then(|t| {
            t.as_array().map(|a| {
                a.iter()
                    .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_str()?.to_owned())))
                    .collect()
            })
        })
        .unwrap_or_default();
    Drive {
        ok: out.status.success(),
        titles,
        output,
    }
}

/// An RGBA screenshot.
struct Shot {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Shot {
    fn read(path: &Path) -> Shot {
        let decoder = png::Decoder::new(BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = match info.color_type {
            png::ColorType::Rgba => 4,
            png::ColorType::Rgb => 3,
            other => panic!("screenshot colour type {other:?}"),
        };
        let rgba = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        Shot {
            width: info.width,
            height: info.height,
            rgba,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }

    /// The share of sampled pixels in `rows` of the 3D view (left of the side panel) that pass.
    fn share(&self, rows: std::ops::Range<u32>, test: impl Fn([u8; 3]) -> bool) -> f64 {
        let (mut hit, mut all) = (0u32, 0u32);
        for y in rows {
            for x in (0..self.view_width()).step_by(4) {
                all += 1;
                hit += u32::from(test(self.pixel(x, y)));
            }
        }
        f64::from(hit) / f64::from(all.max(1))
    }

    /// How many pixels of the 3D view pass.
    fn count(&self, test: impl Fn([u8; 3]) -> bool) -> usize {
        (0..self.view_bottom())
            .flat_map(|y| (0..self.view_width()).map(move |x| (x, y)))
            .filter(|&(x, y)| test(self.pixel(x, y)))
            .count()
    }

    /// The 3D view's width: the side panel takes the right of the page (~350 px).
    fn view_width(&self) -> u32 {
        self.width * 7 / 10
    }

    /// Where the 3D view ends: the status bar takes the bottom ~45 px.
    fn view_bottom(&self) -> u32 {
        self.height - 50
    }
}

fn near(a: [u8; 3], b: [u8; 3], tolerance: i32) -> bool {
    (0..3).all(|i| (i32::from(a[i]) - i32::from(b[i])).abs() <= tolerance)
}

/// A fresh folder holding the bundle's files and, under `replay/`, a capture to replay.
fn site() -> PathBuf {
    let bundle = PathBuf::from(std::env::var_os("OVERLOOK_WEB_BUNDLE").expect(
        "OVERLOOK_WEB_BUNDLE names a built bundle (bash web/build.sh DIR): this test needs it",
    ));
    let site = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-site");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(site.join("replay")).unwrap();
    for entry in std::fs::read_dir(&bundle).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, site.join(path.file_name().unwrap())).unwrap();
        }
    }
    assert!(
        site.join("index.html").is_file(),
        "{} has no index.html",
        bundle.display()
    );
    for name in ["test-region.udp.jsonl", "test-region.login-response.xml"] {
        std::fs::copy(
            overlook_testdata::capture_path(name),
            site.join("replay").join(name),
        )
        .unwrap();
    }
    site
}

#[test]
#[ignore = "needs the browser bundle (OVERLOOK_WEB_BUNDLE, from web/build.sh) and chromium; .ci/run runs it"]
fn the_page_logs_in_through_the_relay_draws_the_region_and_replays_a_capture() {
    let site = site();
    let server = serve(&site);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let shot_path = dir.join("browser-page.png");
    let walked_path = dir.join("browser-walked.png");
    // Arrived, then the up arrow held for 3 s: the avatar walks and the chase camera follows.
    let before = shot_path.to_str().unwrap();
    let live = drive(
        &server.url,
        "overlook: objects_settled",
        Some(&walked_path),
        &dir.join("browser-page.log"),
        &["--hold", "ArrowUp:3", "--screenshot-before", before],
    );
    assert!(
        live.ok,
        "the page did not reach objects_settled:\n{}",
        live.output
    );
    for (t, title) in &live.titles {
        eprintln!("{t:7.2} s  {title}");
    }

    // The screenshot: what the desktop's rendered frame shows, seen through the page.
    let shot = Shot::read(&shot_path);
    let [r, g, b, _] = overlook::viewer::capture::clear_rgba();
    let sky = [r, g, b];
    let h = shot.view_bottom();
    let top = shot.share(0..h / 8, |p| near(p, sky, 12));
    let bottom = shot.share(h - h / 6..h, |p| near(p, sky, 12));
    assert!(top > 0.9, "sky covers {top:.2} of the top rows");
    assert!(bottom < 0.05, "sky covers {bottom:.2} of the bottom rows");
    // Water: blue clearly above red, and not the sky.
    let water = shot.count(|p| i32::from(p[2]) > i32::from(p[0]) + 25 && !near(p, sky, 24));
    // Terrain: the grass band's green.
    let grass = shot.count(|p| {
        i32::from(p[1]) > i32::from(p[0]) + 10 && i32::from(p[1]) > i32::from(p[2]) + 10
    });
    // Prims: the sign's near-white texture and its red corner and letters, the pumpkin's orange.
    let white = shot.count(|p| p.iter().all(|&c| c > 200));
    let red = shot.count(|p| {
        i32::from(p[0]) > i32::from(p[1]) + 40 && i32::from(p[0]) > i32::from(p[2]) + 40
    });
    eprintln!(
        "{}×{}: water {water}, grass {grass}, white {white}, red {red} pixels",
        shot.width, shot.height
    );
    assert!(water >= 200, "{water} water pixels");
    assert!(grass >= 2000, "{grass} grass pixels");
    assert!(
        white >= 500,
        "{white} near-white pixels: the sign is missing"
    );
    // The controls: walking forward changed most of the 3D view.
    let walked = Shot::read(&walked_path);
    assert_eq!((walked.width, walked.height), (shot.width, shot.height));
    let total = shot.count(|_| true);
    let moved = (0..shot.view_bottom())
        .flat_map(|y| (0..shot.view_width()).map(move |x| (x, y)))
        .filter(|&(x, y)| !near(shot.pixel(x, y), walked.pixel(x, y), 24))
        .count();
    eprintln!("walking changed {moved} of {total} pixels of the 3D view");
    assert!(
        moved * 5 > total,
        "walking changed {moved} of {total} pixels: the keys did not move the avatar"
    );
    assert!(
        red >= 100,
        "{red} red pixels: the sign's red corner and the pumpkin are missing"
    );

    // A capture of a real OpenSim session, replayed in the page with no network.
    let replay_url = format!(
        "{}?replay=replay/test-region.udp.jsonl&login=replay/test-region.login-response.xml&speed=4",
        server.url
    );
    let replay = drive(
        &replay_url,
        "overlook: terrain_complete",
        Some(&dir.join("browser-replay.png")),
        &dir.join("browser-replay.log"),
        &[],
    );
    assert!(
        replay.ok,
        "the replay did not reach terrain_complete:\n{}",
        replay.output
    );
    for (t, title) in &replay.titles {
        eprintln!("replay {t:7.2} s  {title}");
    }
    // The recorded region's ground under the sky, drawn from the recording alone.
    let shot = Shot::read(&dir.join("browser-replay.png"));
    let h = shot.view_bottom();
    let top = shot.share(0..h / 8, |p| near(p, sky, 12));
    let bottom = shot.share(h - h / 6..h, |p| near(p, sky, 12));
    assert!(top > 0.9, "replay: sky covers {top:.2} of the top rows");
    assert!(
        bottom < 0.05,
        "replay: sky covers {bottom:.2} of the bottom rows"
    );
}
