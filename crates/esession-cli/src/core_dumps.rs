//! Keeps this process's memory (passwords, session keys, DH exponents) out of core files
//! (issue 11 §12): the core size limit is 0, soft and hard, so no core file is written
//! and children cannot raise it; on Linux the process is also marked not dumpable
//! (`PR_SET_DUMPABLE` 0), which also refuses `ptrace` attaches by other processes of the
//! same user.

/// Disables core dumps for this process; returns what could not be done.
pub(crate) fn disable() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("cannot mark the process not dumpable: {e}"))?;
    #[cfg(unix)]
    rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(|e| format!("cannot set the core size limit to 0: {e}"))?;
    Ok(())
}
