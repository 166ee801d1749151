//! A real OpenSSH sshd on a free loopback port: its own host key, authorized_keys and
//! sshd_config in a temp dir, run in the foreground (`-D -e`) and killed on Drop.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    pub dir: tempfile::TempDir,
    /// The loopback address it listens on (127.0.0.1 unless started with another).
    pub address: String,
    /// The hostname its sessions see (its own UTS namespace), when started with one.
    pub hostname: Option<String>,
    pub port: u16,
    child: Child,
    /// The host's public key line (`ssh-ed25519 AAAA...`).
    pub host_public_key: String,
    /// The host's private key file (its `.pub` beside it).
    pub host_key: PathBuf,
    /// A key pair authorized for `root` (and any user the sshd lets in).
    pub client_key: PathBuf,
}

/// `TYPE BASE64` of the public half of a key file (no comment).
pub fn public_key_line(private_key: &Path) -> String {
    let mut pub_path = private_key.as_os_str().to_owned();
    pub_path.push(".pub");
    std::fs::read_to_string(&pub_path)
        .unwrap()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ssh-keygen -t TYPE -N PASSPHRASE -f PATH`.
pub fn keygen(path: &Path, key_type: &str, passphrase: &str) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            key_type,
            "-N",
            passphrase,
            "-C",
            "odoo-ops-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

/// `sshd -D -e -f CONFIG`, in a UTS namespace named `hostname` when one is given.
fn sshd_command(config: &Path, hostname: Option<&str>) -> Command {
    let mut command = Command::new("/usr/sbin/sshd");
    command
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(name) = hostname {
        let name = name.as_bytes().to_vec();
        // SAFETY: between fork and exec only async-signal-safe calls (unshare,
        // sethostname) on memory prepared before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                if libc::unshare(libc::CLONE_NEWUTS) != 0
                    || libc::sethostname(name.as_ptr().cast(), name.len()) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// Start with extra sshd_config lines (they come first, and in sshd_config the first
    /// value of a keyword wins, so they override the defaults here).
    pub fn start_with(extra_config: &str) -> Self {
        Self::start_with_host_key("ed25519", extra_config)
    }

    /// Start with a host key of `key_type` (`ed25519`, `ecdsa`, `rsa`) as its only one
    /// (unless `extra_config` adds more `HostKey` lines).
    pub fn start_with_host_key(key_type: &str, extra_config: &str) -> Self {
        Self::start_full(key_type, extra_config, "127.0.0.1", None)
    }

    /// A host of its own: listening on the loopback `address` (127.0.0.2, ...), and in
    /// a UTS namespace of its own named `hostname`, so what its sessions read of the host
    /// (`/proc/sys/kernel/hostname`) tells it from another test sshd. Needs root.
    pub fn start_as(hostname: &str, address: &str) -> Self {
        Self::start_full("ed25519", "", address, Some(hostname))
    }

    fn start_full(
        key_type: &str,
        extra_config: &str,
        address: &str,
        hostname: Option<&str>,
    ) -> Self {
        // sshd refuses to start without its privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let dir = tempfile::Builder::new().prefix("sshd-").tempdir().unwrap();
        // Traversable so sshd can read authorized_keys as a non-root login user.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let host_key = dir.path().join(format!("host_{key_type}"));
        keygen(&host_key, key_type, "");
        let client_key = dir.path().join("client_ed25519");
        keygen(&client_key, "ed25519", "");
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).unwrap();
        std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o644)).unwrap();
        let host_public_key = public_key_line(&host_key);

        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            let mut f = std::fs::File::create(&config).unwrap();
            write!(
                f,
                "{extra_config}\nPort {port}\nListenAddress {address}\nHostKey {}\nPidFile {}\n\
                 AuthorizedKeysFile {}\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 AllowTcpForwarding yes\nAllowStreamLocalForwarding yes\nMaxSessions 200\n\
                 MaxStartups 100\nLogLevel VERBOSE\nPrintMotd no\n",
                host_key.display(),
                dir.path().join("sshd.pid").display(),
                authorized.display(),
            )
            .unwrap();
            drop(f);
            let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
            let mut child = sshd_command(&config, hostname)
                .stderr(log)
                .spawn()
                .expect("start /usr/sbin/sshd");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect((address, port)).is_ok() {
                    return Sshd {
                        dir,
                        address: address.to_string(),
                        hostname: hostname.map(str::to_string),
                        port,
                        child,
                        host_public_key,
                        host_key,
                        client_key,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    /// Stop the server (and its sessions): the host looks down until `restart`.
    pub fn stop(&mut self) {
        for pid in self.session_pids() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop, give the server a new host key of `key_type` in place of its old one, and
    /// start again on the same port: a rebuilt host, or an impostor without the old key.
    pub fn replace_host_key(&mut self, key_type: &str) {
        self.stop();
        let new_key = self.dir.path().join(format!("host_{key_type}_new"));
        keygen(&new_key, key_type, "");
        let config = self.dir.path().join("sshd_config");
        let text = std::fs::read_to_string(&config).unwrap().replace(
            &format!("HostKey {}\n", self.host_key.display()),
            &format!("HostKey {}\n", new_key.display()),
        );
        std::fs::write(&config, text).unwrap();
        self.host_public_key = public_key_line(&new_key);
        self.host_key = new_key;
        self.restart();
    }

    /// Start again on the same port with the same keys.
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("sshd.log"))
            .unwrap();
        self.child = sshd_command(
            &self.dir.path().join("sshd_config"),
            self.hostname.as_deref(),
        )
        .stderr(log)
        .spawn()
        .expect("restart /usr/sbin/sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((self.address.as_str(), self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not come back:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// `[ADDRESS]:PORT ssh-ed25519 AAAA...`, as known_hosts records this server.
    pub fn known_hosts_line(&self) -> String {
        format!(
            "[{}]:{} {}\n",
            self.address, self.port, self.host_public_key
        )
    }

    /// Authorize another public key file.
    pub fn authorize(&self, public_key: &Path) {
        let line = std::fs::read_to_string(public_key).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .unwrap();
        f.write_all(line.as_bytes()).unwrap();
    }

    /// The per-connection sshd processes (children of the listener).
    pub fn session_pids(&self) -> Vec<i32> {
        let parent = self.child.id() as i32;
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces, so split after `)`.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(parent) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Kill every connection's sshd process: what a dropped link looks like to a client.
    pub fn kill_sessions(&self) -> usize {
        let pids = self.session_pids();
        for pid in &pids {
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        pids.len()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Several servers for a jump chain: each logs forwarded connections (`LogLevel
/// DEBUG1` shows `direct-tcpip` requests with their destination port) and authorizes
/// every other's client key, so one key file logs in everywhere.
pub fn start_chain(count: usize) -> Vec<Sshd> {
    let servers: Vec<Sshd> = (0..count)
        .map(|_| Sshd::start_with("LogLevel DEBUG1"))
        .collect();
    for a in &servers {
        for b in &servers {
            if a.port != b.port {
                a.authorize(&b.client_key.with_extension("pub"));
            }
        }
    }
    servers
}

/// One known_hosts text trusting every server given.
pub fn known_hosts_for(servers: &[&Sshd]) -> String {
    servers.iter().map(|s| s.known_hosts_line()).collect()
}

impl Drop for Sshd {
    fn drop(&mut self) {
        for pid in self.session_pids() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// How odoo-ops connects to this sshd as `user` with the authorized client key, checking
    /// host keys against `known_hosts` (not the real ~/.ssh) and using no agent.
    pub fn spec(&self, user: &str, known_hosts: &Path) -> odoo_ops::ssh::ConnectSpec {
        odoo_ops::ssh::ConnectSpec {
            label: format!("test-sshd-{}", self.port),
            host: self.address.clone(),
            port: self.port,
            user: user.into(),
            identity_files: vec![self.client_key.clone()],
            identities_only: false,
            agent_socket: None,
            known_hosts: vec![known_hosts.to_path_buf()],
            host_key_policy: odoo_ops::ssh::HostKeyPolicy::Ask,
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 3,
            connect_timeout: Duration::from_secs(20),
            proxy: odoo_ops::ssh::Proxy::Direct,
        }
    }

    /// The `Host` block naming this server `alias` in an `~/.ssh/config`, logging in as
    /// root with its client key; `extra` lines go inside the block.
    pub fn ssh_config_block(&self, alias: &str, extra: &str) -> String {
        format!(
            "Host {alias}\n  HostName {}\n  Port {}\n  User root\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n{extra}",
            self.address,
            self.port,
            self.client_key.display()
        )
    }

    /// A known_hosts file (in this sshd's dir) that already trusts it.
    pub fn trusted_known_hosts(&self) -> PathBuf {
        let path = self.dir.path().join("client_known_hosts");
        std::fs::write(&path, self.known_hosts_line()).unwrap();
        path
    }

    /// Connected as root, host key already trusted, no prompts possible.
    pub async fn target(&self) -> odoo_ops::target::Target {
        let spec = self.spec("root", &self.trusted_known_hosts());
        let t = odoo_ops::target::SshTarget::connect(
            spec,
            std::sync::Arc::new(odoo_ops::ssh::HeadlessPrompter),
        )
        .await
        .expect("connect to the test sshd");
        odoo_ops::target::Target::Ssh(t)
    }
}

impl Sshd {
    /// A home directory under `dir` whose `~/.ssh/config` names this server `droplet`
    /// (root, the authorized key, no agent) and whose known_hosts already trusts it: what
    /// an operator has who runs `odoo-ops droplet`.
    pub fn client_home(&self, dir: &Path) -> PathBuf {
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(
            home.join(".ssh/config"),
            format!(
                "Host droplet\n  HostName {}\n  Port {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n",
                self.address,
                self.port,
                self.client_key.display()
            ),
        )
        .unwrap();
        std::fs::write(home.join(".ssh/known_hosts"), self.known_hosts_line()).unwrap();
        home
    }
}

/// `SHA256:…` of a public key file, as OpenSSH's `ssh-keygen -lf` prints it: what a
/// host-key question must show.
pub fn keygen_fingerprint(public_key: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

impl Sshd {
    /// The fingerprint OpenSSH itself prints for this server's key.
    pub fn host_key_fingerprint(&self) -> String {
        keygen_fingerprint(&self.dir.path().join("host_ed25519.pub"))
    }
}
