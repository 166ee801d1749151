//! One behavioural suite for the `Target` handle, run against the local machine and
//! against a real sshd on loopback: every engine module relies on both behaving the same.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use odoo_ops::target::{Command, StreamChunk, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Keeps the server behind a target alive for the test's duration.
struct Fixture {
    target: Target,
    _sshd: Option<support::sshd::Sshd>,
    scratch: tempfile::TempDir,
}

async fn local() -> Fixture {
    Fixture {
        target: Target::local(),
        _sshd: None,
        scratch: tempfile::tempdir().unwrap(),
    }
}

async fn ssh() -> Fixture {
    let sshd = support::sshd::Sshd::start();
    let target = sshd.target().await;
    Fixture {
        target,
        _sshd: Some(sshd),
        scratch: tempfile::tempdir().unwrap(),
    }
}

/// Generates `local::NAME` and `ssh::NAME` from one `cases::NAME`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_local {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::cases::$name(&super::local().await).await } )*
        }
        mod on_ssh {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::cases::$name(&super::ssh().await).await } )*
        }
    };
}

both!(
    run_reports_stdout_stderr_and_exit_status,
    run_passes_stdin_through,
    run_reports_a_killing_signal_as_the_shell_does,
    stream_delivers_output_as_it_comes,
    dropping_a_stream_stops_the_command,
    write_then_read_a_file_with_its_mode,
    a_reader_never_sees_half_a_file,
    reading_a_missing_file_names_it,
    connect_loopback_reaches_an_http_server_on_the_host,
    connect_tcp_resolves_the_name_on_the_host,
    docker_lists_the_engines_containers,
);

mod cases {
    use super::*;

    pub async fn run_reports_stdout_stderr_and_exit_status(f: &Fixture) {
        let out = f
            .target
            .run(&Command::script("echo out; echo err >&2; exit 3"))
            .await
            .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout_text(), "out\n");
        assert_eq!(out.stderr_text(), "err\n");
        assert!(!out.success());
        let ok = f.target.run(&Command::new("true")).await.unwrap();
        assert!(ok.success());
    }

    pub async fn run_passes_stdin_through(f: &Fixture) {
        let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        let out = f
            .target
            .run(&Command::new("cat").stdin(binary.clone()))
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), binary.len());
        assert!(out.stdout == binary, "stdin came back changed");
        // No stdin: the command sees end-of-file at once instead of hanging.
        let out = tokio::time::timeout(Duration::from_secs(10), f.target.run(&Command::new("cat")))
            .await
            .expect("cat without stdin must not hang")
            .unwrap();
        assert_eq!(out.stdout, b"");
    }

    pub async fn run_reports_a_killing_signal_as_the_shell_does(f: &Fixture) {
        let out = f.target.run(&Command::script("kill -9 $$")).await.unwrap();
        assert_eq!(out.status, Some(128 + 9));
        assert!(!out.success());
    }

    pub async fn stream_delivers_output_as_it_comes(f: &Fixture) {
        // The command cannot finish before the test has seen its first line and answered
        // by creating `go`: output must arrive while the command runs.
        let go = f.scratch.path().join("go");
        let script = "echo one; while [ ! -e \"$1\" ]; do sleep 0.02; done; \
                      echo two >&2; sleep 0.2; echo three; exit 4";
        let mut s = f
            .target
            .stream(&Command::script(script).arg(go.to_string_lossy()))
            .await
            .unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), s.chunks.recv())
            .await
            .expect("the first line arrives while the command runs")
            .unwrap();
        assert_eq!(first, StreamChunk::Stdout(b"one\n".to_vec()));
        std::fs::write(&go, b"").unwrap();
        let mut rest = Vec::new();
        while let Some(c) = s.chunks.recv().await {
            rest.push(c);
        }
        assert_eq!(
            rest,
            vec![
                StreamChunk::Stderr(b"two\n".to_vec()),
                StreamChunk::Stdout(b"three\n".to_vec()),
                StreamChunk::Exit(Some(4)),
            ]
        );
    }

    pub async fn dropping_a_stream_stops_the_command(f: &Fixture) {
        let marker = f.scratch.path().join("still-running");
        let script = "while :; do echo tick; date +%s%N > \"$1\"; sleep 0.05; done";
        let mut s = f
            .target
            .stream(&Command::script(script).arg(marker.to_string_lossy()))
            .await
            .unwrap();
        for _ in 0..3 {
            assert_eq!(
                s.chunks.recv().await,
                Some(StreamChunk::Stdout(b"tick\n".to_vec()))
            );
        }
        assert!(marker.exists(), "the command is running");
        drop(s);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = std::fs::read_to_string(&marker).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = std::fs::read_to_string(&marker).unwrap();
        assert_eq!(
            before, after,
            "the command kept running after its stream was dropped"
        );
    }

    pub async fn write_then_read_a_file_with_its_mode(f: &Fixture) {
        let path: PathBuf = f.scratch.path().join("odoo it's $(x).conf");
        f.target.write_file(&path, b"first\n", 0o600).await.unwrap();
        let contents = b"[options]\nadmin_passwd = s3cret\n\x00\xff binary too\n".to_vec();
        f.target.write_file(&path, &contents, 0o640).await.unwrap();
        assert_eq!(f.target.read_file(&path).await.unwrap(), contents);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        // Nothing but the file itself is left behind (no temp files).
        let names: Vec<String> = std::fs::read_dir(f.scratch.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["odoo it's $(x).conf".to_string()]);
    }

    pub async fn a_reader_never_sees_half_a_file(f: &Fixture) {
        let path = f.scratch.path().join("odoo.conf");
        let old = vec![b'a'; 2 << 20];
        let new = vec![b'b'; 3 << 20];
        f.target.write_file(&path, &old, 0o644).await.unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (path, old, new, done) = (path.clone(), old.clone(), new.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let seen = std::fs::read(&path).unwrap();
                    assert!(
                        seen == old || seen == new,
                        "read a file of {} bytes, half written",
                        seen.len()
                    );
                    reads += 1;
                }
                reads
            })
        };
        for round in 0..6 {
            let contents = if round % 2 == 0 { &new } else { &old };
            f.target.write_file(&path, contents, 0o644).await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    }

    pub async fn reading_a_missing_file_names_it(f: &Fixture) {
        let path = f.scratch.path().join("missing.conf");
        let e = f.target.read_file(&path).await.unwrap_err();
        assert!(format!("{e:#}").contains("missing.conf"), "{e:#}");
        let e = f
            .target
            .write_file(&f.scratch.path().join("no/such/dir/x"), b"x", 0o600)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("no/such/dir/"), "{e:#}");
    }

    pub async fn connect_loopback_reaches_an_http_server_on_the_host(f: &Fixture) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = request.split_whitespace().nth(1).unwrap_or("?").to_string();
                    let body = format!("you asked for {path}");
                    let _ = sock
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .await;
                });
            }
        });
        let mut tunnel = f.target.connect_loopback(port).await.unwrap();
        tunnel
            .write_all(b"GET /web/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        tunnel.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.ends_with("you asked for /web/health"),
            "{response}"
        );

        // A port nobody listens on is an error, not a hang.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(f.target.connect_loopback(dead_port).await.is_err());
    }

    pub async fn connect_tcp_resolves_the_name_on_the_host(f: &Fixture) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let _ = sock.write_all(b"hello from the host").await;
            }
        });
        let mut tunnel = f.target.connect_tcp("localhost", port).await.unwrap();
        let mut greeting = Vec::new();
        tunnel.read_to_end(&mut greeting).await.unwrap();
        assert_eq!(greeting, b"hello from the host");
        // A name the host cannot resolve is an error that names it.
        let e = f
            .target
            .connect_tcp("no-such-host.invalid", port)
            .await
            .err()
            .expect("an unresolvable name cannot be connected to");
        assert!(format!("{e:#}").contains("no-such-host.invalid"), "{e:#}");
    }

    pub async fn docker_lists_the_engines_containers(f: &Fixture) {
        use bollard::query_parameters::ListContainersOptions;
        // A container of our own: the daemon is shared with other tests, so only what
        // this test created can be asserted on.
        let ticker = support::ticker::Ticker::start(1, 0);
        ticker.wait();
        let docker = f.target.docker().await.unwrap();
        let all = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .unwrap();
        let ours = all
            .iter()
            .find(|c| c.id.as_deref() == Some(ticker.container.as_str()))
            .expect("the container this test started is listed");
        assert!(
            ours.image
                .as_deref()
                .unwrap_or_default()
                .starts_with("odoo-ops-test-ticker:")
        );
        assert_eq!(
            ours.state,
            Some(bollard::models::ContainerSummaryStateEnum::EXITED)
        );
        let version = docker.version().await.unwrap();
        assert!(version.version.is_some());
    }
}
