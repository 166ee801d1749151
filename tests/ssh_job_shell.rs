//! Over SSH, short commands run as jobs of one long-lived shell, not each through a new
//! login shell (whose ~/.bashrc can cost 100 ms of CPU per command on a droplet). A real
//! sshd whose sessions source a `BASH_ENV` file that records every login shell start.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use odoo_ops::target::{Command, Target};
use support::sshd::Sshd;

/// An sshd with `TMPDIR` private to the test (where the job shell keeps its directory);
/// it logs every exec request (`Starting session: command ...`).
struct Host {
    sshd: Sshd,
    dir: tempfile::TempDir,
}

impl Host {
    /// `path`: the PATH sessions get (sshd's default when `None`).
    fn start(path: Option<&str>) -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // A space in TMPDIR, which the job shell's directory name then holds.
        let tmp = dir.path().join("tmp dir");
        std::fs::create_dir(&tmp).unwrap();
        let mut env = format!("SetEnv \"TMPDIR={}\"", tmp.display());
        if let Some(path) = path {
            env.push_str(&format!(" PATH={path}"));
        }
        let sshd = Sshd::start_with(&env);
        Host { sshd, dir }
    }

    /// How many commands sshd started through the login shell.
    fn exec_requests(&self) -> usize {
        self.sshd.log().matches("Starting session: command").count()
    }

    fn job_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path().join("tmp dir"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("odoo-ops-jobs."))
            .collect()
    }
}

async fn echo(target: &Target, word: String) -> String {
    target
        .run(&Command::new("echo").arg(word))
        .await
        .unwrap()
        .stdout_text()
}

fn state_and_ppid(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((state, rest.next()?.parse().ok()?))
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect()
}

fn descendants(root: i32) -> Vec<i32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for pid in all_pids() {
            if state_and_ppid(pid).is_some_and(|(_, p)| p == parent) && !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_share_one_login_shell_and_run_at_the_same_time() {
    let host = Host::start(None);
    let target = host.sshd.target().await;
    for i in 0..10 {
        assert_eq!(echo(&target, format!("n{i}")).await, format!("n{i}\n"));
    }
    // Concurrent ones too: each output comes back to its own caller.
    let outputs = futures::future::join_all((0..20).map(|i| echo(&target, format!("c{i}")))).await;
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(out, &format!("c{i}\n"));
    }
    assert_eq!(
        host.exec_requests(),
        1,
        "30 commands must start one login shell, the job shell's"
    );

    // They run at the same time: the first only ends once the second has run.
    let flag = host.dir.path().join("flag");
    let waiter = Command::script("while [ ! -e \"$1\" ]; do sleep 0.02; done; echo seen")
        .arg(flag.to_string_lossy());
    let (waited, touched) = tokio::time::timeout(
        Duration::from_secs(20),
        futures::future::join(
            target.run(&waiter),
            target.run(&Command::new("touch").arg(flag.to_string_lossy())),
        ),
    )
    .await
    .expect("the second command ran while the first waited for it");
    assert_eq!(waited.unwrap().stdout_text(), "seen\n");
    assert!(touched.unwrap().success());

    // A command with standard input takes its own exec channel (one more login shell).
    let file = host.dir.path().join("written");
    target.write_file(&file, b"x", 0o600).await.unwrap();
    assert_eq!(host.exec_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_leave_no_zombies_and_the_private_dir_goes_with_the_connection() {
    let host = Host::start(None);
    // What a dispatcher killed outright leaves behind: its directory, naming a pid that
    // no longer runs. The next dispatcher removes it.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let stale = host.dir.path().join("tmp dir").join("odoo-ops-jobs.stale1");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("pid"), format!("{gone_pid}\n")).unwrap();
    std::fs::write(stale.join("7.o"), "left over").unwrap();
    let target = host.sshd.target().await;
    futures::future::join_all((0..25).map(|i| echo(&target, format!("z{i}")))).await;

    let dirs = host.job_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let mode = std::fs::metadata(&dirs[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "outputs of commands are private");

    // The dispatcher (`sh`, started by the login shell's `exec sh`) reaps nothing
    // itself: its jobs must not stay behind as zombies.
    let shells: Vec<i32> = descendants(host.sshd.pid() as i32)
        .into_iter()
        .filter(|p| cmdline(*p).trim() == "sh")
        .collect();
    assert_eq!(shells.len(), 1, "one job shell: {shells:?}");
    wait_for("the jobs' processes to end", || {
        descendants(shells[0]).is_empty()
    })
    .await;
    let zombies: Vec<i32> = all_pids()
        .into_iter()
        .filter(|p| state_and_ppid(*p) == Some(('Z', shells[0])))
        .collect();
    assert!(zombies.is_empty(), "zombie jobs: {zombies:?}");

    drop(target);
    wait_for("the job shell's directory to be removed", || {
        host.job_dirs().is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_flock_gets_one_exec_channel_per_command() {
    // Every program on the PATH but flock, as on a minimal image without util-linux.
    let bin = tempfile::tempdir().unwrap();
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let link = bin.path().join(entry.file_name());
            if entry.file_name() != "flock" && !link.exists() {
                std::os::unix::fs::symlink(entry.path(), &link).unwrap();
            }
        }
    }
    let host = Host::start(Some(&bin.path().to_string_lossy()));
    let target = host.sshd.target().await;
    for i in 0..3 {
        assert_eq!(echo(&target, format!("f{i}")).await, format!("f{i}\n"));
    }
    let out = target
        .run(&Command::script("echo out; echo err >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!((out.status, out.stdout_text()), (Some(3), "out\n".into()));
    assert!(
        out.stderr_text().ends_with("err\n"),
        "{}",
        out.stderr_text()
    );
    // The attempt to start the job shell, then one login shell per command.
    assert_eq!(host.exec_requests(), 1 + 4);
    assert!(host.job_dirs().is_empty(), "{:?}", host.job_dirs());
}
