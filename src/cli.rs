//! The `overlook` command line on the desktop: the viewer (default) and its tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Overlook: a small, fast viewer for OpenSimulator and Second Life-protocol grids.
#[derive(Debug, Parser)]
#[command(name = "overlook", version, about)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    view: ViewArgs,
}

/// Where to log in: a grid, or (without `--grid`) the embedded region. The password comes from
/// `OVERLOOK_PASSWORD`.
#[derive(Debug, Clone, Default, clap::Args)]
struct TargetArgs {
    /// The grid's login URI (e.g. `http://127.0.0.1:9000/`) or its `get_grid_info` URL.
    #[arg(long)]
    grid: Option<String>,
    /// First name (with `--grid`).
    #[arg(long)]
    first: Option<String>,
    /// Last name (with `--grid`).
    #[arg(long)]
    last: Option<String>,
    /// Where to arrive: `last`, `home` or `uri:Region&x&y&z`.
    #[arg(long, default_value = "last")]
    start: String,
    /// Without `--grid`: run the embedded region on this OpenSim region archive (its objects,
    /// terrain, settings, textures and meshes) instead of its own island and scene.
    #[arg(long, value_name = "FILE.oar", conflicts_with = "grid")]
    oar: Option<PathBuf>,
    /// Without `--grid`: the embedded region's terrain, an OpenSim `.r32` (the default: its
    /// island; an archive's own terrain wins) — e.g. `--oar` an archive without terrain on the
    /// heightmap of the region it came from.
    #[arg(long, value_name = "FILE.r32", conflicts_with = "grid")]
    terrain: Option<PathBuf>,
}

impl TargetArgs {
    /// The embedded region's configuration: the default, on `--oar`'s archive and `--terrain`'s
    /// heightmap when given.
    fn embedded(&self) -> Result<overlook_sim::server::SimConfig, String> {
        let mut cfg = overlook_sim::server::SimConfig::loopback();
        if let Some(path) = &self.terrain {
            cfg.terrain = overlook_sim::terrain::TerrainSource::R32(path.clone());
        }
        if let Some(path) = &self.oar {
            cfg.oar = Some(overlook::net::embedded::load_oar(path)?);
        }
        Ok(cfg)
    }
}

/// Viewer options: with no grid, the viewer starts the embedded region and logs into it.
#[derive(Debug, Clone, Default, clap::Args)]
struct ViewArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Record every datagram to `NAME.udp.jsonl` (the captures' format) and the login reply
    /// beside it as `NAME.login-response.xml`.
    #[arg(long, value_name = "NAME.udp.jsonl")]
    record: Option<PathBuf>,
    /// Once the scene is complete, measure frame times for this many seconds, print mean / p99
    /// and exit (for BENCHMARKS.md).
    #[arg(long, value_name = "SECS")]
    frame_stats: Option<f64>,
    /// Fetch every texture from the grid: neither read nor write the texture disk cache
    /// (`~/.cache/overlook/textures` on Linux).
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the viewer window (the default). The password comes from `OVERLOOK_PASSWORD` or the
    /// login dialog.
    View(ViewArgs),
    /// Run the embedded OpenSim-compatible region alone, so any viewer can log in.
    Sim(SimArgs),
    /// Log in headless (no window or display), wait for the scene, render it offscreen and write
    /// frame.png, overview.png, heightmap.png/.r32, report.json and junit.xml into `--out`.
    /// Exit 0: every check passed; 1: connected but a check failed; 2: no login or circuit.
    /// The password comes from `OVERLOOK_PASSWORD`.
    Check(CheckCli),
    /// Play a recording (`NAME.udp.jsonl`, e.g. from `--record` or `shared/captures/`) into the
    /// viewer with no network, at the recorded pace; or, with `--print` / `--summary`, decode it
    /// with the message template and print every message or the counts.
    Replay {
        /// The recording, one JSON object per datagram: {"t", "dir", "hex"}.
        file: PathBuf,
        /// Playback speed (2 = twice as fast).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Print every message instead of showing the recording.
        #[arg(long)]
        print: bool,
        /// Print message counts per direction instead of showing the recording.
        #[arg(long)]
        summary: bool,
    },
    /// Serve the browser viewer (the bundle `web/build.sh` makes) and its relay on one origin.
    /// The relay talks only to `--grid`, or, without it,
    /// to the embedded region run in this process. With `--first/--last` and
    /// `OVERLOOK_PASSWORD` (or on the embedded region) a page logs in at once through
    /// `/relay/auto-login`; the password never reaches the page.
    Web(WebArgs),
    /// Work with assets (textures): decode a file, or fetch through a grid's capability.
    Asset {
        #[command(subcommand)]
        command: AssetCommand,
    },
}

/// `overlook asset` subcommands.
#[derive(Debug, Subcommand)]
enum AssetCommand {
    /// Decode a JPEG 2000 texture (a raw `.j2c`/`.j2k` codestream, as grids serve them): print
    /// its header and the decode time, and optionally write it as a PNG (RGBA when it has an
    /// alpha component, else RGB).
    Decode {
        /// The codestream.
        file: PathBuf,
        /// Write the decoded image here.
        #[arg(long, value_name = "OUT.png")]
        png: Option<PathBuf>,
        /// Resolution levels to discard: 0 full size, 1 half, 2 a quarter, ...
        #[arg(long, value_name = "N", default_value_t = 0)]
        level: u8,
    },
    /// Log in (to the embedded region when no grid is given), fetch textures by UUID through
    /// the region's `ViewerAsset` / `GetTexture` capability (with `--mesh`: meshes through
    /// `ViewerAsset` / `GetMesh2` / `GetMesh`), decode each and say what came back; with
    /// `--out`, write each as `UUID.j2c` (`UUID.llmesh`). Exit 0: every one fetched and decoded;
    /// 1: some did not; 2: no session. The password comes from `OVERLOOK_PASSWORD`.
    Fetch {
        #[command(flatten)]
        target: TargetArgs,
        /// Write each fetched asset into this folder as `UUID.j2c` (`UUID.llmesh`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The ids are meshes: fetch them by `mesh_id` and say which levels of detail decode,
        /// with their faces and triangles.
        #[arg(long)]
        mesh: bool,
        /// The textures.
        #[arg(required = true)]
        ids: Vec<overlook_protocol::types::Uuid>,
    },
}

/// `overlook asset fetch`: one line per texture (or mesh).
fn run_asset_fetch(
    target: TargetArgs,
    out: Option<&std::path::Path>,
    ids: &[overlook_protocol::types::Uuid],
    mesh: bool,
) -> ExitCode {
    let mut embedded = None;
    let params = match target.grid {
        Some(grid) => overlook::net::LoginParams::new(
            &grid,
            target.first.as_deref().unwrap_or_default(),
            target.last.as_deref().unwrap_or_default(),
            &std::env::var("OVERLOOK_PASSWORD").unwrap_or_default(),
            &target.start,
        ),
        None => match target.embedded().and_then(|cfg| {
            overlook::net::embedded::EmbeddedSim::start(cfg).map_err(|e| e.to_string())
        }) {
            Ok(sim) => {
                let params = sim.login_params(&target.start);
                embedded = Some(sim);
                params
            }
            Err(e) => {
                eprintln!("overlook asset fetch: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let class = if mesh {
        overlook::net::textures::AssetClass::Mesh
    } else {
        overlook::net::textures::AssetClass::Texture
    };
    let fetched = match overlook::net::textures::fetch_assets_through_login(
        params,
        class,
        ids,
        std::time::Duration::from_secs(60),
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("overlook asset fetch: {e}");
            return ExitCode::from(2);
        }
    };
    drop(embedded);
    let mut all_good = true;
    for t in &fetched {
        let line = match &t.result {
            Err(e) => {
                all_good = false;
                format!("{e}")
            }
            Ok(bytes) => {
                let (mut line, good) = if mesh {
                    mesh_line(bytes)
                } else {
                    texture_line(bytes)
                };
                all_good &= good;
                if let Some(dir) = out {
                    let ext = if mesh { "llmesh" } else { "j2c" };
                    let path = dir.join(format!("{}.{ext}", t.id));
                    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, bytes)) {
                        Ok(()) => line.push_str(&format!(" → {}", path.display())),
                        Err(e) => {
                            all_good = false;
                            line.push_str(&format!("; cannot write {}: {e}", path.display()));
                        }
                    }
                }
                line
            }
        };
        println!(
            "{}: {line} ({} attempt{}, {:.0} ms)",
            t.id,
            t.attempts,
            if t.attempts == 1 { "" } else { "s" },
            t.elapsed.as_secs_f64() * 1e3
        );
    }
    if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One texture's line: its size and components, or why it does not decode; and whether it
/// decoded.
fn texture_line(bytes: &[u8]) -> (String, bool) {
    let started = std::time::Instant::now();
    let decoded = overlook_texture::decode(bytes, overlook_texture::DecodeOptions::default());
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match decoded {
        Ok(d) => (
            format!(
                "{} bytes, {} x {}, {} components{}, decoded in {ms:.1} ms",
                bytes.len(),
                d.width,
                d.height,
                d.components,
                if d.has_alpha { ", alpha" } else { "" }
            ),
            true,
        ),
        Err(e) => (
            format!("{} bytes that do not decode: {e}", bytes.len()),
            false,
        ),
    }
}

/// One mesh's line: its size and each level of detail it has (faces, triangles), or why it does
/// not decode; and whether every LOD it has decoded.
fn mesh_line(bytes: &[u8]) -> (String, bool) {
    let started = std::time::Instant::now();
    match overlook::shapes::decode_mesh(bytes) {
        Ok(m) => {
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let lods: Vec<String> = m
                .lod_sizes()
                .iter()
                .map(|(lod, faces, tris)| format!("{lod} {faces} faces {tris} triangles"))
                .collect();
            let mut line = format!(
                "{} bytes, {}, decoded in {ms:.1} ms",
                bytes.len(),
                lods.join(", ")
            );
            for p in &m.problems {
                line.push_str(&format!("; {p}"));
            }
            (line, m.problems.is_empty())
        }
        Err(e) => (
            format!("{} bytes that do not decode: {e}", bytes.len()),
            false,
        ),
    }
}

/// `overlook asset decode`: header, decode time, optional PNG.
fn run_asset_decode(
    file: &std::path::Path,
    png_out: Option<&std::path::Path>,
    level: u8,
) -> ExitCode {
    use overlook_texture::{DecodeOptions, J2cInfo, decode};
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("overlook asset decode: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let info = match J2cInfo::parse(&bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("overlook asset decode: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "file:              {} ({} bytes)",
        file.display(),
        bytes.len()
    );
    println!("size:              {} x {}", info.width, info.height);
    println!(
        "components:        {} ({}-bit)",
        info.components, info.bit_depth
    );
    println!("resolution levels: {}", info.resolution_levels);
    println!("quality layers:    {}", info.quality_layers);
    println!("progression:       {}", info.progression);
    println!(
        "wavelet:           {}",
        if info.reversible {
            "5/3 reversible"
        } else {
            "9/7 irreversible"
        }
    );
    println!("tiles:             {}", info.tiles);
    let start = std::time::Instant::now();
    let tex = match decode(&bytes, DecodeOptions { reduce: level }) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("overlook asset decode: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let elapsed = start.elapsed();
    println!(
        "decoded:           {} x {} (reduce {}), alpha below 255: {}, in {:.2} ms",
        tex.width,
        tex.height,
        info.clamp_reduce(level),
        if tex.has_alpha { "yes" } else { "no" },
        elapsed.as_secs_f64() * 1e3
    );
    if let Some(out) = png_out {
        if let Err(e) = write_png(out, &tex) {
            eprintln!("overlook asset decode: {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        println!("wrote:             {}", out.display());
    }
    ExitCode::SUCCESS
}

/// Writes a decoded texture as an 8-bit RGBA PNG when it has an alpha component (2 or 4
/// components), else RGB: the layout OpenJPEG's `opj_decompress` writes for RGB and RGBA.
fn write_png(out: &std::path::Path, tex: &overlook_texture::DecodedTexture) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut encoder = png::Encoder::new(file, tex.width, tex.height);
    encoder.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8>;
    let data = if matches!(tex.components, 2 | 4) {
        encoder.set_color(png::ColorType::Rgba);
        &tex.rgba
    } else {
        encoder.set_color(png::ColorType::Rgb);
        rgb = tex
            .rgba
            .chunks_exact(4)
            .flat_map(|p| p.iter().take(3).copied())
            .collect();
        &rgb
    };
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(data)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

/// `overlook check` options.
#[derive(Debug, clap::Args)]
struct CheckCli {
    #[command(flatten)]
    target: TargetArgs,
    /// Folder for the PNGs, heightmaps, report.json and junit.xml.
    #[arg(long)]
    out: PathBuf,
    /// Give up waiting for the scene after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Objects count as settled when no new local id appeared for this long after the terrain.
    #[arg(long, default_value_t = 1000)]
    settle_ms: u64,
    /// Fail when fewer objects than this are present at the end.
    #[arg(long, default_value_t = 0)]
    min_objects: usize,
    /// Fail (`check.textures`) when a texture the region references could not be fetched.
    #[arg(long)]
    require_textures: bool,
    /// Record every datagram to `NAME.udp.jsonl` (the captures' format) and the login reply
    /// beside it as `NAME.login-response.xml`.
    #[arg(long, value_name = "NAME.udp.jsonl")]
    record: Option<PathBuf>,
    /// Check a recording (`NAME.udp.jsonl`, e.g. one of `shared/captures/`) instead of logging
    /// in: it is played through the circuit as fast as possible, with its recorded times.
    #[arg(long, value_name = "NAME.udp.jsonl", conflicts_with_all = ["grid", "record"])]
    replay: Option<PathBuf>,
}

fn run_check(cli: CheckCli) -> ExitCode {
    use overlook::check::{CheckArgs, run};

    let mut args = CheckArgs::embedded(cli.out);
    match cli.target.embedded() {
        Ok(cfg) => args.embedded = cfg,
        Err(e) => {
            eprintln!("overlook check: {e}");
            return ExitCode::from(2);
        }
    }
    args.start = cli.target.start;
    args.timeout = std::time::Duration::try_from_secs_f64(cli.timeout)
        .unwrap_or(std::time::Duration::from_secs(60));
    args.settle = std::time::Duration::from_millis(cli.settle_ms);
    args.min_objects = cli.min_objects;
    args.require_textures = cli.require_textures;
    args.record = cli.record;
    args.replay = cli.replay;
    if let Some(grid) = cli.target.grid {
        args.grid = Some(grid);
        args.first = cli.target.first.unwrap_or_default();
        args.last = cli.target.last.unwrap_or_default();
        args.password = std::env::var("OVERLOOK_PASSWORD").unwrap_or_default();
        if args.first.is_empty() || args.last.is_empty() {
            eprintln!("overlook check: --grid needs --first and --last");
            return ExitCode::from(2);
        }
    }
    ExitCode::from(run(&args).code)
}

/// `overlook web` options.
#[derive(Debug, clap::Args)]
struct WebArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Where to serve the page and the relay (a non-loopback address prints a warning).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: std::net::SocketAddr,
    /// The browser build's folder (its index.html at `/`); default `web/dist` when it exists.
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
}

fn run_web(args: WebArgs) -> ExitCode {
    use overlook_relay::{Credentials, RelayConfig, RelayState};
    if !args.http.ip().is_loopback() {
        eprintln!(
            "overlook web: warning: serving on {}, reachable beyond this machine: anyone who can \
             reach it can use the relay (and its auto-login, if configured).",
            args.http
        );
    }
    let bundle = args
        .bundle
        .clone()
        .or_else(|| Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").is_file()));
    let mut embedded = None;
    // The grid, and who logs in at once: the account given, or the embedded region's.
    let (login_uri, account) = match &args.target.grid {
        Some(grid) => {
            let account = match (
                &args.target.first,
                &args.target.last,
                std::env::var("OVERLOOK_PASSWORD"),
            ) {
                (Some(first), Some(last), Ok(password)) => {
                    Some((first.clone(), last.clone(), password))
                }
                _ => None,
            };
            (grid.clone(), account)
        }
        None => {
            let sim = match args.target.embedded().and_then(|cfg| {
                overlook::net::embedded::EmbeddedSim::start(cfg).map_err(|e| e.to_string())
            }) {
                Ok(sim) => sim,
                Err(e) => {
                    eprintln!("overlook web: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let login = (sim.login_uri.clone(), Some(sim.account.clone()));
            embedded = Some(sim);
            login
        }
    };
    let mut config = RelayConfig::new(&login_uri);
    config.credentials = account.map(|(first, last, password)| {
        let mut c = Credentials::new(&first, &last, &password);
        c.start.clone_from(&args.target.start);
        c
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("overlook web: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let state = match RelayState::new(config) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("overlook web: {e}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(args.http).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("overlook web: cannot bind {}: {e}", args.http);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(args.http);
        println!("open http://{addr}/");
        match &bundle {
            Some(dir) => println!("browser build: {}", dir.display()),
            None => println!(
                "no browser build in web/dist: build it with `bash web/build.sh` (or pass \
                 --bundle DIR); the relay alone is served"
            ),
        }
        let app = overlook::web::app(state.clone(), bundle);
        tokio::select! {
            () = overlook_relay::serve(listener, state, app) => ExitCode::FAILURE,
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        }
    });
    drop(embedded);
    code
}

/// `overlook sim` options.
#[derive(Debug, clap::Args)]
struct SimArgs {
    /// HTTP address of the login service (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    http: std::net::SocketAddr,
    /// UDP address of the region (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    udp: std::net::SocketAddr,
    /// Region size in metres: `N` or `WxH`, multiples of 256 from 256 to 4096.
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Terrain file: an OpenSim `.r32` or a 16-bit grayscale `.png` (default: a procedural island).
    #[arg(long)]
    terrain: Option<PathBuf>,
    /// Height range a PNG's black..white maps to, `MIN:MAX` metres.
    #[arg(long, value_parser = parse_range, default_value = "0:128")]
    height_range: (f32, f32),
    /// Seed of the island and the scene.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An account, `"First Last:password"`; may repeat (default `Test User:test`).
    #[arg(long = "user", value_parser = parse_user)]
    users: Vec<(String, String, String)>,
    /// The region's name.
    #[arg(long, default_value = "Overlook Region")]
    name: String,
    /// Scatter this many more prims over the region, copies of the scene's (a load test).
    #[arg(long, default_value_t = 0)]
    extra_prims: u32,
    /// Scatter this many copies of the scene's mesh objects over the region (a load test:
    /// many objects, few mesh assets).
    #[arg(long, default_value_t = 0)]
    extra_meshes: u32,
    /// Serve this OpenSim region archive: its objects, terrain (else the island at its size),
    /// settings, textures and meshes, instead of the island's own scene.
    #[arg(long, value_name = "FILE.oar")]
    oar: Option<PathBuf>,
    /// Write the region as an OpenSim region archive (objects, terrain, settings and the
    /// textures and meshes they name) to this file and exit, e.g. to `load oar --merge` it
    /// into a real OpenSim and compare.
    #[arg(long, value_name = "FILE.oar")]
    save_oar: Option<PathBuf>,
    /// Owner and creator of the objects in `--save-oar`'s archive (an account of the grid that
    /// loads it; otherwise OpenSim gives them to its estate owner).
    #[arg(
        long,
        value_name = "UUID",
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    owner: overlook_protocol::types::Uuid,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).unwrap_or((s, s));
    let n = |t: &str| t.trim().parse::<u32>().map_err(|e| format!("{t}: {e}"));
    Ok((n(w)?, n(h)?))
}

fn parse_range(s: &str) -> Result<(f32, f32), String> {
    let (a, b) = s.split_once(':').ok_or("expected MIN:MAX")?;
    let f = |t: &str| t.trim().parse::<f32>().map_err(|e| format!("{t}: {e}"));
    let (a, b) = (f(a)?, f(b)?);
    if a < b {
        Ok((a, b))
    } else {
        Err("MIN must be below MAX".into())
    }
}

fn parse_user(s: &str) -> Result<(String, String, String), String> {
    let (name, password) = s
        .split_once(':')
        .ok_or("expected \"First Last:password\"")?;
    let (first, last) = name
        .trim()
        .split_once(' ')
        .ok_or("expected a first and a last name")?;
    Ok((
        first.to_owned(),
        last.trim().to_owned(),
        password.to_owned(),
    ))
}

fn run_sim(args: SimArgs) -> ExitCode {
    use overlook_sim::server::{self, SimConfig};
    use overlook_sim::terrain::TerrainSource;

    let terrain = match &args.terrain {
        None => TerrainSource::Island { seed: args.seed },
        Some(path) => match TerrainSource::from_path(path.clone(), args.height_range) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("overlook sim: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let accounts = if args.users.is_empty() {
        vec![server::test_account("Test", "User", "test")]
    } else {
        args.users
            .iter()
            .map(|(f, l, p)| server::test_account(f, l, p))
            .collect()
    };
    for (what, addr) in [("HTTP", args.http), ("UDP", args.udp)] {
        if !addr.ip().is_loopback() {
            eprintln!(
                "overlook sim: warning: {what} on {addr}, reachable beyond this machine. This \
                 region is a test peer: its accounts have test passwords and it is not hardened \
                 like a real grid."
            );
        }
    }
    let oar = match &args.oar {
        Some(path) => match overlook::net::embedded::load_oar(path) {
            Ok(oar) => Some(oar),
            Err(e) => {
                eprintln!("overlook sim: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let cfg = SimConfig {
        oar,
        http: args.http,
        udp: args.udp,
        size: args.size,
        terrain,
        seed: args.seed,
        accounts,
        region_name: args.name,
        withheld_patches: Vec::new(),
        extra_prims: args.extra_prims,
        extra_meshes: args.extra_meshes,
    };
    if let Some(path) = &args.save_oar {
        let written = std::fs::File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                server::save_oar(&cfg, args.owner, std::io::BufWriter::new(f))
                    .map_err(|e| e.to_string())
            });
        return match written {
            Ok(()) => {
                println!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("overlook sim: {}: {e}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("overlook sim: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sim = match server::start(cfg).await {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("overlook sim: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "region \"{}\" ({}x{} m), UDP {}",
            sim.info.name, sim.info.size_x, sim.info.size_y, sim.udp
        );
        println!("login URI: {}", sim.login_uri);
        for a in &sim.accounts {
            println!("user: {} {}", a.first, a.last);
        }
        tokio::select! {
            () = sim.wait() => ExitCode::FAILURE,
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        }
    })
}

fn run_viewer(args: ViewArgs) -> ExitCode {
    use overlook::net::LoginParams;
    use overlook::viewer::{ViewerOptions, app};

    let target = args.target;
    let mut embedded = None;
    let login = match target.grid {
        Some(grid) => LoginParams::new(
            &grid,
            target.first.as_deref().unwrap_or_default(),
            target.last.as_deref().unwrap_or_default(),
            &std::env::var("OVERLOOK_PASSWORD").unwrap_or_default(),
            &target.start,
        ),
        None => {
            let sim = match target.embedded().and_then(|cfg| {
                overlook::net::embedded::EmbeddedSim::start(cfg).map_err(|e| e.to_string())
            }) {
                Ok(sim) => sim,
                Err(e) => {
                    eprintln!("overlook: {e}");
                    return ExitCode::FAILURE;
                }
            };
            eprintln!(
                "embedded region \"{}\" at {}",
                sim.region_name, sim.login_uri
            );
            let login = sim.login_params(&target.start);
            embedded = Some(sim);
            login
        }
    };
    // Log in at once when everything is known; otherwise the dialog asks.
    let options = ViewerOptions {
        auto_login: login.is_complete(),
        login: Some(login),
        record: args.record,
        replay: None,
        texture_cache: if args.no_cache {
            None
        } else {
            overlook::net::cache::default_dir()
        },
        frame_stats: args
            .frame_stats
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(std::time::Duration::from_secs_f64),
    };
    app(options).run();
    // The app logged out on exit; only now may the region go.
    drop(embedded);
    ExitCode::SUCCESS
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::View(cli.view)) {
        Command::View(args) => run_viewer(args),
        Command::Check(args) => run_check(args),
        Command::Sim(args) => run_sim(args),
        Command::Web(args) => run_web(args),
        Command::Asset {
            command: AssetCommand::Decode { file, png, level },
        } => run_asset_decode(&file, png.as_deref(), level),
        Command::Asset {
            command:
                AssetCommand::Fetch {
                    target,
                    out,
                    ids,
                    mesh,
                },
        } => run_asset_fetch(target, out.as_deref(), &ids, mesh),
        Command::Replay {
            file,
            speed,
            print: false,
            summary: false,
        } => {
            let options = overlook::viewer::ViewerOptions {
                replay: Some(overlook::net::replay::ReplaySource::file(
                    file,
                    Some(if speed.is_finite() && speed > 0.0 {
                        speed
                    } else {
                        1.0
                    }),
                )),
                ..overlook::viewer::ViewerOptions::default()
            };
            overlook::viewer::app(options).run();
            ExitCode::SUCCESS
        }
        Command::Replay { file, summary, .. } => {
            let mut out = std::io::stdout().lock();
            match overlook::replay::run(&file, summary, &mut out) {
                Ok(report) if report.errors == 0 => ExitCode::SUCCESS,
                Ok(report) => {
                    eprintln!(
                        "{} of {} datagrams did not decode",
                        report.errors, report.datagrams
                    );
                    ExitCode::FAILURE
                }
                // `overlook replay … | head` closes the pipe early: that is not a failure.
                Err(overlook::replay::ReplayError::Write(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("overlook replay: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
