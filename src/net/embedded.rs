//! The embedded region, started in-process on its own thread when no grid is given: the viewer
//! and `overlook check` log into it exactly as into a remote grid.

use std::sync::mpsc;
use std::thread::JoinHandle;

use overlook_sim::server::{self, SimConfig, SimError};

/// A region running on a background thread. Its `Debug` leaves the account's password out.
pub struct EmbeddedSim {
    /// Its login URI.
    pub login_uri: String,
    /// The region's name.
    pub region_name: String,
    /// First name, last name and password of its first account.
    pub account: (String, String, String),
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmbeddedSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (first, last, _) = &self.account;
        f.debug_struct("EmbeddedSim")
            .field("login_uri", &self.login_uri)
            .field("region_name", &self.region_name)
            .field(
                "account",
                &format_args!("{first} {last} (password redacted)"),
            )
            .finish_non_exhaustive()
    }
}

/// Why the embedded region did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The region refused its configuration or could not bind.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// No runtime or thread.
    #[error("cannot start the embedded region: {0}")]
    Io(#[from] std::io::Error),
    /// The region's thread ended before it reported.
    #[error("the embedded region's thread ended early")]
    Died,
}

impl EmbeddedSim {
    /// The login parameters of the region's first account, arriving at `start`.
    pub fn login_params(&self, start: &str) -> super::LoginParams {
        let (first, last, password) = &self.account;
        super::LoginParams::new(&self.login_uri, first, last, password, start)
    }

    /// Starts the region described by `cfg` (e.g. [`SimConfig::loopback`]) and waits until it
    /// listens.
    ///
    /// # Errors
    /// [`EmbeddedError`] when it cannot start.
    pub fn start(cfg: SimConfig) -> Result<EmbeddedSim, EmbeddedError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("overlook-sim")
            .enable_all()
            .build()?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("overlook-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match server::start(cfg).await {
                        Ok(sim) => {
                            let account = sim
                                .accounts
                                .first()
                                .map(|a| (a.first.clone(), a.last.clone(), a.password.clone()));
                            let _ = ready_tx.send(Ok((
                                sim.login_uri.clone(),
                                sim.info.name.clone(),
                                account.unwrap_or_default(),
                            )));
                            let _ = stop_rx.await;
                            sim.shutdown();
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let (login_uri, region_name, account) =
            ready_rx.recv().map_err(|_| EmbeddedError::Died)??;
        Ok(EmbeddedSim {
            login_uri,
            region_name,
            account,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for EmbeddedSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a region archive for the embedded region (`--oar`) within the default limits, and
/// says on standard error what it holds: objects, assets, terrain, the time it took, what was
/// skipped, and the textures and meshes it names but lacks (the region answers 404 for those).
///
/// # Errors
/// The file cannot be opened, or the archive is malformed, unsafe or over a limit.
pub fn load_oar(path: &std::path::Path) -> Result<std::sync::Arc<overlook_sim::oar::Oar>, String> {
    use overlook_sim::oar::{OarLimits, read_oar};
    let started = std::time::Instant::now();
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let oar = read_oar(std::io::BufReader::new(file), &OarLimits::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (x, y) = oar.region_size.unwrap_or((256, 256));
    eprintln!(
        "{}: {x}x{y} m, {} objects ({} prims), {} assets, terrain {}; read in {:.0} ms",
        path.display(),
        oar.stats.groups,
        oar.objects.len(),
        oar.assets.len(),
        if oar.terrain.is_some() {
            "from the archive"
        } else {
            "none (the region's own instead)"
        },
        started.elapsed().as_secs_f64() * 1000.0
    );
    for p in oar.problems.iter().take(20) {
        eprintln!("  skipped: {p}");
    }
    if oar.problems.len() > 20 {
        eprintln!("  … and {} more skipped", oar.problems.len() - 20);
    }
    let missing = oar.missing_assets();
    if !missing.is_empty() {
        let named: Vec<String> = missing
            .iter()
            .take(8)
            .map(|(id, kind)| format!("{id} ({kind:?})"))
            .collect();
        eprintln!(
            "  {} textures and meshes named but not in the archive (answered 404): {}{}",
            missing.len(),
            named.join(", "),
            if missing.len() > 8 { ", …" } else { "" }
        );
    }
    Ok(std::sync::Arc::new(oar))
}
