//! The `overlook` binary: on the desktop its command line ([`cli`]: the viewer and its tools);
//! built for `wasm32-unknown-unknown` (`web/build.sh`), the viewer in a page
//! ([`overlook::browser`]).

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {
    overlook::browser::run();
}

/// The page's way in for a recording (its file picker, drag and drop, `?replay=URL`): the
/// `NAME.udp.jsonl` and, when given, its `NAME.login-response.xml`.
///
/// # Errors
/// What could not be read, as text for the page to show.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn replay(recording: &[u8], login_reply: Option<Vec<u8>>) -> Result<(), String> {
    overlook::browser::queue_replay(recording, login_reply.as_deref())
}
