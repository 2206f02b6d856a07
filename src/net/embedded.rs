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
