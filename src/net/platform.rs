//! What the network task needs from where it runs, in one place: timers, blocking work and the
//! circuit's datagram socket.
//!
//! - **Desktop:** tokio's timers and `spawn_blocking` on the network thread's runtime, and a UDP
//!   socket.
//! - **Browser** (`wasm32`): one thread and no sockets. Timers are `setTimeout`, blocking work
//!   runs inline, and datagrams travel over the relay's WebSocket (`/relay/ws`, each message a
//!   datagram behind its sim's address: [`overlook_protocol::relay`]), opened with the token the
//!   relayed login reply carries.
//!
//! Everything above this module (the session, the asset fetchers) is the same code on both.

use std::net::SocketAddr;
use std::time::Duration;

use web_time::Instant;

#[cfg(target_arch = "wasm32")]
pub(super) use browser::*;
#[cfg(not(target_arch = "wasm32"))]
pub(super) use desktop::*;

/// Sleeps until `deadline` (at once when it has passed).
pub(super) async fn sleep_until(deadline: Instant) {
    sleep(deadline.saturating_duration_since(Instant::now())).await;
}

#[cfg(not(target_arch = "wasm32"))]
mod desktop {
    use super::*;

    /// Sleeps for `duration`.
    pub(in crate::net) async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    /// Runs `work` off the network thread (file I/O); `None` if it panicked.
    pub(in crate::net) async fn blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        tokio::task::spawn_blocking(work).await.ok()
    }

    /// The circuit's socket: UDP.
    #[derive(Debug)]
    pub(in crate::net) struct Datagrams(tokio::net::UdpSocket);

    impl Datagrams {
        /// Opens a UDP socket on every interface, any port (the login reply is not needed).
        pub(in crate::net) async fn open(_login_reply: &[u8]) -> Result<Self, String> {
            tokio::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
                .await
                .map(Datagrams)
                .map_err(|e| format!("cannot open a UDP socket: {e}"))
        }

        /// Sends one datagram to `to`.
        pub(in crate::net) async fn send_to(
            &self,
            bytes: &[u8],
            to: SocketAddr,
        ) -> Result<(), String> {
            self.0
                .send_to(bytes, to)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }

        /// The next datagram, into `buf`: its length and sender.
        pub(in crate::net) async fn recv_from(
            &mut self,
            buf: &mut [u8],
        ) -> Result<(usize, SocketAddr), String> {
            self.0.recv_from(buf).await.map_err(|e| e.to_string())
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::*;

    use tokio::sync::mpsc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    /// Sleeps for `duration` (`setTimeout`).
    pub(in crate::net) async fn sleep(duration: Duration) {
        let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    /// Runs `work` at once: the page has one thread.
    pub(in crate::net) async fn blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        Some(work())
    }

    /// What the WebSocket's callbacks report.
    enum SocketNews {
        Open,
        Frame(Vec<u8>),
        Closed(String),
    }

    /// The circuit's socket: the relay's WebSocket. Closing it (dropping this) ends the relay
    /// session.
    pub(in crate::net) struct Datagrams {
        socket: web_sys::WebSocket,
        news: mpsc::UnboundedReceiver<SocketNews>,
        // Kept alive while the socket is: the callbacks the browser calls.
        _callbacks: [Closure<dyn FnMut(web_sys::Event)>; 3],
    }

    impl std::fmt::Debug for Datagrams {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Datagrams").finish_non_exhaustive()
        }
    }

    impl Drop for Datagrams {
        fn drop(&mut self) {
            let _ = self.socket.close();
        }
    }

    /// `ws://` or `wss://` for the page's own origin, with `path`.
    fn websocket_url(path: &str) -> Result<String, String> {
        let location = web_sys::window().ok_or("no window")?.location();
        let protocol = location.protocol().map_err(|_| "no page protocol")?;
        let host = location.host().map_err(|_| "no page host")?;
        let scheme = if protocol == "https:" { "wss" } else { "ws" };
        Ok(format!("{scheme}://{host}{path}"))
    }

    impl Datagrams {
        /// Opens the relay's WebSocket for the session the relayed login reply names, and waits
        /// until it is open.
        pub(in crate::net) async fn open(login_reply: &[u8]) -> Result<Self, String> {
            let token = overlook_protocol::relay::session_token(login_reply).ok_or(
                "the login reply has no relay session: log in through `overlook web`'s relay",
            )?;
            let url = websocket_url(&format!("/relay/ws?session={token}"))?;
            let socket = web_sys::WebSocket::new(&url)
                .map_err(|e| format!("cannot open the relay's WebSocket: {e:?}"))?;
            socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
            let (tx, news) = mpsc::unbounded_channel();
            let on_open = {
                let tx = tx.clone();
                Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                    let _ = tx.send(SocketNews::Open);
                })
            };
            let on_message = {
                let tx = tx.clone();
                Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                    if let Some(message) = event.dyn_ref::<web_sys::MessageEvent>()
                        && let Ok(buffer) = message.data().dyn_into::<js_sys::ArrayBuffer>()
                    {
                        let _ =
                            tx.send(SocketNews::Frame(js_sys::Uint8Array::new(&buffer).to_vec()));
                    }
                })
            };
            let on_close =
                Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                    let why = event
                        .dyn_ref::<web_sys::CloseEvent>()
                        .map(|c| {
                            format!(
                                "the relay closed the circuit's WebSocket ({} {})",
                                c.code(),
                                c.reason()
                            )
                        })
                        .unwrap_or_else(|| "the relay's WebSocket failed".to_owned());
                    let _ = tx.send(SocketNews::Closed(why));
                });
            socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            let mut datagrams = Datagrams {
                socket,
                news,
                _callbacks: [on_open, on_message, on_close],
            };
            match datagrams.news.recv().await {
                Some(SocketNews::Open) => Ok(datagrams),
                Some(SocketNews::Closed(why)) => Err(why),
                _ => Err("the relay's WebSocket did not open".into()),
            }
        }

        /// Sends one datagram to `to` through the relay.
        pub(in crate::net) async fn send_to(
            &self,
            bytes: &[u8],
            to: SocketAddr,
        ) -> Result<(), String> {
            let frame = overlook_protocol::relay::encode_frame(to, bytes)
                .ok_or_else(|| format!("{to}: the relay carries IPv4 only"))?;
            self.socket
                .send_with_u8_array(&frame)
                .map_err(|e| format!("{e:?}"))
        }

        /// The next datagram, into `buf`: its length and sender. A closed socket is an error
        /// once; then nothing more comes, and the circuit's timers end the session.
        pub(in crate::net) async fn recv_from(
            &mut self,
            buf: &mut [u8],
        ) -> Result<(usize, SocketAddr), String> {
            loop {
                match self.news.recv().await {
                    Some(SocketNews::Frame(frame)) => {
                        let Some((from, datagram)) = overlook_protocol::relay::decode_frame(&frame)
                        else {
                            continue;
                        };
                        let n = datagram.len().min(buf.len());
                        buf[..n].copy_from_slice(&datagram[..n]);
                        return Ok((n, from));
                    }
                    Some(SocketNews::Open) => {}
                    Some(SocketNews::Closed(why)) => return Err(why),
                    None => {
                        // Every sender is gone: nothing more will come.
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}
