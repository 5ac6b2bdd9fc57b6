//! Group commit for issued access tokens.
//!
//! A token must be durably written before its response is sent. Writing each one in its
//! own transaction makes every request queue for the database's write lock and pay a
//! commit of its own. Instead, requests hand their row to one committer thread, which
//! takes everything that arrived while it was busy, writes it in one transaction and
//! then answers every waiter. Under load one commit serves many tokens; when idle, a
//! token is written as soon as it arrives.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use super::tokens::{insert, NewToken, ACCESS};
use super::{write, Conn, Pool};
use crate::error::{Error, Result};

/// The most rows written in one transaction; enough to absorb a burst, small enough that
/// the write lock is never held for long.
const MAX_BATCH: usize = 256;

/// A machine's access token (no user, grant or family) waiting to be written; it owns
/// its fields so that it can be handed to the committer thread.
#[derive(Debug, Clone)]
pub struct PendingToken {
    pub hash: Vec<u8>,
    pub client_id: String,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl PendingToken {
    fn as_new(&self) -> NewToken<'_> {
        NewToken {
            hash: &self.hash,
            kind: ACCESS,
            client_id: &self.client_id,
            user_id: None,
            grant_id: None,
            family_id: None,
            scope: &self.scope,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            auth_time: None,
            sign_in: None,
        }
    }
}

struct Job {
    row: PendingToken,
    done: oneshot::Sender<Result<()>>,
}

/// The handle requests use; the committer thread stops when the last handle is dropped.
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    pub fn start(pool: Pool) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("token-commits".into())
            .spawn(move || run(pool, queue))
            .map_err(Error::internal)?;
        Ok(Self { jobs })
    }

    /// Writes the row; returns once it is committed.
    pub async fn insert(&self, row: PendingToken) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.jobs.send(Job { row, done }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(pool: Pool, queue: mpsc::Receiver<Job>) {
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
                    tracing::warn!("no database connection for issued tokens");
                    // What arrived during the wait would wait as long again for the next
                    // attempt: answer it now too, so no request waits more than one
                    // pool timeout for its 503.
                    // (Bounded, so that a stream of retries cannot keep it from trying to
                    // connect again.)
                    let waited = std::iter::from_fn(|| queue.try_recv().ok()).take(MAX_BATCH);
                    for job in batch.into_iter().chain(waited) {
                        let _ = job.done.send(Err(unavailable()));
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match write(c, |c| {
            batch.iter().try_for_each(|j| insert(c, &j.row.as_new()))
        }) {
            Ok(()) => {
                for job in batch {
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e @ Error::Unavailable(_)) => {
                // The database is down or locked: retrying row by row would make every
                // waiter sit through the busy timeout again. Fail the batch now and start
                // the next one on a fresh connection.
                tracing::warn!(error = %e, rows = batch.len(), "writing issued tokens failed");
                for job in batch {
                    let _ = job.done.send(Err(unavailable()));
                }
                conn = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, rows = batch.len(), "writing issued tokens failed");
                // Retry one by one so that a single bad row fails only its own request.
                for job in batch {
                    let result = write(c, |c| insert(c, &job.row.as_new()));
                    let _ = job.done.send(result);
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
