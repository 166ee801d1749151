//! Containers on the real Docker engine, labelled like a compose project whose name is
//! unique to the test, so parallel tests (and other people's) never see each other's.
//! Every container of the project is removed on Drop.

use std::process::Command;

/// A Docker client configuration directory whose `cli-plugins` holds Compose v2 (Debian
/// 13's `docker-compose` package, unpacked there by scripts/test-deps.sh). A host whose
/// DOCKER_CONFIG points here has `docker compose`; without it, Debian 12's v1 only.
#[allow(dead_code)]
pub fn compose_v2_config() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from("/opt/odoo-ops-test/compose-v2");
    assert!(
        dir.join("cli-plugins/docker-compose").exists(),
        "Compose v2 is missing from {}: run scripts/test-deps.sh",
        dir.display()
    );
    dir
}

pub struct Project {
    pub name: String,
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI")
}

impl Project {
    pub fn new(test: &str) -> Project {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("ooptest-{test}-{}-{nanos:x}", std::process::id());
        Project::named(name)
    }

    /// A project of a name chosen by the test (screenshots want one of a fixed length).
    pub fn named(name: String) -> Project {
        let p = Project { name };
        p.remove_all();
        p
    }

    /// `docker run -d` a container of `service` with compose's labels (as Compose v1
    /// 1.29 writes them) plus `extra` options, from `image`. Returns the container name.
    pub fn run(&self, service: &str, extra: &[&str], image: &str) -> String {
        self.run_full(service, 1, extra, image, &[])
    }

    /// [`Project::run`] with `command` after the image (the container's `Cmd`).
    pub fn run_with_command(
        &self,
        service: &str,
        extra: &[&str],
        image: &str,
        command: &[&str],
    ) -> String {
        self.run_full(service, 1, extra, image, command)
    }

    /// As [`Project::run`], for container `number` of the service (compose's scale, or
    /// the one a recreate leaves beside the old).
    pub fn run_numbered(&self, service: &str, number: u32, extra: &[&str], image: &str) -> String {
        self.run_full(service, number, extra, image, &[])
    }

    fn run_full(
        &self,
        service: &str,
        number: u32,
        extra: &[&str],
        image: &str,
        command: &[&str],
    ) -> String {
        let name = format!("{}-{service}-{number}", self.name);
        let project_label = format!("com.docker.compose.project={}", self.name);
        let service_label = format!("com.docker.compose.service={service}");
        let number_label = format!("com.docker.compose.container-number={number}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &project_label,
            "--label",
            &service_label,
            "--label",
            &number_label,
            "--label",
            "com.docker.compose.version=1.29.2",
        ];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(command);
        let out = docker(&args);
        assert!(
            out.status.success(),
            "docker run {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        name
    }

    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        docker(args)
    }

    /// The project's own network (`NAME_default`, as Compose names it), made on first use
    /// and removed with the project: services reach each other there by service name.
    pub fn network(&self) -> String {
        let name = format!("{}_default", self.name);
        if !docker(&["network", "inspect", &name]).status.success() {
            let label = format!("com.docker.compose.project={}", self.name);
            let out = docker(&["network", "create", "--label", &label, &name]);
            assert!(
                out.status.success(),
                "docker network create {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        name
    }

    /// The full id of a container (by name).
    pub fn id_of(&self, container: &str) -> String {
        let out = docker(&["inspect", "-f", "{{.Id}}", container]);
        assert!(out.status.success(), "docker inspect {container}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn remove_all(&self) {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let out = docker(&["ps", "-aq", "--filter", &filter]);
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            docker(&args);
        }
        let out = docker(&["network", "ls", "-q", "--filter", &filter]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            docker(&["network", "rm", id]);
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.remove_all();
    }
}
