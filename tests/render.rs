//! The rendered-frame check: the viewer's plugins, headless (no window, no display: Mesa's
//! lavapipe is enough), log into the embedded region, wait for the story to finish and capture
//! the chase camera's frame and an overview from above. The test asserts facts about the
//! pictures, not a golden image: sky above, terrain below, water-coloured pixels where the
//! heightmap is under water, land where it is not, and the captured scene's coloured prims —
//! and textures where the region's textures belong: the sign's oriented texture upright and
//! unmirrored with its coloured corners where SL puts them, the terrain's detail textures on the
//! land.

use std::time::Duration;

use overlook::camera::ChaseCamera;
use overlook::net::embedded::EmbeddedSim;
use overlook::net::plugin::Session;
use overlook::scene::{RegionInfo, SceneCounts, sl_array_to_bevy, sl_quat_to_bevy, sl_to_bevy};
use overlook::terrain::Terrain;
use overlook::viewer::capture::{
    CaptureSettings, CapturedFrames, Frame, View, headless_app, run_headless,
};
use overlook::viewer::{SKY_COLOR, ViewerOptions};
use overlook_protocol::circuit::Phase;
use overlook_sim::server::SimConfig;

fn near(a: [u8; 4], b: [u8; 3], tolerance: i32) -> bool {
    (0..3).all(|i| (i32::from(a[i]) - i32::from(b[i])).abs() <= tolerance)
}

fn share(frame: &Frame, rows: std::ops::Range<u32>, test: impl Fn([u8; 4]) -> bool) -> f64 {
    let mut hit = 0u64;
    let mut all = 0u64;
    for y in rows {
        for x in (0..frame.width).step_by(4) {
            all += 1;
            if test(frame.pixel(x, y).unwrap()) {
                hit += 1;
            }
        }
    }
    hit as f64 / all as f64
}

fn is_water(p: [u8; 4]) -> bool {
    // Blue-green water over darker ground: blue clearly above red.
    i32::from(p[2]) > i32::from(p[0]) + 25
}

#[test]
fn renders_the_embedded_region_with_sky_terrain_water_and_prims() {
    let sim = EmbeddedSim::start(SimConfig::loopback()).unwrap();
    let options = ViewerOptions {
        login: Some(sim.login_params("last")),
        auto_login: true,
        frame_stats: None,
        record: None,
        replay: None,
        texture_cache: None,
    };
    let mut app = headless_app(
        options,
        CaptureSettings {
            timeout: Duration::from_secs(60),
            ..CaptureSettings::default()
        },
    );
    run_headless(&mut app);
    let world = app.world();
    let frames = world.resource::<CapturedFrames>();
    assert!(!frames.timed_out, "the scene did not complete");
    let session = world.resource::<Session>();
    assert!(session.reached(Phase::ObjectsSettled));
    for (phase, ms) in session.phases.iter() {
        eprintln!("{:>20} {ms:>6} ms", phase.id());
    }
    let counts = *world.resource::<SceneCounts>();
    assert_eq!(counts.patches_received, counts.patches_total);
    assert!(counts.objects >= 30, "{counts:?}");

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let frame = frames.get(View::Avatar).expect("avatar frame");
    frame.write_png(&dir.join("render-avatar.png")).unwrap();
    let overview = frames.get(View::Overview).expect("overview");
    overview
        .write_png(&dir.join("render-overview.png"))
        .unwrap();

    // Chase camera: sky over the horizon, ground below it.
    let sky = SKY_COLOR.to_srgba();
    let sky = [sky.red, sky.green, sky.blue].map(|c| (c * 255.0).round() as u8);
    let h = frame.height;
    let top = share(frame, 0..h / 8, |p| near(p, sky, 12));
    let bottom = share(frame, h - h / 6..h, |p| near(p, sky, 12));
    assert!(top > 0.9, "sky covers {top:.2} of the top rows");
    assert!(bottom < 0.05, "sky covers {bottom:.2} of the bottom rows");

    // Overview: water where the heightmap is under water, land where it is well above it.
    let terrain = world.resource::<Terrain>();
    let map = terrain.heightmap.as_ref().unwrap();
    let region = world.resource::<RegionInfo>();
    let (w, hgt) = (overview.width, overview.height);
    let (mut wet, mut wet_blue, mut dry, mut dry_blue) = (0, 0, 0, 0);
    for py in (4..hgt - 4).step_by(8) {
        for px in (4..w - 4).step_by(8) {
            let x = px * region.size.0 / w;
            let y = (hgt - 1 - py) * region.size.1 / hgt;
            let Some(height) = map.height(x, y) else {
                continue;
            };
            let pixel = overview.pixel(px, py).unwrap();
            if height < region.water_height - 1.0 {
                wet += 1;
                wet_blue += u32::from(is_water(pixel));
            } else if height > region.water_height + 2.0 {
                dry += 1;
                dry_blue += u32::from(is_water(pixel));
            }
        }
    }
    assert!(wet > 50 && dry > 50, "{wet} wet and {dry} dry samples");
    assert!(
        f64::from(wet_blue) / f64::from(wet) > 0.9,
        "{wet_blue} of {wet} under-water samples look like water"
    );
    assert!(
        f64::from(dry_blue) / f64::from(dry) < 0.1,
        "{dry_blue} of {dry} dry samples look like water"
    );
    // Prims: default-white faces are brighter than any terrain band or the water, and the
    // captured scene's box has a red top face (PROTOCOL §9).
    let count = |test: &dyn Fn([u8; 4]) -> bool| {
        (0..hgt)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| test(overview.pixel(x, y).unwrap()))
            .count()
    };
    let white = count(&|p| p[0] > 200 && p[1] > 200 && p[2] > 200);
    let red = count(&|p| {
        i32::from(p[0]) > i32::from(p[1]) + 40 && i32::from(p[0]) > i32::from(p[2]) + 40
    });
    assert!(
        white >= 20,
        "{white} near-white pixels: the white prims are missing"
    );
    assert!(red >= 1, "{red} red pixels: the red-topped box is missing");

    // The sign wears the oriented texture (red, green, blue and yellow corners: top left, top
    // right, bottom left, bottom right). Seen from the west, as the chase camera does, its west
    // face reads upright and unmirrored as on any SL viewer: north is on the left.
    let sign = overlook_sim::server::scene_objects(&SimConfig::loopback())
        .unwrap()
        .into_iter()
        .find(|o| o.name.starts_with("sign "))
        .expect("the scene has its sign");
    let mut cameras = world
        .try_query_filtered::<(
            &bevy::camera::Camera,
            &bevy::transform::components::GlobalTransform,
        ), bevy::ecs::query::With<ChaseCamera>>()
        .expect("cameras exist");
    let (camera, eye) = cameras.single(world).expect("the chase camera");
    let corner = |north: f32, up: f32| {
        // A point 8 % in from the corner on the west face, in SL axes, then Bevy's.
        let (sx, sy, sz) = (sign.scale.x, sign.scale.y, sign.scale.z);
        let local = [-sx / 2.0 - 0.01, north * 0.42 * sy, up * 0.42 * sz];
        let rotation = bevy::math::Quat::from_array(sl_quat_to_bevy(sign.rotation));
        let world = bevy::math::Vec3::from_array(sl_to_bevy(sign.position))
            + rotation * bevy::math::Vec3::from_array(sl_array_to_bevy(local));
        let at = camera
            .world_to_viewport(eye, world)
            .expect("the corner is in view");
        let pixel = frame
            .pixel(at.x as u32, at.y as u32)
            .expect("inside the frame");
        (at, pixel)
    };
    let red = |p: [u8; 4]| {
        i32::from(p[0]) > i32::from(p[1]) + 60 && i32::from(p[0]) > i32::from(p[2]) + 60
    };
    let green = |p: [u8; 4]| {
        i32::from(p[1]) > i32::from(p[0]) + 60 && i32::from(p[1]) > i32::from(p[2]) + 60
    };
    let blue = |p: [u8; 4]| {
        i32::from(p[2]) > i32::from(p[0]) + 60 && i32::from(p[2]) > i32::from(p[1]) + 30
    };
    let yellow = |p: [u8; 4]| p[0] > 150 && p[1] > 150 && i32::from(p[2]) < i32::from(p[0]) - 80;
    type PixelTest<'a> = &'a dyn Fn([u8; 4]) -> bool;
    let corners: [(&str, f32, f32, PixelTest); 4] = [
        ("red, top left (north, up)", 1.0, 1.0, &red),
        ("green, top right (south, up)", -1.0, 1.0, &green),
        ("blue, bottom left (north, down)", 1.0, -1.0, &blue),
        ("yellow, bottom right (south, down)", -1.0, -1.0, &yellow),
    ];
    for (what, north, up, test) in corners {
        let (at, pixel) = corner(north, up);
        assert!(test(pixel), "the sign's {what} corner at {at} is {pixel:?}");
    }

    // Sculpties and meshes take their shapes, not their bounding boxes: the pumpkin (a sphere
    // sculpty, its surface within ±0.4 of its box's height) shows its orange at its middle and
    // not at a top corner of its box; the gem (a mesh whose table is at 0.2 of its box's
    // height) shows its blue below the table and not above it, where a box would still be.
    let scene = overlook_sim::server::scene_objects(&SimConfig::loopback()).unwrap();
    let at_unit = |name: &str, unit: [f32; 3]| {
        let o = scene.iter().find(|o| o.name == name).expect("in the scene");
        let local = [
            unit[0] * o.scale.x,
            unit[1] * o.scale.y,
            unit[2] * o.scale.z,
        ];
        let rotation = bevy::math::Quat::from_array(sl_quat_to_bevy(o.rotation));
        let world = bevy::math::Vec3::from_array(sl_to_bevy(o.position))
            + rotation * bevy::math::Vec3::from_array(sl_array_to_bevy(local));
        let at = camera
            .world_to_viewport(eye, world)
            .unwrap_or_else(|e| panic!("{name} {unit:?} not in view: {e:?}"));
        let pixel = frame
            .pixel(at.x as u32, at.y as u32)
            .unwrap_or_else(|| panic!("{name} {unit:?} at {at} is outside the frame"));
        (at, pixel)
    };
    // The checker tinted orange: orange or a dark brown, red well above blue either way.
    let pumpkin = |p: [u8; 4]| i32::from(p[0]) > i32::from(p[2]) + 40 && p[0] > p[1];
    let (at, middle) = at_unit("sculpty sphere (pumpkin)", [-0.3, 0.0, 0.0]);
    assert!(
        pumpkin(middle),
        "the pumpkin's middle at {at} is {middle:?}"
    );
    let (at, corner) = at_unit("sculpty sphere (pumpkin)", [-0.45, -0.45, 0.47]);
    assert!(
        !pumpkin(corner),
        "a top corner of the pumpkin's box at {at} is {corner:?}: drawn as a box?"
    );
    // Its blue is deep (blue over 2.5 × red and 2 × green), the sea's behind it is not.
    let gem = |p: [u8; 4]| {
        let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
        b > 2.5 * r && b > 2.0 * g
    };
    let (at, below) = at_unit("mesh gem", [0.0, 0.0, -0.1]);
    assert!(gem(below), "the gem below its table at {at} is {below:?}");
    let (at, above) = at_unit("mesh gem", [0.0, 0.0, 0.45]);
    assert!(
        !gem(above),
        "above the gem's table at {at} is {above:?}: drawn as a box?"
    );

    // The terrain wears its detail textures: where the land is in the grass band, the overview
    // is green and varies from pixel to pixel as a texture does (the flat band colours of an
    // untextured terrain are smooth: under 30 % of samples differ from a neighbour by 4 levels, where
    // the textured terrain has over 95 %).
    let (mut grass, mut green_px, mut varied) = (0, 0, 0);
    for py in (4..hgt - 4).step_by(3) {
        for px in (4..w - 4).step_by(3) {
            let x = px * region.size.0 / w;
            let y = (hgt - 1 - py) * region.size.1 / hgt;
            let Some(height) = map.height(x, y) else {
                continue;
            };
            let band = terrain.shading.band(x, y, height, region.size);
            if height < region.water_height + 1.0 || (band - 1.0).abs() > 0.2 {
                continue;
            }
            grass += 1;
            let p = overview.pixel(px, py).unwrap();
            green_px += u32::from(p[1] > p[0].saturating_add(10) && p[1] > p[2].saturating_add(10));
            let q = overview.pixel(px + 1, py).unwrap();
            let r = overview.pixel(px, py + 1).unwrap();
            let diff = |a: [u8; 4], b: [u8; 4]| {
                (0..3)
                    .map(|i| (i32::from(a[i]) - i32::from(b[i])).abs())
                    .max()
                    .unwrap_or(0)
            };
            varied += u32::from(diff(p, q).max(diff(p, r)) >= 4);
        }
    }
    eprintln!("grass band: {grass} samples, {green_px} green, {varied} varied");
    assert!(grass >= 30, "{grass} samples in the grass band");
    assert!(
        f64::from(green_px) / f64::from(grass) > 0.9,
        "{green_px} of {grass} grass-band samples are green"
    );
    assert!(
        f64::from(varied) / f64::from(grass) > 0.7,
        "{varied} of {grass} grass-band samples differ from their neighbours: no texture detail"
    );
}
