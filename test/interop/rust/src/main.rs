//! Interop peer for the libp2p-stream test matrix, built on rust-libp2p and
//! the `libp2p-stream` crate.
//!
//! See `../README.md` for the command-line interface.

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    error::Error,
    future::Future,
    io::{self, Write as _},
    process,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::{
    Multiaddr, PeerId, Stream, StreamProtocol,
    core::{Endpoint, Transport as _, transport::PortUse, upgrade},
    multiaddr::Protocol,
    noise,
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, Swarm, SwarmEvent, THandler,
        THandlerInEvent, THandlerOutEvent, ToSwarm, behaviour::PeerAddresses, dummy,
    },
    tcp, tls, yamux,
};
use libp2p_stream::{Control, OpenStreamError};
use libp2p_websocket as websocket;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

const ECHO: StreamProtocol = StreamProtocol::new("/interop/echo/1.0.0");
const LP: StreamProtocol = StreamProtocol::new("/interop/lp/1.0.0");
const V1: StreamProtocol = StreamProtocol::new("/interop/v/1.0.0");
const V2: StreamProtocol = StreamProtocol::new("/interop/v/2.0.0");
const BACKLOG: StreamProtocol = StreamProtocol::new("/interop/backlog/1.0.0");
const NOPE: StreamProtocol = StreamProtocol::new("/interop/nope/1.0.0");

/// The transports of `--transport`: TCP + noise + yamux (the default), TCP +
/// TLS + yamux, WebSockets + noise + yamux, and QUIC v1.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Tls,
    Ws,
    Quic,
}

impl Transport {
    fn parse(v: &str) -> Result<Self, String> {
        match v {
            "tcp" => Ok(Self::Tcp),
            "tls" => Ok(Self::Tls),
            "ws" => Ok(Self::Ws),
            "quic" => Ok(Self::Quic),
            _ => Err(format!(
                "unknown --transport {v:?} (expected tcp, tls, ws or quic)"
            )),
        }
    }

    /// The loopback address a peer of this transport listens on.
    fn listen_addr(self) -> &'static str {
        match self {
            Self::Tcp | Self::Tls => "/ip4/127.0.0.1/tcp/0",
            Self::Ws => "/ip4/127.0.0.1/tcp/0/ws",
            Self::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
        }
    }
}
const CASES: &[&str] = &[
    "echo",
    "concurrent",
    "lp",
    "versions",
    "unsupported",
    "backlog",
    "bench-echo",
    "bench-open",
];
/// Largest length-prefixed message accepted by the `lp` server.
const MAX_LP_MESSAGE: usize = 4 * 1024 * 1024;
/// Streams the `backlog` server keeps open (unread); later ones are reset.
const BACKLOG_HELD: usize = 2;

const EXIT_FAILED: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_TIMEOUT: i32 = 124;

const USAGE: &str = "usage:
  rust-peer listen [--transport T] [--timeout SECONDS]
  rust-peer dial <multiaddr-with-/p2p/> <case> [--transport T] [--by-peer-id]
                  [--timeout SECONDS] [--bytes N] [--count N]
cases: echo, concurrent, lp, versions, unsupported, backlog, bench-echo, bench-open
  --transport: tcp (TCP + noise + yamux, the default), tls (TCP + TLS + yamux),
               ws (WebSockets + noise + yamux) or quic (QUIC v1)
  --bytes: bytes bench-echo sends (default 67108864)
  --count: streams bench-open opens (default 2000)";

macro_rules! log {
    ($($arg:tt)*) => { eprintln!("rust-peer: {}", format_args!($($arg)*)) };
}

// ---------------------------------------------------------------------------
// Command line

enum Mode {
    Listen,
    Dial {
        addr: Multiaddr,
        case: String,
        by_peer_id: bool,
    },
}

struct Args {
    mode: Mode,
    transport: Transport,
    timeout: Duration,
    bench: BenchOptions,
}

/// Sizes of the `bench-echo` and `bench-open` cases.
#[derive(Clone, Copy)]
struct BenchOptions {
    /// `bench-echo`: bytes sent (and echoed).
    bytes: usize,
    /// `bench-open`: streams opened one after another.
    count: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            bytes: 64 * 1024 * 1024,
            count: 2000,
        }
    }
}

fn parse_count(name: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("invalid --{name} value {v:?} (a positive integer)")),
    }
}

fn parse_args(raw: Vec<String>) -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut timeout = Duration::from_secs(60);
    let mut by_peer_id = false;
    let mut transport = Transport::Tcp;
    let mut bench = BenchOptions::default();
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--by-peer-id" => by_peer_id = true,
            "--timeout" => {
                let v = it.next().ok_or("--timeout needs a value")?;
                timeout = parse_timeout(&v)?;
            }
            s if s.starts_with("--timeout=") => timeout = parse_timeout(&s["--timeout=".len()..])?,
            "--transport" => {
                let v = it.next().ok_or("--transport needs a value")?;
                transport = Transport::parse(&v)?;
            }
            s if s.starts_with("--transport=") => {
                transport = Transport::parse(&s["--transport=".len()..])?
            }
            "--bytes" => {
                let v = it.next().ok_or("--bytes needs a value")?;
                bench.bytes = parse_count("bytes", &v)?;
            }
            "--count" => {
                let v = it.next().ok_or("--count needs a value")?;
                bench.count = parse_count("count", &v)?;
            }
            s if s.starts_with("--bytes=") => {
                bench.bytes = parse_count("bytes", &s["--bytes=".len()..])?
            }
            s if s.starts_with("--count=") => {
                bench.count = parse_count("count", &s["--count=".len()..])?
            }
            "-h" | "--help" => return Err("help".into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => positional.push(arg),
        }
    }
    let mode = match positional.first().map(String::as_str) {
        Some("listen") if positional.len() == 1 => {
            if by_peer_id {
                return Err("--by-peer-id is only valid with dial".into());
            }
            Mode::Listen
        }
        Some("dial") if positional.len() == 3 => {
            let addr: Multiaddr = positional[1]
                .parse()
                .map_err(|e| format!("invalid multiaddr {:?}: {e}", positional[1]))?;
            let case = positional[2].clone();
            if !CASES.contains(&case.as_str()) {
                return Err(format!("unknown case {case:?}"));
            }
            Mode::Dial {
                addr,
                case,
                by_peer_id,
            }
        }
        _ => return Err("wrong arguments".into()),
    };
    Ok(Args {
        mode,
        transport,
        timeout,
        bench,
    })
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    let secs: f64 = v
        .parse()
        .map_err(|_| format!("invalid --timeout value {v:?}"))?;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("invalid --timeout value {v:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn print_json(v: &Value) {
    let mut out = io::stdout().lock();
    // A closed stdout cannot be reported anywhere but stderr.
    if let Err(e) = writeln!(out, "{v}").and_then(|()| out.flush()) {
        log!("cannot write to stdout: {e}");
    }
}

// ---------------------------------------------------------------------------
// Swarm

/// Remembers addresses given through `Swarm::add_peer_address` and offers them
/// when a dial by peer id only is started (as `libp2p-stream` does when no
/// connection exists).
#[derive(Default)]
struct AddressBook {
    addresses: PeerAddresses,
}

impl NetworkBehaviour for AddressBook {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        Ok(peer
            .map(|p| self.addresses.get(&p).collect())
            .unwrap_or_default())
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.addresses.on_swarm_event(&event);
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    stream: libp2p_stream::Behaviour,
    addresses: AddressBook,
}

fn new_behaviour(_: &libp2p::identity::Keypair) -> Behaviour {
    Behaviour {
        stream: libp2p_stream::Behaviour::new(),
        addresses: AddressBook::default(),
    }
}

fn build_swarm(
    transport: Transport,
    idle_timeout: Duration,
) -> Result<Swarm<Behaviour>, Box<dyn Error>> {
    // Connections must not be closed as idle while a test is between streams:
    // keep them for the whole run.
    let config = |c: libp2p::swarm::Config| c.with_idle_connection_timeout(idle_timeout);
    // yamux::Config::default() allows 512 concurrent streams per connection and
    // QUIC's default 256, well above the 64 the `concurrent` case needs.
    let builder = libp2p::SwarmBuilder::with_new_identity().with_tokio();
    let swarm = match transport {
        Transport::Tcp => builder
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(new_behaviour)?
            .with_swarm_config(config)
            .build(),
        Transport::Tls => builder
            .with_tcp(
                tcp::Config::default(),
                tls::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(new_behaviour)?
            .with_swarm_config(config)
            .build(),
        // WebSockets over plain TCP, built by hand: the builder's
        // `with_websocket` also needs the `dns` feature, and the peers only
        // ever dial 127.0.0.1.
        Transport::Ws => builder
            .with_other_transport(|key| -> Result<_, Box<dyn Error + Send + Sync>> {
                Ok(
                    websocket::Config::new(tcp::tokio::Transport::new(tcp::Config::default()))
                        .upgrade(upgrade::Version::V1Lazy)
                        .authenticate(noise::Config::new(key)?)
                        .multiplex(yamux::Config::default()),
                )
            })
            .map_err(|e| e.to_string())?
            .with_behaviour(new_behaviour)?
            .with_swarm_config(config)
            .build(),
        Transport::Quic => builder
            .with_quic()
            .with_behaviour(new_behaviour)?
            .with_swarm_config(config)
            .build(),
    };
    Ok(swarm)
}

fn log_swarm_event(event: SwarmEvent<BehaviourEvent>) {
    match event {
        SwarmEvent::ConnectionEstablished {
            peer_id, endpoint, ..
        } => log!(
            "connection established with {peer_id} ({})",
            endpoint.get_remote_address()
        ),
        SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
            log!("connection with {peer_id} closed ({cause:?})")
        }
        SwarmEvent::IncomingConnectionError { error, .. } => {
            log!("incoming connection failed: {error}")
        }
        SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
            log!("outgoing connection to {peer_id:?} failed: {error}")
        }
        SwarmEvent::ListenerError { error, .. } => log!("listener error: {error}"),
        _ => {}
    }
}

/// Resolves when stdin reaches end-of-file (or fails).
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Main

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) => {
            if e != "help" {
                log!("{e}");
            }
            eprintln!("{USAGE}");
            process::exit(EXIT_USAGE);
        }
    };
    let code = match run(args).await {
        Ok(code) => code,
        Err(e) => {
            log!("error: {e}");
            EXIT_USAGE
        }
    };
    process::exit(code);
}

async fn run(args: Args) -> Result<i32, Box<dyn Error>> {
    let deadline = Instant::now() + args.timeout;
    let mut swarm = build_swarm(args.transport, args.timeout + Duration::from_secs(60))?;
    swarm.listen_on(args.transport.listen_addr().parse()?)?;

    let listen_addr = match tokio::time::timeout_at(deadline, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => return address,
                other => log_swarm_event(other),
            }
        }
    })
    .await
    {
        Ok(addr) => addr,
        Err(_) => {
            log!("timed out before a listen address was available");
            return Ok(EXIT_TIMEOUT);
        }
    };
    let local = *swarm.local_peer_id();
    let full = listen_addr
        .with_p2p(local)
        .map_err(|a| format!("listen address {a} has a foreign /p2p/"))?;
    print_json(&json!({ "peerId": local.to_string(), "addrs": [full.to_string()] }));
    log!("peer {local} listening on {full}");

    match args.mode {
        Mode::Listen => {
            let mut control = swarm.behaviour().stream.new_control();
            register_servers(&mut control)?;
            tokio::spawn(drive_swarm(swarm));
            tokio::select! {
                _ = stdin_closed() => {
                    log!("stdin closed, exiting");
                    Ok(0)
                }
                _ = tokio::time::sleep_until(deadline) => {
                    log!("timeout of {:?} reached, exiting", args.timeout);
                    Ok(EXIT_TIMEOUT)
                }
            }
        }
        Mode::Dial {
            addr,
            case,
            by_peer_id,
        } => {
            let target = DialTarget {
                addr,
                case: &case,
                by_peer_id,
                bench: args.bench,
            };
            dial(swarm, target, deadline, args.timeout).await
        }
    }
}

async fn drive_swarm(mut swarm: Swarm<Behaviour>) {
    loop {
        let event = swarm.select_next_some().await;
        log_swarm_event(event);
    }
}

/// What a `dial` run connects to and runs.
struct DialTarget<'a> {
    addr: Multiaddr,
    case: &'a str,
    by_peer_id: bool,
    bench: BenchOptions,
}

async fn dial(
    mut swarm: Swarm<Behaviour>,
    target: DialTarget<'_>,
    deadline: Instant,
    timeout: Duration,
) -> Result<i32, Box<dyn Error>> {
    let DialTarget {
        addr,
        case,
        by_peer_id,
        bench,
    } = target;
    let mut transport_addr = addr.clone();
    let peer = match transport_addr.pop() {
        Some(Protocol::P2p(peer)) => peer,
        _ => return Err(format!("address {addr} does not end with /p2p/<peer-id>").into()),
    };
    let control = swarm.behaviour().stream.new_control();

    let fail = |error: String| {
        print_json(&json!({ "case": case, "ok": false, "error": error }));
    };

    if by_peer_id {
        // Only tell the swarm where the peer is; `open_stream` dials by peer id.
        swarm.add_peer_address(peer, transport_addr);
        log!("added {addr} to the address book, opening streams by peer id");
    } else {
        swarm.dial(addr.clone())?;
        let connected = tokio::time::timeout_at(deadline, async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == peer => {
                        log!("connected to {peer_id}");
                        return Ok(());
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        return Err(format!("dial failed: {error}"));
                    }
                    other => log_swarm_event(other),
                }
            }
        })
        .await;
        match connected {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                log!("{e}");
                fail(e);
                return Ok(EXIT_FAILED);
            }
            Err(_) => {
                log!("timeout of {timeout:?} reached while dialing");
                fail("timeout".into());
                return Ok(EXIT_TIMEOUT);
            }
        }
    }
    tokio::spawn(drive_swarm(swarm));

    let result = tokio::select! {
        r = run_case(control, peer, case, bench) => r,
        _ = stdin_closed() => {
            log!("stdin closed before case {case} finished, aborting");
            fail("aborted: stdin closed".into());
            return Ok(EXIT_FAILED);
        }
        _ = tokio::time::sleep_until(deadline) => {
            log!("timeout of {timeout:?} reached during case {case}");
            fail("timeout".into());
            return Ok(EXIT_TIMEOUT);
        }
    };
    let ok = result.get("ok").and_then(Value::as_bool) == Some(true);
    if !ok {
        log!("case {case} failed: {result}");
    }
    print_json(&result);
    Ok(if ok { 0 } else { EXIT_FAILED })
}

// ---------------------------------------------------------------------------
// Servers (listen mode)

fn register_servers(control: &mut Control) -> Result<(), Box<dyn Error>> {
    serve(control, ECHO, serve_echo)?;
    serve(control, LP, serve_lp)?;
    serve(control, V1, |s| serve_version(s, V1))?;

    // Backlog emulation for local runs: per remote peer, hold the first
    // streams unread and reset every later one by dropping it.
    let mut incoming = control.accept(BACKLOG)?;
    tokio::spawn(async move {
        let mut held: HashMap<PeerId, Vec<Stream>> = HashMap::new();
        while let Some((peer, stream)) = incoming.next().await {
            let streams = held.entry(peer).or_default();
            if streams.len() < BACKLOG_HELD {
                streams.push(stream);
                log!("{BACKLOG}: holding stream #{} from {peer}", streams.len());
            } else {
                log!("{BACKLOG}: backlog full, resetting stream from {peer}");
                drop(stream);
            }
        }
    });
    Ok(())
}

/// Accepts inbound streams for `protocol` and hands each one to its own task
/// right away: `libp2p-stream` drops inbound streams whose accept channel is
/// full, so this loop must never wait on a stream's work.
fn serve<F, Fut>(
    control: &mut Control,
    protocol: StreamProtocol,
    handler: F,
) -> Result<(), Box<dyn Error>>
where
    F: Fn(Stream) -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let mut incoming = control.accept(protocol.clone())?;
    let accepted = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Some((peer, stream)) = incoming.next().await {
            let n = accepted.fetch_add(1, Ordering::Relaxed) + 1;
            let task = handler(stream);
            let protocol = protocol.clone();
            tokio::spawn(async move {
                match task.await {
                    Ok(()) => log!("{protocol}: stream #{n} from {peer} done"),
                    Err(e) => log!("{protocol}: stream #{n} from {peer} failed: {e}"),
                }
            });
        }
    });
    Ok(())
}

async fn serve_echo(mut stream: Stream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    stream.close().await
}

async fn serve_lp(mut stream: Stream) -> io::Result<()> {
    while let Some(msg) = read_lp(&mut stream, MAX_LP_MESSAGE).await? {
        let digest = Sha256::digest(&msg);
        write_lp(&mut stream, &digest).await?;
    }
    stream.close().await
}

async fn serve_version(mut stream: Stream, protocol: StreamProtocol) -> io::Result<()> {
    write_lp(&mut stream, protocol.as_ref().as_bytes()).await?;
    stream.close().await
}

// ---------------------------------------------------------------------------
// Length-prefixed messages (unsigned varint length, then the bytes)

async fn read_uvarint<R: futures::AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<u64>> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let mut b = [0u8; 1];
        let n = r.read(&mut b).await?;
        if n == 0 {
            return if i == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "eof inside a varint",
                ))
            };
        }
        value |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "varint too long",
    ))
}

/// Reads one message; `Ok(None)` on a clean end of stream before its first byte.
async fn read_lp<R: futures::AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let Some(len) = read_uvarint(r).await? else {
        return Ok(None);
    };
    if len > max as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut msg = vec![0u8; len as usize];
    r.read_exact(&mut msg).await?;
    Ok(Some(msg))
}

fn encode_lp(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 10);
    let mut len = body.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(body);
    out
}

async fn write_lp<W: futures::AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    w.write_all(&encode_lp(body)).await?;
    w.flush().await
}

// ---------------------------------------------------------------------------
// Cases (dial mode)

/// Deterministic pseudo-random bytes (splitmix64), distinct per seed.
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn run_case(control: Control, peer: PeerId, case: &str, bench: BenchOptions) -> Value {
    let started = Instant::now();
    let mut result = match case {
        "echo" => case_echo(control, peer).await,
        "concurrent" => case_concurrent(control, peer).await,
        "lp" => case_lp(control, peer).await,
        "versions" => case_versions(control, peer).await,
        "unsupported" => case_unsupported(control, peer).await,
        "backlog" => case_backlog(control, peer).await,
        "bench-echo" => case_bench_echo(control, peer, bench.bytes).await,
        "bench-open" => case_bench_open(control, peer, bench.count).await,
        other => json!({ "case": other, "ok": false, "error": "unknown case" }),
    };
    if let Value::Object(map) = &mut result {
        // The bench cases time only their transfer and set `ms` themselves.
        map.entry("ms")
            .or_insert_with(|| json!(started.elapsed().as_millis() as u64));
    }
    result
}

/// Sends `data` on a new echo stream, half-closes, reads everything back.
/// `opened` is a stream opened beforehand (see `open_first`), if any.
async fn echo_roundtrip(
    mut control: Control,
    peer: PeerId,
    data: Vec<u8>,
    opened: Option<Result<Stream, OpenStreamError>>,
) -> Result<(), String> {
    let stream = match opened {
        Some(s) => s,
        None => control.open_stream(peer, ECHO).await,
    }
    .map_err(|e| format!("open_stream: {e}"))?;
    let (mut reader, mut writer) = stream.split();
    let write = async {
        writer.write_all(&data).await?;
        writer.close().await
    };
    let read = async {
        let mut out = Vec::with_capacity(data.len());
        reader.read_to_end(&mut out).await.map(|_| out)
    };
    let (written, read) = futures::join!(write, read);
    written.map_err(|e| format!("write: {e}"))?;
    let echoed = read.map_err(|e| format!("read: {e}"))?;
    if echoed != data {
        let first_diff = echoed
            .iter()
            .zip(&data)
            .position(|(a, b)| a != b)
            .unwrap_or(echoed.len().min(data.len()));
        return Err(format!(
            "echo mismatch: sent {} bytes, got {} back, first difference at byte {first_diff}",
            data.len(),
            echoed.len()
        ));
    }
    Ok(())
}

/// Opens the first stream of a burst on its own.
///
/// With `--by-peer-id` that stream makes `libp2p-stream` dial. Streams
/// requested while that connection is being set up can be lost: between the
/// swarm creating the connection handler (which takes the pending request
/// channel) and reporting `ConnectionEstablished` to the behaviour, a new
/// `open_stream` sees no connection, parks its request on a fresh pending
/// channel and asks for a dial that the swarm refuses (already connected), so
/// that `open_stream` never resolves. Opening one stream first avoids the
/// window.
async fn open_first(
    control: &Control,
    peer: PeerId,
    protocol: StreamProtocol,
) -> Result<Stream, OpenStreamError> {
    control.clone().open_stream(peer, protocol).await
}

async fn case_echo(control: Control, peer: PeerId) -> Value {
    const SIZE: usize = 1024 * 1024;
    match echo_roundtrip(control, peer, pseudo_random(1, SIZE), None).await {
        Ok(()) => json!({ "case": "echo", "ok": true, "bytes": SIZE }),
        Err(e) => json!({ "case": "echo", "ok": false, "bytes": SIZE, "error": e }),
    }
}

async fn case_concurrent(control: Control, peer: PeerId) -> Value {
    const STREAMS: usize = 64;
    const SIZE: usize = 64 * 1024;
    let mut first = Some(open_first(&control, peer, ECHO).await);
    let tasks: Vec<_> = (0..STREAMS)
        .map(|i| {
            let control = control.clone();
            tokio::spawn(echo_roundtrip(
                control,
                peer,
                pseudo_random(1000 + i as u64, SIZE),
                first.take(),
            ))
        })
        .collect();
    let mut errors = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("stream {i}: {e}")),
            Err(e) => errors.push(format!("stream {i}: task failed: {e}")),
        }
    }
    let mut result = json!({
        "case": "concurrent",
        "ok": errors.is_empty(),
        "streams": STREAMS,
        "bytesPerStream": SIZE,
        "failed": errors.len(),
    });
    if !errors.is_empty() {
        errors.truncate(5);
        result["error"] = json!(errors.join("; "));
    }
    result
}

async fn case_lp(mut control: Control, peer: PeerId) -> Value {
    const MESSAGES: usize = 1000;
    let fail = |e: String| json!({ "case": "lp", "ok": false, "messages": MESSAGES, "error": e });
    // Sizes spread evenly over 0..=65536, both ends included.
    let messages: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| pseudo_random(5000 + i as u64, i * 65536 / (MESSAGES - 1)))
        .collect();
    let digests: Vec<[u8; 32]> = messages.iter().map(|m| Sha256::digest(m).into()).collect();

    let stream = match control.open_stream(peer, LP).await {
        Ok(s) => s,
        Err(e) => return fail(format!("open_stream: {e}")),
    };
    let (mut reader, mut writer) = stream.split();
    let write = async {
        for m in &messages {
            writer.write_all(&encode_lp(m)).await?;
        }
        writer.close().await
    };
    let read = async {
        for (i, expected) in digests.iter().enumerate() {
            match read_lp(&mut reader, 1024).await {
                Ok(Some(answer)) if answer == expected => {}
                Ok(Some(answer)) => {
                    return Err(format!(
                        "answer {i}: {} bytes, not the SHA-256 of the message",
                        answer.len()
                    ));
                }
                Ok(None) => return Err(format!("stream ended after {i} answers")),
                Err(e) => return Err(format!("reading answer {i}: {e}")),
            }
        }
        match read_lp(&mut reader, 1024).await {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err("more answers than messages".to_string()),
            Err(e) => Err(format!("waiting for end of stream: {e}")),
        }
    };
    let (written, read) = futures::join!(write, read);
    if let Err(e) = written {
        return fail(format!("write: {e}"));
    }
    if let Err(e) = read {
        return fail(e);
    }
    json!({ "case": "lp", "ok": true, "messages": MESSAGES })
}

async fn case_versions(mut control: Control, peer: PeerId) -> Value {
    // `Control::open_stream` offers exactly one protocol, so a list cannot be
    // proposed: try the preferred version, fall back on UnsupportedProtocol.
    let mut attempts = vec![V2.to_string()];
    let (stream, protocol) = match control.open_stream(peer, V2).await {
        Ok(s) => (s, V2),
        Err(OpenStreamError::UnsupportedProtocol(_)) => {
            attempts.push(V1.to_string());
            match control.open_stream(peer, V1).await {
                Ok(s) => (s, V1),
                Err(e) => {
                    return json!({ "case": "versions", "ok": false, "fallback": true,
                        "attempts": attempts, "error": format!("open_stream {V1}: {e}") });
                }
            }
        }
        Err(e) => {
            return json!({ "case": "versions", "ok": false, "fallback": true,
                "attempts": attempts, "error": format!("open_stream {V2}: {e}") });
        }
    };
    let mut stream = stream;
    let reply = match read_lp(&mut stream, 1024).await {
        Ok(Some(r)) => String::from_utf8_lossy(&r).into_owned(),
        Ok(None) => {
            return json!({ "case": "versions", "ok": false, "fallback": true,
                "attempts": attempts, "protocol": protocol.to_string(),
                "error": "stream ended without a reply" });
        }
        Err(e) => {
            return json!({ "case": "versions", "ok": false, "fallback": true,
                "attempts": attempts, "protocol": protocol.to_string(),
                "error": format!("read: {e}") });
        }
    };
    let _ = stream.close().await;
    let ok = protocol == V1 && reply == V1.as_ref();
    json!({
        "case": "versions",
        "ok": ok,
        "protocol": protocol.to_string(),
        "reply": reply,
        "fallback": true,
        "attempts": attempts,
    })
}

async fn case_unsupported(mut control: Control, peer: PeerId) -> Value {
    match control.open_stream(peer, NOPE).await {
        Err(e @ OpenStreamError::UnsupportedProtocol(_)) => json!({
            "case": "unsupported", "ok": true, "error": "unsupported", "message": e.to_string()
        }),
        Err(e) => json!({
            "case": "unsupported", "ok": false, "error": "other", "message": e.to_string()
        }),
        Ok(_) => json!({
            "case": "unsupported", "ok": false, "error": "none",
            "message": format!("stream for {NOPE} was opened")
        }),
    }
}

/// `kind: message`, without rust-yamux's `connection/stream: ` prefix (so
/// equal outcomes of different streams read the same).
fn describe(e: &io::Error) -> String {
    let msg = e.to_string();
    let msg = match msg.split_once(": ") {
        Some((prefix, rest)) if prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '/') => rest,
        _ => msg.as_str(),
    };
    format!("{:?}: {msg}", e.kind())
}

/// Whether an I/O error means the stream was reset / closed under us.
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::WriteZero
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Opens one backlog stream, writes a byte, waits for what happens.
/// Returns (outcome, how it surfaced).
async fn backlog_stream(
    mut control: Control,
    peer: PeerId,
    opened: Option<Result<Stream, OpenStreamError>>,
) -> (&'static str, String) {
    const WAIT: Duration = Duration::from_secs(5);
    let opened = match opened {
        Some(s) => s,
        None => control.open_stream(peer, BACKLOG).await,
    };
    let mut stream = match opened {
        Ok(s) => s,
        Err(OpenStreamError::UnsupportedProtocol(_)) => {
            return ("unsupported", "open_stream: UnsupportedProtocol".into());
        }
        Err(OpenStreamError::Io(e)) if is_reset(&e) => {
            return ("reset", format!("open_stream: Io({})", describe(&e)));
        }
        Err(e) => return ("error", format!("open_stream: {e}")),
    };
    if let Err(e) = async {
        stream.write_all(&[1]).await?;
        stream.flush().await
    }
    .await
    {
        let outcome = if is_reset(&e) { "reset" } else { "error" };
        return (outcome, format!("write: {}", describe(&e)));
    }
    let mut buf = [0u8; 16];
    match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
        Err(_) => ("open", "nothing within 5 s".into()),
        Ok(Ok(0)) => {
            // rust-yamux reports a reset stream as end-of-file on read; only a
            // write tells a reset (stream closed both ways) from a half-close.
            match async {
                stream.write_all(&[2]).await?;
                stream.flush().await
            }
            .await
            {
                Err(e) if is_reset(&e) => {
                    ("reset", format!("read: EOF, then write: {}", describe(&e)))
                }
                Err(e) => ("error", format!("read: EOF, then write: {}", describe(&e))),
                Ok(()) => ("eof", "read: EOF, write still possible".into()),
            }
        }
        Ok(Ok(n)) => ("data", format!("read {n} unexpected bytes")),
        Ok(Err(e)) if is_reset(&e) => ("reset", format!("read: {}", describe(&e))),
        Ok(Err(e)) => ("error", format!("read: {}", describe(&e))),
    }
}

async fn case_backlog(control: Control, peer: PeerId) -> Value {
    const STREAMS: usize = 10;
    let mut first = Some(open_first(&control, peer, BACKLOG).await);
    let tasks: Vec<_> = (0..STREAMS)
        .map(|_| tokio::spawn(backlog_stream(control.clone(), peer, first.take())))
        .collect();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut how: BTreeMap<String, usize> = BTreeMap::new();
    let mut all_done = true;
    for task in tasks {
        match task.await {
            Ok((outcome, detail)) => {
                *outcomes.entry(outcome).or_default() += 1;
                *how.entry(format!("{outcome}: {detail}")).or_default() += 1;
            }
            Err(e) => {
                all_done = false;
                *how.entry(format!("task failed: {e}")).or_default() += 1;
            }
        }
    }
    json!({ "case": "backlog", "ok": all_done, "outcomes": outcomes, "details": how })
}

/// Size of every write of `bench-echo`.
const BENCH_CHUNK: usize = 64 * 1024;

fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Sends `size` bytes on one echo stream in 64 KiB writes while reading the
/// echo, half-closes and reads to the end. The time starts once the stream is
/// open (negotiated), so the dial is not in the figure.
async fn case_bench_echo(mut control: Control, peer: PeerId, size: usize) -> Value {
    let fail = |e: String| json!({ "case": "bench-echo", "ok": false, "bytes": size, "error": e });
    let stream = match control.open_stream(peer, ECHO).await {
        Ok(s) => s,
        Err(e) => return fail(format!("open_stream: {e}")),
    };
    let chunk = pseudo_random(7, BENCH_CHUNK);
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let write = async {
        let mut left = size;
        while left > 0 {
            let n = left.min(BENCH_CHUNK);
            writer.write_all(&chunk[..n]).await?;
            left -= n;
        }
        writer.close().await
    };
    let read = async {
        let mut buf = vec![0u8; BENCH_CHUNK];
        let mut received = 0usize;
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return Ok(received),
                Ok(n) => received += n,
                Err(e) => return Err((received, e)),
            }
        }
    };
    let (written, read) = futures::join!(write, read);
    let elapsed = started.elapsed();
    if let Err(e) = written {
        return fail(format!("write: {e}"));
    }
    match read {
        Err((received, e)) => fail(format!("read after {received} bytes: {e}")),
        Ok(received) if received != size => fail(format!("sent {size} bytes, got {received} back")),
        Ok(_) => json!({
            "case": "bench-echo",
            "ok": true,
            "bytes": size,
            "ms": millis(elapsed),
            "mbps": size as f64 / 1e6 / elapsed.as_secs_f64(),
        }),
    }
}

/// Opens an echo stream, writes one byte, half-closes and reads the one-byte
/// echo to the end.
async fn bench_open_once(control: &mut Control, peer: PeerId) -> Result<(), String> {
    let mut stream = control
        .open_stream(peer, ECHO)
        .await
        .map_err(|e| format!("open_stream: {e}"))?;
    stream
        .write_all(&[1])
        .await
        .map_err(|e| format!("write: {e}"))?;
    stream.close().await.map_err(|e| format!("close: {e}"))?;
    let mut echoed = Vec::with_capacity(2);
    stream
        .read_to_end(&mut echoed)
        .await
        .map_err(|e| format!("read: {e}"))?;
    match echoed.as_slice() {
        [1] => Ok(()),
        other => Err(format!("sent 1 byte, got {} back", other.len())),
    }
}

/// `count` sequential echo round trips of one byte on the established
/// connection. One more, before the clock starts, is opened on its own (see
/// `open_first`) and warms the connection up. Sequential opens never find
/// `libp2p-stream`'s one-slot accept channel of the remote full.
async fn case_bench_open(mut control: Control, peer: PeerId, count: usize) -> Value {
    let fail = |e: String| json!({ "case": "bench-open", "ok": false, "count": count, "error": e });
    if let Err(e) = bench_open_once(&mut control, peer).await {
        return fail(format!("warm-up: {e}"));
    }
    let started = Instant::now();
    for i in 0..count {
        if let Err(e) = bench_open_once(&mut control, peer).await {
            return fail(format!("stream {i}: {e}"));
        }
    }
    let elapsed = started.elapsed();
    json!({
        "case": "bench-open",
        "ok": true,
        "count": count,
        "ms": millis(elapsed),
        "opensPerSec": count as f64 / elapsed.as_secs_f64(),
    })
}
