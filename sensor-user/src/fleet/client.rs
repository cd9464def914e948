//! The fleet thread: a NATS client (async-nats on a current-thread tokio runtime) that
//! publishes this sensor's messages and takes the other sensors' offers from its durable
//! consumer. The governor's thread hands messages over a bounded channel and never waits.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use async_nats::{
    connection::State,
    jetstream::{
        self,
        consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
        stream,
    },
};
use futures_util::StreamExt;

use super::{FleetConfig, FleetError, FleetMessage, FleetOffer, Outbox, OutboxEntry, STREAM, valid_token};

/// Receives the offers of other sensors (the binary hands them to the governor).
pub type OfferSink = Arc<dyn Fn(FleetOffer) + Send + Sync>;

/// Counters of the fleet link.
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Gauge: 1 while connected with the stream and consumer set up.
    pub connected: AtomicU64,
    /// Messages acknowledged by the server.
    pub published: AtomicU64,
    /// Publish attempts that failed (retried).
    pub publish_errors: AtomicU64,
    /// Gauge: messages waiting to be published.
    pub waiting: AtomicU64,
    /// Findings and incidents dropped because too many waited while disconnected, or the
    /// hand-over channel was full.
    pub dropped: AtomicU64,
    /// Messages received from other sensors.
    pub received: AtomicU64,
    /// Block offers handed to the governor.
    pub offers: AtomicU64,
}

enum Out {
    /// Kept in the file outbox until acknowledged (decisions).
    Durable(OutboxEntry),
    /// Kept in memory, bounded (findings, incidents).
    Volatile(OutboxEntry),
}

/// Where the governor's output sends fleet messages.
#[derive(Clone)]
pub struct FleetHandle {
    tx: SyncSender<Out>,
    cfg: Arc<FleetConfig>,
    stats: Arc<FleetStats>,
}

impl std::fmt::Debug for FleetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetHandle").field("id", &self.cfg.id).finish_non_exhaustive()
    }
}

impl FleetHandle {
    /// This sensor's site and id.
    pub fn identity(&self) -> (&str, &str) {
        (&self.cfg.site, &self.cfg.id)
    }

    /// Queues `msg` for publication (decisions durably); never blocks.
    pub fn publish(&self, msg: &FleetMessage) {
        let kind = match msg {
            FleetMessage::Finding { .. } => "finding",
            FleetMessage::Incident { .. } => "incident",
            FleetMessage::Decision { .. } => "decision",
        };
        let Ok(payload) = serde_json::to_string(msg) else { return };
        let e = OutboxEntry { subject: self.cfg.subject(kind), msg_id: msg.msg_id(), payload };
        let out = if kind == "decision" { Out::Durable(e) } else { Out::Volatile(e) };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(out) {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }
}

/// The running fleet link.
pub struct Fleet {
    handle: FleetHandle,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("id", &self.handle.cfg.id).finish_non_exhaustive()
    }
}

impl Fleet {
    /// Starts the link to `cfg.url`; offers from other sensors go to `offers`. A server
    /// that cannot be reached is not an error: the link keeps trying and says so.
    ///
    /// # Errors
    /// A site or id that is not a subject token, an unreadable outbox, or no thread.
    pub fn start(cfg: FleetConfig, offers: OfferSink) -> Result<Self, FleetError> {
        for (what, value) in [("site", &cfg.site), ("id", &cfg.id)] {
            if !valid_token(value) {
                return Err(FleetError::Token { what, value: value.clone() });
            }
        }
        let (outbox, bad) = Outbox::open(cfg.outbox.clone())?;
        if bad > 0 {
            eprintln!("warning: fleet outbox {}: {bad} damaged line(s) skipped", cfg.outbox.display());
        }
        let cfg = Arc::new(cfg);
        let stats = Arc::new(FleetStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel(65_536);
        let (c, s, st) = (Arc::clone(&cfg), Arc::clone(&stats), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("fleet".into())
            .spawn(move || Link::new(c, s, outbox, offers).run(&rx, &st))
            .map_err(FleetError::Thread)?;
        Ok(Self { handle: FleetHandle { tx, cfg, stats }, stop, thread: Some(thread) })
    }

    /// A handle for the governor's output.
    pub fn handle(&self) -> FleetHandle {
        self.handle.clone()
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<FleetStats> {
        &self.handle.stats
    }

    /// Stops the link after one last attempt (at most a few seconds) to publish what
    /// waits; decisions not acknowledged stay in the outbox for the next start.
    pub fn stop(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Link {
    cfg: Arc<FleetConfig>,
    stats: Arc<FleetStats>,
    outbox: Outbox,
    volatile: VecDeque<OutboxEntry>,
    offers: OfferSink,
    up: Option<bool>,
}

impl Link {
    fn new(cfg: Arc<FleetConfig>, stats: Arc<FleetStats>, outbox: Outbox, offers: OfferSink) -> Self {
        Self { cfg, stats, outbox, volatile: VecDeque::new(), offers, up: None }
    }

    fn run(mut self, rx: &Receiver<Out>, stop: &AtomicBool) {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: fleet: cannot start its runtime: {e}; fleet mode is off");
                return;
            }
        };
        rt.block_on(self.serve(rx, stop));
    }

    fn state(&mut self, up: bool, why: &str) {
        self.stats.connected.store(u64::from(up), Relaxed);
        if self.up == Some(up) {
            return;
        }
        let waiting = self.outbox.entries().len() + self.volatile.len();
        if up {
            eprintln!(
                "fleet: connected to {} as {}.{} (stream {STREAM}, consumer {}); {waiting} message(s) to publish",
                self.cfg.url, self.cfg.site, self.cfg.id, self.cfg.id
            );
        } else {
            eprintln!(
                "fleet: NATS at {} unreachable ({why}); local detection and containment continue, {waiting} message(s) wait",
                self.cfg.url
            );
        }
        self.up = Some(up);
    }

    fn take(&mut self, rx: &Receiver<Out>) {
        let mut durable = Vec::new();
        while let Ok(o) = rx.try_recv() {
            match o {
                Out::Durable(e) => durable.push(e),
                Out::Volatile(e) => {
                    if self.volatile.len() >= self.cfg.max_volatile {
                        self.volatile.pop_front();
                        self.stats.dropped.fetch_add(1, Relaxed);
                    }
                    self.volatile.push_back(e);
                }
            }
        }
        if !durable.is_empty() {
            if let Err(e) = self.outbox.push(durable) {
                eprintln!("error: {e} (the decisions stay queued in memory)");
            }
        }
        self.stats.waiting.store((self.outbox.entries().len() + self.volatile.len()) as u64, Relaxed);
    }

    async fn serve(&mut self, rx: &Receiver<Out>, stop: &AtomicBool) {
        let delay = |n: usize| Duration::from_millis((250 * n as u64).min(2000));
        let opts = async_nats::ConnectOptions::new()
            .name(format!("sensor {}.{}", self.cfg.site, self.cfg.id))
            .connection_timeout(Duration::from_secs(2))
            .retry_on_initial_connect()
            .reconnect_delay_callback(delay);
        let client = match opts.connect(self.cfg.url.as_str()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: fleet: bad NATS address {}: {e}; fleet mode is off", self.cfg.url);
                return;
            }
        };
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(2));
        let mut consumer: Option<PullConsumer> = None;
        let mut stopping_since: Option<Instant> = None;
        loop {
            self.take(rx);
            if stop.load(Relaxed) && stopping_since.is_none() {
                stopping_since = Some(Instant::now());
            }
            let give_up = stopping_since.is_some_and(|t| t.elapsed() > Duration::from_secs(3));
            if give_up || (stopping_since.is_some() && self.outbox.entries().is_empty() && self.volatile.is_empty()) {
                break;
            }
            if client.connection_state() != State::Connected {
                self.state(false, "not connected");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if consumer.is_none() {
                match self.setup(&js).await {
                    Ok(c) => consumer = Some(c),
                    Err(e) => {
                        self.state(false, &e);
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                }
            }
            if let Err(e) = self.publish_waiting(&js).await {
                self.stats.publish_errors.fetch_add(1, Relaxed);
                self.state(false, &e);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if stopping_since.is_some() {
                continue;
            }
            if let Some(c) = &consumer {
                match self.receive(c).await {
                    // A fetch answered by the server: the link works both ways.
                    Ok(()) => self.state(true, ""),
                    Err(e) => {
                        self.state(false, &e);
                        // The consumer may be gone (server restarted without its store).
                        consumer = None;
                    }
                }
            }
        }
        // Never wait on a server that is gone.
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    }

    async fn setup(&self, js: &jetstream::Context) -> Result<PullConsumer, String> {
        let s = js
            .get_or_create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec!["sensor.>".into()],
                max_age: self.cfg.max_age,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("stream {STREAM}: {e}"))?;
        s.get_or_create_consumer(
            &self.cfg.id,
            pull::Config {
                durable_name: Some(self.cfg.id.clone()),
                filter_subject: "sensor.*.*.decision".into(),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                // A message delivered to a poll given up on comes back this soon.
                ack_wait: Duration::from_secs(5),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {}: {e}", self.cfg.id))
    }

    async fn send(js: &jetstream::Context, e: &OutboxEntry) -> Result<(), String> {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Msg-Id", e.msg_id.as_str());
        js.publish_with_headers(e.subject.clone(), h, e.payload.clone().into_bytes().into())
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn publish_waiting(&mut self, js: &jetstream::Context) -> Result<(), String> {
        let mut acked = 0;
        let mut result = Ok(());
        for e in self.outbox.entries() {
            match Self::send(js, e).await {
                Ok(()) => acked += 1,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        if acked > 0 {
            self.stats.published.fetch_add(acked as u64, Relaxed);
            if let Err(e) = self.outbox.done(acked) {
                eprintln!("error: {e}");
            }
        }
        result?;
        while let Some(e) = self.volatile.front() {
            Self::send(js, e).await?;
            self.volatile.pop_front();
            self.stats.published.fetch_add(1, Relaxed);
        }
        self.stats.waiting.store(0, Relaxed);
        Ok(())
    }

    async fn receive(&mut self, c: &PullConsumer) -> Result<(), String> {
        let mut batch = c
            .fetch()
            .max_messages(64)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        // The client waits 5 s past the expiry when the server's timeout status is missed;
        // never wait that long for an empty poll.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, batch.next()).await {
            let m = m.map_err(|e| format!("fetch: {e}"))?;
            if let Ok(msg) = serde_json::from_slice::<FleetMessage>(&m.payload) {
                if msg.host() != self.cfg.id {
                    self.stats.received.fetch_add(1, Relaxed);
                    if let Some(offer) = msg.offer() {
                        let age = crate::respond::wall_ns().saturating_sub(offer.decided_ns);
                        if age <= self.cfg.offer_max_age.as_nanos() as u64 {
                            self.stats.offers.fetch_add(1, Relaxed);
                            (self.offers)(offer);
                        }
                    }
                }
            }
            m.ack().await.map_err(|e| format!("ack: {e}"))?;
        }
        Ok(())
    }
}
