//! The writer: the one thread that changes the store.
//!
//! ```text
//!  Store::ingest ──┐                       ┌─ Tx (reads see the group's writes)
//!  Store::flush  ──┼─► bounded inbox ─► writer thread ─► one sled::Batch ─► fsync
//!  Store::expire ──┘   (flume)            │                                  │
//!                                         └──────────── replies ◄────────────┘
//!                                             then: broadcast of stored events,
//!                                             search indexer woken
//! ```
//!
//! Group commit: the writer takes the first command, then keeps taking
//! commands until `flush_interval` has passed since the first, `max_batch`
//! events are gathered, or someone asks for a flush. It applies the whole
//! group into one transaction, commits it as one atomic batch, fsyncs, and only
//! then answers: an event is acknowledged only once it is durable. If anything
//! in the group fails, nothing of the group is written and every caller in it
//! gets the error.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kith_protocol::{Event, EventId};
use tokio::sync::broadcast;

use crate::apply::{Applier, IngestOutcome, StoredEvent};
use crate::error::StoreError;
use crate::search::Search;
use crate::tx::Tx;

pub(crate) type Reply<T> = flume::Sender<Result<T, StoreError>>;

pub(crate) enum Command {
    Ingest {
        events: Vec<Event>,
        reply: Reply<Vec<IngestOutcome>>,
    },
    Flush {
        reply: Reply<()>,
    },
    Expire {
        now_ms: u64,
        limit: usize,
        reply: Reply<usize>,
    },
    /// Removes stored events (retention of sealed-message envelopes).
    Remove {
        ids: Vec<EventId>,
        reply: Reply<usize>,
    },
    Shutdown,
}

impl Command {
    fn events(&self) -> usize {
        match self {
            Command::Ingest { events, .. } => events.len(),
            _ => 0,
        }
    }

    fn wants_commit_now(&self) -> bool {
        !matches!(self, Command::Ingest { .. })
    }
}

enum Answer {
    Ingest(Reply<Vec<IngestOutcome>>, Vec<IngestOutcome>),
    Flush(Reply<()>),
    Expire(Reply<usize>, usize),
}

pub(crate) struct Writer {
    pub(crate) db: sled::Db,
    pub(crate) tree: sled::Tree,
    pub(crate) inbox: flume::Receiver<Command>,
    pub(crate) next_seq: u64,
    pub(crate) flush_interval: Duration,
    pub(crate) max_batch: usize,
    pub(crate) pending_cap: u64,
    pub(crate) events: broadcast::Sender<StoredEvent>,
    pub(crate) search: Option<std::sync::Arc<Search>>,
    /// Decides story expiry on arrival.
    pub(crate) clock: fn() -> u64,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Writer {
    pub(crate) fn run(mut self) {
        loop {
            let Ok(first) = self.inbox.recv() else { break };
            let mut shutdown = matches!(first, Command::Shutdown);
            let deadline = Instant::now() + self.flush_interval;
            let mut events = first.events();
            let mut now = first.wants_commit_now();
            let mut group = vec![first];
            while !now && events < self.max_batch {
                match self.inbox.recv_deadline(deadline) {
                    Ok(cmd) => {
                        events += cmd.events();
                        now = cmd.wants_commit_now();
                        shutdown |= matches!(cmd, Command::Shutdown);
                        group.push(cmd);
                    }
                    Err(_) => break,
                }
            }
            self.commit(group);
            if shutdown {
                break;
            }
        }
        // Whatever was queued behind a shutdown is answered, not dropped silently.
        for cmd in self.inbox.try_iter() {
            fail(cmd, StoreError::Closed);
        }
        if let Some(search) = self.search.take() {
            search.shutdown();
        }
    }

    fn commit(&mut self, group: Vec<Command>) {
        let tree = self.tree.clone();
        let mut tx = Tx::new(&tree);
        let applied = (|| {
            let mut applier = match Applier::new(
                &mut tx,
                self.next_seq,
                Some((self.clock)()),
                self.pending_cap,
            ) {
                Ok(a) => a,
                Err(e) => return Err((e, Vec::new(), group)),
            };
            let mut answers = Vec::with_capacity(group.len());
            let mut rest = Vec::new();
            let mut group = group.into_iter();
            while let Some(cmd) = group.next() {
                match cmd {
                    Command::Ingest { events, reply } => {
                        let outcomes = events
                            .into_iter()
                            .map(|e| applier.ingest(e))
                            .collect::<Result<Vec<_>, _>>();
                        match outcomes {
                            Ok(o) => answers.push(Answer::Ingest(reply, o)),
                            Err(e) => {
                                rest.push(Command::Ingest {
                                    events: Vec::new(),
                                    reply,
                                });
                                rest.extend(group);
                                return Err((e, answers, rest));
                            }
                        }
                    }
                    Command::Flush { reply } => answers.push(Answer::Flush(reply)),
                    Command::Expire {
                        now_ms,
                        limit,
                        reply,
                    } => match applier.expire(now_ms, limit) {
                        Ok(n) => answers.push(Answer::Expire(reply, n)),
                        Err(e) => {
                            rest.push(Command::Expire {
                                now_ms,
                                limit,
                                reply,
                            });
                            rest.extend(group);
                            return Err((e, answers, rest));
                        }
                    },
                    Command::Remove { ids, reply } => {
                        let mut n = 0;
                        let mut failed = None;
                        for id in &ids {
                            match applier.remove(id) {
                                Ok(()) => n += 1,
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            }
                        }
                        match failed {
                            None => answers.push(Answer::Expire(reply, n)),
                            Some(e) => {
                                rest.push(Command::Remove { ids, reply });
                                rest.extend(group);
                                return Err((e, answers, rest));
                            }
                        }
                    }
                    Command::Shutdown => {}
                }
            }
            let next_seq = applier.next_seq();
            let stored = std::mem::take(&mut applier.stored);
            let removed = std::mem::take(&mut applier.removed);
            applier.finish();
            Ok((answers, next_seq, stored, removed))
        })();
        let (answers, next_seq, stored, removed) = match applied {
            Ok(ok) => ok,
            Err((e, answers, rest)) => {
                tracing::error!(error = %e, "store write failed; the group was not written");
                for a in answers {
                    fail_answer(a, &e);
                }
                for cmd in rest {
                    fail(cmd, clone_error(&e));
                }
                return;
            }
        };
        let durable = if tx.is_empty() {
            Ok(())
        } else {
            tree.apply_batch(tx.into_batch())
                .and_then(|()| self.db.flush().map(|_| ()))
        };
        if let Err(e) = durable {
            let e = StoreError::from(e);
            tracing::error!(error = %e, "store commit failed");
            for a in answers {
                fail_answer(a, &e);
            }
            return;
        }
        self.next_seq = next_seq;
        // Subscribers hear of the group before its callers return, so whoever
        // waits on an ingest can rely on live listeners having it.
        if let Some(search) = &self.search {
            search.notify(&removed);
        }
        for s in stored {
            // No subscriber is fine; a lagging one catches up from the log.
            let _ = self.events.send(s);
        }
        for a in answers {
            // A caller that gave up waiting is no reason to stop.
            match a {
                Answer::Ingest(reply, outcomes) => drop(reply.send(Ok(outcomes))),
                Answer::Flush(reply) => drop(reply.send(Ok(()))),
                Answer::Expire(reply, n) => drop(reply.send(Ok(n))),
            }
        }
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Corrupt { table } => StoreError::Corrupt { table: *table },
        StoreError::Closed => StoreError::Closed,
        _ => StoreError::GroupFailed(e.to_string()),
    }
}

fn fail_answer(a: Answer, e: &StoreError) {
    match a {
        Answer::Ingest(reply, _) => drop(reply.send(Err(clone_error(e)))),
        Answer::Flush(reply) => drop(reply.send(Err(clone_error(e)))),
        Answer::Expire(reply, _) => drop(reply.send(Err(clone_error(e)))),
    }
}

fn fail(cmd: Command, e: StoreError) {
    match cmd {
        Command::Ingest { reply, .. } => drop(reply.send(Err(e))),
        Command::Flush { reply } => drop(reply.send(Err(e))),
        Command::Expire { reply, .. } | Command::Remove { reply, .. } => drop(reply.send(Err(e))),
        Command::Shutdown => {}
    }
}
