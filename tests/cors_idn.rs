//! CORS-proxy mode, international target names (issue #18): the host is converted to its
//! ASCII (punycode) form, and the allowlist and the SSRF checks apply to the converted
//! name, so no Unicode spelling reaches what its ASCII form may not.

#[path = "cors_common.rs"]
mod common;

use std::net::SocketAddr;

use common::{assert_untouched, Gateway, Req};
use gangway::cors::{target_from_query, TargetPattern, TargetPolicy};
use gangway_tests::upstream::Upstream;
use gangway_tests::within;

/// The decisions in order, as the proxy makes them: `https://münchen.de/` is read as
/// `xn--mnchen-3ya.de`, matched by the allowlist under that name, then the addresses it
/// resolves to decide: a public one is fetched, a loopback one refused.
#[test]
fn punycode_name_goes_through_the_allowlist_and_the_address_check() {
    let query = format!("url={}", common::enc("https://münchen.de/karte?x=1"));
    let target = target_from_query(Some(&query)).expect("an IDN target is accepted");
    assert_eq!(target.host, "xn--mnchen-3ya.de");
    assert_eq!(
        target.uri.to_string(),
        "https://xn--mnchen-3ya.de/karte?x=1"
    );
    let pattern = TargetPattern::parse("xn--mnchen-3ya.de").expect("pattern");
    let policy = TargetPolicy {
        allow_targets: vec![pattern],
        own_addrs: Vec::new(),
    };
    assert!(policy.check_allowlist(&target.host, target.port).is_ok());
    let public: SocketAddr = "93.184.215.14:443".parse().expect("addr");
    assert!(policy.check(&target.host, target.port, &[public]).is_ok());
    let loopback: SocketAddr = "127.0.0.1:443".parse().expect("addr");
    let refused = policy
        .check(&target.host, target.port, &[loopback])
        .map_err(|r| r.to_string());
    assert_eq!(
        refused,
        Err("Refusing to proxy to xn--mnchen-3ya.de:443: address 127.0.0.1:443 is not allowed (loopback).".to_owned())
    );
    let other = TargetPolicy {
        allow_targets: vec![TargetPattern::parse("example.de").expect("pattern")],
        own_addrs: Vec::new(),
    };
    assert!(other.check_allowlist(&target.host, target.port).is_err());
}

/// Through a real gateway: an unlisted international name is refused by the allowlist
/// under its punycode name (before: a 400, now no lookup and a 403); fullwidth
/// `ｌｏｃａｌｈｏｓｔ`, allowlisted as `localhost`, is resolved and refused as loopback;
/// fullwidth `１２７.０.０.１` is the literal 127.0.0.1, fetched when that address is
/// listed (a separate gateway: a listed address unlocks every name resolving to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn international_names_meet_the_same_ssrf_checks() {
    let up = Upstream::http1().run().await;
    let p = up.addr().port();
    let gw = Gateway::start(&format!(
        "[cors]\nallow_targets = [\"localhost:{p}\", \"münchen.test\"]\n"
    ))
    .await;
    within("international names", async {
        let resp = gw.send(&Req::get("http://bücher.invalid/")).await;
        assert_eq!(resp.status, 403, "{}", resp.body_str());
        assert_eq!(
            resp.body_str().trim_end(),
            "Refusing to proxy to xn--bcher-kva.invalid:80: target not in allowlist."
        );

        let url = format!("http://ｌｏｃａｌｈｏｓｔ:{p}/secret");
        let resp = gw.send(&Req::get(&url)).await;
        assert_eq!(resp.status, 403, "{}", resp.body_str());
        assert!(
            resp.body_str().contains("is not allowed (loopback)"),
            "{}",
            resp.body_str()
        );
    })
    .await;
    assert_untouched(&up, "fullwidth localhost");
    gw.stop().await;

    // Listing the address itself (not a name) is what unlocks a loopback upstream.
    let gw = Gateway::start(&format!("[cors]\nallow_targets = [\"127.0.0.1:{p}\"]\n")).await;
    within("fullwidth literal", async {
        let resp = gw
            .send(&Req::get(&format!("http://１２７.０.０.１:{p}/ok")))
            .await;
        assert_eq!(resp.status, 200, "{}", resp.body_str());
    })
    .await;
    assert_eq!(up.requests_seen(), 1);
    gw.stop().await;
}
