//! The passage of time: each agent's resends, acks, pings, statistics, terrain rounds and
//! scene; and the scene ticks that move objects and avatars and make objects come and go.

use std::collections::HashSet;
use std::net::SocketAddr;

use web_time::Instant;

use super::agent::{Agent, Stage, ground_at};
use super::objects::{pack_terse, terse_block};
use super::{LeaveReason, Region, messages};
use overlook_protocol::message::StartPingCheck;
use overlook_protocol::message::object::{KillObject, TerseObject};
use overlook_protocol::types::{Uuid, Vec3};

impl Region {
    /// Does whatever is due at `now`: resends, acks, pings, statistics, terrain, the scene,
    /// avatars walking, agents gone silent.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_circuits(now);
        let positions: Vec<(Uuid, Vec3)> = self
            .agents
            .values()
            .filter(|a| a.is_root())
            .map(|a| (a.circuit.agent_id, a.position))
            .collect();
        let addrs: Vec<SocketAddr> = self.agents.keys().copied().collect();
        for addr in addrs {
            let Some(mut a) = self.agents.remove(&addr) else {
                continue;
            };
            if self.agent_timeout(now, &mut a, &positions) {
                self.agents.insert(addr, a);
            } else {
                // Forgotten: what it still had queued goes out now.
                while let Some(d) = a.out.pop_front() {
                    self.stats.sent += 1;
                    self.stats.sent_bytes += u64::try_from(d.len()).unwrap_or(u64::MAX);
                    self.transmit.push_back((addr, d));
                }
            }
        }
        if now >= self.next_scene_tick {
            if self.agents.values().any(Agent::is_root) {
                self.scene_tick(now);
            }
            self.next_scene_tick = now + self.cfg.scene_tick;
        }
        self.drain(now);
    }

    /// One agent's timers; false when its circuit is to be forgotten.
    fn agent_timeout(&mut self, now: Instant, a: &mut Agent, positions: &[(Uuid, Vec3)]) -> bool {
        if let Err(e) = a.poll_resends(now) {
            tracing::info!("region: no ack for {} #{}", e.message, e.sequence);
            if matches!(a.stage, Stage::Closing { .. }) {
                return false;
            }
            self.leave(now, a, LeaveReason::NoAck);
        }
        if let Stage::Closing { until } = a.stage {
            if now >= until {
                a.rel.flush_acks(&mut a.out);
                return false;
            }
            return true;
        }
        let silent = now.saturating_duration_since(a.last_recv);
        if silent >= self.cfg.inactivity_timeout {
            self.leave(now, a, LeaveReason::TimedOut(silent));
            return true;
        }
        let unacked_for = now.saturating_duration_since(a.acked_at);
        if a.overflowed || (a.rel.unacked_len() > 0 && unacked_for >= a.limits.ack_timeout) {
            // A client that stopped acking (or whose reliable backlog overflowed): told, then
            // dropped, as one that went silent.
            tracing::info!(
                "region: {} {} unresponsive: {} reliable packets unacked for {unacked_for:?}",
                a.circuit.first,
                a.circuit.last,
                a.rel.unacked_len()
            );
            let msg = messages::kick_user(a.ids(), a.addr, "Unresponsive: no acks");
            a.send(now, &msg, true);
            self.leave(now, a, LeaveReason::Unresponsive);
            return true;
        }
        if !a.is_root() {
            return true;
        }
        if now >= a.next_ping {
            a.ping_id = a.ping_id.wrapping_add(1);
            let ping = StartPingCheck {
                ping_id: a.ping_id,
                oldest_unacked: a.rel.oldest_unacked(),
            };
            a.send(now, &ping, false);
            a.pings.push_back((a.ping_id, now));
            while a.pings.len() > 8 {
                a.pings.pop_front();
            }
            a.next_ping = now + self.cfg.ping_interval;
        }
        if now >= a.next_stats {
            let stats = messages::sim_stats(&self.info, self.objects.len(), positions.len());
            a.send(now, &stats, false);
            a.next_stats = now + self.cfg.stats_interval;
        }
        if now >= a.next_coarse {
            let update = messages::coarse_update(positions, a.circuit.agent_id);
            a.send(now, &update, false);
            a.next_coarse = now + self.cfg.coarse_interval;
        }
        if !a.ready && a.initial_at.is_some_and(|t| now >= t) {
            self.send_initial(now, a);
        }
        let view = a.viewpoint();
        if let Some(stream) = a.terrain.as_mut() {
            stream.round_if_due(now, &self.map, view, &self.cfg.terrain);
        }
        true
    }

    /// Walking avatars, movers, objects that vanish and come back.
    fn scene_tick(&mut self, now: Instant) {
        let handle = self.info.handle();
        let max = self.cfg.max_object_body;

        // Avatars: integrate motion, then one terse update per changed avatar to whoever sees it.
        let mut avatar_updates: Vec<(u32, TerseObject, bool)> = Vec::new();
        for a in self.agents.values_mut().filter(|a| a.is_root()) {
            if a.is_moving() {
                a.integrate(now, &self.map, &self.cfg);
            }
            if a.motion_dirty {
                a.motion_dirty = false;
                let ground = ground_at(&self.map, a.position.x, a.position.y);
                let block = terse_block(
                    a.local_id,
                    a.position,
                    a.velocity,
                    a.rotation(),
                    Some(ground),
                );
                // The last update of a motion (the stop) must arrive.
                avatar_updates.push((a.local_id, block, !a.is_moving()));
            }
        }
        for (local_id, block, reliable) in avatar_updates {
            for other in self.agents.values_mut().filter(|o| o.is_root()) {
                if other.local_id == local_id || other.known.contains(&local_id) {
                    for msg in pack_terse(handle, vec![block.clone()], max) {
                        other.send(now, &msg, reliable);
                    }
                }
            }
        }

        let t = self.scene_time(now);
        let movers: Vec<TerseObject> = self
            .scene
            .movers(t)
            .into_iter()
            .filter(|m| self.object_index.contains_key(&m.local_id))
            .filter(|m| !self.hidden.contains(&m.local_id))
            .map(|m| terse_block(m.local_id, m.position, Vec3::ZERO, m.rotation, None))
            .collect();
        if !movers.is_empty() {
            let msgs = pack_terse(handle, movers, max);
            for a in self.agents.values_mut().filter(|a| a.ready && a.is_root()) {
                for msg in &msgs {
                    a.send(now, msg, false);
                }
            }
        }

        let hidden: HashSet<u32> = self
            .scene
            .hidden(t)
            .into_iter()
            .filter(|id| self.object_index.contains_key(id))
            .collect();
        let vanished: Vec<u32> = hidden.difference(&self.hidden).copied().collect();
        let returned: Vec<u32> = self.hidden.difference(&hidden).copied().collect();
        self.hidden = hidden;
        if vanished.is_empty() && returned.is_empty() {
            return;
        }
        for a in self.agents.values_mut().filter(|a| a.ready && a.is_root()) {
            for ids in vanished.chunks(200) {
                let kill = KillObject { ids: ids.to_vec() };
                a.send(now, &kill, true);
            }
            // Owed, so packed after the kills ahead of them and coalesced with requests.
            for &id in &returned {
                a.owe_object(id, false, false);
            }
        }
    }
}
