//! Group commit for the writes on the hot paths: issued access tokens, authorization
//! codes and their exchange, refresh rotations.
//!
//! A write must be durable before its response is sent. Writing each in its own
//! transaction makes every request queue for the database's write lock and pay a commit
//! of its own. Instead, requests hand their work to one committer thread, which takes
//! everything that arrived while it was busy, runs it in one transaction and then answers
//! every waiter. Under load one commit serves many requests; when idle, work is written
//! as soon as it arrives.
//!
//! Work handed here directly only adds rows or changes codes, grants' use times and the
//! like ([`super::write`]); a change to a row the memos hold (a refresh token's rotation)
//! comes through [`super::Db::change_grouped`], which moves their epoch after the commit.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use super::tokens::{insert, OwnedToken};
use super::{write, Conn, DbConnection, Pool};
use crate::error::{Error, Result};

/// The most rows written in one transaction; enough to absorb a burst, small enough that
/// the write lock is never held for long.
const MAX_BATCH: usize = 256;

/// Statements for the shared transaction. They may run twice: when a batch fails, each
/// of its jobs is run again in a transaction of its own, so that one bad job fails only
/// its own request. So the work must not give away what it captured.
type Work<T> = Box<dyn FnMut(&mut DbConnection) -> Result<T> + Send>;

/// How a waiter is told: by a future (an async handler) or a channel it blocks on (work
/// already on a blocking thread).
enum Answer<T> {
    Async(oneshot::Sender<Result<T>>),
    Blocking(mpsc::SyncSender<Result<T>>),
}

struct Task<T> {
    work: Work<T>,
    outcome: Option<T>,
    answer: Answer<T>,
}

/// A job of any result type, as the committer thread sees it.
trait Job: Send {
    /// Runs the work in the batch's transaction, keeping its result for [`Job::answer`].
    fn run(&mut self, conn: &mut DbConnection) -> Result<()>;
    /// Tells the waiter: the result kept by `run` once the commit succeeded, else why not.
    fn answer(self: Box<Self>, committed: Result<()>);
}

impl<T: Send + 'static> Job for Task<T> {
    fn run(&mut self, conn: &mut DbConnection) -> Result<()> {
        self.outcome = Some((self.work)(conn)?);
        Ok(())
    }

    fn answer(self: Box<Self>, committed: Result<()>) {
        let Task {
            outcome, answer, ..
        } = *self;
        let result = committed.and_then(|()| outcome.ok_or_else(stopped));
        match answer {
            Answer::Async(tx) => drop(tx.send(result)),
            Answer::Blocking(tx) => drop(tx.send(result)),
        }
    }
}

/// The handle requests use; the committer thread stops when the last handle is dropped.
pub struct Committer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Committer {
    pub fn start(pool: Pool) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        thread::Builder::new()
            .name("commits".into())
            .spawn(move || run(pool, queue))
            .map_err(Error::internal)?;
        Ok(Self { jobs })
    }

    /// Writes the row; returns once it is committed.
    pub async fn insert(&self, row: OwnedToken) -> Result<()> {
        self.run(move |conn| insert(conn, &row.as_new())).await
    }

    /// Runs `work` in the next group commit; returns its result once committed.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut DbConnection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(work), Answer::Async(tx))?;
        rx.await.map_err(|_| stopped())?
    }

    /// [`Committer::run`] for work already on a blocking thread. The caller must hold no
    /// pooled connection while it waits: the committer may need one from the same pool.
    pub fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut DbConnection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(Box::new(work), Answer::Blocking(tx))?;
        rx.recv().map_err(|_| stopped())?
    }

    fn submit<T: Send + 'static>(&self, work: Work<T>, answer: Answer<T>) -> Result<()> {
        let task = Task {
            work,
            outcome: None,
            answer,
        };
        self.jobs.send(Box::new(task)).map_err(|_| stopped())
    }
}

fn run(pool: Pool, queue: mpsc::Receiver<Box<dyn Job>>) {
    let mut conn: Option<Conn> = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            match pool.get() {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    // The cause (redacted) was logged by the pool's error handler.
                    tracing::warn!("no database connection for the group commit");
                    // What arrived during the wait would wait as long again for the next
                    // attempt: answer it now too, so no request waits more than one
                    // pool timeout for its 503.
                    // (Bounded, so that a stream of retries cannot keep it from trying to
                    // connect again.)
                    let waited = std::iter::from_fn(|| queue.try_recv().ok()).take(MAX_BATCH);
                    for job in batch.into_iter().chain(waited) {
                        job.answer(Err(unavailable()));
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match write(c, |c| batch.iter_mut().try_for_each(|j| j.run(c))) {
            Ok(()) => {
                for job in batch {
                    job.answer(Ok(()));
                }
            }
            Err(e @ Error::Unavailable(_)) => {
                // The database is down or locked: retrying job by job would make every
                // waiter sit through the busy timeout again. Fail the batch now and start
                // the next one on a fresh connection.
                tracing::warn!(error = %e, jobs = batch.len(), "a group commit failed");
                for job in batch {
                    job.answer(Err(unavailable()));
                }
                conn = None;
            }
            Err(e) if batch.len() == 1 => {
                // Its own failure: running it again alone would only fail again.
                if let Some(job) = batch.pop() {
                    job.answer(Err(e));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, jobs = batch.len(), "a group commit failed; its jobs run one by one");
                // One by one, so that a single bad job fails only its own request.
                for mut job in batch {
                    let result = write(c, |c| job.run(c));
                    job.answer(result);
                }
            }
        }
    }
}

fn stopped() -> Error {
    Error::internal(anyhow::anyhow!("the token committer has stopped"))
}

fn unavailable() -> Error {
    Error::Unavailable(anyhow::anyhow!("the database cannot be reached"))
}
