//! Work that may block (disk, the account database) runs on a few threads of
//! its own, so that the READ loop never waits longer than it chooses to.
//!
//! [`Workers::submit`] queues a key (the same key already in flight shares
//! its answer) and returns at once with a [`Pending`] answer; the caller waits
//! for it only up to a deadline of its own. A full queue refuses at once
//! ([`Busy`]); a late answer still lands wherever the work function puts it
//! (the caches), for the next event that asks.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

/// A pool of threads answering keys of type `K` with values of type `V`.
pub struct Workers<K, V> {
    queue: Option<SyncSender<Job<K, V>>>,
    closing: Arc<AtomicBool>,
    in_flight: Arc<Mutex<HashMap<K, Arc<Slot<V>>>>>,
    threads: Vec<JoinHandle<()>>,
}

impl<K, V> std::fmt::Debug for Workers<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").field("threads", &self.threads.len()).finish_non_exhaustive()
    }
}

type Job<K, V> = (K, Arc<Slot<V>>);

/// The queue is full: the key was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// An answer that may not have arrived yet.
#[derive(Debug)]
pub struct Pending<V> {
    slot: Arc<Slot<V>>,
}

#[derive(Debug)]
struct Slot<V> {
    value: Mutex<Option<V>>,
    ready: Condvar,
}

impl<K, V> Workers<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// `threads` threads (at least one) sharing a queue of `queue_bound` keys
    /// (at least one), each answering with `work`.
    pub fn new<F>(name: &str, threads: usize, queue_bound: usize, work: F) -> std::io::Result<Self>
    where
        F: Fn(&K) -> V + Send + Sync + 'static,
    {
        let (queue, jobs) = sync_channel::<Job<K, V>>(queue_bound.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        let work = Arc::new(work);
        let in_flight: Arc<Mutex<HashMap<K, Arc<Slot<V>>>>> = Arc::default();
        let closing = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for index in 0..threads.max(1) {
            let (jobs, work, in_flight) = (Arc::clone(&jobs), Arc::clone(&work), Arc::clone(&in_flight));
            let closing = Arc::clone(&closing);
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || serve(&jobs, &*work, &in_flight, &closing))?;
            handles.push(handle);
        }
        Ok(Workers { queue: Some(queue), closing, in_flight, threads: handles })
    }

    /// Queues `key`, or joins the answer already being worked out for it.
    pub fn submit(&self, key: K) -> Result<Pending<V>, Busy> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = in_flight.get(&key) {
            return Ok(Pending { slot: Arc::clone(slot) });
        }
        let slot = Arc::new(Slot { value: Mutex::new(None), ready: Condvar::new() });
        let queue = self.queue.as_ref().ok_or(Busy)?;
        match queue.try_send((key.clone(), Arc::clone(&slot))) {
            Ok(()) => {
                in_flight.insert(key, Arc::clone(&slot));
                Ok(Pending { slot })
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }

    /// Keys queued or being worked on.
    pub fn in_flight(&self) -> usize {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl<K, V> Drop for Workers<K, V> {
    fn drop(&mut self) {
        // Jobs still queued are dropped, not worked out: nobody is left to wait
        // for them. Each thread ends after the job it is on.
        self.closing.store(true, Ordering::SeqCst);
        self.queue = None;
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

fn serve<K, V, F>(
    jobs: &Mutex<Receiver<Job<K, V>>>,
    work: &F,
    in_flight: &Mutex<HashMap<K, Arc<Slot<V>>>>,
    closing: &AtomicBool,
) where
    K: Eq + Hash,
    F: Fn(&K) -> V,
{
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((key, slot)) = job else { return };
        if closing.load(Ordering::SeqCst) {
            continue;
        }
        let value = work(&key);
        // Leave the in-flight table before answering, so that a later submit of
        // the same key finds the cache the work function filled, not this slot.
        in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        *slot.value.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        slot.ready.notify_all();
    }
}

impl<V: Clone> Pending<V> {
    /// The answer if it has arrived.
    pub fn try_get(&self) -> Option<V> {
        self.slot.value.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The answer, waiting for it until `deadline` at the latest.
    pub fn wait_until(&self, deadline: Instant) -> Option<V> {
        let mut value = self.slot.value.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(v) = value.as_ref() {
                return Some(v.clone());
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            value = self.slot.ready.wait_timeout(value, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_answer_arrives_before_the_deadline() {
        let workers = Workers::new("t", 2, 4, |k: &u32| k * 2).unwrap();
        let pending = workers.submit(21).unwrap();
        assert_eq!(pending.wait_until(Instant::now() + Duration::from_secs(10)), Some(42));
    }

    #[test]
    fn a_slow_answer_is_given_up_at_the_deadline_and_kept_for_later() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let workers = Workers::new("t", 1, 4, move |k: &u32| {
            let _ = gate.lock().unwrap().recv();
            *k
        })
        .unwrap();
        let pending = workers.submit(7).unwrap();
        assert_eq!(pending.wait_until(Instant::now() + Duration::from_millis(20)), None);
        release.send(()).unwrap();
        assert_eq!(pending.wait_until(Instant::now() + Duration::from_secs(10)), Some(7));
    }

    #[test]
    fn the_same_key_in_flight_is_worked_out_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let counted = Arc::clone(&calls);
        let workers = Workers::new("t", 2, 4, move |k: &u32| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = gate.lock().unwrap().recv();
            *k
        })
        .unwrap();
        let first = workers.submit(5).unwrap();
        let second = workers.submit(5).unwrap();
        assert_eq!(workers.in_flight(), 1);
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!((first.wait_until(deadline), second.wait_until(deadline)), (Some(5), Some(5)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn dropping_the_pool_waits_for_the_running_job_only() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let counted = Arc::clone(&calls);
        let workers = Workers::new("t", 1, 8, move |k: &u32| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = gate.lock().unwrap().recv();
            *k
        })
        .unwrap();
        let running = workers.submit(0).unwrap();
        while calls.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        for k in 1..5 {
            workers.submit(k).unwrap();
        }
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            for _ in 0..5 {
                let _ = release.send(());
            }
        });
        drop(workers);
        releaser.join().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the four queued jobs were dropped");
        assert_eq!(running.try_get(), Some(0));
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let workers = Workers::new("t", 1, 1, move |k: &u32| {
            let _ = gate.lock().unwrap().recv();
            *k
        })
        .unwrap();
        let running = workers.submit(1).unwrap();
        // The one thread holds key 1; wait until it has taken it off the queue.
        while workers.submit(2).is_err() {
            std::thread::yield_now();
        }
        assert_eq!(workers.submit(3).unwrap_err(), Busy);
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert_eq!(running.wait_until(Instant::now() + Duration::from_secs(10)), Some(1));
    }
}
