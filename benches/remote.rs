//! What computing through `lantern serve` costs: the same explanations (Grad-CAM, and RISE in
//! batches) on the demo model locally (burn Flex) and through a `lantern serve --devices cpu` child
//! on the loopback address (WebSocket), with the bytes each sends and receives counted by a TCP
//! relay between client and server. Both sides use the same CPU here, so the difference is the
//! protocol's cost; on a real GPU server the computation itself shrinks.
//! `cargo bench --profile dev --bench remote -- --noplot`. Prints the CPU and its vector extensions.

#[path = "common/cpu.rs"]
mod common_cpu;

use criterion::{Criterion, criterion_group, criterion_main};
use lantern::explain::{Control, Method, Params, Session};
use lantern::models::{self, Network};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bytes through the relay: client to server, server to client.
#[derive(Default)]
struct Traffic {
    up: AtomicU64,
    down: AtomicU64,
}

impl Traffic {
    fn take(&self) -> (u64, u64) {
        (self.up.swap(0, Ordering::Relaxed), self.down.swap(0, Ordering::Relaxed))
    }
}

/// A TCP relay on 127.0.0.1 to `target`, counting what passes; returns its port.
fn relay(target: u16, traffic: Arc<Traffic>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let pipe = |mut from: TcpStream, mut to: TcpStream, count: Arc<Traffic>, up: bool| {
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        let counter = if up { &count.up } else { &count.down };
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), traffic.clone(), true);
            pipe(server, client, traffic.clone(), false);
        }
    });
    port
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `lantern serve --devices cpu` child over WebSocket on 127.0.0.1; its port and token.
fn serve(dir: &std::path::Path) -> (Server, u16, String) {
    let token = dir.join("serve.token");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["serve", "--devices", "cpu", "--websocket", "127.0.0.1:0", "--token-file"])
        .arg(&token)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("lantern serve starts");
    let stdout = child.stdout.take().unwrap();
    let mut port = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("connect with: --device remote:ws://127.0.0.1:") {
            port = rest.split_whitespace().next().and_then(|p| p.parse().ok());
            break;
        }
    }
    let token = lantern::device::read_token(&token).unwrap();
    (Server(child), port.expect("lantern serve printed its address"), token)
}

fn explain(net: &Arc<Network>, x: &burn::tensor::Tensor<4>, method: Method, params: &Params) {
    let mut s = Session::new(Arc::clone(net), x.clone());
    let class = lantern::explain::Target::Top1.resolve(s.logits());
    black_box(s.explain(method, class, None, params, &mut Control::none()).expect("explains"));
}

fn benches(c: &mut Criterion) {
    println!("CPU: {} ({} threads)", common_cpu::cpu(), std::thread::available_parallelism().map_or(1, |n| n.get()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, port, token) = serve(dir.path());
    let traffic = Arc::new(Traffic::default());
    let relayed = relay(port, traffic.clone());
    let address: lantern::device::RemoteAddress = format!("ws://127.0.0.1:{relayed}").parse().unwrap();
    let remote = lantern::device::connect(&address, &token, Duration::from_secs(30)).expect("connects");
    let local = lantern::device::ComputeDevice::cpu();

    let image = lantern::imaging::load_image(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/images/star.png"),
    )
    .unwrap();
    let start = Instant::now();
    let _ = traffic.take();
    let remote_net = Arc::new(models::demo::network(&remote.device).unwrap());
    let x_remote = remote_net.preprocess.tensor(&image, &remote.device);
    remote.device.sync().unwrap();
    let (up, down) = traffic.take();
    println!(
        "loading the demo model onto the server: {:.2} MB up, {:.3} MB down, {:.0} ms",
        up as f64 / 1e6,
        down as f64 / 1e6,
        start.elapsed().as_secs_f64() * 1e3
    );
    let local_net = Arc::new(models::demo::network(&local.device).unwrap());
    let x_local = local_net.preprocess.tensor(&image, &local.device);

    let batch = 64;
    let rise = Params { rise_masks: 512, batch, ..Params::default() };
    let gradcam = Params::default();
    for (name, method, params, batches) in
        [("Grad-CAM", Method::GradCam, &gradcam, 1), ("RISE", Method::Rise, &rise, rise.rise_masks.div_ceil(batch))]
    {
        explain(&remote_net, &x_remote, method, params);
        let _ = traffic.take();
        let runs = 3;
        for _ in 0..runs {
            explain(&remote_net, &x_remote, method, params);
        }
        let (up, down) = traffic.take();
        let per = (runs * batches) as f64;
        let unit = if batches == 1 { "explanation".to_string() } else { format!("batch of {batch} masks") };
        println!(
            "{name}: {:.1} kB up, {:.1} kB down per {unit} ({} masks: {batches} batches)",
            up as f64 / per / 1e3,
            down as f64 / per / 1e3,
            if batches == 1 { 0 } else { params.rise_masks },
        );
    }

    let mut g = c.benchmark_group("demo model, local vs remote (loopback)");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("Grad-CAM local", |b| b.iter(|| explain(&local_net, &x_local, Method::GradCam, &gradcam)));
    g.bench_function("Grad-CAM remote", |b| b.iter(|| explain(&remote_net, &x_remote, Method::GradCam, &gradcam)));
    g.bench_function("RISE 512 masks local", |b| b.iter(|| explain(&local_net, &x_local, Method::Rise, &rise)));
    g.bench_function("RISE 512 masks remote", |b| b.iter(|| explain(&remote_net, &x_remote, Method::Rise, &rise)));
    g.finish();
}

criterion_group!(remote, benches);
criterion_main!(remote);
