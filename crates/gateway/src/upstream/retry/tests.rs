use std::cell::Cell;

use super::*;

const GET: Request = Request {
    idempotent: true,
    body_replayable: true,
    response_started: false,
};
const POST: Request = Request {
    idempotent: false,
    body_replayable: true,
    response_started: false,
};
const STREAMED_PUT: Request = Request {
    idempotent: true,
    body_replayable: false,
    response_started: false,
};
const FIRST: Progress = Progress {
    attempts: 1,
    untried: 2,
};

fn decide_with(failure: Failure, request: Request, policy: Policy, progress: Progress) -> Decision {
    decide(failure, request, policy, progress, || true)
}

#[test]
fn table() {
    let default = Policy::default();
    let on_5xx = Policy {
        on_5xx: true,
        ..default
    };
    let retry = Decision::Retry;
    let not = Decision::Stop(Stop::NotRetryable);
    let started = Request {
        response_started: true,
        ..GET
    };
    for (failure, request, policy, progress, want) in [
        // Never processed: any method.
        (Failure::Connect, POST, default, FIRST, retry),
        (Failure::Unwritten, POST, default, FIRST, retry),
        (Failure::RefusedStream, POST, default, FIRST, retry),
        (Failure::Connect, STREAMED_PUT, default, FIRST, retry),
        // REFUSED_STREAM may have consumed a streamed body.
        (Failure::RefusedStream, STREAMED_PUT, default, FIRST, not),
        // Written: idempotent and replayable only.
        (Failure::StaleConnection, GET, default, FIRST, retry),
        (Failure::StaleConnection, POST, default, FIRST, not),
        (Failure::StaleConnection, STREAMED_PUT, default, FIRST, not),
        (Failure::Other, GET, default, FIRST, not),
        (Failure::Other, POST, on_5xx, FIRST, not),
        // 5xx: off by default; then 502-504 for idempotent, replayable requests.
        (Failure::Status(503), GET, default, FIRST, not),
        (Failure::Status(502), GET, on_5xx, FIRST, retry),
        (Failure::Status(503), GET, on_5xx, FIRST, retry),
        (Failure::Status(504), GET, on_5xx, FIRST, retry),
        (Failure::Status(500), GET, on_5xx, FIRST, not),
        (Failure::Status(503), POST, on_5xx, FIRST, not),
        (Failure::Status(503), STREAMED_PUT, on_5xx, FIRST, not),
        // Never after a response byte, whatever else holds.
        (
            Failure::Connect,
            started,
            on_5xx,
            FIRST,
            Decision::Stop(Stop::ResponseStarted),
        ),
        (
            Failure::Status(503),
            Request {
                response_started: true,
                ..GET
            },
            on_5xx,
            FIRST,
            Decision::Stop(Stop::ResponseStarted),
        ),
        // Counting: retries = 2 means three attempts in all.
        (
            Failure::Connect,
            GET,
            default,
            Progress {
                attempts: 2,
                untried: 1,
            },
            retry,
        ),
        (
            Failure::Connect,
            GET,
            default,
            Progress {
                attempts: 3,
                untried: 1,
            },
            Decision::Stop(Stop::Exhausted),
        ),
        (
            Failure::Connect,
            GET,
            Policy {
                retries: 0,
                ..default
            },
            FIRST,
            Decision::Stop(Stop::Exhausted),
        ),
        (
            Failure::Connect,
            GET,
            default,
            Progress {
                attempts: 1,
                untried: 0,
            },
            Decision::Stop(Stop::NoServerLeft),
        ),
    ] {
        assert_eq!(
            decide_with(failure, request, policy, progress),
            want,
            "{failure:?} {request:?} {policy:?} {progress:?}"
        );
    }
}

#[test]
fn budget_is_asked_last_and_only_then() {
    let asked = Cell::new(0);
    let budget = |answer: bool| {
        let asked = &asked;
        move || {
            asked.set(asked.get() + 1);
            answer
        }
    };
    let policy = Policy {
        on_5xx: true,
        ..Policy::default()
    };
    assert_eq!(
        decide(Failure::Status(503), GET, policy, FIRST, budget(false)),
        Decision::Stop(Stop::Budget)
    );
    assert_eq!(asked.get(), 1);
    assert_eq!(
        decide(Failure::Status(503), POST, policy, FIRST, budget(true)),
        Decision::Stop(Stop::NotRetryable)
    );
    assert_eq!(
        decide(
            Failure::Connect,
            GET,
            policy,
            Progress {
                attempts: 3,
                untried: 1
            },
            budget(true)
        ),
        Decision::Stop(Stop::Exhausted)
    );
    assert_eq!(
        decide(
            Failure::Connect,
            GET,
            policy,
            Progress {
                attempts: 1,
                untried: 0
            },
            budget(true)
        ),
        Decision::Stop(Stop::NoServerLeft)
    );
    assert_eq!(asked.get(), 1, "no budget spent on a refused retry");
    assert_eq!(
        decide(Failure::Connect, GET, policy, FIRST, budget(true)),
        Decision::Retry
    );
    assert_eq!(asked.get(), 2);
    assert_eq!(Stop::Budget.as_str(), "budget");
}
