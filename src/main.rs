//! The `overlook` binary: the viewer (default) and its tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Overlook: a small, fast viewer for OpenSimulator and Second Life-protocol grids.
#[derive(Debug, Parser)]
#[command(name = "overlook", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the viewer window (the default).
    View,
    /// Decode captured LLUDP traffic (a `udp.jsonl` file) and print every message.
    Replay {
        /// The capture, one JSON object per datagram: {"t", "dir", "hex"}.
        file: PathBuf,
        /// Print message counts per direction instead of every message.
        #[arg(long)]
        summary: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::View) {
        Command::View => {
            overlook::viewer::app().run();
            ExitCode::SUCCESS
        }
        Command::Replay { file, summary } => {
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
