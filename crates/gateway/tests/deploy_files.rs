//! The deployment files in `deploy/` cannot be applied here (no systemd as PID 1, no
//! cluster), so this reads them and checks that they say what gangway accepts: flags parse,
//! config files pass `gangway --check-config`, probe paths and ports are the config's, and
//! the socket unit's addresses are the listeners' (the socket-activation matching rule).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use gangway::cli::Cli;
use gangway::config::Config;
use yaml_rust2::{Yaml, YamlLoader};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the real binary's `--check-config` (exit status 0 = valid).
fn check_config(file: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_gangway"))
        .arg("--check-config")
        .arg(file)
        .output()
        .expect("run gangway");
    assert!(
        out.status.success(),
        "gangway --check-config {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command line of an `Exec*=` / container `args`, parsed as gangway parses it.
fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("gangway").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("gangway {args:?}: {e}"))
}

// ---- systemd ----------------------------------------------------------------------------

/// A unit file: section → key → values (a key may repeat).
type Unit = HashMap<String, HashMap<String, Vec<String>>>;

fn unit(path: &Path) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    for line in read(path).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("{line}"));
        unit.entry(section.clone())
            .or_default()
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    unit
}

fn one<'a>(unit: &'a Unit, section: &str, key: &str) -> &'a str {
    match unit
        .get(section)
        .and_then(|s| s.get(key))
        .map(Vec::as_slice)
    {
        Some([value]) => value,
        other => panic!("[{section}] {key}: {other:?}"),
    }
}

fn seconds(text: &str) -> u64 {
    text.strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text:?} is not N s"))
}

#[test]
fn systemd_units_match_the_config_and_the_flags() {
    let dir = deploy().join("systemd");
    let service = unit(&dir.join("gangway.service"));
    let socket = unit(&dir.join("gangway.socket"));

    assert_eq!(one(&service, "Service", "Type"), "notify-reload");
    assert_eq!(one(&service, "Service", "Sockets"), "gangway.socket");
    assert_eq!(one(&service, "Unit", "Requires"), "gangway.socket");
    assert_eq!(one(&service, "Service", "KillSignal"), "SIGTERM");

    // ExecStart runs the file; ExecReload checks the same file with the same binary.
    let start: Vec<&str> = one(&service, "Service", "ExecStart")
        .split_whitespace()
        .collect();
    let reload: Vec<&str> = one(&service, "Service", "ExecReload")
        .split_whitespace()
        .collect();
    assert_eq!(start.first(), reload.first(), "same binary");
    let run = cli(&start[1..]);
    let check = cli(&reload[1..]);
    assert!(!run.check_only() && check.check_only());
    let file = run.config.clone().expect("ExecStart names --config");
    assert_eq!(check.check_config.as_ref(), Some(&Some(file.clone())));
    assert_eq!(file, Path::new("/etc/gangway/gangway.toml"));

    // The file shipped for /etc/gangway/gangway.toml is valid and its listeners are exactly
    // the socket unit's addresses (gangway refuses an inherited socket matching no listener).
    let shipped = dir.join("gangway.toml");
    check_config(&shipped);
    let config = gangway::config::load(&shipped).expect("valid config");
    let listeners: Vec<SocketAddr> = config.listeners.iter().map(|l| l.address).collect();
    let inherited: Vec<SocketAddr> = socket["Socket"]["ListenStream"]
        .iter()
        .map(|a| {
            a.parse()
                .unwrap_or_else(|e| panic!("ListenStream={a}: {e}"))
        })
        .collect();
    let taken = gangway::systemd::assignment(&listeners, &inherited)
        .unwrap_or_else(|i| panic!("ListenStream={} matches no listener", inherited[i]));
    assert!(taken.iter().all(Option::is_some), "every listener inherits");
    assert_eq!(one(&socket, "Socket", "Accept"), "no");

    // systemd must not SIGKILL a drain that is within its budget.
    let budget = config.shutdown.delay + config.timeouts.shutdown_grace;
    let stop = Duration::from_secs(seconds(one(&service, "Service", "TimeoutStopSec")));
    assert!(stop > budget, "TimeoutStopSec {stop:?} <= {budget:?}");

    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("DynamicUser", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
    ] {
        assert_eq!(one(&service, "Service", key), value, "{key}");
    }
}

// ---- Kubernetes -------------------------------------------------------------------------

fn manifests() -> Vec<Yaml> {
    let dir = deploy().join("kubernetes");
    let mut docs = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for path in names {
        let parsed = YamlLoader::load_from_str(&read(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        docs.extend(parsed);
    }
    docs
}

fn find<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn list(yaml: &Yaml) -> &[Yaml] {
    yaml.as_vec().map_or(&[], Vec::as_slice)
}

fn text(yaml: &Yaml) -> &str {
    yaml.as_str()
        .unwrap_or_else(|| panic!("not a string: {yaml:?}"))
}

fn container(docs: &[Yaml]) -> &Yaml {
    let pod = &find(docs, "Deployment", "gangway")["spec"]["template"]["spec"];
    list(&pod["containers"])
        .iter()
        .find(|c| c["name"].as_str() == Some("gangway"))
        .expect("container gangway")
}

fn args(docs: &[Yaml]) -> Vec<&str> {
    list(&container(docs)["args"]).iter().map(text).collect()
}

/// A probe's or Service's port: a number, or the name of a container port.
fn port_number(docs: &[Yaml], port: &Yaml) -> u16 {
    let number = match port.as_i64() {
        Some(n) => n,
        None => list(&container(docs)["ports"])
            .iter()
            .find(|p| p["name"].as_str() == Some(text(port)))
            .and_then(|p| p["containerPort"].as_i64())
            .unwrap_or_else(|| panic!("no container port named {port:?}")),
    };
    u16::try_from(number).expect("a port")
}

/// The ConfigMap's embedded file, written out and checked by the binary.
fn configmap_config(docs: &[Yaml], key: &str) -> Config {
    let data = &find(docs, "ConfigMap", "gangway-config")["data"][key];
    let dir = std::env::temp_dir().join(format!("gangway-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(key);
    std::fs::write(&file, text(data)).expect("write");
    check_config(&file);
    let config = gangway::config::load(&file).expect("valid config");
    let _ = std::fs::remove_dir_all(&dir);
    config
}

#[test]
fn kubernetes_manifests_match_the_config() {
    let docs = manifests();
    let deployment = find(&docs, "Deployment", "gangway");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = container(&docs);

    // --config is in the ConfigMap volume, mounted as a whole directory: a subPath mount
    // never sees updates, and --watch watches the directory for the kubelet's symlink swap.
    let args = args(&docs);
    let at = args
        .iter()
        .position(|a| *a == "--config")
        .expect("--config");
    let file = Path::new(args[at + 1]);
    let mount = list(&c["volumeMounts"])
        .iter()
        .find(|m| Some(Path::new(text(&m["mountPath"]))) == file.parent())
        .expect("the config file's directory is a volume mount");
    assert!(
        mount["subPath"].is_badvalue(),
        "no subPath: it never updates"
    );
    let volume = list(&pod["volumes"])
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mount's volume");
    assert_eq!(text(&volume["configMap"]["name"]), "gangway-config");
    let key = file
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    let config = configmap_config(&docs, key);

    // Probes: liveness is [health] path, readiness is [health] ready_path, both on a listener.
    let listener_ports: Vec<u16> = config.listeners.iter().map(|l| l.address.port()).collect();
    for (probe, path) in [
        ("livenessProbe", &config.health.path),
        ("readinessProbe", &config.health.ready_path),
    ] {
        let get = &c[probe]["httpGet"];
        assert_eq!(text(&get["path"]), path, "{probe}");
        let port = port_number(&docs, &get["port"]);
        assert!(listener_ports.contains(&port), "{probe} port {port}");
    }
    assert_ne!(config.health.path, config.health.ready_path);

    // The metrics port is the admin listener.
    let metrics = port_number(&docs, &Yaml::String("metrics".into()));
    assert_eq!(config.admin.address.map(|a| a.port()), Some(metrics));

    // The kubelet must not SIGKILL a drain within its budget.
    let grace = pod["terminationGracePeriodSeconds"].as_i64().expect("set");
    let budget = config.shutdown.delay + config.timeouts.shutdown_grace;
    assert!(
        !config.shutdown.delay.is_zero(),
        "a delay covers the endpoint-removal race"
    );
    assert!(
        Duration::from_secs(u64::try_from(grace).expect("positive")) > budget,
        "terminationGracePeriodSeconds {grace} <= {budget:?}"
    );

    // The Service selects the pods and targets a listener.
    let labels = pod_labels(deployment);
    let service = find(&docs, "Service", "gangway");
    assert_eq!(&service["spec"]["selector"], labels);
    for port in list(&service["spec"]["ports"]) {
        let target = port_number(&docs, &port["targetPort"]);
        assert!(
            listener_ports.contains(&target),
            "Service targetPort {target}"
        );
    }

    // Upstream discovery: the route's upstream is the headless Service's DNS name and port.
    let headless = find(&docs, "Service", "users-upstream");
    assert_eq!(text(&headless["spec"]["clusterIP"]), "None");
    let headless_port = list(&headless["spec"]["ports"])
        .first()
        .and_then(|p| p["port"].as_i64())
        .expect("a port");
    // Read from the file as written: the routing types are being reshaped for upstream
    // groups, the key is the contract.
    let embedded = text(&find(&docs, "ConfigMap", "gangway-config")["data"][key]);
    let table: toml::Table = embedded.parse().expect("toml");
    let upstreams: Vec<String> = table["route"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|r| {
            r.get("upstream")
                .and_then(|u| u.as_str())
                .map(str::to_owned)
        })
        .collect();
    let wanted = format!("users-upstream.default.svc.cluster.local:{headless_port}");
    assert!(
        upstreams.iter().any(|u| u.contains(&wanted)),
        "{upstreams:?} has no {wanted}"
    );
}

fn pod_labels(deployment: &Yaml) -> &Yaml {
    &deployment["spec"]["template"]["metadata"]["labels"]
}

#[test]
fn deployment_args_are_accepted_by_the_cli() {
    let docs = manifests();
    let args = args(&docs);
    assert!(
        args.contains(&"--watch"),
        "the ConfigMap only updates in place"
    );
    let parsed = cli(&args);
    assert!(!parsed.check_only());
    assert_eq!(
        parsed.config.as_deref(),
        Some(Path::new("/etc/gangway/gangway.toml"))
    );
}
