//! `lantern serve`: this machine's device for other machines' `--device remote:...`, through
//! burn's remote server. Iroh by default (authenticated and encrypted; relays off unless asked,
//! so clients dial `<server id>@host:port`), or WebSocket on a trusted network. Every session
//! must present the token; one line is logged per session.

use crate::device::DeviceChoice;
use crate::error::{LanternError, Result};
use burn::server::telemetry::{DrainStatus, TelemetryEvent, TelemetryProbe};
use burn::server::{AuthorizationRequest, IrohIdentity, IrohRelays, IrohTransport, PeerAuthorizer, RemoteServer};
use burn::server::{TokenAuthorizer, WebSocketTransport};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Which device to serve: auto (a hardware GPU if present, else CPU), cpu or wgpu.
    #[arg(long, default_value = "auto")]
    pub devices: DeviceChoice,
    /// Serve over WebSocket on ADDR (e.g. 0.0.0.0:3000), unencrypted: for a trusted network only.
    /// Without it, Iroh (authenticated and encrypted).
    #[arg(long, value_name = "ADDR")]
    pub websocket: Option<String>,
    /// Iroh: the UDP port to listen on (default: one the system picks, printed at start).
    #[arg(long)]
    pub port: Option<u16>,
    /// Iroh: `off` (clients dial the address directly; works on a LAN and loopback), `public`
    /// (n0's relays: clients need only the server id) or a relay URL.
    #[arg(long, default_value = "off")]
    pub relays: String,
    /// Iroh: the file keeping the server's secret key, so its id survives restarts (created on
    /// first start, readable by its owner only; default: beside the token file).
    #[arg(long)]
    pub identity: Option<PathBuf>,
}

/// Where the token lives unless `--token-file` says: `$XDG_CONFIG_HOME/lantern/serve.token`.
fn default_token_file() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("lantern").join("serve.token")
}

pub fn run(args: &ServeArgs, token_file: Option<&Path>) -> Result<()> {
    if matches!(args.devices, DeviceChoice::Remote(_)) {
        return Err(LanternError::BadArgument("--devices: a server serves its own device (auto, cpu or wgpu)".into()));
    }
    let token_path = token_file.map_or_else(default_token_file, Path::to_path_buf);
    let token = load_or_create_token(&token_path)?;
    let compute = crate::device::choose(args.devices)?;
    let log = Arc::new(SessionLog::default());
    let authorizer = TokenAuthorizer::new(token.as_bytes().to_vec())
        .map_err(|e| LanternError::BadArgument(format!("{}: {e}", token_path.display())))?;
    let (probe, subscription) = TelemetryProbe::channel(1 << 16);
    let server = RemoteServer::new([compute.device.clone()])
        .with_authorizer(Gate { tokens: authorizer, log: log.clone() })
        .with_telemetry(probe);

    let (transport, connect): (burn::server::Transport, String) = match &args.websocket {
        Some(address) => {
            let listener = std::net::TcpListener::bind(address)
                .map_err(|e| LanternError::BadArgument(format!("--websocket {address}: cannot listen ({e})")))?;
            let bound = listener.local_addr().map_err(|e| LanternError::Device(e.to_string()))?;
            let host = if bound.ip().is_unspecified() { "<host>".to_string() } else { bound.ip().to_string() };
            (WebSocketTransport::from_listener(listener).into(), format!("remote:ws://{host}:{}", bound.port()))
        }
        None => {
            let relays = match args.relays.trim() {
                "off" | "disabled" | "none" => IrohRelays::Disabled,
                other => other
                    .parse::<IrohRelays>()
                    .map_err(|e| LanternError::BadArgument(format!("--relays {other}: {e} (off, public or a URL)")))?,
            };
            let identity_path = args.identity.clone().unwrap_or_else(|| token_path.with_file_name("serve.identity"));
            let identity = IrohIdentity::load_or_create(&identity_path)
                .map_err(|source| LanternError::Io { path: identity_path.clone(), source })?;
            let port = match args.port {
                Some(port) => port,
                None => free_udp_port()?,
            };
            let transport = IrohTransport::new(identity).with_relays(relays.clone()).with_port(port);
            let id = transport.id();
            let connect = if relays == IrohRelays::Disabled {
                format!("remote:{id}@<host>:{port}")
            } else {
                format!("remote:{id}")
            };
            (transport.into(), connect)
        }
    };

    let mut out = std::io::stdout().lock();
    let transport_name = if args.websocket.is_some() { "WebSocket (unencrypted)" } else { "Iroh" };
    let _ = writeln!(out, "lantern serve: {} over {transport_name}", compute.description);
    let _ = writeln!(out, "token file: {}", token_path.display());
    let _ = writeln!(out, "connect with: --device {connect} --token-file <a copy of the token file>");
    if connect.contains("<host>") {
        let _ = writeln!(out, "(<host>: this machine's name or address as the clients reach it)");
    }
    let _ = out.flush();
    drop(out);

    let watcher = std::thread::spawn({
        let log = log.clone();
        move || log.watch(subscription)
    });
    let served = server.serve(transport);
    log.stop();
    let _ = watcher.join();
    served.map_err(|e| LanternError::Device(format!("serve: {e}")))?;
    eprintln!("lantern serve: stopped");
    Ok(())
}

/// The token in `path`, or a new one written there (mode 0600) and printed.
fn load_or_create_token(path: &Path) -> Result<String> {
    if path.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                eprintln!("lantern serve: warning: {} is readable by others (chmod 600 it)", path.display());
            }
        }
        return crate::device::read_token(path);
    }
    // 32 bytes from the operating system's generator (the one Iroh keys come from).
    let token: String = IrohIdentity::random().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LanternError::Io { path: dir.into(), source })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| LanternError::Io { path: path.into(), source })?;
    writeln!(file, "{token}").map_err(|e| LanternError::Output { path: path.into(), reason: e.to_string() })?;
    println!("new token (written to {}): {token}", path.display());
    Ok(token)
}

fn free_udp_port() -> Result<u16> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")
        .map_err(|e| LanternError::Device(format!("cannot find a free UDP port: {e}")))?;
    socket.local_addr().map(|a| a.port()).map_err(|e| LanternError::Device(e.to_string()))
}

/// The token check, noting who was let in for the session log.
struct Gate {
    tokens: TokenAuthorizer,
    log: Arc<SessionLog>,
}

impl PeerAuthorizer for Gate {
    fn authorize(&self, request: AuthorizationRequest<'_>) -> std::result::Result<(), String> {
        let client = request.client.to_string();
        match self.tokens.authorize(request) {
            Ok(()) => {
                self.log.admitted(client);
                Ok(())
            }
            Err(reason) => {
                eprintln!("{} refused {client}: wrong or missing token", stamp());
                Err(reason)
            }
        }
    }
}

/// One line per session, from burn's telemetry: who (as the authorizer saw it), which device,
/// how long, how many operations and the bytes of the tensors it created on the server. burn
/// reports neither the bytes on the wire nor which client a session belongs to, so the client is
/// matched to the next session opened after it was let in.
#[derive(Default)]
struct SessionLog {
    waiting: Mutex<VecDeque<String>>,
    stopped: std::sync::atomic::AtomicBool,
}

struct Session {
    client: String,
    device: u32,
    start: Instant,
    ops: u64,
    bytes: u64,
}

impl SessionLog {
    fn admitted(&self, client: String) {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).push_back(client);
    }

    fn stop(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn watch(&self, mut subscription: burn::server::telemetry::TelemetrySubscription) {
        let mut sessions = HashMap::new();
        let mut events = Vec::new();
        loop {
            let status = subscription.drain_into(&mut events);
            for event in events.drain(..) {
                self.apply(&mut sessions, &event);
            }
            if let DrainStatus::Open { lagged } = status
                && lagged > 0
            {
                eprintln!("{} session log: {lagged} events lost (counts below are low)", stamp());
            }
            if matches!(status, DrainStatus::Closed) || self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for (_, session) in sessions.drain() {
            log_session(&session, "ended with the server");
        }
    }

    fn apply(&self, sessions: &mut HashMap<String, Session>, event: &TelemetryEvent) {
        let key = session_of(event);
        match event {
            TelemetryEvent::SessionOpened { device, .. } => {
                let client = self
                    .waiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_front()
                    .unwrap_or_else(|| "a client".into());
                eprintln!("{} session opened: {client}, device {device}", stamp());
                sessions.insert(key, Session { client, device: *device, start: Instant::now(), ops: 0, bytes: 0 });
            }
            TelemetryEvent::SessionClosed { .. } => {
                if let Some(session) = sessions.remove(&key) {
                    log_session(&session, "closed");
                }
            }
            TelemetryEvent::Op { outputs, .. } => {
                if let Some(session) = sessions.get_mut(&key) {
                    session.ops += 1;
                    session.bytes +=
                        outputs.iter().map(|t| (t.shape.num_elements() * t.dtype.size()) as u64).sum::<u64>();
                }
            }
            _ => {}
        }
    }
}

/// The session an event belongs to (burn's session id, which only prints).
fn session_of(event: &TelemetryEvent) -> String {
    let id = match event {
        TelemetryEvent::SessionOpened { session, .. }
        | TelemetryEvent::SessionClosed { session }
        | TelemetryEvent::Op { session, .. }
        | TelemetryEvent::TensorDropped { session, .. }
        | TelemetryEvent::Transfer { session, .. }
        | TelemetryEvent::Read { session, .. }
        | TelemetryEvent::Sync { session, .. }
        | TelemetryEvent::GraphRegistered { session, .. }
        | TelemetryEvent::GraphExecuted { session, .. } => session,
    };
    format!("{id:?}")
}

fn log_session(session: &Session, how: &str) {
    eprintln!(
        "{} session {how}: {}, device {}, {:.1} s, {} operations, {:.1} MB of tensors computed",
        stamp(),
        session.client,
        session.device,
        session.start.elapsed().as_secs_f64(),
        session.ops,
        session.bytes as f64 / 1e6
    );
}

/// Seconds since the Unix epoch, UTC, as `HH:MM:SS`.
fn stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("[{:02}:{:02}:{:02} UTC]", secs / 3600 % 24, secs / 60 % 60, secs % 60)
}
