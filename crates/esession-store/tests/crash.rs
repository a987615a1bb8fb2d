//! Crash safety: a child process rotating secrets as fast as it can is killed with SIGKILL
//! at random moments; after every kill the store must open, pass `PRAGMA integrity_check`,
//! and hold exactly one consistent record at least as new as the last committed one.
//!
//! The child is this very test binary, re-executed with [`CHILD_ENV`] naming the store file
//! and only the ignored test [`crash_child`] selected. Set `ESESSION_STORE_CRASH_SEED` to
//! replay a run's delays (the seed is printed on stderr).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esession::store::{RetainedSecret, SecretId, SecretStore};
use esession::time::Timestamp;
use esession_store::SqliteStore;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

const CHILD_ENV: &str = "ESESSION_STORE_CRASH_CHILD";
const ROUNDS: usize = 25;

/// Generation `g` lives under peer full JID `b@y/<g mod 2>`, so each rotate must both
/// delete the used record and insert the new one: a torn rotate would leave 0 or 2 records.
fn id_for(generation: u64) -> SecretId {
    SecretId {
        own: "a@x".into(),
        peer_bare: "b@y".into(),
        peer_full: format!("b@y/{}", generation % 2),
    }
}

/// Everything in the record is derived from the generation, so a half-written or mixed
/// record cannot pass for a consistent one.
fn generation_secret(generation: u64) -> RetainedSecret {
    let mut bytes = generation.to_le_bytes().to_vec();
    bytes.extend((0..56u8).map(|i| i ^ generation as u8));
    RetainedSecret {
        id: id_for(generation),
        secret: Zeroizing::new(bytes),
        created: Timestamp(1_000_000 + generation),
        verified: generation.is_multiple_of(3),
    }
}

fn generation_of(r: &RetainedSecret) -> Option<u64> {
    let head: [u8; 8] = r.secret.get(..8)?.try_into().ok()?;
    let generation = u64::from_le_bytes(head);
    (*r == generation_secret(generation)).then_some(generation)
}

/// The child: rotate generation n into n + 1 forever, reporting each commit on stdout.
#[test]
#[ignore = "child process of crash_safety_under_sigkill; does nothing on its own"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(Path::new(&path)).unwrap();
    let current = store.all_secrets("a@x").unwrap();
    assert_eq!(current.len(), 1, "child found {current:?}");
    let mut generation = generation_of(&current[0]).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        store
            .rotate(Some(&id_for(generation)), generation_secret(generation + 1))
            .unwrap();
        generation += 1;
        writeln!(out, "committed {generation}").unwrap();
        out.flush().unwrap();
    }
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn crash_safety_under_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    SqliteStore::open(&path)
        .unwrap()
        .rotate(None, generation_secret(0))
        .unwrap();

    let seed = std::env::var("ESESSION_STORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            (nanos ^ u64::from(std::process::id())) | 1
        });
    eprintln!("crash test seed {seed} (ESESSION_STORE_CRASH_SEED to replay)");
    let mut rng = seed;
    let exe = std::env::current_exe().unwrap();

    let mut generation = 0u64;
    let (mut commits, mut unreported, mut idle_rounds) = (0u64, 0u64, 0usize);
    let mut busy = Duration::ZERO;
    for round in 0..ROUNDS {
        // From 0 ms (killed while starting or recovering the WAL) to 250 ms (mid-stream).
        let delay = Duration::from_millis(xorshift(&mut rng) % 250);
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let reports = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                // libtest may print "test crash_child ... " on the same line as the first report.
                .filter_map(|l| l.rsplit("committed ").next()?.trim().parse::<u64>().ok())
                .max()
        });
        let errors = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        std::thread::sleep(delay);
        let exited_early = child.try_wait().unwrap();
        child.kill().unwrap(); // SIGKILL on unix
        let status = child.wait().unwrap();
        busy += started.elapsed();
        let reported = reports.join().unwrap();
        let child_stderr = errors.join().unwrap();
        assert!(
            exited_early.is_none(),
            "round {round} (seed {seed}): the child exited by itself with {status}:\n{child_stderr}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "round {round}: {status}");
        }

        let floor = reported.unwrap_or(generation);
        assert!(
            floor >= generation,
            "round {round}: the child went backwards"
        );
        let store = SqliteStore::open(&path).unwrap_or_else(|e| {
            panic!("round {round} (seed {seed}): store does not open after SIGKILL: {e}")
        });
        store
            .check_integrity()
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        let records = store.all_secrets("a@x").unwrap();
        assert_eq!(
            records.len(),
            1,
            "round {round} (seed {seed}): torn rotate, records {records:?}"
        );
        let found = generation_of(&records[0]).unwrap_or_else(|| {
            panic!(
                "round {round} (seed {seed}): inconsistent record {:?}",
                records[0]
            )
        });
        assert!(
            found == floor || found == floor + 1,
            "round {round} (seed {seed}): found generation {found}, child reported {floor} committed"
        );
        commits += found - generation;
        unreported += found - floor;
        if found == generation {
            idle_rounds += 1;
        }
        generation = found;
        drop(store);
    }
    eprintln!(
        "crash test: {ROUNDS} SIGKILLs, {commits} rotates committed in {:.2} s of child time \
         ({:.0}/s, child start-up included); {unreported} rounds found one generation past the \
         last report (killed after the commit reached the file, before rotate returned); \
         {idle_rounds} rounds killed before their first commit",
        busy.as_secs_f64(),
        commits as f64 / busy.as_secs_f64()
    );
    assert!(
        commits > 0,
        "the child never committed: the test tested nothing"
    );
}
