//! How big Odoo may be on a droplet: the common DigitalOcean sizes as data, and Odoo's
//! documented worker rule applied to each.
//!
//! Odoo's deployment guide: at most `2 × CPU + 1` HTTP workers, and about 1 worker per
//! ~150 MB (light requests) to ~1 GB (heavy ones), 80/20 → roughly 350 MB per worker
//! including its share of cron. We keep memory back for PostgreSQL, the gevent process and
//! the OS (a quarter of the RAM, at least 768 MB) and cap the CPU rule by what is left.

use serde::Serialize;

/// A droplet size: its API slug, CPUs and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DropletSize {
    pub slug: &'static str,
    pub vcpus: u32,
    pub memory_mb: u32,
}

/// The sizes odoo-ops knows, 1–8 vCPU and 2–16 GB (basic, general purpose, CPU- and
/// memory-optimised). Smaller droplets cannot hold Odoo 18 with PostgreSQL beside it.
pub const SIZES: &[DropletSize] = &[
    DropletSize {
        slug: "s-1vcpu-2gb",
        vcpus: 1,
        memory_mb: 2048,
    },
    DropletSize {
        slug: "s-2vcpu-2gb",
        vcpus: 2,
        memory_mb: 2048,
    },
    DropletSize {
        slug: "s-2vcpu-4gb",
        vcpus: 2,
        memory_mb: 4096,
    },
    DropletSize {
        slug: "c-2",
        vcpus: 2,
        memory_mb: 4096,
    },
    DropletSize {
        slug: "g-2vcpu-8gb",
        vcpus: 2,
        memory_mb: 8192,
    },
    DropletSize {
        slug: "s-4vcpu-8gb",
        vcpus: 4,
        memory_mb: 8192,
    },
    DropletSize {
        slug: "c-4",
        vcpus: 4,
        memory_mb: 8192,
    },
    DropletSize {
        slug: "m-2vcpu-16gb",
        vcpus: 2,
        memory_mb: 16384,
    },
    DropletSize {
        slug: "g-4vcpu-16gb",
        vcpus: 4,
        memory_mb: 16384,
    },
    DropletSize {
        slug: "s-8vcpu-16gb",
        vcpus: 8,
        memory_mb: 16384,
    },
    DropletSize {
        slug: "c-8",
        vcpus: 8,
        memory_mb: 16384,
    },
];

pub const DEFAULT_SIZE: &str = "s-2vcpu-4gb";

/// Estimated memory per HTTP worker (Odoo's 80 % light at 150 MB, 20 % heavy at 1 GB).
const MB_PER_WORKER: u32 = 350;
/// Odoo's defaults for a worker's memory limits; smaller droplets get less.
const DEFAULT_SOFT_MB: u64 = 2048;
const DEFAULT_HARD_MB: u64 = 2560;
/// Connections each Odoo process may open (Odoo's default is 64: far too many once
/// multiplied by the workers).
const DB_MAXCONN: u32 = 16;

/// The odoo.conf (and PostgreSQL) numbers for one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sizing {
    pub workers: u32,
    pub max_cron_threads: u32,
    /// Bytes, as odoo.conf wants them.
    pub limit_memory_soft: u64,
    pub limit_memory_hard: u64,
    /// Seconds. `limit_time_real` equals nginx's 720 s read timeout, so nginx never gives
    /// up on a request Odoo is still allowed to finish.
    pub limit_time_cpu: u32,
    pub limit_time_real: u32,
    pub db_maxconn: u32,
    /// PostgreSQL's `max_connections`: every Odoo process's pool plus room for tools.
    pub pg_max_connections: u32,
}

impl DropletSize {
    pub fn by_slug(slug: &str) -> Option<&'static DropletSize> {
        SIZES.iter().find(|s| s.slug == slug)
    }

    /// Memory left for Odoo after PostgreSQL, the gevent process and the OS.
    pub fn odoo_budget_mb(&self) -> u32 {
        let reserve = (self.memory_mb / 4).max(768);
        self.memory_mb.saturating_sub(reserve)
    }

    pub fn sizing(&self) -> Sizing {
        let max_cron_threads = if self.vcpus <= 2 { 1 } else { 2 };
        let budget = self.odoo_budget_mb();
        let by_cpu = 2 * self.vcpus + 1;
        let by_memory = (budget / MB_PER_WORKER).saturating_sub(max_cron_threads);
        // At least 2: with workers > 0 Odoo runs the gevent server the websocket needs.
        let workers = by_cpu.min(by_memory).max(2);
        let mb = 1024 * 1024;
        let soft = DEFAULT_SOFT_MB.min(u64::from(budget) / 2);
        let hard = DEFAULT_HARD_MB.min(u64::from(budget) * 5 / 8);
        Sizing {
            workers,
            max_cron_threads,
            limit_memory_soft: soft * mb,
            limit_memory_hard: hard * mb,
            limit_time_cpu: 600,
            limit_time_real: 720,
            db_maxconn: DB_MAXCONN,
            // HTTP workers, cron workers and the gevent process each hold a pool.
            pg_max_connections: (workers + max_cron_threads + 1) * DB_MAXCONN + 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_1_to_8_cpus_and_2_to_16_gb() {
        assert!(SIZES.iter().all(|s| (1..=8).contains(&s.vcpus)));
        assert!(SIZES.iter().all(|s| (2048..=16384).contains(&s.memory_mb)));
        assert!(DropletSize::by_slug(DEFAULT_SIZE).is_some());
        let mut slugs: Vec<_> = SIZES.iter().map(|s| s.slug).collect();
        slugs.dedup();
        assert_eq!(slugs.len(), SIZES.len());
    }

    #[test]
    fn workers_follow_the_cpu_rule_capped_by_memory() {
        let w = |slug: &str| DropletSize::by_slug(slug).unwrap().sizing();
        // 2 GB: memory caps 3 (1 CPU) and 5 (2 CPUs) down to 2.
        assert_eq!(
            (w("s-1vcpu-2gb").workers, w("s-1vcpu-2gb").max_cron_threads),
            (2, 1)
        );
        assert_eq!(w("s-2vcpu-2gb").workers, 2);
        // 4 GB and more: the CPU rule 2×CPU+1 holds.
        assert_eq!(w("s-2vcpu-4gb").workers, 5);
        assert_eq!(w("m-2vcpu-16gb").workers, 5);
        assert_eq!(w("s-4vcpu-8gb").workers, 9);
        assert_eq!(w("s-8vcpu-16gb").workers, 17);
        for s in SIZES {
            let z = s.sizing();
            assert!(z.workers <= 2 * s.vcpus + 1, "{}", s.slug);
            assert!(z.workers >= 2);
            assert!(z.limit_memory_soft < z.limit_memory_hard);
            // One runaway worker cannot take more than the Odoo budget.
            assert!(z.limit_memory_hard <= u64::from(s.odoo_budget_mb()) * 1024 * 1024);
            assert!(z.pg_max_connections >= (z.workers + z.max_cron_threads + 1) * z.db_maxconn);
        }
        assert_eq!(
            w("s-8vcpu-16gb").limit_memory_hard,
            2560 * 1024 * 1024,
            "Odoo's default cap"
        );
        assert_eq!(w("s-1vcpu-2gb").limit_memory_soft, 640 * 1024 * 1024);
    }
}
