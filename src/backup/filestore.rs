//! The filestore (`data_dir/filestore/DB`) through Docker's archive API and, for renames
//! while Odoo is stopped, a one-off helper container that shares Odoo's volumes: nothing
//! needs a shell in Odoo's image or root on the host, locally and over SSH alike.

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, RemoveContainerOptions,
    UploadToContainerOptions, WaitContainerOptions,
};
use bytes::Bytes;
use color_eyre::eyre::{Result, eyre};
use futures::StreamExt;
use tokio::sync::mpsc;

/// Stream the tar of `path` in `container` to `tx` (Docker names the entries
/// `BASENAME/...`). `Ok(false)` when the path does not exist: Odoo makes a database's
/// filestore at its first attachment, so a database may have none.
pub async fn download(
    docker: &Docker,
    container: &str,
    path: &str,
    tx: mpsc::Sender<Bytes>,
) -> Result<bool> {
    let options = DownloadFromContainerOptions {
        path: path.to_string(),
    };
    let mut stream = docker.download_from_container(container, Some(options));
    let mut first = true;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if tx.send(bytes).await.is_err() {
                    return Err(eyre!(
                        "copying {path} out of {container}: the writer stopped"
                    ));
                }
            }
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) if first => return Ok(false),
            Err(e) => return Err(eyre!("copying {path} out of {container}: {e}")),
        }
        first = false;
    }
    Ok(true)
}

/// The owner (uid, gid) of `path` in `container`, from the first header of its tar (the
/// rest is not read); `None` when it does not exist. Restored files get this owner, so
/// Odoo (user `odoo` in its image) can write beside them.
pub async fn owner(docker: &Docker, container: &str, path: &str) -> Result<Option<(u64, u64)>> {
    let options = DownloadFromContainerOptions {
        path: path.to_string(),
    };
    let mut stream = docker.download_from_container(container, Some(options));
    let mut head = Vec::with_capacity(512);
    while head.len() < 512 {
        match stream.next().await {
            Some(Ok(bytes)) => head.extend_from_slice(&bytes),
            Some(Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            })) => return Ok(None),
            Some(Err(e)) => return Err(eyre!("reading {path} in {container}: {e}")),
            None => return Err(eyre!("reading {path} in {container}: an empty archive")),
        }
    }
    let header = tar::Header::from_byte_slice(&head[..512]);
    let uid = header.uid().map_err(|e| eyre!("{path}: {e}"))?;
    let gid = header.gid().map_err(|e| eyre!("{path}: {e}"))?;
    Ok(Some((uid, gid)))
}

/// Extract the tar received on `rx` into `parent` in `container` (which must exist).
/// Owners come from the tar's headers.
pub async fn upload(
    docker: &Docker,
    container: &str,
    parent: &str,
    rx: mpsc::Receiver<Bytes>,
) -> Result<()> {
    let options = UploadToContainerOptions {
        path: parent.to_string(),
        no_overwrite_dir_non_dir: Some("true".into()),
        copy_uidgid: None,
    };
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    docker
        .upload_to_container(container, Some(options), bollard::body_stream(body))
        .await
        .map_err(|e| eyre!("copying into {parent} in {container}: {e}"))
}

/// Run `sh -c SCRIPT sh ARGS...` in a one-off container of `image` that has the volumes of
/// `volumes_of` (Odoo's container, running or stopped), without a network, removed after.
/// The arguments travel as argv, never spliced into the script.
pub async fn run_helper(
    docker: &Docker,
    image: &str,
    volumes_of: &str,
    script: &str,
    args: &[&str],
) -> Result<()> {
    let mut cmd = vec!["-c".to_string(), script.to_string(), "sh".to_string()];
    cmd.extend(args.iter().map(|a| a.to_string()));
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["sh".into()]),
        cmd: Some(cmd),
        user: Some("0:0".into()),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            volumes_from: Some(vec![volumes_of.to_string()]),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(|e| eyre!("creating a helper container of {image}: {e}"))?;
    let result = async {
        docker
            .start_container(&created.id, None)
            .await
            .map_err(|e| eyre!("starting a helper container of {image}: {e}"))?;
        let mut wait = docker.wait_container(&created.id, None::<WaitContainerOptions>);
        while let Some(status) = wait.next().await {
            if let Err(e) = status {
                let logs = helper_logs(docker, &created.id).await;
                return Err(eyre!("the helper container failed: {e}: {logs}"));
            }
        }
        Ok(())
    }
    .await;
    let _ = docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    result
}

async fn helper_logs(docker: &Docker, id: &str) -> String {
    let options = bollard::query_parameters::LogsOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut logs = docker.logs(id, Some(options));
    let mut text = String::new();
    while let Some(Ok(line)) = logs.next().await {
        text.push_str(&line.to_string());
    }
    text.trim().to_string()
}

/// The image a container runs (the helper uses the db service's: PostgreSQL's images
/// have a shell and `mv`, whatever Odoo's image has).
pub async fn image_of(docker: &Docker, container: &str) -> Result<String> {
    let inspect = docker
        .inspect_container(container, None)
        .await
        .map_err(|e| eyre!("docker inspect {container}: {e}"))?;
    inspect
        .image
        .ok_or_else(|| eyre!("docker inspect {container}: no image"))
}

/// Whether `path` in `container` is on a volume or bind mount: a filestore in the
/// container's own layer is not reachable by the helper (and would not survive a
/// recreate anyway).
pub async fn on_a_mount(docker: &Docker, container: &str, path: &str) -> Result<bool> {
    let inspect = docker
        .inspect_container(container, None)
        .await
        .map_err(|e| eyre!("docker inspect {container}: {e}"))?;
    let mounts = inspect.mounts.unwrap_or_default();
    Ok(crate::docker::mounts::host_path(&mounts, std::path::Path::new(path)).is_some())
}
