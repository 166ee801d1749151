//! SSH to a droplet with russh: one connection per host carries commands, files, TCP to
//! the host's loopback ports and the Docker API, and comes back by itself after a drop.
//!
//! - [`config`]: `~/.ssh/config`; [`destination`]: `[user@]host[:port]` into a [`ConnectSpec`];
//! - [`known_hosts`]: host key verdicts; [`prompt`]: who is asked about unknown keys and
//!   passphrases; [`auth`]: agent, then key files;
//! - [`session`]: one logged-in session (ProxyJump chains and [`proxy_command`] included;
//!   [`deadline`]: the connect timeout, which spares a person's answer); [`connection`]: keepalive,
//!   reconnect with backoff, state events;
//! - [`exec`]: commands on channels, short ones as jobs of one [`job_shell`]; [`docker`]: bollard over direct-streamlocal;
//!   [`resume`]: follows that continue after a reconnect.

pub mod auth;
pub mod config;
pub mod connection;
pub mod deadline;
pub mod destination;
pub mod docker;
pub mod exec;
pub mod job_shell;
pub mod known_hosts;
pub mod prompt;
pub mod proxy_command;
pub mod resume;
pub mod session;

pub use connection::{Backoff, ConnectionState, SshConnection};
pub use destination::{ConnectSpec, Destination, Environment, HostKeyPolicy, Overrides, Proxy};
pub use prompt::{
    HeadlessPrompter, HostKeyQuestion, Passphrase, Prompter, TtyPrompter, YieldingPrompter,
};
