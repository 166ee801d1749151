//! Where a container's files are on the host, through its mounts.

use std::path::{Path, PathBuf};

use bollard::models::MountPoint;

/// Where a path inside a container is on the host: under the deepest bind or volume
/// mount that holds it. tmpfs and other mounts have no host path.
pub fn host_path(mounts: &[MountPoint], inside: &Path) -> Option<PathBuf> {
    mounts
        .iter()
        .filter(|m| matches!(m.typ.as_deref(), Some("bind" | "volume")))
        .filter_map(|m| {
            let destination = Path::new(m.destination.as_deref()?);
            let rest = inside.strip_prefix(destination).ok()?;
            let source = Path::new(m.source.as_deref().filter(|s| !s.is_empty())?);
            // A file mounted by itself: joining "" would add a `/` and name a directory.
            let path = if rest.as_os_str().is_empty() {
                source.to_path_buf()
            } else {
                source.join(rest)
            };
            Some((destination.components().count(), path))
        })
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(typ: &str, source: &str, destination: &str) -> MountPoint {
        MountPoint {
            typ: Some(typ.into()),
            source: Some(source.into()),
            destination: Some(destination.into()),
            ..MountPoint::default()
        }
    }

    #[test]
    fn a_path_inside_a_container_through_its_deepest_mount() {
        let mounts = [
            mount(
                "volume",
                "/var/lib/docker/volumes/shop_data/_data",
                "/var/lib/odoo",
            ),
            mount("bind", "/opt/shop/logs", "/var/log/odoo"),
            mount("bind", "/opt/shop/odoo.conf", "/etc/odoo/odoo.conf"),
            mount("bind", "/opt/shop/deep", "/var/log/odoo/deep"),
            mount("tmpfs", "", "/tmp"),
        ];
        let on_host = |p: &str| host_path(&mounts, Path::new(p));
        assert_eq!(
            on_host("/var/log/odoo/odoo.log"),
            Some("/opt/shop/logs/odoo.log".into())
        );
        assert_eq!(
            on_host("/var/log/odoo/deep/x.log"),
            Some("/opt/shop/deep/x.log".into())
        );
        assert_eq!(
            on_host("/var/lib/odoo/logs/odoo.log"),
            Some("/var/lib/docker/volumes/shop_data/_data/logs/odoo.log".into())
        );
        // A file mounted by itself is its own source.
        let conf = on_host("/etc/odoo/odoo.conf").unwrap();
        assert_eq!(conf.as_os_str(), "/opt/shop/odoo.conf", "no trailing slash");
        // Whole components only; tmpfs and unmounted paths have no host path.
        assert_eq!(on_host("/var/log/odoo2/odoo.log"), None);
        assert_eq!(on_host("/tmp/odoo.log"), None);
        assert_eq!(on_host("/odoo.log"), None);
        assert_eq!(on_host("odoo.log"), None);
    }
}
