//! CPU and memory from Docker's stats stream, computed the way `docker stats` does.

use bollard::models::ContainerStatsResponse;

/// CPU use in percent of one CPU (200% is two CPUs busy), from the difference between
/// this sample and the previous one Docker includes (`precpu_stats`).
pub fn cpu_percent(s: &ContainerStatsResponse) -> Option<f64> {
    let cpu = s.cpu_stats.as_ref()?;
    let pre = s.precpu_stats.as_ref()?;
    let total = cpu.cpu_usage.as_ref()?.total_usage?;
    let pre_total = pre.cpu_usage.as_ref()?.total_usage.unwrap_or(0);
    let system = cpu.system_cpu_usage?;
    let pre_system = pre.system_cpu_usage.unwrap_or(0);
    let cpus = cpu
        .online_cpus
        .filter(|n| *n > 0)
        .or_else(|| {
            cpu.cpu_usage
                .as_ref()?
                .percpu_usage
                .as_ref()
                .map(|p| p.len() as u32)
        })
        .unwrap_or(1);
    let cpu_delta = total.checked_sub(pre_total)? as f64;
    let system_delta = system.checked_sub(pre_system)? as f64;
    if system_delta <= 0.0 {
        return Some(0.0);
    }
    Some(cpu_delta / system_delta * cpus as f64 * 100.0)
}

/// Memory in use and the limit, in bytes. Page cache that can be dropped is not "used"
/// (cgroup v2 `inactive_file`, v1 `total_inactive_file`), as in `docker stats`.
pub fn memory(s: &ContainerStatsResponse) -> Option<(u64, u64)> {
    let m = s.memory_stats.as_ref()?;
    let usage = m.usage?;
    let cache = m.stats.as_ref().and_then(|st| {
        st.get("inactive_file")
            .or_else(|| st.get("total_inactive_file"))
            .copied()
    });
    Some((
        usage.saturating_sub(cache.unwrap_or(0)),
        m.limit.unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_docker_stats() {
        let s: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000u64}, "system_cpu_usage": 10_000_000_000u64},
            "memory_stats": {"usage": 300u64, "limit": 1000u64, "stats": {"inactive_file": 100u64}}
        }))
        .unwrap();
        assert_eq!(cpu_percent(&s), Some(20.0));
        assert_eq!(memory(&s), Some((200, 1000)));
    }
}
