//! How big Odoo may be on a droplet: the common DigitalOcean sizes as data, and ONE rule for
//! how much memory Odoo's processes may take on a host. The renderer picks odoo.conf's numbers
//! with it and the diagnosis (`odoo.memory_limits`) judges any odoo.conf with it, so a stack
//! rendered for a size always passes the check on a host of that size.
//!
//! The rule ([`memory_fit`]). Odoo limits each process's *virtual* memory: above
//! `limit_memory_soft` a worker is recycled once its request ends, at `limit_memory_hard` it is
//! killed (RLIMIT_AS). So every process (HTTP workers, cron workers, the gevent process) may sit
//! just under the soft limit, and a request may push its worker up to the hard limit; we count
//! one such request at a time. All processes at the hard limit at once would be a bound no
//! useful configuration meets (it left 2 GB droplets with workers recycled after every request),
//! while counting only soft limits would ignore the request that OOM-kills the host. That need
//! must fit in the RAM left after PostgreSQL, Docker, nginx and the OS ([`host_reserve`]).
//!
//! The renderer then follows Odoo's deployment guide: at most `2 × CPU + 1` HTTP workers,
//! as many as the rule allows while each keeps a soft limit of at least [`MIN_SOFT_MIB`].

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

const MIB: u64 = 1024 * 1024;
/// Odoo's defaults for a worker's memory limits (what odoo.conf means when it says nothing);
/// the renderer never goes above them.
pub const ODOO_DEFAULT_SOFT: u64 = 2048 * MIB;
pub const ODOO_DEFAULT_HARD: u64 = 2560 * MIB;
/// Odoo's default `max_cron_threads`.
pub const ODOO_DEFAULT_CRON: u64 = 2;
/// The smallest soft limit the renderer gives a worker while it can: an Odoo 18 worker's
/// virtual size after start-up is a few hundred MB, and below this it would be recycled
/// after nearly every request. A 2 GB droplet cannot give even this to two workers; it gets
/// one, with what is left.
pub const MIN_SOFT_MIB: u64 = 512;
/// Connections each Odoo process may open (Odoo's default is 64: far too many once
/// multiplied by the workers).
const DB_MAXCONN: u32 = 16;

/// Memory on a host of `ram` bytes that is not Odoo's: PostgreSQL (its shared buffers and
/// backends), Docker, nginx and the OS. A quarter of the RAM, at least 512 MiB.
pub fn host_reserve(ram: u64) -> u64 {
    (ram / 4).max(512 * MIB)
}

/// The odoo.conf values that decide how much memory Odoo may take (limits in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OdooMemory {
    pub workers: u64,
    pub max_cron_threads: u64,
    pub limit_memory_soft: u64,
    pub limit_memory_hard: u64,
}

impl OdooMemory {
    /// What an odoo.conf sets, with Odoo's defaults for what it leaves out.
    pub fn from_conf(c: &crate::odoo::conf::OdooConf) -> OdooMemory {
        OdooMemory {
            workers: c.get_u64("workers").unwrap_or(0),
            max_cron_threads: c.get_u64("max_cron_threads").unwrap_or(ODOO_DEFAULT_CRON),
            limit_memory_soft: c.get_u64("limit_memory_soft").unwrap_or(ODOO_DEFAULT_SOFT),
            limit_memory_hard: c.get_u64("limit_memory_hard").unwrap_or(ODOO_DEFAULT_HARD),
        }
    }

    /// Processes the limits apply to: with workers, each HTTP and cron worker and the
    /// gevent process; without (threaded mode), the one server process.
    pub fn processes(&self) -> u64 {
        if self.workers == 0 {
            1
        } else {
            self.workers + self.max_cron_threads + 1
        }
    }

    /// The module's rule: every process just under its soft limit, one up to its hard limit.
    /// A soft limit above the hard one never triggers, so it counts as the hard one.
    pub fn need(&self) -> u64 {
        let hard = self.limit_memory_hard;
        let soft = self.limit_memory_soft.min(hard);
        self.processes()
            .saturating_mul(soft)
            .saturating_add(hard - soft)
    }
}

/// What [`memory_fit`] found, with the numbers to show as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryFit {
    pub processes: u64,
    /// Bytes Odoo may take under the rule.
    pub need: u64,
    /// The host's RAM (MemTotal) and what is kept for everything else.
    pub ram: u64,
    pub reserve: u64,
}

impl MemoryFit {
    /// Bytes left for Odoo.
    pub fn budget(&self) -> u64 {
        self.ram.saturating_sub(self.reserve)
    }

    pub fn fits(&self) -> bool {
        self.need <= self.budget()
    }

    /// One line of evidence: the rule with this host's numbers.
    pub fn explain(&self, m: &OdooMemory) -> String {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        format!(
            "{} processes x limit_memory_soft {:.2} GiB + one request up to limit_memory_hard {:.2} GiB = {:.2} GiB; RAM {:.2} GiB - {:.2} GiB for PostgreSQL and the OS = {:.2} GiB for Odoo",
            self.processes,
            gib(m.limit_memory_soft.min(m.limit_memory_hard)),
            gib(m.limit_memory_hard),
            gib(self.need),
            gib(self.ram),
            gib(self.reserve),
            gib(self.budget()),
        )
    }
}

/// The one memory rule (see the module's documentation), for a host of `ram` bytes.
pub fn memory_fit(m: &OdooMemory, ram: u64) -> MemoryFit {
    MemoryFit {
        processes: m.processes(),
        need: m.need(),
        ram,
        reserve: host_reserve(ram),
    }
}

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

impl Sizing {
    pub fn memory(&self) -> OdooMemory {
        OdooMemory {
            workers: u64::from(self.workers),
            max_cron_threads: u64::from(self.max_cron_threads),
            limit_memory_soft: self.limit_memory_soft,
            limit_memory_hard: self.limit_memory_hard,
        }
    }
}

impl DropletSize {
    pub fn by_slug(slug: &str) -> Option<&'static DropletSize> {
        SIZES.iter().find(|s| s.slug == slug)
    }

    /// The RAM the droplet's kernel reports as MemTotal, which is what the check reads: a
    /// few percent below the nominal size (firmware and the kernel's own reservations). We
    /// plan for 1/16 less so a real droplet of this size never ends up below the plan.
    pub fn mem_total(&self) -> u64 {
        let nominal = u64::from(self.memory_mb) * MIB;
        nominal - nominal / 16
    }

    /// Bytes left for Odoo on this droplet under the memory rule.
    pub fn odoo_budget(&self) -> u64 {
        let ram = self.mem_total();
        ram - host_reserve(ram)
    }

    pub fn sizing(&self) -> Sizing {
        let max_cron_threads: u32 = if self.vcpus <= 2 { 1 } else { 2 };
        let budget = self.odoo_budget();
        // The largest soft limit that fits for `workers`, with the hard limit a quarter above
        // it as in Odoo's defaults: n x soft + soft/4 <= budget. Rounded down to 32 MiB.
        let soft_for = |workers: u32| {
            let n = u64::from(workers + max_cron_threads + 1);
            let fit = budget * 4 / (4 * n + 1);
            (fit / (32 * MIB) * (32 * MIB)).min(ODOO_DEFAULT_SOFT)
        };
        // With workers > 0 Odoo runs the gevent server the websocket needs: at least one.
        let workers = (1..=2 * self.vcpus + 1)
            .rev()
            .find(|&w| soft_for(w) >= MIN_SOFT_MIB * MIB)
            .unwrap_or(1);
        let soft = soft_for(workers);
        Sizing {
            workers,
            max_cron_threads,
            limit_memory_soft: soft,
            limit_memory_hard: soft + soft / 4,
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
    fn workers_follow_the_cpu_rule_capped_by_the_memory_rule() {
        let w = |slug: &str| DropletSize::by_slug(slug).unwrap().sizing();
        // 2 GB: not even two workers keep 512 MiB each; one worker gets what is left.
        assert_eq!(
            (w("s-1vcpu-2gb").workers, w("s-1vcpu-2gb").max_cron_threads),
            (1, 1)
        );
        assert_eq!(w("s-2vcpu-2gb").workers, 1);
        // 4 GB: memory caps the CPU rule's 5 at 3.
        assert_eq!(w("s-2vcpu-4gb").workers, 3);
        // Plenty of memory: the CPU rule 2 x CPU + 1 holds.
        assert_eq!(w("m-2vcpu-16gb").workers, 5);
        assert_eq!(w("s-8vcpu-16gb").workers, 17);
        for s in SIZES {
            let z = s.sizing();
            assert!(z.workers <= 2 * s.vcpus + 1, "{}", s.slug);
            assert!(z.workers >= 1);
            assert!(z.limit_memory_soft < z.limit_memory_hard);
            assert!(z.limit_memory_hard <= ODOO_DEFAULT_HARD);
            assert!(z.pg_max_connections >= (z.workers + z.max_cron_threads + 1) * z.db_maxconn);
            // The renderer's numbers pass the rule the diagnosis applies, on the MemTotal a
            // droplet of this size reports and on its nominal size.
            for ram in [s.mem_total(), u64::from(s.memory_mb) * MIB] {
                let fit = memory_fit(&z.memory(), ram);
                assert!(fit.fits(), "{}: {}", s.slug, fit.explain(&z.memory()));
            }
        }
        // Few CPUs, much memory: what the workers do not take goes into their limits.
        assert!(w("m-2vcpu-16gb").limit_memory_soft > 1536 * MIB);
    }

    #[test]
    fn the_rule_warns_about_the_old_4gb_render_and_odoo_defaults() {
        // What odoo-ops rendered for s-2vcpu-4gb before: 5 workers, 1.5/1.9 GiB.
        let old = OdooMemory {
            workers: 5,
            max_cron_threads: 1,
            limit_memory_soft: 1536 * MIB,
            limit_memory_hard: 1920 * MIB,
        };
        let four_gb = DropletSize::by_slug("s-2vcpu-4gb").unwrap().mem_total();
        assert!(!memory_fit(&old, four_gb).fits());
        let defaults = OdooMemory::from_conf(&crate::odoo::conf::OdooConf::parse(
            "[options]\nworkers = 2\n",
        ));
        assert_eq!(defaults.processes(), 5);
        assert_eq!(defaults.need(), 5 * 2048 * MIB + 512 * MIB);
        assert!(!memory_fit(&defaults, four_gb).fits());
        assert!(memory_fit(&defaults, 16384 * MIB).fits());
        // Threaded mode: one process, bounded by its hard limit.
        let threaded = OdooMemory {
            workers: 0,
            ..defaults
        };
        assert_eq!(threaded.need(), ODOO_DEFAULT_HARD);
        // A soft limit above the hard one never triggers.
        let odd = OdooMemory {
            limit_memory_soft: 4096 * MIB,
            limit_memory_hard: 1024 * MIB,
            ..defaults
        };
        assert_eq!(odd.need(), 5 * 1024 * MIB);
    }
}
