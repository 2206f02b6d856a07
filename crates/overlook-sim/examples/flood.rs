//! The `RequestMultipleObjects` flood of issue 14 over real sockets: one logged-in client asks
//! for 255 objects `--rate` times a second for `--seconds`, and the bytes each way are counted.
//!
//! ```sh
//! # against the embedded region, started in this process
//! cargo run -p overlook-sim --release --example flood -- --embedded --seconds 10 --rate 100
//! # against a grid (OpenSim on loopback), sampling its process's memory
//! cargo run -p overlook-sim --release --example flood -- --login http://127.0.0.1:9000/ \
//!     --first Test --last User --password test --start 'uri:Test Region&128&128&30' \
//!     --seconds 10 --rate 100 --watch-pid "$(pgrep -f OpenSim.exe | head -1)" [--no-ack]
//! ```
//!
//! It logs in over HTTP (a hand-written HTTP/1.1 POST; loopback only needs that much), requests
//! the seed capability (a region sends objects after it), drives the protocol crate's
//! [`Circuit`] over a `std::net::UdpSocket` until the scene settles, and collects the local ids
//! of the objects it saw. Then, for `--seconds`, it sends `--rate` reliable
//! `RequestMultipleObjects` a second, each for 255 of those ids (repeated when fewer are known).
//! By default it keeps driving the circuit (acks, pings); with `--no-ack` it only reads and
//! counts what arrives during the flood (no acks, no pings), sending the requests itself with
//! sequence numbers far above the circuit's. After the flood it drains for `--drain` seconds
//! with the circuit driven normally again, then logs out.
//!
//! Bytes are UDP payload bytes, counted per phase (login, flood, drain). "In" and "out" are the
//! region's: in = what this client sent, out = what the region sent it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use overlook_protocol::circuit::{Circuit, CircuitConfig, DisconnectReason, Event, Phase};
use overlook_protocol::login::{
    LoginReply, LoginRequest, StartLocation, parse_login_response, seed_request_xml,
};
use overlook_protocol::message::object::RequestMultipleObjects;
use overlook_protocol::message::{AgentIds, Message, MessageRepr};
use overlook_protocol::udp::{self, PacketRepr, flags};
use overlook_sim::region::AgentLoad;
use overlook_sim::server::{RunningSim, SimConfig};
use web_time::Instant;

type BoxError = Box<dyn std::error::Error>;

/// Ids per request: the most one `RequestMultipleObjects` block count holds.
const IDS_PER_REQUEST: usize = 255;
/// The capabilities asked of the seed (as the viewer does).
const SEED_CAPS: [&str; 4] = [
    "EventQueueGet",
    "SimulatorFeatures",
    "GetTexture",
    "GetMesh",
];

#[derive(Debug)]
struct Args {
    login: String,
    first: String,
    last: String,
    password: String,
    start: String,
    seconds: u32,
    rate: u32,
    drain: u32,
    no_ack: bool,
    embedded: bool,
    watch_pid: Option<u32>,
}

const USAGE: &str = "usage: flood [--embedded | --login URI] [--first F] [--last L] \
[--password P] [--start S] [--seconds 10] [--rate 100] [--drain 3] [--no-ack] [--watch-pid PID]";

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        login: "http://127.0.0.1:9000/".to_owned(),
        first: "Test".to_owned(),
        last: "User".to_owned(),
        password: "test".to_owned(),
        start: "last".to_owned(),
        seconds: 10,
        rate: 100,
        drain: 3,
        no_ack: false,
        embedded: false,
        watch_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--login" => a.login = value()?,
            "--first" => a.first = value()?,
            "--last" => a.last = value()?,
            "--password" => a.password = value()?,
            "--start" => a.start = value()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--rate" => a.rate = value()?.parse()?,
            "--drain" => a.drain = value()?.parse()?,
            "--watch-pid" => a.watch_pid = Some(value()?.parse()?),
            "--no-ack" => a.no_ack = true,
            "--embedded" => a.embedded = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    if a.rate == 0 {
        return Err("--rate must be at least 1".into());
    }
    Ok(a)
}

/// `VmRSS` and `VmHWM` of a process, KiB (`None` where `/proc` cannot be read).
fn memory(pid: Option<u32>) -> Option<(u64, u64)> {
    let path = pid.map_or_else(
        || "/proc/self/status".to_owned(),
        |p| format!("/proc/{p}/status"),
    );
    let text = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn memory_text(pid: Option<u32>) -> String {
    match memory(pid) {
        Some((rss, hwm)) => format!("VmRSS {rss} KiB, VmHWM {hwm} KiB"),
        None => "unreadable".to_owned(),
    }
}

/// Posts `body` to an `http://host:port/path` URL and returns the reply's body.
fn http_post(url: &str, content_type: &str, body: &str) -> Result<Vec<u8>, BoxError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported: {url}"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    // One write: OpenSim's HTTP server answers "400 invalid request line" to a request line
    // that arrives in pieces.
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    stream.take(16 * 1024 * 1024).read_to_end(&mut reply)?;
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of the HTTP header")?;
    let (head, rest) = reply.split_at(split);
    let payload = rest.get(4..).unwrap_or_default();
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        return Err(format!("{url} answered {status}").into());
    }
    if head.contains("transfer-encoding: chunked") {
        dechunk(payload)
    } else {
        Ok(payload.to_vec())
    }
}

/// Decodes a chunked HTTP/1.1 body.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, BoxError> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let (line, rest) = data.split_at(line_end);
        let size_text = String::from_utf8_lossy(line);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)?;
        let rest = rest.get(2..).ok_or("bad chunk")?;
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(rest.get(..size).ok_or("truncated chunk")?);
        data = rest.get(size + 2..).ok_or("truncated chunk")?;
    }
}

/// Traffic of one phase, seen from the region: in = what we sent, out = what it sent us.
#[derive(Debug, Default, Clone)]
struct Tally {
    in_bytes: u64,
    in_datagrams: u64,
    out_bytes: u64,
    out_datagrams: u64,
    /// Datagrams the region marked as resent.
    out_resent: u64,
    /// Object blocks (full, compressed) in datagrams that were not resends.
    object_blocks: u64,
    /// Requests we sent.
    requests: u64,
    /// Datagrams and bytes by message name.
    by_message: BTreeMap<&'static str, (u64, u64)>,
}

/// Lossy on purpose: figures for a report.
#[allow(clippy::as_conversions, reason = "u64 counts printed as f64 ratios")]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Tally {
    fn print(&self, label: &str, secs: u32) {
        let s = u64::from(secs.max(1));
        println!(
            "{label}: in {} B in {} datagrams ({} B/s, {} requests); out {} B in {} datagrams \
             ({} B/s, {} marked resent, {} object blocks); amplification {:.1}x",
            self.in_bytes,
            self.in_datagrams,
            self.in_bytes / s,
            self.requests,
            self.out_bytes,
            self.out_datagrams,
            self.out_bytes / s,
            self.out_resent,
            self.object_blocks,
            ratio(self.out_bytes, self.in_bytes),
        );
        let mut by: Vec<_> = self.by_message.iter().collect();
        by.sort_by_key(|(_, (_, bytes))| std::cmp::Reverse(*bytes));
        for (name, (n, bytes)) in by.into_iter().take(8) {
            println!("    {name}: {n} datagrams, {bytes} B");
        }
    }
}

struct Client {
    socket: UdpSocket,
    circuit: Circuit,
    ids: AgentIds,
    tally: Tally,
    /// Local ids of every object seen.
    objects: BTreeSet<u32>,
    phases: BTreeSet<Phase>,
    disconnected: Option<DisconnectReason>,
    kicked: Option<String>,
    buf: Vec<u8>,
}

impl Client {
    fn send_raw(&mut self, datagram: &[u8]) -> std::io::Result<()> {
        match self.socket.send(datagram) {
            Ok(_) => {}
            // A closed port answers with ICMP; the next send reports it. Not fatal.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
        self.tally.in_bytes += u64::try_from(datagram.len()).unwrap_or(u64::MAX);
        self.tally.in_datagrams += 1;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        while let Some(d) = self.circuit.poll_transmit() {
            self.send_raw(&d)?;
        }
        Ok(())
    }

    fn events(&mut self) {
        while let Some(ev) = self.circuit.poll_event() {
            match ev {
                Event::Phase { phase, .. } => {
                    self.phases.insert(phase);
                }
                Event::Disconnected(reason) => self.disconnected = Some(reason),
                Event::Message(_) => {}
            }
        }
    }

    /// Counts one received datagram and notes the objects in it, without the circuit.
    fn tally_received(&mut self, data: &[u8]) {
        self.tally.out_bytes += u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.tally.out_datagrams += 1;
        let Ok(packet) = udp::decode(data) else {
            let e = self.tally.by_message.entry("undecodable").or_default();
            e.0 += 1;
            return;
        };
        let resent = packet.flags & flags::RESENT != 0;
        if resent {
            self.tally.out_resent += 1;
        }
        let Ok(msg) = Message::parse(packet.message, &packet.body) else {
            let e = self.tally.by_message.entry("unparsed").or_default();
            e.0 += 1;
            e.1 += u64::try_from(data.len()).unwrap_or(u64::MAX);
            return;
        };
        let e = self.tally.by_message.entry(msg.name()).or_default();
        e.0 += 1;
        e.1 += u64::try_from(data.len()).unwrap_or(u64::MAX);
        let blocks = match msg {
            Message::ObjectUpdate(u) => {
                self.objects.extend(u.objects.iter().map(|o| o.id));
                u.objects.len()
            }
            Message::ObjectUpdateCompressed(u) => {
                self.objects.extend(
                    u.objects
                        .iter()
                        .filter_map(|b| b.object().ok())
                        .map(|o| o.local_id),
                );
                u.objects.len()
            }
            Message::ObjectUpdateCached(u) => {
                self.objects.extend(u.objects.iter().map(|o| o.id));
                0
            }
            Message::KickUser(k) => {
                self.kicked = Some(format!("{k:?}"));
                0
            }
            _ => 0,
        };
        if !resent {
            self.tally.object_blocks += u64::try_from(blocks).unwrap_or(u64::MAX);
        }
    }

    /// Waits up to `wait` for one datagram; counts it, and hands it to the circuit if
    /// `process`. Returns whether one came.
    fn receive(&mut self, wait: Duration, process: bool) -> std::io::Result<bool> {
        self.socket
            .set_read_timeout(Some(wait.max(Duration::from_micros(100))))?;
        let n = match self.socket.recv(&mut self.buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let data = self.buf.get(..n).unwrap_or_default().to_vec();
        self.tally_received(&data);
        if process {
            self.circuit.handle_datagram(Instant::now(), &data);
        }
        Ok(true)
    }

    /// Drives the circuit until `deadline`, `done` or the circuit closes.
    fn pump(&mut self, deadline: Instant, done: impl Fn(&Client) -> bool) -> std::io::Result<()> {
        loop {
            let now = Instant::now();
            self.circuit.handle_timeout(now);
            self.flush()?;
            self.events();
            if done(self) || now >= deadline || self.circuit.is_closed() {
                return Ok(());
            }
            let wake = self
                .circuit
                .poll_timeout()
                .map_or(deadline, |t| t.min(deadline));
            self.receive(wake.saturating_duration_since(now), true)?;
        }
    }

    /// A `RequestMultipleObjects` for 255 of the known ids.
    fn request(&self) -> Result<RequestMultipleObjects, BoxError> {
        if self.objects.is_empty() {
            return Err("no objects seen: nothing to request".into());
        }
        let ids: Vec<u32> = self
            .objects
            .iter()
            .copied()
            .cycle()
            .take(IDS_PER_REQUEST)
            .collect();
        Ok(RequestMultipleObjects::cache_misses(self.ids, &ids))
    }

    /// The flood: `rate` requests a second for `secs` seconds.
    fn flood(&mut self, secs: u32, rate: u32, no_ack: bool) -> Result<(), BoxError> {
        let msg = self.request()?;
        let body = msg.to_bytes()?;
        let step = Duration::from_secs(1) / rate;
        let start = Instant::now();
        let end = start + Duration::from_secs(u64::from(secs));
        let mut next = start;
        // Far above the circuit's own numbers (it has sent a few dozen packets by now).
        let mut sequence: u32 = 0x0010_0000;
        loop {
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            while next <= now {
                if no_ack {
                    let datagram = PacketRepr {
                        flags: flags::RELIABLE,
                        sequence,
                        message: RequestMultipleObjects::ID,
                        body: body.clone().into(),
                        acks: vec![],
                    }
                    .to_vec();
                    sequence = sequence.wrapping_add(1);
                    self.send_raw(&datagram)?;
                } else {
                    self.circuit.send(now, &msg, true)?;
                }
                self.tally.requests += 1;
                next += step;
            }
            let mut wake = next.min(end);
            if !no_ack {
                self.circuit.handle_timeout(now);
                self.flush()?;
                self.events();
                if let Some(t) = self.circuit.poll_timeout() {
                    wake = wake.min(t);
                }
            }
            self.receive(wake.saturating_duration_since(now), !no_ack)?;
        }
    }
}

fn log_in(args: &Args, login_uri: &str) -> Result<Client, BoxError> {
    let login_sent = Instant::now();
    let start = StartLocation::from_start_string(&args.start);
    let request = LoginRequest::new(&args.first, &args.last, &args.password, start);
    let reply = http_post(login_uri, "text/xml", &request.to_xml())?;
    let login = match parse_login_response(&reply)? {
        LoginReply::Success(s) => s,
        LoginReply::Refused { reason, message } => {
            return Err(format!("login refused ({reason}): {message}").into());
        }
        LoginReply::Indeterminate { next_url, .. } => {
            return Err(format!("login redirected to {next_url}").into());
        }
    };
    println!(
        "logged in as {} {} ({}); region at {}:{}",
        login.first_name, login.last_name, login.agent_id, login.sim_ip, login.sim_port
    );
    if !login.seed_capability.is_empty() {
        match http_post(
            &login.seed_capability,
            "application/llsd+xml",
            &seed_request_xml(&SEED_CAPS),
        ) {
            Ok(_) => println!("seed capability granted"),
            Err(e) => println!("seed capability request failed: {e}"),
        }
    }
    let mut cfg = CircuitConfig::new(login.agent_id, login.session_id, login.circuit_code);
    cfg.region_size_x = login.region_size_x;
    cfg.region_size_y = login.region_size_y;
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.connect(SocketAddr::from((login.sim_ip, login.sim_port)))?;
    let ids = AgentIds {
        agent_id: login.agent_id,
        session_id: login.session_id,
    };
    Ok(Client {
        socket,
        circuit: Circuit::new(cfg, login_sent, Instant::now()),
        ids,
        tally: Tally::default(),
        objects: BTreeSet::new(),
        phases: BTreeSet::new(),
        disconnected: None,
        kicked: None,
        buf: vec![0; 0x4000],
    })
}

fn print_loads(sim: Option<&RunningSim>, when: &str) {
    if let Some(sim) = sim {
        for AgentLoad {
            unacked_packets,
            unacked_bytes,
            queued_packets,
            queued_bytes,
            queued_objects,
            dropped_requests,
            coalesced_requests,
            dropped_packets,
            total_rate,
            ..
        } in sim.agent_loads()
        {
            println!(
                "  region's load {when}: {unacked_packets} unacked ({unacked_bytes} B), \
                 {queued_packets} queued ({queued_bytes} B), {queued_objects} objects queued, \
                 {dropped_requests} requests dropped, {coalesced_requests} coalesced, \
                 {dropped_packets} packets dropped, rate {total_rate:.0} B/s"
            );
        }
    }
}

fn run(args: &Args, login_uri: &str, sim: Option<&RunningSim>) -> Result<(), BoxError> {
    let watched = |label: &str| {
        println!("memory {label}: this process {}", memory_text(None));
        if let Some(pid) = args.watch_pid {
            println!("memory {label}: pid {pid} {}", memory_text(Some(pid)));
        }
    };
    watched("before login");
    let mut client = log_in(args, login_uri)?;
    // The handshake, then the scene until it settles (at most 30 s).
    client.pump(Instant::now() + Duration::from_secs(30), |c| {
        c.phases.contains(&Phase::ObjectsSettled) && c.phases.contains(&Phase::MovementComplete)
    })?;
    if let Some(reason) = &client.disconnected {
        return Err(format!("disconnected before the flood: {reason}").into());
    }
    // A moment more, so the last probes and updates are in.
    client.pump(Instant::now() + Duration::from_secs(1), |_| false)?;
    let login_tally = std::mem::take(&mut client.tally);
    login_tally.print("login", 1);
    println!(
        "phases: {:?}; {} objects known",
        client.phases,
        client.objects.len()
    );
    watched("before the flood");
    print_loads(sim, "before the flood");

    let mode = if args.no_ack { "no acks" } else { "acking" };
    println!(
        "flooding: {} requests/s for {} s, {IDS_PER_REQUEST} ids each, {mode}",
        args.rate, args.seconds
    );
    client.flood(args.seconds, args.rate, args.no_ack)?;
    let flood = std::mem::take(&mut client.tally);
    flood.print(&format!("flood ({mode})"), args.seconds);
    watched("after the flood");
    print_loads(sim, "after the flood");

    client.pump(
        Instant::now() + Duration::from_secs(u64::from(args.drain)),
        |_| false,
    )?;
    let drain = std::mem::take(&mut client.tally);
    drain.print("drain (acking)", args.drain);
    watched("after the drain");
    print_loads(sim, "after the drain");
    if let Some(k) = &client.kicked {
        println!("the region kicked us: {k}");
    }
    if let Some(reason) = &client.disconnected {
        println!("circuit closed before logout: {reason}");
    } else {
        client.circuit.logout(Instant::now());
        client.pump(Instant::now() + Duration::from_secs(6), |c| {
            c.disconnected.is_some()
        })?;
        match &client.disconnected {
            Some(reason) => println!("logout: {reason}"),
            None => println!("logout: no answer"),
        }
    }
    println!(
        "whole flood window: amplification {:.1}x (flood + drain: {:.1}x)",
        ratio(flood.out_bytes, flood.in_bytes),
        ratio(
            flood.out_bytes + drain.out_bytes,
            flood.in_bytes + drain.in_bytes
        )
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    if args.embedded {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let sim = runtime.block_on(overlook_sim::server::start(SimConfig::loopback()))?;
        println!("embedded region at {}, login {}", sim.udp, sim.login_uri);
        let login = sim.login_uri.clone();
        let result = run(&args, &login, Some(&sim));
        sim.shutdown();
        result
    } else {
        run(&args, &args.login, None)
    }
}
