//! Issue #5 point 4: the "nothing lost" ledger under a mix of upstream faults.
//!
//! 64 concurrent clients send 3 000 requests (GET, and POST with bodies up to 80 KiB)
//! through the gateway. Each carries `x-test-id`, `x-body-sha` (FNV-1a 64) and, chosen from
//! its id, what the scripted upstream (`support/ledger.rs`) does with it: answer normally
//! (echo), reset mid-response, truncate a `Content-Length` body, send garbage, send an
//! invalid status line, stall past `upstream_response` — or the request goes to a route
//! whose port is closed. The ledger then asserts:
//!
//! 1. every id has exactly one outcome, and it is the one its fault allows: a 2xx with the
//!    right id and an intact body (both hashes checked) for a normal answer; an aborted
//!    body (never a clean short one) for a reset or a truncation (a reset may also beat
//!    the head and be a 502); 502 for garbage and for a bad status line; 504 for a stall;
//!    502, quickly, for the closed port;
//! 2. no response carries another request's id;
//! 3. the upstream saw each POST id at most once, each GET id at most twice (one safe
//!    retry), nothing for the closed port, and every complete body it saw hashes right;
//! 4. no connection that carried a fault (garbage, bad status, stall, reset, truncation)
//!    carried another request afterwards: it was not pooled.
//!
//! The counts per fault and outcome are printed (`--nocapture`) for the issue note.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gangway_tests::gateway::{closed_addr, route, start_gateway};
use gangway_tests::init_tracing;
use gangway_tests::ledger::{fnv1a64, Behavior, LedgerServer, BEHAVIOR, BODY_SHA, TEST_ID};
use gangway_tests::raw::h1_client;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;

const REQUESTS: u64 = 3000;
const CONCURRENCY: usize = 64;

/// What happens to a request, chosen from its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Plan {
    Normal,
    Reset,
    Truncate,
    Garbage,
    BadStatus,
    Stall,
    ClosedPort,
}

/// The one terminal outcome the client saw.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    /// 2xx, right id, body intact.
    Ok,
    /// The head came, the body failed before its end.
    Aborted,
    /// A status from the gateway itself (no upstream id).
    Status(u16),
    /// The request failed before a response head.
    Transport(String),
    /// Wrong id or body: a desync.
    Wrong(String),
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn plan(id: u64) -> Plan {
    match mix(id) % 100 {
        0..=69 => Plan::Normal,
        70..=74 => Plan::Reset,
        75..=79 => Plan::Truncate,
        80..=83 => Plan::Garbage,
        84..=89 => Plan::BadStatus,
        90..=93 => Plan::Stall,
        _ => Plan::ClosedPort,
    }
}

fn behavior(plan: Plan) -> Behavior {
    match plan {
        Plan::Normal | Plan::ClosedPort => Behavior::Normal,
        Plan::Reset => Behavior::ResetMidBody,
        Plan::Truncate => Behavior::TruncateBody,
        Plan::Garbage => Behavior::Garbage,
        Plan::BadStatus => Behavior::BadStatus,
        Plan::Stall => Behavior::Stall,
    }
}

fn is_post(id: u64) -> bool {
    mix(id ^ 0xabcd) & 1 == 1
}

/// POST bodies: mostly small (replayable by the pool), one in 16 over its 64 KiB retry
/// limit (streamed).
fn body(id: u64) -> Vec<u8> {
    if !is_post(id) {
        return Vec::new();
    }
    let r = mix(id ^ 0x1234);
    let len = if r.is_multiple_of(16) {
        80 * 1024
    } else {
        (r % 4096) as usize
    };
    (0..len)
        .map(|i| (mix(id.wrapping_add(i as u64)) & 0xff) as u8)
        .collect()
}

fn allowed(plan: Plan, outcome: &Outcome) -> bool {
    match plan {
        Plan::Normal => *outcome == Outcome::Ok,
        Plan::Reset => matches!(outcome, Outcome::Aborted | Outcome::Status(502)),
        Plan::Truncate => *outcome == Outcome::Aborted,
        Plan::Garbage | Plan::BadStatus | Plan::ClosedPort => *outcome == Outcome::Status(502),
        Plan::Stall => *outcome == Outcome::Status(504),
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// Per id: its one outcome and how long it took.
type Ledger = Vec<Option<(Outcome, Duration)>>;

/// Sends request `id` until it is written once; returns its outcome.
async fn exchange(addr: SocketAddr, sender: &mut Option<Sender>, id: u64) -> Outcome {
    let plan = plan(id);
    let body = body(id);
    let prefix = if plan == Plan::ClosedPort {
        "/dead"
    } else {
        "/up"
    };
    let mut req = Request::builder()
        .method(if is_post(id) {
            Method::POST
        } else {
            Method::GET
        })
        .uri(format!("{prefix}/{id}"))
        .header("host", "gw.test")
        .header(TEST_ID, id)
        .header(BEHAVIOR, behavior(plan).name())
        .header(BODY_SHA, format!("{:016x}", fnv1a64(&body)))
        .body(Full::new(Bytes::from(body.clone())))
        .expect("request");
    let resp = loop {
        let usable = match sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *sender = Some(h1_client(addr).await.expect("connect to the gateway"));
        }
        let Some(s) = sender.as_mut() else {
            unreachable!("just connected")
        };
        match s.try_send_request(req).await {
            Ok(resp) => break resp,
            Err(mut e) => {
                *sender = None;
                // Never written (the connection was closing): send it again, it is the
                // same single attempt as far as the gateway is concerned.
                match e.take_message() {
                    Some(again) => req = again,
                    None => return Outcome::Transport(format!("{:?}", e.into_error())),
                }
            }
        }
    };
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (got_id, got_sha) = (header(TEST_ID), header(BODY_SHA));
    if got_id.as_deref().is_some_and(|got| got != id.to_string()) {
        return Outcome::Wrong(format!("response for {got_id:?} to request {id}"));
    }
    let collected = resp.into_body().collect().await;
    if !(200..300).contains(&status) {
        return match (got_id, collected) {
            (None, Ok(_)) => Outcome::Status(status),
            (got, res) => Outcome::Wrong(format!(
                "status {status}, id {got:?}, body ok {}",
                res.is_ok()
            )),
        };
    }
    let Ok(bytes) = collected.map(|c| c.to_bytes()) else {
        *sender = None;
        return Outcome::Aborted;
    };
    let want = format!("{:016x}", fnv1a64(&body));
    if got_id.is_none() || got_sha.as_deref() != Some(want.as_str()) || bytes != body {
        return Outcome::Wrong(format!("id {got_id:?} sha {got_sha:?} len {}", bytes.len()));
    }
    Outcome::Ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_under_mixed_faults() {
    init_tracing();
    let up = LedgerServer::run().await;
    let toml = format!(
        "{}{}[timeouts]\nupstream_response = \"1s\"\nupstream_connect = \"1s\"\n",
        route("/up", &up.url("")),
        route("/dead", &format!("http://{}", closed_addr())),
    );
    let gw = start_gateway(&toml).await;
    let addr = gw.addrs[0];
    let next = Arc::new(AtomicU64::new(0));
    let outcomes: Arc<Mutex<Ledger>> = Arc::new(Mutex::new(vec![None; REQUESTS as usize]));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, outcomes) = (next.clone(), outcomes.clone());
            tokio::spawn(async move {
                let mut sender = None;
                loop {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    if id >= REQUESTS {
                        return;
                    }
                    let t = Instant::now();
                    let outcome = exchange(addr, &mut sender, id).await;
                    let slot = &mut outcomes.lock().expect("ledger")[id as usize];
                    assert!(slot.is_none(), "id {id} has two outcomes");
                    *slot = Some((outcome, t.elapsed()));
                }
            })
        })
        .collect();
    let all = async {
        for w in workers {
            w.await.expect("worker");
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("the run finished");
    let took = started.elapsed();

    // 1 + 2: one allowed outcome per id, no desync.
    let outcomes = outcomes.lock().expect("ledger").clone();
    let mut table: BTreeMap<(Plan, Outcome), usize> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut slowest_refusal = Duration::ZERO;
    for (id, slot) in outcomes.iter().enumerate() {
        let (outcome, elapsed) = slot
            .clone()
            .unwrap_or_else(|| panic!("id {id} has no outcome"));
        let plan = plan(id as u64);
        if plan == Plan::ClosedPort {
            slowest_refusal = slowest_refusal.max(elapsed);
        }
        if !allowed(plan, &outcome) {
            bad.push(format!("id {id} ({plan:?}): {outcome:?}"));
        }
        *table.entry((plan, outcome)).or_default() += 1;
    }
    println!("ledger: {REQUESTS} requests, {CONCURRENCY} clients, {took:?}");
    for ((plan, outcome), n) in &table {
        println!("  {plan:?} -> {outcome:?}: {n}");
    }
    println!("  closed port: slowest 502 after {slowest_refusal:?}");
    let posts: Vec<u64> = (0..REQUESTS).filter(|id| is_post(*id)).collect();
    let streamed = posts
        .iter()
        .filter(|id| body(**id).len() > 64 * 1024)
        .count();
    println!(
        "  methods: {} POST ({streamed} with an 80 KiB body), {} GET",
        posts.len(),
        REQUESTS as usize - posts.len()
    );

    // 3: what the upstream saw.
    let arrivals = up.arrivals();
    let mut per_id: HashMap<u64, usize> = HashMap::new();
    for a in &arrivals {
        let id = a.id.expect("every request carries an id");
        *per_id.entry(id).or_default() += 1;
        if plan(id) == Plan::ClosedPort {
            bad.push(format!(
                "id {id}: reached the upstream through a closed-port route"
            ));
        }
        if let Some(hash) = a.body_hash {
            if hash != fnv1a64(&body(id)) {
                bad.push(format!("id {id}: upstream got a different body"));
            }
        }
    }
    let mut retried = 0;
    for (id, n) in &per_id {
        let limit = if is_post(*id) { 1 } else { 2 };
        if *n > limit {
            bad.push(format!(
                "id {id} ({}) reached the upstream {n} times",
                if is_post(*id) { "POST" } else { "GET" }
            ));
        }
        retried += usize::from(*n > 1);
    }
    for id in 0..REQUESTS {
        if plan(id) != Plan::ClosedPort && !per_id.contains_key(&id) {
            bad.push(format!(
                "id {id} ({:?}) never reached the upstream",
                plan(id)
            ));
        }
    }
    // 4: a connection that carried a fault carried nothing after it.
    let mut fault_at: HashMap<usize, usize> = HashMap::new();
    for a in &arrivals {
        if a.behavior != Behavior::Normal {
            fault_at.entry(a.conn_id).or_insert(a.seq);
        }
    }
    for a in &arrivals {
        if fault_at.get(&a.conn_id).is_some_and(|seq| a.seq > *seq) {
            bad.push(format!(
                "conn {} reused after a fault (id {:?})",
                a.conn_id, a.id
            ));
        }
    }
    println!(
        "  upstream: {} requests on {} connections, {retried} ids seen twice",
        arrivals.len(),
        up.connections_accepted()
    );
    assert!(
        bad.is_empty(),
        "{} ledger violations:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(
        slowest_refusal < Duration::from_secs(1),
        "{slowest_refusal:?}"
    );
    assert_eq!(gw.shutdown().await, 0);
}

/// An upstream whose head, partial body and FIN arrive together: the client still gets
/// the head and a cut body (not a connection closed before any response, which a client
/// can't tell from a connection that died before the request was read).
#[tokio::test]
async fn a_cut_body_arriving_with_its_head_still_shows_the_head() {
    init_tracing();
    let up = LedgerServer::run().await;
    let gw = start_gateway(&route("/", &up.url(""))).await;
    for behavior in [Behavior::TruncateBody, Behavior::ResetMidBody] {
        for i in 0..50 {
            let extra = format!("{BEHAVIOR}: {}\r\n{TEST_ID}: {i}\r\n", behavior.name());
            let r = gangway_tests::raw::send_raw(
                gw.addrs[0],
                &gangway_tests::gateway::get_with("/x", &extra),
            )
            .await
            .unwrap_or_else(|e| panic!("{behavior:?} #{i}: no response head: {e}"));
            assert_eq!(r.status, 200, "{behavior:?} #{i}");
            assert!(
                !r.closed_cleanly,
                "{behavior:?} #{i}: a cut body looked complete"
            );
        }
    }
    assert_eq!(gw.shutdown().await, 0);
}
