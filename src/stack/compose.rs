//! `docker-compose.yml`: PostgreSQL 16, Odoo (image and tag from `.env`), optional Redis.
//! Written for both Compose v2 (`docker compose`) and Debian's v1 (`docker-compose` 1.29):
//! no top-level `name`, no `version`, long-form `depends_on` with `condition`.

use super::options::StackOptions;

pub fn render(o: &StackOptions) -> String {
    let s = &o.size;
    let z = s.sizing();
    let mut out = format!(
        "# Rendered by odoo-ops for {domain} ({slug}: {cpus} vCPU, {mem} MB).
# The Odoo image and tag come from .env (ODOO_IMAGE, ODOO_TAG), and so do its published
# ports (ODOO_HTTP_PORT, ODOO_GEVENT_PORT): a zero-downtime deploy starts the new release
# beside the old on the other pair of ports and writes the new tag and ports to .env, so
# `docker compose up -d` keeps what runs. Odoo is published on 127.0.0.1 only; nginx is the one way in.

x-logging: &logging
  driver: json-file
  options:
    max-size: \"10m\"
    max-file: \"5\"

services:
  db:
    image: postgres:16-alpine
    restart: unless-stopped
    command: [\"postgres\", \"-c\", \"max_connections={max_conn}\"]
    environment:
      POSTGRES_DB: postgres
      POSTGRES_USER: odoo
      POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set in .env}}
    volumes:
      - db-data:/var/lib/postgresql/data
    healthcheck:
      test: [\"CMD-SHELL\", \"pg_isready -U odoo -d postgres\"]
      interval: 10s
      timeout: 5s
      retries: 5
      start_period: 30s
    logging: *logging
",
        domain = o.domain,
        slug = s.slug,
        cpus = s.vcpus,
        mem = s.memory_mb,
        max_conn = z.pg_max_connections,
    );
    if o.redis {
        out += "
  redis:
    image: redis:7-alpine
    restart: unless-stopped
    command: [\"redis-server\", \"--save\", \"\", \"--appendonly\", \"no\"]
    healthcheck:
      test: [\"CMD\", \"redis-cli\", \"ping\"]
      interval: 10s
      timeout: 5s
      retries: 5
    logging: *logging
";
    }
    out += &format!(
        "
  odoo:
    image: ${{ODOO_IMAGE:-odoo}}:${{ODOO_TAG:-18.0}}
    restart: unless-stopped
    depends_on:
      db:
        condition: service_healthy
{redis_dep}    environment:
      HOST: db
      PORT: \"5432\"
      USER: odoo
      PASSWORD: ${{POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set in .env}}
    ports:
      - \"127.0.0.1:${{ODOO_HTTP_PORT:-{http}}}:8069\"
      - \"127.0.0.1:${{ODOO_GEVENT_PORT:-{gevent}}}:8072\"
    volumes:
      - ./odoo.conf:/etc/odoo/odoo.conf:ro
      # Odoo's data_dir: the filestore (attachments) and the login sessions, so neither is
      # lost when a deploy replaces the container. One volume on purpose: a second volume
      # nested in it (e.g. for sessions) would be created root-owned and Odoo, running as
      # uid 101, could not write there; this one inherits the image's ownership.
      - odoo-data:/var/lib/odoo
      - ./addons/custom:/mnt/extra-addons:ro
      - ./addons/oca:/mnt/oca-addons:ro
    healthcheck:
      # /web/health answers 200 once the HTTP workers serve; it does not need the DB.
      test: [\"CMD\", \"curl\", \"-fsS\", \"-o\", \"/dev/null\", \"http://127.0.0.1:8069/web/health\"]
      interval: 15s
      timeout: 5s
      retries: 5
      start_period: 60s
    # Odoo finishes running requests on SIGTERM; give it time before SIGKILL.
    stop_grace_period: 30s
    logging: *logging

volumes:
  db-data:
  odoo-data:
",
        redis_dep = if o.redis { "      redis:\n        condition: service_healthy\n" } else { "" },
        http = o.http_port,
        gevent = o.gevent_port,
    );
    out
}
