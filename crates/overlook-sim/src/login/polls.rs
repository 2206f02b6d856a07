//! The `EventQueueGet` long polls held per agent, and their bound.
//!
//! A viewer holds one poll at a time and polls again when it is answered (PROTOCOL §13); a
//! second one can overlap briefly when the viewer gave up on a poll whose connection the server
//! has not yet seen close. So an agent may hold at most [`EVENT_POLLS_PER_AGENT`] polls; a poll
//! beyond that ends the agent's **oldest** at once with the usual "no events" 502: the newer
//! poll wins, since the viewer is waiting on its latest one. (OpenSim's
//! `PollServiceRequestManager` instead queues further requests of the same context behind the
//! one being served; with no events to deliver, ending the old one is the same to a viewer and
//! keeps nothing waiting.) Each poll is also bounded in time by the event-poll hold.
//!
//! A poll's entry is removed when its handler ends for any reason, also when hyper drops it
//! because the client went away, so the table holds only live polls.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use overlook_protocol::types::Uuid;

/// How many `EventQueueGet` polls one agent may hold at once (see the module docs).
pub const EVENT_POLLS_PER_AGENT: usize = 2;

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    /// Agent → its live polls, oldest first: id and the sender that ends it.
    by_agent: HashMap<Uuid, VecDeque<(u64, oneshot::Sender<()>)>>,
}

/// The live polls of all agents. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub(super) struct Polls(Arc<Mutex<Table>>);

/// One live poll: `ended` resolves when a newer poll of the same agent pushed it out. Dropping
/// it removes the poll from the table.
#[derive(Debug)]
pub(super) struct Poll {
    polls: Polls,
    agent: Uuid,
    id: u64,
    /// Resolves (`Ok`) when the poll was pushed out.
    pub(super) ended: oneshot::Receiver<()>,
}

impl Polls {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new poll of `agent`, ending its oldest ones beyond `max` (0 counts as 1).
    pub(super) fn open(&self, agent: Uuid, max: usize) -> Poll {
        let (tx, rx) = oneshot::channel();
        let mut table = self.table();
        let id = table.next_id;
        table.next_id = table.next_id.wrapping_add(1);
        let live = table.by_agent.entry(agent).or_default();
        live.push_back((id, tx));
        while live.len() > max.max(1) {
            if let Some((old, end)) = live.pop_front() {
                tracing::debug!(%agent, poll = old, "a newer event-queue poll ends this one");
                // The receiver may be gone already (its handler is ending); nothing to do then.
                let _ = end.send(());
            }
        }
        Poll {
            polls: self.clone(),
            agent,
            id,
            ended: rx,
        }
    }

    /// How many polls `agent` holds.
    #[cfg(test)]
    pub(super) fn live(&self, agent: Uuid) -> usize {
        self.table().by_agent.get(&agent).map_or(0, VecDeque::len)
    }
}

impl Drop for Poll {
    fn drop(&mut self) {
        let mut table = self.polls.table();
        if let Some(live) = table.by_agent.get_mut(&self.agent) {
            live.retain(|(id, _)| *id != self.id);
            if live.is_empty() {
                table.by_agent.remove(&self.agent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_polls_end_the_oldest_beyond_the_bound_and_drops_clean_up() {
        let polls = Polls::default();
        let (a, b) = (Uuid([1; 16]), Uuid([2; 16]));
        let mut first = polls.open(a, 2);
        let mut second = polls.open(a, 2);
        let mut other = polls.open(b, 2);
        assert_eq!((polls.live(a), polls.live(b)), (2, 1));
        assert!(first.ended.try_recv().is_err());
        let mut third = polls.open(a, 2);
        assert_eq!(first.ended.try_recv(), Ok(()));
        assert!(second.ended.try_recv().is_err());
        assert!(third.ended.try_recv().is_err());
        assert!(other.ended.try_recv().is_err());
        assert_eq!(polls.live(a), 2);
        // The pushed-out poll's drop leaves the others; the last drop empties the agent's entry.
        drop(first);
        assert_eq!(polls.live(a), 2);
        drop(second);
        drop(third);
        assert_eq!(polls.live(a), 0);
        assert!(!polls.0.lock().unwrap().by_agent.contains_key(&a));
        // A bound of 0 is 1: each new poll ends the previous.
        let mut one = polls.open(b, 0);
        assert_eq!(other.ended.try_recv(), Ok(()));
        assert!(one.ended.try_recv().is_err());
        assert_eq!(polls.live(b), 1);
    }
}
