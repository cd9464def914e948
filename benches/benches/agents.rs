//! Cost per event of each micro-agent in its steady state (criterion, median ns), on the
//! representative event stream each agent module provides (`steady_events`), plus the
//! inline runtime dispatching one packet to every enabled agent.

use criterion::{Criterion, criterion_group, criterion_main};
use sensor_user::agents::{
    agent::Emitter, config::AgentsConfig, context::Context, finding::FindingQueue, port_scan, registry,
    runtime::Runtime,
};

fn per_agent(c: &mut Criterion) {
    let cx = Context::default();
    let (q, rx) = FindingQueue::bounded(1 << 16);
    let mut g = c.benchmark_group("agent_on_event");
    for (name, stream) in registry::STEADY_STREAMS {
        let Some(entry) = registry::find(name) else { continue };
        let Ok(factory) = (entry.build)(None) else { continue };
        let mut agent = factory();
        let evs = stream(8192);
        let mut out = Emitter::new(&q, &cx);
        for ev in &evs {
            cx.observe(ev);
            agent.on_event(ev, &cx, &mut out);
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let ev = &evs[i % evs.len()];
                i += 1;
                agent.on_event(std::hint::black_box(ev), &cx, &mut out);
            })
        });
        while rx.try_recv().is_ok() {}
    }
    g.finish();
}

fn runtime_dispatch(c: &mut Criterion) {
    let Ok(mut rt) = Runtime::new(AgentsConfig::defaults(), None) else { return };
    let evs = port_scan::steady_events(8192);
    for ev in &evs {
        rt.on_event(ev);
    }
    rt.drain(|_| {});
    let mut i = 0;
    c.bench_function("runtime_all_agents_packet", |b| {
        b.iter(|| {
            let ev = &evs[i % evs.len()];
            i += 1;
            rt.on_event(std::hint::black_box(ev));
        })
    });
    rt.drain(|_| {});
}

criterion_group!(benches, per_agent, runtime_dispatch);
criterion_main!(benches);
