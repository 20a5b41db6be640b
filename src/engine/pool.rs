//! A fixed pool of threads sized to the cores, for the vector searches and index builds that
//! must not run on the RESP event loop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// How long a pool that hands memory back must be quiet first. Handing back costs (mimalloc's
/// collect, malloc_trim, then page faults as the heap grows again), so it waits for the end
/// of a load rather than running in the gaps between a pipelined load's batches.
const QUIET_BEFORE_RELEASE: Duration = Duration::from_millis(100);

/// How a pool's threads behave when they run out of work.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    /// Watch the queue this long before sleeping. One client sending a search at a time
    /// leaves the pool empty between two: a sleeping thread takes tens of microseconds to
    /// wake (100k x 128, VSIM COUNT 10: the two hand-offs took 30-70 us of a 230-270 us
    /// round trip, measured against NOTHREAD). At most one thread watches at a time, yielding its core to any other
    /// ready thread, so a quiet pool costs at most one core this long after its last job.
    pub watch: Duration,
    /// Hand back the memory the last jobs freed once the pool is quiet (for jobs that
    /// allocate much and briefly: building; a search pool doing so lost ~15% of
    /// single-client QPS to the page faults of re-growing its heap).
    pub release_memory: bool,
}

struct Shared {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
    /// Jobs in the queue, readable without the lock (the watching thread polls it).
    queued: AtomicUsize,
    /// Threads asleep on `ready` (a push wakes them only if there are any).
    sleeping: AtomicUsize,
    /// A thread is watching the queue (only one at a time).
    watching: AtomicBool,
    closed: AtomicBool,
}

pub struct Pool {
    shared: Arc<Shared>,
    pub threads: usize,
}

impl Pool {
    pub fn new(name: &str, threads: usize, idle: Idle) -> Pool {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            queued: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            watching: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        for i in 0..threads {
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || shared.serve(idle));
            if let Err(e) = spawned {
                tracing::error!("pool thread {name}-{i}: {e}");
            }
        }
        Pool { shared, threads }
    }

    /// Runs `f` on the pool; the receiver yields its result.
    pub fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> oneshot::Receiver<R> {
        let (tx, rx) = oneshot::channel();
        self.spawn(move || {
            let _ = tx.send(f());
        });
        rx
    }

    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        let s = &self.shared;
        {
            let mut jobs = lock(&s.jobs);
            jobs.push_back(Box::new(f));
            s.queued.fetch_add(1, Ordering::SeqCst);
        }
        // Every sleeper, not one: those that find no job sleep again, and that brief wake
        // keeps their cores out of deep idle for what follows (a build's parallel sections:
        // on this 2-vCPU VM, waking one thread cost 10% of the 100k x 128 insert rate, as
        // parallel::map's threads then started on a halted core).
        if s.sleeping.load(Ordering::SeqCst) > 0 {
            s.ready.notify_all();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &self.shared;
        // Under the lock: a thread between its check of `closed` and its wait would miss
        // the notification otherwise.
        let guard = lock(&s.jobs);
        s.closed.store(true, Ordering::SeqCst);
        drop(guard);
        s.ready.notify_all();
    }
}

#[derive(Debug, PartialEq)]
enum Slept {
    /// A job came or the pool closed.
    Woken,
    /// The limit passed without a job.
    Quiet,
}

impl Shared {
    /// A thread's life: jobs while there are any, then a watch of the queue, then sleep.
    fn serve(&self, idle: Idle) {
        // Jobs ran since this thread last handed memory back.
        let mut worked = false;
        loop {
            if let Some(job) = self.take() {
                job();
                worked = true;
                continue;
            }
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            if self.watch(idle.watch) {
                continue;
            }
            let quiet_limit = (idle.release_memory && worked).then_some(QUIET_BEFORE_RELEASE);
            if self.sleep(quiet_limit) == Slept::Quiet {
                // Hand back what the last jobs freed, or this thread's heap keeps it until
                // it allocates again.
                crate::memory::release_freed();
                worked = false;
            }
        }
    }

    /// Sleeps until there is a job or the pool closes, or for at most `limit`.
    fn sleep(&self, limit: Option<Duration>) -> Slept {
        let deadline = limit.map(|l| Instant::now() + l);
        let mut jobs = lock(&self.jobs);
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        let mut slept = Slept::Woken;
        while jobs.is_empty() && !self.closed.load(Ordering::SeqCst) {
            match deadline {
                None => jobs = self.ready.wait(jobs).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        slept = Slept::Quiet;
                        break;
                    }
                    jobs = match self.ready.wait_timeout(jobs, left) {
                        Ok((jobs, _)) => jobs,
                        Err(p) => p.into_inner().0,
                    };
                }
            }
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        slept
    }

    fn take(&self) -> Option<Job> {
        if self.queued.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut jobs = lock(&self.jobs);
        let job = jobs.pop_front()?;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        Some(job)
    }

    /// Polls the queue for up to `span` unless another thread already does; true if a job
    /// came.
    fn watch(&self, span: Duration) -> bool {
        if span.is_zero() || self.watching.swap(true, Ordering::SeqCst) {
            return false;
        }
        let until = Instant::now() + span;
        let mut came = false;
        while Instant::now() < until && !self.closed.load(Ordering::SeqCst) {
            if self.queued.load(Ordering::SeqCst) > 0 {
                came = true;
                break;
            }
            // Yielding rather than spinning: on a busy machine the watch gives its core to
            // whatever else is ready (the event loop with the next query, say).
            std::thread::yield_now();
        }
        self.watching.store(false, Ordering::SeqCst);
        came
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize, watch_us: u64) -> Pool {
        Pool::new(
            "test-pool",
            threads,
            Idle {
                watch: Duration::from_micros(watch_us),
                release_memory: false,
            },
        )
    }

    #[test]
    fn every_job_runs_with_and_without_a_watch() {
        for watch in [0, 200] {
            let p = pool(2, watch);
            let receivers: Vec<_> = (0..200u64).map(|i| p.run(move || i * i)).collect();
            let got: Vec<u64> = receivers
                .into_iter()
                .map(|rx| rx.blocking_recv().unwrap_or(u64::MAX))
                .collect();
            assert_eq!(got, (0..200u64).map(|i| i * i).collect::<Vec<_>>());
            // One job at a time, with gaps longer than the watch: each must wake a sleeper.
            for i in 0..5u64 {
                std::thread::sleep(Duration::from_millis(2));
                assert_eq!(p.run(move || i + 1).blocking_recv().ok(), Some(i + 1));
            }
        }
    }

    #[test]
    fn jobs_run_in_parallel() {
        // Two jobs that each wait for the other: they finish only if two threads run them.
        let p = pool(2, 0);
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (a, b) = (barrier.clone(), barrier);
        let ra = p.run(move || a.wait().is_leader());
        let rb = p.run(move || b.wait().is_leader());
        let leaders = [ra.blocking_recv(), rb.blocking_recv()];
        assert_eq!(leaders.iter().filter(|l| **l == Ok(true)).count(), 1);
    }

    #[test]
    fn dropping_the_pool_ends_its_threads() {
        let p = pool(2, 1000);
        let shared = Arc::downgrade(&p.shared);
        drop(p);
        let deadline = Instant::now() + Duration::from_secs(10);
        while shared.strong_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(shared.strong_count(), 0, "threads still hold the pool");
    }
}
