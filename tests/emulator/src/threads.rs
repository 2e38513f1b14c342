//! Several emulated threads in one kernel, on one processor: a deterministic scheduler that
//! runs the real driver's callbacks on one thread while others send it IRPs.
//!
//! Each thread runs its [`Work`] in order. A thread runs until it gives way at a kernel API
//! boundary ([`crate::model::threads`]: a push lock acquire or release, `KeSetEvent`,
//! `ExAllocatePool2`, `ExFreePoolWithTag`, drawn from the seed), blocks on a push lock it
//! cannot be granted, or finishes an item of work; then the scheduler draws the next thread
//! among the runnable ones. A blocked thread is runnable again once its lock can be granted.
//! When no unfinished thread is runnable, the run ends with a [`ThreadsError::Deadlock`]
//! naming what each thread holds and wants. The same seed gives the same schedule.
//!
//! What it does not model: preemption anywhere but at those API boundaries (an interrupt
//! between two instructions of the driver), more than one processor running at once, DPCs
//! and interrupts, other threads raising IRQL, priorities and wait boosts, and fairness
//! beyond wdm.h's documented rule that a waiting exclusive acquirer blocks new shared ones.

use std::collections::VecDeque;

use crate::books::{Entry, Stop};
use crate::driver::{Emulator, IoctlResult};
use crate::events::{ImageLoad, ProcessStart};
use crate::machine::ThreadContext;
use crate::model::threads::{LockMode, Threads};

type Call = (Entry, u64, Vec<u64>);
type Finish<T> = Box<dyn FnOnce(&mut Emulator, Result<Vec<u64>, Stop>) -> T>;

/// One harness operation split at its calls into the driver: the calls (made in order; the
/// first that stops ends them) and what the harness does with their results.
pub struct Pending<T> {
    calls: Vec<Call>,
    finish: Finish<T>,
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("calls", &self.calls).finish_non_exhaustive()
    }
}

impl<T: 'static> Pending<T> {
    pub(crate) fn new(
        calls: Vec<Call>,
        finish: impl FnOnce(&mut Emulator, Result<Vec<u64>, Stop>) -> T + 'static,
    ) -> Self {
        Pending { calls, finish: Box::new(finish) }
    }

    /// Nothing to call: the outcome is known.
    pub(crate) fn ready(value: T) -> Self {
        Pending::new(Vec::new(), move |_, _| value)
    }

    fn map<U: 'static>(self, f: impl FnOnce(T) -> U + 'static) -> Pending<U> {
        let finish = self.finish;
        Pending { calls: self.calls, finish: Box::new(move |emulator, result| f(finish(emulator, result))) }
    }
}

impl Emulator {
    /// Makes the calls of `pending` one after the other on the one kernel stack.
    pub(crate) fn run_pending<T>(&mut self, pending: Pending<T>) -> T {
        let mut returned = Vec::new();
        let mut result = Ok(());
        for (entry, address, args) in pending.calls {
            match self.machine.call(entry, address, &args) {
                Ok(rax) => returned.push(rax),
                Err(stop) => {
                    result = Err(stop);
                    break;
                }
            }
        }
        (pending.finish)(self, result.map(|()| returned))
    }

    fn prepare(&mut self, work: &Work) -> Pending<Done> {
        match work {
            Work::ProcessStart(p) => self.prepare_process_start(p).map(Done::ProcessStart),
            Work::ProcessExit { pid, exit_status, time } => {
                self.prepare_process_exit(*pid, *exit_status, *time).map(Done::ProcessExit)
            }
            Work::ImageLoad(i) => self.prepare_image_load(i).map(Done::ImageLoad),
            Work::Ioctl { file, code, input, output_len } => {
                self.prepare_ioctl(*file, *code, input, *output_len).map(Done::Ioctl)
            }
        }
    }
}

/// One item of an emulated thread's work: what the kernel or a client does to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    ProcessStart(ProcessStart),
    ProcessExit {
        pid: u32,
        exit_status: i32,
        time: u64,
    },
    ImageLoad(ImageLoad),
    /// `DeviceIoControl` on an open file object.
    Ioctl {
        file: u64,
        code: u32,
        input: Vec<u8>,
        output_len: u32,
    },
}

impl From<crate::device::Activity> for Work {
    fn from(activity: crate::device::Activity) -> Work {
        match activity {
            crate::device::Activity::ProcessStart(p) => Work::ProcessStart(p),
            crate::device::Activity::ProcessExit { pid, exit_status, time } => {
                Work::ProcessExit { pid, exit_status, time }
            }
            crate::device::Activity::ImageLoad(i) => Work::ImageLoad(i),
        }
    }
}

/// What an item of work came to, as the sequential harness call would have returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    ProcessStart(Result<i32, Stop>),
    ProcessExit(Result<(), Stop>),
    ImageLoad(Result<(), Stop>),
    Ioctl(Result<IoctlResult, Stop>),
}

/// A schedule: the seed of every draw, and how often a thread gives way at a switch point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub seed: u64,
    /// A thread gives way at one switch point in this many, on average (1: at every one).
    pub switch_one_in: u64,
}

/// A thread that cannot go on: the push locks it holds, in acquisition order, and the one it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub thread: usize,
    pub holds: Vec<(u64, LockMode)>,
    pub wants: (u64, LockMode),
}

/// Why a concurrent run ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadsError {
    /// Every unfinished thread waits for a lock that cannot be granted.
    Deadlock { threads: Vec<Waiting> },
    /// A call stopped the machine (a fault, a bugcheck, an endless loop): the run is over.
    Stopped { thread: usize, stop: Stop },
}

/// How a run went: the outcome of each thread's work, in order, and how often it switched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub done: Vec<Vec<Done>>,
    /// Switch points reached, and switches taken there.
    pub switch_points: u64,
    pub switches: u64,
    /// Times a thread blocked on a push lock.
    pub blocks: u64,
}

/// An item of work in progress on a thread.
struct InFlight {
    calls: VecDeque<Call>,
    returned: Vec<u64>,
    context: Option<ThreadContext>,
    /// The context gave way at an API call, which runs when it resumes.
    at_call: bool,
    finish: Finish<Done>,
}

struct Thread {
    work: VecDeque<Work>,
    now: Option<InFlight>,
    done: Vec<Done>,
}

impl Thread {
    fn finished(&self) -> bool {
        self.work.is_empty() && self.now.is_none()
    }
}

/// Why a thread left the CPU.
enum Left {
    GaveWay,
    Blocked,
    /// Finished an item of work (or had none left).
    Between,
}

impl Emulator {
    /// Runs `work`, one list per emulated thread, interleaved by `schedule`. The sequential
    /// harness (every other method) is back once this returns; after a deadlock the driver
    /// is stuck mid-call and the emulator is fit only for reading its books.
    pub fn run_threads(&mut self, work: Vec<Vec<Work>>, schedule: Schedule) -> Result<Run, ThreadsError> {
        let count = work.len();
        let k = self.machine.uc.get_data_mut();
        k.threads = Some(Threads::new(count, schedule.seed, schedule.switch_one_in));
        let mut threads: Vec<Thread> =
            work.into_iter().map(|w| Thread { work: w.into(), now: None, done: Vec::new() }).collect();
        let result = self.schedule(&mut threads);
        let state = self.machine.uc.get_data_mut().threads.take();
        let (switch_points, switches) = state.as_ref().map_or((0, 0), |t| (t.switch_points, t.switches));
        result.map(|blocks| Run {
            done: threads.into_iter().map(|t| t.done).collect(),
            switch_points,
            switches,
            blocks,
        })
    }

    fn threads(&mut self) -> &mut Threads {
        self.machine.uc.get_data_mut().threads.as_mut().expect("a concurrent run is in progress")
    }

    /// Whether `thread` may run: unfinished, and not waiting for a lock it cannot be granted.
    fn runnable(&mut self, threads: &[Thread], thread: usize) -> bool {
        if threads[thread].finished() {
            return false;
        }
        let k = self.machine.uc.get_data();
        let state = k.threads.as_ref().expect("a concurrent run is in progress");
        match state.wants[thread] {
            None => true,
            Some((lock, mode)) => state.grantable(&k.ke.push_locks, thread, lock, mode),
        }
    }

    /// The scheduler loop; returns how often a thread blocked.
    fn schedule(&mut self, threads: &mut [Thread]) -> Result<u64, ThreadsError> {
        let mut blocks = 0;
        let mut last: Option<usize> = None;
        loop {
            let runnable: Vec<usize> = (0..threads.len()).filter(|&t| self.runnable(threads, t)).collect();
            if runnable.is_empty() {
                if threads.iter().all(Thread::finished) {
                    return Ok(blocks);
                }
                let state = self.threads();
                let waiting = (0..threads.len())
                    .filter(|&t| !threads[t].finished())
                    .filter_map(|t| {
                        Some(Waiting { thread: t, holds: state.held[t].clone(), wants: state.wants[t]? })
                    })
                    .collect();
                return Err(ThreadsError::Deadlock { threads: waiting });
            }
            // A thread that just gave way runs again only when no other can.
            let others: Vec<usize> = runnable.iter().copied().filter(|&t| Some(t) != last).collect();
            let choices = if others.is_empty() { &runnable } else { &others };
            let draw = self.threads().draw();
            let thread = choices[(draw % choices.len() as u64) as usize];
            match self.slice(threads, thread)? {
                Left::GaveWay => last = Some(thread),
                Left::Blocked => {
                    blocks += 1;
                    last = Some(thread);
                }
                Left::Between => last = None,
            }
        }
    }

    /// Runs `thread` until it leaves the CPU.
    fn slice(&mut self, threads: &mut [Thread], thread: usize) -> Result<Left, ThreadsError> {
        let state = self.threads();
        state.current = thread;
        state.wants[thread] = None;
        loop {
            if threads[thread].now.is_none() {
                let Some(work) = threads[thread].work.pop_front() else { return Ok(Left::Between) };
                let pending = self.prepare(&work);
                threads[thread].now = Some(InFlight {
                    calls: pending.calls.into(),
                    returned: Vec::new(),
                    context: None,
                    at_call: false,
                    finish: pending.finish,
                });
            }
            let now = threads[thread].now.as_mut().expect("an item of work is in progress");
            if now.context.is_none() {
                let Some((entry, address, args)) = now.calls.pop_front() else {
                    let now = threads[thread].now.take().expect("an item of work is in progress");
                    let done = (now.finish)(self, Ok(now.returned));
                    threads[thread].done.push(done);
                    return Ok(Left::Between);
                };
                now.context = Some(self.machine.begin(thread, entry, address, &args));
                now.at_call = false;
            }
            let resuming = now.at_call;
            self.threads().resuming = resuming;
            let now = threads[thread].now.as_mut().expect("an item of work is in progress");
            let context = now.context.as_mut().expect("a call is in progress");
            match self.machine.resume(context) {
                None => {
                    now.at_call = true;
                    let left = self.threads().yielded.take();
                    return Ok(match left {
                        Some(crate::model::threads::Yield::Blocked { .. }) => Left::Blocked,
                        _ => Left::GaveWay,
                    });
                }
                Some(Ok(rax)) => {
                    now.returned.push(rax);
                    now.context = None;
                }
                Some(Err(stop)) => return Err(ThreadsError::Stopped { thread, stop }),
            }
        }
    }
}
