//! SSH performance against OpenSSH on the same sshd (loopback, same host key and client
//! key): connect-to-ready, command round trip on an open connection, and streaming
//! throughput. Prints each figure and the ratio odoo-ops / OpenSSH.
//!
//! Run: `cargo bench --bench ssh` (release), or `cargo bench --bench ssh --profile dev`.

#[allow(dead_code)]
#[path = "../tests/support/sshd.rs"]
mod sshd;

use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use odoo_ops::ssh::{HeadlessPrompter, SshConnection};
use odoo_ops::target::{Command, SshTarget, StreamChunk, Target};

const CONNECT_RUNS: usize = 15;
const ROUND_TRIPS: usize = 30;
const BIG_FILE_MIB: usize = 256;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1000.0)
}

struct OpenSsh<'a> {
    sshd: &'a sshd::Sshd,
    known_hosts: std::path::PathBuf,
}

impl OpenSsh<'_> {
    fn command(&self, extra: &[&str]) -> Process {
        let mut p = Process::new("ssh");
        p.arg("-i")
            .arg(&self.sshd.client_key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args(["-F", "/dev/null", "-p", &self.sshd.port.to_string()])
            .args(extra)
            .arg("root@127.0.0.1")
            .stdin(Stdio::null());
        p
    }

    fn run(&self, extra: &[&str], remote: &str) -> Duration {
        let start = Instant::now();
        let status = self
            .command(extra)
            .arg(remote)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        start.elapsed()
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sshd = sshd::Sshd::start();
    let known_hosts = sshd.trusted_known_hosts();
    let openssh = OpenSsh {
        sshd: &sshd,
        known_hosts: known_hosts.clone(),
    };
    let spec = sshd.spec("root", &known_hosts);

    println!(
        "SSH benchmarks against OpenSSH sshd on 127.0.0.1:{}",
        sshd.port
    );
    println!(
        "(medians; ratio = odoo-ops / OpenSSH, lower is better for times, higher for throughput)\n"
    );

    // 1. Connect, authenticate, run `true`.
    let ours: Vec<Duration> = (0..CONNECT_RUNS)
        .map(|_| {
            runtime.block_on(async {
                let start = Instant::now();
                let conn = SshConnection::connect(spec.clone(), Arc::new(HeadlessPrompter))
                    .await
                    .unwrap();
                let target = Target::Ssh(SshTarget::from_connection(conn));
                assert!(target.run(&Command::new("true")).await.unwrap().success());
                start.elapsed()
            })
        })
        .collect();
    let theirs: Vec<Duration> = (0..CONNECT_RUNS)
        .map(|_| openssh.run(&[], "true"))
        .collect();
    let (o, t) = (median(ours), median(theirs));
    println!("connect-to-ready (connect + auth + `true`), {CONNECT_RUNS} runs");
    println!(
        "  odoo-ops {}   OpenSSH `ssh host true` {}   ratio {:.2}\n",
        ms(o),
        ms(t),
        o.as_secs_f64() / t.as_secs_f64()
    );

    // 2. Round trip of `true` on an open connection (OpenSSH: ControlMaster mux).
    let control = sshd.dir.path().join("ctl");
    let control_opt = format!("ControlPath={}", control.display());
    let master = openssh
        .command(&["-o", "ControlMaster=yes", "-o", &control_opt, "-N"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !control.exists() {
        assert!(
            Instant::now() < deadline,
            "OpenSSH control master did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let target = runtime.block_on(sshd.target());
    let ours: Vec<Duration> = (0..ROUND_TRIPS)
        .map(|_| {
            runtime.block_on(async {
                let start = Instant::now();
                target.run(&Command::new("true")).await.unwrap();
                start.elapsed()
            })
        })
        .collect();
    let theirs: Vec<Duration> = (0..ROUND_TRIPS)
        .map(|_| openssh.run(&["-o", &control_opt], "true"))
        .collect();
    // The same command on an exec channel of its own, as OpenSSH runs every command:
    // through the login shell (and whatever its ~/.bashrc costs on this machine).
    let Target::Ssh(ssh) = &target else {
        unreachable!("an SSH target")
    };
    let own_channel: Vec<Duration> = (0..ROUND_TRIPS)
        .map(|_| {
            runtime.block_on(async {
                let start = Instant::now();
                odoo_ops::ssh::exec::run_on_channel(ssh.connection(), &Command::new("true"))
                    .await
                    .unwrap();
                start.elapsed()
            })
        })
        .collect();
    let (o, t, c) = (median(ours), median(theirs), median(own_channel));
    println!("command round trip on an open connection, {ROUND_TRIPS} runs");
    println!(
        "  odoo-ops (a job of its shell) {}   OpenSSH mux `ssh -S ctl host true` {}   ratio {:.2}",
        ms(o),
        ms(t),
        o.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "  odoo-ops on an exec channel of its own (login shell per command) {}   ratio {:.2}\n",
        ms(c),
        c.as_secs_f64() / t.as_secs_f64()
    );

    // 3. Streaming throughput of `cat bigfile`.
    let big = sshd.dir.path().join("bigfile");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&big).unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        for _ in 0..BIG_FILE_MIB {
            f.write_all(&block).unwrap();
        }
    }
    let bytes = (BIG_FILE_MIB * 1024 * 1024) as u64;
    let cat = format!("cat {}", big.display());
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut theirs_direct = Vec::new();
    for _ in 0..3 {
        ours.push(runtime.block_on(async {
            let start = Instant::now();
            let mut s = target
                .stream(&Command::new("cat").arg(big.to_string_lossy()))
                .await
                .unwrap();
            let mut got = 0u64;
            while let Some(chunk) = s.chunks.recv().await {
                if let StreamChunk::Stdout(b) = chunk {
                    got += b.len() as u64;
                }
            }
            assert_eq!(got, bytes);
            start.elapsed()
        }));
        theirs.push(openssh.run(&["-o", &control_opt], &cat));
        theirs_direct.push(openssh.run(&[], &cat));
    }
    let direct = median(theirs_direct);
    let (o, t) = (median(ours), median(theirs));
    let mib_s = |d: Duration| BIG_FILE_MIB as f64 / d.as_secs_f64();
    println!(
        "streaming throughput of `cat` on a {BIG_FILE_MIB} MiB file (open connection), 3 runs"
    );
    println!(
        "  odoo-ops {:8.1} MiB/s   OpenSSH `ssh host cat bigfile` {:8.1} MiB/s   ratio {:.2}",
        mib_s(o),
        mib_s(t),
        mib_s(o) / mib_s(t)
    );
    println!(
        "  (OpenSSH on a new connection, connect included: {:8.1} MiB/s, ratio {:.2})",
        mib_s(direct),
        mib_s(o) / mib_s(direct)
    );

    let _ = Process::new("ssh")
        .args(["-o", &control_opt, "-O", "exit", "root@127.0.0.1"])
        .stderr(Stdio::null())
        .status();
    let mut master = master;
    let _ = master.kill();
    let _ = master.wait();
}
