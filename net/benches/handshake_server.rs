//! What a server operator pays per mTLS handshake: completed handshakes per second of the
//! *server's* CPU time, for meshtls-net, Go's crypto/tls and OpenSSL's `s_server`, driven by
//! one client in the same run, with the floor of the cryptography a server cannot skip.
//!
//! ```sh
//! cargo bench -p meshtls-net --bench handshake_server
//! MESHTLS_BENCH_SECS=10 cargo bench -p meshtls-net --bench handshake_server
//! cargo bench -p meshtls-net --bench handshake_server -- --smoke   # 1 s each, checks it runs
//! ```
//!
//! Setup: a root, an intermediate and two leaves issued by the intermediate (server and client
//! both present leaf + intermediate), TLS 1.3, client certificates required, no resumption on
//! the client (each server keeps its default ticket behaviour), a 1-byte echo per connection.
//! Every server is its own process pinned to CPU 0 (`taskset`); the client is this bench's
//! binary run again as a process pinned to CPU 1, a meshtls-net (rustls) client with
//! `MESHTLS_BENCH_CONC` (32) connection loops on one thread. The server's CPU time is read
//! from `/proc/<pid>/task/*/schedstat` at the start and end of the measured window.
//!
//! The floor is what one server-side handshake cannot avoid, timed with aws-lc-rs alone on the
//! server's CPU: the key exchange the server performs (X25519, or X25519MLKEM768 when that is
//! negotiated), one ECDSA P-256 signature (CertificateVerify) and three P-256 verifications
//! (the client's CertificateVerify, the client leaf by the intermediate, the intermediate by the
//! root).
//!
//! Go is built from `net/benches/go` (`go` on the PATH); `openssl` is found on the PATH. A
//! missing one is reported and skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use meshtls_core::{
    Authority, IntermediateParams, IssueRequest, Issued, Policy, RootParams, SpiffeId, Timestamp,
    TrustBundle, TrustDomain, Usage, Verifier,
};
use meshtls_net::{Identity, IdentityHandle, MtlsClient, MtlsListener, MtlsServer, TrustHandle};
use rustls::crypto::aws_lc_rs::kx_group;
use rustls::crypto::SupportedKxGroup;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERVER_ID: &str = "spiffe://mesh.internal/service/api";
const CLIENT_ID: &str = "spiffe://mesh.internal/client/agent";
const SERVER_CPU: usize = 0;
const MESHTLS_MULTI: &str = "meshtls-net (tokio multi-thread)";
const MESHTLS_CURRENT: &str = "meshtls-net (tokio current-thread)";
const GO: &str = "Go crypto/tls";
const CLIENT_CPU: usize = 1;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `--name=value` from the command line.
fn arg(name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    std::env::args().find_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
}

fn need(name: &str) -> Result<String, BoxError> {
    arg(name).ok_or_else(|| format!("--{name}= is required").into())
}

// ---------------------------------------------------------------------------------------------
// The PKI, written to files every server reads.

fn write_pki(dir: &Path) -> Result<(), BoxError> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let now = Timestamp::from_unix(secs as i64 - 60);
    let root = Authority::create_root(&RootParams::new(TrustDomain::new("mesh.internal")?), now)?;
    let ca = root.create_intermediate(&IntermediateParams::new(), now)?;
    let leaf = |id: &str, usage| -> Result<Issued, BoxError> {
        Ok(ca.issue(
            &IssueRequest::new(SpiffeId::parse(id)?)
                .with_dns(["localhost"])
                .with_usage(usage)
                .with_lifetime(Duration::from_secs(86_400)),
            now,
        )?)
    };
    std::fs::write(dir.join("ca.pem"), root.certificate_pem())?;
    std::fs::write(dir.join("intermediate.pem"), ca.certificate_pem())?;
    for (name, issued) in [
        ("server", leaf(SERVER_ID, Usage::Server)?),
        ("client", leaf(CLIENT_ID, Usage::Client)?),
    ] {
        if issued.chain_der.len() != 2 {
            return Err(format!("{name} chain has {} certificates", issued.chain_der.len()).into());
        }
        std::fs::write(dir.join(format!("{name}.pem")), &issued.chain_pem)?;
        std::fs::write(dir.join(format!("{name}-leaf.pem")), &issued.cert_pem)?;
        std::fs::write(
            dir.join(format!("{name}.key")),
            issued.key_pem.as_deref().unwrap_or_default(),
        )?;
    }
    Ok(())
}

fn identity(dir: &Path, name: &str) -> Result<IdentityHandle, BoxError> {
    let chain = std::fs::read(dir.join(format!("{name}.pem")))?;
    let key = std::fs::read(dir.join(format!("{name}.key")))?;
    Ok(IdentityHandle::new(Identity::from_pem(&chain, &key)?))
}

fn trust(dir: &Path, allow: &str) -> Result<TrustHandle, BoxError> {
    let bundle = TrustBundle::from_pem(&std::fs::read(dir.join("ca.pem"))?)?;
    let policy = Policy::builder()
        .allow_id(SpiffeId::parse(allow)?)
        .build()?;
    Ok(TrustHandle::new(Verifier::new(bundle, policy)))
}

// ---------------------------------------------------------------------------------------------
// Roles run in their own processes.

/// The meshtls-net server: the default `MtlsServer` (as an operator builds it) behind an
/// `MtlsListener`, accepting in `main`'s future as `#[tokio::main]` does, on tokio's
/// multi-thread runtime (`--runtime=multi`: one worker on one CPU, `main`'s future on the
/// main thread) or its current-thread runtime (`--runtime=current`: everything on one thread).
fn role_meshtls_server(dir: &Path) -> Result<(), BoxError> {
    let rt = match arg("runtime").as_deref() {
        Some("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    rt.block_on(async {
        let server =
            MtlsServer::builder(identity(dir, "server")?, trust(dir, CLIENT_ID)?).build()?;
        let mut listener = MtlsListener::bind("127.0.0.1:0", server).await?;
        println!("listening {}", listener.local_addr());
        while let Ok(mut s) = listener.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 1];
                if s.read_exact(&mut b).await.is_ok() {
                    let _ = s.write_all(&b).await;
                    let _ = s.flush().await;
                }
            });
        }
        Ok::<_, BoxError>(())
    })
}

/// The client: `conc` connection loops on one thread, each a full handshake (no resumption),
/// a 1-byte write and a 1-byte read. Prints `start` when the measured window opens and
/// `done <handshakes> <failed> <seconds>` when it closes.
fn role_client(dir: &Path) -> Result<(), BoxError> {
    let addr: std::net::SocketAddr = need("addr")?.parse()?;
    let secs = need("secs")?.parse::<f64>()?;
    let warmup = need("warmup")?.parse::<f64>()?;
    let conc = need("conc")?.parse::<usize>()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = MtlsClient::builder(identity(dir, "client")?, trust(dir, SERVER_ID)?)
            .resumption(false)
            .build()?;
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
        let mut tasks = Vec::new();
        for _ in 0..conc {
            let (client, stop, done, failed, first_error) = (
                client.clone(),
                stop.clone(),
                done.clone(),
                failed.clone(),
                first_error.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    // A newline: OpenSSL's `s_server -rev` answers a line.
                    let r = tokio::time::timeout(Duration::from_secs(10), async {
                        let mut s = client.connect(addr, "localhost").await?;
                        let mut b = [b'\n'; 1];
                        s.write_all(&b).await?;
                        s.flush().await?;
                        s.read_exact(&mut b).await?;
                        Ok::<_, std::io::Error>(())
                    })
                    .await
                    .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
                    match r {
                        Ok(()) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
        let (n0, f0) = (done.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
        let start = Instant::now();
        println!("start");
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let (n1, f1) = (done.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
        let elapsed = start.elapsed().as_secs_f64();
        println!("done {} {} {elapsed:.3}", n1 - n0, f1 - f0);
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await?;
        }
        if let Ok(Some(e)) = first_error.lock().map(|s| s.clone()) {
            eprintln!("client: first failure: {e}");
        }
        Ok::<_, BoxError>(())
    })
}

/// Nanoseconds this thread has run on a CPU.
fn thread_cpu_ns() -> Result<u64, BoxError> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    Ok(s.split_whitespace().next().unwrap_or("0").parse()?)
}

/// Times the cryptography one server-side handshake cannot skip, on this CPU. Prints
/// `floor <µs with X25519> <µs of X25519MLKEM768 over X25519>`.
fn role_floor() -> Result<(), BoxError> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())?;
    let message = [0x42u8; 130];
    let signature = key.sign(&rng, &message)?;
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref());
    // CPU time of this thread, as the servers are measured: other load on the CPU does not
    // count.
    let time = |iterations: u32, f: &mut dyn FnMut() -> Result<(), BoxError>| {
        for _ in 0..iterations / 10 {
            f()?;
        }
        let start = thread_cpu_ns()?;
        for _ in 0..iterations {
            f()?;
        }
        Ok::<_, BoxError>((thread_cpu_ns()? - start) as f64 / 1e3 / f64::from(iterations))
    };
    let n = env_num("MESHTLS_BENCH_FLOOR_ITERATIONS", 2000) as u32;
    let sign = time(n, &mut || {
        key.sign(&rng, &message)?;
        Ok(())
    })?;
    let verify = time(n, &mut || {
        public
            .verify(&message, signature.as_ref())
            .map_err(|_| "verify failed")?;
        Ok(())
    })?;
    let kx = |group: &'static dyn SupportedKxGroup| -> Result<f64, BoxError> {
        let client_share = group.start()?.pub_key().to_vec();
        time(n, &mut || {
            group.start_and_complete(&client_share)?;
            Ok(())
        })
    };
    let x25519 = kx(kx_group::X25519)?;
    let hybrid = kx(kx_group::X25519MLKEM768)?;
    println!(
        "floor {:.1} {:.1} sign={sign:.1} verify={verify:.1} x25519={x25519:.1} x25519mlkem768={hybrid:.1}",
        x25519 + sign + 3.0 * verify,
        hybrid - x25519
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.

/// `taskset -c <cpu>` before the command when this machine has the CPUs to spare.
fn pinned(cpu: usize, pin: bool, program: &Path) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpu.to_string()).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Nanoseconds the process has run on a CPU, all its threads together.
fn cpu_ns(pid: u32) -> Result<u64, BoxError> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        // A thread may exit between listing and reading.
        if let Ok(s) = std::fs::read_to_string(&path) {
            let ns: u64 = s.split_whitespace().next().unwrap_or("0").parse()?;
            total += ns;
        }
    }
    Ok(total)
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a `listening <addr>` line from the server.
fn listening(mut child: Child) -> Result<Server, BoxError> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().transpose()?.unwrap_or_default();
    let addr = first
        .strip_prefix("listening ")
        .ok_or_else(|| format!("server said {first:?}"))?
        .to_owned();
    // Drain whatever else it prints so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Ok(Server { child, addr })
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `openssl s_server` does not say when it is ready: wait until the port accepts.
fn wait_for_port(child: Child, port: u16, log: &Path) -> Result<Server, BoxError> {
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut server = Server { child, addr };
    loop {
        if std::net::TcpStream::connect(&server.addr).is_ok() {
            return Ok(server);
        }
        if let Some(status) = server.child.try_wait()? {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("openssl s_server exited ({status}): {}", err.trim()).into());
        }
        if Instant::now() > deadline {
            return Err("openssl s_server did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Figure {
    name: &'static str,
    handshakes: u64,
    failed: u64,
    wall: f64,
    server_cpu: f64,
}

impl Figure {
    fn per_cpu_second(&self) -> f64 {
        self.handshakes as f64 / self.server_cpu
    }
}

struct Run<'a> {
    me: &'a Path,
    dir: &'a Path,
    pin: bool,
    secs: f64,
    warmup: f64,
    conc: u64,
}

impl Run<'_> {
    fn measure(&self, name: &'static str, server: Server) -> Result<Figure, BoxError> {
        let pid = server.child.id();
        let mut client = pinned(CLIENT_CPU, self.pin, self.me)
            .arg("--role=client")
            .arg(format!("--dir={}", self.dir.display()))
            .arg(format!("--addr={}", server.addr))
            .arg(format!("--secs={}", self.secs))
            .arg(format!("--warmup={}", self.warmup))
            .arg(format!("--conc={}", self.conc))
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = client.stdout.take().ok_or("no client stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut cpu_start = None;
        let mut figure = None;
        for line in lines.by_ref() {
            let line = line?;
            if line == "start" {
                cpu_start = Some(cpu_ns(pid)?);
            } else if let Some(rest) = line.strip_prefix("done ") {
                let cpu_end = cpu_ns(pid)?;
                let start = cpu_start.ok_or("client said done before start")?;
                let mut it = rest.split_whitespace();
                let handshakes = it.next().ok_or("done without count")?.parse()?;
                let failed = it.next().ok_or("done without failures")?.parse()?;
                let wall = it.next().ok_or("done without seconds")?.parse()?;
                figure = Some(Figure {
                    name,
                    handshakes,
                    failed,
                    wall,
                    server_cpu: (cpu_end - start) as f64 / 1e9,
                });
            }
        }
        let status = client.wait()?;
        drop(server);
        let figure = figure.ok_or_else(|| format!("{name}: the client failed ({status})"))?;
        if figure.handshakes == 0 {
            return Err(format!("{name}: no handshake completed").into());
        }
        Ok(figure)
    }

    fn meshtls(&self, name: &'static str, runtime: &str) -> Result<Figure, BoxError> {
        let child = pinned(SERVER_CPU, self.pin, self.me)
            .arg("--role=meshtls-server")
            .arg(format!("--runtime={runtime}"))
            .arg(format!("--dir={}", self.dir.display()))
            .stdout(Stdio::piped())
            .spawn()?;
        self.measure(name, listening(child)?)
    }

    fn go(&self, bin: &Path) -> Result<Figure, BoxError> {
        let child = pinned(SERVER_CPU, self.pin, bin)
            .arg("-serve")
            .arg(format!("-dir={}", self.dir.display()))
            .arg(format!("-client-id={CLIENT_ID}"))
            .stdout(Stdio::piped())
            .spawn()?;
        self.measure(GO, listening(child)?)
    }

    fn openssl(&self) -> Result<Figure, BoxError> {
        let port = free_port()?;
        let d = |f: &str| self.dir.join(f).display().to_string();
        let mut c = if self.pin {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(SERVER_CPU.to_string()).arg("openssl");
            c
        } else {
            Command::new("openssl")
        };
        let child = c
            .arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .args(["-cert", &d("server-leaf.pem")])
            .args(["-cert_chain", &d("intermediate.pem")])
            .args(["-key", &d("server.key")])
            .args(["-CAfile", &d("ca.pem")])
            .args(["-Verify", "2", "-verify_return_error"])
            .args(["-tls1_3", "-rev", "-quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: it logs every verification and would block on a full pipe.
            .stderr(std::fs::File::create(self.dir.join("openssl.log"))?)
            .spawn()?;
        let log = self.dir.join("openssl.log");
        self.measure("OpenSSL s_server", wait_for_port(child, port, &log)?)
    }
}

fn build_go(into: &Path) -> Result<PathBuf, BoxError> {
    let bin = into.join("go-server");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/go");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(src)
        .status()
        .map_err(|e| format!("go not available ({e}); run scripts/ci/install-deps"))?;
    if !status.success() {
        return Err(format!("go build failed: {status}").into());
    }
    Ok(bin)
}

fn floor(me: &Path, pin: bool) -> Result<(f64, f64, String), BoxError> {
    let out = pinned(SERVER_CPU, pin, me).arg("--role=floor").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("floor "))
        .ok_or_else(|| format!("floor failed: {}", String::from_utf8_lossy(&out.stderr)))?;
    let mut it = line.split_whitespace();
    let x25519: f64 = it.next().ok_or("floor")?.parse()?;
    let hybrid_extra: f64 = it.next().ok_or("floor")?.parse()?;
    Ok((x25519, hybrid_extra, it.collect::<Vec<_>>().join(" ")))
}

fn orchestrate() -> Result<(), BoxError> {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let secs = if smoke {
        1.0
    } else {
        env_num("MESHTLS_BENCH_SECS", 10) as f64
    };
    let warmup = if smoke { 0.3 } else { 1.0 };
    let conc = env_num("MESHTLS_BENCH_CONC", 32);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cpus >= 2 && Command::new("taskset").arg("-V").output().is_ok();
    let me = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    write_pki(dir.path())?;
    let run = Run {
        me: &me,
        dir: dir.path(),
        pin,
        secs,
        warmup,
        conc,
    };

    println!(
        "meshtls-net server handshake cost: {secs} s per server after {warmup} s warm-up, \
         {conc} client connection loops, TLS 1.3, P-256 leaf + intermediate both ways, \
         no resumption, 1-byte echo"
    );
    if pin {
        println!("server pinned to CPU {SERVER_CPU}, client to CPU {CLIENT_CPU} (taskset)");
    } else {
        println!("NOT pinned ({cpus} CPU(s) or no taskset): server and client share CPUs");
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average before: {}", load.trim());
    }
    let (floor_x25519, hybrid_extra, parts) = floor(&me, pin)?;
    println!(
        "floor (aws-lc-rs alone, server CPU): {floor_x25519:.1} µs with X25519 = {:.0}/s; \
         X25519MLKEM768 adds {hybrid_extra:.1} µs ({parts})",
        1e6 / floor_x25519
    );

    let mut figures = Vec::new();
    let mut failures = Vec::new();
    for (name, runtime) in [(MESHTLS_MULTI, "multi"), (MESHTLS_CURRENT, "current")] {
        match run.meshtls(name, runtime) {
            Ok(f) => figures.push(f),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    match build_go(dir.path()).and_then(|bin| run.go(&bin)) {
        Ok(f) => figures.push(f),
        Err(e) => failures.push(format!("Go crypto/tls: {e}")),
    }
    match run.openssl() {
        Ok(f) => figures.push(f),
        Err(e) => failures.push(format!("OpenSSL s_server: {e}")),
    }

    println!();
    println!(
        "| server | handshakes | failed | wall s | server CPU s | handshakes per server CPU s | µs per handshake | meshtls-net (multi-thread) is |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let ours = figures
        .iter()
        .find(|f| f.name == MESHTLS_MULTI)
        .map(Figure::per_cpu_second);
    for f in &figures {
        let rate = f.per_cpu_second();
        let ratio = ours.map_or("—".to_owned(), |o| format!("{:.2}×", o / rate));
        println!(
            "| {} | {} | {} | {:.2} | {:.3} | {:.0} | {:.1} | {ratio} |",
            f.name,
            f.handshakes,
            f.failed,
            f.wall,
            f.server_cpu,
            rate,
            1e6 / rate
        );
    }
    let go = figures
        .iter()
        .find(|f| f.name == GO)
        .map(Figure::per_cpu_second);
    for f in figures.iter().filter(|f| f.name.starts_with("meshtls-net")) {
        let o = f.per_cpu_second();
        println!(
            "{}: {} Go; {:.2} of the X25519 floor ({:.0}/s), {:.2} of the floor with \
             X25519MLKEM768 ({:.0}/s), the group it negotiates with a meshtls client",
            f.name,
            go.map_or("no".to_owned(), |g| format!("{:.2}×", o / g)),
            o * floor_x25519 / 1e6,
            1e6 / floor_x25519,
            o * (floor_x25519 + hybrid_extra) / 1e6,
            1e6 / (floor_x25519 + hybrid_extra)
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average after: {}", load.trim());
    }
    for f in &failures {
        println!("skipped: {f}");
    }
    if smoke && (!failures.is_empty() || figures.iter().any(|f| f.failed > 0)) {
        return Err("smoke run: a server was skipped or a handshake failed".into());
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    match arg("role").as_deref() {
        None => orchestrate(),
        Some("meshtls-server") => role_meshtls_server(Path::new(&need("dir")?)),
        Some("client") => role_client(Path::new(&need("dir")?)),
        Some("floor") => role_floor(),
        // The PKI alone, to run a role by hand (e.g. the server under a profiler).
        Some("pki") => write_pki(Path::new(&need("dir")?)),
        Some(other) => Err(format!("unknown role {other}").into()),
    }
}
