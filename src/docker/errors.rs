//! What a Docker error means for the operator. bollard's errors are the library's words
//! (`Error in the hyper legacy client: client error (Connect): Permission denied (os
//! error 13)`); every face (the Host and Containers panes, the command line) says instead
//! what is wrong and what to do, from this one place.

/// Docker's socket when nothing says otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// An operator's sentence for a Docker error's text (`{e:#}`, the chain of causes).
/// Errors this does not recognise are given as they are, on one line.
pub fn explain(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let socket = socket_in(raw).unwrap_or(DEFAULT_SOCKET);
    if lower.contains("permission denied") || lower.contains("os error 13") {
        return format!(
            "cannot use Docker's socket {socket}: permission denied — add this user to the \
             docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo"
        );
    }
    if lower.contains("no such file or directory")
        || lower.contains("os error 2)")
        || lower.contains("socket not found")
    {
        return format!(
            "Docker's socket {socket} is not there: Docker is not installed or not started \
             (systemctl start docker)"
        );
    }
    if lower.contains("connection refused") || lower.contains("os error 111") {
        return format!(
            "nothing listens on Docker's socket {socket}: the daemon has stopped \
             (systemctl status docker)"
        );
    }
    if lower.contains("did not answer") || lower.contains("timed out") {
        return format!(
            "Docker's socket {socket} did not answer in time: the daemon is hung or overloaded \
             (systemctl status docker)"
        );
    }
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A socket path named in the error, if any (`unix:///run/user/1000/docker.sock`, or the
/// path bollard gives).
fn socket_in(raw: &str) -> Option<&str> {
    raw.split(|c: char| c.is_whitespace() || c == '`' || c == '\'' || c == '"' || c == ',')
        .map(|w| w.trim_start_matches("unix://").trim_end_matches([':', ')']))
        .find(|w| w.starts_with('/') && w.ends_with(".sock"))
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn permission_denied_says_what_to_do() {
        let raw = "Error in the hyper legacy client: client error (Connect): Permission denied \
                   (os error 13)";
        assert_eq!(
            explain(raw),
            "cannot use Docker's socket /var/run/docker.sock: permission denied — add this \
             user to the docker group (sudo usermod -aG docker $USER, then log in again) or \
             run with sudo"
        );
    }

    #[test]
    fn a_missing_socket_names_its_path() {
        let raw = "Socket not found: /run/user/1000/docker.sock";
        assert!(explain(raw).starts_with("Docker's socket /run/user/1000/docker.sock"));
        let raw = "Error in the hyper legacy client: client error (Connect): No such file or \
                   directory (os error 2)";
        assert!(explain(raw).contains("not installed or not started"));
    }

    #[test]
    fn refused_and_unknown_errors() {
        assert!(explain("Connection refused (os error 111)").contains("daemon has stopped"));
        assert_eq!(explain("odd\n  thing"), "odd thing");
    }
}
